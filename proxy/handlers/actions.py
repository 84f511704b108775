"""`GET|POST /actions/{name}`: chatbot action methods reach their backends with the user's token.

The chatbot never sees CEK access tokens. Its action methods call this relay instead of the backend,
proving with the shared key (`X-CEK-Proxy-Key`) that they are our chatbot and naming the user by the
chatbot user id the proxy sent upstream. The relay looks up that user's token, drops whatever
credentials the caller sent, adds the token header, and returns the backend's status and body.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from proxy.accounts.store import TokenStoreError
from proxy.body import read_body, refuse_compressed
from proxy.config_file import Action
from proxy.responses import RefusedError
from proxy.state import ACTION_UPSTREAM, METRICS, OUTCOME, SETTINGS, TOKEN_STORE
from proxy.strict_json import InvalidJsonError, parse_json
from proxy.upstream import UpstreamError

log = logging.getLogger(__name__)

KEY_HEADER = "X-CEK-Proxy-Key"
# Only these caller headers reach the backend; credentials and hop-by-hop headers never do.
FORWARDED_HEADERS = ("Content-Type", "Accept", "Accept-Language", "X-Request-Id")
RELAYED_REPLY_HEADERS = ("Content-Type", "Cache-Control", "Retry-After")
# Final statuses HTTP defines; a 1xx is never a final answer and anything past 599 is not HTTP.
MIN_RELAYED_STATUS, MAX_RELAYED_STATUS = 200, 599


def _check_key(request: web.Request) -> None:
    key = request.app[SETTINGS].action_key
    # Header bytes that are not UTF-8 reach us as surrogate escapes; they must compare, not raise.
    sent = request.headers.get(KEY_HEADER, "").encode("utf-8", "surrogateescape")
    if key is None or not hmac.compare_digest(sent, key.get_secret_value().encode()):
        raise RefusedError(401, "invalid_action_key", f"{KEY_HEADER} is missing or wrong")


def _user_id(request: web.Request, body: bytes, field: str) -> str:
    if value := request.query.get(field):
        return value
    document: Any = None
    if body:
        try:
            document = parse_json(body)
        except InvalidJsonError:
            raise RefusedError(400, "malformed_json", "the body is not strict UTF-8 JSON") from None
    value = document.get(field) if isinstance(document, dict) else None
    if not isinstance(value, str) or not value:
        raise RefusedError(
            400, "missing_user_id", f"the user id is expected in the query or body field '{field}'"
        )
    return value


def _backend_headers(request: web.Request, action: Action, token: str) -> CIMultiDict[str]:
    headers = CIMultiDict(
        (name, request.headers[name]) for name in FORWARDED_HEADERS if name in request.headers
    )
    headers[action.token_header] = action.token_value(token)
    return headers


async def _relay(request: web.Request, name: str) -> web.Response:
    settings = request.app[SETTINGS]
    _check_key(request)
    action = settings.config.actions.get(name)
    if action is None:
        raise RefusedError(404, "unknown_action", "no such action")
    refuse_compressed(request)
    body = await read_body(request, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout)
    user = _user_id(request, body, settings.config.action_relay.user_id_field)
    try:
        token = await request.app[TOKEN_STORE].get_token(user)
    except TokenStoreError as exc:
        raise RefusedError(503, "token_store_unavailable", "the token store cannot be reached") from exc
    if token is None:
        raise RefusedError(401, "account_not_linked", "no linked account is known for this user")
    url = str(URL(action.url).extend_query(request.query)) if request.query_string else action.url
    try:
        reply = await request.app[ACTION_UPSTREAM].request(
            action.method,
            url,
            data=body or None,
            headers=_backend_headers(request, action, token),
            timeout=action.timeout,
        )
    except UpstreamError as exc:
        status = 504 if exc.kind == "timeout" else 502
        raise RefusedError(status, f"backend_{exc.kind}", "the action backend did not answer") from exc
    if not MIN_RELAYED_STATUS <= reply.status <= MAX_RELAYED_STATUS:
        raise RefusedError(502, "backend_invalid_status", "the action backend answered no valid status")
    headers = {h: reply.headers[h] for h in RELAYED_REPLY_HEADERS if h in reply.headers}
    return web.Response(status=reply.status, body=reply.body, headers=headers)


async def action_endpoint(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    try:
        response = await _relay(request, name)
        outcome = f"http_{response.status // 100}xx"
    except RefusedError as refusal:
        response, outcome = refusal.response(), refusal.code
    request[OUTCOME] = outcome
    known = name if name in request.app[SETTINGS].config.actions else "unknown"
    metrics = request.app[METRICS]
    metrics.child(metrics.actions, known, outcome).inc()
    return response
