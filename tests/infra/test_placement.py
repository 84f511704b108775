"""Where the services run on a Swarm of several nodes, and what the program warns about."""

from __future__ import annotations

from infra.placement import MANAGERS, Placement, plan_placement
from infra.swarm_nodes import SwarmNode

SPREAD = ("spread=node.labels.zone",)


def node(
    name: str, role: str = "worker", labels: dict[str, str] | None = None, *, local: bool = False
) -> SwarmNode:
    return SwarmNode(name, role, True, labels or {}, local)


FIVE = (
    node("m1", "manager", {"zone": "a"}, local=True),
    node("m2", "manager", {"zone": "a", "cek-proxy.gateway": "true"}),
    node("m3", "manager", {"zone": "a", "cek-proxy.token-store": "true"}),
    node("w1", "worker", {"zone": "b"}),
    node("w2", "worker", {"zone": "c"}),
)


def test_with_a_registry_replicas_spread_over_zones_one_per_node() -> None:
    plan = plan_placement(FIVE, registry=True, proxy_replicas=3, max_per_node=1)
    assert plan.proxy == Placement(prefs=SPREAD, max_replicas=1)
    assert plan.gateway == Placement(("node.labels.cek-proxy.gateway == true",))
    assert plan.token_store == Placement(("node.labels.cek-proxy.token-store == true",))
    assert plan.warnings == ()


def test_without_a_registry_everything_stays_on_the_engines_node_and_the_program_says_so() -> None:
    plan = plan_placement(FIVE, registry=False, proxy_replicas=3, max_per_node=1)
    pin = ("node.id == m1",)
    assert plan.gateway == plan.token_store == Placement(pin)
    assert plan.proxy == Placement(pin, SPREAD, 0)
    assert any("no registryServer" in warning and "5 nodes" in warning for warning in plan.warnings)


def test_the_per_node_limit_needs_room_for_a_rolling_updates_extra_task() -> None:
    three = FIVE[:3]
    plan = plan_placement(three, registry=True, proxy_replicas=3, max_per_node=1)
    assert plan.proxy.max_replicas == 0
    assert any("proxyMaxReplicasPerNode 1 is not applied" in warning for warning in plan.warnings)
    assert plan_placement(three, registry=True, proxy_replicas=2, max_per_node=1).proxy.max_replicas == 1
    assert plan_placement(three, registry=True, proxy_replicas=3, max_per_node=2).proxy.max_replicas == 2


def test_unlabelled_the_gateway_goes_to_managers_and_the_token_store_to_the_engines_node() -> None:
    bare = tuple(SwarmNode(n.id, n.role, True, {}, n.local) for n in FIVE)
    plan = plan_placement(bare, registry=True, proxy_replicas=3, max_per_node=1)
    assert plan.gateway == Placement((MANAGERS,))
    assert plan.token_store == Placement(("node.id == m1",))
    assert any("no node is labelled cek-proxy.token-store=true" in warning for warning in plan.warnings)


def test_one_node_or_none_read_changes_nothing_and_warns_of_nothing() -> None:
    for nodes in ((node("m1", "manager", local=True),), ()):
        plan = plan_placement(nodes, registry=False, proxy_replicas=3, max_per_node=1)
        assert plan.proxy == Placement(prefs=SPREAD)
        assert plan.gateway == Placement((MANAGERS,))
        assert plan.token_store == Placement()
        assert plan.token_store.args() is None
        assert plan.warnings == ()
