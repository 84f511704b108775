"""The chatbot `userId`: stable for one CEK user, and not reversible to the CEK user id.

It is an HMAC of the CEK user id under `CEK_PROXY_USER_ID_KEY_FILE` (or a fixed domain-separation
key when no key is set), so neither the chatbot nor the token store ever holds a CEK user id.
"""

from __future__ import annotations

import hashlib
import hmac

DEFAULT_KEY = b"cek-proxy/chatbot-user-id/v1"


class UserIds:
    def __init__(self, key: bytes | None) -> None:
        self._key = key or DEFAULT_KEY

    def __repr__(self) -> str:
        return "UserIds(key=<redacted>)"

    def chatbot_user_id(self, cek_user_id: str) -> str:
        digest = hmac.new(self._key, cek_user_id.encode(), hashlib.sha256).hexdigest()
        return f"cek-{digest[:40]}"
