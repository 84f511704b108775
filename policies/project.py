"""The Pulumi project's config declarations and the stack the engine runs the policies for.

`Pulumi.yaml` declares each config key, the secret ones with `secret: true`. The engine hands the
policy process the stack's config, secrets decrypted, as JSON in `PULUMI_CONFIG`, and the stack's
name in `PULUMI_STACK`, but not which keys were `secure:`; matching the two tells the policies which
values must never appear outside a Swarm secret.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

# Where the policies look for Pulumi.yaml; by default the repository root, the pack's parent folder.
PROJECT_FILE_ENV = "CEK_POLICIES_PROJECT_FILE"
DEFAULT_PROJECT_FILE = Path(__file__).resolve().parent.parent / "Pulumi.yaml"

# Fields of a config key's schema in Pulumi.yaml; a value that is not such a mapping is a default.
_SCHEMA_FIELDS = frozenset({"type", "description", "default", "secret", "items", "value"})


class PolicyInputError(ValueError):
    """Pulumi.yaml or `PULUMI_CONFIG` is missing or malformed (the message never quotes their content)."""

    def __init__(self, source: str | Path, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = str(source)
        self.problem = problem


@dataclass(frozen=True)
class ConfigDeclaration:
    """One key under `config:` in Pulumi.yaml, with its namespace (`cek-proxy:chatbotSecret`)."""

    key: str
    secret: bool
    has_default: bool
    default: object = None


@dataclass(frozen=True)
class Project:
    name: str
    declarations: tuple[ConfigDeclaration, ...]

    @property
    def secret_keys(self) -> frozenset[str]:
        return frozenset(declaration.key for declaration in self.declarations if declaration.secret)

    def full_key(self, key: str) -> str:
        return full_key(self.name, key)


def full_key(project: str, key: str) -> str:
    """Keys without a namespace belong to the project: `chatbotSecret` is `<project>:chatbotSecret`."""
    return key if ":" in key else f"{project}:{key}"


def project_file() -> Path:
    override = os.environ.get(PROJECT_FILE_ENV)
    return Path(override) if override else DEFAULT_PROJECT_FILE


def read_yaml(path: Path) -> object:
    """Parse a YAML file; errors name the file and line, never the text around it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyInputError(path, f"cannot be read ({exc.strerror or exc.__class__.__name__})") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise PolicyInputError(path, f"not valid YAML{where}") from None


def load_project(path: Path) -> Project:
    document = read_yaml(path)
    if not isinstance(document, Mapping) or not isinstance(document.get("name"), str):
        raise PolicyInputError(path, "not a Pulumi project file (no `name:`)")
    name = document["name"]
    config = document.get("config") or {}
    if not isinstance(config, Mapping):
        raise PolicyInputError(path, "`config:` is not a mapping")
    declarations = (_declaration(full_key(name, str(key)), entry) for key, entry in config.items())
    return Project(name, tuple(declarations))


def _declaration(key: str, entry: object) -> ConfigDeclaration:
    if isinstance(entry, Mapping) and entry.keys() <= _SCHEMA_FIELDS:
        default_field = "default" if "default" in entry else "value"
        return ConfigDeclaration(
            key, entry.get("secret") is True, default_field in entry, entry.get(default_field)
        )
    return ConfigDeclaration(key, secret=False, has_default=True, default=entry)


def stack_config() -> dict[str, str]:
    """The stack's config as the engine passes it (`PULUMI_CONFIG`), secrets decrypted."""
    try:
        config = json.loads(os.environ.get("PULUMI_CONFIG") or "{}")
    except json.JSONDecodeError as exc:
        raise PolicyInputError("PULUMI_CONFIG", f"not valid JSON (char {exc.pos})") from None
    if not isinstance(config, dict):
        raise PolicyInputError("PULUMI_CONFIG", "not a JSON object")
    return {key: value for key, value in config.items() if isinstance(value, str)}


def stack_name() -> str:
    """The short stack name (`prod`), also when the engine passes `org/project/prod`."""
    return os.environ.get("PULUMI_STACK", "").rsplit("/", 1)[-1]
