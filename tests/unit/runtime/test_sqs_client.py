"""The runtime's SQS client without a server: its requests against botocore's, error
parsing, and the queue URL helpers."""

from __future__ import annotations

import datetime
from typing import Any

import botocore.auth
import botocore.session
import pytest
from botocore import xform_name

from ekiden.runtime.sqs_client import (
    Credentials,
    SqsClient,
    SqsError,
    error_from_answer,
    queue_arn_from_url,
    queue_name_from_url,
)
from ekiden.runtime.sqs_http import Answer

WHEN = "20260102T030405Z"
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders"


def parse_request(data: bytes) -> tuple[str, dict[str, str], bytes]:
    """(request line, headers by lower-case name, body) of raw HTTP/1.1 request bytes."""
    head, _, body = data.partition(b"\r\n\r\n")
    line, *fields = head.decode().split("\r\n")
    headers = {}
    for field in fields:
        name, _, value = field.partition(":")
        headers[name.strip().lower()] = value.strip()
    return line, headers, body


def botocore_request(
    action: str, params: dict[str, Any], token: str | None, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[str, str], bytes]:
    """What botocore sends for ``action`` at ``WHEN`` (captured before it is sent)."""
    fixed = datetime.datetime.strptime(WHEN, "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: fixed)
    client = botocore.session.get_session().create_client(
        "sqs",
        region_name="eu-west-1",
        endpoint_url="https://sqs.eu-west-1.amazonaws.com",
        aws_access_key_id="AKIDRUNTIME",
        aws_secret_access_key="runtime/secret+key",
        aws_session_token=token,
    )
    captured: dict[str, Any] = {}

    class Captured(Exception):
        pass

    def capture(request: Any, **_: Any) -> None:
        captured["request"] = request
        raise Captured

    client.meta.events.register("before-send.sqs.*", capture)
    with pytest.raises(Captured):
        getattr(client, xform_name(action))(**params)
    request = captured["request"]
    headers = {
        name.lower(): value.decode() if isinstance(value, bytes) else str(value)
        for name, value in request.headers.items()
    }
    return f"{request.method} {request.url}", headers, request.body


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLETOKEN//="])
def test_a_receive_is_signed_exactly_as_botocore_signs_it(
    token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = {
        "QueueUrl": QUEUE_URL,
        "MaxNumberOfMessages": 10,
        "WaitTimeSeconds": 20,
        "AttributeNames": ["All"],
        "MessageSystemAttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    }
    _, theirs, body = botocore_request("ReceiveMessage", params, token, monkeypatch)
    client = SqsClient(
        "https://sqs.eu-west-1.amazonaws.com",
        region="eu-west-1",
        credentials=Credentials("AKIDRUNTIME", "runtime/secret+key", token),
    )
    # The same body bytes (botocore's JSON has spaces, ours not): the signatures must match.
    line, ours, our_body = parse_request(
        client.build_request("ReceiveMessage", body, amz_date=WHEN)
    )
    assert line == "POST / HTTP/1.1"
    assert our_body == body
    for name in (
        "authorization",
        "x-amz-date",
        "x-amz-target",
        "content-type",
        "x-amzn-query-mode",
        "content-length",
    ):
        assert ours[name] == theirs[name], name
    assert ours.get("x-amz-security-token") == theirs.get("x-amz-security-token")
    assert ours["host"] == "sqs.eu-west-1.amazonaws.com"


def test_an_unsigned_request_names_the_sqs_service_in_its_credential_scope() -> None:
    client = SqsClient("http://127.0.0.1:9324", region="us-east-1")
    line, headers, body = parse_request(client.build_request("GetQueueUrl", b'{"QueueName":"q"}'))
    assert line == "POST / HTTP/1.1"
    assert headers["host"] == "127.0.0.1:9324"
    assert "/us-east-1/sqs/aws4_request" in headers["authorization"]
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ekidenruntime/")
    assert headers["x-amz-target"] == "AmazonSQS.GetQueueUrl"
    assert headers["content-length"] == str(len(body))


def test_an_endpoint_with_a_path_is_posted_to_and_signed_with_that_path() -> None:
    client = SqsClient(
        "https://proxy.example:8443/sqs/", region="us-east-1", credentials=Credentials("AK", "SK")
    )
    line, headers, _ = parse_request(client.build_request("GetQueueUrl", b"{}"))
    assert line == "POST /sqs/ HTTP/1.1"
    assert headers["host"] == "proxy.example:8443"


@pytest.mark.parametrize("url", ["ftp://host", "http://", "http://host/?a=1", "http://h:x/"])
def test_an_endpoint_that_is_not_an_http_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        SqsClient(url, region="us-east-1")


def test_an_error_answer_takes_its_code_from_the_type_after_the_hash() -> None:
    answer = Answer(
        400,
        {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
        b'{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The queue does not exist."}',
    )
    error = error_from_answer("GetQueueUrl", answer)
    assert isinstance(error, SqsError)
    assert (error.code, error.message, error.status, error.retryable) == (
        "QueueDoesNotExist",
        "The queue does not exist.",
        400,
        False,
    )
    assert error.query_code == "AWS.SimpleQueueService.NonExistentQueue"
    assert error.action == "GetQueueUrl"


def test_an_error_answer_without_a_json_type_falls_back_to_the_query_error_header() -> None:
    answer = Answer(400, {"x-amzn-query-error": "AWS.SimpleQueueService.Foo;Sender"}, b"<html/>")
    error = error_from_answer("SendMessage", answer)
    assert error.code == "AWS.SimpleQueueService.Foo"
    assert error.message == "<html/>"


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (500, b'{"__type":"com.amazonaws.sqs#InternalError"}', True),
        (503, b"Service Unavailable", True),
        (400, b'{"__type":"com.amazonaws.sqs#ThrottlingException","message":"slow"}', True),
        (400, b'{"__type":"RequestThrottled"}', True),
        (429, b"", True),
        (400, b'{"__type":"com.amazonaws.sqs#InvalidParameterValue"}', False),
        (403, b'{"__type":"com.amazonaws.sqs#AccessDenied"}', False),
    ],
)
def test_server_errors_and_throttling_are_retryable_and_client_errors_are_not(
    status: int, body: bytes, retryable: bool
) -> None:
    assert error_from_answer("X", Answer(status, {}, body)).retryable is retryable


def test_a_type_with_a_namespace_suffix_is_cut_like_botocore_cuts_it() -> None:
    body = b'{"__type":"com.amazonaws.sqs#OverLimit:http://internal.amazon.com/"}'
    assert error_from_answer("X", Answer(400, {}, body)).code == "OverLimit"


def test_an_error_with_no_code_at_all_is_named_by_its_status() -> None:
    assert error_from_answer("X", Answer(502, {}, b"")).code == "HTTP 502"


def test_queue_names_and_arns_are_read_from_queue_urls() -> None:
    assert queue_name_from_url(QUEUE_URL) == "orders"
    assert queue_name_from_url("http://127.0.0.1:9324/000000000000/q.fifo/") == "q.fifo"
    assert queue_arn_from_url(QUEUE_URL, "eu-west-1") == (
        "arn:aws:sqs:eu-west-1:123456789012:orders"
    )
    assert queue_arn_from_url("https://sqs.cn-north-1.amazonaws.com.cn/1/q", "cn-north-1") == (
        "arn:aws-cn:sqs:cn-north-1:1:q"
    )
    with pytest.raises(ValueError):
        queue_arn_from_url("http://host/q", "us-east-1")
