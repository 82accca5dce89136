"""One send on the SQLite store: insert a request's messages with as few statements as
possible, deduplicating FIFO messages and keeping each FIFO group's head.

Why few statements: the writer thread gives up the GIL inside every SQLite step and must
win it back from the event-loop thread afterwards. A statement per message made those
hand-overs, not SQLite, the cost of a send; one multi-row statement per request is a
single hand-over whatever the batch size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
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
_VISIBLE_AT = 11  # index of visible_at_ms in a row of _MESSAGE_COLUMNS


@cache
def _multi_row(statement: str, columns: int, rows: int) -> str:
    """``statement`` followed by ``rows`` placeholder tuples of ``columns`` values."""
    one = "(" + ", ".join("?" * columns) + ")"
    return statement + " VALUES " + ", ".join([one] * rows)


def _insert_many(
    conn: sqlite3.Connection, statement: str, columns: int, rows: Sequence[tuple[Any, ...]]
) -> int:
    """Insert ``rows`` with one statement; the rowid of the last one."""
    flat = [value for row in rows for value in row]
    cursor = conn.execute(_multi_row(statement, columns, len(rows)), flat)
    return int(cursor.lastrowid or 0)


def insert_messages(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert message rows (in ``_MESSAGE_COLUMNS`` order); the ``seq`` of the first.

    ``seq`` is an AUTOINCREMENT key and only the writer thread inserts, so the rows of
    one statement get consecutive values in their order: the last insert id names the
    last row and the others precede it.
    """
    last = _insert_many(conn, f"INSERT INTO messages ({_MESSAGE_COLUMNS})", 14, rows)
    return last - len(rows) + 1


def message_rows(
    queue_id: int, messages: Sequence[NewMessage], retention_ms: int, now_ms: int
) -> list[tuple[Any, ...]]:
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
    insert_messages(conn, message_rows(queue_id, messages, retention_ms, now_ms))
    return [EnqueueOutcome(m.message_id, None, False) for m in messages]


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
    seen = _recent_dedup_hits(conn, queue_id, messages, now_ms)
    fresh: list[NewMessage] = []
    # Per message: the index in ``fresh`` of the message it is answered with and whether
    # it is a duplicate of it, or (message id, seq) of an original stored earlier.
    answers: list[tuple[int, bool] | tuple[str, int]] = []
    pending: dict[str, int] = {}  # dedup key -> index in ``fresh``
    for message in messages:
        key = message.dedup_key
        if key is not None and key in seen:
            answers.append(seen[key])
        elif key is not None and key in pending:
            answers.append((pending[key], True))
        else:
            if key is not None:
                pending[key] = len(fresh)
            answers.append((len(fresh), False))
            fresh.append(message)
    first_seq = 0
    if fresh:
        rows = message_rows(queue_id, fresh, retention_ms, now_ms)
        first_seq = insert_messages(conn, rows)
        _remember_dedup(conn, queue_id, fresh, first_seq, now_ms)
        heads: dict[str | None, tuple[int, int]] = {}
        for offset, (message, row) in enumerate(zip(fresh, rows, strict=True)):
            heads.setdefault(message.group_id, (first_seq + offset, row[_VISIBLE_AT]))
        _insert_many(
            conn,
            "INSERT OR IGNORE INTO fifo_groups",
            4,
            [(queue_id, group, seq, visible_at) for group, (seq, visible_at) in heads.items()],
        )
    outcomes = []
    for answer in answers:
        if isinstance(answer[0], int):
            index, duplicate = answer
            original_id = fresh[index].message_id
            seq = first_seq + index
        else:
            (original_id, seq), duplicate = answer, True
        outcomes.append(
            EnqueueOutcome(original_id, format_sequence_number(int(seq)), bool(duplicate))
        )
    return outcomes


def _recent_dedup_hits(
    conn: sqlite3.Connection, queue_id: int, messages: Sequence[NewMessage], now_ms: int
) -> dict[str, tuple[str, int]]:
    """Dedup key -> (message id, seq) of messages stored under it in the last 5 minutes."""
    keys = list({m.dedup_key for m in messages if m.dedup_key is not None})
    if not keys:
        return {}
    placeholders = ", ".join("?" * len(keys))
    return {
        key: (message_id, seq)
        for key, message_id, seq in conn.execute(
            "SELECT dedup_key, message_id, seq FROM dedup WHERE queue_id = ? AND "
            f"dedup_key IN ({placeholders}) AND expires_ms > ?",
            (queue_id, *keys, now_ms),
        )
    }


def _remember_dedup(
    conn: sqlite3.Connection,
    queue_id: int,
    fresh: Sequence[NewMessage],
    first_seq: int,
    now_ms: int,
) -> None:
    expires_ms = dedup.dedup_expires_ms(now_ms)
    rows = [
        (queue_id, m.dedup_key, m.message_id, first_seq + offset, expires_ms)
        for offset, m in enumerate(fresh)
        if m.dedup_key is not None
    ]
    if rows:
        _insert_many(conn, "INSERT OR REPLACE INTO dedup", 5, rows)
