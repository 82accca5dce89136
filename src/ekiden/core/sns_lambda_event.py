"""The event a Lambda function subscribed to an SNS topic is invoked with.

AWS's Lambda developer guide ("Using Lambda with Amazon SNS", example message event) and
captured deliveries give its shape; ekiden writes the keys in the order AWS's deliveries
carry them::

    {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                  "EventSubscriptionArn": "<subscription ARN>",
                  "Sns": {"Type": "Notification", "MessageId", "TopicArn",
                          "Subject": <the subject, or null>, "Message", "Timestamp",
                          "SignatureVersion", "Signature", "SigningCertUrl",
                          "UnsubscribeUrl",
                          "MessageAttributes": {name: {"Type": .., "Value": ..}}}}]}

It carries what the ``Notification`` envelope of an HTTP/S delivery carries, with three
differences: ``SigningCertUrl`` and ``UnsubscribeUrl`` are spelled with ``Url`` (the
envelope's ``SigningCertURL``, ``UnsubscribeURL``); ``Subject`` is ``null`` rather than
absent when the message has none; ``MessageAttributes`` is ``{}`` rather than absent
when it has none. Binary attribute values are base64, as in the envelope. One record per
event: SNS invokes the function once per message.

The outbox keeps a Lambda delivery as its (signed) envelope, which is also what the
subscription's dead-letter queue receives; ``event_from_envelope`` turns it into the
event when the function is invoked, so the event and the dead-letter message never
disagree. Without a signer (no envelope signature) the three signature fields are left
out of the event, as they are out of the envelope.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

EVENT_SOURCE = "aws:sns"
EVENT_VERSION = "1.0"

# Envelope key -> event key, in the event's order (after Type, MessageId, TopicArn,
# Subject, which are placed explicitly).
_RENAMED = (
    ("Message", "Message"),
    ("Timestamp", "Timestamp"),
    ("SignatureVersion", "SignatureVersion"),
    ("Signature", "Signature"),
    ("SigningCertURL", "SigningCertUrl"),
    ("UnsubscribeURL", "UnsubscribeUrl"),
)


def sns_record(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The ``Sns`` member of an event record, from a parsed ``Notification`` envelope."""
    record: dict[str, Any] = {
        "Type": envelope["Type"],
        "MessageId": envelope["MessageId"],
        "TopicArn": envelope["TopicArn"],
        "Subject": envelope.get("Subject"),
    }
    for envelope_key, event_key in _RENAMED:
        if envelope_key in envelope:
            record[event_key] = envelope[envelope_key]
    record["MessageAttributes"] = {
        name: {"Type": value["Type"], "Value": value["Value"]}
        for name, value in envelope.get("MessageAttributes", {}).items()
    }
    return record


def lambda_event(envelope: Mapping[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The whole event (one record) for a parsed ``Notification`` envelope delivered to
    the Lambda subscription ``subscription_arn``."""
    return {
        "Records": [
            {
                "EventSource": EVENT_SOURCE,
                "EventVersion": EVENT_VERSION,
                "EventSubscriptionArn": subscription_arn,
                "Sns": sns_record(envelope),
            }
        ]
    }


def event_from_envelope(envelope_json: str, subscription_arn: str) -> bytes:
    """The invocation payload (UTF-8 JSON) for the envelope text an outbox entry holds.
    Raises ``ValueError`` when the text is not a ``Notification`` envelope."""
    try:
        envelope = json.loads(envelope_json)
    except (ValueError, RecursionError) as error:
        raise ValueError("not a JSON envelope") from error
    if not isinstance(envelope, dict) or envelope.get("Type") != "Notification":
        raise ValueError("not a Notification envelope")
    try:
        event = lambda_event(envelope, subscription_arn)
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"incomplete Notification envelope: {error}") from error
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
