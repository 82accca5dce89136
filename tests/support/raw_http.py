"""Raw HTTP access to a running ekiden, for tests of malformed and hostile input.

boto3 validates and serializes before anything reaches the wire, so it cannot send what
these tests need (bad JSON, wrong member types, forged encodings). ``RawSqs`` sends exactly
the bytes it is given over either SQS protocol and parses the answer into ``Answer``;
``refused`` expects one request to be answered with an SQS error and logged as rejected;
``snapshot`` records a queue's observable state so a test can show that a rejected request
changed nothing; ``logged`` waits until the server's log shows a line.
"""

from __future__ import annotations

import json
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from tests.support.server import EkidenProcess

JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
ACCOUNT_ID = "000000000000"
_XMLNS = "{http://queue.amazonaws.com/doc/2012-11-05/}"


@dataclass(frozen=True)
class SqsError:
    """An SQS error as both protocols spell it: the Query-style ``code`` (also JSON's
    x-amzn-query-error header), JSON's ``__type`` and the HTTP ``status``.

    ``json_type`` is None for the errors these tests provoke over the Query protocol only.
    """

    code: str
    json_type: str | None = None
    status: int = 400


_CORAL = "com.amazon.coral.service#"
_SQS = "com.amazonaws.sqs#"
MALFORMED = SqsError("MalformedQueryString", _CORAL + "SerializationException")
MISSING_PARAMETER = SqsError("MissingParameter", _CORAL + "MissingRequiredParameterException")
INVALID_PARAMETER_VALUE = SqsError(
    "InvalidParameterValue", _CORAL + "InvalidParameterValueException"
)
INVALID_ACTION = SqsError("InvalidAction", _CORAL + "UnknownOperationException")
INVALID_ATTRIBUTE_NAME = SqsError("InvalidAttributeName", _SQS + "InvalidAttributeName")
INVALID_ATTRIBUTE_VALUE = SqsError("InvalidAttributeValue", _SQS + "InvalidAttributeValue")
INVALID_MESSAGE_CONTENTS = SqsError("InvalidMessageContents", _SQS + "InvalidMessageContents")
INVALID_BATCH_ENTRY_ID = SqsError(
    "AWS.SimpleQueueService.InvalidBatchEntryId", _SQS + "InvalidBatchEntryId"
)
BATCH_ENTRY_IDS_NOT_DISTINCT = SqsError(
    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", _SQS + "BatchEntryIdsNotDistinct"
)
EMPTY_BATCH_REQUEST = SqsError(
    "AWS.SimpleQueueService.EmptyBatchRequest", _SQS + "EmptyBatchRequest"
)
RECEIPT_HANDLE_IS_INVALID = SqsError("ReceiptHandleIsInvalid", _SQS + "ReceiptHandleIsInvalid", 404)
NON_EXISTENT_QUEUE = SqsError("AWS.SimpleQueueService.NonExistentQueue")

# The JSON-protocol members that the Query protocol spells as flattened lists or maps.
_QUERY_MAPS = {"Attributes": ("Attribute", "Name", "Value"), "tags": ("Tag", "Key", "Value")}
_QUERY_LISTS = {"AttributeNames": "AttributeName", "TagKeys": "TagKey"}


@dataclass
class Answer:
    """One HTTP answer, with the error fields of either protocol parsed out."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    code: str | None = None  # x-amzn-query-error code (JSON) or <Code> (Query)
    fault: str | None = None  # Sender/Receiver from the header (JSON) or <Type> (Query)
    json_type: str | None = None  # __type (JSON only)
    message: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)

    def xml(self) -> ET.Element:
        return ET.fromstring(self.body)

    def xml_text(self, tag: str) -> str | None:
        """The text of the first element named ``tag`` (SQS namespace) in an XML answer."""
        found = self.xml().find(f".//{_XMLNS}{tag}")
        return None if found is None else (found.text or "")


def _answer_of(response: requests.Response) -> Answer:
    answer = Answer(response.status_code, response.headers, response.content)
    content_type = response.headers.get("content-type", "")
    if response.status_code < 400:
        return answer
    if content_type.startswith(JSON_CONTENT_TYPE):
        document = response.json()
        answer.json_type = document.get("__type")
        answer.message = document.get("message")
        header = response.headers.get("x-amzn-query-error")
        if header is not None:
            answer.code, _, answer.fault = header.partition(";")
    elif content_type.startswith("text/xml"):
        error = ET.fromstring(response.content).find(f"{_XMLNS}Error")
        assert error is not None, response.text
        answer.code = error.findtext(f"{_XMLNS}Code")
        answer.fault = error.findtext(f"{_XMLNS}Type")
        answer.message = error.findtext(f"{_XMLNS}Message")
    return answer


def to_query(action: str, params: Mapping[str, Any]) -> dict[str, str]:
    """The Query-protocol form of the JSON-protocol ``params`` of ``action``.

    Covers what these tests send: scalars, the ``Attributes``/``tags`` maps, the
    ``AttributeNames``/``TagKeys`` lists and batch ``Entries``.
    """
    form = {"Action": action}
    for key, value in params.items():
        if key in _QUERY_MAPS:
            prefix, key_name, value_name = _QUERY_MAPS[key]
            for i, (k, v) in enumerate(value.items(), 1):
                form[f"{prefix}.{i}.{key_name}"] = k
                form[f"{prefix}.{i}.{value_name}"] = v
        elif key in _QUERY_LISTS:
            for i, item in enumerate(value, 1):
                form[f"{_QUERY_LISTS[key]}.{i}"] = item
        elif key == "Entries":
            for i, entry in enumerate(value, 1):
                for field, field_value in entry.items():
                    form[f"{action}RequestEntry.{i}.{field}"] = str(field_value)
        else:
            form[key] = str(value)
    return form


class RawSqs:
    """Sends hand-made SQS requests to ``endpoint`` and returns parsed ``Answer``s."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.session = requests.Session()
        # (protocol, answer) of every request sent, oldest first: what ``refused`` checks.
        self.exchanges: list[tuple[str, Answer]] = []

    def _record(self, protocol: str, response: requests.Response) -> Answer:
        answer = _answer_of(response)
        self.exchanges.append((protocol, answer))
        return answer

    def json(
        self,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        body: bytes | None = None,
        target: str | None = None,
    ) -> Answer:
        """POST an AWS JSON 1.0 request; ``body`` replaces the encoded ``params``."""
        data = body if body is not None else json.dumps(params or {}).encode()
        headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "X-Amz-Target": target if target is not None else f"AmazonSQS.{action}",
        }
        return self._record(
            "json", self.session.post(self.endpoint + "/", data=data, headers=headers)
        )

    def query(
        self,
        form: Mapping[str, str] | None = None,
        *,
        body: bytes | None = None,
        path: str = "/",
        method: str = "POST",
    ) -> Answer:
        """A Query-protocol request: the form in a POST body, or in the URL for GET."""
        if method == "GET":
            url = self.endpoint + path + "?" + urlencode(form or {})
            return self._record("query", self.session.get(url))
        data = body if body is not None else urlencode(form or {}).encode()
        headers = {"Content-Type": FORM_CONTENT_TYPE}
        return self._record(
            "query", self.session.post(self.endpoint + path, data=data, headers=headers)
        )

    def call(self, protocol: str, action: str, params: Mapping[str, Any]) -> Answer:
        """``action`` with JSON-protocol ``params`` over ``protocol`` ("json" or "query")."""
        if protocol == "json":
            return self.json(action, params)
        return self.query(to_query(action, params))


def expect_error(answer: Answer, protocol: str, error: SqsError, message: str) -> None:
    """Assert ``answer`` is ``error`` (status, code, fault Sender) with ``message`` on
    ``protocol``; JSON's ``__type`` is checked on JSON only."""
    seen = (answer.status, answer.code, answer.fault, answer.message)
    assert seen == (error.status, error.code, "Sender", message), answer.body
    if protocol == "json":
        assert answer.headers["content-type"] == JSON_CONTENT_TYPE
        assert answer.json() == {"__type": error.json_type, "message": message}
    else:
        assert answer.headers["content-type"].startswith("text/xml")
        assert answer.xml().tag == "{http://queue.amazonaws.com/doc/2012-11-05/}ErrorResponse"
        assert answer.xml_text("RequestId")


@contextmanager
def refused(
    server: EkidenProcess,
    raw: RawSqs,
    error: SqsError,
    message: str,
    *,
    operation: str | None = None,
    log: str | None = None,
) -> Iterator[None]:
    """Expect the block to send one request through ``raw`` that is answered with ``error``
    and ``message`` (see ``expect_error``; over the protocol the request used), and that the
    server logs as rejected: ``rejected <operation>: <code>: <message>`` for ``operation``
    (``request`` where the server cannot tell the action), or else the text ``log``."""
    assert (operation is None) != (log is None), "give either the operation or the log text"
    with logged(server, f"rejected {operation}: {error.code}: {message}" if log is None else log):
        sent_before = len(raw.exchanges)
        yield
    assert len(raw.exchanges) == sent_before + 1, "the block must send exactly one request"
    protocol, answer = raw.exchanges[-1]
    expect_error(answer, protocol, error, message)


def raw_exchange(endpoint: str, data: bytes, timeout_s: float = 10.0) -> bytes:
    """Write ``data`` on a fresh TCP connection and return everything read until the
    server closes it (or ``timeout_s`` passes)."""
    host, port = endpoint.removeprefix("http://").split(":")
    chunks: list[bytes] = []
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


@contextmanager
def logged(server: EkidenProcess, text: str, timeout_s: float = 10.0) -> Iterator[None]:
    """Expect the block to make the server log one more line containing ``text``.

    The log is read by a background thread, so the line may arrive a moment after the
    answer; this waits for it (a bound, not a timing assertion).
    """
    before = server.log_text.count(text)
    yield
    deadline = time.monotonic() + timeout_s
    while server.log_text.count(text) <= before:
        if time.monotonic() > deadline:
            tail = server.log_text[-3000:]
            raise AssertionError(f"the server did not log {text!r}; its log ends with:\n{tail}")
        time.sleep(0.02)


@dataclass(frozen=True)
class QueueState:
    """What a client can observe of a queue, minus nothing a rejected call may change."""

    attributes: dict[str, str]
    tags: dict[str, str]


def snapshot(raw: RawSqs, url: str) -> QueueState:
    """The queue's attributes (All, including counts and LastModifiedTimestamp) and tags."""
    attributes = raw.json("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})
    tags = raw.json("ListQueueTags", {"QueueUrl": url})
    assert attributes.status == 200 and tags.status == 200, (attributes.body, tags.body)
    return QueueState(attributes.json()["Attributes"], tags.json().get("Tags", {}))


def queue_names(raw: RawSqs, prefix: str) -> list[str]:
    """Names of all the queues whose name starts with ``prefix`` (every page)."""
    names: list[str] = []
    params: dict[str, Any] = {"QueueNamePrefix": prefix, "MaxResults": 1000}
    while True:
        answer = raw.json("ListQueues", params)
        assert answer.status == 200, answer.body
        page = answer.json()
        names += [url.rsplit("/", 1)[1] for url in page.get("QueueUrls", [])]
        if not page.get("NextToken"):
            return names
        params["NextToken"] = page["NextToken"]


def create_queue(
    raw: RawSqs, name: str, tags: Mapping[str, str] | None = None, **attributes: str
) -> str:
    params: dict[str, Any] = {"QueueName": name}
    if attributes:
        params["Attributes"] = attributes
    if tags:
        params["tags"] = dict(tags)
    answer = raw.json("CreateQueue", params)
    assert answer.status == 200, answer.body
    url: str = answer.json()["QueueUrl"]
    return url


def queue_url(raw: RawSqs, name: str) -> str:
    return f"{raw.endpoint}/{ACCOUNT_ID}/{name}"


def send(raw: RawSqs, url: str, body: str) -> str:
    answer = raw.json("SendMessage", {"QueueUrl": url, "MessageBody": body})
    assert answer.status == 200, answer.body
    message_id: str = answer.json()["MessageId"]
    return message_id


def receive(raw: RawSqs, url: str, visibility_timeout_s: int = 600) -> list[dict[str, Any]]:
    """One receive of up to 10 messages, hiding them for ``visibility_timeout_s``."""
    answer = raw.json(
        "ReceiveMessage",
        {
            "QueueUrl": url,
            "MaxNumberOfMessages": 10,
            "VisibilityTimeout": visibility_timeout_s,
            "WaitTimeSeconds": 1,
        },
    )
    assert answer.status == 200, answer.body
    messages: list[dict[str, Any]] = answer.json().get("Messages", [])
    return messages
