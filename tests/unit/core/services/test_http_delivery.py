"""What an HTTP/S subscription is sent (pure): the POST of a notification or of a
subscription confirmation, its headers, what counts as delivered, and the message a
delivery that ran out of retries becomes in a dead-letter queue."""

from __future__ import annotations

import hashlib
import json

from ekiden.core.messages import AttributeValue
from ekiden.core.rules.patterns import compile_filter_policy
from ekiden.core.services.confirmation import confirmation_delivery
from ekiden.core.services.fanout import SNS_SENDER_ID, HttpEndpoint, TopicFacts, prepare_messages
from ekiden.core.services.http_delivery import (
    HttpOutcome,
    dead_letter_message,
    delivered,
    request_headers,
)
from ekiden.core.sns_envelopes import EnvelopeSignature
from ekiden.core.sns_messages import PublishInput, validate_publish
from ekiden.core.topic_storage import HttpDelivery
from ekiden.core.topics import TopicSettings

TOPIC = "arn:aws:sns:us-east-1:000000000000:t"
SUBSCRIPTION = f"{TOPIC}:5f0b3e1a-9c4d-4e8f-a1b2-c3d4e5f6a7b8"
NOW = 1_700_000_000_123
STANDARD = TopicSettings.from_attributes({}, fifo=False)


class FakeSigner:
    def __init__(self) -> None:
        self.signed: list[bytes] = []

    def sign(
        self, string_to_sign: bytes, signature_version: str, base_url: str
    ) -> EnvelopeSignature:
        self.signed.append(string_to_sign)
        return EnvelopeSignature(signature_version, f"sig{len(self.signed)}", f"{base_url}/c.pem")


def publish_http(
    message: str,
    endpoints: list[HttpEndpoint],
    signer: FakeSigner,
    *,
    structure: str | None = None,
    attributes: dict[str, AttributeValue] | None = None,
    policy: str | None = None,
) -> list[HttpDelivery]:
    published = validate_publish(
        PublishInput(message=message, message_structure=structure, attributes=attributes or {}),
        STANDARD,
    )
    compiled = compile_filter_policy(policy) if policy else None
    (prepared,) = prepare_messages(
        TopicFacts(TOPIC, False, False, "2"),
        [published],
        [],
        next_sequence=lambda: 0,
        now_ms=NOW,
        base_url="http://h:1",
        signer=signer,
        http_endpoints=[(compiled, endpoint) for endpoint in endpoints],
    )
    assert prepared.deliveries == []
    return list(prepared.http_deliveries)


def test_an_http_subscription_gets_the_signed_envelope_with_its_unsubscribe_url() -> None:
    signer = FakeSigner()
    (post,) = publish_http("hello", [HttpEndpoint(SUBSCRIPTION, "http", False)], signer)
    body = json.loads(post.body)
    assert (post.message_type, post.subscription_arn, post.raw) == (
        "Notification",
        SUBSCRIPTION,
        False,
    )
    assert body["Message"] == "hello" and body["MessageId"] == post.message_id
    assert (body["Signature"], body["SignatureVersion"]) == ("sig1", "2")
    assert body["SigningCertURL"] == "http://h:1/c.pem"
    assert (
        body["UnsubscribeURL"] == f"http://h:1/?Action=Unsubscribe&SubscriptionArn={SUBSCRIPTION}"
    )


def test_one_signature_serves_every_subscription_of_a_protocol() -> None:
    signer = FakeSigner()
    endpoints = [
        HttpEndpoint(f"{TOPIC}:a", "https", False),
        HttpEndpoint(f"{TOPIC}:b", "https", False),
        HttpEndpoint(f"{TOPIC}:c", "http", False),
    ]
    message = json.dumps({"default": "d", "http": "plain", "https": "secure"})
    posts = publish_http(message, endpoints, signer, structure="json")
    assert [json.loads(p.body)["Message"] for p in posts] == ["secure", "secure", "plain"]
    assert len(signer.signed) == 2  # https once, http once
    assert b"Message\nsecure\n" in signer.signed[0] and b"Message\nplain\n" in signer.signed[1]


def test_a_raw_http_delivery_is_the_message_with_its_attributes_kept_for_a_dead_letter_queue() -> (
    None
):
    attributes = {"kind": AttributeValue("String", "paid")}
    signer = FakeSigner()
    (post,) = publish_http(
        "just this", [HttpEndpoint(SUBSCRIPTION, "http", True)], signer, attributes=attributes
    )
    assert (post.body, post.raw, dict(post.attributes)) == ("just this", True, attributes)
    assert signer.signed == []  # nothing to sign


def test_filter_policies_choose_the_http_subscriptions_a_message_goes_to() -> None:
    endpoints = [HttpEndpoint(SUBSCRIPTION, "http", False)]
    paid = {"kind": AttributeValue("String", "paid")}
    policy = '{"kind": ["refund"]}'
    assert publish_http("m", endpoints, FakeSigner(), attributes=paid, policy=policy) == []
    assert publish_http("m", endpoints, FakeSigner(), attributes=paid, policy='{"kind": ["paid"]}')


def test_a_confirmation_carries_the_token_and_a_subscribe_url_that_confirms_it() -> None:
    signer = FakeSigner()
    post = confirmation_delivery(
        subscription_arn=SUBSCRIPTION,
        topic_arn=TOPIC,
        token="ab" * 4,
        base_url="http://h:1/",
        now_ms=NOW,
        signer=signer,
        signature_version="1",
    )
    body = json.loads(post.body)
    assert post.message_type == body["Type"] == "SubscriptionConfirmation"
    assert (
        body["SubscribeURL"]
        == f"http://h:1/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=abababab"
    )
    assert body["Token"] == "abababab" and body["SignatureVersion"] == "1"
    assert signer.signed[0].startswith(b"Message\nYou have chosen to subscribe")


def test_headers_name_the_message_and_the_subscription_as_aws_does() -> None:
    notification = HttpDelivery(SUBSCRIPTION, "Notification", "m-1", TOPIC, "{}")
    assert request_headers(notification, "application/json") == [
        ("x-amz-sns-message-type", "Notification"),
        ("x-amz-sns-message-id", "m-1"),
        ("x-amz-sns-topic-arn", TOPIC),
        ("x-amz-sns-subscription-arn", SUBSCRIPTION),
        ("Content-Type", "application/json"),
        ("User-Agent", "Amazon Simple Notification Service Agent"),
    ]
    raw = HttpDelivery(SUBSCRIPTION, "Notification", "m-1", TOPIC, "x", raw=True)
    assert ("x-amz-sns-rawdelivery", "true") in request_headers(raw, "text/plain")
    confirming = HttpDelivery(SUBSCRIPTION, "SubscriptionConfirmation", "m-2", TOPIC, "{}")
    names = [name for name, _ in request_headers(confirming, "text/plain; charset=UTF-8")]
    assert "x-amz-sns-subscription-arn" not in names


def test_an_answer_from_200_to_499_is_delivered_and_anything_else_is_a_failed_attempt() -> None:
    assert all(delivered(HttpOutcome(status)) for status in (200, 204, 302, 400, 404, 499))
    assert not any(delivered(HttpOutcome(status)) for status in (100, 500, 503, 599))
    assert not delivered(HttpOutcome(None, "connection refused"))


def test_a_dead_lettered_delivery_keeps_its_body_and_raw_attributes() -> None:
    attributes = {"kind": AttributeValue("String", "paid")}
    raw = HttpDelivery(SUBSCRIPTION, "Notification", "m", TOPIC, "body", True, attributes)
    message = dead_letter_message(raw, delay_s=2, max_message_bytes=1024)
    assert message is not None
    assert (message.body, message.attributes, message.delay_s) == ("body", attributes, 2)
    assert message.md5_of_body == hashlib.md5(b"body").hexdigest()
    assert message.md5_of_attributes is not None and message.sender_id == SNS_SENDER_ID
    assert (message.group_id, message.dedup_id) == (None, None)


def test_a_dead_letter_queue_that_cannot_take_the_message_gets_nothing() -> None:
    envelope = HttpDelivery(SUBSCRIPTION, "Notification", "m", TOPIC, "x" * 2000)
    assert dead_letter_message(envelope, delay_s=0, max_message_bytes=1024) is None
    many = {f"a{n}": AttributeValue("String", "v") for n in range(11)}
    raw = HttpDelivery(SUBSCRIPTION, "Notification", "m", TOPIC, "x", True, many)
    assert dead_letter_message(raw, delay_s=0, max_message_bytes=1024) is None
