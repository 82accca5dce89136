"""The core SQS scenarios through boto3 1.26.165 itself, the last boto3 speaking Query/XML.

The pinned boto3 lives in its own virtual environment (``make install-query`` creates
``.venv-query``), so ``tests/support/old_boto3_scenarios.py`` runs there as a subprocess
and prints a JSON report that these tests assert on. The script computes the SQS digests
from the specification, since botocore does not check them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.scenario_reports import run_scenarios
from tests.support.server import EkidenProcess

ROOT = Path(__file__).resolve().parents[2]
QUERY_PYTHON = ROOT / ".venv-query" / "bin" / "python"
SCRIPT = ROOT / "tests" / "support" / "old_boto3_scenarios.py"


@pytest.fixture(scope="module")
def report(ekiden: EkidenProcess) -> dict[str, Any]:
    if not QUERY_PYTHON.exists():
        pytest.fail(
            f"{QUERY_PYTHON} is missing: run `make install-query` to create the virtual "
            "environment with boto3==1.26.165 / botocore==1.29.165"
        )
    return run_scenarios(
        QUERY_PYTHON,
        SCRIPT,
        ekiden.endpoint,
        "query",
        extra_env={"AWS_EC2_METADATA_DISABLED": "true"},
    )


def test_the_scenarios_ran_with_the_pinned_query_protocol_boto3(report: dict[str, Any]) -> None:
    assert (report["boto3"], report["botocore"]) == ("1.26.165", "1.29.165")
    assert report["protocol"] == "query"


def test_old_boto3_creates_a_queue_and_sets_and_gets_its_attributes(
    report: dict[str, Any],
) -> None:
    queues = report["queues"]
    assert queues["found"] == queues["url"]
    attributes = queues["attributes"]
    assert attributes["VisibilityTimeout"] == "50"
    assert attributes["DelaySeconds"] == "0"
    assert attributes["MaximumMessageSize"] == "2048"
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "2"
    assert attributes["QueueArn"].endswith(":" + queues["url"].rsplit("/", 1)[1])


def test_old_boto3_sends_and_receives_every_attribute_type_with_matching_digests(
    report: dict[str, Any],
) -> None:
    attributes = report["attributes"]
    sent, expected, received = attributes["sent"], attributes["expected"], attributes["received"]
    assert sent["MD5OfMessageBody"] == expected["MD5OfMessageBody"]
    assert sent["MD5OfMessageAttributes"] == expected["MD5OfMessageAttributes"]
    assert sent["MD5OfMessageSystemAttributes"] == expected["MD5OfMessageSystemAttributes"]

    assert attributes["receivedCount"] == 1
    assert received["MessageId"] == sent["MessageId"]
    assert received["Body"] == expected["Body"]  # XML special characters survive
    assert received["MD5OfBody"] == expected["MD5OfMessageBody"]
    assert received["MessageAttributes"] == expected["MessageAttributes"]
    assert received["MD5OfMessageAttributes"] == expected["MD5OfMessageAttributes"]
    system = received["Attributes"]
    assert system["SenderId"] == "AKIDEKIDENQUERY"
    assert system["ApproximateReceiveCount"] == "1"
    assert system["AWSTraceHeader"] == "Root=1-abc-def"
    assert int(system["SentTimestamp"]) > 0


def test_old_boto3_sends_receives_and_deletes_a_batch(report: dict[str, Any]) -> None:
    batch = report["batch"]
    assert batch["failed"] == []
    expected = {e["Id"]: e for e in batch["entries"]}
    successful = {s["Id"]: s for s in batch["successful"]}
    assert sorted(successful) == sorted(expected)
    for entry_id, result in successful.items():
        assert result["MD5OfMessageBody"] == expected[entry_id]["MD5OfMessageBody"]
        assert result["MD5OfMessageAttributes"] == expected[entry_id]["MD5OfMessageAttributes"]

    by_message_id = {s["MessageId"]: f"batch body {s['Id'][1:]}" for s in batch["successful"]}
    assert {m["MessageId"]: m["Body"] for m in batch["received"]} == by_message_id
    for message in batch["received"]:
        assert message["MD5OfMessageAttributes"] == message["computedMD5OfMessageAttributes"]

    assert batch["changeVisibilityStatus"] == 200
    assert batch["deleted"] == ["d0", "d1", "d2", "d3"]
    assert batch["deleteFailed"] == []
    assert batch["left"] == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_old_boto3_makes_a_hidden_message_visible_again(report: dict[str, Any]) -> None:
    visibility = report["visibility"]
    assert visibility["firstIds"] == [visibility["sentId"]]
    assert visibility["hiddenCount"] == 0
    assert visibility["secondIds"] == [visibility["sentId"]]
    assert visibility["secondReceiveCount"] == "2"


def test_old_boto3_sees_a_fifo_group_in_order_without_the_content_duplicate(
    report: dict[str, Any],
) -> None:
    one, two, duplicate, three = report["fifo"]["sends"]
    assert duplicate["MessageId"] == one["MessageId"]
    assert int(one["SequenceNumber"]) < int(two["SequenceNumber"]) < int(three["SequenceNumber"])
    assert report["fifo"]["received"] == [
        {"Body": send["body"], "MessageGroupId": "g", "SequenceNumber": send["SequenceNumber"]}
        for send in (one, two, three)
    ]


def test_old_boto3_gets_the_query_error_code_for_a_missing_queue(report: dict[str, Any]) -> None:
    assert report["missingQueue"] == {
        "thrown": True,
        "code": "AWS.SimpleQueueService.NonExistentQueue",
        "type": "Sender",
        "httpStatusCode": 400,
        "modeledClass": "QueueDoesNotExist",
    }
