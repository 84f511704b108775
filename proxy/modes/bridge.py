"""Bridge mode: a CEK turn becomes a CLOVA Chatbot Custom API call, and its bubbles become speech.

LaunchRequest opens the conversation (`open`); IntentRequest sends one text bubble (`send`) built by
`proxy.chatbot.utterance`; the end intents say goodbye; SessionEndedRequest and EventRequest are
answered without a chatbot call. The session stays open after an answer (a chat is multi-turn)
unless the chatbot's scenario is one of `conversation.end_scenarios`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from proxy.accounts.linking import Account
from proxy.cek.request import EVENT, INTENT, LAUNCH, SESSION_ENDED, CekRequest
from proxy.cek.speech_limits import fit_speech
from proxy.chatbot.client import ChatbotClient
from proxy.chatbot.protocol import OPEN, SEND, ChatbotReply, encode_request
from proxy.chatbot.speech import Button, spoken_reply
from proxy.chatbot.utterance import chosen_postback, session_state, utterance_text
from proxy.modes.turn import TurnResult, Voice
from proxy.upstream import UpstreamError


class Bridge:
    def __init__(self, chatbot: ChatbotClient, voice: Voice) -> None:
        self._chatbot = chatbot
        self._voice = voice
        self._config = voice.config

    async def respond(
        self, cek: CekRequest, raw: bytes, headers: Mapping[str, str], account: Account
    ) -> TurnResult:
        if cek.type == LAUNCH:
            return await self._converse(cek, account, OPEN, None)
        if cek.type == INTENT:
            return await self._intent(cek, account)
        if cek.type == SESSION_ENDED:
            return self._voice.silence(cek, "session_ended")
        if cek.type == EVENT:
            return self._voice.silence(cek, "event")
        return self._voice.silence(cek, "unknown_type")

    async def _intent(self, cek: CekRequest, account: Account) -> TurnResult:
        if cek.intent_name in self._config.conversation.end_intents:
            goodbye = self._voice.text(cek, self._voice.messages.goodbye)
            return self._voice.say(cek, [goodbye], "goodbye", end_session=True)
        text = utterance_text(cek, self._config.utterances, cek.language(self._config.default_language))
        return await self._converse(cek, account, SEND, chosen_postback(text, cek) or text)

    async def _converse(self, cek: CekRequest, account: Account, event: str, text: str | None) -> TurnResult:
        body = encode_request(account.user, event, text, int(time.time() * 1000))
        try:
            reply = await self._chatbot.ask(body)
        except UpstreamError as failure:
            return self._voice.apology(cek, f"upstream_{failure.kind}")
        return self._speak(cek, account, event, reply)

    def _speak(self, cek: CekRequest, account: Account, event: str, reply: ChatbotReply) -> TurnResult:
        spoken = spoken_reply(reply.bubbles, reply.quick_buttons)
        texts = list(spoken.texts)
        if not texts:
            fallback = self._voice.messages.welcome if event == OPEN else self._voice.messages.unspeakable
            texts = [self._voice.text(cek, fallback)]
        linked = [self._voice.text(cek, self._voice.messages.login_success)] if account.just_linked else []
        end = reply.scenario is not None and reply.scenario in self._config.conversation.end_scenarios
        menu = None if end else self._menu(cek, spoken.buttons)
        fitted = fit_speech(
            texts,
            shortened=self._voice.text(cek, self._voice.messages.unspeakable),
            before=linked,
            after=[menu] if menu else [],
        )
        return self._voice.say(
            cek,
            fitted,
            "answered",
            end_session=end,
            reprompt=menu,
            session_attributes=None if end else session_state(spoken.buttons),
        )

    def _menu(self, cek: CekRequest, buttons: tuple[Button, ...]) -> str | None:
        if not buttons:
            return None
        options = ", ".join(button.title for button in buttons)
        return self._voice.text(cek, self._voice.messages.menu).replace("{options}", options)
