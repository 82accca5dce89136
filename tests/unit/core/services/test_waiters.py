"""QueueWaiters: the per-queue wake-up signals that make long polling event-driven."""

from __future__ import annotations

import asyncio

from ekiden.core.services.waiters import QueueWaiters

TINY_S = 0.01  # the only real waiting: long enough to be "not yet", never asserted on


def test_watching_a_queue_twice_before_a_change_gives_the_same_future() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        first = waiters.watch(1)
        assert waiters.watch(1) is first
        assert not first.done()

    asyncio.run(scenario())


def test_notify_completes_the_future_of_that_queue() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        future = waiters.watch(1)
        waiters.notify(1)
        assert future.done()
        assert future.result() is None

    asyncio.run(scenario())


def test_a_watch_after_a_notify_waits_for_the_next_change() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        old = waiters.watch(1)
        waiters.notify(1)
        new = waiters.watch(1)
        assert new is not old
        assert not new.done()
        waiters.notify(1)
        assert new.done()

    asyncio.run(scenario())


def test_notify_wakes_only_the_queue_it_names() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        one, two = waiters.watch(1), waiters.watch(2)
        assert one is not two
        waiters.notify(2)
        assert two.done()
        assert not one.done()

    asyncio.run(scenario())


def test_notify_without_watchers_is_harmless_and_not_remembered() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        waiters.notify(1)
        waiters.notify(1)
        assert not waiters.watch(1).done()

    asyncio.run(scenario())


def test_one_notify_wakes_every_waiter_of_the_queue() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        future = waiters.watch(1)
        tasks = [asyncio.create_task(QueueWaiters.wait(waiters.watch(1), 30)) for _ in range(5)]
        await asyncio.sleep(0)
        waiters.notify(1)
        assert await asyncio.gather(*tasks) == [True] * 5
        assert future.done()

    asyncio.run(scenario())


def test_wait_returns_true_when_woken() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        future = waiters.watch(1)
        asyncio.get_running_loop().call_soon(waiters.notify, 1)
        assert await QueueWaiters.wait(future, 30) is True

    asyncio.run(scenario())


def test_wait_returns_false_when_nothing_happens_before_the_timeout() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        assert await QueueWaiters.wait(waiters.watch(1), TINY_S) is False

    asyncio.run(scenario())


def test_a_change_between_watch_and_wait_is_not_missed() -> None:
    # The receive path takes the future before its (empty) claim; a send that lands in
    # between must still wake it.
    async def scenario() -> None:
        waiters = QueueWaiters()
        future = waiters.watch(1)
        waiters.notify(1)
        assert await QueueWaiters.wait(future, 30) is True

    asyncio.run(scenario())


def test_wait_without_time_left_reports_whether_a_change_already_happened() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        future = waiters.watch(1)
        assert await QueueWaiters.wait(future, 0) is False
        assert await QueueWaiters.wait(future, -1) is False
        waiters.notify(1)
        assert await QueueWaiters.wait(future, 0) is True

    asyncio.run(scenario())


def test_a_waiter_that_times_out_does_not_spoil_the_future_for_others() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        future = waiters.watch(1)
        assert await QueueWaiters.wait(future, TINY_S) is False
        assert not future.cancelled()
        assert waiters.watch(1) is future
        patient = asyncio.create_task(QueueWaiters.wait(future, 30))
        await asyncio.sleep(0)
        waiters.notify(1)
        assert await patient is True

    asyncio.run(scenario())


def test_a_cancelled_waiter_does_not_cancel_the_shared_future() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        future = waiters.watch(1)
        doomed = asyncio.create_task(QueueWaiters.wait(future, 30))
        other = asyncio.create_task(QueueWaiters.wait(future, 30))
        await asyncio.sleep(0)
        doomed.cancel()
        await asyncio.gather(doomed, return_exceptions=True)
        assert not future.cancelled()
        waiters.notify(1)
        assert await other is True

    asyncio.run(scenario())


def test_close_wakes_every_waiter_of_every_queue() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        futures = [waiters.watch(queue_id) for queue_id in (1, 2, 3)]
        task = asyncio.create_task(QueueWaiters.wait(futures[0], 30))
        await asyncio.sleep(0)
        assert not waiters.closed
        waiters.close()
        assert waiters.closed
        assert all(f.done() for f in futures)
        assert await task is True

    asyncio.run(scenario())


def test_after_close_a_watch_is_already_complete() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        waiters.close()
        future = waiters.watch(1)
        assert future.done()
        assert await QueueWaiters.wait(future, 30) is True
        assert waiters.watch(2).done()
        assert waiters.watch(1).done()

    asyncio.run(scenario())


def test_close_twice_and_notify_after_close_are_harmless() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        future = waiters.watch(1)
        waiters.close()
        waiters.close()
        waiters.notify(1)
        assert future.done()
        assert waiters.closed

    asyncio.run(scenario())


def test_a_future_already_completed_is_replaced_on_the_next_watch() -> None:
    async def scenario() -> None:
        waiters = QueueWaiters()
        future = waiters.watch(1)
        future.set_result(None)  # completed by someone else: the next watch starts afresh
        fresh = waiters.watch(1)
        assert fresh is not future
        assert not fresh.done()

    asyncio.run(scenario())
