"""One load-generating process: its share of a phase, on its own uvloop loop.

The parent starts one process per ``--processes`` with :func:`worker_main`. Each opens
its connections, waits at a barrier shared with the parent (so every process starts the
measured part at the same moment), runs the phase (see :mod:`ekiden.bench.phases`) and
puts its :class:`~ekiden.bench.results.PhaseResult` on the results queue as a dict.

While it runs it copies its counts (messages, requests, errors) into its slots of a
shared array about ten times a second: the parent reads them for the progress line and
drain phases read them to know when all processes together have drained enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any, Final

import uvloop

from ekiden.bench.results import PhaseResult

__all__ = ["COUNTER_SLOTS", "PhaseSpec", "WorkerState", "worker_main"]

#: Slots per process in the shared counter array: messages, requests, errors.
COUNTER_SLOTS: Final = 3
PUBLISH_INTERVAL_S: Final = 0.1
BARRIER_TIMEOUT_S: Final = 120.0

#: The histogram reported as "latency" for each kind of phase.
HEADLINES: Final[dict[str, str]] = {
    "send": "SendMessage",
    "send-batch": "SendMessageBatch",
    "drain": "receive+delete",
    "latency": "end-to-end",
    "long-poll": "wake-up",
}


@dataclass(frozen=True)
class PhaseSpec:
    """What every process of one phase is to do (the same for all; picklable).

    ``messages`` and ``rate`` are totals over all processes, shared out by :meth:`share`;
    ``messages`` is what to send, or in drain the most to receive. ``target`` (drain)
    stops every process once they have deleted that many messages together.
    ``queue_urls`` holds one queue shared by all, or one per process (latency and
    long-poll, so that each process sees its own messages).
    """

    name: str
    kind: str
    endpoint: Any  # EndpointConfig; Any keeps this module free of the HTTP imports
    queue_urls: tuple[str, ...]
    processes: int
    connections: int
    pipeline: int
    duration_s: float | None
    messages: int | None
    target: int | None
    body_size: int
    fifo: bool
    groups: int
    rate: float
    run_id: str

    def share(self, total: int, index: int) -> int:
        """Process ``index``'s part of ``total`` (the parts add up to ``total``)."""
        base, extra = divmod(total, self.processes)
        return base + (1 if index < extra else 0)

    def queue_url(self, index: int) -> str:
        return self.queue_urls[index % len(self.queue_urls)]


class WorkerState:
    """The counting and stopping rules of one process in one phase."""

    def __init__(self, spec: PhaseSpec, index: int, counters: Any) -> None:
        self.spec = spec
        self.index = index
        self.result = PhaseResult(spec.name, spec.kind, HEADLINES[spec.kind])
        self.quota = None if spec.messages is None else spec.share(spec.messages, index)
        self.issued = 0
        self.stopping = False
        self.start_ns = 0
        self.last_ack_ns = 0
        self._deadline_ns = 0
        self._counters = counters
        self._slot = index * COUNTER_SLOTS
        self._others = 0  # messages of the other processes, as last published

    def begin(self) -> None:
        self.start_ns = perf_counter_ns()
        if self.spec.duration_s is not None:
            self._deadline_ns = self.start_ns + int(self.spec.duration_s * 1e9)

    def past_deadline(self) -> bool:
        return self._deadline_ns != 0 and perf_counter_ns() >= self._deadline_ns

    def take(self, most: int) -> int:
        """How many messages the next request may carry (up to ``most``); 0: stop."""
        if self.stopping or (self._deadline_ns and perf_counter_ns() >= self._deadline_ns):
            return 0
        if self.quota is None:
            self.issued += most
            return most
        n = min(most, self.quota - self.issued)
        if n <= 0:
            return 0
        self.issued += n
        return n

    def give_back(self, n: int) -> None:
        """Return ``n`` messages taken with :meth:`take` but not used (drain)."""
        self.issued -= n

    def target_reached(self) -> bool:
        """Whether all processes together acknowledged ``spec.target`` messages."""
        target = self.spec.target
        return target is not None and self._others + self.result.messages >= target

    def acked(self, n: int, now_ns: int) -> None:
        self.result.messages += n
        self.last_ack_ns = now_ns

    def failed(self, kind: str, n: int = 1) -> None:
        self.result.errors += n
        self.result.error_kinds[kind] += n

    def publish(self) -> None:
        """Copy this process's counts out and read the others' message counts in."""
        counters, slot, result = self._counters, self._slot, self.result
        counters[slot] = result.messages
        counters[slot + 1] = result.requests
        counters[slot + 2] = result.errors
        total = sum(counters[i] for i in range(0, len(counters), COUNTER_SLOTS))
        self._others = total - result.messages

    def finish(self) -> PhaseResult:
        end_ns = self.last_ack_ns or perf_counter_ns()
        self.result.elapsed_s = max(0.0, (end_ns - self.start_ns) / 1e9)
        self.publish()
        return self.result


async def _publisher(state: WorkerState, abandon: Callable[[], None]) -> None:
    """Publish the counts periodically; ``abandon`` the phase if the parent is gone (a
    killed parent does not take its daemon processes with it)."""
    parent = os.getppid()
    while True:
        await asyncio.sleep(PUBLISH_INTERVAL_S)
        state.publish()
        if os.getppid() != parent:
            abandon()
            return


async def _run(spec: PhaseSpec, index: int, counters: Any, barrier: Any) -> PhaseResult:
    from ekiden.bench.phases import Phase  # the HTTP side, loaded in the worker only

    state = WorkerState(spec, index, counters)
    phase = Phase(asyncio.get_running_loop(), state)
    await phase.prepare()
    barrier.wait(BARRIER_TIMEOUT_S)  # blocking on purpose: nothing else runs yet
    state.begin()
    publisher = asyncio.get_running_loop().create_task(_publisher(state, phase.abandon))
    try:
        await phase.run()
    finally:
        publisher.cancel()
        phase.close()
    return state.finish()


def worker_main(spec: PhaseSpec, index: int, counters: Any, barrier: Any, results: Any) -> None:
    """Process entry point: run process ``index``'s share of ``spec``.

    Puts ``(index, "ok", result dict)`` or ``(index, "error", traceback text)`` on
    ``results``. Ignores SIGINT: the parent decides what Ctrl-C means.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(_run(spec, index, counters, barrier))
        results.put((index, "ok", result.to_dict()))
    except BaseException:
        with contextlib.suppress(Exception):
            barrier.abort()  # so that the parent does not wait for this process
        results.put((index, "error", traceback.format_exc()))
