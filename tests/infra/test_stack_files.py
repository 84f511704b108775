"""Pulumi.yaml declares every setting; the stack files set only declared, non-secret settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings import SECRET_KEYS
from infra.stack_files import PROJECT, project_config
from tests.infra.conftest import STACKS
from tests.support.pulumi_program import ROOT

TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "integer": int, "boolean": bool, "array": list}


def stack_file(stack: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return loaded


def test_the_project_runs_infra_with_the_project_virtualenv() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert Path(ROOT / project["main"] / "__main__.py").is_file()


def test_every_declared_setting_has_a_description_a_type_and_a_fitting_default() -> None:
    for key, spec in project_config().items():
        assert spec.get("description"), key
        assert spec["type"] in TYPES, key
        if "default" in spec:
            assert isinstance(spec["default"], TYPES[spec["type"]]), key


def test_secrets_are_declared_secret_without_default() -> None:
    declared = {key for key, spec in project_config().items() if spec.get("secret")}
    assert declared == set(SECRET_KEYS)
    assert all("default" not in project_config()[key] for key in declared)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_set_only_declared_settings_and_secrets_only_encrypted(stack: str) -> None:
    """The committed files hold plain settings; `pulumi config set --secret` adds `secure:` values
    (and the passphrase provider an encryption salt), which is the only form a secret may take."""
    declared = project_config()
    content = stack_file(stack)
    assert set(content) <= {"config", "encryptionsalt", "secretsprovider", "encryptedkey"}
    for name, value in content["config"].items():
        namespace, _, key = name.partition(":")
        where = f"Pulumi.{stack}.yaml: {name}"
        assert namespace == PROJECT, f"{where} is not a setting of this project"
        assert key in declared, f"{where} is not declared in Pulumi.yaml"
        if declared[key].get("secret"):
            assert isinstance(value, dict), f"{where} is a secret: set it with pulumi config set --secret"
            assert set(value) == {"secure"}, f"{where} is a secret: set it with pulumi config set --secret"
        else:
            assert isinstance(value, TYPES[declared[key]["type"]]), f"{where} has the wrong type"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_set_every_setting_without_default(stack: str) -> None:
    required = {
        key for key, spec in project_config().items() if "default" not in spec and not spec.get("secret")
    }
    assert required <= {name.partition(":")[2] for name in stack_file(stack)["config"]}
