"""The batched log handler: lines carry the request id of when they were logged, none is lost."""

from __future__ import annotations

import io
import json
import logging

import pytest

from proxy.logs import BATCH_LINES, BatchedJsonHandler, log_fields, request_id


def test_queued_lines_are_written_on_close_with_the_request_id_they_were_logged_under() -> None:
    stream = io.BytesIO()
    handler = BatchedJsonHandler(stream)
    logger = logging.getLogger("tests.batched")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for number in range(BATCH_LINES * 3):
            token = request_id.set(f"rid-{number}")
            logger.warning("line", extra={"fields": {"number": number, "text": "\ud800"}})
            request_id.reset(token)
        logger.warning("after")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("number") for line in lines] == [*range(BATCH_LINES * 3), None]
    assert all(line["request_id"] == f"rid-{line['number']}" for line in lines[:-1])
    assert "request_id" not in lines[-1]
    assert lines[0]["text"] == "\ud800"  # escaped, as json writes it, rather than lost


@pytest.mark.parametrize("alone", [True, False], ids=["queued-directly", "through-logging"])
def test_log_fields_writes_the_line_logger_info_would(alone: bool, logs_never_leak: io.StringIO) -> None:
    """With the batched handler alone at the root the line skips the LogRecord; with another handler
    there (the suite's guard), it goes through logging; the line is the same either way."""
    stream = io.BytesIO()
    handler = BatchedJsonHandler(stream)
    root = logging.getLogger()
    before = root.handlers[:]
    root.handlers[:] = [handler] if alone else [*before, handler]
    token = request_id.set("rid-1")
    try:
        log_fields(logging.getLogger("tests.access"), "request", {"status": 200, "path": "/cek"})
    finally:
        request_id.reset(token)
        root.handlers[:] = before
        handler.close()
    [line] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert line.pop("time")
    assert line == {
        "level": "info",
        "logger": "tests.access",
        "message": "request",
        "request_id": "rid-1",
        "status": 200,
        "path": "/cek",
    }
    assert ('"path":"/cek"' in logs_never_leak.getvalue()) != alone
