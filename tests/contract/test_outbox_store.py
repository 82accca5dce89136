"""The outbox of HTTP/S deliveries on the SQLite store: entries enter with the publish or
subscribe that owes them, in its transaction; they survive a restart; the delivery loop
finds the due ones in order, records retries and throttle slots, and a move into a
dead-letter queue is one transaction. Unsubscribe and DeleteTopic take their entries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ekiden.core.messages import AttributeValue
from ekiden.core.topic_storage import (
    HttpDelivery,
    QueueDelivery,
    QueueTarget,
    SubscriptionRecord,
    TopicMessage,
)
from ekiden.store.sqlite.outbox import SqliteOutboxStore
from tests.contract.test_topic_store import NOW, RETENTION_MS, Stores, message, run

TOPIC = "arn:aws:sns:us-east-1:000000000000:t"


def subscription(topic_id: int, name: str, *, pending: bool = False) -> SubscriptionRecord:
    return SubscriptionRecord(
        row_id=0,
        arn=f"{TOPIC}:{name}",
        topic_id=topic_id,
        protocol="http",
        endpoint=f"http://example.com/{name}",
        attributes={},
        pending_confirmation=pending,
        authenticated=not pending,
        token="tok" if pending else None,
        owner="000000000000",
        created_ms=NOW,
    )


def post(
    arn: str, body: str, *, raw: bool = False, attributes: dict[str, AttributeValue] | None = None
) -> HttpDelivery:
    return HttpDelivery(arn, "Notification", f"id-{body}", TOPIC, body, raw, attributes or {})


def test_published_deliveries_are_due_in_order_and_survive_a_restart(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        sub = await s.topics.subscribe(subscription(topic.row_id, "a"))
        attributes = {"k": AttributeValue("Binary", binary_value=b"\x01")}
        posts = [post(sub.arn, "one"), post(sub.arn, "two", raw=True, attributes=attributes)]
        await s.topics.publish_to_queues(
            topic.row_id, [TopicMessage("m", [], None, None, posts)], None, NOW
        )
        await s.reopen()
        outbox = SqliteOutboxStore(s.queues.writer)

        found = await outbox.due(NOW, 10, ())

        assert [p.delivery for p in found.due] == posts
        assert [(p.attempts, p.due_ms, p.slot_reserved) for p in found.due] == [(0, NOW, False)] * 2
        assert found.next_due_ms is None

    run(tmp_path, scenario)


def test_due_skips_entries_being_attempted_and_tells_when_the_next_falls_due(
    tmp_path: Path,
) -> None:
    async def scenario(s: Stores) -> None:
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        sub = await s.topics.subscribe(subscription(topic.row_id, "a"))
        posts = [post(sub.arn, str(n)) for n in range(4)]
        await s.topics.publish_to_queues(
            topic.row_id, [TopicMessage("m", [], None, None, posts)], None, NOW
        )
        outbox = SqliteOutboxStore(s.queues.writer)
        first, second, third, fourth = (await outbox.due(NOW, 10, ())).due

        await outbox.retry_later(second.row_id, 1, NOW + 5_000)
        await outbox.defer([(third.row_id, NOW + 2_000)])
        found = await outbox.due(NOW, 10, [first.row_id])

        assert [p.row_id for p in found.due] == [fourth.row_id]
        assert found.next_due_ms == NOW + 2_000
        later = await outbox.due(NOW + 5_000, 1, [first.row_id, fourth.row_id])
        assert [(p.row_id, p.slot_reserved) for p in later.due] == [(third.row_id, True)]
        assert later.next_due_ms == NOW + 5_000  # the second, due too, beyond the limit
        (retried,) = [
            p for p in (await outbox.due(NOW + 5_000, 10, ())).due if p.row_id == second.row_id
        ]
        assert (retried.attempts, retried.due_ms, retried.slot_reserved) == (1, NOW + 5_000, False)
        await outbox.delivered(first.row_id)
        assert first.row_id not in [p.row_id for p in (await outbox.due(NOW + 9_000, 10, ())).due]

    run(tmp_path, scenario)


def test_a_subscribe_stores_its_confirmation_and_confirming_drops_it(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        record = subscription(topic.row_id, "a", pending=True)
        confirmation = HttpDelivery(record.arn, "SubscriptionConfirmation", "c", TOPIC, "{}")
        await s.topics.subscribe(record, confirmation, NOW)
        outbox = SqliteOutboxStore(s.queues.writer)
        assert [p.delivery for p in (await outbox.due(NOW, 10, ())).due] == [confirmation]

        await s.topics.confirm_subscription(record.arn, False)

        assert (await outbox.due(NOW, 10, ())).due == []

    run(tmp_path, scenario)


def test_unsubscribe_and_delete_topic_take_the_subscriptions_entries(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        other = await s.topics.create_topic("o", False, {}, {}, NOW)
        a = await s.topics.subscribe(subscription(topic.row_id, "a"))
        b = await s.topics.subscribe(subscription(topic.row_id, "b"))
        c = await s.topics.subscribe(subscription(other.row_id, "c"))
        for topic_id, sub in ((topic.row_id, a), (topic.row_id, b), (other.row_id, c)):
            message_ = TopicMessage("m", [], None, None, [post(sub.arn, sub.arn[-1])])
            await s.topics.publish_to_queues(topic_id, [message_], None, NOW)
        outbox = SqliteOutboxStore(s.queues.writer)

        await s.topics.unsubscribe(a.arn)
        assert [p.delivery.body for p in (await outbox.due(NOW, 10, ())).due] == ["b", "c"]
        await s.topics.delete_topic(other.row_id)
        assert [p.delivery.body for p in (await outbox.due(NOW, 10, ())).due] == ["b"]

    run(tmp_path, scenario)


def test_a_move_to_the_dead_letter_queue_takes_the_entry_and_adds_the_message_at_once(
    tmp_path: Path,
) -> None:
    async def scenario(s: Stores) -> None:
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        sub = await s.topics.subscribe(subscription(topic.row_id, "a"))
        dlq = await s.queues.create_queue("dlq", False, {}, {}, NOW)
        posts = [post(sub.arn, "x"), post(sub.arn, "y")]
        await s.topics.publish_to_queues(
            topic.row_id, [TopicMessage("m", [], None, None, posts)], None, NOW
        )
        outbox = SqliteOutboxStore(s.queues.writer)
        x, y = (await outbox.due(NOW, 10, ())).due
        target = QueueTarget(dlq.queue_id, False, RETENTION_MS)

        assert await outbox.dead_letter(x.row_id, QueueDelivery(target, message("x")), NOW)
        assert not await outbox.dead_letter(x.row_id, QueueDelivery(target, message("again")), NOW)
        await s.queues.delete_queue(dlq.queue_id)
        assert not await outbox.dead_letter(y.row_id, QueueDelivery(target, message("y")), NOW)

        assert (await outbox.due(NOW, 10, ())).due == []
        recreated = await s.queues.create_queue("dlq", False, {}, {}, NOW)
        assert await s.bodies(recreated) == []

    run(tmp_path, scenario)


def test_a_dead_lettered_message_is_received_from_the_queue_and_counted(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        sub = await s.topics.subscribe(subscription(topic.row_id, "a"))
        dlq = await s.queues.create_queue("dlq", False, {}, {}, NOW)
        await s.topics.publish_to_queues(
            topic.row_id, [TopicMessage("m", [], None, None, [post(sub.arn, "x")])], None, NOW
        )
        outbox = SqliteOutboxStore(s.queues.writer)
        (x,) = (await outbox.due(NOW, 10, ())).due
        target = QueueTarget(dlq.queue_id, False, RETENTION_MS)

        await outbox.dead_letter(x.row_id, QueueDelivery(target, message("the envelope")), NOW)

        assert (await s.queues.counts(dlq.queue_id, NOW)).visible == 1
        assert await s.bodies(dlq) == ["the envelope"]

    run(tmp_path, scenario)


def test_every_outbox_statement_walks_an_index_or_looks_up_a_key(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        sub = await s.topics.subscribe(subscription(topic.row_id, "a"))
        dlq = await s.queues.create_queue("dlq", False, {}, {}, NOW)
        posts = [post(sub.arn, str(n)) for n in range(20)]
        outbox = SqliteOutboxStore(s.queues.writer)
        statements: list[str] = []
        await s.queues.writer.submit(lambda conn: conn.set_trace_callback(statements.append))
        await s.topics.publish_to_queues(
            topic.row_id, [TopicMessage("m", [], None, None, posts)], None, NOW
        )
        first, second, third, *_ = (await outbox.due(NOW, 5, ())).due
        await outbox.retry_later(first.row_id, 1, NOW + 1)
        await outbox.defer([(second.row_id, NOW + 2)])
        await outbox.delivered(second.row_id)
        target = QueueTarget(dlq.queue_id, False, RETENTION_MS)
        await outbox.dead_letter(third.row_id, QueueDelivery(target, message("x")), NOW)
        await s.topics.confirm_subscription(sub.arn, False)
        await s.topics.unsubscribe(sub.arn)
        await s.topics.delete_topic(topic.row_id)

        def plans(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            conn.set_trace_callback(None)
            found = []
            for statement in statements:
                if "sns_outbox" not in statement or not statement.lstrip().startswith(
                    ("SELECT", "UPDATE", "DELETE")
                ):
                    continue
                for row in conn.execute("EXPLAIN QUERY PLAN " + statement):
                    found.append((statement, row[3]))
            return found

        explained = await s.queues.writer.submit(plans)
        assert len({statement for statement, _ in explained}) >= 6
        for statement, detail in explained:
            if "sns_outbox" in detail:
                assert "INDEX" in detail or "PRIMARY KEY" in detail, (statement, detail)

    run(tmp_path, scenario)
