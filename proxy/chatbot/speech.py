"""Chatbot bubbles turned into what a speaker can say.

Text and image bubbles give their text; templates give their cover text; carousels give each
card's title and cover text. The buttons that voice can follow (postback and utterance actions, not
link, phone or welcome) of templates, carousel cards, button bubbles and the reply's `quickButtons`
become a spoken menu whose choices are remembered for the next turn; a chosen button sends its
`postbackFull` (its `postback` when it has none). Markup, URLs and emoji are dropped before
text-to-speech.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_MARKUP = re.compile(r"<[^>]{0,200}>")
_URL = re.compile(r"https?://\S+")
_SPACE = re.compile(r"\s+")
_UNSPOKEN_CATEGORIES = frozenset({"So", "Sk", "Cs", "Co", "Cn", "Cf"})


def _unspoken_candidates() -> re.Pattern[str]:
    """Every character of the BMP in an unspoken category, and every character beyond the BMP.

    Text with none of them (most chatbot text) is left as it is without looking at each character.
    """
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code)) in _UNSPOKEN_CATEGORIES:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    ranges.append((0x10000, 0x10FFFF))
    return re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]")


_MAYBE_UNSPOKEN = _unspoken_candidates()


def speakable(text: str) -> str:
    """Text with markup, URLs, emoji and control characters removed and whitespace collapsed."""
    text = _URL.sub(" ", _MARKUP.sub(" ", text))
    if _MAYBE_UNSPOKEN.search(text):
        text = "".join(ch for ch in text if unicodedata.category(ch) not in _UNSPOKEN_CATEGORIES)
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Button:
    title: str
    postback: str


@dataclass(frozen=True)
class SpokenReply:
    texts: tuple[str, ...]
    buttons: tuple[Button, ...]


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _component_texts(component: dict[str, Any]) -> Iterator[str]:
    """Title and description of a component (a bubble or a card), then those of a template's cover."""
    data = _obj(component.get("data"))
    cover = _obj(data.get("cover"))
    for part in (component, cover) if component.get("type") != "carousel" else ():
        yield _str(part.get("title"))
        yield _str(_obj(part.get("data")).get("description"))


def _button(component: dict[str, Any]) -> Button | None:
    """The choice a button component offers by voice, if its action can be followed by voice."""
    if component.get("type") != "button":
        return None
    title = speakable(_str(component.get("title")))
    action = _obj(_obj(component.get("data")).get("action"))
    payload = _obj(action.get("data"))
    if action.get("type") == "postback":
        # NCP: postbackFull is what the chatbot should get; postback is the text shown in the chat.
        postback = _str(payload.get("postbackFull")) or _str(payload.get("postback"))
    elif action.get("type") == "utterance":
        postback = _str(payload.get("postback")) or _str(payload.get("text"))
    else:
        return None  # links, calls and the welcome action cannot be followed by voice
    return Button(title, postback) if title and postback else None


def _buttons(template: dict[str, Any]) -> Iterator[Button]:
    data = _obj(template.get("data"))
    for table in (data.get("contentTable"), data.get("footTable")):
        for row in table if isinstance(table, list) else ():
            for cell in row if isinstance(row, list) else ():
                if button := _button(_obj(_obj(cell).get("data"))):
                    yield button


def _bubble_texts(bubble: dict[str, Any]) -> Iterator[str]:
    if bubble.get("type") == "carousel":
        for card in _obj(bubble.get("data")).get("cards") or ():
            yield " ".join(_unique(_component_texts(_obj(card))))
    elif bubble.get("type") in ("text", "image", "template"):
        yield " ".join(_unique(_component_texts(bubble)))


def _bubble_buttons(bubble: dict[str, Any]) -> Iterator[Button]:
    if bubble.get("type") == "template":
        yield from _buttons(bubble)
    elif bubble.get("type") == "button":
        if button := _button(bubble):
            yield button
    elif bubble.get("type") == "carousel":
        for card in _obj(bubble.get("data")).get("cards") or ():
            yield from _buttons(_obj(card))


def _unique(texts: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for text in map(speakable, texts):
        if text and text not in seen:
            seen.append(text)
    return seen


def spoken_reply(
    bubbles: Iterable[dict[str, Any]], quick_buttons: Iterable[dict[str, Any]] = ()
) -> SpokenReply:
    """Every text to say, in order (`proxy.cek.speech_limits` fits them), and the choices, by title."""
    bubbles = list(bubbles)
    texts = _unique(text for bubble in bubbles for text in _bubble_texts(bubble))
    buttons: dict[str, Button] = {}
    offered = (b for bubble in bubbles for b in _bubble_buttons(bubble))
    for button in (*offered, *filter(None, map(_button, quick_buttons))):
        buttons.setdefault(button.title, button)
    return SpokenReply(tuple(texts), tuple(buttons.values()))
