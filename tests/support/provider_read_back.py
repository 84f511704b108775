"""What the real docker provider stores for a resource after `pulumi up`, and so what the next run diffs.

pulumi-docker 5.2.0 bridges kreuzwerker/terraform-provider-docker v4.5.0. After a create or update it
reads the object back from the engine and stores that as the resource's state; the next `preview` or
`up` diffs the program's inputs, with the schema's defaults filled in (the plan), against that state.
Whatever the provider reads back in another form than the program wrote it shows as `~ update` on
every run. This module models that, on the camelCase inputs a mock records. Rules modelled, from the
provider's `internal/provider/` at v4.5.0:

- The state is the read-back: `resourceDockerServiceCreate` and `resourceDockerServiceUpdate` end
  with `resourceDockerServiceRead` (`resource_docker_service_funcs.go`), which sets name, labels,
  task_spec, mode, update_config, rollback_config and endpoint_spec from the engine; it never sets
  converge_config, which stays as planned. `resourceDockerSecretRead` sets only the name (the data is
  not readable); `resourceDockerConfigRead` sets `data_raw` to the stored bytes and the labels.
- Durations come back through `shortDur` (`resource_docker_service_structures.go`): Go's
  `time.Duration.String()`, then a trailing `m0s` or `h0m` loses its last two characters, so `60s`
  reads back as `1m`, `90s` as `1m30s`, `3600s` as `1h`. It applies to stop_grace_period
  (`flattenContainerSpec`), the healthcheck's interval, timeout and start_period
  (`flattenServiceHealthcheck`), the restart policy's delay and window (`flattenTaskRestartPolicy`)
  and the update and rollback configs' delay and monitor (`flattenServiceUpdateOrRollbackConfig`).
- `max_failure_ratio` comes back as `strconv.FormatFloat(ratio, 'f', 1, 64)` (`"0"` -> `"0.0"`), and
  its `suppressEquivalentFloatRatio` DiffSuppressFunc (`validators.go`) hides any change between two
  equal numbers: it never counts.
- Numbers come back as Go ints (`int(...)` in every flatten function; all numeric fields are TypeInt).
- The plan carries the schema's `Default`s (`resource_docker_service.go`): healthcheck interval,
  timeout and start_period `0s` and retries 0; secret and config file_uid/file_gid `"0"` and
  file_mode `0o444`; isolation `default` (which the engine also reports); replicas 1, global false;
  update and rollback parallelism 1, delay `0s`, failure_action `pause`, monitor `5s`,
  max_failure_ratio `0.0`, order `stop-first`; port protocol `tcp` and publish_mode `ingress`;
  converge delay `7s` and timeout `3m`; bind propagation `rprivate`; a network's ipam_driver
  `default` (`resource_docker_network.go`).
- Terraform SDK v2's diff (`schemaMap.diff`): an unset attribute equals its type's zero value (so the
  flatten functions' `max_replicas: 0`, `force_update: 0`, `global: false`, empty `driver_opts` and a
  `read_only` left out all agree with a program that does not set them), a `Computed` attribute the
  program leaves unset takes whatever was read back (a network's driver, options, scope and IPAM
  config; a service's endpoint mode; a volume's driver), and TypeSet fields (labels, secrets, configs,
  mounts, networks_advanced, aliases, placement constraints) compare without order.

The engine is taken to store a service spec as it is sent, with `Isolation: default` filled in; the
deployment tests apply the same inputs to a real Swarm.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.support.go_duration import duration_ns, go_string
from tests.support.pulumi_program import SECRET

SERVICE = "docker:index/service:Service"
NETWORK = "docker:index/network:Network"
SECRET_TYPE = "docker:index/secret:Secret"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
VOLUME = "docker:index/volume:Volume"


def short_duration(value: Any) -> str:
    """`shortDur(time.ParseDuration(value))`: `60s` -> `1m`."""
    text = go_string(duration_ns(value) or 0)
    if text.endswith("m0s"):
        text = text[:-2]
    if text.endswith("h0m"):
        text = text[:-2]
    return text


def one_decimal(value: Any) -> str:
    """`strconv.FormatFloat(float64(float32(value)), 'f', 1, 64)`: `"0"` -> `"0.0"`."""
    return f"{float(value):.1f}"


def equal_ratios(planned: Any, state: Any) -> bool:
    """`suppressEquivalentFloatRatio`: two spellings of one number are no change."""
    try:
        return float(planned) == float(state)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class ResourceRules:
    """How one resource type reads back. Paths are dotted camelCase, `*` for any list item."""

    # block path -> the schema defaults of its fields, filled into the plan where the block exists
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    # field path -> what the provider's flatten function makes of the value
    read_back: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    # block path -> fields the engine fills in
    engine_fills: dict[str, dict[str, Any]] = field(default_factory=dict)
    # top-level fields the provider's Read never sets: the state keeps the planned value
    not_read: frozenset[str] = frozenset()
    # fields that, unset by the program, take whatever was read back
    computed: frozenset[str] = frozenset()
    # TypeSet fields: order does not count
    sets: frozenset[str] = frozenset()
    # field path -> the DiffSuppressFunc that hides a change
    suppressed: dict[str, Callable[[Any, Any], bool]] = field(default_factory=dict)


_ROLLING_DEFAULTS = {
    "parallelism": 1,
    "delay": "0s",
    "failureAction": "pause",
    "monitor": "5s",
    "maxFailureRatio": "0.0",
    "order": "stop-first",
}
_FILE_DEFAULTS = {"fileUid": "0", "fileGid": "0", "fileMode": 0o444}
_CONTAINER = "taskSpec.containerSpec"

RULES: dict[str, ResourceRules] = {
    SERVICE: ResourceRules(
        defaults={
            f"{_CONTAINER}.healthcheck": {
                "interval": "0s",
                "timeout": "0s",
                "startPeriod": "0s",
                "retries": 0,
            },
            f"{_CONTAINER}.secrets.*": _FILE_DEFAULTS,
            f"{_CONTAINER}.configs.*": _FILE_DEFAULTS,
            f"{_CONTAINER}.mounts.*.bindOptions": {"propagation": "rprivate"},
            _CONTAINER: {"isolation": "default"},
            "mode": {"global": False},
            "mode.replicated": {"replicas": 1},
            "updateConfig": _ROLLING_DEFAULTS,
            "rollbackConfig": _ROLLING_DEFAULTS,
            "endpointSpec.ports.*": {"protocol": "tcp", "publishMode": "ingress"},
            "convergeConfig": {"delay": "7s", "timeout": "3m"},
        },
        read_back={
            f"{_CONTAINER}.stopGracePeriod": short_duration,
            f"{_CONTAINER}.healthcheck.interval": short_duration,
            f"{_CONTAINER}.healthcheck.timeout": short_duration,
            f"{_CONTAINER}.healthcheck.startPeriod": short_duration,
            "taskSpec.restartPolicy.delay": short_duration,
            "taskSpec.restartPolicy.window": short_duration,
            "updateConfig.delay": short_duration,
            "updateConfig.monitor": short_duration,
            "updateConfig.maxFailureRatio": one_decimal,
            "rollbackConfig.delay": short_duration,
            "rollbackConfig.monitor": short_duration,
            "rollbackConfig.maxFailureRatio": one_decimal,
        },
        engine_fills={_CONTAINER: {"isolation": "default"}},
        not_read=frozenset({"convergeConfig"}),
        computed=frozenset(
            {
                "name",
                "labels",
                "endpointSpec",
                "endpointSpec.mode",
                "endpointSpec.ports.*.publishedPort",
                f"{_CONTAINER}.stopGracePeriod",
                f"{_CONTAINER}.healthcheck",
                f"{_CONTAINER}.dnsConfig",
                f"{_CONTAINER}.init",
                "taskSpec.resources",
                "taskSpec.restartPolicy",
                "taskSpec.placement",
                "taskSpec.forceUpdate",
                "taskSpec.runtime",
                "mode",
                "mode.replicated",
            }
        ),
        sets=frozenset(
            {
                "labels",
                f"{_CONTAINER}.labels",
                f"{_CONTAINER}.mounts",
                f"{_CONTAINER}.secrets",
                f"{_CONTAINER}.configs",
                f"{_CONTAINER}.hosts",
                "taskSpec.networksAdvanceds",
                "taskSpec.networksAdvanceds.*.aliases",
                "taskSpec.networksAdvanceds.*.driverOpts",
                "taskSpec.placement.constraints",
                "taskSpec.placement.prefs",
            }
        ),
        suppressed={
            "updateConfig.maxFailureRatio": equal_ratios,
            "rollbackConfig.maxFailureRatio": equal_ratios,
        },
    ),
    NETWORK: ResourceRules(
        defaults={"": {"ipamDriver": "default"}},
        computed=frozenset({"name", "driver", "options", "internal", "ipamConfigs", "scope"}),
        sets=frozenset({"labels", "ipamConfigs"}),
    ),
    SECRET_TYPE: ResourceRules(
        not_read=frozenset({"data", "labels"}), computed=frozenset({"name"}), sets=frozenset({"labels"})
    ),
    CONFIG: ResourceRules(computed=frozenset({"name"}), sets=frozenset({"labels"})),
    VOLUME: ResourceRules(
        computed=frozenset({"name", "driver", "driverOpts", "mountpoint"}), sets=frozenset({"labels"})
    ),
}


def modelled(resource_type: str) -> bool:
    return resource_type in RULES


def planned(resource_type: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The plan the provider diffs: the program's inputs (secrets unwrapped) with the schema defaults."""
    plan: dict[str, Any] = _unwrapped(inputs)
    _fill(plan, RULES[resource_type].defaults)
    return plan


def read_back(resource_type: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The state stored after applying `inputs`: the plan as the provider reads it back."""
    rules = RULES[resource_type]
    plan = planned(resource_type, inputs)
    state = copy.deepcopy(plan)
    _fill(state, rules.engine_fills)
    for pattern, node in _blocks(state):
        for key, value in node.items():
            path = _join(pattern, key)
            if key in rules.not_read and not pattern:
                continue
            convert = rules.read_back.get(path)
            if convert is not None:
                node[key] = convert(value)
            elif isinstance(value, float):
                node[key] = int(value)
    return state


def differences(resource_type: str, inputs: dict[str, Any]) -> list[str]:
    """Each field the next `preview` would show as changed, `path: planned -> read back`."""
    rules = RULES[resource_type]
    return list(_compare(rules, "", planned(resource_type, inputs), read_back(resource_type, inputs)))


def _compare(rules: ResourceRules, path: str, plan: Any, state: Any) -> Iterator[str]:
    if isinstance(plan, dict) and isinstance(state, dict):
        for key in sorted(set(plan) | set(state)):
            sub = _join(path, key)
            if key not in plan and (_pattern(sub) in rules.computed or _zero(state[key])):
                continue
            if key not in state and _zero(plan[key]):
                continue
            yield from _compare(rules, sub, plan.get(key), state.get(key))
        return
    pattern = _pattern(path)
    if isinstance(plan, list) and isinstance(state, list):
        if pattern in rules.sets:
            plan, state = sorted(plan, key=repr), sorted(state, key=repr)
        if len(plan) == len(state):
            for index, (item, stored) in enumerate(zip(plan, state, strict=True)):
                yield from _compare(rules, f"{path}.{index}", item, stored)
            return
    suppress = rules.suppressed.get(pattern)
    if plan != state and not (suppress and suppress(plan, state)):
        yield f"{path}: {plan!r} -> {state!r}"


def _fill(tree: dict[str, Any], additions: dict[str, dict[str, Any]]) -> None:
    for pattern, node in _blocks(tree):
        for key, value in additions.get(pattern, {}).items():
            node.setdefault(key, value)


def _blocks(value: Any, pattern: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object in `value` with the path pattern that leads to it (list items as `*`)."""
    if isinstance(value, dict):
        yield pattern, value
        for key, item in value.items():
            yield from _blocks(item, _join(pattern, key))
    elif isinstance(value, list):
        for item in value:
            yield from _blocks(item, _join(pattern, "*"))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _pattern(path: str) -> str:
    return ".".join("*" if part.isdigit() else part for part in path.split("."))


def _zero(value: Any) -> bool:
    return value in (None, "", 0, False, [], {})


def _unwrapped(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {SECRET}:
            return _unwrapped(value[SECRET])
        return {key: _unwrapped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrapped(item) for item in value]
    return value
