"""Dead-letter queues in motion: a message received maxReceiveCount times moves to the DLQ
on its next receive, keeps its identity and content, and names its source queue.
(Policy validation and RedriveAllowPolicy are covered in test_redrive_policies.py.)"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.support.clients import sqs_client
from tests.support.messaging import counts


def make_queue(sqs: Any, name: str, **attributes: str) -> str:
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def arn_of(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def with_dlq(
    sqs: Any, name: str, max_receive_count: int = 2, fifo: bool = False
) -> tuple[str, str]:
    """A source queue whose RedrivePolicy points at a fresh DLQ; returns both URLs."""
    suffix = ".fifo" if fifo else ""
    extra = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    dlq = make_queue(sqs, f"{name}-dlq{suffix}", **extra)
    policy = {"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": max_receive_count}
    source = make_queue(sqs, f"{name}{suffix}", RedrivePolicy=json.dumps(policy), **extra)
    return source, dlq


def receive(sqs: Any, url: str, **kwargs: Any) -> list[dict[str, Any]]:
    return list(sqs.receive_message(QueueUrl=url, **kwargs).get("Messages", []))


def test_a_message_moves_to_the_dlq_on_the_receive_after_max_receive_count(
    sqs: Any, queue_name: str
) -> None:
    source, dlq = with_dlq(sqs, queue_name, max_receive_count=2)
    sent = sqs.send_message(QueueUrl=source, MessageBody="poison")
    for attempt in (1, 2):
        (message,) = receive(
            sqs, source, VisibilityTimeout=0, WaitTimeSeconds=2, AttributeNames=["All"]
        )
        assert message["MessageId"] == sent["MessageId"]
        assert message["Attributes"]["ApproximateReceiveCount"] == str(attempt)
    assert receive(sqs, source, WaitTimeSeconds=1) == []
    assert counts(sqs, source) == (0, 0, 0)
    assert counts(sqs, dlq) == (1, 0, 0)
    (moved,) = receive(sqs, dlq, WaitTimeSeconds=2, AttributeNames=["All"])
    assert moved["MessageId"] == sent["MessageId"]
    assert moved["Body"] == "poison"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == arn_of(sqs, source)


def test_a_message_received_fewer_times_than_max_receive_count_stays(
    sqs: Any, queue_name: str
) -> None:
    source, dlq = with_dlq(sqs, queue_name, max_receive_count=3)
    sqs.send_message(QueueUrl=source, MessageBody="almost")
    for _ in range(3):
        assert len(receive(sqs, source, VisibilityTimeout=0, WaitTimeSeconds=2)) == 1
    assert counts(sqs, dlq) == (0, 0, 0)
    assert counts(sqs, source) == (1, 0, 0)


def test_a_message_dead_letters_after_its_visibility_times_out_repeatedly(
    sqs: Any, queue_name: str
) -> None:
    source, dlq = with_dlq(sqs, queue_name, max_receive_count=1)
    sqs.send_message(QueueUrl=source, MessageBody="slow consumer")
    assert len(receive(sqs, source, VisibilityTimeout=1, WaitTimeSeconds=2)) == 1
    # The next receive waits for the timeout, then finds the message over its limit.
    assert receive(sqs, source, WaitTimeSeconds=3) == []
    assert [m["Body"] for m in receive(sqs, dlq, WaitTimeSeconds=2)] == ["slow consumer"]


def test_dead_lettered_messages_keep_attributes_and_digests(sqs: Any, queue_name: str) -> None:
    source, dlq = with_dlq(sqs, queue_name, max_receive_count=1)
    attributes = {
        "kind": {"DataType": "String", "StringValue": "order"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    sent = sqs.send_message(QueueUrl=source, MessageBody="keep me", MessageAttributes=attributes)
    receive(sqs, source, VisibilityTimeout=0, WaitTimeSeconds=2)
    assert receive(sqs, source) == []
    (moved,) = receive(
        sqs, dlq, WaitTimeSeconds=2, MessageAttributeNames=["All"], AttributeNames=["All"]
    )
    assert moved["MessageAttributes"] == attributes
    assert moved["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert moved["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert moved["Attributes"]["SentTimestamp"]


def test_the_source_arn_is_only_returned_when_asked_for(sqs: Any, queue_name: str) -> None:
    source, dlq = with_dlq(sqs, queue_name, max_receive_count=1)
    sqs.send_message(QueueUrl=source, MessageBody="x")
    receive(sqs, source, VisibilityTimeout=0, WaitTimeSeconds=2)
    receive(sqs, source)
    (moved,) = receive(
        sqs, dlq, WaitTimeSeconds=2, VisibilityTimeout=0, AttributeNames=["SentTimestamp"]
    )
    assert "DeadLetterQueueSourceArn" not in moved["Attributes"]
    (moved,) = receive(sqs, dlq, WaitTimeSeconds=2, AttributeNames=["DeadLetterQueueSourceArn"])
    assert moved["Attributes"] == {"DeadLetterQueueSourceArn": arn_of(sqs, source)}


def test_only_the_messages_over_the_limit_move_and_the_rest_are_delivered(
    sqs: Any, queue_name: str
) -> None:
    source, dlq = with_dlq(sqs, queue_name, max_receive_count=1)
    sqs.send_message(QueueUrl=source, MessageBody="old")
    receive(sqs, source, VisibilityTimeout=0, WaitTimeSeconds=2)
    sqs.send_message(QueueUrl=source, MessageBody="fresh")
    bodies = [m["Body"] for m in receive(sqs, source, MaxNumberOfMessages=10, WaitTimeSeconds=2)]
    assert bodies == ["fresh"]
    assert counts(sqs, dlq) == (1, 0, 0)
    assert counts(sqs, source) == (0, 1, 0)


def test_a_long_poll_on_the_dlq_wakes_when_a_message_is_dead_lettered(
    sqs: Any, queue_name: str, ekiden: Any, protocol: str
) -> None:
    source, dlq = with_dlq(sqs, queue_name, max_receive_count=1)
    sqs.send_message(QueueUrl=source, MessageBody="to the dlq")
    receive(sqs, source, VisibilityTimeout=0, WaitTimeSeconds=2)
    other = sqs_client(ekiden.endpoint, protocol)
    trigger = threading.Thread(target=lambda: (time.sleep(0.3), receive(other, source)))
    trigger.start()
    started = time.monotonic()
    messages = receive(sqs, dlq, WaitTimeSeconds=20)
    elapsed = time.monotonic() - started
    trigger.join()
    assert [m["Body"] for m in messages] == ["to the dlq"]
    assert elapsed < 10  # woken by the move, not by the end of the 20 s wait


def test_fifo_messages_dead_letter_to_a_fifo_dlq_with_their_group(
    sqs: Any, queue_name: str
) -> None:
    source, dlq = with_dlq(sqs, queue_name, max_receive_count=1, fifo=True)
    sqs.send_message(QueueUrl=source, MessageBody="first", MessageGroupId="g")
    sqs.send_message(QueueUrl=source, MessageBody="second", MessageGroupId="g")
    (head,) = receive(sqs, source, WaitTimeSeconds=2)
    assert head["Body"] == "first"
    sqs.change_message_visibility(
        QueueUrl=source, ReceiptHandle=head["ReceiptHandle"], VisibilityTimeout=0
    )
    # "first" is over its limit and moves; "second" is next in its group.
    (next_message,) = receive(sqs, source, WaitTimeSeconds=2)
    assert next_message["Body"] == "second"
    (moved,) = receive(sqs, dlq, WaitTimeSeconds=2, AttributeNames=["All"])
    assert moved["Body"] == "first"
    assert moved["Attributes"]["MessageGroupId"] == "g"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == arn_of(sqs, source)


def test_a_redrive_policy_added_later_applies_to_messages_already_received(
    sqs: Any, queue_name: str
) -> None:
    source = make_queue(sqs, queue_name)
    dlq = make_queue(sqs, queue_name + "-dlq")
    sqs.send_message(QueueUrl=source, MessageBody="retro")
    for _ in range(2):
        receive(sqs, source, VisibilityTimeout=0, WaitTimeSeconds=2)
    policy = {"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 2}
    sqs.set_queue_attributes(QueueUrl=source, Attributes={"RedrivePolicy": json.dumps(policy)})
    assert receive(sqs, source, WaitTimeSeconds=1) == []
    assert counts(sqs, dlq) == (1, 0, 0)
