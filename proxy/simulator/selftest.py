"""A certification-style battery against an extension URL.

Every request CLOVA would never send (unsigned, badly signed, tampered, for another extension,
oversized, not JSON) must be refused with a 4xx; a LaunchRequest signed with the development key
must get a valid CEK answer inside the budget; over HTTPS the certificate must verify and plain
HTTP must redirect to HTTPS. A server that answers everything with 200 fails.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from proxy.simulator.answers import NotCekError, read_answer
from proxy.simulator.keys import DevKey
from proxy.simulator.request_builder import Speaker, UserTurn, build_request
from proxy.simulator.session import Session
from proxy.simulator.transport import Reply, Transport, TransportError, ssl_context

OVERSIZED_BYTES = 1024 * 1024  # far above the proxy's 64 KiB and the gateway's cap
WRONG_EXTENSION_ID = "com.example.cek-selftest.not-this-extension"
REDIRECTS = frozenset({301, 302, 307, 308})
TLS_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool | None  # None: does not apply (the HTTPS checks of an http:// URL)
    detail: str


@dataclass(frozen=True)
class Battery:
    transport: Transport
    url: str
    key: DevKey
    speaker: Speaker
    budget: float  # seconds
    http_port: int = 80
    ca_file: Path | None = None

    def launch_body(self, speaker: Speaker | None = None) -> bytes:
        return build_request(UserTurn.launch(), speaker or self.speaker, Session())

    async def refused(self, name: str, body: bytes, signature: str | None) -> Check:
        try:
            reply = await self.transport.post_cek(self.url, body, signature)
        except TransportError as exc:
            return Check(name, False, f"no HTTP answer: {exc}")
        return Check(name, 400 <= reply.status < 500, f"HTTP {reply.status} (a 4xx is required)")

    async def no_signature(self) -> Check:
        return await self.refused("no signature", self.launch_body(), None)

    async def bad_signature(self) -> Check:
        junk = base64.b64encode(os.urandom(256)).decode()
        return await self.refused("bad signature", self.launch_body(), junk)

    async def tampered_body(self) -> Check:
        body = self.launch_body()
        tampered = body.replace(self.speaker.user_id.encode(), b"cek-selftest-intruder")
        return await self.refused("tampered body", tampered, self.key.sign(body))

    async def wrong_extension(self) -> Check:
        other = Speaker(extension_id=WRONG_EXTENSION_ID, locale=self.speaker.locale)
        body = self.launch_body(other)
        return await self.refused("wrong extension id", body, self.key.sign(body))

    async def oversized(self) -> Check:
        body = self.launch_body()
        padded = body[:-1] + b', "padding": "' + b"x" * OVERSIZED_BYTES + b'"}'
        return await self.refused("oversized body (1 MiB)", padded, self.key.sign(padded))

    async def malformed(self) -> Check:
        body = b'{"version": "1.0", "request": {"type": "LaunchRequest"'
        return await self.refused("malformed JSON", body, self.key.sign(body))

    async def launch(self) -> Check:
        name = "signed LaunchRequest answered"
        body = self.launch_body()
        try:
            reply = await self.transport.post_cek(self.url, body, self.key.sign(body))
        except TransportError as exc:
            return Check(name, False, f"no HTTP answer: {exc}")
        return Check(name, *_launch_verdict(reply, self.budget))

    async def certificate(self) -> Check:
        name = "TLS certificate"
        parts = urlsplit(self.url)
        if parts.scheme != "https":
            return Check(name, None, "not HTTPS")
        host, port = parts.hostname or "", parts.port or 443
        try:
            async with asyncio.timeout(TLS_TIMEOUT_SECONDS):
                _, writer = await asyncio.open_connection(host, port, ssl=ssl_context(self.ca_file))
        except (OSError, TimeoutError) as exc:
            return Check(name, False, f"{host}:{port}: {exc}")
        peer = writer.get_extra_info("peercert") or {}
        writer.close()
        left = ssl.cert_time_to_seconds(peer["notAfter"]) - time.time()
        return Check(name, left > 0, f"verified for {host}, expires in {_duration(left)}")

    async def redirect(self) -> Check:
        name = "HTTP redirects to HTTPS"
        parts = urlsplit(self.url)
        if parts.scheme != "https":
            return Check(name, None, "not HTTPS")
        plain = parts._replace(scheme="http", netloc=f"{parts.hostname}:{self.http_port}").geturl()
        try:
            reply = await self.transport.request("POST", plain)
        except TransportError as exc:
            return Check(name, False, f"no HTTP answer: {exc}")
        location = reply.headers.get("Location", "")
        passed = reply.status in REDIRECTS and location.startswith(f"https://{parts.hostname}")
        return Check(name, passed, f"{plain}: HTTP {reply.status} to {location or '(no Location)'}")

    def checks(self) -> list[Callable[[], Awaitable[Check]]]:
        return [
            self.no_signature,
            self.bad_signature,
            self.tampered_body,
            self.wrong_extension,
            self.oversized,
            self.malformed,
            self.launch,
            self.certificate,
            self.redirect,
        ]

    async def run(self) -> list[Check]:
        return [await check() for check in self.checks()]


def _duration(seconds: float) -> str:
    """Hours under two days (Caddy's internal certificates last 12 hours), days above."""
    hours = seconds / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"


def _launch_verdict(reply: Reply, budget: float) -> tuple[bool, str]:
    timing = f"{reply.elapsed * 1000:.0f} ms (budget {budget * 1000:.0f} ms)"
    if reply.status != 200:
        return False, f"HTTP {reply.status} in {timing}"
    try:
        answer = read_answer(reply.json())
    except NotCekError:
        return False, f"HTTP 200 but not a valid CEK response, in {timing}"
    said = f'"{answer.text[:60]}"' if answer.speech else "silence"
    return reply.elapsed <= budget, f"valid CEK answer ({said}) in {timing}"
