"""The CLOVA Chatbot Custom API client: sign, send, check the reply."""

from __future__ import annotations

from pydantic import SecretStr

from proxy.chatbot.protocol import SIGNATURE_HEADER, ChatbotReply, ChatbotReplyError, decode_reply, sign
from proxy.upstream import Upstream, UpstreamError

HEADERS = {"Content-Type": "application/json;UTF-8", "Accept": "application/json"}


class ChatbotClient:
    def __init__(self, upstream: Upstream, url: str, secret: SecretStr) -> None:
        self._upstream = upstream
        self._url = url
        self._secret = secret

    def __repr__(self) -> str:
        return f"ChatbotClient(url={self._url!r}, secret=<redacted>)"

    async def ask(self, body: bytes) -> ChatbotReply:
        """Send exactly `body`, signed; raise UpstreamError unless a v2 reply comes back."""
        headers = {**HEADERS, SIGNATURE_HEADER: sign(body, self._secret.get_secret_value())}
        reply = await self._upstream.request("POST", self._url, data=body, headers=headers)
        if not reply.ok:
            raise UpstreamError(f"http_{reply.status // 100}xx", f"chatbot answered {reply.status}")
        try:
            return decode_reply(reply.body)
        except ChatbotReplyError as exc:
            raise UpstreamError("invalid_reply", str(exc)) from exc
