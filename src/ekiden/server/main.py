"""``serve``: run ekiden until SIGTERM/SIGINT, then shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal

from ekiden import __version__
from ekiden.config import Settings
from ekiden.server.app import start_server
from ekiden.server.gc_policy import settle_after_startup
from ekiden.server.loop import install_event_loop_policy
from ekiden.store.sqlite.store import DataDirInUse

log = logging.getLogger("ekiden.server")


def serve(settings: Settings) -> int:
    """Run the broker in the foreground; returns the process exit code."""
    install_event_loop_policy()
    try:
        return asyncio.run(_serve(settings))
    except (ValueError, DataDirInUse) as error:  # a bad declared queue, a busy data dir
        log.error("cannot start: %s", error)
        return 2


async def _serve(settings: Settings) -> int:
    server = await start_server(settings)
    settle_after_startup()
    log.info(
        "ekiden %s listening on %s://%s:%d (store: sqlite in %s, account %s, region %s)",
        __version__,
        server.http.scheme,
        settings.host,
        server.port,
        settings.data_dir,
        settings.account_id,
        settings.region,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: answering in-flight requests, closing the store")
    await server.stop()
    log.info("stopped")
    return 0
