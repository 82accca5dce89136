"""Read-only looks into a queue for the console: peek at its oldest messages, and the
SentTimestamp of its oldest one (CloudWatch's ApproximateAgeOfOldestMessage).

Both read ``messages_by_queue`` (``queue_id, seq``): the oldest keys are its first
entries for the queue, so neither costs more as the queue grows.
"""

from __future__ import annotations

import sqlite3

from ekiden.core.ids import format_sequence_number
from ekiden.core.storage import MessageState, PeekedMessage
from ekiden.store.sqlite.codec import decode_attributes

_PEEK_COLUMNS = (
    "seq, message_id, body, attributes, system_attributes, md5_body, md5_attributes, "
    "sender_id, sent_ms, visible_at_ms, receive_count, first_receive_ms, group_id, dedup_id, "
    "dlq_source_queue_id"
)


def peek_messages(
    conn: sqlite3.Connection, queue_id: int, limit: int, now_ms: int, is_fifo: bool
) -> list[PeekedMessage]:
    """Up to ``limit`` messages of the queue, in the order they arrived in it, with their
    state at ``now_ms``. Reads only."""
    seqs = [
        row[0]
        for row in conn.execute(
            "SELECT seq FROM messages INDEXED BY messages_by_queue WHERE queue_id = ? "
            "ORDER BY seq LIMIT ?",
            (queue_id, limit),
        )
    ]
    if not seqs:
        return []
    marks = ", ".join("?" * len(seqs))
    rows = conn.execute(
        f"SELECT {_PEEK_COLUMNS} FROM messages WHERE seq IN ({marks}) ORDER BY seq", seqs
    ).fetchall()
    return [_peeked(row, now_ms, is_fifo) for row in rows]


def oldest_sent_ms(conn: sqlite3.Connection, queue_id: int) -> int | None:
    """The SentTimestamp of the message that has been in the queue longest (the first to
    arrive among those still there), or ``None`` when the queue is empty.

    A message moved in (dead-lettered, redriven) keeps its original SentTimestamp, as in
    SQS, so its age counts from its send, not from its arrival.
    """
    row = conn.execute(
        "SELECT sent_ms FROM messages WHERE seq = (SELECT MIN(seq) FROM messages "
        "INDEXED BY messages_by_queue WHERE queue_id = ?)",
        (queue_id,),
    ).fetchone()
    return None if row is None else int(row[0])


def _peeked(row: tuple[object, ...], now_ms: int, is_fifo: bool) -> PeekedMessage:
    (
        seq,
        message_id,
        body,
        attributes,
        system_attributes,
        md5_body,
        md5_attributes,
        sender_id,
        sent_ms,
        visible_at_ms,
        receive_count,
        first_receive_ms,
        group_id,
        dedup_id,
        dlq_source,
    ) = row
    assert isinstance(seq, int) and isinstance(visible_at_ms, int)
    assert isinstance(receive_count, int) and isinstance(sent_ms, int)
    if visible_at_ms <= now_ms:
        state = MessageState.VISIBLE
    elif receive_count > 0:
        state = MessageState.IN_FLIGHT
    else:
        state = MessageState.DELAYED
    return PeekedMessage(
        message_id=str(message_id),
        body=str(body),
        attributes=decode_attributes(_blob(attributes)),
        system_attributes=decode_attributes(_blob(system_attributes)),
        md5_of_body=str(md5_body),
        md5_of_attributes=None if md5_attributes is None else str(md5_attributes),
        sender_id=str(sender_id),
        sent_ms=sent_ms,
        receive_count=receive_count,
        first_receive_ms=first_receive_ms if isinstance(first_receive_ms, int) else None,
        visible_at_ms=visible_at_ms,
        group_id=None if group_id is None else str(group_id),
        dedup_id=None if dedup_id is None else str(dedup_id),
        sequence_number=format_sequence_number(seq) if is_fifo else None,
        dead_letter_source_queue_id=dlq_source if isinstance(dlq_source, int) else None,
        state=state,
    )


def _blob(value: object) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()
