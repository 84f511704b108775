"""`python -m infra.converge --stack STACK [--timeout S]`: wait until the stack's rollout is really done.

`pulumi up` cannot say that. The docker provider's wait for a service update ends as soon as every
slot has a running task: it does not check that those tasks run the new spec, nor wait through the
update's `monitor` window, so it returns after the first task of a rolling update is replaced and
never sees a rollback that starts later. This command, run after `pulumi up` (`scripts/deploy`), finds
the stack's services by their `cek-proxy.stack` label on the stack's engine and waits until, for each:

- its update is `completed` (or it was never updated); `paused`, `rollback_started`, `rollback_paused`
  and `rollback_completed` fail at once, naming the service and the error of its last failed task;
- its running tasks are as many as its replicas, each created from the service's current task
  template, and each healthy (the container's health check, for tasks on the engine's own node;
  Swarm itself stops a task on another node that turns unhealthy).

Then it prunes the stack's Swarm secrets and configs that no service's current or previous spec uses
(Pulumi keeps replaced ones, `retain_on_delete`, so that a rollback finds them). Exit status 0 when
converged, 1 when the rollout failed or timed out (the cause on stderr), 2 when the engine cannot be
used.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import docker
from docker.models.services import Service

from infra.engine import EngineError, connect, engine_settings
from infra.stack_files import ROOT
from infra.swarm import STACK_LABEL

POLL_SECONDS = 2.0
FAILED_UPDATE_STATES = ("paused", "rollback_started", "rollback_paused", "rollback_completed")

Log = Callable[[str], None]


class RolloutError(RuntimeError):
    """A service's update failed or rolled back, or the stack did not converge in time."""


@dataclass(frozen=True)
class Progress:
    converged: bool
    summary: str


def service_progress(client: docker.DockerClient, service: Service, local_node: str) -> Progress:
    """Where one service's rollout stands; raises RolloutError when its update failed."""
    name = service.name
    update = service.attrs.get("UpdateStatus") or {}
    state = update.get("State")
    tasks = client.api.tasks(filters={"service": service.id})
    if state in FAILED_UPDATE_STATES:
        raise RolloutError(
            f"{name}: update {state}: {update.get('Message', '')}; "
            f"last task error: {last_task_error(tasks) or 'none recorded'}"
        )
    template = service.attrs["Spec"]["TaskTemplate"]
    wanted = [task for task in tasks if task.get("DesiredState") == "running"]
    current = [task for task in wanted if made_from(task, template)]
    checked = "Healthcheck" in template.get("ContainerSpec", {})
    ready = [task for task in current if _task_ready(client, task, local_node, checked)]
    replicas = _replicas(service, len(wanted))
    converged = state in (None, "completed") and len(ready) == replicas == len(wanted)
    summary = f"{len(ready)}/{replicas} tasks on the current spec and healthy, update {state or 'none'}"
    return Progress(converged, summary)


def made_from(task: dict[str, Any], template: dict[str, Any]) -> bool:
    """Whether the task was created from this task template (a task keeps a copy of it; the engine's
    service view adds `Runtime`, derived from the spec's kind, which tasks do not show)."""
    return bool(task.get("Spec") == {key: value for key, value in template.items() if key != "Runtime"})


def last_task_error(tasks: Iterable[dict[str, Any]]) -> str:
    """The error of the most recent task that recorded one (e.g. `task: non-zero exit (1)`)."""
    failed = [task["Status"] for task in tasks if task.get("Status", {}).get("Err")]
    failed.sort(key=lambda status: str(status.get("Timestamp", "")), reverse=True)
    return str(failed[0]["Err"]) if failed else ""


def wait_converged(client: docker.DockerClient, stack: str, timeout: float, log: Log) -> list[Service]:
    """Poll every service of the stack until all have converged; their final state."""
    local_node = str(client.info()["Swarm"]["NodeID"])
    deadline = time.monotonic() + timeout
    reported: dict[str, str] = {}
    while True:
        services = stack_services(client, stack)
        if not services:
            raise RolloutError(f"no service on this engine is labelled {STACK_LABEL}={stack}")
        progress = {service.name: service_progress(client, service, local_node) for service in services}
        for name, state in sorted(progress.items()):
            if reported.get(name) != state.summary:
                log(f"{name}: {state.summary}")
                reported[name] = state.summary
        if all(state.converged for state in progress.values()):
            return services
        if time.monotonic() > deadline:
            waiting = [f"{name} ({state.summary})" for name, state in progress.items() if not state.converged]
            raise RolloutError(f"not converged within {timeout:.0f}s: {', '.join(sorted(waiting))}")
        time.sleep(POLL_SECONDS)


def stack_services(client: docker.DockerClient, stack: str) -> list[Service]:
    found: list[Service] = client.services.list(filters={"label": f"{STACK_LABEL}={stack}"})
    return found


def prune(client: docker.DockerClient, services: Iterable[Service], stack: str, log: Log) -> None:
    """Delete the stack's secrets and configs that no service's current or previous spec uses."""
    specs = [spec for s in services for spec in (s.attrs["Spec"], s.attrs.get("PreviousSpec")) if spec]
    mounted = [spec["TaskTemplate"].get("ContainerSpec", {}) for spec in specs]
    used = {ref["SecretID"] for c in mounted for ref in c.get("Secrets") or []}
    used |= {ref["ConfigID"] for c in mounted for ref in c.get("Configs") or []}
    selector = {"label": f"{STACK_LABEL}={stack}"}
    for kind, collection in (("secret", client.secrets), ("config", client.configs)):
        for item in collection.list(filters=selector):
            if item.id in used:
                continue
            try:
                item.remove()
            except docker.errors.NotFound:
                continue
            except docker.errors.APIError as exc:  # still used by something outside the stack
                log(f"kept {kind} {item.name}: {exc.explanation}")
                continue
            log(f"pruned {kind} {item.name}, which no current or previous spec uses")


def converge(client: docker.DockerClient, stack: str, timeout: float, log: Log) -> None:
    started = time.monotonic()
    services = wait_converged(client, stack, timeout, log)
    log(f"stack {stack}: {len(services)} services converged in {time.monotonic() - started:.0f}s")
    prune(client, services, stack, log)


def _task_ready(client: docker.DockerClient, task: dict[str, Any], local_node: str, checked: bool) -> bool:
    if task.get("Status", {}).get("State") != "running":
        return False
    if not checked or task.get("NodeID") != local_node:
        return True  # Swarm reports a task running only once its health check passed
    container_id = task["Status"].get("ContainerStatus", {}).get("ContainerID")
    try:
        health = client.api.inspect_container(container_id)["State"].get("Health", {})
    except docker.errors.NotFound:  # replaced between the task list and now
        return False
    return bool(health.get("Status") == "healthy")


def _replicas(service: Service, wanted: int) -> int:
    mode = service.attrs["Spec"]["Mode"]
    return int(mode["Replicated"]["Replicas"]) if "Replicated" in mode else wanted


def _log(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.converge", description="Wait for the rollout, then prune."
    )
    parser.add_argument("--stack", required=True, help="the stack (dev, staging, prod)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait (default 600)")
    args = parser.parse_args(argv)
    try:
        client = connect(engine_settings(ROOT, args.stack))
        client.ping()
    except (EngineError, docker.errors.DockerException) as exc:
        print(f"converge: cannot use the engine of stack {args.stack}: {exc}", file=sys.stderr)
        return 2
    try:
        converge(client, args.stack, args.timeout, _log)
    except RolloutError as exc:
        print(f"converge: stack {args.stack} did not converge: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
