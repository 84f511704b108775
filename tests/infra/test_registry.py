"""A stack with a registry: images pushed there, services naming them by digest, the login a secret."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import SECRET_MARKERS, record_stack
from tests.support.pulumi_program import SECRET, Recording

REGISTRY = {"registryServer": "registry.example:5000", "registryUsername": "deploy"}


@pytest.fixture(scope="module")
def pushed() -> Recording:
    return record_stack("prod", SECRET_MARKERS, REGISTRY)


def _container(service: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = service["taskSpec"]["containerSpec"]
    return spec


def test_images_are_pushed_to_the_registry_and_services_name_them_by_digest(pushed: Recording) -> None:
    images = pushed.of_type("/image:Image")
    assert {image["inputs"]["skipPush"] for image in images} == {False}
    for image in images:
        assert image["inputs"]["imageName"].startswith("registry.example:5000/cek-proxy/")
        assert image["inputs"]["registry"] == {  # all of it secret, as it holds the password
            SECRET: {
                "server": "registry.example:5000",
                "username": "deploy",
                "password": SECRET_MARKERS["registryPassword"],
            }
        }
    for name, service in pushed.services().items():
        assert _container(service)["image"].startswith("registry.example:5000/cek-proxy/"), name
        assert "@sha256:" in _container(service)["image"], name
        assert service["auth"] == {
            SECRET: {
                "serverAddress": "registry.example:5000",
                "username": "deploy",
                "password": SECRET_MARKERS["registryPassword"],
            }
        }


def test_the_registry_password_is_no_swarm_secret_and_no_service_mounts_it(pushed: Recording) -> None:
    secrets = [r["name"] for r in pushed.of_type("/secret:Secret")]
    assert not [name for name in secrets if "registry" in name]
    for service in pushed.services().values():
        mounted = [s["fileName"] for s in _container(service).get("secrets") or []]
        assert not [path for path in mounted if "registry" in path]


def test_a_registry_without_login_needs_no_password() -> None:
    secrets = {k: v for k, v in SECRET_MARKERS.items() if k != "registryPassword"}
    recording = record_stack("prod", secrets, {"registryServer": "registry.example:5000"})
    assert all("auth" not in service for service in recording.services().values())
    assert all("password" not in i["inputs"]["registry"] for i in recording.of_type("/image:Image"))


def test_a_login_without_its_password_stops_the_program_naming_the_key() -> None:
    secrets = {k: v for k, v in SECRET_MARKERS.items() if k != "registryPassword"}
    with pytest.raises(RuntimeError, match="registryPassword: required because registryUsername is set"):
        record_stack("prod", secrets, REGISTRY)


def test_a_registry_url_is_refused_naming_the_key() -> None:
    with pytest.raises(RuntimeError, match="registryServer: must be host or host:port"):
        record_stack("prod", SECRET_MARKERS, {"registryServer": "https://registry.example"})
