"""Load from a separate process: `wrk` with `bench/load.lua`, closed-loop or at a fixed rate."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import procfs
from bench.processes import on_cpus

SCRIPT = Path(__file__).resolve().parent / "load.lua"
GRACE = 30.0  # seconds wrk may take beyond its duration before it is killed


class LoadError(RuntimeError):
    """wrk failed or printed no result."""


@dataclass(frozen=True)
class Load:
    """How to load a target: `rate` 0 is closed-loop (as fast as it answers), else requests/s."""

    duration: int  # seconds
    connections: int
    rate: float = 0.0
    max_requests: int = 10_000_000  # a bound whatever the duration


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int  # socket errors, timeouts and HTTP statuses of 400 and above
    late: int  # fixed-rate slots sent more than 1 ms late (all connections were busy)
    wrk_cpu_seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def run(url: str, requests_file: Path, load: Load, cpus: frozenset[int] | None = None) -> LoadResult:
    binary = wrk_binary()
    if binary is None:
        raise LoadError("wrk is not installed (apt-get install wrk; ./scripts/bench does it)")
    argv = [binary, "-t1", f"-c{load.connections}", f"-d{load.duration}s", "--timeout", "5s"]
    argv += ["-s", str(SCRIPT), url, "--", str(requests_file), f"{load.rate:.3f}", str(load.max_requests)]
    before = procfs.children_cpu_seconds()
    try:
        done = subprocess.run(
            on_cpus(argv, cpus),
            capture_output=True,
            text=True,
            timeout=load.duration + GRACE,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LoadError(f"wrk did not finish within {load.duration + GRACE:g} s") from exc
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise LoadError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    figures = json.loads(lines[-1])
    return LoadResult(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=sum(figures["errors"].values()),
        late=figures["late"],
        wrk_cpu_seconds=procfs.children_cpu_seconds() - before,
    )
