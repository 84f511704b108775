"""Suite-wide guards: every log line written during a test is checked for secrets and tokens."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from proxy.logs import JsonFormatter
from tests.support.cek import SAMPLE_TOKENS

# Values that tests plant; none may ever reach a log line.
WATCHED_SECRETS: set[str] = set(SAMPLE_TOKENS)


def watch_secret(value: str) -> str:
    """Register a secret or token a test uses, so the log guard looks for it."""
    WATCHED_SECRETS.add(value)
    return value


@pytest.fixture(autouse=True)
def logs_never_leak() -> Iterator[io.StringIO]:
    """Capture everything logged at DEBUG and fail the test if a watched value appears."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    text = buffer.getvalue()
    leaked = sorted(value for value in WATCHED_SECRETS if value and value in text)
    assert not leaked, f"{len(leaked)} secret or token value(s) appeared in the logs"
