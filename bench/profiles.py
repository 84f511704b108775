"""How long and how often: the full run, a quick one, and the smoke run the tests use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    duration: int  # seconds of each measured wrk run
    rounds: int  # every scenario is measured this many times, interleaved with the others
    connections: int  # closed-loop (peak) connections for one server process
    rate_connections: int  # connections at a fixed rate: enough that one is always free
    sustained_slices: int  # the sustained run is this many back-to-back runs...
    slice_seconds: int  # ...of this many seconds, with the RSS read between them
    scaling_connections: int
    max_requests: int  # per wrk run, whatever the duration
    micro_iterations: int
    warmup: int = 1  # seconds of unrecorded load per scenario before the first round

    @property
    def sustained_seconds(self) -> int:
        return self.sustained_slices * self.slice_seconds


PROFILES = {
    "full": Profile("full", 8, 3, 32, 64, 12, 10, 64, 2_000_000, 2000),
    "quick": Profile("quick", 3, 2, 32, 64, 3, 5, 64, 500_000, 500),
    # A few hundred requests per run, for the smoke test: it checks the machinery, not the figures.
    "smoke": Profile("smoke", 1, 1, 8, 16, 2, 1, 16, 300, 20, warmup=1),
}
