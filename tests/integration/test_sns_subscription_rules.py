"""Subscribe's rules, as a boto3 client sees them: repeating a subscription with the same
JSON policies written otherwise, the queues a subscription (and its dead-letter queue) may
name, endpoint URLs a POST could not carry, and the subscription limit of topics that
allow messages over 256 KiB."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.messaging import rejected
from tests.support.sns import queue_arn_of


def test_subscribing_again_with_the_same_filter_policy_written_otherwise_returns_it(
    sns: Any, topic: str, queue_name: str
) -> None:
    endpoint = queue_arn_of(queue_name)
    first = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=endpoint,
        Attributes={"FilterPolicy": '{"kind": ["paid"], "region": ["eu"]}'},
    )["SubscriptionArn"]

    again = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=endpoint,
        Attributes={"FilterPolicy": '{\n  "region" : [ "eu" ],\n  "kind":["paid"]\n}'},
    )["SubscriptionArn"]

    assert again == first
    with rejected("InvalidParameter") as error:
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=endpoint,
            Attributes={"FilterPolicy": '{"kind": ["refund"]}'},
        )
    assert error.message.endswith("Subscription already exists with different attributes")


def test_a_queue_of_another_region_can_be_neither_endpoint_nor_dead_letter_queue(
    sns: Any, topic: str, queue_name: str
) -> None:
    elsewhere = f"arn:aws:sqs:eu-west-1:000000000000:{queue_name}"
    with rejected("InvalidParameter") as error:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=elsewhere)
    assert error.message == (
        "Invalid parameter: SQS endpoint ARN Reason: the queue must be in region us-east-1"
    )
    for dlq in (elsewhere, f"arn:aws:sqs:us-east-1:111122223333:{queue_name}"):
        with rejected("InvalidParameter") as error:
            sns.subscribe(
                TopicArn=topic,
                Protocol="sqs",
                Endpoint=queue_arn_of(queue_name),
                Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq})},
            )
        assert error.message == (
            "Invalid parameter: Attributes Reason: RedrivePolicy: deadLetterTargetArn must be "
            "a queue in the same account and region as the subscription"
        )
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/a b", "http://127.0.0.1:9/hook\r\nX-Evil: 1", "http://h/\t"]
)
def test_an_endpoint_url_with_whitespace_or_control_characters_is_refused(
    sns: Any, topic: str, url: str
) -> None:
    with rejected("InvalidParameter") as error:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url)
    assert error.message == (
        "Invalid parameter: Endpoint Reason: a URL may not contain whitespace or control characters"
    )
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_a_topic_above_256_kib_takes_at_most_100_subscriptions(
    sns: Any, topic: str, queue_name: str
) -> None:
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="MaximumMessageSize", AttributeValue="1048576"
    )
    for n in range(100):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn_of(f"{queue_name}-{n}"))

    with rejected("InvalidParameter") as error:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn_of(f"{queue_name}-x"))

    assert error.message == (
        "Invalid parameter: MaximumMessageSize Reason: a topic above 262144 bytes may have "
        "at most 100 subscriptions, all of them Amazon SQS or AWS Lambda"
    )
    # Subscribing one of them again still answers with its subscription.
    assert sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn_of(f"{queue_name}-0"))
