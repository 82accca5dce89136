"""Runs a scenario: queues set up, phases run in worker processes, queues torn down.

A scenario is a short script of phases against fresh, uniquely named queues (see
:data:`SCENARIOS`); each phase runs in ``--processes`` spawned workers whose results are
merged. With ``--compare`` the whole scenario runs against both endpoints in
alternation, ``A B A B ...`` for ``--rounds`` rounds, so that both see the same drift of
the machine's speed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, Final, TypeVar

import uvloop

from ekiden.bench.options import BenchOptions
from ekiden.bench.progress import Progress
from ekiden.bench.results import PhaseResult
from ekiden.bench.sigv4 import Credentials
from ekiden.bench.sqs import EndpointConfig, SqsAdmin
from ekiden.bench.worker import BARRIER_TIMEOUT_S, COUNTER_SLOTS, PhaseSpec, worker_main

__all__ = ["BenchError", "EndpointRun", "Runner"]

#: Every queue is made with this visibility timeout, longer than any phase waits, so that
#: a received message never comes back during a run.
VISIBILITY_TIMEOUT_S: Final = "300"
_POLL_S: Final = 0.25
_RESULT_GRACE_S: Final = 3.0
_T = TypeVar("_T")


class BenchError(Exception):
    """The benchmark could not run (set-up failed, a worker crashed)."""


@dataclass
class EndpointRun:
    """One run of the scenario against one endpoint."""

    label: str
    endpoint: str
    round: int
    queues: list[str] = field(default_factory=list)
    phases: list[PhaseResult] = field(default_factory=list)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)

    def phase(self, name: str) -> PhaseResult:
        for result in self.phases:
            if result.name == name:
                return result
        raise KeyError(name)


class Runner:
    """Runs ``options`` and returns every :class:`EndpointRun`, in the order run."""

    def __init__(
        self,
        options: BenchOptions,
        credentials: Credentials | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.options = options
        self.progress = progress or Progress(None)
        self._credentials = credentials
        self._mp = multiprocessing.get_context("spawn")
        self._loop_runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)

    def endpoints(self) -> list[tuple[str, EndpointConfig]]:
        """``("A", endpoint)`` and, with ``--compare``, ``("B", compared endpoint)``.

        Raises:
            BenchError: an endpoint URL is unusable.
        """
        urls = [("A", self.options.endpoint)]
        if self.options.compare:
            urls.append(("B", self.options.compare))
        try:
            return [
                (label, EndpointConfig.parse(url, self.options.region, self._credentials))
                for label, url in urls
            ]
        except ValueError as exc:
            raise BenchError(str(exc)) from exc

    def run(self) -> list[EndpointRun]:
        endpoints = self.endpoints()
        runs: list[EndpointRun] = []
        try:
            for round_no in range(1, self.options.rounds + 1):
                for label, endpoint in endpoints:
                    run = EndpointRun(label, endpoint.url, round_no)
                    runs.append(run)
                    self._run_scenario(run, endpoint)
        finally:
            self._loop_runner.close()
        return runs

    # -- queues ------------------------------------------------------------------------

    def _admin(
        self, endpoint: EndpointConfig, work: Callable[[SqsAdmin], Coroutine[Any, Any, _T]]
    ) -> _T:
        async def go() -> _T:
            admin = SqsAdmin(endpoint, asyncio.get_running_loop())
            try:
                return await work(admin)
            finally:
                admin.close()

        try:
            return self._loop_runner.run(go())
        except Exception as exc:
            raise BenchError(f"{endpoint.url}: {exc}") from exc

    def _create_queues(
        self, run: EndpointRun, endpoint: EndpointConfig, run_id: str, names: list[str]
    ) -> list[str]:
        options = self.options
        attributes = {"VisibilityTimeout": VISIBILITY_TIMEOUT_S}
        suffix = ""
        if options.fifo:
            attributes.update({"FifoQueue": "true", "ContentBasedDeduplication": "false"})
            suffix = ".fifo"
        full = [f"ekiden-bench-{options.scenario}-{run_id}-{n}{suffix}" for n in names]

        async def create(admin: SqsAdmin) -> list[str]:
            return [await admin.create_queue(name, attributes) for name in full]

        urls = self._admin(endpoint, create)
        run.queues.extend(urls)
        return urls

    def _delete_queues(self, run: EndpointRun, endpoint: EndpointConfig) -> None:
        async def delete(admin: SqsAdmin) -> None:
            for url in run.queues:
                await admin.delete_queue(url)

        self._admin(endpoint, delete)

    # -- scenarios ---------------------------------------------------------------------

    def _run_scenario(self, run: EndpointRun, endpoint: EndpointConfig) -> None:
        options = self.options
        run_id = uuid.uuid4().hex[:10]
        base = PhaseSpec(
            name=options.scenario,
            kind=options.scenario,
            endpoint=endpoint,
            queue_urls=(),
            processes=options.processes,
            connections=options.connections_per_process(),
            pipeline=options.pipeline,
            duration_s=options.duration_s,
            messages=options.messages,
            target=None,
            body_size=options.body_size,
            fifo=options.fifo,
            groups=options.groups,
            rate=options.rate,
            run_id=run_id,
        )
        try:
            _SCENARIOS[options.scenario](self, run, endpoint, base)
        finally:
            if not options.keep_queue and run.queues:
                self._delete_queues(run, endpoint)

    def _phase(self, run: EndpointRun, spec: PhaseSpec) -> PhaseResult:
        label = f"{run.label}{run.round} {spec.name}" if self.options.compare else spec.name
        result = self._run_workers(spec, label)
        run.phases.append(result)
        return result

    def _send(self, run: EndpointRun, endpoint: EndpointConfig, base: PhaseSpec) -> None:
        (url,) = self._create_queues(run, endpoint, base.run_id, ["q"])
        self._phase(run, replace(base, queue_urls=(url,)))

    def _drain(self, run: EndpointRun, endpoint: EndpointConfig, base: PhaseSpec) -> None:
        (url,) = self._create_queues(run, endpoint, base.run_id, ["q"])
        count = self.options.messages or self.options.prefill
        fill = self._fill(run, base, url, "fill", count)  # None: for --duration
        self._phase(
            run,
            replace(base, name="drain", queue_urls=(url,), messages=None, target=fill.messages),
        )

    def _fill(
        self, run: EndpointRun, base: PhaseSpec, url: str, name: str, count: int | None
    ) -> PhaseResult:
        """Fill ``url`` with ``count`` messages (None: for the phase duration) as fast as
        batches allow."""
        spec = replace(
            base,
            name=name,
            kind="send-batch",
            queue_urls=(url,),
            duration_s=None if count is not None else base.duration_s,
            messages=count,
            connections=max(base.connections, 4),
        )
        return self._phase(run, spec)

    def _timed(self, run: EndpointRun, endpoint: EndpointConfig, base: PhaseSpec) -> None:
        names = [f"p{i}" for i in range(self.options.processes)]
        urls = self._create_queues(run, endpoint, base.run_id, names)
        self._phase(run, replace(base, queue_urls=tuple(urls)))

    def _backlog(self, run: EndpointRun, endpoint: EndpointConfig, base: PhaseSpec) -> None:
        options = self.options
        empty, full = self._create_queues(run, endpoint, base.run_id, ["empty", "full"])
        sent = self._phase(run, replace(base, name="send-empty", kind="send", queue_urls=(empty,)))
        self._phase(
            run,
            replace(
                base,
                name="drain-empty",
                kind="drain",
                queue_urls=(empty,),
                messages=None,
                target=sent.messages,
            ),
        )
        self._fill(run, base, full, "fill", options.backlog)
        run.attributes["before"] = self._attributes(endpoint, full)
        self._phase(run, replace(base, name="send-backlog", kind="send", queue_urls=(full,)))
        self._phase(
            run,
            replace(
                base,
                name="drain-backlog",
                kind="drain",
                queue_urls=(full,),
            ),
        )

    def _attributes(self, endpoint: EndpointConfig, url: str) -> dict[str, str]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

        async def read(admin: SqsAdmin) -> dict[str, str]:
            return await admin.attributes(url, names)

        return self._admin(endpoint, read)

    # -- worker processes ----------------------------------------------------------------

    def _run_workers(self, spec: PhaseSpec, label: str) -> PhaseResult:
        processes = spec.processes
        counters = self._mp.Array("q", processes * COUNTER_SLOTS, lock=False)
        barrier = self._mp.Barrier(processes + 1)
        results = self._mp.Queue()
        workers = [
            self._mp.Process(
                target=worker_main,
                args=(spec, index, counters, barrier, results),
                name=f"ekiden-bench-{index}",
                daemon=True,
            )
            for index in range(processes)
        ]
        for worker in workers:
            worker.start()
        collected: dict[int, tuple[str, Any]] = {}
        try:
            self._start_together(barrier, results, collected)
            started = time.monotonic()
            dead_since: dict[int, float] = {}
            while len(collected) < processes:
                try:
                    index, status, payload = results.get(timeout=_POLL_S)
                    collected[index] = (status, payload)
                except queue.Empty:
                    self._check_alive(workers, collected, dead_since)
                self.progress.update(label, time.monotonic() - started, counters)
        except BaseException:
            for worker in workers:
                worker.terminate()
            raise
        finally:
            self.progress.done()
            for worker in workers:
                worker.join(5)
                if worker.is_alive():  # pragma: no cover - a wedged worker
                    worker.kill()
                    worker.join(5)
        failures = [payload for status, payload in collected.values() if status != "ok"]
        if failures:
            raise BenchError(f"a load-generating process failed:\n{failures[0]}")
        merged: PhaseResult | None = None
        for _, payload in sorted(collected.items()):
            part = PhaseResult.from_dict(payload[1])
            if merged is None:
                merged = part
            else:
                merged.merge(part)
        assert merged is not None
        return merged

    @staticmethod
    def _start_together(barrier: Any, results: Any, collected: dict[int, tuple[str, Any]]) -> None:
        """Pass the barrier with the workers; collect a worker's failure if it broke it."""
        try:
            barrier.wait(BARRIER_TIMEOUT_S)
        except threading.BrokenBarrierError:
            try:
                index, status, payload = results.get(timeout=10)
                collected[index] = (status, payload)
            except queue.Empty:
                pass
            detail = next((p for s, p in collected.values() if s != "ok"), "no detail")
            raise BenchError(f"a load-generating process failed to start:\n{detail}") from None

    @staticmethod
    def _check_alive(
        workers: list[Any], collected: dict[int, tuple[str, Any]], dead_since: dict[int, float]
    ) -> None:
        """Fail when a worker exited without a result (after a grace period for the
        result it may still have in the queue's pipe)."""
        now = time.monotonic()
        for index, worker in enumerate(workers):
            if index in collected or worker.exitcode is None:
                continue
            if now - dead_since.setdefault(index, now) > _RESULT_GRACE_S:
                raise BenchError(
                    f"load-generating process {index} exited with {worker.exitcode} "
                    "without a result"
                )


_SCENARIOS: Final[dict[str, Callable[[Runner, EndpointRun, EndpointConfig, PhaseSpec], None]]] = {
    "send": Runner._send,
    "send-batch": Runner._send,
    "drain": Runner._drain,
    "latency": Runner._timed,
    "long-poll": Runner._timed,
    "backlog": Runner._backlog,
}
