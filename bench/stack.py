"""The servers of one bench run, started together on 127.0.0.1 and stopped together."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench import processes, traffic
from bench.gateway import caddy_binary, start_caddy
from bench.processes import Service
from tests.support.cek import CekSigner


@dataclass(frozen=True)
class Cpus:
    """Where processes run: the system under test on its own CPU, the harness on the others.

    With a single CPU (or when asked not to pin) both are None and the scheduler decides.
    """

    server: frozenset[int] | None
    harness: frozenset[int] | None

    @classmethod
    def split(cls) -> Cpus:
        available = sorted(os.sched_getaffinity(0))
        if len(available) < 2:
            return cls(None, None)
        return cls(frozenset(available[-1:]), frozenset(available[:-1]))

    @classmethod
    def free(cls) -> Cpus:
        return cls(None, None)


@dataclass(frozen=True)
class Upstreams:
    service: Service
    files: traffic.Files
    chatbot_url: str
    action_base: str
    cek_port: int

    @property
    def cek_base(self) -> str:
        return f"http://127.0.0.1:{self.cek_port}"

    def proxy_env(self) -> dict[str, str]:
        return self.files.proxy_env(self.chatbot_url)


class Stack:
    """Starts servers on demand; every one of them is stopped when the `with` block ends."""

    def __init__(self, workdir: Path, cpus: Cpus, signer: CekSigner) -> None:
        self.workdir = workdir
        self.cpus = cpus
        self.signer = signer
        self._exit = ExitStack()

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exit.close()

    def _keep(self, service: Service) -> Service:
        self._exit.callback(service.stop)
        return service

    def upstreams(self) -> Upstreams:
        """The stub chatbot, action backend and CEK backend, and the proxy's files pointing at them."""
        chatbot, action, cek = (processes.free_port() for _ in range(3))
        action_base = f"http://127.0.0.1:{action}"
        files = traffic.Files.write(self.workdir, self.signer, action_base + traffic.ACTION_BACKEND_PATH)
        argv = [sys.executable, "-m", "bench.upstreams", str(files.chatbot_secret)]
        argv += [str(chatbot), str(action), str(cek)]
        log = self.workdir / "upstreams.log"
        service = self._keep(processes.start("upstreams", argv, port=cek, log=log, cpus=self.cpus.harness))
        for port in (chatbot, action):
            processes.wait_listening(service, port)
        chatbot_url = f"http://127.0.0.1:{chatbot}{traffic.CHATBOT_PATH}"
        return Upstreams(service, files, chatbot_url, action_base, cek)

    def baseline(self, name: str, upstream_base: str) -> Service:
        port = processes.free_port()
        argv = [sys.executable, "-m", "bench.baseline", str(port), upstream_base]
        log = self.workdir / f"{name}.log"
        return self._keep(processes.start(name, argv, port=port, log=log, cpus=self.cpus.server))

    def proxy(
        self, name: str, env: dict[str, str], *, workers: int = 1, reuse_port: bool = False
    ) -> list[Service]:
        """`python -m proxy` with the production defaults (log level info); several workers share a port."""
        port = processes.free_port()
        environ = {
            **env,
            "CEK_PROXY_LISTEN": f"127.0.0.1:{port}",
            "CEK_PROXY_REUSE_PORT": "true" if reuse_port else "false",
        }
        return [
            self._keep(
                processes.start(
                    f"{name}-{index}",
                    [sys.executable, "-m", "proxy"],
                    port=port,
                    log=self.workdir / f"{name}-{index}.log",
                    env=environ,
                    cpus=self.cpus.server,
                )
            )
            for index in range(workers)
        ]

    def gateway(self, upstream_port: int) -> Service | None:
        """Caddy in front of the proxy (on the harness's CPUs), or None when Caddy is not installed."""
        return self._caddy("gateway", upstream_port, self.cpus.harness)

    def caddy_alone(self, upstream_port: int) -> Service | None:
        """Caddy as the server under test (on the server's CPU), or None when it is not installed."""
        return self._caddy("caddy", upstream_port, self.cpus.server)

    def _caddy(self, name: str, upstream_port: int, cpus: frozenset[int] | None) -> Service | None:
        binary = caddy_binary()
        if binary is None:
            return None
        return self._keep(start_caddy(binary, name, upstream_port, self.workdir, cpus))
