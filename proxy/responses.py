"""HTTP responses the proxy writes itself."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy.json_codec import json_bytes

JSON_UTF8 = "application/json; charset=utf-8"


def json_response(document: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json_bytes(document), status=status, content_type="application/json", charset="utf-8"
    )


def json_error(status: int, code: str, message: str) -> web.Response:
    """A short JSON error: a stable machine-readable code and one human sentence, nothing else."""
    return json_response({"error": {"code": code, "message": message}}, status=status)


class RefusedError(Exception):
    """A request refused with a status, a stable error code and one sentence for humans."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> web.Response:
        return json_error(self.status, self.code, self.message)
