"""Settings from `CEK_PROXY_*` environment variables, secret files and the optional TOML file.

`load_settings` validates everything once at start-up and raises `SettingsError` with one line per
problem, each naming the variable or config key at fault (never a secret's value).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError

from proxy.cek.keys import KeyLoadError, load_public_key_file, shipped_key_path
from proxy.config_file import FileConfig, load_file_config
from proxy.secret_files import (
    ENV_PREFIX,
    SECRET_SETTINGS,
    SecretFileError,
    plain_secret_variables,
    read_secret_file,
)
from proxy.urls import RedisUrl, UpstreamUrl


class SettingsError(Exception):
    """Invalid settings; `problems` holds one message per bad variable or key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


class Mode(StrEnum):
    BRIDGE = "bridge"
    PASSTHROUGH = "passthrough"


def comma_list(value: object) -> object:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @classmethod
    def parse(cls, value: str) -> Listen:
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, for example 0.0.0.0:8080")
        return cls(host.strip("[]") or "0.0.0.0", int(port))  # noqa: S104 - a service listens on all interfaces

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


CommaList = Annotated[tuple[str, ...], BeforeValidator(comma_list)]
Seconds = Annotated[float, Field(gt=0, le=3600)]


class Environment(BaseModel):
    """The raw `CEK_PROXY_*` variables, typed. Field aliases are the public variable names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    listen: Annotated[Listen, BeforeValidator(Listen.parse)] = Field(
        Listen("0.0.0.0", 8080),  # noqa: S104
        alias="CEK_PROXY_LISTEN",
    )
    extension_ids: CommaList = Field(alias="CEK_PROXY_EXTENSION_IDS", min_length=1)
    cek_public_key_files: CommaList = Field((), alias="CEK_PROXY_CEK_PUBLIC_KEY_FILES")
    cek_public_key_url: UpstreamUrl | None = Field(None, alias="CEK_PROXY_CEK_PUBLIC_KEY_URL")
    cek_public_key_ttl: Seconds = Field(86400.0, alias="CEK_PROXY_CEK_PUBLIC_KEY_TTL")
    mode: Mode = Field(Mode.BRIDGE, alias="CEK_PROXY_MODE")
    chatbot_url: UpstreamUrl | None = Field(None, alias="CEK_PROXY_CHATBOT_URL")
    chatbot_secret_file: Path | None = Field(None, alias="CEK_PROXY_CHATBOT_SECRET_FILE")
    passthrough_url: UpstreamUrl | None = Field(None, alias="CEK_PROXY_PASSTHROUGH_URL")
    user_id_key_file: Path | None = Field(None, alias="CEK_PROXY_USER_ID_KEY_FILE")
    action_key_file: Path | None = Field(None, alias="CEK_PROXY_ACTION_KEY_FILE")
    token_store_url: RedisUrl | None = Field(None, alias="CEK_PROXY_TOKEN_STORE_URL")
    token_store_password_file: Path | None = Field(None, alias="CEK_PROXY_TOKEN_STORE_PASSWORD_FILE")
    token_key_file: Path | None = Field(None, alias="CEK_PROXY_TOKEN_KEY_FILE")
    token_ttl: Annotated[float, Field(gt=0, le=30 * 86400)] = Field(3600.0, alias="CEK_PROXY_TOKEN_TTL")
    upstream_ca_file: Path | None = Field(None, alias="CEK_PROXY_UPSTREAM_CA_FILE")
    config_file: Path | None = Field(None, alias="CEK_PROXY_CONFIG_FILE")
    max_body_bytes: int = Field(64 * 1024, alias="CEK_PROXY_MAX_BODY_BYTES", ge=1024, le=8 * 1024 * 1024)
    body_timeout: Seconds = Field(5.0, alias="CEK_PROXY_BODY_TIMEOUT")
    upstream_timeout: Annotated[float, Field(gt=0, le=7.5)] = Field(5.0, alias="CEK_PROXY_UPSTREAM_TIMEOUT")
    turn_budget: Annotated[float, Field(gt=0, le=30)] = Field(7.5, alias="CEK_PROXY_TURN_BUDGET")
    idempotency_window: Annotated[float, Field(ge=0, le=86400)] = Field(
        600.0, alias="CEK_PROXY_IDEMPOTENCY_WINDOW"
    )
    event_freshness: Seconds = Field(150.0, alias="CEK_PROXY_EVENT_FRESHNESS")
    idle_timeout: Seconds = Field(60.0, alias="CEK_PROXY_IDLE_TIMEOUT")
    header_timeout: Seconds = Field(10.0, alias="CEK_PROXY_HEADER_TIMEOUT")
    shutdown_timeout: Seconds = Field(10.0, alias="CEK_PROXY_SHUTDOWN_TIMEOUT")
    drain_seconds: Annotated[float, Field(ge=0, le=120)] = Field(0.0, alias="CEK_PROXY_DRAIN_SECONDS")
    log_level: Annotated[str, AfterValidator(str.upper)] = Field(
        "INFO", alias="CEK_PROXY_LOG_LEVEL", pattern="(?i)^(debug|info|warning|error)$"
    )
    reuse_port: bool = Field(False, alias="CEK_PROXY_REUSE_PORT")


@dataclass(frozen=True)
class Settings:
    """Everything the service needs, validated; secrets are `SecretStr` and never shown by `repr`."""

    listen: Listen
    extension_ids: frozenset[str]
    cek_public_keys: tuple[RSAPublicKey, ...] = field(repr=False)
    cek_public_key_url: str | None
    cek_public_key_ttl: float
    mode: Mode
    chatbot_url: str | None
    chatbot_secret: SecretStr | None
    passthrough_url: str | None
    user_id_key: SecretStr | None
    action_key: SecretStr | None
    token_store_url: str | None
    token_store_password: SecretStr | None
    token_key: SecretStr | None
    token_ttl: float
    upstream_ca_file: Path | None
    max_body_bytes: int
    body_timeout: float
    upstream_timeout: float
    turn_budget: float
    idempotency_window: float  # 0: off
    event_freshness: float
    idle_timeout: float
    header_timeout: float
    shutdown_timeout: float
    drain_seconds: float
    log_level: str
    reuse_port: bool
    config: FileConfig


def _format_validation_error(error: ValidationError, prefix: str = "") -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown setting" if not prefix else "unknown key"
        lines.append(f"{prefix}{where}: {message}")
    return lines


class _Problems:
    """Collects every problem so that one start-up reports them all."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def secret(self, variable: str, path: Path | None, required: bool) -> SecretStr | None:
        if path is None:
            if required:
                self.items.append(f"{variable}: required")
            return None
        try:
            return read_secret_file(path)
        except SecretFileError as exc:
            self.items.append(f"{variable}: {exc}")
            return None

    def keys(self, env: Environment) -> tuple[RSAPublicKey, ...]:
        paths = [Path(p) for p in env.cek_public_key_files] or [shipped_key_path()]
        keys = []
        for path in paths:
            try:
                keys.append(load_public_key_file(path))
            except KeyLoadError as exc:
                self.items.append(f"CEK_PROXY_CEK_PUBLIC_KEY_FILES: {exc}")
        return tuple(keys)

    def config(self, path: Path | None) -> FileConfig:
        if path is None:
            return FileConfig()
        variable = "CEK_PROXY_CONFIG_FILE"
        try:
            return load_file_config(path)
        except OSError as exc:
            self.items.append(f"{variable}: cannot read {path} ({exc.strerror})")
        except tomllib.TOMLDecodeError as exc:
            self.items.append(f"{variable}: {path} is not valid TOML ({exc})")
        except ValidationError as exc:
            self.items.extend(_format_validation_error(exc, prefix=f"{variable} {path}: "))
        return FileConfig()

    def require_for_mode(self, env: Environment) -> None:
        needed = {
            Mode.BRIDGE: {"CEK_PROXY_CHATBOT_URL": env.chatbot_url},
            Mode.PASSTHROUGH: {"CEK_PROXY_PASSTHROUGH_URL": env.passthrough_url},
        }[env.mode]
        for variable, value in needed.items():
            if value is None:
                self.items.append(f"{variable}: required when CEK_PROXY_MODE={env.mode.value}")

    def check_file(self, variable: str, path: Path | None) -> None:
        if path is not None and not path.is_file():
            self.items.append(f"{variable}: {path} is not a readable file")


def load_settings(environ: Mapping[str, str]) -> Settings:
    problems = _Problems()
    problems.items.extend(plain_secret_variables(environ))
    ours = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX) and not _is_plain_secret(k)}
    try:
        env = Environment.model_validate(ours)
    except ValidationError as exc:
        problems.items.extend(_format_validation_error(exc))
        raise SettingsError(problems.items) from None

    problems.require_for_mode(env)
    chatbot_secret = problems.secret(
        "CEK_PROXY_CHATBOT_SECRET_FILE", env.chatbot_secret_file, required=env.mode is Mode.BRIDGE
    )
    user_id_key = problems.secret("CEK_PROXY_USER_ID_KEY_FILE", env.user_id_key_file, required=False)
    problems.check_file("CEK_PROXY_UPSTREAM_CA_FILE", env.upstream_ca_file)
    keys = problems.keys(env)
    config = problems.config(env.config_file)
    action_key = problems.secret(
        "CEK_PROXY_ACTION_KEY_FILE (needed by the [actions] of the config file)",
        env.action_key_file,
        required=bool(config.actions),
    )
    token_key = problems.secret(
        "CEK_PROXY_TOKEN_KEY_FILE (needed with CEK_PROXY_TOKEN_STORE_URL)",
        env.token_key_file,
        required=env.token_store_url is not None,
    )
    token_store_password = problems.secret(
        "CEK_PROXY_TOKEN_STORE_PASSWORD_FILE", env.token_store_password_file, required=False
    )
    if env.reuse_port and config.actions and env.token_store_url is None:
        problems.items.append(
            "CEK_PROXY_REUSE_PORT: worker processes do not share memory; "
            "with [actions], set CEK_PROXY_TOKEN_STORE_URL so that they share tokens"
        )
    if problems.items:
        raise SettingsError(problems.items)
    return Settings(
        listen=env.listen,
        extension_ids=frozenset(env.extension_ids),
        cek_public_keys=keys,
        cek_public_key_url=env.cek_public_key_url,
        cek_public_key_ttl=env.cek_public_key_ttl,
        mode=env.mode,
        chatbot_url=env.chatbot_url,
        chatbot_secret=chatbot_secret,
        passthrough_url=env.passthrough_url,
        user_id_key=user_id_key,
        action_key=action_key,
        token_store_url=env.token_store_url,
        token_store_password=token_store_password,
        token_key=token_key,
        token_ttl=env.token_ttl,
        upstream_ca_file=env.upstream_ca_file,
        max_body_bytes=env.max_body_bytes,
        body_timeout=env.body_timeout,
        upstream_timeout=env.upstream_timeout,
        turn_budget=env.turn_budget,
        idempotency_window=env.idempotency_window,
        event_freshness=env.event_freshness,
        idle_timeout=env.idle_timeout,
        header_timeout=env.header_timeout,
        shutdown_timeout=env.shutdown_timeout,
        drain_seconds=env.drain_seconds,
        log_level=env.log_level,
        reuse_port=env.reuse_port,
        config=config,
    )


def _is_plain_secret(variable: str) -> bool:
    return variable.removeprefix(ENV_PREFIX) in SECRET_SETTINGS
