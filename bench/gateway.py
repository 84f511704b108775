"""Caddy from the Debian package as a plain-HTTP reverse proxy: the gateway in front of the proxy,
and Caddy alone in front of the stub CEK backend (what a user could put there instead of the proxy).

TLS is left out: on loopback with keep-alive connections its per-request cost is symmetric
encryption of about a kilobyte, while what the bench compares is the extra hop.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench import processes
from bench.processes import Service


def caddyfile(port: int, upstream_port: int) -> str:
    return f"""{{
	admin off
	auto_https off
}}

http://127.0.0.1:{port} {{
	reverse_proxy 127.0.0.1:{upstream_port}
}}
"""


def caddy_binary() -> str | None:
    return shutil.which("caddy")


def start_caddy(
    binary: str, name: str, upstream_port: int, workdir: Path, cpus: frozenset[int] | None
) -> Service:
    """Caddy as `name`, forwarding to 127.0.0.1:`upstream_port`; its files are named after it."""
    port = processes.free_port()
    config = workdir / f"{name}.Caddyfile"
    config.write_text(caddyfile(port, upstream_port))
    home = workdir / f"{name}-home"  # Caddy keeps its state under HOME / XDG dirs: not the user's
    home.mkdir(exist_ok=True)
    argv = [binary, "run", "--config", str(config), "--adapter", "caddyfile"]
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    return processes.start(name, argv, port=port, log=workdir / f"{name}.log", env=env, cpus=cpus)
