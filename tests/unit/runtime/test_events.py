"""Lambda's SQS event records, built from ReceiveMessage messages (AWS JSON 1.0 form).

The expected records are Lambda's own sample events ("Using Lambda with Amazon SQS": the
standard-queue and FIFO-queue examples), field by field and in key order, with the one
documented deviation: ``md5OfMessageAttributes`` is present (``null`` without attributes),
as in events logged from real functions. The last tests feed messages a real ekiden
server returned.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson

from ekiden.runtime.events import (
    INVOKE_PAYLOAD_LIMIT_BYTES,
    event_size,
    sqs_event,
    sqs_record,
)
from tests.support.raw_http import RawSqs
from tests.support.sqs_digests import md5_of_body, md5_of_message_attributes

QUEUE_ARN = "arn:aws:sqs:us-east-2:123456789012:my-queue"
FIFO_ARN = "arn:aws:sqs:us-east-2:123456789012:fifo.fifo"
RECORD_KEYS = [
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfMessageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
]


def standard_message() -> dict[str, Any]:
    """The message behind Lambda's standard-queue sample record, as ReceiveMessage (JSON
    protocol) returns it: attributes in SQS's own order, not Lambda's."""
    return {
        "MessageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "MD5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "Body": "Test message.",
        "Attributes": {
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
        },
    }


def fifo_message() -> dict[str, Any]:
    """The message behind Lambda's FIFO-queue sample record."""
    return {
        "MessageId": "11d6ee51-4cc7-4302-9e22-7cd8afdaadf5",
        "ReceiptHandle": "AQEBBX8nesZEXmkhsmZeyIE8iQAMig7qw...",
        "MD5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "Body": "Test message.",
        "Attributes": {
            "MessageDeduplicationId": "1",
            "SenderId": "AIDAIO23YVJENQZJOL4VO",
            "MessageGroupId": "1",
            "ApproximateFirstReceiveTimestamp": "1573251510774",
            "SequenceNumber": "18849496460467696128",
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1573251510774",
        },
    }


def test_a_standard_queue_message_becomes_lambdas_sample_record_in_its_key_order() -> None:
    record = sqs_record(standard_message(), queue_arn=QUEUE_ARN, region="us-east-2")

    assert record == {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": "Test message.",
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "messageAttributes": {},
        "md5OfMessageAttributes": None,
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-2",
    }
    assert list(record) == RECORD_KEYS
    assert list(record["attributes"]) == [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ]


def test_a_fifo_message_carries_sequence_group_and_dedup_ids_where_lambda_puts_them() -> None:
    record = sqs_record(fifo_message(), queue_arn=FIFO_ARN, region="us-east-2")

    # Lambda's FIFO sample, attribute by attribute and in its order.
    assert list(record["attributes"].items()) == [
        ("ApproximateReceiveCount", "1"),
        ("SentTimestamp", "1573251510774"),
        ("SequenceNumber", "18849496460467696128"),
        ("MessageGroupId", "1"),
        ("SenderId", "AIDAIO23YVJENQZJOL4VO"),
        ("MessageDeduplicationId", "1"),
        ("ApproximateFirstReceiveTimestamp", "1573251510774"),
    ]
    assert record["eventSourceARN"] == FIFO_ARN
    assert list(record) == RECORD_KEYS


def test_trace_header_and_dead_letter_source_appear_only_when_the_message_has_them() -> None:
    message = standard_message()
    message["Attributes"] |= {
        "AWSTraceHeader": "Root=1-afa8dcdd-00db74c9;Parent=6df;Sampled=1",
        "DeadLetterQueueSourceArn": "arn:aws:sqs:us-east-1:123456789012:source",
    }

    record = sqs_record(message, queue_arn=QUEUE_ARN, region="us-east-1")

    assert list(record["attributes"]) == [
        "DeadLetterQueueSourceArn",
        "ApproximateReceiveCount",
        "AWSTraceHeader",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ]
    plain = sqs_record(standard_message(), queue_arn=QUEUE_ARN, region="us-east-1")
    assert "AWSTraceHeader" not in plain["attributes"]
    assert "DeadLetterQueueSourceArn" not in plain["attributes"]


def test_attribute_values_are_strings_and_unknown_attributes_follow_the_known_ones() -> None:
    message = standard_message()
    message["Attributes"] = {"FutureAttribute": 7, "ApproximateReceiveCount": 3}

    record = sqs_record(message, queue_arn=QUEUE_ARN, region="us-east-2")

    assert list(record["attributes"].items()) == [
        ("ApproximateReceiveCount", "3"),
        ("FutureAttribute", "7"),
    ]


def test_message_attributes_take_lambdas_lower_camel_shape_with_empty_list_values() -> None:
    message = standard_message()
    message["MD5OfMessageAttributes"] = "d326d59e52374ec1d1ff87040b56c09d"
    message["MessageAttributes"] = {
        "myAttribute": {"DataType": "String", "StringValue": "myValue"},
        "count": {"DataType": "Number", "StringValue": "12.5"},
        "blob": {"DataType": "Binary", "BinaryValue": "AAEC/w=="},
        "picture": {"DataType": "Binary.gif", "BinaryValue": b"GIF89a"},
        "doc": {"DataType": "String.json", "StringValue": "{}"},
    }

    record = sqs_record(message, queue_arn=QUEUE_ARN, region="us-east-2")

    attributes = record["messageAttributes"]
    assert attributes["myAttribute"] == {
        "stringValue": "myValue",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert list(attributes["myAttribute"]) == [
        "stringValue",
        "stringListValues",
        "binaryListValues",
        "dataType",
    ]
    assert attributes["count"]["stringValue"] == "12.5"
    assert attributes["count"]["dataType"] == "Number"
    assert list(attributes["blob"]) == [
        "binaryValue",
        "stringListValues",
        "binaryListValues",
        "dataType",
    ]
    assert attributes["blob"]["binaryValue"] == "AAEC/w=="
    # Raw bytes (a client that decoded the base64 already) are encoded back.
    assert attributes["picture"]["binaryValue"] == base64.b64encode(b"GIF89a").decode()
    assert attributes["picture"]["dataType"] == "Binary.gif"
    assert attributes["doc"] == {
        "stringValue": "{}",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String.json",
    }
    assert list(attributes) == ["myAttribute", "count", "blob", "picture", "doc"]
    assert record["md5OfMessageAttributes"] == "d326d59e52374ec1d1ff87040b56c09d"


def test_the_message_given_is_left_unchanged() -> None:
    message = standard_message()
    message["MessageAttributes"] = {"a": {"DataType": "String", "StringValue": "x"}}
    before = json.dumps(message, sort_keys=True)

    record = sqs_record(message, queue_arn=QUEUE_ARN, region="us-east-2")
    record["attributes"]["SenderId"] = "changed"
    record["messageAttributes"]["a"]["stringValue"] = "changed"

    assert json.dumps(message, sort_keys=True) == before


def test_the_event_wraps_the_records_in_batch_order_under_records() -> None:
    first = sqs_record(standard_message(), queue_arn=QUEUE_ARN, region="us-east-2")
    second = sqs_record(fifo_message(), queue_arn=FIFO_ARN, region="us-east-2")

    event = sqs_event((first, second))

    assert event == {"Records": [first, second]}
    assert sqs_event([]) == {"Records": []}


def test_event_size_is_the_byte_length_of_the_payload_the_function_receives() -> None:
    message = standard_message()
    message["Body"] = "héllo ✓ 🎉"  # multi-byte UTF-8 counts in bytes, not characters
    records = [sqs_record(message, queue_arn=QUEUE_ARN, region="us-east-2")]

    payload = orjson.dumps(sqs_event(records))

    assert event_size(records) == len(payload)
    assert json.loads(payload) == sqs_event(records)
    # Independently: the compact UTF-8 JSON, whose byte count exceeds its character count.
    compact = json.dumps(sqs_event(records), ensure_ascii=False, separators=(",", ":"))
    assert event_size(records) == len(compact.encode("utf-8")) > len(compact)
    assert event_size([]) == len(b'{"Records":[]}')


def test_a_batch_over_six_megabytes_is_measured_above_lambdas_invoke_limit() -> None:
    message = standard_message()
    message["Body"] = "x" * (1024 * 1024 - 10)
    records = [sqs_record(message, queue_arn=QUEUE_ARN, region="us-east-2")] * 6

    assert INVOKE_PAYLOAD_LIMIT_BYTES == 6_291_456
    assert event_size(records[:5]) < INVOKE_PAYLOAD_LIMIT_BYTES < event_size(records)


# --- messages a real server returned ---------------------------------------------------


def _create(raw: RawSqs, name: str, attributes: dict[str, str] | None = None) -> str:
    params: dict[str, Any] = {"QueueName": name}
    if attributes:
        params["Attributes"] = attributes
    answer = raw.json("CreateQueue", params)
    assert answer.status == 200, answer.body
    url: str = answer.json()["QueueUrl"]
    return url


def _receive_one(raw: RawSqs, url: str) -> dict[str, Any]:
    answer = raw.json(
        "ReceiveMessage",
        {
            "QueueUrl": url,
            "MaxNumberOfMessages": 1,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
            "WaitTimeSeconds": 1,
        },
    )
    assert answer.status == 200, answer.body
    messages: list[dict[str, Any]] = answer.json()["Messages"]
    assert len(messages) == 1
    return messages[0]


def test_a_message_received_from_a_real_standard_queue_becomes_a_lambda_record(
    raw: RawSqs, queue_name: str
) -> None:
    url = _create(raw, queue_name)
    attributes = {
        "tenant": {"DataType": "String", "StringValue": "acme"},
        "payload": {"DataType": "Binary", "BinaryValue": base64.b64encode(b"\x00\x01").decode()},
    }
    sent = raw.json(
        "SendMessage", {"QueueUrl": url, "MessageBody": "hello", "MessageAttributes": attributes}
    )
    assert sent.status == 200, sent.body
    message = _receive_one(raw, url)
    arn = f"arn:aws:sqs:us-east-1:000000000000:{queue_name}"

    record = sqs_record(message, queue_arn=arn, region="us-east-1")

    assert list(record) == RECORD_KEYS
    assert record["messageId"] == sent.json()["MessageId"]
    assert record["receiptHandle"] == message["ReceiptHandle"]
    assert record["body"] == "hello"
    assert record["md5OfBody"] == md5_of_body("hello")
    assert list(record["attributes"]) == [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {
        "tenant": {
            "stringValue": "acme",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "payload": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    expected_md5 = md5_of_message_attributes(
        {
            "tenant": {"DataType": "String", "StringValue": "acme"},
            "payload": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        }
    )
    assert record["md5OfMessageAttributes"] == expected_md5


def test_a_message_received_from_a_real_fifo_queue_has_lambdas_fifo_attributes(
    raw: RawSqs, queue_name: str
) -> None:
    name = queue_name[:70] + ".fifo"
    url = _create(raw, name, {"FifoQueue": "true"})
    sent = raw.json(
        "SendMessage",
        {
            "QueueUrl": url,
            "MessageBody": "in order",
            "MessageGroupId": "g1",
            "MessageDeduplicationId": "d1",
        },
    )
    assert sent.status == 200, sent.body
    message = _receive_one(raw, url)

    record = sqs_record(message, queue_arn=f"arn:aws:sqs:us-east-1:0:{name}", region="us-east-1")

    assert list(record["attributes"]) == [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SequenceNumber",
        "MessageGroupId",
        "SenderId",
        "MessageDeduplicationId",
        "ApproximateFirstReceiveTimestamp",
    ]
    assert record["attributes"]["MessageGroupId"] == "g1"
    assert record["attributes"]["MessageDeduplicationId"] == "d1"
    assert record["attributes"]["SequenceNumber"] == sent.json()["SequenceNumber"]
    assert record["messageAttributes"] == {}
    assert record["md5OfMessageAttributes"] is None
