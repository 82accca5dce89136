"""Wiring of what operators look at: ``GET /metrics``, the console's JSON API under
``/console/api/`` and its static pages under ``/console``, plus the 5-second sampler
behind the console's charts.

The console layer answers with ``ConsoleResponse``; this module turns those into HTTP
and supplies what only the server may read (the store writer's figures, the process's
memory from ``/proc``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
from typing import Final

from ekiden import __version__
from ekiden.console.api import ConsoleApi, refuse_cross_site
from ekiden.console.metrics import MetricsExporter
from ekiden.console.responses import ConsoleResponse
from ekiden.console.static_files import static_response
from ekiden.core.figures import FiguresSource
from ekiden.core.services.broker import Broker
from ekiden.core.services.functions import FunctionsService
from ekiden.core.services.history import QueueHistory
from ekiden.core.services.request_metrics import GcGeneration, ProcessFigures, RequestMetrics
from ekiden.server.http import HttpRequest, HttpResponse
from ekiden.store.sqlite.store import SqliteStore

log = logging.getLogger("ekiden.server")

CONSOLE_PATHS: Final = ("/metrics", "/console")
"""Path prefixes this module may answer (``str.startswith`` accepts the tuple)."""

_STARTED_S: Final = time.time()
_PAGE_SIZE: Final = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def process_figures() -> ProcessFigures:
    """The version, start time, resident memory and collector figures of this process."""
    resident: int | None = None
    with (
        contextlib.suppress(OSError, ValueError, IndexError),
        open("/proc/self/statm", encoding="ascii") as statm,
    ):
        resident = int(statm.read().split()[1]) * _PAGE_SIZE
    generations = tuple(
        GcGeneration(stats["collections"], stats["collected"], stats["uncollectable"])
        for stats in gc.get_stats()
    )
    return ProcessFigures(__version__, _STARTED_S, resident, generations, gc.get_freeze_count())


class ConsoleRoutes:
    """Answers ``/metrics``, ``/console/api/...`` and ``/console[/...]``; other paths
    (``None``) go on to the AWS front ends."""

    def __init__(
        self,
        broker: Broker,
        store: SqliteStore,
        functions: FunctionsService,
        figures: FiguresSource,
        requests: RequestMetrics,
        base_url: str,
    ) -> None:
        self.history = QueueHistory(broker.queues, store, broker.counters, broker.clock)
        self.api = ConsoleApi(
            broker, functions, figures, self.history, broker.counters, base_url=base_url
        )
        self.metrics = MetricsExporter(
            broker, figures, requests, store.writer.figures, process_figures
        )
        # Where browsers may call the API from besides the Host they address (a proxy in
        # front of ekiden may rewrite Host; the public URL is what the browser shows).
        self._own_origins = (base_url,)
        self._sampler: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling queue depths for the console's charts."""
        self._sampler = asyncio.create_task(self.history.run(), name="console-history")

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            await asyncio.gather(self._sampler, return_exceptions=True)

    async def handle(self, request: HttpRequest) -> HttpResponse | None:
        path = request.path
        if path == "/metrics":
            if request.method != "GET":
                return _not_allowed("GET")
            return _http(await self.metrics.render())
        if path.startswith("/console/api/"):
            refused = refuse_cross_site(request.method, request.headers, self._own_origins)
            if refused is not None:
                return _http(refused)
            answer = await self.api.handle(request.method, path, request.query, request.body)
            return _http(answer)
        if path == "/console" or path.startswith("/console/"):
            if request.method not in ("GET", "HEAD"):
                return _not_allowed("GET")
            static = static_response(path)
            if static is None:
                return HttpResponse(404, b"not found", "text/plain; charset=utf-8")
            return _http(static)
        return None


def _http(answer: ConsoleResponse) -> HttpResponse:
    return HttpResponse(answer.status, answer.body, answer.content_type, list(answer.headers))


def _not_allowed(allowed: str) -> HttpResponse:
    return HttpResponse(
        405, b"method not allowed", "text/plain; charset=utf-8", [("Allow", allowed)]
    )
