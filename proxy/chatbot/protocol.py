"""CLOVA Chatbot Custom API v2 messages.

The request is serialised once; those exact bytes are signed (HMAC-SHA256 keyed with the secret's
UTF-8 bytes, base64) into `X-NCP-CHATBOT_SIGNATURE` and sent unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from proxy.json_codec import json_bytes
from proxy.strict_json import InvalidJsonError, parse_json

SIGNATURE_HEADER = "X-NCP-CHATBOT_SIGNATURE"
OPEN = "open"
SEND = "send"


class ChatbotReplyError(ValueError):
    """The chatbot answered something that is not a v2 reply."""


def encode_request(user_id: str, event: str, text: str | None, timestamp_ms: int) -> bytes:
    bubbles = [{"type": "text", "data": {"description": text}}] if text is not None else []
    message = {
        "version": "v2",
        "userId": user_id,
        "timestamp": timestamp_ms,
        "bubbles": bubbles,
        "event": event,
    }
    return json_bytes(message)


def sign(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(body: bytes, secret: str, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(body, secret), header.strip())


@dataclass(frozen=True)
class ChatbotReply:
    bubbles: tuple[dict[str, Any], ...]
    scenario: str | None
    quick_buttons: tuple[dict[str, Any], ...] = ()


def _components(document: dict[str, Any], key: str) -> tuple[dict[str, Any], ...]:
    """The objects of an optional list field (absent or null: none); a non-list is not a v2 reply."""
    value = document.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ChatbotReplyError(f"reply's {key} is not a list")
    return tuple(item for item in value if isinstance(item, dict))


def decode_reply(raw: bytes) -> ChatbotReply:
    """The reply's bubbles (Optional in NCP's send response: none is a reply with nothing to say)."""
    try:
        document = parse_json(raw)
    except InvalidJsonError as exc:
        raise ChatbotReplyError("reply is not strict UTF-8 JSON") from exc
    if not isinstance(document, dict):
        raise ChatbotReplyError("reply is not a JSON object")
    scenario = document.get("scenario")
    name = scenario.get("name") if isinstance(scenario, dict) else None
    return ChatbotReply(
        _components(document, "bubbles"),
        name if isinstance(name, str) and name else None,
        _components(document, "quickButtons"),
    )
