"""Server processes the bench starts on 127.0.0.1, waits for, pins to CPUs, and stops."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import procfs

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class StartError(RuntimeError):
    """A server did not come up; the message names it and ends with its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def on_cpus(argv: Sequence[str], cpus: frozenset[int] | None) -> list[str]:
    """`argv` run by taskset on `cpus` only, it and its threads (taskset execs it: same pid)."""
    taskset = shutil.which("taskset")
    if cpus is None or taskset is None:
        return list(argv)
    return [taskset, "--cpu-list", ",".join(map(str, sorted(cpus))), *argv]


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        return procfs.cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    cpus: frozenset[int] | None = None,
) -> Service:
    """Start `argv` (in the repository root) and wait until the process itself listens on `port`."""
    with log.open("ab") as sink:
        process = subprocess.Popen(
            on_cpus(argv, cpus),
            cwd=ROOT,
            env={"PATH": os.environ["PATH"], **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )
    service = Service(name, process, port, log)
    wait_listening(service, port)
    return service


def wait_listening(service: Service, port: int) -> None:
    """Wait until the service's own process listens on `port`; stop it and raise if it does not."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and service.process.poll() is None:
        if procfs.listens_on(service.pid, port):
            return
        time.sleep(0.05)
    service.stop()
    tail = service.log.read_text(errors="replace")[-2000:]
    raise StartError(f"{service.name} did not listen on 127.0.0.1:{port} within {START_TIMEOUT:g} s:\n{tail}")
