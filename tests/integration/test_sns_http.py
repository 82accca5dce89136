"""SNS deliveries to HTTP/S endpoints: a real HTTP server in the test process subscribes,
confirms, receives signed notifications, and fails on purpose to exercise retries, the
subscription dead-letter queue, the throttle and Unsubscribe.

Retries use a subscription DeliveryPolicy of one-second delays, so each test takes a few
seconds at most.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import requests
from cryptography.exceptions import InvalidSignature

from tests.support.clients import sqs_client
from tests.support.http_endpoint import (
    CONFIRMATION_ENVELOPE_KEYS,
    Endpoint,
    drain,
    verify_signature,
)
from tests.support.server import EkidenProcess
from tests.support.sns import (
    SNS_XMLNS,
    envelope,
    queue_arn_of,
    received,
)


def fast_retries(retries: int, **more: Any) -> str:
    """A subscription DeliveryPolicy retrying ``retries`` times, one second apart."""
    policy: dict[str, Any] = {
        "healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": retries}
    }
    policy.update(more)
    return json.dumps(policy)


def confirmed_subscription(sns: Any, topic_arn: str, endpoint: Endpoint, **attributes: str) -> str:
    """Subscribe ``endpoint`` and confirm it as a receiver does: fetch the SubscribeURL of
    the confirmation it is sent. Returns the subscription ARN."""
    answer = sns.subscribe(
        TopicArn=topic_arn, Protocol="http", Endpoint=endpoint.url, Attributes=attributes
    )
    assert answer["SubscriptionArn"] == "pending confirmation"
    confirmation = endpoint.next().json()
    assert confirmation["Type"] == "SubscriptionConfirmation"
    fetched = requests.get(confirmation["SubscribeURL"], timeout=10)
    assert fetched.status_code == 200, fetched.text
    arn = ET.fromstring(fetched.content).findtext(f".//{SNS_XMLNS}SubscriptionArn")
    assert arn
    return arn


def test_subscribing_an_http_endpoint_posts_a_signed_confirmation_its_subscribe_url_confirms(
    sns: Any, topic: str
) -> None:
    with Endpoint() as endpoint:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
        post = endpoint.next()
        assert post.path == "/hook"
        assert post.headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
        assert post.headers["x-amz-sns-topic-arn"] == topic
        assert post.headers["content-type"] == "text/plain; charset=UTF-8"
        assert post.headers["user-agent"] == "Amazon Simple Notification Service Agent"
        assert "x-amz-sns-subscription-arn" not in post.headers
        message = post.json()
        assert post.headers["x-amz-sns-message-id"] == message["MessageId"]
        assert list(message) == CONFIRMATION_ENVELOPE_KEYS
        assert message["SubscribeURL"].endswith(
            f"/?Action=ConfirmSubscription&TopicArn={topic}&Token={message['Token']}"
        )
        verify_signature(message)
        # Nothing is delivered while the subscription waits for its confirmation.
        sns.publish(TopicArn=topic, Message="too early")
        assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0][
            "SubscriptionArn"
        ] == ("PendingConfirmation")

        fetched = requests.get(message["SubscribeURL"], timeout=10)

        assert fetched.status_code == 200
        arn = ET.fromstring(fetched.content).findtext(f".//{SNS_XMLNS}SubscriptionArn")
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert attributes["PendingConfirmation"] == "false"
        assert endpoint.quiet_for(0.5)
        sns.publish(TopicArn=topic, Message="now")
        assert endpoint.next().json()["Message"] == "now"


def test_confirm_subscription_with_the_token_of_the_confirmation_also_confirms(
    sns: Any, topic: str
) -> None:
    with Endpoint() as endpoint:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
        token = endpoint.next().json()["Token"]

        arn = sns.confirm_subscription(TopicArn=topic, Token=token)["SubscriptionArn"]

        assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0][
            "SubscriptionArn"
        ] == (arn)
        sns.publish(TopicArn=topic, Message="hello")
        assert endpoint.next().json()["Message"] == "hello"


@pytest.mark.parametrize("version", ["1", "2"])
def test_notifications_to_http_are_signed_with_the_topics_signature_version(
    sns: Any, topic: str, version: str
) -> None:
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="SignatureVersion", AttributeValue=version
    )
    with Endpoint() as endpoint:
        arn = confirmed_subscription(sns, topic, endpoint)
        published = sns.publish(
            TopicArn=topic,
            Message='{"order": 42}\nsecond line \u2713',
            Subject="Order \u2713",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "paid"}},
        )

        post = endpoint.next()

        assert post.headers["x-amz-sns-message-type"] == "Notification"
        assert post.headers["x-amz-sns-message-id"] == published["MessageId"]
        assert post.headers["x-amz-sns-subscription-arn"] == arn
        assert "x-amz-sns-rawdelivery" not in post.headers
        message = post.json()
        assert message["SignatureVersion"] == version
        assert message["Message"] == '{"order": 42}\nsecond line \u2713'
        assert message["MessageAttributes"] == {"kind": {"Type": "String", "Value": "paid"}}
        assert message["UnsubscribeURL"].endswith(f"/?Action=Unsubscribe&SubscriptionArn={arn}")
        verify_signature(message)
        tampered = dict(message, Message="something else")
        with pytest.raises(InvalidSignature):
            verify_signature(tampered)


def test_raw_delivery_to_http_posts_the_message_alone_with_the_raw_delivery_header(
    sns: Any, topic: str
) -> None:
    with Endpoint() as endpoint:
        confirmed_subscription(sns, topic, endpoint, RawMessageDelivery="true")
        sns.publish(
            TopicArn=topic,
            Message="just this",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "paid"}},
        )

        post = endpoint.next()

        assert post.body == b"just this"
        assert post.headers["x-amz-sns-rawdelivery"] == "true"
        assert post.headers["x-amz-sns-message-type"] == "Notification"
        assert "kind" not in post.headers  # AWS does not send the attributes


def test_the_delivery_policy_sets_the_content_type_of_notifications(sns: Any, topic: str) -> None:
    policy = fast_retries(1, requestPolicy={"headerContentType": "application/json"})
    with Endpoint() as endpoint:
        confirmed_subscription(sns, topic, endpoint, DeliveryPolicy=policy)
        sns.publish(TopicArn=topic, Message="typed")
        assert endpoint.next().headers["content-type"] == "application/json"


def test_an_endpoint_that_fails_twice_gets_the_message_on_the_third_attempt(
    sns: Any, topic: str
) -> None:
    with Endpoint() as endpoint:
        confirmed_subscription(sns, topic, endpoint, DeliveryPolicy=fast_retries(3))
        endpoint.answer_next(500, 503)
        published = sns.publish(TopicArn=topic, Message="persist")

        posts = [endpoint.next() for _ in range(3)]

        assert {p.headers["x-amz-sns-message-id"] for p in posts} == {published["MessageId"]}
        assert [p.json()["Message"] for p in posts] == ["persist"] * 3
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(posts)]
        assert all(gap >= 0.9 for gap in gaps), gaps
        assert endpoint.quiet_for(1.5)  # delivered: no further attempt


def test_an_answer_in_the_4xx_range_counts_as_delivered_as_on_aws(sns: Any, topic: str) -> None:
    with Endpoint() as endpoint:
        confirmed_subscription(sns, topic, endpoint, DeliveryPolicy=fast_retries(3))
        endpoint.answer_next(404)
        sns.publish(TopicArn=topic, Message="not found is an answer")
        assert endpoint.next().json()["Message"] == "not found is an answer"
        assert endpoint.quiet_for(1.5)


def test_an_endpoint_that_never_succeeds_ends_in_the_subscriptions_dead_letter_queue(
    ekiden: EkidenProcess, sns: Any, topic: str, queue_name: str
) -> None:
    sqs = sqs_client(ekiden.endpoint, "json")
    dlq_url = sqs.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": queue_arn_of(f"{queue_name}-dlq")})
    with Endpoint(always=500) as endpoint:
        confirmed_subscription(
            sns, topic, endpoint, DeliveryPolicy=fast_retries(2), RedrivePolicy=redrive
        )
        published = sns.publish(TopicArn=topic, Message="undeliverable", Subject="s")

        (dead,) = received(sqs, dlq_url, 1, timeout_s=10)

        assert len([endpoint.next() for _ in range(3)]) == 3  # the attempt and 2 retries
        assert endpoint.quiet_for(0.5)
    body = envelope(dead)
    assert (body["Type"], body["MessageId"]) == ("Notification", published["MessageId"])
    assert (body["Message"], body["Subject"]) == ("undeliverable", "s")
    verify_signature(body)
    assert "MessageAttributes" not in dead
    assert dead["Attributes"]["SenderId"] == "AIDAIT2UOQQY3AUEKVGXU"


def test_a_raw_delivery_that_runs_out_of_retries_reaches_the_dead_letter_queue_with_its_attributes(
    ekiden: EkidenProcess, sns: Any, topic: str, queue_name: str
) -> None:
    sqs = sqs_client(ekiden.endpoint, "json")
    dlq_url = sqs.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": queue_arn_of(f"{queue_name}-dlq")})
    with Endpoint(always=502) as endpoint:
        confirmed_subscription(
            sns,
            topic,
            endpoint,
            DeliveryPolicy=fast_retries(1),
            RedrivePolicy=redrive,
            RawMessageDelivery="true",
        )
        sns.publish(
            TopicArn=topic,
            Message="raw and lost",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "paid"}},
        )

        (dead,) = received(sqs, dlq_url, 1, timeout_s=10)

    assert dead["Body"] == "raw and lost"
    assert dead["MessageAttributes"] == {"kind": {"DataType": "String", "StringValue": "paid"}}


def test_without_a_dead_letter_queue_an_undeliverable_message_is_dropped_with_a_log_line(
    ekiden: EkidenProcess, sns: Any, topic: str
) -> None:
    with Endpoint(always=500) as endpoint:
        arn = confirmed_subscription(sns, topic, endpoint, DeliveryPolicy=fast_retries(1))
        published = sns.publish(TopicArn=topic, Message="gone")
        endpoint.next()
        endpoint.next()
        assert endpoint.quiet_for(1.5)
    line = f"dropped Notification {published['MessageId']} to {arn} after 2 attempts"
    assert line in ekiden.log_text


def test_unsubscribe_drops_the_deliveries_still_waiting_for_a_retry(sns: Any, topic: str) -> None:
    with Endpoint(always=500) as endpoint:
        arn = confirmed_subscription(sns, topic, endpoint, DeliveryPolicy=fast_retries(5))
        sns.publish(TopicArn=topic, Message="retrying")
        endpoint.next()

        sns.unsubscribe(SubscriptionArn=arn)

        time.sleep(2.0)
        # Only the UnsubscribeConfirmation (and its retries) comes: the notification is gone.
        types = {p.headers["x-amz-sns-message-type"] for p in drain(endpoint)}
        assert types == {"UnsubscribeConfirmation"}


def test_max_receives_per_second_spaces_the_deliveries_of_a_subscription(
    sns: Any, topic: str
) -> None:
    policy = fast_retries(1, throttlePolicy={"maxReceivesPerSecond": 2})
    with Endpoint() as endpoint:
        confirmed_subscription(sns, topic, endpoint, DeliveryPolicy=policy)
        sns.publish_batch(
            TopicArn=topic,
            PublishBatchRequestEntries=[{"Id": str(n), "Message": f"m{n}"} for n in range(5)],
        )

        posts = [endpoint.next() for _ in range(5)]

    assert sorted(p.json()["Message"] for p in posts) == [f"m{n}" for n in range(5)]
    # Two a second: the fifth goes two seconds after the first.
    assert posts[-1].at - posts[0].at >= 1.8
    assert not list(drain(endpoint))


def test_an_endpoint_that_refuses_connections_is_retried_then_dead_lettered(
    ekiden: EkidenProcess, sns: Any, topic: str, queue_name: str
) -> None:
    sqs = sqs_client(ekiden.endpoint, "json")
    dlq_url = sqs.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": queue_arn_of(f"{queue_name}-dlq")})
    with Endpoint() as endpoint:
        confirmed_subscription(
            sns, topic, endpoint, DeliveryPolicy=fast_retries(1), RedrivePolicy=redrive
        )
    # The endpoint's server is closed now: every attempt finds the port refusing.
    started = time.monotonic()
    published = sns.publish(TopicArn=topic, Message="nobody home")
    assert time.monotonic() - started < 1  # Publish does not wait for HTTP deliveries

    (dead,) = received(sqs, dlq_url, 1, timeout_s=10)

    assert envelope(dead)["MessageId"] == published["MessageId"]
    assert f"Notification {published['MessageId']}" in ekiden.log_text
