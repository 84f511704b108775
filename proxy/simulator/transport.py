"""HTTP towards the extension under test: one client session, the CA to trust, bounded waits."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

TIMEOUT_SECONDS = 15.0
MAX_REPLY_BYTES = 1024 * 1024
CEK_HEADERS = {
    "Content-Type": "application/json;charset-UTF-8",  # as CEK spells it (protocols.md §A.1)
    "Accept": "application/json",
    "Accept-Charset": "utf-8",
}


class TransportError(Exception):
    """No HTTP answer at all: refused, reset, timed out, or a TLS failure."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str]
    elapsed: float  # seconds, request sent to body read

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None


def ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system CAs, plus `ca_file` (the dev gateway's internal CA, say)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class Transport:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        started = time.perf_counter()
        try:
            async with self._session.request(
                method, url, data=body, headers=dict(headers or {}), allow_redirects=False
            ) as resp:
                data = await resp.content.read(MAX_REPLY_BYTES)
                return Reply(resp.status, data, dict(resp.headers), time.perf_counter() - started)
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as exc:
            raise TransportError(f"{method} {url}: {_describe(exc)}") from None

    async def post_cek(self, url: str, body: bytes, signature: str | None) -> Reply:
        headers = {**CEK_HEADERS, **({"SignatureCEK": signature} if signature is not None else {})}
        return await self.request("POST", url, body=body, headers=headers)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {TIMEOUT_SECONDS:g} s"
    return str(exc) or type(exc).__name__


@asynccontextmanager
async def open_transport(ca_file: Path | None = None) -> AsyncIterator[Transport]:
    connector = aiohttp.TCPConnector(ssl=ssl_context(ca_file))
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield Transport(session)
