"""Parsing JSON from the wire strictly, so that no input can raise anything but `InvalidJsonError`.

Python's `json.loads` accepts bytes with encoded surrogates (it decodes with `surrogatepass`),
`NaN`/`Infinity`, and escaped lone surrogates; it raises `RecursionError` on deep nesting and a
plain `ValueError` on integers over the interpreter's digit limit. Each of those used to surface
later as a 500 or an apology after a `UnicodeEncodeError`. Here they are all one refusal.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

# Lone surrogates can only come from `\uD8xx`-style escapes once the bytes are strict UTF-8.
_SURROGATE_ESCAPE_PREFIXES = ("\\ud8", "\\ud9", "\\uda", "\\udb", "\\udc", "\\udd", "\\ude", "\\udf")


class InvalidJsonError(ValueError):
    """The bytes are not one strict UTF-8 JSON document the proxy can safely handle."""


def _no_constants(name: str) -> NoReturn:
    raise InvalidJsonError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """The document in `raw`, or InvalidJsonError (bad UTF-8, deep nesting, huge integers, NaN...)."""
    try:
        text = raw.decode("utf-8")
        document = json.loads(text, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidJsonError(type(exc).__name__) from None
    if _may_hold_surrogates(text):
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, RecursionError) as exc:
            raise InvalidJsonError(type(exc).__name__) from None
    return document


def _may_hold_surrogates(text: str) -> bool:
    if "\\u" not in text:
        return False
    lowered = text.lower()
    return any(prefix in lowered for prefix in _SURROGATE_ESCAPE_PREFIXES)
