"""Input that is not an acceptable HTTP request at all: bodies over ``max_body_bytes``
(4 MiB by default), bytes that are not HTTP, oversize heads. The server answers with a
plain HTTP error, closes that connection, logs the rejection and keeps serving others."""

from __future__ import annotations

import socket

import pytest
import requests

from tests.support.raw_http import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    RawSqs,
    create_queue,
    logged,
    raw_exchange,
    receive,
    send,
    snapshot,
)
from tests.support.server import EkidenProcess

MAX_BODY_BYTES = 8 * 1024 * 1024


def status_of(answer: bytes) -> int:
    """The status code of the first HTTP response in ``answer``."""
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 "), answer[:200]
    return int(status_line.split()[1])


def assert_serving(raw: RawSqs, url: str) -> None:
    """A new connection is served normally, and the queue works."""
    send(raw, url, "after the storm")
    assert [m["Body"] for m in receive(raw, url)] == ["after the storm"]


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_a_body_over_the_limit_gets_413_and_the_server_stays_up(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str, protocol: str
) -> None:
    url = create_queue(raw, queue_name)
    before = snapshot(raw, url)
    if protocol == "json":
        headers = {"Content-Type": JSON_CONTENT_TYPE, "X-Amz-Target": "AmazonSQS.SendMessage"}
        prefix = f'{{"QueueUrl": "{url}", "MessageBody": "'.encode()
    else:
        headers = {"Content-Type": FORM_CONTENT_TYPE}
        prefix = f"Action=SendMessage&QueueUrl={url}&MessageBody=".encode()
    body = prefix + b"x" * (MAX_BODY_BYTES + 1 - len(prefix))
    assert len(body) == MAX_BODY_BYTES + 1
    with logged(ekiden, "413 Request body too large"):
        response = requests.post(raw.endpoint + "/", data=body, headers=headers, timeout=60)
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert "rejected a request from 127.0.0.1: 413" in ekiden.log_text
    assert snapshot(raw, url) == before
    assert_serving(raw, url)


def test_a_chunked_body_that_grows_over_the_limit_gets_413(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    chunk = b"x" * (1024 * 1024)
    head = (
        b"POST / HTTP/1.1\r\nHost: ekiden\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    )
    over = MAX_BODY_BYTES // len(chunk) + 1
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(over))
    with logged(ekiden, "413 Request body too large"):
        answer = raw_exchange(raw.endpoint, head + chunks + b"0\r\n\r\n")
    assert status_of(answer) == 413
    assert snapshot(raw, url).attributes["ApproximateNumberOfMessages"] == "0"
    assert_serving(raw, url)


def test_a_body_of_exactly_the_limit_is_read_and_answered_by_sqs(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    prefix = f"Action=SendMessage&QueueUrl={url}&MessageBody=".encode()
    body = prefix + b"x" * (MAX_BODY_BYTES - len(prefix))
    with logged(ekiden, "rejected SendMessage: InvalidParameterValue: One or more parameters"):
        response = requests.post(
            raw.endpoint + "/", data=body, headers={"Content-Type": FORM_CONTENT_TYPE}, timeout=60
        )
    # The HTTP layer accepts it; SQS then refuses a 4 MiB message body.
    assert response.status_code == 400
    assert "<Code>InvalidParameterValue</Code>" in response.text
    assert_serving(raw, url)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS hello
        b"HELLO SERVER\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nBad Header Line\r\n\r\n",
    ],
    ids=["tls", "words", "binary", "bad-version", "negative-length", "two-lengths", "bad-header"],
)
def test_bytes_that_are_not_http_get_400_and_the_server_keeps_serving(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str, garbage: bytes
) -> None:
    url = create_queue(raw, queue_name)
    with logged(ekiden, "400 Bad Request"):
        answer = raw_exchange(raw.endpoint, garbage)
    assert status_of(answer) == 400
    assert b"\r\nConnection: close\r\n" in answer
    assert "rejected a request from 127.0.0.1: 400 Bad Request" in ekiden.log_text
    assert_serving(raw, url)


def test_garbage_after_a_good_request_on_the_same_connection_gets_that_request_answered(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    host = raw.endpoint.removeprefix("http://")
    form = f"Action=SendMessage&QueueUrl={url}&MessageBody=first".encode()
    good = (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {FORM_CONTENT_TYPE}\r\n"
        f"Content-Length: {len(form)}\r\n\r\n"
    ).encode() + form
    with logged(ekiden, "400 Bad Request"):
        answer = raw_exchange(raw.endpoint, good + b"\x00garbage\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"<SendMessageResponse" in answer
    assert b"HTTP/1.1 400 Bad Request\r\n" in answer
    assert [m["Body"] for m in receive(raw, url)] == ["first"]


def test_an_endless_request_head_gets_431(
    raw: RawSqs, ekiden: EkidenProcess, queue_name: str
) -> None:
    # The head limit (64 KiB beyond the read that started the request) bounds memory; a
    # 2 MiB header is over it whatever the size of the server's reads.
    url = create_queue(raw, queue_name)
    head = b"GET /?Action=ListQueues HTTP/1.1\r\nX-Filler: " + b"y" * (2 << 20) + b"\r\n\r\n"
    with logged(ekiden, "431 Request Header Fields Too Large"):
        answer = raw_exchange(raw.endpoint, head)
    assert status_of(answer) == 431
    assert_serving(raw, url)


def test_a_client_that_connects_and_leaves_does_not_disturb_the_server(
    raw: RawSqs, queue_name: str
) -> None:
    url = create_queue(raw, queue_name)
    host, port = raw.endpoint.removeprefix("http://").split(":")
    for _ in range(20):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nhalf a bo")
    assert_serving(raw, url)
