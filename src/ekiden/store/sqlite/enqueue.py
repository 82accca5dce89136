"""Sends on the SQLite store: insert messages with as few statements as possible,
deduplicating FIFO messages and keeping each FIFO group's head.

Why few statements: the writer thread gives up the GIL inside every SQLite step and must
win it back from the event-loop thread afterwards. A statement per message made those
hand-overs, not SQLite, the cost of a send. So rows go in with multi-row INSERTs, and
``SendCoalescer`` gathers the sends to one queue that wait for the same group commit into
one store job: a hundred concurrent SendMessage calls cost a handful of statements.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ekiden.core.ids import format_sequence_number
from ekiden.core.rules import dedup
from ekiden.core.storage import EnqueueOutcome, NewMessage
from ekiden.store.sqlite.codec import encode_attributes

_MESSAGE_COLUMNS = (
    "queue_id, message_id, body, attributes, system_attributes, md5_body, md5_attributes, "
    "md5_system, sender_id, sent_ms, expires_ms, visible_at_ms, group_id, dedup_id"
)
_SENT_AT = 9  # index of sent_ms in a row of _MESSAGE_COLUMNS
_VISIBLE_AT = 11  # index of visible_at_ms

Row = tuple[Any, ...]


@cache
def _multi_row(statement: str, columns: int, rows: int) -> str:
    """``statement`` followed by ``rows`` placeholder tuples of ``columns`` values."""
    one = "(" + ", ".join("?" * columns) + ")"
    return statement + " VALUES " + ", ".join([one] * rows)


def _chunks(count: int) -> list[int]:
    """Split ``count`` rows into powers of two of at most 256 rows, largest first.

    Every distinct row count is a distinct statement for SQLite's statement cache; powers
    of two keep that set to nine per table whatever sizes the sends have, and 256 rows of
    14 values stay far below SQLite's limit of bound values per statement.
    """
    sizes = []
    size = 256
    while count:
        while size > count:
            size //= 2
        sizes.append(size)
        count -= size
    return sizes


def _insert_many(
    conn: sqlite3.Connection, statement: str, columns: int, rows: Sequence[Row]
) -> int:
    """Insert ``rows`` in order, with one statement per chunk; the rowid of the first."""
    first = 0
    start = 0
    for size in _chunks(len(rows)):
        chunk = rows[start : start + size]
        flat = [value for row in chunk for value in row]
        last = int(conn.execute(_multi_row(statement, columns, size), flat).lastrowid or 0)
        if start == 0:
            first = last - size + 1
        start += size
    return first


def insert_messages(conn: sqlite3.Connection, rows: Sequence[Row]) -> int:
    """Insert message rows (in ``_MESSAGE_COLUMNS`` order); the ``seq`` of the first.

    ``seq`` is an AUTOINCREMENT key and only the writer thread inserts, so rows inserted
    together get consecutive values in their order: the first row's seq and the offset
    of a row name its seq.
    """
    return _insert_many(conn, f"INSERT INTO messages ({_MESSAGE_COLUMNS})", 14, rows)


def message_rows(
    queue_id: int, messages: Sequence[NewMessage], retention_ms: int, now_ms: int
) -> list[Row]:
    expires_ms = now_ms + retention_ms
    return [
        (
            queue_id,
            m.message_id,
            m.body,
            encode_attributes(m.attributes),
            encode_attributes(m.system_attributes),
            m.md5_of_body,
            m.md5_of_attributes,
            m.md5_of_system_attributes,
            m.sender_id,
            now_ms,
            expires_ms,
            now_ms + m.delay_s * 1000,
            m.group_id,
            m.dedup_id,
        )
        for m in messages
    ]


def enqueue_standard(
    conn: sqlite3.Connection,
    queue_id: int,
    messages: Sequence[NewMessage],
    retention_ms: int,
    now_ms: int,
) -> list[EnqueueOutcome]:
    """Store every message (standard queues have no sequence numbers or dedup)."""
    return _store_standard(
        conn, queue_id, messages, message_rows(queue_id, messages, retention_ms, now_ms)
    )


def enqueue_fifo(
    conn: sqlite3.Connection,
    queue_id: int,
    messages: Sequence[NewMessage],
    retention_ms: int,
    now_ms: int,
) -> list[EnqueueOutcome]:
    """Store the FIFO messages whose deduplication key was not seen in the last 5 minutes.

    A duplicate is answered with the original's id and sequence number, whether the
    original came in an earlier request or earlier in this one. Each stored message's
    group gets a head row if it has none (the group was empty).
    """
    return _store_fifo(
        conn, queue_id, messages, message_rows(queue_id, messages, retention_ms, now_ms)
    )


def _store_standard(
    conn: sqlite3.Connection, queue_id: int, messages: Sequence[NewMessage], rows: Sequence[Row]
) -> list[EnqueueOutcome]:
    del queue_id  # the rows name it
    insert_messages(conn, rows)
    return [EnqueueOutcome(m.message_id, None, False) for m in messages]


def _store_fifo(
    conn: sqlite3.Connection, queue_id: int, messages: Sequence[NewMessage], rows: Sequence[Row]
) -> list[EnqueueOutcome]:
    """``enqueue_fifo`` for prepared rows; each message's dedup window starts at its own
    send time (the rows of coalesced requests differ by a few milliseconds)."""
    seen = _recent_dedup_hits(conn, queue_id, messages, rows)
    fresh: list[int] = []  # indexes (in ``messages``) of the messages to store
    # Per message: the position in ``fresh`` of the message it is answered with and
    # whether it is a duplicate of it, or (message id, seq) of an original stored earlier.
    answers: list[tuple[int, bool] | tuple[str, int]] = []
    pending: dict[str, int] = {}  # dedup key -> position in ``fresh``
    for index, message in enumerate(messages):
        key = message.dedup_key
        hit = seen.get(key) if key is not None else None
        if hit is not None and hit[2] > rows[index][_SENT_AT]:
            answers.append((hit[0], hit[1]))
        elif key is not None and key in pending:
            answers.append((pending[key], True))
        else:
            if key is not None:
                pending[key] = len(fresh)
            answers.append((len(fresh), False))
            fresh.append(index)
    first_seq = 0
    if fresh:
        fresh_rows = [rows[i] for i in fresh]
        first_seq = insert_messages(conn, fresh_rows)
        _remember_dedup(conn, queue_id, [messages[i] for i in fresh], fresh_rows, first_seq)
        heads: dict[str | None, tuple[int, int]] = {}
        for offset, row in enumerate(fresh_rows):
            heads.setdefault(row[12], (first_seq + offset, row[_VISIBLE_AT]))
        _insert_many(
            conn,
            "INSERT OR IGNORE INTO fifo_groups",
            4,
            [(queue_id, group, seq, visible_at) for group, (seq, visible_at) in heads.items()],
        )
    outcomes = []
    for answer in answers:
        if isinstance(answer[0], int):
            position, duplicate = answer
            original_id = messages[fresh[position]].message_id
            seq = first_seq + position
        else:
            (original_id, seq), duplicate = answer, True
        outcomes.append(
            EnqueueOutcome(original_id, format_sequence_number(int(seq)), bool(duplicate))
        )
    return outcomes


def _recent_dedup_hits(
    conn: sqlite3.Connection, queue_id: int, messages: Sequence[NewMessage], rows: Sequence[Row]
) -> dict[str, tuple[str, int, int]]:
    """Dedup key -> (message id, seq, window end) of messages stored under it in the
    window of the earliest of these sends."""
    keys = list({m.dedup_key for m in messages if m.dedup_key is not None})
    if not keys:
        return {}
    placeholders = ", ".join("?" * len(keys))
    earliest = min(row[_SENT_AT] for row in rows)
    return {
        key: (message_id, seq, expires_ms)
        for key, message_id, seq, expires_ms in conn.execute(
            "SELECT dedup_key, message_id, seq, expires_ms FROM dedup WHERE queue_id = ? AND "
            f"dedup_key IN ({placeholders}) AND expires_ms > ?",
            (queue_id, *keys, earliest),
        )
    }


def _remember_dedup(
    conn: sqlite3.Connection,
    queue_id: int,
    fresh: Sequence[NewMessage],
    fresh_rows: Sequence[Row],
    first_seq: int,
) -> None:
    rows = [
        (
            queue_id,
            m.dedup_key,
            m.message_id,
            first_seq + offset,
            dedup.dedup_expires_ms(row[_SENT_AT]),
        )
        for offset, (m, row) in enumerate(zip(fresh, fresh_rows, strict=True))
        if m.dedup_key is not None
    ]
    if rows:
        _insert_many(conn, "INSERT OR REPLACE INTO dedup", 5, rows)


# --- coalescing ------------------------------------------------------------------------


@dataclass(slots=True)
class QueueSends:
    """The sends to one queue waiting for the writer, stored by one job."""

    queue_id: int
    is_fifo: bool
    messages: list[NewMessage] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    # Where each request's messages start in ``messages``, in request order.
    starts: list[int] = field(default_factory=list)


Submit = Callable[[Callable[[sqlite3.Connection], Any]], "asyncio.Future[Any]"]


class SendCoalescer:
    """Turns the sends to one queue that wait for the same group commit into one job.

    The first send to a queue submits a job and opens a batch for that queue; the sends
    that follow join the batch until the writer thread starts the job, which closes the
    batch and stores all its messages in request order (so FIFO order and dedup behave
    exactly as if the requests had run one after the other). Every request is answered
    from the job's one result, after its commit. A failure of the job (the queue was
    deleted meanwhile) is every joined request's failure; they all named that queue.
    """

    def __init__(
        self,
        submit: Submit,
        store_job: Callable[[sqlite3.Connection, QueueSends], list[EnqueueOutcome]],
    ) -> None:
        self._submit = submit
        self._store_job = store_job
        self._lock = threading.Lock()  # the loop thread adds, the writer thread closes
        self._open: dict[int, tuple[QueueSends, asyncio.Future[Any]]] = {}

    async def send(
        self,
        queue_id: int,
        is_fifo: bool,
        messages: Sequence[NewMessage],
        retention_ms: int,
        now_ms: int,
    ) -> list[EnqueueOutcome]:
        rows = message_rows(queue_id, messages, retention_ms, now_ms)
        with self._lock:
            entry = self._open.get(queue_id)
            if entry is None:
                batch = QueueSends(queue_id, is_fifo)
                future = self._submit(lambda conn: self._run(conn, batch))
                self._open[queue_id] = (batch, future)
            else:
                batch, future = entry
            start = len(batch.messages)
            batch.starts.append(start)
            batch.messages.extend(messages)
            batch.rows.extend(rows)
        outcomes: list[EnqueueOutcome] = await future
        return outcomes[start : start + len(messages)]

    def _run(self, conn: sqlite3.Connection, batch: QueueSends) -> list[EnqueueOutcome]:
        with self._lock:
            if self._open.get(batch.queue_id, (None,))[0] is batch:
                del self._open[batch.queue_id]  # later sends start a new batch
        return self._store_job(conn, batch)


def store_batch(conn: sqlite3.Connection, batch: QueueSends) -> list[EnqueueOutcome]:
    """Store a coalesced batch (its queue must exist; the caller checks)."""
    store = _store_fifo if batch.is_fifo else _store_standard
    return store(conn, batch.queue_id, batch.messages, batch.rows)
