"""Replays and retries: an identical signed body is answered once; stale events are refused.

In one process (the in-memory window) and across two real proxy processes sharing a real
redis-server, which is what makes a gateway's retry of a turn on another replica safe.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp import web

from proxy.modes.turn import TurnResult
from proxy.replays import REPLAYED, MemoryReplays
from tests.proxy.conftest import ProxyFactory, ServerFactory, cek_turn, post_turn
from tests.support.cek import CekSigner, cek_request, event, intent, launch, speech_texts, utc_now
from tests.support.processes import ProxyProcess, start_proxy_process
from tests.support.stubs import StubChatbot

WELCOME = "안녕하세요. 고객센터 도우미입니다."  # the stub chatbot's answer to a launch


def _replays_counted(metrics: str) -> float:
    line = next(line for line in metrics.splitlines() if line.startswith("cek_proxy_replays_total "))
    return float(line.split()[1])


async def test_a_signed_intent_sent_five_times_reaches_the_chatbot_once(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    body = intent("AskOrderStatus", {"product": "이어폰"})
    client = await start_proxy()
    answers = [await cek_turn(client, signer, body) for _ in range(5)]
    assert len(chatbot[0].received) == 1
    assert all(answer == answers[0] for answer in answers)
    metrics = await (await client.get("/metrics")).text()
    assert _replays_counted(metrics) == 4
    assert 'cek_proxy_requests_total{outcome="replayed",type="IntentRequest"} 4.0' in metrics


async def test_different_requests_are_each_answered(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    client = await start_proxy()
    for _ in range(3):
        await cek_turn(client, signer, intent("AskOrderStatus", {"product": "이어폰"}))  # new requestId
    assert len(chatbot[0].received) == 3


def slow_chatbot_app(stub: StubChatbot, delay: float) -> web.Application:
    """The stub chatbot, answering after `delay` seconds."""

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay)
        return await stub.handle(request)

    app = web.Application()
    app.router.add_post("/custom/v1/{domain}/{hash}", slow)
    return app


async def test_a_duplicate_arriving_while_the_first_is_answered_waits_for_that_answer(
    start_proxy: ProxyFactory,
    signer: CekSigner,
    chatbot: tuple[StubChatbot, str],
    aiohttp_server: ServerFactory,
) -> None:
    server = await aiohttp_server(slow_chatbot_app(chatbot[0], 0.5))
    client = await start_proxy(CEK_PROXY_CHATBOT_URL=str(server.make_url("/custom/v1/1234/abcdef")))
    body = launch()
    answers = await asyncio.gather(*(cek_turn(client, signer, body) for _ in range(3)))
    assert len(chatbot[0].received) == 1
    assert answers[1:] == answers[:1] * 2
    assert speech_texts(answers[0])[0] == WELCOME


async def test_the_window_can_be_turned_off(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    body = intent("AskOrderStatus", {"product": "이어폰"})
    client = await start_proxy(CEK_PROXY_IDEMPOTENCY_WINDOW="0")
    for _ in range(3):
        await cek_turn(client, signer, body)
    assert len(chatbot[0].received) == 3


async def test_a_repeat_after_the_window_is_answered_anew(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    body = intent("AskOrderStatus", {"product": "이어폰"})
    client = await start_proxy(CEK_PROXY_IDEMPOTENCY_WINDOW="0.3")
    await cek_turn(client, signer, body)
    await asyncio.sleep(0.5)
    await cek_turn(client, signer, body)
    assert len(chatbot[0].received) == 2


async def test_the_in_memory_window_is_bounded_in_entries_and_bytes() -> None:
    replays = MemoryReplays(window=600, max_entries=2, max_bytes=10)
    made: list[str] = []

    def answer(text: str) -> Callable[[], Any]:
        async def produce() -> TurnResult:
            made.append(text)
            return TurnResult(text.encode(), "answered")

        return produce

    deadline = asyncio.get_running_loop().time() + 5
    for key in ("a", "b", "c"):
        await replays.once(key, answer(key), deadline)
    assert (await replays.once("c", answer("c"), deadline)).outcome == REPLAYED
    assert (await replays.once("a", answer("a"), deadline)).outcome == "answered"  # evicted: 2 entries
    await replays.once("big", answer("x" * 8), deadline)  # 8 bytes: with "a" (1), "c" goes
    assert (await replays.once("c", answer("c"), deadline)).outcome == "answered"
    assert made == ["a", "b", "c", "a", "x" * 8, "c"]


def _event_at(timestamp: str | None) -> bytes:
    request = {"type": "EventRequest", "event": {"namespace": "AudioPlayer", "name": "PlayStopped"}}
    return cek_request({**request, "timestamp": timestamp})


# Each timestamp is made when its test runs (seconds from now), not when the tests are collected.
@pytest.mark.parametrize(
    ("timestamp", "status"),
    [(-3600, 400), (+3600, 400), (-10, 200), (None, 200), ("not a time", 200)],
    ids=["an-hour-old", "an-hour-ahead", "fresh", "no-timestamp", "unreadable"],
)
async def test_event_requests_outside_the_freshness_window_are_refused(
    timestamp: int | str | None, status: int, start_proxy: ProxyFactory, signer: CekSigner
) -> None:
    body = _event_at(utc_now(timestamp) if isinstance(timestamp, int) else timestamp)
    client = await start_proxy()
    resp = await client.post("/cek", data=body, headers=signer.headers(body))
    assert resp.status == status
    if status == 400:
        assert (await resp.json())["error"]["code"] == "stale_request"


async def test_the_freshness_window_is_a_setting(start_proxy: ProxyFactory, signer: CekSigner) -> None:
    body = event("AudioPlayer", "PlayStopped")
    client = await start_proxy(CEK_PROXY_EVENT_FRESHNESS="600")
    assert (await client.post("/cek", data=body, headers=signer.headers(body))).status == 200
    old = _event_at(utc_now(-300))
    assert (await client.post("/cek", data=old, headers=signer.headers(old))).status == 200


async def _metrics(proxy: ProxyProcess) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{proxy.url}/metrics") as resp:
        return await resp.text()


async def test_a_replay_on_another_replica_gets_the_first_answer_without_a_chatbot_call(
    two_proxies: tuple[ProxyProcess, ProxyProcess],
    signer: CekSigner,
    chatbot: tuple[StubChatbot, str],
    redis_client: redis.Redis,
) -> None:
    body = intent("AskOrderStatus", {"product": "이어폰"})
    first = await post_turn(two_proxies[0], signer, body)
    again = await post_turn(two_proxies[1], signer, body)
    assert again == first
    assert len(chatbot[0].received) == 1
    assert _replays_counted(await _metrics(two_proxies[1])) == 1
    (key,) = redis_client.keys("cek-proxy:replay:*")
    assert key == f"cek-proxy:replay:{hashlib.sha256(body).hexdigest()}".encode()
    stored = redis_client.get(key)
    assert isinstance(stored, bytes)
    assert "이어폰".encode() not in stored  # the answer is kept encrypted
    assert 590_000 < int(redis_client.pttl(key)) <= 600_000


@pytest.fixture
async def slow_proxies(
    shared_env: dict[str, str],
    chatbot: tuple[StubChatbot, str],
    aiohttp_server: ServerFactory,
    unused_tcp_port_factory: Callable[[], int],
) -> Any:
    """Two replicas in front of a chatbot that takes 1.5 s (longer than a pending marker's TTL)."""
    server = await aiohttp_server(slow_chatbot_app(chatbot[0], 1.5))
    env = {**shared_env, "CEK_PROXY_CHATBOT_URL": str(server.make_url("/custom/v1/1234/abcdef"))}
    proxies = [await start_proxy_process(env, unused_tcp_port_factory()) for _ in range(2)]
    yield proxies
    for proxy in proxies:
        proxy.stop()


async def test_a_retry_on_another_replica_while_the_first_is_answering_waits_for_its_answer(
    slow_proxies: list[ProxyProcess], signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    body = launch()
    first = asyncio.create_task(post_turn(slow_proxies[0], signer, body))
    await asyncio.sleep(0.3)  # the first replica holds the pending marker
    retry = await post_turn(slow_proxies[1], signer, body)
    assert retry == await first
    assert speech_texts(retry)[0] == WELCOME
    assert len(chatbot[0].received) == 1


async def test_a_pending_marker_left_by_a_dead_replica_does_not_block_a_retry(
    two_proxies: tuple[ProxyProcess, ProxyProcess],
    signer: CekSigner,
    chatbot: tuple[StubChatbot, str],
    redis_client: redis.Redis,
) -> None:
    body = intent("AskOrderStatus", {"product": "이어폰"})
    # What a replica killed midway leaves: a marker nobody renews.
    redis_client.set(f"cek-proxy:replay:{hashlib.sha256(body).hexdigest()}", b"pending", px=1000)
    document = await post_turn(two_proxies[1], signer, body)
    assert json.dumps(document, ensure_ascii=False).count("답변: ") == 1  # the chatbot's answer
    assert len(chatbot[0].received) == 1
