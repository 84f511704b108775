"""The stack on a Swarm of 3 managers and 2 workers (node containers), its images in a registry.

Session fixtures, in order: the node image and the nodes (tests/multinode/nodes.py), labelled so that
placement is known in advance; the images built on this machine (as tests/deploy builds them) and
loaded into n1, the engine the program deploys to (as if it had built them); the staging-like stack
applied by the program through the test applier with n1 as `dockerHost` and the registry's settings
(it pushes the images, and the services name them by digest); the stub chatbot and backend pinned to
n3. The gateway runs on n2, whose HTTPS port is mapped to 127.0.0.1. Everything is removed at the
end, after a failure too.

The labels make placement deterministic: three zones for three replicas at most one per node, and
each worker a zone of its own, so both workers run a replica. n1 leads the Raft (it initialised the
Swarm) and holds neither the gateway, the token store nor the stubs, so killing it tests a leader
election, not the loss of a single point of ingress.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from infra.images import ALL_IMAGES, LOCAL_BASE_IMAGE, PROXY
from infra.placement import GATEWAY_LABEL, TOKEN_STORE_LABEL, ZONE_LABEL
from tests.conftest import watch_secret
from tests.deploy import stack_inputs
from tests.deploy.applier import push_image
from tests.deploy.cluster import StubServices, host_swarm_engine, stub_image
from tests.multinode.nodes import REGISTRY, REGISTRY_USER, NodeCluster, NodeSpec, remove_stale_clusters
from tests.multinode.stack import SUMMARY, MultiNodeStack, note
from tests.support.pulumi_program import ROOT, program_request, run_module

STACK = "dev"
HTTPS_PORT, HTTP_PORT = 19443, 19080
STUBS_LABEL = "cek-proxy.test-stubs"
PLATFORM = "linux/amd64"
SPECS = (
    NodeSpec("n1", True, {ZONE_LABEL: "z1"}),
    NodeSpec(
        "n2",
        True,
        {ZONE_LABEL: "z1", GATEWAY_LABEL: "true"},
        (HTTPS_PORT,),
    ),
    NodeSpec("n3", True, {ZONE_LABEL: "z1", TOKEN_STORE_LABEL: "true", STUBS_LABEL: "true"}),
    NodeSpec("n4", False, {ZONE_LABEL: "z2"}),
    NodeSpec("n5", False, {ZONE_LABEL: "z3"}),
)
SUITE_TIMEOUT_SECONDS = 1200


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/multinode/" in item.nodeid:
            item.add_marker(pytest.mark.timeout(SUITE_TIMEOUT_SECONDS))


def _log(message: str) -> None:
    note(message)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How long each stage took and what each fault did to the load, at the end of the run."""
    SUMMARY.write(terminalreporter)


@pytest.fixture(scope="session")
def host_engine() -> docker.DockerClient:
    client = host_swarm_engine(timeout=600)
    remove_stale_clusters(client, _log)
    return client


@pytest.fixture(scope="session")
def registry_password() -> str:
    return watch_secret(f"registry-{secrets.token_hex(12)}")


@pytest.fixture(scope="session")
def built_images(host_engine: docker.DockerClient) -> list[str]:
    """The three images, built on this machine as tests/deploy builds them (cached by content tag)."""
    started = time.monotonic()
    steps = ["bases", "wheelhouse", "caddy", "images", "--platform", PLATFORM]
    subprocess.run([sys.executable, "-m", "infra.build_images", *steps], cwd=ROOT, check=True)
    note(f"images built: {time.monotonic() - started:.1f}s")
    return [spec.tag(spec.base_image(LOCAL_BASE_IMAGE, PLATFORM), PLATFORM) for spec in ALL_IMAGES]


@pytest.fixture(scope="session")
def nodes(
    host_engine: docker.DockerClient, registry_password: str, built_images: list[str]
) -> Iterator[NodeCluster]:
    started = time.monotonic()
    run = secrets.token_hex(3)
    cluster = NodeCluster.create(host_engine, run, SPECS, registry_password, _log)
    try:
        stubs_tag = stub_image(host_engine, built_images[ALL_IMAGES.index(PROXY)])
        cluster.load_images([*built_images, stubs_tag], into=cluster.manager)
        note(f"nodes up, images loaded into n1: {time.monotonic() - started:.1f}s")
        yield cluster
    finally:
        started = time.monotonic()
        cluster.remove()
        note(f"nodes, registry, volumes and network removed: {time.monotonic() - started:.1f}s")


@pytest.fixture(scope="session")
def stack(
    nodes: NodeCluster,
    host_engine: docker.DockerClient,
    registry_password: str,
    built_images: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> MultiNodeStack:
    files = stack_inputs.test_files(tmp_path_factory.mktemp("multinode"))
    service_secrets = stack_inputs.stack_secrets()
    run_id = stack_inputs.new_run_id()
    overrides = {
        **stack_inputs.stack_overrides(files, HTTPS_PORT, HTTP_PORT),
        "dockerHost": nodes.manager.url,
        "buildPlatform": PLATFORM,
        "registryServer": REGISTRY,
        "registryUsername": REGISTRY_USER,
        "proxyMaxReplicasPerNode": 1,
    }

    def apply(changed: dict[str, Any], secret_values: dict[str, str]) -> dict[str, Any]:
        started = time.monotonic()
        values = {**secret_values, "registryPassword": registry_password}
        result = run_module(
            "tests.deploy.apply", {**program_request(STACK, values, changed), "run_id": run_id}, 900
        )
        print(result["log"], flush=True)
        note(f"program applied over the nodes: {time.monotonic() - started:.1f}s")
        outputs: dict[str, Any] = result["outputs"]
        return outputs

    manager = nodes.manager.client()
    apply(overrides, service_secrets)
    manager.login(REGISTRY_USER, registry_password, registry=REGISTRY)
    stubs_tag = stub_image(host_engine, built_images[ALL_IMAGES.index(PROXY)])  # loaded into n1 (`nodes`)
    stubs = StubServices.start(
        manager,
        run_id,
        image=push_image(manager, f"{REGISTRY}/{stubs_tag}"),  # the login above goes with it
        ca=files["ca"],
        chatbot_secret=service_secrets["chatbotSecret"],
        action_key=service_secrets["actionKey"],
        constraints=[f"node.labels.{STUBS_LABEL} == true"],
        exec_client=nodes.client("n3"),
    )
    # Removing the nodes (the `nodes` fixture) removes the stack with them.
    return MultiNodeStack(
        nodes=nodes,
        run_id=run_id,
        stack=STACK,
        signer=files["signer"],
        secrets=service_secrets,
        overrides=overrides,
        stubs=stubs,
        apply=apply,
        https_port=HTTPS_PORT,
    )
