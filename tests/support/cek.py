"""CEK fixtures: the vendored samples, a test signing key, and request bodies built to order."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CEK_SAMPLES = FIXTURES / "cek-samples"
PEER_REQUESTS = sorted((CEK_SAMPLES / "peer-requests").glob("*.json"))
PEER_EXTENSION_ID = "com.line.myApplication"
GENUINE_BODY = (CEK_SAMPLES / "genuine-signed-request.json").read_bytes()
GENUINE_SIGNATURE = (CEK_SAMPLES / "genuine-signed-request.signature").read_text().strip()


@dataclass(frozen=True)
class GenuineSample:
    """A request CLOVA really signed, in the later format that names its extension."""

    name: str
    body: bytes
    signature: str
    extension_id: str


def _genuine(name: str, extension_id: str) -> GenuineSample:
    body = (CEK_SAMPLES / f"genuine-signed-{name}.json").read_bytes()
    signature = (CEK_SAMPLES / f"genuine-signed-{name}.signature").read_text().strip()
    return GenuineSample(name, body, signature, extension_id)


GENUINE_LAUNCHES = (
    _genuine("launch-nodejs-sdk", "com.chens.morning"),
    _genuine("launch-swift-sdk", "com.keno42.worldClock"),
)

EXTENSION_ID = "com.example.chatbot.helpdesk"
USER_ID = "Xk3fTq9LmN0pQrStUvWx"
ACCESS_TOKEN = "tok_7Qp2Lw9Zs4Hy1Vb6"
# Tokens carried by the vendored samples; logs must never show them.
SAMPLE_TOKENS = ("aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", "5cc2949c-900c-48a0-a31b-c9544a042377", ACCESS_TOKEN)


@dataclass
class CekSigner:
    """Signs bodies the way CLOVA does, with a key of the test's own."""

    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @cached_property
    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        return {"Content-Type": "application/json;charset-UTF-8", "SignatureCEK": self.sign(body)}


def utc_now(offset: float = 0.0) -> str:
    """The time in CEK's format (`2024-05-01T09:00:12Z`), `offset` seconds from now."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def _session(user_id: str, token: str | None, attributes: dict[str, Any] | None, new: bool) -> dict[str, Any]:
    user: dict[str, Any] = {"userId": user_id}
    if token:
        user["accessToken"] = token
    return {"new": new, "sessionAttributes": attributes or {}, "sessionId": "5f0e7c1a-2b3d", "user": user}


def cek_request(
    request: dict[str, Any],
    *,
    extension_id: str = EXTENSION_ID,
    user_id: str = USER_ID,
    token: str | None = None,
    attributes: dict[str, Any] | None = None,
    locale: str | None = "ko-KR",
    new: bool = False,
    session: bool = True,
) -> bytes:
    """A CEK request body in the shape of real traffic (protocols.md §F).

    Like CEK, every body gets its own `requestId` (and the current time), so no two are identical:
    an identical body is a replay, answered from the idempotency window.
    """
    body = {"requestId": str(uuid.uuid4()), "timestamp": utc_now(), "extensionId": extension_id}
    if locale:
        body["locale"] = locale
    user: dict[str, Any] = {"userId": user_id, **({"accessToken": token} if token else {})}
    document = {
        "version": "1.0",
        "session": _session(user_id, token, attributes, new) if session else None,
        "context": {
            "System": {
                "application": {"applicationId": extension_id},
                "device": {"deviceId": "a1b2c3d4", "display": {"size": "none"}},
                "user": user,
            }
        },
        "request": {**body, **request},
    }
    return json.dumps(document, ensure_ascii=False).encode()


def launch(**kwargs: Any) -> bytes:
    return cek_request({"type": "LaunchRequest"}, new=True, **kwargs)


def intent(name: str, slots: dict[str, str] | None = None, **kwargs: Any) -> bytes:
    slot_objects = (
        {k: {"name": k, "value": v} for k, v in (slots or {}).items()} if slots is not None else None
    )
    return cek_request({"type": "IntentRequest", "intent": {"name": name, "slots": slot_objects}}, **kwargs)


def session_ended(**kwargs: Any) -> bytes:
    return cek_request({"type": "SessionEndedRequest", "reason": "USER_INITIATED"}, **kwargs)


def event(namespace: str, name: str, **kwargs: Any) -> bytes:
    request = {"type": "EventRequest", "event": {"namespace": namespace, "name": name, "payload": None}}
    return cek_request(request, **kwargs)


def speech_texts(document: dict[str, Any]) -> list[str]:
    """The PlainText values a CEK response would speak, in order."""
    speech = document["response"].get("outputSpeech")
    if speech is None:
        return []
    values = speech["values"]
    return [values["value"]] if isinstance(values, dict) else [v["value"] for v in values]
