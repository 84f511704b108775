"""Reading a request body with a size cap and a deadline.

aiohttp does not cut off a client that sends its headers and then dribbles the body; the deadline
here does. The cap is checked against Content-Length first and again while reading, for chunked
bodies. Compressed bodies are refused, not inflated: CEK and the chatbot never send them, and a
small one can inflate to gigabytes (the server is built with `auto_decompress=False`, so nothing is
inflated before this check either).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from proxy.responses import RefusedError


def refuse_compressed(request: web.Request) -> None:
    """RefusedError 415 when the body has a Content-Encoding other than identity."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise RefusedError(415, "compressed_body", "compressed request bodies are not accepted")


async def read_body(request: web.Request, *, max_bytes: int, timeout: float) -> bytes:
    """The whole body, or RefusedError: 413 over `max_bytes`, 408 when not all in within `timeout`."""
    too_large = RefusedError(413, "body_too_large", f"request body is larger than {max_bytes} bytes")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    if request.content.is_eof():
        # The whole body came in with the headers (the usual case): nothing to wait for.
        body = request.content.read_nowait()
        if len(body) > max_bytes:
            raise too_large
        return body
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > max_bytes:
                    raise RefusedError(
                        413, "body_too_large", f"request body is larger than {max_bytes} bytes"
                    )
                chunks.append(chunk)
    except TimeoutError as exc:
        raise RefusedError(408, "body_timeout", f"request body not received within {timeout:g} s") from exc
    return b"".join(chunks)
