"""Health, readiness, metrics, JSON logs, and a graceful stop on SIGTERM, on a real proxy process."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from tests.proxy.conftest import CHATBOT_SECRET, ProxyFactory
from tests.support.cek import ACCESS_TOKEN, CekSigner, intent, launch
from tests.support.processes import ProxyProcess, start_proxy_process
from tests.support.stubs import Failure, StubChatbot


async def test_health_and_readiness(start_proxy: ProxyFactory) -> None:
    client = await start_proxy()
    assert await (await client.get("/healthz")).json() == {"status": "alive"}
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert await ready.json() == {"status": "ready", "keys": 1, "token_store": True}


async def test_metrics_count_requests_outcomes_and_verification_failures(
    start_proxy: ProxyFactory, signer: CekSigner
) -> None:
    client = await start_proxy()
    body = launch()
    await client.post("/cek", data=body, headers=signer.headers(body))
    await client.post("/cek", data=body, headers={"SignatureCEK": "AAAA"})
    await client.post("/cek", data=body)
    text = await (await client.get("/metrics")).text()
    assert 'cek_proxy_requests_total{outcome="answered",type="LaunchRequest"} 1.0' in text
    assert 'cek_proxy_signature_failures_total{reason="invalid"} 1.0' in text
    assert 'cek_proxy_signature_failures_total{reason="missing"} 1.0' in text
    assert 'cek_proxy_upstream_latency_seconds_count{outcome="ok",upstream="chatbot"} 1.0' in text


async def test_responses_carry_a_request_id(start_proxy: ProxyFactory) -> None:
    client = await start_proxy()
    assert len((await client.get("/healthz")).headers["X-Request-Id"]) == 32
    echoed = await client.get("/healthz", headers={"X-Request-Id": "abc-123-def-456"})
    assert echoed.headers["X-Request-Id"] == "abc-123-def-456"
    forged = await client.get("/healthz", headers={"X-Request-Id": '"},{"level":"forged'})
    assert len(forged.headers["X-Request-Id"]) == 32  # replaced, not echoed into logs


@pytest.fixture
async def proxy_process(
    base_env: dict[str, str], unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Callable[..., Awaitable[ProxyProcess]]]:
    started: list[ProxyProcess] = []

    async def start(**env: str) -> ProxyProcess:
        started.append(await start_proxy_process({**base_env, **env}, unused_tcp_port_factory()))
        return started[-1]

    yield start
    for proxy in started:
        proxy.stop()


async def test_sigterm_finishes_in_flight_requests_then_exits_0(
    proxy_process: Callable[..., Awaitable[ProxyProcess]], signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    chatbot[0].failure = Failure("slow", delay=1.0)  # the answer is on its way when SIGTERM arrives
    proxy = await proxy_process()
    body = intent("AskOrderStatus", {"product": "이어폰"}, token=ACCESS_TOKEN)
    async with aiohttp.ClientSession() as session:
        in_flight = asyncio.create_task(
            session.post(f"{proxy.url}/cek", data=body, headers=signer.headers(body))
        )
        await asyncio.sleep(0.4)
        proxy.process.send_signal(signal.SIGTERM)
        resp = await in_flight
        assert resp.status == 200
        await resp.read()
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"{proxy.url}/healthz")
    assert await asyncio.to_thread(proxy.process.wait, 15) == 0


async def test_while_draining_it_reports_not_ready_but_still_serves(
    proxy_process: Callable[..., Awaitable[ProxyProcess]], signer: CekSigner
) -> None:
    proxy = await proxy_process(CEK_PROXY_DRAIN_SECONDS="2")
    body = launch()
    proxy.process.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{proxy.url}/readyz") as ready:
            assert ready.status == 503
            assert (await ready.json())["status"] == "draining"
        async with session.post(f"{proxy.url}/cek", data=body, headers=signer.headers(body)) as resp:
            assert resp.status == 200
    assert await asyncio.to_thread(proxy.process.wait, 15) == 0


async def test_log_lines_are_json_with_request_ids_and_no_secrets(
    proxy_process: Callable[..., Awaitable[ProxyProcess]], signer: CekSigner
) -> None:
    proxy = await proxy_process(CEK_PROXY_LOG_LEVEL="debug")
    body = intent("AskOrderStatus", {"product": "이어폰"}, token=ACCESS_TOKEN)
    headers = signer.headers(body)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.url}/cek", data=body, headers=headers) as resp,
    ):
        assert resp.status == 200
    proxy.process.send_signal(signal.SIGTERM)
    await asyncio.to_thread(proxy.process.wait, 15)
    lines = proxy.log_lines()
    # the event loop `python -m proxy` runs, in the bench and in the image alike
    assert [line["event_loop"] for line in lines if line["message"] == "serving"] == ["uvloop.Loop"]
    access = [line for line in lines if line.get("path") == "/cek"]
    assert access[0]["status"] == 200
    assert access[0]["cek_type"] == "IntentRequest"
    assert len(access[0]["request_id"]) == 32
    everything = json.dumps(lines, ensure_ascii=False)
    for secret in (CHATBOT_SECRET, ACCESS_TOKEN, headers["SignatureCEK"], "이어폰"):
        assert secret not in everything
