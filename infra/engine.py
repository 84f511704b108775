"""The Docker engine a stack deploys to: where it is, and the platform images are built for.

The engine is the one the program deploys to: the `dockerHost` of `Pulumi.<stack>.yaml`, else its
default in `Pulumi.yaml` (as the Pulumi CLI resolves them; neither is a secret, so the commands that
run beside Pulumi, such as `python -m infra.converge`, need no CLI or passphrase to read them). An
empty host means `DOCKER_HOST`, else the local socket, as for the provider. For an `ssh://` host the
platform question goes through the same ssh client and options (`dockerSshOpts`) that the provider
uses, and the remote `docker` CLI answers it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import docker

from infra.stack_files import plain_settings

# `docker info` Architecture (the engine's `uname -m`) -> the platform images are built for.
PLATFORMS = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}
# The platform -> the machine name in manylinux wheel tags.
WHEEL_MACHINES = {platform: machine for machine, platform in PLATFORMS.items()}
_INFO = ["info", "--format", "{{.Architecture}}"]


class EngineError(RuntimeError):
    """The engine cannot be found, asked or used, or runs on a platform the images are not built for."""


@dataclass(frozen=True)
class EngineSettings:
    host: str
    ssh_opts: tuple[str, ...]


def engine_settings(root: Path, stack: str) -> EngineSettings:
    try:
        settings = plain_settings(stack, root)
    except FileNotFoundError as exc:
        raise EngineError(str(exc)) from None
    host = settings.get("dockerHost") or ""
    ssh_opts = settings.get("dockerSshOpts") or []
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


def engine_platform(host: str, ssh_opts: Sequence[str] = ()) -> str:
    """`linux/amd64` or `linux/arm64`: the platform of the engine at `host` ("" for the default)."""
    architecture = ask_engine(host, ssh_opts, _INFO)
    try:
        return PLATFORMS[architecture]
    except KeyError:
        raise EngineError(f"the engine at {host or 'DOCKER_HOST'} runs on {architecture!r}") from None


def info_command(host: str, ssh_opts: Sequence[str] = ()) -> list[str]:
    """`docker info` run against `host`: over ssh (with `ssh_opts`) for ssh://, else `docker --host`."""
    return docker_command(host, ssh_opts, _INFO)


def docker_command(host: str, ssh_opts: Sequence[str], args: Sequence[str]) -> list[str]:
    """`docker <args>` run against `host`: over ssh (with `ssh_opts`) for ssh://, else `docker --host`."""
    if not host.startswith("ssh://"):
        return ["docker", *(["--host", host] if host else []), *args]
    target = urlsplit(host)
    destination = f"{target.username}@{target.hostname}" if target.username else str(target.hostname)
    port = ["-p", str(target.port)] if target.port else []
    return ["ssh", *ssh_opts, *port, "--", destination, "docker", *args]


def ask_engine(host: str, ssh_opts: Sequence[str], args: Sequence[str]) -> str:
    """What `docker <args>` prints, run against the engine at `host` as the program reaches it."""
    return _ask(docker_command(host, ssh_opts, args))


def _ask(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"{command[0]} failed: {exc}") from None
    if done.returncode != 0:
        raise EngineError(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()
