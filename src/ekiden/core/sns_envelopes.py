"""The envelope SNS delivers to SQS and HTTP/S endpoints, the canonical string its
signature covers, and raw delivery.

Envelope (as AWS writes it; captured deliveries): a JSON object with 2-space indent and
``" : "`` between key and value, in this key order

* Notification: Type, MessageId, TopicArn, Subject (only when published with one),
  Message, Timestamp, SignatureVersion, Signature, SigningCertURL, UnsubscribeURL,
  MessageAttributes (only when there are any; each ``{"Type":..,"Value":..}``, compact);
* Notification of a FIFO topic: Type, MessageId, SequenceNumber, TopicArn, Subject,
  Message, Timestamp, UnsubscribeURL, MessageAttributes, unsigned;
* SubscriptionConfirmation / UnsubscribeConfirmation: Type, MessageId, Token, TopicArn,
  Message, SubscribeURL, Timestamp, SignatureVersion, Signature, SigningCertURL.

Signing (AWS guide, "Verifying the signatures of Amazon SNS messages"): the signed bytes
are the UTF-8 of ``"<Key>\\n<Value>\\n"`` for each of Message, MessageId, Subject (if
present), Timestamp, TopicArn, Type — or, for confirmations, Message, MessageId,
SubscribeURL, Timestamp, Token, TopicArn, Type — in that (byte) order. SignatureVersion 1
signs them with SHA1withRSA, 2 with SHA256withRSA (PKCS#1 v1.5); the RSA step happens
outside core, and its base64 result comes back in as ``EnvelopeSignature``.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ekiden.core.messages import (
    AttributeValue,
    MessageAttributes,
)
from ekiden.core.sns_messages import ValidatedPublish

MAX_RAW_SQS_ATTRIBUTES = 10  # SQS's own limit; more and the raw delivery is dropped
SIGNATURE_HASHES = {"1": "sha1", "2": "sha256"}
_LOWER_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u00([0-9a-f]{2})")


def iso_timestamp(epoch_ms: int) -> str:
    """``2012-05-02T00:54:06.655Z``: the envelope's Timestamp (UTC, milliseconds)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def unsubscribe_url(base_url: str, subscription_arn: str) -> str:
    """``<base>/?Action=Unsubscribe&SubscriptionArn=<arn>`` (the ARN unescaped, as AWS)."""
    return f"{base_url.rstrip('/')}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"


def subscribe_url(base_url: str, topic_arn: str, token: str) -> str:
    """``<base>/?Action=ConfirmSubscription&TopicArn=<arn>&Token=<token>``."""
    return f"{base_url.rstrip('/')}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}"


def signing_hash(signature_version: str) -> str:
    """The hash the RSA signature of ``signature_version`` uses: ``sha1`` or ``sha256``."""
    return SIGNATURE_HASHES[signature_version]


@dataclass(frozen=True, slots=True)
class EnvelopeSignature:
    version: str  # "1" (SHA1withRSA) or "2" (SHA256withRSA)
    signature: str  # base64 of the RSA signature of the envelope's string_to_sign()
    signing_cert_url: str


def _json_string(value: str) -> str:
    # As AWS's serializer writes strings: UTF-8 kept as is, the other control characters
    # escaped as \u00XX with upper-case hex (json.dumps writes lower-case).
    text = json.dumps(value, ensure_ascii=False)
    if "\\u00" in text:
        text = _LOWER_ESCAPE.sub(lambda m: f"{m.group(1)}\\u00{m.group(2).upper()}", text)
    return text


def _attribute_json(value: AttributeValue) -> str:
    shown = (
        base64.b64encode(value.binary_value).decode("ascii")
        if value.binary_value is not None
        else value.string_value or ""
    )
    return f'{{"Type":{_json_string(value.data_type)},"Value":{_json_string(shown)}}}'


def _render(pairs: list[tuple[str, str]], attributes: MessageAttributes) -> str:
    lines = [f'  "{key}" : {_json_string(value)}' for key, value in pairs]
    if attributes:
        entries = ",\n".join(
            f"    {_json_string(name)} : {_attribute_json(value)}"
            for name, value in attributes.items()  # publish order; AWS's own is unspecified
        )
        lines.append(f'  "MessageAttributes" : {{\n{entries}\n  }}')
    return "{\n" + ",\n".join(lines) + "\n}"


def _signature_pairs(signature: EnvelopeSignature | None) -> list[tuple[str, str]]:
    if signature is None:
        return []
    return [
        ("SignatureVersion", signature.version),
        ("Signature", signature.signature),
        ("SigningCertURL", signature.signing_cert_url),
    ]


def _canonical(pairs: list[tuple[str, str | None]]) -> bytes:
    return "".join(f"{key}\n{value}\n" for key, value in pairs if value is not None).encode()


@dataclass(frozen=True, slots=True)
class Notification:
    """A ``Notification`` envelope; ``sequence_number`` set means a FIFO topic's."""

    message_id: str
    topic_arn: str
    message: str
    timestamp: str
    unsubscribe_url: str
    subject: str | None = None
    attributes: MessageAttributes = field(default_factory=dict)
    sequence_number: str | None = None

    def string_to_sign(self) -> bytes:
        return _canonical(
            [
                ("Message", self.message),
                ("MessageId", self.message_id),
                ("Subject", self.subject),
                ("Timestamp", self.timestamp),
                ("TopicArn", self.topic_arn),
                ("Type", "Notification"),
            ]
        )

    def to_json(self, signature: EnvelopeSignature | None) -> str:
        """The envelope body; pass ``None`` for a FIFO topic's (AWS does not sign them)."""
        pairs = [("Type", "Notification"), ("MessageId", self.message_id)]
        if self.sequence_number is not None:
            pairs.append(("SequenceNumber", self.sequence_number))
        pairs.append(("TopicArn", self.topic_arn))
        if self.subject is not None:
            pairs.append(("Subject", self.subject))
        pairs += [("Message", self.message), ("Timestamp", self.timestamp)]
        pairs += _signature_pairs(signature)
        pairs.append(("UnsubscribeURL", self.unsubscribe_url))
        return _render(pairs, self.attributes)


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A ``SubscriptionConfirmation`` or ``UnsubscribeConfirmation`` envelope."""

    type: str
    message_id: str
    token: str
    topic_arn: str
    message: str
    subscribe_url: str
    timestamp: str

    def string_to_sign(self) -> bytes:
        return _canonical(
            [
                ("Message", self.message),
                ("MessageId", self.message_id),
                ("SubscribeURL", self.subscribe_url),
                ("Timestamp", self.timestamp),
                ("Token", self.token),
                ("TopicArn", self.topic_arn),
                ("Type", self.type),
            ]
        )

    def to_json(self, signature: EnvelopeSignature | None) -> str:
        pairs = [
            ("Type", self.type),
            ("MessageId", self.message_id),
            ("Token", self.token),
            ("TopicArn", self.topic_arn),
            ("Message", self.message),
            ("SubscribeURL", self.subscribe_url),
            ("Timestamp", self.timestamp),
        ]
        return _render(pairs + _signature_pairs(signature), {})


def notification_for(
    published: ValidatedPublish,
    *,
    protocol: str,
    message_id: str,
    topic_arn: str,
    timestamp_ms: int,
    unsubscribe_url: str,
    sequence_number: str | None = None,
) -> Notification:
    """The envelope a ``protocol`` subscription receives (not raw delivery)."""
    return Notification(
        message_id=message_id,
        topic_arn=topic_arn,
        message=published.message_for(protocol),
        timestamp=iso_timestamp(timestamp_ms),
        unsubscribe_url=unsubscribe_url,
        subject=published.subject,
        attributes=published.delivered_attributes,
        sequence_number=sequence_number,
    )


def confirmation(
    kind: str,
    *,
    message_id: str,
    token: str,
    topic_arn: str,
    subscribe_url: str,
    timestamp_ms: int,
    subscription_arn: str = "",
) -> Confirmation:
    """A ``SubscriptionConfirmation`` (``kind``) with AWS's text, or an
    ``UnsubscribeConfirmation`` naming ``subscription_arn``."""
    if kind == "SubscriptionConfirmation":
        text = (
            f"You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the "
            "subscription, visit the SubscribeURL included in this message."
        )
    else:
        text = (
            f"You have chosen to deactivate subscription {subscription_arn}.\nTo cancel this "
            "operation and restore the subscription, visit the SubscribeURL included in this "
            "message."
        )
    return Confirmation(
        type=kind,
        message_id=message_id,
        token=token,
        topic_arn=topic_arn,
        message=text,
        subscribe_url=subscribe_url,
        timestamp=iso_timestamp(timestamp_ms),
    )


def raw_sqs_attributes(published: ValidatedPublish) -> dict[str, AttributeValue] | None:
    """The SQS message attributes of a raw delivery (RawMessageDelivery: the body is
    ``message_for("sqs")``), or ``None`` when the message must be dropped: SQS takes at
    most 10, and the guide says such messages "will be discarded as client side
    errors"."""
    attributes = published.delivered_attributes
    if len(attributes) > MAX_RAW_SQS_ATTRIBUTES:
        return None
    return dict(attributes)


def sqs_ordering_fields(
    published: ValidatedPublish, *, queue_fifo: bool
) -> tuple[str | None, str | None]:
    """MessageGroupId and MessageDeduplicationId to send to an SQS subscription: both for
    a FIFO queue; the group id alone (fair queues) for a standard one."""
    if queue_fifo:
        return published.group_id, published.dedup_id
    return published.group_id, None
