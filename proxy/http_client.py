"""A small HTTP/1.1 client for the upstream calls: keep-alive connections and strictly framed replies.

Every upstream call is one request with a bytes body whose reply is read whole under a cap
(proxy/upstream.py), so this client does only that: no redirects, cookies, proxies from the
environment, streaming or HTTP/2. Per call it costs about a third of the CPU aiohttp's client takes
(README, Performance), which is most of what the bridge adds over a bare forwarder besides its own
work. Replies are read strictly: a malformed status line or header, a folded header, conflicting or
invalid framing, a chunk size that is not hex, or a head over `MAX_HEAD_BYTES` is a `ProtocolError`;
a connection whose reply was not framed exactly is never reused.

Connections are opened on demand (DNS at every new connection, so an upstream that moved is found
again), at most `limit` at a time, and kept for `keepalive` seconds idle. A reused connection that
the server had closed shows as `DroppedError`, as a reset does: the request may have arrived.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

MAX_HEAD_BYTES = 64 * 1024  # status line and headers of one reply, and one chunk-size line
MAX_INFORMATIONAL = 8  # 1xx replies skipped before the final one
MAX_TRAILERS = 32  # trailer lines after a chunked body (read and dropped)
NO_BODY_STATUSES = frozenset({204, 304})
Resolve = Callable[[str, int], Awaitable[list[tuple[str, int]]]]


class HttpError(Exception):
    """A call that produced no reply."""


class ConnectError(HttpError):
    """No connection could be made: nothing was sent."""


class ConnectTimeoutError(ConnectError):
    """The connection was not up within the connect timeout."""


class DroppedError(HttpError):
    """The connection closed or failed once the request was (perhaps) sent."""


class ProtocolError(HttpError):
    """The reply is not well-framed HTTP/1.1."""


class ReplyTooLargeError(HttpError):
    """The reply's body is longer than the caller's cap."""


@dataclass(frozen=True)
class RawReply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes  # as sent: still compressed when Content-Encoding says so


@dataclass(frozen=True)
class _Target:
    key: tuple[str, str, int]  # scheme, host, port: the connections it may share
    host: str
    port: int
    tls: bool
    head: bytes  # request line and Host header, without the method


@lru_cache(maxsize=512)
def _target(url: str) -> _Target:
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host, port = parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)
    name = f"[{host}]" if ":" in host else host
    authority = name if parsed.is_default_port() else f"{name}:{port}"
    target = parsed.raw_path_qs or "/"
    return _Target(
        (parsed.scheme, host, port),
        host,
        port,
        parsed.scheme == "https",
        f" {target} HTTP/1.1\r\nHost: {authority}\r\n".encode(),
    )


def _header_lines(headers: Mapping[str, str]) -> bytes:
    lines = []
    for name, value in headers.items():
        if not name or any(c in name for c in " \t\r\n:") or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} cannot be sent")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode()


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.monotonic()

    def usable(self, keepalive: float) -> bool:
        fresh = time.monotonic() - self.idle_since < keepalive
        return fresh and not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


async def _system_resolve(host: str, port: int) -> list[tuple[str, int]]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(str(info[4][0]), int(info[4][1])) for info in infos]


class HttpClient:
    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        *,
        limit: int = 200,
        keepalive: float = 30.0,
        connect_timeout: float = 1.5,
        default_headers: Mapping[str, str] | None = None,
        resolve: Resolve = _system_resolve,
    ) -> None:
        self._ssl = ssl_context
        self._slots = asyncio.Semaphore(limit)
        self._keepalive = keepalive
        self._connect_timeout = connect_timeout
        self._default = _header_lines(default_headers or {})
        self._resolve = resolve
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self.opened = 0  # connections opened so far (a test counts them)

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_body: int,
    ) -> RawReply:
        """One call; its reply, or an HttpError subclass (ValueError for a URL or header it cannot send)."""
        target = _target(url)
        head = b"".join(
            (
                method.encode("ascii"),
                target.head,
                self._default,
                _header_lines(headers) if headers else b"",
                b"" if body is None else b"Content-Length: %d\r\n" % len(body),
                b"\r\n",
            )
        )
        async with self._slots:
            connection = self._reused(target.key) or await self._connect(target)
            try:
                connection.writer.write(head + body if body else head)
                reply, reusable = await _read_reply(connection.reader, method, max_body)
            except BaseException:
                connection.close()  # its state is unknown: a timeout, a reset, a bad reply
                raise
            if reusable:
                connection.idle_since = time.monotonic()
                self._idle.setdefault(target.key, deque()).append(connection)
            else:
                connection.close()
            return reply

    def _reused(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.usable(self._keepalive):
                return connection
            connection.close()
        return None

    async def _connect(self, target: _Target) -> _Connection:
        try:
            async with asyncio.timeout(self._connect_timeout):
                return await self._open(target)
        except TimeoutError:
            raise ConnectTimeoutError(f"no connection to {target.host}:{target.port}") from None

    async def _open(self, target: _Target) -> _Connection:
        try:
            addresses = await self._resolve(target.host, target.port)
        except OSError as exc:
            raise ConnectError(f"cannot resolve {target.host}: {exc}") from exc
        failure: Exception = ConnectError(f"no address for {target.host}")
        for address, port in addresses:
            try:
                reader, writer = await asyncio.open_connection(
                    address,
                    port,
                    ssl=self._ssl if target.tls else None,
                    server_hostname=target.host if target.tls else None,
                    limit=MAX_HEAD_BYTES,
                )
            except (OSError, ssl.SSLError) as exc:
                failure = ConnectError(f"{target.host}:{port}: {type(exc).__name__}")
                continue
            self.opened += 1
            return _Connection(reader, writer)
        raise failure


async def _read_reply(reader: asyncio.StreamReader, method: str, max_body: int) -> tuple[RawReply, bool]:
    """The final reply and whether its connection may carry another request."""
    try:
        for _ in range(MAX_INFORMATIONAL + 1):
            status, version, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
            if not 100 <= status < 200:
                break
        else:
            raise ProtocolError("too many informational replies")
        body, framed = await _read_body(reader, method, status, headers, max_body)
    except asyncio.IncompleteReadError as exc:
        raise DroppedError("the connection closed before the reply was complete") from exc
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("reply head or chunk line too long") from exc
    except (ConnectionError, OSError) as exc:
        raise DroppedError(type(exc).__name__) from exc
    reusable = framed and version == b"HTTP/1.1" and "close" not in headers.get("Connection", "").lower()
    return RawReply(status, CIMultiDictProxy(headers), body), reusable


def _parse_head(raw: bytes) -> tuple[int, bytes, CIMultiDict[str]]:
    lines = raw[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code = rest[:3]
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or not code.isdigit() or rest[3:4] not in (b"", b" "):
        raise ProtocolError("not an HTTP/1.1 status line")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b" " in name or b"\t" in name:
            raise ProtocolError("malformed or folded header line")
        headers.add(name.decode("ascii", "replace"), value.strip(b" \t").decode("utf-8", "surrogateescape"))
    status = int(code)
    if status < 100:  # three digits, 100-999: what a status outside HTTP's classes means is the caller's call
        raise ProtocolError("status out of range")
    return status, version, headers


async def _read_body(
    reader: asyncio.StreamReader, method: str, status: int, headers: CIMultiDict[str], max_body: int
) -> tuple[bytes, bool]:
    """The body as framed, and whether the framing was exact (the connection may be reused)."""
    if method == "HEAD" or status in NO_BODY_STATUSES:
        return b"", True
    encodings = headers.getall("Transfer-Encoding", [])
    lengths = set(headers.getall("Content-Length", []))
    if encodings:
        if lengths or [e.strip().lower() for e in ",".join(encodings).split(",")] != ["chunked"]:
            raise ProtocolError("unsupported or ambiguous Transfer-Encoding")
        return await _read_chunked(reader, max_body), True
    if lengths:
        (length,) = lengths if len(lengths) == 1 else (None,)
        if length is None or not length.strip().isdigit():
            raise ProtocolError("invalid Content-Length")
        size = int(length)
        if size > max_body:
            raise ReplyTooLargeError(f"reply of {size} bytes, over {max_body}")
        return await reader.readexactly(size), True
    return await _read_to_eof(reader, max_body), False


async def _read_chunked(reader: asyncio.StreamReader, max_body: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line[:-2].split(b";", 1)[0].strip()
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF") or len(size_text) > 16:
            raise ProtocolError("invalid chunk size")
        size = int(size_text, 16)
        if size == 0:
            await _skip_trailers(reader)
            return b"".join(chunks)
        total += size
        if total > max_body:
            raise ReplyTooLargeError(f"chunked reply over {max_body} bytes")
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")


async def _skip_trailers(reader: asyncio.StreamReader) -> None:
    for _ in range(MAX_TRAILERS):
        if await reader.readuntil(b"\r\n") == b"\r\n":
            return
    raise ProtocolError("too many trailer lines")


async def _read_to_eof(reader: asyncio.StreamReader, max_body: int) -> bytes:
    body = await reader.read(max_body + 1)
    chunks = [body]
    total = len(body)
    while body and total <= max_body:
        body = await reader.read(max_body + 1 - total)
        chunks.append(body)
        total += len(body)
    if total > max_body:
        raise ReplyTooLargeError(f"reply over {max_body} bytes")
    return b"".join(chunks)
