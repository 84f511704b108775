"""Parsing JSON from the wire strictly, so that no input can raise anything but `InvalidJsonError`.

Python's `json.loads` accepts bytes with encoded surrogates (it decodes with `surrogatepass`),
`NaN`/`Infinity`, and escaped lone surrogates; it raises `RecursionError` on deep nesting and a
plain `ValueError` on integers over the interpreter's digit limit. Each of those used to surface
later as a 500 or an apology after a `UnicodeEncodeError`. Here they are all one refusal. So is a
name repeated in an object, which different parsers read differently: a document the proxy checks
and then relays (a passthrough answer) must mean to CEK what it meant to the check.

The reference parser below (`json.loads` with those checks) decides every case. orjson, about five
times faster, answers first for the documents it can judge exactly as the reference would: it
refuses everything the reference refuses except repeated names (it keeps the last one), and it
reads integers past 64 bits as floats. So its answer is taken only when the body has no run of 19
digits and no escaped colon, and when its document, written out again, has as many colons as the
body: every member of every object is one colon, so a member dropped for a repeated name shows as
one colon fewer. Anything else, orjson's refusals included, goes to the reference parser.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import orjson

# Lone surrogates can only come from `\uD8xx`-style escapes once the bytes are strict UTF-8.
_SURROGATE_ESCAPE_PREFIXES = ("\\ud8", "\\ud9", "\\uda", "\\udb", "\\udc", "\\udd", "\\ude", "\\udf")
# Every digit becomes "0", every other byte "."; a run of this many zeros is a number orjson may
# read as a float where the reference reads an integer (64 bits hold 19 digits and some of 20).
_DIGITS = bytes(ord("0") if chr(b).isdigit() and b < 128 else ord(".") for b in range(256))
_LONG_NUMBER = b"0" * 19
_ESCAPED_COLON_PREFIX = b"\\u003"  # \u003a or \u003A (and the other \u003x, to be simple)


class InvalidJsonError(ValueError):
    """The bytes are not one strict UTF-8 JSON document the proxy can safely handle."""


def parse_json(raw: bytes) -> Any:
    """The document in `raw`, or InvalidJsonError (bad UTF-8, deep nesting, huge integers, NaN...)."""
    if _ESCAPED_COLON_PREFIX not in raw and _LONG_NUMBER not in raw.translate(_DIGITS):
        try:
            document = orjson.loads(raw)
            if orjson.dumps(document).count(b":") == raw.count(b":"):
                return document
        except (orjson.JSONDecodeError, orjson.JSONEncodeError):
            pass  # the reference parser decides, and names the reason
    return reference_parse_json(raw)


def _no_constants(name: str) -> NoReturn:
    raise InvalidJsonError(f"{name} is not JSON")


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise InvalidJsonError("an object repeats a name")
    return document


def reference_parse_json(raw: bytes) -> Any:
    """`parse_json` by the standard library alone: slower, and the judge of every case."""
    try:
        text = raw.decode("utf-8")
        document = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_names)
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
