"""Message system attributes a receive can ask for: ApproximateReceiveCount,
ApproximateFirstReceiveTimestamp, SentTimestamp, SenderId (and the FIFO ones in
test_fifo.py), via AttributeNames on both protocols and MessageSystemAttributeNames on the
JSON protocol (the legacy Query model predates that member)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.clients import sqs_client

STANDARD_NAMES = {
    "ApproximateFirstReceiveTimestamp",
    "ApproximateReceiveCount",
    "SenderId",
    "SentTimestamp",
}


def make_queue(sqs: Any, name: str, **attributes: str) -> str:
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def receive_one(sqs: Any, url: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("WaitTimeSeconds", 5)
    (message,) = sqs.receive_message(QueueUrl=url, **kwargs)["Messages"]
    return dict(message)


def now_ms() -> int:
    return int(time.time() * 1000)


def test_all_returns_every_standard_system_attribute(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    before = now_ms()
    sqs.send_message(QueueUrl=url, MessageBody="x")
    after_send = now_ms()
    message = receive_one(sqs, url, AttributeNames=["All"])
    after_receive = now_ms()
    attributes = message["Attributes"]
    assert set(attributes) == STANDARD_NAMES
    # Server and test share a clock; allow a little slack for rounding.
    assert before - 5 <= int(attributes["SentTimestamp"]) <= after_send + 5
    first = int(attributes["ApproximateFirstReceiveTimestamp"])
    assert int(attributes["SentTimestamp"]) <= first <= after_receive + 5
    assert attributes["ApproximateReceiveCount"] == "1"
    assert attributes["SenderId"]


def test_the_receive_count_increments_and_the_first_receive_time_stays(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    seen = []
    for _ in range(3):
        message = receive_one(sqs, url, AttributeNames=["All"], VisibilityTimeout=0)
        seen.append(message["Attributes"])
        time.sleep(0.05)
    assert [a["ApproximateReceiveCount"] for a in seen] == ["1", "2", "3"]
    assert len({a["ApproximateFirstReceiveTimestamp"] for a in seen}) == 1
    assert len({a["SentTimestamp"] for a in seen}) == 1


def test_a_single_attribute_name_returns_only_that_attribute(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    message = receive_one(sqs, url, AttributeNames=["SentTimestamp"])
    assert set(message["Attributes"]) == {"SentTimestamp"}


def test_without_attribute_names_no_system_attributes_are_returned(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    assert "Attributes" not in receive_one(sqs, url)


def test_the_sender_id_is_the_same_for_every_message_of_one_sender(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(2)]
    )
    ids = set()
    for _ in range(2):
        message = receive_one(sqs, url, AttributeNames=["SenderId"])
        ids.add(message["Attributes"]["SenderId"])
    assert len(ids) == 1
    assert ids.pop()


def test_standard_queue_messages_have_no_fifo_attributes(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    message = receive_one(
        sqs, url, AttributeNames=["SequenceNumber", "MessageDeduplicationId", "SentTimestamp"]
    )
    assert set(message["Attributes"]) == {"SentTimestamp"}


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["All"], STANDARD_NAMES),
        (["ApproximateReceiveCount", "SenderId"], {"ApproximateReceiveCount", "SenderId"}),
    ],
    ids=["all", "two-names"],
)
def test_message_system_attribute_names_select_system_attributes(
    ekiden: Any, queue_name: str, names: list[str], expected: set[str]
) -> None:
    sqs = sqs_client(ekiden.endpoint, "json")
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    message = receive_one(sqs, url, MessageSystemAttributeNames=names)
    assert set(message["Attributes"]) == expected


def test_attribute_names_and_message_system_attribute_names_combine(
    ekiden: Any, queue_name: str
) -> None:
    sqs = sqs_client(ekiden.endpoint, "json")
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    message = receive_one(
        sqs, url, AttributeNames=["SenderId"], MessageSystemAttributeNames=["SentTimestamp"]
    )
    assert set(message["Attributes"]) == {"SenderId", "SentTimestamp"}
