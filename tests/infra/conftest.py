"""The Pulumi program recorded under mocks, once per stack, with a unique marker for every secret."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from infra.settings import SECRET_KEYS
from proxy.simulator.keys import PUBLIC_KEY_NAME, create_dev_key
from tests.conftest import watch_secret
from tests.support import pulumi_program
from tests.support.pulumi_program import ROOT, Recording

STACKS = ("dev", "staging", "prod")
SECRET_MARKERS = {key: watch_secret(f"marker-{key}-{secrets.token_hex(8)}") for key in SECRET_KEYS}
# Unset, buildPlatform is asked from the target engine; these tests run with no engine at all.
TARGET = {"buildPlatform": "linux/amd64"}


def record_stack(
    stack: str, secret_values: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> Recording:
    """The program's recording for `stack`, built for `TARGET`."""
    return pulumi_program.record_stack(stack, secret_values, {**TARGET, **(overrides or {})})


DEV_KEY_DIR = ROOT / ".cek-dev"


@pytest.fixture(scope="session", autouse=True)
def dev_stack_key() -> None:
    """The development key the dev stack trusts, created as `cek-proxy dev-key` would when missing."""
    if not (DEV_KEY_DIR / PUBLIC_KEY_NAME).exists():
        create_dev_key(DEV_KEY_DIR)


@pytest.fixture(scope="session")
def record() -> Callable[[str], Recording]:
    """The recording of a stack's real config (each stack runs once per session)."""

    recordings: dict[str, Recording] = {}

    def get(stack: str) -> Recording:
        if stack not in recordings:
            recordings[stack] = record_stack(stack, SECRET_MARKERS)
        return recordings[stack]

    return get


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def recording(record: Callable[[str], Recording], stack: str) -> Recording:
    return record(stack)
