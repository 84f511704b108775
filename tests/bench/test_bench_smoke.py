"""The bench's machinery in its quickest form: every server starts, wrk runs, every figure is there.

A few hundred requests per scenario; no figure is judged here (goals are the bench's business).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.report import markdown
from bench.summary import GOALS
from tests.support.tools import require

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {"stub", "baseline", "proxy", "action_baseline", "relay"}
PEAK = {"rps", "p50_ms", "p90_ms", "p99_ms", "cpu_us_per_request", "requests", "errors"}
FIXED = {"offered_rps", "achieved_rps", "p50_ms", "p90_ms", "p99_ms", "late", "errors", "overloaded"}
COMPARISONS = {
    f"{k}_{f}"
    for k in ("bridge", "relay")
    for f in ("throughput_ratio", "cpu_ratio", "added_p50_ms", "added_p99_ms")
}
CADDY_COMPARISONS = {
    "caddy_throughput_ratio",
    "bridge_vs_caddy_throughput_ratio",
    "bridge_vs_caddy_cpu_ratio",
}
MEMORY = {"proxy_peak_rss_mib", "rss_before_mib", "rss_after_mib", "rss_growth_pct", "sustained_requests"}
SCALING = {"workers", "one_worker_rps", "workers_rps", "ratio", "cpu_bound_ratio", "peak_rss_mib"}
MICRO = {"cek_signature_verification", "hmac_signing", "json_translation", "access_log_line"}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require("wrk", "install the Debian package wrk (./scripts/test does)")
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--mode", "smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def test_every_scenario_has_peak_and_fixed_rate_figures(result: dict[str, Any]) -> None:
    assert set(result["scenarios"]) >= SCENARIOS
    for name, scenario in result["scenarios"].items():
        assert set(scenario["peak"]) >= PEAK, name
        for level in ("half_baseline_peak", "half_proxy_peak"):
            assert set(scenario[f"fixed_rate_{level}"]) >= FIXED, name
        assert scenario["peak"]["requests"] > 0, name


def test_the_gateway_and_caddy_alone_are_measured_where_caddy_is_installed(result: dict[str, Any]) -> None:
    installed = result["run"]["caddy"] is not None
    assert ("gateway" in result["scenarios"]) == installed
    assert ("caddy" in result["scenarios"]) == installed
    assert (set(result["comparisons"]) >= CADDY_COMPARISONS) == installed


def test_comparisons_memory_scaling_and_micro_costs_are_reported(result: dict[str, Any]) -> None:
    assert set(result["comparisons"]) >= COMPARISONS
    assert set(result["memory"]) >= MEMORY
    assert set(result["scaling"]) >= SCALING
    assert set(result["micro_us"]) == MICRO
    assert set(result["goals"]) == set(GOALS)
    assert all(isinstance(goal["met"], bool) for goal in result["goals"].values())


def test_every_request_was_answered_in_full(result: dict[str, Any]) -> None:
    """The proxy's own counters: answered turns and relayed 2xx only, no apology, no refusal."""
    assert result["proxy_outcomes"]
    assert all('outcome="answered"' in s or 'outcome="http_2xx"' in s for s in result["proxy_outcomes"])
    assert all(scenario["peak"]["errors"] == 0 for scenario in result["scenarios"].values())


def test_the_markdown_table_has_a_row_per_scenario_and_a_line_per_goal(result: dict[str, Any]) -> None:
    table = markdown(result)
    assert table.count("\n| ") >= len(result["scenarios"]) + len(GOALS) + 2
