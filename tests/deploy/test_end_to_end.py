"""CEK turns through the deployed gateway (HTTPS on 127.0.0.1, its internal CA trusted by the client)."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from infra.caddyfile import RESPONSE_HEADER_TIMEOUT
from proxy.cek.response import is_valid_cek_response
from proxy.settings import Environment
from tests.deploy.cluster import ORDERS_TRIGGER, SLOW_SECONDS, SLOW_TRIGGER, USER_TOKEN, Deployment
from tests.support.cek import intent, launch, session_ended, speech_texts
from tests.support.go_duration import duration_ns


@pytest.fixture
async def gateway(deployment: Deployment) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=deployment.ssl_context())
    async with aiohttp.ClientSession(
        base_url=deployment.base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=15)
    ) as session:
        yield session


async def _turn(session: aiohttp.ClientSession, deployment: Deployment, body: bytes) -> dict[str, Any]:
    async with session.post("/cek", data=body, headers=deployment.signer.headers(body)) as resp:
        assert resp.status == 200
        document: dict[str, Any] = await resp.json()
    assert is_valid_cek_response(document)
    return document


def test_the_stack_outputs_give_the_console_its_urls(deployment: Deployment) -> None:
    assert deployment.outputs["extension_url"] == f"https://localhost:{deployment.https_port}/cek"
    assert deployment.outputs["action_base_url"] == f"https://localhost:{deployment.https_port}/actions/"
    assert deployment.outputs["proxy_replicas"] == deployment.overrides["proxyReplicas"]


async def test_launch_intent_and_session_end_get_cek_answers_from_the_chatbot(
    gateway: aiohttp.ClientSession, deployment: Deployment
) -> None:
    welcome = await _turn(gateway, deployment, launch())
    assert speech_texts(welcome)[0] == "안녕하세요. 고객센터 도우미입니다."
    assert welcome["response"]["shouldEndSession"] is False

    answer = await _turn(gateway, deployment, intent("AskOrderStatus", {"product": "무선 이어폰"}))
    assert speech_texts(answer) == ["답변: 무선 이어폰"]

    ended = await _turn(gateway, deployment, session_ended())
    assert ended["response"]["shouldEndSession"] is True


async def test_an_action_call_reaches_the_backend_with_the_users_token(
    gateway: aiohttp.ClientSession, deployment: Deployment
) -> None:
    body = intent("AskOrders", {"query": ORDERS_TRIGGER}, token=USER_TOKEN)
    answer = await _turn(gateway, deployment, body)
    # The stub chatbot called /actions/orders; the stub backend answers 200 only to `Bearer <USER_TOKEN>`.
    assert speech_texts(answer) == ['액션 200: {"orders": 2}']


async def test_a_turn_slower_than_the_gateways_patience_is_retried_and_the_chatbot_asked_once(
    gateway: aiohttp.ClientSession, deployment: Deployment
) -> None:
    # The gateway gives a replica RESPONSE_HEADER_TIMEOUT, then tries another: that one finds the
    # turn pending in the shared idempotency window and waits for the first replica's answer.
    upstream_timeout = Environment.model_fields["upstream_timeout"].default
    assert (duration_ns(RESPONSE_HEADER_TIMEOUT) or 0) / 1e9 < SLOW_SECONDS < upstream_timeout
    before = deployment.stubs.chatbot_stats()
    # Logs are read by whole seconds: start on a fresh one, after earlier turns' lines are written.
    since = math.ceil(time.time() + 0.2)
    await asyncio.sleep(since - time.time())
    product = f"{SLOW_TRIGGER} {uuid.uuid4().hex[:8]}"
    answer = await _turn(gateway, deployment, intent("AskOrderStatus", {"product": product}))
    assert speech_texts(answer) == [f"답변: {product}"]
    after = deployment.stubs.chatbot_stats()
    assert (after["received"] - before["received"], after["duplicates"]) == (1, before["duplicates"])
    assert deployment.proxy_outcomes(since) == {"answered": 1, "replayed": 1}


async def test_an_unsigned_request_is_refused(gateway: aiohttp.ClientSession) -> None:
    async with gateway.post("/cek", data=launch()) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "invalid_signature"


async def test_only_the_proxied_paths_are_reachable(gateway: aiohttp.ClientSession) -> None:
    async with gateway.get("/healthz") as health:
        assert health.status == 200
    for path in ("/metrics", "/readyz", "/"):
        async with gateway.get(path) as resp:
            assert resp.status == 404, path


async def test_http_redirects_to_https(deployment: Deployment) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://localhost:{deployment.http_port}/cek", allow_redirects=False) as resp,
    ):
        assert resp.status == 308
        assert resp.headers["Location"] == f"https://localhost:{deployment.https_port}/cek"
