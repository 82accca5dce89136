"""Visibility timeouts, ChangeMessageVisibility(Batch), receipt handles, delays and the
approximate counts that reflect each state, over both wire protocols."""

from __future__ import annotations

import time
from typing import Any

from tests.support.messaging import counts, eventually, rejected

ABSENT = "Message does not exist or is not available for visibility timeout change."


def make_queue(sqs: Any, name: str, **attributes: str) -> str:
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def receive(sqs: Any, url: str, **kwargs: Any) -> list[dict[str, Any]]:
    return list(sqs.receive_message(QueueUrl=url, **kwargs).get("Messages", []))


def receive_one(sqs: Any, url: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("WaitTimeSeconds", 2)
    (message,) = receive(sqs, url, AttributeNames=["ApproximateReceiveCount"], **kwargs)
    return message


# --- visibility timeout ---------------------------------------------------------------------


def test_a_received_message_is_hidden_until_the_queue_visibility_timeout_expires(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name, VisibilityTimeout="2")
    sent = sqs.send_message(QueueUrl=url, MessageBody="again")
    first = receive_one(sqs, url)
    assert receive(sqs, url) == []
    again = receive_one(sqs, url, WaitTimeSeconds=10)
    assert again["MessageId"] == sent["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again["ReceiptHandle"] != first["ReceiptHandle"]


def test_the_visibility_timeout_of_a_receive_overrides_the_queue_default(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name, VisibilityTimeout="600")
    sqs.send_message(QueueUrl=url, MessageBody="short")
    receive_one(sqs, url, VisibilityTimeout=2)
    assert counts(sqs, url) == (0, 1, 0)
    again = receive_one(sqs, url, WaitTimeSeconds=10)
    assert again["Body"] == "short"
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_receive_with_visibility_timeout_zero_leaves_the_message_visible(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="peek")
    receive_one(sqs, url, VisibilityTimeout=0)
    assert receive_one(sqs, url, WaitTimeSeconds=0)["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_message_stays_hidden_for_the_default_thirty_seconds(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="hidden")
    receive_one(sqs, url)
    assert receive(sqs, url, WaitTimeSeconds=2) == []
    assert counts(sqs, url) == (0, 1, 0)


# --- ChangeMessageVisibility ------------------------------------------------------------------


def test_changing_visibility_to_zero_makes_the_message_visible_at_once(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="back")
    message = receive_one(sqs, url)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    assert counts(sqs, url) == (1, 0, 0)
    assert receive_one(sqs, url, WaitTimeSeconds=0)["Body"] == "back"


def test_extending_the_visibility_keeps_the_message_hidden(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="keep")
    message = receive_one(sqs, url, VisibilityTimeout=1)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=60
    )
    time.sleep(1.5)  # past the original timeout
    assert receive(sqs, url, WaitTimeSeconds=1) == []
    assert counts(sqs, url) == (0, 1, 0)
    # The handle is still the current one: it can be deleted with it.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)


def test_a_stale_receipt_handle_cannot_change_visibility(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="twice")
    first = receive_one(sqs, url, VisibilityTimeout=1)
    receive_one(sqs, url, WaitTimeSeconds=10)  # received again since
    with rejected("InvalidParameterValue") as error:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
        )
    assert error.message == (
        f"Value {first['ReceiptHandle']} for parameter ReceiptHandle is invalid. Reason: {ABSENT}"
    )
    assert counts(sqs, url) == (0, 1, 0)


def test_the_handle_of_a_deleted_message_cannot_change_visibility(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="gone")
    message = receive_one(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    with rejected("InvalidParameterValue") as error:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=10
        )
    assert error.message.endswith(ABSENT)


def test_visibility_of_a_lapsed_delivery_can_still_be_changed_by_its_holder(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="lapsed")
    message = receive_one(sqs, url, VisibilityTimeout=1)
    eventually(lambda: counts(sqs, url) == (1, 0, 0))
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=60
    )
    assert counts(sqs, url) == (0, 1, 0)
    assert receive(sqs, url, WaitTimeSeconds=1) == []


def test_change_visibility_rejects_a_forged_receipt_handle(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("ReceiptHandleIsInvalid", 404) as error:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="forged", VisibilityTimeout=5)
    assert error.message == 'The input receipt handle "forged" is not a valid receipt handle.'


def test_change_visibility_rejects_a_timeout_over_twelve_hours(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    message = receive_one(sqs, url)
    with rejected("InvalidParameterValue") as error:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=43201
        )
    assert error.message.startswith("Value 43201 for parameter VisibilityTimeout is invalid.")


def test_visibility_cannot_be_extended_beyond_twelve_hours_after_the_receive(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    message = receive_one(sqs, url)
    time.sleep(0.05)  # some time has passed since the receive
    with rejected("InvalidParameterValue") as error:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=43200
        )
    assert error.message == (
        "Value 43200 for parameter VisibilityTimeout is invalid. Reason: Total "
        "VisibilityTimeout for the message is beyond the limit [43200 seconds]"
    )
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=43000
    )


def test_change_visibility_batch_reports_each_entry(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(2)]
    )
    received = receive(sqs, url, MaxNumberOfMessages=2, WaitTimeSeconds=1)
    received += receive(sqs, url, WaitTimeSeconds=1) if len(received) < 2 else []
    assert len(received) == 2
    result = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "zero", "ReceiptHandle": received[0]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "long", "ReceiptHandle": received[1]["ReceiptHandle"], "VisibilityTimeout": 600},
            {"Id": "forged", "ReceiptHandle": "forged-handle", "VisibilityTimeout": 0},
            {
                "Id": "too-long",
                "ReceiptHandle": received[1]["ReceiptHandle"],
                "VisibilityTimeout": 43201,
            },
        ],
    )
    assert sorted(entry["Id"] for entry in result["Successful"]) == ["long", "zero"]
    failed = {entry["Id"]: entry for entry in result["Failed"]}
    assert set(failed) == {"forged", "too-long"}
    assert failed["forged"]["Code"] == "ReceiptHandleIsInvalid"
    assert failed["too-long"]["Code"] == "InvalidParameterValue"
    assert all(entry["SenderFault"] is True for entry in failed.values())
    assert counts(sqs, url) == (1, 1, 0)
    assert receive_one(sqs, url, WaitTimeSeconds=0)["Body"] == received[0]["Body"]


# --- DeleteMessage and receipt handles ----------------------------------------------------------


def test_delete_with_the_handle_of_an_earlier_delivery_succeeds(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="old handle")
    first = receive_one(sqs, url, VisibilityTimeout=1)
    second = receive_one(sqs, url, WaitTimeSeconds=10)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])  # no error (AWS)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)
    assert receive(sqs, url, WaitTimeSeconds=1) == []


def test_delete_rejects_a_forged_receipt_handle(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    with rejected("ReceiptHandleIsInvalid", 404) as error:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="AQEBforgedhandle==")
    assert error.message == (
        'The input receipt handle "AQEBforgedhandle==" is not a valid receipt handle.'
    )


def test_delete_rejects_a_tampered_receipt_handle(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    handle = receive_one(sqs, url)["ReceiptHandle"]
    with rejected("ReceiptHandleIsInvalid", 404):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handle + "x")
    assert counts(sqs, url) == (0, 1, 0)


# --- delays and counts ------------------------------------------------------------------------


def test_a_delay_queue_holds_new_messages_for_its_delay(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name, DelaySeconds="2")
    sqs.send_message(QueueUrl=url, MessageBody="later")
    assert receive(sqs, url) == []
    assert counts(sqs, url) == (0, 0, 1)
    assert receive_one(sqs, url, WaitTimeSeconds=10)["Body"] == "later"


def test_a_per_message_delay_holds_only_that_message(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=2)
    sqs.send_message(QueueUrl=url, MessageBody="now")
    assert receive_one(sqs, url, WaitTimeSeconds=0)["Body"] == "now"
    assert receive(sqs, url) == []
    assert receive_one(sqs, url, WaitTimeSeconds=10)["Body"] == "delayed"


def test_a_per_message_delay_of_zero_overrides_the_queue_delay(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name, DelaySeconds="900")
    sqs.send_message(QueueUrl=url, MessageBody="immediate", DelaySeconds=0)
    sqs.send_message(QueueUrl=url, MessageBody="queue delay")
    assert receive_one(sqs, url, WaitTimeSeconds=0)["Body"] == "immediate"
    assert counts(sqs, url) == (0, 1, 1)


def test_per_message_delays_in_a_batch_apply_per_entry(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "now", "MessageBody": "now"},
            {"Id": "later", "MessageBody": "later", "DelaySeconds": 600},
        ],
    )
    assert counts(sqs, url) == (1, 0, 1)
    assert receive_one(sqs, url, WaitTimeSeconds=0)["Body"] == "now"
    assert receive(sqs, url, WaitTimeSeconds=1) == []


def test_the_approximate_counts_reflect_visible_in_flight_and_delayed_messages(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    assert counts(sqs, url) == (0, 0, 0)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)]
    )
    assert counts(sqs, url) == (3, 0, 0)
    message = receive_one(sqs, url)
    assert counts(sqs, url) == (2, 1, 0)
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=600)
    assert counts(sqs, url) == (2, 1, 1)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    assert counts(sqs, url) == (3, 0, 1)
    message = receive_one(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert counts(sqs, url) == (2, 0, 1)


def test_an_expired_visibility_timeout_moves_the_count_back_to_visible(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    receive_one(sqs, url, VisibilityTimeout=2)
    assert counts(sqs, url) == (0, 1, 0)
    eventually(lambda: counts(sqs, url) == (1, 0, 0))


def test_a_delayed_message_counts_as_visible_once_its_delay_ends(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=2)
    assert counts(sqs, url) == (0, 0, 1)
    eventually(lambda: counts(sqs, url) == (1, 0, 0))
