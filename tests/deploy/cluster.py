"""What the deployment tests work with: the deployed stack, its stub upstreams, HTTPS through the gateway."""

from __future__ import annotations

import hashlib
import io
import json
import os
import ssl
import subprocess
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.models.containers import Container
from docker.models.services import Service

from infra.converge import made_from
from tests.conftest import watch_secret
from tests.deploy.applier import NAME_LABEL, RUN_LABEL, upsert_service
from tests.deploy.provider_wait import wait_like_provider
from tests.support.pulumi_program import ROOT
from tests.support.run_summary import RunSummary
from tests.support.tls import TestCA
from tests.support.tools import missing

ROLE_LABEL = "cek-proxy.role"
SUMMARY = RunSummary("deployment")  # printed at the end of the run (tests/deploy/conftest.py)
note = SUMMARY.note
GATEWAY_CA_PATH = "/data/caddy/pki/authorities/local/root.crt"
STUB_PORT = 8443
ORDERS_TRIGGER = "주문"  # the stub chatbot calls the orders action for texts with this word
# Texts with this word the stub chatbot answers after SLOW_SECONDS: longer than the gateway waits for
# a replica's response headers (infra/caddyfile.py, 4 s), shorter than the proxy waits for the
# chatbot (CEK_PROXY_UPSTREAM_TIMEOUT, 5 s by default, which the stack keeps).
SLOW_TRIGGER = "천천히"
SLOW_SECONDS = 4.5
# The token the tests' CEK requests carry; the stub backend accepts no other.
USER_TOKEN = watch_secret("deploy-user-token-R4nd0mTok3n")


def _labelled(run_id: str, **extra: str) -> list[str]:
    return [f"{RUN_LABEL}={run_id}", *(f"{key}={value}" for key, value in extra.items())]


def wait_for(what: str, check: Callable[[], bool], timeout: float, every: float = 1.0) -> None:
    """Poll `check` until it holds; AssertionError naming `what` after `timeout` seconds.

    Docker objects come and go while a check runs: one that vanished (NotFound) just means "not yet"."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except docker.errors.NotFound:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(every)


def running_containers(client: docker.DockerClient, service: Service) -> list[Container]:
    """The service's task containers that are running now (those removed while listing are left out)."""
    found: list[Container] = client.containers.list(
        filters={"label": f"com.docker.swarm.service.id={service.id}", "status": "running"},
        ignore_removed=True,
    )
    return found


def read_file(container: Container, path: str) -> bytes:
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        member = archive.extractfile(archive.getmembers()[0])
        assert member is not None
        return member.read()


@dataclass
class StubServices:
    """The stub chatbot and stub action backend, as Swarm services on the stack's internal network.

    On a Swarm of several nodes they run where `constraints` put them, and `exec_client` is the
    engine of that node, a manager (the stats are read from inside the chatbot's container)."""

    client: docker.DockerClient
    run_id: str
    image: str
    network_id: str
    ca: TestCA
    action_key: str
    chatbot_secrets: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    exec_client: docker.DockerClient | None = None

    @classmethod
    def start(
        cls,
        client: docker.DockerClient,
        run_id: str,
        *,
        image: str,
        ca: TestCA,
        chatbot_secret: str,
        action_key: str,
        constraints: Sequence[str] = (),
        exec_client: docker.DockerClient | None = None,
    ) -> StubServices:
        started = time.monotonic()
        stubs = cls(
            client,
            run_id,
            image,
            _internal_network(client, run_id),
            ca,
            action_key,
            constraints=list(constraints),
            exec_client=exec_client,
        )
        stubs._create(
            "stub-backend",
            ["backend", "--expect-token-file", "/run/secrets/expected-token"],
            {"expected-token": USER_TOKEN},
        )
        stubs.accept_chatbot_secrets([chatbot_secret])
        note(f"stub services: {time.monotonic() - started:.1f}s")
        return stubs

    def accept_chatbot_secrets(self, values: Sequence[str]) -> None:
        """(Re)deploy the stub chatbot accepting exactly these Custom API secret keys."""
        self.chatbot_secrets = list(values)
        files = {f"chatbot-secret-{i}": value for i, value in enumerate(values)}
        files["action-key"] = self.action_key
        args = [
            "chatbot",
            *[
                arg
                for name in files
                if name.startswith("chatbot-secret")
                for arg in ("--secret-file", f"/run/secrets/{name}")
            ],
            "--action-url",
            "http://proxy:8080/actions/orders",
            "--action-key-file",
            "/run/secrets/action-key",
            "--action-trigger",
            ORDERS_TRIGGER,
            "--slow-trigger",
            SLOW_TRIGGER,
            "--slow-seconds",
            str(SLOW_SECONDS),
        ]
        self._create("stub-chatbot", args, files)

    def _secret(self, alias: str, name: str, value: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(value).hexdigest()[:10]
        secret_name = f"{self.run_id}-{alias}-{name}-{digest}"
        existing = [
            s for s in self.client.secrets.list(filters={"name": secret_name}) if s.name == secret_name
        ]
        secret = (
            existing[0]
            if existing
            else self.client.secrets.create(name=secret_name, data=value, labels={RUN_LABEL: self.run_id})
        )
        return {
            "SecretID": secret.id,
            "SecretName": secret_name,
            "File": {"Name": name, "UID": "10001", "GID": "10001", "Mode": 0o400},
        }

    def _create(self, alias: str, args: list[str], files: dict[str, str]) -> None:
        certificate = self.ca.issue(alias)
        mounts = [self._secret(alias, name, value.encode()) for name, value in files.items()]
        mounts += [
            self._secret(alias, "tls.crt", certificate.cert_pem),
            self._secret(alias, "tls.key", certificate.key_pem),
        ]
        tls = [
            "--listen",
            f"0.0.0.0:{STUB_PORT}",
            "--tls-cert",
            "/run/secrets/tls.crt",
            "--tls-key",
            "/run/secrets/tls.key",
        ]
        task = {
            "ContainerSpec": {
                "Image": self.image,
                "Args": [*args, *tls],
                "Secrets": mounts,
                "ReadOnly": True,
            },
            "Networks": [{"Target": self.network_id, "Aliases": [alias]}],
            "RestartPolicy": {"Condition": "any", "Delay": 1_000_000_000},
            **({"Placement": {"Constraints": self.constraints}} if self.constraints else {}),
        }
        name = f"{self.run_id}-{alias}"
        labels = {RUN_LABEL: self.run_id, NAME_LABEL: alias}
        existing = self.client.services.list(filters={"name": name})
        service_id, created = upsert_service(
            self.client,
            existing[0] if existing else None,
            task,
            name=name,
            labels=labels,
            endpoint_spec={"Mode": "dnsrr"},
        )
        # The stubs have no health check: a running task in the slot is a serving stub.
        wait_like_provider(self.client, service_id, updated=not created, delay=0, timeout=120)

    def chatbot_stats(self) -> dict[str, Any]:
        """What the stub chatbot counted: requests received, rejected, matched per secret, and
        `duplicates` (requests whose text it had already received)."""
        engine = self.exec_client or self.client  # a manager: it lists services too
        (service,) = engine.services.list(filters={"name": f"{self.run_id}-stub-chatbot"})
        url = f"https://127.0.0.1:{STUB_PORT}/stats"
        script = (
            "import ssl, urllib.request; ctx = ssl._create_unverified_context(); "
            f"print(urllib.request.urlopen('{url}', context=ctx).read().decode())"
        )
        container = running_containers(engine, service)[0]
        code, output = container.exec_run(["python3", "-c", script])
        assert code == 0, output
        stats: dict[str, Any] = json.loads(output)
        return stats


def host_swarm_engine(timeout: float = 60) -> docker.DockerClient:
    """This machine's engine in Swarm mode, set up by scripts/lib.sh when missing."""
    setup = subprocess.run(
        ["bash", "-c", "source scripts/lib.sh && ensure_docker_swarm"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if setup.returncode != 0:
        missing(
            "a Docker engine in Swarm mode",
            f"scripts/lib.sh ensure_docker_swarm said: {setup.stderr.strip()}",
        )
    return docker.from_env(version="auto", timeout=timeout)


def run_converge(
    stack: str, timeout: float, docker_host: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The product's deploy wait, `python -m infra.converge --stack STACK`, as `scripts/deploy` runs it
    after `pulumi up` (against `docker_host` when given); its progress lines go to the run's output."""
    done = subprocess.run(
        [sys.executable, "-m", "infra.converge", "--stack", stack, "--timeout", str(timeout)],
        cwd=ROOT,
        env={**os.environ, **({"DOCKER_HOST": docker_host} if docker_host else {})},
        capture_output=True,
        text=True,
        timeout=timeout + 60,
        check=False,
    )
    print(done.stdout, done.stderr, sep="\n", flush=True)
    return done


def stub_image(client: docker.DockerClient, proxy_image: str) -> str:
    """The stubs' image (built on `client`'s engine when missing), tagged by its content."""
    digest = hashlib.sha256(proxy_image.encode())
    for path in [*sorted((ROOT / "tests" / "support").glob("*.py")), ROOT / "tests/deploy/stubs.Dockerfile"]:
        digest.update(path.read_bytes())
    tag = f"cek-proxy/test-stubs:{digest.hexdigest()[:16]}"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        client.images.build(
            path=str(ROOT / "tests"),
            dockerfile="deploy/stubs.Dockerfile",
            buildargs={"PROXY_IMAGE": proxy_image},
            tag=tag,
            rm=True,
        )
    return tag


def _internal_network(client: docker.DockerClient, run_id: str) -> str:
    (network,) = client.networks.list(filters={"label": _labelled(run_id, **{NAME_LABEL: "host-internal"})})
    return str(network.id)


@dataclass
class Deployment:
    client: docker.DockerClient
    run_id: str
    outputs: dict[str, Any]
    signer: Any
    secrets: dict[str, str]
    overrides: dict[str, Any]
    stubs: StubServices
    apply: Callable[[dict[str, Any], dict[str, str]], dict[str, Any]]
    https_port: int
    http_port: int
    stack: str

    def service(self, role: str) -> Service:
        (service,) = self.client.services.list(
            filters={"label": _labelled(self.run_id, **{ROLE_LABEL: role})}
        )
        return service

    def containers(self, role: str) -> list[Container]:
        return running_containers(self.client, self.service(role))

    def _log_lines(self, role: str, since: float) -> list[dict[str, Any]]:
        """The JSON lines a service's tasks logged since `since` (epoch s), stopped tasks too."""
        selector = {"label": f"com.docker.swarm.service.id={self.service(role).id}"}
        lines = []
        for container in self.client.containers.list(all=True, filters=selector, ignore_removed=True):
            try:
                logged = container.logs(since=int(since)).decode(errors="replace")
            except docker.errors.NotFound:  # removed since the listing
                continue
            for line in logged.splitlines():
                if line.startswith("{"):
                    lines.append(json.loads(line))
        return lines

    def proxy_outcomes(self, since: float) -> Counter[str]:
        """What the proxy tasks logged as the outcome of each CEK request since `since`."""
        return Counter(
            str(line.get("outcome")) for line in self._log_lines("proxy", since) if line.get("path") == "/cek"
        )

    def gateway_errors(self, since: float) -> Counter[str]:
        """The gateway's error log since `since`, counted by message (e.g. a failed dial to a replica)."""
        return Counter(
            f"{line.get('msg')}: {str(line.get('error', ''))[:80]}"
            for line in self._log_lines("gateway", since)
            if line.get("level") == "error"
        )

    def converge(self, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run_converge(self.stack, timeout)

    def tasks_on_current_spec(self, role: str) -> tuple[int, int]:
        """(running tasks of the service made from its current task template, all its running tasks)."""
        service = self.service(role)
        template = service.attrs["Spec"]["TaskTemplate"]
        running = [
            t for t in service.tasks({"desired-state": "running"}) if t["Status"]["State"] == "running"
        ]
        return sum(1 for t in running if made_from(t, template)), len(running)

    def redeploy(
        self, overrides: dict[str, Any] | None = None, secrets: dict[str, str] | None = None
    ) -> None:
        """`pulumi up` again with changed settings or secrets (the program runs in full, as it would)."""
        self.overrides.update(overrides or {})
        self.secrets.update(secrets or {})
        self.outputs = self.apply(self.overrides, self.secrets)

    def gateway_ca(self) -> bytes:
        """The root of Caddy's internal CA, which signed the gateway's certificate for localhost."""
        found: list[bytes] = []

        def read() -> bool:
            gateways = self.containers("gateway")
            if gateways:
                found.append(read_file(gateways[0], GATEWAY_CA_PATH))
            return bool(found)

        wait_for("the gateway's CA certificate", read, timeout=30)
        return found[0]

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.gateway_ca().decode())

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.https_port}"
