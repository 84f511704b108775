"""secret-config-not-in-resources / -stack: a declared secret's value, raw or encoded, only in a
docker.Secret's data; never in another property, nor in a stack output; never in a message."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policies.detect import encoded_forms
from policies.project import PROJECT_FILE_ENV
from policies.workloads import CONTAINER, IMAGE, SERVICE, STACK, SWARM_SECRET
from tests.policies.support import (
    ACTION_KEY,
    CHATBOT_SECRET,
    SECRETS,
    STACK_OUTPUTS,
    TOKEN_STORE_PASSWORD,
    b64,
    changed,
    proxy_service,
    resource_args,
    spec,
    stack_args,
    stack_violations,
    urlsafe_b64,
    violations,
)

POLICY = "secret-config-not-in-resources"

# Planted leaks: (what, where the value goes in the proxy service's props).
LEAKS: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
    ("service label", lambda p: p["labels"].append({"label": "debug", "value": CHATBOT_SECRET})),
    ("container label", lambda p: spec(p).update(labels=[{"label": "k", "value": CHATBOT_SECRET}])),
    ("env var", lambda p: spec(p)["env"].update(CEK_PROXY_LOG_LEVEL=CHATBOT_SECRET)),
    ("command argument", lambda p: spec(p).update(args=["cek-proxy", f"--chatbot-secret={CHATBOT_SECRET}"])),
    ("command", lambda p: spec(p).update(commands=["sh", "-c", f"echo {CHATBOT_SECRET} > /tmp/s"])),
    ("healthcheck", lambda p: spec(p)["healthcheck"]["tests"].append(b64(CHATBOT_SECRET))),
    ("base64 in a label", lambda p: p["labels"].append({"label": "b", "value": b64(CHATBOT_SECRET)})),
    ("url-safe base64", lambda p: spec(p)["env"].update(X=urlsafe_b64("prefix" + CHATBOT_SECRET))),
    ("base64 inside a blob", lambda p: spec(p)["env"].update(X=b64(f"a: 1\nkey: {CHATBOT_SECRET}\n"))),
]


def _assert_no_value_in(messages: list[str]) -> None:
    for value in SECRETS.values():
        for _form, needle in encoded_forms(value):
            assert all(needle not in message for message in messages)


@pytest.mark.parametrize(("what", "leak"), LEAKS, ids=[what for what, _ in LEAKS])
def test_a_planted_leak_is_found_and_not_repeated(
    what: str, leak: Callable[[dict[str, Any]], object]
) -> None:
    found = violations(POLICY, resource_args(SERVICE, changed(proxy_service(), leak)))
    assert len(found) == 1, what
    assert "secret config cek-proxy:chatbotSecret appears" in found[0]
    _assert_no_value_in(found)


def test_the_clean_proxy_passes() -> None:
    assert violations(POLICY, resource_args(SERVICE, proxy_service())) == []


def test_every_declared_secret_is_watched_and_named() -> None:
    props = {"image": "x:1", "command": [ACTION_KEY, TOKEN_STORE_PASSWORD]}
    found = violations(POLICY, resource_args(CONTAINER, props))
    assert [m.split(" appears")[0] for m in found] == [
        "the value of secret config cek-proxy:actionKey",
        "the value of secret config cek-proxy:tokenStorePassword",
    ]
    assert "property command[0]" in found[0]
    _assert_no_value_in(found)


def test_a_swarm_secrets_data_is_where_the_value_belongs() -> None:
    props = {"data": urlsafe_b64(CHATBOT_SECRET)}
    assert violations(POLICY, resource_args(SWARM_SECRET, props, secret_outputs=("data",))) == []
    named = {**props, "name": f"chatbot-{CHATBOT_SECRET}"}
    assert len(violations(POLICY, resource_args(SWARM_SECRET, named, secret_outputs=("data",)))) == 1


def test_the_same_data_elsewhere_is_a_leak() -> None:
    props = {"data": urlsafe_b64(CHATBOT_SECRET)}
    assert len(violations(POLICY, resource_args("docker:index/serviceConfig:ServiceConfig", props))) == 1


def test_a_url_encoded_value_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    value = "p@ss/w0rd+s3cret"
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"cek-proxy:tokenStorePassword": value}))
    props = {
        "image": "redis:7.2",
        "command": ["redis-cli", "-u", f"redis://:{quote(value, safe='')}@token-store"],
    }
    found = violations(POLICY, resource_args(CONTAINER, props))
    assert len(found) == 1
    assert "(URL-encoded)" in found[0]


def test_non_secret_config_values_may_appear() -> None:
    props = changed(proxy_service(), lambda p: spec(p)["env"].update(DOMAIN="cek.example.test"))
    assert violations(POLICY, resource_args(SERVICE, props)) == []


def test_short_values_are_not_searched_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"cek-proxy:chatbotSecret": "abc123"}))
    props = {"image": "x:1", "command": ["abc123"]}
    assert violations(POLICY, resource_args(CONTAINER, props)) == []
    assert len(violations(POLICY, resource_args(CONTAINER, props, config={"minSecretLength": 4.0}))) == 1


def test_unknown_values_are_skipped_and_known_ones_still_checked() -> None:
    props = {"image": UNKNOWN_STRING_VALUE, "command": [UNKNOWN_STRING_VALUE, CHATBOT_SECRET]}
    found = violations(POLICY, resource_args(CONTAINER, unknown_checking_proxy(props)))
    assert len(found) == 1
    assert "command[1]" in found[0]


def test_a_missing_pulumi_yaml_is_a_violation_naming_the_override(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(PROJECT_FILE_ENV, str(tmp_path / "nowhere" / "Pulumi.yaml"))
    found = violations(POLICY, resource_args(SERVICE, proxy_service()))
    assert len(found) == 1
    assert "cannot be read" in found[0]
    assert PROJECT_FILE_ENV in found[0]


def test_a_malformed_stack_config_is_a_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG", "{not json")
    found = violations(POLICY, resource_args(SERVICE, proxy_service()))
    assert len(found) == 1
    assert "PULUMI_CONFIG: not valid JSON" in found[0]


# The stack policy: what the resources became, and the stack outputs (the root Stack resource's outputs).


def test_a_secret_in_a_stack_output_is_found() -> None:
    outputs = {**STACK_OUTPUTS, "debug": {"token": TOKEN_STORE_PASSWORD}}
    found = stack_violations(stack_args([(STACK, "cek-proxy-dev", outputs)]))
    assert found == [
        "the value of secret config cek-proxy:tokenStorePassword appears (raw) in stack output debug.token"
    ]
    assert found.urns == [f"urn:pulumi:dev::cek-proxy::{STACK}::cek-proxy-dev"]


def test_the_stack_policy_checks_every_resource_but_a_secrets_data() -> None:
    leaky = changed(proxy_service(), lambda p: p["labels"].append({"label": "x", "value": b64(ACTION_KEY)}))
    args = stack_args(
        [
            (STACK, "cek-proxy-dev", STACK_OUTPUTS),
            (SWARM_SECRET, "action-key", {"data": urlsafe_b64(ACTION_KEY)}),
            (SERVICE, "proxy", leaky),
        ]
    )
    found = stack_violations(args)
    assert len(found) == 1
    assert found[0].startswith(
        "the value of secret config cek-proxy:actionKey appears (base64) in property labels"
    )
    assert found.urns == [f"urn:pulumi:dev::cek-proxy::{SERVICE}::proxy"]


def test_a_clean_stack_passes() -> None:
    args = stack_args([(STACK, "cek-proxy-dev", STACK_OUTPUTS), (SERVICE, "proxy", proxy_service())])
    assert stack_violations(args) == []


def test_the_registry_password_belongs_only_to_the_registry_login(monkeypatch: pytest.MonkeyPatch) -> None:
    password = "registry-pass-0123456789"
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"cek-proxy:registryPassword": password}))
    image = {"imageName": "registry.example:5000/cek-proxy/proxy:0123456789abcdef"}
    pushed = {
        **image,
        "registry": {"server": "registry.example:5000", "username": "ci", "password": password},
    }
    assert violations(POLICY, resource_args(IMAGE, pushed)) == []
    pulled = changed(
        proxy_service(), lambda p: p.update(auth={"serverAddress": "r:5000", "password": password})
    )
    assert violations(POLICY, resource_args(SERVICE, pulled)) == []
    leaked = changed(proxy_service(), lambda p: spec(p)["env"].update(REGISTRY=password))
    assert len(violations(POLICY, resource_args(SERVICE, leaked))) == 1
    assert len(violations(POLICY, resource_args(IMAGE, {**image, "build": {"args": {"P": password}}}))) == 1


def test_another_secret_in_the_registry_login_is_a_leak() -> None:
    pulled = changed(
        proxy_service(), lambda p: p.update(auth={"serverAddress": "r", "password": CHATBOT_SECRET})
    )
    assert len(violations(POLICY, resource_args(SERVICE, pulled))) == 1
