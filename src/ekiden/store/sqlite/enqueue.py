"""Sends on the SQLite store: insert messages with as few statements as possible,
deduplicating FIFO messages and keeping each FIFO group's head.

Why few statements: see ``ekiden.store.sqlite.coalesce``. Rows go in with multi-row
INSERTs, and the store coalesces the sends to one queue that wait for the same group
commit into one call of ``store_sends``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cache
from operator import itemgetter
from typing import Final

from ekiden.core import limits
from ekiden.core.ids import format_sequence_number
from ekiden.core.rules import dedup
from ekiden.core.storage import EnqueueOutcome, NewMessage
from ekiden.store.sqlite.codec import encode_attributes
from ekiden.store.sqlite.sql import Row, insert_many, key_lists

_MESSAGE_COLUMNS: Final = (
    "queue_id",
    "message_id",
    "body",
    "attributes",
    "system_attributes",
    "md5_body",
    "md5_attributes",
    "md5_system",
    "sender_id",
    "sent_ms",
    "expires_ms",
    "visible_at_ms",
    "group_id",
    "dedup_id",
)
_SENT_AT = 9  # index of sent_ms in a row of _MESSAGE_COLUMNS
_VISIBLE_AT = 11  # index of visible_at_ms
# Columns that are NULL for most messages, by index, in the pairs that are NULL together:
# attributes and their digest, system attributes and theirs, FIFO group and dedup id.
_OFTEN_NULL: Final = ((3, 6), (4, 7), (12, 13))
_ALL_COLUMNS: Final = tuple(range(len(_MESSAGE_COLUMNS)))


def insert_messages(conn: sqlite3.Connection, rows: Sequence[Row]) -> int:
    """Insert message rows (in ``_MESSAGE_COLUMNS`` order); the ``seq`` of the first.

    ``seq`` is an AUTOINCREMENT key and only the writer thread inserts, so rows inserted
    together get consecutive values in their order: the first row's seq and the offset
    of a row name its seq.

    Columns that are NULL in every row are left out of the statement (they default to
    NULL): the sqlite3 module binds ``None`` (and ``bytes``) through its adapter
    registry, a lookup that fails three ways and costs about 0.7 µs a value -- a plain
    standard-queue message has six of them, which made binding it four times dearer.
    """
    unused = [
        column
        for pair in _OFTEN_NULL
        if all(row[pair[0]] is None and row[pair[1]] is None for row in rows)
        for column in pair
    ]
    if not unused:
        return insert_many(conn, _insert_statement(_ALL_COLUMNS), len(_ALL_COLUMNS), rows)
    # At most eight column sets (pairs dropped together), each a handful of chunk sizes:
    # the statement cache (health.open_connection) holds them all.
    kept = tuple(i for i in _ALL_COLUMNS if i not in unused)
    narrow = itemgetter(*kept)
    return insert_many(conn, _insert_statement(kept), len(kept), [narrow(row) for row in rows])


@cache
def _insert_statement(columns: tuple[int, ...]) -> str:
    return f"INSERT INTO messages ({', '.join(_MESSAGE_COLUMNS[i] for i in columns)})"


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


_Answer = tuple[str, int, bool]
"""How a FIFO send is answered: message id and seq (its own or its original's), and
whether it is a duplicate."""


def _store_fifo(
    conn: sqlite3.Connection, queue_id: int, messages: Sequence[NewMessage], rows: Sequence[Row]
) -> list[EnqueueOutcome]:
    """``enqueue_fifo`` for prepared rows; each message's dedup window starts at its own
    send time (the rows of coalesced requests differ by a few milliseconds). Each stored
    message's group gets a head row if it has none."""
    keyed = [(index, m) for index, m in enumerate(messages) if m.dedup_key is not None]
    keys = {m.dedup_key for _, m in keyed}
    if len(keys) == len(keyed):
        answers = _store_then_deduplicate(conn, queue_id, messages, rows, keyed)
    else:
        answers = _deduplicate_then_store(conn, queue_id, messages, rows, keys)
    heads: dict[str | None, tuple[int, int]] = {}
    for (_, seq, duplicate), message, row in zip(answers, messages, rows, strict=True):
        if not duplicate:
            heads.setdefault(message.group_id, (seq, row[_VISIBLE_AT]))
    if heads:
        insert_many(
            conn,
            "INSERT OR IGNORE INTO fifo_groups",
            4,
            [(queue_id, group, seq, visible_at) for group, (seq, visible_at) in heads.items()],
        )
    return [
        EnqueueOutcome(message_id, format_sequence_number(seq), duplicate)
        for message_id, seq, duplicate in answers
    ]


def _store_then_deduplicate(
    conn: sqlite3.Connection,
    queue_id: int,
    messages: Sequence[NewMessage],
    rows: Sequence[Row],
    keyed: Sequence[tuple[int, NewMessage]],
) -> list[_Answer]:
    """Store sends whose dedup keys are distinct: every row goes in, then one upsert
    remembers each key unless it is remembered for an earlier message still in its
    window. When the upsert changed a row for every key, nothing was a duplicate -- the
    usual case, which so costs no lookup (each statement costs the writer a GIL
    hand-over; see ``ekiden.store.sqlite.coalesce``). Otherwise each key left alone
    names the original of its duplicate, whose row goes again."""
    first_seq = insert_messages(conn, rows)
    changes = conn.total_changes
    _remember_dedup(conn, queue_id, keyed, rows, first_seq)
    originals: dict[int, tuple[str, int]] = {}  # index of a duplicate -> its original
    if conn.total_changes - changes < len(keyed):
        remembered = _remembered(conn, queue_id, [m.dedup_key for _, m in keyed])
        for index, message in keyed:
            message_id, seq, _ = remembered[message.dedup_key]
            if seq != first_seq + index:
                originals[index] = (message_id, seq)
        for marks, values in key_lists(conn, [first_seq + index for index in originals]):
            conn.execute(f"DELETE FROM messages WHERE seq IN ({marks})", values)
    answers: list[_Answer] = []
    for index, message in enumerate(messages):
        original = originals.get(index)
        if original is None:
            answers.append((message.message_id, first_seq + index, False))
        else:
            answers.append((*original, True))
    return answers


def _deduplicate_then_store(
    conn: sqlite3.Connection,
    queue_id: int,
    messages: Sequence[NewMessage],
    rows: Sequence[Row],
    keys: set[str | None],
) -> list[_Answer]:
    """Store sends of which some share a dedup key: the keys are looked up first, and
    the sends are taken in order, so that a copy is answered with the message stored
    before it -- sent earlier, or earlier in these rows -- whose window holds at the
    copy's own send time. (Storing first would let a later copy take over a key whose
    window ended between two copies, and an earlier one be answered with it.) ``keys``
    are the sends' dedup keys."""
    remembered = _remembered(conn, queue_id, list(keys))
    fresh: list[int] = []  # indexes (in ``messages``) of the messages to store
    earlier: dict[int, tuple[str, int]] = {}  # index -> original stored before this job
    position: dict[int, int] = {}  # other indexes -> position in ``fresh`` of the original
    pending: dict[str, int] = {}  # dedup key -> position in ``fresh``
    for index, message in enumerate(messages):
        key = message.dedup_key
        hit = remembered.get(key) if key is not None else None
        if hit is not None and hit[2] > rows[index][_SENT_AT]:
            earlier[index] = (hit[0], hit[1])
        elif key is not None and key in pending:
            position[index] = pending[key]
        else:
            if key is not None:
                pending[key] = len(fresh)
            position[index] = len(fresh)
            fresh.append(index)
    stored = [messages[i] for i in fresh]
    stored_rows = [rows[i] for i in fresh]
    first_seq = insert_messages(conn, stored_rows) if stored else 0
    keyed = [(offset, m) for offset, m in enumerate(stored) if m.dedup_key is not None]
    _remember_dedup(conn, queue_id, keyed, stored_rows, first_seq)
    answers: list[_Answer] = []
    for index in range(len(messages)):
        original = earlier.get(index)
        if original is not None:
            answers.append((*original, True))
        else:
            at = position[index]
            answers.append((stored[at].message_id, first_seq + at, fresh[at] != index))
    return answers


def _remember_dedup(
    conn: sqlite3.Connection,
    queue_id: int,
    keyed: Sequence[tuple[int, NewMessage]],
    rows: Sequence[Row],
    first_seq: int,
) -> None:
    """Remember each key of ``keyed`` (offset into ``rows``, message) for the message
    whose seq is ``first_seq`` plus its offset, unless the key is remembered for a
    message still inside its window at this one's send time (a duplicate)."""
    if keyed:
        insert_many(
            conn,
            "INSERT INTO dedup",
            5,
            [
                (
                    queue_id,
                    m.dedup_key,
                    m.message_id,
                    first_seq + offset,
                    dedup.dedup_expires_ms(rows[offset][_SENT_AT]),
                )
                for offset, m in keyed
            ],
            _REMEMBER_UNLESS_IN_WINDOW,
        )


# A remembered key is in its window at a send time t while its expiry is after t; the
# expiry of a key sent at t is t plus the window (``dedup.dedup_expires_ms``).
_REMEMBER_UNLESS_IN_WINDOW: Final = (
    "ON CONFLICT (queue_id, dedup_key) DO UPDATE SET message_id = excluded.message_id, "
    "seq = excluded.seq, expires_ms = excluded.expires_ms "
    f"WHERE dedup.expires_ms <= excluded.expires_ms - {limits.DEDUP_WINDOW_MS}"
)


def _remembered(
    conn: sqlite3.Connection, queue_id: int, keys: Sequence[str | None]
) -> dict[str | None, tuple[str, int, int]]:
    """Dedup key -> (message id, seq, expiry) of the message each key is remembered for."""
    remembered: dict[str | None, tuple[str, int, int]] = {}
    for marks, values in key_lists(conn, keys):
        for key, message_id, seq, expires_ms in conn.execute(
            "SELECT dedup_key, message_id, seq, expires_ms FROM dedup WHERE queue_id = ? AND "
            f"dedup_key IN ({marks})",
            (queue_id, *values),
        ):
            remembered[key] = (message_id, seq, expires_ms)
    return remembered


def store_sends(
    conn: sqlite3.Connection, queue_id: int, is_fifo: bool, sends: Sequence[tuple[NewMessage, Row]]
) -> list[EnqueueOutcome]:
    """Store coalesced sends, (message, row) pairs in request order (see ``Coalescer``)."""
    messages = [message for message, _ in sends]
    rows = [row for _, row in sends]
    if is_fifo:
        return _store_fifo(conn, queue_id, messages, rows)
    return _store_standard(conn, queue_id, messages, rows)
