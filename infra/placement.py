"""Where each service runs on a Swarm of several nodes, from the nodes' roles and labels.

The node labels the program reads (`docker node update --label-add KEY=VALUE NODE`):

- `zone`: proxy replicas spread evenly over its values (nodes without it count as one zone), and
  at most `proxyMaxReplicasPerNode` run on one node when the nodes leave room for a rolling update.
- `cek-proxy.gateway=true`: the nodes the gateway may run on (the DNS name points at them; the
  gateway is the stack's single point of ingress). With no node labelled, any manager.
- `cek-proxy.token-store=true`: the node that keeps the token store and its volume (label one node:
  the volume does not follow a task to another node). With none labelled, the engine's own node.

With no registry the images exist only on the engine that built them, so every service is pinned to
that node; the warnings say so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi_docker as docker

from infra.engine import EngineError
from infra.settings import StackSettings
from infra.swarm_nodes import SwarmNode, read_nodes
from infra.swarm_settings import swarm_warnings

ZONE_LABEL = "zone"
GATEWAY_LABEL = "cek-proxy.gateway"
TOKEN_STORE_LABEL = "cek-proxy.token-store"  # noqa: S105 (a node label)
MANAGERS = "node.role == manager"


@dataclass(frozen=True)
class Placement:
    constraints: tuple[str, ...] = ()
    prefs: tuple[str, ...] = ()
    max_replicas: int = 0  # per node; 0 is no limit

    def args(self) -> docker.ServiceTaskSpecPlacementArgs | None:
        if not (self.constraints or self.prefs or self.max_replicas):
            return None
        return docker.ServiceTaskSpecPlacementArgs(
            constraints=list(self.constraints) or None,
            prefs=list(self.prefs) or None,
            max_replicas=self.max_replicas or None,
        )


@dataclass(frozen=True)
class PlacementPlan:
    proxy: Placement
    gateway: Placement
    token_store: Placement
    warnings: tuple[str, ...]


def stack_placement(settings: StackSettings) -> PlacementPlan:
    """The plan for the stack's Swarm, as its engine lists the nodes now, with what the program should
    say about the Swarm-wide settings (asked only of an engine that answered: one warning, one wait,
    when it cannot be reached)."""
    host, ssh_opts = settings.docker_host, settings.docker_ssh_opts
    read: tuple[str, ...]
    try:
        nodes = read_nodes(host, ssh_opts)
    except EngineError as exc:
        nodes = ()
        read = (f"cannot list the Swarm's nodes ({exc}): services are placed as on one node",)
    else:
        read = swarm_warnings(host, ssh_opts)
    plan = plan_placement(
        nodes,
        registry=bool(settings.registry),
        proxy_replicas=settings.proxy_replicas,
        max_per_node=settings.proxy_max_replicas_per_node,
    )
    return dataclasses.replace(plan, warnings=(*read, *plan.warnings))


def plan_placement(
    nodes: Sequence[SwarmNode], *, registry: bool, proxy_replicas: int, max_per_node: int
) -> PlacementPlan:
    """The placement of each service on `nodes` (empty when they could not be read: no limits)."""
    warnings: list[str] = []
    local = next((node for node in nodes if node.local), None)
    pin: tuple[str, ...] = ()
    if not registry and local is not None and len(nodes) > 1:
        pin = (f"node.id == {local.id}",)
        warnings.append(
            f"the Swarm has {len(nodes)} nodes but no registryServer is set: the images exist only on"
            f" the engine's node {local.id}, so every service runs there; set registryServer to use them all"
        )
    spread = (f"spread=node.labels.{ZONE_LABEL}",)
    eligible = 1 if pin else sum(node.available for node in nodes)
    per_node = _max_per_node(eligible, proxy_replicas, max_per_node, warnings)
    proxy = Placement(constraints=pin, prefs=spread, max_replicas=per_node)
    if pin:
        return PlacementPlan(proxy, Placement(pin), Placement(pin), tuple(warnings))
    gateway = Placement((_labelled(nodes, GATEWAY_LABEL) or MANAGERS,))
    return PlacementPlan(proxy, gateway, _token_store(nodes, local, warnings), tuple(warnings))


def _max_per_node(eligible: int, replicas: int, limit: int, warnings: list[str]) -> int:
    """The limit, when the nodes can hold the replicas plus the one a start-first update adds."""
    if not limit or eligible * limit > replicas:
        return limit
    if eligible > 1:
        warnings.append(
            f"proxyMaxReplicasPerNode {limit} is not applied: {eligible} nodes cannot hold"
            f" {replicas} replicas and the extra task of a rolling update"
        )
    return 0


def _labelled(nodes: Sequence[SwarmNode], label: str) -> str | None:
    found = any(node.labels.get(label) == "true" for node in nodes)
    return f"node.labels.{label} == true" if found else None


def _token_store(nodes: Sequence[SwarmNode], local: SwarmNode | None, warnings: list[str]) -> Placement:
    labelled = [node for node in nodes if node.labels.get(TOKEN_STORE_LABEL) == "true"]
    if len(labelled) > 1:
        warnings.append(
            f"{len(labelled)} nodes are labelled {TOKEN_STORE_LABEL}=true: the token store's volume"
            " stays on the node it started on; label only one"
        )
    if labelled:
        return Placement((f"node.labels.{TOKEN_STORE_LABEL} == true",))
    if local is not None and len(nodes) > 1:
        warnings.append(
            f"no node is labelled {TOKEN_STORE_LABEL}=true: the token store is pinned to the engine's"
            f" node {local.id}"
        )
        return Placement((f"node.id == {local.id}",))
    return Placement()
