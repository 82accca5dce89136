"""Message attributes (String, Number, Binary, custom types), receive filters, system
attributes sent by clients (AWSTraceHeader), and the exact MD5 digests SDKs verify.

The digests are recomputed from the SQS algorithm by ``tests/support/sqs_digests.py``,
independently of the server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.messaging import rejected
from tests.support.sqs_digests import md5_of_body, md5_of_message_attributes


def make_queue(sqs: Any, name: str, **attributes: str) -> str:
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def receive_one(sqs: Any, url: str, **kwargs: Any) -> dict[str, Any]:
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, **kwargs)["Messages"]
    return dict(message)


ATTRIBUTES: dict[str, dict[str, Any]] = {
    "title": {"DataType": "String", "StringValue": "Grüße \U0001f600 <&> \r\n\t]]>"},
    "count": {"DataType": "Number", "StringValue": "-12.50E+3"},
    "blob": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
    "kind": {"DataType": "String.custom-kind", "StringValue": "order"},
    "price": {"DataType": "Number.float", "StringValue": "19.99"},
    "image": {"DataType": "Binary.png", "BinaryValue": b"\x89PNG\r\n\x1a\n"},
}


def test_the_md5_algorithm_of_this_test_matches_a_digest_captured_from_aws() -> None:
    # Vectors from real SQS responses (see /tmp/research/sqs-errors.md, section 12).
    assert md5_of_message_attributes({"Foo": {"DataType": "String", "StringValue": "Bar"}}) == (
        "ae7155c6026991b6d54b11589678bf9c"
    )
    assert md5_of_body("msg") == "6e2baaf3b97dbeef01c0043275f9a0e7"


def test_attributes_of_every_type_round_trip_with_exact_digests(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sent = sqs.send_message(QueueUrl=url, MessageBody="typed", MessageAttributes=ATTRIBUTES)
    assert sent["MD5OfMessageBody"] == md5_of_body("typed")
    assert sent["MD5OfMessageAttributes"] == md5_of_message_attributes(ATTRIBUTES)
    message = receive_one(sqs, url, MessageAttributeNames=["All"])
    assert message["MessageAttributes"] == ATTRIBUTES
    assert message["MD5OfMessageAttributes"] == md5_of_message_attributes(ATTRIBUTES)
    assert message["MD5OfBody"] == md5_of_body("typed")


def test_a_digest_captured_from_aws_is_reproduced_by_the_server(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="msg",
        MessageAttributes={"Foo": {"DataType": "String", "StringValue": "Bar"}},
    )
    assert sent["MD5OfMessageAttributes"] == "ae7155c6026991b6d54b11589678bf9c"
    assert sent["MD5OfMessageBody"] == "6e2baaf3b97dbeef01c0043275f9a0e7"


def test_batch_entries_carry_the_digests_of_their_own_attributes(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    first = {"a": {"DataType": "String", "StringValue": "1"}}
    second = {"b": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}
    result = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "one", "MessageBody": "one", "MessageAttributes": first},
            {"Id": "two", "MessageBody": "two", "MessageAttributes": second},
            {"Id": "none", "MessageBody": "none"},
        ],
    )
    by_id = {entry["Id"]: entry for entry in result["Successful"]}
    assert by_id["one"]["MD5OfMessageAttributes"] == md5_of_message_attributes(first)
    assert by_id["two"]["MD5OfMessageAttributes"] == md5_of_message_attributes(second)
    assert "MD5OfMessageAttributes" not in by_id["none"]
    assert by_id["none"]["MD5OfMessageBody"] == md5_of_body("none")


# --- receive filters --------------------------------------------------------------------------

FILTERED = {
    "order.id": {"DataType": "String", "StringValue": "o-1"},
    "order.total": {"DataType": "Number", "StringValue": "42"},
    "orderly": {"DataType": "String", "StringValue": "not in order.*"},
    "trace": {"DataType": "String", "StringValue": "t-1"},
    "raw": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
}


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (["All"], set(FILTERED)),
        ([".*"], set(FILTERED)),
        (["trace"], {"trace"}),
        (["trace", "raw", "missing"], {"trace", "raw"}),
        (["order.*"], {"order.id", "order.total"}),
        (["order.*", "raw"], {"order.id", "order.total", "raw"}),
    ],
    ids=["all", "dot-star", "one-name", "names", "prefix", "prefix-and-name"],
)
def test_message_attribute_names_select_attributes_by_name_prefix_or_all(
    sqs: Any, queue_name: str, requested: list[str], expected: set[str]
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="filtered", MessageAttributes=FILTERED)
    message = receive_one(sqs, url, MessageAttributeNames=requested)
    selected = {name: FILTERED[name] for name in expected}
    assert message["MessageAttributes"] == selected
    assert message["MD5OfMessageAttributes"] == md5_of_message_attributes(selected)


def test_without_message_attribute_names_no_attributes_are_returned(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="quiet", MessageAttributes=FILTERED)
    message = receive_one(sqs, url)
    assert "MessageAttributes" not in message
    assert "MD5OfMessageAttributes" not in message


def test_a_filter_that_matches_nothing_returns_no_attributes(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="quiet", MessageAttributes=FILTERED)
    message = receive_one(sqs, url, MessageAttributeNames=["nothing.*", "absent"])
    assert not message.get("MessageAttributes")
    assert "MD5OfMessageAttributes" not in message


# --- system attributes sent by the client -----------------------------------------------------

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def test_an_aws_trace_header_is_digested_and_returned_as_a_system_attribute(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    system = {"AWSTraceHeader": {"DataType": "String", "StringValue": TRACE}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="traced", MessageSystemAttributes=system)
    assert sent["MD5OfMessageSystemAttributes"] == md5_of_message_attributes(system)
    assert "MD5OfMessageAttributes" not in sent
    message = receive_one(sqs, url, AttributeNames=["AWSTraceHeader"])
    assert message["Attributes"] == {"AWSTraceHeader": TRACE}
    assert "MessageAttributes" not in message


def test_a_trace_header_digest_matches_a_known_value(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    system = {"AWSTraceHeader": {"DataType": "String", "StringValue": "some-trace-id"}}
    result = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "t", "MessageBody": "x", "MessageSystemAttributes": system}],
    )
    (entry,) = result["Successful"]
    assert entry["MD5OfMessageSystemAttributes"] == "fdce4f2818803f2f73becc09a54792c0"


def test_a_system_attribute_other_than_the_trace_header_is_rejected(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("InvalidParameterValue"):
        sqs.send_message(
            QueueUrl=url,
            MessageBody="x",
            MessageSystemAttributes={"Other": {"DataType": "String", "StringValue": "v"}},
        )


# --- validation -------------------------------------------------------------------------------


def string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


INVALID_ATTRIBUTES = {
    "reserved-aws-prefix": {"AWS.trace": string("v")},
    "reserved-aws-prefix-any-case": {"aws.Trace": string("v")},
    "reserved-amazon-prefix": {"Amazon.thing": string("v")},
    "empty-string-value": {"empty": string("")},
    "not-a-number": {"n": {"DataType": "Number", "StringValue": "twelve"}},
    "unknown-data-type": {"x": {"DataType": "Integer", "StringValue": "1"}},
    "empty-binary": {"b": {"DataType": "Binary", "BinaryValue": b""}},
    "bad-name-character": {"bad name": string("v")},
    "name-starting-with-a-period": {".hidden": string("v")},
    "eleven-attributes": {f"a{i}": string("v") for i in range(11)},
    "invalid-characters-in-value": {"ctl": string("a\x00b")},
}


@pytest.mark.parametrize("attributes", INVALID_ATTRIBUTES.values(), ids=INVALID_ATTRIBUTES.keys())
def test_invalid_message_attributes_are_rejected(
    sqs: Any, queue_name: str, attributes: dict[str, Any]
) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes)
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_error_messages_for_attributes_use_the_aws_wording(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.send_message(
            QueueUrl=url, MessageBody="x", MessageAttributes={"ErrorDetails": string("")}
        )
    assert error.message == (
        "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'."
    )
    with rejected("InvalidParameterValue") as error:
        sqs.send_message(
            QueueUrl=url,
            MessageBody="x",
            MessageAttributes={f"a{i}": string("v") for i in range(11)},
        )
    assert error.message == "Number of message attributes [11] exceeds the allowed maximum [10]."
    with rejected("InvalidParameterValue") as error:
        sqs.send_message(
            QueueUrl=url,
            MessageBody="x",
            MessageAttributes={"Hello": {"DataType": "Number", "StringValue": "abc"}},
        )
    assert error.message == "Can't cast the value of message (user) attribute 'Hello' to a number."


def test_ten_attributes_are_accepted(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    attributes = {f"a{i}": string(str(i)) for i in range(10)}
    sent = sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes)
    assert sent["MD5OfMessageAttributes"] == md5_of_message_attributes(attributes)
    assert receive_one(sqs, url, MessageAttributeNames=["All"])["MessageAttributes"] == attributes


def test_an_invalid_attribute_in_one_batch_entry_fails_only_that_entry(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    result = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "MessageBody": "x", "MessageAttributes": {"a": string("v")}},
            {"Id": "bad", "MessageBody": "x", "MessageAttributes": {"AWS.a": string("v")}},
        ],
    )
    assert [entry["Id"] for entry in result["Successful"]] == ["ok"]
    assert [(e["Id"], e["Code"]) for e in result["Failed"]] == [("bad", "InvalidParameterValue")]
