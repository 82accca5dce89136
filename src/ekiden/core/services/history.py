"""The recent history of every queue, for the console's charts: every 5 s a sample of
each queue's depth and totals, the last 10 minutes kept in memory.

Charts derive throughput from differences of the ``*_total`` values between samples;
the totals are ``QueueCounters``' (since the broker started).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ekiden.core.clock import Clock
from ekiden.core.services.counters import QueueCounters
from ekiden.core.services.queues import QueueService
from ekiden.core.storage import Store

log = logging.getLogger("ekiden.history")

INTERVAL_S = 5.0
KEEP_S = 600.0


@dataclass(frozen=True, slots=True)
class QueuePoint:
    """One queue at one sample."""

    visible: int
    in_flight: int
    sent_total: int
    received_total: int
    deleted_total: int


@dataclass(frozen=True, slots=True)
class Sample:
    """Every queue (by name) at ``t_ms``."""

    t_ms: int
    queues: dict[str, QueuePoint]


class QueueHistory:
    """Samples the queues every ``interval_s`` and keeps those of the last ``keep_s``.

    ``run()`` is the sampling loop (the server starts it as a task and cancels it to
    stop); ``sleep`` is injected so tests can drive it without waiting.
    """

    def __init__(
        self,
        queues: QueueService,
        store: Store,
        counters: QueueCounters,
        clock: Clock,
        *,
        interval_s: float = INTERVAL_S,
        keep_s: float = KEEP_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.queues = queues
        self.store = store
        self.counters = counters
        self.clock = clock
        self.interval_s = interval_s
        self._sleep = sleep
        self._samples: deque[Sample] = deque(maxlen=max(1, int(keep_s / interval_s)))
        self._queue_ids: dict[str, int] = {}  # the queue each name's kept points are of

    async def sample(self, now_ms: int) -> Sample:
        """Take one sample of every queue at ``now_ms`` and keep it (the oldest kept
        sample drops out once the window is full). A queue deleted and created again
        under the same name loses its earlier points: they were another queue's."""
        points: dict[str, QueuePoint] = {}
        for queue in sorted(self.queues.all_cached(), key=lambda q: q.name):
            if self._queue_ids.get(queue.name, queue.queue_id) != queue.queue_id:
                # Deleted and created again: its totals restart at zero, and a chart
                # differencing them across the two queues would draw a negative rate.
                # The older points are of another queue, so they go.
                for earlier in self._samples:
                    earlier.queues.pop(queue.name, None)
            self._queue_ids[queue.name] = queue.queue_id
            counts = await self.store.counts(queue.queue_id, now_ms)
            totals = self.counters.totals(queue.queue_id)
            points[queue.name] = QueuePoint(
                counts.visible, counts.in_flight, totals.sent, totals.received, totals.deleted
            )
        taken = Sample(now_ms, points)
        self._samples.append(taken)
        # Remember only names some kept sample still holds, so deleted queues' go too.
        kept = {name for sample in self._samples for name in sample.queues}
        self._queue_ids = {n: i for n, i in self._queue_ids.items() if n in kept}
        return taken

    def snapshot(self) -> list[Sample]:
        """The kept samples, oldest first."""
        return list(self._samples)

    async def run(self) -> None:
        """Sample every ``interval_s`` until cancelled. A failed sample (the store
        refusing reads after a write failure) is logged and skipped, not fatal."""
        while True:
            if self.store.healthy():
                try:
                    await self.sample(self.clock.now_ms())
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("queue history sample failed")
            await self._sleep(self.interval_s)
