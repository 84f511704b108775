"""The simulator's commands run as real processes (`python -m proxy ...`) against real proxies on
127.0.0.1; the proxies and stub upstreams are tests/proxy's fixtures."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.proxy.conftest import (  # noqa: F401  (fixtures, re-used)
    ProxyFactory,
    backend,
    base_env,
    chatbot,
    key_file,
    secret_file,
    signer,
    start_proxy,
)
from tests.support.cek import EXTENSION_ID
from tests.support.pulumi_program import ROOT

CLI_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class CliRun:
    status: int
    stdout: str
    stderr: str


async def cek_proxy(*args: str | Path, stdin: str | None = None, cwd: Path = ROOT) -> CliRun:
    """Run `cek-proxy ARGS` (as `python -m proxy`) to its end while the test's servers keep serving."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy",
        *map(str, args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
    )
    async with asyncio.timeout(CLI_TIMEOUT_SECONDS):
        out, err = await process.communicate(stdin.encode() if stdin is not None else b"")
    assert process.returncode is not None
    return CliRun(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def dev_key(tmp_path: Path) -> Path:
    """A key pair made by `cek-proxy dev-key`; the private key's path."""
    run = await cek_proxy("dev-key", "--dir", tmp_path / "keys")
    assert run.status == 0, run.stderr
    return tmp_path / "keys" / "cek-dev-private.pem"


@pytest.fixture
def dev_public_key(dev_key: Path) -> Path:
    return dev_key.with_name("cek-dev-public.pem")


@pytest.fixture
async def proxy_url(start_proxy: ProxyFactory, dev_public_key: Path) -> str:  # noqa: F811
    """A bridge proxy that trusts the development key, in front of the stub chatbot."""
    client: TestClient[Any, Any] = await start_proxy(CEK_PROXY_CEK_PUBLIC_KEY_FILES=str(dev_public_key))
    return str(client.make_url("/cek"))


def identity(dev_key: Path) -> tuple[str, ...]:
    """The arguments that make the simulator speak for the test extension with the dev key."""
    return ("--key", str(dev_key), "--extension-id", EXTENSION_ID)
