"""The simulator against the deployed stack: `cek-proxy selftest` and the example conversation suite,
through the gateway's HTTPS with its internal CA, signed with the key `cek-proxy dev-key` made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.cluster import Deployment
from tests.support.cek import EXTENSION_ID
from tests.support.pulumi_program import ROOT

EXAMPLE_SUITE = ROOT / "examples" / "conversations" / "helpdesk.yaml"


@pytest.fixture
def simulator_args(deployment: Deployment, test_files: dict[str, Any], tmp_path: Path) -> list[str]:
    ca = tmp_path / "gateway-ca.crt"
    ca.write_bytes(deployment.gateway_ca())
    return ["--key", str(test_files["dev_key"]), "--extension-id", EXTENSION_ID, "--cacert", str(ca)]


def _cek_proxy(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "proxy", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_selftest_passes_against_the_deployed_gateway(
    deployment: Deployment, simulator_args: list[str]
) -> None:
    url = f"{deployment.base_url}/cek"
    run = _cek_proxy("selftest", url, *simulator_args, "--http-port", str(deployment.http_port))
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "all checks hold" in run.stdout


def test_the_example_suite_passes_against_the_deployed_stack(
    deployment: Deployment, simulator_args: list[str], tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    run = _cek_proxy(
        "test",
        str(EXAMPLE_SUITE),
        "--url",
        f"{deployment.base_url}/cek",
        *simulator_args,
        "--junit",
        str(junit),
    )
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'failures="0"' in junit.read_text()
