"""External programs the tests need: present, or a loud skip (a failure in CI)."""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str, how: str) -> None:
    """Skip, naming what is missing and how to get it; in CI, fail instead: nothing skips silently."""
    message = f"{what} is missing: {how}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require(executable: str, how: str) -> str:
    path = shutil.which(executable)
    if path is None:
        missing(executable, how)
        raise AssertionError("unreachable")
    return path
