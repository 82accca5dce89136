"""The SQS message a published SNS message becomes in each subscribed queue (pure)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ekiden.core.messages import AttributeValue
from ekiden.core.rules.patterns import compile_filter_policy
from ekiden.core.services.fanout import (
    SNS_SENDER_ID,
    Publication,
    SqsEndpoint,
    TopicFacts,
    envelope_signature,
    prepare_messages,
    sqs_message,
)
from ekiden.core.sns_envelopes import EnvelopeSignature
from ekiden.core.sns_messages import PublishInput, validate_publish
from ekiden.core.topic_storage import QueueTarget
from ekiden.core.topics import TopicSettings

TOPIC = "arn:aws:sns:us-east-1:000000000000:t"
SUBSCRIPTION = f"{TOPIC}:5f0b3e1a-9c4d-4e8f-a1b2-c3d4e5f6a7b8"
NOW = 1_700_000_000_123


def endpoint(*, raw: bool = False, fifo: bool = False, max_bytes: int = 1_048_576) -> SqsEndpoint:
    return SqsEndpoint(
        subscription_arn=SUBSCRIPTION,
        raw=raw,
        target=QueueTarget(7, fifo, 60_000),
        delay_s=3,
        max_message_bytes=max_bytes,
        dedup_scope_group=False,
    )


def publication(message: str = "hello", *, fifo: bool = False, **kwargs: Any) -> Publication:
    settings = TopicSettings.from_attributes(
        {"ContentBasedDeduplication": "true"} if fifo else {}, fifo=fifo
    )
    published = validate_publish(PublishInput(message=message, **kwargs), settings)
    return Publication(
        published,
        "sns-id",
        TOPIC,
        fifo,
        "00000000000000000001" if fifo else None,
        NOW,
        "http://h:1",
    )


def test_an_enveloped_delivery_has_the_envelope_as_body_and_no_attributes() -> None:
    attributes = {"level": AttributeValue("String", "error")}
    message = sqs_message(publication(attributes=attributes), endpoint(), None)
    assert message is not None
    document = json.loads(message.body)
    assert document["MessageId"] == "sns-id"
    assert document["Timestamp"] == "2023-11-14T22:13:20.123Z"
    assert document["UnsubscribeURL"] == (
        f"http://h:1/?Action=Unsubscribe&SubscriptionArn={SUBSCRIPTION}"
    )
    assert document["MessageAttributes"] == {"level": {"Type": "String", "Value": "error"}}
    assert message.attributes == {} and message.md5_of_attributes is None
    assert message.md5_of_body == hashlib.md5(message.body.encode()).hexdigest()
    assert (message.sender_id, message.delay_s) == (SNS_SENDER_ID, 3)
    assert message.message_id != "sns-id"


def test_a_raw_delivery_carries_the_message_and_attributes_with_their_digest() -> None:
    attributes = {"level": AttributeValue("String", "error")}
    message = sqs_message(publication("hi", attributes=attributes), endpoint(raw=True), None)
    assert message is not None
    assert message.body == "hi"
    assert message.attributes == attributes
    assert message.md5_of_attributes is not None


def test_a_raw_delivery_of_more_than_ten_attributes_is_dropped() -> None:
    attributes = {f"a{n}": AttributeValue("String", "v") for n in range(11)}
    assert sqs_message(publication(attributes=attributes), endpoint(raw=True), None) is None
    assert sqs_message(publication(attributes=attributes), endpoint(), None) is not None


def test_a_delivery_too_large_for_the_queue_is_dropped() -> None:
    assert sqs_message(publication("x" * 1000), endpoint(raw=True, max_bytes=1000), None)
    assert sqs_message(publication("x" * 1001), endpoint(raw=True, max_bytes=1000), None) is None
    # The envelope counts, not just the message.
    assert sqs_message(publication("x" * 900), endpoint(max_bytes=1000), None) is None


def test_a_fifo_queue_gets_the_group_and_the_topics_deduplication_id() -> None:
    fifo = publication("body", fifo=True, group_id="g")
    message = sqs_message(fifo, endpoint(fifo=True), None)
    assert message is not None
    expected = hashlib.sha256(b"body").hexdigest()
    assert (message.group_id, message.dedup_id, message.dedup_key) == ("g", expected, expected)
    assert json.loads(message.body)["SequenceNumber"] == "00000000000000000001"
    standard = sqs_message(fifo, endpoint(fifo=False), None)
    assert standard is not None
    assert (standard.group_id, standard.dedup_id, standard.dedup_key) == ("g", None, None)


class FakeSigner:
    def __init__(self) -> None:
        self.signed: list[tuple[bytes, str]] = []

    def sign(
        self, string_to_sign: bytes, signature_version: str, base_url: str
    ) -> EnvelopeSignature:
        self.signed.append((string_to_sign, signature_version))
        return EnvelopeSignature(signature_version, "c2ln", f"{base_url}/cert.pem")


def test_standard_envelopes_are_signed_when_a_signer_is_given_and_fifo_ones_never() -> None:
    signer = FakeSigner()
    signature = envelope_signature(publication(), signer, "2")
    assert signature is not None and signer.signed[0][1] == "2"
    assert signer.signed[0][0].startswith(b"Message\nhello\nMessageId\nsns-id\n")
    message = sqs_message(publication(), endpoint(), signature)
    assert message is not None
    assert json.loads(message.body)["SigningCertURL"] == "http://h:1/cert.pem"
    assert envelope_signature(publication(), None, "1") is None
    assert envelope_signature(publication(fifo=True, group_id="g"), signer, "1") is None


def test_prepare_messages_applies_filters_and_numbers_fifo_messages_in_order() -> None:
    settings = TopicSettings.from_attributes({"ContentBasedDeduplication": "true"}, fifo=True)
    messages = [
        validate_publish(
            PublishInput(
                message=text, group_id="g", attributes={"level": AttributeValue("String", level)}
            ),
            settings,
        )
        for text, level in (("one", "error"), ("two", "info"))
    ]
    errors_only = compile_filter_policy('{"level": ["error"]}')
    counter = iter(range(41, 100))
    prepared = prepare_messages(
        TopicFacts(TOPIC + ".fifo", True, False, "1"),
        messages,
        [(errors_only, endpoint(fifo=True)), (None, endpoint(raw=True, fifo=True))],
        next_sequence=lambda: next(counter),
        now_ms=NOW,
        base_url="http://h:1",
        signer=None,
    )
    assert [m.sequence_number for m in prepared] == [f"{41:020d}", f"{42:020d}"]
    assert [len(m.deliveries) for m in prepared] == [2, 1]
    assert prepared[0].dedup_key == hashlib.sha256(b"one").hexdigest()
    assert prepared[1].deliveries[0].message.body == "two"
