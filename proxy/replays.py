"""The idempotency window: an identical signed CEK body is answered once, however often it comes.

CEK Launch and Intent requests carry no timestamp, so a captured signed request verifies forever,
and a gateway that retries a failed turn on another replica sends the same bytes again. Inside the
window (`CEK_PROXY_IDEMPOTENCY_WINDOW`) a repeat gets the first answer again and never a second
upstream call; a repeat that arrives while the first is still being answered waits for it (never
past its own turn deadline).

The key is the SHA-256 of the exact body bytes (taken after the signature check). In memory the
window is bounded in entries and bytes. With Redis (the token store's), replicas share it: the first
one sets a pending marker with `SET NX`, then replaces it with the answer, encrypted with AES-GCM
bound to its key. The marker lives one second and is renewed while its replica works, so a replica
that died midway blocks a retry for about a second, not for the window nor a whole turn. A Redis
outage never fails a turn: the turn is then answered without the window.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from proxy.accounts.store import TokenCipher
from proxy.modes.turn import TurnResult

log = logging.getLogger(__name__)

REPLAYED = "replayed"
MIN_STORE_SECONDS = 0.1  # an answer made at the very end of its budget still gets this to be stored
Produce = Callable[[], Awaitable[TurnResult]]


def replay_key(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class Replays(Protocol):
    async def once(self, key: str, produce: Produce, deadline: float) -> TurnResult:
        """`produce()`'s answer, or the answer already given for `key` (outcome `replayed`).

        Waiting for another answer stops at `deadline` (loop time) with TimeoutError.
        """


class NoReplays:
    """The window turned off (`CEK_PROXY_IDEMPOTENCY_WINDOW=0`): every request is answered anew."""

    async def once(self, key: str, produce: Produce, deadline: float) -> TurnResult:
        return await produce()


@dataclass
class _Pending:
    done: asyncio.Event = field(default_factory=asyncio.Event)
    body: bytes | None = None  # None once done: the first attempt gave no answer


class MemoryReplays:
    """The window in this process, bounded in entries and in bytes (oldest answers go first)."""

    def __init__(self, window: float, max_entries: int = 10_000, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._window = window
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._answers: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._pending: dict[str, _Pending] = {}

    def __repr__(self) -> str:
        return f"MemoryReplays(answers={len(self._answers)})"

    async def once(self, key: str, produce: Produce, deadline: float) -> TurnResult:
        while True:
            if (body := self._answer(key)) is not None:
                return TurnResult(body, REPLAYED)
            pending = self._pending.get(key)
            if pending is None:
                return await self._first(key, produce)
            async with asyncio.timeout_at(deadline):
                await pending.done.wait()
            if pending.body is not None:
                return TurnResult(pending.body, REPLAYED)

    async def _first(self, key: str, produce: Produce) -> TurnResult:
        pending = self._pending[key] = _Pending()
        try:
            result = await produce()
            pending.body = result.body
            self._keep(key, result.body)
            return result
        finally:
            del self._pending[key]
            pending.done.set()

    def _answer(self, key: str) -> bytes | None:
        entry = self._answers.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._drop(key)
            return None
        return entry[1]

    def _keep(self, key: str, body: bytes) -> None:
        if len(body) > self._max_bytes:
            return
        self._drop(key)
        self._answers[key] = (time.monotonic() + self._window, body)
        self._bytes += len(body)
        while len(self._answers) > self._max_entries or self._bytes > self._max_bytes:
            self._drop(next(iter(self._answers)))

    def _drop(self, key: str) -> None:
        entry = self._answers.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[1])


class RedisReplays:
    """The window shared by replicas through Redis."""

    PREFIX = "cek-proxy:replay:"
    PENDING = b"pending"

    def __init__(
        self,
        client: aioredis.Redis,
        cipher: TokenCipher,
        *,
        window: float,
        pending_ttl: float = 1.0,
        poll_interval: float = 0.05,
    ) -> None:
        self._redis = client
        self._cipher = cipher
        self._window_ms = max(1, int(window * 1000))
        self._pending_ms = max(1, int(pending_ttl * 1000))
        self._poll = poll_interval

    def __repr__(self) -> str:
        return "RedisReplays(<redacted>)"

    async def once(self, key: str, produce: Produce, deadline: float) -> TurnResult:
        name = self.PREFIX + key
        async with asyncio.timeout_at(deadline):
            try:
                seen = await self._claim_or_wait(name)
            except (RedisError, OSError) as exc:
                log.warning("replay window unavailable", extra={"fields": {"error": type(exc).__name__}})
                return await produce()
        if seen is not None:
            return TurnResult(seen, REPLAYED)
        keeper = asyncio.create_task(self._keep_pending(name))
        try:
            result = await produce()
        finally:
            keeper.cancel()
        sealed = self._cipher.seal_bytes(result.body, name.encode())
        left = max(deadline - asyncio.get_running_loop().time(), MIN_STORE_SECONDS)
        try:
            # Within what is left of the turn: a Redis that hangs must not delay the answer.
            async with asyncio.timeout(left):
                await self._redis.set(name, sealed, px=self._window_ms)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("replay window unavailable", extra={"fields": {"error": type(exc).__name__}})
        return result

    async def _claim_or_wait(self, name: str) -> bytes | None:
        """None when this request is the first (the pending marker is ours); else the answer given."""
        while True:
            if await self._redis.set(name, self.PENDING, nx=True, px=self._pending_ms):
                return None
            value = await self._redis.get(name)
            if not isinstance(value, bytes) or value == self.PENDING:
                # Gone between the two calls (claim it), or still being answered elsewhere (wait).
                await asyncio.sleep(0 if value is None else self._poll)
                continue
            answer = self._cipher.open_bytes(value, name.encode())
            if answer is None:
                # Not sealed by our key (a rotated token key): forget it and answer anew.
                await self._redis.delete(name)
                continue
            return answer

    async def _keep_pending(self, name: str) -> None:
        """Renew our pending marker while the answer is being made (until cancelled)."""
        while True:
            await asyncio.sleep(self._pending_ms / 3000)
            try:
                await self._redis.pexpire(name, self._pending_ms)
            except (RedisError, OSError):
                return
