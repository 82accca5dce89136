"""Where a published message goes when its SQS subscription cannot take it (pure): the
subscription's dead-letter queue, with the body the delivery would have had, or nowhere."""

from __future__ import annotations

import json
from dataclasses import replace

from ekiden.core.messages import AttributeValue
from ekiden.core.services.fanout import (
    DeadLetterQueue,
    SqsEndpoint,
    TopicFacts,
    prepare_messages,
)
from ekiden.core.sns_messages import PublishInput, validate_publish
from ekiden.core.topic_storage import QueueDelivery, QueueTarget
from ekiden.core.topics import TopicSettings

TOPIC = "arn:aws:sns:us-east-1:000000000000:t"
SUBSCRIPTION = f"{TOPIC}:5f0b3e1a-9c4d-4e8f-a1b2-c3d4e5f6a7b8"
DLQ = DeadLetterQueue(QueueTarget(9, False, 60_000), delay_s=1, max_message_bytes=1_048_576)
QUEUE = SqsEndpoint(
    subscription_arn=SUBSCRIPTION,
    raw=False,
    target=QueueTarget(7, False, 60_000),
    delay_s=0,
    max_message_bytes=1_048_576,
    dedup_scope_group=False,
    dead_letter=DLQ,
)


def deliveries(
    endpoint: SqsEndpoint, message: str = "hello", **attributes: str
) -> list[QueueDelivery]:
    published = validate_publish(
        PublishInput(
            message=message,
            attributes={k: AttributeValue("String", v) for k, v in attributes.items()},
        ),
        TopicSettings.from_attributes({}, fifo=False),
    )
    (prepared,) = prepare_messages(
        TopicFacts(TOPIC, False, False, "1"),
        [published],
        [(None, endpoint)],
        next_sequence=lambda: 0,
        now_ms=1_700_000_000_000,
        base_url="http://h:1",
        signer=None,
    )
    return list(prepared.deliveries)


def test_a_delivery_the_queue_takes_carries_its_dead_letter_message_for_a_deleted_queue() -> None:
    (delivery,) = deliveries(QUEUE)
    assert delivery.target.queue_id == 7
    assert delivery.fallback is not None
    assert delivery.fallback.target.queue_id == 9
    assert delivery.fallback.message.body == delivery.message.body
    assert delivery.fallback.message.delay_s == 1


def test_a_message_for_a_deleted_queue_goes_to_the_dead_letter_queue() -> None:
    (delivery,) = deliveries(replace(QUEUE, target=None))
    assert (delivery.target.queue_id, delivery.fallback) == (9, None)
    assert json.loads(delivery.message.body)["Message"] == "hello"


def test_a_message_too_large_for_the_queue_goes_to_the_dead_letter_queue() -> None:
    (delivery,) = deliveries(replace(QUEUE, raw=True, max_message_bytes=10), "x" * 11)
    assert (delivery.target.queue_id, delivery.message.body) == (9, "x" * 11)


def test_a_raw_delivery_of_more_than_ten_attributes_goes_to_the_dead_letter_queue_alone() -> None:
    many = {f"a{n}": "v" for n in range(11)}
    (delivery,) = deliveries(replace(QUEUE, raw=True), "raw", **many)
    assert (delivery.target.queue_id, delivery.message.body) == (9, "raw")
    assert delivery.message.attributes == {}  # SQS takes at most 10


def test_without_a_dead_letter_queue_or_room_in_it_the_message_is_dropped() -> None:
    assert deliveries(replace(QUEUE, target=None, dead_letter=None)) == []
    small = replace(DLQ, max_message_bytes=10)
    assert (
        deliveries(replace(QUEUE, raw=True, max_message_bytes=10, dead_letter=small), "x" * 11)
        == []
    )
