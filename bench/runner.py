"""The bench's phases: peak and fixed-rate rounds, the sustained run, and worker scaling."""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from bench import procfs, traffic
from bench.measure import Run, Target, measure
from bench.outcomes import proxy_outcomes
from bench.profiles import Profile
from bench.scenarios import BRIDGED_ANSWER, Scenario, Scenarios, main_scenarios, mixed_requests
from bench.stack import Stack
from bench.wrk import Load

BASELINE = {"cek": "baseline", "action": "action_baseline"}
SUBJECT = {"cek": "proxy", "action": "relay"}
RATE_FRACTION = 0.5
# Latency is compared at fixed rates: half the baseline's peak (the measure), and half the
# proxy's own peak (a rate it can sustain, when the first one is more than it can serve).
RATE_LEVELS = {"half_baseline_peak": BASELINE, "half_proxy_peak": SUBJECT}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _show(run: Run) -> None:
    result = run.result
    rate = f"{run.load.rate:.0f}/s" if run.load.rate else "peak"
    say(
        f"  {run.target:16} {rate:>8}  {run.rps:8.0f} req/s  p50 {result.p50_ms:6.2f}  "
        f"p99 {result.p99_ms:6.2f} ms  cpu {run.server_cpu_us:6.0f} us/req  errors {result.errors}  "
        f"late {result.late}  busy {run.machine_busy:.0%}"
    )


def _measure(target: Target, load: Load, cpus: frozenset[int] | None) -> Run:
    run = measure(target, load, cpus)
    _show(run)
    return run


def rounds(
    scenarios: Sequence[Scenario], count: int, load: Callable[[Scenario], Load], cpus: frozenset[int] | None
) -> list[Run]:
    """`count` rounds over every scenario, the order rotated each round so that none is always first."""
    runs = []
    for number in range(count):
        shift = number % len(scenarios)
        for scenario in [*scenarios[shift:], *scenarios[:shift]]:
            runs.append(_measure(scenario.target, load(scenario), cpus))
    return runs


def warm_up(scenarios: Sequence[Scenario], profile: Profile, cpus: frozenset[int] | None) -> None:
    for scenario in scenarios:
        scenario.probe()
    for scenario in scenarios:
        measure(
            scenario.target,
            Load(profile.warmup, profile.connections, max_requests=profile.max_requests),
            cpus,
        )


@dataclass(frozen=True)
class Sustained:
    seconds: int
    requests: int
    errors: int
    rss_kib: list[int]  # before, then after each slice

    @property
    def growth(self) -> float:
        return self.rss_kib[-1] / self.rss_kib[0] - 1


@dataclass
class MainResults:
    peak: list[Run]
    fixed: dict[str, list[Run]]  # by rate level
    rates: dict[str, dict[str, float]]  # by rate level, then group
    sustained: Sustained
    proxy_peak_rss_kib: int
    outcomes: dict[str, int]


def sustain(target: Target, profile: Profile, cpus: frozenset[int] | None) -> Sustained:
    proxy = target.servers[0]
    say(f"sustained: {profile.sustained_seconds} s of launches, intents and action calls")
    samples = [procfs.rss_kib(proxy.pid)]
    runs = []
    for _ in range(profile.sustained_slices):
        load = Load(profile.slice_seconds, profile.connections, max_requests=profile.max_requests)
        runs.append(_measure(target, load, cpus))
        samples.append(procfs.rss_kib(proxy.pid))
    requests = sum(run.result.requests for run in runs)
    errors = sum(run.result.errors for run in runs)
    return Sustained(profile.sustained_seconds, requests, errors, samples)


def _at_rate(profile: Profile, rates: dict[str, float], scenario: Scenario) -> Load:
    return Load(profile.duration, profile.rate_connections, rates[scenario.group], profile.max_requests)


def main_phase(stack: Stack, profile: Profile) -> MainResults:
    upstreams = stack.upstreams()
    [proxy] = stack.proxy("proxy", upstreams.proxy_env())
    scenarios = main_scenarios(stack, upstreams, proxy)
    wrk_cpus = stack.cpus.harness
    warm_up(scenarios, profile, wrk_cpus)
    say(f"peak: {profile.rounds} round(s) of {profile.duration} s, {profile.connections} connections")
    peak = rounds(
        scenarios,
        profile.rounds,
        lambda _: Load(profile.duration, profile.connections, max_requests=profile.max_requests),
        wrk_cpus,
    )
    rates = {
        level: {
            group: RATE_FRACTION * statistics.median(run.rps for run in peak if run.target == name)
            for group, name in references.items()
        }
        for level, references in RATE_LEVELS.items()
    }
    fixed = {}
    for level, by_group in rates.items():
        say(
            f"fixed rate, {level}: "
            + ", ".join(f"{group} {rate:.0f} req/s" for group, rate in by_group.items())
        )
        fixed[level] = rounds(
            scenarios,
            profile.rounds,
            partial(_at_rate, profile, by_group),
            wrk_cpus,
        )
    mixed = Target(
        "sustained",
        proxy.port,
        mixed_requests(stack, proxy.port, stack.workdir / "mixed.requests"),
        (proxy,),
        upstreams.service,
    )
    sustained = sustain(mixed, profile, wrk_cpus)
    return MainResults(
        peak=peak,
        fixed=fixed,
        rates=rates,
        sustained=sustained,
        proxy_peak_rss_kib=procfs.peak_rss_kib(proxy.pid),
        outcomes=proxy_outcomes(proxy.port),
    )


@dataclass(frozen=True)
class ScalingResults:
    workers: int
    runs: list[Run]
    peak_rss_kib: list[int]


def scaling_phase(stack: Stack, profile: Profile) -> ScalingResults:
    """One proxy worker against one per CPU on one port (SO_REUSEPORT), nothing pinned."""
    upstreams = stack.upstreams()
    workers = len(os.sched_getaffinity(0))
    env = upstreams.files.proxy_env(upstreams.chatbot_url, actions=False)
    one = stack.proxy("one-worker", env, workers=1, reuse_port=True)
    many = stack.proxy("workers", env, workers=workers, reuse_port=True)
    bridge = traffic.cek_post(stack.signer, "/cek", traffic.cek_turn())
    built = Scenarios(stack, upstreams)
    built.add("one_worker", "cek", tuple(one), bridge, BRIDGED_ANSWER)
    built.add("workers", "cek", tuple(many), bridge, BRIDGED_ANSWER)
    warm_up(built.items, profile, None)
    say(f"scaling: 1 worker against {workers}, {profile.scaling_connections} connections, nothing pinned")
    load = Load(profile.duration, profile.scaling_connections, max_requests=profile.max_requests)
    runs = rounds(built.items, profile.rounds, lambda _: load, None)
    return ScalingResults(workers, runs, [procfs.peak_rss_kib(s.pid) for s in [*one, *many]])
