"""The proxy the `test` command starts itself: a real proxy app and the stub chatbot, on 127.0.0.1.

The proxy trusts the simulator's key and reaches the stub with a secret made up for the run; both
live in a temporary folder removed afterwards.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from proxy.app import create_app
from proxy.settings import load_settings
from proxy.simulator.keys import DevKey
from proxy.simulator.stub_chatbot import CHATBOT_PATH, StubChatbot

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class LocalStack:
    cek_url: str
    chatbot: StubChatbot


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://{LOOPBACK}:{port}"


@asynccontextmanager
async def local_stack(key: DevKey, extension_id: str, proxy_config: Path | None) -> AsyncIterator[LocalStack]:
    secret = secrets.token_urlsafe(24)
    chatbot = StubChatbot(secret)
    with tempfile.TemporaryDirectory(prefix="cek-sim-") as directory:
        folder = Path(directory)
        (folder / "chatbot-secret").write_text(secret)
        (folder / "cek-key.pem").write_bytes(key.public_pem())
        chatbot_runner, chatbot_url = await _serve(chatbot.app())
        env = {
            "CEK_PROXY_EXTENSION_IDS": extension_id,
            "CEK_PROXY_CEK_PUBLIC_KEY_FILES": str(folder / "cek-key.pem"),
            "CEK_PROXY_CHATBOT_URL": chatbot_url + CHATBOT_PATH,
            "CEK_PROXY_CHATBOT_SECRET_FILE": str(folder / "chatbot-secret"),
            **({"CEK_PROXY_CONFIG_FILE": str(proxy_config)} if proxy_config else {}),
        }
        try:
            proxy_runner, proxy_url = await _serve(create_app(load_settings(env)))
            try:
                yield LocalStack(proxy_url + "/cek", chatbot)
            finally:
                await proxy_runner.cleanup()
        finally:
            await chatbot_runner.cleanup()
