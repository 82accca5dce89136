"""What a restart keeps: a real ``ekiden serve`` stopped (SIGTERM) or killed (SIGKILL) and
started again on the same data directory, observed through boto3.

The port changes with every start, so each phase talks to the server through a new client
and looks queue URLs up again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.clients import sqs_client
from tests.support.messaging import counts, eventually
from tests.support.queue_admin import arn_of
from tests.support.server import EkidenProcess

ALL_ATTRIBUTES = ["All"]


@pytest.fixture(params=["sigterm", "sigkill"])
def restart(request: pytest.FixtureRequest) -> Callable[[EkidenProcess], Any]:
    """Restart a server the way the test is parametrized with; returns a fresh client."""

    def do_restart(server: EkidenProcess) -> Any:
        if request.param == "sigterm":
            assert server.stop() == 0
        else:
            server.kill()
        server.start()
        return sqs_client(server.endpoint)

    return do_restart


def url_of(sqs: Any, name: str) -> str:
    return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])


def receives_are_on_disk(sqs: Any, url: str) -> None:
    """Make the receives made so far durable before a kill.

    A receive is answered once its claim has run, before that group's COMMIT (a claim
    lost in a crash only makes the message visible again, which at-least-once delivery
    allows); groups commit in order, so an acknowledged write after it -- here a change
    of an attribute to the value it has -- means the claim is on disk too.
    """
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0"})


def receive(sqs: Any, url: str, **options: Any) -> list[dict[str, Any]]:
    options.setdefault("MaxNumberOfMessages", 10)
    answer = sqs.receive_message(
        QueueUrl=url,
        AttributeNames=ALL_ATTRIBUTES,
        MessageAttributeNames=["All"],
        **options,
    )
    return list(answer.get("Messages", []))


def test_queues_with_their_attributes_tags_and_policy_survive_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], Any]
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint)
    dlq = sqs.create_queue(
        QueueName="keep-dlq",
        Attributes={
            "RedriveAllowPolicy": json.dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [arn_of("keep-source")]}
            )
        },
    )["QueueUrl"]
    source = sqs.create_queue(
        QueueName="keep-source",
        Attributes={
            "VisibilityTimeout": "45",
            "DelaySeconds": "3",
            "MessageRetentionPeriod": "7200",
            "MaximumMessageSize": "4096",
            "ReceiveMessageWaitTimeSeconds": "2",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": arn_of("keep-dlq"), "maxReceiveCount": 4}
            ),
        },
        tags={"team": "payments", "env": "test"},
    )["QueueUrl"]
    sqs.add_permission(
        QueueUrl=source,
        Label="let-them-send",
        AWSAccountIds=["111122223333"],
        Actions=["SendMessage"],
    )
    fifo = sqs.create_queue(
        QueueName="keep.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
        },
        tags={"kind": "fifo"},
    )["QueueUrl"]
    before = {
        url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=ALL_ATTRIBUTES)["Attributes"]
        for url in (dlq, source, fifo)
    }
    tags_before = {url: sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) for url in (source, fifo)}
    assert "let-them-send" in before[source]["Policy"]

    sqs = restart(server)

    names = ["keep-dlq", "keep-source", "keep.fifo"]
    assert sorted(sqs.list_queues(QueueNamePrefix="keep").get("QueueUrls", [])) == sorted(
        url_of(sqs, name) for name in names
    )
    for name, old_url in zip(names, (dlq, source, fifo), strict=True):
        url = url_of(sqs, name)
        after = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=ALL_ATTRIBUTES)
        assert after["Attributes"] == before[old_url], name
    assert sqs.list_queue_tags(QueueUrl=url_of(sqs, "keep-source"))["Tags"] == tags_before[source]
    assert sqs.list_queue_tags(QueueUrl=url_of(sqs, "keep.fifo"))["Tags"] == tags_before[fifo]
    sources = sqs.list_dead_letter_source_queues(QueueUrl=url_of(sqs, "keep-dlq"))
    assert sources["queueUrls"] == [url_of(sqs, "keep-source")]


def test_messages_keep_bodies_attributes_digests_and_system_attributes_across_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], Any]
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint)
    url = sqs.create_queue(QueueName="keep-messages")["QueueUrl"]
    attributes = {
        "text": {"DataType": "String", "StringValue": "grüße"},
        "count": {"DataType": "Number.int", "StringValue": "12"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff"},
    }
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="kept body ✓",
        MessageAttributes=attributes,
        MessageSystemAttributes={
            "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5e1b4151-5ac6c58f"}
        },
    )
    sqs.send_message(QueueUrl=url, MessageBody="other")
    (first,) = [m for m in receive(sqs, url, VisibilityTimeout=0) if m["Body"] == "kept body ✓"]
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    receives_are_on_disk(sqs, url)

    sqs = restart(server)
    url = url_of(sqs, "keep-messages")

    assert counts(sqs, url) == (2, 0, 0)
    by_body = {m["Body"]: m for m in receive(sqs, url, VisibilityTimeout=60)}
    assert sorted(by_body) == ["kept body ✓", "other"]
    again = by_body["kept body ✓"]
    assert again["MessageId"] == sent["MessageId"] == first["MessageId"]
    assert again["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert again["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert again["MessageAttributes"] == first["MessageAttributes"]
    assert again["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01\xfe\xff"
    system = again["Attributes"]
    assert system["ApproximateReceiveCount"] == "2"
    for name in ("SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp", "AWSTraceHeader"):
        assert system[name] == first["Attributes"][name], name
    assert by_body["other"]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_in_flight_messages_stay_hidden_across_a_restart_and_reappear_when_visibility_expires(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], Any]
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint)
    url = sqs.create_queue(QueueName="keep-in-flight")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="held")
    (held,) = receive(sqs, url, VisibilityTimeout=600)
    sqs.send_message(QueueUrl=url, MessageBody="short")
    (short,) = receive(sqs, url, VisibilityTimeout=3)
    receives_are_on_disk(sqs, url)

    sqs = restart(server)
    url = url_of(sqs, "keep-in-flight")

    assert counts(sqs, url)[2] == 0
    (back,) = eventually(
        lambda: receive(sqs, url, WaitTimeSeconds=5, VisibilityTimeout=600), timeout_s=30
    )
    assert back["Body"] == "short" and back["MessageId"] == short["MessageId"]
    assert back["Attributes"]["ApproximateReceiveCount"] == "2"
    assert receive(sqs, url) == [], "the message received for 600 s is still hidden"
    assert counts(sqs, url) == (0, 2, 0)
    # The receipt handle of the delivery before the restart still names it.
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=held["ReceiptHandle"], VisibilityTimeout=0
    )
    (held_again,) = receive(sqs, url)
    assert held_again["MessageId"] == held["MessageId"]
    assert held_again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_delayed_messages_stay_delayed_across_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], Any]
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint)
    url = sqs.create_queue(QueueName="keep-delayed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="in ten minutes", DelaySeconds=600)
    sqs.send_message(QueueUrl=url, MessageBody="in two seconds", DelaySeconds=2)

    sqs = restart(server)
    url = url_of(sqs, "keep-delayed")

    (soon,) = eventually(lambda: receive(sqs, url, WaitTimeSeconds=5), timeout_s=30)
    assert soon["Body"] == "in two seconds"
    assert receive(sqs, url) == []
    assert counts(sqs, url) == (0, 1, 1)


def test_the_fifo_dedup_window_survives_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], Any]
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint)
    url = sqs.create_queue(QueueName="keep-dedup.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    first = sqs.send_message(
        QueueUrl=url, MessageBody="once", MessageGroupId="g", MessageDeduplicationId="d-1"
    )
    consumed = sqs.send_message(
        QueueUrl=url, MessageBody="consumed", MessageGroupId="h", MessageDeduplicationId="d-2"
    )
    for message in receive(sqs, url):
        if message["Body"] == "consumed":
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        else:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    sqs = restart(server)
    url = url_of(sqs, "keep-dedup.fifo")

    again = sqs.send_message(
        QueueUrl=url, MessageBody="once", MessageGroupId="g", MessageDeduplicationId="d-1"
    )
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    gone = sqs.send_message(
        QueueUrl=url, MessageBody="consumed", MessageGroupId="h", MessageDeduplicationId="d-2"
    )
    assert gone["MessageId"] == consumed["MessageId"]
    fresh = sqs.send_message(
        QueueUrl=url, MessageBody="new", MessageGroupId="g", MessageDeduplicationId="d-3"
    )
    assert int(fresh["SequenceNumber"]) > int(consumed["SequenceNumber"])
    assert [m["Body"] for m in receive(sqs, url)] == ["once", "new"]


def test_a_fifo_group_blocked_by_an_in_flight_message_stays_blocked_across_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], Any]
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint)
    url = sqs.create_queue(
        QueueName="keep-group.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for body in ("a1", "a2", "b1"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=body[0])
    (a1,) = receive(sqs, url, MaxNumberOfMessages=1, VisibilityTimeout=600)
    assert a1["Body"] == "a1"
    receives_are_on_disk(sqs, url)

    sqs = restart(server)
    url = url_of(sqs, "keep-group.fifo")

    assert [m["Body"] for m in receive(sqs, url, VisibilityTimeout=600)] == ["b1"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=a1["ReceiptHandle"])
    assert [m["Body"] for m in receive(sqs, url)] == ["a2"]


def test_a_running_message_move_task_resumes_after_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], Any]
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint)
    dlq = sqs.create_queue(QueueName="move-dlq")["QueueUrl"]
    source = sqs.create_queue(
        QueueName="move-source",
        Attributes={
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": arn_of("move-dlq"), "maxReceiveCount": 1}
            )
        },
    )["QueueUrl"]
    bodies = [f"m{i:02d}" for i in range(20)]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=source,
            Entries=[{"Id": b, "MessageBody": b} for b in bodies[start : start + 10]],
        )
    for _ in range(100):  # first receive counts 1; the next one dead-letters
        receive(sqs, source, VisibilityTimeout=0)
        if counts(sqs, dlq)[0] == len(bodies):
            break
    assert counts(sqs, dlq) == (len(bodies), 0, 0)
    task = sqs.start_message_move_task(SourceArn=arn_of("move-dlq"), MaxNumberOfMessagesPerSecond=4)
    running = sqs.list_message_move_tasks(SourceArn=arn_of("move-dlq"))["Results"][0]
    assert running["TaskHandle"] == task["TaskHandle"]
    assert running["Status"] == "RUNNING"

    sqs = restart(server)
    source = url_of(sqs, "move-source")

    def finished() -> dict[str, Any] | None:
        result = sqs.list_message_move_tasks(SourceArn=arn_of("move-dlq"))["Results"][0]
        return result if result["Status"] == "COMPLETED" else None

    done = eventually(finished, timeout_s=60)
    assert done["ApproximateNumberOfMessagesMoved"] == len(bodies)
    assert done["ApproximateNumberOfMessagesToMove"] == len(bodies)
    assert counts(sqs, url_of(sqs, "move-dlq")) == (0, 0, 0)
    moved: list[str] = []
    for _ in range(20):
        messages = receive(sqs, source, VisibilityTimeout=600)
        if not messages:
            break
        moved += [m["Body"] for m in messages]
    assert sorted(moved) == bodies


def test_the_purge_time_survives_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], Any]
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint)
    url = sqs.create_queue(QueueName="keep-purge")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="purged")
    sqs.purge_queue(QueueUrl=url)

    sqs = restart(server)
    url = url_of(sqs, "keep-purge")

    with pytest.raises(ClientError) as refused:
        sqs.purge_queue(QueueUrl=url)
    assert refused.value.response["Error"]["Code"] == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert counts(sqs, url) == (0, 0, 0)


def test_sigterm_answers_a_waiting_long_poll_and_exits_cleanly(
    fresh_ekiden: Callable[..., EkidenProcess],
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint)
    url = sqs.create_queue(QueueName="shutdown-poll")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="warm up the connection")
    (warm,) = receive(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=warm["ReceiptHandle"])
    answers: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            answers.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20))
        except BaseException as error:  # reported by the assertions below
            errors.append(error)

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(1.0)  # let the poll reach the server and start waiting
    assert poller.is_alive(), "the long poll must still be waiting"

    code = server.stop(timeout_s=15)  # well before the poll's 20 s are up
    poller.join(15)

    assert code == 0
    assert not poller.is_alive()
    assert errors == []
    assert len(answers) == 1 and "Messages" not in answers[0]
    assert answers[0]["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "shutting down" in server.log_text
    assert server.log_text.rstrip().endswith("stopped")
