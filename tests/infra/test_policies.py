"""The program's resources, recorded for every stack, pass every policy of the pack in policies/."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

from policies import runner, workloads
from tests.infra.conftest import SECRET_MARKERS, record_stack
from tests.support.pulumi_program import SECRET, Recording, pulumi_config, stack_config


def wire(value: Any) -> Any:
    """A recorded input as the engine hands it to policies: secrets in Pulumi's wire wrapper."""
    if isinstance(value, dict) and SECRET in value:
        return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": wire(value[SECRET])}
    if isinstance(value, dict):
        return {key: wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [wire(item) for item in value]
    return value


def violations(
    recording: Recording, stack: str, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, Any] | None = None
) -> list[str]:
    """Every policy run over the recording, as the engine would run them at `pulumi up`."""
    # As the engine does: the stack config (secrets decrypted) and the stack name in the environment.
    config = stack_config(stack, SECRET_MARKERS, overrides or {})
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(pulumi_config(config)))
    monkeypatch.setenv("PULUMI_STACK", stack)
    records = [
        (
            resource["type"],
            resource["name"],
            wire(resource["inputs"]),
            # pulumi_docker marks a Secret's data as a secret output.
            runner.resource_options(["data"]) if resource["type"].endswith("/secret:Secret") else None,
        )
        for resource in recording.resources
        if resource["custom"]
    ]
    records.append((workloads.STACK, f"cek-proxy-{stack}", recording.outputs, None))
    return [str(violation) for violation in runner.run_policies(records)]


def test_the_program_passes_every_policy(
    recording: Recording, stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert violations(recording, stack, monkeypatch) == []


def test_prod_refuses_cek_keys_other_than_clovas(monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = {"cekPublicKeyFiles": ["tests/fixtures/cek-samples/clova-signature-public-key.pem"]}
    found = violations(record_stack("prod", SECRET_MARKERS, overrides), "prod", monkeypatch, overrides)
    assert len(found) == 1
    assert "prod-proxy-trusts-only-clova-key" in found[0]
    staging = violations(
        record_stack("staging", SECRET_MARKERS, overrides), "staging", monkeypatch, overrides
    )
    assert staging == []
