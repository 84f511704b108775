"""SecretsStore: every secret of the stack as a Swarm secret, mounted into services as a file.

A secret reaches a service only as `/run/secrets/<name>` (mode 0400, owned by the service's user),
read through a `*_FILE` setting: never in env, labels, args or outputs.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from infra.images import ImageSpec
from infra.swarm import STACK_LABEL

SECRETS_DIR = "/run/secrets"


@dataclass(frozen=True)
class SecretsStoreArgs:
    # Config key (camelCase) -> secret value.
    values: Mapping[str, pulumi.Output[str]] = field(repr=False)
    environment: str


class SecretsStore(pulumi.ComponentResource):
    def __init__(self, name: str, args: SecretsStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cek-proxy:swarm:SecretsStore", name, None, opts)
        self.secrets = {
            key: swarm_secret(
                f"{name}-{file_name(key)}", value, args.environment, pulumi.ResourceOptions(parent=self)
            )
            for key, value in args.values.items()
        }
        self.register_outputs({key: secret.id for key, secret in self.secrets.items()})

    def mount(self, key: str, spec: ImageSpec) -> docker.ServiceTaskSpecContainerSpecSecretArgs:
        return secret_mount(self.secrets[key], file_name(key), spec)

    def path(self, key: str) -> str:
        return f"{SECRETS_DIR}/{file_name(key)}"


def swarm_secret(
    name: str, value: pulumi.Output[str], environment: str, opts: pulumi.ResourceOptions
) -> docker.Secret:
    """A Swarm secret with no fixed `name`: the provider names it, so a new value creates a new secret
    and the services move to it (rotation without downtime).

    Pulumi never deletes a replaced one (`retain_on_delete`): the provider reports an update done
    before every task has moved, and a rollback returns to the old secret. `python -m infra.converge`
    deletes the versions no service's spec or previous spec uses, once the rollout has converged."""
    return docker.Secret(
        name,
        data=value.apply(lambda text: base64.b64encode(text.encode()).decode()),
        labels=[
            docker.SecretLabelArgs(label="cek-proxy.secret", value=name),
            docker.SecretLabelArgs(label=STACK_LABEL, value=environment),
        ],
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)),
    )


def secret_mount(
    secret: docker.Secret, file: str, spec: ImageSpec
) -> docker.ServiceTaskSpecContainerSpecSecretArgs:
    return docker.ServiceTaskSpecContainerSpecSecretArgs(
        secret_id=secret.id,
        secret_name=secret.name,
        file_name=f"{SECRETS_DIR}/{file}",
        file_uid=str(spec.uid),
        file_gid=str(spec.uid),
        file_mode=0o400,
    )


def file_name(key: str) -> str:
    """`chatbotSecret` -> `chatbot-secret`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()
