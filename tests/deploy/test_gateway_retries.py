"""The gateway's retries, against a replica that reads a request and hangs up without an answer.

The stack's own gateway (its image and the Caddyfile the program generated, read from the deployed
task) runs as a container on a bridge network of its own, in front of two stub replicas under the
DNS name the Caddyfile names (`dynamic a`, as the replicas are found in the stack): one answers with
what it got, one hangs up after reading the whole request. Each test starts a fresh gateway, since
a replica that failed is skipped for `fail_duration` afterwards. Requests go on until the hanging
replica has had one (the gateway picks replicas round robin over a DNS answer in varying order).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import ssl
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import docker
import pytest
from docker.models.containers import Container

from infra.caddyfile import CONTAINER_HTTPS_PORT
from infra.gateway import CADDYFILE_PATH
from tests.deploy.applier import RUN_LABEL
from tests.deploy.cluster import Deployment

MAX_REQUESTS = 20  # per test: the chance that none reaches the hanging replica is 2**-20
ANSWERING, HANGING = "answering", "hanging"


@dataclass
class Seen:
    method: str
    path: str
    sha256: str


@dataclass
class RetryRig:
    client: docker.DockerClient
    run_id: str
    gateway_image: str
    caddyfile: str
    network: str
    replicas: dict[str, Container]
    gateway: Container | None = None

    def fresh_gateway(self) -> str:
        """Start a new gateway container (no memory of failed replicas); its base URL on 127.0.0.1."""
        if self.gateway is not None:
            self.gateway.remove(force=True)
        self.gateway = self.client.containers.run(
            self.gateway_image,
            detach=True,
            name=f"{self.run_id}-retry-gateway",
            labels={RUN_LABEL: self.run_id},
            network=self.network,
            ports={f"{CONTAINER_HTTPS_PORT}/tcp": ("127.0.0.1", None)},
            volumes={self.caddyfile: {"bind": CADDYFILE_PATH, "mode": "ro"}},
        )
        self.gateway.reload()
        port = self.gateway.attrs["NetworkSettings"]["Ports"][f"{CONTAINER_HTTPS_PORT}/tcp"][0]["HostPort"]
        return f"https://localhost:{port}"

    def seen(self) -> dict[str, list[Seen]]:
        """What each replica read, in order (as far as its log has reached the engine)."""
        return {name: _seen(container) for name, container in self.replicas.items()}

    async def seen_once(self, count: int) -> dict[str, list[Seen]]:
        """What each replica read, once the lines of `count` requests have reached the engine's logs
        (a replica writes its line before it answers; the engine takes the line a moment later)."""
        for _ in range(100):
            seen = self.seen()
            if sum(map(len, seen.values())) >= count:
                return seen
            await asyncio.sleep(0.05)
        raise AssertionError(f"the replicas logged fewer than {count} requests in 5 s")


def _seen(container: Container) -> list[Seen]:
    lines = container.logs(stdout=True, stderr=False).decode().splitlines()
    return [Seen(**json.loads(line)) for line in lines if line.startswith("{")]


def _deployed_caddyfile(deployment: Deployment) -> str:
    """The Caddyfile the program deployed: the Swarm config the gateway service mounts there."""
    task = deployment.service("gateway").attrs["Spec"]["TaskTemplate"]
    (mount,) = [c for c in task["ContainerSpec"]["Configs"] if c["File"]["Name"] == CADDYFILE_PATH]
    data = deployment.client.configs.get(mount["ConfigID"]).attrs["Spec"]["Data"]
    return base64.b64decode(data).decode()


def _upstream(caddyfile: str) -> tuple[str, int]:
    found = re.search(r"dynamic a (\S+) (\d+)", caddyfile)
    assert found, f"the gateway's Caddyfile finds no replicas by DNS: {caddyfile[:2000]!r}"
    return found[1], int(found[2])


@pytest.fixture
def rig(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RetryRig]:
    client, run_id = deployment.client, deployment.run_id
    caddyfile = _deployed_caddyfile(deployment)
    path = tmp_path_factory.mktemp("retries") / "Caddyfile"
    path.write_text(caddyfile)
    path.chmod(0o644)
    host, port = _upstream(caddyfile)
    network = client.networks.create(f"{run_id}-retries", driver="bridge", labels={RUN_LABEL: run_id})
    image = deployment.service("gateway").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    rig = RetryRig(client, run_id, image, str(path), network.name, {})
    try:
        for name, extra in ((ANSWERING, []), (HANGING, ["--hang-up"])):
            replica = client.containers.create(
                deployment.stubs.image,
                ["replica", *extra, "--listen", f"0.0.0.0:{port}"],
                name=f"{run_id}-retry-{name}",
                labels={RUN_LABEL: run_id},
            )
            network.connect(replica, aliases=[host])
            replica.start()
            rig.replicas[name] = replica
        yield rig
    finally:
        for container in [*rig.replicas.values(), *([rig.gateway] if rig.gateway else [])]:
            container.remove(force=True)
        network.remove()


async def _send(
    rig: RetryRig, method: str, path: str, bodies: Iterator[bytes]
) -> list[tuple[int, bytes, dict[str, Any] | None]]:
    """Requests until the hanging replica has read one (at most MAX_REQUESTS): status, body, answer."""
    base_url = rig.fresh_gateway()
    sent: list[tuple[int, bytes, dict[str, Any] | None]] = []
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE  # a fresh internal CA each time
    async with aiohttp.ClientSession(
        base_url=base_url,
        connector=aiohttp.TCPConnector(ssl=insecure),
        timeout=aiohttp.ClientTimeout(total=15),
    ) as session:
        await _until_serving(session)
        for body in bodies:
            async with session.request(method, path, data=body or None) as resp:
                answer = await resp.json() if resp.status == 200 else None
                sent.append((resp.status, body, answer))
            if rig.seen()[HANGING] or len(sent) == MAX_REQUESTS:
                break
    return sent


async def _until_serving(session: aiohttp.ClientSession) -> None:
    """Until the new gateway answers HTTPS (a path it answers itself: no replica is tried)."""
    for _ in range(100):
        try:
            async with session.get("/not-proxied") as resp:
                if resp.status == 404:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the gateway did not start serving HTTPS in 10 s")


def _bodies(size: int) -> Iterator[bytes]:
    for turn in range(MAX_REQUESTS):
        yield json.dumps({"turn": turn, "pad": "가" * size}).encode()


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def test_a_turn_whose_replica_hangs_up_is_answered_by_another_with_its_whole_body(
    rig: RetryRig,
) -> None:
    sent = await _send(rig, "POST", "/cek", _bodies(size=8000))
    seen = await rig.seen_once(len(sent) + 1)
    assert [status for status, _, _ in sent] == [200] * len(sent)
    assert [answer["sha256"] if answer else None for _, _, answer in sent] == [_sha(b) for _, b, _ in sent]
    assert [s.sha256 for s in seen[ANSWERING]] == [_sha(body) for _, body, _ in sent]
    assert len(seen[HANGING]) == 1
    assert seen[HANGING][0].sha256 in {_sha(body) for _, body, _ in sent}


async def test_an_action_post_that_was_sent_is_never_sent_again(rig: RetryRig) -> None:
    sent = await _send(rig, "POST", "/actions/orders", _bodies(size=100))
    seen = await rig.seen_once(len(sent))
    assert Counter(status for status, _, _ in sent) == Counter({502: 1, 200: len(sent) - 1})
    assert len(seen[HANGING]) == 1
    received = Counter(s.sha256 for s in seen[ANSWERING] + seen[HANGING])
    assert received == Counter(_sha(body) for _, body, _ in sent)  # each exactly once


async def test_an_idempotent_action_call_is_retried(rig: RetryRig) -> None:
    sent = await _send(rig, "GET", "/actions/orders", (b"" for _ in range(MAX_REQUESTS)))
    seen = await rig.seen_once(len(sent) + 1)
    assert [status for status, _, _ in sent] == [200] * len(sent)
    assert [s.method for s in seen[HANGING]] == ["GET"]
    assert len(seen[ANSWERING]) == len(sent)
