"""`python -m bench [--quick | --smoke]`: measure the proxy against its baselines, write JSON and a table.

Every server runs on 127.0.0.1, started and stopped here; every load run is bounded in time and in
requests. See the README's Performance section for what is measured and how.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import micro
from bench.gateway import caddy_binary
from bench.profiles import PROFILES, Profile
from bench.report import markdown
from bench.runner import main_phase, say, scaling_phase
from bench.stack import Cpus, Stack
from bench.summary import summarise
from bench.wrk import wrk_binary
from tests.support.cek import CekSigner

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent.parent / "README.md"
TABLE_START, TABLE_END = "<!-- bench:start -->", "<!-- bench:end -->"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--mode", choices=sorted(PROFILES), default="full")
    parser.add_argument("--quick", dest="mode", action="store_const", const="quick", help="--mode quick")
    parser.add_argument("--out", type=Path, help="result JSON (default bench/results/<mode>-<time>.json)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the server and the harness to CPUs")
    parser.add_argument("--readme", action="store_true", help="also put the table in README.md")
    return parser.parse_args()


def _tool_version(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return None
    found = re.search(r"\d+\.\d+(\.\d+)?", done.stdout + done.stderr)
    return found.group(0) if found else None


def _run_info(profile: Profile, cpus: Cpus, started: str) -> dict[str, Any]:
    caddy = caddy_binary()
    return {
        "mode": profile.name,
        "started": started,
        "cpu_count": len(os.sched_getaffinity(0)),
        "cpus": {
            "server": sorted(cpus.server) if cpus.server else None,
            "harness": sorted(cpus.harness) if cpus.harness else None,
        },
        "rounds": profile.rounds,
        "duration_s": profile.duration,
        "connections": profile.connections,
        "rate_connections": profile.rate_connections,
        "python": platform.python_version(),
        "aiohttp": version("aiohttp"),
        "wrk": _tool_version([wrk_binary() or "wrk", "-v"]),
        "caddy": _tool_version([caddy, "version"]) if caddy else None,
        "gateway_tls": False,
        "load_average_before": list(os.getloadavg()),
    }


def _update_readme(table: str) -> None:
    text = README.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    README.write_text(text[:start] + "\n" + table + text[end:])


def main() -> int:
    args = _arguments()
    profile = PROFILES[args.mode]
    if wrk_binary() is None:
        say("wrk is not installed: apt-get install wrk (./scripts/bench installs it)")
        return 2
    cpus = Cpus.free() if args.no_pin else Cpus.split()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    info = _run_info(profile, cpus, started)
    signer = CekSigner()
    with tempfile.TemporaryDirectory(prefix="cek-bench-") as scratch:
        workdir = Path(scratch)
        with Stack(workdir, cpus, signer) as stack:
            main_results = main_phase(stack, profile)
        (workdir / "scaling").mkdir()
        with Stack(workdir / "scaling", Cpus.free(), signer) as stack:
            scaling = scaling_phase(stack, profile)
        say("micro-costs")
        costs = micro.micro_costs(workdir / "cek-proxy.toml", profile.micro_iterations)
    info["load_average_after"] = list(os.getloadavg())
    result = {"run": info, **summarise(main_results, scaling, costs)}
    out = args.out or RESULTS / f"{profile.name}-{started.replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    table = markdown(result)
    print(table)
    say(f"result: {out}")
    if args.readme:
        _update_readme(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
