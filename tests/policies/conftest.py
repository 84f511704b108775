"""Every policy test runs as the engine runs the pack: a Pulumi.yaml, the stack config and its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.project import PROJECT_FILE_ENV
from tests.policies.support import PROJECT_YAML, PULUMI_CONFIG


@pytest.fixture
def project_file(tmp_path: Path) -> Path:
    path = tmp_path / "Pulumi.yaml"
    path.write_text(PROJECT_YAML)
    return path


@pytest.fixture(autouse=True)
def engine_env(monkeypatch: pytest.MonkeyPatch, project_file: Path) -> None:
    """The environment the engine gives the policy process, plus where Pulumi.yaml is."""
    monkeypatch.setenv(PROJECT_FILE_ENV, str(project_file))
    monkeypatch.setenv("PULUMI_CONFIG", PULUMI_CONFIG)
    monkeypatch.setenv("PULUMI_STACK", "dev")
    monkeypatch.setenv("PULUMI_PROJECT", "cek-proxy")
