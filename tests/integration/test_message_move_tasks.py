"""StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask over both protocols."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.messaging import eventually, rejected
from tests.support.queue_admin import (
    arn_of,
    dead_letter,
    drain_bodies,
    message_count,
    redrive_policy,
)


@dataclass
class Redrive:
    """A source queue with maxReceiveCount 1 and its dead-letter queue."""

    source: str
    dlq: str
    source_arn: str
    dlq_arn: str


def _redrive(sqs: Any, queue_name: str, fifo: bool = False) -> Redrive:
    suffix = ".fifo" if fifo else ""
    extra = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"{queue_name}-dlq{suffix}", Attributes=extra)["QueueUrl"]
    source = sqs.create_queue(
        QueueName=f"{queue_name}{suffix}",
        Attributes={**extra, "RedrivePolicy": redrive_policy(dlq, 1)},
    )["QueueUrl"]
    return Redrive(
        source, dlq, arn_of(f"{queue_name}{suffix}"), arn_of(f"{queue_name}-dlq{suffix}")
    )


def _latest_task(sqs: Any, source_arn: str) -> dict[str, Any]:
    (task,) = sqs.list_message_move_tasks(SourceArn=source_arn)["Results"]
    return dict(task)


def _finished(sqs: Any, source_arn: str) -> dict[str, Any]:
    """The newest task of ``source_arn`` once it is no longer RUNNING (polls up to 20 s)."""

    def done() -> dict[str, Any] | None:
        task = _latest_task(sqs, source_arn)
        return task if task["Status"] != "RUNNING" else None

    result: dict[str, Any] = eventually(done, timeout_s=20)
    return result


# --- moving messages --------------------------------------------------------------------


def test_dead_lettered_messages_move_back_to_their_source(sqs: Any, queue_name: str) -> None:
    queues = _redrive(sqs, queue_name)
    bodies = [f"poison-{i}" for i in range(4)]
    dead_letter(sqs, queues.source, queues.dlq, bodies)
    handle = sqs.start_message_move_task(SourceArn=queues.dlq_arn)["TaskHandle"]
    assert handle
    task = _finished(sqs, queues.dlq_arn)
    assert task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == 4
    assert task["ApproximateNumberOfMessagesToMove"] == 4
    assert task["SourceArn"] == queues.dlq_arn
    assert "DestinationArn" not in task
    assert "TaskHandle" not in task  # only running tasks carry their handle
    assert message_count(sqs, queues.dlq) == 0
    assert sorted(drain_bodies(sqs, queues.source, 4)) == bodies


def test_move_task_with_a_destination_moves_messages_there(sqs: Any, queue_name: str) -> None:
    queues = _redrive(sqs, queue_name)
    target = sqs.create_queue(QueueName=f"{queue_name}-target")["QueueUrl"]
    dead_letter(sqs, queues.source, queues.dlq, ["a", "b", "c"])
    sqs.start_message_move_task(
        SourceArn=queues.dlq_arn,
        DestinationArn=arn_of(f"{queue_name}-target"),
        MaxNumberOfMessagesPerSecond=100,
    )
    task = _finished(sqs, queues.dlq_arn)
    assert task["Status"] == "COMPLETED"
    assert task["DestinationArn"] == arn_of(f"{queue_name}-target")
    assert task["MaxNumberOfMessagesPerSecond"] == 100
    assert sorted(drain_bodies(sqs, target, 3)) == ["a", "b", "c"]
    assert message_count(sqs, queues.source) == 0
    assert message_count(sqs, queues.dlq) == 0


def test_fifo_dead_letter_queue_moves_back_to_its_fifo_source(sqs: Any, queue_name: str) -> None:
    queues = _redrive(sqs, queue_name, fifo=True)
    for body in ("first", "second"):
        sqs.send_message(QueueUrl=queues.source, MessageBody=body, MessageGroupId="g")

    def dead_lettered() -> bool:
        sqs.receive_message(QueueUrl=queues.source, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return message_count(sqs, queues.dlq) == 2

    eventually(dead_lettered, timeout_s=20)
    sqs.start_message_move_task(SourceArn=queues.dlq_arn)
    assert _finished(sqs, queues.dlq_arn)["Status"] == "COMPLETED"
    assert drain_bodies(sqs, queues.source, 2) == ["first", "second"]


def test_move_task_of_an_empty_dlq_completes_with_nothing_moved(sqs: Any, queue_name: str) -> None:
    queues = _redrive(sqs, queue_name)
    sqs.start_message_move_task(SourceArn=queues.dlq_arn)
    task = _finished(sqs, queues.dlq_arn)
    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"]) == ("COMPLETED", 0)


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0, 501])
def test_rate_outside_1_to_500_is_rejected(sqs: Any, queue_name: str, rate: int) -> None:
    queues = _redrive(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.start_message_move_task(SourceArn=queues.dlq_arn, MaxNumberOfMessagesPerSecond=rate)
    assert "MaxNumberOfMessagesPerSecond" in error.message
    assert sqs.list_message_move_tasks(SourceArn=queues.dlq_arn).get("Results", []) == []


def test_rates_of_1_and_500_are_accepted(sqs: Any, queue_name: str) -> None:
    queues = _redrive(sqs, queue_name)
    for rate in (500, 1):
        sqs.start_message_move_task(SourceArn=queues.dlq_arn, MaxNumberOfMessagesPerSecond=rate)
        assert _finished(sqs, queues.dlq_arn)["MaxNumberOfMessagesPerSecond"] == rate


def test_queue_that_is_no_dlq_cannot_be_a_move_source(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="stays")
    with rejected("InvalidParameterValue") as error:
        sqs.start_message_move_task(SourceArn=arn_of(queue_name))
    assert error.message == "Source queue must be configured as a Dead Letter Queue."


def test_move_task_of_a_missing_source_is_rejected(sqs: Any, queue_name: str) -> None:
    with rejected("ResourceNotFoundException", status=404) as error:
        sqs.start_message_move_task(SourceArn=arn_of(f"{queue_name}-missing"))
    assert error.message == (
        "The resource that you specified for the SourceArn parameter doesn't exist."
    )


def test_move_task_to_a_missing_destination_is_rejected(sqs: Any, queue_name: str) -> None:
    queues = _redrive(sqs, queue_name)
    with rejected("ResourceNotFoundException", status=404) as error:
        sqs.start_message_move_task(
            SourceArn=queues.dlq_arn, DestinationArn=arn_of(f"{queue_name}-missing")
        )
    assert error.message == (
        "The resource that you specified for the DestinationArn parameter doesn't exist."
    )


def test_move_task_with_a_malformed_source_arn_is_rejected(sqs: Any) -> None:
    with rejected("InvalidParameterValue") as error:
        sqs.start_message_move_task(SourceArn="not-an-arn")
    assert error.message.startswith("You must use this format to specify the SourceArn")


def test_move_task_to_a_queue_of_the_other_type_is_rejected(sqs: Any, queue_name: str) -> None:
    queues = _redrive(sqs, queue_name)
    sqs.create_queue(QueueName=f"{queue_name}-target.fifo", Attributes={"FifoQueue": "true"})
    with rejected("InvalidParameterValue"):
        sqs.start_message_move_task(
            SourceArn=queues.dlq_arn, DestinationArn=arn_of(f"{queue_name}-target.fifo")
        )


# --- one task at a time, cancel, list ---------------------------------------------------


def _slow_task(sqs: Any, queue_name: str, messages: int = 10) -> tuple[Redrive, str]:
    """A task moving ``messages`` at 1 a second: it runs for several seconds."""
    queues = _redrive(sqs, queue_name)
    dead_letter(sqs, queues.source, queues.dlq, [f"m{i}" for i in range(messages)])
    handle = sqs.start_message_move_task(SourceArn=queues.dlq_arn, MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]
    return queues, handle


def test_second_task_while_one_runs_is_rejected(sqs: Any, queue_name: str) -> None:
    queues, handle = _slow_task(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.start_message_move_task(SourceArn=queues.dlq_arn)
    assert error.message == (
        "There is already a task running. Only one active task is allowed for a source queue "
        "arn at a given time."
    )
    sqs.cancel_message_move_task(TaskHandle=handle)


def test_running_task_is_listed_with_its_handle(sqs: Any, queue_name: str) -> None:
    queues, handle = _slow_task(sqs, queue_name)
    task = _latest_task(sqs, queues.dlq_arn)
    assert task["Status"] == "RUNNING"
    assert task["TaskHandle"] == handle
    assert task["ApproximateNumberOfMessagesToMove"] == 10
    assert task["StartedTimestamp"] > 1_000_000_000_000  # epoch milliseconds
    sqs.cancel_message_move_task(TaskHandle=handle)


def test_cancel_stops_the_task_and_leaves_the_rest_in_the_dlq(sqs: Any, queue_name: str) -> None:
    queues, handle = _slow_task(sqs, queue_name)
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert moved < 10  # at 1 message a second, a cancel right away leaves most behind
    task = _latest_task(sqs, queues.dlq_arn)
    assert task["Status"] in ("CANCELLING", "CANCELLED")
    assert "TaskHandle" not in task
    final = _finished(sqs, queues.dlq_arn)
    assert final["Status"] == "CANCELLED"
    in_source = message_count(sqs, queues.source)
    assert in_source == final["ApproximateNumberOfMessagesMoved"]
    assert in_source + message_count(sqs, queues.dlq) == 10


def test_a_new_task_may_start_after_a_cancel(sqs: Any, queue_name: str) -> None:
    queues, handle = _slow_task(sqs, queue_name, messages=3)
    sqs.cancel_message_move_task(TaskHandle=handle)
    sqs.start_message_move_task(SourceArn=queues.dlq_arn)
    assert _finished(sqs, queues.dlq_arn)["Status"] == "COMPLETED"
    assert message_count(sqs, queues.dlq) == 0
    assert sorted(drain_bodies(sqs, queues.source, 3)) == ["m0", "m1", "m2"]


def test_list_returns_newest_first_and_one_by_default(sqs: Any, queue_name: str) -> None:
    queues = _redrive(sqs, queue_name)
    sqs.start_message_move_task(SourceArn=queues.dlq_arn, MaxNumberOfMessagesPerSecond=7)
    _finished(sqs, queues.dlq_arn)
    sqs.start_message_move_task(SourceArn=queues.dlq_arn, MaxNumberOfMessagesPerSecond=9)
    _finished(sqs, queues.dlq_arn)
    assert _latest_task(sqs, queues.dlq_arn)["MaxNumberOfMessagesPerSecond"] == 9
    both = sqs.list_message_move_tasks(SourceArn=queues.dlq_arn, MaxResults=10)["Results"]
    assert [task["MaxNumberOfMessagesPerSecond"] for task in both] == [9, 7]


def test_list_of_a_queue_without_tasks_is_empty(sqs: Any, queue_name: str) -> None:
    queues = _redrive(sqs, queue_name)
    assert sqs.list_message_move_tasks(SourceArn=queues.dlq_arn).get("Results", []) == []


def test_list_of_a_missing_source_is_rejected(sqs: Any, queue_name: str) -> None:
    with rejected("ResourceNotFoundException", status=404):
        sqs.list_message_move_tasks(SourceArn=arn_of(f"{queue_name}-missing"))


def test_cancel_with_a_handle_that_does_not_decode_is_rejected(sqs: Any) -> None:
    with rejected("InvalidParameterValue") as error:
        sqs.cancel_message_move_task(TaskHandle="certainly-not-a-task-handle")
    assert error.message == "Value for parameter TaskHandle is invalid."


def test_cancel_with_an_unknown_task_id_is_rejected(sqs: Any, queue_name: str) -> None:
    queues = _redrive(sqs, queue_name)
    forged = {"taskId": "00000000-0000-0000-0000-000000000000", "sourceArn": queues.dlq_arn}
    handle = base64.b64encode(json.dumps(forged).encode()).decode()
    with rejected("ResourceNotFoundException", status=404) as error:
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert error.message == "Task does not exist."


def test_cancel_with_a_handle_of_a_missing_source_is_rejected(sqs: Any, queue_name: str) -> None:
    forged = {"taskId": "t", "sourceArn": arn_of(f"{queue_name}-missing")}
    handle = base64.b64encode(json.dumps(forged).encode()).decode()
    with rejected("ResourceNotFoundException", status=404) as error:
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert error.message == (
        "The resource that you specified for the SourceArn parameter doesn't exist."
    )


def test_cancel_of_a_completed_task_is_rejected(sqs: Any, queue_name: str) -> None:
    queues = _redrive(sqs, queue_name)
    handle = sqs.start_message_move_task(SourceArn=queues.dlq_arn)["TaskHandle"]
    _finished(sqs, queues.dlq_arn)
    with pytest.raises(sqs.exceptions.ClientError):
        sqs.cancel_message_move_task(TaskHandle=handle)
