"""A small CLOVA Chatbot Custom API for conversation tests: it checks `X-NCP-CHATBOT_SIGNATURE`,
records the text of each turn, and answers the suite's scripted replies, else an echo.

The echo: `open` gets "안녕하세요. 무엇을 도와드릴까요?", a `send` gets "답변: <text>".
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from proxy.chatbot.protocol import SIGNATURE_HEADER, signature_matches

WELCOME = "안녕하세요. 무엇을 도와드릴까요?"
CHATBOT_PATH = "/custom/v1/0/cek-sim"


@dataclass(frozen=True)
class ScriptedReply:
    texts: tuple[str, ...]
    scenario: str | None = None


@dataclass
class Received:
    event: str
    text: str | None


@dataclass
class StubChatbot:
    secret: str = field(repr=False)
    received: list[Received] = field(default_factory=list)
    scripted: deque[ScriptedReply] = field(default_factory=deque)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(CHATBOT_PATH, self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not signature_matches(body, self.secret, request.headers.get(SIGNATURE_HEADER)):
            return web.json_response(
                {"error": {"errorCode": "200", "message": "Authentication Failed"}}, status=401
            )
        message = json.loads(body)
        text = _text(message)
        self.received.append(Received(str(message.get("event")), text))
        reply = self.scripted.popleft() if self.scripted else _echo(text)
        document: dict[str, Any] = {
            "version": "v2",
            "userId": message.get("userId"),
            "timestamp": message.get("timestamp"),
            "event": message.get("event"),
            "bubbles": [{"type": "text", "data": {"description": t}} for t in reply.texts],
        }
        if reply.scenario:
            document["scenario"] = {"name": reply.scenario}
        return web.json_response(document)


def _text(message: dict[str, Any]) -> str | None:
    bubbles = message.get("bubbles") or []
    return str(bubbles[-1]["data"]["description"]) if bubbles else None


def _echo(text: str | None) -> ScriptedReply:
    return ScriptedReply((WELCOME,) if text is None else (f"답변: {text}",))
