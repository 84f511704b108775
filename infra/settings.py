"""The stack's settings, read once from Pulumi config and validated.

Every key is declared in `Pulumi.yaml` with its type and default (the CLI applies the defaults), so
this module only reads and checks them; a bad value stops the program with a message naming the key.
Secrets are read only with `require_secret` and stay `Output`s: they never become plain strings here.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pulumi

from infra.engine import PLATFORMS, EngineError, engine_platform
from infra.stack_files import ROOT

# The secrets services mount (each a Swarm secret), and the registry's password, which none does.
SERVICE_SECRET_KEYS = ("chatbotSecret", "actionKey", "tokenKey", "tokenStorePassword", "userIdKey")
REGISTRY_PASSWORD = "registryPassword"  # noqa: S105 (a config key)
SECRET_KEYS = (*SERVICE_SECRET_KEYS, REGISTRY_PASSWORD)
E = TypeVar("E", bound=StrEnum)


class SettingsError(ValueError):
    """A config value is invalid; the message names the key, never a secret's value."""


class TlsMode(StrEnum):
    ACME = "acme"
    INTERNAL = "internal"


class ProxyMode(StrEnum):
    BRIDGE = "bridge"
    PASSTHROUGH = "passthrough"


class TokenStoreMode(StrEnum):
    AUTO = "auto"
    REDIS = "redis"
    MEMORY = "memory"


class AccountLinking(StrEnum):
    OFF = "off"
    OPTIONAL = "optional"
    REQUIRED = "required"


@dataclass(frozen=True)
class Limits:
    cpu_millis: int
    memory_mb: int

    @property
    def nano_cpus(self) -> int:
        return self.cpu_millis * 1_000_000

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * 1024 * 1024


@dataclass(frozen=True)
class Registry:
    """Where the images are pushed and every node pulls them from (`host[:port]`)."""

    server: str
    username: str  # "" for a registry that needs no login
    password: pulumi.Output[str] | None = field(repr=False)


@dataclass(frozen=True)
class StackSettings:
    environment: str
    domain: str
    tls: TlsMode
    acme_email: str
    https_port: int
    http_port: int
    docker_host: str
    docker_ssh_opts: tuple[str, ...]
    base_image: str
    # linux/amd64 or linux/arm64: the target engine's platform, which every image is built for.
    build_platform: str
    extension_ids: tuple[str, ...]
    mode: ProxyMode
    chatbot_url: str
    passthrough_url: str
    cek_public_key_url: str
    cek_public_key_files: tuple[str, ...]
    upstream_ca_file: str
    account_linking: AccountLinking
    proxy_config_file: str
    # The text of `proxy_config_file` ("" without one), checked to be TOML.
    proxy_config_text: str
    log_level: str
    max_body_bytes: int
    proxy_replicas: int
    # At most this many proxy tasks on one node (0: no limit), where the nodes leave room for it.
    proxy_max_replicas_per_node: int
    registry_server: str
    registry_username: str
    token_store: TokenStoreMode
    proxy_limits: Limits
    gateway_limits: Limits
    token_store_limits: Limits
    # The secrets the stack's config holds (only those: one the stack does not use may be unset).
    secrets: Mapping[str, pulumi.Output[str]] = field(repr=False)

    @property
    def registry(self) -> Registry | None:
        """The stack's registry, or None: then the images stay on the engine that builds them."""
        if not self.registry_server:
            return None
        return Registry(self.registry_server, self.registry_username, self.secrets.get(REGISTRY_PASSWORD))

    @property
    def uses_token_store(self) -> bool:
        """Redis shares account-linking tokens between replicas; one replica keeps them in memory."""
        if self.token_store is TokenStoreMode.AUTO:
            return self.proxy_replicas > 1
        return self.token_store is TokenStoreMode.REDIS

    @property
    def uses_actions(self) -> bool:
        """The action relay runs only for the `[actions]` of the proxy's config file."""
        return bool(tomllib.loads(self.proxy_config_text).get("actions"))

    def secrets_needed(self) -> dict[str, str]:
        """Each secret this deployment mounts -> what it is needed for."""
        needed = {}
        if self.mode is ProxyMode.BRIDGE:
            needed["chatbotSecret"] = "mode is bridge"
            needed["userIdKey"] = "mode is bridge: the chatbot's userId"
        if self.uses_actions:
            needed["actionKey"] = f"{self.proxy_config_file} has [actions]"
        if self.uses_token_store:
            reason = "the stack runs the token store (tokenStore, proxyReplicas > 1)"
            needed["tokenKey"] = needed["tokenStorePassword"] = reason
        if self.registry_server and self.registry_username:
            needed[REGISTRY_PASSWORD] = "registryUsername is set: the registry's login"
        return needed

    def secrets_in_use(self) -> dict[str, pulumi.Output[str]]:
        """The secrets this deployment mounts: those `secrets_needed` names that a service mounts."""
        return {key: self.secrets[key] for key in self.secrets_needed() if key in SERVICE_SECRET_KEYS}


def load_settings() -> StackSettings:
    """The settings of the stack being deployed (its name is the environment's)."""
    cfg = pulumi.Config()
    settings = StackSettings(
        environment=pulumi.get_stack(),
        domain=_hostname(cfg, "domain"),
        tls=_choice(cfg, "tls", TlsMode),
        acme_email=cfg.require("acmeEmail"),
        https_port=_int(cfg, "httpsPort", 1, 65535),
        http_port=_int(cfg, "httpPort", 1, 65535),
        docker_host=cfg.require("dockerHost"),
        docker_ssh_opts=_strings(cfg, "dockerSshOpts"),
        base_image=cfg.require("baseImage"),
        build_platform=_build_platform(cfg),
        extension_ids=_strings(cfg, "extensionIds", min_items=1),
        mode=_choice(cfg, "mode", ProxyMode),
        chatbot_url=_url(cfg, "chatbotUrl"),
        passthrough_url=_url(cfg, "passthroughUrl"),
        cek_public_key_url=_url(cfg, "cekPublicKeyUrl"),
        cek_public_key_files=_strings(cfg, "cekPublicKeyFiles"),
        upstream_ca_file=cfg.require("upstreamCaFile"),
        account_linking=_choice(cfg, "accountLinking", AccountLinking),
        proxy_config_file=cfg.require("proxyConfigFile"),
        proxy_config_text=_proxy_config_text(cfg.require("proxyConfigFile")),
        log_level=_pattern(cfg, "logLevel", r"debug|info|warning|error"),
        max_body_bytes=_int(cfg, "maxBodyBytes", 1024, 8 * 1024 * 1024),
        proxy_replicas=_int(cfg, "proxyReplicas", 1, 50),
        proxy_max_replicas_per_node=_int(cfg, "proxyMaxReplicasPerNode", 0, 50),
        registry_server=_registry_server(cfg),
        registry_username=cfg.require("registryUsername"),
        token_store=_choice(cfg, "tokenStore", TokenStoreMode),
        proxy_limits=_limits(cfg, "proxy"),
        gateway_limits=_limits(cfg, "gateway"),
        token_store_limits=_limits(cfg, "tokenStore"),
        secrets={key: value for key in SECRET_KEYS if (value := cfg.get_secret(key)) is not None},
    )
    _check_consistency(settings)
    _check_secrets(settings)
    return settings


def _build_platform(cfg: pulumi.Config) -> str:
    """`buildPlatform`, else the platform of the engine the stack deploys to (`dockerHost`)."""
    if value := cfg.require("buildPlatform"):
        if value not in PLATFORMS.values():
            raise SettingsError(f"buildPlatform: must be one of {', '.join(PLATFORMS.values())}")
        return value
    try:
        return engine_platform(cfg.require("dockerHost"), _strings(cfg, "dockerSshOpts"))
    except EngineError as exc:
        raise SettingsError(
            f"buildPlatform: empty, so the target engine was asked, but {exc}; set buildPlatform"
        ) from None


def _registry_server(cfg: pulumi.Config) -> str:
    """`host[:port]` (no scheme, no path), or "" for no registry."""
    value = cfg.require("registryServer")
    if value and not re.fullmatch(r"[a-z0-9.-]+(:[0-9]{1,5})?", value):
        raise SettingsError("registryServer: must be host or host:port, without a scheme or path")
    return value


def _check_secrets(settings: StackSettings) -> None:
    missing = [
        f"{key}: required because {reason}; set it with"
        f" `pulumi config set --stack {settings.environment} --secret {key}`"
        for key, reason in settings.secrets_needed().items()
        if key not in settings.secrets
    ]
    if missing:
        raise SettingsError("\n".join(missing))


def read_project_file(path: str, key: str) -> str:
    """A file named by a setting, relative to the project (an absolute path is taken as is)."""
    try:
        return (ROOT / path).read_text()
    except OSError as exc:
        raise SettingsError(f"{key}: cannot read {path} ({exc.strerror})") from None


def _proxy_config_text(path: str) -> str:
    if not path:
        return ""
    text = read_project_file(path, "proxyConfigFile")
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"proxyConfigFile: {path} is not valid TOML ({exc})") from None
    if "account_linking" in parsed:
        raise SettingsError("proxyConfigFile: set account linking with the accountLinking setting instead")
    return text


def _check_consistency(settings: StackSettings) -> None:
    if settings.mode is ProxyMode.BRIDGE and not settings.chatbot_url:
        raise SettingsError("chatbotUrl: required when mode is bridge")
    if settings.mode is ProxyMode.PASSTHROUGH and not settings.passthrough_url:
        raise SettingsError("passthroughUrl: required when mode is passthrough")
    if (
        settings.token_store is TokenStoreMode.MEMORY
        and settings.proxy_replicas > 1
        and settings.account_linking is not AccountLinking.OFF
    ):
        raise SettingsError("tokenStore: memory keeps tokens per replica; use redis with replicas > 1")
    if settings.registry_username and not settings.registry_server:
        raise SettingsError("registryUsername: set registryServer too, or leave it empty")
    if settings.tls is TlsMode.ACME and "." not in settings.domain:
        raise SettingsError("domain: automatic HTTPS (tls: acme) needs a public DNS name; use tls: internal")


def _choice(cfg: pulumi.Config, key: str, enum: type[E]) -> E:
    value = cfg.require(key)
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise SettingsError(f"{key}: must be one of {allowed}") from None


def _int(cfg: pulumi.Config, key: str, low: int, high: int) -> int:
    value = cfg.require_int(key)
    if not low <= value <= high:
        raise SettingsError(f"{key}: must be between {low} and {high}")
    return value


def _strings(cfg: pulumi.Config, key: str, min_items: int = 0) -> tuple[str, ...]:
    value: Any = cfg.require_object(key)
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise SettingsError(f"{key}: must be a list of non-empty strings")
    if len(value) < min_items:
        raise SettingsError(f"{key}: needs at least {min_items} item(s)")
    return tuple(value)


def _pattern(cfg: pulumi.Config, key: str, pattern: str) -> str:
    value = cfg.require(key)
    if not re.fullmatch(pattern, value):
        raise SettingsError(f"{key}: must match {pattern}")
    return value


def _hostname(cfg: pulumi.Config, key: str) -> str:
    return _pattern(cfg, key, r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*")


def _url(cfg: pulumi.Config, key: str) -> str:
    """An optional https URL ("" when unset); credentials belong in secrets, not in URLs."""
    value = cfg.require(key)
    parts = urlsplit(value)
    if value and (parts.scheme != "https" or not parts.hostname or parts.username or parts.password):
        raise SettingsError(f"{key}: must be an https:// URL without credentials")
    return value


def _limits(cfg: pulumi.Config, prefix: str) -> Limits:
    return Limits(
        cpu_millis=_int(cfg, f"{prefix}CpuMillis", 50, 64_000),
        memory_mb=_int(cfg, f"{prefix}MemoryMb", 32, 256 * 1024),
    )
