"""The baseline: a bare aiohttp forwarder, the floor any aiohttp proxy pays.

It reads the body and forwards it, with the path and query, to one upstream, then returns the
upstream's status and body: no verification, no parsing, no translation, no signing, no logging.
The bench runs it as `python -m bench.baseline PORT UPSTREAM_URL` and stops it with SIGTERM.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)
FORWARDED = ("Content-Type", "Accept")


async def forward(request: web.Request) -> web.Response:
    body = await request.read()
    headers = {name: request.headers[name] for name in FORWARDED if name in request.headers}
    url = request.app[UPSTREAM] + request.path_qs
    async with request.app[SESSION].request(request.method, url, data=body, headers=headers) as reply:
        answer = await reply.read()
        content_type = reply.headers.get("Content-Type", "application/json")
        return web.Response(status=reply.status, body=answer, headers={"Content-Type": content_type})


async def upstream_client(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        app[SESSION] = session
        yield


def create_app(upstream: str) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = upstream.rstrip("/")
    app.cleanup_ctx.append(upstream_client)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("upstream")
    args = parser.parse_args()
    web.run_app(create_app(args.upstream), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
