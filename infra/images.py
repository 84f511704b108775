"""The images the stack runs, and the content tags that name each build.

Every Dockerfile takes its base image as a build argument: `debian:bookworm-slim` (or a pinned digest)
from a registry, or, with `baseImage: local`, a Debian rootfs that already holds the image's packages,
built with no registry at all by `python -m infra.build_images bases`. Images are built for the target
engine's platform (`buildPlatform`), the proxy's from the wheelhouse of that platform. The tag is a
hash of the Dockerfile, the platform, the build arguments and every source file, so any change to
them rolls the services.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from infra.stack_files import ROOT

WHEELHOUSE = Path("build/wheelhouse")
RUNTIME_LOCK = Path("requirements/runtime.lock")
LOCAL_BASE_IMAGE = "local"
DEBIAN_SUITE = "bookworm"
DEBIAN_SOURCES = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
# Every image carries `ss` and `ps` so that operators (and testinfra) can inspect running tasks.
INSPECTION_PACKAGES = ("procps", "iproute2", "passwd")


@dataclass(frozen=True)
class ImageSpec:
    """One image: paths are relative to the repository root; `uid` is the non-root user it runs as."""

    name: str
    context: Path
    dockerfile: Path
    sources: tuple[Path, ...]
    packages: tuple[str, ...]
    uid: int
    # Installs Python wheels: its build gets the wheelhouse of its platform (`WHEELHOUSE`).
    wheels: bool = False

    @property
    def user(self) -> str:
        return f"{self.uid}:{self.uid}"

    def base_image(self, configured: str, platform: str) -> str:
        return self.local_base_tag(platform) if configured == LOCAL_BASE_IMAGE else configured

    def local_base_tag(self, platform: str) -> str:
        digest = _sha256_lines([DEBIAN_SUITE, platform, *DEBIAN_SOURCES, *sorted(self.packages)])
        return f"cek-proxy/{self.name}-base:{DEBIAN_SUITE}-{digest[:12]}"

    def build_args(self, base_image: str, platform: str) -> dict[str, str]:
        args = {"BASE_IMAGE": base_image, "PACKAGES": " ".join(self.packages), "APP_UID": str(self.uid)}
        if self.wheels:
            args["WHEELHOUSE"] = wheelhouse(platform).as_posix()
        return args

    def tag(self, base_image: str, platform: str) -> str:
        digest = hashlib.sha256(f"platform={platform}\n".encode())
        for key, value in sorted(self.build_args(base_image, platform).items()):
            digest.update(f"{key}={value}\n".encode())
        for path in [self.dockerfile, *_files(self.sources)]:
            digest.update(path.as_posix().encode() + b"\0" + (ROOT / path).read_bytes() + b"\0")
        return f"cek-proxy/{self.name}:{digest.hexdigest()[:16]}"


PROXY = ImageSpec(
    name="proxy",
    context=Path("."),  # .dockerignore sends only proxy/, the runtime lock and the wheelhouse
    dockerfile=Path("proxy/Dockerfile"),
    sources=(Path("proxy"), RUNTIME_LOCK),
    packages=("python3", "python3-venv", "ca-certificates", *INSPECTION_PACKAGES),
    uid=10001,
    wheels=True,
)
GATEWAY = ImageSpec(
    name="gateway",
    context=Path("images/gateway"),
    dockerfile=Path("images/gateway/Dockerfile"),
    sources=(),
    packages=("caddy", "ca-certificates", *INSPECTION_PACKAGES),
    uid=10002,
)
TOKEN_STORE = ImageSpec(
    name="token-store",
    context=Path("images/token-store"),
    dockerfile=Path("images/token-store/Dockerfile"),
    sources=(),
    packages=("redis-server", *INSPECTION_PACKAGES),
    uid=10003,
)
ALL_IMAGES = (PROXY, GATEWAY, TOKEN_STORE)


def wheelhouse(platform: str) -> Path:
    """The wheelhouse for images of `platform`: `build/wheelhouse/linux-arm64`."""
    return WHEELHOUSE / platform.replace("/", "-")


def local_image(
    name: str, spec: ImageSpec, configured_base: str, platform: str, opts: pulumi.ResourceOptions
) -> docker.Image:
    """Build `spec` for `platform` on the target engine and keep it there (no registry): services use
    its content tag."""
    base = spec.base_image(configured_base, platform)
    return docker.Image(
        name,
        image_name=spec.tag(base, platform),
        build=docker.DockerBuildArgs(
            context=_relative(spec.context),
            dockerfile=_relative(spec.dockerfile),
            args=spec.build_args(base, platform),
            platform=platform,
        ),
        skip_push=True,
        opts=opts,
    )


def _relative(path: Path) -> str:
    """Paths relative to the working directory, so that the resource inputs do not vary per checkout."""
    return os.path.relpath(ROOT / path)


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        top = ROOT / path
        for file in [top] if top.is_file() else sorted(top.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                yield file.relative_to(ROOT)


def _sha256_lines(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
