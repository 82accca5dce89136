"""Helpers of the queue-management integration tests (no logic of the server)."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.support.messaging import counts, eventually

ACCOUNT_ID = "000000000000"
REGION = "us-east-1"


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
    return sum(counts(sqs, url))


def dead_letter(sqs: Any, source_url: str, dlq_url: str, bodies: list[str]) -> None:
    """Send ``bodies`` to a source whose RedrivePolicy has maxReceiveCount 1 and receive them
    until every one has been moved to ``dlq_url``."""
    for body in bodies:
        sqs.send_message(QueueUrl=source_url, MessageBody=body)

    def all_dead_lettered() -> bool:
        sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return message_count(sqs, dlq_url) == len(bodies)

    eventually(all_dead_lettered, timeout_s=20)


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
