"""URL rules for upstreams: https, except towards a loopback host; never credentials in the URL."""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def upstream_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an absolute https:// URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("must use https (plain http is allowed only for loopback hosts)")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; secrets come from *_FILE settings")
    return value


def redis_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    if parts.password:
        raise ValueError("must not carry a password; use CEK_PROXY_TOKEN_STORE_PASSWORD_FILE")
    return value


UpstreamUrl = Annotated[str, AfterValidator(upstream_url)]
RedisUrl = Annotated[str, AfterValidator(redis_url)]
