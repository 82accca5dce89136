"""The store's read-only looks into a queue (the console's peek and the age of the oldest
message), written against the Store protocol and run against every store."""

from __future__ import annotations

from ekiden.core.messages import AttributeValue
from ekiden.core.storage import MessageState
from tests.contract.test_store_contract import Harness, new_message, run
from tests.support.stores import StoreOpener


def test_peek_returns_messages_oldest_first_with_their_state_and_changes_nothing(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        other = await h.queue("other")
        await h.send(other, "not mine")
        attributes = {"k": AttributeValue("String", string_value="v")}
        await h.send(queue, new_message("first", attributes=attributes))
        h.advance(ms=5)
        await h.send(queue, "second", new_message("delayed", delay_s=60))
        (taken,) = await h.receive(queue, max_messages=1)
        assert taken.body == "first"
        peeked = await h.store.peek(queue.queue_id, 10, h.now)
        assert [(m.body, m.state, m.receive_count) for m in peeked] == [
            ("first", MessageState.IN_FLIGHT, 1),
            ("second", MessageState.VISIBLE, 0),
            ("delayed", MessageState.DELAYED, 0),
        ]
        assert peeked[0].attributes == attributes
        assert peeked[0].message_id == taken.message_id
        assert peeked[0].first_receive_ms == h.now
        assert peeked[1].sent_ms == h.now and peeked[0].sent_ms == h.now - 5
        assert [m.body for m in await h.store.peek(queue.queue_id, 2, h.now)] == [
            "first",
            "second",
        ]
        # nothing changed: the in-flight message still comes back after its timeout only,
        # and the visible one is delivered for the first time
        assert await h.bodies(queue) == ["second"]
        assert (await h.counts(queue)).in_flight == 2

    run(store_factory, scenario)


def test_peek_of_a_fifo_queue_reports_group_and_sequence_number(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q.fifo", fifo=True)
        (sent,) = await h.send(queue, new_message("a", group="g", dedup="d"))
        (peeked,) = await h.store.peek(queue.queue_id, 10, h.now)
        assert (peeked.group_id, peeked.dedup_id) == ("g", "d")
        assert peeked.sequence_number == sent.sequence_number

    run(store_factory, scenario)


def test_oldest_sent_timestamp_follows_the_oldest_message_still_in_the_queue(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        assert await h.store.oldest_sent_ms(queue.queue_id) is None
        first_sent = h.now
        await h.send(queue, "a")
        h.advance(s=10)
        await h.send(queue, "b")
        assert await h.store.oldest_sent_ms(queue.queue_id) == first_sent
        (oldest,) = await h.receive(queue, max_messages=1)
        assert await h.store.oldest_sent_ms(queue.queue_id) == first_sent  # in flight counts
        assert await h.delete(queue, [oldest]) == [True]
        assert await h.store.oldest_sent_ms(queue.queue_id) == first_sent + 10_000
        await h.store.purge(queue.queue_id, h.now)
        assert await h.store.oldest_sent_ms(queue.queue_id) is None
        assert await h.store.peek(queue.queue_id, 10, h.now) == []

    run(store_factory, scenario)
