"""FIFO queues: order within a message group, groups held while in flight, deduplication
(explicit and content-based, queue or group scope), sequence numbers, FIFO-only parameter
rules and ReceiveRequestAttemptId retries, over both wire protocols."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.support.messaging import counts, rejected


def fifo_queue(sqs: Any, name: str, **attributes: str) -> str:
    attributes = {"FifoQueue": "true", **attributes}
    return sqs.create_queue(QueueName=f"{name}.fifo", Attributes=attributes)["QueueUrl"]


def receive(sqs: Any, url: str, **kwargs: Any) -> list[dict[str, Any]]:
    kwargs.setdefault("WaitTimeSeconds", 1)
    return list(sqs.receive_message(QueueUrl=url, **kwargs).get("Messages", []))


def send(sqs: Any, url: str, body: str, group: str = "g", dedup: str | None = None) -> Any:
    return sqs.send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup or body
    )


def drain_in_order(sqs: Any, url: str, expected: int) -> list[str]:
    """Receive and delete until ``expected`` messages came; bodies in delivery order."""
    bodies: list[str] = []
    for _ in range(expected * 2):
        if len(bodies) >= expected:
            break
        for message in receive(sqs, url, MaxNumberOfMessages=10):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


# --- ordering and groups ----------------------------------------------------------------------


def test_messages_of_one_group_are_delivered_in_send_order(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    expected = [f"m{i:02d}" for i in range(35)]
    for start in range(0, 35, 10):
        chunk = expected[start : start + 10]
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": body,
                    "MessageBody": body,
                    "MessageGroupId": "one",
                    "MessageDeduplicationId": body,
                }
                for body in chunk
            ],
        )
    assert drain_in_order(sqs, url, 35) == expected


def test_order_holds_within_each_of_several_interleaved_groups(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    for i in range(12):
        send(sqs, url, f"{'abc'[i % 3]}{i:02d}", group="abc"[i % 3])
    bodies = drain_in_order(sqs, url, 12)
    assert sorted(bodies) == sorted(f"{'abc'[i % 3]}{i:02d}" for i in range(12))
    for group in "abc":
        in_group = [body for body in bodies if body.startswith(group)]
        assert in_group == sorted(in_group)


def test_a_group_is_held_while_one_of_its_messages_is_in_flight(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    send(sqs, url, "a1", group="a")
    send(sqs, url, "a2", group="a")
    send(sqs, url, "b1", group="b")
    (first,) = receive(sqs, url)
    assert first["Body"] == "a1"
    (other,) = receive(sqs, url)
    assert other["Body"] == "b1"  # group a is held, group b is not
    assert receive(sqs, url) == []
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert [m["Body"] for m in receive(sqs, url)] == ["a2"]


def test_a_batch_receive_takes_consecutive_messages_of_a_group(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    for body in ("x1", "x2", "x3"):
        send(sqs, url, body, group="x")
    bodies = [m["Body"] for m in receive(sqs, url, MaxNumberOfMessages=10)]
    assert bodies == ["x1", "x2", "x3"][: len(bodies)]
    assert bodies
    assert receive(sqs, url, MaxNumberOfMessages=10) == []  # the rest of x is held


def test_a_message_that_times_out_is_redelivered_before_later_ones_of_its_group(
    sqs: Any, queue_name: str
) -> None:
    url = fifo_queue(sqs, queue_name)
    send(sqs, url, "first")
    send(sqs, url, "second")
    (message,) = receive(sqs, url, VisibilityTimeout=1)
    assert message["Body"] == "first"
    (again,) = receive(sqs, url, WaitTimeSeconds=10, AttributeNames=["ApproximateReceiveCount"])
    assert again["Body"] == "first"
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_released_message_unblocks_its_group_at_once(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    send(sqs, url, "first")
    send(sqs, url, "second")
    (message,) = receive(sqs, url)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    assert [m["Body"] for m in receive(sqs, url, WaitTimeSeconds=0)] == ["first"]


# --- deduplication ----------------------------------------------------------------------------


def test_a_repeated_deduplication_id_returns_the_original_message_id(
    sqs: Any, queue_name: str
) -> None:
    url = fifo_queue(sqs, queue_name)
    first = send(sqs, url, "original", dedup="same")
    repeat = send(sqs, url, "different body", dedup="same")
    assert repeat["MessageId"] == first["MessageId"]
    assert repeat["SequenceNumber"] == first["SequenceNumber"]
    assert counts(sqs, url) == (1, 0, 0)
    assert [m["Body"] for m in receive(sqs, url, MaxNumberOfMessages=10)] == ["original"]


def test_deduplication_holds_after_the_first_copy_was_deleted(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    first = send(sqs, url, "once", dedup="d-1")
    (message,) = receive(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    repeat = send(sqs, url, "once", dedup="d-1")
    assert repeat["MessageId"] == first["MessageId"]
    assert counts(sqs, url) == (0, 0, 0)
    assert receive(sqs, url) == []


def test_content_based_deduplication_uses_the_sha256_of_the_body(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name, ContentBasedDeduplication="true")
    first = sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    again = sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    other = sqs.send_message(QueueUrl=url, MessageBody="other body", MessageGroupId="g")
    assert again["MessageId"] == first["MessageId"]
    assert other["MessageId"] != first["MessageId"]
    (message,) = receive(sqs, url, AttributeNames=["MessageDeduplicationId"])
    expected = hashlib.sha256(b"same body").hexdigest()
    assert message["Attributes"]["MessageDeduplicationId"] == expected


def test_content_based_deduplication_holds_after_the_first_copy_was_deleted(
    sqs: Any, queue_name: str
) -> None:
    url = fifo_queue(sqs, queue_name, ContentBasedDeduplication="true")
    first = sqs.send_message(QueueUrl=url, MessageBody="payload", MessageGroupId="g")
    (message,) = receive(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    again = sqs.send_message(QueueUrl=url, MessageBody="payload", MessageGroupId="g")
    assert again["MessageId"] == first["MessageId"]
    assert receive(sqs, url) == []


def test_an_explicit_deduplication_id_overrides_content_based_deduplication(
    sqs: Any, queue_name: str
) -> None:
    url = fifo_queue(sqs, queue_name, ContentBasedDeduplication="true")
    first = send(sqs, url, "body", dedup="one")
    second = send(sqs, url, "body", dedup="two")
    assert first["MessageId"] != second["MessageId"]
    assert counts(sqs, url) == (2, 0, 0)


def test_duplicates_within_one_batch_are_stored_once(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    entry = {"MessageBody": "dup", "MessageGroupId": "g", "MessageDeduplicationId": "dup"}
    result = sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "a", **entry}, {"Id": "b", **entry}]
    )
    ids = {e["Id"]: e["MessageId"] for e in result["Successful"]}
    assert ids["a"] == ids["b"]
    assert counts(sqs, url) == (1, 0, 0)


def test_queue_scope_deduplicates_across_groups(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    first = send(sqs, url, "x", group="g1", dedup="shared")
    second = send(sqs, url, "x", group="g2", dedup="shared")
    assert second["MessageId"] == first["MessageId"]
    assert counts(sqs, url) == (1, 0, 0)


def test_message_group_scope_deduplicates_only_within_a_group(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(
        sqs, queue_name, DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId"
    )
    first = send(sqs, url, "x", group="g1", dedup="shared")
    other_group = send(sqs, url, "x", group="g2", dedup="shared")
    same_group = send(sqs, url, "x", group="g1", dedup="shared")
    assert other_group["MessageId"] != first["MessageId"]
    assert same_group["MessageId"] == first["MessageId"]
    assert counts(sqs, url) == (2, 0, 0)


# --- sequence numbers -------------------------------------------------------------------------


def test_sequence_numbers_increase_and_are_returned_on_receive(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    sent = [send(sqs, url, f"s{i}", group="g" if i % 2 else "h") for i in range(6)]
    numbers = [int(s["SequenceNumber"]) for s in sent]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 6
    assert all(s["SequenceNumber"].isdigit() for s in sent)
    by_id = {s["MessageId"]: s["SequenceNumber"] for s in sent}
    message = receive(sqs, url, AttributeNames=["All"])[0]
    assert message["Attributes"]["SequenceNumber"] == by_id[message["MessageId"]]
    assert message["Attributes"]["MessageGroupId"] in {"g", "h"}
    assert message["Attributes"]["MessageDeduplicationId"] == message["Body"]


def test_batch_sends_return_sequence_numbers_per_entry(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    result = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {
                "Id": f"e{i}",
                "MessageBody": str(i),
                "MessageGroupId": "g",
                "MessageDeduplicationId": str(i),
            }
            for i in range(3)
        ],
    )
    by_id = {entry["Id"]: int(entry["SequenceNumber"]) for entry in result["Successful"]}
    assert by_id["e0"] < by_id["e1"] < by_id["e2"]


# --- parameter rules --------------------------------------------------------------------------


def test_send_without_a_message_group_id_is_rejected(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    with rejected("MissingParameter") as error:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert error.message == "The request must contain the parameter MessageGroupId."


def test_a_batch_entry_without_a_message_group_id_fails_the_whole_batch(
    sqs: Any, queue_name: str
) -> None:
    url = fifo_queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {
                    "Id": "ok",
                    "MessageBody": "x",
                    "MessageGroupId": "g",
                    "MessageDeduplicationId": "1",
                },
                {"Id": "no-group", "MessageBody": "y", "MessageDeduplicationId": "2"},
            ],
        )
    assert error.message == "The request must contain the parameter MessageGroupId."
    assert counts(sqs, url) == (0, 0, 0)


def test_send_without_deduplication_id_or_content_based_dedup_is_rejected(
    sqs: Any, queue_name: str
) -> None:
    url = fifo_queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert error.message == (
        "The queue should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly"
    )


def test_a_per_message_delay_is_rejected_on_a_fifo_queue(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.send_message(
            QueueUrl=url,
            MessageBody="x",
            MessageGroupId="g",
            MessageDeduplicationId="d",
            DelaySeconds=2,
        )
    assert error.message == (
        "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter "
        "that is not valid for this queue type."
    )


def test_a_per_message_delay_of_zero_is_accepted_on_a_fifo_queue(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    sqs.send_message(
        QueueUrl=url,
        MessageBody="x",
        MessageGroupId="g",
        MessageDeduplicationId="d",
        DelaySeconds=0,
    )
    assert counts(sqs, url) == (1, 0, 0)


def test_a_per_message_delay_of_zero_does_not_cancel_the_fifo_queue_delay(
    sqs: Any, queue_name: str
) -> None:
    url = fifo_queue(sqs, queue_name, DelaySeconds="600")
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {
                "Id": "zero",
                "MessageBody": "x",
                "MessageGroupId": "g",
                "MessageDeduplicationId": "d",
                "DelaySeconds": 0,
            }
        ],
    )
    assert counts(sqs, url) == (0, 0, 1)


def test_a_fifo_queue_delay_applies_to_every_message(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name, DelaySeconds="2")
    send(sqs, url, "delayed")
    assert counts(sqs, url) == (0, 0, 1)
    assert [m["Body"] for m in receive(sqs, url, WaitTimeSeconds=10)] == ["delayed"]


def test_a_deduplication_id_on_a_standard_queue_is_rejected(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    with rejected("InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")


def test_a_group_id_with_characters_outside_the_allowed_set_is_rejected(
    sqs: Any, queue_name: str
) -> None:
    url = fifo_queue(sqs, queue_name)
    with rejected("InvalidParameterValue"):
        sqs.send_message(
            QueueUrl=url, MessageBody="x", MessageGroupId="has space", MessageDeduplicationId="d"
        )


# --- ReceiveRequestAttemptId ------------------------------------------------------------------


def test_a_retried_receive_attempt_returns_the_same_messages_and_handles(
    sqs: Any, queue_name: str
) -> None:
    url = fifo_queue(sqs, queue_name)
    for body in ("r1", "r2", "r3"):
        send(sqs, url, body, group=body)
    first = receive(sqs, url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-1")
    retry = receive(sqs, url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-1")
    assert first
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in retry] == [
        (m["MessageId"], m["ReceiptHandle"]) for m in first
    ]
    fresh = receive(sqs, url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="attempt-2")
    assert {m["MessageId"] for m in fresh}.isdisjoint(m["MessageId"] for m in first)
    for message in retry:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sum(counts(sqs, url)[:2]) == 3 - len(first)


def test_a_retried_attempt_after_a_delete_is_a_new_receive(sqs: Any, queue_name: str) -> None:
    url = fifo_queue(sqs, queue_name)
    send(sqs, url, "one")
    send(sqs, url, "two")
    (first,) = receive(sqs, url, ReceiveRequestAttemptId="again")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    (second,) = receive(sqs, url, ReceiveRequestAttemptId="again")
    assert (first["Body"], second["Body"]) == ("one", "two")


def test_a_fifo_batch_entry_with_a_delay_or_without_dedup_id_fails_the_whole_batch(
    sqs: Any, queue_name: str
) -> None:
    url = fifo_queue(sqs, queue_name)
    good = {"Id": "ok", "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "1"}
    delayed = {**good, "Id": "delayed", "MessageDeduplicationId": "2", "DelaySeconds": 5}
    no_dedup = {"Id": "no-dedup", "MessageBody": "y", "MessageGroupId": "g"}
    with rejected("InvalidParameterValue") as error:
        sqs.send_message_batch(QueueUrl=url, Entries=[good, delayed])
    assert error.message.startswith("Value 5 for parameter DelaySeconds is invalid.")
    with rejected("InvalidParameterValue") as error:
        sqs.send_message_batch(QueueUrl=url, Entries=[good, no_dedup])
    assert error.message.startswith("The queue should either have ContentBasedDeduplication")
    assert counts(sqs, url) == (0, 0, 0)
