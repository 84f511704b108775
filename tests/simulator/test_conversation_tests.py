"""`cek-proxy test`: YAML conversation tests against a URL or a proxy the command starts itself."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tests.simulator.conftest import cek_proxy, identity
from tests.support.pulumi_program import ROOT

EXAMPLES = sorted((ROOT / "examples" / "conversations").glob("*.yaml"))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


async def test_the_example_suites_pass_against_the_proxy_the_command_starts(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    run = await cek_proxy("test", *EXAMPLES, "--junit", junit)
    assert run.status == 0, run.stdout + run.stderr
    assert "3 passed, 0 failed" in run.stdout
    suites = ET.parse(junit).getroot().findall("testsuite")  # noqa: S314 - our own file
    assert [s.get("tests") for s in suites] == ["2", "1"]
    assert {s.get("failures") for s in suites} == {"0"}


FAILING = """
tests:
  - name: wrong expectations
    turns:
      - launch: true
        expect: {speech_contains: 안녕하세요, session_ends: true}
      - say: 배송 조회
        expect: {speech: "답변: 반품", reprompt: "다시 말씀해 주세요.", speech_matches: "^배송"}
  - name: passes
    turns:
      - intent: Clova.CancelIntent
        expect: {session_ends: true}
"""


async def test_a_failing_conversation_exits_non_zero_with_a_junit_failure(
    tmp_path: Path, dev_key: Path, proxy_url: str
) -> None:
    suite, junit = _write(tmp_path / "failing.yaml", FAILING), tmp_path / "junit.xml"
    run = await cek_proxy("test", suite, "--url", proxy_url, *identity(dev_key), "--junit", junit)
    assert run.status == 1
    assert "1 passed, 1 failed" in run.stdout
    assert "FAIL" in run.stdout
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")  # noqa: S314 - our own file
    failure = cases[0].find("failure")
    assert failure is not None
    assert cases[1].find("failure") is None
    assert failure.text == "\n".join(
        [
            "turn 1 (launch): the session stayed open",
            'turn 2 (say "배송 조회"): speech was "답변: 배송 조회 시작", expected "답변: 반품"',
            'turn 2 (say "배송 조회"): speech "답변: 배송 조회 시작" does not match /^배송/',
            'turn 2 (say "배송 조회"): reprompt was "", expected "다시 말씀해 주세요."',
        ]
    )


async def test_the_chatbot_side_is_checked_only_against_the_local_proxy(
    tmp_path: Path, dev_key: Path, proxy_url: str
) -> None:
    suite = _write(
        tmp_path / "chatbot.yaml",
        "tests:\n  - name: c\n    turns:\n      - say: 안녕\n        expect: {chatbot_received: 안녕}\n",
    )
    local = await cek_proxy("test", suite)
    assert local.status == 0, local.stdout

    remote = await cek_proxy("test", suite, "--url", proxy_url, *identity(dev_key))
    assert remote.status == 1
    assert "chatbot_received needs the proxy the command starts itself" in remote.stdout


async def test_a_scripted_reply_that_differs_fails_and_says_what_the_chatbot_received(tmp_path: Path) -> None:
    suite = _write(
        tmp_path / "scripted.yaml",
        """
tests:
  - name: scripted
    turns:
      - intent: AskOrderStatus
        slots: {product: 이어폰}
        chatbot_reply: [내일 와요.]
        expect: {speech: 모레 와요., chatbot_received: 이어폰 배송}
""",
    )
    run = await cek_proxy("test", suite)
    assert run.status == 1
    assert 'speech was "내일 와요.", expected "모레 와요."' in run.stdout
    assert 'the chatbot received "이어폰", expected "이어폰 배송"' in run.stdout


async def test_schema_errors_name_the_file_the_test_the_turn_and_the_key(tmp_path: Path) -> None:
    suite = _write(
        tmp_path / "bad.yaml",
        """
configuration: {locale: fr-FR}
tests:
  - name: typo
    turns:
      - launch: true
      - say: 안녕
        expect: {speach: 안녕}
      - say: 안녕
        intent: Clova.YesIntent
      - say: x
        expect: {speech_matches: "("}
""",
    )
    run = await cek_proxy("test", suite)
    assert run.status == 2
    assert run.stderr.splitlines() == [
        f"cek-proxy test: {suite}: configuration locale: one of ko-KR, ja-JP, en-US",
        f'{suite}: test "typo" turn 2 expect speach: unknown key',
        f'{suite}: test "typo" turn 3: a turn needs exactly one of launch: true, say, intent or end: true',
        f'{suite}: test "typo" turn 4 expect speech_matches: not a regular expression '
        "(missing ), unterminated subpattern at position 0)",
    ]
