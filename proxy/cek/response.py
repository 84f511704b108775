"""CEK response documents: building speech and checking what a passthrough backend returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from proxy.config_file import Language

SPEECH_TYPES = frozenset({"SimpleSpeech", "SpeechList", "SpeechSet"})
INFO_TYPES = frozenset({"PlainText", "URL"})
LANGS = frozenset({"ko", "ja", "en", ""})
INFO_OPTIONAL_STRINGS = ("contentType", "token")  # KR's SpeechInfoObject


def _info(text: str, lang: Language) -> dict[str, str]:
    return {"type": "PlainText", "lang": lang, "value": text}


def output_speech(texts: Sequence[str], lang: Language) -> dict[str, Any]:
    """`SimpleSpeech` for one text, `SpeechList` for several, `{}` (the references' silence) for none."""
    items = [_info(text, lang) for text in texts]
    if not items:
        return {}
    if len(items) == 1:
        return {"type": "SimpleSpeech", "values": items[0]}
    return {"type": "SpeechList", "values": items}


def cek_response(
    texts: Sequence[str],
    lang: Language,
    *,
    end_session: bool,
    reprompt: str | None = None,
    session_attributes: Mapping[str, Any] | None = None,
    version: str = "1.0",
) -> dict[str, Any]:
    """A complete CEK response; with no texts it is the minimal valid (silent) one, `"outputSpeech": {}`.

    The caller keeps `texts` within the limits (`proxy.cek.speech_limits`).
    """
    response: dict[str, Any] = {
        "outputSpeech": output_speech(texts, lang),
        "card": {},
        "directives": [],
        "shouldEndSession": end_session,
    }
    if reprompt and not end_session:
        response["reprompt"] = {"outputSpeech": output_speech([reprompt], lang)}
    return {"version": version, "sessionAttributes": dict(session_attributes or {}), "response": response}


def _optional_str(document: dict[str, Any], key: str) -> bool:
    return isinstance(document.get(key, ""), str)


def _valid_info(value: Any) -> bool:
    """A SpeechInfoObject; KR's optional `contentType` (HLS) and `token` are strings when present."""
    return (
        isinstance(value, dict)
        and value.get("type") in INFO_TYPES
        and value.get("lang", "") in LANGS
        and isinstance(value.get("value"), str)
        and all(_optional_str(value, key) for key in INFO_OPTIONAL_STRINGS)
    )


def _valid_values(speech_type: Any, values: Any) -> bool:
    if speech_type == "SimpleSpeech":
        return _valid_info(values)
    if speech_type == "SpeechList":
        return isinstance(values, list) and all(_valid_info(item) for item in values)
    return False


def _valid_speech(speech: Any) -> bool:
    if not isinstance(speech, dict) or speech.get("type") not in SPEECH_TYPES:
        return False
    if speech["type"] == "SpeechSet":
        verbose = speech.get("verbose")
        return (
            _valid_info(speech.get("brief"))
            and isinstance(verbose, dict)
            and _valid_values(verbose.get("type"), verbose.get("values"))
        )
    return _valid_values(speech["type"], speech.get("values"))


def _valid_directive(directive: Any) -> bool:
    """`{header: {namespace, name, messageId?}, payload: {...}}`, of any name (some need an agreement)."""
    if not isinstance(directive, dict) or not isinstance(directive.get("payload"), dict):
        return False
    header = directive.get("header")
    return (
        isinstance(header, dict)
        and all(isinstance(header.get(key), str) and header[key] for key in ("namespace", "name"))
        and _optional_str(header, "messageId")
    )


def is_valid_cek_response(document: Any) -> bool:
    """True for a JSON document the CEK references allow as an extension response.

    `"outputSpeech": {}` says nothing: the references' own directive-only answers (AudioPlayer.Play,
    PlaybackController.*) have it. An absent `outputSpeech` is tolerated (the Java SDK's
    `CEKResponse.empty()` sends none).
    """
    if not isinstance(document, dict) or not isinstance(document.get("response"), dict):
        return False
    if not isinstance(document.get("sessionAttributes", {}), dict):
        return False
    response = document["response"]
    if not isinstance(response.get("shouldEndSession"), bool) or not isinstance(
        response.get("card", {}), dict
    ):
        return False
    speech = response.get("outputSpeech", {})
    if speech != {} and not _valid_speech(speech):
        return False
    reprompt = response.get("reprompt")
    if reprompt is not None and not (
        isinstance(reprompt, dict) and _valid_speech(reprompt.get("outputSpeech"))
    ):
        return False
    directives = response.get("directives", [])
    return isinstance(directives, list) and all(_valid_directive(d) for d in directives)
