"""``ekiden topic ...`` against a live ekiden (its console API), cross-checked with boto3:
a topic made and subscribed with the CLI delivers what the CLI publishes to an SQS queue."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.cli_runs import cells, cli_runner
from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess
from tests.support.sns import sns_client


@pytest.fixture
def sqs(ekiden: EkidenProcess) -> Any:
    return sqs_client(ekiden.endpoint, "json")


@pytest.fixture
def sns(ekiden: EkidenProcess) -> Any:
    return sns_client(ekiden.endpoint)


@pytest.fixture
def cli(ekiden: EkidenProcess, capsys: pytest.CaptureFixture[str]) -> Any:
    """``cli("topic", "list", ...)``: (exit status, stdout, stderr) of ``ekiden`` run in
    this process against the shared server."""
    return cli_runner(ekiden.endpoint, capsys)


def test_a_created_topic_shows_in_the_table_and_in_the_json(
    cli: Any, sns: Any, queue_name: str
) -> None:
    status, out, err = cli("topic", "create", queue_name)
    assert (status, err) == (0, "")
    header, row = out.splitlines()
    assert cells(header) == ["NAME", "TYPE", "ARN"]
    name, kind, arn = cells(row)
    assert (name, kind) == (queue_name, "standard")
    assert arn in {t["TopicArn"] for t in sns.list_topics()["Topics"]}

    status, out, _ = cli("topic", "list")
    assert status == 0
    lines = out.splitlines()
    assert cells(lines[0]) == ["NAME", "TYPE", "SUBSCRIPTIONS", "ARN"]
    assert [queue_name, "standard", "0", arn] in [cells(line) for line in lines[1:]]

    status, out, _ = cli("topic", "list", "--json")
    (listed,) = [t for t in json.loads(out)["topics"] if t["name"] == queue_name]
    assert (listed["arn"], listed["fifo"], listed["subscriptions"]) == (arn, False, [])


def test_fifo_flag_creates_a_fifo_topic(cli: Any, sns: Any, queue_name: str) -> None:
    status, out, _ = cli("topic", "create", queue_name, "--fifo", "--json")
    assert status == 0
    topic = json.loads(out)["topic"]
    assert (topic["name"], topic["fifo"]) == (f"{queue_name}.fifo", True)
    attributes = sns.get_topic_attributes(TopicArn=topic["arn"])["Attributes"]
    assert attributes["FifoTopic"] == "true"


def test_a_message_published_with_the_cli_reaches_a_queue_subscribed_with_it(
    cli: Any, sqs: Any, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    assert cli("topic", "create", queue_name)[0] == 0
    status, out, _ = cli(
        "topic", "subscribe", queue_name, "sqs", queue_name,
        "--filter-policy", '{"kind": ["refund"]}',
    )  # fmt: skip
    assert status == 0
    header, arn = out.splitlines()
    assert header == "SUBSCRIPTION ARN" and arn.startswith("arn:aws:sns:")

    status, out, _ = cli(
        "topic", "publish", queue_name, "filtered out", "--attribute", "kind=String:sale"
    )  # fmt: skip
    assert status == 0
    status, out, _ = cli(
        "topic", "publish", queue_name, "money back", "--subject", "Refund",
        "--attribute", "kind=String:refund", "--json",
    )  # fmt: skip
    assert status == 0
    published = json.loads(out)
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)[
        "Messages"
    ]
    envelope = json.loads(message["Body"])
    assert envelope["MessageId"] == published["message_id"]
    assert (envelope["Message"], envelope["Subject"]) == ("money back", "Refund")
    assert envelope["MessageAttributes"]["kind"] == {"Type": "String", "Value": "refund"}

    status, out, _ = cli("topic", "list", "--json")
    (listed,) = [t for t in json.loads(out)["topics"] if t["name"] == queue_name]
    (subscription,) = listed["subscriptions"]
    assert (subscription["arn"], subscription["protocol"]) == (arn, "sqs")
    assert json.loads(subscription["filter_policy"]) == {"kind": ["refund"]}


def test_raw_delivery_hands_the_queue_the_bare_message_and_its_attributes(
    cli: Any, sqs: Any, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert cli("topic", "create", queue_name)[0] == 0
    status, out, _ = cli("topic", "subscribe", queue_name, "sqs", arn, "--raw", "--json")
    assert status == 0 and json.loads(out)["subscription_arn"]
    status, out, _ = cli(
        "topic", "publish", queue_name, "plain", "--attribute", "n=Number:3"
    )  # fmt: skip
    assert status == 0
    header, row = out.splitlines()
    assert cells(header) == ["MESSAGE ID", "SEQUENCE NUMBER"] and cells(row)[1] == "-"
    (message,) = sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=2, MessageAttributeNames=["All"]
    )["Messages"]
    assert message["Body"] == "plain"
    assert message["MessageAttributes"] == {"n": {"DataType": "Number", "StringValue": "3"}}


def test_a_filter_policy_that_is_not_json_is_a_usage_error(cli: Any, queue_name: str) -> None:
    assert cli("topic", "create", queue_name)[0] == 0
    status, out, err = cli("topic", "subscribe", queue_name, "sqs", "q", "--filter-policy", "{")
    assert (status, out) == (2, "")
    assert err.startswith("ekiden: --filter-policy is not JSON: ")


def test_delete_needs_yes_and_then_removes_the_topic(cli: Any, sns: Any, queue_name: str) -> None:
    status, out, _ = cli("topic", "create", queue_name, "--json")
    arn = json.loads(out)["topic"]["arn"]
    status, _, err = cli("topic", "delete", queue_name)
    assert status == 2 and "--yes" in err
    status, out, _ = cli("topic", "delete", queue_name, "--yes")
    assert (status, out) == (0, f"deleted topic {queue_name}\n")
    assert arn not in {t["TopicArn"] for t in sns.list_topics()["Topics"]}


def test_an_unknown_topic_exits_1_with_the_api_message(cli: Any) -> None:
    for argv in (
        ("publish", "no-such-topic", "hi"),
        ("delete", "no-such-topic", "--yes"),
        ("subscribe", "no-such-topic", "http", "http://127.0.0.1:1/"),
    ):
        status, out, err = cli("topic", *argv)
        assert (status, out) == (1, ""), argv
        assert err.startswith("ekiden: TopicDoesNotExist: "), (argv, err)
        assert err.count("\n") == 1
