"""A full disk or a failed write makes the SQLite store refuse writes, never lose them.

Three ways to run out: the database at its page limit (``PRAGMA max_page_count``, the
deterministic one), a real filesystem that is full (a small tmpfs, when this process may
mount one), and a COMMIT failing with an I/O error as a failed fsync would. In each the
store must answer the failed writes with ``ServiceUnavailable``, keep every acknowledged
message and none of the refused ones, serve reads meanwhile, and take writes again by
itself once a background probe commits -- without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ekiden.core.errors import ServiceUnavailable
from ekiden.core.storage import ClaimRequest, QueueRecord
from ekiden.store.sqlite.health import open_connection
from ekiden.store.sqlite.mappings import SqliteMappingStore
from ekiden.store.sqlite.meta import read_meta
from ekiden.store.sqlite.schema import migrate
from ekiden.store.sqlite.store import SqliteStore
from ekiden.store.sqlite.topics import SqliteTopicStore
from tests.contract.test_store_contract import new_message
from tests.support.small_disk import small_tmpfs
from tests.support.sqlite_connections import CommitInterceptor

NOW_MS = 1_700_000_000_000
RETENTION_MS = 3_600_000
FAST_PROBES_S = (0.05, 0.2)  # the store's own are 1 s backing off to 10 s


async def _send_until_refused(
    store: SqliteStore, queue: QueueRecord, size: int, limit: int
) -> list[str]:
    """Send ``size``-byte bodies one at a time until the store refuses one; the bodies
    that were acknowledged."""
    acknowledged: list[str] = []
    for n in range(limit):
        body = f"{n:06d}" + "x" * (size - 6)
        try:
            await store.enqueue(queue, [new_message(body)], RETENTION_MS, NOW_MS)
        except ServiceUnavailable:
            return acknowledged
        acknowledged.append(body)
    raise AssertionError(f"{limit} sends of {size} bytes were all acknowledged")


async def _wait_healthy(store: SqliteStore, timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if store.healthy():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the store did not become healthy again")


async def _drain(store: SqliteStore, queue: QueueRecord) -> list[str]:
    """Every body in the queue (claimed with a long visibility timeout)."""
    bodies: list[str] = []
    while True:
        claim = await store.claim(ClaimRequest(queue.queue_id, False, 10, 600_000, NOW_MS))
        if not claim.messages:
            return bodies
        bodies.extend(message.body for message in claim.messages)


async def _assert_reads_work_and_writes_are_refused(
    store: SqliteStore, queue: QueueRecord, stored: int
) -> None:
    assert not store.healthy()
    assert not store.writer.figures().healthy
    assert [q.name for q in await store.list_queues()] == [queue.name]
    assert await store.get_queue(queue.name) == await store.get_queue_by_id(queue.queue_id)
    counts = await store.counts(queue.queue_id, NOW_MS)
    assert (counts.visible, counts.in_flight, counts.delayed) == (stored, 0, 0)
    assert len(await store.peek(queue.queue_id, 10, NOW_MS)) == min(stored, 10)
    assert await store.oldest_sent_ms(queue.queue_id) == (NOW_MS if stored else None)
    # The other stores on the same writer read too: topics, subscriptions, mappings, meta.
    topics = SqliteTopicStore(store.writer)
    assert await topics.list_topics(0, 10) == []
    assert await topics.get_topic("none") is None
    assert await topics.list_subscriptions(0, 10) == []
    assert await SqliteMappingStore(store.writer).list_mappings() == []
    assert await read_meta(store.writer, "nothing-here") is None
    with pytest.raises(ServiceUnavailable):
        await store.enqueue(queue, [new_message("refused")], RETENTION_MS, NOW_MS)
    with pytest.raises(ServiceUnavailable):  # a receive claims: it is a write too
        await store.claim(ClaimRequest(queue.queue_id, False, 1, 30_000, NOW_MS))
    with pytest.raises(ServiceUnavailable):
        await store.create_queue("another", False, {}, {}, NOW_MS)


def _set_max_page_count(store: SqliteStore, pages: int) -> asyncio.Future[Any]:
    """Change the connection's page limit; submitted as a read so it also runs while the
    store refuses writes (a PRAGMA of the connection, not a change to the database)."""
    return store.writer.submit(
        lambda conn: conn.execute(f"PRAGMA max_page_count = {pages}").fetchone(), read=True
    )


def test_a_database_at_its_size_limit_refuses_writes_serves_reads_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        store = await SqliteStore.open(tmp_path)
        store.writer.probe_delays_s = FAST_PROBES_S
        try:
            queue = await store.create_queue("full", False, {}, {}, NOW_MS)
            pages: int = await store.writer.submit(
                lambda conn: conn.execute("PRAGMA page_count").fetchone()[0], read=True
            )
            await _set_max_page_count(store, pages + 40)
            acknowledged = await _send_until_refused(store, queue, 8_000, 1_000)
            assert acknowledged, "the limit left no room for even one message"
            for _ in range(20):  # many refusals, one log line (checked below)
                with pytest.raises(ServiceUnavailable):
                    await store.enqueue(queue, [new_message("refused")], RETENTION_MS, NOW_MS)
            await asyncio.sleep(0.5)  # several failed probes: still refusing
            await _assert_reads_work_and_writes_are_refused(store, queue, len(acknowledged))
            await _set_max_page_count(store, 1_000_000)  # space returns
            await _wait_healthy(store)
            (after,) = await store.enqueue(queue, [new_message("after")], RETENTION_MS, NOW_MS)
            assert not after.duplicate
            return acknowledged, await _drain(store, queue)
        finally:
            await store.close()

    with caplog.at_level(logging.DEBUG, logger="ekiden.store"):
        acknowledged, stored = asyncio.run(scenario())
    assert sorted(stored) == sorted([*acknowledged, "after"])
    records = [r for r in caplog.records if r.name == "ekiden.store"]
    assert [r.levelno for r in records if r.levelno >= logging.WARNING] == [
        logging.CRITICAL,
        logging.WARNING,
    ]


class _CommitFails(CommitInterceptor):
    """A connection whose COMMITs fail with an I/O error while ``failing`` is set, as
    they would after a failed fsync."""

    failing = False

    def before_commit(self) -> None:
        if self.failing:
            raise sqlite3.OperationalError("disk I/O error")


def test_a_failed_fsync_is_not_acknowledged_and_the_store_reopens_before_writing_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ekiden.sqlite3"
    setup = open_connection(path)
    migrate(setup)
    setup.close()
    reopened: list[sqlite3.Connection] = []

    def reopen() -> sqlite3.Connection:
        if not reopened:
            reopened.append(sqlite3.connect(":memory:"))  # a marker: the first one fails
            raise sqlite3.OperationalError("unable to open database file")
        conn = open_connection(path)
        reopened.append(conn)
        return conn

    async def scenario() -> tuple[list[str], list[str]]:
        flaky = _CommitFails(open_connection(path))
        store = SqliteStore(flaky, asyncio.get_running_loop(), 0.0, reopen)  # type: ignore[arg-type]
        store.writer.probe_delays_s = FAST_PROBES_S
        try:
            queue = await store.create_queue("fsync", False, {}, {}, NOW_MS)
            await store.enqueue(queue, [new_message("kept")], RETENTION_MS, NOW_MS)
            flaky.failing = True
            with pytest.raises(ServiceUnavailable):
                await store.enqueue(queue, [new_message("lost")], RETENTION_MS, NOW_MS)
            await _assert_reads_work_and_writes_are_refused(store, queue, 1)
            await _wait_healthy(store)
            # Healthy only on a fresh connection: the failing one was never trusted again.
            assert len(reopened) == 2
            await store.enqueue(queue, [new_message("after")], RETENTION_MS, NOW_MS)
            return ["kept", "after"], await _drain(store, queue)
        finally:
            await store.close()

    expected, stored = asyncio.run(scenario())
    assert sorted(stored) == sorted(expected)
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        bodies = {row[0] for row in reader.execute("SELECT body FROM messages")}
    finally:
        reader.close()
    assert bodies == {"kept", "after"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for this test (skipped where mounting is not allowed)."""
    with small_tmpfs(tmp_path, "4m") as mount_point:
        yield mount_point


def test_a_full_filesystem_refuses_writes_and_the_store_recovers_when_space_returns(
    small_disk: Path,
) -> None:
    data_dir = small_disk / "data"
    filler = small_disk / "filler"

    async def scenario() -> tuple[list[str], list[str]]:
        store = await SqliteStore.open(data_dir)
        store.writer.probe_delays_s = FAST_PROBES_S
        try:
            queue = await store.create_queue("disk", False, {}, {}, NOW_MS)
            filler.write_bytes(b"\0" * (2 * 1024 * 1024))
            acknowledged = await _send_until_refused(store, queue, 16_000, 1_000)
            await _assert_reads_work_and_writes_are_refused(store, queue, len(acknowledged))
            filler.unlink()  # space returns
            await _wait_healthy(store)
            await store.enqueue(queue, [new_message("after")], RETENTION_MS, NOW_MS)
            return [*acknowledged, "after"], await _drain(store, queue)
        finally:
            await store.close()

    expected, stored = asyncio.run(scenario())
    assert sorted(stored) == sorted(expected)
    # A restart from the same files finds exactly those messages (all still in flight).

    async def after_restart() -> tuple[int, int]:
        store = await SqliteStore.open(data_dir)
        try:
            (queue,) = await store.list_queues()
            counts = await store.counts(queue.queue_id, NOW_MS)
            return counts.visible, counts.in_flight
        finally:
            await store.close()

    assert asyncio.run(after_restart()) == (0, len(expected))
