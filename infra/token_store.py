"""TokenStore: Redis, for the account-linking tokens that several proxy replicas must share.

It lives on the internal network only and publishes no port. Its password reaches Redis as a Swarm
secret ACL file that holds only the password's SHA-256, and reaches the proxy as a secret file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from infra import swarm
from infra.images import TOKEN_STORE, local_image
from infra.secrets_store import SECRETS_DIR, secret_mount, swarm_secret
from infra.settings import Limits

ALIAS = "token-store"
PORT = 6379
ACL_FILE = "token-store-users.acl"


@dataclass(frozen=True)
class TokenStoreArgs:
    environment: str
    base_image: str
    build_platform: str
    network: docker.Network
    limits: Limits
    password: pulumi.Output[str] = field(repr=False)


class TokenStore(pulumi.ComponentResource):
    def __init__(self, name: str, args: TokenStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cek-proxy:swarm:TokenStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        image = local_image(f"{name}-image", TOKEN_STORE, args.base_image, args.build_platform, child)
        acl = swarm_secret(f"{name}-users-acl", args.password.apply(acl_file), args.environment, child)
        self.url = f"redis://{ALIAS}:{PORT}/0"
        self.service = swarm.service(
            name,
            swarm.ServiceArgs(
                role="token-store",
                environment=args.environment,
                container=swarm.ContainerArgs(
                    spec=TOKEN_STORE,
                    image=image.image_name,
                    args=redis_args(args.limits),
                    # Unauthenticated, a live Redis answers NOAUTH: enough to know it serves.
                    healthcheck=["CMD-SHELL", f"redis-cli -p {PORT} ping | grep -qE 'PONG|NOAUTH'"],
                    secrets=[secret_mount(acl, ACL_FILE, TOKEN_STORE)],
                ),
                networks=[swarm.attach(args.network, ALIAS)],
                replicas=1,
                limits=args.limits,
                update_order=swarm.UpdateOrder.STOP_FIRST,
            ),
            child,
        )
        self.register_outputs({"service": self.service.id, "url": self.url})


def acl_file(password: str) -> str:
    """The default user's ACL: any command, with the password stored only as its SHA-256."""
    return f"user default on #{hashlib.sha256(password.encode()).hexdigest()} ~* &* +@all\n"


def redis_args(limits: Limits) -> list[str]:
    """A cache, not a database: no persistence (tokens come back with the next CEK request)."""
    return [
        "--port", str(PORT),
        "--aclfile", f"{SECRETS_DIR}/{ACL_FILE}",
        "--save", "",
        "--appendonly", "no",
        "--maxmemory", f"{limits.memory_mb * 3 // 4}mb",
        "--maxmemory-policy", "allkeys-lru",
    ]  # fmt: skip
