"""Small helpers of the integration tests that drive ekiden through boto3 (no logic of the
server): expecting a rejection, polling until a condition holds, reading message counts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError


@dataclass
class Rejection:
    """What a ClientError said, filled in when the ``rejected`` block exits."""

    code: str = ""
    message: str = ""
    status: int = 0


@contextmanager
def rejected(code: str, status: int = 400) -> Iterator[Rejection]:
    """Expect the block to raise a ClientError with ``code`` (the Query-style code both
    protocols report) and HTTP ``status``; yields the details for further checks."""
    seen = Rejection()
    with pytest.raises(ClientError) as caught:
        yield seen
    error = caught.value.response["Error"]
    seen.code = error.get("Code", "")
    seen.message = error.get("Message", "")
    seen.status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert (seen.code, seen.status) == (code, status), seen.message


def counts(sqs: Any, url: str) -> tuple[int, int, int]:
    """(visible, not visible, delayed) as GetQueueAttributes reports them."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    visible, hidden, delayed = (int(attributes[name]) for name in names)
    return visible, hidden, delayed


def receive_all(sqs: Any, url: str, expected: int, timeout_s: float = 10, **kwargs: Any) -> list:
    """Receive until ``expected`` messages arrived (or ``timeout_s`` passed); returns them."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, expected - len(got)),
            WaitTimeSeconds=1,
            **kwargs,
        )
        got.extend(batch.get("Messages", []))
    return got


def eventually(condition: Callable[[], Any], timeout_s: float = 10) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.1)
