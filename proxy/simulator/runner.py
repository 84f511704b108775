"""Running conversation tests: each test is a fresh session, each turn checked against its `expect`."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from proxy.simulator.answers import Answer
from proxy.simulator.conversation import Conversation, TurnError
from proxy.simulator.keys import DevKey
from proxy.simulator.local_stack import local_stack
from proxy.simulator.request_builder import FreeText, Speaker
from proxy.simulator.stub_chatbot import Received, ScriptedReply, StubChatbot
from proxy.simulator.suite_file import Expect, Suite, Test, Turn
from proxy.simulator.transport import Transport, TransportError


@dataclass(frozen=True)
class TestResult:
    file: Path
    name: str
    turns: int
    failures: tuple[str, ...]
    elapsed: float  # seconds

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class RunOptions:
    """What the command line gives every suite: the URL (None: start a local proxy), key, identity."""

    url: str | None
    key: DevKey
    extension_id: str
    access_token: str | None = None


def _quoted(value: str) -> str:
    return f'"{value}"'


def speech_failures(expect: Expect, answer: Answer, elapsed_ms: float) -> list[str]:
    failures = []
    if expect.speech is not None and answer.text != expect.speech:
        failures.append(f"speech was {_quoted(answer.text)}, expected {_quoted(expect.speech)}")
    failures += [
        f"speech {_quoted(answer.text)} does not contain {_quoted(part)}"
        for part in expect.speech_contains or []
        if part not in answer.text
    ]
    if expect.speech_matches is not None and not re.search(expect.speech_matches, answer.text):
        failures.append(f"speech {_quoted(answer.text)} does not match /{expect.speech_matches}/")
    if expect.reprompt is not None and answer.reprompt_text != expect.reprompt:
        failures.append(f"reprompt was {_quoted(answer.reprompt_text)}, expected {_quoted(expect.reprompt)}")
    if expect.session_ends is not None and answer.ends_session != expect.session_ends:
        failures.append(f"the session {'ended' if answer.ends_session else 'stayed open'}")
    if expect.max_ms is not None and elapsed_ms > expect.max_ms:
        failures.append(f"answered in {elapsed_ms:.0f} ms, limit {expect.max_ms:g} ms")
    return failures


def chatbot_failures(expect: Expect, chatbot: StubChatbot | None, received_before: int) -> list[str]:
    if expect.chatbot_received is None:
        return []
    if chatbot is None:
        return ["chatbot_received needs the proxy the command starts itself (run without a URL)"]
    got: list[Received] = chatbot.received[received_before:]
    texts = [r.text for r in got if r.text is not None]
    if expect.chatbot_received not in texts:
        seen = ", ".join(_quoted(t) for t in texts) or "nothing"
        return [f"the chatbot received {seen}, expected {_quoted(expect.chatbot_received)}"]
    return []


def _label(index: int, turn: Turn) -> str:
    action = (
        "launch"
        if turn.launch
        else "end"
        if turn.end
        else f"say {_quoted(turn.say)}"
        if turn.say is not None
        else f"intent {turn.intent}"
    )
    return f"turn {index} ({action})"


async def _run_turn(
    conversation: Conversation, turn: Turn, free_text: FreeText, chatbot: StubChatbot | None
) -> list[str]:
    if chatbot is not None:
        chatbot.scripted.clear()
        if turn.chatbot_reply:
            chatbot.scripted.append(ScriptedReply(tuple(turn.chatbot_reply)))
    received_before = len(chatbot.received) if chatbot else 0
    try:
        exchange = await conversation.send(turn.user_turn(free_text))
    except (TurnError, TransportError) as exc:
        return [str(exc)]
    failures = speech_failures(turn.expect, exchange.answer, exchange.elapsed * 1000)
    return failures + chatbot_failures(turn.expect, chatbot, received_before)


async def run_test(
    test: Test, conversation: Conversation, free_text: FreeText, chatbot: StubChatbot | None, file: Path
) -> TestResult:
    started = time.perf_counter()
    failures: list[str] = []
    for index, turn in enumerate(test.turns, start=1):
        failures += [
            f"{_label(index, turn)}: {f}" for f in await _run_turn(conversation, turn, free_text, chatbot)
        ]
    return TestResult(file, test.name, len(test.turns), tuple(failures), time.perf_counter() - started)


@asynccontextmanager
async def _target(
    suite: Suite, options: RunOptions, speaker: Speaker
) -> AsyncIterator[tuple[str, StubChatbot | None]]:
    if options.url is not None:
        yield options.url, None
        return
    async with local_stack(options.key, speaker.extension_id, suite.configuration.proxy_config) as stack:
        yield stack.cek_url, stack.chatbot


async def run_suite(path: Path, suite: Suite, options: RunOptions, transport: Transport) -> list[TestResult]:
    config = suite.configuration
    speaker = config.speaker(options.extension_id, options.access_token)
    free_text = FreeText(config.free_text.intent, config.free_text.slot)
    results = []
    async with _target(suite, options, speaker) as (url, chatbot):
        for test in suite.tests:
            conversation = Conversation(transport, url, options.key, speaker)
            results.append(await run_test(test, conversation, free_text, chatbot, path))
    return results
