"""Reading a request body with a size cap and a deadline.

aiohttp does not cut off a client that sends its headers and then dribbles the body; the deadline
here does. The cap is checked against Content-Length first and again while reading, for chunked
bodies.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from proxy.responses import RefusedError


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
