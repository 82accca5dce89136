"""SQS -> function end to end: a live ``ekiden serve`` running real handlers from a config.

One server for the module, one queue and mapping per test: the seed handler unchanged, the
event and context a handler receives, FilterCriteria, and the batching window. Everything
is observed from outside: queue contents through boto3, what handlers wrote to files, the
server's log.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.functions import (
    REGION,
    FunctionsApp,
    function_arn,
    log_lines,
    queue_arn,
    queue_counts,
    send_bodies,
    wait_for,
    wait_for_empty,
    wait_for_queue_url,
)
from tests.support.server import EkidenProcess

SEED_HANDLER = """
def lambda_handler(event, context):
    for record in event['Records']:
        print(str(record["body"]))
"""

SHAPE_HANDLER = """
from recorder import record


def lambda_handler(event, context):
    record(
        "shape",
        event=event,
        context={
            "function_name": context.function_name,
            "function_version": getattr(context, "function_version", None),
            "invoked_function_arn": getattr(context, "invoked_function_arn", None),
            "memory_limit_in_mb": getattr(context, "memory_limit_in_mb", None),
            "aws_request_id": getattr(context, "aws_request_id", None),
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    )
"""

SEEN_HANDLER = """
import os
from recorder import record


def lambda_handler(event, context):
    record(
        os.environ["RECORD_FILE"],
        bodies=[r["body"] for r in event["Records"]],
        ids=[r["messageId"] for r in event["Records"]],
    )
"""

SHAPE_TIMEOUT_S = 7


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path_factory.mktemp("functions-sqs"))
    app.write_handler("seed", SEED_HANDLER)
    app.write_handler("shape", SHAPE_HANDLER)
    app.write_handler("seen", SEEN_HANDLER)
    app.write_config(
        functions={
            "hello": app.function("seed:lambda_handler", timeout_s=30),
            "shape": app.function("shape:lambda_handler", timeout_s=SHAPE_TIMEOUT_S),
            "filtered": app.function(
                "seen:lambda_handler", environment={"RECORD_FILE": "filtered"}
            ),
            "windowed": app.function(
                "seen:lambda_handler", environment={"RECORD_FILE": "windowed"}
            ),
        },
        mappings=[
            {"function": "hello", "queue": "hello"},
            {"function": "shape", "queue": "shape"},
            {
                "function": "filtered",
                "queue": "filtered",
                "filters": ['{"body": {"kind": ["order"]}}'],
            },
            {
                "function": "windowed",
                "queue": "windowed",
                "batch_size": 100,
                "maximum_batching_window_s": 2,
            },
        ],
    )
    yield app
    app.close()


def test_seed_handler_prints_every_body_and_the_queue_ends_empty(
    server: EkidenProcess, client: Any
) -> None:
    url = wait_for_queue_url(client, "hello")
    bodies = [f"hello from boto3 #{n}" for n in range(25)]
    send_bodies(client, url, bodies)

    def printed() -> set[str] | None:
        lines = log_lines(server, "hello")
        missing = {body for body in bodies if not any(body in line for line in lines)}
        return None if missing else missing or {"ok"}

    wait_for(
        printed,
        30,
        "every body printed with the [hello] tag",
        last=lambda: log_lines(server, "hello")[-10:],
    )
    wait_for_empty(client, url)
    assert queue_counts(client, url) == (0, 0)


def test_handler_gets_lambdas_sqs_record_shape_and_context(app: FunctionsApp, client: Any) -> None:
    url = wait_for_queue_url(client, "shape")
    sent = client.send_message(
        QueueUrl=url,
        MessageBody='{"hello": "shape"}',
        MessageAttributes={
            "color": {"DataType": "String", "StringValue": "blue"},
            "count": {"DataType": "Number", "StringValue": "42"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01binary"},
        },
    )
    plain = client.send_message(QueueUrl=url, MessageBody="no attributes")

    calls = app.wait_records(
        "shape", lambda calls: len(_records(calls)) >= 2, 30, "the handler to see both messages"
    )
    records = {record["messageId"]: record for record in _records(calls)}
    assert set(records) == {sent["MessageId"], plain["MessageId"]}

    record = records[sent["MessageId"]]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfMessageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["body"] == '{"hello": "shape"}'
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn("shape")
    assert record["awsRegion"] == REGION
    assert isinstance(record["receiptHandle"], str) and record["receiptHandle"]
    attributes = record["attributes"]
    assert set(attributes) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert attributes["ApproximateReceiveCount"] == "1"
    assert all(isinstance(value, str) for value in attributes.values())
    assert int(attributes["ApproximateFirstReceiveTimestamp"]) >= int(attributes["SentTimestamp"])
    assert record["messageAttributes"] == {
        "color": {
            "stringValue": "blue",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "count": {
            "stringValue": "42",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number",
        },
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01binary").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }

    bare = records[plain["MessageId"]]
    assert bare["messageAttributes"] == {}
    assert bare["md5OfMessageAttributes"] is None
    assert bare["md5OfBody"] == plain["MD5OfMessageBody"]

    for call in calls:
        context = call["context"]
        assert context["function_name"] == "shape"
        assert context["invoked_function_arn"] == function_arn("shape")
        assert context["function_version"] == "$LATEST"
        assert int(context["memory_limit_in_mb"]) == 128
        assert context["aws_request_id"]
        assert 0 < context["remaining_ms"] <= SHAPE_TIMEOUT_S * 1000
    wait_for_empty(client, url)


def _records(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for call in calls for record in call["event"]["Records"]]


def test_messages_no_filter_matches_are_deleted_without_an_invocation(
    app: FunctionsApp, client: Any
) -> None:
    url = wait_for_queue_url(client, "filtered")
    orders = [json.dumps({"kind": "order", "n": n}) for n in range(6)]
    others = [json.dumps({"kind": "refund", "n": n}) for n in range(6)] + [
        "not json at all",
        json.dumps({"n": 99}),
    ]
    send_bodies(
        client,
        url,
        [body for pair in zip(orders, others[:6], strict=True) for body in pair] + others[6:],
    )

    wait_for_empty(client, url)
    calls = app.wait_records(
        "filtered", lambda calls: len(_bodies(calls)) >= len(orders), 10, "the orders' invocations"
    )
    assert sorted(_bodies(calls)) == sorted(orders)


def _bodies(calls: list[dict[str, Any]]) -> list[str]:
    return [body for call in calls for body in call["bodies"]]


def test_batching_window_gathers_a_burst_into_few_large_invocations(
    app: FunctionsApp, client: Any
) -> None:
    url = wait_for_queue_url(client, "windowed")
    ids = send_bodies(client, url, [f"burst {n}" for n in range(30)])

    calls = app.wait_records(
        "windowed", lambda calls: sum(len(c["ids"]) for c in calls) >= 30, 30, "all 30 records"
    )
    sizes = [len(call["ids"]) for call in calls]
    assert sorted(i for call in calls for i in call["ids"]) == sorted(ids)
    assert len(calls) <= 3, f"batch sizes {sizes}"
    assert max(sizes) > 10, f"batch sizes {sizes}"
    wait_for_empty(client, url)
