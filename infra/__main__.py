"""The Pulumi program: wires the components of one environment's stack and exports its URLs.

Pulumi's language host runs this file with infra/ (not the project root) on sys.path; tests import
it as `infra.__main__` from the root. Both then import the components as `infra.<module>`.
"""

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi

from infra.container_host import ContainerHost, ContainerHostArgs
from infra.gateway import Gateway, GatewayArgs
from infra.placement import stack_placement
from infra.proxy import Proxy, ProxyArgs
from infra.secrets_store import SecretsStore, SecretsStoreArgs
from infra.settings import load_settings
from infra.token_store import TokenStore, TokenStoreArgs

settings = load_settings()
placement = stack_placement(settings)
for warning in placement.warnings:
    pulumi.log.warn(warning)
host = ContainerHost("host", ContainerHostArgs(host=settings.docker_host, ssh_opts=settings.docker_ssh_opts))
on_host = pulumi.ResourceOptions(providers=[host.provider])
secrets = SecretsStore(
    "secrets", SecretsStoreArgs(values=settings.secrets_in_use(), environment=settings.environment), on_host
)
token_store = (
    TokenStore(
        "token-store",
        TokenStoreArgs(
            settings=settings,
            network=host.internal_network,
            placement=placement.token_store,
            password=settings.secrets["tokenStorePassword"],
        ),
        on_host,
    )
    if settings.uses_token_store
    else None
)
proxy = Proxy(
    "proxy",
    ProxyArgs(
        settings=settings,
        host=host,
        secrets=secrets,
        token_store_url=token_store.url if token_store else None,
        placement=placement.proxy,
    ),
    on_host,
)
gateway = Gateway(
    "gateway",
    GatewayArgs(
        settings=settings,
        host=host,
        upstream_host=proxy.dns_name,
        upstream_port=proxy.port,
        placement=placement.gateway,
    ),
    on_host,
)

pulumi.export("environment", settings.environment)
pulumi.export("extension_url", gateway.extension_url)
pulumi.export("action_base_url", gateway.action_base_url)
pulumi.export("health_url", gateway.health_url)
pulumi.export("proxy_replicas", settings.proxy_replicas)
