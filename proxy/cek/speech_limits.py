"""What one CEK answer may say, and how a long answer is made to fit.

KCE21's SpeechInfoObject: a PlainText value holds at most 1,000 characters, and at most 200 per
sentence are recommended; CLOVA's design guideline: at most 10 speech outputs per answer. So a text
over 200 characters is split at its sentence boundaries into items of at most 200 characters (a
longer sentence stays whole), the whole answer keeps within 1,000 characters and 10 items, and an
answer that had to be shortened says so with the "see the app" message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

MAX_SPEECH_ITEMS = 10
MAX_SPEECH_CHARS = 1000
SENTENCE_CHARS = 200

# A sentence ends at . ! ? … (then closing quotes or brackets) before a space, or at 。！？ anywhere.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]」』]*\s+|[。！？]+[\"'”’)\]」』]*\s*")


def sentences(text: str) -> Iterator[str]:
    """The sentences of `text`, each with the spacing that follows it."""
    start = 0
    for end in _SENTENCE_END.finditer(text):
        yield text[start : end.end()]
        start = end.end()
    if start < len(text):
        yield text[start:]


def split_long(text: str) -> list[str]:
    """`text` as it is when short; else its sentences gathered, in order, into items of at most 200."""
    if len(text) <= SENTENCE_CHARS:
        return [text]
    items = [""]
    for sentence in sentences(text):
        if items[-1] and len((items[-1] + sentence).strip()) > SENTENCE_CHARS:
            items.append("")
        items[-1] += sentence
    return [item.strip() for item in items]


def _cut(text: str, limit: int) -> str:
    """The beginning of one overlong sentence, ended at a word boundary where there is one."""
    if limit <= 0:
        return ""
    head = text[:limit]
    space = head.rfind(" ")
    return (head[:space] if space > 0 else head).strip()


def _shortened(items: Sequence[str], slots: int, budget: int) -> list[str]:
    """The leading items that fit; only a first item too long for the whole budget is cut."""
    kept: list[str] = []
    for item in items[:slots]:
        if len(item) > budget:
            if not kept and (head := _cut(item, budget)):
                kept.append(head)
            break
        kept.append(item)
        budget -= len(item)
    return kept


def fit_speech(
    answer: Sequence[str], *, shortened: str, before: Sequence[str] = (), after: Sequence[str] = ()
) -> list[str]:
    """`before`, then `answer` split and fitted to the limits, then `after` (a menu stays last).

    When the answer cannot all be said, it is cut between items and `shortened` follows what is kept.
    """
    items = [item for text in answer for item in split_long(text)]
    fixed = [*before, *after]
    slots = MAX_SPEECH_ITEMS - len(fixed)
    budget = MAX_SPEECH_CHARS - sum(map(len, fixed))
    if len(items) <= slots and sum(map(len, items)) <= budget:
        return [*before, *items, *after]
    kept = _shortened(items, slots - 1, budget - len(shortened))
    return [*before, *kept, shortened, *after]
