"""no-literal-secret-env: secrets reach services as files under /run/secrets/, never as env values."""

from __future__ import annotations

from typing import Any

import pytest

from policies.workloads import CONTAINER, SERVICE
from tests.policies.support import CHATBOT_SECRET, changed, proxy_service, resource_args, spec, violations

POLICY = "no-literal-secret-env"


def _with_env(name: str, value: str) -> dict[str, Any]:
    return changed(proxy_service(), lambda props: spec(props)["env"].update({name: value}))


def test_secret_files_under_run_secrets_pass() -> None:
    assert violations(POLICY, resource_args(SERVICE, proxy_service())) == []


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("CEK_PROXY_CHATBOT_SECRET", CHATBOT_SECRET, "secret-looking name and a literal value"),
        ("CEK_PROXY_TOKEN_STORE_PASSWORD", CHATBOT_SECRET, "secret-looking name and a literal value"),
        ("CEK_PROXY_ACTION_KEY", CHATBOT_SECRET, "secret-looking name and a literal value"),
        ("GITHUB_TOKEN", CHATBOT_SECRET, "secret-looking name and a literal value"),
        ("CEK_PROXY_CHATBOT_SECRET_FILE", "/tmp/chatbot-secret", "points outside /run/secrets/"),
        ("CEK_PROXY_USER_ID_KEY_FILE", "/run/secrets/../../etc/user-id-key", "points outside /run/secrets/"),
        ("CEK_PROXY_USER_ID_KEY_FILE", "run/secrets/user-id-key", "points outside /run/secrets/"),
        ("UPSTREAM", f"redis://:{CHATBOT_SECRET}@token-store:6379", "looks like credentials in a URL"),
    ],
)
def test_a_secret_in_the_environment_is_a_violation(name: str, value: str, problem: str) -> None:
    found = violations(POLICY, resource_args(SERVICE, _with_env(name, value)))
    assert len(found) == 1
    assert name in found[0]
    assert problem in found[0]
    assert CHATBOT_SECRET not in found[0]


@pytest.mark.parametrize(
    "name",
    [
        "CEK_PROXY_CEK_PUBLIC_KEY_FILES",
        "CEK_PROXY_CEK_PUBLIC_KEY_URL",
        "CEK_PROXY_PASSTHROUGH_URL",
        "TOKEN_STORE_URL",
    ],
)
def test_settings_that_only_sound_close_pass(name: str) -> None:
    assert violations(POLICY, resource_args(SERVICE, _with_env(name, "https://example.test/x"))) == []


def test_container_envs_are_checked_too() -> None:
    props = {"image": "redis:7.2", "envs": ["REDIS_PASSWORD=" + CHATBOT_SECRET, "TZ=UTC"]}
    found = violations(POLICY, resource_args(CONTAINER, props))
    assert len(found) == 1
    assert "REDIS_PASSWORD" in found[0]


def test_name_patterns_come_from_the_policy_config() -> None:
    props = _with_env("VENDOR_SIGNING_MATERIAL", "abc")
    assert violations(POLICY, resource_args(SERVICE, props)) == []
    config = {"secretEnvPatterns": ["SIGNING_MATERIAL$"]}
    assert len(violations(POLICY, resource_args(SERVICE, props, config=config))) == 1


def test_other_resources_are_not_its_business() -> None:
    assert violations(POLICY, resource_args("docker:index/network:Network", {"name": "SECRET=x"})) == []
