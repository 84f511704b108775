"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from aiohttp import web

from proxy.responses import json_response
from proxy.state import DRAINING, METRICS, TOKEN_STORE, VERIFIER


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when CEK keys are loaded and the token store answers; not ready once a stop began."""
    if request.app[DRAINING].is_set():
        return json_response({"status": "draining"}, status=503)
    verifier, store = request.app.get(VERIFIER), request.app.get(TOKEN_STORE)
    keys = verifier.key_count if verifier else 0
    store_ok = store is not None and await store.ping()
    status = {"status": "ready" if keys and store_ok else "not_ready", "keys": keys, "token_store": store_ok}
    return json_response(status, status=200 if keys and store_ok else 503)


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS]
    return web.Response(body=registry.render(), headers={"Content-Type": registry.content_type})
