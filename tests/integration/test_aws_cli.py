"""The real aws-cli (v1, installed next to this interpreter) against a live ekiden.

Every command runs as a subprocess with ``--endpoint-url``, dummy credentials and empty
config files, exactly as a user would type it. aws-cli does not check
MD5OfMessageAttributes, so the tests compare the digests with ones computed here.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.support.aws_cli import AwsCli, aws_cli_env
from tests.support.server import EkidenProcess
from tests.support.sqs_digests import md5_of_body, md5_of_message_attributes


class SqsCli(AwsCli):
    """``aws sqs ...`` with a shorthand for the most used command."""

    def create_queue(self, name: str, *args: str) -> str:
        return str(self("create-queue", "--queue-name", name, *args)["QueueUrl"])


@pytest.fixture
def aws(ekiden: EkidenProcess, tmp_path: Path) -> SqsCli:
    return SqsCli(ekiden.endpoint, aws_cli_env(tmp_path), ("sqs",))


def test_a_standard_queue_created_with_attributes_is_listed_and_found_by_name(
    aws: SqsCli, queue_name: str
) -> None:
    url = aws.create_queue(
        queue_name, "--attributes", "VisibilityTimeout=45,MessageRetentionPeriod=3600"
    )
    assert url.endswith(f"/{queue_name}")

    assert aws("get-queue-url", "--queue-name", queue_name) == {"QueueUrl": url}
    listed = aws("list-queues", "--queue-name-prefix", queue_name)
    assert listed["QueueUrls"] == [url]
    attributes = aws("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")
    assert attributes["Attributes"]["VisibilityTimeout"] == "45"
    assert attributes["Attributes"]["MessageRetentionPeriod"] == "3600"
    assert attributes["Attributes"]["QueueArn"].endswith(f":{queue_name}")


def test_a_fifo_queue_delivers_a_group_in_order_and_drops_duplicates(
    aws: SqsCli, queue_name: str
) -> None:
    url = aws.create_queue(
        f"{queue_name}.fifo", "--attributes", "FifoQueue=true,ContentBasedDeduplication=true"
    )
    attributes = aws(
        "get-queue-attributes", "--queue-url", url,
        "--attribute-names", "FifoQueue", "ContentBasedDeduplication",
    )["Attributes"]  # fmt: skip
    assert attributes == {"FifoQueue": "true", "ContentBasedDeduplication": "true"}

    sequence_numbers = []
    for body in ["first", "second", "first"]:  # the second "first" is a content duplicate
        sent = aws("send-message", "--queue-url", url, "--message-body", body,
                   "--message-group-id", "g1")  # fmt: skip
        assert sent["MD5OfMessageBody"] == md5_of_body(body)
        sequence_numbers.append(int(sent["SequenceNumber"]))
    assert sequence_numbers[0] < sequence_numbers[1]

    received = aws(
        "receive-message", "--queue-url", url, "--max-number-of-messages", "10",
        "--attribute-names", "All",
    )["Messages"]  # fmt: skip
    assert [m["Body"] for m in received] == ["first", "second"]
    assert {m["Attributes"]["MessageGroupId"] for m in received} == {"g1"}


def test_a_message_sent_with_attributes_is_received_with_all_attributes_and_then_deleted(
    aws: SqsCli, queue_name: str
) -> None:
    url = aws.create_queue(queue_name)
    attributes = {
        "colour": {"DataType": "String", "StringValue": "blue ✓"},
        "count": {"DataType": "Number", "StringValue": "42"},
        "price": {"DataType": "Number.float", "StringValue": "9.5"},
        "payload": {"DataType": "Binary", "BinaryValue": "raw-bytes"},
    }
    # aws-cli v1 sends a blob argument's text as the bytes themselves (no base64 decoding).
    expected_md5 = md5_of_message_attributes(
        {
            **attributes,
            "payload": {"DataType": "Binary", "BinaryValue": b"raw-bytes"},
        }
    )
    sent = aws(
        "send-message", "--queue-url", url, "--message-body", "héllo wörld",
        "--message-attributes", json.dumps(attributes),
    )  # fmt: skip
    assert sent["MD5OfMessageBody"] == md5_of_body("héllo wörld")
    assert sent["MD5OfMessageAttributes"] == expected_md5

    received = aws(
        "receive-message", "--queue-url", url,
        "--attribute-names", "All", "--message-attribute-names", "All",
    )["Messages"]  # fmt: skip
    assert len(received) == 1
    message = received[0]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "héllo wörld"
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MD5OfMessageAttributes"] == expected_md5
    assert message["MessageAttributes"] == {
        **attributes,
        "payload": {
            "DataType": "Binary",
            "BinaryValue": base64.b64encode(b"raw-bytes").decode(),  # output is base64
        },
    }
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert message["Attributes"]["SenderId"]
    assert int(message["Attributes"]["SentTimestamp"]) > 0

    aws("delete-message", "--queue-url", url, "--receipt-handle", message["ReceiptHandle"])
    assert aws("receive-message", "--queue-url", url) == {}
    counts = aws(
        "get-queue-attributes", "--queue-url", url,
        "--attribute-names", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    )["Attributes"]  # fmt: skip
    assert counts == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_a_batch_sent_from_a_json_file_is_received_in_full(
    aws: SqsCli, queue_name: str, tmp_path: Path
) -> None:
    url = aws.create_queue(queue_name)
    entries = [{"Id": f"entry-{i}", "MessageBody": f"body {i}"} for i in range(5)]
    entries[2]["MessageAttributes"] = {"kind": {"DataType": "String", "StringValue": "special"}}
    batch_file = tmp_path / "entries.json"
    batch_file.write_text(json.dumps(entries))

    result = aws("send-message-batch", "--queue-url", url, "--entries", f"file://{batch_file}")
    assert result["Failed"] == []
    by_id = {entry["Id"]: entry for entry in result["Successful"]}
    assert sorted(by_id) == [entry["Id"] for entry in entries]
    assert by_id["entry-0"]["MD5OfMessageBody"] == md5_of_body("body 0")
    assert "MD5OfMessageAttributes" not in by_id["entry-0"]
    assert by_id["entry-2"]["MD5OfMessageAttributes"] == md5_of_message_attributes(
        entries[2]["MessageAttributes"]
    )

    bodies: dict[str, str] = {}
    while len(bodies) < len(entries):
        got = aws(
            "receive-message", "--queue-url", url, "--max-number-of-messages", "10",
            "--wait-time-seconds", "1", "--message-attribute-names", "All",
        ).get("Messages", [])  # fmt: skip
        assert got, f"only {len(bodies)} of {len(entries)} messages came back"
        bodies.update({m["MessageId"]: m["Body"] for m in got})
    assert bodies == {by_id[e["Id"]]["MessageId"]: e["MessageBody"] for e in entries}


def test_a_message_made_visible_again_is_received_a_second_time(
    aws: SqsCli, queue_name: str
) -> None:
    url = aws.create_queue(queue_name)
    sent = aws("send-message", "--queue-url", url, "--message-body", "again")
    first = aws(
        "receive-message", "--queue-url", url, "--visibility-timeout", "600",
        "--attribute-names", "ApproximateReceiveCount",
    )["Messages"][0]  # fmt: skip
    assert aws("receive-message", "--queue-url", url) == {}  # hidden for ten minutes

    aws(
        "change-message-visibility", "--queue-url", url,
        "--receipt-handle", first["ReceiptHandle"], "--visibility-timeout", "0",
    )  # fmt: skip
    second = aws(
        "receive-message", "--queue-url", url, "--attribute-names", "ApproximateReceiveCount"
    )["Messages"][0]
    assert second["MessageId"] == sent["MessageId"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"


def test_queue_attributes_set_with_the_cli_are_read_back(aws: SqsCli, queue_name: str) -> None:
    url = aws.create_queue(queue_name)
    aws(
        "set-queue-attributes", "--queue-url", url,
        "--attributes", "DelaySeconds=7,ReceiveMessageWaitTimeSeconds=3,VisibilityTimeout=90",
    )  # fmt: skip
    attributes = aws(
        "get-queue-attributes", "--queue-url", url, "--attribute-names",
        "DelaySeconds", "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout",
    )["Attributes"]  # fmt: skip
    assert attributes == {
        "DelaySeconds": "7",
        "ReceiveMessageWaitTimeSeconds": "3",
        "VisibilityTimeout": "90",
    }


def test_tags_added_with_the_cli_are_listed_and_removed(aws: SqsCli, queue_name: str) -> None:
    url = aws.create_queue(queue_name, "--tags", "team=core")
    aws("tag-queue", "--queue-url", url, "--tags", "env=test,owner=ekiden")
    assert aws("list-queue-tags", "--queue-url", url) == {
        "Tags": {"team": "core", "env": "test", "owner": "ekiden"}
    }
    aws("untag-queue", "--queue-url", url, "--tag-keys", "team", "owner")
    assert aws("list-queue-tags", "--queue-url", url) == {"Tags": {"env": "test"}}


def test_a_purged_queue_has_no_messages_left(aws: SqsCli, queue_name: str) -> None:
    url = aws.create_queue(queue_name)
    for i in range(3):
        aws("send-message", "--queue-url", url, "--message-body", f"doomed {i}")

    aws("purge-queue", "--queue-url", url)

    assert aws("receive-message", "--queue-url", url, "--max-number-of-messages", "10") == {}
    attributes = aws(
        "get-queue-attributes", "--queue-url", url, "--attribute-names",
        "ApproximateNumberOfMessages",
    )["Attributes"]  # fmt: skip
    assert attributes == {"ApproximateNumberOfMessages": "0"}


def test_a_deleted_queue_is_no_longer_listed_or_found(aws: SqsCli, queue_name: str) -> None:
    url = aws.create_queue(queue_name)
    aws("delete-queue", "--queue-url", url)

    assert "QueueUrls" not in aws("list-queues", "--queue-name-prefix", queue_name)
    missing = aws.run("get-queue-url", "--queue-name", queue_name)
    assert missing.returncode != 0
    assert "AWS.SimpleQueueService.NonExistentQueue" in missing.stderr


def test_get_queue_url_of_a_missing_queue_exits_non_zero_with_the_sqs_error_code(
    aws: SqsCli, queue_name: str
) -> None:
    done = aws.run("get-queue-url", "--queue-name", f"{queue_name}-never-created")

    assert done.returncode == 255  # aws-cli v1's exit code for an error from the service
    assert "AWS.SimpleQueueService.NonExistentQueue" in done.stderr
    assert "GetQueueUrl" in done.stderr
    assert done.stdout == ""
