"""A Swarm of several nodes on this machine, each a container running its own dockerd, and a registry.

Built as ../shared/docs/multinode-swarm.md measured it: a Debian rootfs with docker.io and
docker-registry (mmdebstrap, `docker import`, cached by its package list like the images' bases), node
containers with every capability but SYS_RESOURCE (--privileged fails here), `/var/lib/docker` on a
volume, fixed addresses on one bridge network, overlay networks across nodes (no IPVS: `dnsrr` and
host-mode ports). Each node's dockerd also listens on a unix socket in a host directory, which is how
the tests (and the program) reach it. The registry serves TLS (a test CA, trusted by every node through
`/etc/docker/certs.d`) with an htpasswd login. Everything carries the run's label; `remove` removes it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.models.containers import Container

from infra.build_images import build_base, build_image
from infra.images import ImageSpec
from tests.support.tls import TestCA

NODE_SPEC = ImageSpec(
    name="test-node",
    context=Path("tests/multinode/node"),
    dockerfile=Path("tests/multinode/node/Dockerfile"),
    sources=(Path("tests/multinode/node"),),
    packages=(
        *("docker.io", "docker-registry", "iptables", "iproute2", "ca-certificates"),
        *("curl", "procps", "util-linux", "mount"),
    ),
    uid=0,
)
RUN_LABEL = "cek-proxy.multinode-run"
SUBNET = "10.231.0.0/24"
REGISTRY_IP = "10.231.0.250"
REGISTRY_HOST = "cek-registry.test"
REGISTRY = f"{REGISTRY_HOST}:5000"
REGISTRY_USER = "cek-deploy"
# What a node needs instead of --privileged (which fails here). `systempaths=unconfined` is a CLI
# option (no masked or read-only /proc paths) that the SDK cannot express: nodes are made with the CLI.
NODE_RUN_OPTIONS = (
    *("--init", "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE"),
    *("--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined"),
    *("--device-cgroup-rule", "a *:* rwm"),
)
REGISTRY_CONFIG = """\
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
http:
  addr: 0.0.0.0:5000
  tls:
    certificate: /etc/cek-registry/tls.crt
    key: /etc/cek-registry/tls.key
auth:
  htpasswd:
    realm: cek-proxy-tests
    path: /etc/cek-registry/htpasswd
"""

Log = Callable[[str], None]


class NodeCommandError(RuntimeError):
    """A docker command inside a node failed (e.g. `docker node ls` while no manager leads)."""


@dataclass(frozen=True)
class NodeSpec:
    name: str  # n1 ... n5, also its hostname
    manager: bool
    labels: dict[str, str]
    ports: tuple[int, ...] = ()  # mapped from 127.0.0.1 on this machine to the same port of the node


@dataclass
class Node:
    spec: NodeSpec
    ip: str
    container: Container
    socket_dir: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def url(self) -> str:
        return f"unix://{self.socket_dir}/docker.sock"

    def client(self, timeout: int = 30) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, version="auto", timeout=timeout)

    def docker(self, *args: str, check: bool = True) -> str:
        """`docker <args>` against this node's engine, from inside the node."""
        code, output = self.container.exec_run(["docker", *args])
        text = bytes(output).decode(errors="replace").strip()
        if check and code != 0:
            raise NodeCommandError(f"{self.name}: docker {' '.join(args)}: {text}")
        return text

    def node_id(self) -> str:
        return self.docker("info", "--format", "{{.Swarm.NodeID}}")


@dataclass
class NodeCluster:
    host: docker.DockerClient
    run_id: str
    workdir: Path
    password: str
    ca: TestCA
    log: Log
    nodes: dict[str, Node] = field(default_factory=dict)

    @classmethod
    def create(
        cls, host: docker.DockerClient, run_id: str, specs: Sequence[NodeSpec], password: str, log: Log
    ) -> NodeCluster:
        """Build the node image if needed, start the registry and the nodes, form the Swarm."""
        workdir = Path(tempfile.mkdtemp(prefix=f"cekmn-{run_id}-"))
        cluster = cls(host, run_id, workdir, password, TestCA("cek-proxy multinode registry CA"), log)
        try:
            started = time.monotonic()
            image = node_image(host)
            log(f"node image {image}: {time.monotonic() - started:.1f}s")
            network = host.networks.create(
                f"cekmn-{run_id}",
                driver="bridge",
                ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=SUBNET)]),
                labels={RUN_LABEL: run_id},
            )
            cluster._timed("registry", lambda: cluster._start_registry(image, network.name))
            for index, spec in enumerate(specs, start=1):
                cluster._start_node(image, network.name, spec, f"10.231.0.{10 + index}")
            cluster._timed("swarm formed", cluster._form_swarm)
        except BaseException:
            cluster.remove()
            raise
        return cluster

    def _timed(self, what: str, step: Callable[[], object]) -> None:
        started = time.monotonic()
        step()
        self.log(f"{what}: {time.monotonic() - started:.1f}s")

    def _name(self, suffix: str) -> str:
        return f"cekmn-{self.run_id}-{suffix}"

    def _start_registry(self, image: str, network: str) -> None:
        config = self.workdir / "registry"
        config.mkdir()
        (config / "config.yml").write_text(REGISTRY_CONFIG)
        self.ca.issue(REGISTRY_HOST).write(config, "tls")
        (config / "tls.key").chmod(0o644)
        (config / "htpasswd").write_text(f"{REGISTRY_USER}:{bcrypt_hash(self.password)}\n")
        trust = self.workdir / "certs.d" / REGISTRY
        trust.mkdir(parents=True)
        (trust / "ca.crt").write_bytes(self.ca.cert_pem)
        self._run(
            "registry",
            network,
            REGISTRY_IP,
            "--volume", f"{config}:/etc/cek-registry:ro",
            "--volume", f"{self._name('registry-data')}:/var/lib/docker-registry",
            "--entrypoint", "docker-registry",
            image, "serve", "/etc/cek-registry/config.yml",
        )  # fmt: skip

    def _run(self, suffix: str, network: str, ip: str, *args: str) -> Container:
        """`docker run -d` of a container of the run, at a fixed address on the nodes' network."""
        name = self._name(suffix)
        done = subprocess.run(
            ["docker", "run", "--detach", "--name", name, "--label", f"{RUN_LABEL}={self.run_id}",
             "--network", network, "--ip", ip, *args],
            check=False,
            capture_output=True,
            text=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"docker run of {name} failed: {done.stderr.strip()}")
        found: Container = self.host.containers.get(name)
        return found

    def _start_node(self, image: str, network: str, spec: NodeSpec, ip: str) -> None:
        socket_dir = self.workdir / spec.name
        socket_dir.mkdir()
        container = self._run(
            spec.name,
            network,
            ip,
            *NODE_RUN_OPTIONS,
            "--hostname", spec.name,
            "--volume", f"{self._name(spec.name + '-docker')}:/var/lib/docker",
            "--volume", f"{socket_dir}:/cek-host",
            "--volume", f"{self.workdir / 'certs.d'}:/etc/docker/certs.d:ro",
            "--add-host", f"{REGISTRY_HOST}:{REGISTRY_IP}",
            *(arg for port in spec.ports for arg in ("--publish", f"127.0.0.1:{port}:{port}")),
            image,
        )  # fmt: skip
        self.nodes[spec.name] = Node(spec, ip, container, socket_dir)

    def wait_engine(self, node: Node, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                node.client(timeout=5).ping()
                return
            except docker.errors.DockerException:
                if time.monotonic() > deadline:
                    logs = node.container.logs(tail=20).decode(errors="replace")
                    raise AssertionError(
                        f"{node.name}: dockerd did not answer in {timeout:.0f}s:\n{logs}"
                    ) from None
                time.sleep(0.5)

    def _form_swarm(self) -> None:
        first, *others = self.nodes.values()
        for node in self.nodes.values():
            self.wait_engine(node)
        # Docker's default dispatcher heartbeat (5 s): with 1 s a new Raft leader marked healthy nodes
        # down and restarted their tasks, the gateway's among them (infra/swarm_settings.py).
        first.docker("swarm", "init", "--advertise-addr", first.ip)
        tokens = {role: first.docker("swarm", "join-token", "-q", role) for role in ("manager", "worker")}
        for node in others:
            role = "manager" if node.spec.manager else "worker"
            node.docker(
                "swarm", "join", "--advertise-addr", node.ip, "--token", tokens[role], f"{first.ip}:2377"
            )
        for node in self.nodes.values():
            args = [
                arg for key, value in node.spec.labels.items() for arg in ("--label-add", f"{key}={value}")
            ]
            if args:
                first.docker("node", "update", *args, node.spec.name)

    @property
    def manager(self) -> Node:
        """The first node: the Swarm's first manager and its first leader."""
        return next(iter(self.nodes.values()))

    def client(self, name: str) -> docker.DockerClient:
        return self.nodes[name].client()

    def leader(self, via: Node) -> str:
        """The name of the node that leads the Raft now, as `via` (a manager) sees it."""
        lines = via.docker("node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}").splitlines()
        return next(line.split()[0] for line in lines if line.endswith(" Leader"))

    def load_images(self, tags: Sequence[str], into: Node) -> None:
        """Copy images from this machine's engine into a node's, also named for the registry, as if
        the node had built them for the stack (`<registry>/cek-proxy/proxy:<tag>`)."""
        client = into.client(timeout=600)
        for tag in tags:
            started = time.monotonic()
            (image,) = client.images.load(b"".join(self.host.images.get(tag).save(named=True)))
            repository, _, version = f"{REGISTRY}/{tag}".rpartition(":")
            image.tag(repository, version)
            self.log(f"{tag} loaded into {into.name}: {time.monotonic() - started:.1f}s")

    def restart(self, node: Node) -> None:
        """Start a killed node again; its dockerd rejoins the Swarm from the state on its volume."""
        node.container.start()
        self.wait_engine(node)

    def remove(self) -> None:
        """Remove every container, volume and network of the run, and the socket directories."""
        selector = {"label": f"{RUN_LABEL}={self.run_id}"}
        for container in self.host.containers.list(all=True, filters=selector):
            container.remove(force=True, v=True)
        for volume in self.host.volumes.list(filters={"name": f"cekmn-{self.run_id}-"}):
            volume.remove(force=True)
        for network in self.host.networks.list(filters=selector):
            network.remove()
        for directory in Path(tempfile.gettempdir()).glob(f"cekmn-{self.run_id}-*"):
            shutil.rmtree(directory, ignore_errors=True)


def bcrypt_hash(password: str) -> str:
    """The htpasswd form the registry reads (bcrypt), from the C library's crypt(3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # crypt leaves Python in 3.13
        import crypt  # noqa: PLC0415 (deprecated: imported with its warning silenced)

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))  # noqa: S324 (bcrypt)


def node_image(host: docker.DockerClient) -> str:
    """The node image: its rootfs (mmdebstrap, cached by package list), then the entrypoint layer."""
    platform = "linux/amd64" if host.info()["Architecture"] == "x86_64" else "linux/arm64"
    base = build_base(NODE_SPEC, platform)
    return build_image(NODE_SPEC, platform, base)


def remove_stale_clusters(host: docker.DockerClient, log: Log) -> None:
    """Remove what earlier runs left behind (a run killed before its clean-up)."""
    runs = {c.labels[RUN_LABEL] for c in host.containers.list(all=True, filters={"label": RUN_LABEL})}
    runs |= {n.attrs["Labels"][RUN_LABEL] for n in host.networks.list(filters={"label": RUN_LABEL})}
    for run in sorted(runs):
        log(f"removing the nodes multinode run {run} left behind")
        NodeCluster(host, run, Path(tempfile.gettempdir()), "", TestCA(), log).remove()


def wait_until(what: str, check: Callable[[], bool], timeout: float, every: float = 0.5) -> float:
    """Poll `check` until it holds; the seconds it took. AssertionError naming `what` after `timeout`."""
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except (docker.errors.DockerException, NodeCommandError, StopIteration):
            pass  # a node or task that is coming and going: not yet
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(every)


def digests_of(client: docker.DockerClient) -> Iterator[str]:
    """Every repository digest of the images a node's engine holds."""
    for image in client.images.list():
        yield from image.attrs.get("RepoDigests") or []
