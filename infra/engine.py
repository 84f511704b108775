"""The Docker engine a stack deploys to, read from its config files, for the commands that run beside Pulumi.

`python -m infra.converge` must talk to the engine the program's docker provider used: the
`dockerHost` of `Pulumi.<stack>.yaml`, else its default in `Pulumi.yaml` (as the Pulumi CLI resolves
them; neither is a secret, so no CLI or passphrase is needed to read them). An empty host means
`DOCKER_HOST`, else the local socket, as for the provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import yaml

PROJECT = "cek-proxy"


class EngineError(RuntimeError):
    """The stack's engine settings cannot be read or used."""


@dataclass(frozen=True)
class EngineSettings:
    host: str
    ssh_opts: tuple[str, ...]


def stack_setting(root: Path, stack: str, key: str) -> Any:
    """A plain setting of the stack: `Pulumi.<stack>.yaml`, else the default `Pulumi.yaml` declares."""
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise EngineError(f"no stack file {stack_file.name} in {root}")
    values = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    if f"{PROJECT}:{key}" in values:
        return values[f"{PROJECT}:{key}"]
    declared = yaml.safe_load((root / "Pulumi.yaml").read_text())["config"]
    return declared[key].get("default")


def engine_settings(root: Path, stack: str) -> EngineSettings:
    host = stack_setting(root, stack, "dockerHost") or ""
    ssh_opts = stack_setting(root, stack, "dockerSshOpts") or []
    if not isinstance(host, str) or not isinstance(ssh_opts, list):
        raise EngineError("dockerHost must be a string and dockerSshOpts a list of strings")
    return EngineSettings(host=host, ssh_opts=tuple(str(opt) for opt in ssh_opts))


def connect(settings: EngineSettings) -> docker.DockerClient:
    """A client of the stack's engine; over ssh:// it runs the system ssh client, as the provider does."""
    if not settings.host:
        return docker.from_env(version="auto")
    if settings.host.startswith("ssh://"):
        if settings.ssh_opts:
            # The Docker SDK's ssh transport takes no extra options; ~/.ssh/config does the same job.
            raise EngineError(
                "dockerSshOpts cannot be passed to this command: put them in ~/.ssh/config for the host"
            )
        return docker.DockerClient(base_url=settings.host, use_ssh_client=True, version="auto")
    return docker.DockerClient(base_url=settings.host, version="auto")
