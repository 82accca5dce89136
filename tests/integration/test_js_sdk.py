"""The core SQS scenarios through the AWS SDK for JavaScript v3, a second real client.

``tests/js/sqs_scenarios.mjs`` runs every scenario against the live server and prints a
JSON report; these tests assert on its parts. The SDK checks the body digests itself (a
mismatch makes the script fail); the attribute digests are computed by the script from
the SQS specification and compared here.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.scenario_reports import run_scenarios
from tests.support.server import EkidenProcess

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "sqs_scenarios.mjs"
SDK_PACKAGE = JS_DIR / "node_modules" / "@aws-sdk" / "client-sqs" / "package.json"


def _install_sdk_once() -> None:
    """``npm ci`` in tests/js unless the SDK is there (one installer at a time)."""
    lock_path = Path(tempfile.gettempdir()) / "ekiden-tests-npm-ci.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if SDK_PACKAGE.exists():
            return
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed, so @aws-sdk/client-sqs cannot be installed")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"npm ci failed in {JS_DIR}:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def report(ekiden: EkidenProcess) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    _install_sdk_once()
    return run_scenarios(node, SCRIPT, ekiden.endpoint, "js", cwd=JS_DIR)


def test_the_js_sdk_creates_standard_and_fifo_queues_and_finds_them_by_name(
    report: dict[str, Any],
) -> None:
    queues = report["queues"]
    assert queues["standardUrl"].endswith("-standard")
    assert queues["foundUrl"] == queues["standardUrl"]
    assert queues["fifoUrl"].endswith("-queues.fifo")
    assert queues["standard"]["VisibilityTimeout"] == "40"
    assert queues["standard"]["QueueArn"].endswith(queues["standardUrl"].rsplit("/", 1)[1])
    assert queues["fifo"] == {"FifoQueue": "true", "ContentBasedDeduplication": "true"}


def test_the_js_sdk_sends_and_receives_every_attribute_type_with_matching_digests(
    report: dict[str, Any],
) -> None:
    attributes = report["attributes"]
    sent, expected, received = attributes["sent"], attributes["expected"], attributes["received"]
    assert sent["MD5OfMessageBody"] == expected["MD5OfMessageBody"]
    assert sent["MD5OfMessageAttributes"] == expected["MD5OfMessageAttributes"]
    assert sent["MD5OfMessageSystemAttributes"] == expected["MD5OfMessageSystemAttributes"]

    assert attributes["receivedCount"] == 1
    assert received["MessageId"] == sent["MessageId"]
    assert received["Body"] == expected["Body"]
    assert received["MessageAttributes"] == expected["MessageAttributes"]
    assert received["MD5OfMessageAttributes"] == expected["MD5OfMessageAttributes"]
    assert received["computedMD5OfMessageAttributes"] == expected["MD5OfMessageAttributes"]
    system = received["Attributes"]
    assert system["SenderId"] == "AKIDEKIDENJS"
    assert system["ApproximateReceiveCount"] == "1"
    assert system["AWSTraceHeader"] == "Root=1-5759e988-bd862e3fe1be46a994272793"
    assert int(system["ApproximateFirstReceiveTimestamp"]) >= int(system["SentTimestamp"])


def test_the_js_sdk_sends_receives_and_deletes_a_batch(report: dict[str, Any]) -> None:
    batch = report["batch"]
    assert batch["failed"] == []
    assert [entry["Id"] for entry in batch["successful"]] == ["e0", "e1", "e2", "e3"]
    for entry in batch["successful"]:
        assert entry["MD5OfMessageAttributes"] == batch["expectedAttributeMD5"].get(entry["Id"])

    sent_bodies = {e["MessageId"]: f"batch body {e['Id'][1:]}" for e in batch["successful"]}
    assert {m["MessageId"]: m["Body"] for m in batch["received"]} == sent_bodies
    for message in batch["received"]:
        assert message["MD5OfMessageAttributes"] == message["computedMD5OfMessageAttributes"]

    assert batch["deletedIds"] == ["d0", "d1", "d2", "d3"]
    assert batch["deleteFailed"] == []
    assert batch["left"] == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_the_js_sdk_makes_a_hidden_message_visible_again(report: dict[str, Any]) -> None:
    visibility = report["visibility"]
    assert visibility["firstIds"] == [visibility["sentId"]]
    assert visibility["hiddenCount"] == 0
    assert visibility["secondIds"] == [visibility["sentId"]]
    assert visibility["secondReceiveCount"] == "2"


def test_the_js_sdk_sees_a_fifo_group_in_order_without_the_duplicate(
    report: dict[str, Any],
) -> None:
    fifo = report["fifo"]
    one, two, duplicate, three = fifo["sends"]
    assert duplicate["MessageId"] == one["MessageId"]
    assert int(one["SequenceNumber"]) < int(two["SequenceNumber"]) < int(three["SequenceNumber"])
    assert fifo["received"] == [
        {
            "Body": send["body"],
            "MessageGroupId": "group-a",
            "MessageDeduplicationId": dedup_id,
            "SequenceNumber": send["SequenceNumber"],
        }
        for send, dedup_id in [(one, "d1"), (two, "d2"), (three, "d3")]
    ]


def test_the_js_sdk_reports_a_missing_queue_as_queue_does_not_exist(
    report: dict[str, Any],
) -> None:
    missing = report["missingQueue"]
    assert missing["thrown"] is True
    assert missing["name"] == "QueueDoesNotExist"
    assert missing["code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert missing["httpStatusCode"] == 400
    assert missing["fault"] == "client"


def test_a_js_sdk_long_poll_returns_a_message_sent_while_it_waits(report: dict[str, Any]) -> None:
    long_polling = report["longPolling"]
    assert long_polling["received"] == [
        {"MessageId": long_polling["sentId"], "Body": "worth the wait"}
    ]
