"""Build what the images need, with no image registry: base images, the wheelhouse, the images.

    python -m infra.build_images bases        # one Debian rootfs per image (mmdebstrap), docker-imported
    python -m infra.build_images wheelhouse   # wheels of requirements/runtime.lock for the images' Python
    python -m infra.build_images caddy        # the gateway's Caddy, from the Go module images/gateway/caddy
    python -m infra.build_images images       # the three images with `docker build` (tests use this)

Everything is built for a target platform: `--platform linux/arm64`, or `--stack prod` for the
stack's (its `buildPlatform`, else the platform of its `dockerHost` engine, asked over its
`dockerSshOpts` as the program does), else the engine DOCKER_HOST names (or the local socket).
The wheelhouse is downloaded on this machine for that platform and the images' CPython (pip
`--platform`, binary wheels only), into `build/wheelhouse/<os>-<architecture>`. Caddy is built here
too, with Go (1.25 or newer) and no cgo, for that platform: `images/gateway/build/caddy/<os>-<arch>/caddy`
(modules from the Go module proxy, cached under ~/.cache/go-mod unless GOMODCACHE says otherwise).

`pulumi up` builds the images itself (`docker.Image`); it needs the wheelhouse and Caddy, and the
bases when the stack sets `baseImage: local`. Every step is skipped when its result already exists:
base tags and image tags are content hashes; the wheelhouse and Caddy record what they were built from.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from infra.engine import PLATFORMS, WHEEL_MACHINES, engine_platform
from infra.images import (
    ALL_IMAGES,
    CADDY_MODULE,
    DEBIAN_SOURCES,
    DEBIAN_SUITE,
    LOCAL_BASE_IMAGE,
    RUNTIME_LOCK,
    ImageSpec,
    caddy_binary,
    wheelhouse,
)
from infra.stack_files import ROOT, plain_settings

# The Python and glibc of Debian bookworm, which every base image is.
IMAGE_PYTHON = "3.11"
IMAGE_GLIBC_MINOR = 36


def build_base(spec: ImageSpec, platform: str) -> str:
    """The Debian rootfs for `spec` and `platform`, imported under a tag that hashes its package list.

    A foreign architecture needs qemu-user-static (binfmt) on this machine, as mmdebstrap says."""
    tag = spec.local_base_tag(platform)
    if _image_exists(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="cek-proxy-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        include = ",".join(spec.packages)
        _run(
            [
                "mmdebstrap",
                "--quiet",
                "--variant=apt",
                f"--architectures={platform.removeprefix('linux/')}",
                f"--include={include}",
                DEBIAN_SUITE,
                str(rootfs),
                *DEBIAN_SOURCES,
            ]
        )
        _run(["docker", "import", "--platform", platform, "--change", 'CMD ["/bin/bash"]', str(rootfs), tag])
    return tag


def build_wheelhouse(platform: str) -> Path:
    """Wheels for the runtime lock, for `platform` and the images' CPython."""
    target = ROOT / wheelhouse(platform)
    stamp = target / ".built-from"
    wanted = f"{hashlib.sha256((ROOT / RUNTIME_LOCK).read_bytes()).hexdigest()} {platform}\n"
    if stamp.is_file() and stamp.read_text() == wanted:
        return target
    shutil.rmtree(target, ignore_errors=True)
    machine = WHEEL_MACHINES[platform]
    _run([
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        *(f"--platform={tag}" for tag in manylinux_platforms(machine)), "--implementation", "cp",
        "--python-version", IMAGE_PYTHON, "--abi", f"cp{IMAGE_PYTHON.replace('.', '')}",
        "--dest", str(target), "--requirement", str(ROOT / RUNTIME_LOCK),
    ])  # fmt: skip
    stamp.write_text(wanted)
    return target


def build_caddy(platform: str) -> Path:
    """The gateway's Caddy for `platform`, from the pinned Go module (a static binary: no cgo)."""
    target = ROOT / caddy_binary(platform)
    stamp = target.with_name(".built-from")
    sources = sorted(path for path in (ROOT / CADDY_MODULE).iterdir() if path.is_file())
    digest = hashlib.sha256(b"".join(path.name.encode() + b"\0" + path.read_bytes() for path in sources))
    wanted = f"{digest.hexdigest()} {platform}\n"
    if target.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return target
    go = shutil.which("go")
    if go is None:
        raise SystemExit(
            "caddy: Go 1.25 or newer is needed to build the gateway's Caddy (https://go.dev/dl/)"
        )
    os_name, arch = platform.split("/")
    env = {**os.environ, "CGO_ENABLED": "0", "GOOS": os_name, "GOARCH": arch, "GOFLAGS": "-mod=readonly"}
    env.setdefault("GOMODCACHE", str(Path.home() / ".cache" / "go-mod"))
    subprocess.run(
        [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(target), "."],
        cwd=ROOT / CADDY_MODULE,
        env=env,
        check=True,
    )
    stamp.write_text(wanted)
    return target


def manylinux_platforms(arch: str) -> list[str]:
    """Every manylinux tag the images' glibc runs (pip does not widen an explicit `--platform`)."""
    legacy = [f"manylinux{name}_{arch}" for name in ("2014", "2010", "1")]
    return [f"manylinux_2_{minor}_{arch}" for minor in range(IMAGE_GLIBC_MINOR, 4, -1)] + legacy


def build_image(spec: ImageSpec, platform: str, configured_base: str = LOCAL_BASE_IMAGE) -> str:
    """`docker build` of `spec` for `platform` under its content tag, as the Pulumi program builds it."""
    base = spec.base_image(configured_base, platform)
    tag = spec.tag(base, platform)
    if not _image_exists(tag):
        build_args = [f"--build-arg={key}={value}" for key, value in spec.build_args(base, platform).items()]
        dockerfile, context = str(ROOT / spec.dockerfile), str(ROOT / spec.context)
        _run([
            "docker", "build", "--quiet", "--platform", platform, *build_args,
            "--file", dockerfile, "--tag", tag, context,
        ])  # fmt: skip
    return tag


def target_platform(platform: str | None, stack: str | None) -> str:
    """`--platform`, else the stack's (its buildPlatform, else its engine's), else DOCKER_HOST's engine."""
    if platform:
        return platform
    if stack is None:
        return engine_platform("")
    settings = plain_settings(stack)
    return settings["buildPlatform"] or engine_platform(settings["dockerHost"], settings["dockerSshOpts"])


def _image_exists(tag: str) -> bool:
    return (
        subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False).returncode == 0
    )


def _run(command: list[str]) -> str:
    return subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout


def _timed(label: str, step: Callable[[], object]) -> None:
    started = time.monotonic()
    result = step()
    print(f"{label}: {result} ({time.monotonic() - started:.1f}s)", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.build_images",
        description="Build the base images, the wheelhouse and the images, with no registry.",
    )
    parser.add_argument("steps", nargs="+", choices=("bases", "wheelhouse", "caddy", "images"))
    parser.add_argument(
        "--base-image",
        default=LOCAL_BASE_IMAGE,
        help=f"base of `images`: {LOCAL_BASE_IMAGE!r} (the bases step's rootfs images) or an image name",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--platform", choices=sorted(PLATFORMS.values()), help="the target platform")
    target.add_argument("--stack", help="build for this stack's target engine (Pulumi.<stack>.yaml)")
    args = parser.parse_args(argv)
    platform = target_platform(args.platform, args.stack)
    print(f"target platform: {platform}", flush=True)
    for spec in ALL_IMAGES if "bases" in args.steps else ():
        _timed(f"base {spec.name}", partial(build_base, spec, platform))
    if "wheelhouse" in args.steps:
        _timed("wheelhouse", partial(build_wheelhouse, platform))
    if "caddy" in args.steps:
        _timed("caddy", partial(build_caddy, platform))
    for spec in ALL_IMAGES if "images" in args.steps else ():
        _timed(f"image {spec.name}", partial(build_image, spec, platform, args.base_image))
    return 0


if __name__ == "__main__":
    sys.exit(main())
