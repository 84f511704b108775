"""The optional TOML file (`CEK_PROXY_CONFIG_FILE`) for the settings that are tables, not scalars.

Every table is validated at start-up; an unknown key is an error so that a typo cannot silently
fall back to a default. Texts the speaker says come in one entry per language (`ko`, `ja`, `en`);
entries left out keep the shipped defaults.
"""

from __future__ import annotations

import re
import string
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from proxy.urls import UpstreamUrl

Language = Literal["ko", "ja", "en"]
LANGUAGES: tuple[Language, ...] = ("ko", "ja", "en")


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def placeholders(template: str) -> list[str]:
    """The `{name}` placeholders of a template; anything fancier than a bare name is refused."""
    names = []
    for _, field, spec, conversion in string.Formatter().parse(template):
        if field is None:
            continue
        if not field or spec or conversion or any(c in field for c in ".[]"):
            raise ValueError(f"placeholder {{{field}}} must be a bare slot name like {{product}}")
        names.append(field)
    return names


def _valid_template(template: str) -> str:
    placeholders(template)
    return template


Template = Annotated[str, AfterValidator(_valid_template)]


class LocalizedText(Strict):
    ko: str | None = None
    ja: str | None = None
    en: str | None = None

    def get(self, lang: Language) -> str | None:
        value: str | None = getattr(self, lang)
        return value

    def __getitem__(self, lang: Language) -> str:
        """The text for `lang`; messages always carry all three languages after validation."""
        return self.get(lang) or self.ko or self.ja or self.en or ""

    def over(self, defaults: LocalizedText) -> LocalizedText:
        """These texts, with the languages they leave out taken from `defaults`."""
        return LocalizedText(**{lang: self.get(lang) or defaults.get(lang) for lang in LANGUAGES})


def _text(ko: str, ja: str, en: str) -> LocalizedText:
    return LocalizedText(ko=ko, ja=ja, en=en)


DEFAULT_MESSAGES: dict[str, LocalizedText] = {
    "apology": _text(
        "죄송합니다. 지금은 답변을 드릴 수 없어요. 잠시 후에 다시 말씀해 주세요.",
        "申し訳ありません。ただいま応答できません。しばらくしてからもう一度お試しください。",
        "Sorry, I can't answer right now. Please try again in a moment.",
    ),
    "welcome": _text("무엇을 도와드릴까요?", "ご用件をどうぞ。", "How can I help you?"),
    "goodbye": _text("이용해 주셔서 감사합니다.", "ご利用ありがとうございました。", "Goodbye."),
    "menu": _text(
        "{options} 중에서 말씀해 주세요.", "{options}の中からお話しください。", "You can say {options}."
    ),
    "unspeakable": _text(
        "자세한 내용은 앱에서 확인해 주세요.",
        "詳しくはアプリでご確認ください。",
        "Please check the app for details.",
    ),
    "login_prompt": _text(
        "이 기능을 쓰려면 CLOVA 앱에서 계정을 연결해 주세요.",
        "この機能を使うには、CLOVAアプリでアカウントを連携してください。",
        "To use this, please link your account in the CLOVA app.",
    ),
    "login_success": _text(
        "계정이 연결되었어요.", "アカウントの連携が完了しました。", "Your account is now linked."
    ),
}


class Messages(Strict):
    """What the proxy itself says; `menu` takes the `{options}` placeholder."""

    apology: LocalizedText = DEFAULT_MESSAGES["apology"]
    welcome: LocalizedText = DEFAULT_MESSAGES["welcome"]
    goodbye: LocalizedText = DEFAULT_MESSAGES["goodbye"]
    menu: LocalizedText = DEFAULT_MESSAGES["menu"]
    unspeakable: LocalizedText = DEFAULT_MESSAGES["unspeakable"]
    login_prompt: LocalizedText = DEFAULT_MESSAGES["login_prompt"]
    login_success: LocalizedText = DEFAULT_MESSAGES["login_success"]

    @field_validator("*", mode="after")
    @classmethod
    def _keep_default_languages(cls, value: LocalizedText, info: ValidationInfo) -> LocalizedText:
        return value.over(DEFAULT_MESSAGES[str(info.field_name)])

    @field_validator("menu", mode="after")
    @classmethod
    def _menu_has_options(cls, value: LocalizedText) -> LocalizedText:
        for lang in LANGUAGES:
            text = value.get(lang) or ""
            if placeholders(text) != ["options"]:
                raise ValueError(f"{lang}: the menu text must contain {{options}} exactly once")
        return value


class IntentUtterance(Strict):
    """Candidate texts for one intent; the first whose slots are all filled is sent."""

    templates: list[Template] = Field(min_length=1)


BUILTIN_PHRASES: dict[str, LocalizedText] = {
    "Clova.GuideIntent": _text("도움말", "ヘルプ", "help"),
    "Clova.FallbackIntent": _text("도움말", "ヘルプ", "help"),
    "Clova.YesIntent": _text("네", "はい", "yes"),
    "Clova.NoIntent": _text("아니요", "いいえ", "no"),
    "Clova.PauseIntent": _text("잠깐 멈춰", "一時停止", "pause"),
    "Clova.ResumeIntent": _text("계속", "再開", "resume"),
    "Clova.NextIntent": _text("다음", "次", "next"),
    "Clova.PreviousIntent": _text("이전", "前", "previous"),
    "Clova.RequestAlternativesIntent": _text("다른 거", "他のもの", "something else"),
}


class Utterances(Strict):
    """How an intent and its slots become the text the chatbot receives."""

    free_text_slot: str | None = None
    intents: dict[str, IntentUtterance] = {}
    builtin: dict[str, LocalizedText] = {}

    def builtin_phrase(self, intent: str, lang: Language) -> str | None:
        configured = self.builtin.get(intent)
        shipped = BUILTIN_PHRASES.get(intent)
        if configured and shipped:
            return configured.over(shipped).get(lang)
        chosen = configured or shipped
        return chosen.get(lang) if chosen else None


class Conversation(Strict):
    """When a CEK session ends."""

    end_intents: list[str] = ["Clova.CancelIntent", "Clova.StopIntent"]
    end_scenarios: list[str] = []


class AccountLinking(StrEnum):
    OFF = "off"
    OPTIONAL = "optional"
    REQUIRED = "required"


# Asymmetric algorithms only: `none` and HMAC (which a public key would turn into a forgery) never.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)


def _asymmetric(algorithms: list[str]) -> list[str]:
    refused = [alg for alg in algorithms if alg not in ASYMMETRIC_ALGORITHMS]
    if refused:
        raise ValueError(f"not allowed: {', '.join(refused)} (allowed: {', '.join(ASYMMETRIC_ALGORITHMS)})")
    return algorithms


class OAuth(Strict):
    """JWT access-token validation against the issuer's keys (JWKS or OIDC discovery)."""

    jwks_url: UpstreamUrl | None = None
    discovery_url: UpstreamUrl | None = None
    issuer: str | None = None
    audience: str | list[str] | None = None
    algorithms: Annotated[list[str], AfterValidator(_asymmetric)] = Field(
        default=["RS256", "ES256", "PS256"], min_length=1
    )
    leeway: float = Field(30.0, ge=0, le=300)
    require_jwt: bool = False  # refuse opaque tokens instead of passing them through unvalidated

    @model_validator(mode="after")
    def _one_key_source(self) -> OAuth:
        if (self.jwks_url is None) == (self.discovery_url is None):
            raise ValueError("set exactly one of jwks_url and discovery_url")
        return self


_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def _header_name(value: str) -> str:
    if not _HEADER_NAME.match(value):
        raise ValueError("must be an HTTP header name")
    return value


class TokenHeader(Strict):
    """Where a user's access token goes on a call made on the user's behalf."""

    token_header: Annotated[str, AfterValidator(_header_name)] = "Authorization"  # noqa: S105 - a header name
    token_prefix: str | None = None  # default: "Bearer " for Authorization, nothing otherwise

    def token_value(self, token: str) -> str:
        prefix = self.token_prefix
        if prefix is None:
            prefix = "Bearer " if self.token_header.lower() == "authorization" else ""
        return prefix + token


class Action(TokenHeader):
    """A backend that a chatbot action method reaches through `/actions/<name>`."""

    url: UpstreamUrl
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    timeout: float = Field(3.0, gt=0, le=10)


class ActionRelay(Strict):
    user_id_field: str = Field("userId", min_length=1)


ActionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class FileConfig(Strict):
    default_language: Language = "ko"
    account_linking: AccountLinking = AccountLinking.OFF
    messages: Messages = Messages()
    utterances: Utterances = Utterances()
    conversation: Conversation = Conversation()
    oauth: OAuth | None = None
    actions: dict[ActionName, Action] = {}
    action_relay: ActionRelay = ActionRelay()
    passthrough: TokenHeader = TokenHeader()


def load_file_config(path: Path) -> FileConfig:
    """Parse and validate the TOML file; raises OSError, TOMLDecodeError or ValidationError."""
    with path.open("rb") as fh:
        document = tomllib.load(fh)
    return FileConfig.model_validate(document)
