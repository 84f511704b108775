"""Chatbot bubbles to speech, and CEK requests read leniently (unit level)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.cek.request import CekFormatError, parse_cek_request
from proxy.cek.response import cek_response, is_valid_cek_response
from proxy.cek.speech_limits import fit_speech, sentences, split_long
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


SEE_APP = "앱에서 확인해 주세요."


def test_more_than_ten_bubbles_are_shortened_to_nine_and_the_see_the_app_message() -> None:
    texts = spoken_reply([text_bubble(f"문장 {i}") for i in range(15)]).texts
    assert fit_speech(texts, shortened=SEE_APP) == [f"문장 {i}" for i in range(9)] + [SEE_APP]


def test_an_answer_within_the_limits_is_left_as_it_is() -> None:
    answer = ["가" * 200, "나" * 200, "다" * 200, "라" * 200, "마" * 200]  # exactly 1,000 characters
    assert fit_speech(answer, shortened=SEE_APP) == answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("첫 문장입니다. 둘째 문장이죠? 셋째!", ["첫 문장입니다. ", "둘째 문장이죠? ", "셋째!"]),
        ("一つ目です。二つ目です！三つ", ["一つ目です。", "二つ目です！", "三つ"]),
        ('그가 "좋아요." 라고 했어요. 끝', ['그가 "좋아요." ', "라고 했어요. ", "끝"]),
        ("가격은 3.5달러입니다. 다음", ["가격은 3.5달러입니다. ", "다음"]),
    ],
)
def test_sentences_end_at_their_punctuation(text: str, expected: list[str]) -> None:
    assert list(sentences(text)) == expected


def test_a_long_text_is_gathered_into_items_of_at_most_200_characters_by_sentence() -> None:
    sentence = "가" * 59 + "."  # 60 characters
    text = " ".join([sentence] * 7)
    items = split_long(text)
    assert items == [" ".join([sentence] * 3), " ".join([sentence] * 3), sentence]
    assert "一" * 300 + "。" in split_long(
        "一" * 300 + "。" + "二" * 10 + "。"
    )  # a long sentence stays whole


def test_one_sentence_longer_than_the_whole_budget_is_cut_at_a_word() -> None:
    word = "가나다라마바사아자"  # 9 characters, then a space
    fitted = fit_speech([" ".join([word] * 150)], shortened=SEE_APP)
    assert fitted[-1] == SEE_APP
    assert sum(map(len, fitted)) <= 1000
    assert fitted[0].endswith(word)
    assert len(fitted[0]) > 900


def test_what_comes_before_and_after_the_answer_is_kept_and_counted() -> None:
    fitted = fit_speech(["가" * 150 + "."] * 10, shortened=SEE_APP, before=["연결되었어요."], after=["메뉴"])
    assert fitted[0] == "연결되었어요."
    assert fitted[-2:] == [SEE_APP, "메뉴"]
    assert len(fitted) <= 10
    assert sum(map(len, fitted)) <= 1000


def test_unknown_and_malformed_bubbles_are_skipped() -> None:
    bubbles: list[Any] = [
        {"type": "flex", "data": {}},
        {"type": "text"},
        {"type": "template", "data": "x"},
        text_bubble("남은 말"),
    ]
    assert spoken_reply(bubbles).texts == ("남은 말",)


@pytest.mark.parametrize("raw", [b'{"version": "v2"}', b'{"version": "v2", "bubbles": null}'])
def test_a_reply_without_bubbles_has_nothing_to_say(raw: bytes) -> None:
    assert decode_reply(raw).bubbles == ()


@pytest.mark.parametrize(
    "raw", [b"", b"null", b"[]", b'{"bubbles": "no"}', b'{"bubbles": [], "quickButtons": {}}', b"\xff\xfe"]
)
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
