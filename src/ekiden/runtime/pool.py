"""The worker pool: runs Lambda Python handlers in warm, reused OS processes.

:class:`WorkerPool` implements :class:`ekiden.core.functions.FunctionInvoker`. Each
invocation gets a process of its function to itself (one invocation at a time per
process); finished processes stay warm for the next invocation of the same function
spec. Limits:

* per function, at most ``reserved_concurrency`` invocations at once (when set);
* over all functions, at most ``max_processes`` processes. When the cap is reached an
  idle process of another function (or of an outdated spec) is stopped to make room.

At a limit an invocation waits (``wait_for_capacity=True``) or is refused with
``TooManyRequests("Rate Exceeded.")``; both count as a throttle.

Processes are started with asyncio subprocesses (never a fork of the server, which has
threads); see :mod:`ekiden.runtime.worker_process` for one process and
:mod:`ekiden.runtime.handler_process` for the program inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ekiden.core.errors import ServiceUnavailable, TooManyRequests
from ekiden.core.figures import FunctionStats
from ekiden.core.functions import FunctionSpec, InvokeResult
from ekiden.runtime.worker_process import WorkerProcess, WorkerSettings

_function_log = logging.getLogger("ekiden.functions")


def _default_sink(line: str) -> None:
    _function_log.info("%s", line)


@dataclass(slots=True)
class _FunctionState:
    idle: list[WorkerProcess] = field(default_factory=list)  # most recently used last
    active: int = 0
    processes: int = 0
    invocations: int = 0
    errors: int = 0
    timeouts: int = 0
    throttles: int = 0
    total_duration_ms: float = 0.0
    peak: int = 0


@dataclass(slots=True)
class _Lease:
    """A granted invocation slot: a warm worker, or the right to start a new process
    (after stopping ``victim``, whose process slot it takes over)."""

    worker: WorkerProcess | None = None
    victim: WorkerProcess | None = None


class WorkerPool:
    """Runs handlers in warm worker processes (see the module docstring).

    Args:
        region, account_id: used in ARNs and the handler's environment.
        max_processes: cap on live handler processes over all functions (>= 1).
        log_sink: receives every log line, tagged ``[function-name]``; default: the
            logger ``ekiden.functions`` at INFO. Called on the event loop: must not block.
        endpoint_url: exported to handlers as ``AWS_ENDPOINT_URL_SQS``, ``_SNS`` and
            ``_LAMBDA`` (so boto3 reaches ekiden for those services) unless the
            function's environment sets them or ``AWS_ENDPOINT_URL``.
        python: the interpreter that runs handlers (Python 3.11+).
    """

    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        max_processes: int = 32,
        log_sink: Callable[[str], None] | None = None,
        endpoint_url: str | None = None,
        python: str = sys.executable,
    ) -> None:
        if max_processes < 1:
            raise ValueError("max_processes must be at least 1")
        self._settings = WorkerSettings(
            region=region,
            account_id=account_id,
            endpoint_url=endpoint_url,
            python=python,
            sink=log_sink or _default_sink,
        )
        self._max_processes = max_processes
        self._processes = 0  # live or starting processes, all functions
        self._functions: dict[str, _FunctionState] = {}
        self._busy: set[WorkerProcess] = set()
        self._capacity_changed = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    # --- public API ----------------------------------------------------------------------

    async def invoke(
        self,
        function: FunctionSpec,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        wait_for_capacity: bool = True,
    ) -> InvokeResult:
        """Invoke ``function`` with the JSON ``payload`` (the FunctionInvoker contract).

        Waits while the function or the pool is at its limit, or raises
        ``TooManyRequests("Rate Exceeded.")`` when ``wait_for_capacity`` is false (always,
        whatever ``wait_for_capacity``, for ``reserved_concurrency == 0``). Raises
        ``ServiceUnavailable`` once :meth:`close` began, and ``OSError`` if the
        interpreter cannot be started. Handler errors, timeouts and crashes are results.
        """
        if self._closed:
            raise ServiceUnavailable("The function runtime is shutting down.")
        state = self._functions.setdefault(function.name, _FunctionState())
        lease = await self._acquire(function, state, wait_for_capacity)
        worker = lease.worker
        if worker is None:
            worker = WorkerProcess(function, self._settings)
            worker.on_exit = self._on_worker_exit
        self._busy.add(worker)
        try:
            if lease.victim is not None:
                await lease.victim.stop()
            result = await worker.invoke(request_id or str(uuid.uuid4()), payload, client_context)
        except BaseException:
            worker.kill()
            raise
        finally:
            self._busy.discard(worker)
            self._release(state, worker)
        state.invocations += 1
        state.total_duration_ms += result.duration_ms
        if result.function_error is not None:
            state.errors += 1
        if result.timed_out:
            state.timeouts += 1
        return result

    def stats(self) -> Mapping[str, FunctionStats]:
        """A snapshot of every invoked function's counters, by function name."""
        return {
            name: FunctionStats(
                invocations=s.invocations,
                errors=s.errors,
                timeouts=s.timeouts,
                throttles=s.throttles,
                total_duration_ms=s.total_duration_ms,
                concurrency=s.active,
                peak_concurrency=s.peak,
                warm_processes=s.processes,
            )
            for name, s in self._functions.items()
        }

    async def close(self, timeout_s: float) -> None:
        """Stop accepting invocations, let running ones finish for up to ``timeout_s``,
        then kill their processes (they return ``Runtime.ExitError`` results), and stop
        every idle process. Invocations waiting for capacity raise ``ServiceUnavailable``."""
        self._closed = True
        self._notify()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while any(s.active for s in self._functions.values()):
                    await self._wait_for_change()
        for worker in list(self._busy):
            worker.kill()
        while any(s.active for s in self._functions.values()):
            await self._wait_for_change()  # the killed invocations return promptly
        for state in self._functions.values():
            while state.idle:
                self._retire(state.idle.pop(), state)
        await asyncio.gather(*self._background)

    # --- capacity --------------------------------------------------------------------------

    def _notify(self) -> None:
        self._capacity_changed.set()
        self._capacity_changed = asyncio.Event()

    async def _wait_for_change(self) -> None:
        await self._capacity_changed.wait()

    async def _acquire(
        self, spec: FunctionSpec, state: _FunctionState, wait_for_capacity: bool
    ) -> _Lease:
        throttled = False
        while True:
            if self._closed:
                raise ServiceUnavailable("The function runtime is shutting down.")
            lease = self._try_acquire(spec, state)
            if lease is not None:
                state.active += 1
                state.peak = max(state.peak, state.active)
                return lease
            if not throttled:
                throttled = True
                state.throttles += 1
            if not wait_for_capacity or spec.reserved_concurrency == 0:
                raise TooManyRequests("Rate Exceeded.")
            await self._wait_for_change()

    def _try_acquire(self, spec: FunctionSpec, state: _FunctionState) -> _Lease | None:
        """Take capacity without awaiting (so the check and the taking are atomic)."""
        if spec.reserved_concurrency is not None and state.active >= spec.reserved_concurrency:
            return None
        while state.idle:
            worker = state.idle.pop()
            if worker.alive and worker.spec == spec:
                return _Lease(worker=worker)
            self._retire(worker, state)  # dead, or started for an older spec
        if self._processes < self._max_processes:
            self._processes += 1
            state.processes += 1
            return _Lease()
        victim = self._idle_victim()
        if victim is None:
            return None
        # The new process takes over the victim's slot: the count never exceeds the cap.
        victim_state = self._functions[victim.spec.name]
        victim_state.idle.remove(victim)
        victim.on_exit = None
        victim_state.processes -= 1
        state.processes += 1
        return _Lease(victim=victim)

    def _idle_victim(self) -> WorkerProcess | None:
        """The idle process unused for longest (first of its function's idle list) of the
        function with the most idle processes."""
        candidates = [s for s in self._functions.values() if s.idle]
        if not candidates:
            return None
        return max(candidates, key=lambda s: len(s.idle)).idle[0]

    def _retire(self, worker: WorkerProcess, state: _FunctionState) -> None:
        """Give up an idle worker's process slot and stop it in the background."""
        self._processes -= 1
        state.processes -= 1
        worker.on_exit = None
        task = asyncio.create_task(worker.stop())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _release(self, state: _FunctionState, worker: WorkerProcess) -> None:
        state.active -= 1
        if worker.alive and not self._closed:
            state.idle.append(worker)
        else:
            worker.on_exit = None
            self._processes -= 1
            state.processes -= 1
            if worker.alive:  # healthy but the pool is closing
                task = asyncio.create_task(worker.stop())
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        self._notify()

    def _on_worker_exit(self, worker: WorkerProcess) -> None:
        """An idle process exited by itself (a thread of the handler called ``os._exit``):
        free its slot now. Busy workers are handled when their invocation ends."""
        state = self._functions.get(worker.spec.name)
        if state is not None and worker in state.idle:
            state.idle.remove(worker)
            worker.on_exit = None
            self._processes -= 1
            state.processes -= 1
            self._notify()
