"""Lambda's SQS event: how the messages of a ReceiveMessage response reach a handler.

A handler written for AWS Lambda reads ``event["Records"]``, each record shaped exactly as
Lambda builds it (see "Using Lambda with Amazon SQS", the standard- and FIFO-queue sample
events). This module turns SQS messages, as the AWS JSON 1.0 protocol returns them, into
those records. Pure data; no I/O.

Shape decisions, field by field, and the evidence for them:

* Key order is Lambda's: ``messageId, receiptHandle, body, attributes, messageAttributes,
  md5OfMessageAttributes, md5OfBody, eventSource, eventSourceARN, awsRegion``.
* ``md5OfMessageAttributes`` is always present: the digest string when the message has
  attributes, ``null`` when it has none. The documentation's hand-written samples omit the
  key, but events logged from real Lambda functions carry ``"md5OfMessageAttributes":
  null`` between ``messageAttributes`` and ``md5OfBody`` (and the typed event classes of
  the AWS Lambda libraries declare the field nullable). A handler that reads the key
  therefore works here as it does on Lambda.
* ``attributes`` holds the message's system attributes, every value a string, in the
  order Lambda's samples show them. Standard queue: ``ApproximateReceiveCount,
  SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp``; FIFO adds
  ``SequenceNumber`` and ``MessageGroupId`` after ``SentTimestamp`` and
  ``MessageDeduplicationId`` after ``SenderId``; ``AWSTraceHeader`` follows
  ``ApproximateReceiveCount`` and ``DeadLetterQueueSourceArn`` comes first, as in events
  of redriven messages. Only the attributes the message has appear (which ones that is
  depends on the queue type and on what ReceiveMessage asked for; the poller asks for
  all). Unknown attribute names are kept, after the known ones.
* ``messageAttributes`` values are ``{"stringValue" | "binaryValue", "stringListValues":
  [], "binaryListValues": [], "dataType"}``. ``binaryValue`` is base64 text, as it is in
  the AWS JSON response (raw ``bytes`` are encoded).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

EVENT_SOURCE: Final = "aws:sqs"

INVOKE_PAYLOAD_LIMIT_BYTES: Final = 6 * 1024 * 1024
"""Lambda's limit on a synchronous invocation's request payload (6 MB); checking it
against :func:`event_size` is the caller's business."""

SYSTEM_ATTRIBUTE_ORDER: Final[tuple[str, ...]] = (
    "DeadLetterQueueSourceArn",
    "ApproximateReceiveCount",
    "AWSTraceHeader",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
)
"""The order system attributes take in a record: one order consistent with every sample
event Lambda's documentation and real logged events show (standard, FIFO, redriven)."""

_KNOWN_SYSTEM_ATTRIBUTES: Final = frozenset(SYSTEM_ATTRIBUTE_ORDER)


def sqs_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One Lambda SQS event record for one message of a ReceiveMessage response.

    Args:
        message: a message in AWS JSON 1.0 form: ``MessageId``, ``ReceiptHandle``,
            ``MD5OfBody``, ``Body``, optional ``Attributes`` (name -> string),
            ``MD5OfMessageAttributes`` and ``MessageAttributes`` (name -> ``{DataType,
            StringValue | BinaryValue}``, binary values as base64 text or ``bytes``).
        queue_arn: the queue's ARN (``eventSourceARN``).
        region: the region the record names (``awsRegion``).

    Returns:
        A new dict in Lambda's key order (see the module docstring); the message is not
        modified.

    Raises:
        KeyError: the message lacks ``MessageId`` or ``ReceiptHandle`` (a receive
            response always has both; their absence is a bug upstream).
    """
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": _system_attributes(message.get("Attributes") or {}),
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": EVENT_SOURCE,
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sqs_event(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The event a handler receives: ``{"Records": [...]}`` (the records in batch order)."""
    return {"Records": list(records)}


def event_size(records: Sequence[dict[str, Any]]) -> int:
    """Bytes of the invocation payload that carries ``records``: the compact UTF-8 JSON
    of :func:`sqs_event`, as ``orjson.dumps`` encodes it (what the poller sends)."""
    return len(orjson.dumps(sqs_event(records)))


def _system_attributes(attributes: Mapping[str, Any]) -> dict[str, str]:
    ordered = {name: str(attributes[name]) for name in SYSTEM_ATTRIBUTE_ORDER if name in attributes}
    for name, value in attributes.items():
        if name not in _KNOWN_SYSTEM_ATTRIBUTES:
            ordered[name] = str(value)
    return ordered


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    # Which value a record carries follows what the message has, not the data type's
    # prefix: custom types (``String.json``, ``Binary.gif``) keep their base's value field.
    if value.get("StringValue") is not None:
        converted["stringValue"] = str(value["StringValue"])
    if value.get("BinaryValue") is not None:
        converted["binaryValue"] = _base64_text(value["BinaryValue"])
    # The list fields are "reserved for future use" in SQS; Lambda always sends them.
    converted["stringListValues"] = [str(v) for v in value.get("StringListValues") or ()]
    converted["binaryListValues"] = [_base64_text(v) for v in value.get("BinaryListValues") or ()]
    converted["dataType"] = value.get("DataType", "")
    return converted


def _base64_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)
