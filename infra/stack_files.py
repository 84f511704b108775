"""The plain settings of a stack as its files hold them, for tools that run without the Pulumi CLI."""

from __future__ import annotations

from typing import Any

import yaml

from infra.settings import ROOT

PROJECT = "cek-proxy"


def project_config() -> dict[str, Any]:
    """The `config:` declarations of Pulumi.yaml."""
    declared: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    return declared


def stack_file_config(stack: str) -> dict[str, Any]:
    """The `config:` of Pulumi.<stack>.yaml, keys without the project prefix."""
    values: dict[str, Any] = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {key.removeprefix(f"{PROJECT}:"): value for key, value in values.items()}


def plain_settings(stack: str) -> dict[str, Any]:
    """The declared defaults, then the stack file (secrets are not among them)."""
    defaults = {key: spec["default"] for key, spec in project_config().items() if "default" in spec}
    return defaults | stack_file_config(stack)
