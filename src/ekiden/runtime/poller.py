"""One event source mapping at work: poll the queue, batch, filter, invoke, settle.

A :class:`MappingPoller` runs *slots*: each slot is a loop that gathers one batch (long
polls of up to 10 messages until ``batch_size`` records or the batching window), deletes
the records no filter matches, invokes the function with Lambda's SQS event, and settles
the outcome the way Lambda does:

* success: the whole batch is deleted;
* ``ReportBatchItemFailures`` with failures: everything but the reported items is deleted
  (on FIFO queues, also the items after a failure in the same message group, so the
  group's order holds); a malformed response fails the whole batch;
* a function error (exception, timeout, crash): nothing is deleted; the messages reappear
  after the queue's visibility timeout, so ``maxReceiveCount`` moves poison messages to
  the queue's dead-letter queue.

How many slots run is the scaling rule's business (``ekiden.runtime.scaling``): it starts
at 5, grows while receives come back full, shrinks on function errors and when idle, and
never exceeds the mapping's MaximumConcurrency or the runtime's cap. A slot above the
target finishes its batch and stops. Messages are never deleted before the invocation
that handled them returned.

Lambda's synchronous payload limit is 6 MB: a batch whose event would be larger (ten
1 MiB messages fit in one receive) is invoked in several parts, one after the other; on
a FIFO queue a group that failed in one part is not processed (nor deleted) in the next.

A function at its concurrency limit (``reserved_concurrency``) *throttles* the batch, as
on Lambda: the slot retries with a growing pause while the batch's visibility timeout
leaves room for a whole invocation, then gives the batch up (it reappears). Throttles
stop the scaling rule from adding slots.

Errors of the SQS endpoint (unreachable, throttled, 5xx) back the slot off exponentially
(0.1 s up to 10 s, with jitter), they never stop the mapping.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson

from ekiden.core.errors import TooManyRequests
from ekiden.core.figures import MappingStats
from ekiden.core.functions import EventSourceMapping, FunctionInvoker, FunctionSpec, InvokeResult
from ekiden.core.rules.patterns import FilterCriteria, compile_filter_criteria
from ekiden.runtime.batch_response import fifo_keep, parse_batch_response
from ekiden.runtime.events import INVOKE_PAYLOAD_LIMIT_BYTES, sqs_event, sqs_record
from ekiden.runtime.scaling import Observation, ScalingState, initial_state, next_state
from ekiden.runtime.sqs_client import SqsClient, SqsError

log = logging.getLogger("ekiden.runtime")

MAX_RECEIVE: Final = 10
"""SQS hands out at most 10 messages per ReceiveMessage."""

LONG_POLL_S: Final = 20
"""The longest long poll SQS allows; an idle slot waits this long per request."""

MAX_PAYLOAD_BYTES: Final = INVOKE_PAYLOAD_LIMIT_BYTES
"""Lambda's synchronous invocation payload limit: no invocation's event is larger
(unless one record alone is: it is invoked by itself)."""

_EVENT_OVERHEAD_BYTES: Final = len(b'{"Records":[]}')

SCALE_INTERVAL_S: Final = 0.5
"""How often the scaling rule is consulted."""

_BACKOFF_FIRST_S: Final = 0.1
_BACKOFF_MAX_S: Final = 10.0
_SHORT_POLL_PAUSE_S: Final = 0.05
_THROTTLE_FIRST_S: Final = 0.05
_THROTTLE_MAX_S: Final = 1.0


class MappingPoller:
    """Runs one enabled mapping until :meth:`stop`.

    ``queue_url`` is resolved by the caller (the supervisor), as is the queue's
    ``visibility_timeout_s`` (``None``: unknown, a throttled batch then waits for the
    function without bound); ``monotonic`` is injectable for tests of the batching window.
    """

    def __init__(
        self,
        mapping: EventSourceMapping,
        function: FunctionSpec,
        *,
        sqs: SqsClient,
        invoker: FunctionInvoker,
        queue_url: str,
        region: str,
        runtime_cap: int,
        stats: MappingStats,
        monotonic: Callable[[], float] = time.monotonic,
        visibility_timeout_s: int | None = None,
    ) -> None:
        self.mapping = mapping
        self.function = function
        self._sqs = sqs
        self._invoker = invoker
        self._queue_url = queue_url
        self._region = region
        self._cap = max(1, runtime_cap)
        self.stats = stats
        self._monotonic = monotonic
        self._visibility_timeout_s = visibility_timeout_s
        self._is_fifo = mapping.event_source_arn.endswith(".fifo")
        self._filters: FilterCriteria | None = (
            compile_filter_criteria(mapping.filter_patterns) if mapping.filter_patterns else None
        )
        self._slots: dict[int, asyncio.Task[None]] = {}
        self._busy = 0
        self._stopping = asyncio.Event()
        self._gather_lock = asyncio.Lock()
        self._scaler: asyncio.Task[None] | None = None
        self._scaling: ScalingState = initial_state(
            self._now_ms(), maximum=mapping.maximum_concurrency, runtime_cap=self._cap
        )
        self._observed = _Counts()

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the slots the initial concurrency allows, and the scaler."""
        self.stats.state = "Enabled"
        self.stats.target_concurrency = self._scaling.concurrency
        self._resize()
        self._scaler = asyncio.create_task(self._scale_loop(), name=f"scale {self.mapping.uuid}")

    async def stop(self, timeout_s: float) -> None:
        """Stop polling; batches already received finish (invocation and settling) within
        ``timeout_s``, then whatever is left is cancelled. Messages of a cancelled batch
        reappear after their visibility timeout."""
        self._stopping.set()
        self.stats.state = "Disabled"
        if self._scaler is not None:
            self._scaler.cancel()
        slots = list(self._slots.values())
        if slots:
            _done, pending = await asyncio.wait(slots, timeout=max(0.0, timeout_s))
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        if self._scaler is not None:
            await asyncio.gather(self._scaler, return_exceptions=True)

    # --- scaling -----------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._monotonic() * 1000)

    async def _scale_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(SCALE_INTERVAL_S)
            try:
                self._scale()
            except Exception:  # a bug must not freeze the mapping's concurrency for good
                log.exception("mapping %s: scaling failed", self.mapping.uuid)

    def _scale(self) -> None:
        counts, self._observed = self._observed, _Counts()
        observation = Observation(
            full_batches=counts.full_batches,
            empty_receives=counts.empty_receives,
            function_errors=counts.function_errors,
            successes=counts.successes,
            busy=self._busy,
            throttles=counts.throttles,
        )
        self._scaling = next_state(
            self._scaling,
            observation,
            self._now_ms(),
            maximum=self.mapping.maximum_concurrency,
            runtime_cap=self._cap,
        )
        self.stats.target_concurrency = self._scaling.concurrency
        self._resize()

    def _resize(self) -> None:
        """Start slots up to the target; slots above it stop after their batch."""
        if self._stopping.is_set():
            return
        for index in range(self._scaling.concurrency):
            if index not in self._slots:
                task = asyncio.create_task(self._slot(index), name=f"slot {index}")
                self._slots[index] = task
                task.add_done_callback(functools.partial(self._slot_ended, index))

    def _slot_ended(self, index: int, task: asyncio.Task[None]) -> None:
        if self._slots.get(index) is task:
            del self._slots[index]

    def _slot_wanted(self, index: int) -> bool:
        return not self._stopping.is_set() and index < self._scaling.concurrency

    # --- one slot ----------------------------------------------------------------------

    async def _slot(self, index: int) -> None:
        backoff_s = 0.0
        while self._slot_wanted(index):
            try:
                messages, received_at = await self._gather(index)
            except Exception as error:
                # Not only SqsError: a task that died of anything else would end the slot
                # and leave "Task exception was never retrieved" for the garbage collector.
                self.stats.receive_errors += 1
                self.stats.last_error = f"ReceiveMessage: {error}"
                backoff_s = min(_BACKOFF_MAX_S, max(_BACKOFF_FIRST_S, backoff_s * 2))
                log.warning(
                    "mapping %s: receiving from %s failed (%s); retrying in %.1f s",
                    self.mapping.uuid,
                    self.mapping.event_source_arn,
                    error,
                    backoff_s,
                    exc_info=not isinstance(error, SqsError),
                )
                await self._pause(backoff_s * random.uniform(0.5, 1.0))
                continue
            backoff_s = 0.0
            if not messages:
                continue
            self._busy += 1
            self.stats.concurrency = self._busy
            self.stats.peak_concurrency = max(self.stats.peak_concurrency, self._busy)
            try:
                await self._handle(messages, received_at)
            except SqsError as error:  # deleting failed for good: the batch reappears
                self.stats.last_error = str(error)
            except Exception:  # a bug must not end the mapping; the batch reappears
                log.exception("mapping %s: handling a batch failed", self.mapping.uuid)
                await self._pause(_BACKOFF_MAX_S)
            finally:
                self._busy -= 1
                self.stats.concurrency = self._busy

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _gather(self, index: int) -> tuple[list[dict[str, Any]], float]:
        """One batch: up to ``batch_size`` messages, gathered for at most the batching
        window (which starts with the first message), and when (monotonic seconds) its
        first message was received. Returns no messages when a long poll ended empty or
        the slot is no longer wanted.

        With a batching window, one slot gathers at a time: slots polling side by side
        would split a burst into many small batches, which is what the window is there
        to avoid. Invocations still overlap (they run outside the lock), and under a
        backlog a batch fills within a few receives."""
        if self.mapping.maximum_batching_window_s <= 0:
            return await self._gather_batch(index)
        async with self._gather_lock:
            return await self._gather_batch(index)

    async def _gather_batch(self, index: int) -> tuple[list[dict[str, Any]], float]:
        batch_size = self.mapping.batch_size
        window_s = float(self.mapping.maximum_batching_window_s)
        messages: list[dict[str, Any]] = []
        payload_bytes = 0
        deadline = math.inf
        received_at = math.inf
        while len(messages) < batch_size and self._slot_wanted(index):
            remaining_s = deadline - self._monotonic()
            if messages and remaining_s <= 0:
                break
            wait_s = LONG_POLL_S if not messages else min(LONG_POLL_S, int(remaining_s))
            asked = min(MAX_RECEIVE, batch_size - len(messages))
            received = await self._receive(asked, wait_s)
            if received and not messages:
                # When the answer arrived: SQS started the visibility timeout a little
                # earlier (the answer's transit); _throttled_deadline keeps a margin.
                received_at = self._monotonic()
            if len(received) == asked:
                self._observed.full_batches += 1
            elif not received:
                self._observed.empty_receives += 1
            for message in received:
                # An estimate (bodies may grow when JSON-escaped): it only ends gathering;
                # _handle splits by the exact size.
                payload_bytes += len(message.get("Body", "")) + 1024  # body plus its record
                messages.append(message)
            if not messages:
                return [], received_at  # an empty long poll: the slot re-checks it is wanted
            if window_s <= 0 or payload_bytes >= MAX_PAYLOAD_BYTES:
                break
            if deadline == math.inf:
                deadline = self._monotonic() + window_s
            if not received and wait_s == 0:
                await self._pause(min(_SHORT_POLL_PAUSE_S, max(0.0, remaining_s)))
        return messages, received_at

    async def _receive(self, asked: int, wait_s: int) -> list[dict[str, Any]]:
        receive = asyncio.create_task(
            self._sqs.receive_message(self._queue_url, max_messages=asked, wait_time_s=wait_s)
        )
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait((receive, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not receive.done():
            # Shutting down: abandon the long poll. Anything it still claims reappears
            # after its visibility timeout, as with any consumer that goes away.
            receive.cancel()
            await asyncio.gather(receive, return_exceptions=True)
            return []
        return receive.result()

    # --- one batch ---------------------------------------------------------------------

    async def _handle(self, messages: list[dict[str, Any]], received_at: float) -> None:
        self.stats.messages_received += len(messages)
        arn = self.mapping.event_source_arn
        records = [sqs_record(m, queue_arn=arn, region=self._region) for m in messages]
        if self._filters is not None:
            kept = [r for r in records if self._filters.matches_sqs_record(r)]
            dropped = [r for r in records if not self._filters.matches_sqs_record(r)]
            if dropped:
                # Lambda deletes records no filter matches, without invoking.
                self.stats.messages_filtered += len(dropped)
                await self._delete([r["receiptHandle"] for r in dropped])
            records = kept
        broken_groups: set[str] = set()
        for part in _split_by_payload(records, MAX_PAYLOAD_BYTES):
            if broken_groups:
                # FIFO: a group that failed in an earlier part must not move on; its later
                # messages stay (undeleted) and reappear after the failed ones.
                held = [r for r in part if _group(r) in broken_groups]
                self.stats.messages_failed += len(held)
                part = [r for r in part if _group(r) not in broken_groups]
                if not part:
                    continue
            failed = await self._settle(part, received_at)
            if self._is_fifo:
                broken_groups.update(
                    g for r in part if r["messageId"] in failed if (g := _group(r))
                )

    async def _settle(self, records: list[dict[str, Any]], received_at: float) -> set[str]:
        """Invoke the function with ``records`` and delete what Lambda would delete; the
        ids of the records left in the queue (failed)."""
        ids = [r["messageId"] for r in records]
        result = await self._invoke(records, received_at)
        if result is None:  # throttled until the visibility timeout ran short
            self.stats.messages_failed += len(records)
            return set(ids)
        if result.function_error is not None:
            self._batch_failed(records, result, _error_summary(result))
            return set(ids)
        if not self.mapping.reports_batch_item_failures:
            self._observed.successes += 1
            await self._delete([r["receiptHandle"] for r in records])
            return set()
        outcome = parse_batch_response(result.payload, ids)
        if outcome.all_failed:
            self._batch_failed(records, result, outcome.reason or "malformed batch response")
            return set(ids)
        # Failures the function reported itself are handled: they do not slow scaling.
        self._observed.successes += 1
        keep = set(outcome.failed_ids)
        if self._is_fifo and keep:
            groups = [(r["messageId"], _group(r)) for r in records]
            keep = set(fifo_keep(groups, outcome.failed_ids))
        self.stats.messages_failed += len(keep)
        await self._delete([r["receiptHandle"] for r in records if r["messageId"] not in keep])
        return keep

    async def _invoke(
        self, records: Sequence[dict[str, Any]], received_at: float
    ) -> InvokeResult | None:
        """The function's result for ``records``; ``None`` when it stayed throttled for as
        long as the batch's visibility timeout allowed (Lambda gives such a batch back:
        it reappears, and counts a receive, after the timeout)."""
        payload = orjson.dumps(sqs_event(list(records)))
        pause_s = _THROTTLE_FIRST_S
        throttled = False
        while True:
            try:
                # Never wait inside the pool: an invocation that got its capacity cannot
                # be abandoned, so waiting is done here, where giving up is safe.
                result = await self._invoker.invoke(self.function, payload, wait_for_capacity=False)
                break
            except TooManyRequests:
                if not throttled:
                    throttled = True
                    self.stats.throttles += 1
                self._observed.throttles += 1
                if self._stopping.is_set() or self._monotonic() + pause_s > (
                    self._throttled_deadline(received_at)
                ):
                    self.stats.last_error = "throttled: the function is at its concurrency limit"
                    return None
                await asyncio.sleep(pause_s * random.uniform(0.5, 1.0))
                pause_s = min(_THROTTLE_MAX_S, pause_s * 2)
        self.stats.invocations += 1
        self.stats.duration_ms_total += result.duration_ms
        return result

    def _throttled_deadline(self, received_at: float) -> float:
        """Until when a throttled batch may still start: its invocation must be able to
        end (function timeout) before the visibility timeout, less a second of margin,
        gives the messages to another consumer."""
        if self._visibility_timeout_s is None:
            return math.inf
        return received_at + self._visibility_timeout_s - self.function.timeout_s - 1.0

    def _batch_failed(
        self, records: Sequence[dict[str, Any]], result: InvokeResult, why: str
    ) -> None:
        """Nothing is deleted: the batch reappears after the visibility timeout."""
        self._observed.function_errors += 1
        self.stats.function_errors += 1
        self.stats.messages_failed += len(records)
        if result.timed_out:
            self.stats.timeouts += 1
        self.stats.last_error = why
        log.info(
            "mapping %s: %s failed for a batch of %d (request %s): %s",
            self.mapping.uuid,
            self.function.name,
            len(records),
            result.request_id,
            why,
        )

    async def _delete(self, receipt_handles: Sequence[str]) -> None:
        if not receipt_handles:
            return
        backoff_s = _BACKOFF_FIRST_S
        pending = list(receipt_handles)
        for _attempt in range(5):
            try:
                failed = await self._sqs.delete_message_batch(self._queue_url, pending)
            except SqsError as error:
                if not error.retryable:
                    self.stats.delete_errors += len(pending)
                    self.stats.last_error = f"DeleteMessageBatch: {error}"
                    return
                await asyncio.sleep(backoff_s)
                backoff_s *= 2
                continue
            self.stats.messages_deleted += len(pending) - len(failed)
            if failed:
                # A handle that stopped being valid (the visibility timeout ran out and
                # the message was received again) cannot be deleted: SQS rules.
                self.stats.delete_errors += len(failed)
                log.warning(
                    "mapping %s: %d processed messages could not be deleted "
                    "(their visibility timeout ran out?); they will be delivered again",
                    self.mapping.uuid,
                    len(failed),
                )
            return
        self.stats.delete_errors += len(pending)


class _Counts:
    """What the slots saw since the scaler last looked."""

    __slots__ = ("empty_receives", "full_batches", "function_errors", "successes", "throttles")

    def __init__(self) -> None:
        self.throttles = 0
        self.full_batches = 0
        self.empty_receives = 0
        self.function_errors = 0
        self.successes = 0


def _group(record: dict[str, Any]) -> str | None:
    group = record["attributes"].get("MessageGroupId")
    return None if group is None else str(group)


def _split_by_payload(
    records: list[dict[str, Any]], limit_bytes: int
) -> list[list[dict[str, Any]]]:
    """``records`` in order, cut into parts whose Lambda event is at most ``limit_bytes``
    (a record too large by itself makes a part of its own). No records, no parts."""
    parts: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = _EVENT_OVERHEAD_BYTES
    for record in records:
        record_bytes = len(orjson.dumps(record)) + 1  # and its comma
        if current and size + record_bytes > limit_bytes:
            parts.append(current)
            current, size = [], _EVENT_OVERHEAD_BYTES
        current.append(record)
        size += record_bytes
    if current:
        parts.append(current)
    return parts


def _error_summary(result: InvokeResult) -> str:
    try:
        document = orjson.loads(result.payload)
    except orjson.JSONDecodeError:
        return result.function_error or "error"
    if isinstance(document, dict):
        kind = document.get("errorType", result.function_error)
        return f"{kind}: {document.get('errorMessage', '')}".strip()
    return result.function_error or "error"
