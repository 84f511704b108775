"""The Markdown report: one table of scenarios, the goals, and the other figures in a few lines."""

from __future__ import annotations

from typing import Any

from bench.summary import level_suffix

LABELS = {
    "stub": "stub direct",
    "baseline": "baseline forwarder",
    "caddy": "Caddy alone (reverse_proxy to the stub)",
    "proxy": "proxy bridge",
    "gateway": "through the gateway (Caddy, HTTP)",
    "action_baseline": "action baseline forwarder",
    "relay": "action relay",
}
# Each row is compared with: (reference scenario, key prefix in the comparisons).
COMPARED = {
    "caddy": ("baseline", "caddy"),
    "proxy": ("baseline", "bridge"),
    "gateway": ("proxy", "gateway"),
    "relay": ("action_baseline", "relay"),
}
# Fixed-rate levels, and the suffix of their keys in the comparisons.
LEVELS = {level: level_suffix(level) for level in ("half_baseline_peak", "half_proxy_peak")}
GOAL_LABELS = {
    "bridge_throughput_ratio": "bridge throughput / baseline",
    "bridge_cpu_ratio": "bridge CPU per turn / baseline's",
    "relay_throughput_ratio": "relay throughput / action baseline",
    "bridge_added_p99_ms": "bridge added p99 at half the proxy's peak (ms)",
    "relay_added_p99_ms": "relay added p99 at half the proxy's peak (ms)",
    "rss_growth_pct": "RSS growth, sustained run (%)",
    "scaling_ratio": "one worker per CPU / one worker",
}


def _range(figures: dict[str, float], digits: int = 0, sign: str = "") -> str:
    def show(value: float) -> str:
        return f"{value:{sign}.{digits}f}"

    if figures["min"] == figures["max"]:
        return show(figures["median"])
    return f"{show(figures['median'])} ({show(figures['min'])} to {show(figures['max'])})"


def _latency(fixed: dict[str, Any]) -> str:
    cell = " / ".join(f"{fixed[p]['median']:.2f}" for p in ("p50_ms", "p90_ms", "p99_ms"))
    if fixed["overloaded"]:
        cell += f" (overloaded: {fixed['achieved_rps']:.0f} of {fixed['offered_rps']:.0f}/s)"
    return f"{cell} at {fixed['offered_rps']:.0f}/s"


def _row(name: str, result: dict[str, Any]) -> str:
    scenario, comparisons = result["scenarios"][name], result["comparisons"]
    peak = scenario["peak"]
    cells = [LABELS[name], _range(peak["rps"]), "", f"{peak['cpu_us_per_request']['median']:.0f}"]
    reference, key = COMPARED.get(name, ("", ""))
    if key:
        cells[2] = f"{_range(comparisons[f'{key}_throughput_ratio'], 2)} of {LABELS[reference]}"
    for level, suffix in LEVELS.items():
        cells.append(_latency(scenario[f"fixed_rate_{level}"]))
        figures = [comparisons.get(f"{key}_added_{p}_ms{suffix}") for p in ("p50", "p99")]
        cells.append(" / ".join(_range(f, 2, "+") for f in figures if f) if key else "")
    return "| " + " | ".join(cells) + " |"


def _goals(result: dict[str, Any]) -> list[str]:
    lines = ["| goal | target | measured | met |", "| --- | --- | --- | --- |"]
    for name, goal in result["goals"].items():
        met = "yes" if goal["met"] else "**no**"
        lines.append(f"| {GOAL_LABELS[name]} | {goal['goal']} | {goal['value']:.2f} | {met} |")
    return lines


def _against(result: dict[str, Any], name: str, reference: str) -> str:
    """One line: throughput and CPU of comparison `name` against `reference`, and added latency."""
    compared = result["comparisons"]
    added = " / ".join(_range(compared[f"{name}_added_{p}_ms"], 2, "+") for p in ("p50", "p99"))
    return (
        f"- Against {reference}: the bridge serves {_range(compared[f'{name}_throughput_ratio'], 2)} of its "
        f"throughput at {_range(compared[f'{name}_cpu_ratio'], 2)} times its CPU per request "
        f"(ratios within each round); at half the proxy's peak it adds {added} ms at p50 / p99."
    )


def _notes(result: dict[str, Any]) -> list[str]:
    memory, scaling, micro = result["memory"], result["scaling"], result["micro_us"]
    cpu = scaling["workers_cpu_us_per_request"]
    against = [_against(result, "bridge", "the baseline forwarder")]
    if "bridge_vs_caddy_throughput_ratio" in result["comparisons"]:
        against.append(_against(result, "bridge_vs_caddy", "Caddy alone"))
    return [
        *against,
        f"- Memory: proxy peak RSS {memory['proxy_peak_rss_mib']:.1f} MiB; sustained run of "
        f"{memory['sustained_seconds']} s ({memory['sustained_requests']} launches, intents and action "
        f"calls, {memory['sustained_errors']} errors): RSS {memory['rss_before_mib']:.1f} to "
        f"{memory['rss_after_mib']:.1f} MiB ({memory['rss_growth_pct']:+.1f}%).",
        f"- Scaling (nothing pinned): 1 worker {_range(scaling['one_worker_rps'])} req/s, "
        f"{scaling['workers']} workers {_range(scaling['workers_rps'])} req/s, ratio "
        f"{_range(scaling['ratio'], 2)}. Per request in the {scaling['workers']}-worker run: proxy "
        f"{cpu['proxy']:.0f} µs, stubs {cpu['upstreams']:.0f} µs, wrk {cpu['wrk']:.0f} µs of CPU, so with "
        f"every CPU busy ({scaling['workers_machine_busy']['median']:.0%} was) this machine cannot pass "
        f"{scaling['cpu_bound_ratio']:.2f}x.",
        "- Micro-costs per request: CEK signature verification "
        f"{micro['cek_signature_verification']:.1f} µs, "
        f"HMAC signing {micro['hmac_signing']:.1f} µs, JSON translation {micro['json_translation']:.1f} µs, "
        f"access log line {micro['access_log_line']:.1f} µs.",
    ]


def markdown(result: dict[str, Any]) -> str:
    run = result["run"]
    pinning = run["cpus"]
    where = (
        f"server on CPU {pinning['server']}, wrk and stubs on CPU {pinning['harness']}"
        if pinning["server"]
        else "nothing pinned"
    )
    header = (
        f"`{run['mode']}` run of {run['started']}: {run['cpu_count']} CPUs ({where}), {run['rounds']} "
        f"round(s) of {run['duration_s']} s per scenario, interleaved; medians (min to max over rounds)."
    )
    lines = [
        header,
        "",
        "| scenario | peak req/s | throughput vs | server CPU µs/req at peak "
        "| p50 / p90 / p99 ms at half the baseline's peak | added p50 / p99 ms "
        "| p50 / p90 / p99 ms at half the proxy's peak | added p50 / p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [_row(name, result) for name in LABELS if name in result["scenarios"]]
    return "\n".join([*lines, "", *_goals(result), "", *_notes(result)]) + "\n"
