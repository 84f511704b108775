"""The stack deployed over the node containers: its services and tasks, node by node."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
from docker.models.containers import Container
from docker.models.services import Service

from infra.swarm import ROLE_LABEL
from tests.deploy.applier import RUN_LABEL
from tests.deploy.cluster import GATEWAY_CA_PATH, StubServices, read_file, run_converge
from tests.multinode.nodes import Node, NodeCluster
from tests.support.cek import CekSigner
from tests.support.run_summary import RunSummary

SUMMARY = RunSummary("multinode")  # printed at the end of the run (tests/multinode/conftest.py)
note = SUMMARY.note


@dataclass(frozen=True)
class Task:
    node: str  # the node's hostname: n1 ... n5
    container_id: str
    spec: dict[str, Any]


@dataclass
class MultiNodeStack:
    nodes: NodeCluster
    run_id: str
    stack: str
    signer: CekSigner
    secrets: dict[str, str]
    overrides: dict[str, Any]
    stubs: StubServices
    apply: Callable[[dict[str, Any], dict[str, str]], dict[str, Any]]
    https_port: int

    def manager(self, avoid: str = "") -> Node:
        """A manager to ask, other than `avoid` (a node that is down)."""
        return next(n for n in self.nodes.nodes.values() if n.spec.manager and n.name != avoid)

    def service(self, role: str, avoid: str = "") -> Service:
        client = self.manager(avoid).client()
        (service,) = client.services.list(
            filters={"label": [f"{RUN_LABEL}={self.run_id}", f"{ROLE_LABEL}={role}"]}
        )
        return service

    def running(self, role: str, avoid: str = "") -> list[Task]:
        """The service's tasks that run now, with the node each runs on (as a manager sees them)."""
        client = self.manager(avoid).client()
        names = {node.id: node.attrs["Description"]["Hostname"] for node in client.nodes.list()}
        service = self.service(role, avoid)
        tasks = service.tasks({"desired-state": "running"})
        return [
            Task(names[task["NodeID"]], task["Status"]["ContainerStatus"]["ContainerID"], task["Spec"])
            for task in tasks
            if task["Status"]["State"] == "running"
        ]

    def container(self, task: Task) -> Container:
        found: Container = self.nodes.client(task.node).containers.get(task.container_id)
        return found

    def gateway_ca(self) -> bytes:
        (gateway,) = self.running("gateway")
        return read_file(self.container(gateway), GATEWAY_CA_PATH)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.gateway_ca().decode())

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.https_port}"

    def redeploy(
        self, overrides: dict[str, Any] | None = None, secrets: dict[str, str] | None = None
    ) -> None:
        """`pulumi up` again with changed settings or secrets."""
        self.overrides.update(overrides or {})
        self.secrets.update(secrets or {})
        self.apply(self.overrides, self.secrets)

    def converge(self, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The product's deploy wait against n1, the program's engine."""
        return run_converge(self.stack, timeout, self.nodes.manager.url)

    def node_client(self, name: str) -> docker.DockerClient:
        return self.nodes.client(name)
