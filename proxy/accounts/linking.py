"""Account linking in the CEK flow, the same in bridge and passthrough modes.

`account_linking = "required"`: a turn that needs the chatbot and comes without a usable token gets
the login prompt instead (and the proxy remembers that it asked). `"optional"`: turns go on without
a token, but an invalid or expired one still gets the re-link prompt. `"off"`: no prompts. In every
mode a usable token is kept for the chatbot's action calls (when actions are configured), the first
turn with a token after a prompt gets the login-success message, and `SkillDisabled` deletes
everything kept about the user. The token store failing never fails a turn: it is logged and the
turn goes on without it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from proxy.accounts.store import TokenStore, TokenStoreError
from proxy.accounts.tokens import TokenValidator, keep_for
from proxy.cek.request import INTENT, LAUNCH, CekRequest
from proxy.config_file import AccountLinking, FileConfig
from proxy.identity import UserIds

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Account:
    user: str  # the chatbot user id: an HMAC of the CEK user id
    token: str | None = field(default=None, repr=False)  # usable (validated where configured)
    needs_login: bool = False
    just_linked: bool = False


class AccountLinker:
    def __init__(
        self,
        config: FileConfig,
        store: TokenStore,
        validator: TokenValidator,
        user_ids: UserIds,
        token_ttl: float,
    ) -> None:
        self._mode = config.account_linking
        self._end_intents = frozenset(config.conversation.end_intents)
        self._keep_tokens = bool(config.actions)
        self._store = store
        self._validator = validator
        self._user_ids = user_ids
        self._ttl = token_ttl

    async def on_turn(self, cek: CekRequest) -> Account:
        user = self._user_ids.chatbot_user_id(cek.user_id or "anonymous")
        if cek.is_event("ClovaSkill", "SkillDisabled"):
            await self._quietly(self._store.forget(user), None)
            return Account(user)
        if cek.access_token is None:
            return await self._unlinked(cek, user, prompt=self._mode is AccountLinking.REQUIRED)
        check = await self._validator.check(cek.access_token)
        if not check.valid:
            return await self._unlinked(cek, user, prompt=self._mode is not AccountLinking.OFF)
        if self._keep_tokens:
            await self._quietly(
                self._store.put_token(user, cek.access_token, keep_for(check, self._ttl)), None
            )
        just_linked = self._mode is not AccountLinking.OFF and await self._quietly(
            self._store.take_prompted(user), False
        )
        return Account(user, cek.access_token, just_linked=just_linked)

    async def _unlinked(self, cek: CekRequest, user: str, *, prompt: bool) -> Account:
        wants_chatbot = cek.type == LAUNCH or (
            cek.type == INTENT and cek.intent_name not in self._end_intents
        )
        if self._keep_tokens:
            await self._quietly(self._store.forget_token(user), None)
        if not (prompt and wants_chatbot):
            return Account(user)
        await self._quietly(self._store.mark_prompted(user), None)
        return Account(user, needs_login=True)

    async def _quietly(self, pending: Awaitable[T], fallback: T) -> T:
        try:
            return await pending
        except TokenStoreError as exc:
            log.warning("token store unavailable", extra={"fields": {"error": str(exc)}})
            return fallback
