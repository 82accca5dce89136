"""``GET /metrics``: the Prometheus exposition of ekiden's figures.

Per queue (label ``queue``): depth gauges (visible, in flight, delayed, oldest message
age) and message counters (sent, received, deleted, dead-lettered). Per action (labels
``protocol``, ``action``, ``outcome``): request counts and a latency histogram. The
store: COMMIT latency, jobs per group commit, health. Per function (label ``function``)
and per event source mapping (labels ``uuid``, ``function``, ``queue``): the runtime's
counters. The process: build info, start time, resident memory, the garbage collector.

The exporter only reads: figures other parts keep (the server's request metrics, the
store writer's histograms, the runtime's counters, the broker's queue totals) and queue
depths through the broker's queue inspection. A scrape never fails because part of the
figures cannot be had: a store that refuses work reports ``ekiden_store_healthy 0`` and
its queues' depth gauges are left out (absent, not zero: zero would claim an empty
queue).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ekiden.console.metrics_text import CONTENT_TYPE, Family, Labels, render
from ekiden.console.responses import ConsoleResponse
from ekiden.core.errors import EkidenError
from ekiden.core.figures import FiguresSource
from ekiden.core.ids import parse_sqs_arn
from ekiden.core.services.broker import Broker
from ekiden.core.services.inspection import QueueDepth
from ekiden.core.services.queues import Queue
from ekiden.core.services.request_metrics import (
    OUTCOMES,
    ProcessFigures,
    RequestMetrics,
    StoreFigures,
)

# Mapping states in which the mapping is meant to poll (transitions included).
_ENABLED_STATES = frozenset({"Creating", "Enabling", "Enabled", "Updating"})


class MetricsExporter:
    """Renders the exposition from the figures handed to it (see the module doc)."""

    def __init__(
        self,
        broker: Broker,
        figures: FiguresSource,
        requests: RequestMetrics,
        store_figures: Callable[[], StoreFigures],
        process: Callable[[], ProcessFigures],
    ) -> None:
        self.broker = broker
        self.figures = figures
        self.requests = requests
        self.store_figures = store_figures
        self.process = process

    async def render(self) -> ConsoleResponse:
        """The current exposition: 200, ``text/plain; version=0.0.4``."""
        families = [
            *await self._queue_families(),
            *self._request_families(),
            *self._store_families(),
            *self._function_families(),
            *self._mapping_families(),
            *self._process_families(),
        ]
        return ConsoleResponse(200, CONTENT_TYPE, render(families))

    async def _queue_families(self) -> list[Family]:
        visible = Family(
            "ekiden_queue_messages_visible", "gauge", "Messages available for retrieval."
        )
        in_flight = Family(
            "ekiden_queue_messages_in_flight",
            "gauge",
            "Messages received and not yet deleted nor visible again.",
        )
        delayed = Family(
            "ekiden_queue_messages_delayed", "gauge", "Messages delayed, not yet visible."
        )
        oldest = Family(
            "ekiden_queue_oldest_message_age_seconds",
            "gauge",
            "Age of the oldest message in the queue (0 when empty).",
        )
        sent = Family("ekiden_queue_messages_sent_total", "counter", "Messages sent.")
        received = Family(
            "ekiden_queue_messages_received_total", "counter", "Messages received (deliveries)."
        )
        deleted = Family("ekiden_queue_messages_deleted_total", "counter", "Messages deleted.")
        dead_lettered = Family(
            "ekiden_queue_messages_dead_lettered_total",
            "counter",
            "Messages moved from the queue to its dead-letter queue.",
        )
        queues = sorted(self.broker.queues.all_cached(), key=lambda q: q.name)
        depths = await asyncio.gather(*(self._depth(q) for q in queues))
        for queue, depth in zip(queues, depths, strict=True):
            if self.broker.queues.cached_by_id(queue.queue_id) is None:
                continue  # deleted while the depths were read
            labels = (("queue", queue.name),)
            if depth is not None:
                visible.add(labels, depth.visible)
                in_flight.add(labels, depth.in_flight)
                delayed.add(labels, depth.delayed)
                # CloudWatch's ApproximateAgeOfOldestMessage is 0 for an empty queue too
                oldest.add(labels, depth.oldest_age_s or 0.0)
            totals = self.broker.counters.totals(queue.queue_id)
            sent.add(labels, totals.sent)
            received.add(labels, totals.received)
            deleted.add(labels, totals.deleted)
            dead_lettered.add(labels, totals.dead_lettered)
        return [visible, in_flight, delayed, oldest, sent, received, deleted, dead_lettered]

    async def _depth(self, queue: Queue) -> QueueDepth | None:
        """The queue's depth, or None when it cannot be had (queue deleted meanwhile, the
        store refusing work)."""
        try:
            return await self.broker.inspection.depth(queue.name)
        except EkidenError:
            return None

    def _request_families(self) -> list[Family]:
        total = Family(
            "ekiden_requests_total",
            "counter",
            "API requests answered, by protocol, action and outcome.",
        )
        duration = Family(
            "ekiden_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its answer.",
        )
        for action in self.requests.snapshot():
            labels: Labels = (("protocol", action.protocol), ("action", action.action))
            counts = (action.ok, action.client_error, action.server_error)
            for outcome, count in zip(OUTCOMES, counts, strict=True):
                total.add((*labels, ("outcome", outcome)), count)
            duration.add_histogram(labels, action.duration_s)
        throttled = Family(
            "ekiden_requests_throttled_total",
            "counter",
            "Requests refused by the per-identity rate limit ([limits]).",
        )
        throttled.add((), self.requests.throttled)
        return [total, duration, throttled]

    def _store_families(self) -> list[Family]:
        store = self.store_figures()
        commit = Family(
            "ekiden_store_commit_duration_seconds",
            "histogram",
            "Duration of each group COMMIT (one fsync).",
        )
        commit.add_histogram((), store.commit_duration_s)
        jobs = Family(
            "ekiden_store_commit_group_jobs",
            "histogram",
            "Store operations committed together in one group.",
        )
        jobs.add_histogram((), store.group_jobs)
        healthy = Family(
            "ekiden_store_healthy",
            "gauge",
            "1 while the store accepts writes; 0 while it refuses them after a failed commit.",
        )
        healthy.add((), 1 if store.healthy else 0)
        return [commit, jobs, healthy]

    def _function_families(self) -> list[Family]:
        invocations = Family(
            "ekiden_function_invocations_total", "counter", "Finished invocations."
        )
        errors = Family(
            "ekiden_function_errors_total", "counter", "Invocations that ended in a function error."
        )
        throttles = Family(
            "ekiden_function_throttles_total",
            "counter",
            "Invocations that waited for capacity or were refused for it.",
        )
        timeouts = Family(
            "ekiden_function_timeouts_total",
            "counter",
            "Invocations stopped for exceeding the function's timeout.",
        )
        duration = Family(
            "ekiden_function_duration_seconds_total",
            "counter",
            "Summed duration of the function's invocations.",
        )
        concurrency = Family(
            "ekiden_function_concurrency", "gauge", "Invocations of the function running now."
        )
        functions = self.figures.function_figures()
        for name in sorted(functions):
            stats = functions[name]
            labels = (("function", name),)
            invocations.add(labels, stats.invocations)
            errors.add(labels, stats.errors)
            throttles.add(labels, stats.throttles)
            timeouts.add(labels, stats.timeouts)
            duration.add(labels, stats.total_duration_ms / 1000.0)
            concurrency.add(labels, stats.concurrency)
        return [invocations, errors, throttles, timeouts, duration, concurrency]

    def _mapping_families(self) -> list[Family]:
        invocations = Family(
            "ekiden_mapping_invocations_total", "counter", "Batches the mapping invoked."
        )
        errors = Family(
            "ekiden_mapping_errors_total",
            "counter",
            "Invocations of the mapping that ended in a function error.",
        )
        deleted = Family(
            "ekiden_mapping_messages_deleted_total",
            "counter",
            "Messages deleted after their batch succeeded.",
        )
        failed = Family(
            "ekiden_mapping_messages_failed_total",
            "counter",
            "Messages left on the queue after a failed batch or item.",
        )
        filtered = Family(
            "ekiden_mapping_messages_filtered_total",
            "counter",
            "Messages deleted without invoking because no filter matched them.",
        )
        concurrency = Family(
            "ekiden_mapping_concurrency", "gauge", "Batches of the mapping in flight now."
        )
        target = Family(
            "ekiden_mapping_target_concurrency",
            "gauge",
            "Concurrent batches the mapping's scaling allows now.",
        )
        enabled = Family(
            "ekiden_mapping_enabled", "gauge", "1 while the mapping polls its queue, else 0."
        )
        for stats in sorted(self.figures.mapping_figures(), key=lambda m: m.uuid):
            parsed = parse_sqs_arn(stats.queue_arn)
            queue = parsed.resource if parsed is not None else stats.queue_arn
            labels = (("uuid", stats.uuid), ("function", stats.function_name), ("queue", queue))
            invocations.add(labels, stats.invocations)
            errors.add(labels, stats.function_errors)
            deleted.add(labels, stats.messages_deleted)
            failed.add(labels, stats.messages_failed)
            filtered.add(labels, stats.messages_filtered)
            concurrency.add(labels, stats.concurrency)
            target.add(labels, stats.target_concurrency)
            enabled.add(labels, 1 if stats.state in _ENABLED_STATES else 0)
        return [invocations, errors, deleted, failed, filtered, concurrency, target, enabled]

    def _process_families(self) -> list[Family]:
        process = self.process()
        build = Family("ekiden_build_info", "gauge", "Always 1; the version is a label.")
        build.add((("version", process.version),), 1)
        start = Family(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch, in seconds.",
        )
        start.add((), process.start_time_s)
        families = [build, start]
        if process.resident_memory_bytes is not None:
            memory = Family(
                "process_resident_memory_bytes", "gauge", "Resident memory size in bytes."
            )
            memory.add((), process.resident_memory_bytes)
            families.append(memory)
        return families + _gc_families(process)


def _gc_families(process: ProcessFigures) -> list[Family]:
    """The collector's figures, under the names Prometheus's Python client uses."""
    collections = Family(
        "python_gc_collections_total",
        "counter",
        "Number of times this generation was collected.",
    )
    collected = Family(
        "python_gc_objects_collected_total", "counter", "Objects collected during gc."
    )
    uncollectable = Family(
        "python_gc_objects_uncollectable_total",
        "counter",
        "Uncollectable objects found during GC.",
    )
    for generation, figures in enumerate(process.gc_generations):
        labels = (("generation", str(generation)),)
        collections.add(labels, figures.collections)
        collected.add(labels, figures.collected)
        uncollectable.add(labels, figures.uncollectable)
    frozen = Family(
        "ekiden_gc_frozen_objects",
        "gauge",
        "Objects in the collector's permanent generation (frozen after start-up).",
    )
    frozen.add((), process.gc_frozen_objects)
    return [collections, collected, uncollectable, frozen]
