"""Calls to upstream services with a hard deadline, bounded replies and one retry on connection errors.

aiohttp's default client timeout is 300 s; a voice turn has 8 s in all. Every call here gets one
deadline covering connect, send, wait and read, and a reply larger than `max_reply_bytes` is cut
off instead of being buffered.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from proxy.metrics import Metrics

MAX_REPLY_BYTES = 1024 * 1024
# A connection that is not up in this time will not be: the address is gone (a replaced container,
# a moved endpoint). Failing fast leaves time, within the call's deadline, for the one retry.
CONNECT_TIMEOUT = 1.5
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


def client_session(extra_ca_file: Path | None, limit: int = 200) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        ssl=client_ssl_context(extra_ca_file), limit=limit, ttl_dns_cache=30, keepalive_timeout=30
    )
    # Per-call deadlines are applied in Upstream.request; `total` is only a backstop.
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=30, sock_connect=CONNECT_TIMEOUT),
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
    )


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    if response.content_length is not None and response.content_length <= limit:
        return await response.read()  # the parser stops at Content-Length: it cannot grow past it
    chunks, size = [], 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise UpstreamError("too_large", f"reply over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class Upstream:
    """One named upstream (for metrics) reached through a shared client session."""

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
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
        outcome = "ok"
        try:
            reply = await self._attempts(method, url, data, headers, deadline)
            outcome = "ok" if reply.ok else f"http_{reply.status // 100}xx"
            return reply
        except UpstreamError as failure:
            outcome = failure.kind
            raise
        finally:
            self._metrics.upstream_latency.labels(self.name, outcome).observe(time.perf_counter() - started)

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
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                # Not connected, nothing sent: forget the address (it may have moved) and try once more.
                self._forget_address(url)
                if attempt == 2 or asyncio.get_running_loop().time() >= deadline:
                    raise UpstreamError("connection", type(exc).__name__) from exc
            except TimeoutError as exc:
                raise UpstreamError("timeout") from exc
            except aiohttp.ClientConnectionError as exc:
                # Dropped (a reset, a stale keep-alive connection): the request may have arrived, so
                # only replay-safe requests go again.
                retry = self._replay_safe or method in IDEMPOTENT_METHODS
                if attempt == 2 or not retry or asyncio.get_running_loop().time() >= deadline:
                    raise UpstreamError("connection", type(exc).__name__) from exc
            except aiohttp.ClientError as exc:
                raise UpstreamError("protocol", type(exc).__name__) from exc
        raise AssertionError("unreachable")

    def _forget_address(self, url: str) -> None:
        connector = self._session.connector
        parts = URL(url)
        if isinstance(connector, aiohttp.TCPConnector) and parts.host is not None:
            connector.clear_dns_cache(parts.host, parts.port)

    async def _once(
        self, method: str, url: str, data: bytes | None, headers: Mapping[str, str] | None
    ) -> UpstreamReply:
        async with self._session.request(
            method, url, data=data, headers=headers, allow_redirects=False
        ) as resp:
            body = await _read_limited(resp, self._max_reply)
            return UpstreamReply(resp.status, body, resp.headers)
