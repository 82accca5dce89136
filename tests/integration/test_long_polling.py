"""Long polling is event-driven: a waiting receive answers as soon as a message can be
delivered, not at the end of its wait. Durations are only bounded loosely from above, to
prove that a receive did not sit out its full 20 s."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.support.clients import sqs_client

# A 20 s poll that returns before this proves it was woken rather than timed out.
WELL_BEFORE_TIMEOUT_S = 10


def make_queue(sqs: Any, name: str, **attributes: str) -> str:
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def later(delay_s: float, action: Callable[[], Any]) -> threading.Thread:
    """Run ``action`` on another thread after ``delay_s``."""

    def run() -> None:
        time.sleep(delay_s)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def timed_receive(sqs: Any, url: str, **kwargs: Any) -> tuple[list[dict[str, Any]], float]:
    started = time.monotonic()
    messages = sqs.receive_message(QueueUrl=url, **kwargs).get("Messages", [])
    return list(messages), time.monotonic() - started


def test_a_long_poll_returns_promptly_when_a_message_is_sent_meanwhile(
    sqs: Any, queue_name: str, ekiden: Any, protocol: str
) -> None:
    url = make_queue(sqs, queue_name)
    sender = sqs_client(ekiden.endpoint, protocol)
    thread = later(0.3, lambda: sender.send_message(QueueUrl=url, MessageBody="wake up"))
    messages, elapsed = timed_receive(sqs, url, WaitTimeSeconds=20)
    thread.join()
    assert [m["Body"] for m in messages] == ["wake up"]
    assert elapsed < WELL_BEFORE_TIMEOUT_S


def test_the_queue_receive_wait_time_makes_every_receive_a_long_poll(
    sqs: Any, queue_name: str, ekiden: Any, protocol: str
) -> None:
    url = make_queue(sqs, queue_name, ReceiveMessageWaitTimeSeconds="20")
    sender = sqs_client(ekiden.endpoint, protocol)
    thread = later(0.5, lambda: sender.send_message(QueueUrl=url, MessageBody="queue wait"))
    messages, elapsed = timed_receive(sqs, url)  # no WaitTimeSeconds: the queue's applies
    thread.join()
    assert [m["Body"] for m in messages] == ["queue wait"]
    assert elapsed < WELL_BEFORE_TIMEOUT_S


def test_wait_time_zero_on_a_receive_overrides_the_queue_wait_time(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name, ReceiveMessageWaitTimeSeconds="20")
    messages, elapsed = timed_receive(sqs, url, WaitTimeSeconds=0)
    assert messages == []
    assert elapsed < WELL_BEFORE_TIMEOUT_S


def test_a_long_poll_wakes_when_a_delayed_message_becomes_visible(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=1)
    messages, elapsed = timed_receive(sqs, url, WaitTimeSeconds=20)
    assert [m["Body"] for m in messages] == ["delayed"]
    assert elapsed < WELL_BEFORE_TIMEOUT_S


def test_a_long_poll_wakes_when_a_delay_queue_releases_a_message(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name, DelaySeconds="1")
    sqs.send_message(QueueUrl=url, MessageBody="queue delayed")
    messages, elapsed = timed_receive(sqs, url, WaitTimeSeconds=20)
    assert [m["Body"] for m in messages] == ["queue delayed"]
    assert elapsed < WELL_BEFORE_TIMEOUT_S


def test_a_long_poll_wakes_when_an_in_flight_message_times_out(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    sent = sqs.send_message(QueueUrl=url, MessageBody="retry me")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=1, WaitTimeSeconds=1)
    messages, elapsed = timed_receive(sqs, url, WaitTimeSeconds=20)
    assert [m["MessageId"] for m in messages] == [sent["MessageId"]]
    assert elapsed < WELL_BEFORE_TIMEOUT_S


def test_a_long_poll_wakes_when_another_client_releases_a_message(
    sqs: Any, queue_name: str, ekiden: Any, protocol: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="released")
    (held,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    other = sqs_client(ekiden.endpoint, protocol)
    thread = later(
        0.3,
        lambda: other.change_message_visibility(
            QueueUrl=url, ReceiptHandle=held["ReceiptHandle"], VisibilityTimeout=0
        ),
    )
    messages, elapsed = timed_receive(sqs, url, WaitTimeSeconds=20)
    thread.join()
    assert [m["Body"] for m in messages] == ["released"]
    assert elapsed < WELL_BEFORE_TIMEOUT_S


def test_an_empty_long_poll_of_one_second_returns_no_messages(sqs: Any, queue_name: str) -> None:
    url = make_queue(sqs, queue_name)
    messages, elapsed = timed_receive(sqs, url, WaitTimeSeconds=1)
    assert messages == []
    assert elapsed < WELL_BEFORE_TIMEOUT_S


def test_a_long_poll_returns_at_once_when_messages_are_already_waiting(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="ready")
    messages, elapsed = timed_receive(sqs, url, WaitTimeSeconds=20)
    assert [m["Body"] for m in messages] == ["ready"]
    assert elapsed < WELL_BEFORE_TIMEOUT_S


def test_concurrent_long_polls_each_receive_a_different_message(
    sqs: Any, queue_name: str, ekiden: Any, protocol: str
) -> None:
    url = make_queue(sqs, queue_name)
    pollers = [sqs_client(ekiden.endpoint, protocol) for _ in range(3)]
    with ThreadPoolExecutor(len(pollers)) as pool:
        futures = [
            pool.submit(timed_receive, poller, url, WaitTimeSeconds=20) for poller in pollers
        ]
        time.sleep(0.3)
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)]
        )
        results = [future.result() for future in futures]
    bodies = sorted(m["Body"] for messages, _ in results for m in messages)
    assert bodies == ["m0", "m1", "m2"]
    assert all(elapsed < WELL_BEFORE_TIMEOUT_S for _, elapsed in results)


def test_a_long_poll_on_one_queue_is_not_woken_by_sends_to_another(
    sqs: Any, queue_name: str, ekiden: Any, protocol: str
) -> None:
    url = make_queue(sqs, queue_name)
    other = make_queue(sqs, queue_name + "-other")
    sender = sqs_client(ekiden.endpoint, protocol)
    thread = later(0.2, lambda: sender.send_message(QueueUrl=other, MessageBody="elsewhere"))
    messages, _ = timed_receive(sqs, url, WaitTimeSeconds=1)
    thread.join()
    assert messages == []
    assert sqs.receive_message(QueueUrl=other, WaitTimeSeconds=1)["Messages"][0]["Body"] == (
        "elsewhere"
    )


def test_a_long_poll_on_a_fifo_queue_wakes_when_the_held_group_is_released(
    sqs: Any, queue_name: str, ekiden: Any, protocol: str
) -> None:
    url = make_queue(sqs, f"{queue_name}.fifo", FifoQueue="true")
    for body in ("head", "next"):
        sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId=body
        )
    (head,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    other = sqs_client(ekiden.endpoint, protocol)
    thread = later(
        0.3, lambda: other.delete_message(QueueUrl=url, ReceiptHandle=head["ReceiptHandle"])
    )
    messages, elapsed = timed_receive(sqs, url, WaitTimeSeconds=20)
    thread.join()
    assert [m["Body"] for m in messages] == ["next"]
    assert elapsed < WELL_BEFORE_TIMEOUT_S


def test_a_long_poll_on_a_fifo_queue_wakes_when_the_held_head_times_out(
    sqs: Any, queue_name: str
) -> None:
    url = make_queue(sqs, f"{queue_name}.fifo", FifoQueue="true")
    for body in ("head", "next"):
        sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId=body
        )
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=1, WaitTimeSeconds=1)
    messages, elapsed = timed_receive(sqs, url, WaitTimeSeconds=20)
    assert [m["Body"] for m in messages] == ["head"]
    assert elapsed < WELL_BEFORE_TIMEOUT_S
