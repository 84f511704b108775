"""Image definitions: content tags, registry-free bases, and what the proxy's build context holds."""

from __future__ import annotations

import dataclasses

import pytest

from infra.build_images import manylinux_platforms
from infra.images import ALL_IMAGES, PROXY, WHEELHOUSE, ImageSpec
from infra.settings import ROOT


def test_the_tag_names_the_content_and_the_base() -> None:
    assert PROXY.tag("debian:bookworm-slim") == PROXY.tag("debian:bookworm-slim")
    assert PROXY.tag("debian:bookworm-slim") != PROXY.tag(PROXY.local_base_tag())
    other_uid = dataclasses.replace(PROXY, uid=PROXY.uid + 1)
    assert other_uid.tag("debian:bookworm-slim") != PROXY.tag("debian:bookworm-slim")


def test_a_local_base_is_named_by_its_package_list() -> None:
    assert PROXY.base_image("local") == PROXY.local_base_tag()
    assert PROXY.base_image("debian:bookworm-slim") == "debian:bookworm-slim"
    more = dataclasses.replace(PROXY, packages=(*PROXY.packages, "curl"))
    assert more.local_base_tag() != PROXY.local_base_tag()


@pytest.mark.parametrize("spec", ALL_IMAGES, ids=lambda spec: spec.name)
def test_dockerfiles_take_their_base_packages_and_user_as_build_arguments(spec: ImageSpec) -> None:
    dockerfile = (ROOT / spec.dockerfile).read_text()
    for arg in spec.build_args("debian:bookworm-slim"):
        assert f"ARG {arg}" in dockerfile, f"{spec.dockerfile} lacks ARG {arg}"
    assert "USER ${APP_UID}:${APP_UID}" in dockerfile
    assert {"procps", "iproute2"} <= set(spec.packages), "operators and testinfra need ps and ss"


def test_the_proxy_build_context_sends_only_its_sources_and_the_wheelhouse() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    sent = {line.removeprefix("!").rstrip("/") for line in lines if line.startswith("!")}
    assert "*" in lines, "everything else is excluded"
    assert sent == {path.as_posix() for path in (*PROXY.sources, WHEELHOUSE)}


def test_the_wheelhouse_accepts_every_manylinux_wheel_bookworm_runs() -> None:
    platforms = manylinux_platforms("x86_64")
    assert {"manylinux_2_36_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"} <= set(platforms)
    assert "manylinux_2_38_x86_64" not in platforms
