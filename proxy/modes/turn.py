"""The shared shape of a handled CEK turn, and the responses every mode can fall back to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from proxy.accounts.linking import Account
from proxy.cek.request import CekRequest
from proxy.cek.response import cek_response
from proxy.config_file import FileConfig, LocalizedText
from proxy.json_codec import json_bytes


@dataclass(frozen=True)
class TurnResult:
    body: bytes
    outcome: str


class TurnHandler(Protocol):
    async def respond(
        self, cek: CekRequest, raw: bytes, headers: Mapping[str, str], account: Account
    ) -> TurnResult:
        """Answer one verified CEK request; never raises for upstream trouble (it apologises instead)."""


class Voice:
    """Builds CEK responses in the request's language from the configured messages."""

    def __init__(self, config: FileConfig) -> None:
        self.config = config
        self.messages = config.messages

    def say(
        self,
        cek: CekRequest,
        texts: Sequence[str],
        outcome: str,
        *,
        end_session: bool,
        reprompt: str | None = None,
        session_attributes: Mapping[str, Any] | None = None,
    ) -> TurnResult:
        document = cek_response(
            texts,
            cek.language(self.config.default_language),
            end_session=end_session,
            reprompt=reprompt,
            session_attributes=session_attributes,
            version=cek.version,
        )
        return TurnResult(json_bytes(document), outcome)

    def text(self, cek: CekRequest, message: LocalizedText) -> str:
        return message[cek.language(self.config.default_language)]

    def apology(self, cek: CekRequest, outcome: str) -> TurnResult:
        return self.say(cek, [self.text(cek, self.messages.apology)], outcome, end_session=True)

    def login_prompt(self, cek: CekRequest) -> TurnResult:
        """Ask the user to link an account in the CLOVA app; there is no CEK directive for it."""
        return self.say(cek, [self.text(cek, self.messages.login_prompt)], "login_prompt", end_session=True)

    def silence(self, cek: CekRequest, outcome: str) -> TurnResult:
        """CEK's minimal valid response: nothing to say, session over."""
        return self.say(cek, [], outcome, end_session=True)
