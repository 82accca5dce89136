"""Requests that cannot be decoded, sent as raw HTTP over both SQS protocols.

Each test checks the exact answer (status, code, fault, message; ``__type`` on JSON),
that the rejected request changed nothing, that the server logged the rejection and that
it goes on serving. The wording follows real SQS where it is known (see the research
notes in ``/tmp/research/sqs-errors.md``); elsewhere it is ekiden's own, in SQS's style.
"""

from __future__ import annotations

import http.client
from typing import Any

import pytest

from tests.support.raw_http import (
    ACCOUNT_ID,
    INVALID_ACTION,
    INVALID_PARAMETER_VALUE,
    MALFORMED,
    MISSING_PARAMETER,
    NON_EXISTENT_QUEUE,
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

# --- AWS JSON 1.0 ---------------------------------------------------------------------


def test_a_json_body_that_is_not_json_is_a_serialization_error_and_creates_no_queue(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    body = b'{"QueueName": "' + queue_name.encode() + b'"'  # the closing brace is missing
    with refused(
        ekiden,
        raw,
        MALFORMED,
        "Request body is not valid JSON.",
        log="rejected CreateQueue: MalformedQueryString: Request body is not",
    ):
        raw.json("CreateQueue", body=body)
    assert queue_names(raw, queue_name) == []
    create_queue(raw, queue_name)  # the same request, well formed, is served
    assert queue_names(raw, queue_name) == [queue_name]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"QueueName": "NAME"}]', "Start of list found where not expected"),
        (b'"NAME"', "STRING_VALUE can not be converted to a Structure"),
        (b"42", "NUMBER_VALUE can not be converted to a Structure"),
        (b"null", "NULL_VALUE can not be converted to a Structure"),
    ],
    ids=["list", "string", "number", "null"],
)
def test_a_json_body_that_is_not_an_object_is_a_serialization_error(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str, body: bytes, message: str
) -> None:
    before = queue_names(raw, "")
    with refused(ekiden, raw, MALFORMED, message, operation="CreateQueue"):
        raw.json("CreateQueue", body=body.replace(b"NAME", queue_name.encode()))
    assert queue_names(raw, "") == before
    assert queue_names(raw, queue_name) == []


def test_an_empty_json_body_counts_as_an_empty_object(raw: RawSqs, ekiden: EkidenProcess) -> None:
    answer = raw.json("ListQueues", body=b"")
    assert answer.status == 200, answer.body
    with refused(
        ekiden,
        raw,
        INVALID_PARAMETER_VALUE,
        "Value for parameter QueueName is invalid. Reason: Must specify a queue name.",
        log="rejected CreateQueue: InvalidParameterValue: Value for parameter Queue",
    ):
        raw.json("CreateQueue", body=b"  ")


def test_a_string_where_an_integer_is_expected_is_rejected_and_receives_nothing(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    # Real SQS does not coerce: a client that sent "5" got exactly this (async-aws#1667).
    url = create_queue(raw, queue_name)
    send(raw, url, "still here")
    before = snapshot(raw, url)
    message = "STRING_VALUE can not be converted to an Integer"
    with refused(ekiden, raw, MALFORMED, message, operation="ReceiveMessage"):
        raw.json("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": "5"})
    assert snapshot(raw, url) == before
    assert before.attributes["ApproximateNumberOfMessages"] == "1"
    assert [m["Body"] for m in receive(raw, url)] == ["still here"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"MaxNumberOfMessages": True}, "TRUE_VALUE can not be converted to an Integer"),
        ({"MaxNumberOfMessages": 2.5}, "NUMBER_VALUE can not be converted to an Integer"),
        ({"MaxNumberOfMessages": 2**31}, "NUMBER_VALUE can not be converted to an Integer"),
        ({"VisibilityTimeout": [30]}, "Start of list found where not expected"),
        ({"AttributeNames": "All"}, "STRING_VALUE can not be converted to a List"),
        ({"AttributeNames": [7]}, "NUMBER_VALUE can not be converted to a String"),
    ],
    ids=["boolean", "fraction", "int32-overflow", "list-for-integer", "string-for-list", "num"],
)
def test_other_wrongly_typed_members_are_serialization_errors(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str, params: dict[str, Any], message: str
) -> None:
    url = create_queue(raw, queue_name)
    send(raw, url, "still here")
    with refused(ekiden, raw, MALFORMED, message, operation="ReceiveMessage"):
        raw.json("ReceiveMessage", {"QueueUrl": url, **params})
    assert snapshot(raw, url).attributes["ApproximateNumberOfMessages"] == "1"


def test_an_object_where_a_string_is_expected_is_rejected_and_creates_no_queue(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    message = "Start of structure or map found where not expected."
    with refused(ekiden, raw, MALFORMED, message, operation="CreateQueue"):
        raw.json("CreateQueue", {"QueueName": {"name": queue_name}})
    assert queue_names(raw, queue_name) == []


def test_a_wrongly_typed_attribute_value_leaves_the_queue_attributes_as_they_were(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    message = "NUMBER_VALUE can not be converted to a String"
    with refused(ekiden, raw, MALFORMED, message, operation="SetQueueAttributes"):
        raw.json("SetQueueAttributes", {"QueueUrl": url, "Attributes": {"VisibilityTimeout": 60}})
    assert snapshot(raw, url) == before


def test_a_wrongly_typed_tag_value_leaves_the_tags_as_they_were(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name, tags={"team": "core"})
    before = snapshot(raw, url)
    message = "TRUE_VALUE can not be converted to a String"
    with refused(ekiden, raw, MALFORMED, message, operation="TagQueue"):
        raw.json("TagQueue", {"QueueUrl": url, "Tags": {"team": "edge", "on": True}})
    assert snapshot(raw, url) == before
    assert before.tags == {"team": "core"}


def test_a_query_tag_without_its_value_is_a_missing_parameter_and_changes_no_tag(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name, tags={"team": "core"})
    before = snapshot(raw, url)
    message = "The request must contain the parameter Tag.2.Value."
    with refused(ekiden, raw, MISSING_PARAMETER, message, operation="TagQueue"):
        raw.query(
            {
                "Action": "TagQueue",
                "QueueUrl": url,
                "Tag.1.Key": "team",
                "Tag.1.Value": "edge",
                "Tag.2.Key": "orphan",
            }
        )
    assert snapshot(raw, url) == before


@pytest.mark.parametrize(
    "target",
    ["AmazonSQS.Frobnicate", "AmazonSQS.", "AmazonSNS.Publish", "DynamoDB_20120810.ListTables"],
)
def test_an_unknown_json_target_is_an_unknown_operation(
    raw: RawSqs, ekiden: EkidenProcess, target: str
) -> None:
    with refused(
        ekiden,
        raw,
        INVALID_ACTION,
        f"Unknown operation {target}.",
        log=f": InvalidAction: Unknown operation {target}.",
    ):
        raw.json("", {"QueueName": "never-created"}, target=target)
    assert queue_names(raw, "never-created") == []
    assert raw.json("ListQueues", {}).status == 200


# --- missing required parameters (both protocols) -------------------------------------


def test_create_queue_without_a_queue_name_is_rejected_as_sqs_words_it(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str
) -> None:
    before = queue_names(raw, "")
    message = "Value for parameter QueueName is invalid. Reason: Must specify a queue name."
    with refused(ekiden, raw, INVALID_PARAMETER_VALUE, message, operation="CreateQueue"):
        raw.call(protocol, "CreateQueue", {"Attributes": {"DelaySeconds": "5"}})
    assert queue_names(raw, "") == before


def test_send_message_without_a_body_is_a_missing_parameter_and_sends_nothing(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    message = "The request must contain the parameter MessageBody."
    for params in ({"QueueUrl": url}, {"QueueUrl": url, "MessageBody": ""}):
        with refused(ekiden, raw, MISSING_PARAMETER, message, operation="SendMessage"):
            raw.call(protocol, "SendMessage", params)
    assert snapshot(raw, url) == before
    assert before.attributes["ApproximateNumberOfMessages"] == "0"


def test_delete_message_without_a_receipt_handle_is_a_missing_parameter_and_deletes_nothing(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    send(raw, url, "keep me")
    (message,) = receive(raw, url)
    before = snapshot(raw, url)
    text = "The request must contain the parameter ReceiptHandle."
    with refused(ekiden, raw, MISSING_PARAMETER, text, operation="DeleteMessage"):
        raw.call(protocol, "DeleteMessage", {"QueueUrl": url})
    assert snapshot(raw, url) == before
    assert before.attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    deleted = raw.call(
        protocol, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"]}
    )
    assert deleted.status == 200, deleted.body


# --- Query protocol -------------------------------------------------------------------


def test_an_unknown_query_action_is_invalid_action(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    message = "The action CreateQueues is not valid for this endpoint."
    with refused(ekiden, raw, INVALID_ACTION, message, operation="CreateQueues"):
        raw.query({"Action": "CreateQueues", "QueueName": queue_name})
    assert queue_names(raw, queue_name) == []


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_query_request_without_an_action_is_rejected(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str, method: str
) -> None:
    message = "The request must contain the parameter Action."
    with refused(ekiden, raw, INVALID_ACTION, message, operation="request"):
        raw.query({"QueueName": queue_name}, method=method)
    assert queue_names(raw, queue_name) == []


@pytest.mark.parametrize(
    ("encoded_body", "message"),
    [
        (b"MessageBody=100%", "The request body contains an invalid percent-encoding."),
        (b"MessageBody=%zz", "The request body contains an invalid percent-encoding."),
        (b"MessageBody=%4", "The request body contains an invalid percent-encoding."),
        (b"MessageBody=%FF%FE", "The request body is not valid UTF-8."),
        (b"MessageBody=\xff", "The request body is not valid UTF-8."),
        (b"MessageBody=%ED%A0%80", "The request body is not valid UTF-8."),  # a surrogate
    ],
    ids=["lone-percent", "non-hex", "short", "encoded-bytes", "raw-byte", "surrogate"],
)
def test_a_malformed_form_body_is_rejected_and_sends_nothing(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str, encoded_body: bytes, message: str
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    body = f"Action=SendMessage&QueueUrl={url}&".encode() + encoded_body
    with refused(ekiden, raw, MALFORMED, message, operation="request"):
        raw.query(body=body)
    assert snapshot(raw, url) == before
    assert raw.query({"Action": "SendMessage", "QueueUrl": url, "MessageBody": "ok"}).status == 200


def test_a_malformed_query_string_in_the_url_is_rejected_too(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    message = "The request body contains an invalid percent-encoding."
    host, port = raw.endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:  # http.client sends the target as given; requests would re-quote the "%"
        with logged(ekiden, f"rejected request: MalformedQueryString: {message}"):
            connection.request("GET", f"/?Action=SendMessage&QueueUrl={url}&MessageBody=%G0")
            response = connection.getresponse()
            body = response.read()
    finally:
        connection.close()
    assert response.status == 400
    assert b"<Code>MalformedQueryString</Code>" in body
    assert f"<Message>{message}</Message>".encode() in body
    assert snapshot(raw, url).attributes["ApproximateNumberOfMessages"] == "0"


@pytest.mark.parametrize("value", ["five", "5.0", "", "0x10", "1e1", " 5"])
def test_a_query_integer_that_is_not_a_number_is_an_invalid_parameter_value(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str, value: str
) -> None:
    url = create_queue(raw, queue_name)
    send(raw, url, "still here")
    message = (
        f"Value {value} for parameter MaxNumberOfMessages is invalid. Reason: Must be an integer."
    )
    with refused(ekiden, raw, INVALID_PARAMETER_VALUE, message, operation="ReceiveMessage"):
        raw.query({"Action": "ReceiveMessage", "QueueUrl": url, "MaxNumberOfMessages": value})
    assert snapshot(raw, url).attributes["ApproximateNumberOfMessages"] == "1"


def test_a_get_request_with_query_parameters_in_the_url_works_like_a_post(
    raw: RawSqs, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    sent = raw.query(
        {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "sent by GET & co"},
        method="GET",
    )
    assert sent.status == 200, sent.body
    assert sent.xml_text("MessageId")
    got = raw.query({"Action": "GetQueueUrl", "QueueName": queue_name}, method="GET")
    assert got.status == 200 and got.xml_text("QueueUrl") == url
    (message,) = receive(raw, url)
    assert message["Body"] == "sent by GET & co"
    assert message["MessageId"] == sent.xml_text("MessageId")


def test_the_request_path_names_the_queue_when_a_query_request_has_no_queue_url(
    raw: RawSqs, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    path = f"/{ACCOUNT_ID}/{queue_name}"
    sent = raw.query({"Action": "SendMessage", "MessageBody": "by path"}, path=path)
    assert sent.status == 200, sent.body
    attributes = raw.query(
        {"Action": "GetQueueAttributes", "AttributeName.1": "QueueArn"}, path=path
    )
    assert attributes.status == 200, attributes.body
    assert attributes.xml_text("Value") == f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:{queue_name}"
    (message,) = receive(raw, url)
    assert (message["Body"], message["MessageId"]) == ("by path", sent.xml_text("MessageId"))


def test_a_request_path_naming_a_missing_queue_is_a_non_existent_queue(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    message = "The specified queue does not exist for this wsdl version."
    with refused(
        ekiden,
        raw,
        NON_EXISTENT_QUEUE,
        message,
        log="rejected SendMessage: AWS.SimpleQueueService.NonExistentQueue",
    ):
        raw.query(
            {"Action": "SendMessage", "MessageBody": "lost"}, path=f"/{ACCOUNT_ID}/{queue_name}"
        )
    assert queue_names(raw, queue_name) == []
