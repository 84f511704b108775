"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from aiohttp import web

from proxy.responses import json_response
from proxy.state import METRICS, VERIFIER


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    verifier = request.app.get(VERIFIER)
    keys = verifier.key_count if verifier else 0
    if keys == 0:
        return json_response({"status": "starting", "keys": 0}, status=503)
    return json_response({"status": "ready", "keys": keys})


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS]
    return web.Response(body=registry.render(), headers={"Content-Type": registry.content_type})
