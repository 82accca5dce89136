"""SNS state on the SQLite store: topics, subscriptions, and the fan-out of a publish.

``SqliteTopicStore`` shares the ``GroupCommitWriter`` of the ``SqliteStore`` it is given:
its calls join the same groups, and a publish inserts into the ``messages`` table of the
SQS queues with the same functions a send uses (``ekiden.store.sqlite.enqueue``). So a
publish is ONE writer job: one transaction holds the topic's deduplication record, its
sequence number, the message of every subscribed queue and the outbox entry of every
HTTP/S delivery (``ekiden.store.sqlite.outbox``), and the caller hears back only after
that transaction is committed.

What a publish keeps in step with ``SqliteStore.enqueue`` (the queue's ``message_count``)
is done here the same way; the two must change together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from ekiden.core.errors import TopicDoesNotExist
from ekiden.core.rules import dedup
from ekiden.core.storage import NewMessage
from ekiden.core.topic_storage import (
    HttpDelivery,
    PublishOutcome,
    QueueTarget,
    SubscriptionRecord,
    TopicMessage,
    TopicRecord,
)
from ekiden.store.sqlite.outbox import (
    delete_subscription_deliveries,
    enqueue_counted,
    insert_deliveries,
)
from ekiden.store.sqlite.writer import GroupCommitWriter

_TOPIC_COLUMNS = "id, name, is_fifo, attributes, tags, created_ms, last_seq"
_SUBSCRIPTION_FIELDS = (
    "arn, topic_id, protocol, endpoint, attributes, pending_confirmation, authenticated, "
    "token, owner, created_ms"
)
_SUBSCRIPTION_COLUMNS = "id, " + _SUBSCRIPTION_FIELDS


class SqliteTopicStore:
    """The embedded implementation of ``ekiden.core.topic_storage.TopicStore``."""

    def __init__(self, writer: GroupCommitWriter) -> None:
        self._writer = writer

    # --- topics ----------------------------------------------------------------------

    async def create_topic(
        self,
        name: str,
        is_fifo: bool,
        attributes: dict[str, str],
        tags: dict[str, str],
        now_ms: int,
    ) -> TopicRecord:
        def work(conn: sqlite3.Connection) -> TopicRecord:
            cursor = conn.execute(
                "INSERT INTO topics (name, is_fifo, attributes, tags, created_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, int(is_fifo), orjson.dumps(attributes), orjson.dumps(tags), now_ms),
            )
            return TopicRecord(
                int(cursor.lastrowid or 0), name, is_fifo, dict(attributes), dict(tags), now_ms
            )

        result: TopicRecord = await self._writer.submit(work)
        return result

    async def get_topic(self, name: str) -> TopicRecord | None:
        def work(conn: sqlite3.Connection) -> TopicRecord | None:
            row = conn.execute(
                f"SELECT {_TOPIC_COLUMNS} FROM topics WHERE name = ?", (name,)
            ).fetchone()
            return None if row is None else _topic_from_row(row)

        result: TopicRecord | None = await self._writer.submit(work, read=True)
        return result

    async def list_topics(self, after_row_id: int, limit: int) -> list[TopicRecord]:
        def work(conn: sqlite3.Connection) -> list[TopicRecord]:
            rows = conn.execute(
                f"SELECT {_TOPIC_COLUMNS} FROM topics WHERE id > ? ORDER BY id LIMIT ?",
                (after_row_id, limit),
            ).fetchall()
            return [_topic_from_row(row) for row in rows]

        result: list[TopicRecord] = await self._writer.submit(work, read=True)
        return result

    async def update_topic_attributes(self, topic_id: int, attributes: dict[str, str]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE topics SET attributes = ? WHERE id = ?",
                (orjson.dumps(attributes), topic_id),
            )

        await self._writer.submit(work)

    async def update_topic_tags(self, topic_id: int, tags: dict[str, str]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE topics SET tags = ? WHERE id = ?", (orjson.dumps(tags), topic_id))

        await self._writer.submit(work)

    async def delete_topic(self, topic_id: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            for (arn,) in conn.execute(
                "SELECT arn FROM subscriptions WHERE topic_id = ?", (topic_id,)
            ).fetchall():
                delete_subscription_deliveries(conn, arn)
            conn.execute("DELETE FROM subscriptions WHERE topic_id = ?", (topic_id,))
            conn.execute("DELETE FROM topic_dedup WHERE topic_id = ?", (topic_id,))
            conn.execute("DELETE FROM topics WHERE id = ?", (topic_id,))

        await self._writer.submit(work)

    # --- subscriptions ---------------------------------------------------------------

    async def subscribe(
        self,
        subscription: SubscriptionRecord,
        confirmation: HttpDelivery | None = None,
        now_ms: int = 0,
    ) -> SubscriptionRecord:
        s = subscription

        def work(conn: sqlite3.Connection) -> SubscriptionRecord:
            if conn.execute("SELECT 1 FROM topics WHERE id = ?", (s.topic_id,)).fetchone() is None:
                raise TopicDoesNotExist()  # deleted while this Subscribe was on its way
            cursor = conn.execute(
                f"INSERT INTO subscriptions ({_SUBSCRIPTION_FIELDS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    s.arn,
                    s.topic_id,
                    s.protocol,
                    s.endpoint,
                    orjson.dumps(s.attributes),
                    int(s.pending_confirmation),
                    int(s.authenticated),
                    s.token,
                    s.owner,
                    s.created_ms,
                ),
            )
            if confirmation is not None:
                insert_deliveries(conn, [confirmation], now_ms)
            return SubscriptionRecord(
                int(cursor.lastrowid or 0),
                s.arn,
                s.topic_id,
                s.protocol,
                s.endpoint,
                dict(s.attributes),
                s.pending_confirmation,
                s.authenticated,
                s.token,
                s.owner,
                s.created_ms,
            )

        result: SubscriptionRecord = await self._writer.submit(work)
        return result

    async def get_subscription(self, arn: str) -> SubscriptionRecord | None:
        def work(conn: sqlite3.Connection) -> SubscriptionRecord | None:
            row = conn.execute(
                f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE arn = ?", (arn,)
            ).fetchone()
            return None if row is None else _subscription_from_row(row)

        result: SubscriptionRecord | None = await self._writer.submit(work, read=True)
        return result

    async def list_subscriptions(
        self, after_row_id: int, limit: int, topic_id: int | None = None
    ) -> list[SubscriptionRecord]:
        def work(conn: sqlite3.Connection) -> list[SubscriptionRecord]:
            if topic_id is None:
                sql = f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id > ?"
                args: tuple[Any, ...] = (after_row_id, limit)
            else:
                sql = (
                    f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions "
                    "WHERE topic_id = ? AND id > ?"
                )
                args = (topic_id, after_row_id, limit)
            rows = conn.execute(sql + " ORDER BY id LIMIT ?", args).fetchall()
            return [_subscription_from_row(row) for row in rows]

        result: list[SubscriptionRecord] = await self._writer.submit(work, read=True)
        return result

    async def set_subscription_attributes(self, arn: str, attributes: dict[str, str]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE subscriptions SET attributes = ? WHERE arn = ?",
                (orjson.dumps(attributes), arn),
            )

        await self._writer.submit(work)

    async def confirm_subscription(self, arn: str, authenticated: bool) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE subscriptions SET pending_confirmation = 0, authenticated = ? "
                "WHERE arn = ?",
                (int(authenticated), arn),
            )
            delete_subscription_deliveries(conn, arn, "SubscriptionConfirmation")

        await self._writer.submit(work)

    async def unsubscribe(
        self, arn: str, farewell: HttpDelivery | None = None, now_ms: int = 0
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM subscriptions WHERE arn = ?", (arn,))
            if cursor.rowcount == 0:
                return False  # gone already: an UnsubscribeConfirmation may be waiting
            delete_subscription_deliveries(conn, arn)
            if farewell is not None:
                insert_deliveries(conn, [farewell], now_ms)
            return True

        result: bool = await self._writer.submit(work)
        return result

    async def add_deliveries(self, deliveries: Sequence[HttpDelivery], now_ms: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            insert_deliveries(conn, deliveries, now_ms)

        await self._writer.submit(work)

    # --- publishing ------------------------------------------------------------------

    async def publish_to_queues(
        self,
        topic_id: int,
        messages: Sequence[TopicMessage],
        last_sequence: int | None,
        now_ms: int,
    ) -> list[PublishOutcome]:
        result: list[PublishOutcome] = await self._writer.submit(
            lambda conn: _publish(conn, topic_id, messages, last_sequence, now_ms)
        )
        return result


def _publish(
    conn: sqlite3.Connection,
    topic_id: int,
    messages: Sequence[TopicMessage],
    last_sequence: int | None,
    now_ms: int,
) -> list[PublishOutcome]:
    """The publish transaction (runs on the writer thread; see ``publish_to_queues``).

    Messages are grouped by queue so that each queue gets one multi-row insert for the
    whole request, in publish order (the order a FIFO queue keeps within a group).
    """
    if conn.execute("SELECT 1 FROM topics WHERE id = ?", (topic_id,)).fetchone() is None:
        raise TopicDoesNotExist()  # deleted while this publish was on its way
    existing = _existing_queues(
        conn,
        {
            queue_id
            for m in messages
            for d in m.deliveries
            for queue_id in (
                (d.target.queue_id,)
                if d.fallback is None
                else (d.target.queue_id, d.fallback.target.queue_id)
            )
        },
    )
    seen = _recent_topic_dedup_hits(conn, topic_id, messages, now_ms)
    pending: dict[str, tuple[str, str | None]] = {}  # dedup key -> (message id, sequence)
    per_queue: dict[int, tuple[QueueTarget, list[NewMessage]]] = {}
    outbox: list[HttpDelivery] = []
    outcomes: list[PublishOutcome] = []
    for message in messages:
        key = message.dedup_key
        original = None if key is None else seen.get(key) or pending.get(key)
        if original is not None:
            outcomes.append(PublishOutcome(original[0], original[1], True, ()))
            continue
        if key is not None:
            pending[key] = (message.message_id, message.sequence_number)
        outbox.extend(message.http_deliveries)
        reached: list[int] = []
        for delivery in message.deliveries:
            if delivery.target.queue_id not in existing and delivery.fallback is not None:
                delivery = delivery.fallback  # deleted: to the subscription's dead-letter queue
            queue_id = delivery.target.queue_id
            if queue_id not in existing:
                continue  # the queue was deleted: SNS drops the delivery
            per_queue.setdefault(queue_id, (delivery.target, []))[1].append(delivery.message)
            reached.append(queue_id)
        outcomes.append(
            PublishOutcome(message.message_id, message.sequence_number, False, tuple(reached))
        )
    for target, queued in per_queue.values():
        enqueue_counted(conn, target, queued, now_ms)
    if outbox:
        insert_deliveries(conn, outbox, now_ms)
    if pending:
        _remember_topic_dedup(conn, topic_id, pending, now_ms)
    if last_sequence is not None:
        conn.execute(
            "UPDATE topics SET last_seq = MAX(last_seq, ?) WHERE id = ?", (last_sequence, topic_id)
        )
    return outcomes


def _existing_queues(conn: sqlite3.Connection, queue_ids: Iterable[int]) -> set[int]:
    wanted = list(queue_ids)
    if not wanted:
        return set()
    placeholders = ", ".join("?" * len(wanted))
    return {
        row[0]
        for row in conn.execute(f"SELECT id FROM queues WHERE id IN ({placeholders})", wanted)
    }


def _recent_topic_dedup_hits(
    conn: sqlite3.Connection, topic_id: int, messages: Sequence[TopicMessage], now_ms: int
) -> dict[str, tuple[str, str | None]]:
    """Dedup key -> (message id, sequence number) of messages the topic took under that
    key in the last five minutes."""
    keys = list({m.dedup_key for m in messages if m.dedup_key is not None})
    if not keys:
        return {}
    placeholders = ", ".join("?" * len(keys))
    return {
        key: (message_id, sequence_number)
        for key, message_id, sequence_number in conn.execute(
            "SELECT dedup_key, message_id, sequence_number FROM topic_dedup WHERE topic_id = ? "
            f"AND dedup_key IN ({placeholders}) AND expires_ms > ?",
            (topic_id, *keys, now_ms),
        )
    }


def _remember_topic_dedup(
    conn: sqlite3.Connection,
    topic_id: int,
    fresh: dict[str, tuple[str, str | None]],
    now_ms: int,
) -> None:
    expires_ms = dedup.dedup_expires_ms(now_ms)
    conn.executemany(
        "INSERT OR REPLACE INTO topic_dedup VALUES (?, ?, ?, ?, ?)",
        [
            (topic_id, key, message_id, sequence_number, expires_ms)
            for key, (message_id, sequence_number) in fresh.items()
        ],
    )
    # The retention sweep of the queue store does not know this table: publishes to FIFO
    # topics clear the records whose window has passed (each row once, through an index).
    conn.execute("DELETE FROM topic_dedup WHERE expires_ms <= ?", (now_ms,))


def _topic_from_row(row: tuple[Any, ...]) -> TopicRecord:
    return TopicRecord(
        row_id=row[0],
        name=row[1],
        is_fifo=bool(row[2]),
        attributes=orjson.loads(row[3]),
        tags=orjson.loads(row[4]),
        created_ms=row[5],
        last_sequence=row[6],
    )


def _subscription_from_row(row: tuple[Any, ...]) -> SubscriptionRecord:
    return SubscriptionRecord(
        row_id=row[0],
        arn=row[1],
        topic_id=row[2],
        protocol=row[3],
        endpoint=row[4],
        attributes=orjson.loads(row[5]),
        pending_confirmation=bool(row[6]),
        authenticated=bool(row[7]),
        token=row[8],
        owner=row[9],
        created_ms=row[10],
    )
