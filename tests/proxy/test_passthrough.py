"""Passthrough mode: the verified request reaches the backend byte for byte, signature included."""

from __future__ import annotations

from tests.proxy.conftest import ProxyFactory
from tests.support.cek import CekSigner, intent
from tests.support.stubs import StubCekBackend, StubChatbot


async def test_the_backend_gets_the_exact_bytes_and_signature_and_its_answer_is_relayed(
    start_proxy: ProxyFactory,
    signer: CekSigner,
    backend: tuple[StubCekBackend, str],
    chatbot: tuple[StubChatbot, str],
) -> None:
    body = intent("AskOrderStatus", {"product": "무선 이어폰"})
    headers = signer.headers(body)
    client = await start_proxy(CEK_PROXY_MODE="passthrough", CEK_PROXY_PASSTHROUGH_URL=backend[1])
    resp = await client.post("/cek", data=body, headers=headers)
    assert resp.status == 200
    assert await resp.read() == backend[0].answer
    received = backend[0].received[0]
    assert received.body == body
    assert received.headers["SignatureCEK"] == headers["SignatureCEK"]
    assert chatbot[0].received == []


async def test_unverified_requests_never_reach_the_backend(
    start_proxy: ProxyFactory, backend: tuple[StubCekBackend, str]
) -> None:
    client = await start_proxy(CEK_PROXY_MODE="passthrough", CEK_PROXY_PASSTHROUGH_URL=backend[1])
    resp = await client.post("/cek", data=intent("X"), headers={"SignatureCEK": "AAAA"})
    assert resp.status == 401
    assert backend[0].received == []
