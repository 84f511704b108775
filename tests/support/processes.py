"""Real processes for tests: the proxy (`python -m proxy`) and redis-server, on free loopback ports."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.tools import require


class ProxyProcess:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process, self.port = process, port
        self.url = f"http://127.0.0.1:{port}"

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines it wrote to stderr (read after it stopped)."""
        assert self.process.stderr is not None
        return [json.loads(line) for line in self.process.stderr.read().splitlines() if line.startswith("{")]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def start_proxy_process(env: dict[str, str], port: int) -> ProxyProcess:
    """Start `python -m proxy` on 127.0.0.1:<port> and wait until /readyz answers 200."""
    environ = {"PATH": os.environ["PATH"], **env, "CEK_PROXY_LISTEN": f"127.0.0.1:{port}"}
    process = subprocess.Popen(  # noqa: ASYNC220 - started once; its output is read after it exits
        [sys.executable, "-m", "proxy"],
        env=environ,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    proxy = ProxyProcess(process, port)
    async with aiohttp.ClientSession() as session:
        for _ in range(150):
            try:
                async with session.get(f"{proxy.url}/readyz") as resp:
                    if resp.status == 200:
                        return proxy
            except aiohttp.ClientConnectionError:
                pass
            if process.poll() is not None:
                break
            await asyncio.sleep(0.1)
    proxy.stop()
    raise AssertionError(f"the proxy did not become ready: {proxy.log_lines()}")


@contextmanager
def redis_server(port: int, password: str, workdir: Path) -> Iterator[str]:
    """A private redis-server on 127.0.0.1:<port>, no persistence; yields its URL (without password)."""
    binary = require("redis-server", "install the Debian package redis-server (./scripts/test does)")
    config = workdir / "redis.conf"
    config.write_text(
        f'port {port}\nbind 127.0.0.1\nrequirepass {password}\nsave ""\nappendonly no\ndir {workdir}\n'
    )
    process = subprocess.Popen([binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")
