"""Strict JSON: UTF-8 only, no `NaN`/`Infinity`, no repeated names.

`json.loads` on bytes also takes UTF-16, UTF-32 and a byte order mark, and reads `NaN` and
`Infinity`, which are not JSON (RFC 8259); a repeated name means different things to different
parsers. A document the proxy relays as `application/json;charset=UTF-8` must read the same to
every peer, so it must pass this first.
"""

from __future__ import annotations

import json
from typing import Any


class StrictJsonError(ValueError):
    """The bytes are not strict UTF-8 JSON."""


def _refuse_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not JSON")


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise StrictJsonError("an object repeats a name")
    return document


def loads_strict(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")  # strict: no BOM stripping, no other encoding guessed
    except UnicodeDecodeError as exc:
        raise StrictJsonError("not UTF-8") from exc
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_names)
    except json.JSONDecodeError as exc:  # a leading BOM lands here too
        raise StrictJsonError(f"not JSON: {exc.msg}") from exc
