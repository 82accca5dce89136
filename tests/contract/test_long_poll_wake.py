"""When a long-polling receive is woken by a send, on the SQLite store.

A standard queue's waiting receivers are woken as soon as the send is queued for the
store, so their claim usually joins the send's group commit and is answered before that
group's fsync: the receive returns while the send still waits for its COMMIT. A FIFO
queue's receivers are woken only once the send is durable. Either way no wake-up is
lost. The COMMIT is slowed down here so the order of the two answers is unmistakable.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ekiden.core.clock import SystemClock
from ekiden.core.services.broker import Broker
from ekiden.core.services.messages import ReceivedMessage, ReceiveOptions, SendEntry
from ekiden.store.sqlite.health import open_connection
from ekiden.store.sqlite.schema import migrate
from ekiden.store.sqlite.store import SqliteStore
from tests.support.sqlite_connections import CommitInterceptor

ACCOUNT = "000000000000"
COMMIT_DELAY_S = 0.3


class _SlowCommits(CommitInterceptor):
    """A SQLite connection whose COMMITs take ``COMMIT_DELAY_S`` longer while ``slow``."""

    slow = False

    def before_commit(self) -> None:
        if self.slow:
            time.sleep(COMMIT_DELAY_S)


def _run(tmp_path: Path, scenario: Callable[[Broker, _SlowCommits], Awaitable[None]]) -> None:
    path = tmp_path / "ekiden.sqlite3"
    setup = open_connection(path)
    migrate(setup)
    setup.close()

    async def main() -> None:
        conn = _SlowCommits(open_connection(path))
        store = SqliteStore(conn, asyncio.get_running_loop())  # type: ignore[arg-type]
        broker = Broker(store, SystemClock(), ACCOUNT, "us-east-1")
        await broker.start()
        try:
            await scenario(broker, conn)
        finally:
            await broker.stop()
            await store.close()

    asyncio.run(main())


async def _receive_while_sending(
    broker: Broker, conn: _SlowCommits, queue: str, entry: SendEntry
) -> tuple[list[ReceivedMessage], bool]:
    """Start a long poll, then a send with slow commits; what the receive got, and
    whether the send was still unanswered when the receive returned.

    The store's writer thread is held while the send and whatever it wakes are queued,
    so that they meet in one group, as they usually do under load; without that the
    writer thread could start the send's group before a woken claim is queued (it wins
    the GIL whenever the event loop polls), and the test would depend on the timing.
    """
    receive = asyncio.ensure_future(broker.messages.receive(queue, ReceiveOptions(1, 30, 5)))
    await asyncio.sleep(0.1)  # the receive found nothing and waits
    assert not receive.done()
    store = broker.store
    assert isinstance(store, SqliteStore)
    holding, gate = threading.Event(), threading.Event()
    held = store.writer.submit(lambda _: holding.set() or gate.wait(10))
    while not holding.is_set():
        await asyncio.sleep(0.01)
    conn.slow = True
    send = asyncio.ensure_future(broker.messages.send(queue, [entry], ACCOUNT))
    await asyncio.sleep(0.1)  # the send and any claim it woke queue up while the writer is held
    gate.set()
    received = await asyncio.wait_for(receive, 5)
    send_was_pending = not send.done()
    (result,) = await send
    await held
    assert not isinstance(result, Exception)
    assert [m.message_id for m in received] == [result.message_id]
    return received, send_was_pending


def test_a_waiting_receive_gets_a_standard_message_before_its_send_is_committed(
    tmp_path: Path,
) -> None:
    async def scenario(broker: Broker, conn: _SlowCommits) -> None:
        await broker.queues.create("jobs", {}, {})
        received, send_was_pending = await _receive_while_sending(
            broker, conn, "jobs", SendEntry("early")
        )
        assert [m.body for m in received] == ["early"]
        assert send_was_pending  # answered before the send's slow COMMIT was done

    _run(tmp_path, scenario)


def test_a_waiting_fifo_receive_gets_the_message_only_after_its_send_is_committed(
    tmp_path: Path,
) -> None:
    async def scenario(broker: Broker, conn: _SlowCommits) -> None:
        await broker.queues.create("jobs.fifo", {"FifoQueue": "true"}, {})
        entry = SendEntry("ordered", group_id="g", dedup_id="d1")
        received, send_was_pending = await _receive_while_sending(broker, conn, "jobs.fifo", entry)
        assert [m.body for m in received] == ["ordered"]
        assert not send_was_pending

    _run(tmp_path, scenario)


def test_a_delayed_message_does_not_wake_a_waiting_receive_early(tmp_path: Path) -> None:
    async def scenario(broker: Broker, conn: _SlowCommits) -> None:
        await broker.queues.create("jobs", {}, {})
        receive = asyncio.ensure_future(broker.messages.receive("jobs", ReceiveOptions(1, 30, 1)))
        await asyncio.sleep(0.1)
        await broker.messages.send("jobs", [SendEntry("later", delay_s=60)], ACCOUNT)
        assert await asyncio.wait_for(receive, 5) == []  # the long poll ran out

    _run(tmp_path, scenario)


def test_receivers_woken_by_every_send_of_a_burst_get_every_message_once(
    tmp_path: Path,
) -> None:
    async def scenario(broker: Broker, conn: _SlowCommits) -> None:
        await broker.queues.create("jobs", {}, {})
        receivers = [
            asyncio.ensure_future(broker.messages.receive("jobs", ReceiveOptions(1, 30, 5)))
            for _ in range(8)
        ]
        await asyncio.sleep(0.1)
        sends = [broker.messages.send("jobs", [SendEntry(f"m{i}")], ACCOUNT) for i in range(8)]
        await asyncio.gather(*sends)
        received = await asyncio.wait_for(asyncio.gather(*receivers), 5)
        assert sorted(m.body for batch in received for m in batch) == [f"m{i}" for i in range(8)]

    _run(tmp_path, scenario)
