"""A sample project and stack for the policy tests: its Pulumi.yaml, its config, and its resources.

The resources are what the Pulumi program (issue 4) registers, as `set_mocks` records them:
camelCase inputs, numbers as floats, secrets wrapped. Tests change one thing and expect one violation.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

from policies.rules import ALL_POLICIES
from policies.runner import Record, resource_options
from policies.workloads import SERVICE, STACK, SWARM_SECRET
from tests.conftest import watch_secret

PROJECT = "cek-proxy"
PROJECT_YAML = """\
name: cek-proxy
runtime:
  name: python
  options: {virtualenv: .venv}
main: infra/
config:
  cek-proxy:chatbotSecret: {type: string, secret: true, description: the chatbot's Custom API secret key}
  actionKey: {type: string, secret: true, description: signs action calls (no namespace prefix here)}
  cek-proxy:tokenStorePassword: {type: string, secret: true, description: the Redis password}
  cek-proxy:userIdKey: {type: string, secret: true, description: key of the chatbot userId HMAC}
  cek-proxy:registryPassword: {type: string, secret: true, description: the image registry's password}
  cek-proxy:domain: {type: string, default: localhost, description: the gateway's domain}
  cek-proxy:replicas: {type: integer, default: 2}
"""

CHATBOT_SECRET = watch_secret("chatbot-secret-Qx81vZ3m")
ACTION_KEY = watch_secret("action-key-7Hn2Lp0sW")
TOKEN_STORE_PASSWORD = watch_secret("redis-pw-Tg5Kq9Xe")
SECRETS = {
    "cek-proxy:chatbotSecret": CHATBOT_SECRET,
    "cek-proxy:actionKey": ACTION_KEY,
    "cek-proxy:tokenStorePassword": TOKEN_STORE_PASSWORD,
}
STACK_CONFIG = {**SECRETS, "cek-proxy:domain": "cek.example.test", "cek-proxy:replicas": "2"}
PULUMI_CONFIG = json.dumps(STACK_CONFIG)


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def urlsafe_b64(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def wrapped_secret(value: object) -> dict[str, object]:
    """A value as the engine and the mocks send a secret."""
    return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value}


def proxy_service() -> dict[str, Any]:
    return {
        "labels": [{"label": "cek-proxy.role", "value": "proxy"}],
        "taskSpec": {
            "containerSpec": {
                "image": "cek-proxy@sha256:" + "ab" * 32,
                "user": "10001:10001",
                "readOnly": True,
                "capDrops": ["ALL"],
                "env": {
                    "CEK_PROXY_EXTENSION_IDS": "com.example.chatbot.helpdesk",
                    "CEK_PROXY_CHATBOT_URL": "https://xxxx.apigw.ntruss.com/custom/v1/1234/abcd",
                    "CEK_PROXY_CHATBOT_SECRET_FILE": "/run/secrets/chatbot-secret",
                },
                "secrets": [
                    {"fileName": "/run/secrets/chatbot-secret", "fileMode": 256.0, "secretId": "chatbot-id"},
                ],
                "healthcheck": {"tests": ["CMD", "python3", "-m", "proxy.healthcheck"]},
            },
        },
        "endpointSpec": {"mode": "dnsrr"},
        "mode": {"replicated": {"replicas": 2.0}},
    }


def gateway_service() -> dict[str, Any]:
    return {
        "labels": [{"label": "cek-proxy.role", "value": "gateway"}],
        "taskSpec": {"containerSpec": {"image": "caddy:2.8.4", "args": ["caddy", "run"]}},
        "endpointSpec": {
            "ports": [
                {"targetPort": 443.0, "publishedPort": 443.0, "publishMode": "host"},
                {"targetPort": 80.0, "publishedPort": 80.0, "publishMode": "host"},
            ],
        },
    }


def token_store_service() -> dict[str, Any]:
    return {
        "labels": [{"label": "cek-proxy.role", "value": "token-store"}],
        "taskSpec": {
            "containerSpec": {
                "image": "redis:7.2",
                "args": ["redis-server", "/run/secrets/redis.conf"],
                "secrets": [{"fileName": "/run/secrets/redis.conf", "secretId": "redis-conf-id"}],
            },
        },
        "endpointSpec": {"mode": "dnsrr"},
    }


CADDYFILE = """\
cek.example.test {
    handle /cek { reverse_proxy proxy:8080 }
    handle /actions/* { reverse_proxy proxy:8080 }
    header Strict-Transport-Security "max-age=31536000"
    request_body { max_size 64KB }
}
"""

STACK_OUTPUTS = {
    "extension_url": "https://cek.example.test/cek",
    "action_base_url": "https://cek.example.test/actions/",
    "environment": "dev",
    "proxy_replicas": 2.0,
}


def compliant_records() -> list[Record]:
    """The program as it should be: no policy may find anything in it."""
    secret_opts = resource_options(["data"])
    return [
        (STACK, f"{PROJECT}-dev", STACK_OUTPUTS, None),
        ("docker:index/network:Network", "internal", {"driver": "overlay", "internal": True}, None),
        (SWARM_SECRET, "chatbot-secret", {"data": wrapped_secret(urlsafe_b64(CHATBOT_SECRET))}, secret_opts),
        (
            SWARM_SECRET,
            "redis-conf",
            {"data": wrapped_secret(urlsafe_b64(f"requirepass {TOKEN_STORE_PASSWORD}\n"))},
            secret_opts,
        ),
        ("docker:index/serviceConfig:ServiceConfig", "caddyfile", {"data": b64(CADDYFILE)}, None),
        ("docker:index/remoteImage:RemoteImage", "caddy", {"name": "caddy:2.8.4", "keepLocally": True}, None),
        ("docker:index/image:Image", "proxy-image", {"imageName": "cek-proxy:dev", "skipPush": True}, None),
        (SERVICE, "proxy", proxy_service(), None),
        (SERVICE, "gateway", gateway_service(), None),
        (SERVICE, "token-store", token_store_service(), None),
    ]


def changed(props: Mapping[str, Any], change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    """A deep copy of `props` with `change` applied to it."""
    copied = copy.deepcopy(dict(props))
    change(copied)
    return copied


def spec(props: dict[str, Any]) -> dict[str, Any]:
    """A Service's container spec, to change in place."""
    container_spec: dict[str, Any] = props["taskSpec"]["containerSpec"]
    return container_spec


def policy(name: str) -> Policy:
    return next(p for p in ALL_POLICIES if p.name == name)


def resource_args(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    secret_outputs: tuple[str, ...] = (),
    config: Mapping[str, Any] | None = None,
) -> ResourceValidationArgs:
    urn = f"urn:pulumi:dev::{PROJECT}::{resource_type}::sample"
    return ResourceValidationArgs(
        resource_type, props, urn, "sample", resource_options(secret_outputs), None, config
    )


def stack_args(resources: list[tuple[str, str, Mapping[str, Any]]]) -> StackValidationArgs:
    return StackValidationArgs(
        [
            PolicyResource(
                resource_type,
                props,
                f"urn:pulumi:dev::{PROJECT}::{resource_type}::{name}",
                name,
                resource_options(),
                None,
                None,
                [],
                {},
            )
            for resource_type, name, props in resources
        ]
    )


class Reports(list[str]):
    """Collects what a policy reports: messages, and the resources they name in `urns`."""

    def __init__(self) -> None:
        super().__init__()
        self.urns: list[str | None] = []

    def __call__(self, message: str, urn: str | None) -> None:
        self.append(message)
        self.urns.append(urn)


def violations(policy_name: str, args: ResourceValidationArgs) -> list[str]:
    """The messages resource policy `policy_name` reports for `args`."""
    rule = policy(policy_name)
    assert isinstance(rule, ResourceValidationPolicy)
    reports = Reports()
    rule.validate(args, reports)
    return reports


def stack_violations(args: StackValidationArgs) -> Reports:
    """The messages the stack policy reports for `args`."""
    rule = policy("secret-config-not-in-stack")
    assert isinstance(rule, StackValidationPolicy)
    reports = Reports()
    rule.validate(args, reports)
    return reports
