"""The deploy command finds the stack's engine in the same settings the program's provider uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.engine import EngineError, EngineSettings, connect, engine_settings
from tests.support.pulumi_program import ROOT


def _project(tmp_path: Path, stack_config: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.prod.yaml").write_text(f"config:\n{stack_config}")
    return tmp_path


def test_a_stack_without_docker_host_uses_the_declared_default() -> None:
    assert engine_settings(ROOT, "dev") == EngineSettings(host="", ssh_opts=())


def test_the_stack_file_names_the_engine_and_its_ssh_options(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        "  cek-proxy:dockerHost: ssh://deploy@swarm.example.com\n"
        '  cek-proxy:dockerSshOpts: ["-o", "StrictHostKeyChecking=yes"]\n',
    )
    assert engine_settings(root, "prod") == EngineSettings(
        host="ssh://deploy@swarm.example.com", ssh_opts=("-o", "StrictHostKeyChecking=yes")
    )


def test_an_unknown_stack_is_an_error() -> None:
    with pytest.raises(EngineError, match=re.escape("no stack file Pulumi.nope.yaml")):
        engine_settings(ROOT, "nope")


def test_ssh_options_the_sdk_cannot_pass_are_refused_not_dropped() -> None:
    settings = EngineSettings(host="ssh://deploy@swarm.example.com", ssh_opts=("-i", "key"))
    with pytest.raises(EngineError, match=re.escape("~/.ssh/config")):
        connect(settings)
