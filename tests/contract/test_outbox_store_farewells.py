"""The outbox on the SQLite store, continued: an UnsubscribeConfirmation enters with the
Unsubscribe that owes it and keeps its own endpoint across a restart; a confirmation is
added again; postponed entries keep their attempts; a publish to a queue deleted before
its commit goes to the delivery's dead-letter fallback."""

from __future__ import annotations

from pathlib import Path

from ekiden.core.topic_storage import HttpDelivery, QueueDelivery, QueueTarget, TopicMessage
from ekiden.store.sqlite.outbox import SqliteOutboxStore
from tests.contract.test_outbox_store import TOPIC, post, subscription
from tests.contract.test_topic_store import NOW, RETENTION_MS, Stores, message, run


def test_an_unsubscribe_confirmation_replaces_the_entries_and_keeps_its_endpoint(
    tmp_path: Path,
) -> None:
    async def scenario(s: Stores) -> None:
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        sub = await s.topics.subscribe(subscription(topic.row_id, "a"))
        await s.topics.publish_to_queues(
            topic.row_id, [TopicMessage("m", [], None, None, [post(sub.arn, "x")])], None, NOW
        )
        farewell = HttpDelivery(
            sub.arn,
            "UnsubscribeConfirmation",
            "u",
            TOPIC,
            "{}",
            endpoint="http://example.com/a",
            delivery_policy='{"healthyRetryPolicy":null}',
        )

        assert await s.topics.unsubscribe(sub.arn, farewell, NOW + 1)
        await s.reopen()

        outbox = SqliteOutboxStore(s.queues.writer)
        (found,) = (await outbox.due(NOW + 1, 10, ())).due
        assert found.delivery == farewell
        assert not await s.topics.unsubscribe(sub.arn, farewell, NOW + 2)  # gone: nothing added
        assert len((await outbox.due(NOW + 2, 10, ())).due) == 1

    run(tmp_path, scenario)


def test_added_deliveries_are_due_and_postponed_ones_keep_their_attempts(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        record = subscription(topic.row_id, "a", pending=True)
        await s.topics.subscribe(record)
        again = HttpDelivery(record.arn, "SubscriptionConfirmation", "c2", TOPIC, "{}")
        await s.topics.add_deliveries([again], NOW)
        outbox = SqliteOutboxStore(s.queues.writer)
        (entry,) = (await outbox.due(NOW, 10, ())).due
        assert entry.delivery == again
        await outbox.retry_later(entry.row_id, 2, NOW)

        await outbox.postpone([(entry.row_id, NOW + 15_000)])

        found = await outbox.due(NOW, 10, ())
        assert (found.due, found.next_due_ms) == ([], NOW + 15_000)
        await outbox.postpone([(entry.row_id, NOW)])
        (back,) = (await outbox.due(NOW, 10, ())).due
        assert (back.row_id, back.attempts, back.due_ms) == (entry.row_id, 2, NOW)

    run(tmp_path, scenario)


def test_a_publish_to_a_queue_deleted_before_its_commit_goes_to_the_fallback(
    tmp_path: Path,
) -> None:
    async def scenario(s: Stores) -> None:
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        gone = await s.queues.create_queue("gone", False, {}, {}, NOW)
        dlq = await s.queues.create_queue("dlq", False, {}, {}, NOW)
        fallback = QueueDelivery(QueueTarget(dlq.queue_id, False, RETENTION_MS), message("dead"))
        delivery = QueueDelivery(
            QueueTarget(gone.queue_id, False, RETENTION_MS), message("live"), fallback
        )
        await s.queues.delete_queue(gone.queue_id)

        (outcome,) = await s.topics.publish_to_queues(
            topic.row_id, [TopicMessage("m", [delivery])], None, NOW
        )

        assert outcome.queue_ids == (dlq.queue_id,)
        assert await s.bodies(dlq) == ["dead"]

    run(tmp_path, scenario)
