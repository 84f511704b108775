"""Where users' access tokens wait between a CEK turn and the chatbot's action calls.

Keys are chatbot user ids (HMACs of CEK user ids, see `proxy.identity`), so no store ever holds a
CEK user id. The in-memory store suits one replica; with several replicas a CEK turn and the
chatbot's action call can land on different ones, so they share Redis. In Redis a token is
encrypted with AES-GCM (key from `CEK_PROXY_TOKEN_KEY_FILE`, bound to its Redis key as associated
data) and expires with its TTL.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Awaitable
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from redis import asyncio as aioredis
from redis.exceptions import RedisError

# How long the proxy remembers that it asked a user to link an account (for the success message).
PROMPT_MEMORY_SECONDS = 30 * 86400


class TokenStoreError(Exception):
    """The store could not be reached or answered nonsense."""


class TokenStore(Protocol):
    async def put_token(self, user: str, token: str, ttl: float) -> None: ...
    async def get_token(self, user: str) -> str | None: ...
    async def forget_token(self, user: str) -> None: ...
    async def mark_prompted(self, user: str) -> None: ...
    async def take_prompted(self, user: str) -> bool:
        """True once after `mark_prompted`: the flag is removed as it is read."""

    async def forget(self, user: str) -> None: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


class MemoryTokenStore:
    """Tokens in this process, with TTLs and a bound on the number of users kept."""

    def __init__(self, max_users: int = 100_000) -> None:
        self._max = max_users
        self._tokens: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._prompted: OrderedDict[str, float] = OrderedDict()

    def __repr__(self) -> str:
        return f"MemoryTokenStore(users={len(self._tokens)})"

    def _bound(self, table: OrderedDict[str, Any]) -> None:
        while len(table) > self._max:
            table.popitem(last=False)

    async def put_token(self, user: str, token: str, ttl: float) -> None:
        self._tokens.pop(user, None)
        self._tokens[user] = (token, time.monotonic() + ttl)
        self._bound(self._tokens)

    async def get_token(self, user: str) -> str | None:
        entry = self._tokens.get(user)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            del self._tokens[user]
            return None
        return entry[0]

    async def forget_token(self, user: str) -> None:
        self._tokens.pop(user, None)

    async def mark_prompted(self, user: str) -> None:
        self._prompted[user] = time.monotonic() + PROMPT_MEMORY_SECONDS
        self._bound(self._prompted)

    async def take_prompted(self, user: str) -> bool:
        expires = self._prompted.pop(user, None)
        return expires is not None and expires > time.monotonic()

    async def forget(self, user: str) -> None:
        self._tokens.pop(user, None)
        self._prompted.pop(user, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._tokens.clear()
        self._prompted.clear()


class TokenCipher:
    """AES-256-GCM under a key derived (HKDF-SHA256) from the configured secret."""

    VERSION = b"\x01"

    def __init__(self, secret: SecretStr) -> None:
        material = secret.get_secret_value().encode()
        if len(material) < 16:
            raise ValueError("the token key must be at least 16 characters")
        key = HKDF(hashes.SHA256(), 32, salt=None, info=b"cek-proxy token store v1").derive(material)
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "TokenCipher(<redacted>)"

    def seal(self, plaintext: str, context: bytes) -> bytes:
        return self.seal_bytes(plaintext.encode(), context)

    def open(self, sealed: bytes, context: bytes) -> str | None:
        """The plaintext, or None when the value was not sealed by this key for this context."""
        opened = self.open_bytes(sealed, context)
        try:
            return opened.decode() if opened is not None else None
        except UnicodeDecodeError:
            return None

    def seal_bytes(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return self.VERSION + nonce + self._aead.encrypt(nonce, plaintext, context)

    def open_bytes(self, sealed: bytes, context: bytes) -> bytes | None:
        if len(sealed) < 29 or sealed[:1] != self.VERSION:
            return None
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], context)
        except InvalidTag:
            return None


def redis_client(url: str, password: SecretStr | None, timeout: float = 1.0) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url,
        password=password.get_secret_value() if password else None,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )


class RedisTokenStore:
    """Tokens in Redis, encrypted, each with its own expiry."""

    PREFIX = "cek-proxy:"

    def __init__(self, client: aioredis.Redis, cipher: TokenCipher) -> None:
        self._redis = client
        self._cipher = cipher

    @classmethod
    def from_url(
        cls, url: str, password: SecretStr | None, cipher: TokenCipher, timeout: float = 1.0
    ) -> RedisTokenStore:
        return cls(redis_client(url, password, timeout), cipher)

    @property
    def client(self) -> aioredis.Redis:
        """The connection pool, shared with the replay window."""
        return self._redis

    def __repr__(self) -> str:
        return "RedisTokenStore(<redacted>)"

    def _key(self, kind: str, user: str) -> str:
        return f"{self.PREFIX}{kind}:{user}"

    async def put_token(self, user: str, token: str, ttl: float) -> None:
        key = self._key("token", user)
        sealed = self._cipher.seal(token, key.encode())
        await self._call(self._redis.set(key, sealed, px=max(1, int(ttl * 1000))))

    async def get_token(self, user: str) -> str | None:
        key = self._key("token", user)
        sealed = await self._call(self._redis.get(key))
        return self._cipher.open(sealed, key.encode()) if isinstance(sealed, bytes) else None

    async def forget_token(self, user: str) -> None:
        await self._call(self._redis.delete(self._key("token", user)))

    async def mark_prompted(self, user: str) -> None:
        await self._call(self._redis.set(self._key("prompted", user), b"1", ex=PROMPT_MEMORY_SECONDS))

    async def take_prompted(self, user: str) -> bool:
        return bool(await self._call(self._redis.delete(self._key("prompted", user))))

    async def forget(self, user: str) -> None:
        await self._call(self._redis.delete(self._key("token", user), self._key("prompted", user)))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()

    async def _call(self, pending: Awaitable[Any]) -> Any:
        try:
            return await pending
        except (RedisError, OSError) as exc:
            raise TokenStoreError(type(exc).__name__) from exc
