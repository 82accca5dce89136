"""A live server whose data directory's filesystem fills up, then gets space back.

The data directory sits on a small tmpfs mounted for the test (skipped where mounting is
not allowed). boto3 sees sends refused with 503 ServiceUnavailable while reads still
answer, /health and the ``ekiden_store_healthy`` gauge say so, and once space returns the
same server (no restart) takes sends again, with every acknowledged message there and no
refused one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess
from tests.support.small_disk import small_tmpfs

HEADROOM_BYTES = 600 * 1024  # left free by the filler: the server fills the rest itself
BODY_BYTES = 64 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs mounted for this test."""
    with small_tmpfs(tmp_path, "8m") as mount_point:
        yield mount_point


def _store_healthy_gauge(endpoint: str) -> str:
    text = requests.get(f"{endpoint}/metrics", timeout=10).text
    (line,) = [line for line in text.splitlines() if line.startswith("ekiden_store_healthy ")]
    return line.split()[1]


def _send_until_refused(sqs: Any, url: str) -> tuple[list[str], ClientError]:
    acknowledged: list[str] = []
    for n in range(500):
        body = f"{n:06d}" + "x" * (BODY_BYTES - 6)
        try:
            sqs.send_message(QueueUrl=url, MessageBody=body)
        except ClientError as error:
            return acknowledged, error
        acknowledged.append(body)
    raise AssertionError("the disk never filled up")


def _receive_all(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600, WaitTimeSeconds=0
        ).get("Messages", [])
        if not got:
            return bodies
        bodies.extend(message["Body"] for message in got)


def test_a_full_data_disk_refuses_sends_with_503_serves_reads_and_recovers(
    small_disk: Path,
) -> None:
    filler = small_disk / "filler"
    with EkidenProcess(small_disk / "data") as server:
        sqs = sqs_client(server.endpoint)
        url = sqs.create_queue(QueueName="disk-full")["QueueUrl"]
        stat = os.statvfs(small_disk)
        filler.write_bytes(b"\0" * max(stat.f_bavail * stat.f_frsize - HEADROOM_BYTES, 0))

        acknowledged, refusal = _send_until_refused(sqs, url)
        assert refusal.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert refusal.response["Error"]["Code"] == "ServiceUnavailable"
        with pytest.raises(ClientError) as receive:  # a receive claims: a write too
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
        assert receive.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503

        assert sqs.list_queues()["QueueUrls"] == [url]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == str(len(acknowledged))
        assert requests.get(f"{server.endpoint}/health", timeout=10).status_code == 503
        assert _store_healthy_gauge(server.endpoint) == "0"

        filler.unlink()  # space returns; the probe notices within its back-off (<= 10 s)
        deadline = time.monotonic() + 20
        while requests.get(f"{server.endpoint}/health", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the server did not recover"
            time.sleep(0.2)
        assert _store_healthy_gauge(server.endpoint) == "1"
        sqs.send_message(QueueUrl=url, MessageBody="after")
        assert sorted(_receive_all(sqs, url)) == sorted([*acknowledged, "after"])
        assert server.stop() == 0
    # Each change of state is logged once by the store, not once per refused request.
    assert server.log_text.count("ekiden.store the store cannot write to its disk") == 1
    assert server.log_text.count("ekiden.store the store can write to its disk again") == 1
