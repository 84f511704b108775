"""The Swarm's nodes, as the stack's engine (a manager) lists them: where the services may run.

Read at every run of the program with the docker CLI, the way the build platform is asked (over ssh
with `dockerSshOpts` for an `ssh://` engine), so that placement follows the nodes a user adds or labels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.engine import ask_engine


@dataclass(frozen=True)
class SwarmNode:
    id: str
    role: str  # manager or worker
    available: bool  # Ready and Active: the scheduler may place new tasks there
    labels: Mapping[str, str]
    local: bool  # the engine the program talks to, where it builds the images


def read_nodes(host: str, ssh_opts: Sequence[str] = ()) -> tuple[SwarmNode, ...]:
    """Every node of the Swarm the engine at `host` manages (EngineError when it cannot be asked)."""
    listing = ask_engine(host, ssh_opts, ["node", "ls", "--format", "{{.ID}} {{.Self}}"]).split()
    ids, selves = listing[0::2], listing[1::2]
    inspected = json.loads(ask_engine(host, ssh_opts, ["node", "inspect", *ids]))
    local = {node_id for node_id, self in zip(ids, selves, strict=True) if self == "true"}
    return tuple(_node(item, local) for item in inspected)


def _node(item: dict[str, Any], local: set[str]) -> SwarmNode:
    spec, status = item["Spec"], item["Status"]
    return SwarmNode(
        id=str(item["ID"]),
        role=str(spec.get("Role")),
        available=status.get("State") == "ready" and spec.get("Availability") == "active",
        labels={str(key): str(value) for key, value in (spec.get("Labels") or {}).items()},
        local=str(item["ID"]) in local,
    )
