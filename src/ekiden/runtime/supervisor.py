"""The runtime: one poller per enabled event source mapping, kept in step with the list
of mappings it is given.

``Runtime.apply(mappings)`` is called with the whole list whenever it changes (by the
functions service inside ``ekiden serve``, once at start by ``ekiden worker``): pollers
of new or enabled mappings start, those of deleted or disabled ones stop (their batches
in flight finish first), and a changed mapping's poller is replaced once the old one has
stopped. ``close`` stops everything gracefully: polling ends at once, batches in flight
get up to their function's timeout to finish.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ekiden.core.figures import MappingStats
from ekiden.core.functions import EventSourceMapping, FunctionInvoker, FunctionSpec
from ekiden.runtime.poller import MappingPoller
from ekiden.runtime.sqs_client import SqsClient, SqsError

log = logging.getLogger("ekiden.runtime")

STOP_GRACE_S: Final = 2.0
"""Added to a function's timeout when waiting for its batches in flight to settle (the
invocation may end right at the timeout; deleting its messages takes a moment more)."""

_RESOLVE_RETRY_FIRST_S: Final = 0.5
_RESOLVE_RETRY_MAX_S: Final = 30.0


@dataclass(slots=True)
class _Running:
    mapping: EventSourceMapping
    function: FunctionSpec
    stats: MappingStats
    task: asyncio.Task[None] | None = None
    poller: MappingPoller | None = None
    previous: _Running | None = None  # the poller this one replaces (still stopping)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)


class Runtime:
    """Runs mappings against one SQS endpoint with one invoker (the worker pool)."""

    def __init__(
        self,
        *,
        sqs: SqsClient,
        invoker: FunctionInvoker,
        functions: Mapping[str, FunctionSpec],
        region: str,
        max_concurrency: int = 1000,
    ) -> None:
        self._sqs = sqs
        self._invoker = invoker
        self._functions = dict(functions)
        self._region = region
        self._max_concurrency = max_concurrency
        self._running: dict[str, _Running] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._stats: dict[str, MappingStats] = {}
        self._closed = False

    def stats(self) -> list[MappingStats]:
        """The counters of every mapping this runtime knows, enabled or not."""
        return list(self._stats.values())

    def apply(self, mappings: Sequence[EventSourceMapping]) -> None:
        """Bring the pollers in step with ``mappings`` (the complete list)."""
        if self._closed:
            return
        wanted: dict[str, tuple[EventSourceMapping, FunctionSpec]] = {}
        for mapping in mappings:
            function = self._functions.get(mapping.function_name)
            stats = self._stats.get(mapping.uuid)
            if stats is None or stats.queue_arn != mapping.event_source_arn:
                stats = MappingStats(mapping.uuid, mapping.function_name, mapping.event_source_arn)
                self._stats[mapping.uuid] = stats
            if function is None:
                stats.state = "Disabled"
                stats.last_error = f"function {mapping.function_name!r} is not declared here"
                log.warning(
                    "mapping %s: function %r is not declared in this process; not polling %s",
                    mapping.uuid,
                    mapping.function_name,
                    mapping.event_source_arn,
                )
                continue
            if mapping.enabled:
                wanted[mapping.uuid] = (mapping, function)
            else:
                stats.state = "Disabled"
        for uuid in [u for u in self._stats if u not in {m.uuid for m in mappings}]:
            if uuid not in self._running:
                del self._stats[uuid]
        # A replaced poller is remembered: its successor starts only once it stopped
        # (``_stop`` forgets it from ``_running``, so it must be picked up here).
        replaced: dict[str, _Running] = {}
        for uuid, running in list(self._running.items()):
            target = wanted.get(uuid)
            if target is None or target != (running.mapping, running.function):
                self._stop(running)
                replaced[uuid] = running
        for uuid, (mapping, function) in wanted.items():
            previous = self._running.get(uuid)
            if previous is not None and (previous.mapping, previous.function) == (
                mapping,
                function,
            ):
                continue
            previous = replaced.get(uuid)
            running = _Running(mapping, function, self._stats[uuid], previous=previous)
            self._running[uuid] = running
            running.task = asyncio.create_task(self._run(running, previous), name=f"mapping {uuid}")
            running.task.add_done_callback(functools.partial(_report_start_failure, running))

    async def close(self, timeout_s: float | None = None) -> None:
        """Stop every poller: polling ends now; batches in flight get up to their
        function's timeout (or ``timeout_s`` when given) to finish."""
        self._closed = True
        for running in list(self._running.values()):
            self._stop(running, timeout_s)
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    # --- internals ---------------------------------------------------------------------

    def _stop(self, running: _Running, timeout_s: float | None = None) -> None:
        if self._running.get(running.mapping.uuid) is running:
            del self._running[running.mapping.uuid]
        grace = running.function.timeout_s + STOP_GRACE_S if timeout_s is None else timeout_s
        task = asyncio.create_task(self._stop_running(running, grace))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _stop_running(self, running: _Running, timeout_s: float) -> None:
        # Cancel a start still waiting (for the previous poller, for the queue URL) first:
        # the poller exists only once that task has finished.
        if running.task is not None and not running.task.done():
            running.task.cancel()
            await asyncio.gather(running.task, return_exceptions=True)
        poller = running.poller
        if poller is not None:
            await poller.stop(timeout_s)
        if running.previous is not None:
            # A poller stopped while it still waited for its predecessor: whoever waits
            # for this one must also wait for that one (never two pollers at once).
            await running.previous.stopped.wait()
        if self._running.get(running.mapping.uuid) is None:
            # Only when no successor took over: its counters are shared with this one.
            running.stats.state = "Disabled"
        running.stopped.set()

    async def _run(self, running: _Running, previous: _Running | None) -> None:
        if previous is not None:
            running.stats.state = "Updating"
            await previous.stopped.wait()  # never two pollers of one mapping at once
            running.previous = None
        mapping = running.mapping
        queue_url = await self._resolve(running)
        visibility_timeout_s = await self._visibility_timeout_s(queue_url)
        poller = MappingPoller(
            mapping,
            running.function,
            sqs=self._sqs,
            invoker=self._invoker,
            queue_url=queue_url,
            region=self._region,
            runtime_cap=self._max_concurrency,
            stats=running.stats,
            visibility_timeout_s=visibility_timeout_s,
        )
        running.poller = poller
        poller.start()
        log.info(
            "mapping %s: %s polls %s (batch size %d, window %d s, max concurrency %s)",
            mapping.uuid,
            mapping.function_name,
            mapping.event_source_arn,
            mapping.batch_size,
            mapping.maximum_batching_window_s,
            mapping.maximum_concurrency or self._max_concurrency,
        )

    async def _resolve(self, running: _Running) -> str:
        """The queue URL of the mapping's ARN; retried (with a growing pause) while the
        queue is missing or the endpoint unreachable."""
        name = running.mapping.event_source_arn.rsplit(":", 1)[-1]
        pause_s = _RESOLVE_RETRY_FIRST_S
        warned = False
        while True:
            try:
                return await self._sqs.get_queue_url(name)
            except SqsError as error:
                running.stats.last_error = f"GetQueueUrl: {error}"
                if not warned:
                    log.warning(
                        "mapping %s: cannot reach queue %s (%s); retrying",
                        running.mapping.uuid,
                        running.mapping.event_source_arn,
                        error,
                    )
                    warned = True
            await asyncio.sleep(pause_s)
            pause_s = min(_RESOLVE_RETRY_MAX_S, pause_s * 2)

    async def _visibility_timeout_s(self, queue_url: str) -> int | None:
        """The queue's visibility timeout, which bounds how long a throttled batch may
        wait for the function; ``None`` (wait without bound) when it cannot be read."""
        try:
            attributes = await self._sqs.get_queue_attributes(queue_url, ("VisibilityTimeout",))
        except SqsError:
            return None
        value = attributes.get("VisibilityTimeout", "")
        return int(value) if value.isdigit() else None


def _report_start_failure(running: _Running, task: asyncio.Task[None]) -> None:
    """A mapping whose poller could not start (a bug, or a stored filter this version
    cannot compile) is logged and shown as failed, never left silently idle."""
    if task.cancelled() or task.exception() is None:
        return
    error = task.exception()
    running.stats.state = "Failed"
    running.stats.last_error = f"{type(error).__name__}: {error}"
    log.error(
        "mapping %s: cannot start polling %s: %s",
        running.mapping.uuid,
        running.mapping.event_source_arn,
        running.stats.last_error,
        exc_info=error,
    )
