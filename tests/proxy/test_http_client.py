"""The upstream HTTP client against a raw TCP server on 127.0.0.1 that answers scripted bytes."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from proxy.http_client import (
    MAX_HEAD_BYTES,
    ConnectError,
    DroppedError,
    HttpClient,
    ProtocolError,
    ReplyTooLargeError,
)
from proxy.upstream import upstream_client
from tests.support.tls import TestCA

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


@dataclass
class ScriptedServer:
    """Answers the n-th request with `replies[n]` (the last one again after that); closes the
    connection after a reply when `close_after` says so."""

    replies: list[bytes]
    close_after: Callable[[int], bool] = lambda _: False
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    (int(line[15:]) for line in head.split(b"\r\n") if line.startswith(b"Content-Length: ")),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                index = len(self.requests) - 1
                writer.write(self.replies[min(index, len(self.replies) - 1)])
                await writer.drain()
                if self.close_after(index):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/path?q=1"


Serve = Callable[..., Awaitable[ScriptedServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(*replies: bytes, close_after: Callable[[int], bool] = lambda _: False) -> ScriptedServer:
        scripted = ScriptedServer(list(replies), close_after)
        server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
        scripted.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return scripted

    yield start
    for server in servers:
        server.close()


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    async with HttpClient(ssl.create_default_context(), default_headers={"Accept-Encoding": "gzip"}) as made:
        yield made


async def test_a_reply_is_read_and_its_connection_kept_for_the_next_call(
    serve: Serve, client: HttpClient
) -> None:
    server = await serve(OK)
    for _ in range(3):
        reply = await client.request("POST", server.url, body=b"{}", headers={"X-A": "1"}, max_body=100)
        assert (reply.status, reply.body, reply.headers["Content-Length"]) == (200, b"hello", "5")
    assert (server.connections, client.opened) == (1, 1)
    head = server.requests[0].decode()
    assert head.startswith(f"POST /path?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n")
    assert "Accept-Encoding: gzip\r\n" in head
    assert "X-A: 1\r\n" in head
    assert head.endswith("Content-Length: 2\r\n\r\n{}")


async def test_a_chunked_reply_is_joined_and_its_trailers_dropped(serve: Serve, client: HttpClient) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked = head + b"3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-T: 1\r\n\r\n"
    server = await serve(chunked, OK)
    assert (await client.request("GET", server.url, max_body=100)).body == b"hello"
    assert (await client.request("GET", server.url, max_body=100)).body == b"hello"
    assert server.connections == 1


async def test_informational_replies_are_skipped(serve: Serve, client: HttpClient) -> None:
    server = await serve(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
    assert (await client.request("POST", server.url, body=b"x", max_body=100)).status == 200


@pytest.mark.parametrize(
    "reply",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 2xx OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n",
        b"HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n" * 10,
    ],
    ids=[
        "not-http",
        "status-not-digits",
        "http2-status-line",
        "folded-header",
        "space-in-name",
        "two-lengths",
        "negative-length",
        "length-and-chunked",
        "other-transfer-coding",
        "chunk-size-not-hex",
        "chunk-without-crlf",
        "head-too-long",
        "status-below-100",
        "endless-informational",
    ],
)
async def test_a_malformed_reply_is_a_protocol_error_and_its_connection_dropped(
    reply: bytes, serve: Serve, client: HttpClient
) -> None:
    server = await serve(reply, OK)
    with pytest.raises(ProtocolError):
        await client.request("GET", server.url, max_body=100)
    assert (await client.request("GET", server.url, max_body=100)).body == b"hello"
    assert client.opened == 2


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + b"a" * 64 + b"\r\n40\r\n",
        b"HTTP/1.0 200 OK\r\n\r\n" + b"a" * 101,
    ],
    ids=["content-length", "chunked", "until-close"],
)
async def test_a_body_over_the_cap_is_refused_without_reading_it_all(
    reply: bytes, serve: Serve, client: HttpClient
) -> None:
    server = await serve(reply, close_after=lambda _: True)
    with pytest.raises(ReplyTooLargeError):
        await client.request("GET", server.url, max_body=100)


async def test_a_reply_framed_by_closing_is_read_to_the_end_and_not_reused(
    serve: Serve, client: HttpClient
) -> None:
    server = await serve(b"HTTP/1.0 200 OK\r\n\r\nhello", close_after=lambda _: True)
    for _ in range(2):
        assert (await client.request("GET", server.url, max_body=100)).body == b"hello"
    assert server.connections == 2


async def test_connection_close_is_honoured(serve: Serve, client: HttpClient) -> None:
    server = await serve(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello")
    for _ in range(2):
        assert (await client.request("GET", server.url, max_body=100)).body == b"hello"
    assert client.opened == 2


async def test_a_connection_closed_before_the_reply_is_dropped(serve: Serve, client: HttpClient) -> None:
    server = await serve(b"HTTP/1.1 200 OK\r\nContent-Le", close_after=lambda _: True)
    with pytest.raises(DroppedError):
        await client.request("POST", server.url, body=b"{}", max_body=100)


async def test_an_idle_connection_the_server_closed_is_not_reused(serve: Serve, client: HttpClient) -> None:
    server = await serve(OK, close_after=lambda _: True)
    assert (await client.request("GET", server.url, max_body=100)).status == 200
    await asyncio.sleep(0.1)  # the server's FIN arrives
    assert (await client.request("GET", server.url, max_body=100)).status == 200
    assert client.opened == 2


async def test_nothing_listening_is_a_connect_error(client: HttpClient, unused_tcp_port: int) -> None:
    with pytest.raises(ConnectError):
        await client.request("GET", f"http://127.0.0.1:{unused_tcp_port}/", max_body=100)


@pytest.mark.parametrize(
    "headers", [{"X-A": "1\r\nInjected: yes"}, {"X-A\r\nInjected": "yes"}, {"": "x"}, {"X A": "1"}]
)
async def test_a_header_that_would_split_the_request_is_refused(
    headers: dict[str, str], serve: Serve, client: HttpClient
) -> None:
    server = await serve(OK)
    with pytest.raises(ValueError, match="cannot be sent"):
        await client.request("GET", server.url, headers=headers, max_body=100)
    assert server.requests == []


async def _tls_server(tmp_path: Path, *names: str) -> tuple[ScriptedServer, Path, asyncio.Server]:
    ca = TestCA()
    cert, key = ca.issue(*names).write(tmp_path, "server")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    scripted = ScriptedServer([OK])
    server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0, ssl=context)
    scripted.port = server.sockets[0].getsockname()[1]
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert_pem)
    return scripted, ca_file, server


async def test_https_verifies_the_upstream_against_the_configured_ca(tmp_path: Path) -> None:
    scripted, ca_file, server = await _tls_server(tmp_path, "localhost")
    url = f"https://localhost:{scripted.port}/"
    try:
        async with upstream_client(ca_file) as trusting:
            assert (await trusting.request("GET", url, max_body=100)).body == b"hello"
        async with upstream_client(None) as default:  # the test CA is nobody's root
            with pytest.raises(ConnectError):
                await default.request("GET", url, max_body=100)
    finally:
        server.close()


async def test_https_refuses_a_certificate_for_another_name(tmp_path: Path) -> None:
    scripted, ca_file, server = await _tls_server(tmp_path, "chatbot.example")
    try:
        async with upstream_client(ca_file) as client:
            with pytest.raises(ConnectError):
                await client.request("GET", f"https://localhost:{scripted.port}/", max_body=100)
    finally:
        server.close()
