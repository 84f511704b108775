"""The proxy keeps its connection to the chatbot open between turns: no TCP connection per turn."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from tests.proxy.conftest import CHATBOT_SECRET, ServerFactory
from tests.support.cek import ACCESS_TOKEN, CekSigner, intent
from tests.support.processes import start_proxy_process
from tests.support.stubs import StubChatbot

TURNS = 20


def _counting_connections(app: web.Application) -> set[tuple[str, int]]:
    """The client address of every connection the app's server accepted a request on."""
    peers: set[tuple[str, int]] = set()

    @web.middleware
    async def note_peer(request: web.Request, handler: Handler) -> web.StreamResponse:
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername")[:2])
        return await handler(request)

    app.middlewares.append(note_peer)
    return peers


async def test_turns_reuse_one_connection_to_the_chatbot(
    base_env: dict[str, str],
    aiohttp_server: ServerFactory,
    unused_tcp_port_factory: Callable[[], int],
    signer: CekSigner,
) -> None:
    stub = StubChatbot(CHATBOT_SECRET)
    app = stub.app()
    peers = _counting_connections(app)
    server = await aiohttp_server(app)
    env = {**base_env, "CEK_PROXY_CHATBOT_URL": str(server.make_url("/custom/v1/1234/abcdef"))}
    proxy = await start_proxy_process(env, unused_tcp_port_factory())  # the real `python -m proxy`
    try:
        async with aiohttp.ClientSession() as session:
            for number in range(TURNS):
                body = intent("AskOrderStatus", {"product": f"이어폰 {number}"}, token=ACCESS_TOKEN)
                async with session.post(f"{proxy.url}/cek", data=body, headers=signer.headers(body)) as resp:
                    assert resp.status == 200
    finally:
        proxy.stop()
    assert len(stub.received) == TURNS
    assert len(peers) == 1, f"{len(peers)} connections to the chatbot for {TURNS} turns"
