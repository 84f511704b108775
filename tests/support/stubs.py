"""Stand-ins for the proxy's upstreams, served over real HTTP.

`StubChatbot` behaves like a CLOVA Chatbot Custom API invoke URL: it refuses a request whose
`X-NCP-CHATBOT_SIGNATURE` does not match the body, and answers v2 replies. `StubCekBackend` is an
extension backend for passthrough mode. Both record what they received (unless `record=False`, as
in the benchmarks, where a growing list would be a leak of the stub's own), and can be told to fail
in the ways real upstreams fail (slow, 5xx, junk, dropped connections).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from proxy.chatbot.protocol import SIGNATURE_HEADER, signature_matches

WELCOME_BUTTONS = (("배송 조회", "배송 조회 시작"), ("반품 신청", "반품 접수"))


def text_bubble(text: str) -> dict[str, Any]:
    return {"type": "text", "data": {"description": text}}


def button_component(title: str, action: dict[str, Any]) -> dict[str, Any]:
    """NCP's button component (a bubble, a quick button, or the content of a template cell)."""
    return {"type": "button", "title": title, "data": {"type": "basic", "action": action}}


def postback_action(postback: str, postback_full: str | None = None) -> dict[str, Any]:
    data = {"postback": postback, **({"postbackFull": postback_full} if postback_full is not None else {})}
    return {"type": "postback", "data": data}


def _cell(component: dict[str, Any]) -> dict[str, Any]:
    return {"rowSpan": 1, "colSpan": 1, "data": component}


def button(title: str, postback: str) -> dict[str, Any]:
    return _cell(button_component(title, postback_action(postback, postback)))


def link_button(title: str, url: str) -> dict[str, Any]:
    return _cell(button_component(title, {"type": "link", "data": {"url": url}}))


def template_bubble(cover: str, buttons: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    rows = [[button(title, postback)] for title, postback in buttons]
    rows.append([link_button("웹에서 보기", "https://help.example.com/")])
    return {"type": "template", "data": {"cover": text_bubble(cover), "contentTable": rows}}


@dataclass
class Failure:
    """How the next replies fail: `status` (an HTTP error), `junk`, `drop` or `delay` seconds."""

    kind: str
    delay: float = 0.0
    status: int = 500


@dataclass
class ActionCall:
    """Makes the stub chatbot answer `send` by calling an action method, as a real one would."""

    url: str  # the proxy's /actions/<name>
    key: str  # the shared action key
    trigger: str = ""  # call it only for texts that contain this (every text when empty)
    # What a sloppy caller might send along; the relay must not pass it on.
    extra_headers: dict[str, str] = field(
        default_factory=lambda: {"Authorization": "Basic c3RyYXk6Y3JlZHM=", "Cookie": "session=stray"}
    )


@dataclass
class StubChatbot:
    secret: str
    extra_secrets: tuple[str, ...] = ()  # also accepted, as during a secret rotation
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    matched: Counter[int] = field(default_factory=Counter)  # requests by index of the secret they matched
    scripted: deque[dict[str, Any]] = field(default_factory=deque)
    failure: Failure | None = None
    action: ActionCall | None = None
    record: bool = True
    slow_trigger: str = ""  # texts with this are answered only after `slow_seconds`
    slow_seconds: float = 0.0

    def reply_next(
        self, bubbles: list[dict[str, Any]] | None, scenario: str | None = None, **fields: Any
    ) -> None:
        """Queue the next reply: its bubbles (None: no `bubbles` field) and any other fields.

        Without a queued reply the stub echoes the text it got.
        """
        reply = {**({"bubbles": bubbles} if bubbles is not None else {}), **fields}
        self.scripted.append({**reply, **({"scenario": {"name": scenario}} if scenario else {})})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/custom/v1/{domain}/{hash}", self.handle)
        app.router.add_get("/stats", self.stats)
        return app

    async def stats(self, request: web.Request) -> web.Response:
        texts = Counter(_text(message) for message in self.received if message.get("event") == "send")
        duplicates = sum(count - 1 for count in texts.values())
        return web.json_response(
            {
                "received": len(self.received),
                "rejected": self.rejected,
                "matched": self.matched,
                "duplicates": duplicates,
            }
        )

    def _signed_with(self, body: bytes, signature: str | None) -> int | None:
        secrets = (self.secret, *self.extra_secrets)
        return next(
            (i for i, secret in enumerate(secrets) if signature_matches(body, secret, signature)), None
        )

    def default_reply(self, message: dict[str, Any]) -> dict[str, Any]:
        if message.get("event") == "open":
            return {"bubbles": [template_bubble("안녕하세요. 고객센터 도우미입니다.", WELCOME_BUTTONS)]}
        return {"bubbles": [text_bubble(f"답변: {_text(message)}")]}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        secret_index = self._signed_with(body, request.headers.get(SIGNATURE_HEADER))
        if secret_index is None:
            self.rejected += 1
            error = {"error": {"errorCode": "200", "message": "Authentication Failed"}}
            return web.json_response(error, status=401)
        message = json.loads(body)
        if self.record:
            self.received.append(message)
        self.matched[secret_index] += 1
        if self.failure:
            return await fail(request, self.failure)
        if self.slow_trigger and self.slow_trigger in _text(message):
            await asyncio.sleep(self.slow_seconds)
        if self.scripted:
            reply = self.scripted.popleft()
        elif self.action and message.get("event") == "send" and self.action.trigger in _text(message):
            reply = await self.call_action(self.action, message)
        else:
            reply = self.default_reply(message)
        document = {"version": "v2", "userId": message["userId"], "timestamp": message["timestamp"], **reply}
        return web.json_response({**document, "event": message["event"]})

    async def call_action(self, action: ActionCall, message: dict[str, Any]) -> dict[str, Any]:
        headers = {"X-CEK-Proxy-Key": action.key, **action.extra_headers}
        body = {"userId": message["userId"], "item": "무선 이어폰"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(action.url, json=body, params={"lang": "ko"}, headers=headers) as resp,
        ):
            answer, status = await resp.json(), resp.status
        return {"bubbles": [text_bubble(f"액션 {status}: {json.dumps(answer, ensure_ascii=False)}")]}


@dataclass
class StubActionBackend:
    """A backend behind the action relay: records what it got, answers with what it saw."""

    received: list[Received] = field(default_factory=list)
    failure: Failure | None = None
    expected_token: str | None = None  # when set, any other bearer token gets a 403
    record: bool = True

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/orders", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if self.record:
            self.received.append(Received(body, dict(request.headers), dict(request.query), request.method))
        if self.failure:
            return await fail(request, self.failure)
        if self.expected_token and request.headers.get("Authorization") != f"Bearer {self.expected_token}":
            return web.json_response({"error": "unexpected token"}, status=403)
        return web.json_response({"orders": 2}, status=200)


@dataclass
class StubReplica:
    """Stands in for a proxy replica behind the gateway. It writes a JSON line for each request it
    read (method, path, SHA-256 of the body) to stdout, then answers with the same fields or, with
    `hang_up`, closes the connection without an answer, as a replica that dies mid-request does."""

    hang_up: bool = False

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        seen = {
            "method": request.method,
            "path": request.path,
            "sha256": hashlib.sha256(await request.read()).hexdigest(),
        }
        print(json.dumps(seen), flush=True)
        if self.hang_up:
            return await fail(request, Failure("drop"))
        return web.json_response(seen)


def _text(message: dict[str, Any]) -> str:
    """The text a chatbot request carries ("" for `open`)."""
    text: str = message["bubbles"][-1]["data"]["description"] if message.get("bubbles") else ""
    return text


async def fail(request: web.Request, failure: Failure) -> web.StreamResponse:
    if failure.delay:
        await asyncio.sleep(failure.delay)
    if failure.kind == "status":
        return web.json_response({"error": {"message": "upstream failure"}}, status=failure.status)
    if failure.kind == "junk":
        return web.Response(body=b"<html>502 Bad Gateway</html>", content_type="text/html")
    if failure.kind == "drop" and request.transport is not None:
        request.transport.close()
    return web.json_response({"late": True})


def valid_cek_answer(text: str) -> dict[str, Any]:
    speech = {"type": "SimpleSpeech", "values": {"type": "PlainText", "lang": "ko", "value": text}}
    return {
        "version": "1.0",
        "sessionAttributes": {},
        "response": {"outputSpeech": speech, "card": {}, "directives": [], "shouldEndSession": True},
    }


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    method: str = "POST"


@dataclass
class StubCekBackend:
    """An extension backend: records the exact bytes and headers, answers a CEK response."""

    received: list[Received] = field(default_factory=list)
    answer: bytes = json.dumps(valid_cek_answer("백엔드 응답입니다.")).encode()
    failure: Failure | None = None
    record: bool = True

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/clova", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if self.record:
            self.received.append(Received(body, dict(request.headers)))
        if self.failure:
            return await fail(request, self.failure)
        return web.Response(body=self.answer, content_type="application/json")
