"""The TopicStore contract on the SQLite store: topics and subscriptions persist, and a
publish is one atomic, durable transition across every queue it delivers to.

Written against ``ekiden.core.topic_storage`` with explicit ``now_ms`` values; restart
cases close the store and open it again at the same location.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ekiden.core.errors import TopicDoesNotExist
from ekiden.core.ids import new_message_id
from ekiden.core.messages import md5_of_body
from ekiden.core.storage import ClaimRequest, NewMessage, QueueRecord
from ekiden.core.topic_storage import (
    QueueDelivery,
    QueueTarget,
    SubscriptionRecord,
    TopicMessage,
)
from ekiden.store.sqlite.schema import MIGRATIONS
from ekiden.store.sqlite.store import SqliteStore
from ekiden.store.sqlite.topics import SqliteTopicStore

NOW = 1_700_000_000_000
RETENTION_MS = 86_400_000
FIVE_MINUTES_MS = 300_000


class Stores:
    """An open queue store and the topic store sharing its writer."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self.queues: SqliteStore
        self.topics: SqliteTopicStore

    async def open(self) -> Stores:
        self.queues = await SqliteStore.open(self.location)
        self.topics = SqliteTopicStore(self.queues.writer)
        return self

    async def reopen(self) -> None:
        await self.queues.close()
        await self.open()

    async def bodies(self, queue: QueueRecord, now_ms: int = NOW) -> list[str]:
        claimed = await self.queues.claim(
            ClaimRequest(queue.queue_id, queue.is_fifo, 10, 30_000, now_ms)
        )
        return [m.body for m in claimed.messages]


def run(location: Path, scenario: Callable[[Stores], Awaitable[Any]]) -> None:
    async def main() -> None:
        stores = await Stores(location).open()
        try:
            await scenario(stores)
        finally:
            await stores.queues.close()

    asyncio.run(main())


def message(body: str | None, *, group: str | None = None, dedup: str | None = None) -> NewMessage:
    """An SQS message as the fan-out writes it; ``None`` as the body cannot be stored."""
    return NewMessage(
        message_id=new_message_id(),
        body=body,  # type: ignore[arg-type]  # None on purpose: the insert must fail
        attributes={},
        system_attributes={},
        md5_of_body=md5_of_body(body or ""),
        md5_of_attributes=None,
        md5_of_system_attributes=None,
        sender_id="AIDAIT2UOQQY3AUEKVGXU",
        delay_s=0,
        group_id=group,
        dedup_id=dedup,
        dedup_key=dedup,
    )


def to(queue: QueueRecord, *bodies: str | None, group: str | None = None) -> list[QueueDelivery]:
    target = QueueTarget(queue.queue_id, queue.is_fifo, RETENTION_MS)
    return [
        QueueDelivery(target, message(body, group=group, dedup=body if group else None))
        for body in bodies
    ]


def test_a_publish_is_durable_in_every_queue_when_it_returns(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        queues = [await s.queues.create_queue(f"q{n}", False, {}, {}, NOW) for n in range(3)]
        topic = await s.topics.create_topic("t", False, {}, {"team": "a"}, NOW)
        deliveries = [d for q in queues for d in to(q, "hello")]
        (outcome,) = await s.topics.publish_to_queues(
            topic.row_id, [TopicMessage("m-1", deliveries)], None, NOW
        )
        assert outcome.message_id == "m-1" and not outcome.duplicate
        assert sorted(outcome.queue_ids) == [q.queue_id for q in queues]
        await s.reopen()
        for queue in queues:
            assert await s.bodies(queue) == ["hello"]
        counts = await s.queues.counts(queues[0].queue_id, NOW)
        assert counts.in_flight == 1  # the queue's message count took the publish in

    run(tmp_path, scenario)


def test_a_publish_that_fails_part_way_leaves_nothing_behind(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        first = await s.queues.create_queue("first", False, {}, {}, NOW)
        second = await s.queues.create_queue("second.fifo", True, {}, {}, NOW)
        broken = await s.queues.create_queue("broken", False, {}, {}, NOW)
        topic = await s.topics.create_topic("t.fifo", True, {}, {}, NOW)
        deliveries = [*to(first, "a"), *to(second, "a", group="g"), *to(broken, None)]
        bad = TopicMessage("m-bad", deliveries, dedup_key="k", sequence_number="1")
        good_queue = await s.queues.create_queue("bystander", False, {}, {}, NOW)
        other = await s.topics.create_topic("other", False, {}, {}, NOW)
        bystander = TopicMessage("m-ok", to(good_queue, "fine"))
        # Both publishes share one writer group; only the broken one may be lost.
        results = await asyncio.gather(
            s.topics.publish_to_queues(topic.row_id, [bad], 1, NOW),
            s.topics.publish_to_queues(other.row_id, [bystander], None, NOW),
            return_exceptions=True,
        )
        assert isinstance(results[0], sqlite3.IntegrityError)
        assert not isinstance(results[1], BaseException)
        await s.reopen()
        assert await s.bodies(first) == [] and await s.bodies(second) == []
        assert await s.bodies(good_queue) == ["fine"]
        stored = await s.topics.get_topic("t.fifo")
        assert stored is not None and stored.last_sequence == 0
        # Nor was the deduplication key remembered: the same key publishes now.
        retry = TopicMessage("m-2", to(first, "a"), dedup_key="k", sequence_number="2")
        (outcome,) = await s.topics.publish_to_queues(topic.row_id, [retry], 2, NOW)
        assert not outcome.duplicate
        assert await s.bodies(first) == ["a"]

    run(tmp_path, scenario)


def test_a_fifo_topic_deduplicates_for_five_minutes_and_keeps_its_sequence(
    tmp_path: Path,
) -> None:
    async def scenario(s: Stores) -> None:
        queue = await s.queues.create_queue("q.fifo", True, {}, {}, NOW)
        topic = await s.topics.create_topic("t.fifo", True, {}, {}, NOW)

        def published(body: str, number: int) -> TopicMessage:
            return TopicMessage(
                f"id-{number}", to(queue, body, group="g"), f"key-{body}", f"{number:020d}"
            )

        outcomes = await s.topics.publish_to_queues(
            topic.row_id, [published("a", 1), published("a", 2), published("b", 3)], 3, NOW
        )
        assert [(o.message_id, o.duplicate) for o in outcomes] == [
            ("id-1", False),
            ("id-1", True),
            ("id-3", False),
        ]
        assert outcomes[1].sequence_number == f"{1:020d}"
        await s.reopen()
        stored = await s.topics.get_topic("t.fifo")
        assert stored is not None and stored.last_sequence == 3
        (again,) = await s.topics.publish_to_queues(
            topic.row_id, [published("a", 4)], 4, NOW + FIVE_MINUTES_MS - 1
        )
        assert again.duplicate and again.message_id == "id-1"
        (later,) = await s.topics.publish_to_queues(
            topic.row_id, [published("c", 5)], 5, NOW + FIVE_MINUTES_MS
        )
        assert not later.duplicate
        assert await s.bodies(queue, NOW + FIVE_MINUTES_MS) == ["a", "b", "c"]

    run(tmp_path, scenario)


def test_a_deleted_queue_is_skipped_and_a_deleted_topic_refuses_publishes(
    tmp_path: Path,
) -> None:
    async def scenario(s: Stores) -> None:
        kept = await s.queues.create_queue("kept", False, {}, {}, NOW)
        gone = await s.queues.create_queue("gone", False, {}, {}, NOW)
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        await s.queues.delete_queue(gone.queue_id)
        (outcome,) = await s.topics.publish_to_queues(
            topic.row_id, [TopicMessage("m", [*to(kept, "x"), *to(gone, "x")])], None, NOW
        )
        assert outcome.queue_ids == (kept.queue_id,)
        await s.topics.delete_topic(topic.row_id)
        with pytest.raises(TopicDoesNotExist):
            await s.topics.publish_to_queues(
                topic.row_id, [TopicMessage("m2", to(kept, "y"))], None, NOW
            )
        assert await s.bodies(kept) == ["x"]

    run(tmp_path, scenario)


def test_topics_and_subscriptions_persist_and_page_in_creation_order(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        topics = [await s.topics.create_topic(f"t{n}", False, {}, {}, NOW) for n in range(5)]
        await s.topics.update_topic_attributes(topics[0].row_id, {"DisplayName": "Zero"})
        await s.topics.update_topic_tags(topics[0].row_id, {"b": "2", "a": "1"})
        for n in range(4):
            await s.topics.subscribe(
                SubscriptionRecord(
                    0,
                    f"arn:aws:sns:us-east-1:000000000000:t{n % 2}:id-{n}",
                    topics[n % 2].row_id,
                    "sqs",
                    f"arn:aws:sqs:us-east-1:000000000000:q{n}",
                    {"RawMessageDelivery": "true"},
                    False,
                    True,
                    None,
                    "000000000000",
                    NOW,
                )
            )
        await s.topics.set_subscription_attributes("arn:aws:sns:us-east-1:000000000000:t0:id-0", {})
        assert await s.topics.unsubscribe("arn:aws:sns:us-east-1:000000000000:t1:id-3")
        assert not await s.topics.unsubscribe("arn:aws:sns:us-east-1:000000000000:t1:id-3")
        await s.topics.delete_topic(topics[4].row_id)
        await s.reopen()
        first_page = await s.topics.list_topics(0, 2)
        assert [t.name for t in first_page] == ["t0", "t1"]
        assert first_page[0].attributes == {"DisplayName": "Zero"}
        assert list(first_page[0].tags.items()) == [("b", "2"), ("a", "1")]
        rest = await s.topics.list_topics(first_page[-1].row_id, 10)
        assert [t.name for t in rest] == ["t2", "t3"]
        everything = await s.topics.list_subscriptions(0, 10)
        assert [x.arn.rsplit(":", 1)[1] for x in everything] == ["id-0", "id-1", "id-2"]
        assert everything[0].attributes == {}
        by_topic = await s.topics.list_subscriptions(0, 10, topics[0].row_id)
        assert [x.arn.rsplit(":", 1)[1] for x in by_topic] == ["id-0", "id-2"]
        assert by_topic[1].topic_arn == "arn:aws:sns:us-east-1:000000000000:t0"

    run(tmp_path, scenario)


def test_a_store_made_before_topics_existed_gains_them_and_keeps_its_queues(
    tmp_path: Path,
) -> None:
    old = sqlite3.connect(tmp_path / "ekiden.sqlite3", isolation_level=None)
    for script in MIGRATIONS[:4]:
        for statement in script.split(";"):
            if statement.strip():
                old.execute(statement)
    old.execute("PRAGMA user_version = 4")
    old.execute(
        "INSERT INTO queues (id, name, is_fifo, attributes, tags, created_ms, modified_ms) "
        "VALUES (3, 'old', 0, '{}', '{}', 1, 1)"
    )
    old.close()

    async def scenario(s: Stores) -> None:
        queue = await s.queues.get_queue("old")
        assert queue is not None
        topic = await s.topics.create_topic("t", False, {}, {}, NOW)
        await s.topics.publish_to_queues(
            topic.row_id, [TopicMessage("m", to(queue, "x"))], None, NOW
        )
        assert await s.bodies(queue) == ["x"]

    run(tmp_path, scenario)
