"""A real proxy on 127.0.0.1 in front of real stub upstreams, configured through its public settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from proxy.app import create_app
from proxy.settings import load_settings
from tests.conftest import watch_secret
from tests.support.cek import EXTENSION_ID, PEER_EXTENSION_ID, CekSigner
from tests.support.processes import ProxyProcess, redis_server, start_proxy_process
from tests.support.stubs import StubActionBackend, StubCekBackend, StubChatbot

CHATBOT_SECRET = watch_secret("chatbot-secret-4YhQm9vTz2Ls")
ACTION_KEY = watch_secret("action-key-Vb7Xq2Lp9Wd4")

ServerFactory = Callable[..., Awaitable[TestServer]]
ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
ProxyFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture(scope="session")
def signer() -> CekSigner:
    return CekSigner()


@pytest.fixture
def key_file(tmp_path: Path, signer: CekSigner) -> Path:
    path = tmp_path / "cek-test-key.pem"
    path.write_bytes(signer.public_pem)
    return path


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "chatbot-secret"
    path.write_text(CHATBOT_SECRET + "\n")
    return path


async def serve(aiohttp_server: ServerFactory, app: web.Application, path: str) -> str:
    """Serve `app` on 127.0.0.1 for the test; the URL of `path` on it."""
    server = await aiohttp_server(app)
    return str(server.make_url(path))


async def cek_turn(client: TestClient[Any, Any], signer: CekSigner, body: bytes) -> dict[str, Any]:
    """POST a signed CEK request; the CEK response, which must come with 200."""
    resp = await client.post("/cek", data=body, headers=signer.headers(body))
    assert resp.status == 200
    document: dict[str, Any] = await resp.json()
    return document


@pytest.fixture
async def chatbot(aiohttp_server: ServerFactory) -> tuple[StubChatbot, str]:
    stub = StubChatbot(CHATBOT_SECRET)
    return stub, await serve(aiohttp_server, stub.app(), "/custom/v1/1234/abcdef")


@pytest.fixture
async def backend(aiohttp_server: ServerFactory) -> tuple[StubCekBackend, str]:
    stub = StubCekBackend()
    return stub, await serve(aiohttp_server, stub.app(), "/clova")


@pytest.fixture
def base_env(key_file: Path, secret_file: Path, chatbot: tuple[StubChatbot, str]) -> dict[str, str]:
    return {
        "CEK_PROXY_EXTENSION_IDS": f"{EXTENSION_ID},{PEER_EXTENSION_ID}",
        "CEK_PROXY_CEK_PUBLIC_KEY_FILES": str(key_file),
        "CEK_PROXY_CHATBOT_URL": chatbot[1],
        "CEK_PROXY_CHATBOT_SECRET_FILE": str(secret_file),
    }


@pytest.fixture
def start_proxy(aiohttp_client: ClientFactory, base_env: dict[str, str], tmp_path: Path) -> ProxyFactory:
    """Start the proxy with the base settings, changed by `env` and an optional TOML `config`."""

    async def start(config: str | None = None, **env: str) -> TestClient[Any, Any]:
        environ = {**base_env, **env}
        if config is not None:
            path = tmp_path / "cek-proxy.toml"
            path.write_text(config)
            environ["CEK_PROXY_CONFIG_FILE"] = str(path)
        return await aiohttp_client(create_app(load_settings(environ)))

    return start


@pytest.fixture
async def orders_backend(aiohttp_server: ServerFactory) -> tuple[StubActionBackend, str]:
    stub = StubActionBackend()
    return stub, await serve(aiohttp_server, stub.app(), "/orders")


@pytest.fixture
def action_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "action-key"
    path.write_text(ACTION_KEY)
    return path


def linking_config(mode: str, backend_url: str, extra: str = "") -> str:
    return f"""
account_linking = "{mode}"

[actions.orders]
url = "{backend_url}"
method = "POST"
token_header = "Authorization"
{extra}
"""


# Two real proxy processes sharing a real redis-server (the token store and the replay window).
REDIS_PASSWORD = watch_secret("redis-password-Hn3Kq8Zt")
TOKEN_KEY = watch_secret("token-key-3mR8pQ2vX7nL5wZ1")


@pytest.fixture
def redis_url(tmp_path: Path, unused_tcp_port_factory: Callable[[], int]) -> Iterator[str]:
    with redis_server(unused_tcp_port_factory(), REDIS_PASSWORD, tmp_path) as url:
        yield url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, password=REDIS_PASSWORD)
    yield client
    client.close()


@pytest.fixture
def shared_env(
    base_env: dict[str, str],
    redis_url: str,
    tmp_path: Path,
    orders_backend: tuple[StubActionBackend, str],
    action_key_file: Path,
) -> dict[str, str]:
    files = {"redis-password": REDIS_PASSWORD, "token-key": TOKEN_KEY}
    for name, value in files.items():
        (tmp_path / name).write_text(value)
    config = tmp_path / "linked.toml"
    config.write_text(linking_config("optional", orders_backend[1]))
    return {
        **base_env,
        "CEK_PROXY_CONFIG_FILE": str(config),
        "CEK_PROXY_ACTION_KEY_FILE": str(action_key_file),
        "CEK_PROXY_TOKEN_STORE_URL": redis_url,
        "CEK_PROXY_TOKEN_STORE_PASSWORD_FILE": str(tmp_path / "redis-password"),
        "CEK_PROXY_TOKEN_KEY_FILE": str(tmp_path / "token-key"),
        "CEK_PROXY_TOKEN_TTL": "600",
    }


@pytest.fixture
async def two_proxies(
    shared_env: dict[str, str], unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[tuple[ProxyProcess, ProxyProcess]]:
    first = await start_proxy_process(shared_env, unused_tcp_port_factory())
    second = await start_proxy_process(shared_env, unused_tcp_port_factory())
    yield first, second
    first.stop()
    second.stop()


async def post_turn(proxy: ProxyProcess, signer: CekSigner, body: bytes) -> dict[str, Any]:
    """POST a signed CEK request to a proxy process; the CEK response, which must come with 200."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.url}/cek", data=body, headers=signer.headers(body)) as resp,
    ):
        assert resp.status == 200
        document: dict[str, Any] = await resp.json()
        return document
