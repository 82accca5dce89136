"""SQS subscriptions' dead-letter queues (AWS guide, "Amazon SNS dead-letter queues"):
a message its queue cannot take — the queue was deleted, the message is too large for
it, a raw delivery has more than 10 attributes — goes to the subscription's
RedrivePolicy queue with the body the delivery would have had, in the publish's own
transaction; without a dead-letter queue it is dropped with a log line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.clients import sqs_client
from tests.support.http_endpoint import verify_signature
from tests.support.server import EkidenProcess
from tests.support.sns import envelope, nothing_in, queue_arn_of, received


@pytest.fixture
def sqs(ekiden: EkidenProcess) -> Any:
    return sqs_client(ekiden.endpoint)


def subscribe_with_dlq(
    sns: Any,
    sqs: Any,
    topic: str,
    name: str,
    queue_attributes: dict[str, str] | None = None,
    **attributes: str,
) -> tuple[str, str, str]:
    """Queue ``name`` and its dead-letter queue ``name-dlq``, subscribed; returns (queue
    URL, DLQ URL, subscription ARN)."""
    url = sqs.create_queue(QueueName=name, Attributes=queue_attributes or {})["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": queue_arn_of(f"{name}-dlq")})
    arn = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn_of(name),
        Attributes={"RedrivePolicy": redrive, **attributes},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return url, dlq_url, arn


def test_a_message_for_a_deleted_queue_goes_to_the_subscriptions_dead_letter_queue(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    url, dlq_url, arn = subscribe_with_dlq(sns, sqs, topic, queue_name)
    sqs.delete_queue(QueueUrl=url)

    published = sns.publish(TopicArn=topic, Message="nobody home", Subject="s")

    (dead,) = received(sqs, dlq_url, 1)
    body = envelope(dead)
    assert (body["Type"], body["MessageId"], body["Message"]) == (
        "Notification",
        published["MessageId"],
        "nobody home",
    )
    assert body["UnsubscribeURL"].endswith(f"SubscriptionArn={arn}")
    verify_signature(body)
    assert dead["Attributes"]["SenderId"] == "AIDAIT2UOQQY3AUEKVGXU"


def test_a_message_too_large_for_its_queue_goes_to_the_dead_letter_queue(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    url, dlq_url, _ = subscribe_with_dlq(
        sns, sqs, topic, queue_name, {"MaximumMessageSize": "1024"}, RawMessageDelivery="true"
    )

    sns.publish(TopicArn=topic, Message="x" * 2000)
    sns.publish(TopicArn=topic, Message="fits")

    (dead,) = received(sqs, dlq_url, 1)
    assert dead["Body"] == "x" * 2000
    assert [m["Body"] for m in received(sqs, url, 1)] == ["fits"]


def test_a_raw_delivery_of_more_than_ten_attributes_goes_to_the_dead_letter_queue(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    url, dlq_url, _ = subscribe_with_dlq(sns, sqs, topic, queue_name, RawMessageDelivery="true")
    attributes = {f"a{n}": {"DataType": "String", "StringValue": "v"} for n in range(11)}

    sns.publish(TopicArn=topic, Message="many attributes", MessageAttributes=attributes)

    (dead,) = received(sqs, dlq_url, 1)
    assert dead["Body"] == "many attributes"
    assert "MessageAttributes" not in dead  # SQS takes 10 at most: the body goes alone
    assert nothing_in(sqs, url)


def test_without_a_dead_letter_queue_the_message_is_dropped_with_a_log_line(
    ekiden: EkidenProcess, sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn_of(queue_name),
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    attributes = {f"a{n}": {"DataType": "String", "StringValue": "v"} for n in range(11)}

    published = sns.publish(TopicArn=topic, Message="lost", MessageAttributes=attributes)

    assert nothing_in(sqs, url)
    assert f"dropped the delivery of {published['MessageId']} to {arn}" in ekiden.log_text
