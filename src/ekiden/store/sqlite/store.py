"""The embedded SQLite store: WAL, synchronous=FULL, grouped commits.

Each public method is one atomic transition executed by the ``GroupCommitWriter`` thread
and answered only after the group it belongs to is committed. Every query is an index
lookup or an index range bounded by the request (batch size, in-flight count), so a
backlog of millions costs nothing per call; bodies stay on disk until delivered.
"""

from __future__ import annotations

import asyncio
import fcntl
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from ekiden.core.errors import QueueDoesNotExist
from ekiden.core.ids import ReceiptRef
from ekiden.core.rules import visibility
from ekiden.core.storage import (
    ClaimRequest,
    ClaimResult,
    DeleteOutcome,
    EnqueueOutcome,
    MoveTaskRecord,
    NewMessage,
    PeekedMessage,
    QueueCounts,
    QueueRecord,
    VisibilityChange,
    VisibilityOutcome,
)
from ekiden.store.sqlite.claim import (
    Claim,
    ClaimKey,
    claim_batch,
    claim_key,
    move_message,
    refresh_group,
)
from ekiden.store.sqlite.coalesce import Coalescer
from ekiden.store.sqlite.enqueue import message_rows, store_sends
from ekiden.store.sqlite.health import open_connection, probe_write
from ekiden.store.sqlite.peek import oldest_sent_ms, peek_messages
from ekiden.store.sqlite.schema import migrate
from ekiden.store.sqlite.sql import Row, json_rows, key_lists
from ekiden.store.sqlite.writer import GroupCommitWriter

_EXPIRE_BATCH = 5_000


class DataDirInUse(Exception):
    """Another live process holds the data directory."""


def _lock_data_dir(data_dir: Path) -> IO[bytes]:
    """Hold an exclusive lock on the data dir for the life of the store: two brokers
    writing one database would each believe their view is the truth."""
    handle = (data_dir / "ekiden.lock").open("a+b")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DataDirInUse(
            f"the data directory {data_dir} is in use by another ekiden process"
        ) from None
    return handle


class SqliteStore:
    """The default, embedded implementation of ``ekiden.core.storage.Store``."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        loop: asyncio.AbstractEventLoop,
        commit_delay_s: float = 0.0,
        reopen: Callable[[], sqlite3.Connection] | None = None,
    ) -> None:
        self._writer = GroupCommitWriter(
            conn, loop, commit_delay_s, reopen=reopen, probe=probe_write
        )
        submit = self._writer.submit
        self._sends: Coalescer[tuple[int, bool], tuple[NewMessage, Row], EnqueueOutcome] = (
            Coalescer(submit, self._store_sends, loop)
        )
        # Receives are answered before their commit (see ekiden.store.sqlite.writer).
        self._claims: Coalescer[ClaimKey, ClaimRequest, ClaimResult] = Coalescer(
            submit,
            lambda conn, key, requests: claim_batch(conn, key, requests, self._fifo_queues),
            loop,
            durable=False,
        )
        self._deletes: Coalescer[tuple[int, bool], tuple[ReceiptRef, int], str] = Coalescer(
            submit, _delete_batch, loop
        )
        self._fifo_queues: set[int] = set()
        self._lock: IO[bytes] | None = None

    @classmethod
    async def open(cls, data_dir: Path, commit_delay_s: float = 0.0) -> SqliteStore:
        """Open (creating and migrating as needed) the store in ``data_dir``.

        ``commit_delay_s`` lets each group wait that long for more work before committing.
        """
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = _lock_data_dir(data_dir)
        path = data_dir / "ekiden.sqlite3"
        try:
            conn = open_connection(path)
            migrate(conn)
        except BaseException:
            lock.close()
            raise
        store = cls(conn, asyncio.get_running_loop(), commit_delay_s, lambda: open_connection(path))
        store._lock = lock
        await store._run(store._load_queue_types)
        return store

    @property
    def writer(self) -> GroupCommitWriter:
        return self._writer

    async def _run(self, work: Any, *args: Any) -> Any:
        """Run a read (served even while the store refuses writes)."""
        return await self._writer.submit(lambda conn: work(conn, *args), read=True)

    def healthy(self) -> bool:
        """False while the store refuses writes (its disk failed; reads still work)."""
        return not self._writer.failed

    async def receipt_key(self) -> bytes:
        def work(conn: sqlite3.Connection) -> bytes:
            row = conn.execute("SELECT value FROM meta WHERE name = 'receipt_key'").fetchone()
            if row is not None:
                return bytes(row[0])
            key = secrets.token_bytes(32)
            conn.execute("INSERT INTO meta VALUES ('receipt_key', ?)", (key,))
            return key

        result: bytes = await self._writer.submit(work)
        return result

    async def close(self) -> None:
        await self._writer.close()
        if self._lock is not None:
            self._lock.close()  # releases the data dir for another process
            self._lock = None

    def _load_queue_types(self, conn: sqlite3.Connection) -> None:
        self._fifo_queues = {
            row[0] for row in conn.execute("SELECT id FROM queues WHERE is_fifo = 1")
        }

    # --- queues ----------------------------------------------------------------------

    async def create_queue(
        self,
        name: str,
        is_fifo: bool,
        attributes: dict[str, str],
        tags: dict[str, str],
        now_ms: int,
    ) -> QueueRecord:
        def work(conn: sqlite3.Connection) -> QueueRecord:
            cursor = conn.execute(
                "INSERT INTO queues (name, is_fifo, attributes, tags, created_ms, modified_ms)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, int(is_fifo), orjson.dumps(attributes), orjson.dumps(tags), now_ms, now_ms),
            )
            queue_id = int(cursor.lastrowid or 0)
            if is_fifo:
                self._fifo_queues.add(queue_id)
            return QueueRecord(
                queue_id, name, is_fifo, dict(attributes), dict(tags), now_ms, now_ms
            )

        result: QueueRecord = await self._writer.submit(work)
        return result

    async def get_queue(self, name: str) -> QueueRecord | None:
        result: QueueRecord | None = await self._run(_select_queue, "name = ?", name)
        return result

    async def get_queue_by_id(self, queue_id: int) -> QueueRecord | None:
        result: QueueRecord | None = await self._run(_select_queue, "id = ?", queue_id)
        return result

    async def list_queues(self) -> list[QueueRecord]:
        def work(conn: sqlite3.Connection) -> list[QueueRecord]:
            rows = conn.execute(
                "SELECT id, name, is_fifo, attributes, tags, created_ms, modified_ms, "
                "purged_at_ms FROM queues ORDER BY name"
            ).fetchall()
            return [_queue_from_row(row) for row in rows]

        result: list[QueueRecord] = await self._writer.submit(work, read=True)
        return result

    async def update_queue(
        self, queue_id: int, attributes: dict[str, str], tags: dict[str, str], now_ms: int
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE queues SET attributes = ?, tags = ?, modified_ms = ? WHERE id = ?",
                (orjson.dumps(attributes), orjson.dumps(tags), now_ms, queue_id),
            )

        await self._writer.submit(work)

    async def delete_queue(self, queue_id: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM messages WHERE queue_id = ?", (queue_id,))
            conn.execute("DELETE FROM fifo_groups WHERE queue_id = ?", (queue_id,))
            conn.execute("DELETE FROM dedup WHERE queue_id = ?", (queue_id,))
            conn.execute("DELETE FROM receive_attempts WHERE queue_id = ?", (queue_id,))
            conn.execute("DELETE FROM queues WHERE id = ?", (queue_id,))
            self._fifo_queues.discard(queue_id)

        await self._writer.submit(work)

    # --- sending ---------------------------------------------------------------------

    async def enqueue(
        self,
        queue: QueueRecord,
        messages: Sequence[NewMessage],
        retention_ms: int,
        now_ms: int,
    ) -> list[EnqueueOutcome]:
        rows = message_rows(queue.queue_id, messages, retention_ms, now_ms)
        return await self._sends.add(
            (queue.queue_id, queue.is_fifo), list(zip(messages, rows, strict=True))
        )

    @staticmethod
    def _store_sends(
        conn: sqlite3.Connection, key: tuple[int, bool], sends: list[tuple[NewMessage, Row]]
    ) -> list[EnqueueOutcome]:
        queue_id, is_fifo = key
        outcomes = store_sends(conn, queue_id, is_fifo, sends)
        added = sum(1 for outcome in outcomes if not outcome.duplicate)
        # One statement counts the messages and finds out whether the queue was deleted
        # while these sends were on their way (every statement costs the writer a GIL
        # hand-over); raising makes the writer roll this job's rows back.
        counted = conn.execute(
            "UPDATE queues SET message_count = message_count + ? WHERE id = ?",
            (added, queue_id),
        )
        if counted.rowcount == 0:
            raise QueueDoesNotExist()
        return outcomes

    # --- receiving -------------------------------------------------------------------

    async def claim(self, request: ClaimRequest) -> ClaimResult:
        key = claim_key(request)
        if key is None:
            result: ClaimResult = await self._writer.submit(
                lambda conn: Claim(conn, request, self._fifo_queues).run(), durable=False
            )
            return result
        (coalesced,) = await self._claims.add(key, [request])
        return coalesced

    async def delete_messages(
        self, queue_id: int, receipts: Sequence[ReceiptRef], now_ms: int
    ) -> list[str]:
        fifo = queue_id in self._fifo_queues
        return await self._deletes.add(
            (queue_id, fifo), [(receipt, now_ms) for receipt in receipts]
        )

    async def change_visibility(
        self, queue_id: int, changes: Sequence[VisibilityChange], now_ms: int
    ) -> list[str]:
        fifo = queue_id in self._fifo_queues

        def work(conn: sqlite3.Connection) -> list[str]:
            outcomes: list[str] = []
            for change in changes:
                row = conn.execute(
                    "SELECT nonce, visible_at_ms, received_ms, group_id FROM messages "
                    "WHERE seq = ? AND queue_id = ?",
                    (change.receipt.seq, queue_id),
                ).fetchone()
                if row is None or row[0] != change.receipt.nonce:
                    outcomes.append(VisibilityOutcome.NOT_FOUND)
                    continue
                _nonce, _visible_at, received_ms, group_id = row
                # A lapsed delivery whose newest handle is still held may be hidden again,
                # as in SQS; only the 12-hour cap since that receive applies.
                if not visibility.extension_allowed(received_ms, now_ms, change.visibility_s):
                    outcomes.append(VisibilityOutcome.TOO_LONG)
                    continue
                conn.execute(
                    "UPDATE messages SET visible_at_ms = ? WHERE seq = ?",
                    (visibility.hidden_until(now_ms, change.visibility_s), change.receipt.seq),
                )
                if fifo and group_id is not None:
                    refresh_group(conn, queue_id, group_id)
                outcomes.append(VisibilityOutcome.CHANGED)
            return outcomes

        result: list[str] = await self._writer.submit(work)
        return result

    async def reset_retention(self, queue_id: int, retention_ms: int) -> None:
        """Re-derive every message's expiry from its send time and a new retention period.

        One statement over the queue's rows (through the per-queue index): a retention
        change is rare, and doing it whole keeps every message's expiry consistent.
        """

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE messages SET expires_ms = COALESCE(retention_start_ms, sent_ms) + ? "
                "WHERE queue_id = ?",
                (retention_ms, queue_id),
            )

        await self._writer.submit(work)

    async def purge(self, queue_id: int, now_ms: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            cursor = conn.execute("DELETE FROM messages WHERE queue_id = ?", (queue_id,))
            conn.execute("DELETE FROM fifo_groups WHERE queue_id = ?", (queue_id,))
            conn.execute(
                "UPDATE queues SET message_count = 0, purged_at_ms = ? WHERE id = ?",
                (now_ms, queue_id),
            )
            return cursor.rowcount

        result: int = await self._writer.submit(work)
        return result

    async def counts(self, queue_id: int, now_ms: int) -> QueueCounts:
        def work(conn: sqlite3.Connection) -> QueueCounts:
            (total,) = conn.execute(
                "SELECT message_count FROM queues WHERE id = ?", (queue_id,)
            ).fetchone() or (0,)
            in_flight, delayed = conn.execute(
                "SELECT COALESCE(SUM(receive_count > 0), 0), COALESCE(SUM(receive_count = 0), 0)"
                " FROM messages WHERE queue_id = ? AND visible_at_ms > ?",
                (queue_id, now_ms),
            ).fetchone()
            return QueueCounts(max(total - in_flight - delayed, 0), in_flight, delayed)

        result: QueueCounts = await self._writer.submit(work, read=True)
        return result

    async def peek(self, queue_id: int, limit: int, now_ms: int) -> list[PeekedMessage]:
        is_fifo = queue_id in self._fifo_queues
        result: list[PeekedMessage] = await self._run(
            peek_messages, queue_id, limit, now_ms, is_fifo
        )
        return result

    async def oldest_sent_ms(self, queue_id: int) -> int | None:
        result: int | None = await self._run(oldest_sent_ms, queue_id)
        return result

    async def expire(self, now_ms: int) -> int:
        """Delete messages past retention, and dedup/attempt records past their window."""

        def work(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "SELECT seq, queue_id, group_id FROM messages WHERE expires_ms <= ? LIMIT ?",
                (now_ms, _EXPIRE_BATCH),
            ).fetchall()
            per_queue: dict[int, int] = {}
            groups: set[tuple[int, str]] = set()
            for seq, queue_id, group_id in rows:
                conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))
                per_queue[queue_id] = per_queue.get(queue_id, 0) + 1
                if group_id is not None and queue_id in self._fifo_queues:
                    groups.add((queue_id, group_id))
            for queue_id, count in per_queue.items():
                conn.execute(
                    "UPDATE queues SET message_count = message_count - ? WHERE id = ?",
                    (count, queue_id),
                )
            for queue_id, group_id in groups:
                refresh_group(conn, queue_id, group_id)
            conn.execute("DELETE FROM dedup WHERE expires_ms <= ?", (now_ms,))
            conn.execute("DELETE FROM receive_attempts WHERE expires_ms <= ?", (now_ms,))
            return len(rows)

        result: int = await self._writer.submit(work)
        return result

    # --- message move tasks ----------------------------------------------------------

    async def max_seq(self, queue_id: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            (value,) = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE queue_id = ?", (queue_id,)
            ).fetchone()
            return int(value)

        result: int = await self._writer.submit(work, read=True)
        return result

    async def create_move_task(self, task: MoveTaskRecord) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO move_tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task.task_id,
                    task.source_queue_id,
                    task.source_arn,
                    task.destination_arn,
                    task.rate_per_s,
                    task.status,
                    task.started_ms,
                    task.to_move,
                    task.moved,
                    task.max_seq,
                    task.failure_reason,
                ),
            )

        await self._writer.submit(work)

    async def list_move_tasks(self, source_queue_id: int | None = None) -> list[MoveTaskRecord]:
        def work(conn: sqlite3.Connection) -> list[MoveTaskRecord]:
            sql = "SELECT * FROM move_tasks"
            args: tuple[Any, ...] = ()
            if source_queue_id is not None:
                sql += " WHERE source_queue_id = ?"
                args = (source_queue_id,)
            sql += " ORDER BY started_ms DESC, task_id"
            return [MoveTaskRecord(*row) for row in conn.execute(sql, args)]

        result: list[MoveTaskRecord] = await self._writer.submit(work, read=True)
        return result

    async def update_move_task_status(
        self, task_id: str, status: str, failure_reason: str | None = None
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            # Only a running task changes state: a cancel racing the last step must not
            # turn a COMPLETED task into CANCELLED.
            conn.execute(
                "UPDATE move_tasks SET status = ?, failure_reason = ? "
                "WHERE task_id = ? AND status = 'RUNNING'",
                (status, failure_reason, task_id),
            )

        await self._writer.submit(work)

    async def move_messages(
        self, task_id: str, destination_queue_id: int | None, limit: int, now_ms: int
    ) -> int:
        """Move up to ``limit`` messages of a task; completes the task when none are left.

        Without a destination each message returns to the queue it was dead-lettered from.
        """

        def work(conn: sqlite3.Connection) -> int:
            task_row = conn.execute(
                "SELECT source_queue_id, max_seq, status FROM move_tasks WHERE task_id = ?",
                (task_id,),
            ).fetchone()
            if task_row is None or task_row[2] != "RUNNING":
                return 0
            source_id, max_seq, _ = task_row
            # Both orders walk an index (no scan or sort of the whole DLQ). FIFO order only
            # holds within a group, so a FIFO DLQ moves group by group, oldest first.
            if source_id in self._fifo_queues:
                order = "AND group_id IS NOT NULL ORDER BY group_id, seq"
            else:
                order = "ORDER BY visible_at_ms"
            rows = conn.execute(
                "SELECT seq, dlq_source_queue_id, group_id FROM messages "
                f"WHERE queue_id = ? AND seq <= ? {order} LIMIT ?",
                (source_id, max_seq, limit),
            ).fetchall()
            moved = 0
            for seq, dlq_source, group_id in rows:
                target = destination_queue_id if destination_queue_id is not None else dlq_source
                exists = (
                    target is not None
                    and conn.execute("SELECT 1 FROM queues WHERE id = ?", (target,)).fetchone()
                )
                if not exists or target is None:
                    conn.execute(
                        "UPDATE move_tasks SET status = 'FAILED', failure_reason = ? "
                        "WHERE task_id = ?",
                        ("The destination queue of a message does not exist.", task_id),
                    )
                    break
                move_message(
                    conn,
                    seq,
                    source_id,
                    target,
                    group_id,
                    now_ms,
                    self._fifo_queues,
                    expires_ms=None,
                )
                moved += 1
            conn.execute(
                "UPDATE move_tasks SET moved = moved + ? WHERE task_id = ?", (moved, task_id)
            )
            if len(rows) < limit:
                conn.execute(
                    "UPDATE move_tasks SET status = 'COMPLETED' WHERE task_id = ? "
                    "AND status = 'RUNNING'",
                    (task_id,),
                )
            return moved

        result: int = await self._writer.submit(work)
        return result


def _delete_batch(
    conn: sqlite3.Connection, key: tuple[int, bool], items: list[tuple[ReceiptRef, int]]
) -> list[str]:
    """Delete coalesced receipts (receipt, the call's now) in order: one lookup and one
    delete for all of them (see ``ekiden.store.sqlite.coalesce``)."""
    queue_id, fifo = key
    rows = {}
    for marks, values in key_lists(conn, list({receipt.seq for receipt, _ in items})):
        for seq, nonce, group_id, visible_at in json_rows(
            conn,
            "SELECT json_group_array(json_array(seq, nonce, group_id, visible_at_ms)) "
            "FROM messages "
            # "+queue_id": look rows up by key; with five or more keys SQLite would
            # otherwise walk the queue's whole index instead.
            f"WHERE seq IN ({marks}) AND +queue_id = ?",
            (*values, queue_id),
        ):
            rows[seq] = (nonce, group_id, visible_at)
    outcomes: list[str] = []
    deleted: list[int] = []
    groups: set[str] = set()
    for receipt, now_ms in items:
        row = rows.pop(receipt.seq, None)  # a second handle of one message: gone
        if row is None:
            outcomes.append(DeleteOutcome.GONE)
            continue
        nonce, group_id, visible_at = row
        if fifo and (nonce != receipt.nonce or visibility.is_visible(visible_at, now_ms)):
            # A FIFO receipt is only good while its delivery is in flight: after
            # that the group may have moved on to another receiver.
            outcomes.append(DeleteOutcome.EXPIRED)
            rows[receipt.seq] = row  # still there for a later, current handle
            continue
        if nonce != receipt.nonce:
            outcomes.append(DeleteOutcome.GONE)
            rows[receipt.seq] = row
            continue
        deleted.append(receipt.seq)
        outcomes.append(DeleteOutcome.DELETED)
        if fifo and group_id is not None:
            groups.add(group_id)
    if deleted:
        for marks, values in key_lists(conn, deleted):
            conn.execute(f"DELETE FROM messages WHERE seq IN ({marks})", values)
        conn.execute(
            "UPDATE queues SET message_count = message_count - ? WHERE id = ?",
            (len(deleted), queue_id),
        )
    for group_id in groups:
        refresh_group(conn, queue_id, group_id)
    return outcomes


def _select_queue(conn: sqlite3.Connection, where: str, value: Any) -> QueueRecord | None:
    row = conn.execute(
        "SELECT id, name, is_fifo, attributes, tags, created_ms, modified_ms, purged_at_ms "
        f"FROM queues WHERE {where}",
        (value,),
    ).fetchone()
    return None if row is None else _queue_from_row(row)


def _queue_from_row(row: tuple[Any, ...]) -> QueueRecord:
    return QueueRecord(
        queue_id=row[0],
        name=row[1],
        is_fifo=bool(row[2]),
        attributes=orjson.loads(row[3]),
        tags=orjson.loads(row[4]),
        created_ms=row[5],
        modified_ms=row[6],
        purged_at_ms=row[7],
    )
