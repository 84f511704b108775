"""The docker provider's convergence wait, so that the test applier returns exactly when `pulumi up` would.

Read from kreuzwerker/terraform-provider-docker v4.5.0 (what pulumi-docker 5.2.0 bridges),
`internal/provider/resource_docker_service_funcs.go`, used when a service sets `converge_config`:

- What it looks at: the service's tasks whose desired state is `running`, one per slot (a slot's task
  with the lowest desired state, ties to the lowest observed state; tasks on nodes that are down are
  skipped). A slot counts when its task is `running`. Converged means as many counted slots as
  replicas. Nothing checks which spec a task runs, nor its health beyond Swarm's own `running` (which
  a task with a health check reaches once the check passed), nor the update's `monitor` window.
- On create: that count alone, first after `converge_config.delay`.
- On update: first after a fixed 7 s; `UpdateStatus` `completed` is done at once; `paused`,
  `rollback_paused` and `rollback_completed` fail; `updating` or none goes by the count; during
  `rollback_started` a full count fails ("service rollback completed").
- Polls: Terraform's StateChangeConf with MinTimeout 5 s: after the first look, 5 s, then 10 s.

So a start-first rolling update returns once the first replaced task runs, and a failure inside the
monitor window that rolls back after that is never seen. Nothing here is stricter than that.
"""

from __future__ import annotations

import time
from typing import Any

import docker

UPDATE_FIRST_LOOK_SECONDS = 7.0
POLL_SECONDS = (5.0, 10.0)  # the first wait between looks, then every later one
# Task states in the order Swarm moves through them (the provider's `numberedStates`).
TASK_STATES = [
    *("new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"),
    *("complete", "shutdown", "failed", "rejected"),
]
RUNNING_RANK = TASK_STATES.index("running") + 1
FAILED_UPDATES = ("paused", "rollback_paused", "rollback_completed")


class DidNotConvergeError(AssertionError):
    """What the provider reports as an error: a rollback, a paused update, or its timeout."""


def _rank(state: str) -> int:
    return TASK_STATES.index(state) + 1 if state in TASK_STATES else 0


def _task_per_slot(tasks: list[dict[str, Any]], active_nodes: set[str]) -> dict[int, dict[str, Any]]:
    by_slot: dict[int, dict[str, Any]] = {}
    for task in tasks:
        desired, observed = _rank(task["DesiredState"]), _rank(task["Status"]["State"])
        if not desired or not observed:
            continue
        if (kept := by_slot.get(task.get("Slot", 0))) is not None:
            kept_desired = _rank(kept["DesiredState"])
            if kept_desired < desired:
                continue
            if kept_desired == desired and _rank(kept["Status"]["State"]) <= observed:
                continue
        if task.get("NodeID") and task["NodeID"] not in active_nodes:
            continue
        by_slot[task.get("Slot", 0)] = task
    return by_slot


def running_slots(client: docker.DockerClient, service_id: str) -> tuple[int, int]:
    """(slots the provider counts as running, replicas)."""
    service = client.api.inspect_service(service_id)
    replicas = int(service["Spec"]["Mode"]["Replicated"]["Replicas"])
    tasks = client.api.tasks(filters={"service": service_id, "desired-state": "running"})
    active = {node["ID"] for node in client.api.nodes() if node["Status"]["State"] != "down"}
    running = sum(
        1
        for task in _task_per_slot(tasks, active).values()
        if _rank(task["DesiredState"]) <= RUNNING_RANK and task["Status"]["State"] == "running"
    )
    return running, replicas


def _update_converged(client: docker.DockerClient, service_id: str) -> bool:
    status = client.api.inspect_service(service_id).get("UpdateStatus") or {}
    state = status.get("State")
    if state == "completed":
        return True
    if state in FAILED_UPDATES:
        raise DidNotConvergeError(f"service update {state}: {status.get('Message', '')}")
    running, replicas = running_slots(client, service_id)
    if running == replicas and state == "rollback_started":
        raise DidNotConvergeError(f"service rollback completed: {status.get('Message', '')}")
    return running == replicas


def _created_converged(client: docker.DockerClient, service_id: str) -> bool:
    running, replicas = running_slots(client, service_id)
    return running == replicas


def wait_like_provider(
    client: docker.DockerClient, service_id: str, *, updated: bool, delay: float, timeout: float
) -> None:
    """Return when the provider's wait would; raise DidNotConvergeError where it would fail."""
    deadline = time.monotonic() + timeout
    converged = _update_converged if updated else _created_converged
    time.sleep(UPDATE_FIRST_LOOK_SECONDS if updated else delay)
    waits = iter(POLL_SECONDS)
    while not converged(client, service_id):
        pause = next(waits, POLL_SECONDS[-1])
        if time.monotonic() + pause > deadline:
            raise DidNotConvergeError(f"Service with ID ({service_id}) did not converge after {timeout:.0f}s")
        time.sleep(pause)
