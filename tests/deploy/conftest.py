"""The deployment, for real: the Pulumi program applied to the local Docker Swarm, stubs beside it.

Session fixtures, in order: a Docker engine with Swarm (installed and started when missing, as root on
Debian; without one the suite skips, but fails in CI), the base images and wheelhouse (cached), the
stack applied by `tests.deploy.apply` with test settings (HTTPS on 127.0.0.1:18443, a `cek-proxy dev-key`,
the stubs' CA), then the stub chatbot and stub action backend as services on the stack's internal
network. Everything carries the run's label and is removed at the end, even after a failure.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from infra.engine import engine_platform
from infra.images import LOCAL_BASE_IMAGE, PROXY
from tests.deploy import stack_inputs
from tests.deploy.applier import SwarmApplier, remove_stale_runs
from tests.deploy.cluster import SUMMARY, Deployment, StubServices, host_swarm_engine, note, stub_image
from tests.deploy.stack_inputs import new_run_id, stack_secrets
from tests.support.pulumi_program import ROOT, program_request, run_module

HTTPS_PORT, HTTP_PORT = 18443, 18080
STACK = "dev"


# Setting up the deployment (base images, builds, convergence) happens inside the first test's time.
DEPLOY_TIMEOUT_SECONDS = 1500


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/deploy/" in item.nodeid:
            item.add_marker(pytest.mark.timeout(DEPLOY_TIMEOUT_SECONDS))


def _stage(name: str, started: float) -> None:
    note(f"{name}: {time.monotonic() - started:.1f}s")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How long each deployment stage took and what each load saw, at the end of the run."""
    SUMMARY.write(terminalreporter)


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    started = time.monotonic()
    client = host_swarm_engine()
    remove_stale_runs(client)
    _stage("docker engine and swarm", started)
    return client


@pytest.fixture(scope="session")
def built_bases(docker_client: docker.DockerClient) -> None:
    """Base images (mmdebstrap, cached by their package list), the wheelhouse the images install from
    and the gateway's Caddy."""
    started = time.monotonic()
    steps = ["bases", "wheelhouse", "caddy"]
    subprocess.run([sys.executable, "-m", "infra.build_images", *steps], cwd=ROOT, check=True)
    _stage("base images, wheelhouse and caddy", started)


@pytest.fixture(scope="session")
def deploy_secrets() -> dict[str, str]:
    return stack_secrets()


@pytest.fixture(scope="session")
def run_id() -> str:
    return new_run_id()


@pytest.fixture(scope="session")
def test_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return stack_inputs.test_files(tmp_path_factory.mktemp("deploy"))


@pytest.fixture(scope="session")
def stack_overrides(test_files: dict[str, Any]) -> dict[str, Any]:
    return stack_inputs.stack_overrides(test_files, HTTPS_PORT, HTTP_PORT)


@pytest.fixture(scope="session")
def deployment(
    docker_client: docker.DockerClient,
    built_bases: None,
    run_id: str,
    deploy_secrets: dict[str, str],
    stack_overrides: dict[str, Any],
    test_files: dict[str, Any],
) -> Iterator[Deployment]:
    def apply(overrides: dict[str, Any], secret_values: dict[str, str]) -> dict[str, Any]:
        started = time.monotonic()
        request = {**program_request(STACK, secret_values, overrides), "run_id": run_id}
        result = run_module("tests.deploy.apply", request, timeout=900)
        print(result["log"], flush=True)
        _stage("pulumi program applied", started)
        outputs: dict[str, Any] = result["outputs"]
        return outputs

    platform = engine_platform("")  # what the program builds for when buildPlatform is unset
    try:
        outputs = apply(stack_overrides, deploy_secrets)
        stubs = StubServices.start(
            docker_client,
            run_id,
            image=stub_image(
                docker_client, PROXY.tag(PROXY.base_image(LOCAL_BASE_IMAGE, platform), platform)
            ),
            ca=test_files["ca"],
            chatbot_secret=deploy_secrets["chatbotSecret"],
            action_key=deploy_secrets["actionKey"],
        )
        yield Deployment(
            client=docker_client,
            run_id=run_id,
            outputs=outputs,
            signer=test_files["signer"],
            secrets=dict(deploy_secrets),
            overrides=dict(stack_overrides),
            stubs=stubs,
            apply=apply,
            https_port=HTTPS_PORT,
            http_port=HTTP_PORT,
            stack=STACK,
        )
    finally:
        started = time.monotonic()
        SwarmApplier(docker_client, run_id, ROOT).remove_all()
        _stage("removed everything the run created", started)
