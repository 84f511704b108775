"""Gateway: Caddy terminating TLS in front of the proxy replicas; the only service publishing ports.

Its ports are published in host mode (Swarm's ingress mesh needs IPVS, which not every kernel has),
so its task runs on a node the domain points to (one labelled for it, else a manager: see
infra/placement.py), and it updates stop-first: a second task could not bind the same host ports.
That one node is the stack's single point of ingress.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra import swarm
from infra.caddyfile import CONTAINER_HTTP_PORT, CONTAINER_HTTPS_PORT, CaddyfileParams, render_caddyfile
from infra.container_host import ContainerHost
from infra.images import GATEWAY, service_auth, stack_image
from infra.placement import Placement
from infra.settings import StackSettings

CADDYFILE_PATH = "/etc/cek-gateway/Caddyfile"  # where images/gateway/Dockerfile reads it
DATA_DIR = "/data"  # certificates, ACME account, internal CA
# A live Caddy answers plain HTTP with its redirect to HTTPS.
HEALTHCHECK = [
    "CMD",
    "bash",
    "-c",
    f"exec 3<>/dev/tcp/127.0.0.1/{CONTAINER_HTTP_PORT}"
    " && printf 'HEAD / HTTP/1.0\\r\\nHost: health\\r\\n\\r\\n' >&3"
    " && read -r status <&3 && [[ $status == *' 308 '* ]]",
]


@dataclass(frozen=True)
class GatewayArgs:
    settings: StackSettings
    host: ContainerHost
    upstream_host: str
    upstream_port: int
    placement: Placement


class Gateway(pulumi.ComponentResource):
    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cek-proxy:swarm:Gateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        image = stack_image(f"{name}-image", GATEWAY, settings, child)
        caddyfile = swarm.config_file(
            f"{name}-caddyfile",
            caddyfile_text(args),
            CADDYFILE_PATH,
            GATEWAY,
            child,
            environment=settings.environment,
        )
        data = docker.Volume(f"{name}-data", opts=child)
        self.service = swarm.service(
            name,
            swarm.ServiceArgs(
                role="gateway",
                environment=settings.environment,
                container=swarm.ContainerArgs(
                    spec=GATEWAY,
                    image=image,
                    healthcheck=HEALTHCHECK,
                    configs=[caddyfile],
                    mounts=[
                        docker.ServiceTaskSpecContainerSpecMountArgs(
                            target=DATA_DIR, type="volume", source=data.name
                        )
                    ],
                ),
                networks=[swarm.attach(args.host.internal_network), swarm.attach(args.host.outbound_network)],
                replicas=1,
                limits=settings.gateway_limits,
                update_order=swarm.UpdateOrder.STOP_FIRST,
                ports=[
                    _host_port("https", CONTAINER_HTTPS_PORT, settings.https_port),
                    _host_port("http", CONTAINER_HTTP_PORT, settings.http_port),
                ],
                placement=args.placement.args(),
                auth=service_auth(settings),
            ),
            child,
        )
        self.extension_url = public_url(settings, "/cek")
        self.action_base_url = public_url(settings, "/actions/")
        self.health_url = public_url(settings, "/healthz")
        self.register_outputs({"service": self.service.id, "extension_url": self.extension_url})


def caddyfile_text(args: GatewayArgs) -> str:
    settings = args.settings
    return render_caddyfile(
        CaddyfileParams(
            environment=settings.environment,
            domain=settings.domain,
            tls=settings.tls,
            acme_email=settings.acme_email,
            public_https_port=settings.https_port,
            upstream_host=args.upstream_host,
            upstream_port=args.upstream_port,
            max_body_bytes=settings.max_body_bytes,
        )
    )


def public_url(settings: StackSettings, path: str) -> str:
    port = "" if settings.https_port == 443 else f":{settings.https_port}"
    return f"https://{settings.domain}{port}{path}"


def _host_port(name: str, container_port: int, public_port: int) -> docker.ServiceEndpointSpecPortArgs:
    return docker.ServiceEndpointSpecPortArgs(
        name=name, protocol="tcp", target_port=container_port, published_port=public_port, publish_mode="host"
    )
