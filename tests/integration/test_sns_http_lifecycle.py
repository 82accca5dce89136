"""The confirmations an HTTP/S subscription is sent over its life: subscribing a pending
endpoint again sends its SubscriptionConfirmation again (so one whose retries ran out can
still be confirmed), and Unsubscribe sends a signed UnsubscribeConfirmation."""

from __future__ import annotations

from typing import Any

from tests.integration.test_sns_http import confirmed_subscription, fast_retries
from tests.support.http_endpoint import CONFIRMATION_ENVELOPE_KEYS, Endpoint, verify_signature
from tests.support.server import EkidenProcess


def test_subscribing_a_pending_endpoint_again_sends_its_confirmation_again(
    ekiden: EkidenProcess, sns: Any, topic: str
) -> None:
    with Endpoint([500]) as endpoint:
        attributes = {"DeliveryPolicy": fast_retries(0)}  # one attempt, then given up
        answer = sns.subscribe(
            TopicArn=topic, Protocol="http", Endpoint=endpoint.url, Attributes=attributes
        )
        assert answer["SubscriptionArn"] == "pending confirmation"
        first = endpoint.next().json()
        assert endpoint.quiet_for(1.0)  # refused, and not retried

        again = sns.subscribe(
            TopicArn=topic, Protocol="http", Endpoint=endpoint.url, Attributes=attributes
        )

        assert again["SubscriptionArn"] == "pending confirmation"
        resent = endpoint.next().json()
        assert resent["Type"] == "SubscriptionConfirmation"
        assert resent["Token"] == first["Token"]
        assert resent["MessageId"] != first["MessageId"]
        verify_signature(resent)
        arn = sns.confirm_subscription(TopicArn=topic, Token=resent["Token"])["SubscriptionArn"]
        sns.publish(TopicArn=topic, Message="at last")
        post = endpoint.next()
        assert post.json()["Message"] == "at last"
        assert post.headers["x-amz-sns-subscription-arn"] == arn


def test_subscribing_a_confirmed_endpoint_again_sends_nothing(sns: Any, topic: str) -> None:
    with Endpoint() as endpoint:
        arn = confirmed_subscription(sns, topic, endpoint)
        again = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
        assert again["SubscriptionArn"] == arn
        assert endpoint.quiet_for(1.0)


def test_unsubscribe_sends_a_signed_unsubscribe_confirmation(sns: Any, topic: str) -> None:
    with Endpoint() as endpoint:
        arn = confirmed_subscription(sns, topic, endpoint)

        sns.unsubscribe(SubscriptionArn=arn)

        post = endpoint.next()
        assert post.headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
        assert post.headers["x-amz-sns-topic-arn"] == topic
        assert post.headers["content-type"] == "text/plain; charset=UTF-8"
        message = post.json()
        assert list(message) == CONFIRMATION_ENVELOPE_KEYS
        assert message["Type"] == "UnsubscribeConfirmation"
        assert message["Message"].startswith(f"You have chosen to deactivate subscription {arn}.")
        assert post.headers["x-amz-sns-message-id"] == message["MessageId"]
        verify_signature(message)
        sns.publish(TopicArn=topic, Message="after")
        assert endpoint.quiet_for(1.0)  # nothing but the confirmation


def test_an_unsubscribe_confirmation_is_retried_by_the_subscriptions_delivery_policy(
    sns: Any, topic: str
) -> None:
    with Endpoint() as endpoint:
        arn = confirmed_subscription(sns, topic, endpoint, DeliveryPolicy=fast_retries(2))
        endpoint.answer_next(500, 503)

        sns.unsubscribe(SubscriptionArn=arn)

        posts = [endpoint.next() for _ in range(3)]
        assert {p.headers["x-amz-sns-message-type"] for p in posts} == {"UnsubscribeConfirmation"}
        assert len({p.json()["MessageId"] for p in posts}) == 1
        assert endpoint.quiet_for(1.5)  # delivered on the third attempt: no more
