"""A second `pulumi up` of an unchanged stack is a no-op: every input reads back as the program wrote it.

The real docker provider stores what it reads back from the engine, and the next run diffs the
program's inputs against that (tests/support/provider_read_back.py models how, and lists its sources).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.provider_read_back import SERVICE, differences, modelled, read_back, short_duration
from tests.support.pulumi_program import Recording

# Native pulumi-docker resources (provider/image.go) diff new inputs against the previous inputs.
NOT_READ_BACK = {"docker:index/image:Image"}


def changes(recording: Recording) -> dict[str, list[str]]:
    found = {
        f"{resource['type']} {resource['name']}": differences(resource["type"], resource["inputs"])
        for resource in recording.resources
        if modelled(resource["type"])
    }
    return {name: fields for name, fields in found.items() if fields}


def proxy_inputs(recording: Recording) -> dict[str, Any]:
    return copy.deepcopy(recording.services()["proxy"])


def test_a_second_up_of_an_unchanged_stack_changes_nothing(recording: Recording) -> None:
    assert changes(recording) == {}


def test_every_docker_resource_the_stack_declares_is_modelled(recording: Recording) -> None:
    declared = {r["type"] for r in recording.resources if r["custom"] and r["type"].startswith("docker:")}
    assert {kind for kind in declared if not modelled(kind)} <= NOT_READ_BACK


@pytest.mark.parametrize(
    ("written", "read"),
    [("60s", "1m"), ("90s", "1m30s"), ("3600s", "1h"), ("5m", "5m"), ("1h30m", "1h30m"),
     ("5400s", "1h30m"), ("5s", "5s"), ("1.5s", "1.5s"), ("500ms", "500ms"), ("0s", "0s")],
)  # fmt: skip
def test_durations_read_back_in_their_shortest_form(written: str, read: str) -> None:
    assert short_duration(written) == read


def test_a_window_of_60s_would_show_an_update_on_every_run(recording: Recording) -> None:
    service = proxy_inputs(recording)
    service["taskSpec"]["restartPolicy"]["window"] = "60s"
    assert differences(SERVICE, service) == ["taskSpec.restartPolicy.window: '60s' -> '1m'"]


def test_a_minute_long_stop_grace_period_or_monitor_would_too(recording: Recording) -> None:
    service = proxy_inputs(recording)
    service["taskSpec"]["containerSpec"]["stopGracePeriod"] = "120s"
    service["updateConfig"]["monitor"] = "1m0s"
    assert differences(SERVICE, service) == [
        "taskSpec.containerSpec.stopGracePeriod: '120s' -> '2m'",
        "updateConfig.monitor: '1m0s' -> '1m'",
    ]


def test_a_ratio_the_provider_respells_is_suppressed(recording: Recording) -> None:
    service = proxy_inputs(recording)
    service["updateConfig"]["maxFailureRatio"] = "0"
    assert read_back(SERVICE, service)["updateConfig"]["maxFailureRatio"] == "0.0"
    assert differences(SERVICE, service) == []


def test_defaults_the_provider_fills_in_and_unordered_sets_are_no_change(recording: Recording) -> None:
    service = proxy_inputs(recording)
    del service["updateConfig"]["parallelism"]  # the schema's default, 1
    service["taskSpec"]["networksAdvanceds"].reverse()
    assert differences(SERVICE, service) == []
    service["updateConfig"]["parallelism"] = 2.5  # a TypeInt reads back truncated
    assert differences(SERVICE, service) == ["updateConfig.parallelism: 2.5 -> 2"]
