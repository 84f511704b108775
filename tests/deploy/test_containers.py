"""The running tasks, checked from inside with pytest-testinfra: what an operator would verify by hand."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import testinfra
from docker.models.containers import Container

from infra.images import GATEWAY, PROXY, TOKEN_STORE
from tests.deploy.cluster import Deployment

ROLES = {"proxy": PROXY.uid, "gateway": GATEWAY.uid, "token-store": TOKEN_STORE.uid}
PROCESSES = {
    "proxy": ("python3", "-m proxy"),
    "gateway": ("caddy", "run"),
    "token-store": ("redis-server", ""),
}
LISTENING = {
    "proxy": ["tcp://0.0.0.0:8080"],
    "gateway": ["tcp://:::8443", "tcp://:::8080"],
    "token-store": [],
}
PROXY_SECRETS = ("chatbot-secret", "action-key", "token-key", "token-store-password", "user-id-key")


def host_of(container: Container) -> Any:
    return testinfra.get_host(f"docker://{container.id}")


@pytest.fixture(params=sorted(ROLES))
def role(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def test_every_task_runs_as_its_own_non_root_user(deployment: Deployment, role: str) -> None:
    for container in deployment.containers(role):
        user = host_of(container).user()
        assert user.uid == ROLES[role] != 0


def test_the_root_filesystem_is_read_only(deployment: Deployment, role: str) -> None:
    for container in deployment.containers(role):
        probe = host_of(container).run("touch /probe-write")
        assert probe.rc != 0
        assert "Read-only file system" in probe.stderr
        assert container.attrs["HostConfig"]["ReadonlyRootfs"] is True


def test_no_task_has_any_effective_capability(deployment: Deployment, role: str) -> None:
    for container in deployment.containers(role):
        status = host_of(container).file("/proc/1/status").content_string
        (cap_eff,) = [line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")]
        assert int(cap_eff, 16) == 0


def test_the_expected_process_runs_and_healthchecks_pass(deployment: Deployment, role: str) -> None:
    command, argument = PROCESSES[role]
    for container in deployment.containers(role):
        processes = host_of(container).process.filter(comm=command)
        assert any(argument in process.args for process in processes), [p.args for p in processes]
        container.reload()
        assert container.attrs["State"]["Health"]["Status"] == "healthy"


def test_services_listen_where_expected(deployment: Deployment, role: str) -> None:
    for container in deployment.containers(role):
        host = host_of(container)
        for address in LISTENING[role]:
            assert host.socket(address).is_listening, address
    if role == "token-store":
        assert host_of(deployment.containers(role)[0]).socket("tcp://6379").is_listening


def test_each_secret_is_a_0400_file_owned_by_the_service_user(deployment: Deployment) -> None:
    for container in deployment.containers("proxy"):
        host = host_of(container)
        for name in PROXY_SECRETS:
            secret = host.file(f"/run/secrets/{name}")
            assert secret.exists, name
            assert secret.mode == 0o400
            assert secret.uid == PROXY.uid


def _secret_forms(deployment: Deployment) -> list[str]:
    values = list(deployment.secrets.values())
    return values + [base64.b64encode(v.encode()).decode().rstrip("=") for v in values]


def test_no_secret_value_is_in_docker_inspect_or_the_process_environment(deployment: Deployment) -> None:
    forms = _secret_forms(deployment)
    for role in ROLES:
        service = deployment.service(role)
        for container in deployment.containers(role):
            inspected = json.dumps(
                [service.attrs["Spec"], container.attrs["Config"], container.attrs["Args"]]
            )
            assert not [form for form in forms if form in inspected], (
                f"a secret is visible in {role}'s inspect"
            )
            environ = host_of(container).file("/proc/1/environ").content.decode(errors="replace")
            assert not [form for form in forms if form in environ], f"a secret is in {role}'s environment"


def test_only_the_gateway_publishes_ports(deployment: Deployment) -> None:
    published = {
        role: [
            (port["PublishedPort"], port["PublishMode"])
            for port in deployment.service(role).attrs["Endpoint"]["Spec"].get("Ports", [])
        ]
        for role in ROLES
    }
    assert published == {
        "gateway": [(deployment.https_port, "host"), (deployment.http_port, "host")],
        "proxy": [],
        "token-store": [],
    }


def test_the_token_store_and_proxy_are_only_on_private_networks(deployment: Deployment) -> None:
    for role in ("proxy", "token-store"):
        networks = deployment.service(role).attrs["Spec"]["TaskTemplate"]["Networks"]
        for attachment in networks:
            network = deployment.client.networks.get(attachment["Target"])
            assert network.attrs["Scope"] == "swarm"
            assert network.attrs["Driver"] == "overlay"
    (internal,) = deployment.service("token-store").attrs["Spec"]["TaskTemplate"]["Networks"]
    assert deployment.client.networks.get(internal["Target"]).attrs["Internal"] is True
