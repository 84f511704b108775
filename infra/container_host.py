"""ContainerHost: the Docker engine (a Swarm manager) the stack deploys to, and its overlay networks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker


@dataclass(frozen=True)
class ContainerHostArgs:
    # "" uses DOCKER_HOST, else the local socket; or "ssh://user@host" (the remote needs the docker CLI).
    host: str
    ssh_opts: Sequence[str]


class ContainerHost(pulumi.ComponentResource):
    """The provider every other resource uses, and two overlay networks.

    `internal` has no route outside: the gateway reaches the proxy replicas on it, and the proxy the
    token store. `outbound` only gives its members a way out (the proxy to CLOVA, the gateway to its
    ACME CA and its host-mode ports); nothing on it is published. The gateway is the only service
    that publishes ports.
    """

    def __init__(
        self, name: str, args: ContainerHostArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cek-proxy:swarm:ContainerHost", name, None, opts)
        self.provider = docker.Provider(
            f"{name}-engine",
            host=args.host or None,
            ssh_opts=list(args.ssh_opts) or None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        on_engine = pulumi.ResourceOptions(parent=self, provider=self.provider)
        self.internal_network = docker.Network(
            f"{name}-internal", driver="overlay", internal=True, opts=on_engine
        )
        self.outbound_network = docker.Network(f"{name}-outbound", driver="overlay", opts=on_engine)
        self.register_outputs(
            {"internal_network": self.internal_network.id, "outbound_network": self.outbound_network.id}
        )
