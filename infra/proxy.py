"""Proxy: the cek-proxy replicas, built from proxy/Dockerfile and reachable only through the gateway.

Settings reach the service as `CEK_PROXY_*` variables, each secret as a `*_FILE` path to a Swarm
secret, and the optional TOML config file (account linking, messages, actions) as a Swarm config.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra import swarm
from infra.container_host import ContainerHost
from infra.images import PROXY, service_auth, stack_image
from infra.placement import Placement
from infra.secrets_store import SecretsStore
from infra.settings import AccountLinking, StackSettings, read_project_file

ALIAS = "proxy"
PORT = 8080
CONFIG_PATH = "/etc/cek-proxy/config.toml"
KEYS_DIR = "/etc/cek-proxy/keys"
UPSTREAM_CA_PATH = "/etc/cek-proxy/upstream-ca.pem"
SHUTDOWN_TIMEOUT_SECONDS = 10
# The gateway finds replicas by DNS every 2 s: a stopping replica keeps serving well past that.
DRAIN_SECONDS = 5
# Stack config key of each secret -> the proxy setting that names its file.
SECRET_FILE_SETTINGS = {
    "chatbotSecret": "CEK_PROXY_CHATBOT_SECRET_FILE",
    "actionKey": "CEK_PROXY_ACTION_KEY_FILE",
    "tokenKey": "CEK_PROXY_TOKEN_KEY_FILE",
    "tokenStorePassword": "CEK_PROXY_TOKEN_STORE_PASSWORD_FILE",
    "userIdKey": "CEK_PROXY_USER_ID_KEY_FILE",
}
HEALTHCHECK = [
    "CMD",
    "python3",
    "-c",
    f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/healthz', timeout=2)",
]


@dataclass(frozen=True)
class ProxyArgs:
    settings: StackSettings
    host: ContainerHost
    secrets: SecretsStore
    token_store_url: str | None
    placement: Placement


class Proxy(pulumi.ComponentResource):
    def __init__(self, name: str, args: ProxyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cek-proxy:swarm:Proxy", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        image = stack_image(f"{name}-image", PROXY, settings, child)
        files = project_files(settings)
        if (config_text := config_file(settings)) is not None:
            files[CONFIG_PATH] = config_text
        configs = [
            swarm.config_file(
                f"{name}-{_resource_suffix(path)}", text, path, PROXY, child, environment=settings.environment
            )
            for path, text in files.items()
        ]
        self.dns_name = ALIAS
        self.port = PORT
        self.service = swarm.service(
            name,
            swarm.ServiceArgs(
                role="proxy",
                environment=settings.environment,
                container=swarm.ContainerArgs(
                    spec=PROXY,
                    image=image,
                    env=environment(args, mounted=set(files)),
                    secrets=[args.secrets.mount(key, PROXY) for key in args.secrets.secrets],
                    configs=configs,
                    healthcheck=HEALTHCHECK,
                    stop_grace_period=f"{DRAIN_SECONDS + SHUTDOWN_TIMEOUT_SECONDS + 5}s",
                ),
                networks=[
                    swarm.attach(args.host.internal_network, ALIAS),
                    swarm.attach(args.host.outbound_network),
                ],
                replicas=settings.proxy_replicas,
                limits=settings.proxy_limits,
                update_order=swarm.UpdateOrder.START_FIRST,
                placement=args.placement.args(),
                auth=service_auth(settings),
            ),
            child,
        )
        self.register_outputs({"service": self.service.id, "image": image})


def environment(args: ProxyArgs, mounted: set[str]) -> dict[str, pulumi.Input[str]]:
    """The proxy's settings: plain values, and for each mounted secret or file only its path."""
    settings = args.settings
    optional = {
        "CEK_PROXY_CHATBOT_URL": settings.chatbot_url,
        "CEK_PROXY_PASSTHROUGH_URL": settings.passthrough_url,
        "CEK_PROXY_CEK_PUBLIC_KEY_URL": settings.cek_public_key_url,
        "CEK_PROXY_TOKEN_STORE_URL": args.token_store_url or "",
        "CEK_PROXY_CONFIG_FILE": CONFIG_PATH if CONFIG_PATH in mounted else "",
        "CEK_PROXY_CEK_PUBLIC_KEY_FILES": ",".join(sorted(p for p in mounted if p.startswith(KEYS_DIR))),
        "CEK_PROXY_UPSTREAM_CA_FILE": UPSTREAM_CA_PATH if UPSTREAM_CA_PATH in mounted else "",
    }
    env: dict[str, pulumi.Input[str]] = {
        "CEK_PROXY_LISTEN": f"0.0.0.0:{PORT}",
        "CEK_PROXY_EXTENSION_IDS": ",".join(settings.extension_ids),
        "CEK_PROXY_MODE": settings.mode.value,
        "CEK_PROXY_LOG_LEVEL": settings.log_level,
        "CEK_PROXY_MAX_BODY_BYTES": str(settings.max_body_bytes),
        "CEK_PROXY_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT_SECONDS),
        "CEK_PROXY_DRAIN_SECONDS": str(DRAIN_SECONDS),
    }
    env.update({name: value for name, value in optional.items() if value})
    env.update({SECRET_FILE_SETTINGS[key]: args.secrets.path(key) for key in args.secrets.secrets})
    return env


def project_files(settings: StackSettings) -> dict[str, str]:
    """Trusted CEK keys and the upstream CA: mount path -> content (public material, not secrets)."""
    files = {
        f"{KEYS_DIR}/{index}.pem": read_project_file(setting_file, "cekPublicKeyFiles")
        for index, setting_file in enumerate(settings.cek_public_key_files)
    }
    if settings.upstream_ca_file:
        files[UPSTREAM_CA_PATH] = read_project_file(settings.upstream_ca_file, "upstreamCaFile")
    return files


def _resource_suffix(path: str) -> str:
    """`/etc/cek-proxy/keys/0.pem` -> `keys-0`, a readable part of the config's resource name."""
    return path.removeprefix("/etc/cek-proxy/").rsplit(".", 1)[0].replace("/", "-")


def config_file(settings: StackSettings) -> str | None:
    """The proxy's TOML file: the stack's `accountLinking`, then the file named by `proxyConfigFile`."""
    if settings.account_linking is AccountLinking.OFF and not settings.proxy_config_file:
        return None
    return f'account_linking = "{settings.account_linking.value}"\n{settings.proxy_config_text}'
