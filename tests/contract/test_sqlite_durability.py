"""What makes the SQLite store durable, checked on the files it writes.

The contract suite shows behaviour through the Store protocol; these tests look underneath,
at the database file and the commit path: WAL with ``synchronous=FULL`` (every commit is
fsynced before a caller is answered), answers only after COMMIT, a failed COMMIT refusing
all later work, and schema upgrades that keep the data.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from ekiden.core.errors import ServiceUnavailable
from ekiden.core.ids import new_message_id
from ekiden.core.messages import md5_of_body
from ekiden.core.storage import ClaimRequest, NewMessage
from ekiden.store.sqlite.schema import MIGRATIONS
from ekiden.store.sqlite.store import SqliteStore
from ekiden.store.sqlite.writer import GroupCommitWriter
from tests.support.sqlite_connections import CommitInterceptor

NOW_MS = 1_700_000_000_000
DB_FILE = "ekiden.sqlite3"
SQLITE_SYNCHRONOUS_FULL = 2
WAL_FORMAT = 2  # bytes 18 and 19 of the header: the file format versions WAL mode writes


def _message(body: str) -> NewMessage:
    return NewMessage(
        message_id=new_message_id(),
        body=body,
        attributes={},
        system_attributes={},
        md5_of_body=md5_of_body(body),
        md5_of_attributes=None,
        md5_of_system_attributes=None,
        sender_id="AKIDCONTRACT",
        delay_s=0,
    )


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def test_the_sqlite_store_runs_in_wal_mode_with_full_synchronous_commits(tmp_path: Path) -> None:
    async def scenario() -> int:
        store = await SqliteStore.open(tmp_path)
        try:
            await store.create_queue("q", False, {}, {}, NOW_MS)
            synchronous: int = await store.writer.submit(
                lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0]
            )
            return synchronous
        finally:
            await store.close()

    synchronous = asyncio.run(scenario())
    assert synchronous == SQLITE_SYNCHRONOUS_FULL
    header = (tmp_path / DB_FILE).read_bytes()[:20]
    assert header[18] == header[19] == WAL_FORMAT
    reader = _read_only(tmp_path / DB_FILE)
    try:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        reader.close()


def test_an_acknowledged_change_is_already_committed_for_an_independent_reader(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        store = await SqliteStore.open(tmp_path)
        reader = _read_only(tmp_path / DB_FILE)
        try:
            queue = await store.create_queue("q", False, {}, {}, NOW_MS)
            (outcome,) = await store.enqueue(queue, [_message("durable")], 60_000, NOW_MS)
            rows = reader.execute("SELECT message_id, body FROM messages").fetchall()
            assert rows == [(outcome.message_id, "durable")]
            claim = await store.claim(ClaimRequest(queue.queue_id, False, 1, 30_000, NOW_MS))
            await store.delete_messages(queue.queue_id, [claim.messages[0].receipt], NOW_MS)
            assert reader.execute("SELECT COUNT(*) FROM messages").fetchone() == (0,)
        finally:
            reader.close()
            await store.close()

    asyncio.run(scenario())


class _CommitFailsOnce(CommitInterceptor):
    """A SQLite connection whose next COMMIT fails as a full or broken disk would."""

    fail_next_commit = False

    def before_commit(self) -> None:
        if self.fail_next_commit:
            self.fail_next_commit = False
            raise sqlite3.OperationalError("disk I/O error")


def test_a_failed_commit_is_not_acknowledged_and_the_store_refuses_later_writes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "writer.sqlite3"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("CREATE TABLE t (v TEXT)")
    setup.close()

    async def scenario() -> None:
        flaky = _CommitFailsOnce(
            sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        )
        writer = GroupCommitWriter(flaky, asyncio.get_running_loop())  # type: ignore[arg-type]
        try:
            await writer.submit(lambda conn: conn.execute("INSERT INTO t VALUES ('kept')"))
            flaky.fail_next_commit = True
            with pytest.raises(ServiceUnavailable):
                await writer.submit(lambda conn: conn.execute("INSERT INTO t VALUES ('lost')"))
            with pytest.raises(ServiceUnavailable):
                await writer.submit(lambda conn: conn.execute("INSERT INTO t VALUES ('later')"))
        finally:
            await writer.close()

    asyncio.run(scenario())
    reader = _read_only(path)
    try:
        assert reader.execute("SELECT v FROM t").fetchall() == [("kept",)]
    finally:
        reader.close()


def test_a_non_durable_job_is_answered_before_its_commit_and_a_durable_one_after(
    tmp_path: Path,
) -> None:
    """Receives (``durable=False``) are answered once their group has run: a failing
    COMMIT does not take their answer back, while the send of the same group fails."""
    path = tmp_path / "writer.sqlite3"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("CREATE TABLE t (v TEXT)")
    setup.close()

    async def scenario() -> tuple[object, BaseException | None]:
        flaky = _CommitFailsOnce(
            sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        )
        writer = GroupCommitWriter(flaky, asyncio.get_running_loop())  # type: ignore[arg-type]
        gate = threading.Event()

        def send(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t VALUES ('x')")
            flaky.fail_next_commit = True  # the COMMIT of this group fails

        try:
            held = writer.submit(lambda conn: gate.wait(10))
            await asyncio.sleep(0.05)  # the writer thread runs the held job
            durable = writer.submit(send)  # these two share the next group
            early = writer.submit(lambda conn: "claimed", durable=False)
            gate.set()
            await held
            try:
                await durable
                failure: BaseException | None = None
            except ServiceUnavailable as error:
                failure = error
            return await early, failure
        finally:
            await writer.close()

    answer, failure = asyncio.run(scenario())
    assert answer == "claimed"
    assert isinstance(failure, ServiceUnavailable)


def test_opening_a_store_of_the_first_schema_keeps_its_queues_and_messages(
    tmp_path: Path,
) -> None:
    old = sqlite3.connect(tmp_path / DB_FILE, isolation_level=None)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            old.execute(statement)
    old.execute("PRAGMA user_version = 1")
    old.execute(
        "INSERT INTO queues (id, name, is_fifo, attributes, tags, created_ms, modified_ms, "
        "message_count) VALUES (7, 'old.fifo', 1, '{}', '{\"k\":\"v\"}', 1, 1, 1)"
    )
    old.execute(
        "INSERT INTO messages (seq, queue_id, message_id, body, md5_body, sender_id, sent_ms, "
        "expires_ms, visible_at_ms, group_id) VALUES (41, 7, 'mid', 'kept', ?, 'AKID', 1, ?, "
        "1, 'g')",
        (md5_of_body("kept"), NOW_MS * 2),
    )
    old.execute("INSERT INTO fifo_groups VALUES (7, 'g', 41, 1)")
    old.close()

    async def scenario() -> None:
        store = await SqliteStore.open(tmp_path)
        try:
            queue = await store.get_queue("old.fifo")
            assert queue is not None and queue.queue_id == 7 and queue.tags == {"k": "v"}
            new_queue = await store.create_queue("new", False, {}, {}, NOW_MS)
            assert new_queue.queue_id > 7
            (outcome,) = await store.enqueue(
                queue, [_message_in_group("after", "g")], 60_000, NOW_MS
            )
            assert outcome.sequence_number is not None and int(outcome.sequence_number) > 41
            claim = await store.claim(ClaimRequest(7, True, 10, 30_000, NOW_MS))
            assert [m.body for m in claim.messages] == ["kept", "after"]
        finally:
            await store.close()

    asyncio.run(scenario())


def _message_in_group(body: str, group: str) -> NewMessage:
    message = _message(body)
    message.group_id = group
    return message
