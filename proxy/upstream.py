"""Calls to upstream services with a hard deadline, bounded replies and one retry on connection errors.

aiohttp's default client timeout is 300 s; a voice turn has 8 s in all. Every call here gets one
deadline covering connect, send, wait and read, and a reply larger than `max_reply_bytes` is cut
off instead of being buffered. The cap holds for the inflated size: aiohttp's own decompression is
off, and a gzip or deflate reply is inflated here, never past the cap (a 130 KiB gzip reply can
inflate to 128 MiB).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multidict import CIMultiDictProxy

from proxy.http_client import (
    ConnectError,
    DroppedError,
    HttpClient,
    HttpError,
    RawReply,
    ReplyTooLargeError,
)
from proxy.metrics import Metrics

MAX_REPLY_BYTES = 1024 * 1024
# A connection that is not up in this time will not be: the address is gone (a replaced container,
# a moved endpoint). Failing fast leaves time, within the call's deadline, for the one retry.
CONNECT_TIMEOUT = 1.5
ACCEPTED_ENCODINGS = "gzip, deflate"  # what _Inflater reads; brotli or zstd would be unbounded
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class UpstreamError(Exception):
    """An upstream call that produced no usable reply; `kind` is a short metrics label."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    body: bytes
    headers: CIMultiDictProxy[str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def client_ssl_context(extra_ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if extra_ca_file is not None:
        context.load_verify_locations(cafile=str(extra_ca_file))
    return context


def upstream_client(extra_ca_file: Path | None, limit: int = 200) -> HttpClient:
    """The one client every upstream call goes through (closed with `async with`)."""
    return HttpClient(
        client_ssl_context(extra_ca_file),
        limit=limit,
        keepalive=30,
        connect_timeout=CONNECT_TIMEOUT,
        default_headers={"Accept-Encoding": ACCEPTED_ENCODINGS},
    )


class _Inflater:
    """Inflates a gzip or deflate body chunk by chunk, never producing more than `limit` bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._zlib: Any = None  # made at the first chunk: deflate's framing shows in its first byte
        self._left = limit
        self._limit = limit

    def feed(self, chunk: bytes) -> bytes:
        if self._zlib is None:
            # gzip; deflate zlib-wrapped as the RFC says, or raw as some servers send it.
            zlib_wrapped = bool(chunk) and chunk[0] & 0x0F == 8
            wbits = 16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(wbits)
        try:
            out: bytes = self._zlib.decompress(chunk, self._left + 1)
        except zlib.error as exc:
            raise UpstreamError("protocol", "reply is not validly compressed") from exc
        if len(out) > self._left:
            raise UpstreamError("too_large", f"reply inflates to over {self._limit} bytes")
        self._left -= len(out)
        return out

    def check_complete(self) -> None:
        """UpstreamError when the stream stopped before its end (an empty body is complete)."""
        if self._zlib is not None and not self._zlib.eof:
            raise UpstreamError("protocol", "compressed reply cut short")


def _inflated(reply: RawReply, limit: int) -> bytes:
    """The reply's body, inflated (never past `limit`) when it came gzip or deflate encoded."""
    encoding = reply.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return reply.body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise UpstreamError("protocol", "reply in an encoding that was not asked for")
    inflater = _Inflater(encoding, limit)
    body = inflater.feed(reply.body) if reply.body else b""
    inflater.check_complete()
    return body


class Upstream:
    """One named upstream (for metrics) reached through a shared client session."""

    def __init__(
        self,
        name: str,
        session: HttpClient,
        metrics: Metrics,
        *,
        timeout: float,
        max_reply_bytes: int = MAX_REPLY_BYTES,
        replay_safe: bool = False,
    ) -> None:
        """`replay_safe`: a request that may already have been sent can be sent again (chatbot turns)."""
        self.name = name
        self._session = session
        self._metrics = metrics
        self._timeout = timeout
        self._max_reply = max_reply_bytes
        self._replay_safe = replay_safe

    async def request(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> UpstreamReply:
        """Send, and return whatever status came back; raise UpstreamError when nothing usable did."""
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + (timeout or self._timeout)
        outcome = "cancelled"  # the turn's budget ran out first
        try:
            reply = await self._attempts(method, url, data, headers, deadline)
            outcome = "ok" if reply.ok else f"http_{reply.status // 100}xx"
            return reply
        except UpstreamError as failure:
            outcome = failure.kind
            raise
        finally:
            latency = self._metrics.child(self._metrics.upstream_latency, self.name, outcome)
            latency.observe(time.perf_counter() - started)

    async def _attempts(
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        deadline: float,
    ) -> UpstreamReply:
        for attempt in (1, 2):
            try:
                async with asyncio.timeout_at(deadline):
                    return await self._once(method, url, data, headers)
            except ConnectError as exc:
                # Not connected, nothing sent (a new connection resolves the name again): once more.
                if attempt == 2 or asyncio.get_running_loop().time() >= deadline:
                    raise UpstreamError("connection", type(exc).__name__) from exc
            except TimeoutError as exc:
                raise UpstreamError("timeout") from exc
            except DroppedError as exc:
                # Dropped (a reset, a stale keep-alive connection): the request may have arrived, so
                # only replay-safe requests go again.
                retry = self._replay_safe or method in IDEMPOTENT_METHODS
                if attempt == 2 or not retry or asyncio.get_running_loop().time() >= deadline:
                    raise UpstreamError("connection", type(exc).__name__) from exc
            except ReplyTooLargeError as exc:
                raise UpstreamError("too_large", str(exc)) from exc
            except (HttpError, ValueError) as exc:
                raise UpstreamError("protocol", type(exc).__name__) from exc
        raise AssertionError("unreachable")

    async def _once(
        self, method: str, url: str, data: bytes | None, headers: Mapping[str, str] | None
    ) -> UpstreamReply:
        reply = await self._session.request(method, url, body=data, headers=headers, max_body=self._max_reply)
        return UpstreamReply(reply.status, _inflated(reply, self._max_reply), reply.headers)
