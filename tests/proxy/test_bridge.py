"""Bridge mode: CEK turns become chatbot calls, bubbles become speech, buttons become a spoken menu."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from aiohttp import web

from proxy.cek.response import is_valid_cek_response
from proxy.strict_json import parse_json
from tests.proxy.conftest import CHATBOT_SECRET, ProxyFactory, cek_turn
from tests.support.cek import USER_ID, CekSigner, event, intent, launch, session_ended, speech_texts
from tests.support.stubs import (
    StubChatbot,
    button_component,
    postback_action,
    template_bubble,
    text_bubble,
)

Chatbot = tuple[StubChatbot, str]


async def test_the_chatbot_request_is_signed_over_the_exact_bytes_sent(
    start_proxy: ProxyFactory, signer: CekSigner, aiohttp_server: Any
) -> None:
    seen: list[tuple[bytes, str]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append((await request.read(), request.headers["X-NCP-CHATBOT_SIGNATURE"]))
        return web.json_response({"version": "v2", "bubbles": [text_bubble("네")]})

    app = web.Application()
    app.router.add_post("/chatbot", record)
    server = await aiohttp_server(app)
    client = await start_proxy(CEK_PROXY_CHATBOT_URL=str(server.make_url("/chatbot")))
    await cek_turn(client, signer, intent("AskOrderStatus", {"product": "무선 이어폰"}))
    body, signature = seen[0]
    expected = base64.b64encode(hmac.new(CHATBOT_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert signature == expected
    message = json.loads(body)
    assert message["version"] == "v2"
    assert message["event"] == "send"
    assert message["bubbles"] == [{"type": "text", "data": {"description": "무선 이어폰"}}]
    assert "무선 이어폰".encode() in body  # UTF-8 as is, not \\u-escaped


async def test_chatbot_user_id_is_stable_and_does_not_reveal_the_cek_user(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    client = await start_proxy()
    await cek_turn(client, signer, intent("A"))
    await cek_turn(client, signer, intent("B"))
    await cek_turn(client, signer, intent("A", user_id="SomeoneElse0000000000"))
    ids = [message["userId"] for message in chatbot[0].received]
    assert ids[0] == ids[1] != ids[2]
    assert all(USER_ID not in user_id and len(user_id) <= 256 for user_id in ids)


async def test_a_template_becomes_a_spoken_menu_and_a_button_title_sends_its_postback(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    client = await start_proxy(config='[utterances]\nfree_text_slot = "query"\n')
    welcome = await cek_turn(client, signer, launch())
    texts = speech_texts(welcome)
    assert texts == ["안녕하세요. 고객센터 도우미입니다.", "배송 조회, 반품 신청 중에서 말씀해 주세요."]
    assert welcome["response"]["shouldEndSession"] is False
    assert speech_texts({"response": welcome["response"]["reprompt"]}) == [texts[-1]]
    attributes = welcome["sessionAttributes"]

    await cek_turn(client, signer, intent("Free", {"query": "배송조회"}, attributes=attributes))
    assert chatbot[0].received[-1]["bubbles"][0]["data"]["description"] == "배송 조회 시작"

    await cek_turn(client, signer, intent("Free", {"query": "다른 질문"}, attributes=attributes))
    assert chatbot[0].received[-1]["bubbles"][0]["data"]["description"] == "다른 질문"


async def test_several_bubbles_become_a_speech_list_in_the_request_language(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    chatbot[0].reply_next(
        [text_bubble("첫째"), {"type": "image", "data": {"imageUrl": "https://x/y.png"}}, text_bubble("둘째")]
    )
    client = await start_proxy()
    document = await cek_turn(client, signer, intent("Any", locale="ja-JP"))
    speech = document["response"]["outputSpeech"]
    assert speech["type"] == "SpeechList"
    assert [v["value"] for v in speech["values"]] == ["첫째", "둘째"]
    assert {v["lang"] for v in speech["values"]} == {"ja"}


async def test_an_answer_with_nothing_to_say_points_to_the_app(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    chatbot[0].reply_next([{"type": "image", "data": {"imageUrl": "https://x/y.png"}}])
    client = await start_proxy()
    document = await cek_turn(client, signer, intent("Any", locale="en-US"))
    assert speech_texts(document) == ["Please check the app for details."]


async def test_cancel_says_goodbye_and_ends_without_calling_the_chatbot(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    client = await start_proxy()
    document = await cek_turn(client, signer, intent("Clova.CancelIntent"))
    assert document["response"]["shouldEndSession"] is True
    assert speech_texts(document) == ["이용해 주셔서 감사합니다."]
    assert chatbot[0].received == []


async def test_built_in_intents_and_templates_become_text(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    config = """
[utterances.intents.AskOrderStatus]
templates = ["{product} 배송 언제 와요?", "배송 언제 와요?"]
[utterances.builtin."Clova.YesIntent"]
ko = "좋아요"
"""
    client = await start_proxy(config=config)
    await cek_turn(client, signer, intent("AskOrderStatus", {"product": "무선 이어폰"}))
    await cek_turn(client, signer, intent("AskOrderStatus", {}))
    await cek_turn(client, signer, intent("Clova.GuideIntent", None))
    await cek_turn(client, signer, intent("Clova.YesIntent", None))
    await cek_turn(client, signer, intent("Clova.NoIntent", None, locale="ja-JP"))
    sent = [m["bubbles"][0]["data"]["description"] for m in chatbot[0].received]
    assert sent == ["무선 이어폰 배송 언제 와요?", "배송 언제 와요?", "도움말", "좋아요", "いいえ"]


async def test_an_end_scenario_closes_the_session(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    chatbot[0].reply_next([text_bubble("안녕히 가세요.")], scenario="작별 인사")
    chatbot[0].reply_next([text_bubble("또 물어보세요.")], scenario="배송 조회")
    client = await start_proxy(config='[conversation]\nend_scenarios = ["작별 인사"]\n')
    first = await cek_turn(client, signer, intent("Bye"))
    second = await cek_turn(client, signer, intent("Ask"))
    assert first["response"]["shouldEndSession"] is True
    assert second["response"]["shouldEndSession"] is False


async def test_session_ended_and_events_answer_without_a_chatbot_call(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    client = await start_proxy()
    for body in (
        session_ended(),
        event("ClovaSkill", "SkillEnabled", session=False),
        event("AudioPlayer", "PlayStopped"),
    ):
        document = await cek_turn(client, signer, body)
        assert document["response"]["shouldEndSession"] is True
        assert document["response"]["outputSpeech"] == {}  # required, empty when nothing is said
    assert chatbot[0].received == []


async def test_the_response_echoes_the_request_version(start_proxy: ProxyFactory, signer: CekSigner) -> None:
    body = json.loads(launch())
    body["version"] = "0.1.0"
    raw = json.dumps(body).encode()
    client = await start_proxy()
    assert (await cek_turn(client, signer, raw))["version"] == "0.1.0"


async def test_a_carousel_speaks_each_card(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    cards = [
        {
            "type": "template",
            "title": "무선 이어폰 A",
            "data": {
                "cover": {
                    "type": "image",
                    "data": {"imageUrl": "https://i/a.png", "description": "노이즈 캔슬링 지원"},
                }
            },
        },
        {
            "type": "template",
            "title": "무선 이어폰 B",
            "data": {
                "cover": {
                    "type": "image",
                    "data": {"imageUrl": "https://i/b.png", "description": "배터리 30시간"},
                }
            },
        },
    ]
    chatbot[0].reply_next(
        [{"type": "carousel", "data": {"cards": cards}}, template_bubble("더 도와드릴까요?", (("네", "네"),))]
    )
    client = await start_proxy()
    document = await cek_turn(client, signer, intent("Recommend"))
    assert speech_texts(document) == [
        "무선 이어폰 A 노이즈 캔슬링 지원",
        "무선 이어폰 B 배터리 30시간",
        "더 도와드릴까요?",
        "네 중에서 말씀해 주세요.",
    ]


async def test_a_reply_without_bubbles_is_a_reply_with_nothing_to_say(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    chatbot[0].reply_next(None)
    chatbot[0].reply_next(None)
    client = await start_proxy()
    opened = await cek_turn(client, signer, launch())
    answered = await cek_turn(client, signer, intent("Any"))
    assert speech_texts(opened) == ["무엇을 도와드릴까요?"]
    assert speech_texts(answered) == ["자세한 내용은 앱에서 확인해 주세요."]
    assert opened["response"]["shouldEndSession"] is answered["response"]["shouldEndSession"] is False


def _cell(component: dict[str, Any]) -> dict[str, Any]:
    return {"rowSpan": 1, "colSpan": 1, "data": component}


async def test_a_button_chosen_by_voice_sends_its_full_postback(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    """NCP: `postbackFull` is what the chatbot should get; `postback` is only the text shown in the chat."""
    rows = [
        [_cell(button_component("배송 조회", postback_action("배송 조회", "_T_배송 조회")))],
        [
            _cell(button_component("반품 신청", postback_action("반품 신청")))
        ],  # an older answer: no postbackFull
    ]
    chatbot[0].reply_next(
        [{"type": "template", "data": {"cover": text_bubble("고르세요."), "contentTable": rows}}]
    )
    client = await start_proxy(config='[utterances]\nfree_text_slot = "query"\n')
    attributes = (await cek_turn(client, signer, launch()))["sessionAttributes"]
    await cek_turn(client, signer, intent("Free", {"query": "배송 조회"}, attributes=attributes))
    await cek_turn(client, signer, intent("Free", {"query": "반품 신청"}, attributes=attributes))
    sent = [m["bubbles"][0]["data"]["description"] for m in chatbot[0].received[1:]]
    assert sent == ["_T_배송 조회", "반품 신청"]


async def test_button_bubbles_and_quick_buttons_are_offered_as_a_menu(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    phone = {"type": "phone", "data": {"number": "1588-0000"}}
    link = {"type": "link", "data": {"url": "https://help.example.com/"}}
    utterance = {"type": "utterance", "data": {"utteranceId": 1, "text": "상담원", "postback": "상담원 연결"}}
    chatbot[0].reply_next(
        [
            text_bubble("무엇을 도와드릴까요?"),
            button_component("배송 조회", postback_action("배송 조회", "_T_배송 조회")),
            button_component("전화 상담", phone),
        ],
        quickButtons=[
            button_component("상담원", utterance),
            button_component("웹에서 보기", link),
            button_component("처음으로", postback_action("처음으로", "_T_처음으로")),
        ],
    )
    client = await start_proxy(config='[utterances]\nfree_text_slot = "query"\n')
    document = await cek_turn(client, signer, intent("Any"))
    assert speech_texts(document) == [
        "무엇을 도와드릴까요?",
        "배송 조회, 상담원, 처음으로 중에서 말씀해 주세요.",
    ]
    assert document["response"]["shouldEndSession"] is False
    for choice in ("처음으로", "상담원"):
        await cek_turn(
            client, signer, intent("Free", {"query": choice}, attributes=document["sessionAttributes"])
        )
    assert [m["bubbles"][0]["data"]["description"] for m in chatbot[0].received[1:]] == [
        "_T_처음으로",
        "상담원 연결",
    ]


SEE_THE_APP = "자세한 내용은 앱에서 확인해 주세요."


def _sentences(count: int, length: int) -> str:
    """`count` sentences of exactly `length` characters each, spaced."""
    return " ".join(f"{i:02d}" + "가" * (length - 3) + "." for i in range(count))


async def test_a_long_chatbot_text_is_split_at_sentences_and_shortened_to_kr_limits(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    text = _sentences(11, 93)[:1023]  # 1,023 characters: more than one PlainText value may hold
    assert len(text) == 1023
    chatbot[0].reply_next([text_bubble(text)])
    client = await start_proxy()
    document = await cek_turn(client, signer, intent("Any"))
    speech = document["response"]["outputSpeech"]
    texts = speech_texts(document)
    assert speech["type"] == "SpeechList"
    assert texts[-1] == SEE_THE_APP
    assert sum(map(len, texts)) <= 1000
    assert len(texts) <= 10
    assert all(len(item) <= 200 for item in texts)
    assert all(item.endswith(".") for item in texts)  # cut between sentences, never inside one
    assert " ".join(texts[:-1]) == text[: len(" ".join(texts[:-1]))]  # the beginning, in order


async def test_a_long_answer_with_a_menu_keeps_the_menu_last(
    start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    chatbot[0].reply_next(
        [text_bubble(f"안내 {i}번입니다.") for i in range(12)]
        + [template_bubble("고르세요.", (("네", "네"),))]
    )
    client = await start_proxy()
    texts = speech_texts(await cek_turn(client, signer, intent("Any")))
    assert len(texts) == 10
    assert texts[-2:] == [SEE_THE_APP, "네 중에서 말씀해 주세요."]
    assert texts[:8] == [f"안내 {i}번입니다." for i in range(8)]


ODD_REPLIES: list[dict[str, Any]] = [
    {"bubbles": [{"type": "text", "data": {"description": "가" * 5000}}]},  # one sentence, far too long
    {"bubbles": [text_bubble("。" * 3000)]},  # punctuation only
    {"bubbles": [text_bubble(". " * 1500)]},
    {"bubbles": [button_component(str(i), postback_action(str(i) * 300)) for i in range(50)]},
    {"bubbles": [], "quickButtons": [None, 3, "x", {"type": "button"}, {"type": "button", "data": []}]},
    {
        "bubbles": [
            {"type": "carousel", "data": {"cards": "none"}},
            {"type": "template", "data": {"contentTable": 1}},
        ]
    },
    {"bubbles": [{"type": "text", "title": 1, "data": {"description": None}}], "scenario": "끝"},
]


@pytest.mark.parametrize("reply", ODD_REPLIES, ids=range(len(ODD_REPLIES)))
async def test_odd_chatbot_replies_still_get_a_valid_spoken_answer(
    reply: dict[str, Any], start_proxy: ProxyFactory, signer: CekSigner, chatbot: Chatbot
) -> None:
    chatbot[0].scripted.append(reply)
    client = await start_proxy()
    resp = await client.post("/cek", data=(body := intent("Any")), headers=signer.headers(body))
    assert resp.status == 200
    document = parse_json(await resp.read())
    assert is_valid_cek_response(document)
    texts = speech_texts(document)
    assert texts
    assert sum(map(len, texts)) <= 1000
    assert len(texts) <= 10
    metrics = await (await client.get("/metrics")).text()
    assert 'outcome="answered"' in metrics  # handled, not caught as an internal error
