"""Forged and stale receipt handles on DeleteMessage, ChangeMessageVisibility and their
batch forms, over both protocols as raw HTTP.

A handle ekiden never issued (random text, a real one cut short, one of another queue)
is ReceiptHandleIsInvalid (404 in the current SQS model). A handle of an earlier delivery
is "stale": SQS accepts a delete with it but deletes nothing, and refuses a visibility
change. In every case the message itself must be untouched.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.raw_http import (
    INVALID_PARAMETER_VALUE,
    RECEIPT_HANDLE_IS_INVALID,
    RawSqs,
    create_queue,
    logged,
    receive,
    refused,
    send,
    snapshot,
)
from tests.support.server import EkidenProcess


def in_flight(raw: RawSqs, url: str, body: str) -> dict[str, Any]:
    """Send ``body`` and receive it, so that it is in flight; returns the message."""
    send(raw, url, body)
    (message,) = receive(raw, url)
    return message


def forged_handles(raw: RawSqs, real_handle: str, other_queue: str) -> dict[str, str]:
    other_url = create_queue(raw, other_queue)
    foreign = in_flight(raw, other_url, "of the other queue")["ReceiptHandle"]
    return {
        "random": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a/garbage+/==",
        "truncated": real_handle[:-4],
        "extended": real_handle + "A",
        "other-queue": foreign,
    }


def expected_message(kind: str, handle: str) -> str:
    if kind == "other-queue":
        return f'The receipt handle "{handle}" is not valid for this queue.'
    return f'The input receipt handle "{handle}" is not a valid receipt handle.'


def forged_case(raw: RawSqs, queue_name: str, kind: str) -> tuple[str, dict[str, Any], str, str]:
    """A queue with a message in flight, a forged handle of ``kind`` for it and the error
    message SQS refuses that handle with: (queue url, message, handle, error message)."""
    url = create_queue(raw, queue_name)
    message = in_flight(raw, url, "precious")
    handle = forged_handles(raw, message["ReceiptHandle"], queue_name + "-other")[kind]
    return url, message, handle, expected_message(kind, handle)


def assert_still_in_flight(raw: RawSqs, protocol: str, url: str, message: dict[str, Any]) -> None:
    """The message is in flight under its real handle, which still works."""
    attributes = snapshot(raw, url).attributes
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attributes["ApproximateNumberOfMessages"] == "0"
    shown = raw.call(
        protocol,
        "ChangeMessageVisibility",
        {"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0},
    )
    assert shown.status == 200, shown.body
    (again,) = receive(raw, url)
    assert (again["MessageId"], again["Body"]) == (message["MessageId"], message["Body"])


@pytest.mark.parametrize("kind", ["random", "truncated", "extended", "other-queue"])
def test_delete_message_with_a_forged_handle_is_refused_and_deletes_nothing(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str, kind: str
) -> None:
    url, message, handle, text = forged_case(raw, queue_name, kind)
    with refused(ekiden, raw, RECEIPT_HANDLE_IS_INVALID, text, operation="DeleteMessage"):
        raw.call(protocol, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": handle})
    assert_still_in_flight(raw, protocol, url, message)


@pytest.mark.parametrize("kind", ["random", "truncated", "extended", "other-queue"])
def test_change_message_visibility_with_a_forged_handle_is_refused_and_changes_nothing(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str, kind: str
) -> None:
    url, message, handle, text = forged_case(raw, queue_name, kind)
    with refused(ekiden, raw, RECEIPT_HANDLE_IS_INVALID, text, operation="ChangeMessageVisibility"):
        raw.call(
            protocol,
            "ChangeMessageVisibility",
            # 0 would make the message visible at once, were the handle accepted
            {"QueueUrl": url, "ReceiptHandle": handle, "VisibilityTimeout": 0},
        )
    assert_still_in_flight(raw, protocol, url, message)


def test_a_forged_handle_in_the_other_queue_leaves_that_queue_untouched(
    raw: RawSqs, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    other_url = create_queue(raw, queue_name + "-other")
    theirs = in_flight(raw, other_url, "theirs")
    answer = raw.call(
        protocol, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": theirs["ReceiptHandle"]}
    )
    assert (answer.status, answer.code) == (404, "ReceiptHandleIsInvalid")
    assert_still_in_flight(raw, protocol, other_url, theirs)


def test_delete_message_batch_reports_forged_handles_per_entry_and_deletes_the_rest(
    raw: RawSqs, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    send(raw, url, "to delete")
    send(raw, url, "to keep")
    by_body = {m["Body"]: m for m in receive(raw, url)}
    assert sorted(by_body) == ["to delete", "to keep"]
    keep = by_body["to keep"]
    forged = forged_handles(raw, keep["ReceiptHandle"], queue_name + "-other")
    entries = [{"Id": "real", "ReceiptHandle": by_body["to delete"]["ReceiptHandle"]}]
    entries += [{"Id": kind.replace("-", "_"), "ReceiptHandle": h} for kind, h in forged.items()]
    answer = raw.call(protocol, "DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
    assert answer.status == 200, answer.body
    successful, failed = batch_outcome(answer, protocol)
    assert successful == ["real"]
    assert failed == {
        kind.replace("-", "_"): ("ReceiptHandleIsInvalid", "true", expected_message(kind, handle))
        for kind, handle in forged.items()
    }
    assert_still_in_flight(raw, protocol, url, keep)


def test_change_visibility_batch_reports_forged_handles_per_entry_and_changes_the_rest(
    raw: RawSqs, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    message = in_flight(raw, url, "precious")
    forged = forged_handles(raw, message["ReceiptHandle"], queue_name + "-other")
    entries = [
        {"Id": kind.replace("-", "_"), "ReceiptHandle": h, "VisibilityTimeout": 0}
        for kind, h in forged.items()
    ]
    answer = raw.call(
        protocol, "ChangeMessageVisibilityBatch", {"QueueUrl": url, "Entries": entries}
    )
    assert answer.status == 200, answer.body
    successful, failed = batch_outcome(answer, protocol)
    assert successful == []
    assert set(failed) == {kind.replace("-", "_") for kind in forged}
    assert {code for code, _, _ in failed.values()} == {"ReceiptHandleIsInvalid"}
    assert_still_in_flight(raw, protocol, url, message)


def batch_outcome(answer: Any, protocol: str) -> tuple[list[str], dict[str, tuple[str, str, str]]]:
    """(ids that succeeded, {failed id: (code, sender fault as "true"/"false", message)})."""
    if protocol == "json":
        result = answer.json()
        return (
            [entry["Id"] for entry in result["Successful"]],
            {
                e["Id"]: (e["Code"], str(e["SenderFault"]).lower(), e["Message"])
                for e in result["Failed"]
            },
        )
    ns = "{http://queue.amazonaws.com/doc/2012-11-05/}"
    root = answer.xml()
    successful = [
        entry.findtext(f"{ns}Id") or ""
        for entry in root.iter()
        if entry.tag.endswith("BatchResultEntry") and entry.tag != f"{ns}BatchResultErrorEntry"
    ]
    failed = {
        entry.findtext(f"{ns}Id") or "": (
            entry.findtext(f"{ns}Code") or "",
            entry.findtext(f"{ns}SenderFault") or "",
            entry.findtext(f"{ns}Message") or "",
        )
        for entry in root.iter(f"{ns}BatchResultErrorEntry")
    }
    return successful, failed


# --- stale handles --------------------------------------------------------------------


def redeliver(raw: RawSqs, url: str, message: dict[str, Any]) -> dict[str, Any]:
    """Make ``message`` visible again and receive it anew; returns the new delivery."""
    shown = raw.json(
        "ChangeMessageVisibility",
        {"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0},
    )
    assert shown.status == 200, shown.body
    (again,) = receive(raw, url)
    assert again["MessageId"] == message["MessageId"]
    assert again["ReceiptHandle"] != message["ReceiptHandle"]
    return again


def stale_message(handle: str) -> str:
    """What SQS says when a visibility change names a stale (or spent) receipt handle."""
    return (
        f"Value {handle} for parameter ReceiptHandle is invalid. Reason: "
        "Message does not exist or is not available for visibility timeout change."
    )


def test_delete_with_a_stale_handle_succeeds_but_deletes_nothing(
    raw: RawSqs, protocol: str, queue_name: str
) -> None:
    # "the request succeeds, but the message will not be deleted" (SQS developer guide)
    url = create_queue(raw, queue_name)
    first = in_flight(raw, url, "received twice")
    second = redeliver(raw, url, first)
    answer = raw.call(
        protocol, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": first["ReceiptHandle"]}
    )
    assert answer.status == 200, answer.body
    assert_still_in_flight(raw, protocol, url, second)


def test_change_visibility_with_a_stale_handle_is_refused_and_changes_nothing(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    first = in_flight(raw, url, "received twice")
    second = redeliver(raw, url, first)
    text = stale_message(first["ReceiptHandle"])
    with refused(ekiden, raw, INVALID_PARAMETER_VALUE, text, operation="ChangeMessageVisibility"):
        raw.call(
            protocol,
            "ChangeMessageVisibility",
            {"QueueUrl": url, "ReceiptHandle": first["ReceiptHandle"], "VisibilityTimeout": 0},
        )
    assert_still_in_flight(raw, protocol, url, second)


def test_the_handle_of_a_deleted_message_deletes_again_without_error(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    message = in_flight(raw, url, "gone")
    params = {"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"]}
    assert raw.call(protocol, "DeleteMessage", params).status == 200
    again = raw.call(protocol, "DeleteMessage", params)
    assert again.status == 200, again.body
    text = stale_message(message["ReceiptHandle"])
    with logged(ekiden, f"rejected ChangeMessageVisibility: InvalidParameterValue: {text}"):
        changed = raw.call(protocol, "ChangeMessageVisibility", {**params, "VisibilityTimeout": 5})
    assert (changed.status, changed.code, changed.message) == (400, "InvalidParameterValue", text)
    attributes = snapshot(raw, url).attributes
    assert (
        attributes["ApproximateNumberOfMessages"],
        attributes["ApproximateNumberOfMessagesNotVisible"],
    ) == ("0", "0")


def test_a_batch_with_a_stale_handle_succeeds_for_delete_and_fails_for_visibility(
    raw: RawSqs, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    first = in_flight(raw, url, "received twice")
    second = redeliver(raw, url, first)
    stale = [{"Id": "stale", "ReceiptHandle": first["ReceiptHandle"]}]
    deleted = raw.call(protocol, "DeleteMessageBatch", {"QueueUrl": url, "Entries": stale})
    assert batch_outcome(deleted, protocol) == (["stale"], {})
    changed = raw.call(
        protocol,
        "ChangeMessageVisibilityBatch",
        {"QueueUrl": url, "Entries": [{**stale[0], "VisibilityTimeout": 0}]},
    )
    successful, failed = batch_outcome(changed, protocol)
    assert successful == []
    assert failed["stale"][:2] == ("InvalidParameterValue", "true")
    assert_still_in_flight(raw, protocol, url, second)
