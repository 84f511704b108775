"""Stack-config pre-check: no secret stored as plain text in Pulumi.yaml or a Pulumi.<stack>.yaml.

    python -m policies.check_config [paths...]

With no paths it checks the repository's Pulumi.yaml and every Pulumi.<stack>.yaml beside it.
Errors: a key Pulumi.yaml declares `secret: true` stored as plain text, or with a default; a key
whose name looks secret, or a value that looks secret (private keys, tokens, passwords), stored as
plain text; a secret-looking key not declared `secret: true` (the policies would not watch it).
A finding names the file and the key, never the value. Exit status 1 on any finding, else 0.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from policies.detect import name_looks_secret, secret_value_kind
from policies.project import ConfigDeclaration, PolicyInputError, Project, load_project, read_yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILE_NAMES = ("Pulumi.yaml", "Pulumi.yml")


@dataclass(frozen=True)
class Finding:
    file: Path
    key: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.problem}" if self.key else f"{self.file}: {self.problem}"


def discover(root: Path) -> list[Path]:
    """Pulumi.yaml and every Pulumi.<stack>.yaml in `root`."""
    projects = [root / name for name in PROJECT_FILE_NAMES if (root / name).is_file()]
    return projects + sorted([*root.glob("Pulumi.*.yaml"), *root.glob("Pulumi.*.yml")])


def _plain_leaves(path: str, name: str, value: object) -> Iterator[tuple[str, str, object]]:
    """`(key path, key name, value)` for each plain-text leaf; `{secure: ...}` values are encrypted."""
    if isinstance(value, Mapping):
        if value.keys() != {"secure"}:
            for key, child in value.items():
                yield from _plain_leaves(f"{path}.{key}", str(key), child)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _plain_leaves(f"{path}[{index}]", name, child)
    elif value is not None and value != "":
        yield path, name, value


def _plain_reason(name: str, value: object, declared_secret: bool) -> str | None:
    """Why a plain-text value should have been a secret, or None."""
    if declared_secret:
        return "it is declared `secret: true` in Pulumi.yaml"
    if name_looks_secret(name):
        return "its name looks secret"
    kind = secret_value_kind(str(value))
    return f"the value looks like {kind}" if kind else None


def _key_name(key: str) -> str:
    return key.rsplit(":", 1)[-1]


def _set_secret_hint(key: str, path: str) -> str:
    if path == key:
        return f"set it with `pulumi config set --secret {key}`"
    return f"set it with `pulumi config set --secret --path '{path}'`"


def _declaration_problems(declaration: ConfigDeclaration) -> Iterator[tuple[str, str]]:
    key = declaration.key
    hint = _set_secret_hint(key, key)
    if declaration.secret:
        if declaration.has_default:
            yield key, f"declared `secret: true` but has a default; remove the default and {hint}"
        return
    if name_looks_secret(_key_name(key)):
        yield (
            key,
            "looks secret but is not declared `secret: true`; declare it so the policies watch its value",
        )
    for leaf_path, name, value in _plain_leaves(key, _key_name(key), declaration.default):
        reason = _plain_reason(name, value, declared_secret=False)
        if reason:
            yield leaf_path, f"plain-text default but {reason}; remove the default and {hint}"


def _value_problems(key: str, value: object, declared_secret: bool) -> Iterator[tuple[str, str]]:
    for leaf_path, name, leaf in _plain_leaves(key, _key_name(key), value):
        reason = _plain_reason(name, leaf, declared_secret)
        if reason:
            yield leaf_path, f"stored as plain text but {reason}; {_set_secret_hint(key, leaf_path)}"


def check_project_file(path: Path) -> list[Finding]:
    declarations = load_project(path).declarations
    return [Finding(path, key, problem) for d in declarations for key, problem in _declaration_problems(d)]


def check_stack_file(path: Path, project: Project | None) -> list[Finding]:
    document = read_yaml(path)
    config = document.get("config") if isinstance(document, Mapping) else None
    if not isinstance(config, Mapping):
        return []
    secret_keys = project.secret_keys if project else frozenset()
    return [
        Finding(path, leaf_path, problem)
        for key, value in config.items()
        for leaf_path, problem in _value_problems(
            str(key), value, (project.full_key(str(key)) if project else str(key)) in secret_keys
        )
    ]


def _project_beside(path: Path) -> Project | None:
    for name in PROJECT_FILE_NAMES:
        if (path.parent / name).is_file():
            return load_project(path.parent / name)
    return None


def check_file(path: Path) -> list[Finding]:
    try:
        if path.name in PROJECT_FILE_NAMES:
            return check_project_file(path)
        return check_stack_file(path, _project_beside(path))
    except PolicyInputError as exc:
        return [Finding(Path(exc.source), "", exc.problem)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m policies.check_config", description="No secret stored as plain text in stack config."
    )
    parser.add_argument("paths", nargs="*", type=Path, help="files to check (default: the repository's)")
    paths: list[Path] = parser.parse_args(argv).paths or discover(REPO_ROOT)
    if not paths:
        print(
            f"stack config pre-check: no Pulumi.yaml or Pulumi.<stack>.yaml in {REPO_ROOT}, nothing to check"
        )
        return 0
    findings = [finding for path in paths for finding in check_file(path)]
    for finding in findings:
        print(finding, file=sys.stderr)
    print(f"stack config pre-check: {len(paths)} file(s) checked, {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
