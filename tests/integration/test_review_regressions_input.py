"""Regressions of the review fixes (commit 87632bf) about input: characters an XML answer
cannot carry are refused where they could be stored, and hostile input (deeply nested
JSON inside attribute values, numbers of thousands of digits, lone surrogates outside a
message body) is answered with a 400, never a 500. Internal errors tell the client nothing
of their cause."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from ekiden.core.clock import SystemClock
from ekiden.core.services.broker import Broker
from ekiden.server.app import SqsApp
from ekiden.server.http_messages import HttpRequest
from ekiden.store.sqlite.store import SqliteStore
from tests.support.clients import sqs_client
from tests.support.messaging import counts, rejected
from tests.support.raw_http import (
    FORM_CONTENT_TYPE,
    INVALID_ATTRIBUTE_VALUE,
    INVALID_MESSAGE_CONTENTS,
    INVALID_PARAMETER_VALUE,
    JSON_CONTENT_TYPE,
    MALFORMED,
    RawSqs,
    create_queue,
    queue_names,
    receive,
    refused,
    snapshot,
)
from tests.support.server import EkidenProcess

ALLOWED = (
    "the set of allowed characters is #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | "
    "[#x10000-#x10FFFF]."
)

# --- characters XML cannot carry -------------------------------------------------------


def test_a_message_attribute_type_with_a_character_xml_cannot_carry_is_refused(
    sqs: Any, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    attribute = {"DataType": "String.\u0001x", "StringValue": "v"}
    with rejected("InvalidParameterValue") as rejection:
        sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes={"a": attribute})
    assert rejection.message == (
        "The type of message (user) attribute 'a' is invalid. You must use only the following "
        "supported type prefixes: Binary, Number, String."
    )
    assert counts(sqs, url) == (0, 0, 0)
    query = sqs_client(ekiden.endpoint, "query")
    assert (
        query.receive_message(QueueUrl=url, MessageAttributeNames=["All"]).get("Messages", []) == []
    )


@pytest.mark.parametrize(
    "tags",
    [{"k": "bad\u0002value"}, {"bad\u0002key": "v"}, {"k": "\ufffe"}],
    ids=["control-in-value", "control-in-key", "noncharacter-in-value"],
)
def test_a_tag_with_a_character_xml_cannot_carry_is_refused(
    sqs: Any, ekiden: EkidenProcess, queue_name: str, tags: dict[str, str]
) -> None:
    url = sqs.create_queue(QueueName=queue_name, tags={"fine": "yes"})["QueueUrl"]
    with rejected("InvalidParameterValue") as rejection:
        sqs.tag_queue(QueueUrl=url, Tags=tags)
    assert rejection.message == "Tag keys and values must be valid Unicode text."
    query = sqs_client(ekiden.endpoint, "query")
    assert query.list_queue_tags(QueueUrl=url)["Tags"] == {"fine": "yes"}


def test_a_queue_created_with_a_tag_xml_cannot_carry_is_refused(sqs: Any, queue_name: str) -> None:
    with rejected("InvalidParameterValue") as rejection:
        sqs.create_queue(QueueName=queue_name, tags={"k": "\u0002"})
    assert rejection.message == "Tag keys and values must be valid Unicode text."
    assert sqs.list_queues(QueueNamePrefix=queue_name).get("QueueUrls", []) == []


def test_an_attribute_value_with_a_character_xml_cannot_carry_is_refused(
    sqs: Any, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    with rejected("InvalidAttributeValue") as rejection:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": "key\u0003"})
    assert rejection.message == "Invalid value for the parameter KmsMasterKeyId."
    query = sqs_client(ekiden.endpoint, "query")
    found = query.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "KmsMasterKeyId" not in found
    with rejected("InvalidAttributeValue"):
        sqs.create_queue(QueueName=f"{queue_name}-new", Attributes={"KmsMasterKeyId": "key\u0003"})
    assert sqs.list_queues(QueueNamePrefix=f"{queue_name}-new").get("QueueUrls", []) == []


# --- no 500 on hostile input -----------------------------------------------------------

DEEP = "[" * 100_000


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Policy", "Invalid value for the parameter Policy."),
        ("RedrivePolicy", "Invalid value for the parameter RedrivePolicy. Reason: Invalid JSON."),
        (
            "RedriveAllowPolicy",
            "Invalid value for the parameter RedriveAllowPolicy. Reason: Invalid JSON.",
        ),
    ],
)
def test_a_deeply_nested_json_attribute_value_is_an_invalid_attribute_value(
    raw: RawSqs,
    ekiden: EkidenProcess,
    protocol: str,
    queue_name: str,
    name: str,
    message: str,
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    with refused(ekiden, raw, INVALID_ATTRIBUTE_VALUE, message, operation="SetQueueAttributes"):
        raw.call(protocol, "SetQueueAttributes", {"QueueUrl": url, "Attributes": {name: DEEP}})
    assert snapshot(raw, url) == before


def test_a_task_handle_of_deeply_nested_json_is_an_invalid_parameter_value(
    raw: RawSqs, ekiden: EkidenProcess, protocol: str
) -> None:
    handle = base64.b64encode(DEEP.encode()).decode()
    message = "Value for parameter TaskHandle is invalid."
    with refused(ekiden, raw, INVALID_PARAMETER_VALUE, message, operation="CancelMessageMoveTask"):
        raw.call(protocol, "CancelMessageMoveTask", {"TaskHandle": handle})


def test_a_query_integer_of_thousands_of_digits_is_an_invalid_parameter_value(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    digits = "1" * 5000
    message = (
        f"Value {digits} for parameter MaxNumberOfMessages is invalid. Reason: Must be an integer."
    )
    with refused(ekiden, raw, INVALID_PARAMETER_VALUE, message, operation="ReceiveMessage"):
        raw.query({"Action": "ReceiveMessage", "QueueUrl": url, "MaxNumberOfMessages": digits})


@pytest.mark.parametrize(
    "form",
    [
        {
            "Action": "SetQueueAttributes",
            f"Attribute.{'1' * 5000}.Name": "DelaySeconds",
            f"Attribute.{'1' * 5000}.Value": "5",
            "Attribute.1.Name": "VisibilityTimeout",
            "Attribute.1.Value": "40",
        },
        {
            "Action": "GetQueueAttributes",
            f"AttributeName.{'1' * 5000}": "DelaySeconds",
            "AttributeName.1": "VisibilityTimeout",
        },
        {"Action": "TagQueue", f"Tag.{'2' * 5000}.Key": "k", "Tag.1.Key": "a", "Tag.1.Value": "b"},
    ],
    ids=["attribute-map", "attribute-name-list", "tag-map"],
)
def test_a_query_list_index_of_thousands_of_digits_is_no_internal_error(
    raw: RawSqs, queue_name: str, form: dict[str, str]
) -> None:
    url = create_queue(raw, queue_name)
    answer = raw.query({**form, "QueueUrl": url})
    assert answer.status in (200, 400), answer.body[:500]
    assert answer.code != "InternalFailure"
    assert raw.json("GetQueueUrl", {"QueueName": queue_name}).status == 200


@pytest.mark.parametrize(
    ("action", "document"),
    [
        ("TagQueue", {"Tags": {"k": "\ud800"}}),
        ("TagQueue", {"Tags": {"MessageBody": "\ud800"}}),
        ("SetQueueAttributes", {"Attributes": {"MessageBody": "\udfff"}}),
    ],
    ids=["tag-value", "tag-named-MessageBody", "attribute-named-MessageBody"],
)
def test_a_lone_surrogate_outside_a_message_body_is_a_malformed_request(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str, action: str, document: dict[str, Any]
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    body = json.dumps({"QueueUrl": url, **document}).encode()
    assert b"\\ud" in body  # written as a JSON escape, as a JavaScript client would
    message = "Request body holds a string that is not valid Unicode."
    with refused(ekiden, raw, MALFORMED, message, operation=action):
        raw.json(action, body=body)
    assert snapshot(raw, url) == before


def test_a_queue_created_with_a_lone_surrogate_in_a_tag_named_message_body_is_refused(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    body = json.dumps({"QueueName": queue_name, "tags": {"MessageBody": "\ud83d"}}).encode()
    message = "Request body holds a string that is not valid Unicode."
    with refused(ekiden, raw, MALFORMED, message, operation="CreateQueue"):
        raw.json("CreateQueue", body=body)
    assert queue_names(raw, queue_name) == []


def test_a_lone_surrogate_in_a_message_body_is_still_invalid_message_contents(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    body = json.dumps({"QueueUrl": url, "MessageBody": "cut emoji \ud800"}).encode()
    message = f"Invalid binary character '#xD800' was found in the message body, {ALLOWED}"
    with refused(ekiden, raw, INVALID_MESSAGE_CONTENTS, message, operation="SendMessage"):
        raw.json("SendMessage", body=body)
    entries = [{"Id": "cut", "MessageBody": "\udc00"}, {"Id": "whole", "MessageBody": "ok"}]
    batch = raw.json(
        "SendMessageBatch", body=json.dumps({"QueueUrl": url, "Entries": entries}).encode()
    )
    assert batch.status == 200, batch.body
    assert [(f["Id"], f["Code"]) for f in batch.json()["Failed"]] == [
        ("cut", "InvalidMessageContents")
    ]
    assert [m["Body"] for m in receive(raw, url)] == ["ok"]


# --- internal errors -------------------------------------------------------------------

SECRET = "secret detail /var/lib/ekiden/private"


def _request(protocol: str, url: str) -> HttpRequest:
    if protocol == "json":
        headers = {"content-type": JSON_CONTENT_TYPE, "x-amz-target": "AmazonSQS.ListQueueTags"}
        body = json.dumps({"QueueUrl": url}).encode()
    else:
        headers = {"content-type": FORM_CONTENT_TYPE}
        body = urlencode({"Action": "ListQueueTags", "QueueUrl": url}).encode()
    return HttpRequest("POST", "/", "", {"host": "localhost", **headers}, body, "127.0.0.1")


def test_an_internal_error_does_not_echo_its_cause_to_the_client(
    tmp_path: Path, protocol: str
) -> None:
    async def scenario() -> tuple[int, bytes]:
        store = await SqliteStore.open(tmp_path)
        broker = Broker(store, SystemClock(), "000000000000", "us-east-1")
        try:
            await broker.start()
            await broker.queues.create("q", {}, {})

            async def broken(name: str) -> dict[str, str]:
                raise RuntimeError(SECRET)

            broker.queues.list_tags = broken  # type: ignore[method-assign]
            app = SqsApp(broker, "http://localhost")
            answer = await app(_request(protocol, "http://localhost/000000000000/q"))
            return answer.status, answer.body
        finally:
            await broker.stop()
            await store.close()

    status, body = asyncio.run(scenario())
    assert status == 500
    assert b"InternalFailure" in body
    assert b"secret" not in body and b"RuntimeError" not in body
    assert b"We encountered an internal error. Please try again." in body
