"""The outbox of SNS deliveries to HTTP/S endpoints, on the SQLite store.

``SqliteOutboxStore`` shares the ``GroupCommitWriter`` of the ``SqliteStore`` it is given,
like ``SqliteTopicStore``: the topic store inserts outbox rows inside the publish (or
subscribe) transaction with ``insert_deliveries``, and the delivery loop takes them out
here, each change one writer job. Every statement is a key lookup or a range of the
``(due_ms, id)`` index bounded by a limit, so a backlog for a dead endpoint costs the
other deliveries nothing.

An entry that names its own endpoint (an UnsubscribeConfirmation, which outlives its
subscription) keeps it, with the subscription's delivery policy, in the ``attributes``
column as a JSON object (``{"endpoint":..,"policy":..}``): such entries carry no message
attributes, and message attributes are encoded as a JSON list, so the two never mix.

``enqueue_counted`` is the one way SNS puts messages into an SQS queue (a publish, and a
move into a subscription's dead-letter queue): the insert of ``ekiden.store.sqlite.enqueue``
with the queue's ``message_count`` kept in step, as ``SqliteStore.enqueue`` keeps it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

import orjson

from ekiden.core.messages import AttributeValue
from ekiden.core.storage import NewMessage
from ekiden.core.topic_storage import (
    DueDeliveries,
    HttpDelivery,
    PendingDelivery,
    QueueDelivery,
    QueueTarget,
)
from ekiden.store.sqlite.codec import decode_attributes, encode_attributes
from ekiden.store.sqlite.enqueue import enqueue_fifo, enqueue_standard
from ekiden.store.sqlite.sql import key_lists
from ekiden.store.sqlite.writer import GroupCommitWriter

_FIELDS = "subscription_arn, message_type, message_id, topic_arn, body, raw, attributes"
_COLUMNS = f"id, {_FIELDS}, attempts, due_ms, slot_reserved"


def insert_deliveries(
    conn: sqlite3.Connection, deliveries: Sequence[HttpDelivery], now_ms: int
) -> None:
    """Add ``deliveries`` to the outbox, due at once (runs inside the caller's
    transaction)."""
    conn.executemany(
        f"INSERT INTO sns_outbox ({_FIELDS}, due_ms, created_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                d.subscription_arn,
                d.message_type,
                d.message_id,
                d.topic_arn,
                d.body,
                int(d.raw),
                _encode_extras(d),
                now_ms,
                now_ms,
            )
            for d in deliveries
        ],
    )


def delete_subscription_deliveries(
    conn: sqlite3.Connection, subscription_arn: str, message_type: str | None = None
) -> None:
    """Drop what the outbox holds for a subscription (of ``message_type`` only, if given)."""
    if message_type is None:
        conn.execute("DELETE FROM sns_outbox WHERE subscription_arn = ?", (subscription_arn,))
    else:
        conn.execute(
            "DELETE FROM sns_outbox WHERE subscription_arn = ? AND message_type = ?",
            (subscription_arn, message_type),
        )


def enqueue_counted(
    conn: sqlite3.Connection, target: QueueTarget, messages: Sequence[NewMessage], now_ms: int
) -> None:
    """Insert ``messages`` into ``target`` (it must exist) and count the new ones."""
    enqueue = enqueue_fifo if target.is_fifo else enqueue_standard
    added = sum(
        1
        for outcome in enqueue(conn, target.queue_id, messages, target.retention_ms, now_ms)
        if not outcome.duplicate
    )
    if added:
        conn.execute(
            "UPDATE queues SET message_count = message_count + ? WHERE id = ?",
            (added, target.queue_id),
        )


class SqliteOutboxStore:
    """The embedded implementation of ``ekiden.core.topic_storage.OutboxStore``."""

    def __init__(self, writer: GroupCommitWriter) -> None:
        self._writer = writer

    async def due(self, now_ms: int, limit: int, skip: Collection[int]) -> DueDeliveries:
        skipped = set(skip)

        def work(conn: sqlite3.Connection) -> DueDeliveries:
            # Asking the (covering) due index for as many more rows as are skipped finds
            # the others without a NOT IN scan; bodies are read for the chosen rows only.
            heads = conn.execute(
                "SELECT id, due_ms FROM sns_outbox ORDER BY due_ms, id LIMIT ?",
                (limit + len(skipped) + 1,),
            ).fetchall()
            chosen: list[int] = []
            next_due_ms = None
            for row_id, due_ms in heads:
                if row_id in skipped:
                    continue
                if due_ms > now_ms or len(chosen) == limit:
                    next_due_ms = due_ms
                    break
                chosen.append(row_id)
            found: dict[int, PendingDelivery] = {}
            for marks, keys in key_lists(conn, chosen):
                for row in conn.execute(
                    f"SELECT {_COLUMNS} FROM sns_outbox WHERE id IN ({marks})", keys
                ):
                    found[row[0]] = _pending_from_row(row)
            return DueDeliveries([found[row_id] for row_id in chosen], next_due_ms)

        result: DueDeliveries = await self._writer.submit(work)
        return result

    async def delivered(self, row_id: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM sns_outbox WHERE id = ?", (row_id,))

        await self._writer.submit(work)

    async def retry_later(self, row_id: int, attempts: int, due_ms: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE sns_outbox SET attempts = ?, due_ms = ?, slot_reserved = 0 WHERE id = ?",
                (attempts, due_ms, row_id),
            )

        await self._writer.submit(work)

    async def defer(self, slots: Sequence[tuple[int, int]]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE sns_outbox SET due_ms = ?, slot_reserved = 1 WHERE id = ?",
                [(slot_ms, row_id) for row_id, slot_ms in slots],
            )

        await self._writer.submit(work)

    async def postpone(self, due: Sequence[tuple[int, int]]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE sns_outbox SET due_ms = ? WHERE id = ?",
                [(due_ms, row_id) for row_id, due_ms in due],
            )

        await self._writer.submit(work)

    async def dead_letter(self, row_id: int, delivery: QueueDelivery, now_ms: int) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            if conn.execute("DELETE FROM sns_outbox WHERE id = ?", (row_id,)).rowcount == 0:
                return False  # unsubscribed meanwhile: its deliveries went with it
            queue_id = delivery.target.queue_id
            if conn.execute("SELECT 1 FROM queues WHERE id = ?", (queue_id,)).fetchone() is None:
                return False
            enqueue_counted(conn, delivery.target, [delivery.message], now_ms)
            return True

        result: bool = await self._writer.submit(work)
        return result


def _encode_extras(delivery: HttpDelivery) -> bytes | None:
    if delivery.endpoint is None:
        return encode_attributes(dict(delivery.attributes))
    return orjson.dumps({"endpoint": delivery.endpoint, "policy": delivery.delivery_policy})


def _pending_from_row(row: tuple[Any, ...]) -> PendingDelivery:
    extras = row[7]
    endpoint: str | None = None
    policy: str | None = None
    attributes: dict[str, AttributeValue] = {}
    if extras and bytes(extras[:1]) == b"{":  # an entry naming its own endpoint
        own = orjson.loads(extras)
        endpoint, policy = own["endpoint"], own["policy"]
    else:
        attributes = decode_attributes(extras)
    return PendingDelivery(
        row_id=row[0],
        delivery=HttpDelivery(
            subscription_arn=row[1],
            message_type=row[2],
            message_id=row[3],
            topic_arn=row[4],
            body=row[5],
            raw=bool(row[6]),
            attributes=attributes,
            endpoint=endpoint,
            delivery_policy=policy,
        ),
        attempts=row[8],
        due_ms=row[9],
        slot_reserved=bool(row[10]),
    )
