"""Coalescing in the SQLite store: concurrent sends (and deletes) to one queue that wait
for the same group commit are stored by one job, and every caller still gets exactly the
answer it would have had alone.

The writer is held busy with a gated job while the calls are made, so they all wait for
the same group and the batch they form does not depend on thread timing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ekiden.core import limits
from ekiden.core.errors import QueueDoesNotExist
from ekiden.core.ids import ReceiptRef
from ekiden.core.storage import ClaimRequest, DeadLetterTarget, DeleteOutcome, EnqueueOutcome
from ekiden.store.sqlite.store import SqliteStore
from tests.contract.test_store_contract import DAY_MS, new_message

NOW_MS = 1_700_000_000_000


async def _while_the_writer_is_busy(
    store: SqliteStore, calls: list[Callable[[], Awaitable[Any]]]
) -> tuple[list[Any], int]:
    """Start ``calls`` while a gated job holds the writer; their results (or errors) and
    how many store jobs they took."""
    gate = threading.Event()
    busy = store.writer.submit(lambda conn: gate.wait(10))
    await asyncio.sleep(0.05)  # the writer thread has taken the gated job
    jobs_before = store.writer.jobs_committed
    tasks = [asyncio.ensure_future(call()) for call in calls]
    await asyncio.sleep(0)  # every call has joined its batch
    gate.set()
    await busy
    results = await asyncio.gather(*tasks, return_exceptions=True)
    # Receives are answered before their group commits: a no-op job behind them
    # resolves once that group (and so its job count) is committed.
    await store.writer.submit(lambda conn: None)
    return results, store.writer.jobs_committed - jobs_before - 2


def _run(data_dir: Path, scenario: Callable[[SqliteStore], Awaitable[None]]) -> None:
    async def main() -> None:
        store = await SqliteStore.open(data_dir)
        try:
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(main())


def test_concurrent_sends_to_one_queue_are_stored_by_one_job(tmp_path: Path) -> None:
    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue("q", False, {}, {}, NOW_MS)
        batches = [[new_message(f"c{c}-m{m}") for m in range(c % 3 + 1)] for c in range(40)]
        results, jobs = await _while_the_writer_is_busy(
            store,
            [
                lambda b=batch: store.enqueue(queue, b, DAY_MS, NOW_MS + 1)  # type: ignore[misc]
                for batch in batches
            ],
        )
        assert jobs == 1
        for batch, outcomes in zip(batches, results, strict=True):
            assert [o.message_id for o in outcomes] == [m.message_id for m in batch]
        total = sum(len(b) for b in batches)
        assert (await store.counts(queue.queue_id, NOW_MS + 1)).visible == total
        claimed = await store.claim(ClaimRequest(queue.queue_id, False, 10, 30_000, NOW_MS + 1))
        assert [m.body for m in claimed.messages] == [m.body for b in batches for m in b][:10]

    _run(tmp_path, scenario)


def test_sends_to_different_queues_are_not_mixed(tmp_path: Path) -> None:
    async def scenario(store: SqliteStore) -> None:
        first = await store.create_queue("first", False, {}, {}, NOW_MS)
        second = await store.create_queue("second", False, {}, {}, NOW_MS)
        results, jobs = await _while_the_writer_is_busy(
            store,
            [
                lambda q=queue, i=i: store.enqueue(  # type: ignore[misc]
                    q, [new_message(f"{q.name}-{i}")], DAY_MS, NOW_MS
                )
                for i in range(5)
                for queue in (first, second)
            ],
        )
        assert jobs == 2
        assert all(isinstance(r, list) for r in results)
        for queue in (first, second):
            claimed = await store.claim(ClaimRequest(queue.queue_id, False, 10, 30_000, NOW_MS))
            assert sorted(m.body for m in claimed.messages) == [
                f"{queue.name}-{i}" for i in range(5)
            ]

    _run(tmp_path, scenario)


def test_a_fifo_duplicate_in_a_later_coalesced_call_gets_the_original(tmp_path: Path) -> None:
    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue("q.fifo", True, {}, {}, NOW_MS)
        original = new_message("original", group="g", dedup="same")
        copy = new_message("copy", group="g", dedup="same")
        other = new_message("other", group="g", dedup="other")
        results, jobs = await _while_the_writer_is_busy(
            store,
            [
                lambda: store.enqueue(queue, [original], DAY_MS, NOW_MS),
                lambda: store.enqueue(queue, [copy, other], DAY_MS, NOW_MS + 2),
            ],
        )
        assert jobs == 1
        first: list[EnqueueOutcome] = results[0]
        second: list[EnqueueOutcome] = results[1]
        assert not first[0].duplicate
        assert second[0].duplicate
        assert second[0].message_id == original.message_id
        assert second[0].sequence_number == first[0].sequence_number
        assert not second[1].duplicate
        assert int(second[1].sequence_number or 0) > int(first[0].sequence_number or 0)
        claimed = await store.claim(ClaimRequest(queue.queue_id, True, 10, 30_000, NOW_MS + 2))
        assert [m.body for m in claimed.messages] == ["original", "other"]

    _run(tmp_path, scenario)


def test_coalesced_fifo_sends_with_distinct_keys_store_first_and_drop_the_duplicates(
    tmp_path: Path,
) -> None:
    """One job holding fresh keys, a key still in its window and a key whose window has
    passed, no key twice (so its rows are stored before the keys are looked at): the
    duplicate's row is gone again, the others keep increasing sequence numbers, and each
    group's head is its first message."""

    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue("q.fifo", True, {}, {}, NOW_MS)
        old = new_message("old", group="g1", dedup="lapsed")
        live = new_message("live", group="g1", dedup="live")
        await store.enqueue(queue, [old], DAY_MS, NOW_MS - limits.DEDUP_WINDOW_MS)
        (kept,) = await store.enqueue(queue, [live], DAY_MS, NOW_MS - 1)
        store_time = NOW_MS
        batch = [
            new_message("a", group="g1", dedup="a"),
            new_message("live again", group="g1", dedup="live"),
            new_message("b", group="g2", dedup="b"),
            new_message("lapsed again", group="g2", dedup="lapsed"),
        ]
        results, jobs = await _while_the_writer_is_busy(
            store,
            [
                lambda: store.enqueue(queue, batch[:2], DAY_MS, store_time),
                lambda: store.enqueue(queue, batch[2:], DAY_MS, store_time),
            ],
        )
        assert jobs == 1
        outcomes: list[EnqueueOutcome] = results[0] + results[1]
        assert [o.duplicate for o in outcomes] == [False, True, False, False]
        assert outcomes[1].message_id == live.message_id
        assert outcomes[1].sequence_number == kept.sequence_number
        fresh = [int(o.sequence_number or 0) for o in outcomes if not o.duplicate]
        assert fresh == sorted(fresh) and int(kept.sequence_number or 0) < fresh[0]
        assert (await store.counts(queue.queue_id, store_time)).visible == 5

        claimed = await store.claim(ClaimRequest(queue.queue_id, True, 10, 30_000, store_time))
        assert [m.body for m in claimed.messages] == ["old", "live", "a", "b", "lapsed again"]
        remembered = await store.writer.submit(
            lambda conn: conn.execute(
                "SELECT dedup_key, message_id FROM dedup ORDER BY dedup_key"
            ).fetchall()
        )
        assert remembered == [
            ("a", batch[0].message_id),
            ("b", batch[2].message_id),
            ("lapsed", batch[3].message_id),
            ("live", live.message_id),
        ]

    _run(tmp_path, scenario)


def test_a_copy_is_answered_with_the_original_in_its_window_even_when_a_later_copy_is_fresh(
    tmp_path: Path,
) -> None:
    """Two copies in one job, the original's window ending between their send times:
    the first copy is a duplicate of the original, the second a fresh message -- not
    the first answered with the second, which a store-first upsert would do."""

    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue("q.fifo", True, {}, {}, NOW_MS)
        original = new_message("original", group="g", dedup="d")
        (stored,) = await store.enqueue(queue, [original], DAY_MS, NOW_MS)
        window_end = NOW_MS + limits.DEDUP_WINDOW_MS
        early = new_message("early copy", group="g", dedup="d")
        late = new_message("late copy", group="g", dedup="d")
        results, jobs = await _while_the_writer_is_busy(
            store,
            [
                lambda: store.enqueue(queue, [early], DAY_MS, window_end - 1),
                lambda: store.enqueue(queue, [late], DAY_MS, window_end),
            ],
        )
        assert jobs == 1
        ((first,), (second,)) = results
        assert first.duplicate and first.message_id == original.message_id
        assert first.sequence_number == stored.sequence_number
        assert not second.duplicate and second.message_id == late.message_id
        claimed = await store.claim(ClaimRequest(queue.queue_id, True, 10, 30_000, window_end))
        assert [m.body for m in claimed.messages] == ["original", "late copy"]

    _run(tmp_path, scenario)


def test_coalesced_sends_to_a_queue_deleted_meanwhile_all_fail(tmp_path: Path) -> None:
    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue("q", False, {}, {}, NOW_MS)
        gate = threading.Event()
        busy = store.writer.submit(lambda conn: gate.wait(10))
        await asyncio.sleep(0.05)
        deleted = asyncio.ensure_future(store.delete_queue(queue.queue_id))
        await asyncio.sleep(0)
        sends = [
            asyncio.ensure_future(store.enqueue(queue, [new_message(f"m{i}")], DAY_MS, NOW_MS))
            for i in range(3)
        ]
        await asyncio.sleep(0)
        gate.set()
        await busy
        await deleted
        results = await asyncio.gather(*sends, return_exceptions=True)
        assert all(isinstance(r, QueueDoesNotExist) for r in results), results

    _run(tmp_path, scenario)


def test_coalesced_deletes_answer_each_receipt_as_if_alone(tmp_path: Path) -> None:
    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue("q", False, {}, {}, NOW_MS)
        await store.enqueue(queue, [new_message(f"m{i}") for i in range(6)], DAY_MS, NOW_MS)
        claimed = await store.claim(ClaimRequest(queue.queue_id, False, 6, 30_000, NOW_MS))
        receipts = [m.receipt for m in claimed.messages]
        stale = ReceiptRef(queue.queue_id, receipts[5].seq, receipts[5].nonce ^ 2)
        results, jobs = await _while_the_writer_is_busy(
            store,
            [
                lambda: store.delete_messages(queue.queue_id, receipts[:3], NOW_MS),
                # The same message twice in one call, and again in a later call.
                lambda: store.delete_messages(queue.queue_id, [receipts[3], receipts[3]], NOW_MS),
                lambda: store.delete_messages(queue.queue_id, [receipts[3]], NOW_MS),
                # A handle of another delivery first, then the current one.
                lambda: store.delete_messages(queue.queue_id, [stale, receipts[5]], NOW_MS),
            ],
        )
        assert jobs == 1
        assert results == [
            [DeleteOutcome.DELETED] * 3,
            [DeleteOutcome.DELETED, DeleteOutcome.GONE],
            [DeleteOutcome.GONE],
            [DeleteOutcome.GONE, DeleteOutcome.DELETED],
        ]
        counts = await store.counts(queue.queue_id, NOW_MS)
        assert (counts.visible, counts.in_flight) == (0, 1)  # only receipts[4] is left

    _run(tmp_path, scenario)


@pytest.mark.parametrize("keys", [1, 5, 17, 1500])
def test_deletes_of_many_keys_in_one_call_remove_exactly_those(tmp_path: Path, keys: int) -> None:
    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue("q", False, {}, {}, NOW_MS)
        await store.enqueue(queue, [new_message(f"m{i}") for i in range(keys + 3)], DAY_MS, NOW_MS)
        receipts = []
        while len(receipts) < keys + 3:
            claimed = await store.claim(ClaimRequest(queue.queue_id, False, 10, 30_000, NOW_MS))
            receipts += [m.receipt for m in claimed.messages]
        outcomes = await store.delete_messages(queue.queue_id, receipts[:keys], NOW_MS)
        assert outcomes == [DeleteOutcome.DELETED] * keys
        assert (await store.counts(queue.queue_id, NOW_MS)).in_flight == 3

    _run(tmp_path, scenario)


def test_concurrent_receives_share_one_claim_and_get_disjoint_messages_in_order(
    tmp_path: Path,
) -> None:
    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue("q", False, {}, {}, NOW_MS)
        await store.enqueue(queue, [new_message(f"m{i:02}") for i in range(12)], DAY_MS, NOW_MS)
        sizes = [3, 1, 10, 5]
        results, jobs = await _while_the_writer_is_busy(
            store,
            [
                lambda n=n: store.claim(  # type: ignore[misc]
                    ClaimRequest(queue.queue_id, False, n, 30_000, NOW_MS + 1)
                )
                for n in sizes
            ],
        )
        assert jobs == 1
        bodies = [[m.body for m in r.messages] for r in results]
        assert bodies == [
            ["m00", "m01", "m02"],
            ["m03"],
            [f"m{i:02}" for i in range(4, 12)],
            [],
        ]
        # The receive left empty-handed learns when the next message becomes visible.
        assert results[3].next_visible_at_ms == NOW_MS + 1 + 30_000
        assert all(r.next_visible_at_ms is None for r in results[:3])
        receipts = [m.receipt for r in results for m in r.messages]
        assert len({(r.seq, r.nonce) for r in receipts}) == 12
        assert (await store.counts(queue.queue_id, NOW_MS + 1)).in_flight == 12

    _run(tmp_path, scenario)


def test_fifo_receives_are_never_coalesced(tmp_path: Path) -> None:
    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue("q.fifo", True, {}, {}, NOW_MS)
        await store.enqueue(
            queue,
            [new_message(f"m{i}", group=f"g{i % 2}", dedup=f"d{i}") for i in range(4)],
            DAY_MS,
            NOW_MS,
        )
        results, jobs = await _while_the_writer_is_busy(
            store,
            [
                lambda: store.claim(ClaimRequest(queue.queue_id, True, 10, 30_000, NOW_MS))
                for _ in range(2)
            ],
        )
        assert jobs == 2
        bodies = [m.body for r in results for m in r.messages]
        assert sorted(bodies) == ["m0", "m1", "m2", "m3"]

    _run(tmp_path, scenario)


def test_a_coalesced_claim_still_dead_letters_messages_received_too_often(
    tmp_path: Path,
) -> None:
    async def scenario(store: SqliteStore) -> None:
        dlq = await store.create_queue("dlq", False, {}, {}, NOW_MS)
        queue = await store.create_queue("q", False, {}, {}, NOW_MS)
        await store.enqueue(queue, [new_message("poison"), new_message("fine")], DAY_MS, NOW_MS)
        target = DeadLetterTarget(dlq.queue_id, 1, False, DAY_MS)
        first = await store.claim(ClaimRequest(queue.queue_id, False, 1, 0, NOW_MS, target))
        assert [m.body for m in first.messages] == ["poison"]
        later = NOW_MS + 10
        results, jobs = await _while_the_writer_is_busy(
            store,
            [
                lambda: store.claim(ClaimRequest(queue.queue_id, False, 1, 30_000, later, target))
                for _ in range(2)
            ],
        )
        assert jobs == 1
        assert [[m.body for m in r.messages] for r in results] == [["fine"], []]
        assert dlq.queue_id in results[0].dead_lettered_to
        moved = await store.claim(ClaimRequest(dlq.queue_id, False, 10, 30_000, later))
        assert [m.body for m in moved.messages] == ["poison"]

    _run(tmp_path, scenario)


def test_concurrent_receives_with_a_zero_visibility_timeout_each_see_the_message(
    tmp_path: Path,
) -> None:
    """What a zero-visibility receive takes stays visible: the receive after it (they are
    not coalesced) gets the same message again, as in SQS."""

    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue("q", False, {}, {}, NOW_MS)
        await store.enqueue(queue, [new_message("only")], DAY_MS, NOW_MS)
        results, jobs = await _while_the_writer_is_busy(
            store,
            [
                lambda: store.claim(ClaimRequest(queue.queue_id, False, 1, 0, NOW_MS))
                for _ in range(2)
            ],
        )
        assert jobs == 2
        assert [[m.body for m in r.messages] for r in results] == [["only"], ["only"]]
        assert [m.receive_count for r in results for m in r.messages] == [1, 2]

    _run(tmp_path, scenario)


def test_a_cancelled_caller_does_not_cancel_the_others_of_its_batch(tmp_path: Path) -> None:
    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue("q", False, {}, {}, NOW_MS)
        gate = threading.Event()
        busy = store.writer.submit(lambda conn: gate.wait(10))
        await asyncio.sleep(0.05)
        first = asyncio.ensure_future(store.enqueue(queue, [new_message("a")], DAY_MS, NOW_MS))
        second = asyncio.ensure_future(store.enqueue(queue, [new_message("b")], DAY_MS, NOW_MS))
        await asyncio.sleep(0)
        first.cancel()
        gate.set()
        await busy
        outcomes = await second
        assert len(outcomes) == 1 and not outcomes[0].duplicate
        assert first.cancelled()
        claimed = await store.claim(ClaimRequest(queue.queue_id, False, 10, 30_000, NOW_MS))
        assert sorted(m.body for m in claimed.messages) == ["a", "b"]  # both were stored

    _run(tmp_path, scenario)


def test_statements_fit_a_store_that_binds_few_values(tmp_path: Path) -> None:
    """SQLite before 3.32 binds at most 999 values per statement: chunks and key lists
    shrink to fit whatever the connection allows."""

    async def scenario(store: SqliteStore) -> None:
        await store.writer.submit(
            lambda conn: conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        )
        queue = await store.create_queue("q", False, {}, {}, NOW_MS)
        sends = [
            lambda i=i: store.enqueue(  # type: ignore[misc]
                queue, [new_message(f"c{i}-{m}") for m in range(10)], DAY_MS, NOW_MS
            )
            for i in range(30)
        ]
        results, jobs = await _while_the_writer_is_busy(store, sends)
        assert jobs == 1
        assert all(isinstance(r, list) and len(r) == 10 for r in results), results
        receipts = []
        while len(receipts) < 300:
            claimed = await store.claim(ClaimRequest(queue.queue_id, False, 10, 30_000, NOW_MS))
            receipts += [m.receipt for m in claimed.messages]
        outcomes = await store.delete_messages(queue.queue_id, receipts, NOW_MS)
        assert outcomes == [DeleteOutcome.DELETED] * 300

    _run(tmp_path, scenario)
