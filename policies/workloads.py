"""Docker resources as the policies see them: type tokens, property walking, and one view of the
container a `docker.Service` or a `docker.Container` runs.

Properties arrive with the provider's camelCase wire names (`taskSpec.containerSpec.readOnly`).
During a preview some values are unknown; reading one raises pulumi_policy's `UnknownValueError`,
which the engine reports as "can't run policy during preview", so views read fields only on demand.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy.proxy import UnknownValueError

SERVICE = "docker:index/service:Service"
CONTAINER = "docker:index/container:Container"
SWARM_SECRET = "docker:index/secret:Secret"  # noqa: S105 (a type token)
SERVICE_CONFIG = "docker:index/serviceConfig:ServiceConfig"
IMAGE = "docker:index/image:Image"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
STACK = "pulumi:pulumi:Stack"

# The label (on the service, or on its container) that names a workload's role.
ROLE_LABEL = "cek-proxy.role"
# Environment variables only the proxy has.
PROXY_ENV_PREFIX = "CEK_PROXY_"


def dig(props: Mapping[str, Any], *path: str) -> Any:
    """The value at `path`, or None where any step is missing."""
    value: Any = props
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def leaves(value: object, path: str = "") -> Iterator[tuple[str, object]]:
    """Every scalar inside `value`, with its path (`taskSpec.containerSpec.args[1]`).

    Values unknown during a preview are skipped: they are checked when the update knows them.
    """
    if isinstance(value, str) or not isinstance(value, Mapping | Sequence):
        yield path, value
        return
    keys: Sequence[Any] = list(value) if isinstance(value, Mapping) else range(len(value))
    for key in keys:
        try:
            child = value[key]
        except UnknownValueError:
            continue
        yield from leaves(child, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}".lstrip("."))


class Workload:
    """The container of a `docker.Service` (its `taskSpec.containerSpec`) or a `docker.Container`."""

    def __init__(self, resource_type: str, props: Mapping[str, Any]) -> None:
        self._is_service = resource_type == SERVICE
        self._props = props
        spec = dig(props, "taskSpec", "containerSpec") if self._is_service else props
        self._spec: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {}

    @classmethod
    def of(cls, resource_type: str, props: Mapping[str, Any]) -> Workload | None:
        return cls(resource_type, props) if resource_type in (SERVICE, CONTAINER) else None

    @property
    def env(self) -> list[tuple[str, str]]:
        """`(name, value)` pairs, from a Service's `env` map or a Container's `envs` list of `K=V`."""
        if self._is_service:
            env = self._spec.get("env") or {}
            return [(str(name), str(env[name])) for name in env]
        pairs = (str(entry).partition("=") for entry in self._spec.get("envs") or ())
        return [(name, value) for name, _, value in pairs]

    @property
    def labels(self) -> dict[str, str]:
        """Labels of the service and of its container (lists of `{label, value}`)."""
        lists = [self._props.get("labels")] + ([self._spec.get("labels")] if self._is_service else [])
        return {
            str(item.get("label")): str(item.get("value"))
            for items in lists
            for item in items or ()
            if isinstance(item, Mapping)
        }

    @property
    def image(self) -> str | None:
        image = self._spec.get("image")
        return image if isinstance(image, str) else None

    @property
    def user(self) -> str:
        return str(self._spec.get("user") or "")

    @property
    def read_only(self) -> bool:
        return self._spec.get("readOnly") is True

    @property
    def privileged(self) -> bool:
        return not self._is_service and self._props.get("privileged") is True

    @property
    def cap_adds(self) -> list[str]:
        adds = self._spec.get("capAdds") if self._is_service else dig(self._props, "capabilities", "adds")
        return [str(cap) for cap in adds or ()]

    @property
    def cap_drops(self) -> list[str]:
        drops = self._spec.get("capDrops") if self._is_service else dig(self._props, "capabilities", "drops")
        return [str(cap) for cap in drops or ()]

    @property
    def port_count(self) -> int:
        """Ports published on the host (Swarm publishes a port even when `publishedPort` is left out)."""
        ports = dig(self._props, "endpointSpec", "ports") if self._is_service else self._props.get("ports")
        return len(ports or ())


@dataclass(frozen=True)
class Roles:
    """How the policies tell the proxy and the gateway apart from other workloads."""

    label: str = ROLE_LABEL
    proxy_env_prefix: str = PROXY_ENV_PREFIX

    def is_proxy(self, workload: Workload) -> bool:
        return workload.labels.get(self.label) == "proxy" or any(
            name.startswith(self.proxy_env_prefix) for name, _ in workload.env
        )

    def is_gateway(self, workload: Workload) -> bool:
        return workload.labels.get(self.label) == "gateway" and not self.is_proxy(workload)
