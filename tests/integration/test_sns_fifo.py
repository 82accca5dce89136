"""FIFO topics delivering to FIFO (and standard) queues: order within message groups,
sequence numbers, deduplication at the topic and at the queue, PublishBatch."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clients import sqs_client
from tests.support.messaging import rejected
from tests.support.server import EkidenProcess
from tests.support.sns import (
    envelope,
    nothing_in,
    queue_arn_of,
    received,
    subscribed_queue,
)


@pytest.fixture
def sqs(ekiden: EkidenProcess) -> Any:
    return sqs_client(ekiden.endpoint)


def fifo_topic(sns: Any, name: str, **attributes: str) -> str:
    arn: str = sns.create_topic(
        Name=f"{name}.fifo", Attributes={"FifoTopic": "true", **attributes}
    )["TopicArn"]
    return arn


def test_fifo_queues_receive_each_group_in_publish_order_with_the_topics_ids(
    sns: Any, sqs: Any, queue_name: str
) -> None:
    topic = fifo_topic(sns, queue_name)
    first, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-a.fifo", RawMessageDelivery="true")
    second, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-b.fifo")
    sequence_numbers = []
    for n in range(12):
        group = f"g{n % 3}"
        answer = sns.publish(
            TopicArn=topic,
            Message=f"{group}-{n}",
            MessageGroupId=group,
            MessageDeduplicationId=f"d{n}",
        )
        sequence_numbers.append(int(answer["SequenceNumber"]))
        assert len(answer["SequenceNumber"]) == 20
    assert sequence_numbers == sorted(sequence_numbers)
    assert len(set(sequence_numbers)) == 12

    raw = received(sqs, first, 12)
    per_group: dict[str, list[int]] = {}
    for message in raw:
        group, n = message["Body"].split("-")
        assert message["Attributes"]["MessageGroupId"] == group
        assert message["Attributes"]["MessageDeduplicationId"] == f"d{n}"
        per_group.setdefault(group, []).append(int(n))
    assert per_group == {"g0": [0, 3, 6, 9], "g1": [1, 4, 7, 10], "g2": [2, 5, 8, 11]}

    enveloped = received(sqs, second, 12)
    documents = [envelope(m) for m in enveloped]
    assert list(documents[0]) == [
        "Type",
        "MessageId",
        "SequenceNumber",
        "TopicArn",
        "Message",
        "Timestamp",
        "UnsubscribeURL",
    ]
    by_group: dict[str, list[int]] = {}
    for document in documents:
        group, _ = document["Message"].split("-")
        by_group.setdefault(group, []).append(int(document["SequenceNumber"]))
    for numbers in by_group.values():
        assert numbers == sorted(numbers)


def test_a_repeated_deduplication_id_is_accepted_but_delivered_once(
    sns: Any, sqs: Any, queue_name: str
) -> None:
    topic = fifo_topic(sns, queue_name)
    url, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}.fifo", RawMessageDelivery="true")
    original = sns.publish(
        TopicArn=topic, Message="pay 10", MessageGroupId="acct", MessageDeduplicationId="pay-1"
    )
    again = sns.publish(
        TopicArn=topic, Message="pay 10", MessageGroupId="acct", MessageDeduplicationId="pay-1"
    )
    assert again["MessageId"] == original["MessageId"]
    assert again["SequenceNumber"] == original["SequenceNumber"]
    sns.publish(
        TopicArn=topic, Message="pay 20", MessageGroupId="acct", MessageDeduplicationId="pay-2"
    )
    assert [m["Body"] for m in received(sqs, url, 2)] == ["pay 10", "pay 20"]
    assert nothing_in(sqs, url)


def test_content_based_deduplication_uses_the_message_text(
    sns: Any, sqs: Any, queue_name: str
) -> None:
    topic = fifo_topic(sns, queue_name, ContentBasedDeduplication="true")
    url, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}.fifo", RawMessageDelivery="true")
    for text in ("a", "a", "b", "a"):
        sns.publish(TopicArn=topic, Message=text, MessageGroupId="g")
    assert [m["Body"] for m in received(sqs, url, 2)] == ["a", "b"]
    assert nothing_in(sqs, url)


def test_message_group_scope_deduplicates_within_each_group_only(
    sns: Any, sqs: Any, queue_name: str
) -> None:
    topic = fifo_topic(sns, queue_name, FifoThroughputScope="MessageGroup")
    url = sqs.create_queue(
        QueueName=f"{queue_name}.fifo",
        Attributes={
            "FifoQueue": "true",
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
        },
    )["QueueUrl"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn_of(f"{queue_name}.fifo"),
        Attributes={"RawMessageDelivery": "true"},
    )
    for group in ("g1", "g2", "g1"):
        sns.publish(TopicArn=topic, Message=group, MessageGroupId=group, MessageDeduplicationId="x")
    assert sorted(m["Body"] for m in received(sqs, url, 2)) == ["g1", "g2"]


def test_a_standard_queue_on_a_fifo_topic_gets_the_group_but_no_deduplication_id(
    sns: Any, sqs: Any, queue_name: str
) -> None:
    topic = fifo_topic(sns, queue_name)
    url, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-std", RawMessageDelivery="true")
    sns.publish(TopicArn=topic, Message="m", MessageGroupId="g", MessageDeduplicationId="d")
    (message,) = received(sqs, url, 1)
    assert message["Attributes"]["MessageGroupId"] == "g"
    assert "MessageDeduplicationId" not in message["Attributes"]


def test_a_standard_topic_passes_a_message_group_id_to_its_queues(
    sns: Any, sqs: Any, queue_name: str
) -> None:
    topic = sns.create_topic(Name=queue_name)["TopicArn"]
    url, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-q")
    answer = sns.publish(TopicArn=topic, Message="fair", MessageGroupId="tenant-7")
    assert "SequenceNumber" not in answer
    (message,) = received(sqs, url, 1)
    assert message["Attributes"]["MessageGroupId"] == "tenant-7"
    assert "SequenceNumber" not in envelope(message)


def test_a_fifo_publish_batch_keeps_the_order_of_its_entries(
    sns: Any, sqs: Any, queue_name: str
) -> None:
    topic = fifo_topic(sns, queue_name)
    url, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}.fifo", RawMessageDelivery="true")
    answer = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {
                "Id": f"e{n}",
                "Message": f"m{n}",
                "MessageGroupId": "g",
                "MessageDeduplicationId": f"{n % 4}",
            }
            for n in range(6)
        ],
    )
    entries = answer["Successful"]
    assert [entry["Id"] for entry in entries] == [f"e{n}" for n in range(6)]
    # Entries 4 and 5 repeat the deduplication ids of 0 and 1: answered with theirs.
    assert entries[4]["MessageId"] == entries[0]["MessageId"]
    assert entries[5]["SequenceNumber"] == entries[1]["SequenceNumber"]
    numbers = [int(entry["SequenceNumber"]) for entry in entries[:4]]
    assert numbers == sorted(numbers)
    assert [m["Body"] for m in received(sqs, url, 4)] == ["m0", "m1", "m2", "m3"]


def test_a_fifo_topic_refuses_a_publish_without_a_message_group(
    sns: Any, sqs: Any, queue_name: str
) -> None:
    topic = fifo_topic(sns, queue_name)
    url, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}.fifo")
    with rejected("InvalidParameter") as error:
        sns.publish(TopicArn=topic, Message="m", MessageDeduplicationId="d")
    assert error.message == (
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    )
    with rejected("InvalidParameter") as error:
        sns.publish(TopicArn=topic, Message="m", MessageGroupId="g")
    assert "ContentBasedDeduplication" in error.message
    assert nothing_in(sqs, url)


def test_a_fifo_queue_cannot_subscribe_to_a_standard_topic(
    sns: Any, sqs: Any, queue_name: str
) -> None:
    topic = sns.create_topic(Name=queue_name)["TopicArn"]
    with rejected("InvalidParameter") as error:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn_of(f"{queue_name}.fifo"))
    assert "FIFO SQS Queues can not be subscribed to standard SNS topics" in error.message
