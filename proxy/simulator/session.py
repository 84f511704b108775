"""The CEK session as the speaker keeps it: its id, `new` on the first turn, `sessionAttributes`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


def _session_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Session:
    id: str = field(default_factory=_session_id)
    new: bool = True
    attributes: dict[str, Any] = field(default_factory=dict)
    ended: bool = False

    def restart(self) -> None:
        """A new session, as a launch (or a turn after the previous session ended) opens one."""
        self.id, self.new, self.attributes, self.ended = _session_id(), True, {}, False

    def answered(self, attributes: dict[str, Any], ends: bool) -> None:
        """After an answer: CEK echoes its `sessionAttributes` next turn, unless the session ended."""
        self.new, self.attributes, self.ended = False, dict(attributes), ends
