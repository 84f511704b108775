"""Connection guards aiohttp's server lacks: a deadline for each request's headers.

aiohttp closes a connection that stays idle past its keep-alive timeout (`CEK_PROXY_IDLE_TIMEOUT`,
counted from the connection's start and from each response), but a client that keeps sending a
header byte now and then holds its connection as long as that timeout allows. Here, once the first
bytes of a request arrive, all its headers must follow within `CEK_PROXY_HEADER_TIMEOUT`, or the
connection is closed. The body has its own deadline (`proxy.body`).

This builds on aiohttp's `RequestHandler` and `Server`: the handler's parsed-message queue and its
request-in-progress flag tell when a request's headers are complete.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler


class HeaderDeadlineHandler(RequestHandler):
    def __init__(self, manager: web.Server, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._header_deadline: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages or self._request_in_progress:
            self._disarm()  # headers complete: the request is queued or being handled
        elif self._header_deadline is None and self.transport is not None:
            self._header_deadline = self._loop.call_later(self._header_timeout, self._headers_too_slow)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not (self._messages or self._request_in_progress):
            self.force_close()


class HeaderDeadlineServer(web.Server):
    """A `web.Server` whose connections are `HeaderDeadlineHandler`s."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout

    def __call__(self) -> RequestHandler:
        return HeaderDeadlineHandler(
            self, header_timeout=self._header_timeout, loop=self._loop, **self._kwargs
        )


class GuardedAppRunner(web.AppRunner):
    """An `AppRunner` serving through `HeaderDeadlineServer`."""

    def __init__(self, app: web.Application, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._header_timeout = header_timeout

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return HeaderDeadlineServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            header_timeout=self._header_timeout,
            loop=asyncio.get_running_loop(),
            **plain._kwargs,  # the handler arguments the application was built with
        )
