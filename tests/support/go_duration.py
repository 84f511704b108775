"""Go's `time.Duration`, as the docker provider parses (`time.ParseDuration`) and prints (`String()`) it."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_SECOND = 10**9


def duration_ns(value: str | float | None) -> int | None:
    """`"1m30s"` -> 90_000_000_000 (numbers are taken as nanoseconds already)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    if value == "0":
        return 0
    parts = _PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"not a duration: {value!r}")
    return int(sum(float(number) * _UNIT_NS[unit] for number, unit in parts))


def go_string(nanoseconds: int) -> str:
    """What Go's `time.Duration.String()` prints: `1m0s`, `1h0m0s`, `1.5s`, `250ms`."""
    sign, value = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)
    if value == 0:
        return "0s"
    if value < _SECOND:
        for unit, scale in (("ms", 10**6), ("µs", 10**3)):
            if value >= scale:
                return f"{sign}{_decimal(value, scale)}{unit}"
        return f"{sign}{value}ns"
    seconds = value // _SECOND
    text = f"{_decimal(value % (60 * _SECOND), _SECOND)}s"
    if seconds >= 60:
        text = f"{seconds // 60 % 60}m{text}"
    if seconds >= 3600:
        text = f"{seconds // 3600}h{text}"
    return sign + text


def _decimal(value: int, scale: int) -> str:
    whole, fraction = divmod(value, scale)
    digits = f"{fraction:0{len(str(scale)) - 1}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)
