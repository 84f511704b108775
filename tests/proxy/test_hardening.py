"""Hostile input: signed but pathological JSON, compressed bodies and replies, slow peers, odd headers.

No input may make the proxy answer CEK with a 500 or hold its resources: each case here gets a clear
4xx, the apology, or a gateway error, and every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import rsa

from proxy.metrics import Metrics
from proxy.upstream import Upstream, UpstreamError, upstream_client
from tests.conftest import watch_secret
from tests.proxy.conftest import ACTION_KEY, TOKEN_KEY, ProxyFactory, ServerFactory, cek_turn, linking_config
from tests.support.cek import ACCESS_TOKEN, CekSigner, cek_request, intent, speech_texts
from tests.support.processes import start_proxy_process
from tests.support.stubs import StubActionBackend, StubChatbot, text_bubble

APOLOGY_KO = "죄송합니다. 지금은 답변을 드릴 수 없어요. 잠시 후에 다시 말씀해 주세요."
Client = TestClient[Any, Any]
INFLATED = 16 * 1024 * 1024  # what the bombs below inflate to: 16 times the 1 MiB reply cap


async def assert_one_intent(client: Client, outcome: str) -> None:
    """The proxy's metrics count exactly one IntentRequest with `outcome`."""
    metrics = await (await client.get("/metrics")).text()
    assert f'cek_proxy_requests_total{{outcome="{outcome}",type="IntentRequest"}} 1.0' in metrics


def _signed_document(prefix: bytes, value: bytes) -> bytes:
    """A CEK intent whose slot value is replaced by raw JSON text `value` (deep, huge, invalid...)."""
    body = intent("AskOrderStatus", {"product": "PLACEHOLDER"})
    return body.replace(b'"PLACEHOLDER"', prefix + value)


PATHOLOGICAL_JSON = {
    "nested-10000-deep": _signed_document(b"", b"[" * 10_000 + b"]" * 10_000),
    "5000-digit-integer": _signed_document(b"", b"9" * 5_000),
    "encoded-surrogate": _signed_document(b"", b'"\xed\xa0\x80"'),
    "escaped-lone-surrogate": _signed_document(b"", b'"\\ud800"'),
    "latin-1-byte": _signed_document(b"", b'"caf\xe9"'),
    "nan": _signed_document(b"", b"NaN"),
}


@pytest.mark.parametrize("body", PATHOLOGICAL_JSON.values(), ids=PATHOLOGICAL_JSON.keys())
async def test_validly_signed_pathological_json_is_a_400(
    body: bytes, start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    client = await start_proxy()
    resp = await client.post("/cek", data=body, headers=signer.headers(body))
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "malformed_json"
    assert chatbot[0].received == []


async def test_a_paired_surrogate_escape_is_an_ordinary_character(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    body = _signed_document(b"", b'"\\ud83d\\ude00"')
    client = await start_proxy()
    resp = await client.post("/cek", data=body, headers=signer.headers(body))
    assert resp.status == 200
    assert chatbot[0].received[0]["bubbles"][0]["data"]["description"] == "\U0001f600"


@pytest.mark.parametrize(
    "reply",
    [
        b'{"bubbles": [{"type": "text", "data": {"description": "\xed\xa0\x80"}}]}',
        # a lone surrogate escaped, in a button's title and postback: it could never be sent on as UTF-8
        b'{"bubbles": [{"type": "button", "title": "\\ud800", "data": {"action": {"type": "postback",'
        b' "data": {"postback": "\\ud83d"}}}}]}',
        b"[" * 10_000,
    ],
    ids=["encoded-surrogate", "escaped-lone-surrogate", "nested-10000-deep"],
)
async def test_a_chatbot_reply_that_is_not_strict_json_is_an_invalid_reply(
    reply: bytes, start_proxy: ProxyFactory, signer: CekSigner, aiohttp_server: ServerFactory
) -> None:
    async def chatbot(request: web.Request) -> web.Response:
        return web.Response(body=reply, content_type="application/json")

    app = web.Application()
    app.router.add_post("/custom", chatbot)
    server = await aiohttp_server(app)
    client = await start_proxy(CEK_PROXY_CHATBOT_URL=str(server.make_url("/custom")))
    assert speech_texts(await cek_turn(client, signer, intent("AskOrderStatus"))) == [APOLOGY_KO]
    await assert_one_intent(client, "upstream_invalid_reply")


@pytest.fixture
async def relay(
    start_proxy: ProxyFactory, orders_backend: tuple[StubActionBackend, str], action_key_file: Any
) -> Client:
    return await start_proxy(
        config=linking_config("optional", orders_backend[1]), CEK_PROXY_ACTION_KEY_FILE=str(action_key_file)
    )


RELAY_JSON = {
    "nested-10000-deep": b'{"userId": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "5000-digit-integer": b'{"userId": "u", "n": ' + b"9" * 5_000 + b"}",
    "encoded-surrogate": b'{"userId": "\xed\xa0\x80"}',
}


@pytest.mark.parametrize("body", RELAY_JSON.values(), ids=RELAY_JSON.keys())
async def test_the_action_relay_refuses_pathological_json_with_a_400(relay: Client, body: bytes) -> None:
    resp = await relay.post("/actions/orders", data=body, headers={"X-CEK-Proxy-Key": ACTION_KEY})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "malformed_json"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_compressed_request_bodies_are_refused_unread(
    encoding: str, start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    """A small body that would inflate to 16 MiB is refused (415) without being inflated or verified."""
    bomb = gzip.compress(b"{" + b" " * INFLATED + b"}", compresslevel=9)
    client = await start_proxy()
    resp = await client.post(
        "/cek", data=bomb, headers={"Content-Encoding": encoding, "SignatureCEK": signer.sign(bomb)}
    )
    assert resp.status == 415
    assert (await resp.json())["error"]["code"] == "compressed_body"
    assert chatbot[0].received == []


async def test_the_action_relay_refuses_compressed_bodies(relay: Client) -> None:
    body = gzip.compress(json.dumps({"userId": "u"}).encode())
    headers = {"X-CEK-Proxy-Key": ACTION_KEY, "Content-Encoding": "gzip"}
    resp = await relay.post("/actions/orders", data=body, headers=headers)
    assert resp.status == 415


def _compressed(document: bytes, encoding: str) -> bytes:
    return gzip.compress(document) if encoding == "gzip" else zlib.compress(document)


def _compressed_app(path: str, method: str, reply: Callable[[], bytes], encoding: str) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(
            body=_compressed(reply(), encoding),
            headers={"Content-Encoding": encoding, "Content-Type": "application/json"},
        )

    app = web.Application()
    app.router.add_route(method, path, handle)
    return app


async def _gzip_reply(aiohttp_server: ServerFactory, body: bytes) -> bytes:
    """What Upstream reads from a server answering `body` labelled `Content-Encoding: gzip`."""

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_get("/", handle)
    server = await aiohttp_server(app)
    async with upstream_client(None) as session:
        upstream = Upstream("test", session, Metrics(), timeout=2)
        return (await upstream.request("GET", str(server.make_url("/")))).body


@pytest.mark.parametrize(
    "body", [gzip.compress(b'{"ok": true}')[:-12], b"not gzip at all"], ids=["cut-short", "not-gzip"]
)
async def test_a_compressed_reply_must_be_complete_and_valid(
    body: bytes, aiohttp_server: ServerFactory
) -> None:
    with pytest.raises(UpstreamError, match="protocol"):
        await _gzip_reply(aiohttp_server, body)


async def test_an_empty_compressed_reply_is_an_empty_body(aiohttp_server: ServerFactory) -> None:
    assert await _gzip_reply(aiohttp_server, b"") == b""


def _chatbot_reply(text: str) -> bytes:
    return json.dumps({"version": "v2", "bubbles": [text_bubble(text)], "event": "send"}).encode()


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compressed_chatbot_reply_is_read_and_an_inflating_one_is_cut_at_the_cap(
    encoding: str, start_proxy: ProxyFactory, signer: CekSigner, aiohttp_server: ServerFactory
) -> None:
    replies = iter([_chatbot_reply("압축된 답변"), _chatbot_reply("x" * INFLATED)])
    server = await aiohttp_server(_compressed_app("/custom", "POST", lambda: next(replies), encoding))
    client = await start_proxy(CEK_PROXY_CHATBOT_URL=str(server.make_url("/custom")))
    for expected in (["압축된 답변"], [APOLOGY_KO]):
        body = intent("AskOrderStatus", {"product": "이어폰"})
        resp = await client.post("/cek", data=body, headers=signer.headers(body))
        assert speech_texts(await resp.json()) == expected
    await assert_one_intent(client, "upstream_too_large")


async def test_an_action_reply_that_inflates_past_the_cap_is_a_502_and_a_small_one_is_relayed_inflated(
    start_proxy: ProxyFactory,
    signer: CekSigner,
    chatbot: tuple[StubChatbot, str],
    action_key_file: Any,
    aiohttp_server: ServerFactory,
) -> None:
    replies = iter([b'{"orders": 3}', b'{"pad": "' + b"0" * INFLATED + b'"}'])
    server = await aiohttp_server(_compressed_app("/orders", "POST", lambda: next(replies), "gzip"))
    client = await start_proxy(
        config=linking_config("optional", str(server.make_url("/orders"))),
        CEK_PROXY_ACTION_KEY_FILE=str(action_key_file),
    )
    await cek_turn(client, signer, intent("AskOrders", {"query": "주문"}, token=ACCESS_TOKEN))
    call = {"userId": chatbot[0].received[-1]["userId"]}
    small = await client.post("/actions/orders", json=call, headers={"X-CEK-Proxy-Key": ACTION_KEY})
    assert (small.status, await small.read()) == (200, b'{"orders": 3}')
    assert "Content-Encoding" not in small.headers
    big = await client.post("/actions/orders", json=call, headers={"X-CEK-Proxy-Key": ACTION_KEY})
    assert big.status == 502
    assert (await big.json())["error"]["code"] == "backend_too_large"


class DribblingEndpoint:
    """A JWKS (or any) endpoint that sends one byte a second, at most `limit` of them."""

    def __init__(self, limit: int = 30) -> None:
        self.limit = limit
        self.started = asyncio.Event()
        self.finished = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        self.started.set()
        for _ in range(self.limit):
            await response.write(b" ")
            await asyncio.sleep(1)
        self.finished = True
        return response


async def test_a_jwks_endpoint_sending_a_byte_a_second_cannot_stretch_a_turn_past_its_budget(
    start_proxy: ProxyFactory,
    signer: CekSigner,
    orders_backend: tuple[StubActionBackend, str],
    action_key_file: Any,
    aiohttp_server: ServerFactory,
) -> None:
    jwks = DribblingEndpoint()
    app = web.Application()
    app.router.add_get("/jwks.json", jwks.handle)
    server = await aiohttp_server(app)
    oauth = f'\n[oauth]\njwks_url = "{server.make_url("/jwks.json")}"\n'
    client = await start_proxy(
        config=linking_config("optional", orders_backend[1], oauth),
        CEK_PROXY_ACTION_KEY_FILE=str(action_key_file),
        CEK_PROXY_TURN_BUDGET="1",
    )
    token = jwt.encode({"exp": 2_000_000_000}, rsa.generate_private_key(65537, 2048), "RS256", {"kid": "k"})
    document = await cek_turn(
        client, signer, intent("AskOrders", {"query": "주문"}, token=watch_secret(token))
    )
    assert speech_texts(document) == [APOLOGY_KO]
    assert jwks.started.is_set()
    assert not jwks.finished  # answered while the JWKS was still dribbling
    await assert_one_intent(client, "turn_timeout")


async def test_a_token_store_that_never_answers_cannot_stretch_a_turn_past_its_budget(
    start_proxy: ProxyFactory,
    signer: CekSigner,
    orders_backend: tuple[StubActionBackend, str],
    action_key_file: Any,
    tmp_path: Any,
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts and listens, never answers (until the client goes)
        writer.close()

    redis_like = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = redis_like.sockets[0].getsockname()[1]
    (tmp_path / "token-key").write_text(TOKEN_KEY)
    try:
        client = await start_proxy(
            config=linking_config("optional", orders_backend[1]),
            CEK_PROXY_ACTION_KEY_FILE=str(action_key_file),
            CEK_PROXY_TOKEN_STORE_URL=f"redis://127.0.0.1:{port}/0",
            CEK_PROXY_TOKEN_KEY_FILE=str(tmp_path / "token-key"),
            CEK_PROXY_IDEMPOTENCY_WINDOW="0",  # the token store alone
            CEK_PROXY_TURN_BUDGET="0.5",
        )
        document = await cek_turn(client, signer, intent("AskOrders", {"query": "주문"}, token=ACCESS_TOKEN))
        assert speech_texts(document) == [APOLOGY_KO]
        await assert_one_intent(client, "turn_timeout")
    finally:
        redis_like.close()


async def _raw_request(client: Client, head: bytes) -> bytes:
    """Send `head` as is on a new connection; the status line that comes back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(head)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()


async def test_an_action_key_with_non_ascii_bytes_is_a_401(relay: Client) -> None:
    body = b'{"userId": "u"}'
    head = (
        b"POST /actions/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-CEK-Proxy-Key: \xff\xfe\xc3\xa9key\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
    ) % (len(body), body)
    assert (await _raw_request(relay, head)).startswith(b"HTTP/1.1 401 ")


@pytest.mark.parametrize("status", [999, 600])
async def test_an_action_backend_status_outside_http_is_a_502(
    status: int,
    start_proxy: ProxyFactory,
    signer: CekSigner,
    chatbot: tuple[StubChatbot, str],
    action_key_file: Any,
    aiohttp_server: ServerFactory,
) -> None:
    async def odd(request: web.Request) -> web.Response:
        return web.Response(status=status, body=b"{}")

    app = web.Application()
    app.router.add_post("/orders", odd)
    server = await aiohttp_server(app)
    client = await start_proxy(
        config=linking_config("optional", str(server.make_url("/orders"))),
        CEK_PROXY_ACTION_KEY_FILE=str(action_key_file),
    )
    await cek_turn(client, signer, intent("AskOrders", {"query": "주문"}, token=ACCESS_TOKEN))
    call = {"userId": chatbot[0].received[-1]["userId"]}
    resp = await client.post("/actions/orders", json=call, headers={"X-CEK-Proxy-Key": ACTION_KEY})
    assert resp.status == 502
    assert (await resp.json())["error"]["code"] == "backend_invalid_status"


async def test_metrics_labels_stay_bounded_whatever_request_types_signed_bodies_claim(
    start_proxy: ProxyFactory, signer: CekSigner
) -> None:
    client = await start_proxy()
    for number in range(20):
        body = cek_request({"type": f"MadeUpRequest{number}"})
        resp = await client.post("/cek", data=body, headers=signer.headers(body))
        assert resp.status == 200
    metrics = await (await client.get("/metrics")).text()
    assert "MadeUpRequest" not in metrics
    assert 'cek_proxy_requests_total{outcome="unknown_type",type="other"} 20.0' in metrics


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True when the server closes the connection within `seconds` (it sends nothing first)."""
    try:
        return await asyncio.wait_for(reader.read(), seconds) == b""
    except TimeoutError:
        return False


async def test_idle_and_never_used_connections_are_closed(
    start_proxy: ProxyFactory, signer: CekSigner
) -> None:
    client = await start_proxy(CEK_PROXY_IDLE_TIMEOUT="1")
    never_used = await asyncio.open_connection("127.0.0.1", client.port)
    used = await asyncio.open_connection("127.0.0.1", client.port)
    used[1].write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (await asyncio.wait_for(used[0].readline(), 10)).startswith(b"HTTP/1.1 200 ")
    await asyncio.wait_for(used[0].readuntil(b'"alive"}'), 10)
    try:
        assert await _closed_within(never_used[0], 10)
        assert await _closed_within(used[0], 10)
    finally:
        never_used[1].close()
        used[1].close()


async def test_a_client_dribbling_its_headers_is_cut_off_at_the_header_timeout(
    base_env: dict[str, str], unused_tcp_port: int
) -> None:
    """A real `python -m proxy` (the header deadline is the server's), a byte every 0.3 s, at most 40."""
    proxy = await start_proxy_process(
        {**base_env, "CEK_PROXY_HEADER_TIMEOUT": "1", "CEK_PROXY_IDLE_TIMEOUT": "60"}, unused_tcp_port
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", unused_tcp_port)
    try:
        closed = asyncio.create_task(_closed_within(reader, 15))
        head = b"POST /cek HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 40
        sent = 0
        for byte in head[:40]:
            if closed.done():
                break
            writer.write(bytes([byte]))
            sent += 1
            await asyncio.sleep(0.3)
        assert await closed
        assert sent < 40  # closed while it was still dribbling
    finally:
        writer.close()
        proxy.stop()
