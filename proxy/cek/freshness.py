"""The freshness window for requests that carry their own time (CEK EventRequests).

Launch and Intent requests have no timestamp of their own (the idempotency window covers their
replays); an EventRequest does, so one signed too long ago, or too far in the future, is refused.
A request without a readable timestamp (the console's test traffic) is not checked.
"""

from __future__ import annotations

from datetime import datetime


def is_stale(timestamp: str | None, window: float, now: float) -> bool:
    """True when `timestamp` (ISO 8601) is more than `window` seconds away from `now` (epoch)."""
    if timestamp is None:
        return False
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError:
        return False
    if when.tzinfo is None:
        return False
    return abs(now - when.timestamp()) > window
