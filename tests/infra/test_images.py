"""Image definitions: content tags, registry-free bases, and what the proxy's build context holds."""

from __future__ import annotations

import dataclasses

import pytest

from infra.build_images import manylinux_platforms
from infra.images import ALL_IMAGES, GATEWAY, PROXY, WHEELHOUSE, ImageSpec
from infra.stack_files import ROOT

AMD64, ARM64 = "linux/amd64", "linux/arm64"
DEBIAN = "debian:bookworm-slim"


def test_the_tag_names_the_content_the_base_and_the_platform() -> None:
    assert PROXY.tag(DEBIAN, AMD64) == PROXY.tag(DEBIAN, AMD64)
    assert PROXY.tag(DEBIAN, AMD64) != PROXY.tag(PROXY.local_base_tag(AMD64), AMD64)
    assert PROXY.tag(DEBIAN, AMD64) != PROXY.tag(DEBIAN, ARM64)
    assert GATEWAY.tag(DEBIAN, AMD64) != GATEWAY.tag(DEBIAN, ARM64)
    other_uid = dataclasses.replace(PROXY, uid=PROXY.uid + 1)
    assert other_uid.tag(DEBIAN, AMD64) != PROXY.tag(DEBIAN, AMD64)


def test_a_local_base_is_named_by_its_package_list_and_platform() -> None:
    assert PROXY.base_image("local", AMD64) == PROXY.local_base_tag(AMD64)
    assert PROXY.base_image(DEBIAN, AMD64) == DEBIAN
    assert PROXY.local_base_tag(AMD64) != PROXY.local_base_tag(ARM64)
    more = dataclasses.replace(PROXY, packages=(*PROXY.packages, "curl"))
    assert more.local_base_tag(AMD64) != PROXY.local_base_tag(AMD64)


def test_the_proxy_installs_the_wheelhouse_of_its_platform() -> None:
    assert PROXY.build_args(DEBIAN, ARM64)["WHEELHOUSE"] == "build/wheelhouse/linux-arm64"
    assert "WHEELHOUSE" not in GATEWAY.build_args(DEBIAN, ARM64)


@pytest.mark.parametrize("spec", ALL_IMAGES, ids=lambda spec: spec.name)
def test_dockerfiles_build_the_same_with_buildkit_and_the_legacy_builder(spec: ImageSpec) -> None:
    """The provider builds with BuildKit; the tests here can only use the legacy builder (no buildx).
    Both read these Dockerfiles alike as long as they use no BuildKit-only feature."""
    dockerfile = (ROOT / spec.dockerfile).read_text()
    for feature in (
        "# syntax=",
        "--mount=",
        "<<",
        "TARGETPLATFORM",
        "TARGETARCH",
        "BUILDPLATFORM",
        "--platform",
    ):
        assert feature not in dockerfile, f"{spec.dockerfile} uses {feature}"


@pytest.mark.parametrize("spec", ALL_IMAGES, ids=lambda spec: spec.name)
def test_dockerfiles_take_their_base_packages_and_user_as_build_arguments(spec: ImageSpec) -> None:
    dockerfile = (ROOT / spec.dockerfile).read_text()
    for arg in spec.build_args(DEBIAN, AMD64):
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


def test_the_proxy_image_runs_what_the_bench_measures() -> None:
    """`python -m proxy` (uvloop, orjson) from the runtime lock, as the bench starts it."""
    dockerfile = (ROOT / PROXY.dockerfile).read_text()
    assert 'ENTRYPOINT ["python3", "-m", "proxy"]' in dockerfile
    assert "--requirement /tmp/runtime.lock" in dockerfile
    locked = {line.split("==")[0] for line in (ROOT / "requirements/runtime.lock").read_text().splitlines()}
    assert {"uvloop", "orjson"} <= locked
