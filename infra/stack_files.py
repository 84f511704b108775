"""The plain settings of a stack as its files hold them, for tools that run without the Pulumi CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PROJECT = "cek-proxy"
ROOT = Path(__file__).resolve().parent.parent


def project_config(root: Path = ROOT) -> dict[str, Any]:
    """The `config:` declarations of Pulumi.yaml."""
    declared: dict[str, Any] = yaml.safe_load((root / "Pulumi.yaml").read_text())["config"]
    return declared


def stack_file_config(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """The `config:` of Pulumi.<stack>.yaml, keys without the project prefix."""
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise FileNotFoundError(f"no stack file {stack_file.name} in {root}")
    values: dict[str, Any] = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    return {key.removeprefix(f"{PROJECT}:"): value for key, value in values.items()}


def plain_settings(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """The declared defaults, then the stack file (secrets are not among them)."""
    defaults = {key: spec["default"] for key, spec in project_config(root).items() if "default" in spec}
    return defaults | stack_file_config(stack, root)
