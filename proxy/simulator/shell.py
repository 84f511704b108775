"""The interactive session's lines: plain text is what the user says, `/commands` do the rest."""

from __future__ import annotations

import shlex
from typing import Literal

from proxy.simulator.request_builder import FreeText, UserTurn

BUILTIN_SHORTCUTS = {
    "yes": "Clova.YesIntent",
    "no": "Clova.NoIntent",
    "guide": "Clova.GuideIntent",
    "cancel": "Clova.CancelIntent",
    "stop": "Clova.StopIntent",
    "pause": "Clova.PauseIntent",
    "resume": "Clova.ResumeIntent",
    "next": "Clova.NextIntent",
    "previous": "Clova.PreviousIntent",
    "fallback": "Clova.FallbackIntent",
}

SESSION_COMMANDS = {"launch": UserTurn.launch(), "end": UserTurn.end()}


class ShellError(ValueError):
    """A line that is not a turn; the message says why."""


def _intent(words: list[str]) -> UserTurn:
    if not words:
        raise ShellError("/intent needs a NAME, then NAME=VALUE slots")
    slots = {}
    for word in words[1:]:
        name, sep, value = word.partition("=")
        if not sep or not name:
            raise ShellError(f"slot {word!r}: expected NAME=VALUE")
        slots[name] = value
    return UserTurn.with_intent(words[0], slots)


def parse_line(line: str, free_text: FreeText) -> UserTurn | Literal["quit"] | None:
    """A turn, "quit", or None for a blank line."""
    text = line.strip()
    if not text:
        return None
    if not text.startswith("/"):
        return free_text.say(text)
    try:
        command, *words = shlex.split(text[1:])
    except ValueError as exc:
        raise ShellError(str(exc)) from None
    if command in ("quit", "exit"):
        return "quit"
    if command in SESSION_COMMANDS:
        return SESSION_COMMANDS[command]
    if command == "intent":
        return _intent(words)
    if command in BUILTIN_SHORTCUTS:
        return UserTurn.with_intent(BUILTIN_SHORTCUTS[command])
    raise ShellError(f"unknown command /{command}")
