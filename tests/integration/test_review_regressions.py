"""Regressions of the review fixes (commit 87632bf) about queue configuration, FIFO groups,
move tasks, declared queues and /health, driven through real clients of a real server.

See ``test_review_regressions_input.py`` for refused input and no-500 cases, and
``test_review_regressions_polling.py`` for long polls; the store-level halves of these
fixes are in ``tests/contract/test_store_regressions.py``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support.clients import sqs_client
from tests.support.messaging import counts, eventually, rejected
from tests.support.queue_admin import arn_of, attribute, attributes, redrive_policy
from tests.support.raw_http import JSON_CONTENT_TYPE, raw_exchange
from tests.support.server import EkidenProcess

Factory = Callable[..., EkidenProcess]
HOUR_MS = 3_600_000


def _bodies(response: dict[str, Any]) -> list[str]:
    return [m["Body"] for m in response.get("Messages", [])]


def _together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` on as many threads, released at once by a barrier; returns what each
    returned, or the ClientError it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=10)
        try:
            return call()
        except ClientError as error:
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _http_request(endpoint: str, action: str, params: dict[str, Any]) -> bytes:
    body = json.dumps(params).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: {endpoint.removeprefix('http://')}\r\n"
        f"Content-Type: {JSON_CONTENT_TYPE}\r\nX-Amz-Target: AmazonSQS.{action}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _pipelined(endpoint: str, *requests: bytes) -> list[tuple[int, Any]]:
    """Send ``requests`` pipelined on one connection (the server handles them concurrently)
    and return the (status, JSON document) of each answer."""
    return _http_answers(raw_exchange(endpoint, b"".join(requests)))


def _http_answers(data: bytes) -> list[tuple[int, Any]]:
    """(status, JSON document) of each answer in a stream of HTTP/1.1 responses."""
    answers: list[tuple[int, Any]] = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(fields["content-length"])
        answers.append((int(lines[0].split()[1]), json.loads(rest[:length])))
        data = rest[length:]
    return answers


# --- a new retention period applies to the messages already queued ---------------------


def test_raising_the_retention_period_keeps_queued_messages_receivable(
    sqs: Any, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name, Attributes={"MessageRetentionPeriod": "60"})[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="kept longer")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "86400"})
    assert attribute(sqs, url, "MessageRetentionPeriod") == "86400"
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert _bodies(got) == ["kept longer"]


def _age_messages(data_dir: Path, by_ms: int) -> None:
    """Make every stored message look ``by_ms`` older (server stopped): its send time moves
    back, its expiry under the current retention period stays where it was."""
    db = sqlite3.connect(data_dir / "ekiden.sqlite3", isolation_level=None)
    try:
        changed = db.execute("UPDATE messages SET sent_ms = sent_ms - ?", (by_ms,)).rowcount
        assert changed == 1
    finally:
        db.close()


def test_lowering_the_retention_period_expires_messages_already_older_than_it(
    fresh_ekiden: Factory,
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint)
    url = sqs.create_queue(QueueName="aged")["QueueUrl"]  # retention: the default 4 days
    sqs.send_message(QueueUrl=url, MessageBody="two hours old")
    assert server.stop() == 0
    _age_messages(server.data_dir, 2 * HOUR_MS)
    server.start()
    sqs = sqs_client(server.endpoint)
    url = sqs.get_queue_url(QueueName="aged")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="just sent")
    assert counts(sqs, url) == (2, 0, 0)

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "3600"})

    assert attribute(sqs, url, "MessageRetentionPeriod") == "3600"
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert _bodies(got) == ["just sent"]
    eventually(lambda: counts(sqs, url) == (0, 1, 0))


# --- concurrent configuration changes --------------------------------------------------

ROUNDS = 20


def test_concurrent_attribute_and_tag_changes_of_one_queue_never_lose_an_update(
    sqs: Any, ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    clients = [sqs_client(ekiden.endpoint, protocol) for _ in range(4)]
    for r in range(ROUNDS):
        results = _together(
            [
                partial(
                    clients[0].set_queue_attributes,
                    QueueUrl=url,
                    Attributes={"DelaySeconds": str(r)},
                ),
                partial(
                    clients[1].set_queue_attributes,
                    QueueUrl=url,
                    Attributes={"MaximumMessageSize": str(1024 + r)},
                ),
                partial(clients[2].tag_queue, QueueUrl=url, Tags={f"a{r}": str(r)}),
                partial(clients[3].tag_queue, QueueUrl=url, Tags={f"b{r}": str(r)}),
            ]
        )
        assert not [x for x in results if isinstance(x, ClientError)], results
        assert attributes(sqs, url, "DelaySeconds", "MaximumMessageSize") == {
            "DelaySeconds": str(r),
            "MaximumMessageSize": str(1024 + r),
        }, f"round {r}"
        expected_tags = {f"{k}{i}": str(i) for i in range(r + 1) for k in "ab"}
        assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == expected_tags, f"round {r}"


def test_pipelined_attribute_and_tag_changes_of_one_queue_all_take_effect(
    sqs: Any, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name, tags={"kept": "yes"})["QueueUrl"]
    changes = [
        ("SetQueueAttributes", {"QueueUrl": url, "Attributes": {"DelaySeconds": "7"}}),
        ("TagQueue", {"QueueUrl": url, "Tags": {"one": "1"}}),
        ("SetQueueAttributes", {"QueueUrl": url, "Attributes": {"VisibilityTimeout": "77"}}),
        ("TagQueue", {"QueueUrl": url, "Tags": {"two": "2"}}),
        ("UntagQueue", {"QueueUrl": url, "TagKeys": ["kept"]}),
    ]
    requests_ = [_http_request(ekiden.endpoint, action, params) for action, params in changes]
    answers = _pipelined(ekiden.endpoint, *requests_)
    assert [status for status, _ in answers] == [200] * len(changes), answers
    assert attributes(sqs, url, "DelaySeconds", "VisibilityTimeout") == {
        "DelaySeconds": "7",
        "VisibilityTimeout": "77",
    }
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"one": "1", "two": "2"}


def test_concurrent_creates_of_one_queue_all_succeed_with_the_same_url(
    sqs: Any, ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    clients = [sqs_client(ekiden.endpoint, protocol) for _ in range(8)]
    names = [f"{queue_name}-{i}" for i in range(3)]
    for name in names:
        results = _together(
            [
                partial(
                    client.create_queue,
                    QueueName=name,
                    Attributes={"VisibilityTimeout": "45"},
                    tags={"t": "1"},
                )
                for client in clients
            ]
        )
        errors = [x.response["Error"] for x in results if isinstance(x, ClientError)]
        assert errors == []
        assert {result["QueueUrl"] for result in results} == {
            sqs.get_queue_url(QueueName=name)["QueueUrl"]
        }
    listed = sqs.list_queues(QueueNamePrefix=queue_name)["QueueUrls"]
    assert sorted(url.rsplit("/", 1)[1] for url in listed) == names


def test_pipelined_creates_of_one_queue_all_succeed_with_the_same_url(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    # Requests pipelined on one connection are handled concurrently: the creates overlap.
    create = _http_request(ekiden.endpoint, "CreateQueue", {"QueueName": queue_name})
    answers = _pipelined(ekiden.endpoint, *[create] * 8)
    assert [status for status, _ in answers] == [200] * 8, answers
    assert {document["QueueUrl"] for _, document in answers} == {
        f"{ekiden.endpoint}/000000000000/{queue_name}"
    }


def test_a_send_pipelined_behind_the_delete_of_its_queue_is_not_acknowledged(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    # Both requests are handled concurrently; the delete reaches the store first, so the
    # send finds its queue gone when it is written (it used to answer 200 for a message
    # that was stored nowhere anyone could reach).
    url = sqs_client(ekiden.endpoint).create_queue(QueueName=queue_name)["QueueUrl"]
    delete = _http_request(ekiden.endpoint, "DeleteQueue", {"QueueUrl": url})
    send = _http_request(ekiden.endpoint, "SendMessage", {"QueueUrl": url, "MessageBody": "x"})
    (deleted, sent) = _pipelined(ekiden.endpoint, delete, send)
    assert deleted == (200, {})
    status, document = sent
    assert (status, document.get("__type")) == (400, "com.amazonaws.sqs#QueueDoesNotExist"), sent


# --- a FIFO group is held by any of its messages in flight -----------------------------


def _fifo_queue(sqs: Any, name: str, **extra: str) -> str:
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true", **extra}
    url: str = sqs.create_queue(QueueName=f"{name}.fifo", Attributes=attributes)["QueueUrl"]
    return url


def test_a_fifo_message_made_visible_again_waits_while_a_later_one_of_its_group_is_in_flight(
    sqs: Any, queue_name: str
) -> None:
    url = _fifo_queue(sqs, queue_name)
    for body in ("m0", "m1", "m2"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=60)
    m0, m1 = first["Messages"]
    assert (m0["Body"], m1["Body"]) == ("m0", "m1")

    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=m0["ReceiptHandle"], VisibilityTimeout=0
    )

    held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert _bodies(held) == [], "m1 is still in flight: the group stays blocked"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m1["ReceiptHandle"])
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert _bodies(again) == ["m0", "m2"]


# --- FIFO throughput and deduplication scope -------------------------------------------

PER_GROUP_NEEDS_GROUP_SCOPE = (
    "Invalid value for the parameter FifoThroughputLimit. Reason: The perMessageGroupId value "
    "is allowed only when the value for DeduplicationScope is messageGroup."
)


@pytest.mark.parametrize(
    ("created_with", "change"),
    [
        (
            {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"},
            {"DeduplicationScope": "queue"},
        ),
        (
            {"DeduplicationScope": "queue", "FifoThroughputLimit": "perQueue"},
            {"FifoThroughputLimit": "perMessageGroupId"},
        ),
    ],
    ids=["scope-queue-on-per-group-limit", "per-group-limit-on-queue-scope"],
)
def test_a_change_leaving_per_group_throughput_with_queue_wide_dedup_is_refused(
    sqs: Any, queue_name: str, created_with: dict[str, str], change: dict[str, str]
) -> None:
    url = _fifo_queue(sqs, queue_name, **created_with)
    with rejected("InvalidAttributeValue") as rejection:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=change)
    assert rejection.message == PER_GROUP_NEEDS_GROUP_SCOPE
    names = ("DeduplicationScope", "FifoThroughputLimit")
    assert attributes(sqs, url, *names) == created_with


def test_per_group_throughput_on_a_queue_with_the_default_dedup_scope_is_refused(
    sqs: Any, queue_name: str
) -> None:
    url = _fifo_queue(sqs, queue_name)
    names = ("DeduplicationScope", "FifoThroughputLimit")
    assert attributes(sqs, url, *names) == {
        "DeduplicationScope": "queue",
        "FifoThroughputLimit": "perQueue",
    }
    with rejected("InvalidAttributeValue") as rejection:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"FifoThroughputLimit": "perMessageGroupId"}
        )
    assert rejection.message == PER_GROUP_NEEDS_GROUP_SCOPE


def test_creating_a_per_group_throughput_queue_with_the_default_dedup_scope_is_refused(
    sqs: Any, queue_name: str
) -> None:
    with rejected("InvalidAttributeValue") as rejection:
        _fifo_queue(sqs, queue_name, FifoThroughputLimit="perMessageGroupId")
    assert rejection.message == PER_GROUP_NEEDS_GROUP_SCOPE


def test_switching_scope_and_limit_together_to_high_throughput_is_accepted(
    sqs: Any, queue_name: str
) -> None:
    url = _fifo_queue(sqs, queue_name, DeduplicationScope="queue", FifoThroughputLimit="perQueue")
    wanted = {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes=wanted)
    assert attributes(sqs, url, *wanted) == wanted


# --- move tasks ------------------------------------------------------------------------


def test_of_two_concurrent_move_task_starts_for_one_dlq_exactly_one_succeeds(
    sqs: Any, ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    dlq = sqs.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
    sqs.create_queue(QueueName=queue_name, Attributes={"RedrivePolicy": redrive_policy(dlq)})
    sqs.create_queue(QueueName=f"{queue_name}-target")
    for i in range(20):  # moved one a second: every task is still running when cancelled
        sqs.send_message(QueueUrl=dlq, MessageBody=f"m{i}")
    dlq_arn = arn_of(f"{queue_name}-dlq")
    clients = [sqs_client(ekiden.endpoint, protocol) for _ in range(2)]
    for round_ in range(5):
        results = _together(
            [
                partial(
                    client.start_message_move_task,
                    SourceArn=dlq_arn,
                    DestinationArn=arn_of(f"{queue_name}-target"),
                    MaxNumberOfMessagesPerSecond=1,
                )
                for client in clients
            ]
        )
        handles = [r["TaskHandle"] for r in results if not isinstance(r, ClientError)]
        refusals = [r.response["Error"]["Code"] for r in results if isinstance(r, ClientError)]
        assert (len(handles), refusals) == (1, ["InvalidParameterValue"]), f"round {round_}"
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        assert [t["Status"] for t in tasks].count("RUNNING") == 1
        sqs.cancel_message_move_task(TaskHandle=handles[0])
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert [t["Status"] for t in tasks] == ["CANCELLED"] * 5


def test_of_two_pipelined_move_task_starts_for_one_dlq_exactly_one_succeeds(
    sqs: Any, ekiden: EkidenProcess, queue_name: str
) -> None:
    dlq = sqs.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
    sqs.create_queue(QueueName=queue_name, Attributes={"RedrivePolicy": redrive_policy(dlq)})
    sqs.create_queue(QueueName=f"{queue_name}-target")
    for i in range(5):  # moved one a second: the task is still running when cancelled
        sqs.send_message(QueueUrl=dlq, MessageBody=f"m{i}")
    start = _http_request(
        ekiden.endpoint,
        "StartMessageMoveTask",
        {
            "SourceArn": arn_of(f"{queue_name}-dlq"),
            "DestinationArn": arn_of(f"{queue_name}-target"),
            "MaxNumberOfMessagesPerSecond": 1,
        },
    )
    answers = _pipelined(ekiden.endpoint, start, start)
    assert sorted(status for status, _ in answers) == [200, 400], answers
    (handle,) = [document["TaskHandle"] for status, document in answers if status == 200]
    (refusal,) = [document for status, document in answers if status == 400]
    assert refusal["message"] == (
        "There is already a task running. Only one active task is allowed for a source queue "
        "arn at a given time."
    )
    sqs.cancel_message_move_task(TaskHandle=handle)


# --- declared queues -------------------------------------------------------------------


def _chain_config(order: str) -> str:
    """Queues chain-a -> chain-b -> chain-c (each one's DLQ is the next), in ``order``."""
    sections = {
        "a": f"""
[[queues]]
name = "chain-a"
[queues.attributes.RedrivePolicy]
deadLetterTargetArn = "{arn_of("chain-b")}"
maxReceiveCount = 3
""",
        "b": f"""
[[queues]]
name = "chain-b"
[queues.attributes.RedrivePolicy]
deadLetterTargetArn = "{arn_of("chain-c")}"
maxReceiveCount = 4
""",
        "c": """
[[queues]]
name = "chain-c"
""",
    }
    return "".join(sections[key] for key in order)


@pytest.mark.parametrize("order", ["abc", "cab", "acb"])
def test_a_declared_dead_letter_chain_starts_in_any_order(
    fresh_ekiden: Factory, tmp_path: Path, order: str
) -> None:
    config = tmp_path / "ekiden.toml"
    config.write_text(_chain_config(order))
    server = fresh_ekiden("--config", str(config))
    sqs = sqs_client(server.endpoint)
    base = f"{server.endpoint}/000000000000"
    names = [url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"]]
    assert sorted(names) == ["chain-a", "chain-b", "chain-c"]
    for name, dlq, max_receive_count in (("chain-a", "chain-b", 3), ("chain-b", "chain-c", 4)):
        policy = attribute(sqs, f"{base}/{name}", "RedrivePolicy")
        assert policy is not None
        assert json.loads(policy) == {
            "deadLetterTargetArn": arn_of(dlq),
            "maxReceiveCount": max_receive_count,
        }
    assert attribute(sqs, f"{base}/chain-c", "RedrivePolicy") is None
    sources = sqs.list_dead_letter_source_queues(QueueUrl=f"{base}/chain-c")["queueUrls"]
    assert sources == [f"{base}/chain-b"]


# --- /health ---------------------------------------------------------------------------


def test_health_answers_ok_on_a_healthy_server(ekiden: EkidenProcess) -> None:
    answer = requests.get(f"{ekiden.endpoint}/health", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
