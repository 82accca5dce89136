"""The real aws-cli (v1, installed next to this interpreter) driving SNS against a live
ekiden: create a topic, subscribe queues with a filter policy, publish, receive with
``aws sqs``. Every command runs as a subprocess with dummy credentials and empty config
files, as a user would type it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_cli import AwsCli, aws_cli_env
from tests.support.server import EkidenProcess
from tests.support.sqs_digests import md5_of_body, md5_of_message_attributes


@pytest.fixture
def aws(ekiden: EkidenProcess, tmp_path: Path) -> AwsCli:
    return AwsCli(ekiden.endpoint, aws_cli_env(tmp_path))


def test_a_topic_made_with_the_cli_fans_out_to_the_three_queues_it_subscribed(
    aws: AwsCli, queue_name: str
) -> None:
    topic = aws("sns", "create-topic", "--name", queue_name)["TopicArn"]
    urls = {}
    for suffix in ("all", "audit", "errors"):
        name = f"{queue_name}-{suffix}"
        urls[suffix] = aws("sqs", "create-queue", "--queue-name", name)["QueueUrl"]
        queue_arn = f"arn:aws:sqs:us-east-1:000000000000:{name}"
        attributes = ["--attributes", "RawMessageDelivery=true"] if suffix == "errors" else []
        aws("sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs",
            "--notification-endpoint", queue_arn, *attributes)  # fmt: skip
    errors_subscription = next(
        s["SubscriptionArn"]
        for s in aws("sns", "list-subscriptions-by-topic", "--topic-arn", topic)["Subscriptions"]
        if s["Endpoint"].endswith("-errors")
    )
    aws("sns", "set-subscription-attributes", "--subscription-arn", errors_subscription,
        "--attribute-name", "FilterPolicy",
        "--attribute-value", json.dumps({"level": ["error"]}))  # fmt: skip

    attributes = {"level": {"DataType": "String", "StringValue": "error"}}
    info = {"level": {"DataType": "String", "StringValue": "info"}}
    published = aws("sns", "publish", "--topic-arn", topic, "--message", "disk full",
                    "--subject", "alert",
                    "--message-attributes", json.dumps(attributes))  # fmt: skip
    aws("sns", "publish", "--topic-arn", topic, "--message", "all good",
        "--message-attributes", json.dumps(info))  # fmt: skip

    raw = aws("sqs", "receive-message", "--queue-url", urls["errors"],
              "--max-number-of-messages", "10", "--wait-time-seconds", "2",
              "--message-attribute-names", "All")["Messages"]  # fmt: skip
    assert [m["Body"] for m in raw] == ["disk full"]
    assert raw[0]["MD5OfMessageAttributes"] == md5_of_message_attributes(attributes)

    audit = _received_envelopes(aws, urls["audit"], 2)
    assert {json.loads(m["Body"])["Message"] for m in audit} == {"disk full", "all good"}
    documents = {
        json.loads(m["Body"])["Message"]: m for m in _received_envelopes(aws, urls["all"], 2)
    }
    assert set(documents) == {"disk full", "all good"}
    alert = documents["disk full"]
    assert alert["MD5OfBody"] == md5_of_body(alert["Body"])
    body = json.loads(alert["Body"])
    assert (body["MessageId"], body["Subject"], body["TopicArn"]) == (
        published["MessageId"],
        "alert",
        topic,
    )


def test_cli_errors_carry_sns_codes(aws: AwsCli, queue_name: str) -> None:
    done = aws.run(
        "sns", "publish", "--topic-arn",
        f"arn:aws:sns:us-east-1:000000000000:{queue_name}-missing", "--message", "m",
    )  # fmt: skip
    assert done.returncode != 0
    assert "(NotFound)" in done.stderr and "Topic does not exist" in done.stderr
    topics = aws("sns", "list-topics")["Topics"]
    assert all(t["TopicArn"].startswith("arn:aws:sns:us-east-1:") for t in topics)


def _received_envelopes(aws: AwsCli, url: str, count: int) -> list[dict[str, Any]]:
    """Receive until ``count`` messages came (or five receives found fewer)."""
    messages: list[dict[str, Any]] = []
    for _ in range(5):
        answer = aws("sqs", "receive-message", "--queue-url", url,
                     "--max-number-of-messages", "10", "--wait-time-seconds", "2",
                     "--visibility-timeout", "60")  # fmt: skip
        messages += answer.get("Messages", [])
        if len(messages) >= count:
            break
    return messages
