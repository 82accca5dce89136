"""Well-formed requests with values SQS refuses: oversize and invalid message bodies,
invalid queue attribute values, invalid batch entry ids. Raw HTTP over both protocols;
each test also checks that nothing changed, that the rejection was logged, and that the
server goes on serving."""

from __future__ import annotations

import json

import pytest

from tests.support.raw_http import (
    BATCH_ENTRY_IDS_NOT_DISTINCT,
    EMPTY_BATCH_REQUEST,
    INVALID_ATTRIBUTE_NAME,
    INVALID_ATTRIBUTE_VALUE,
    INVALID_BATCH_ENTRY_ID,
    INVALID_MESSAGE_CONTENTS,
    INVALID_PARAMETER_VALUE,
    MALFORMED,
    MISSING_PARAMETER,
    RawSqs,
    create_queue,
    logged,
    queue_names,
    receive,
    refused,
    send,
    snapshot,
)
from tests.support.server import EkidenProcess

MAX_MESSAGE_BYTES = 1_048_576
ALLOWED = (
    "the set of allowed characters is #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | "
    "[#x10000-#x10FFFF]."
)


# --- message size ---------------------------------------------------------------------


def test_a_message_of_one_mebibyte_and_one_byte_is_refused_and_not_stored(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    message = (
        "One or more parameters are invalid. Reason: Message must be shorter than "
        f"{MAX_MESSAGE_BYTES} bytes."
    )
    params = {"QueueUrl": url, "MessageBody": "x" * (MAX_MESSAGE_BYTES + 1)}
    with refused(ekiden, raw, INVALID_PARAMETER_VALUE, message, operation="SendMessage"):
        raw.call(protocol, "SendMessage", params)
    assert snapshot(raw, url) == before
    assert before.attributes["ApproximateNumberOfMessages"] == "0"


def test_a_message_of_exactly_one_mebibyte_is_accepted(
    raw: RawSqs, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    body = "é" * (MAX_MESSAGE_BYTES // 2)  # two UTF-8 bytes each: the limit is in bytes
    answer = raw.call(protocol, "SendMessage", {"QueueUrl": url, "MessageBody": body})
    assert answer.status == 200, answer.body[:300]
    (message,) = receive(raw, url)
    assert message["Body"] == body


def test_a_multibyte_body_over_the_limit_in_bytes_is_refused(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    body = "é" * (MAX_MESSAGE_BYTES // 2) + "x"  # 524_289 characters, 1_048_577 bytes
    with logged(ekiden, "rejected SendMessage: InvalidParameterValue: One or more parameters"):
        answer = raw.json("SendMessage", {"QueueUrl": url, "MessageBody": body})
    assert (answer.status, answer.code) == (400, "InvalidParameterValue")
    assert snapshot(raw, url).attributes["ApproximateNumberOfMessages"] == "0"


# --- invalid body characters ----------------------------------------------------------


@pytest.mark.parametrize(
    ("character", "shown"),
    [
        ("\x00", "#x0"),
        ("\x08", "#x8"),
        ("\x1f", "#x1F"),
        ("\ufffe", "#xFFFE"),
        ("\uffff", "#xFFFF"),
    ],
    ids=["nul", "backspace", "unit-separator", "fffe", "ffff"],
)
def test_a_body_with_a_character_sqs_does_not_allow_is_invalid_message_contents(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str, character: str, shown: str
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    message = f"Invalid binary character '{shown}' was found in the message body, {ALLOWED}"
    body = f"fine until here{character}and after"
    with refused(ekiden, raw, INVALID_MESSAGE_CONTENTS, message, operation="SendMessage"):
        raw.call(protocol, "SendMessage", {"QueueUrl": url, "MessageBody": body})
    assert snapshot(raw, url) == before


def test_a_lone_surrogate_escaped_in_json_text_is_invalid_message_contents(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    # What a JavaScript client sends for a string cut in the middle of an emoji.
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    message = f"Invalid binary character '#xD800' was found in the message body, {ALLOWED}"
    body = json.dumps({"QueueUrl": url, "MessageBody": "half an emoji: \ud800"}).encode()
    assert b"\\ud800" in body
    with refused(ekiden, raw, INVALID_MESSAGE_CONTENTS, message, operation="SendMessage"):
        raw.json("SendMessage", body=body)
    assert snapshot(raw, url) == before


def test_a_lone_surrogate_in_one_batch_entry_fails_only_that_entry(
    raw: RawSqs, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    entries = [
        {"Id": "broken", "MessageBody": "\udc00 low surrogate first"},
        {"Id": "fine", "MessageBody": "a whole emoji: \U0001f600"},
    ]
    body = json.dumps({"QueueUrl": url, "Entries": entries}).encode()
    answer = raw.json("SendMessageBatch", body=body)
    assert answer.status == 200, answer.body
    result = answer.json()
    assert [entry["Id"] for entry in result["Successful"]] == ["fine"]
    assert result["Failed"] == [
        {
            "Id": "broken",
            "SenderFault": True,
            "Code": "InvalidMessageContents",
            "Message": "Invalid binary character '#xDC00' was found in the message body, "
            + ALLOWED,
        }
    ]
    assert [m["Body"] for m in receive(raw, url)] == ["a whole emoji: \U0001f600"]


def test_a_lone_surrogate_outside_a_message_body_makes_the_request_malformed(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    message = "Request body holds a string that is not valid Unicode."
    body = json.dumps({"QueueName": queue_name, "tags": {"team": "\ud83d"}}).encode()
    with refused(ekiden, raw, MALFORMED, message, operation="CreateQueue"):
        raw.json("CreateQueue", body=body)
    assert queue_names(raw, queue_name) == []


def test_characters_sqs_allows_pass_through_unchanged(
    raw: RawSqs, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    body = "tab\tnl\ncr\r \ud7ff \ue000 \ufffd \U00010000 \U0010ffff <&>'\" %+="
    answer = raw.call(protocol, "SendMessage", {"QueueUrl": url, "MessageBody": body})
    assert answer.status == 200, answer.body
    (message,) = receive(raw, url)
    assert message["Body"] == body


# --- queue attribute values -----------------------------------------------------------


BAD_ATTRIBUTE_VALUES = [
    ("VisibilityTimeout", "43201"),
    ("VisibilityTimeout", "-1"),
    ("VisibilityTimeout", "thirty"),
    ("VisibilityTimeout", "3_0"),
    ("VisibilityTimeout", ""),
    ("MessageRetentionPeriod", "59"),
    ("MessageRetentionPeriod", "1209601"),
    ("DelaySeconds", "901"),
    ("MaximumMessageSize", "1023"),
    ("MaximumMessageSize", "1048577"),
    ("ReceiveMessageWaitTimeSeconds", "21"),
    ("KmsDataKeyReusePeriodSeconds", "59"),
    ("SqsManagedSseEnabled", "yes"),
    ("Policy", "{not json"),
    ("Policy", "[]"),
]


@pytest.mark.parametrize(("name", "value"), BAD_ATTRIBUTE_VALUES)
def test_an_invalid_attribute_value_on_set_queue_attributes_changes_nothing(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str, name: str, value: str
) -> None:
    url = create_queue(raw, queue_name, tags={"team": "core"}, VisibilityTimeout="45")
    before = snapshot(raw, url)
    assert before.tags == {"team": "core"}
    message = f"Invalid value for the parameter {name}."
    with refused(ekiden, raw, INVALID_ATTRIBUTE_VALUE, message, operation="SetQueueAttributes"):
        raw.call(
            protocol,
            "SetQueueAttributes",
            # a valid change in the same call must not be applied either
            {"QueueUrl": url, "Attributes": {"DelaySeconds": "7", name: value}},
        )
    assert snapshot(raw, url) == before


@pytest.mark.parametrize(("name", "value"), BAD_ATTRIBUTE_VALUES[::3])
def test_an_invalid_attribute_value_on_create_queue_creates_no_queue(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str, name: str, value: str
) -> None:
    message = f"Invalid value for the parameter {name}."
    with refused(ekiden, raw, INVALID_ATTRIBUTE_VALUE, message, operation="CreateQueue"):
        raw.call(protocol, "CreateQueue", {"QueueName": queue_name, "Attributes": {name: value}})
    assert queue_names(raw, queue_name) == []


def test_a_redrive_policy_with_a_bad_target_arn_is_an_invalid_parameter_value(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    policy = '{"deadLetterTargetArn": "dummy", "maxReceiveCount": 42}'
    message = (
        f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Invalid value for "
        "deadLetterTargetArn."
    )
    with refused(ekiden, raw, INVALID_PARAMETER_VALUE, message, operation="SetQueueAttributes"):
        raw.call(
            protocol,
            "SetQueueAttributes",
            {"QueueUrl": url, "Attributes": {"RedrivePolicy": policy}},
        )
    assert snapshot(raw, url) == before


@pytest.mark.parametrize("name", ["Foo", "QueueArn", "ApproximateNumberOfMessages", "FifoQueue"])
def test_an_unknown_or_read_only_attribute_name_is_an_invalid_attribute_name(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str, name: str
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    message = f"Unknown Attribute {name}."
    with refused(ekiden, raw, INVALID_ATTRIBUTE_NAME, message, operation="SetQueueAttributes"):
        raw.call(protocol, "SetQueueAttributes", {"QueueUrl": url, "Attributes": {name: "true"}})
    assert snapshot(raw, url) == before


# --- batch entry ids ------------------------------------------------------------------

BAD_ID = (
    "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
    "It can be at most 80 letters long."
)


@pytest.mark.parametrize(
    "bad_id",
    ["invalid:id", "", "x" * 81, "café", "a b", "line\n", "a.b"],
    ids=["colon", "empty", "81-chars", "non-ascii", "space", "trailing-newline", "dot"],
)
def test_a_send_batch_with_an_invalid_entry_id_sends_none_of_its_messages(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str, bad_id: str
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    entries = [{"Id": "good", "MessageBody": "one"}, {"Id": bad_id, "MessageBody": "two"}]
    with refused(
        ekiden,
        raw,
        INVALID_BATCH_ENTRY_ID,
        BAD_ID,
        log="rejected SendMessageBatch: AWS.SimpleQueueService.InvalidBatchEntryId",
    ):
        raw.call(protocol, "SendMessageBatch", {"QueueUrl": url, "Entries": entries})
    assert snapshot(raw, url) == before


def test_a_batch_id_of_eighty_allowed_characters_is_accepted(
    raw: RawSqs, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    entry_id = ("Az09_-" * 14)[:80]
    answer = raw.call(
        protocol,
        "SendMessageBatch",
        {"QueueUrl": url, "Entries": [{"Id": entry_id, "MessageBody": "fits"}]},
    )
    assert answer.status == 200, answer.body
    assert [m["Body"] for m in receive(raw, url)] == ["fits"]


def test_a_delete_batch_with_an_invalid_entry_id_deletes_nothing(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    send(raw, url, "keep me")
    (message,) = receive(raw, url)
    before = snapshot(raw, url)
    entries = [{"Id": "bad id", "ReceiptHandle": message["ReceiptHandle"]}]
    with refused(
        ekiden,
        raw,
        INVALID_BATCH_ENTRY_ID,
        BAD_ID,
        log="rejected DeleteMessageBatch: AWS.SimpleQueueService.InvalidBatchEntryId",
    ):
        raw.call(protocol, "DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
    assert snapshot(raw, url) == before
    assert before.attributes["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_a_batch_with_repeated_ids_is_rejected_whole(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    entries = [
        {"Id": "a", "MessageBody": "1"},
        {"Id": "same", "MessageBody": "2"},
        {"Id": "same", "MessageBody": "3"},
    ]
    with refused(
        ekiden,
        raw,
        BATCH_ENTRY_IDS_NOT_DISTINCT,
        "Id same repeated.",
        log="rejected SendMessageBatch: AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    ):
        raw.call(protocol, "SendMessageBatch", {"QueueUrl": url, "Entries": entries})
    assert snapshot(raw, url) == before


def test_an_empty_json_batch_is_an_empty_batch_request(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    message = "There should be at least one SendMessageBatchRequestEntry in the request."
    with refused(
        ekiden,
        raw,
        EMPTY_BATCH_REQUEST,
        message,
        log="rejected SendMessageBatch: AWS.SimpleQueueService.EmptyBatchRequest",
    ):
        raw.json("SendMessageBatch", {"QueueUrl": url, "Entries": []})


def test_a_query_batch_without_entries_is_a_missing_parameter(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    message = "The request must contain the parameter Entries."
    with refused(ekiden, raw, MISSING_PARAMETER, message, operation="SendMessageBatch"):
        raw.query({"Action": "SendMessageBatch", "QueueUrl": url})
