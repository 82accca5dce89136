"""Scaling of an SQS mapping, seen from the handlers: how many batches run at once.

A handler sleeps 0.5 s per one-record batch and records when it started and ended; the
largest number of overlapping intervals is the concurrency the mapping reached. Lambda
starts at 5 concurrent batches and scales up while the backlog lasts, never beyond
ScalingConfig.MaximumConcurrency. Only "eventually, within a deadline" is asserted about
time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.functions import (
    FunctionsApp,
    max_overlap,
    send_bodies,
    sqs,
    wait_for_empty,
    wait_for_queue_url,
)

SLEEPY_HANDLER = """
import os
import time
from recorder import record


def lambda_handler(event, context):
    start = time.time()
    time.sleep(0.5)
    record(os.environ["RECORD_FILE"], start=start, end=time.time(),
           ids=[r["messageId"] for r in event["Records"]])
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path_factory.mktemp("functions-scaling"))
    app.write_handler("sleepy", SLEEPY_HANDLER)
    app.write_config(
        functions={
            name: app.function("sleepy:lambda_handler", environment={"RECORD_FILE": name})
            for name in ("capped5", "capped20")
        },
        mappings=[
            {"function": "capped5", "queue": "capped5", "batch_size": 1, "maximum_concurrency": 5},
            {
                "function": "capped20",
                "queue": "capped20",
                "batch_size": 1,
                "maximum_concurrency": 20,
            },
        ],
        queues=[{"name": "capped5"}, {"name": "capped20"}],
    )
    yield app
    app.close()


def _intervals(calls: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(call["start"], call["end"]) for call in calls]


def test_concurrency_reaches_five_and_never_exceeds_maximum_concurrency_five(
    app: FunctionsApp, client: Any
) -> None:
    url = wait_for_queue_url(client, "capped5")
    ids = send_bodies(client, url, [f"m{n}" for n in range(200)])

    calls = app.wait_records(
        "capped5", lambda calls: len(calls) >= 200, 90, "all 200 one-record batches"
    )
    wait_for_empty(client, url)
    assert sorted(i for call in calls for i in call["ids"]) == sorted(ids)
    assert max_overlap(_intervals(calls)) == 5


def test_concurrency_rises_above_five_with_a_backlog_and_stays_under_its_maximum(
    app: FunctionsApp, client: Any
) -> None:
    url = wait_for_queue_url(client, "capped20")
    ids = send_bodies(client, url, [f"m{n}" for n in range(400)])

    app.wait_records(
        "capped20",
        lambda calls: max_overlap(_intervals(calls)) > 5,
        60,
        "more than 5 batches at once",
    )
    calls = app.wait_records(
        "capped20", lambda calls: len(calls) >= 400, 90, "all 400 one-record batches"
    )
    wait_for_empty(client, url)
    assert sorted(i for call in calls for i in call["ids"]) == sorted(ids)
    peak = max_overlap(_intervals(calls))
    assert 5 < peak <= 20


IDLE_MAPPINGS = 14  # 5 slots each: 70 long polls, more than the runtime's 64 connections


def test_many_idle_mappings_do_not_hold_up_the_delete_of_a_processed_message(
    tmp_path: Path,
) -> None:
    app = FunctionsApp(tmp_path)
    app.write_handler("noop", "def lambda_handler(event, context):\n    pass\n")
    app.write_config(
        functions={"noop": app.function("noop:lambda_handler")},
        mappings=[{"function": "noop", "queue": f"idle{n}"} for n in range(IDLE_MAPPINGS)],
    )
    try:
        with app.server() as server:
            client = sqs(server.endpoint)
            urls = [wait_for_queue_url(client, f"idle{n}") for n in range(IDLE_MAPPINGS)]
            client.send_message(QueueUrl=urls[0], MessageBody="one")
            # A delete that waits for a free connection behind 20 s long polls would let
            # the message's visibility run out and deliver it again.
            wait_for_empty(client, urls[0], timeout_s=5)
    finally:
        app.close()
