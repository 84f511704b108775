"""`POST /cek`: read, verify, parse, check the extension id, then let the mode answer.

The order matters: the signature is checked over the exact raw bytes before anything is parsed,
and every failure after verification becomes a spoken CEK answer, never a 500.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from proxy.body import read_body
from proxy.cek.request import CekFormatError, CekRequest, parse_cek_request
from proxy.cek.signature import Verdict
from proxy.modes.turn import TurnResult
from proxy.responses import RefusedError
from proxy.state import ACCOUNTS, CEK_TYPE, METRICS, OUTCOME, SETTINGS, TURNS, VERIFIER, VOICE

log = logging.getLogger(__name__)

CEK_CONTENT_TYPE = "application/json;charset=UTF-8"


async def _verified_request(request: web.Request) -> tuple[CekRequest, bytes]:
    """The parsed request and its raw bytes, or RefusedError (413/408, 401, 400, 403)."""
    settings = request.app[SETTINGS]
    body = await read_body(request, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout)
    verdict = await request.app[VERIFIER].verify(body, request.headers.get("SignatureCEK"))
    if verdict is not Verdict.OK:
        request.app[METRICS].signature_failures.labels(verdict.value).inc()
        raise RefusedError(401, "invalid_signature", "SignatureCEK is missing or invalid")
    try:
        cek = parse_cek_request(json.loads(body))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RefusedError(400, "malformed_json", "the body is not JSON") from None
    except CekFormatError as exc:
        raise RefusedError(400, "malformed_request", str(exc)) from None
    request[CEK_TYPE] = cek.type
    if cek.application_id not in settings.extension_ids:
        raise RefusedError(403, "unknown_extension", "this extension id is not served here")
    return cek, body


async def cek_endpoint(request: web.Request) -> web.Response:
    try:
        cek, body = await _verified_request(request)
    except RefusedError as refused:
        request[OUTCOME] = refused.code
        request.app[METRICS].requests.labels(request.get(CEK_TYPE, "unknown"), refused.code).inc()
        return refused.response()
    result = await _answer(request, cek, body)
    request[OUTCOME] = result.outcome
    request.app[METRICS].requests.labels(cek.type, result.outcome).inc()
    return web.Response(body=result.body, headers={"Content-Type": CEK_CONTENT_TYPE})


async def _answer(request: web.Request, cek: CekRequest, body: bytes) -> TurnResult:
    try:
        account = await request.app[ACCOUNTS].on_turn(cek)
        if account.needs_login:
            return request.app[VOICE].login_prompt(cek)
        return await request.app[TURNS].respond(cek, body, request.headers, account)
    except Exception:
        # A bug must not leave the user in silence: CEK still gets a spoken, valid answer.
        log.exception("turn failed", extra={"fields": {"cek_type": cek.type}})
        return request.app[VOICE].apology(cek, "internal_error")
