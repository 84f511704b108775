"""Swarm-wide settings the stack depends on but does not own, checked at every run of the program.

They belong to the whole Swarm, not to one stack, so the program reads them and warns rather than
sets them. One matters here, the dispatcher heartbeat (`docker swarm update --dispatcher-heartbeat`):

- A manager that becomes the Raft leader first marks every node "unknown" and gives it
  6 x (heartbeat +/- 0.5 s) to open a session with it; a node that has not by then is marked down and
  all its tasks are started anew (swarmkit, manager/dispatcher: `markNodesUnknown`, grace multiplier
  3, doubled for unknown nodes, 0.5 s epsilon). A healthy node's agent, meanwhile, waits up to 8 s
  between tries while no leader answers (agent: `maxSessionFailureBackoff`), and a try may take 5 s.
- With a 1 s heartbeat (3 to 9 s of grace), six leader kills on tests/multinode's Swarm under load
  saw the gateway's own healthy node marked down 3.3 s after its election as leader, 0.3 s before
  its agent reconnected: its gateway task was replaced and the HTTPS port refused connections for
  0.6 s. With Docker's default 5 s (27 to 33 s) the gateway's node was never marked down in six.

Below MIN_HEARTBEAT_SECONDS (15 s of grace at the least) the program warns. A longer heartbeat only
delays marking a dead node down (3 x heartbeat); the gateway's retries carry the turns meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from infra.engine import EngineError, ask_engine

MIN_HEARTBEAT_SECONDS = 3.0
_DISPATCHER = ["info", "--format", "{{json .Swarm.Cluster.Spec.Dispatcher}}"]


def read_heartbeat(host: str, ssh_opts: Sequence[str] = ()) -> float:
    """The Swarm's dispatcher heartbeat in seconds, as the engine at `host` (a manager) reports it."""
    return heartbeat_from(ask_engine(host, ssh_opts, _DISPATCHER))


def heartbeat_from(answer: str) -> float:
    """The heartbeat in seconds from `docker info`'s dispatcher settings (JSON, nanoseconds)."""
    try:
        nanoseconds = json.loads(answer)["HeartbeatPeriod"]
    except (ValueError, TypeError, KeyError):
        raise EngineError(f"no dispatcher settings in the engine's answer: {answer[:200]!r}") from None
    if not isinstance(nanoseconds, int) or nanoseconds <= 0:
        raise EngineError(f"unexpected dispatcher heartbeat {nanoseconds!r}")
    return nanoseconds / 1e9


def heartbeat_warnings(seconds: float) -> tuple[str, ...]:
    if seconds >= MIN_HEARTBEAT_SECONDS:
        return ()
    return (
        f"the Swarm's dispatcher heartbeat is {seconds:g}s: after a leader change a healthy node gets"
        f" as little as {6 * max(seconds - 0.5, 0):g}s to reconnect and is otherwise marked down, its"
        " tasks restarted (the gateway's too, refusing turns meanwhile); set it to"
        f" {MIN_HEARTBEAT_SECONDS:g}s or more: docker swarm update --dispatcher-heartbeat 5s",
    )


def swarm_warnings(host: str, ssh_opts: Sequence[str] = ()) -> tuple[str, ...]:
    """What the program should say about the Swarm-wide settings of the engine at `host`."""
    try:
        return heartbeat_warnings(read_heartbeat(host, ssh_opts))
    except EngineError as exc:
        return (f"cannot read the Swarm's dispatcher heartbeat ({exc})",)
