"""Calls to upstream services with a hard deadline, bounded replies and one retry on connection errors.

A voice turn has 8 s in all. Every call here gets one deadline covering connect, send, wait and
read (the client, proxy/http_client.py, has no timeout of its own but the connect one), and a reply
larger than `max_reply_bytes` is refused before it is read. The cap holds for the inflated size too:
a gzip or deflate reply is inflated here, never past the cap (a 130 KiB gzip reply can inflate to
128 MiB).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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


def _inflated(reply: RawReply, limit: int) -> bytes:
    """The reply's body, inflated (never past `limit`) when it came gzip or deflate encoded."""
    encoding = reply.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity") or not reply.body:
        return reply.body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise UpstreamError("protocol", "reply in an encoding that was not asked for")
    # gzip; deflate zlib-wrapped as the RFC says, or raw as some servers send it.
    zlib_wrapped = reply.body[0] & 0x0F == 8
    gzip = encoding != "deflate"
    inflater = zlib.decompressobj(
        16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS
    )
    try:
        body: bytes = inflater.decompress(reply.body, limit + 1)
    except zlib.error as exc:
        raise UpstreamError("protocol", "reply is not validly compressed") from exc
    if len(body) > limit:
        raise UpstreamError("too_large", f"reply inflates to over {limit} bytes")
    if not inflater.eof:
        raise UpstreamError("protocol", "compressed reply cut short")
    return body


class Upstream:
    """One named upstream (for metrics) reached through the shared client."""

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
