"""`SignatureCEK` verification: RSA PKCS#1 v1.5 with SHA-256 over the exact raw request body.

Trusted keys are the pinned ones (files, or the key shipped in the package) plus, optionally, the
key published at a URL. The fetched key is cached for a TTL and re-fetched at most once per
failing request (and never more often than `min_refetch_interval`), so a key rotation by CLOVA is
picked up without a redeploy while junk signatures cannot make the proxy hammer the key URL.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.hashes import SHA256

from proxy.cek.keys import KeyLoadError, parse_public_key

log = logging.getLogger(__name__)

MAX_SIGNATURE_CHARS = 2048


class KeyFetchError(Exception):
    """The key URL did not give a key this time."""


class Verdict(StrEnum):
    OK = "ok"
    MISSING = "missing"
    MALFORMED = "malformed"
    INVALID = "invalid"


def decode_signature(header: str | None) -> bytes | Verdict:
    if header is None or not header.strip():
        return Verdict.MISSING
    if len(header) > MAX_SIGNATURE_CHARS:
        return Verdict.MALFORMED
    try:
        return base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return Verdict.MALFORMED


def signed_by(key: RSAPublicKey, body: bytes, signature: bytes) -> bool:
    if len(signature) != key.key_size // 8:
        return False
    try:
        key.verify(signature, body, PKCS1v15(), SHA256())
    except InvalidSignature:
        return False
    return True


Fetch = Callable[[str], Awaitable[bytes]]


class RemoteKey:
    """The key published at a URL, cached for `ttl` seconds."""

    def __init__(
        self,
        url: str,
        fetch: Fetch,
        *,
        ttl: float,
        min_refetch_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._fetch = fetch
        self._ttl = ttl
        self._min_interval = min_refetch_interval
        self._clock = clock
        self._lock = asyncio.Lock()
        self._key: RSAPublicKey | None = None
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._background: asyncio.Task[None] | None = None

    @property
    def key(self) -> RSAPublicKey | None:
        return self._key

    async def refresh(self) -> bool:
        """Fetch now (one fetch at a time); True when a key was loaded. Failures keep the old key."""
        async with self._lock:
            self._attempted_at = self._clock()
            try:
                key = parse_public_key(await self._fetch(self.url), self.url)
            except (KeyLoadError, KeyFetchError) as exc:
                log.warning("cek key fetch failed", extra={"fields": {"url": self.url, "error": str(exc)}})
                return False
            self._key, self._fetched_at = key, self._clock()
            return True

    def refresh_if_stale(self) -> None:
        """Start a background refresh when the TTL has passed; requests go on with the cached key."""
        stale = self._fetched_at is None or self._clock() - self._fetched_at >= self._ttl
        if stale and self._may_fetch() and not (self._background and not self._background.done()):
            self._background = asyncio.create_task(self._refresh_quietly())

    async def refetch_after_failure(self) -> bool:
        """Re-fetch once after a failed verification, unless a fetch happened very recently."""
        if not self._may_fetch():
            return False
        return await self.refresh()

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._min_interval

    async def _refresh_quietly(self) -> None:
        await self.refresh()

    async def close(self) -> None:
        if self._background and not self._background.done():
            self._background.cancel()


class CekVerifier:
    def __init__(self, pinned: Sequence[RSAPublicKey], remote: RemoteKey | None = None) -> None:
        if not pinned and remote is None:
            raise ValueError("at least one trusted key is needed")
        self._pinned = tuple(pinned)
        self._remote = remote

    @property
    def key_count(self) -> int:
        return len(self._pinned) + (1 if self._remote and self._remote.key else 0)

    def _check(self, body: bytes, signature: bytes) -> bool:
        keys = self._pinned + ((self._remote.key,) if self._remote and self._remote.key else ())
        return any(signed_by(key, body, signature) for key in keys)

    async def verify(self, body: bytes, header: str | None) -> Verdict:
        signature = decode_signature(header)
        if isinstance(signature, Verdict):
            return signature
        if self._remote:
            self._remote.refresh_if_stale()
        if self._check(body, signature):
            return Verdict.OK
        if self._remote and await self._remote.refetch_after_failure() and self._check(body, signature):
            return Verdict.OK
        return Verdict.INVALID
