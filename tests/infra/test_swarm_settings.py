"""The Swarm-wide settings the program reads and warns about: the dispatcher heartbeat."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.engine import EngineError
from infra.swarm_settings import heartbeat_from, heartbeat_warnings, swarm_warnings


def test_the_default_heartbeat_and_any_of_3s_or_more_draw_no_warning() -> None:
    for seconds in (5.0, 3.0, 30.0):
        assert heartbeat_warnings(seconds) == ()


def test_a_short_heartbeat_is_warned_about_with_the_grace_it_leaves_and_the_fix() -> None:
    (warning,) = heartbeat_warnings(1.0)
    assert "heartbeat is 1s" in warning
    assert "as little as 3s to reconnect" in warning
    assert "docker swarm update --dispatcher-heartbeat 5s" in warning


def test_the_heartbeat_is_read_from_the_engines_dispatcher_settings_in_nanoseconds() -> None:
    assert heartbeat_from('{"HeartbeatPeriod":5000000000}') == 5.0
    assert heartbeat_from('{"HeartbeatPeriod":1500000000}') == 1.5


@pytest.mark.parametrize(
    "answer", ["", "null", "<no value>", "{}", '{"HeartbeatPeriod":0}', '{"HeartbeatPeriod":"5s"}', "[1]"]
)
def test_an_answer_without_a_heartbeat_is_an_engine_error(answer: str) -> None:
    with pytest.raises(EngineError):
        heartbeat_from(answer)


def test_an_engine_that_cannot_be_asked_is_said_so_not_raised(tmp_path: Path) -> None:
    (warning,) = swarm_warnings(f"unix://{tmp_path}/no-engine.sock")
    assert warning.startswith("cannot read the Swarm's dispatcher heartbeat (")
