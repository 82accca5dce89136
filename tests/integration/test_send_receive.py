"""SendMessage(Batch), ReceiveMessage, DeleteMessage(Batch): results, per-entry failures and
request errors, over both wire protocols."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.support.messaging import counts, receive_all, rejected


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def make_queue(sqs: Any, name: str, **attributes: str) -> str:
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


# --- single messages ----------------------------------------------------------------------


def test_send_message_returns_a_message_id_and_the_md5_of_the_body(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sent = sqs.send_message(QueueUrl=url, MessageBody="Grüße, ekiden")
    assert sent["MD5OfMessageBody"] == md5("Grüße, ekiden")
    assert len(sent["MessageId"]) == 36
    assert "MD5OfMessageAttributes" not in sent
    assert "SequenceNumber" not in sent


def test_a_received_message_carries_id_body_digest_and_a_receipt_handle(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sent = sqs.send_message(QueueUrl=url, MessageBody="payload")
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "payload"
    assert message["MD5OfBody"] == md5("payload")
    assert message["ReceiptHandle"]
    assert "Attributes" not in message
    assert "MessageAttributes" not in message


def test_receive_on_an_empty_queue_returns_no_messages(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_receive_returns_at_most_max_number_of_messages(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    for start in (0, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": f"m{i}", "MessageBody": f"body {i}"} for i in range(start, start + 10)],
        )
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert 1 <= len(first["Messages"]) <= 10
    rest = receive_all(sqs, url, 20 - len(first["Messages"]))
    bodies = {m["Body"] for m in first["Messages"] + rest}
    assert bodies == {f"body {i}" for i in range(20)}


def test_receive_without_max_number_of_messages_returns_one_message(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)]
    )
    assert len(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]) == 1


@pytest.mark.parametrize("value", [0, 11])
def test_receive_rejects_max_number_of_messages_outside_one_to_ten(
    sqs: Any, queue_name: str, value: int
) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=value)
    assert error.message == (
        f"Value {value} for parameter MaxNumberOfMessages is invalid. "
        "Reason: Must be between 1 and 10, if provided."
    )


def test_receive_rejects_a_wait_time_over_twenty_seconds(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21)
    assert "WaitTimeSeconds" in error.message


def test_receive_rejects_a_visibility_timeout_over_twelve_hours(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.receive_message(QueueUrl=url, VisibilityTimeout=43201)
    assert "VisibilityTimeout" in error.message


def test_a_deleted_message_is_never_delivered_again(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="once")
    (message,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1, WaitTimeSeconds=1)[
        "Messages"
    ]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # Longer than the visibility timeout: an undeleted message would be back by now.
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", []) == []
    assert counts(sqs, url) == (0, 0, 0)


def test_deleting_the_same_message_twice_succeeds(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)


def test_send_rejects_an_empty_body(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("MissingParameter") as error:
        sqs.send_message(QueueUrl=url, MessageBody="")
    assert error.message == "The request must contain the parameter MessageBody."


def test_send_rejects_a_per_message_delay_over_900_seconds(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert error.message.startswith("Value 901 for parameter DelaySeconds is invalid.")


def test_send_to_a_queue_that_does_not_exist_is_rejected(
    sqs: Any, queue_name: str, ekiden: Any
) -> None:
    url = f"{ekiden.endpoint}/000000000000/{queue_name}-missing"
    with rejected("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.send_message(QueueUrl=url, MessageBody="x")


# --- SendMessageBatch -----------------------------------------------------------------------


def test_send_message_batch_answers_every_entry_with_its_id_and_digest(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    entries = [{"Id": f"entry-{i}", "MessageBody": f"message {i}"} for i in range(10)]
    result = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert result.get("Failed", []) == []
    by_id = {entry["Id"]: entry for entry in result["Successful"]}
    assert set(by_id) == {f"entry-{i}" for i in range(10)}
    for i in range(10):
        assert by_id[f"entry-{i}"]["MD5OfMessageBody"] == md5(f"message {i}")
    assert len({entry["MessageId"] for entry in result["Successful"]}) == 10
    received = receive_all(sqs, url, 10)
    assert {m["MessageId"]: m["Body"] for m in received} == {
        by_id[f"entry-{i}"]["MessageId"]: f"message {i}" for i in range(10)
    }


def test_a_batch_entry_with_invalid_body_characters_fails_alone(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    result = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good1", "MessageBody": "fine"},
            {"Id": "bad", "MessageBody": "bell \x07 inside"},
            {"Id": "good2", "MessageBody": "also fine"},
        ],
    )
    assert sorted(entry["Id"] for entry in result["Successful"]) == ["good1", "good2"]
    (failed,) = result["Failed"]
    assert failed["Id"] == "bad"
    assert failed["Code"] == "InvalidMessageContents"
    assert failed["SenderFault"] is True
    assert failed["Message"]
    bodies = sorted(m["Body"] for m in receive_all(sqs, url, 2))
    assert bodies == ["also fine", "fine"]


def test_a_batch_entry_larger_than_the_queue_maximum_fails_alone(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name, MaximumMessageSize="1024")
    result = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "small", "MessageBody": "x" * 1024},
            {"Id": "large", "MessageBody": "x" * 1025},
        ],
    )
    assert [entry["Id"] for entry in result["Successful"]] == ["small"]
    (failed,) = result["Failed"]
    assert (failed["Id"], failed["Code"], failed["SenderFault"]) == (
        "large",
        "InvalidParameterValue",
        True,
    )
    assert "1024 bytes" in failed["Message"]


def test_a_batch_whose_entries_add_up_to_more_than_1_mib_is_rejected(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    entries = [{"Id": str(i), "MessageBody": "x" * 600_000} for i in range(2)]
    with rejected("AWS.SimpleQueueService.BatchRequestTooLong") as error:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert error.message == (
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1200000 bytes."
    )
    assert counts(sqs, url) == (0, 0, 0)


# --- request-level batch errors, for all three batch actions ---------------------------------


def _batch_call(sqs: Any, url: str, action: str, ids: list[str]) -> Any:
    if action == "send":
        entries = [{"Id": i, "MessageBody": "x"} for i in ids]
        return sqs.send_message_batch(QueueUrl=url, Entries=entries)
    if action == "delete":
        entries = [{"Id": i, "ReceiptHandle": "handle"} for i in ids]
        return sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    entries = [{"Id": i, "ReceiptHandle": "handle", "VisibilityTimeout": 5} for i in ids]
    return sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


BATCH_ACTIONS = ["send", "delete", "change_visibility"]


@pytest.mark.parametrize("action", BATCH_ACTIONS)
def test_a_batch_request_without_entries_is_rejected(
    sqs: Any, queue_name: str, action: str
) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("AWS.SimpleQueueService.EmptyBatchRequest") as error:
        _batch_call(sqs, url, action, [])
    shape = {
        "send": "SendMessageBatchRequestEntry",
        "delete": "DeleteMessageBatchRequestEntry",
        "change_visibility": "ChangeMessageVisibilityBatchRequestEntry",
    }[action]
    assert error.message == f"There should be at least one {shape} in the request."


@pytest.mark.parametrize("action", BATCH_ACTIONS)
def test_a_batch_request_with_eleven_entries_is_rejected(
    sqs: Any, queue_name: str, action: str
) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("AWS.SimpleQueueService.TooManyEntriesInBatchRequest") as error:
        _batch_call(sqs, url, action, [f"id{i}" for i in range(11)])
    assert error.message == "Maximum number of entries per request are 10. You have sent 11."
    assert counts(sqs, url) == (0, 0, 0)


@pytest.mark.parametrize("action", BATCH_ACTIONS)
def test_a_batch_request_with_a_repeated_entry_id_is_rejected(
    sqs: Any, queue_name: str, action: str
) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("AWS.SimpleQueueService.BatchEntryIdsNotDistinct") as error:
        _batch_call(sqs, url, action, ["one", "two", "one"])
    assert error.message == "Id one repeated."
    assert counts(sqs, url) == (0, 0, 0)


@pytest.mark.parametrize("action", BATCH_ACTIONS)
@pytest.mark.parametrize("bad_id", ["invalid:id", "x" * 81, "naïve"])
def test_a_batch_request_with_an_invalid_entry_id_is_rejected(
    sqs: Any, queue_name: str, action: str, bad_id: str
) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("AWS.SimpleQueueService.InvalidBatchEntryId") as error:
        _batch_call(sqs, url, action, ["fine", bad_id])
    assert error.message == (
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
        "It can be at most 80 letters long."
    )


def test_a_batch_entry_id_of_80_allowed_characters_is_accepted(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    entry_id = ("Ab0_-" * 16)[:80]
    result = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": entry_id, "MessageBody": "x"}])
    assert [entry["Id"] for entry in result["Successful"]] == [entry_id]


# --- DeleteMessageBatch -----------------------------------------------------------------------


def test_delete_message_batch_deletes_received_messages_and_fails_a_forged_handle(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)]
    )
    received = receive_all(sqs, url, 3)
    entries = [{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
    entries.append({"Id": "forged", "ReceiptHandle": "not-a-receipt-handle"})
    result = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(entry["Id"] for entry in result["Successful"]) == ["d0", "d1", "d2"]
    (failed,) = result["Failed"]
    assert (failed["Id"], failed["Code"], failed["SenderFault"]) == (
        "forged",
        "ReceiptHandleIsInvalid",
        True,
    )
    assert counts(sqs, url) == (0, 0, 0)


def test_a_delete_batch_may_name_the_same_receipt_handle_twice(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    handle = message["ReceiptHandle"]
    result = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "a", "ReceiptHandle": handle}, {"Id": "b", "ReceiptHandle": handle}],
    )
    assert sorted(entry["Id"] for entry in result["Successful"]) == ["a", "b"]
    assert result.get("Failed", []) == []
    assert counts(sqs, url) == (0, 0, 0)


def test_a_standard_queue_accepts_a_message_group_id(sqs: Any, queue_name: str) -> None:
    # SQS fair queues (2025): standard queues take a MessageGroupId for fairness.
    url = make_queue(sqs, queue_name)
    sent = sqs.send_message(QueueUrl=url, MessageBody="tenant", MessageGroupId="tenant-1")
    assert "SequenceNumber" not in sent
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert message["MessageId"] == sent["MessageId"]


def test_a_receipt_handle_of_another_queue_is_invalid_for_this_one(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    other = make_queue(sqs, queue_name + "-other")
    sqs.send_message(QueueUrl=other, MessageBody="elsewhere")
    (message,) = sqs.receive_message(QueueUrl=other, WaitTimeSeconds=1)["Messages"]
    with rejected("ReceiptHandleIsInvalid", 404):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert counts(sqs, other) == (0, 1, 0)
