"""The Redis token store, shared by two real proxy processes, against a real redis-server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import redis

from tests.conftest import watch_secret
from tests.proxy.conftest import ACTION_KEY, linking_config
from tests.support.cek import ACCESS_TOKEN, USER_ID, CekSigner, intent
from tests.support.processes import ProxyProcess, redis_server, start_proxy_process
from tests.support.stubs import ActionCall, StubActionBackend, StubChatbot

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


async def _post_turn(proxy: ProxyProcess, signer: CekSigner, body: bytes) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.url}/cek", data=body, headers=signer.headers(body)) as resp,
    ):
        assert resp.status == 200
        document: dict[str, Any] = await resp.json()
        return document


async def test_a_token_stored_through_one_replica_serves_an_action_call_to_the_other(
    two_proxies: tuple[ProxyProcess, ProxyProcess],
    signer: CekSigner,
    chatbot: tuple[StubChatbot, str],
    orders_backend: tuple[StubActionBackend, str],
    redis_client: redis.Redis,
) -> None:
    first, second = two_proxies
    chatbot[0].action = ActionCall(f"{second.url}/actions/orders", ACTION_KEY)  # the call lands elsewhere
    document = await _post_turn(first, signer, intent("AskOrders", {"query": "주문"}, token=ACCESS_TOKEN))
    assert document["response"]["outputSpeech"]["values"]["value"] == '액션 200: {"orders": 2}'
    assert orders_backend[0].received[0].headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"

    keys = [key.decode() if isinstance(key, bytes) else key for key in redis_client.keys("cek-proxy:token:*")]
    assert keys == [f"cek-proxy:token:{chatbot[0].received[0]['userId']}"]
    assert USER_ID not in keys[0]
    stored = redis_client.get(keys[0])
    assert isinstance(stored, bytes)
    assert ACCESS_TOKEN.encode() not in stored
    assert 0 < int(redis_client.pttl(keys[0])) <= 600_000


async def test_a_token_is_kept_no_longer_than_its_own_expiry(
    two_proxies: tuple[ProxyProcess, ProxyProcess],
    signer: CekSigner,
    chatbot: tuple[StubChatbot, str],
    redis_client: redis.Redis,
) -> None:
    short_lived = watch_secret(jwt.encode({"exp": int(time.time()) + 30}, "k" * 32, algorithm="HS256"))
    await _post_turn(two_proxies[0], signer, intent("Ask", token=short_lived))
    (key,) = redis_client.keys("cek-proxy:token:*")
    assert 0 < int(redis_client.pttl(key)) <= 30_000


async def test_a_value_moved_to_another_users_key_does_not_decrypt(
    two_proxies: tuple[ProxyProcess, ProxyProcess],
    signer: CekSigner,
    chatbot: tuple[StubChatbot, str],
    redis_client: redis.Redis,
) -> None:
    await _post_turn(two_proxies[0], signer, intent("Ask", token=ACCESS_TOKEN))
    (key,) = redis_client.keys("cek-proxy:token:*")
    redis_client.set("cek-proxy:token:cek-attacker", redis_client.get(key) or b"")
    async with aiohttp.ClientSession() as session:
        url = f"{two_proxies[1].url}/actions/orders?userId=cek-attacker"
        async with session.post(url, headers={"X-CEK-Proxy-Key": ACTION_KEY}) as resp:
            assert resp.status == 401


async def test_a_token_store_outage_degrades_but_never_fails_a_turn(
    two_proxies: tuple[ProxyProcess, ProxyProcess],
    signer: CekSigner,
    chatbot: tuple[StubChatbot, str],
    redis_client: redis.Redis,
) -> None:
    redis_client.shutdown(nosave=True)
    document = await _post_turn(two_proxies[0], signer, intent("Ask", token=ACCESS_TOKEN))
    assert document["response"]["outputSpeech"]["values"]["value"] == "답변: Ask"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{two_proxies[0].url}/readyz") as resp:
            assert resp.status == 503
        url = f"{two_proxies[1].url}/actions/orders?userId=cek-x"
        async with session.post(url, headers={"X-CEK-Proxy-Key": ACTION_KEY}) as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["code"] == "token_store_unavailable"
