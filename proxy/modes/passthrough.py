"""Passthrough mode: the verified request goes, byte for byte, to an extension backend.

`SignatureCEK` is kept so that the backend can verify CLOVA's signature itself. The backend's answer
is relayed unchanged once it is known to be strict UTF-8 JSON and a CEK response the references allow
(directive-only answers with `"outputSpeech": {}` included); anything else becomes the apology.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.accounts.linking import Account
from proxy.cek.request import CekRequest
from proxy.cek.response import is_valid_cek_response
from proxy.config_file import TokenHeader
from proxy.modes.turn import TurnResult, Voice
from proxy.strict_json import InvalidJsonError, parse_json
from proxy.upstream import Upstream, UpstreamError

SIGNATURE_HEADER = "SignatureCEK"


class Passthrough:
    def __init__(self, upstream: Upstream, url: str, voice: Voice) -> None:
        self._upstream = upstream
        self._url = url
        self._voice = voice
        self._token_header: TokenHeader = voice.config.passthrough

    def forward_headers(self, headers: Mapping[str, str], account: Account) -> dict[str, str]:
        """CEK's headers that matter, plus the user's token where the user has a usable one."""
        forwarded = {
            "Content-Type": "application/json;charset=UTF-8",
            "Accept": "application/json",
            SIGNATURE_HEADER: headers.get(SIGNATURE_HEADER, ""),
        }
        if account.token:
            forwarded[self._token_header.token_header] = self._token_header.token_value(account.token)
        return forwarded

    async def respond(
        self, cek: CekRequest, raw: bytes, headers: Mapping[str, str], account: Account
    ) -> TurnResult:
        try:
            reply = await self._upstream.request(
                "POST", self._url, data=raw, headers=self.forward_headers(headers, account)
            )
        except UpstreamError as failure:
            return self._voice.apology(cek, f"upstream_{failure.kind}")
        if not reply.ok:
            return self._voice.apology(cek, f"upstream_http_{reply.status // 100}xx")
        try:
            document = parse_json(reply.body)
        except InvalidJsonError:
            return self._voice.apology(cek, "upstream_invalid_reply")
        if not is_valid_cek_response(document):
            return self._voice.apology(cek, "upstream_invalid_reply")
        return TurnResult(reply.body, "relayed")
