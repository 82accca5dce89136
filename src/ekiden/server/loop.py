"""Event loop selection: uvloop when it is installed, the stdlib loop otherwise."""

from __future__ import annotations

import asyncio
import logging

__all__ = ["install_event_loop_policy"]

_log = logging.getLogger(__name__)


def install_event_loop_policy() -> None:
    """Make loops created from now on (``asyncio.run`` included) uvloop loops.

    uvloop roughly doubles the throughput of the HTTP server (DESIGN.md §3) but is an
    optional speed-up, not a requirement: without it the default asyncio loop is kept.
    Logs which loop was chosen. Call it once at process start, before any loop exists.
    """
    try:
        import uvloop
    except ImportError:
        _log.info("uvloop is not installed; using the default asyncio event loop")
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    _log.info("using the uvloop event loop")
