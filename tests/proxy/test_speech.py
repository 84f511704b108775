"""Chatbot bubbles to speech, and CEK requests read leniently (unit level)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.cek.request import CekFormatError, parse_cek_request
from proxy.cek.response import cek_response, is_valid_cek_response
from proxy.chatbot.protocol import ChatbotReplyError, decode_reply
from proxy.chatbot.speech import Button, speakable, spoken_reply
from tests.support.cek import PEER_REQUESTS
from tests.support.stubs import template_bubble, text_bubble


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        ("주문하신 상품은\n내일 도착 예정입니다.", "주문하신 상품은 내일 도착 예정입니다."),
        ("<b>굵게</b> 말하기", "굵게 말하기"),
        ("자세히: https://help.example.com/a?b=c 참고", "자세히: 참고"),
        ("좋아요 👍🏻 😀", "좋아요"),
        ("   ", ""),
        ("a^b`c", "abc"),  # modifier symbols, even in ASCII
        ("배송\u00ad조회\u200b 안내", "배송조회 안내"),  # format characters
        ("\U00020000 글자 \U0001f600", "\U00020000 글자"),  # beyond the BMP: letters stay, emoji go
    ],
)
def test_text_is_cleaned_for_text_to_speech(raw: str, spoken: str) -> None:
    assert speakable(raw) == spoken


def test_template_buttons_with_postbacks_become_choices_and_links_are_left_out() -> None:
    reply = spoken_reply([template_bubble("무엇을 도와드릴까요?", (("배송 조회", "배송 조회 시작"),))])
    assert reply.texts == ("무엇을 도와드릴까요?",)
    assert reply.buttons == (Button("배송 조회", "배송 조회 시작"),)


def test_more_than_ten_bubbles_are_cut_to_ten_speech_items() -> None:
    reply = spoken_reply([text_bubble(f"문장 {i}") for i in range(15)])
    assert len(reply.texts) == 10


def test_unknown_and_malformed_bubbles_are_skipped() -> None:
    bubbles: list[Any] = [
        {"type": "flex", "data": {}},
        {"type": "text"},
        {"type": "template", "data": "x"},
        text_bubble("남은 말"),
    ]
    assert spoken_reply(bubbles).texts == ("남은 말",)


@pytest.mark.parametrize("raw", [b"", b"null", b"[]", b'{"bubbles": "no"}', b"\xff\xfe"])
def test_junk_chatbot_replies_are_errors(raw: bytes) -> None:
    with pytest.raises(ChatbotReplyError):
        decode_reply(raw)


def test_lenient_parsing_of_the_variations_real_traffic_has() -> None:
    document = {
        "session": None,
        "context": {"System": {"user": {"userId": "U1", "accessToken": "t"}}},
        "request": {
            "type": "IntentRequest",
            "extensionId": "com.example.x",
            "intent": {"intent": "Legacy", "name": "", "slots": None},
            "event": {"namespace": "", "name": "", "payload": "null"},
        },
    }
    cek = parse_cek_request(document)
    assert cek.intent_name == "Legacy"
    assert cek.slots == {}
    assert cek.application_id == "com.example.x"
    assert cek.user_id == "U1"
    assert cek.access_token == "t"
    assert cek.request_id is None
    assert cek.language("ko") == "ko"
    assert cek.version == "1.0"


def test_a_guest_speaker_does_not_get_the_device_owners_token() -> None:
    document = {
        "session": {"user": {"userId": "Guest"}},
        "context": {"System": {"user": {"userId": "Owner", "accessToken": "owner-token"}}},
        "request": {"type": "LaunchRequest"},
    }
    assert parse_cek_request(document).access_token is None


@pytest.mark.parametrize(
    "document", [None, [], {"request": None}, {"request": {"type": 3}}, {"request": {"type": ""}}]
)
def test_documents_that_are_not_cek_requests_are_refused(document: Any) -> None:
    with pytest.raises(CekFormatError):
        parse_cek_request(document)


@pytest.mark.parametrize("sample", PEER_REQUESTS, ids=lambda p: p.stem)
def test_every_sample_parses(sample: Any) -> None:
    cek = parse_cek_request(json.loads(sample.read_bytes()))
    assert cek.application_id == "com.line.myApplication"


def test_built_responses_are_valid_cek() -> None:
    assert is_valid_cek_response(cek_response(["하나"], "ko", end_session=False, reprompt="둘"))
    assert is_valid_cek_response(cek_response(["하나", "둘"], "ja", end_session=True))
    assert is_valid_cek_response(cek_response([], "en", end_session=True))
    assert not is_valid_cek_response({"response": {"shouldEndSession": "yes"}})
    assert not is_valid_cek_response(
        {"response": {"shouldEndSession": True, "outputSpeech": {"type": "Loud"}}}
    )
