"""Upstream trouble never reaches CEK as an error or as silence: it becomes a spoken apology in time."""

from __future__ import annotations

import ssl
import time
from typing import Any

import pytest
from aiohttp import web

from proxy.cek.response import is_valid_cek_response
from proxy.http_client import HttpClient
from proxy.metrics import Metrics
from proxy.upstream import Upstream, UpstreamError, upstream_client
from tests.proxy.conftest import ProxyFactory, ServerFactory
from tests.support.cek import CekSigner, intent, speech_texts
from tests.support.stubs import Failure, StubCekBackend, StubChatbot

CEK_DEADLINE = 8.0
APOLOGY_KO = "죄송합니다. 지금은 답변을 드릴 수 없어요. 잠시 후에 다시 말씀해 주세요."


async def _assert_apology(client: Any, signer: CekSigner, locale: str = "ko-KR") -> dict[str, Any]:
    body = intent("AskOrderStatus", {"product": "이어폰"}, locale=locale)
    started = time.monotonic()
    resp = await client.post("/cek", data=body, headers=signer.headers(body))
    elapsed = time.monotonic() - started
    assert resp.status == 200
    document: dict[str, Any] = await resp.json()
    assert is_valid_cek_response(document)
    assert document["response"]["shouldEndSession"] is True
    assert elapsed < CEK_DEADLINE
    return document


@pytest.mark.parametrize(
    "failure",
    [Failure("status", status=500), Failure("status", status=404), Failure("junk"), Failure("drop")],
    ids=["http-500", "http-404", "junk-html", "dropped-connection"],
)
async def test_chatbot_failures_become_the_apology(
    failure: Failure, start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    chatbot[0].failure = failure
    client = await start_proxy()
    assert speech_texts(await _assert_apology(client, signer)) == [APOLOGY_KO]
    # A dropped connection is retried once (a chatbot turn is safe to replay); other failures are not.
    assert len(chatbot[0].received) == (2 if failure.kind == "drop" else 1)


async def test_a_chatbot_slower_than_the_upstream_timeout_gets_the_apology_within_the_deadline(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    chatbot[0].failure = Failure("slow", delay=5)
    client = await start_proxy(CEK_PROXY_UPSTREAM_TIMEOUT="0.5")
    started = time.monotonic()
    await _assert_apology(client, signer)
    assert time.monotonic() - started < 5  # answered at the timeout, not when the chatbot finished


async def test_a_chatbot_that_refuses_connections_is_tried_twice_then_apologised_for(
    start_proxy: ProxyFactory, signer: CekSigner, unused_tcp_port: int
) -> None:
    client = await start_proxy(CEK_PROXY_CHATBOT_URL=f"http://127.0.0.1:{unused_tcp_port}/custom")
    await _assert_apology(client, signer)
    metrics = await (await client.get("/metrics")).text()
    assert 'cek_proxy_requests_total{outcome="upstream_connection",type="IntentRequest"} 1.0' in metrics


async def test_a_chatbot_with_a_wrong_secret_is_an_upstream_failure(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str], tmp_path: Any
) -> None:
    wrong = tmp_path / "wrong-secret"
    wrong.write_text("not-the-secret")
    client = await start_proxy(CEK_PROXY_CHATBOT_SECRET_FILE=str(wrong))
    await _assert_apology(client, signer)
    assert chatbot[0].rejected == 1


async def test_the_apology_is_in_the_request_language_and_configurable(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    chatbot[0].failure = Failure("junk")
    client = await start_proxy(config='[messages.apology]\nja = "ただいま混み合っています。"\n')
    assert speech_texts(await _assert_apology(client, signer, locale="ja-JP")) == [
        "ただいま混み合っています。"
    ]
    assert speech_texts(await _assert_apology(client, signer, locale="en-US"))[0].startswith("Sorry")


@pytest.mark.parametrize(
    ("answer", "failure"),
    [
        (b'{"response": {}}', None),
        (b"[]", None),
        (b"not json", None),
        (None, Failure("status", status=502)),
        (None, Failure("slow", delay=3)),
    ],
    ids=["no-shouldEndSession", "array", "not-json", "http-502", "slow"],
)
async def test_passthrough_backend_failures_become_the_apology(
    answer: bytes | None,
    failure: Failure | None,
    start_proxy: ProxyFactory,
    signer: CekSigner,
    backend: tuple[StubCekBackend, str],
) -> None:
    if answer is not None:
        backend[0].answer = answer
    backend[0].failure = failure
    client = await start_proxy(
        CEK_PROXY_MODE="passthrough", CEK_PROXY_PASSTHROUGH_URL=backend[1], CEK_PROXY_UPSTREAM_TIMEOUT="1"
    )
    assert speech_texts(await _assert_apology(client, signer)) == [APOLOGY_KO]


@pytest.mark.parametrize(
    ("size", "chunked"), [(2000, False), (2000, True)], ids=["content-length", "chunked"]
)
async def test_a_reply_over_the_cap_is_cut_off(aiohttp_server: Any, size: int, chunked: bool) -> None:
    async def big(request: web.Request) -> web.StreamResponse:
        if not chunked:
            return web.Response(body=b"x" * size)
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(size // 100):
            await response.write(b"x" * 100)
        return response

    app = web.Application()
    app.router.add_get("/", big)
    server = await aiohttp_server(app)
    async with upstream_client(None) as session:
        upstream = Upstream("test", session, Metrics(), timeout=2, max_reply_bytes=1000)
        with pytest.raises(UpstreamError, match="too_large"):
            await upstream.request("GET", str(server.make_url("/")))
        small = Upstream("test", session, Metrics(), timeout=2, max_reply_bytes=size)
        assert (await small.request("GET", str(server.make_url("/")))).body == b"x" * size


class MovingResolver:
    """DNS for an upstream that moved: the first answer is its old address (nothing listens there)."""

    def __init__(self, old_port: int, new_port: int) -> None:
        self.ports = [old_port, new_port]
        self.lookups = 0

    async def __call__(self, host: str, port: int) -> list[tuple[str, int]]:
        answer = self.ports[min(self.lookups, 1)]
        self.lookups += 1
        return [("127.0.0.1", answer)]


async def test_an_upstream_that_moved_is_found_again_within_the_call(
    aiohttp_server: ServerFactory, unused_tcp_port: int
) -> None:
    """A new connection looks the name up again, so the one retry finds a replaced container."""
    stub = StubCekBackend()
    server = await aiohttp_server(stub.app())
    assert server.port is not None
    resolver = MovingResolver(old_port=unused_tcp_port, new_port=server.port)
    async with HttpClient(ssl.create_default_context(), resolve=resolver) as session:
        upstream = Upstream("passthrough", session, Metrics(), timeout=5)
        reply = await upstream.request("POST", "http://backend.internal/clova", data=b"{}")
    assert reply.status == 200
    assert resolver.lookups == 2
