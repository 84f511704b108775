"""One simulated conversation: each user turn built, signed, sent, and its answer read back."""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.simulator.answers import Answer, NotCekError, read_answer
from proxy.simulator.keys import DevKey
from proxy.simulator.request_builder import Speaker, TurnKind, UserTurn, build_request
from proxy.simulator.session import Session
from proxy.simulator.transport import Reply, Transport

BODY_EXCERPT_CHARS = 200


class TurnError(Exception):
    """The extension did not answer the turn with a valid CEK response."""


@dataclass(frozen=True)
class Exchange:
    turn: UserTurn
    answer: Answer
    elapsed: float  # seconds


@dataclass
class Conversation:
    transport: Transport
    url: str
    key: DevKey
    speaker: Speaker
    session: Session = field(default_factory=Session)

    async def send(self, turn: UserTurn) -> Exchange:
        if turn.kind is TurnKind.LAUNCH or self.session.ended:
            self.session.restart()
        body = build_request(turn, self.speaker, self.session)
        reply = await self.transport.post_cek(self.url, body, self.key.sign(body))
        answer = _answer(reply)
        self.session.answered(answer.session_attributes, answer.ends_session or turn.kind is TurnKind.END)
        return Exchange(turn, answer, reply.elapsed)


def _answer(reply: Reply) -> Answer:
    excerpt = reply.body[:BODY_EXCERPT_CHARS].decode(errors="replace")
    if reply.status != 200:
        raise TurnError(f"HTTP {reply.status}: {excerpt}")
    try:
        return read_answer(reply.json())
    except NotCekError:
        raise TurnError(f"HTTP 200 but not a valid CEK response: {excerpt}") from None
