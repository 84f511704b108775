"""CEK request bodies in the shapes real traffic has (protocols.md §A.5, §F).

Every body gets a fresh `requestId` and `timestamp`, so no two turns are byte-identical (a proxy
with an idempotency window would answer a repeated body with the first answer again).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from proxy.simulator.session import Session

LOCALES = ("ko-KR", "ja-JP", "en-US")
DEFAULT_EXTENSION_ID = "com.example.cek-proxy.dev"  # the dev stack's (Pulumi.dev.yaml)
# `--say TEXT` becomes this intent with the text in this slot: the proxy sends a lone slot's value
# as it is, and `utterances.free_text_slot = "query"` makes that explicit.
FREE_TEXT_INTENT = "FreeTextIntent"
FREE_TEXT_SLOT = "query"


class TurnKind(StrEnum):
    LAUNCH = "launch"
    INTENT = "intent"
    END = "end"


@dataclass(frozen=True)
class UserTurn:
    """What the user does in one turn; `said` keeps the words of a `--say`."""

    kind: TurnKind
    intent: str | None = None
    slots: Mapping[str, str] = field(default_factory=dict)
    said: str | None = None

    @classmethod
    def launch(cls) -> UserTurn:
        return cls(TurnKind.LAUNCH)

    @classmethod
    def end(cls) -> UserTurn:
        return cls(TurnKind.END)

    @classmethod
    def with_intent(cls, name: str, slots: Mapping[str, str] | None = None) -> UserTurn:
        return cls(TurnKind.INTENT, name, dict(slots or {}))


@dataclass(frozen=True)
class FreeText:
    intent: str = FREE_TEXT_INTENT
    slot: str = FREE_TEXT_SLOT

    def say(self, text: str) -> UserTurn:
        return UserTurn(TurnKind.INTENT, self.intent, {self.slot: text}, said=text)


@dataclass(frozen=True)
class Speaker:
    """Who talks to which extension, from which device."""

    extension_id: str = DEFAULT_EXTENSION_ID
    locale: str = "ko-KR"
    user_id: str = "cek-sim-user"
    device_id: str = "cek-sim-device"
    access_token: str | None = field(default=None, repr=False)

    def user(self) -> dict[str, str]:
        return {"userId": self.user_id, **({"accessToken": self.access_token} if self.access_token else {})}


_PLACEHOLDER_INTENT = {"intent": "", "name": "", "slots": None}
_PLACEHOLDER_EVENT = {"namespace": "", "name": "", "payload": None}


def _request(turn: UserTurn, speaker: Speaker) -> dict[str, Any]:
    common = {
        "requestId": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "locale": speaker.locale,
        "extensionId": speaker.extension_id,
    }
    if turn.kind is TurnKind.LAUNCH:
        return {"type": "LaunchRequest", **common, "intent": _PLACEHOLDER_INTENT, "event": _PLACEHOLDER_EVENT}
    if turn.kind is TurnKind.END:
        return {"type": "SessionEndedRequest", **common, "reason": "USER_INITIATED"}
    slots = {name: {"name": name, "value": value} for name, value in turn.slots.items()} or None
    return {
        "type": "IntentRequest",
        **common,
        "intent": {"intent": turn.intent, "name": turn.intent, "slots": slots},
    }


def build_request(turn: UserTurn, speaker: Speaker, session: Session) -> bytes:
    """The UTF-8 JSON body of one CEK request, ready to sign."""
    user = speaker.user()
    document = {
        "version": "1.0",
        "session": {
            "new": session.new,
            "sessionAttributes": session.attributes,
            "sessionId": session.id,
            "user": user,
        },
        "context": {
            "System": {
                "application": {"applicationId": speaker.extension_id},
                "device": {
                    "deviceId": speaker.device_id,
                    "display": {"size": "none", "contentLayer": {"width": 0, "height": 0}},
                },
                "user": user,
            }
        },
        "request": _request(turn, speaker),
    }
    return json.dumps(document, ensure_ascii=False).encode()
