"""Running the service: listen, log, and shut down gracefully on SIGTERM.

On SIGTERM aiohttp stops accepting connections and lets in-flight requests finish for up to
`CEK_PROXY_SHUTDOWN_TIMEOUT` seconds; the process then exits 0.
"""

from __future__ import annotations

import logging

from aiohttp import web

from proxy import __version__
from proxy.app import create_app
from proxy.logs import configure_logging
from proxy.settings import Settings

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
    web.run_app(
        create_app(settings),
        host=settings.listen.host,
        port=settings.listen.port,
        shutdown_timeout=settings.shutdown_timeout,
        reuse_port=settings.reuse_port,
        access_log=None,
        print=None,
        handle_signals=True,
    )
    log.info("stopped")
