"""``ekiden queue ...`` against a live ekiden (its console API), cross-checked with boto3:
tables and --json, bulk sends, receive/peek/purge/delete, redrive, and the errors."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ekiden.cli.main import main
from tests.support.cli_runs import cells, cli_runner
from tests.support.clients import sqs_client
from tests.support.functions import wait_for
from tests.support.messaging import counts
from tests.support.server import EkidenProcess


@pytest.fixture
def sqs(ekiden: EkidenProcess) -> Any:
    return sqs_client(ekiden.endpoint, "json")


@pytest.fixture
def cli(ekiden: EkidenProcess, capsys: pytest.CaptureFixture[str]) -> Any:
    """``cli("queue", "list", ...)`` runs ``ekiden`` in this process against the shared
    server and returns (exit status, stdout, stderr)."""
    return cli_runner(ekiden.endpoint, capsys)


def url_of(sqs: Any, name: str) -> str:
    return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])


def arn_of(sqs: Any, name: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url_of(sqs, name), AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def test_a_created_queue_shows_in_the_table_and_in_the_json(cli: Any, queue_name: str) -> None:
    status, out, err = cli("queue", "create", queue_name)
    assert (status, err) == (0, "")
    header, row = out.splitlines()
    assert cells(header) == ["NAME", "TYPE", "URL"]
    assert cells(row)[:2] == [queue_name, "standard"]

    status, out, _ = cli("queue", "list")
    assert status == 0
    lines = out.splitlines()
    assert cells(lines[0]) == [
        "NAME", "TYPE", "VISIBLE", "IN FLIGHT", "DELAYED", "OLDEST", "DEAD LETTERS TO"
    ]  # fmt: skip
    (mine,) = [cells(line) for line in lines if cells(line)[0] == queue_name]
    assert mine == [queue_name, "standard", "0", "0", "0", "-", "-"]

    status, out, _ = cli("queue", "list", "--json")
    assert status == 0
    (listed,) = [q for q in json.loads(out)["queues"] if q["name"] == queue_name]
    assert listed["visible"] == 0 and listed["fifo"] is False


def test_create_with_fifo_and_attributes_makes_that_queue(
    cli: Any, sqs: Any, queue_name: str
) -> None:
    status, out, _ = cli(
        "queue", "create", queue_name, "--fifo", "--attribute", "VisibilityTimeout=45",
        "--attribute", "ContentBasedDeduplication=true", "--json",
    )  # fmt: skip
    assert status == 0
    assert json.loads(out)["queue"]["name"] == f"{queue_name}.fifo"
    attributes = sqs.get_queue_attributes(
        QueueUrl=url_of(sqs, f"{queue_name}.fifo"), AttributeNames=["All"]
    )["Attributes"]
    assert attributes["FifoQueue"] == "true"
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["ContentBasedDeduplication"] == "true"


def test_a_message_sent_with_the_cli_reaches_boto3_with_its_attributes(
    cli: Any, sqs: Any, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    status, out, _ = cli(
        "queue", "send", queue_name, '{"order": 7}',
        "--attribute", "kind=String:refund", "--attribute", "amount=Number:12.5",
        "--attribute", "blob=Binary:AAEC", "--attribute", "at=12:30", "--json",
    )  # fmt: skip
    assert status == 0
    sent = json.loads(out)
    (message,) = sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=2, MessageAttributeNames=["All"]
    )["Messages"]
    assert message["MessageId"] == sent["message_id"]
    assert message["Body"] == '{"order": 7}'
    assert message["MD5OfBody"] == sent["md5_of_body"]
    assert message["MessageAttributes"] == {
        "kind": {"DataType": "String", "StringValue": "refund"},
        "amount": {"DataType": "Number", "StringValue": "12.5"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"},
        "at": {"DataType": "String", "StringValue": "12:30"},
    }


def test_send_prints_the_message_id_in_a_table(cli: Any, sqs: Any, queue_name: str) -> None:
    sqs.create_queue(QueueName=queue_name)
    status, out, _ = cli("queue", "send", queue_name, "hello")
    assert status == 0
    header, row = out.splitlines()
    assert cells(header) == ["MESSAGE ID", "MD5 OF BODY", "SEQUENCE NUMBER"]
    message_id, md5, sequence = cells(row)
    assert md5 == "5d41402abc4b2a76b9719d911017c592"  # MD5 of "hello"
    assert sequence == "-" and len(message_id) == 36


def test_send_with_a_delay_and_fifo_ids_reaches_boto3(cli: Any, sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=f"{queue_name}.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    status, out, _ = cli(
        "queue", "send", f"{queue_name}.fifo", "first", "--group-id", "g1", "--dedup-id", "d1",
        "--json",
    )  # fmt: skip
    assert status == 0 and json.loads(out)["sequence_number"]
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, AttributeNames=["All"])[
        "Messages"
    ]
    assert message["Attributes"]["MessageGroupId"] == "g1"
    assert message["Attributes"]["MessageDeduplicationId"] == "d1"


def test_bulk_send_with_count_sends_every_message(cli: Any, sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    status, out, err = cli("queue", "send", queue_name, "tick", "--count", "25", "--json")
    assert (status, err) == (0, "")  # stderr is not a terminal: no progress bar
    ids = json.loads(out)["message_ids"]
    assert len(set(ids)) == 25
    assert counts(sqs, url) == (25, 0, 0)


def test_bulk_send_with_attributes_sends_each_with_them(
    cli: Any, sqs: Any, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    status, out, _ = cli(
        "queue", "send", queue_name, "x", "--count", "3", "--attribute", "k=String:v"
    )  # fmt: skip
    assert status == 0
    assert out.startswith(f"sent 3 messages to {queue_name} in ")
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2, MessageAttributeNames=["All"]
    )["Messages"]
    assert len(messages) == 3
    assert all(m["MessageAttributes"]["k"]["StringValue"] == "v" for m in messages)


def test_send_from_a_file_sends_each_line(
    cli: Any, sqs: Any, queue_name: str, tmp_path: Path
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(f"line {i}\n" for i in range(12)) + "\n")
    status, out, _ = cli("queue", "send", queue_name, "--file", str(lines))
    assert status == 0
    assert out.startswith(f"sent 12 messages to {queue_name}")
    bodies = set()
    while len(bodies) < 12:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        assert batch.get("Messages"), bodies
        bodies |= {m["Body"] for m in batch["Messages"]}
    assert bodies == {f"line {i}" for i in range(12)}


def test_send_takes_the_body_from_standard_input(
    cli: Any, sqs: Any, queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("from a pipe\n"))
    assert cli("queue", "send", queue_name)[0] == 0
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]
    assert message["Body"] == "from a pipe"


def test_receive_shows_messages_and_delete_removes_them(
    cli: Any, sqs: Any, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="line one\nline two",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )
    status, out, _ = cli("queue", "receive", queue_name, "--wait", "2", "--visibility", "0")
    assert status == 0
    header, row = out.splitlines()
    assert cells(header) == ["MESSAGE ID", "RECEIVES", "ATTRIBUTES", "BODY"]
    assert cells(row)[1:] == ["1", "k=v", "line one\\nline two"]

    status, out, _ = cli("queue", "receive", queue_name, "--max", "10", "--delete", "--json")
    assert status == 0
    (message,) = json.loads(out)["messages"]
    assert message["body"] == "line one\nline two"
    assert message["receive_count"] == 2 and message["receipt_handle"]
    assert counts(sqs, url) == (0, 0, 0)

    status, out, _ = cli("queue", "receive", queue_name)
    assert (status, out) == (0, "no messages\n")


def test_peek_shows_messages_without_receiving_them(cli: Any, sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    for body in ("first", "second"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    for _ in range(2):
        status, out, _ = cli("queue", "peek", queue_name, "--json")
        assert status == 0
        peeked = json.loads(out)["messages"]
        assert [(m["body"], m["state"], m["receive_count"]) for m in peeked] == [
            ("first", "visible", 0),
            ("second", "visible", 0),
        ]
    status, out, _ = cli("queue", "peek", queue_name, "--max", "1")
    assert status == 0
    header, row = out.splitlines()
    assert cells(header) == ["MESSAGE ID", "STATE", "RECEIVES", "AGE", "GROUP", "BODY"]
    assert cells(row)[1:3] == ["visible", "0"] and cells(row)[-2:] == ["-", "first"]
    assert counts(sqs, url) == (2, 0, 0)


def test_purge_without_a_terminal_needs_yes_and_then_empties_the_queue(
    cli: Any, sqs: Any, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="doomed")
    status, out, err = cli("queue", "purge", queue_name)
    assert (status, out) == (2, "")
    assert err == (
        f"ekiden: will not purge every message of queue {queue_name} without --yes "
        "(standard input is not a terminal)\n"
    )
    assert counts(sqs, url) == (1, 0, 0)

    status, out, _ = cli("queue", "purge", queue_name, "--yes")
    assert (status, out) == (0, f"purged queue {queue_name}\n")
    assert counts(sqs, url) == (0, 0, 0)


def test_delete_needs_yes_and_then_removes_the_queue(cli: Any, sqs: Any, queue_name: str) -> None:
    sqs.create_queue(QueueName=queue_name)
    assert cli("queue", "delete", queue_name)[0] == 2
    status, out, _ = cli("queue", "delete", queue_name, "--yes", "--json")
    assert (status, json.loads(out)) == (0, {})
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=queue_name)


def test_an_unknown_queue_exits_1_with_the_api_message(ekiden: EkidenProcess) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ekiden", "queue", "peek", "no-such-queue-here"],
        env={"EKIDEN_ENDPOINT": ekiden.endpoint, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "ekiden: QueueDoesNotExist: The specified queue does not exist.\n"


def test_every_queue_command_reports_an_unknown_queue(cli: Any) -> None:
    for argv in (
        ("send", "nope-q", "x"),
        ("send", "nope-q", "x", "--count", "2"),
        ("receive", "nope-q"),
        ("purge", "nope-q", "--yes"),
        ("delete", "nope-q", "--yes"),
        ("redrive", "nope-q"),
    ):
        status, out, err = cli("queue", *argv)
        assert (status, out) == (1, ""), argv
        assert err.startswith("ekiden: QueueDoesNotExist: "), (argv, err)


def test_an_endpoint_nobody_listens_on_is_named_in_the_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    assert main(["queue", "list", "--endpoint", endpoint]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ekiden: cannot reach ekiden at {endpoint} (connection refused)")


def test_the_endpoint_comes_from_ekiden_endpoint(
    ekiden: EkidenProcess,
    sqs: Any,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sqs.create_queue(QueueName=queue_name)
    monkeypatch.setenv("EKIDEN_ENDPOINT", ekiden.endpoint)
    assert main(["queue", "list", "--json"]) == 0
    assert queue_name in {q["name"] for q in json.loads(capsys.readouterr().out)["queues"]}


def dead_lettered(sqs: Any, name: str, bodies: list[str]) -> tuple[str, str]:
    """A source queue and its DLQ (maxReceiveCount 1) with ``bodies`` moved into the DLQ."""
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    policy = {"deadLetterTargetArn": arn_of(sqs, f"{name}-dlq"), "maxReceiveCount": 1}
    source = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(policy)})[
        "QueueUrl"
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=source, MessageBody=body)
    received = 0
    while received < len(bodies):  # each message once, with no visibility left
        batch = sqs.receive_message(
            QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
        )
        received += len(batch.get("Messages", []))
    # The next receive finds them over maxReceiveCount and moves them.
    assert sqs.receive_message(QueueUrl=source, WaitTimeSeconds=1).get("Messages", []) == []
    assert counts(sqs, dlq) == (len(bodies), 0, 0)
    return source, dlq


def test_a_redrive_empties_the_dlq_back_into_its_source(
    cli: Any, sqs: Any, queue_name: str
) -> None:
    source, dlq = dead_lettered(sqs, queue_name, ["a", "b", "c"])
    status, out, err = cli("queue", "redrive", f"{queue_name}-dlq")
    assert (status, err) == (0, "")
    header, row = out.splitlines()
    assert cells(header) == ["STATUS", "MOVED", "TO MOVE", "FROM", "TO"]
    assert cells(row) == ["COMPLETED", "3", "3", f"{queue_name}-dlq", "(source queues)"]
    assert counts(sqs, dlq) == (0, 0, 0)
    assert counts(sqs, source) == (3, 0, 0)


def test_a_redrive_to_another_queue_reports_its_task_as_json(
    cli: Any, sqs: Any, queue_name: str
) -> None:
    _, dlq = dead_lettered(sqs, queue_name, ["x"])
    other = sqs.create_queue(QueueName=f"{queue_name}-other")["QueueUrl"]
    status, out, _ = cli(
        "queue", "redrive", f"{queue_name}-dlq", "--to", arn_of(sqs, f"{queue_name}-other"),
        "--rate", "10", "--json",
    )  # fmt: skip
    assert status == 0
    task = json.loads(out)
    assert (task["status"], task["moved"]) == ("COMPLETED", 1)
    assert task["destination_arn"] == arn_of(sqs, f"{queue_name}-other")
    assert counts(sqs, dlq) == (0, 0, 0)
    assert counts(sqs, other) == (1, 0, 0)


def test_a_redrive_without_waiting_returns_the_task_handle(
    cli: Any, sqs: Any, queue_name: str
) -> None:
    _, dlq = dead_lettered(sqs, queue_name, ["y"])
    status, out, _ = cli("queue", "redrive", f"{queue_name}-dlq", "--no-wait", "--json")
    assert status == 0
    assert json.loads(out)["task_handle"]
    # The task goes on in the server after the command returned.
    wait_for(lambda: counts(sqs, dlq) == (0, 0, 0), 20, "the DLQ to be empty")
    status, out, _ = cli("queue", "redrive", f"{queue_name}-dlq", "--no-wait")
    assert status == 0
    assert out.startswith(f"redrive of {queue_name}-dlq started; task handle ")


def test_a_redrive_of_a_queue_that_is_no_dlq_is_refused(
    cli: Any, sqs: Any, queue_name: str
) -> None:
    sqs.create_queue(QueueName=queue_name)
    status, out, err = cli("queue", "redrive", queue_name)
    assert (status, out) == (1, "")
    assert err.startswith("ekiden: ") and err.count("\n") == 1
