"""Images are built for the target engine's platform, whatever machine runs Pulumi."""

from __future__ import annotations

import subprocess

import pytest

from infra.engine import engine_platform, info_command
from tests.infra.conftest import SECRET_MARKERS, TARGET, record_stack
from tests.support import pulumi_program
from tests.support.pulumi_program import Recording
from tests.support.tools import missing


def platforms(recording: Recording) -> dict[str, str]:
    return {r["name"]: r["inputs"]["build"]["platform"] for r in recording.of_type("/image:Image")}


def test_every_image_is_built_for_the_stacks_platform(recording: Recording) -> None:
    assert set(platforms(recording).values()) == {TARGET["buildPlatform"]}
    (proxy,) = (r["inputs"] for r in recording.of_type("/image:Image") if r["name"] == "proxy-image")
    assert proxy["build"]["args"]["WHEELHOUSE"] == "build/wheelhouse/linux-amd64"


def test_an_arm64_engine_gets_arm64_images_under_other_tags(recording: Recording, stack: str) -> None:
    arm = record_stack(stack, SECRET_MARKERS, {"buildPlatform": "linux/arm64"})
    assert set(platforms(arm).values()) == {"linux/arm64"}
    tags = {r["inputs"]["imageName"] for r in recording.of_type("/image:Image")}
    assert tags.isdisjoint(r["inputs"]["imageName"] for r in arm.of_type("/image:Image"))


def test_unset_the_platform_is_asked_from_the_target_engine() -> None:
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        missing("a Docker engine", "the default of buildPlatform comes from one")
    recording = pulumi_program.record_stack("dev", SECRET_MARKERS, {"buildPlatform": ""})
    assert set(platforms(recording).values()) == {engine_platform("")}


def test_an_engine_that_cannot_be_asked_stops_the_program_naming_the_setting() -> None:
    with pytest.raises(RuntimeError, match="buildPlatform: empty, so the target engine was asked, but"):
        record_stack("dev", SECRET_MARKERS, {"buildPlatform": "", "dockerHost": "tcp://127.0.0.1:9"})


def test_a_platform_the_images_are_not_built_for_is_refused() -> None:
    with pytest.raises(RuntimeError, match="buildPlatform: must be one of linux/amd64, linux/arm64"):
        record_stack("dev", SECRET_MARKERS, {"buildPlatform": "linux/386"})


def test_an_ssh_engine_is_asked_over_ssh_with_the_stacks_options() -> None:
    assert info_command("ssh://deploy@manager.example:2222", ["-o", "StrictHostKeyChecking=yes"]) == [
        "ssh", "-o", "StrictHostKeyChecking=yes", "-p", "2222", "--", "deploy@manager.example",
        "docker", "info", "--format", "{{.Architecture}}",
    ]  # fmt: skip
    assert info_command("tcp://manager.example:2376")[:3] == [
        "docker",
        "--host",
        "tcp://manager.example:2376",
    ]
