"""Passthrough mode: the verified request reaches the backend byte for byte, signature included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.proxy.conftest import ProxyFactory, cek_turn
from tests.proxy.test_upstream_failures import APOLOGY_KO
from tests.support.cek import CekSigner, intent, speech_texts
from tests.support.stubs import StubCekBackend, StubChatbot


async def test_the_backend_gets_the_exact_bytes_and_signature_and_its_answer_is_relayed(
    start_proxy: ProxyFactory,
    signer: CekSigner,
    backend: tuple[StubCekBackend, str],
    chatbot: tuple[StubChatbot, str],
) -> None:
    body = intent("AskOrderStatus", {"product": "무선 이어폰"})
    headers = signer.headers(body)
    client = await start_proxy(CEK_PROXY_MODE="passthrough", CEK_PROXY_PASSTHROUGH_URL=backend[1])
    resp = await client.post("/cek", data=body, headers=headers)
    assert resp.status == 200
    assert await resp.read() == backend[0].answer
    received = backend[0].received[0]
    assert received.body == body
    assert received.headers["SignatureCEK"] == headers["SignatureCEK"]
    assert chatbot[0].received == []


async def test_unverified_requests_never_reach_the_backend(
    start_proxy: ProxyFactory, backend: tuple[StubCekBackend, str]
) -> None:
    client = await start_proxy(CEK_PROXY_MODE="passthrough", CEK_PROXY_PASSTHROUGH_URL=backend[1])
    resp = await client.post("/cek", data=intent("X"), headers={"SignatureCEK": "AAAA"})
    assert resp.status == 401
    assert backend[0].received == []


def _directive(namespace: str, name: str, payload: dict[str, Any], message_id: bool = True) -> dict[str, Any]:
    header = {"namespace": namespace, "name": name}
    if message_id:
        header["messageId"] = "ad13f0d6-bb11-ca23-99aa-312a0b213805"
    return {"header": header, "payload": payload}


def _answer(directives: list[Any], speech: Any, end: bool = True) -> dict[str, Any]:
    response = {"card": {}, "directives": directives, "outputSpeech": speech, "shouldEndSession": end}
    return {"version": "0.1.0", "sessionAttributes": {}, "response": response}


# The references' own shapes (KCE21 Custom_Extension_Message.md, examples 3, 7 and 8; the CIC API pages).
PLAY = _directive(
    "AudioPlayer",
    "Play",
    {
        "audioItem": {
            "audioItemId": "9CPWU-c82302b2-ea29-4f6c-ba6e-20fd268d8c3b-c1570067",
            "title": "Symphony No.4 In A Op.90 'Italian' - III. Con Moto Moderato",
            "artist": "Unknown",
            "stream": {
                "beginAtInMilliseconds": 0,
                "progressReport": {
                    "progressReportDelayInMilliseconds": None,
                    "progressReportIntervalInMilliseconds": None,
                    "progressReportPositionInMilliseconds": 60000,
                },
                "token": "TR-NM-17413540",
                "url": "clova:TR-NM-17413540",
                "urlPlayable": False,
            },
        },
        "playBehavior": "REPLACE_ALL",
    },
    message_id=False,  # example 7 has none
)
STREAM_DELIVER = _directive(
    "AudioPlayer",
    "StreamDeliver",
    {
        "audioItemId": "9CPWU-c82302b2-ea29-4f6c-ba6e-20fd268d8c3b-c1570067",
        "audioStream": {
            "token": "TR-NM-17413540",
            "url": "https://streaming.example.com/a.mp3",
            "urlPlayable": True,
        },
    },
)
PAUSE = _directive("PlaybackController", "Pause", {})
RENDER_PLAYER_INFO = _directive(
    "TemplateRuntime",
    "RenderPlayerInfo",
    {"displayType": "list", "playableItems": [{"token": "TR-NM-17413540", "titleText": "Italian"}]},
)
HLS_AND_TOKEN: dict[str, Any] = {
    "type": "SpeechList",
    "values": [
        {
            "type": "PlainText",
            "lang": "ko",
            "token": "19d33bae-6cd5-4534-b0a3-e0036b4742bd",
            "value": "노래를 불러볼게요.",
        },
        {
            "contentType": "application/vnd.apple.mpegurl",
            "type": "URL",
            "lang": "",
            "value": "https://tts.example.com/song.m3u8",
        },
    ],
}


@pytest.mark.parametrize(
    "answer",
    [
        _answer([PLAY], {}),
        _answer([STREAM_DELIVER], {}),
        _answer([PAUSE], {}, end=False),
        _answer([PLAY, RENDER_PLAYER_INFO], {}),
        _answer([], HLS_AND_TOKEN),
    ],
    ids=["play", "stream-deliver", "pause", "render-player-info", "hls-content-type-and-token"],
)
async def test_answers_the_references_allow_are_relayed_unchanged(
    answer: dict[str, Any], start_proxy: ProxyFactory, signer: CekSigner, backend: tuple[StubCekBackend, str]
) -> None:
    backend[0].answer = json.dumps(answer, ensure_ascii=False, indent=1).encode()
    client = await start_proxy(CEK_PROXY_MODE="passthrough", CEK_PROXY_PASSTHROUGH_URL=backend[1])
    body = intent("Clova.ResumeIntent")
    resp = await client.post("/cek", data=body, headers=signer.headers(body))
    assert resp.status == 200
    assert await resp.read() == backend[0].answer


SPEECH = {"type": "SimpleSpeech", "values": {"type": "PlainText", "lang": "ko", "value": "재생할게요."}}
VALID = json.dumps({**_answer([PAUSE], SPEECH), "sessionAttributes": {"offset": 0}}).encode()


def _with(directives: list[Any] | None = None, speech: Any = SPEECH) -> bytes:
    return json.dumps(_answer([PAUSE] if directives is None else directives, speech)).encode()


def _hls(**changes: Any) -> dict[str, Any]:
    return {"type": "SimpleSpeech", "values": {**HLS_AND_TOKEN["values"][1], **changes}}


@pytest.mark.parametrize(
    "raw",
    [
        VALID.replace(b'"offset": 0', b'"offset": NaN'),
        VALID.replace(b'"offset": 0', b'"offset": -Infinity'),
        VALID.decode().encode("utf-16"),
        VALID.decode().encode("utf-16-le"),
        b"\xef\xbb\xbf" + VALID,  # a UTF-8 byte order mark
        VALID.replace(b'"offset": 0', b'"offset": "\xff\xfe"'),  # not UTF-8
        VALID.replace(b'"shouldEndSession": true', b'"shouldEndSession": false, "shouldEndSession": true'),
        VALID.replace(b'"offset": 0', b'"offset": "\\ud800"'),  # a lone surrogate CEK cannot decode
        _with([{"header": {"namespace": "AudioPlayer"}, "payload": {}}]),
        _with([{"header": {"namespace": "AudioPlayer", "name": "Play"}, "payload": []}]),
        _with([{"payload": {}}]),
        _with(["AudioPlayer.Play"]),
        _with(speech={"type": "SimpleSpeech"}),
        _with(speech={"values": SPEECH["values"]}),
        _with(speech=_hls(contentType=3)),
        _with(speech=_hls(token=None)),
        json.dumps(
            {**_answer([], SPEECH), "response": {**_answer([], SPEECH)["response"], "directives": {}}}
        ).encode(),
    ],
    ids=[
        "nan",
        "infinity",
        "utf-16-with-bom",
        "utf-16-le",
        "utf-8-bom",
        "invalid-utf-8",
        "duplicate-key",
        "lone-surrogate",
        "directive-without-name",
        "directive-payload-not-an-object",
        "directive-without-header",
        "directive-not-an-object",
        "speech-type-without-values",
        "speech-values-without-type",
        "content-type-not-a-string",
        "token-not-a-string",
        "directives-not-a-list",
    ],
)
async def test_answers_that_are_not_strict_utf8_cek_json_become_the_apology(
    raw: bytes, start_proxy: ProxyFactory, signer: CekSigner, backend: tuple[StubCekBackend, str]
) -> None:
    backend[0].answer = raw
    client = await start_proxy(CEK_PROXY_MODE="passthrough", CEK_PROXY_PASSTHROUGH_URL=backend[1])
    document = await cek_turn(client, signer, intent("Clova.ResumeIntent"))
    assert speech_texts(document) == [APOLOGY_KO]
    assert document["response"]["shouldEndSession"] is True
