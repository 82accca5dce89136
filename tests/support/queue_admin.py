"""Helpers of the queue-management integration tests (no logic of the server)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT_ID = "000000000000"
REGION = "us-east-1"


@dataclass
class Rejection:
    """What a ClientError said; filled in when the ``rejected`` block exits."""

    code: str = ""
    message: str = ""
    status: int = 0


@contextmanager
def rejected(code: str, status: int = 400) -> Iterator[Rejection]:
    """Expect the block to fail with ``code`` (the Query-style code that boto3 reports on
    both protocols) and HTTP ``status``; yields the details for further checks."""
    seen = Rejection()
    with pytest.raises(ClientError) as caught:
        yield seen
    error = caught.value.response["Error"]
    seen.code = error.get("Code", "")
    seen.message = error.get("Message", "")
    seen.status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert (seen.code, seen.status) == (code, status), seen.message


def arn_of(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"


def name_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def attributes(sqs: Any, url: str, *names: str) -> dict[str, str]:
    """The queue attributes ``names`` (``All`` when none are given)."""
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])
    return dict(found.get("Attributes", {}))


def attribute(sqs: Any, url: str, name: str) -> str | None:
    return attributes(sqs, url, name).get(name)


def redrive_policy(dlq_url: str, max_receive_count: int = 1) -> str:
    return json.dumps(
        {"deadLetterTargetArn": arn_of(name_of(dlq_url)), "maxReceiveCount": max_receive_count}
    )


def message_count(sqs: Any, url: str) -> int:
    """Visible + in flight + delayed messages of a queue."""
    found = attributes(
        sqs,
        url,
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    return sum(int(value) for value in found.values())


def eventually(condition: Callable[[], Any], timeout_s: float = 20) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.1)


def dead_letter(sqs: Any, source_url: str, dlq_url: str, bodies: list[str]) -> None:
    """Send ``bodies`` to a source whose RedrivePolicy has maxReceiveCount 1 and receive them
    until every one has been moved to ``dlq_url``."""
    for body in bodies:
        sqs.send_message(QueueUrl=source_url, MessageBody=body)

    def all_dead_lettered() -> bool:
        sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return message_count(sqs, dlq_url) == len(bodies)

    eventually(all_dead_lettered)


def drain_bodies(sqs: Any, url: str, expected: int, timeout_s: float = 20) -> list[str]:
    """Receive and delete until ``expected`` messages arrived; returns their bodies."""
    bodies: list[str] = []
    deadline = time.monotonic() + timeout_s
    while len(bodies) < expected and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies
