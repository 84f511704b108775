"""From measured runs to the figures reported: medians with their spread, ratios, goals."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from bench.measure import Run
from bench.runner import BASELINE, MainResults, ScalingResults

MIB = 1024
# Goals (issue 14; scaling from issue 7): met in the benchmark, never asserted in tests.
GOALS = {
    "bridge_throughput_ratio": (">=", 0.5, "proxy bridge throughput / baseline forwarder's"),
    "bridge_cpu_ratio": ("<=", 2.0, "proxy bridge CPU per turn / baseline forwarder's, at peak"),
    "relay_throughput_ratio": (">=", 0.75, "action relay throughput / action baseline forwarder's"),
    "bridge_added_p99_ms": ("<=", 2.0, "proxy bridge added p99 at half the proxy's own peak rate (ms)"),
    "relay_added_p99_ms": ("<=", 2.0, "action relay added p99 at half the proxy's own peak rate (ms)"),
    "rss_growth_pct": ("<=", 1.0, "proxy RSS growth over the sustained run (%)"),
    "scaling_ratio": (">=", 1.7, "throughput of one worker per CPU / one worker"),
}
GOAL_LEVEL = "half_proxy_peak"  # the rate level the latency goals are judged at
# A fixed-rate run that fell this short of its offered rate, or had this share of late slots, was
# overloaded: its latency is queueing, not service time.
MIN_ACHIEVED = 0.97
MAX_LATE = 0.01


def spread(values: Iterable[float]) -> dict[str, float]:
    items = list(values)
    return {"median": statistics.median(items), "min": min(items), "max": max(items)}


def _of(runs: Sequence[Run], target: str) -> list[Run]:
    return [run for run in runs if run.target == target]


def _peak(runs: list[Run]) -> dict[str, Any]:
    return {
        "rps": spread(run.rps for run in runs),
        "p50_ms": statistics.median(run.result.p50_ms for run in runs),
        "p90_ms": statistics.median(run.result.p90_ms for run in runs),
        "p99_ms": statistics.median(run.result.p99_ms for run in runs),
        "cpu_us_per_request": spread(run.server_cpu_us for run in runs),
        "upstreams_cpu_us_per_request": statistics.median(run.upstream_cpu_us for run in runs),
        "wrk_cpu_us_per_request": statistics.median(run.wrk_cpu_us for run in runs),
        "machine_busy": spread(run.machine_busy for run in runs),
        "requests": sum(run.result.requests for run in runs),
        "errors": sum(run.result.errors for run in runs),
    }


def _fixed(runs: list[Run]) -> dict[str, Any]:
    offered = runs[0].load.rate
    achieved = statistics.median(run.rps for run in runs)
    requests = sum(run.result.requests for run in runs)
    late = sum(run.result.late for run in runs)
    return {
        "offered_rps": offered,
        "achieved_rps": achieved,
        "p50_ms": spread(run.result.p50_ms for run in runs),
        "p90_ms": spread(run.result.p90_ms for run in runs),
        "p99_ms": spread(run.result.p99_ms for run in runs),
        "cpu_us_per_request": statistics.median(run.server_cpu_us for run in runs),
        "late": late,
        "errors": sum(run.result.errors for run in runs),
        "overloaded": achieved < MIN_ACHIEVED * offered or late > MAX_LATE * max(requests, 1),
    }


def level_suffix(level: str) -> str:
    """The suffix of a rate level's keys in the comparisons (none for the goals' level)."""
    return "" if level == GOAL_LEVEL else f"_at_{level}"


def _paired(runs: Sequence[Run], subject: str, reference: str, figure: str) -> dict[str, float]:
    """Per round (the runs of one round are minutes apart at most), subject against reference."""
    pairs = list(zip(_of(runs, subject), _of(runs, reference), strict=True))
    if figure == "ratio":
        return spread(s.rps / r.rps for s, r in pairs)
    if figure == "cpu_ratio":
        return spread(s.server_cpu_us / r.server_cpu_us for s, r in pairs)
    return spread(getattr(s.result, figure) - getattr(r.result, figure) for s, r in pairs)


def _pairs(names: set[str]) -> dict[str, tuple[str, str]]:
    """Comparison name: (subject, reference), for the scenarios this run has."""
    pairs = {
        "bridge": ("proxy", BASELINE["cek"]),
        "relay": ("relay", BASELINE["action"]),
        "gateway": ("gateway", "proxy"),
        "caddy": ("caddy", BASELINE["cek"]),
        "bridge_vs_caddy": ("proxy", "caddy"),
    }
    return {name: pair for name, pair in pairs.items() if set(pair) <= names}


def _comparisons(main: MainResults) -> dict[str, Any]:
    """Throughput and CPU ratios at peak, and added latency at each rate level."""
    compared: dict[str, Any] = {}
    for name, (subject, reference) in _pairs({run.target for run in main.peak}).items():
        compared[f"{name}_throughput_ratio"] = _paired(main.peak, subject, reference, "ratio")
        compared[f"{name}_cpu_ratio"] = _paired(main.peak, subject, reference, "cpu_ratio")
        for level, runs in main.fixed.items():
            suffix = level_suffix(level)
            for figure in ("p50_ms", "p99_ms"):
                compared[f"{name}_added_{figure}{suffix}"] = _paired(runs, subject, reference, figure)
    return compared


def _scaling(scaling: ScalingResults) -> dict[str, Any]:
    one, many = _of(scaling.runs, "one_worker"), _of(scaling.runs, "workers")
    per_request = statistics.median(r.server_cpu_us + r.upstream_cpu_us + r.wrk_cpu_us for r in many)
    one_rps = statistics.median(run.rps for run in one)
    return {
        "workers": scaling.workers,
        "one_worker_rps": spread(run.rps for run in one),
        "workers_rps": spread(run.rps for run in many),
        "ratio": spread(m.rps / o.rps for o, m in zip(one, many, strict=True)),
        "workers_cpu_us_per_request": {
            "proxy": statistics.median(run.server_cpu_us for run in many),
            "upstreams": statistics.median(run.upstream_cpu_us for run in many),
            "wrk": statistics.median(run.wrk_cpu_us for run in many),
        },
        "workers_machine_busy": spread(run.machine_busy for run in many),
        # With every CPU busy, throughput cannot pass CPUs / (CPU time all parties spend per request).
        "cpu_bound_ratio": scaling.workers * 1e6 / per_request / one_rps,
        "peak_rss_mib": [kib / MIB for kib in scaling.peak_rss_kib],
    }


def _goal(name: str, value: float) -> dict[str, Any]:
    op, limit, meaning = GOALS[name]
    met = value >= limit if op == ">=" else value <= limit
    return {"goal": f"{op} {limit:g}", "value": value, "met": met, "meaning": meaning}


def summarise(main: MainResults, scaling: ScalingResults, micro: dict[str, float]) -> dict[str, Any]:
    names = list(dict.fromkeys(run.target for run in main.peak))
    scenarios = {
        name: {
            "peak": _peak(_of(main.peak, name)),
            **{f"fixed_rate_{level}": _fixed(_of(runs, name)) for level, runs in main.fixed.items()},
        }
        for name in names
    }
    comparisons = _comparisons(main)
    sustained = main.sustained
    memory: dict[str, Any] = {
        "proxy_peak_rss_mib": main.proxy_peak_rss_kib / MIB,
        "sustained_seconds": sustained.seconds,
        "sustained_requests": sustained.requests,
        "sustained_errors": sustained.errors,
        "rss_before_mib": sustained.rss_kib[0] / MIB,
        "rss_after_mib": sustained.rss_kib[-1] / MIB,
        "rss_growth_pct": sustained.growth * 100,
        "rss_samples_mib": [kib / MIB for kib in sustained.rss_kib],
    }
    scaled = _scaling(scaling)
    measured = {name: comparisons[name]["median"] for name in GOALS if name in comparisons}
    measured["rss_growth_pct"] = memory["rss_growth_pct"]
    measured["scaling_ratio"] = scaled["ratio"]["median"]
    goals = {name: _goal(name, value) for name, value in measured.items()}
    return {
        "rates_rps": main.rates,
        "scenarios": scenarios,
        "comparisons": comparisons,
        "memory": memory,
        "scaling": scaled,
        "micro_us": micro,
        "proxy_outcomes": main.outcomes,
        "goals": goals,
    }
