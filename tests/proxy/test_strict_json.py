"""The orjson fast path of `parse_json` judges every document exactly as the reference parser does."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.strict_json import InvalidJsonError, parse_json, reference_parse_json
from tests.support.cek import GENUINE_BODY, intent

DOCUMENTS = {
    "cek-intent": intent("AskOrderStatus", {"product": "무선 이어폰"}),
    "genuine-sample": GENUINE_BODY,
    "repeated-name": b'{"a": 1, "a": 2}',
    "repeated-name-nested": b'{"x": {"t": "12:00", "b": [1, {"c": "d", "c": "d"}]}}',
    "repeated-name-with-colons": b'{"a": "x:y:z", "a": "w"}',
    # a dropped member (one colon fewer) balanced by an escaped colon (one more once decoded)
    "repeated-name-hidden-by-escaped-colon": b'{"a": 1, "a": "\\u003a"}',
    "escaped-colon": b'{"url": "https\\u003A//example.com"}',
    "colons-in-strings": b'{"time": "2024-05-01T09:00:12Z", "k:ey": "a:b"}',
    "integer-64-bit": b"[9223372036854775807, -9223372036854775808, 18446744073709551615]",
    "integer-past-64-bit": b"[18446744073709551616, 99999999999999999999999]",
    "integer-5000-digits": b"9" * 5000,
    "float-overflow": b"1e400",
    "floats": b"[1.5, -0.0, 1e-7, 2.5E+10, 0.1]",
    "deep-300": b"[" * 300 + b"]" * 300,
    "deep-10000": b"[" * 10_000 + b"]" * 10_000,
    "nan": b"NaN",
    "infinity": b"[-Infinity]",
    "lone-surrogate-escape": b'"\\ud800"',
    "paired-surrogate-escape": b'"\\ud83d\\ude00"',
    "encoded-surrogate": b'"\xed\xa0\x80"',
    "latin-1": b'"caf\xe9"',
    "byte-order-mark": b"\xef\xbb\xbf{}",
    "control-character": b'"a\tb"',
    "trailing-comma": b"[1,]",
    "trailing-text": b"{} x",
    "empty": b"",
    "whitespace": b" \r\n\t{} \n",
    "leading-zero": b"01",
}


def _outcome(parse: Any, raw: bytes) -> tuple[str, Any]:
    try:
        document = parse(raw)
    except InvalidJsonError:
        return ("refused", None)
    return ("parsed", repr(document))  # repr tells 1 from 1.0 and -0.0 from 0.0


@pytest.mark.parametrize("raw", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_the_fast_path_agrees_with_the_reference(raw: bytes) -> None:
    assert _outcome(parse_json, raw) == _outcome(reference_parse_json, raw)


@pytest.mark.parametrize("name", [n for n in DOCUMENTS if n.startswith("repeated-name")])
def test_a_repeated_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidJsonError):
        parse_json(DOCUMENTS[name])
