"""The event a Lambda subscription's function is invoked with (pure): built from the
envelope the fan-out writes for protocol ``lambda``, it has the fields, key order and
spellings of AWS's example SNS event ("Using Lambda with Amazon SNS")."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ekiden.core.messages import AttributeValue
from ekiden.core.rules.patterns import compile_filter_policy
from ekiden.core.services.fanout import HttpEndpoint, TopicFacts, prepare_messages
from ekiden.core.sns_envelopes import EnvelopeSignature
from ekiden.core.sns_lambda_event import event_from_envelope
from ekiden.core.sns_messages import PublishInput, validate_publish
from ekiden.core.topic_storage import HttpDelivery
from ekiden.core.topics import TopicSettings

TOPIC = "arn:aws:sns:us-east-2:123456789012:sns-lambda"
SUBSCRIPTION = f"{TOPIC}:21be56ed-a058-49f5-8c98-aedd2564c486"
NOW = 1_546_433_107_000  # 2019-01-02T12:45:07.000Z, the time of AWS's example
STANDARD = TopicSettings.from_attributes({}, fifo=False)


class FakeSigner:
    def __init__(self) -> None:
        self.signed: list[bytes] = []

    def sign(
        self, string_to_sign: bytes, signature_version: str, base_url: str
    ) -> EnvelopeSignature:
        self.signed.append(string_to_sign)
        return EnvelopeSignature(signature_version, "tcc6faL2yUC6dgZd==", f"{base_url}/cert.pem")


def deliveries(
    publish: PublishInput,
    *,
    signer: FakeSigner | None = None,
    policy: str | None = None,
) -> list[HttpDelivery]:
    (prepared,) = prepare_messages(
        TopicFacts(TOPIC, False, False, "1"),
        [validate_publish(publish, STANDARD)],
        [],
        next_sequence=lambda: 0,
        now_ms=NOW,
        base_url="https://sns.example",
        signer=signer,
        http_endpoints=[
            (
                compile_filter_policy(policy) if policy else None,
                HttpEndpoint(SUBSCRIPTION, "lambda", False),
            )
        ],
    )
    return list(prepared.http_deliveries)


def event_of(delivery: HttpDelivery) -> Any:
    event = json.loads(event_from_envelope(delivery.body, delivery.subscription_arn))
    assert isinstance(event, dict)
    return event


def test_the_event_has_aws_fields_in_aws_order_with_url_spellings() -> None:
    attributes = {
        "Test": AttributeValue("String", "TestString"),
        "TestBinary": AttributeValue("Binary", binary_value=b"TestBinary"),
    }
    (delivery,) = deliveries(
        PublishInput("Hello from SNS!", subject="TestInvoke", attributes=attributes),
        signer=FakeSigner(),
    )
    event = event_of(delivery)

    (record,) = event["Records"]
    assert list(record) == ["EventSource", "EventVersion", "EventSubscriptionArn", "Sns"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == SUBSCRIPTION
    sns = record["Sns"]
    assert list(sns) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertUrl",
        "UnsubscribeUrl",
        "MessageAttributes",
    ]
    assert sns["Type"] == "Notification"
    assert sns["MessageId"] == delivery.message_id
    assert sns["TopicArn"] == TOPIC
    assert sns["Subject"] == "TestInvoke"
    assert sns["Message"] == "Hello from SNS!"
    assert sns["Timestamp"] == "2019-01-02T12:45:07.000Z"
    assert (sns["SignatureVersion"], sns["Signature"]) == ("1", "tcc6faL2yUC6dgZd==")
    assert sns["SigningCertUrl"] == "https://sns.example/cert.pem"
    assert sns["UnsubscribeUrl"] == (
        f"https://sns.example/?Action=Unsubscribe&SubscriptionArn={SUBSCRIPTION}"
    )
    assert sns["MessageAttributes"] == {
        "Test": {"Type": "String", "Value": "TestString"},
        "TestBinary": {"Type": "Binary", "Value": base64.b64encode(b"TestBinary").decode()},
    }


def test_a_message_without_subject_or_attributes_has_a_null_subject_and_empty_attributes() -> None:
    (delivery,) = deliveries(PublishInput("plain"), signer=FakeSigner())
    sns = event_of(delivery)["Records"][0]["Sns"]
    assert sns["Subject"] is None
    assert sns["MessageAttributes"] == {}


def test_the_signature_is_the_one_of_the_lambda_text_of_a_structured_message() -> None:
    signer = FakeSigner()
    structured = json.dumps({"default": "for everyone", "lambda": "for functions"})
    (delivery,) = deliveries(PublishInput(structured, message_structure="json"), signer=signer)
    assert event_of(delivery)["Records"][0]["Sns"]["Message"] == "for functions"
    assert signer.signed == [
        b"Message\nfor functions\nMessageId\n"
        + delivery.message_id.encode()
        + b"\nTimestamp\n2019-01-02T12:45:07.000Z\nTopicArn\n"
        + TOPIC.encode()
        + b"\nType\nNotification\n"
    ]


def test_the_outbox_entry_is_the_envelope_the_dead_letter_queue_receives() -> None:
    (delivery,) = deliveries(PublishInput("m", subject="s"), signer=FakeSigner())
    envelope = json.loads(delivery.body)
    assert (delivery.raw, delivery.message_type, delivery.subscription_arn) == (
        False,
        "Notification",
        SUBSCRIPTION,
    )
    assert envelope["SigningCertURL"] == "https://sns.example/cert.pem"
    assert envelope["UnsubscribeURL"].endswith(SUBSCRIPTION)


def test_filter_policies_choose_the_lambda_subscriptions_a_message_goes_to() -> None:
    kind = {"kind": AttributeValue("String", "paid")}
    assert deliveries(PublishInput("m", attributes=kind), policy='{"kind": ["refund"]}') == []
    assert deliveries(PublishInput("m", attributes=kind), policy='{"kind": ["paid"]}')


def test_without_a_signer_the_event_leaves_the_signature_fields_out() -> None:
    (delivery,) = deliveries(PublishInput("m"))
    sns = event_of(delivery)["Records"][0]["Sns"]
    assert "Signature" not in sns and "SigningCertUrl" not in sns
    assert sns["UnsubscribeUrl"].endswith(SUBSCRIPTION)


def test_text_that_is_not_a_notification_envelope_is_refused() -> None:
    for text in (
        "not json",
        "[]",
        '{"Type": "SubscriptionConfirmation"}',
        '{"Type": "Notification"}',
    ):
        with pytest.raises(ValueError):
            event_from_envelope(text, SUBSCRIPTION)
