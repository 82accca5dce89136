"""SNS -> function across crashes and config changes, against a live server.

* A publish to a topic with a ``lambda`` subscription is durable: the server is killed
  (SIGKILL) while the invocation runs, and after the restart the function is invoked
  again for the same message, with the same request id (Lambda's at-least-once
  asynchronous delivery).
* A function removed from the config while its deliveries are pending: SNS cannot hand
  the event over (a client-side error), so after the restart the notification goes to
  the subscription's dead-letter queue at once, as AWS does when the function is deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.functions import (
    FunctionsApp,
    function_arn,
    queue_arn,
    receive_all,
    sqs,
    wait_for_queue_url,
)
from tests.support.sns import sns_client

# The first invocation records its request id and then blocks until its server dies (it
# notices that its parent process changed); every later one records and returns.
BLOCKING_HANDLER = """
import os
import time
from recorder import record, seen


def lambda_handler(event, context):
    message = event["Records"][0]["Sns"]["Message"]
    first = not seen("started")
    record("started", request_id=context.aws_request_id, message=message)
    if first:
        parent = os.getppid()
        while os.getppid() == parent:
            time.sleep(0.05)
        return None
    record("done", request_id=context.aws_request_id, message=message)
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path)
    app.write_handler("blocking", BLOCKING_HANDLER)
    yield app
    app.close()


def test_a_publish_survives_sigkill_during_the_invocation_and_is_invoked_again(
    app: FunctionsApp,
) -> None:
    app.write_config(functions={"durable": app.function("blocking:lambda_handler", timeout_s=120)})
    first = app.server().start()
    sns = sns_client(first.endpoint)
    topic = sns.create_topic(Name="durable")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn("durable"))
    published = sns.publish(TopicArn=topic, Message="keep me")
    started = app.wait_records("started", lambda r: len(r) >= 1, 20, "the first invocation")

    first.kill()
    second = app.server().start()

    done = app.wait_records("done", lambda r: len(r) >= 1, 30, "the invocation after restart")
    assert [d["message"] for d in done] == ["keep me"]
    # The same request id: a handler that deduplicates can tell it is the same event.
    assert done[0]["request_id"] == started[0]["request_id"]
    assert published["MessageId"]
    second.stop()
    assert len(app.records("done")) == 1


def test_a_function_removed_from_the_config_sends_pending_events_to_the_subscription_dlq(
    app: FunctionsApp,
) -> None:
    function = app.function("blocking:lambda_handler", timeout_s=120)
    app.write_config(functions={"going": function}, queues=[{"name": "sub-dlq"}])
    first = app.server().start()
    sns = sns_client(first.endpoint)
    topic = sns.create_topic(Name="goes-away")["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="lambda",
        Endpoint=function_arn("going"),
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn("sub-dlq")})},
    )
    sns.publish(TopicArn=topic, Message="orphaned")
    app.wait_records("started", lambda r: len(r) >= 1, 20, "the first invocation")

    first.kill()
    app.write_config(functions={}, queues=[{"name": "sub-dlq"}])
    second = app.server().start()

    client = sqs(second.endpoint)
    dead = receive_all(client, wait_for_queue_url(client, "sub-dlq"), expected=1, timeout_s=20)
    envelope = json.loads(dead[0]["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["Message"] == "orphaned"
    assert app.records("done") == []
    second.stop()
