"""What the speaker would do with a CEK response: say its speech, keep the reprompt, end or listen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.cek.response import is_valid_cek_response


@dataclass(frozen=True)
class Answer:
    speech: tuple[str, ...]
    reprompt: tuple[str, ...]
    ends_session: bool
    session_attributes: dict[str, Any] = field(default_factory=dict)
    lang: str = ""

    @property
    def text(self) -> str:
        return " ".join(self.speech)

    @property
    def reprompt_text(self) -> str:
        return " ".join(self.reprompt)


class NotCekError(ValueError):
    """The document is not a CEK response CEK would accept."""


def _info_text(info: Any) -> str:
    if info.get("type") == "URL":
        return f"[audio {info.get('value', '')}]"
    return str(info.get("value", ""))


def _values(speech: dict[str, Any]) -> list[dict[str, Any]]:
    """The SpeechInfoObjects in the order a screen-less speaker says them."""
    if speech.get("type") == "SpeechSet":
        verbose = speech.get("verbose") or {}
        return [speech["brief"], *_values(verbose)]
    values = speech.get("values")
    if isinstance(values, dict):
        return [values]
    return list(values or [])


def _speech(speech: Any) -> tuple[tuple[str, ...], str]:
    if not isinstance(speech, dict) or not speech:
        return (), ""
    values = _values(speech)
    lang = next((str(v.get("lang")) for v in values if v.get("lang")), "")
    return tuple(_info_text(v) for v in values), lang


def read_answer(document: Any) -> Answer:
    if not is_valid_cek_response(document):
        raise NotCekError("not a valid CEK response")
    response = document["response"]
    speech, lang = _speech(response.get("outputSpeech"))
    reprompt, _ = _speech((response.get("reprompt") or {}).get("outputSpeech"))
    return Answer(
        speech, reprompt, response["shouldEndSession"], dict(document.get("sessionAttributes", {})), lang
    )


def render(answer: Answer) -> str:
    """The answer as the console shows it."""
    lines = [f"clova> {text}" for text in answer.speech] or ["clova> (silence)"]
    if answer.reprompt:
        lines.append(f"       reprompt: {answer.reprompt_text}")
    lines.append("       [session ends]" if answer.ends_session else "       [listening]")
    return "\n".join(lines)
