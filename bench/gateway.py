"""The gateway in front of the proxy: Caddy from the Debian package, as a plain-HTTP reverse proxy.

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


def start_gateway(binary: str, upstream_port: int, workdir: Path, cpus: frozenset[int] | None) -> Service:
    port = processes.free_port()
    config = workdir / "Caddyfile"
    config.write_text(caddyfile(port, upstream_port))
    home = workdir / "caddy-home"  # Caddy keeps its state under HOME / XDG dirs: not the user's
    home.mkdir(exist_ok=True)
    argv = [binary, "run", "--config", str(config), "--adapter", "caddyfile"]
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    return processes.start("gateway", argv, port=port, log=workdir / "gateway.log", env=env, cpus=cpus)
