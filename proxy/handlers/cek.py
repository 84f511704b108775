"""`POST /cek`: read, verify, parse, check the extension id, then let the mode answer.

The order matters: the signature is checked over the exact raw bytes before anything is parsed,
and every failure after verification becomes a spoken CEK answer, never a 500. Every turn is
answered within `CEK_PROXY_TURN_BUDGET` of its arrival, whatever it waits on (token validation, the
token store, the chatbot, an identical request being answered already).
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from proxy.body import read_body, refuse_compressed
from proxy.cek.freshness import is_stale
from proxy.cek.request import (
    EVENT,
    INTENT,
    LAUNCH,
    SESSION_ENDED,
    CekFormatError,
    CekRequest,
    parse_cek_request,
)
from proxy.cek.signature import Verdict
from proxy.modes.turn import TurnResult
from proxy.replays import REPLAYED, replay_key
from proxy.responses import RefusedError
from proxy.state import ACCOUNTS, CEK_TYPE, METRICS, OUTCOME, REPLAYS, SETTINGS, TURNS, VERIFIER, VOICE
from proxy.strict_json import InvalidJsonError, parse_json

log = logging.getLogger(__name__)

CEK_CONTENT_TYPE = "application/json;charset=UTF-8"
# Metrics label values: the request types CEK documents; anything else a signed body says is "other".
KNOWN_TYPES = frozenset({LAUNCH, INTENT, SESSION_ENDED, EVENT})


def type_label(cek_type: str | None) -> str:
    if cek_type is None:
        return "unknown"
    return cek_type if cek_type in KNOWN_TYPES else "other"


async def _verified_request(request: web.Request) -> tuple[CekRequest, bytes]:
    """The parsed request and its raw bytes, or RefusedError (415, 413/408, 401, 400, 403)."""
    settings = request.app[SETTINGS]
    refuse_compressed(request)
    body = await read_body(request, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout)
    verdict = await request.app[VERIFIER].verify(body, request.headers.get("SignatureCEK"))
    if verdict is not Verdict.OK:
        metrics = request.app[METRICS]
        metrics.child(metrics.signature_failures, verdict.value).inc()
        raise RefusedError(401, "invalid_signature", "SignatureCEK is missing or invalid")
    try:
        cek = parse_cek_request(parse_json(body))
    except InvalidJsonError:
        raise RefusedError(400, "malformed_json", "the body is not strict UTF-8 JSON") from None
    except CekFormatError as exc:
        raise RefusedError(400, "malformed_request", str(exc)) from None
    request[CEK_TYPE] = cek.type
    if cek.application_id not in settings.extension_ids:
        raise RefusedError(403, "unknown_extension", "this extension id is not served here")
    if cek.type == EVENT and is_stale(cek.timestamp, settings.event_freshness, time.time()):
        raise RefusedError(400, "stale_request", "the request's timestamp is outside the freshness window")
    return cek, body


async def cek_endpoint(request: web.Request) -> web.Response:
    deadline = asyncio.get_running_loop().time() + request.app[SETTINGS].turn_budget
    try:
        cek, body = await _verified_request(request)
    except RefusedError as refused:
        request[OUTCOME] = refused.code
        metrics = request.app[METRICS]
        metrics.child(metrics.requests, type_label(request.get(CEK_TYPE)), refused.code).inc()
        return refused.response()
    try:
        result = await request.app[REPLAYS].once(
            replay_key(body), lambda: _answer(request, cek, body, deadline), deadline
        )
    except TimeoutError:
        # An identical request still being answered elsewhere took this one's whole budget.
        result = request.app[VOICE].apology(cek, "turn_timeout")
    metrics = request.app[METRICS]
    if result.outcome == REPLAYED:
        metrics.replays.inc()
    request[OUTCOME] = result.outcome
    metrics.child(metrics.requests, type_label(cek.type), result.outcome).inc()
    return web.Response(body=result.body, headers={"Content-Type": CEK_CONTENT_TYPE})


async def _answer(request: web.Request, cek: CekRequest, body: bytes, deadline: float) -> TurnResult:
    try:
        async with asyncio.timeout_at(deadline):
            account = await request.app[ACCOUNTS].on_turn(cek)
            if account.needs_login:
                return request.app[VOICE].login_prompt(cek)
            return await request.app[TURNS].respond(cek, body, request.headers, account)
    except TimeoutError:
        log.warning("turn budget spent", extra={"fields": {"cek_type": type_label(cek.type)}})
        return request.app[VOICE].apology(cek, "turn_timeout")
    except Exception:
        # A bug must not leave the user in silence: CEK still gets a spoken, valid answer.
        log.exception("turn failed", extra={"fields": {"cek_type": type_label(cek.type)}})
        return request.app[VOICE].apology(cek, "internal_error")
