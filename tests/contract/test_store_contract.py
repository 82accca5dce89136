"""The Store contract: one suite every store implementation must pass.

Written only against the protocol in ``ekiden.core.storage``; the implementation comes from
the ``store_factory`` fixture (see ``conftest.py``). Time is a ``FakeClock`` whose
``now_ms`` is handed to every call, so visibility, delays, retention and the dedup window
are crossed by moving the clock, never by waiting. Restart cases close the store and open
it again at the same location.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ekiden.core import limits
from ekiden.core.clock import FakeClock
from ekiden.core.ids import new_message_id
from ekiden.core.messages import AttributeValue, md5_of_attributes, md5_of_body
from ekiden.core.storage import (
    ClaimRequest,
    ClaimResult,
    DeadLetterTarget,
    DeleteOutcome,
    DeliveredMessage,
    EnqueueOutcome,
    MoveTaskRecord,
    NewMessage,
    QueueCounts,
    QueueRecord,
    Store,
    VisibilityChange,
    VisibilityOutcome,
)
from tests.support.stores import StoreOpener

DAY_MS = 86_400_000
RETENTION_MS = 4 * DAY_MS
TWELVE_HOURS_S = limits.MAX_VISIBILITY_TIMEOUT_S


def new_message(
    body: str,
    *,
    group: str | None = None,
    dedup: str | None = None,
    delay_s: int = 0,
    attributes: dict[str, AttributeValue] | None = None,
    system_attributes: dict[str, AttributeValue] | None = None,
) -> NewMessage:
    """A message as the message service hands it to the store (dedup scoped to the queue)."""
    attributes = attributes or {}
    system_attributes = system_attributes or {}
    return NewMessage(
        message_id=new_message_id(),
        body=body,
        attributes=attributes,
        system_attributes=system_attributes,
        md5_of_body=md5_of_body(body),
        md5_of_attributes=md5_of_attributes(attributes),
        md5_of_system_attributes=md5_of_attributes(system_attributes),
        sender_id="AKIDCONTRACT",
        delay_s=delay_s,
        group_id=group,
        dedup_id=dedup,
        dedup_key=dedup,
    )


class Harness:
    """An open store, a fake clock, and shorthands for the calls the tests make."""

    def __init__(self, opener: StoreOpener, store: Store) -> None:
        self.opener = opener
        self.store = store
        self.clock = FakeClock()

    @property
    def now(self) -> int:
        return self.clock.now_ms()

    def advance(self, *, ms: int = 0, s: float = 0.0) -> None:
        self.clock.advance(ms=ms, s=s)

    async def restart(self) -> None:
        """Close the store and open it again at the same location."""
        await self.store.close()
        self.store = await self.opener()

    async def queue(
        self,
        name: str,
        *,
        fifo: bool = False,
        attributes: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> QueueRecord:
        return await self.store.create_queue(name, fifo, attributes or {}, tags or {}, self.now)

    async def send(
        self,
        queue: QueueRecord,
        *messages: NewMessage | str,
        retention_ms: int = RETENTION_MS,
    ) -> list[EnqueueOutcome]:
        prepared = [new_message(m) if isinstance(m, str) else m for m in messages]
        return await self.store.enqueue(queue, prepared, retention_ms, self.now)

    async def send_group(
        self, queue: QueueRecord, group: str, *bodies: str
    ) -> list[EnqueueOutcome]:
        return await self.send(queue, *(new_message(b, group=group) for b in bodies))

    async def claim(
        self,
        queue: QueueRecord,
        *,
        max_messages: int = 10,
        visibility_s: int = 30,
        dead_letter: DeadLetterTarget | None = None,
        attempt_id: str | None = None,
    ) -> ClaimResult:
        return await self.store.claim(
            ClaimRequest(
                queue_id=queue.queue_id,
                is_fifo=queue.is_fifo,
                max_messages=max_messages,
                visibility_ms=visibility_s * 1000,
                now_ms=self.now,
                dead_letter=dead_letter,
                attempt_id=attempt_id,
            )
        )

    async def receive(self, queue: QueueRecord, **options: Any) -> list[DeliveredMessage]:
        return (await self.claim(queue, **options)).messages

    async def bodies(self, queue: QueueRecord, **options: Any) -> list[str]:
        return [m.body for m in await self.receive(queue, **options)]

    async def delete(self, queue: QueueRecord, messages: Sequence[DeliveredMessage]) -> list[bool]:
        """Whether each delivery was deleted by this call."""
        outcomes = await self.store.delete_messages(
            queue.queue_id, [m.receipt for m in messages], self.now
        )
        return [outcome == DeleteOutcome.DELETED for outcome in outcomes]

    async def change_visibility(
        self, queue: QueueRecord, message: DeliveredMessage, visibility_s: int
    ) -> str:
        (outcome,) = await self.store.change_visibility(
            queue.queue_id, [VisibilityChange(message.receipt, visibility_s)], self.now
        )
        return outcome

    async def counts(self, queue: QueueRecord) -> QueueCounts:
        return await self.store.counts(queue.queue_id, self.now)

    async def drain(self, queue: QueueRecord) -> list[str]:
        """Receive and delete everything visible now, in delivery order."""
        drained: list[str] = []
        for _ in range(1_000):
            messages = await self.receive(queue)
            if not messages:
                return drained
            drained += [m.body for m in messages]
            assert all(await self.delete(queue, messages))
        raise AssertionError("the queue did not drain")

    def dead_letter_to(self, dlq: QueueRecord, max_receive_count: int) -> DeadLetterTarget:
        return DeadLetterTarget(dlq.queue_id, max_receive_count, dlq.is_fifo, RETENTION_MS)


def run(opener: StoreOpener, scenario: Callable[[Harness], Awaitable[None]]) -> None:
    """Open the store, run ``scenario`` on a fresh event loop, and close the store."""

    async def main() -> None:
        harness = Harness(opener, await opener())
        try:
            await scenario(harness)
        finally:
            await harness.store.close()

    asyncio.run(main())


# --- queues ------------------------------------------------------------------------------


def test_a_created_queue_is_found_by_name_and_id_and_listed(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        created = await h.queue("orders", attributes={"VisibilityTimeout": "60"}, tags={"t": "1"})
        fifo = await h.queue("orders.fifo", fifo=True)
        assert created.name == "orders" and not created.is_fifo
        assert created.attributes == {"VisibilityTimeout": "60"}
        assert created.tags == {"t": "1"}
        assert created.created_ms == created.modified_ms == h.now
        assert await h.store.get_queue("orders") == created
        assert await h.store.get_queue_by_id(created.queue_id) == created
        assert await h.store.get_queue("missing") is None
        assert [q.name for q in await h.store.list_queues()] == ["orders", "orders.fifo"]
        assert fifo.is_fifo and fifo.queue_id != created.queue_id

    run(store_factory, scenario)


def test_update_queue_replaces_attributes_and_tags_and_the_modified_time(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q", attributes={"DelaySeconds": "5"}, tags={"a": "1"})
        h.advance(s=10)
        await h.store.update_queue(
            queue.queue_id, {"MaximumMessageSize": "2048"}, {"b": "2"}, h.now
        )
        updated = await h.store.get_queue_by_id(queue.queue_id)
        assert updated is not None
        assert updated.attributes == {"MaximumMessageSize": "2048"}
        assert updated.tags == {"b": "2"}
        assert updated.created_ms == queue.created_ms
        assert updated.modified_ms == h.now

    run(store_factory, scenario)


def test_delete_queue_removes_the_queue_and_every_message_it_held(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("doomed")
        await h.send(queue, "a", "b", "c")
        (in_flight,) = await h.receive(queue, max_messages=1)
        await h.store.delete_queue(queue.queue_id)
        assert await h.store.get_queue("doomed") is None
        assert await h.store.get_queue_by_id(queue.queue_id) is None
        assert await h.store.list_queues() == []
        again = await h.queue("doomed")
        assert await h.counts(again) == QueueCounts(0, 0, 0)
        assert await h.receive(again) == []
        assert await h.delete(queue, [in_flight]) == [False]

    run(store_factory, scenario)


def test_a_deleted_fifo_queue_leaves_no_groups_or_dedup_ids_behind(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("doomed.fifo", fifo=True)
        await h.send(queue, new_message("a", group="g", dedup="d1"))
        await h.receive(queue)
        await h.store.delete_queue(queue.queue_id)
        again = await h.queue("doomed.fifo", fifo=True)
        (outcome,) = await h.send(again, new_message("b", group="g", dedup="d1"))
        assert not outcome.duplicate
        assert await h.bodies(again) == ["b"]

    run(store_factory, scenario)


# --- enqueue / claim / delete ------------------------------------------------------------


def test_an_enqueued_message_is_claimed_with_everything_it_was_sent_with(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        attributes = {
            "text": AttributeValue("String", string_value="héllo"),
            "n": AttributeValue("Number.int", string_value="42"),
            "raw": AttributeValue("Binary", binary_value=b"\x00\xff\x10"),
        }
        system = {"AWSTraceHeader": AttributeValue("String", string_value="Root=1-abc")}
        message = new_message("body ✓", attributes=attributes, system_attributes=system)
        sent_at = h.now
        (outcome,) = await h.send(queue, message)
        assert outcome == EnqueueOutcome(message.message_id, None, False)
        h.advance(s=3)
        (delivered,) = await h.receive(queue)
        assert delivered.message_id == message.message_id
        assert delivered.body == "body ✓"
        assert delivered.attributes == attributes
        assert delivered.system_attributes == system
        assert delivered.md5_of_body == message.md5_of_body
        assert delivered.md5_of_attributes == message.md5_of_attributes
        assert delivered.md5_of_system_attributes == message.md5_of_system_attributes
        assert delivered.sender_id == "AKIDCONTRACT"
        assert delivered.sent_ms == sent_at
        assert delivered.receive_count == 1
        assert delivered.first_receive_ms == h.now
        assert delivered.group_id is None and delivered.sequence_number is None
        assert delivered.dead_letter_source_queue_id is None
        assert delivered.receipt.queue_id == queue.queue_id

    run(store_factory, scenario)


def test_a_claimed_message_is_not_claimed_again_and_a_delete_removes_it(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, *(f"m{i}" for i in range(15)))
        first = await h.receive(queue)
        second = await h.receive(queue)
        assert len(first) == 10 and len(second) == 5
        assert sorted(m.body for m in first + second) == sorted(f"m{i}" for i in range(15))
        assert await h.receive(queue) == []
        assert await h.delete(queue, first + second) == [True] * 15
        h.advance(s=31)
        assert await h.receive(queue) == []
        assert await h.counts(queue) == QueueCounts(0, 0, 0)

    run(store_factory, scenario)


def test_a_claim_takes_at_most_the_requested_number_of_messages(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "a", "b", "c")
        assert len(await h.receive(queue, max_messages=2)) == 2
        assert len(await h.receive(queue, max_messages=2)) == 1

    run(store_factory, scenario)


def test_deleting_twice_or_with_the_receipt_of_an_earlier_delivery_deletes_nothing(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "a")
        (first,) = await h.receive(queue, visibility_s=5)
        h.advance(s=6)
        (second,) = await h.receive(queue, visibility_s=5)
        assert second.message_id == first.message_id
        assert second.receipt != first.receipt
        assert await h.delete(queue, [first]) == [False]
        assert await h.counts(queue) == QueueCounts(0, 1, 0)
        assert await h.delete(queue, [second]) == [True]
        assert await h.delete(queue, [second]) == [False]
        assert await h.counts(queue) == QueueCounts(0, 0, 0)

    run(store_factory, scenario)


def test_a_receipt_of_one_queue_deletes_nothing_in_another(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        one = await h.queue("one")
        other = await h.queue("other")
        await h.send(one, "a")
        (message,) = await h.receive(one)
        assert await h.store.delete_messages(other.queue_id, [message.receipt], h.now) == [
            DeleteOutcome.GONE
        ]
        assert await h.counts(one) == QueueCounts(0, 1, 0)

    run(store_factory, scenario)


# --- visibility --------------------------------------------------------------------------


def test_a_message_reappears_after_its_visibility_timeout_with_a_higher_receive_count(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "a")
        (first,) = await h.receive(queue, visibility_s=10)
        first_receive = h.now
        h.advance(ms=9_999)
        assert await h.receive(queue) == []
        h.advance(ms=1)
        (again,) = await h.receive(queue)
        assert again.message_id == first.message_id
        assert again.receive_count == 2
        assert again.first_receive_ms == first_receive

    run(store_factory, scenario)


def test_a_claim_with_a_zero_visibility_timeout_delivers_each_message_once(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        fifo = await h.queue("q.fifo", fifo=True)
        await h.send(queue, "a", "b")
        await h.send_group(fifo, "g", "a", "b")
        await h.send_group(fifo, "h", "c")
        assert sorted(await h.bodies(queue, visibility_s=0)) == ["a", "b"]
        assert await h.bodies(fifo, visibility_s=0) == ["a", "b", "c"]
        again = await h.receive(queue, visibility_s=0)
        assert sorted(m.receive_count for m in again) == [2, 2]

    run(store_factory, scenario)


def test_a_claim_reports_when_the_next_hidden_message_becomes_visible(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "a")
        await h.receive(queue, visibility_s=7)
        empty = await h.claim(queue)
        assert empty.messages == []
        assert empty.next_visible_at_ms == h.now + 7_000

    run(store_factory, scenario)


def test_change_visibility_applies_to_the_current_delivery(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "a")
        (message,) = await h.receive(queue, visibility_s=30)
        h.advance(s=10)
        assert await h.change_visibility(queue, message, 60) == VisibilityOutcome.CHANGED
        h.advance(s=59)
        assert await h.receive(queue) == []
        h.advance(s=1)
        assert await h.bodies(queue) == ["a"]

    run(store_factory, scenario)


def test_change_visibility_to_zero_makes_the_message_visible_at_once(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "a")
        (message,) = await h.receive(queue)
        assert await h.change_visibility(queue, message, 0) == VisibilityOutcome.CHANGED
        assert await h.counts(queue) == QueueCounts(1, 0, 0)
        (again,) = await h.receive(queue)
        assert again.receive_count == 2

    run(store_factory, scenario)


def test_change_visibility_with_a_stale_or_deleted_receipt_is_not_found(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "a")
        (first,) = await h.receive(queue, visibility_s=5)
        h.advance(s=5)
        (second,) = await h.receive(queue, visibility_s=5)
        assert await h.change_visibility(queue, first, 100) == VisibilityOutcome.NOT_FOUND
        h.advance(s=4)
        assert await h.receive(queue) == [], "a refused change must not touch the message"
        await h.delete(queue, [second])
        assert await h.change_visibility(queue, second, 100) == VisibilityOutcome.NOT_FOUND

    run(store_factory, scenario)


def test_change_visibility_beyond_twelve_hours_since_the_receive_is_too_long(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "a")
        (message,) = await h.receive(queue, visibility_s=30)
        h.advance(s=10)
        too_long = await h.change_visibility(queue, message, TWELVE_HOURS_S - 9)
        assert too_long == VisibilityOutcome.TOO_LONG
        h.advance(s=15)
        assert await h.receive(queue) == [], "a refused change must not touch the message"
        exact = await h.change_visibility(queue, message, TWELVE_HOURS_S - 25)
        assert exact == VisibilityOutcome.CHANGED

    run(store_factory, scenario)


# --- delays and counts -------------------------------------------------------------------


def test_a_delayed_message_is_counted_as_delayed_and_claimed_only_after_its_delay(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, new_message("later", delay_s=20), "now")
        assert await h.counts(queue) == QueueCounts(1, 0, 1)
        assert await h.bodies(queue) == ["now"]
        assert await h.counts(queue) == QueueCounts(0, 1, 1)
        h.advance(ms=19_999)
        assert await h.receive(queue, visibility_s=300) == []
        h.advance(ms=1)
        assert await h.counts(queue) == QueueCounts(1, 1, 0)
        assert await h.bodies(queue) == ["later"]

    run(store_factory, scenario)


def test_counts_split_messages_into_visible_in_flight_and_delayed(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        assert await h.counts(queue) == QueueCounts(0, 0, 0)
        await h.send(queue, *(f"v{i}" for i in range(5)))
        await h.send(queue, *(new_message(f"d{i}", delay_s=60) for i in range(2)))
        await h.receive(queue, max_messages=3, visibility_s=30)
        assert await h.counts(queue) == QueueCounts(2, 3, 2)
        h.advance(s=30)
        assert await h.counts(queue) == QueueCounts(5, 0, 2)
        h.advance(s=30)
        assert await h.counts(queue) == QueueCounts(7, 0, 0)

    run(store_factory, scenario)


# --- FIFO --------------------------------------------------------------------------------


def test_messages_of_a_fifo_group_are_delivered_in_the_order_they_were_sent(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        for i in range(12):
            await h.send_group(queue, "g", f"m{i:02d}")
        received: list[str] = []
        for _ in range(20):
            messages = await h.receive(queue, max_messages=5)
            if not messages:
                break
            received += [m.body for m in messages]
            await h.delete(queue, messages)
        assert received == [f"m{i:02d}" for i in range(12)]

    run(store_factory, scenario)


def test_fifo_sequence_numbers_increase_in_send_order(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        outcomes = await h.send_group(queue, "g", "a", "b")
        outcomes += await h.send_group(queue, "h", "c")
        numbers = [o.sequence_number for o in outcomes]
        assert all(n is not None and len(n) == 20 and n.isdigit() for n in numbers)
        assert numbers == sorted(numbers)  # type: ignore[type-var]
        assert len(set(numbers)) == 3
        delivered = await h.receive(queue)
        assert [m.sequence_number for m in delivered] == numbers

    run(store_factory, scenario)


def test_fifo_sequence_numbers_keep_increasing_after_the_newest_message_is_deleted(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        (first,) = await h.send_group(queue, "g", "a")
        await h.delete(queue, await h.receive(queue))
        (second,) = await h.send_group(queue, "g", "b")
        assert first.sequence_number is not None and second.sequence_number is not None
        assert second.sequence_number > first.sequence_number

    run(store_factory, scenario)


def test_a_fifo_group_is_blocked_while_its_head_is_in_flight_and_other_groups_are_served(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send_group(queue, "a", "a1", "a2")
        await h.send_group(queue, "b", "b1", "b2")
        (a1,) = await h.receive(queue, max_messages=1)
        assert a1.body == "a1"
        (b1,) = await h.receive(queue, max_messages=1)
        assert b1.body == "b1", "group a is blocked by a1, group b is served"
        assert await h.receive(queue) == []
        await h.delete(queue, [a1])
        assert await h.bodies(queue) == ["a2"]
        await h.delete(queue, [b1])
        assert await h.bodies(queue) == ["b2"]

    run(store_factory, scenario)


def test_a_claim_of_several_fifo_messages_serves_several_groups_in_order(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        for i in range(3):
            await h.send_group(queue, "a", f"a{i}")
            await h.send_group(queue, "b", f"b{i}")
        delivered = await h.receive(queue)
        by_group: dict[str | None, list[str]] = {}
        for message in delivered:
            by_group.setdefault(message.group_id, []).append(message.body)
        assert by_group == {"a": ["a0", "a1", "a2"], "b": ["b0", "b1", "b2"]}

    run(store_factory, scenario)


def test_a_fifo_group_starts_again_at_its_head_when_the_head_visibility_expires(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send_group(queue, "g", "m1", "m2", "m3")
        assert await h.bodies(queue, max_messages=2, visibility_s=10) == ["m1", "m2"]
        assert await h.receive(queue) == []
        h.advance(s=10)
        assert await h.bodies(queue) == ["m1", "m2", "m3"]

    run(store_factory, scenario)


def test_a_fifo_group_stays_blocked_until_every_in_flight_message_of_it_is_deleted(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send_group(queue, "g", "m1", "m2", "m3")
        m1, _m2 = await h.receive(queue, max_messages=2)
        await h.delete(queue, [m1])
        assert await h.receive(queue) == [], "m2 is still in flight"

    run(store_factory, scenario)


def test_a_fifo_receipt_expires_with_its_delivery_and_deletes_nothing(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send_group(queue, "g", "m1")
        (first,) = await h.receive(queue, visibility_s=10)
        h.advance(s=10)
        outcomes = await h.store.delete_messages(queue.queue_id, [first.receipt], h.now)
        assert outcomes == [DeleteOutcome.EXPIRED]
        (again,) = await h.receive(queue, visibility_s=10)
        assert again.body == "m1"
        stale = await h.store.delete_messages(queue.queue_id, [first.receipt], h.now)
        assert stale == [DeleteOutcome.EXPIRED], "a handle of an earlier delivery"
        assert await h.store.delete_messages(queue.queue_id, [again.receipt], h.now) == [
            DeleteOutcome.DELETED
        ]

    run(store_factory, scenario)


def test_a_standard_receipt_still_deletes_after_its_visibility_lapsed(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "m1")
        (first,) = await h.receive(queue, visibility_s=10)
        h.advance(s=30)
        assert await h.delete(queue, [first]) == [True]
        assert await h.receive(queue) == []

    run(store_factory, scenario)


def test_a_duplicate_dedup_id_within_five_minutes_returns_the_original_message(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        original = new_message("a", group="g", dedup="d1")
        (first,) = await h.send(queue, original)
        h.advance(ms=limits.DEDUP_WINDOW_MS - 1)
        (again,) = await h.send(queue, new_message("other body", group="g", dedup="d1"))
        assert not first.duplicate and again.duplicate
        assert again.message_id == original.message_id
        assert again.sequence_number == first.sequence_number
        assert await h.bodies(queue) == ["a"]
        assert await h.counts(queue) == QueueCounts(0, 1, 0)

    run(store_factory, scenario)


def test_a_duplicate_within_one_batch_is_dropped(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        first = new_message("a", group="g", dedup="same")
        outcomes = await h.send(queue, first, new_message("b", group="g", dedup="same"))
        assert [o.duplicate for o in outcomes] == [False, True]
        assert [o.message_id for o in outcomes] == [first.message_id] * 2
        assert await h.bodies(queue) == ["a"]

    run(store_factory, scenario)


def test_a_dedup_id_is_remembered_after_its_message_was_deleted(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        original = new_message("a", group="g", dedup="d1")
        await h.send(queue, original)
        await h.delete(queue, await h.receive(queue))
        (again,) = await h.send(queue, new_message("a", group="g", dedup="d1"))
        assert again.duplicate and again.message_id == original.message_id
        assert await h.receive(queue) == []

    run(store_factory, scenario)


def test_a_dedup_id_is_accepted_again_once_the_five_minute_window_has_passed(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send(queue, new_message("a", group="g", dedup="d1"))
        h.advance(ms=limits.DEDUP_WINDOW_MS)
        fresh = new_message("b", group="g", dedup="d1")
        (outcome,) = await h.send(queue, fresh)
        assert not outcome.duplicate and outcome.message_id == fresh.message_id
        assert await h.bodies(queue) == ["a", "b"]

    run(store_factory, scenario)


def test_expire_forgets_dedup_ids_only_after_their_window(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        original = new_message("a", group="g", dedup="d1")
        await h.send(queue, original)
        h.advance(ms=limits.DEDUP_WINDOW_MS - 1)
        await h.store.expire(h.now)
        (hit,) = await h.send(queue, new_message("a", group="g", dedup="d1"))
        assert hit.duplicate and hit.message_id == original.message_id
        h.advance(ms=1)
        await h.store.expire(h.now)
        (miss,) = await h.send(queue, new_message("a", group="g", dedup="d1"))
        assert not miss.duplicate

    run(store_factory, scenario)


def test_dedup_ids_are_scoped_to_their_queue(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        one = await h.queue("one.fifo", fifo=True)
        two = await h.queue("two.fifo", fifo=True)
        await h.send(one, new_message("a", group="g", dedup="d1"))
        (outcome,) = await h.send(two, new_message("a", group="g", dedup="d1"))
        assert not outcome.duplicate
        assert await h.bodies(two) == ["a"]

    run(store_factory, scenario)


# --- receive request attempt ids ---------------------------------------------------------


def test_a_repeated_receive_attempt_id_returns_the_same_deliveries(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send_group(queue, "g", "a", "b", "c")
        first = await h.receive(queue, max_messages=2, attempt_id="attempt-1")
        h.advance(s=5)
        repeated = await h.receive(queue, max_messages=2, attempt_id="attempt-1")
        assert [m.body for m in first] == ["a", "b"]
        assert [(m.message_id, m.receipt, m.receive_count) for m in repeated] == [
            (m.message_id, m.receipt, m.receive_count) for m in first
        ]
        assert await h.delete(queue, repeated) == [True, True]
        assert await h.bodies(queue) == ["c"]

    run(store_factory, scenario)


def test_a_receive_attempt_id_whose_messages_were_deleted_claims_afresh(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send_group(queue, "g", "a", "b")
        first = await h.receive(queue, max_messages=1, attempt_id="attempt-1")
        await h.delete(queue, first)
        again = await h.receive(queue, max_messages=1, attempt_id="attempt-1")
        assert [m.body for m in again] == ["b"]

    run(store_factory, scenario)


def test_a_receive_attempt_id_whose_messages_became_visible_again_claims_afresh(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send_group(queue, "g", "a")
        (first,) = await h.receive(queue, visibility_s=10, attempt_id="attempt-1")
        h.advance(s=10)
        (again,) = await h.receive(queue, visibility_s=10, attempt_id="attempt-1")
        assert again.message_id == first.message_id
        assert again.receipt != first.receipt and again.receive_count == 2

    run(store_factory, scenario)


# --- dead-letter queues ------------------------------------------------------------------


def test_a_message_received_max_receive_count_times_moves_to_the_dead_letter_queue(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source")
        dlq = await h.queue("dlq")
        target = h.dead_letter_to(dlq, max_receive_count=2)
        (sent,) = await h.send(source, "poison")
        for expected_count in (1, 2):
            (message,) = await h.receive(source, visibility_s=1, dead_letter=target)
            assert message.receive_count == expected_count
            h.advance(s=1)
        result = await h.claim(source, dead_letter=target)
        assert result.messages == []
        assert result.dead_lettered_to == [dlq.queue_id]
        assert await h.counts(source) == QueueCounts(0, 0, 0)
        assert await h.counts(dlq) == QueueCounts(1, 0, 0)
        (dead,) = await h.receive(dlq)
        assert dead.message_id == sent.message_id and dead.body == "poison"
        assert dead.dead_letter_source_queue_id == source.queue_id

    run(store_factory, scenario)


def test_dead_lettering_to_a_queue_that_is_gone_delivers_the_message_as_usual(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source")
        dlq = await h.queue("dlq")
        target = h.dead_letter_to(dlq, max_receive_count=1)
        await h.send(source, "a")
        await h.receive(source, visibility_s=1, dead_letter=target)
        await h.store.delete_queue(dlq.queue_id)
        h.advance(s=1)
        (again,) = await h.receive(source, dead_letter=target)
        assert again.body == "a" and again.receive_count == 2

    run(store_factory, scenario)


def test_dead_lettering_a_fifo_head_unblocks_its_group_and_keeps_order_in_the_dlq(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source.fifo", fifo=True)
        dlq = await h.queue("dlq.fifo", fifo=True)
        target = h.dead_letter_to(dlq, max_receive_count=1)
        await h.send_group(source, "g", "m1", "m2")
        (m1,) = await h.receive(source, max_messages=1, visibility_s=1, dead_letter=target)
        assert m1.body == "m1"
        h.advance(s=1)
        (m2,) = await h.receive(source, max_messages=1, dead_letter=target)
        assert m2.body == "m2", "m1 went to the DLQ, m2 is the group's new head"
        (dead,) = await h.receive(dlq)
        assert dead.body == "m1" and dead.group_id == "g"

    run(store_factory, scenario)


# --- retention ---------------------------------------------------------------------------


def test_expire_removes_messages_past_retention_including_in_flight_ones(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "old1", "old2", retention_ms=60_000)
        await h.receive(queue, max_messages=1, visibility_s=600)
        h.advance(s=30)
        await h.send(queue, "young", retention_ms=60_000)
        h.advance(s=30)
        assert await h.store.expire(h.now) == 2
        assert await h.counts(queue) == QueueCounts(1, 0, 0)
        assert await h.bodies(queue) == ["young"]

    run(store_factory, scenario)


def test_a_message_past_retention_is_never_claimed_even_before_expire_runs(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        fifo = await h.queue("q.fifo", fifo=True)
        await h.send(queue, "a", retention_ms=60_000)
        await h.send(fifo, new_message("b", group="g"), retention_ms=60_000)
        h.advance(s=60)
        assert await h.receive(queue) == []
        assert await h.receive(fifo) == []
        await h.store.expire(h.now)
        assert await h.counts(queue) == QueueCounts(0, 0, 0)
        assert await h.counts(fifo) == QueueCounts(0, 0, 0)

    run(store_factory, scenario)


def test_an_expired_fifo_head_lets_the_rest_of_its_group_through(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send(queue, new_message("old", group="g"), retention_ms=60_000)
        await h.receive(queue, visibility_s=3600)
        h.advance(s=30)
        await h.send(queue, new_message("young", group="g"), retention_ms=60_000)
        h.advance(s=30)
        assert await h.store.expire(h.now) == 1
        assert await h.bodies(queue) == ["young"]

    run(store_factory, scenario)


# --- purge -------------------------------------------------------------------------------


def test_purge_removes_every_message_and_records_when(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "a", "b", new_message("c", delay_s=60))
        in_flight = await h.receive(queue, max_messages=1)
        h.advance(s=1)
        assert await h.store.purge(queue.queue_id, h.now) == 3
        record = await h.store.get_queue_by_id(queue.queue_id)
        assert record is not None and record.purged_at_ms == h.now
        assert await h.counts(queue) == QueueCounts(0, 0, 0)
        assert await h.delete(queue, in_flight) == [False]
        h.advance(s=120)
        assert await h.receive(queue) == []
        await h.send(queue, "after")
        assert await h.bodies(queue) == ["after"]

    run(store_factory, scenario)


def test_purging_a_fifo_queue_frees_its_blocked_groups(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        await h.send_group(queue, "g", "a", "b")
        await h.receive(queue, max_messages=1)
        await h.store.purge(queue.queue_id, h.now)
        await h.send_group(queue, "g", "c")
        assert await h.bodies(queue) == ["c"]

    run(store_factory, scenario)


# --- message move tasks ------------------------------------------------------------------


async def _dead_letter_all(
    h: Harness, source: QueueRecord, dlq: QueueRecord, bodies: Sequence[str]
) -> None:
    target = h.dead_letter_to(dlq, max_receive_count=1)
    before = (await h.counts(dlq)).visible
    await h.send(source, *bodies)
    for _ in range(len(bodies)):
        await h.claim(source, visibility_s=0, dead_letter=target)
    result = await h.claim(source, dead_letter=target)
    assert result.messages == []
    assert (await h.counts(dlq)).visible == before + len(bodies)


async def _start_task(h: Harness, dlq: QueueRecord, destination_arn: str | None) -> MoveTaskRecord:
    counts = await h.counts(dlq)
    task = MoveTaskRecord(
        task_id=str(uuid.uuid4()),
        source_queue_id=dlq.queue_id,
        source_arn=f"arn:aws:sqs:us-east-1:000000000000:{dlq.name}",
        destination_arn=destination_arn,
        rate_per_s=None,
        status="RUNNING",
        started_ms=h.now,
        to_move=counts.visible + counts.in_flight + counts.delayed,
        moved=0,
        max_seq=await h.store.max_seq(dlq.queue_id),
    )
    await h.store.create_move_task(task)
    return task


async def _task(h: Harness, task_id: str) -> MoveTaskRecord:
    (task,) = [t for t in await h.store.list_move_tasks() if t.task_id == task_id]
    return task


def test_a_move_task_returns_dead_lettered_messages_to_their_source_queues(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        one = await h.queue("one")
        two = await h.queue("two")
        dlq = await h.queue("dlq")
        await _dead_letter_all(h, one, dlq, ["one-a", "one-b"])
        await _dead_letter_all(h, two, dlq, ["two-a"])
        task = await _start_task(h, dlq, None)
        assert task.to_move == 3
        assert await h.store.move_messages(task.task_id, None, 2, h.now) == 2
        assert (await _task(h, task.task_id)).status == "RUNNING"
        assert await h.store.move_messages(task.task_id, None, 2, h.now) == 1
        finished = await _task(h, task.task_id)
        assert finished.status == "COMPLETED" and finished.moved == 3
        assert await h.store.move_messages(task.task_id, None, 2, h.now) == 0
        assert sorted(await h.drain(one)) == ["one-a", "one-b"]
        assert await h.drain(two) == ["two-a"]
        assert await h.counts(dlq) == QueueCounts(0, 0, 0)

    run(store_factory, scenario)


def test_a_move_task_with_a_destination_moves_everything_there(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source")
        dlq = await h.queue("dlq")
        elsewhere = await h.queue("elsewhere")
        await _dead_letter_all(h, source, dlq, ["a", "b"])
        task = await _start_task(h, dlq, "arn:aws:sqs:us-east-1:000000000000:elsewhere")
        assert await h.store.move_messages(task.task_id, elsewhere.queue_id, 10, h.now) == 2
        assert (await _task(h, task.task_id)).status == "COMPLETED"
        assert sorted(await h.drain(elsewhere)) == ["a", "b"]
        assert await h.drain(source) == []

    run(store_factory, scenario)


def test_a_move_task_only_moves_messages_that_were_there_when_it_started(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source")
        dlq = await h.queue("dlq")
        await _dead_letter_all(h, source, dlq, ["before"])
        task = await _start_task(h, dlq, None)
        await _dead_letter_all(h, source, dlq, ["after"])
        assert await h.store.move_messages(task.task_id, None, 10, h.now) == 1
        assert await h.drain(source) == ["before"]
        assert await h.drain(dlq) == ["after"]

    run(store_factory, scenario)


def test_a_cancelled_move_task_moves_nothing_more(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source")
        dlq = await h.queue("dlq")
        await _dead_letter_all(h, source, dlq, ["a", "b"])
        task = await _start_task(h, dlq, None)
        assert await h.store.move_messages(task.task_id, None, 1, h.now) == 1
        await h.store.update_move_task_status(task.task_id, "CANCELLED")
        assert await h.store.move_messages(task.task_id, None, 10, h.now) == 0
        assert (await _task(h, task.task_id)).status == "CANCELLED"
        assert (await h.counts(dlq)).visible == 1

    run(store_factory, scenario)


def test_a_move_task_fails_when_a_message_has_no_source_queue_to_return_to(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        dlq = await h.queue("dlq")
        await h.send(dlq, "sent straight to the dlq")
        task = await _start_task(h, dlq, None)
        assert await h.store.move_messages(task.task_id, None, 10, h.now) == 0
        failed = await _task(h, task.task_id)
        assert failed.status == "FAILED" and failed.failure_reason
        assert (await h.counts(dlq)).visible == 1

    run(store_factory, scenario)


def test_a_move_task_does_not_return_messages_to_a_new_queue_after_their_source_was_deleted(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        dlq = await h.queue("dlq")
        source = await h.queue("source")
        await _dead_letter_all(h, source, dlq, ["orphan"])
        await h.store.delete_queue(source.queue_id)
        stranger = await h.queue("stranger")
        task = await _start_task(h, dlq, None)
        await h.store.move_messages(task.task_id, None, 10, h.now)
        assert await h.drain(stranger) == []
        assert (await _task(h, task.task_id)).status == "FAILED"
        assert (await h.counts(dlq)).visible == 1

    run(store_factory, scenario)


def test_move_tasks_are_listed_newest_first_and_per_source(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source")
        dlq = await h.queue("dlq")
        other = await h.queue("other-dlq")
        await _dead_letter_all(h, source, dlq, ["a"])
        first = await _start_task(h, dlq, None)
        await h.store.move_messages(first.task_id, None, 10, h.now)
        h.advance(s=1)
        second = await _start_task(h, dlq, None)
        await _start_task(h, other, None)
        listed = await h.store.list_move_tasks(dlq.queue_id)
        assert [t.task_id for t in listed] == [second.task_id, first.task_id]
        assert len(await h.store.list_move_tasks()) == 3

    run(store_factory, scenario)


# --- restart -----------------------------------------------------------------------------


def test_queues_and_messages_survive_closing_and_reopening_the_store(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q", attributes={"VisibilityTimeout": "10"}, tags={"team": "x"})
        attributes = {"k": AttributeValue("Binary", binary_value=b"\x01\x02")}
        message = new_message("persisted", attributes=attributes)
        sent_at = h.now
        await h.send(queue, message, new_message("delayed", delay_s=100))
        await h.restart()
        record = await h.store.get_queue("q")
        assert record == queue
        assert await h.counts(queue) == QueueCounts(1, 0, 1)
        (delivered,) = await h.receive(queue)
        assert delivered.message_id == message.message_id
        assert delivered.attributes == attributes
        assert delivered.md5_of_attributes == message.md5_of_attributes
        assert delivered.sent_ms == sent_at
        assert await h.delete(queue, [delivered]) == [True]
        h.advance(s=100)
        assert await h.bodies(queue) == ["delayed"]

    run(store_factory, scenario)


def test_in_flight_messages_stay_hidden_across_a_reopen_and_their_receipts_still_work(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "a", "b")
        a, b = await h.receive(queue, visibility_s=60)
        await h.restart()
        assert await h.counts(queue) == QueueCounts(0, 2, 0)
        assert await h.receive(queue) == []
        assert await h.change_visibility(queue, a, 0) == VisibilityOutcome.CHANGED
        assert await h.delete(queue, [b]) == [True]
        (again,) = await h.receive(queue, visibility_s=60)
        assert again.message_id == a.message_id and again.receive_count == 2

    run(store_factory, scenario)


def test_purge_time_and_queue_updates_survive_a_reopen(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.store.update_queue(queue.queue_id, {"DelaySeconds": "3"}, {"k": "v"}, h.now)
        await h.store.purge(queue.queue_id, h.now)
        await h.restart()
        record = await h.store.get_queue_by_id(queue.queue_id)
        assert record is not None
        assert record.attributes == {"DelaySeconds": "3"}
        assert record.tags == {"k": "v"}
        assert record.purged_at_ms == h.now

    run(store_factory, scenario)


def test_fifo_groups_dedup_ids_and_receive_attempts_survive_a_reopen(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        original = new_message("a1", group="a", dedup="d-a1")
        await h.send(queue, original, new_message("a2", group="a", dedup="d-a2"))
        await h.send(queue, new_message("b1", group="b", dedup="d-b1"))
        first = await h.receive(queue, max_messages=1, visibility_s=60, attempt_id="att")
        assert [m.body for m in first] == ["a1"]
        await h.restart()
        repeated = await h.receive(queue, max_messages=1, attempt_id="att")
        assert [m.receipt for m in repeated] == [m.receipt for m in first]
        (hit,) = await h.send(queue, new_message("a1", group="a", dedup="d-a1"))
        assert hit.duplicate and hit.message_id == original.message_id
        assert await h.bodies(queue) == ["b1"], "group a is still blocked by a1"
        await h.delete(queue, first)
        assert await h.bodies(queue) == ["a2"]

    run(store_factory, scenario)


def test_a_move_task_survives_a_reopen_and_carries_on(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source")
        dlq = await h.queue("dlq")
        await _dead_letter_all(h, source, dlq, ["a", "b", "c"])
        task = await _start_task(h, dlq, None)
        assert await h.store.move_messages(task.task_id, None, 1, h.now) == 1
        await h.restart()
        resumed = await _task(h, task.task_id)
        assert resumed.status == "RUNNING" and resumed.moved == 1 and resumed.to_move == 3
        assert await h.store.move_messages(task.task_id, None, 10, h.now) == 2
        assert (await _task(h, task.task_id)).status == "COMPLETED"
        assert sorted(await h.drain(source)) == ["a", "b", "c"]

    run(store_factory, scenario)


def test_dead_letter_provenance_survives_a_reopen(store_factory: StoreOpener) -> None:
    async def scenario(h: Harness) -> None:
        source = await h.queue("source")
        dlq = await h.queue("dlq")
        await _dead_letter_all(h, source, dlq, ["a"])
        await h.restart()
        (dead,) = await h.receive(dlq)
        assert dead.dead_letter_source_queue_id == source.queue_id

    run(store_factory, scenario)
