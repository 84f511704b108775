"""Request id, one JSON access line per request, and a last guard against unexpected errors."""

from __future__ import annotations

import logging
import os
import re
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.logs import log_fields, request_id
from proxy.responses import json_error
from proxy.state import CEK_TYPE, OUTCOME

access_log = logging.getLogger("cek_proxy.access")
log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _request_id(request: web.Request) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if _SAFE_ID.match(incoming) else os.urandom(16).hex()


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = _request_id(request)
    token = request_id.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception:
        log.exception("unhandled error", extra={"fields": {"path": request.path}})
        response = json_error(500, "internal_error", "internal error")
    finally:
        fields = {
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "cek_type": request.get(CEK_TYPE),
            "outcome": request.get(OUTCOME),
        }
        log_fields(access_log, "request", fields)
        request_id.reset(token)
    response.headers[REQUEST_ID_HEADER] = rid
    return response
