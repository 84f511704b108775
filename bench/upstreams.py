"""The upstream world in one process: the stub chatbot, the action backend and a CEK backend.

Each is the test suite's stub (`tests.support.stubs`), told not to record what it receives, on its
own loopback port: the chatbot checks `X-NCP-CHATBOT_SIGNATURE` and answers at once; the CEK backend
(`/clova`) is what "stub direct" and the baseline forwarder reach; the action backend (`/orders`)
sits behind the relay. The bench runs it as
`python -m bench.upstreams SECRET_FILE CHATBOT_PORT ACTION_PORT CEK_PORT` and stops it with SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from aiohttp import web

from tests.support.stubs import StubActionBackend, StubCekBackend, StubChatbot

HOST = "127.0.0.1"


async def serve(apps: list[tuple[web.Application, int]]) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runners = []
    for app, port in apps:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, port).start()
        runners.append(runner)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("secret_file", type=Path)
    parser.add_argument("chatbot_port", type=int)
    parser.add_argument("action_port", type=int)
    parser.add_argument("cek_port", type=int)
    args = parser.parse_args()
    chatbot = StubChatbot(args.secret_file.read_text().strip(), record=False)
    apps = [
        (chatbot.app(), args.chatbot_port),
        (StubActionBackend(record=False).app(), args.action_port),
        (StubCekBackend(record=False).app(), args.cek_port),
    ]
    asyncio.run(serve(apps))


if __name__ == "__main__":
    main()
