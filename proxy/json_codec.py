"""JSON out: compact UTF-8 bytes from orjson, for answers, chatbot requests and log lines.

orjson writes what `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` wrote, several
times faster. It refuses what cannot be UTF-8 (a lone surrogate), non-string keys and integers
past 64 bits with `orjson.JSONEncodeError`, a `TypeError`; the documents the proxy builds hold none.
"""

from __future__ import annotations

from typing import Any

import orjson

EncodeError = orjson.JSONEncodeError


def json_bytes(document: Any) -> bytes:
    return orjson.dumps(document)
