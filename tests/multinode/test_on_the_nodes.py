"""The stack spread over the nodes: where each service runs, where its images came from, and the
tasks on worker nodes checked from inside with testinfra, as on one node (tests/deploy)."""

from __future__ import annotations

from typing import Any

import pytest
import testinfra

from infra.images import PROXY
from tests.multinode.nodes import REGISTRY, digests_of
from tests.multinode.stack import MultiNodeStack, Task, note
from tests.support.pulumi_program import program_request, run_module

WORKERS = ("n4", "n5")
WITHOUT_REGISTRY = {"registryServer": "", "registryUsername": ""}
PROXY_SECRETS = ("chatbot-secret", "action-key", "token-key", "token-store-password", "user-id-key")


def test_replicas_spread_one_per_zone_and_node_and_each_service_runs_where_its_label_says(
    stack: MultiNodeStack,
) -> None:
    proxies = sorted(task.node for task in stack.running("proxy"))
    note(
        f"placement: proxy on {proxies}, gateway on {[t.node for t in stack.running('gateway')]},"
        f" token store on {[t.node for t in stack.running('token-store')]}"
    )
    assert len(set(proxies)) == len(proxies) == 3
    assert set(WORKERS) <= set(proxies)  # each worker is a zone of its own
    assert [task.node for task in stack.running("gateway")] == ["n2"]
    assert [task.node for task in stack.running("token-store")] == ["n3"]


def test_every_task_runs_its_image_by_digest_pulled_from_the_registry(stack: MultiNodeStack) -> None:
    pulled = []
    for role in ("proxy", "gateway", "token-store"):
        for task in stack.running(role):
            image = task.spec["ContainerSpec"]["Image"]
            assert image.startswith(f"{REGISTRY}/cek-proxy/"), image
            assert "@sha256:" in image, image
            if task.node != stack.nodes.manager.name:  # n1 built (here: was given) the images
                assert image in set(digests_of(stack.node_client(task.node))), (task.node, image)
                pulled.append(f"{role} on {task.node}")
    note(f"pulled from the registry: {', '.join(sorted(pulled))}")
    assert len(pulled) >= 4


def _on_workers(stack: MultiNodeStack) -> list[Task]:
    tasks = [task for task in stack.running("proxy") if task.node in WORKERS]
    assert tasks, "no proxy task on a worker node"
    return tasks


def test_tasks_on_workers_are_hardened_and_get_their_secrets_as_files(
    stack: MultiNodeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for task in _on_workers(stack):
        monkeypatch.setenv("DOCKER_HOST", stack.nodes.nodes[task.node].url)
        host = testinfra.get_host(f"docker://{task.container_id}")
        assert host.user().uid == PROXY.uid != 0, task.node
        probe = host.run("touch /probe-write")
        assert probe.rc != 0, task.node
        assert "Read-only file system" in probe.stderr, task.node
        status = host.file("/proc/1/status").content_string
        (cap_eff,) = [line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")]
        assert int(cap_eff, 16) == 0, task.node
        assert any("-m proxy" in p.args for p in host.process.filter(comm="python3")), task.node
        for name in PROXY_SECRETS:
            secret = host.file(f"/run/secrets/{name}")
            assert (secret.exists, secret.mode, secret.uid) == (True, 0o400, PROXY.uid), (task.node, name)
        environ = host.file("/proc/1/environ").content.decode(errors="replace")
        assert not [value for value in stack.secrets.values() if value in environ], task.node
    note(f"testinfra: proxy tasks on {sorted(t.node for t in _on_workers(stack))} checked")


def _run_program(stack: MultiNodeStack, overrides: dict[str, Any]) -> dict[str, Any]:
    """The program run against n1 with these settings (under mocks): its log and its resources."""
    request = program_request(stack.stack, stack.secrets, overrides)
    recorded: dict[str, Any] = run_module("tests.support.pulumi_program", request, 120)
    return recorded


def test_without_a_registry_the_program_pins_everything_to_its_node_and_says_so(
    stack: MultiNodeStack,
) -> None:
    recorded = _run_program(stack, {**stack.overrides, **WITHOUT_REGISTRY})
    warned = [line for line in recorded["log"].splitlines() if "no registryServer is set" in line]
    assert warned, recorded["log"][-2000:]
    assert "dispatcher heartbeat" not in recorded["log"]  # Docker's default 5 s, read from n1
    assert "the Swarm has 5 nodes" in warned[0]
    pin = f"node.id == {stack.nodes.manager.node_id()}"
    services = [r for r in recorded["resources"] if r["type"] == "docker:index/service:Service"]
    assert {r["name"]: r["inputs"]["taskSpec"]["placement"]["constraints"] for r in services} == {
        name: [pin] for name in ("token-store", "proxy", "gateway")
    }


def test_a_short_dispatcher_heartbeat_draws_the_programs_warning(stack: MultiNodeStack) -> None:
    """1 s, which let a new Raft leader mark the gateway's healthy node down (infra/swarm_settings.py)."""
    manager = stack.nodes.manager
    manager.docker("swarm", "update", "--dispatcher-heartbeat", "1s")
    try:
        log = _run_program(stack, {**stack.overrides, **WITHOUT_REGISTRY})["log"]
    finally:
        manager.docker("swarm", "update", "--dispatcher-heartbeat", "5s")
    warned = [line for line in log.splitlines() if "the Swarm's dispatcher heartbeat is 1s" in line]
    assert warned, log[-2000:]
    assert "docker swarm update --dispatcher-heartbeat 5s" in warned[0]
