"""Message size limits and the characters SQS allows in a body, over both wire protocols."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.support.messaging import rejected

MIB = 1_048_576


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def make_queue(sqs: Any, name: str, **attributes: str) -> str:
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def receive_one(sqs: Any, url: str, **kwargs: Any) -> dict[str, Any]:
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, **kwargs)["Messages"]
    return dict(message)


# --- sizes ------------------------------------------------------------------------------------


def test_a_body_of_exactly_1_mib_is_accepted_and_returned_intact(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    body = ("0123456789abcdef" * (MIB // 16))[:MIB]
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == md5(body)
    message = receive_one(sqs, url)
    assert len(message["Body"]) == MIB
    assert message["Body"] == body


def test_a_body_one_byte_over_1_mib_is_rejected(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.send_message(QueueUrl=url, MessageBody="x" * (MIB + 1))
    assert error.message == (
        "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."
    )


def test_attribute_names_types_and_values_count_towards_the_1_mib_limit(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    # name "size" (4) + type "String" (6) + value (10) = 20 bytes of attributes.
    attributes = {"size": {"DataType": "String", "StringValue": "0123456789"}}
    body = "y" * (MIB - 20)
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    message = receive_one(sqs, url, MessageAttributeNames=["All"])
    assert len(message["Body"]) == MIB - 20
    assert message["MessageAttributes"]["size"]["StringValue"] == "0123456789"
    with rejected("InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody=body + "y", MessageAttributes=attributes)


def test_multibyte_characters_count_as_their_utf8_length(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name, MaximumMessageSize="1024")
    euro = "\u20ac"  # three bytes in UTF-8
    sqs.send_message(QueueUrl=url, MessageBody=euro * 341 + "x")  # 1024 bytes
    with rejected("InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody=euro * 342)  # 1026 bytes


def test_a_queue_with_a_maximum_message_size_of_1024_rejects_1025_bytes(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name, MaximumMessageSize="1024")
    sqs.send_message(QueueUrl=url, MessageBody="z" * 1024)
    with rejected("InvalidParameterValue") as error:
        sqs.send_message(QueueUrl=url, MessageBody="z" * 1025)
    assert error.message == (
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
    )
    assert receive_one(sqs, url)["Body"] == "z" * 1024


def test_lowering_the_maximum_message_size_applies_to_later_sends(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="w" * 2000)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "1024"})
    with rejected("InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="w" * 2000)


# --- characters -------------------------------------------------------------------------------

ALLOWED_BODIES = {
    "tab-newline-carriage-return": "a\tb\nc\rd",
    "space-and-ascii": " !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~",
    "xml-special": '<tag attr="v">&amp; &lt; ]]> </tag>',
    "latin-and-cjk": "Grüße · 日本語 · Ελληνικά",
    "last-before-surrogates": "\ud7ff",
    "private-use-start": "\ue000",
    "last-allowed-bmp": "\ufffd",
    "astral-emoji": "\U0001f600\U0001f680 mixed \U0001f9ea",
    "last-code-point": "\U0010ffff",
    "percent-and-plus": "100% + 1 = a+b %20 %zz",
}


@pytest.mark.parametrize("body", ALLOWED_BODIES.values(), ids=ALLOWED_BODIES.keys())
def test_allowed_characters_are_accepted_and_returned_intact(
    sqs: Any, queue_name: str, body: str
) -> None:
    url = make_queue(sqs, queue_name)
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == md5(body)
    message = receive_one(sqs, url)
    assert message["Body"] == body
    assert message["MD5OfBody"] == md5(body)


DISALLOWED = {"nul": "\x00", "backspace": "\x08", "unit-separator": "\x1f", "fffe": "\ufffe"}


@pytest.mark.parametrize("char", DISALLOWED.values(), ids=DISALLOWED.keys())
def test_disallowed_characters_are_rejected_as_invalid_message_contents(
    sqs: Any, queue_name: str, char: str
) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("InvalidMessageContents") as error:
        sqs.send_message(QueueUrl=url, MessageBody=f"before{char}after")
    assert error.message == (
        f"Invalid binary character '#x{ord(char):X}' was found in the message body, the set of "
        "allowed characters is #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | "
        "[#x10000-#x10FFFF]."
    )
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
