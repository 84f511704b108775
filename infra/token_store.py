"""TokenStore: Redis, for the account-linking tokens that several proxy replicas must share.

It lives on the internal network only and publishes no port. Its password reaches Redis as a Swarm
secret ACL file that holds only the password's SHA-256, and reaches the proxy as a secret file. Its
data (an append-only file) is on a named volume on the node it is pinned to (infra/placement.py), so
a restarted task keeps the linked accounts' tokens.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from infra import swarm
from infra.images import TOKEN_STORE, service_auth, stack_image
from infra.placement import Placement
from infra.secrets_store import SECRETS_DIR, secret_mount, swarm_secret
from infra.settings import Limits, StackSettings

ALIAS = "token-store"
PORT = 6379
ACL_FILE = "token-store-users.acl"
DATA_DIR = "/data"  # images/token-store/Dockerfile makes it, owned by the Redis user


@dataclass(frozen=True)
class TokenStoreArgs:
    settings: StackSettings
    network: docker.Network
    placement: Placement
    password: pulumi.Output[str] = field(repr=False)


class TokenStore(pulumi.ComponentResource):
    def __init__(self, name: str, args: TokenStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cek-proxy:swarm:TokenStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        image = stack_image(f"{name}-image", TOKEN_STORE, settings, child)
        acl = swarm_secret(f"{name}-users-acl", args.password.apply(acl_file), settings.environment, child)
        data = docker.Volume(f"{name}-data", opts=child)
        self.url = f"redis://{ALIAS}:{PORT}/0"
        self.service = swarm.service(
            name,
            swarm.ServiceArgs(
                role="token-store",
                environment=settings.environment,
                container=swarm.ContainerArgs(
                    spec=TOKEN_STORE,
                    image=image,
                    args=redis_args(settings.token_store_limits),
                    # Unauthenticated, a live Redis answers NOAUTH: enough to know it serves.
                    healthcheck=["CMD-SHELL", f"redis-cli -p {PORT} ping | grep -qE 'PONG|NOAUTH'"],
                    secrets=[secret_mount(acl, ACL_FILE, TOKEN_STORE)],
                    mounts=[
                        docker.ServiceTaskSpecContainerSpecMountArgs(
                            target=DATA_DIR, type="volume", source=data.name
                        )
                    ],
                ),
                networks=[swarm.attach(args.network, ALIAS)],
                replicas=1,
                limits=settings.token_store_limits,
                update_order=swarm.UpdateOrder.STOP_FIRST,
                placement=args.placement.args(),
                auth=service_auth(settings),
            ),
            child,
        )
        self.register_outputs({"service": self.service.id, "url": self.url})


def acl_file(password: str) -> str:
    """The default user's ACL: any command, with the password stored only as its SHA-256."""
    return f"user default on #{hashlib.sha256(password.encode()).hexdigest()} ~* &* +@all\n"


def redis_args(limits: Limits) -> list[str]:
    """Tokens survive a restart: every write goes to the append-only file, synced each second (no
    RDB snapshots). Still bounded: least recently used keys go first at the memory limit."""
    return [
        "--port", str(PORT),
        "--aclfile", f"{SECRETS_DIR}/{ACL_FILE}",
        "--dir", DATA_DIR,
        "--save", "",
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--maxmemory", f"{limits.memory_mb * 3 // 4}mb",
        "--maxmemory-policy", "allkeys-lru",
    ]  # fmt: skip
