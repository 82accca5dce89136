"""The worker pool's limits and lifecycle, observed from the handlers themselves: each
invocation appends its (start, end) monotonic times to a file, and the overlap of those
intervals is the concurrency that really happened."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from ekiden.core.errors import ServiceUnavailable, TooManyRequests
from ekiden.core.functions import FunctionSpec, InvokeResult
from ekiden.runtime.pool import WorkerPool

T = TypeVar("T")

RECORDING_HANDLER = """
import json, os, time

def handler(event, context):
    start = time.monotonic()
    time.sleep(event.get("sleep", 0.2))
    end = time.monotonic()
    with open(os.path.join(os.path.dirname(__file__), "spans.log"), "a") as spans:
        spans.write(json.dumps([start, end]) + "\\n")
    return os.getpid()
"""


def recording_function(tmp_path: Path, name: str, **spec: Any) -> FunctionSpec:
    code = tmp_path / name
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent(RECORDING_HANDLER))
    return FunctionSpec(name=name, handler="app:handler", code=str(code), **spec)


def spans(*functions: FunctionSpec) -> list[tuple[float, float]]:
    found: list[tuple[float, float]] = []
    for function in functions:
        text = (Path(function.code) / "spans.log").read_text()
        found.extend((s, e) for s, e in map(json.loads, text.splitlines()))
    return found


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an end before a start at the same time)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def with_pool(test: Callable[[WorkerPool], Awaitable[T]], **options: Any) -> T:
    async def main() -> T:
        pool = WorkerPool(
            region="us-east-1", account_id="000000000000", log_sink=lambda _: None, **options
        )
        try:
            return await test(pool)
        finally:
            await pool.close(2.0)

    return asyncio.run(main())


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_reserved_concurrency_caps_how_many_invocations_overlap(tmp_path: Path) -> None:
    spec = recording_function(tmp_path, "capped", reserved_concurrency=2)

    async def test(pool: WorkerPool) -> list[InvokeResult]:
        return await asyncio.gather(*(pool.invoke(spec, b'{"sleep": 0.2}') for _ in range(6)))

    pool_stats: dict[str, Any] = {}

    async def run(pool: WorkerPool) -> list[InvokeResult]:
        results = await test(pool)
        pool_stats.update(pool.stats())
        return results

    results = with_pool(run)
    assert all(r.function_error is None for r in results)
    assert max_overlap(spans(spec)) == 2
    assert len({r.payload for r in results}) == 2  # two warm processes served all six
    stats = pool_stats["capped"]
    assert (stats.invocations, stats.throttles, stats.peak_concurrency) == (6, 4, 2)
    assert (stats.concurrency, stats.warm_processes, stats.errors) == (0, 2, 0)
    assert 6 * 200 <= stats.total_duration_ms < 6 * 1000


def test_max_processes_caps_the_overlap_over_all_functions(tmp_path: Path) -> None:
    first = recording_function(tmp_path, "first")
    second = recording_function(tmp_path, "second")

    async def test(pool: WorkerPool) -> list[InvokeResult]:
        calls = [pool.invoke(f, b'{"sleep": 0.15}') for f in (first, second) * 3]
        results = await asyncio.gather(*calls)
        warm = sum(s.warm_processes for s in pool.stats().values())
        assert warm <= 2
        return results

    results = with_pool(test, max_processes=2)
    assert all(r.function_error is None for r in results)
    assert max_overlap(spans(first, second)) == 2


def test_an_idle_process_of_another_function_is_stopped_to_make_room(tmp_path: Path) -> None:
    first = recording_function(tmp_path, "first")
    second = recording_function(tmp_path, "second")

    async def test(pool: WorkerPool) -> tuple[int, int, dict[str, int]]:
        old = int((await pool.invoke(first, b'{"sleep": 0}')).payload)
        new = int((await pool.invoke(second, b'{"sleep": 0}')).payload)
        return old, new, {name: s.warm_processes for name, s in pool.stats().items()}

    old, new, warm = with_pool(test, max_processes=1)
    assert old != new and not process_exists(old)
    assert warm == {"first": 0, "second": 1}


def test_without_waiting_an_invocation_at_the_limit_is_refused_with_too_many_requests(
    tmp_path: Path,
) -> None:
    reserved = recording_function(tmp_path, "reserved", reserved_concurrency=1)
    other = recording_function(tmp_path, "other")

    async def test(pool: WorkerPool) -> dict[str, int]:
        busy = asyncio.create_task(pool.invoke(reserved, b'{"sleep": 0.5}'))
        await asyncio.sleep(0.2)
        with pytest.raises(TooManyRequests) as refused:
            await pool.invoke(reserved, b"{}", wait_for_capacity=False)
        assert refused.value.message == "Rate Exceeded."
        # The pool is full too (one process): another function is refused as well ...
        with pytest.raises(TooManyRequests):
            await pool.invoke(other, b"{}", wait_for_capacity=False)
        # ... or waits its turn when it may.
        waited = await pool.invoke(other, b'{"sleep": 0}')
        assert waited.function_error is None and (await busy).function_error is None
        return {name: s.throttles for name, s in pool.stats().items()}

    assert with_pool(test, max_processes=1) == {"reserved": 1, "other": 2}


def test_a_function_with_zero_reserved_concurrency_is_always_throttled(tmp_path: Path) -> None:
    spec = recording_function(tmp_path, "off", reserved_concurrency=0)

    async def test(pool: WorkerPool) -> int:
        with pytest.raises(TooManyRequests):
            await pool.invoke(spec, b"{}")
        return int(pool.stats()["off"].throttles)

    assert with_pool(test) == 1


def test_a_changed_spec_gets_a_new_process(tmp_path: Path) -> None:
    spec = recording_function(tmp_path, "changing")
    changed = FunctionSpec(
        name=spec.name, handler=spec.handler, code=spec.code, environment={"V": "2"}
    )

    async def test(pool: WorkerPool) -> list[int]:
        pids = [int((await pool.invoke(s, b'{"sleep": 0}')).payload) for s in (spec, changed)]
        await asyncio.sleep(0.3)  # the outdated process is stopped in the background
        assert pool.stats()["changing"].warm_processes == 1
        return pids

    old, new = with_pool(test, max_processes=1)
    assert old != new and not process_exists(old)


def test_close_lets_running_invocations_finish_then_kills_and_stops_the_rest(
    tmp_path: Path,
) -> None:
    quick = recording_function(tmp_path, "quick")
    stuck = recording_function(tmp_path, "stuck", timeout_s=60)
    idle = recording_function(tmp_path, "idle")

    async def main() -> None:
        pool = WorkerPool(region="us-east-1", account_id="000000000000", log_sink=lambda _: None)
        idle_pid = int((await pool.invoke(idle, b'{"sleep": 0}')).payload)
        finishing = asyncio.create_task(pool.invoke(quick, b'{"sleep": 0.3}'))
        hanging = asyncio.create_task(pool.invoke(stuck, b'{"sleep": 60}'))
        await asyncio.sleep(0.15)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await pool.close(1.0)
        assert 0.9 <= loop.time() - began < 5
        assert (await finishing).function_error is None
        killed = await hanging
        assert killed.function_error == "Unhandled"
        assert json.loads(killed.payload)["errorType"] == "Runtime.ExitError"
        assert not process_exists(idle_pid)
        assert sum(s.warm_processes for s in pool.stats().values()) == 0
        with pytest.raises(ServiceUnavailable):
            await pool.invoke(quick, b"{}")

    asyncio.run(main())


def test_invocations_waiting_for_capacity_fail_when_the_pool_closes(tmp_path: Path) -> None:
    spec = recording_function(tmp_path, "busy", reserved_concurrency=1)

    async def main() -> None:
        pool = WorkerPool(region="us-east-1", account_id="000000000000", log_sink=lambda _: None)
        running = asyncio.create_task(pool.invoke(spec, b'{"sleep": 0.3}'))
        await asyncio.sleep(0.1)
        waiting = asyncio.create_task(pool.invoke(spec, b"{}"))
        await asyncio.sleep(0.1)
        await pool.close(2.0)
        assert (await running).function_error is None
        with pytest.raises(ServiceUnavailable):
            await waiting

    asyncio.run(main())


def test_a_cancelled_invocation_kills_its_process_and_frees_its_slot(tmp_path: Path) -> None:
    spec = recording_function(tmp_path, "cancelled", reserved_concurrency=1)

    async def test(pool: WorkerPool) -> None:
        call = asyncio.create_task(pool.invoke(spec, b'{"sleep": 30}'))
        await asyncio.sleep(0.3)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        result = await asyncio.wait_for(pool.invoke(spec, b'{"sleep": 0}'), 5)
        assert result.function_error is None
        assert pool.stats()["cancelled"].warm_processes == 1

    with_pool(test)


def test_the_pool_runs_on_uvloop_like_the_server(tmp_path: Path) -> None:
    spec = recording_function(tmp_path, "on-uvloop")

    async def main() -> list[bytes]:
        pool = WorkerPool(region="us-east-1", account_id="000000000000", log_sink=lambda _: None)
        try:
            results = await asyncio.gather(
                *(pool.invoke(spec, b'{"sleep": 0.1}') for _ in range(3))
            )
            timed = FunctionSpec(name="t", handler=spec.handler, code=spec.code, timeout_s=1)
            slow = await pool.invoke(timed, b'{"sleep": 5}')
            assert slow.timed_out
            return [r.payload for r in results]
        finally:
            await pool.close(2.0)

    payloads = uvloop.run(main())
    assert len(set(payloads)) == 3
