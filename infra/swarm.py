"""What every Swarm service of the stack shares: the hardened container, restarts, limits, updates.

Each component describes only what is its own (image, command, secrets, health check, networks);
`service` adds the rest, so no service can be created without the hardening.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import pulumi
import pulumi_docker as docker

from infra.images import ImageSpec
from infra.settings import Limits

# The policy pack (policies/) knows a service's role by this label: proxy, gateway or token-store.
ROLE_LABEL = "cek-proxy.role"
STACK_LABEL = "cek-proxy.stack"

# Every duration is written the way the provider reads it back (Go's shortest form: "1m", not
# "60s"); any other spelling shows as a change on every `pulumi up` (tests/infra/test_read_back.py).
RESTART_WINDOW = "1m"
# A failed task is restarted after 1 s (Swarm's default is 5 s), and a dead node's replicas start
# elsewhere as soon as the managers mark it down (3 x the dispatcher heartbeat: infra/swarm_settings.py).
RESTART_DELAY = "1s"

_Rolling = TypeVar("_Rolling", docker.ServiceUpdateConfigArgs, docker.ServiceRollbackConfigArgs)


class UpdateOrder(StrEnum):
    # A new task is healthy before an old one stops: no capacity lost (the proxy).
    START_FIRST = "start-first"
    # For tasks that cannot run twice at once, such as one bound to fixed host ports (the gateway).
    STOP_FIRST = "stop-first"


@dataclass(frozen=True)
class ContainerArgs:
    """The parts of a container spec that differ between services."""

    spec: ImageSpec
    image: pulumi.Input[str]
    healthcheck: Sequence[str]
    args: Sequence[str] = ()
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    secrets: Sequence[docker.ServiceTaskSpecContainerSpecSecretArgs] = ()
    configs: Sequence[docker.ServiceTaskSpecContainerSpecConfigArgs] = ()
    mounts: Sequence[docker.ServiceTaskSpecContainerSpecMountArgs] = ()
    stop_grace_period: str = "10s"


@dataclass(frozen=True)
class ServiceArgs:
    role: str
    environment: str
    container: ContainerArgs
    networks: Sequence[docker.ServiceTaskSpecNetworksAdvancedArgs]
    replicas: int
    limits: Limits
    update_order: UpdateOrder
    ports: Sequence[docker.ServiceEndpointSpecPortArgs] = ()
    placement: docker.ServiceTaskSpecPlacementArgs | None = None
    # The registry login for the nodes that pull the image (None: no login, or no registry).
    auth: docker.ServiceAuthArgs | None = None


def service(name: str, args: ServiceArgs, opts: pulumi.ResourceOptions) -> docker.Service:
    """A replicated service: non-root, read-only root filesystem, no capabilities, bounded resources,
    an init process as PID 1 (it forwards SIGTERM and reaps), restarted after a second, updated one
    task at a time with automatic rollback, and `pulumi up` waiting until its tasks are healthy.
    Endpoints use DNS round robin (no IPVS needed)."""
    return docker.Service(
        name,
        labels=[
            docker.ServiceLabelArgs(label=ROLE_LABEL, value=args.role),
            docker.ServiceLabelArgs(label=STACK_LABEL, value=args.environment),
        ],
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=_container_spec(args.container),
            networks_advanceds=list(args.networks),
            resources=docker.ServiceTaskSpecResourcesArgs(
                limits=docker.ServiceTaskSpecResourcesLimitsArgs(
                    nano_cpus=args.limits.nano_cpus, memory_bytes=args.limits.memory_bytes
                ),
            ),
            # delay and window are always set: left out, the provider reports a diff on every run.
            restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(
                condition="any", delay=RESTART_DELAY, max_attempts=0, window=RESTART_WINDOW
            ),
            placement=args.placement,
        ),
        mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=args.replicas)),
        endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr", ports=list(args.ports) or None),
        update_config=_rolling(docker.ServiceUpdateConfigArgs, args.update_order, failure_action="rollback"),
        rollback_config=_rolling(docker.ServiceRollbackConfigArgs, args.update_order, failure_action="pause"),
        converge_config=docker.ServiceConvergeConfigArgs(delay="5s", timeout="5m"),
        auth=args.auth,
        # Fixed host ports cannot be bound by a replacement while the old service holds them: delete
        # first (Pulumi's default, create-before-delete, would fail after the converge timeout).
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(delete_before_replace=bool(args.ports))
        ),
    )


def config_file(
    name: str, text: str, path: str, spec: ImageSpec, opts: pulumi.ResourceOptions, *, environment: str
) -> docker.ServiceTaskSpecContainerSpecConfigArgs:
    """A Swarm config (never a secret: configs are not encrypted) mounted read-only for the service user.

    Like secrets it has no fixed name, so a change creates a new config and repoints the service, and
    Pulumi keeps the old one (`retain_on_delete`) for a rollback until `python -m infra.converge`
    prunes it."""
    config = docker.ServiceConfig(
        name,
        data_raw=text,
        labels=[docker.ServiceConfigLabelArgs(label=STACK_LABEL, value=environment)],
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)),
    )
    return docker.ServiceTaskSpecContainerSpecConfigArgs(
        config_id=config.id,
        config_name=config.name,
        file_name=path,
        file_uid=str(spec.uid),
        file_gid=str(spec.uid),
        file_mode=0o400,
    )


def attach(network: docker.Network, alias: str | None = None) -> docker.ServiceTaskSpecNetworksAdvancedArgs:
    return docker.ServiceTaskSpecNetworksAdvancedArgs(id=network.id, aliases=[alias] if alias else None)


def _rolling(kind: type[_Rolling], order: UpdateOrder, failure_action: str) -> _Rolling:
    """One task at a time, each watched for 30 s; any failure triggers `failure_action`."""
    return kind(
        parallelism=1,
        delay="5s",
        monitor="30s",
        max_failure_ratio="0",
        order=order.value,
        failure_action=failure_action,
    )


def _container_spec(container: ContainerArgs) -> docker.ServiceTaskSpecContainerSpecArgs:
    return docker.ServiceTaskSpecContainerSpecArgs(
        image=container.image,
        args=list(container.args) or None,
        env=container.env or None,
        user=container.spec.user,
        read_only=True,
        init=True,
        cap_drops=["ALL"],
        secrets=list(container.secrets) or None,
        configs=list(container.configs) or None,
        mounts=list(container.mounts) or None,
        healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
            tests=list(container.healthcheck), interval="10s", timeout="3s", retries=3, start_period="15s"
        ),
        stop_grace_period=container.stop_grace_period,
    )
