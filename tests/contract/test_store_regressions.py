"""Store-level regressions of the review fixes (commit 87632bf).

Most tests run against every store implementation through the harness of the contract
suite (``test_store_contract.py``): time is a fake clock handed to each call, so retention
and visibility are crossed by moving the clock. The last section is specific to the SQLite
store: a commit that fails must make ``healthy()`` false (and ``/health`` answer 503), and
the FIFO group pick must be served by its index rather than by sorting every group.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest

from ekiden.core.clock import SystemClock
from ekiden.core.errors import QueueDoesNotExist, ServiceUnavailable
from ekiden.core.services.broker import Broker
from ekiden.core.storage import ClaimRequest, QueueCounts, QueueRecord, VisibilityOutcome
from ekiden.server.app import SqsApp
from ekiden.server.http_messages import HttpRequest
from ekiden.store.sqlite.schema import migrate
from ekiden.store.sqlite.store import SqliteStore, open_connection
from tests.contract.test_sqlite_durability import _CommitFailsOnce
from tests.contract.test_store_contract import (
    DAY_MS,
    Harness,
    _dead_letter_all,
    _start_task,
    _task,
    new_message,
    run,
)
from tests.support.stores import StoreOpener

MINUTE_MS = 60_000

# --- a new retention period applies to the messages already queued ---------------------


def test_raising_the_retention_period_keeps_a_queued_message_past_its_old_expiry(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "kept", retention_ms=MINUTE_MS)
        await h.store.reset_retention(queue.queue_id, DAY_MS)
        h.advance(s=120)
        assert await h.store.expire(h.now) == 0
        assert await h.counts(queue) == QueueCounts(1, 0, 0)
        assert await h.bodies(queue) == ["kept"]

    run(store_factory, scenario)


def test_lowering_the_retention_period_expires_queued_messages_sooner(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "visible", "in flight", retention_ms=4 * DAY_MS)
        (in_flight,) = await h.receive(queue, max_messages=1, visibility_s=3600)
        await h.store.reset_retention(queue.queue_id, MINUTE_MS)
        h.advance(s=59)
        assert await h.store.expire(h.now) == 0, "sent 59 s ago: within the new minute"
        h.advance(s=1)
        assert await h.store.expire(h.now) == 2, "in-flight messages expire as well"
        assert await h.counts(queue) == QueueCounts(0, 0, 0)
        assert await h.delete(queue, [in_flight]) == [False]

    run(store_factory, scenario)


def test_a_retention_change_is_measured_from_each_message_send_time(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "older", retention_ms=4 * DAY_MS)
        h.advance(s=90)
        await h.send(queue, "younger", retention_ms=4 * DAY_MS)
        await h.store.reset_retention(queue.queue_id, 2 * MINUTE_MS)
        h.advance(s=30)  # "older" is now 120 s old, "younger" 30 s
        assert await h.store.expire(h.now) == 1
        assert await h.bodies(queue) == ["younger"]

    run(store_factory, scenario)


def test_a_retention_change_leaves_the_messages_of_other_queues_alone(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        changed = await h.queue("changed")
        other = await h.queue("other")
        await h.send(changed, "short now", retention_ms=4 * DAY_MS)
        await h.send(other, "untouched", retention_ms=4 * DAY_MS)
        await h.store.reset_retention(changed.queue_id, MINUTE_MS)
        h.advance(s=61)
        assert await h.store.expire(h.now) == 1
        assert await h.bodies(other) == ["untouched"]
        assert await h.bodies(changed) == []

    run(store_factory, scenario)


def test_a_new_retention_period_survives_a_reopen(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "kept", retention_ms=MINUTE_MS)
        await h.store.reset_retention(queue.queue_id, DAY_MS)
        await h.restart()
        h.advance(s=120)
        assert await h.store.expire(h.now) == 0
        assert await h.bodies(queue) == ["kept"]

    run(store_factory, scenario)


async def _dead_letter_group(
    h: Harness, source: QueueRecord, dlq: QueueRecord, group: str, *bodies: str
) -> None:
    """Send ``bodies`` to one group of a FIFO source and dead-letter them all to ``dlq``."""
    await h.send_group(source, group, *bodies)
    assert await h.bodies(source, visibility_s=0) == list(bodies)
    assert await h.receive(source, dead_letter=h.dead_letter_to(dlq, 1)) == []
    assert (await h.counts(dlq)).visible == len(bodies)


def test_a_retention_change_of_a_fifo_dlq_counts_from_each_message_arrival(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source.fifo", fifo=True)
        dlq = await h.queue("dlq.fifo", fifo=True)
        await h.send_group(source, "g", "poison")
        assert await h.bodies(source, visibility_s=0) == ["poison"]
        h.advance(s=3 * 86_400)  # three days in the source, then dead-lettered
        assert await h.receive(source, dead_letter=h.dead_letter_to(dlq, 1)) == []
        await h.store.reset_retention(dlq.queue_id, 5 * DAY_MS)  # up from 4 days
        h.advance(s=3 * 86_400)  # six days after the send, three after the arrival
        assert await h.store.expire(h.now) == 0
        assert await h.bodies(dlq) == ["poison"]

    run(store_factory, scenario)


# --- a FIFO group is held by any of its messages in flight -------------------------------


def test_a_fifo_head_made_visible_again_waits_for_the_rest_of_its_batch(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send_group(queue, "g", "m0", "m1", "m2")
        await h.send_group(queue, "other", "o0")
        m0, m1 = await h.receive(queue, max_messages=2)
        assert [m0.body, m1.body] == ["m0", "m1"]
        assert await h.change_visibility(queue, m0, 0) == VisibilityOutcome.CHANGED
        assert await h.bodies(queue) == ["o0"], "group g is held by m1, still in flight"
        assert await h.receive(queue) == []
        assert await h.delete(queue, [m1]) == [True]
        assert await h.bodies(queue) == ["m0", "m2"], "m0 comes back first"

    run(store_factory, scenario)


def test_a_fifo_group_held_by_a_later_message_frees_when_its_visibility_lapses(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send_group(queue, "g", "m0", "m1")
        m0, _m1 = await h.receive(queue, max_messages=2, visibility_s=30)
        await h.change_visibility(queue, m0, 0)
        h.advance(s=29)
        assert await h.receive(queue) == []
        h.advance(s=1)
        assert await h.bodies(queue) == ["m0", "m1"]

    run(store_factory, scenario)


def test_a_fifo_group_held_by_a_later_message_frees_when_that_message_is_made_visible(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send_group(queue, "g", "m0", "m1")
        m0, m1 = await h.receive(queue, max_messages=2, visibility_s=300)
        await h.change_visibility(queue, m0, 0)
        assert await h.receive(queue) == []
        await h.change_visibility(queue, m1, 0)
        assert await h.bodies(queue) == ["m0", "m1"]

    run(store_factory, scenario)


# --- the FIFO group pick -----------------------------------------------------------------


def test_a_fifo_claim_serves_an_available_group_among_many_blocked_ones(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        blocked = [f"blocked-{i:03}" for i in range(100)]
        for group in blocked:  # the oldest heads of the queue
            await h.send_group(queue, group, f"{group}-a", f"{group}-b")
        for group in blocked:
            assert await h.bodies(queue, max_messages=1, visibility_s=600) == [f"{group}-a"]
        await h.send_group(queue, "late", "late-a", "late-b")
        assert await h.bodies(queue, max_messages=1) == ["late-a"]
        assert await h.receive(queue) == [], "every group now has a message in flight"
        h.advance(s=600)  # every head is visible again
        delivered = await h.receive(queue, max_messages=10)
        by_group: dict[str | None, list[str]] = {}
        for message in delivered:
            by_group.setdefault(message.group_id, []).append(message.body)
        assert len(by_group) == 5
        assert all(bodies == [f"{group}-a", f"{group}-b"] for group, bodies in by_group.items())

    run(store_factory, scenario)


def test_a_fifo_claim_serves_several_available_groups_past_blocked_ones(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        for i in range(30):
            await h.send_group(queue, f"g{i:02}", f"g{i:02}-0")
        held = await h.receive(queue, max_messages=10, visibility_s=600)
        assert len(held) == 10
        held_groups = {m.group_id for m in held}
        rest = await h.receive(queue, max_messages=10)
        assert len(rest) == 10
        assert held_groups.isdisjoint(m.group_id for m in rest)
        assert len({m.group_id for m in rest}) == 10

    run(store_factory, scenario)


# --- move tasks: only a running task changes state ---------------------------------------


@pytest.mark.parametrize("late_status", ["CANCELLED", "FAILED"])
def test_a_completed_move_task_stays_completed_whatever_comes_after(
    store_factory: StoreOpener, late_status: str
) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source")
        dlq = await h.queue("dlq")
        await _dead_letter_all(h, source, dlq, ["a"])
        task = await _start_task(h, dlq, None)
        assert await h.store.move_messages(task.task_id, None, 10, h.now) == 1
        assert (await _task(h, task.task_id)).status == "COMPLETED"
        await h.store.update_move_task_status(task.task_id, late_status, "too late")
        finished = await _task(h, task.task_id)
        assert (finished.status, finished.failure_reason, finished.moved) == (
            "COMPLETED",
            None,
            1,
        )

    run(store_factory, scenario)


def test_a_cancelled_move_task_is_not_turned_into_a_failed_one(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        dlq = await h.queue("dlq")
        task = await _start_task(h, dlq, None)
        await h.store.update_move_task_status(task.task_id, "CANCELLED")
        await h.store.update_move_task_status(task.task_id, "FAILED", "An internal error")
        cancelled = await _task(h, task.task_id)
        assert (cancelled.status, cancelled.failure_reason) == ("CANCELLED", None)

    run(store_factory, scenario)


def test_a_move_task_returns_fifo_dlq_messages_in_order_even_after_one_was_received(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source.fifo", fifo=True)
        dlq = await h.queue("dlq.fifo", fifo=True)
        await _dead_letter_group(h, source, dlq, "g", "first", "second")
        assert await h.bodies(dlq, max_messages=1, visibility_s=30) == ["first"]
        h.advance(s=30)  # received once in the DLQ, visible again
        task = await _start_task(h, dlq, None)
        assert await h.store.move_messages(task.task_id, None, 10, h.now) == 2
        assert await h.drain(source) == ["first", "second"]

    run(store_factory, scenario)


def test_a_move_task_returns_fifo_dlq_messages_in_their_order(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source.fifo", fifo=True)
        dlq = await h.queue("dlq.fifo", fifo=True)
        await _dead_letter_group(h, source, dlq, "g", "first", "second", "third")
        task = await _start_task(h, dlq, None)
        for _ in range(3):
            assert await h.store.move_messages(task.task_id, None, 1, h.now) == 1
            h.advance(ms=1)
        assert await h.drain(source) == ["first", "second", "third"]

    run(store_factory, scenario)


# --- a send to a queue deleted meanwhile -------------------------------------------------


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_enqueueing_to_a_deleted_queue_raises_and_writes_nothing(
    store_factory: StoreOpener, fifo: bool
) -> None:
    async def scenario(h: Harness) -> None:
        name = "gone.fifo" if fifo else "gone"
        queue = await h.queue(name, fifo=fifo)  # the record a send looked up before the delete
        await h.store.delete_queue(queue.queue_id)
        message = new_message("lost", group="g", dedup="d") if fifo else new_message("lost")
        with pytest.raises(QueueDoesNotExist):
            await h.send(queue, message)
        assert await h.store.max_seq(queue.queue_id) == 0, "no message row was written"
        assert await h.store.get_queue_by_id(queue.queue_id) is None
        h.advance(s=30 * 86_400)
        assert await h.store.expire(h.now) == 0, "nothing was left to expire"
        again = await h.queue(name, fifo=fifo)
        assert await h.counts(again) == QueueCounts(0, 0, 0)
        again_message = new_message("new", group="g", dedup="d") if fifo else "new"
        (outcome,) = await h.send(again, again_message)
        assert not outcome.duplicate, "no dedup id was recorded for the failed send"
        assert await h.bodies(again) == ["new"]

    run(store_factory, scenario)


# --- SQLite: a failed commit makes the store unhealthy -----------------------------------

NOW_MS = 1_700_000_000_000


async def _store_with_failing_commits(data_dir: Path) -> tuple[SqliteStore, _CommitFailsOnce]:
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = open_connection(data_dir / "ekiden.sqlite3")
    migrate(conn)
    flaky = _CommitFailsOnce(conn)
    store = SqliteStore(flaky, asyncio.get_running_loop())  # type: ignore[arg-type]
    return store, flaky


def test_the_sqlite_store_reports_unhealthy_after_a_failed_commit(tmp_path: Path) -> None:
    async def scenario() -> None:
        store, flaky = await _store_with_failing_commits(tmp_path)
        try:
            await store.create_queue("q", False, {}, {}, NOW_MS)
            assert store.healthy()
            flaky.fail_next_commit = True
            with pytest.raises(ServiceUnavailable):
                await store.create_queue("lost", False, {}, {}, NOW_MS)
            assert not store.healthy()
            # Reads are still served; writes are refused until a probe commits again
            # (see tests/contract/test_sqlite_disk_full.py for the recovery).
            assert await store.get_queue("q") is not None
            assert await store.get_queue("lost") is None
            with pytest.raises(ServiceUnavailable):
                await store.create_queue("later", False, {}, {}, NOW_MS)
            assert not store.healthy(), "a failed store stays unhealthy"
        finally:
            await store.close()

    asyncio.run(scenario())


def test_health_answers_503_once_the_store_failed_a_commit(tmp_path: Path) -> None:
    health = HttpRequest("GET", "/health", "", {"host": "localhost"}, b"", "127.0.0.1")

    async def scenario() -> None:
        store, flaky = await _store_with_failing_commits(tmp_path)
        broker = Broker(store, SystemClock(), "000000000000", "us-east-1")
        try:
            app = SqsApp(broker, "http://localhost")
            healthy = await app(health)
            assert (healthy.status, json.loads(healthy.body)) == (200, {"status": "ok"})
            flaky.fail_next_commit = True
            with pytest.raises(ServiceUnavailable):
                await store.create_queue("lost", False, {}, {}, NOW_MS)
            failed = await app(health)
            assert failed.status == 503
            assert json.loads(failed.body)["status"] == "failed"
        finally:
            await broker.stop()
            await store.close()

    asyncio.run(scenario())


# --- SQLite: the FIFO group pick walks its index -----------------------------------------

_PARAMETER = re.compile(r"\?")


def test_the_sqlite_fifo_group_pick_reads_groups_in_index_order_without_sorting(
    tmp_path: Path,
) -> None:
    """A claim must not sort every available group of a queue to find the next one: the
    group pick's ORDER BY must follow the availability index (no temporary B-tree)."""

    async def scenario() -> list[str]:
        store = await SqliteStore.open(tmp_path)
        statements: list[str] = []
        try:
            queue = await store.create_queue("q.fifo", True, {}, {}, NOW_MS)
            await store.enqueue(
                queue,
                [new_message(f"m{i}", group=f"g{i % 5}") for i in range(20)],
                DAY_MS,
                NOW_MS,
            )

            def trace(conn: sqlite3.Connection, on: bool) -> None:
                conn.set_trace_callback(statements.append if on else None)

            await store.writer.submit(lambda conn: trace(conn, True))
            await store.claim(ClaimRequest(queue.queue_id, True, 10, 30_000, NOW_MS))
            await store.writer.submit(lambda conn: trace(conn, False))
            picks = [
                s
                for s in statements
                if s.lstrip().upper().startswith("SELECT")
                and "FROM fifo_groups" in s
                and "ORDER BY" in s
            ]
            assert picks, f"no group pick among {statements}"

            def plans(conn: sqlite3.Connection) -> list[str]:
                found: list[str] = []
                for statement in picks:
                    nulls = (None,) * len(_PARAMETER.findall(statement))
                    rows = conn.execute("EXPLAIN QUERY PLAN " + statement, nulls).fetchall()
                    found += [str(row[-1]) for row in rows]
                return found

            result: list[str] = await store.writer.submit(plans)
            return result
        finally:
            await store.close()

    details = asyncio.run(scenario())
    assert not [d for d in details if "TEMP B-TREE" in d], details
    assert any("fifo_groups_by_availability" in d for d in details), details
