"""POST /cek: what gets in, what is refused and with which status, and that every real sample works."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from proxy.cek.response import is_valid_cek_response
from tests.proxy.conftest import ProxyFactory
from tests.support.cek import (
    GENUINE_BODY,
    GENUINE_LAUNCHES,
    GENUINE_SIGNATURE,
    PEER_REQUESTS,
    CekSigner,
    GenuineSample,
    intent,
    launch,
    speech_texts,
    utc_now,
)
from tests.support.stubs import StubCekBackend, StubChatbot


@pytest.mark.parametrize("sample", PEER_REQUESTS, ids=lambda p: p.stem)
async def test_every_cek_sample_gets_a_valid_response(
    sample: Path, start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    # Sent as if just now: an old EventRequest is refused as stale (tested in test_replays).
    body = re.sub(rb'"timestamp": ?"[^"]*"', f'"timestamp":"{utc_now()}"'.encode(), sample.read_bytes())  # noqa: ASYNC240
    client = await start_proxy()
    resp = await client.post("/cek", data=body, headers=signer.headers(body))
    assert resp.status == 200
    document = await resp.json()
    assert is_valid_cek_response(document), document
    assert chatbot[0].rejected == 0  # every chatbot call carried a valid X-NCP-CHATBOT_SIGNATURE
    assert "internal_error" not in json.dumps(document)


async def test_a_launch_reaches_the_chatbot_as_open_and_comes_back_as_speech(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    body = launch()
    client = await start_proxy()
    resp = await client.post("/cek", data=body, headers=signer.headers(body))
    document = await resp.json()
    assert resp.headers["Content-Type"].startswith("application/json")
    assert chatbot[0].received[-1]["event"] == "open"
    assert chatbot[0].received[-1]["version"] == "v2"
    assert speech_texts(document)[0] == "안녕하세요. 고객센터 도우미입니다."


async def test_the_header_name_is_case_insensitive(start_proxy: ProxyFactory, signer: CekSigner) -> None:
    body = launch()
    client = await start_proxy()
    resp = await client.post("/cek", data=body, headers={"signaturecek": signer.sign(body)})
    assert resp.status == 200


def _bad_inputs(signer: CekSigner) -> list[tuple[str, bytes, dict[str, str], int, str]]:
    good = intent("AskOrderStatus", {"product": "이어폰"})
    not_json = b"{not json"
    no_type = json.dumps({"version": "1.0", "request": {}}).encode()
    other_extension = intent("AskOrderStatus", extension_id="com.example.someone.else")
    array = b"[1,2,3]"
    return [
        ("no signature", good, {}, 401, "invalid_signature"),
        ("signature of other body", good, {"SignatureCEK": signer.sign(b"{}")}, 401, "invalid_signature"),
        ("garbage signature", good, {"SignatureCEK": "%%%"}, 401, "invalid_signature"),
        (
            "genuine signature, other key",
            GENUINE_BODY,
            {"SignatureCEK": GENUINE_SIGNATURE},
            401,
            "invalid_signature",
        ),
        ("malformed json", not_json, signer.headers(not_json), 400, "malformed_json"),
        ("json array", array, signer.headers(array), 400, "malformed_request"),
        ("no request type", no_type, signer.headers(no_type), 400, "malformed_request"),
        ("unknown extension", other_extension, signer.headers(other_extension), 403, "unknown_extension"),
        ("oversized", b"{" + b" " * 70_000 + b"}", {"SignatureCEK": "x"}, 413, "body_too_large"),
    ]


@pytest.mark.parametrize("case", range(9))
async def test_bad_inputs_get_a_clear_status_and_short_json_error(
    case: int, start_proxy: ProxyFactory, signer: CekSigner, chatbot: tuple[StubChatbot, str]
) -> None:
    name, body, headers, status, code = _bad_inputs(signer)[case]
    client = await start_proxy()
    resp = await client.post("/cek", data=body, headers=headers)
    assert resp.status == status, name
    document: dict[str, Any] = await resp.json()
    assert document == {"error": {"code": code, "message": document["error"]["message"]}}
    assert chatbot[0].received == []  # nothing unverified or refused reaches the chatbot


async def test_genuine_clova_request_passes_verification_then_needs_its_extension_id(
    start_proxy: ProxyFactory,
) -> None:
    """With CLOVA's real key trusted, the genuine sample verifies; it is from 2018 and names no extension."""
    client = await start_proxy(CEK_PROXY_CEK_PUBLIC_KEY_FILES="")
    resp = await client.post("/cek", data=GENUINE_BODY, headers={"SignatureCEK": GENUINE_SIGNATURE})
    assert resp.status == 403


@pytest.mark.parametrize("sample", GENUINE_LAUNCHES, ids=lambda s: s.name)
async def test_a_genuinely_signed_launch_goes_the_whole_way_to_a_spoken_answer(
    sample: GenuineSample, start_proxy: ProxyFactory, chatbot: tuple[StubChatbot, str]
) -> None:
    """CLOVA's real signature under the shipped key, then its extension id, then the chatbot's answer."""
    client = await start_proxy(CEK_PROXY_CEK_PUBLIC_KEY_FILES="", CEK_PROXY_EXTENSION_IDS=sample.extension_id)
    resp = await client.post("/cek", data=sample.body, headers={"SignatureCEK": sample.signature})
    assert resp.status == 200
    document = await resp.json()
    assert is_valid_cek_response(document)
    assert chatbot[0].received[-1]["event"] == "open"
    assert speech_texts(document)[0] == "안녕하세요. 고객센터 도우미입니다."
    assert {item["lang"] for item in document["response"]["outputSpeech"]["values"]} == {"ja"}


@pytest.mark.parametrize("sample", GENUINE_LAUNCHES, ids=lambda s: s.name)
async def test_a_genuinely_signed_launch_for_another_extension_is_refused(
    sample: GenuineSample, start_proxy: ProxyFactory, chatbot: tuple[StubChatbot, str]
) -> None:
    client = await start_proxy(CEK_PROXY_CEK_PUBLIC_KEY_FILES="")  # serves only the test extensions
    resp = await client.post("/cek", data=sample.body, headers={"SignatureCEK": sample.signature})
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "unknown_extension"
    assert chatbot[0].received == []


@pytest.mark.parametrize("sample", GENUINE_LAUNCHES, ids=lambda s: s.name)
async def test_a_genuinely_signed_launch_reaches_a_passthrough_backend_still_verifiable(
    sample: GenuineSample, start_proxy: ProxyFactory, backend: tuple[StubCekBackend, str]
) -> None:
    client = await start_proxy(
        CEK_PROXY_CEK_PUBLIC_KEY_FILES="",
        CEK_PROXY_EXTENSION_IDS=sample.extension_id,
        CEK_PROXY_MODE="passthrough",
        CEK_PROXY_PASSTHROUGH_URL=backend[1],
    )
    resp = await client.post("/cek", data=sample.body, headers={"SignatureCEK": sample.signature})
    assert await resp.read() == backend[0].answer
    received = backend[0].received[0]
    assert (received.body, received.headers["SignatureCEK"]) == (sample.body, sample.signature)


@pytest.mark.parametrize(("count", "size"), [(100, 1024), (1, 70_000)], ids=["dribbled", "in-one-piece"])
async def test_a_chunked_body_over_the_cap_is_refused(
    start_proxy: ProxyFactory, count: int, size: int
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b" " * size

    client = await start_proxy()
    resp = await client.post("/cek", data=chunks(), headers={"SignatureCEK": "x"})
    assert resp.status == 413


async def test_a_client_that_dribbles_its_body_is_cut_off(
    start_proxy: ProxyFactory, signer: CekSigner
) -> None:
    body = launch()

    async def dribble() -> AsyncIterator[bytes]:
        yield body[:10]
        await asyncio.sleep(3)
        yield body[10:]

    client = await start_proxy(CEK_PROXY_BODY_TIMEOUT="0.5")
    resp = await client.post("/cek", data=dribble(), headers=signer.headers(body))
    assert resp.status == 408
    assert (await resp.json())["error"]["code"] == "body_timeout"


async def test_other_methods_and_paths_are_not_served(start_proxy: ProxyFactory) -> None:
    client = await start_proxy()
    assert (await client.get("/cek")).status == 405
    assert (await client.post("/actions-not-here")).status == 404
