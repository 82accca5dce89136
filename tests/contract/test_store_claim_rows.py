"""Receives hand back exactly what was sent, in visibility order, however many rows one
claim reads.

The SQLite store reads a claim's rows as one JSON document per lookup, in lookups of a
bounded number of rows (``ekiden.store.sqlite.sql.json_rows``): every character a body or
attribute may hold must survive that encoding, the order must be SQS's (oldest visible
first) although JSON aggregation promises none, and a claim larger than one lookup must
take every message once.
"""

from __future__ import annotations

import asyncio

from ekiden.core.messages import AttributeValue, md5_of_attributes, md5_of_body
from ekiden.core.storage import ClaimRequest
from tests.contract.test_store_contract import Harness, new_message, run
from tests.support.stores import StoreOpener

# Characters JSON escapes or SQLite and JSON treat specially, all allowed in SQS bodies.
AWKWARD_TEXT = (
    'quote " backslash \\ slash / tab \t newline \n return \r '
    "nul-adjacent \x1f? no: \x20 space; </script> <!-- & ' "
    "\u007f \u0080 \u00e9 \u2028 \u2029 \ud7ff \ue000 \ufffd \U0001f600 \U0010ffff "
    '{"json": [1, 2.5e10, null, true]} \\u0041 %s %d'
)


def test_bodies_and_attributes_that_json_must_escape_come_back_unchanged(
    store_factory: StoreOpener,
) -> None:
    body = AWKWARD_TEXT.replace("\x1f", "")  # #x1F is not an allowed body character
    attributes = {
        "text": AttributeValue("String", string_value=body),
        "number": AttributeValue("Number.float", string_value="-12345678901234567890.5"),
        "bytes": AttributeValue("Binary", binary_value=bytes(range(256))),
    }
    system = {"AWSTraceHeader": AttributeValue("String", string_value='Root=1-5e1b4151;"x\\')}

    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        sent = new_message(body, attributes=attributes, system_attributes=system)
        await h.send(queue, sent)
        (got,) = await h.receive(queue)
        assert got.body == body
        assert got.attributes == attributes
        assert got.system_attributes == system
        assert got.md5_of_body == md5_of_body(body)
        assert got.md5_of_attributes == md5_of_attributes(attributes)
        assert got.md5_of_system_attributes == md5_of_attributes(system)
        assert got.message_id == sent.message_id
        assert got.sender_id == sent.sender_id

    run(store_factory, scenario)


def test_a_claim_returns_messages_in_visibility_order_not_in_send_order(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, *(new_message(f"late-{i}", delay_s=5) for i in range(3)))
        h.advance(s=1)
        await h.send(queue, *(new_message(f"early-{i}") for i in range(3)))
        h.advance(s=1)
        await h.send(queue, new_message("middle", delay_s=2))
        h.advance(s=10)
        assert await h.bodies(queue) == [
            "early-0",
            "early-1",
            "early-2",
            "middle",
            "late-0",
            "late-1",
            "late-2",
        ]

    run(store_factory, scenario)


def test_concurrent_receives_larger_than_one_lookup_take_every_message_once_in_order(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, *(f"m{i:03}" for i in range(300)))
        receives = [
            h.store.claim(ClaimRequest(queue.queue_id, False, 10, 30_000, h.now)) for _ in range(40)
        ]
        results = await asyncio.gather(*receives)
        delivered = [m.body for r in results for m in r.messages]
        assert delivered == [f"m{i:03}" for i in range(300)]  # once each, oldest first
        assert all(len(r.messages) == 10 for r in results[:30])
        assert all(not r.messages for r in results[30:])
        counts = await h.counts(queue)
        assert (counts.visible, counts.in_flight) == (0, 300)

    run(store_factory, scenario)


def test_a_queue_named_as_its_own_dead_letter_queue_keeps_delivering_the_message(
    store_factory: StoreOpener,
) -> None:
    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        await h.send(queue, "poison")
        itself = h.dead_letter_to(queue, 1)
        for expected_count in (1, 2, 3):
            claim = h.claim(queue, visibility_s=0, dead_letter=itself)
            result = await asyncio.wait_for(claim, 10)
            assert [(m.body, m.receive_count) for m in result.messages] == [
                ("poison", expected_count)
            ]
            assert result.dead_lettered_count == 0
        counts = await h.counts(queue)
        assert counts.visible + counts.in_flight == 1

    run(store_factory, scenario)


def test_one_batch_may_mix_messages_with_and_without_attributes(
    store_factory: StoreOpener,
) -> None:
    """Columns NULL in every row of a send are left out of its INSERT: a batch where only
    some messages carry attributes (or system attributes) must store each one's own, and
    FIFO messages keep their group and deduplication id."""
    plain = {"kind": AttributeValue("String", string_value="plain")}
    trace = {"AWSTraceHeader": AttributeValue("String", string_value="Root=1-abc")}

    async def scenario(h: Harness) -> None:
        queue = await h.queue("q")
        sent = [
            new_message("none"),
            new_message("attributes", attributes=plain),
            new_message("system", system_attributes=trace),
            new_message("both", attributes=plain, system_attributes=trace),
            new_message("none again"),
        ]
        await h.send(queue, *sent)
        await h.send(queue, new_message("alone"))
        got = {m.body: m for m in await h.receive(queue, max_messages=10)}
        assert sorted(got) == sorted([m.body for m in sent] + ["alone"])
        for message in sent:
            delivered = got[message.body]
            assert delivered.attributes == message.attributes
            assert delivered.system_attributes == message.system_attributes
            assert delivered.md5_of_attributes == message.md5_of_attributes
            assert delivered.md5_of_system_attributes == message.md5_of_system_attributes
        assert got["alone"].attributes == {} and got["alone"].md5_of_attributes is None

        fifo = await h.queue("q.fifo", fifo=True)
        await h.send(
            fifo,
            new_message("g1", group="a", dedup="d1"),
            new_message("g2", group="b", dedup="d2", attributes=plain),
        )
        delivered = await h.receive(fifo, max_messages=10)
        assert [(m.body, m.group_id, m.dedup_id) for m in delivered] == [
            ("g1", "a", "d1"),
            ("g2", "b", "d2"),
        ]
        assert delivered[1].attributes == plain

    run(store_factory, scenario)


def test_large_messages_beyond_one_lookups_byte_budget_are_each_delivered_once_in_order(
    store_factory: StoreOpener,
) -> None:
    """A lookup reads no more than about 8 MiB of bodies and attributes (beyond its first
    row): twelve messages of 1 MiB take several lookups, and a claim whose messages stay
    visible (zero visibility timeout) looks past what it took."""
    big = {"pad": AttributeValue("String", string_value="a" * 200_000)}
    bodies = [f"{i:02}" + "x" * 850_000 for i in range(12)]

    async def scenario(h: Harness) -> None:
        queue = await h.queue("big")
        await h.send(queue, *(new_message(b, attributes=big) for b in bodies))
        receives = [
            h.store.claim(ClaimRequest(queue.queue_id, False, 10, 30_000, h.now)) for _ in range(3)
        ]
        results = await asyncio.gather(*receives)
        delivered = [m.body for r in results for m in r.messages]
        assert [b[:2] for b in delivered] == [b[:2] for b in bodies]  # once each, in order
        assert delivered == bodies
        assert all(m.attributes == big for r in results for m in r.messages)
        assert [len(r.messages) for r in results] == [10, 2, 0]

        visible = await h.queue("big-visible")
        await h.send(visible, *(new_message(b, attributes=big) for b in bodies))
        for _ in range(2):  # each claim sees all twelve: what it took is visible again
            taken = await h.receive(visible, max_messages=10, visibility_s=0)
            assert [m.body[:2] for m in taken] == [b[:2] for b in bodies[:10]]

    run(store_factory, scenario)
