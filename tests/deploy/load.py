"""A bounded, steady load of signed CEK requests through the gateway, and what came of it."""

from __future__ import annotations

import asyncio
import secrets
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from tests.support.cek import CekSigner, intent


@dataclass
class LoadReport:
    sent: int = 0
    answered: int = 0  # 200 with the stub chatbot's answer spoken
    failures: Counter[str] = field(default_factory=Counter)
    failed_at: list[float] = field(default_factory=list)  # monotonic send times of the failed requests

    def __str__(self) -> str:
        failures = dict(self.failures) or "none"
        return f"{self.sent} sent, {self.answered} answered by the chatbot, failures: {failures}"

    def fail(self, reason: str, sent_at: float) -> None:
        self.failures[reason] += 1
        self.failed_at.append(sent_at)


async def _one(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], report: LoadReport
) -> None:
    report.sent += 1
    sent_at = time.monotonic()
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            document = await resp.json(content_type=None) if resp.status == 200 else None
    except (aiohttp.ClientError, TimeoutError) as exc:
        report.fail(type(exc).__name__, sent_at)
        return
    speech = ((document or {}).get("response") or {}).get("outputSpeech") or {}
    if resp.status == 200 and str((speech.get("values") or {}).get("value", "")).startswith("답변:"):
        report.answered += 1
    else:
        report.fail(f"status {resp.status}" if resp.status != 200 else "apology", sent_at)


async def steady_load(
    base_url: str,
    context: ssl.SSLContext,
    signer: CekSigner,
    *,
    seconds: float,
    rate: float,
    stop: asyncio.Event | None = None,
) -> LoadReport:
    """`rate` requests a second for `seconds` (at most rate x seconds requests), or until `stop` is set."""
    report = LoadReport()
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context), timeout=timeout) as session:
        pending: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        for n in range(int(seconds * rate)):
            if stop is not None and stop.is_set():
                break
            # A new request each time, as CEK sends: an identical body would be a replay, answered
            # from the idempotency window without reaching the chatbot. Its own text too, so that the
            # stub chatbot can count a turn it received twice.
            body = intent("AskOrderStatus", {"product": f"무선 이어폰 {secrets.token_hex(6)}"}, token=None)
            task = _one(session, f"{base_url}/cek", body, signer.headers(body), report)
            pending.add(asyncio.create_task(task))
            await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.monotonic()))
        await asyncio.gather(*pending)
    return report
