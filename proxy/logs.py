"""JSON log lines carrying the request id, written off the event loop in batches.

Only what a call site puts in `extra={"fields": {...}}` is written, next to the message, level,
logger and request id; call sites never pass bodies, tokens, signatures or secrets. Exceptions are
logged by type only: their messages can echo input.

On the event loop a log call only makes its record and queues it, with the request id of the
moment; a writer thread turns the queue into lines and writes them with one `write()` a batch,
every `WRITE_INTERVAL` or sooner when `BATCH_LINES` are waiting. What is queued is written at
exit (`logging.shutdown`, run at interpreter exit, closes the handler); a process killed outright
loses at most the last interval's lines. The access log's line (`log_fields`) skips even the record
when that handler is the only place it would go.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
import time
from collections import deque
from typing import IO, Any, NamedTuple

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

WRITE_INTERVAL = 0.05
BATCH_LINES = 256
_CAPTURED = "request_id"  # the record attribute the id is captured in when the line is made later


class QueuedLine(NamedTuple):
    """A line queued without a LogRecord: what `_line` reads of one, taken when it was logged."""

    created: float
    levelname: str
    name: str
    message: str
    request_id: str | None
    fields: dict[str, Any]

    @property
    def msecs(self) -> float:
        return (self.created % 1) * 1000

    def getMessage(self) -> str:  # noqa: N802 - LogRecord's name
        return self.message


def _line(record: logging.LogRecord | QueuedLine) -> dict[str, Any]:
    line: dict[str, Any] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
    }
    if isinstance(record, QueuedLine):
        rid = record.request_id
    else:
        rid = record.__dict__[_CAPTURED] if _CAPTURED in record.__dict__ else request_id.get()
    if rid is not None:
        line["request_id"] = rid
    fields = getattr(record, "fields", None)
    if isinstance(fields, dict):
        line.update(fields)
    exc_info = getattr(record, "exc_info", None)
    if exc_info and exc_info[0] is not None:
        line["error_type"] = exc_info[0].__name__
    return line


def line_bytes(record: logging.LogRecord | QueuedLine) -> bytes:
    """The record's JSON line, without its newline."""
    line = _line(record)
    try:
        return orjson.dumps(line, default=str)
    except TypeError:
        # A value orjson refuses (a lone surrogate from a header, say): escaped, as json writes it.
        return json.dumps(line, default=str).encode()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return line_bytes(record).decode()


class BatchedJsonHandler(logging.Handler):
    """JSON lines queued by the logging thread and written by a writer thread of its own."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self._stream = stream
        self._queue: deque[logging.LogRecord | QueuedLine] = deque()
        self._wake = threading.Event()
        self._closing = False
        self._writer = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._writer.start()

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and queue, without the handler's lock: appending to a deque is atomic."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        record.__dict__[_CAPTURED] = request_id.get()
        self._enqueue(record)

    def queue_fields(self, logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
        """An INFO line with `fields`, as `logger.info(message, extra={"fields": fields})` would give."""
        self._enqueue(QueuedLine(time.time(), "INFO", logger.name, message, request_id.get(), fields))

    def _enqueue(self, item: logging.LogRecord | QueuedLine) -> None:
        self._queue.append(item)
        if len(self._queue) >= BATCH_LINES:
            self._wake.set()

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait(WRITE_INTERVAL)
            self._wake.clear()
            self._write_queued()

    def _write_queued(self) -> None:
        lines = []
        record: logging.LogRecord | QueuedLine | None = None
        try:
            while True:
                record = self._queue.popleft()
                lines.append(line_bytes(record))
        except IndexError:
            pass
        if not lines:
            return
        try:
            self._stream.write(b"\n".join(lines) + b"\n")
            self._stream.flush()
        except Exception:  # a closed or broken stream: the lines are lost, the service goes on
            self.handleError(record if isinstance(record, logging.LogRecord) else logging.makeLogRecord({}))

    def flush(self) -> None:
        if not self._writer.is_alive():
            self._write_queued()

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._writer.is_alive() and self._writer is not threading.current_thread():
            self._writer.join(timeout=5)
        self._write_queued()
        super().close()


def _sole_handler(logger: logging.Logger) -> BatchedJsonHandler | None:
    """The batched handler, when it is the only handler an INFO line of `logger` reaches and
    nothing on the way filters."""
    current: logging.Logger | None = logger
    while current is not None and current.parent is not None:  # up to the root
        if current.handlers or current.filters or not current.propagate:
            return None
        current = current.parent
    handlers = logging.root.handlers
    if current is None or current.filters or len(handlers) != 1:
        return None
    handler = handlers[0]
    if type(handler) is not BatchedJsonHandler or handler.filters or handler.level > logging.INFO:
        return None
    return handler


def log_fields(logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """`logger.info(message, extra={"fields": fields})`, queued without a LogRecord where it can be."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _sole_handler(logger)
    if handler is None:
        logger.info(message, extra={"fields": fields})
    else:
        handler.queue_fields(logger, message, fields)


def _binary(stream: IO[str] | None) -> IO[bytes]:
    target = stream or sys.stderr
    binary: IO[bytes] | None = getattr(target, "buffer", None)
    if binary is None:
        raise ValueError("the log stream has no binary buffer")
    return binary


def configure_logging(level: str, stream: IO[str] | None = None) -> None:
    """JSON lines to `stream` (stderr by default), from the writer thread."""
    # None of these record fields is written; not filling them in saves a stack walk and lookups.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [BatchedJsonHandler(_binary(stream))]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").disabled = True  # the access middleware logs requests itself
