"""Conversation test files (YAML): the schema, loading with errors that name the file, test, turn
and key, and writing a recorded session as such a file.

    configuration:            # all optional
      locale: ko-KR
      extension_id: com.example.cek-proxy.dev
      user_id: cek-sim-user
      free_text: {intent: FreeTextIntent, slot: query}
      proxy_config: helpdesk.toml   # the local proxy's config file, relative to this file
    tests:
      - name: launch and ask
        turns:
          - launch: true
            expect: {speech_contains: 안녕하세요, session_ends: false}
          - say: 배송 언제 와요?
            chatbot_reply: 내일 도착합니다.      # local proxy only: the stub chatbot's answer
            expect: {speech: 내일 도착합니다., chatbot_received: 배송 언제 와요?, max_ms: 2000}
          - intent: Clova.CancelIntent
            slots: {}
            expect: {session_ends: true}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from proxy.simulator.conversation import Exchange
from proxy.simulator.request_builder import LOCALES, FreeText, Speaker, TurnKind, UserTurn


class SuiteFileError(Exception):
    """A test file that cannot be read or does not follow the schema; one line per problem."""


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


OneOrMany = Annotated[list[str], Field(min_length=1)]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Expect(Strict):
    speech: str | None = None  # the whole speech, its parts joined by spaces
    speech_contains: OneOrMany | None = None
    speech_matches: str | None = None  # a regular expression searched in the speech
    reprompt: str | None = None  # "" for no reprompt
    session_ends: bool | None = None
    chatbot_received: str | None = None  # the text the chatbot got this turn (local proxy only)
    max_ms: float | None = Field(None, gt=0)

    _lists = field_validator("speech_contains", mode="before")(_as_list)

    @field_validator("speech_matches")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc})") from None
        return value


class Turn(Strict):
    launch: bool = False
    say: str | None = None
    intent: str | None = None
    slots: dict[str, str] = {}
    end: bool = False
    chatbot_reply: OneOrMany | None = None
    expect: Expect = Expect()

    _lists = field_validator("chatbot_reply", mode="before")(_as_list)

    @model_validator(mode="after")
    def _one_action(self) -> Self:
        actions = [self.launch, self.say is not None, self.intent is not None, self.end]
        if sum(actions) != 1:
            raise ValueError("a turn needs exactly one of launch: true, say, intent or end: true")
        if self.slots and self.intent is None:
            raise ValueError("slots go with intent")
        return self

    def user_turn(self, free_text: FreeText) -> UserTurn:
        if self.launch:
            return UserTurn.launch()
        if self.end:
            return UserTurn.end()
        if self.say is not None:
            return free_text.say(self.say)
        assert self.intent is not None  # _one_action
        return UserTurn.with_intent(self.intent, self.slots)


class FreeTextConfig(Strict):
    intent: str = FreeText.intent
    slot: str = FreeText.slot


class Configuration(Strict):
    locale: str = "ko-KR"
    extension_id: str | None = None
    user_id: str | None = None
    free_text: FreeTextConfig = FreeTextConfig()
    proxy_config: Path | None = None

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"one of {', '.join(LOCALES)}")
        return value

    def speaker(self, extension_id: str, access_token: str | None) -> Speaker:
        defaults = Speaker()
        return Speaker(
            extension_id=self.extension_id or extension_id,
            locale=self.locale,
            user_id=self.user_id or defaults.user_id,
            access_token=access_token,
        )


class Test(Strict):
    name: str = Field(min_length=1)
    turns: list[Turn] = Field(min_length=1)


class Suite(Strict):
    configuration: Configuration = Configuration()
    tests: list[Test] = Field(min_length=1)


def _where(document: Any, loc: tuple[int | str, ...]) -> str:
    """`test "launch" turn 2: expect.speach` from pydantic's location."""
    parts, node = [], document
    for index, step in enumerate(loc):
        node = _child(node, step)
        previous = loc[index - 1] if index else None
        if previous == "tests" and isinstance(step, int):
            name = node.get("name") if isinstance(node, dict) else None
            parts.append(f'test "{name}"' if name else f"test {step + 1}")
        elif previous == "turns" and isinstance(step, int):
            parts.append(f"turn {step + 1}")
        elif step not in ("tests", "turns"):
            parts.append(str(step))
    return " ".join(parts) or "(top level)"


def _child(node: Any, step: int | str) -> Any:
    if isinstance(node, dict):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
        return node[step]
    return None


def load_suite(path: Path) -> Suite:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SuiteFileError(f"{path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise SuiteFileError(f"{path}: not valid YAML ({exc})") from None
    try:
        suite = Suite.model_validate(document)
    except ValidationError as exc:
        problems = [
            f"{path}: {_where(document, tuple(e['loc']))}: {_message(e)}"
            for e in exc.errors(include_url=False)
        ]
        raise SuiteFileError("\n".join(problems)) from None
    config = suite.configuration
    if config.proxy_config is not None and not config.proxy_config.is_absolute():
        config = config.model_copy(update={"proxy_config": path.parent / config.proxy_config})
        suite = suite.model_copy(update={"configuration": config})
    return suite


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    return str(error["msg"]).removeprefix("Value error, ")


def _recorded_turn(exchange: Exchange) -> dict[str, Any]:
    turn = exchange.turn
    entry: dict[str, Any]
    if turn.kind is TurnKind.LAUNCH:
        entry = {"launch": True}
    elif turn.kind is TurnKind.END:
        entry = {"end": True}
    elif turn.said is not None:
        entry = {"say": turn.said}
    else:
        entry = {"intent": turn.intent, **({"slots": dict(turn.slots)} if turn.slots else {})}
    answer = exchange.answer
    expect: dict[str, Any] = {"speech": answer.text}
    if answer.reprompt:
        expect["reprompt"] = answer.reprompt_text
    expect["session_ends"] = answer.ends_session
    return {**entry, "expect": expect}


def recorded_suite(name: str, speaker: Speaker, free_text: FreeText, exchanges: list[Exchange]) -> str:
    """A session's transcript as a test file: each turn expects what was heard."""
    configuration = {
        "locale": speaker.locale,
        "extension_id": speaker.extension_id,
        "user_id": speaker.user_id,
        "free_text": {"intent": free_text.intent, "slot": free_text.slot},
    }
    document = {
        "configuration": configuration,
        "tests": [{"name": name, "turns": [_recorded_turn(e) for e in exchanges]}],
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
