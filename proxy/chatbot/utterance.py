"""From a CEK intent and its slots to the text the chatbot receives.

CEK sends intents and slots, never the words the user said, so the text is rebuilt in this order:
1. the intent's configured templates (`[utterances.intents.<Intent>]`), the first whose slots are
   all present;
2. the value of the designated free-text slot (`utterances.free_text_slot`);
3. the phrase for a built-in intent (`Clova.GuideIntent` is "도움말"/"ヘルプ"/"help", ...);
4. the slot values joined by spaces; or, with no slots, the intent name.
When the previous answer offered buttons, a text (or slot value) that names a button's title sends
that button's postback instead.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from proxy.cek.request import CekRequest, Slot
from proxy.chatbot.speech import Button
from proxy.config_file import Language, Utterances

SESSION_KEY = "cekProxy"


def fill(template: str, slots: Mapping[str, Slot]) -> str | None:
    """The template with its `{slot}` placeholders filled; None when a slot is missing."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            if name not in slots:
                return None
            parts.append(slots[name].value)
    return "".join(parts)


def utterance_text(cek: CekRequest, utterances: Utterances, lang: Language) -> str:
    intent = cek.intent_name or ""
    configured = utterances.intents.get(intent)
    for template in configured.templates if configured else ():
        if (text := fill(template, cek.slots)) is not None:
            return text
    free_text = cek.slots.get(utterances.free_text_slot or "")
    if free_text is not None:
        return free_text.value
    if phrase := utterances.builtin_phrase(intent, lang):
        return phrase
    if cek.slots:
        return " ".join(slot.value for slot in cek.slots.values())
    return intent


def _normalized(text: str) -> str:
    return "".join(
        ch for ch in text.casefold() if not ch.isspace() and not unicodedata.category(ch).startswith("P")
    )


def remembered_buttons(session_attributes: Mapping[str, Any]) -> list[Button]:
    state = session_attributes.get(SESSION_KEY)
    pairs = state.get("buttons") if isinstance(state, dict) else None
    if not isinstance(pairs, list):
        return []
    return [
        Button(pair[0], pair[1])
        for pair in pairs
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
    ]


def session_state(buttons: Iterable[Button]) -> dict[str, Any]:
    """What goes into `sessionAttributes` so that the next turn can pick a button by its title."""
    pairs = [[button.title, button.postback] for button in buttons]
    return {SESSION_KEY: {"buttons": pairs}} if pairs else {}


def chosen_postback(text: str, cek: CekRequest) -> str | None:
    """The postback of the remembered button whose title the user said, if any."""
    buttons = {_normalized(b.title): b.postback for b in remembered_buttons(cek.session_attributes)}
    if not buttons:
        return None
    for candidate in (text, *(slot.value for slot in cek.slots.values())):
        if (postback := buttons.get(_normalized(candidate))) is not None:
            return postback
    return None
