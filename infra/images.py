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

from infra.settings import Registry, StackSettings
from infra.stack_files import ROOT

WHEELHOUSE = Path("build/wheelhouse")
# The gateway's Caddy, built from the Go module in images/gateway/caddy (`infra.build_images caddy`).
CADDY_MODULE = Path("images/gateway/caddy")
CADDY_BUILDS = Path("images/gateway/build/caddy")
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
    # Ships the Caddy binary of its platform (`CADDY_BUILDS`, relative to its context).
    caddy: bool = False

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
        if self.caddy:
            args["CADDY_BINARY"] = caddy_binary(platform).relative_to(self.context).as_posix()
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
    sources=(CADDY_MODULE,),
    packages=("ca-certificates", *INSPECTION_PACKAGES),
    uid=10002,
    caddy=True,
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


def caddy_binary(platform: str) -> Path:
    """The gateway's Caddy for images of `platform`: `images/gateway/build/caddy/linux-arm64/caddy`."""
    return CADDY_BUILDS / platform.replace("/", "-") / "caddy"


def stack_image(
    name: str,
    spec: ImageSpec,
    settings: StackSettings,
    opts: pulumi.ResourceOptions,
) -> pulumi.Output[str]:
    """Build `spec` on the target engine; the reference its service runs.

    With a registry the image is pushed there and named by its digest (`<server>/cek-proxy/proxy@sha256:…`),
    which every node can pull and which no later push can move. Without one it stays on the engine
    that built it and the service names its content tag."""
    base = spec.base_image(settings.base_image, settings.build_platform)
    tag = spec.tag(base, settings.build_platform)
    registry = settings.registry
    image = docker.Image(
        name,
        image_name=f"{registry.server}/{tag}" if registry else tag,
        build=docker.DockerBuildArgs(
            context=_relative(spec.context),
            dockerfile=_relative(spec.dockerfile),
            args=spec.build_args(base, settings.build_platform),
            platform=settings.build_platform,
        ),
        registry=_registry_args(registry),
        skip_push=registry is None,
        opts=opts,
    )
    return image.repo_digest if registry else image.image_name


def service_auth(settings: StackSettings) -> docker.ServiceAuthArgs | None:
    """The login Swarm passes to the nodes that pull a service's image (None: no login needed)."""
    registry = settings.registry
    if registry is None or not registry.username:
        return None
    return docker.ServiceAuthArgs(
        server_address=registry.server, username=registry.username, password=registry.password
    )


def _registry_args(registry: Registry | None) -> docker.RegistryArgs | None:
    if registry is None:
        return None
    if not registry.username:
        return docker.RegistryArgs(server=registry.server)
    return docker.RegistryArgs(server=registry.server, username=registry.username, password=registry.password)


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
