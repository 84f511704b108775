"""One measured load run: wrk's figures, plus the CPU time every party spent per request."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench import procfs, wrk
from bench.processes import Service
from bench.wrk import Load, LoadResult


@dataclass(frozen=True)
class Target:
    """Where load goes, and who is charged for it."""

    name: str
    port: int
    requests: Path  # the file bench/load.lua sends from
    servers: tuple[Service, ...]  # the system under test
    upstreams: Service

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Run:
    target: str
    load: Load
    result: LoadResult
    server_cpu_us: float  # per request, all server processes added up
    upstream_cpu_us: float
    wrk_cpu_us: float
    machine_busy: float  # share of the whole machine's CPU busy during the run, anyone's

    @property
    def rps(self) -> float:
        return self.result.rps


def _per_request(seconds: float, requests: int) -> float:
    return seconds * 1e6 / max(requests, 1)


def measure(target: Target, load: Load, wrk_cpus: frozenset[int] | None) -> Run:
    servers_before = sum(server.cpu_seconds() for server in target.servers)
    upstreams_before = target.upstreams.cpu_seconds()
    busy_before, total_before = procfs.machine_cpu_seconds()
    result = wrk.run(target.url, target.requests, load, wrk_cpus)
    busy_after, total_after = procfs.machine_cpu_seconds()
    servers = sum(server.cpu_seconds() for server in target.servers) - servers_before
    upstreams = target.upstreams.cpu_seconds() - upstreams_before
    return Run(
        target=target.name,
        load=load,
        result=result,
        server_cpu_us=_per_request(servers, result.requests),
        upstream_cpu_us=_per_request(upstreams, result.requests),
        wrk_cpu_us=_per_request(result.wrk_cpu_seconds, result.requests),
        machine_busy=(busy_after - busy_before) / max(total_after - total_before, 1e-9),
    )
