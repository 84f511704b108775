"""The application factory: the same `create_app` serves `python -m proxy` and the tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from proxy.accounts.linking import AccountLinker
from proxy.accounts.store import MemoryTokenStore, RedisTokenStore, TokenCipher, TokenStore
from proxy.accounts.tokens import TokenValidator
from proxy.cek.signature import CekVerifier, Fetch, KeyFetchError, RemoteKey
from proxy.chatbot.client import ChatbotClient
from proxy.handlers.actions import action_endpoint
from proxy.handlers.cek import cek_endpoint
from proxy.handlers.ops import healthz, metrics, readyz
from proxy.identity import UserIds
from proxy.metrics import Metrics
from proxy.middlewares import observe
from proxy.modes.bridge import Bridge
from proxy.modes.passthrough import Passthrough
from proxy.modes.turn import TurnHandler, Voice
from proxy.replays import MemoryReplays, NoReplays, RedisReplays, Replays
from proxy.settings import Mode, Settings
from proxy.state import (
    ACCOUNTS,
    ACTION_UPSTREAM,
    DRAINING,
    METRICS,
    REPLAYS,
    SETTINGS,
    TOKEN_STORE,
    TURNS,
    VERIFIER,
    VOICE,
)
from proxy.upstream import Upstream, UpstreamError, upstream_client

KEY_FETCH_TIMEOUT = 3.0


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[observe],
        handler_args={
            # Bodies are never inflated by the server (see proxy.body); idle connections are closed.
            "auto_decompress": False,
            "keepalive_timeout": settings.idle_timeout,
        },
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[VOICE] = Voice(settings.config)
    app[DRAINING] = asyncio.Event()
    app.cleanup_ctx.append(token_store)
    app.cleanup_ctx.append(upstream_services)
    app.router.add_post("/cek", cek_endpoint)
    app.router.add_route("GET", "/actions/{name}", action_endpoint)
    app.router.add_route("POST", "/actions/{name}", action_endpoint)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


def _key_fetcher(upstream: Upstream) -> Fetch:
    async def fetch(url: str) -> bytes:
        try:
            reply = await upstream.request("GET", url, timeout=KEY_FETCH_TIMEOUT)
        except UpstreamError as exc:
            raise KeyFetchError(str(exc)) from exc
        if not reply.ok:
            raise KeyFetchError(f"HTTP {reply.status}")
        return reply.body

    return fetch


def _turns(settings: Settings, upstream: Upstream, voice: Voice) -> TurnHandler:
    if settings.mode is Mode.PASSTHROUGH:
        assert settings.passthrough_url is not None  # enforced by load_settings
        return Passthrough(upstream, settings.passthrough_url, voice)
    assert settings.chatbot_url is not None  # enforced by load_settings
    assert settings.chatbot_secret is not None
    return Bridge(ChatbotClient(upstream, settings.chatbot_url, settings.chatbot_secret), voice)


def _store(settings: Settings) -> TokenStore:
    if settings.token_store_url is None:
        return MemoryTokenStore()
    assert settings.token_key is not None  # enforced by load_settings
    cipher = TokenCipher(settings.token_key)
    return RedisTokenStore.from_url(settings.token_store_url, settings.token_store_password, cipher)


def _replays(settings: Settings, store: TokenStore) -> Replays:
    if not settings.idempotency_window:
        return NoReplays()
    if isinstance(store, RedisTokenStore):
        assert settings.token_key is not None  # enforced by load_settings
        return RedisReplays(
            store.client,
            TokenCipher(settings.token_key),
            window=settings.idempotency_window,
        )
    return MemoryReplays(settings.idempotency_window)


async def token_store(app: web.Application) -> AsyncIterator[None]:
    """The token store and the idempotency window, which shares its Redis when there is one."""
    store = _store(app[SETTINGS])
    app[TOKEN_STORE] = store
    app[REPLAYS] = _replays(app[SETTINGS], store)
    yield
    await store.close()


async def upstream_services(app: web.Application) -> AsyncIterator[None]:
    """The client session and everything that calls out through it, closed on shutdown."""
    settings, metrics = app[SETTINGS], app[METRICS]
    async with upstream_client(settings.upstream_ca_file) as session:
        remote = None
        if settings.cek_public_key_url:
            key_upstream = Upstream(
                "cek_key", session, metrics, timeout=KEY_FETCH_TIMEOUT, max_reply_bytes=16384
            )
            fetch = _key_fetcher(key_upstream)
            remote = RemoteKey(settings.cek_public_key_url, fetch, ttl=settings.cek_public_key_ttl)
            await remote.refresh()
        app[VERIFIER] = CekVerifier(settings.cek_public_keys, remote)
        name = "passthrough" if settings.mode is Mode.PASSTHROUGH else "chatbot"
        upstream = Upstream(name, session, metrics, timeout=settings.upstream_timeout, replay_safe=True)
        app[TURNS] = _turns(settings, upstream, app[VOICE])
        app[ACTION_UPSTREAM] = Upstream("action", session, metrics, timeout=settings.upstream_timeout)
        oauth_upstream = Upstream("oauth", session, metrics, timeout=KEY_FETCH_TIMEOUT)
        validator = TokenValidator(settings.config.oauth, oauth_upstream)
        user_key = settings.user_id_key.get_secret_value().encode() if settings.user_id_key else None
        app[ACCOUNTS] = AccountLinker(
            settings.config, app[TOKEN_STORE], validator, UserIds(user_key), settings.token_ttl
        )
        yield
        if remote:
            await remote.close()
