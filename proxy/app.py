"""The application factory: the same `create_app` serves `python -m proxy` and the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from proxy.cek.signature import CekVerifier, Fetch, KeyFetchError, RemoteKey
from proxy.chatbot.client import ChatbotClient
from proxy.handlers.cek import cek_endpoint
from proxy.handlers.ops import healthz, metrics, readyz
from proxy.identity import UserIds
from proxy.metrics import Metrics
from proxy.middlewares import observe
from proxy.modes.bridge import Bridge
from proxy.modes.passthrough import Passthrough
from proxy.modes.turn import TurnHandler, Voice
from proxy.settings import Mode, Settings
from proxy.state import METRICS, SETTINGS, TURNS, VERIFIER, VOICE
from proxy.upstream import Upstream, UpstreamError, client_session

KEY_FETCH_TIMEOUT = 3.0


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[observe])
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[VOICE] = Voice(settings.config)
    app.cleanup_ctx.append(upstream_services)
    app.router.add_post("/cek", cek_endpoint)
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
    user_key = settings.user_id_key.get_secret_value().encode() if settings.user_id_key else None
    chatbot = ChatbotClient(upstream, settings.chatbot_url, settings.chatbot_secret)
    return Bridge(chatbot, voice, UserIds(user_key))


async def upstream_services(app: web.Application) -> AsyncIterator[None]:
    """The client session and everything that calls out through it, closed on shutdown."""
    settings, metrics = app[SETTINGS], app[METRICS]
    session: aiohttp.ClientSession
    async with client_session(settings.upstream_ca_file) as session:
        remote = None
        if settings.cek_public_key_url:
            key_upstream = Upstream(
                "cek_key", session, metrics, timeout=KEY_FETCH_TIMEOUT, max_reply_bytes=16384
            )
            remote = RemoteKey(
                settings.cek_public_key_url, _key_fetcher(key_upstream), ttl=settings.cek_public_key_ttl
            )
            await remote.refresh()
        app[VERIFIER] = CekVerifier(settings.cek_public_keys, remote)
        name = "passthrough" if settings.mode is Mode.PASSTHROUGH else "chatbot"
        upstream = Upstream(name, session, metrics, timeout=settings.upstream_timeout)
        app[TURNS] = _turns(settings, upstream, app[VOICE])
        yield
        if remote:
            await remote.close()
