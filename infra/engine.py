"""The target Docker engine's platform: images are built for it, not for the machine running Pulumi.

The engine is the one the program deploys to (`dockerHost`, else `DOCKER_HOST`, else the local
socket). For an `ssh://` host the question goes through the same ssh client and options
(`dockerSshOpts`) that the provider uses, and the remote `docker` CLI answers it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from urllib.parse import urlsplit

# `docker info` Architecture (the engine's `uname -m`) -> the platform images are built for.
PLATFORMS = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}
# The platform -> the machine name in manylinux wheel tags.
WHEEL_MACHINES = {platform: machine for machine, platform in PLATFORMS.items()}
_INFO = ["docker", "info", "--format", "{{.Architecture}}"]


class EngineError(RuntimeError):
    """The engine could not be asked, or runs on a platform the images are not built for."""


def engine_platform(host: str, ssh_opts: Sequence[str] = ()) -> str:
    """`linux/amd64` or `linux/arm64`: the platform of the engine at `host` ("" for the default)."""
    architecture = _ask(info_command(host, ssh_opts))
    try:
        return PLATFORMS[architecture]
    except KeyError:
        raise EngineError(f"the engine at {host or 'DOCKER_HOST'} runs on {architecture!r}") from None


def info_command(host: str, ssh_opts: Sequence[str] = ()) -> list[str]:
    """`docker info` run against `host`: over ssh (with `ssh_opts`) for ssh://, else `docker --host`."""
    if not host.startswith("ssh://"):
        return ["docker", *(["--host", host] if host else []), *_INFO[1:]]
    target = urlsplit(host)
    destination = f"{target.username}@{target.hostname}" if target.username else str(target.hostname)
    port = ["-p", str(target.port)] if target.port else []
    return ["ssh", *ssh_opts, *port, "--", destination, *_INFO]


def _ask(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"{command[0]} failed: {exc}") from None
    if done.returncode != 0:
        raise EngineError(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()
