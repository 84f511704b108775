"""The Redis token store, shared by two real proxy processes, against a real redis-server."""

from __future__ import annotations

import time

import aiohttp
import jwt
import redis

from tests.conftest import watch_secret
from tests.proxy.conftest import ACTION_KEY, post_turn
from tests.support.cek import ACCESS_TOKEN, USER_ID, CekSigner, intent
from tests.support.processes import ProxyProcess
from tests.support.stubs import ActionCall, StubActionBackend, StubChatbot


async def test_a_token_stored_through_one_replica_serves_an_action_call_to_the_other(
    two_proxies: tuple[ProxyProcess, ProxyProcess],
    signer: CekSigner,
    chatbot: tuple[StubChatbot, str],
    orders_backend: tuple[StubActionBackend, str],
    redis_client: redis.Redis,
) -> None:
    first, second = two_proxies
    chatbot[0].action = ActionCall(f"{second.url}/actions/orders", ACTION_KEY)  # the call lands elsewhere
    document = await post_turn(first, signer, intent("AskOrders", {"query": "주문"}, token=ACCESS_TOKEN))
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
    await post_turn(two_proxies[0], signer, intent("Ask", token=short_lived))
    (key,) = redis_client.keys("cek-proxy:token:*")
    assert 0 < int(redis_client.pttl(key)) <= 30_000


async def test_a_value_moved_to_another_users_key_does_not_decrypt(
    two_proxies: tuple[ProxyProcess, ProxyProcess],
    signer: CekSigner,
    chatbot: tuple[StubChatbot, str],
    redis_client: redis.Redis,
) -> None:
    await post_turn(two_proxies[0], signer, intent("Ask", token=ACCESS_TOKEN))
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
    document = await post_turn(two_proxies[0], signer, intent("Ask", token=ACCESS_TOKEN))
    assert document["response"]["outputSpeech"]["values"]["value"] == "답변: Ask"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{two_proxies[0].url}/readyz") as resp:
            assert resp.status == 503
        url = f"{two_proxies[1].url}/actions/orders?userId=cek-x"
        async with session.post(url, headers={"X-CEK-Proxy-Key": ACTION_KEY}) as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["code"] == "token_store_unavailable"
