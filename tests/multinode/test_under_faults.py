"""Under a steady load of signed turns through the gateway: a worker node, a proxy replica and the
Raft leader die, an update rolls, a secret rotates. Not one turn may be lost.

Each test prints the turns sent and answered, the failures, how long after the fault every replica
ran again (measured from when the kill returned), and the turns the stub chatbot received twice (a
retry that reached the chatbot a second time). Killed nodes are started again afterwards, so every
test starts with five nodes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

from tests.conftest import watch_secret
from tests.deploy.load import LoadReport, steady_load
from tests.multinode.nodes import Node, wait_until
from tests.multinode.stack import MultiNodeStack, note

RATE = 4.0  # turns a second
MAX_SECONDS = 240.0  # the load's own bound; each test stops it earlier
SETTLE_SECONDS = 5.0  # load before the fault, and after recovery
RECOVERY_TIMEOUT = 180.0
REPLICAS = 3


async def under_load(
    stack: MultiNodeStack,
    name: str,
    fault: Callable[[], float],
    recovered_means: str = "every replica running again",
) -> LoadReport:
    """Run `fault` (blocking; it returns the seconds until every replica ran again) under the load."""
    duplicates_before = stack.stubs.chatbot_stats()["duplicates"]
    stop = asyncio.Event()
    load = asyncio.create_task(
        steady_load(
            stack.base_url, stack.ssl_context(), stack.signer, seconds=MAX_SECONDS, rate=RATE, stop=stop
        )
    )
    await asyncio.sleep(SETTLE_SECONDS)
    recovered = await asyncio.to_thread(fault)
    await asyncio.sleep(SETTLE_SECONDS)
    stop.set()
    report = await load
    duplicates = stack.stubs.chatbot_stats()["duplicates"] - duplicates_before
    note(
        f"{name}: {report.sent} turns sent, {report.answered} answered, failures: "
        f"{dict(report.failures) or 'none'}, {recovered_means} {recovered:.1f}s after the fault, "
        f"{duplicates} turn(s) the chatbot received twice"
    )
    return report


def _replicas_running(stack: MultiNodeStack, *, not_on: str = "", not_container: str = "") -> bool:
    """Every replica runs, none on the dead node nor in the killed container (a dead node's tasks
    still show as running until the managers mark the node down)."""
    tasks = stack.running("proxy", avoid=not_on)
    return len([t for t in tasks if t.node != not_on and t.container_id != not_container]) == REPLICAS


def _kill(node: Node) -> None:
    """Kill a node's container (SIGKILL: its dockerd and tasks vanish), noting how long the kill took."""
    started = time.monotonic()
    node.container.kill()
    note(f"{node.name} killed (the kill took {time.monotonic() - started:.2f}s)")


def _replicas_back(stack: MultiNodeStack, node: Node) -> float:
    return wait_until(
        f"{REPLICAS} replicas running without {node.name}",
        lambda: _replicas_running(stack, not_on=node.name),
        RECOVERY_TIMEOUT,
    )


def _restart(stack: MultiNodeStack, node: Node) -> None:
    started = time.monotonic()
    stack.nodes.restart(node)
    wait_until(
        f"{node.name} ready again",
        lambda: stack.manager(node.name).client().nodes.get(node.name).attrs["Status"]["State"] == "ready",
        RECOVERY_TIMEOUT,
    )
    note(f"{node.name} started again and ready (engine and node) after {time.monotonic() - started:.1f}s")


def _assert_no_turn_lost(report: LoadReport) -> None:
    assert report.sent >= SETTLE_SECONDS * 2 * RATE, report
    assert report.answered == report.sent, report


async def test_a_killed_replica_loses_no_turn(stack: MultiNodeStack) -> None:
    (victim,) = [task for task in stack.running("proxy") if task.node == "n5"]

    def kill() -> float:
        stack.container(victim).kill()
        return wait_until(
            "the killed replica replaced",
            lambda: _replicas_running(stack, not_container=victim.container_id),
            RECOVERY_TIMEOUT,
        )

    _assert_no_turn_lost(await under_load(stack, "killed replica (on n5)", kill))


async def test_a_killed_worker_node_loses_no_turn(stack: MultiNodeStack) -> None:
    worker = stack.nodes.nodes["n4"]
    assert "n4" in {task.node for task in stack.running("proxy")}, "n4 runs a replica (its own zone)"

    def kill() -> float:
        _kill(worker)
        return _replicas_back(stack, worker)

    try:
        report = await under_load(stack, "killed worker node n4", kill)
    finally:
        _restart(stack, worker)
    _assert_no_turn_lost(report)


async def test_a_rolling_update_loses_no_turn(stack: MultiNodeStack) -> None:
    level = "debug" if stack.overrides["logLevel"] == "info" else "info"
    status: list[int] = []

    def update() -> float:
        started = time.monotonic()
        stack.redeploy({"logLevel": level})
        status.append(stack.converge().returncode)
        return time.monotonic() - started

    report = await under_load(stack, "rolling update", update, "the deploy command saw it converged")
    assert status == [0]
    for task in stack.running("proxy"):
        assert f"CEK_PROXY_LOG_LEVEL={level}" in task.spec["ContainerSpec"]["Env"], task.node
    _assert_no_turn_lost(report)


async def test_a_rotated_secret_loses_no_turn(stack: MultiNodeStack) -> None:
    old, new = stack.secrets["chatbotSecret"], watch_secret(f"rotated-{secrets.token_hex(12)}")
    stack.stubs.accept_chatbot_secrets([old, new])  # as the chatbot builder would, during the switch
    status: list[int] = []

    def rotate() -> float:
        started = time.monotonic()
        stack.redeploy(secrets={"chatbotSecret": new})
        status.append(stack.converge().returncode)
        return time.monotonic() - started

    report = await under_load(stack, "secret rotation", rotate, "the deploy command saw it converged")
    assert status == [0]
    for task in stack.running("proxy"):
        code, content = stack.container(task).exec_run(["cat", "/run/secrets/chatbot-secret"])
        assert (code, content.decode()) == (0, new), task.node
    _assert_no_turn_lost(report)


async def test_a_killed_raft_leader_loses_no_turn(stack: MultiNodeStack) -> None:
    leader = stack.nodes.nodes[stack.nodes.leader(via=stack.nodes.nodes["n2"])]
    assert leader.name == "n1", "n1, which holds neither the gateway nor the token store, leads"
    elected: list[float] = []

    def kill() -> float:
        _kill(leader)
        elected.append(
            wait_until(
                "a new leader",
                lambda: stack.nodes.leader(via=stack.nodes.nodes["n2"]) in ("n2", "n3"),
                RECOVERY_TIMEOUT,
            )
        )
        return elected[0] + _replicas_back(stack, leader)

    try:
        report = await under_load(stack, "killed Raft leader n1", kill)
    finally:
        _restart(stack, leader)
    new_leader = stack.nodes.leader(via=stack.nodes.nodes["n2"])
    note(f"killed Raft leader: {new_leader} led {elected[0]:.1f}s after the kill")
    _assert_no_turn_lost(report)
