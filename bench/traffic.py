"""What the bench sends: a signed CEK turn, an action call, and the files the servers need.

The CEK turn is a linked user's intent with a slot (`AskOrderStatus`, product "무선 이어폰"): the
proxy verifies it, keeps the token for the action relay, fills the configured template, signs the
chatbot call and speaks the answer, which is its whole bridge path. The action call names the same
user, so the relay finds the token the turns left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from proxy.identity import UserIds
from tests.support.cek import ACCESS_TOKEN, EXTENSION_ID, USER_ID, CekSigner, intent, launch

CHATBOT_SECRET = "bench-chatbot-secret-9QwErTy"  # noqa: S105 - a stub's key, on loopback only
ACTION_KEY = "bench-action-key-7UiOpAs"
CHATBOT_PATH = "/custom/v1/1234/bench"
CEK_BACKEND_PATH = "/clova"
ACTION_BACKEND_PATH = "/orders"
ACTION_PATH = "/actions/orders"


BRIDGE_CONFIG = """
account_linking = "optional"

[utterances.intents.AskOrderStatus]
templates = ["{product} 배송 언제 와요?", "배송 언제 와요?"]
"""


def proxy_config(action_backend_url: str) -> str:
    return f"""{BRIDGE_CONFIG}
[actions.orders]
url = "{action_backend_url}"
method = "POST"
"""


def cek_turn() -> bytes:
    return intent("AskOrderStatus", {"product": "무선 이어폰"}, token=ACCESS_TOKEN)


def cek_launch() -> bytes:
    return launch(token=ACCESS_TOKEN)


def action_call() -> bytes:
    user = UserIds(None).chatbot_user_id(USER_ID)
    return json.dumps({"userId": user, "item": "무선 이어폰"}, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Post:
    """One POST, as wrk sends it."""

    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...]

    def raw(self, port: int) -> bytes:
        lines = [f"POST {self.path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def cek_post(signer: CekSigner, path: str, body: bytes) -> Post:
    return Post(path, body, tuple(signer.headers(body).items()))


def action_post(path: str) -> Post:
    headers = (("Content-Type", "application/json"), ("X-CEK-Proxy-Key", ACTION_KEY))
    return Post(path, action_call(), headers)


def write_requests(path: Path, posts: list[Post], port: int) -> Path:
    """The file `bench/load.lua` reads: each raw request after a line holding its length."""
    with path.open("wb") as out:
        for post in posts:
            raw = post.raw(port)
            out.write(b"%d\n" % len(raw) + raw)
    return path


@dataclass(frozen=True)
class Files:
    """Keys, secrets and the config file, written once into the run's directory."""

    cek_key: Path
    chatbot_secret: Path
    action_key: Path
    config: Path
    bridge_config: Path  # the same without [actions]

    @classmethod
    def write(cls, directory: Path, signer: CekSigner, action_backend_url: str) -> Files:
        files = cls(
            directory / "cek-key.pem",
            directory / "chatbot-secret",
            directory / "action-key",
            directory / "cek-proxy.toml",
            directory / "cek-proxy-bridge.toml",
        )
        files.cek_key.write_bytes(signer.public_pem)
        files.chatbot_secret.write_text(CHATBOT_SECRET)
        files.action_key.write_text(ACTION_KEY)
        files.config.write_text(proxy_config(action_backend_url))
        files.bridge_config.write_text(BRIDGE_CONFIG)
        return files

    def proxy_env(self, chatbot_url: str, *, actions: bool = True) -> dict[str, str]:
        """The proxy's settings; without `actions`, bridge only (worker processes sharing a port keep
        tokens per process, so the proxy refuses an action relay there unless they share Redis)."""
        common = {
            "CEK_PROXY_EXTENSION_IDS": EXTENSION_ID,
            "CEK_PROXY_CEK_PUBLIC_KEY_FILES": str(self.cek_key),
            "CEK_PROXY_CHATBOT_URL": chatbot_url,
            "CEK_PROXY_CHATBOT_SECRET_FILE": str(self.chatbot_secret),
            # wrk replays one signed body; the bench measures turns, not the idempotency window.
            "CEK_PROXY_IDEMPOTENCY_WINDOW": "0",
        }
        if not actions:
            return {**common, "CEK_PROXY_CONFIG_FILE": str(self.bridge_config)}
        return {
            **common,
            "CEK_PROXY_ACTION_KEY_FILE": str(self.action_key),
            "CEK_PROXY_CONFIG_FILE": str(self.config),
        }
