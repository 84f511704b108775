"""Running the service: listen, log, and stop gracefully on SIGTERM (or SIGINT).

A stop goes in two steps. Draining (`CEK_PROXY_DRAIN_SECONDS`, default 0): `/readyz` answers 503 but
requests are still served, so that a load balancer that finds replicas by DNS (the gateway refreshes
every few seconds) stops sending new requests here before the listener closes. Then aiohttp stops
accepting connections and lets in-flight requests finish for up to `CEK_PROXY_SHUTDOWN_TIMEOUT`
seconds; the process exits 0.

The event loop is uvloop's (server and client alike), and once started the process freezes what
start-up allocated out of the garbage collector's sight and collects less often: a turn allocates
many short-lived objects, and with the default threshold the collector kept walking the
long-lived ones (the settings, the app, the key, imported modules).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

import uvloop
from aiohttp import web

from proxy import __version__
from proxy.app import create_app
from proxy.connections import GuardedAppRunner
from proxy.logs import configure_logging
from proxy.settings import Settings
from proxy.state import DRAINING

log = logging.getLogger("cek_proxy")


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    log.info(
        "starting",
        extra={
            "fields": {
                "version": __version__,
                "listen": str(settings.listen),
                "mode": settings.mode.value,
                "extension_ids": len(settings.extension_ids),
                "pinned_keys": len(settings.cek_public_keys),
                "key_url": settings.cek_public_key_url,
            }
        },
    )
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(settings))
    log.info("stopped")


async def _serve(settings: Settings) -> None:
    app = create_app(settings)
    runner = GuardedAppRunner(
        app,
        header_timeout=settings.header_timeout,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=settings.shutdown_timeout,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.listen.host, settings.listen.port, reuse_port=settings.reuse_port)
        await site.start()
        loop = type(asyncio.get_running_loop())
        log.info("serving", extra={"fields": {"event_loop": f"{loop.__module__}.{loop.__qualname__}"}})
        _settle_garbage_collector()
        await _stop_requested()
        app[DRAINING].set()
        log.info("draining", extra={"fields": {"seconds": settings.drain_seconds}})
        await asyncio.sleep(settings.drain_seconds)
    finally:
        await runner.cleanup()


GC_THRESHOLD = 20_000  # young-generation allocations between collections (the default is 700)


def _settle_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


async def _stop_requested() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
