"""Access-token checks.

With `[oauth]` configured, a token that is a JWT is validated with PyJWT against the issuer's JWKS
(fetched through the upstream client, bounded in time and size, and cached): asymmetric algorithms
from the allow-list only, `exp` required, `exp`/`nbf` with a small leeway, `iss` and `aud` when
configured. Opaque tokens pass unvalidated unless `require_jwt` is set. Without `[oauth]` nothing
is validated, but a JWT's own `exp` still bounds how long the token is kept.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import jwt

from proxy.config_file import OAuth
from proxy.strict_json import InvalidJsonError, parse_json
from proxy.upstream import Upstream, UpstreamError
from proxy.urls import upstream_url

log = logging.getLogger(__name__)

JWKS_TIMEOUT = 2.0
JWKS_LIFESPAN = 300.0


@dataclass(frozen=True)
class TokenCheck:
    valid: bool
    expires_at: float | None = None  # epoch seconds, when the token says


def _segment(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = _segment(parts[0])
    except (binascii.Error, ValueError):
        return False
    return isinstance(header, dict) and "alg" in header


def claimed_expiry(token: str) -> float | None:
    """The `exp` a JWT claims, read without trusting it (it is only used to keep the token less long)."""
    if not looks_like_jwt(token):
        return None
    try:
        exp = _segment(token.split(".")[1]).get("exp")
    except (binascii.Error, ValueError, AttributeError):
        return None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


class DiscoveryError(Exception):
    """The OIDC discovery document could not be read."""


class TokenValidator:
    def __init__(self, oauth: OAuth | None, upstream: Upstream) -> None:
        self._oauth = oauth
        self._upstream = upstream
        self._jwks_url = oauth.jwks_url if oauth else None
        self._jwk_set: jwt.PyJWKSet | None = None
        self._fetched_at = 0.0
        self._issuer = oauth.issuer if oauth else None
        self._lock = asyncio.Lock()

    async def check(self, token: str) -> TokenCheck:
        if self._oauth is None:
            return TokenCheck(True, claimed_expiry(token))
        if not looks_like_jwt(token):
            return TokenCheck(not self._oauth.require_jwt)
        try:
            claims = await self._validated_claims(token, self._oauth)
        except (jwt.PyJWTError, DiscoveryError) as exc:
            log.info("access token refused", extra={"fields": {"reason": type(exc).__name__}})
            return TokenCheck(False)
        return TokenCheck(True, float(claims["exp"]))

    async def _validated_claims(self, token: str, oauth: OAuth) -> dict[str, Any]:
        signing_key = await self._signing_key(token, oauth)
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key.key,
            algorithms=oauth.algorithms,
            audience=oauth.audience,
            issuer=self._issuer,
            leeway=oauth.leeway,
            options={"require": ["exp"], "verify_aud": oauth.audience is not None},
        )
        return claims

    async def _signing_key(self, token: str, oauth: OAuth) -> jwt.PyJWK:
        """The JWKS key named by the token's `kid`; the set is fetched again once for an unknown kid."""
        kid = jwt.get_unverified_header(token).get("kid")
        for refresh in (False, True):
            jwk_set = await self._keys(oauth, refresh=refresh)
            for key in jwk_set.keys:
                if key.key_id == kid:
                    return key
        raise jwt.PyJWKClientError("no JWKS key matches the token's kid")

    async def _keys(self, oauth: OAuth, *, refresh: bool) -> jwt.PyJWKSet:
        """The issuer's key set, cached for JWKS_LIFESPAN; fetched (bounded, in time and size) here,
        through the upstream client, so that a slow JWKS endpoint cannot outlive the turn."""
        async with self._lock:
            fresh = time.monotonic() - self._fetched_at < JWKS_LIFESPAN
            if self._jwk_set is not None and fresh and not refresh:
                return self._jwk_set
            if self._jwks_url is None:
                self._jwks_url = await self._discover(oauth)
            try:
                reply = await self._upstream.request("GET", self._jwks_url, timeout=JWKS_TIMEOUT)
                if not reply.ok:
                    raise jwt.PyJWKClientConnectionError(f"JWKS answered {reply.status}")
                self._jwk_set = jwt.PyJWKSet.from_dict(parse_json(reply.body))
            except (UpstreamError, InvalidJsonError, AttributeError) as exc:
                raise jwt.PyJWKClientConnectionError(type(exc).__name__) from exc
            self._fetched_at = time.monotonic()
            return self._jwk_set

    async def _discover(self, oauth: OAuth) -> str:
        assert oauth.discovery_url is not None  # OAuth requires one of the two URLs
        try:
            reply = await self._upstream.request("GET", oauth.discovery_url, timeout=JWKS_TIMEOUT)
            document: dict[str, Any] = parse_json(reply.body) if reply.ok else {}
            jwks_uri = upstream_url(document["jwks_uri"])
        except (UpstreamError, ValueError, TypeError, KeyError) as exc:
            raise DiscoveryError(type(exc).__name__) from exc
        if self._issuer is None and isinstance(document.get("issuer"), str):
            self._issuer = document["issuer"]
        return jwks_uri


def keep_for(check: TokenCheck, ttl: float, now: float | None = None) -> float:
    """Seconds to keep a token: the configured TTL, never past the token's own expiry."""
    if check.expires_at is None:
        return ttl
    remaining = check.expires_at - (time.time() if now is None else now)
    return max(1.0, min(ttl, remaining))
