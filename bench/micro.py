"""Micro-costs of one request's own work, in microseconds, timed in this process (no I/O).

- CEK signature verification: `CekVerifier.verify` (base64 decode, RSA-2048 PKCS#1 v1.5 SHA-256).
- HMAC signing: `proxy.chatbot.protocol.sign` of the chatbot request.
- JSON translation: parsing the CEK body, and the bridge's whole turn with a chatbot that answers at
  once (utterance, chatbot request, reply decoding, speech, the CEK response's bytes).
- Access log line: the middleware's JSON line through the production handler, to /dev/null (its
  writer thread formats and writes while the loop goes on; the time includes the thread's share).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from bench import traffic
from proxy.accounts.linking import Account
from proxy.cek.keys import parse_public_key
from proxy.cek.request import parse_cek_request
from proxy.cek.signature import CekVerifier
from proxy.chatbot.client import ChatbotClient
from proxy.chatbot.protocol import ChatbotReply, decode_reply, encode_request, sign
from proxy.config_file import load_file_config
from proxy.identity import UserIds
from proxy.logs import configure_logging, log_fields, request_id
from proxy.middlewares import access_log
from proxy.modes.bridge import Bridge
from proxy.modes.turn import Voice
from tests.support.cek import ACCESS_TOKEN, USER_ID, CekSigner
from tests.support.stubs import text_bubble

T = TypeVar("T")
REPEATS = 5


def run_now(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never suspends (nothing in it waits for I/O), without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("the coroutine suspended")


def per_call_us(call: Callable[[], object], iterations: int) -> float:
    """The median over a few repeats of the mean time of one call."""
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(iterations):
            call()
        timings.append((time.perf_counter() - started) / iterations * 1e6)
    return statistics.median(timings)


class CannedChatbot(ChatbotClient):
    """A chatbot client that answers at once with a fixed reply: no signing, no network."""

    def __init__(self, reply: bytes) -> None:
        self._reply = reply

    async def ask(self, body: bytes) -> ChatbotReply:
        return decode_reply(self._reply)


def _chatbot_reply() -> bytes:
    reply = {"version": "v2", "userId": "u", "timestamp": 0, "event": "send"}
    return json.dumps({**reply, "bubbles": [text_bubble("답변: 무선 이어폰 배송 언제 와요?")]}).encode()


@contextmanager
def _logging_to_devnull() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with Path(os.devnull).open("w") as sink:
        configure_logging("INFO", sink)
        try:
            yield
        finally:
            for handler in root.handlers:
                handler.close()
            root.handlers[:] = handlers
            root.setLevel(level)


def _log_access_line() -> None:
    fields = {"method": "POST", "path": "/cek", "status": 200, "duration_ms": 1.23}
    log_fields(access_log, "request", {**fields, "cek_type": "IntentRequest", "outcome": "answered"})


def micro_costs(config: Path, iterations: int) -> dict[str, float]:
    signer = CekSigner()
    body = traffic.cek_turn()
    verifier = CekVerifier([parse_public_key(signer.public_pem, "bench")])
    signature = signer.sign(body)
    chatbot_body = encode_request(UserIds(None).chatbot_user_id(USER_ID), "send", "무선 이어폰 배송", 0)
    bridge = Bridge(CannedChatbot(_chatbot_reply()), Voice(load_file_config(config)))
    account = Account(UserIds(None).chatbot_user_id(USER_ID), ACCESS_TOKEN)

    def translate() -> None:
        cek = parse_cek_request(json.loads(body))
        run_now(bridge.respond(cek, body, {}, account))

    costs = {
        "cek_signature_verification": per_call_us(
            lambda: run_now(verifier.verify(body, signature)), iterations
        ),
        "hmac_signing": per_call_us(lambda: sign(chatbot_body, traffic.CHATBOT_SECRET), iterations),
        "json_translation": per_call_us(translate, iterations),
    }
    token = request_id.set("0123456789abcdef0123456789abcdef")
    try:
        with _logging_to_devnull():
            costs["access_log_line"] = per_call_us(_log_access_line, iterations)
    finally:
        request_id.reset(token)
    return costs
