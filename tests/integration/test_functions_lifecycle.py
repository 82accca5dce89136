"""Mappings and batches across a server's lifetime: mappings made through the Lambda API
survive a restart (graceful or SIGKILL) with their UUID and keep working; SIGTERM while a
handler is mid-batch lets the batch finish and be deleted before the process exits.

Each test has its own server and data directory (they restart it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.functions import (
    FunctionsApp,
    lambda_client,
    queue_arn,
    queue_counts,
    sqs,
    wait_for,
    wait_for_queue_url,
    write_config,
)

RECORD_HANDLER = """
import time
from recorder import record


def lambda_handler(event, context):
    for r in event["Records"]:
        record("seen", phase="start", body=r["body"], id=r["messageId"])
        if r["body"].startswith("long"):
            time.sleep(2)
        record("seen", phase="done", body=r["body"], id=r["messageId"])
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path)
    app.write_handler("recordit", RECORD_HANDLER)
    app.write_config(functions={"recorder": app.function("recordit:lambda_handler", timeout_s=5)})
    yield app
    app.close()


def _done(app: FunctionsApp, body: str, timeout_s: float = 30) -> None:
    app.wait_records(
        "seen",
        lambda seen: any(r["phase"] == "done" and r["body"] == body for r in seen),
        timeout_s,
        f"{body!r} to be processed",
    )


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_mapping_made_through_the_lambda_api_survives_a_restart_and_keeps_working(
    app: FunctionsApp, how: str
) -> None:
    server = app.server().start()
    client = sqs(server.endpoint)
    url = client.create_queue(QueueName="persisted")["QueueUrl"]
    created = lambda_client(server.endpoint).create_event_source_mapping(
        FunctionName="recorder", EventSourceArn=queue_arn("persisted"), BatchSize=1
    )
    client.send_message(QueueUrl=url, MessageBody="before restart")
    _done(app, "before restart")

    if how == "sigterm":
        assert server.stop() == 0
    else:
        server.kill()
    server.start()
    client = sqs(server.endpoint)
    url = client.get_queue_url(QueueName="persisted")["QueueUrl"]
    mappings = lambda_client(server.endpoint).list_event_source_mappings(FunctionName="recorder")[
        "EventSourceMappings"
    ]
    assert [(m["UUID"], m["EventSourceArn"], m["BatchSize"]) for m in mappings] == [
        (created["UUID"], queue_arn("persisted"), 1)
    ]
    client.send_message(QueueUrl=url, MessageBody="after restart")
    _done(app, "after restart")
    wait_for(lambda: queue_counts(client, url) == (0, 0) or None, 20, "an empty queue")
    server.stop()


def test_sigterm_lets_a_batch_in_flight_finish_and_be_deleted_before_exit(
    app: FunctionsApp,
) -> None:
    app.write_config(
        functions={"recorder": app.function("recordit:lambda_handler", timeout_s=5)},
        mappings=[{"function": "recorder", "queue": "graceful", "batch_size": 1}],
        queues=[{"name": "graceful", "attributes": {"VisibilityTimeout": 60}}],
    )
    server = app.server().start()
    client = sqs(server.endpoint)
    url = wait_for_queue_url(client, "graceful")
    client.send_message(QueueUrl=url, MessageBody="long job")
    app.wait_records(
        "seen", lambda seen: any(r["phase"] == "start" for r in seen), 20, "the handler to start"
    )

    assert server.stop(timeout_s=30) == 0
    phases = [(r["phase"], r["body"]) for r in app.records("seen")]
    assert phases == [("start", "long job"), ("done", "long job")]

    # Restarted without the runtime, nothing can consume the message: if it is not in the
    # queue (visible or in flight) it was deleted before the first process exited.
    quiet = write_config(
        app.root / "quiet.toml",
        functions={"recorder": app.function("recordit:lambda_handler", timeout_s=5)},
        runtime={"enabled": False},
    )
    restarted = app.server("--config", str(quiet), config=False).start()
    client = sqs(restarted.endpoint)
    assert queue_counts(client, client.get_queue_url(QueueName="graceful")["QueueUrl"]) == (0, 0)
    restarted.stop()
