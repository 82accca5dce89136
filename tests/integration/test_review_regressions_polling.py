"""Regressions of the review fixes (commit 87632bf) about long polls: a poll whose client
went away stops instead of taking the next message for nobody, and shortening a message's
visibility wakes a waiting poll. Durations are only bounded loosely from above."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.clients import sqs_client
from tests.support.messaging import counts
from tests.support.raw_http import FORM_CONTENT_TYPE, JSON_CONTENT_TYPE
from tests.support.server import EkidenProcess

# A 20 s poll that returns before this proves it was woken rather than timed out.
WELL_BEFORE_TIMEOUT_S = 15


def _long_poll_request(endpoint: str, protocol: str, url: str) -> bytes:
    """A ReceiveMessage with WaitTimeSeconds=20 as raw HTTP/1.1 bytes."""
    host = endpoint.removeprefix("http://")
    if protocol == "json":
        body = json.dumps({"QueueUrl": url, "WaitTimeSeconds": 20}).encode()
        headers = f"Content-Type: {JSON_CONTENT_TYPE}\r\nX-Amz-Target: AmazonSQS.ReceiveMessage\r\n"
    else:
        form = {"Action": "ReceiveMessage", "QueueUrl": url, "WaitTimeSeconds": "20"}
        body = urlencode(form).encode()
        headers = f"Content-Type: {FORM_CONTENT_TYPE}\r\n"
    head = f"POST / HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def test_a_long_poll_whose_client_disconnected_does_not_take_a_later_message(
    sqs: Any, ekiden: EkidenProcess, queue_name: str, protocol: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    host, port = ekiden.endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(_long_poll_request(ekiden.endpoint, protocol, url))
        sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            sock.recv(65536)  # no answer yet: the server is holding the long poll
    # The socket is closed: the client gave up on its poll.

    sqs.send_message(QueueUrl=url, MessageBody="for a live receiver")

    assert counts(sqs, url) == (1, 0, 0), "the abandoned poll took the message"
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
    assert [m["Body"] for m in got] == ["for a live receiver"]
    assert counts(sqs, url) == (0, 1, 0)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)


@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_shortening_a_visibility_timeout_wakes_a_waiting_long_poll(
    sqs: Any, ekiden: EkidenProcess, protocol: str, queue_name: str, batch: bool
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="back soon")
    (held,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    result: dict[str, Any] = {}
    poller_client = sqs_client(ekiden.endpoint, protocol)

    def poll() -> None:
        started = time.monotonic()
        got = poller_client.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
        result["bodies"] = [m["Body"] for m in got]
        result["elapsed_s"] = time.monotonic() - started

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    time.sleep(0.5)  # let the poll settle into its wait (it sleeps up to its full 20 s)
    if batch:
        entry = {"Id": "e", "ReceiptHandle": held["ReceiptHandle"], "VisibilityTimeout": 1}
        changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[entry])
        assert [e["Id"] for e in changed["Successful"]] == ["e"]
    else:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=held["ReceiptHandle"], VisibilityTimeout=1
        )
    poller.join(30)
    assert not poller.is_alive()
    assert result["bodies"] == ["back soon"]
    assert result["elapsed_s"] < WELL_BEFORE_TIMEOUT_S
