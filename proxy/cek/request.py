"""Lenient reading of CEK request JSON.

Real CEK traffic varies: `session: null` (skill-store events), `slots: null`, no
`requestId`/`timestamp`/`locale` (console tests, early formats), empty placeholder `intent` and
`event` objects, `payload: "null"`, numbers where strings are documented. Only a JSON object with a
`request.type` string is required; everything else defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from proxy.config_file import LANGUAGES, Language

LAUNCH = "LaunchRequest"
INTENT = "IntentRequest"
SESSION_ENDED = "SessionEndedRequest"
EVENT = "EventRequest"


class CekFormatError(ValueError):
    """The JSON is not a CEK request at all."""


@dataclass(frozen=True)
class Slot:
    name: str
    value: str
    value_type: str | None = None
    unit: str | None = None


@dataclass(frozen=True)
class CekRequest:
    version: str
    type: str
    request_id: str | None
    locale: str | None
    application_id: str | None
    intent_name: str | None
    slots: MappingProxyType[str, Slot]
    event_namespace: str | None
    event_name: str | None
    session_new: bool
    session_attributes: MappingProxyType[str, Any]
    user_id: str | None = field(repr=False)
    access_token: str | None = field(repr=False)
    timestamp: str | None = None  # ISO 8601 UTC; CEK sets it on EventRequests

    def language(self, default: Language) -> Language:
        """`ko`/`ja`/`en` from the locale (`ko-KR` gives `ko`); the default when absent or other."""
        prefix = (self.locale or "").split("-")[0].split("_")[0].lower()
        for lang in LANGUAGES:
            if prefix == lang:
                return lang
        return default

    def is_event(self, namespace: str, name: str) -> bool:
        return self.type == EVENT and self.event_namespace == namespace and self.event_name == name


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    """A non-empty string; numbers become strings; null, "" and "null" become None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value and value != "null":
        return value
    return None


def _slots(value: Any) -> MappingProxyType[str, Slot]:
    slots: dict[str, Slot] = {}
    for key, raw in _obj(value).items():
        slot = _obj(raw)
        text = _text(slot.get("value"))
        if text is None:
            continue
        name = _text(slot.get("name")) or str(key)
        slots[name] = Slot(name, text, _text(slot.get("valueType")), _text(slot.get("unit")))
    return MappingProxyType(slots)


def _first(*values: Any) -> str | None:
    for value in values:
        if (text := _text(value)) is not None:
            return text
    return None


def parse_cek_request(document: Any) -> CekRequest:
    if not isinstance(document, dict):
        raise CekFormatError("the body is not a JSON object")
    request = document.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("type"), str) or not request["type"]:
        raise CekFormatError("request.type is missing")
    session = _obj(document.get("session"))
    system = _obj(_obj(document.get("context")).get("System"))
    session_user, system_user = _obj(session.get("user")), _obj(system.get("user"))
    intent, event = _obj(request.get("intent")), _obj(request.get("event"))
    return CekRequest(
        version=_text(document.get("version")) or "1.0",
        type=request["type"],
        request_id=_text(request.get("requestId")),
        locale=_text(request.get("locale")),
        application_id=_first(
            _obj(system.get("application")).get("applicationId"), request.get("extensionId")
        ),
        intent_name=_first(intent.get("name"), intent.get("intent")),
        slots=_slots(intent.get("slots")),
        event_namespace=_text(event.get("namespace")),
        event_name=_text(event.get("name")),
        session_new=session.get("new") is True,
        session_attributes=MappingProxyType(_obj(session.get("sessionAttributes"))),
        user_id=_first(session_user.get("userId"), system_user.get("userId")),
        access_token=_speaker_token(session_user, system_user),
        timestamp=_text(request.get("timestamp")),
    )


def _speaker_token(session_user: dict[str, Any], system_user: dict[str, Any]) -> str | None:
    """The current speaker's token; the device owner's only when the owner is the one speaking.

    A guest speaking to someone else's speaker must not act with the owner's linked account.
    """
    if token := _text(session_user.get("accessToken")):
        return token
    speaker = _text(session_user.get("userId"))
    if speaker is None or speaker == _text(system_user.get("userId")):
        return _text(system_user.get("accessToken"))
    return None
