"""Hardening: nothing privileged, a locked-down proxy, ports only on the gateway, pinned images,
and in prod a proxy that trusts only CLOVA's signing key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from policies.workloads import CONTAINER, IMAGE, REMOTE_IMAGE, SERVICE
from tests.policies.support import (
    changed,
    gateway_service,
    proxy_service,
    resource_args,
    spec,
    token_store_service,
    violations,
)

Change = Callable[[dict[str, Any]], object]


def _unlabelled(props: dict[str, Any]) -> None:
    props["labels"] = []


def test_a_privileged_container_is_a_violation() -> None:
    args = resource_args(CONTAINER, {"image": "busybox:1.36", "privileged": True})
    assert violations("no-privileged-containers", args) == ["privileged is true"]
    args = resource_args(CONTAINER, {"image": "busybox:1.36", "privileged": False})
    assert violations("no-privileged-containers", args) == []


# proxy-runs-hardened


def test_the_hardened_proxy_passes() -> None:
    assert violations("proxy-runs-hardened", resource_args(SERVICE, proxy_service())) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda p: spec(p).pop("user"), "runs as root (user '')"),
        (lambda p: spec(p).update(user="root"), "runs as root (user 'root')"),
        (lambda p: spec(p).update(user="0:10001"), "runs as root (user '0:10001')"),
        (lambda p: spec(p).update(readOnly=False), "has a writable root filesystem"),
        (lambda p: spec(p).pop("readOnly"), "has a writable root filesystem"),
        (lambda p: spec(p).update(capAdds=["NET_BIND_SERVICE"]), "adds capabilities NET_BIND_SERVICE"),
        (lambda p: spec(p).update(capDrops=["NET_RAW"]), "does not drop all capabilities"),
    ],
)
def test_a_loosened_proxy_is_a_violation(change: Change, problem: str) -> None:
    found = violations("proxy-runs-hardened", resource_args(SERVICE, changed(proxy_service(), change)))
    assert len(found) == 1
    assert found[0].startswith(f"the proxy {problem}")


def test_the_proxy_is_known_by_its_env_without_the_label() -> None:
    props = changed(proxy_service(), lambda p: (p.update(labels=[]), spec(p).update(user="root")))
    assert len(violations("proxy-runs-hardened", resource_args(SERVICE, props))) == 1


def test_the_proxy_is_known_by_its_label_without_the_env() -> None:
    props = changed(proxy_service(), lambda p: spec(p).update(env={}, readOnly=False))
    assert len(violations("proxy-runs-hardened", resource_args(SERVICE, props))) == 1


def test_a_proxy_container_is_checked_the_same_way() -> None:
    props = {
        "image": "cek-proxy:0.1.0",
        "envs": ["CEK_PROXY_MODE=bridge"],
        "user": "10001",
        "readOnly": True,
        "capabilities": {"adds": ["SYS_ADMIN"], "drops": ["ALL"]},
    }
    assert violations("proxy-runs-hardened", resource_args(CONTAINER, props)) == [
        "the proxy adds capabilities SYS_ADMIN; remove them"
    ]


@pytest.mark.parametrize("props", [gateway_service(), token_store_service()])
def test_other_workloads_are_not_held_to_the_proxys_settings(props: dict[str, Any]) -> None:
    assert violations("proxy-runs-hardened", resource_args(SERVICE, props)) == []


# only-gateway-publishes-ports


def test_the_gateway_may_publish_ports() -> None:
    assert violations("only-gateway-publishes-ports", resource_args(SERVICE, gateway_service())) == []


def _publishing(props: dict[str, Any]) -> dict[str, Any]:
    return changed(props, lambda p: p.update(endpointSpec={"ports": [{"targetPort": 8080.0}]}))


@pytest.mark.parametrize(
    "props",
    [
        _publishing(proxy_service()),
        _publishing(token_store_service()),
        changed(gateway_service(), _unlabelled),
        # A proxy cannot publish by calling itself the gateway.
        changed(gateway_service(), lambda p: spec(p).update(env={"CEK_PROXY_MODE": "bridge"})),
    ],
    ids=["proxy", "token store", "unlabelled gateway", "proxy labelled gateway"],
)
def test_any_other_service_publishing_is_a_violation(props: dict[str, Any]) -> None:
    found = violations("only-gateway-publishes-ports", resource_args(SERVICE, props))
    assert len(found) == 1
    assert "is not the gateway" in found[0]


def test_a_container_publishing_is_a_violation() -> None:
    props = {"image": "redis:7.2", "ports": [{"internal": 6379.0, "external": 6379.0}]}
    assert len(violations("only-gateway-publishes-ports", resource_args(CONTAINER, props))) == 1


def test_the_role_label_comes_from_the_policy_config() -> None:
    props = changed(gateway_service(), lambda p: p.update(labels=[{"label": "tier", "value": "gateway"}]))
    assert len(violations("only-gateway-publishes-ports", resource_args(SERVICE, props))) == 1
    args = resource_args(SERVICE, props, config={"roleLabel": "tier"})
    assert violations("only-gateway-publishes-ports", args) == []


# no-latest-images


PINNED = ["caddy:2.8.4", "localhost:5000/team/app:1.0", "sha256:" + "ef" * 32]
PINNED += ["cek-proxy@sha256:" + "ab" * 32, "caddy:latest@sha256:" + "cd" * 32]


@pytest.mark.parametrize("ref", PINNED)
def test_a_pinned_image_passes(ref: str) -> None:
    props = changed(gateway_service(), lambda p: spec(p).update(image=ref))
    assert violations("no-latest-images", resource_args(SERVICE, props)) == []


@pytest.mark.parametrize(
    ("resource_type", "props", "problem"),
    [
        (
            SERVICE,
            changed(gateway_service(), lambda p: spec(p).update(image="caddy")),
            "image caddy has no tag",
        ),
        (CONTAINER, {"image": "redis:latest"}, "image redis:latest uses the latest tag"),
        (CONTAINER, {"image": "localhost:5000/app"}, "image localhost:5000/app has no tag"),
        (REMOTE_IMAGE, {"name": "caddy:latest"}, "image caddy:latest uses the latest tag"),
        (IMAGE, {"imageName": "cek-proxy"}, "image cek-proxy has no tag"),
    ],
)
def test_a_floating_image_is_a_violation(resource_type: str, props: dict[str, Any], problem: str) -> None:
    found = violations("no-latest-images", resource_args(resource_type, props))
    assert len(found) == 1
    assert found[0].startswith(problem)


# prod-proxy-trusts-only-clova-key

SHIPPED_KEY = "/usr/local/lib/python3.11/site-packages/proxy/data/clova-signature-public-key.pem"


def _trusting(**env: str) -> dict[str, Any]:
    return changed(proxy_service(), lambda p: spec(p)["env"].update(env))


@pytest.mark.parametrize(
    "props",
    [
        proxy_service(),
        _trusting(CEK_PROXY_CEK_PUBLIC_KEY_FILES=SHIPPED_KEY),
        _trusting(CEK_PROXY_CEK_PUBLIC_KEY_FILES=""),
        _trusting(CEK_PROXY_CEK_PUBLIC_KEY_URL="https://clova.ai/.well-known/signature-public-key.pem"),
        _trusting(
            CEK_PROXY_CEK_PUBLIC_KEY_URL="https://clova-cek-requests.line.me/.well-known/signature-public-key.pem"
        ),
    ],
    ids=["default", "shipped file", "empty", "clova.ai url", "line.me url"],
)
def test_in_prod_clovas_key_passes(monkeypatch: pytest.MonkeyPatch, props: dict[str, Any]) -> None:
    monkeypatch.setenv("PULUMI_STACK", "prod")
    assert violations("prod-proxy-trusts-only-clova-key", resource_args(SERVICE, props)) == []


@pytest.mark.parametrize(
    ("props", "problem"),
    [
        (
            _trusting(CEK_PROXY_CEK_PUBLIC_KEY_FILES=f"{SHIPPED_KEY}, /run/secrets/test-key.pem"),
            "CEK_PROXY_CEK_PUBLIC_KEY_FILES trusts /run/secrets/test-key.pem",
        ),
        (
            _trusting(CEK_PROXY_CEK_PUBLIC_KEY_URL="https://keys.example.test/cek.pem"),
            "CEK_PROXY_CEK_PUBLIC_KEY_URL is https://keys.example.test/cek.pem",
        ),
    ],
)
def test_in_prod_any_other_key_is_a_violation(
    monkeypatch: pytest.MonkeyPatch, props: dict[str, Any], problem: str
) -> None:
    monkeypatch.setenv("PULUMI_STACK", "acme/cek-proxy/prod")
    assert violations("prod-proxy-trusts-only-clova-key", resource_args(SERVICE, props)) == [
        f"in stack prod, {problem}"
    ]


def test_other_stacks_may_trust_a_test_key_unless_configured_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_STACK", "staging")
    props = _trusting(CEK_PROXY_CEK_PUBLIC_KEY_FILES="/run/secrets/test-key.pem")
    assert violations("prod-proxy-trusts-only-clova-key", resource_args(SERVICE, props)) == []
    args = resource_args(SERVICE, props, config={"strictStacks": ["staging", "prod"]})
    assert len(violations("prod-proxy-trusts-only-clova-key", args)) == 1
