"""The runtime's SQS client against a live ekiden: queues, sends, receives with every
attribute, long polls, batches, errors, many concurrent long polls, and a restart."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ekiden.runtime.sqs_client import SqsClient, SqsError, queue_arn_from_url
from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess
from tests.support.sqs_digests import md5_of_body, md5_of_message_attributes

REGION = "us-east-1"


def run(scenario: Callable[[SqsClient], Awaitable[Any]], endpoint: str, **options: Any) -> Any:
    """Run ``scenario`` with a fresh client of ``endpoint`` on a fresh event loop."""

    async def main() -> Any:
        async with SqsClient(endpoint, region=REGION, **options) as client:
            return await asyncio.wait_for(scenario(client), 60)

    return asyncio.run(main())


async def receive_all(client: SqsClient, url: str, expected: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(messages) < expected and time.monotonic() < deadline:
        messages += await client.receive_message(url, wait_time_s=1)
    return messages


def test_a_created_queue_is_found_by_name_and_has_attributes(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    async def scenario(client: SqsClient) -> None:
        url = await client.create_queue(queue_name, {"VisibilityTimeout": "45"})
        assert await client.create_queue(queue_name, {"VisibilityTimeout": "45"}) == url
        assert await client.get_queue_url(queue_name) == url
        attributes = await client.get_queue_attributes(url)
        assert attributes["VisibilityTimeout"] == "45"
        assert attributes["QueueArn"] == queue_arn_from_url(url, REGION)
        some = await client.get_queue_attributes(url, ["ApproximateNumberOfMessages"])
        assert some == {"ApproximateNumberOfMessages": "0"}

    run(scenario, ekiden.endpoint)


def test_a_received_message_has_its_attributes_and_digests_as_sqs_returns_them(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    body = "héllo wörld"

    async def scenario(client: SqsClient) -> None:
        url = await client.create_queue(queue_name)
        message_id = await client.send_message(
            url,
            body,
            attributes={
                "kind": ("String", "order"),
                "count": ("Number", "3"),
                "blob": ("Binary", b"\x00\x01\xfe"),
            },
        )
        (message,) = await client.receive_message(url, wait_time_s=1)
        assert message["MessageId"] == message_id
        assert message["Body"] == body
        assert message["MD5OfBody"] == md5_of_body(body)
        assert message["MessageAttributes"] == {
            "kind": {"DataType": "String", "StringValue": "order"},
            "count": {"DataType": "Number", "StringValue": "3"},
            "blob": {
                "DataType": "Binary",
                "BinaryValue": base64.b64encode(b"\x00\x01\xfe").decode(),
            },
        }
        decoded: dict[str, dict[str, Any]] = {
            "kind": {"DataType": "String", "StringValue": "order"},
            "count": {"DataType": "Number", "StringValue": "3"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe"},
        }
        assert message["MD5OfMessageAttributes"] == md5_of_message_attributes(decoded)
        system = message["Attributes"]
        assert system["ApproximateReceiveCount"] == "1"
        assert system["SenderId"] == "ekidenruntime"
        for name in ("SentTimestamp", "ApproximateFirstReceiveTimestamp"):
            assert system[name].isdigit()

    run(scenario, ekiden.endpoint)


def test_the_same_message_seen_by_boto3_has_the_same_fields(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    boto = sqs_client(ekiden.endpoint)
    url: str = boto.create_queue(QueueName=queue_name)["QueueUrl"]
    boto.send_message(
        QueueUrl=url,
        MessageBody="x",
        MessageAttributes={"a": {"DataType": "String", "StringValue": "1"}},
    )

    async def scenario(client: SqsClient) -> list[dict[str, Any]]:
        return await client.receive_message(url, wait_time_s=1, visibility_timeout_s=0)

    (ours,) = run(scenario, ekiden.endpoint)
    (theirs,) = boto.receive_message(
        QueueUrl=url,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
        WaitTimeSeconds=1,
    )["Messages"]
    assert set(ours) == set(theirs)
    assert set(ours["Attributes"]) == set(theirs["Attributes"])
    assert ours["MessageAttributes"] == theirs["MessageAttributes"]
    assert ours["MD5OfMessageAttributes"] == theirs["MD5OfMessageAttributes"]


def test_fifo_sends_carry_their_group_and_deduplication_ids(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    async def scenario(client: SqsClient) -> None:
        url = await client.create_queue(f"{queue_name}.fifo", {"FifoQueue": "true"})
        first = await client.send_message(url, "one", group_id="g1", dedup_id="d1")
        again = await client.send_message(url, "one", group_id="g1", dedup_id="d1")
        assert again == first  # deduplicated: SQS answers with the original message id
        await client.send_message(url, "two", group_id="g2", dedup_id="d2")
        messages = await receive_all(client, url, 2)
        by_body = {m["Body"]: m["Attributes"] for m in messages}
        assert sorted(by_body) == ["one", "two"]
        assert by_body["one"]["MessageGroupId"] == "g1"
        assert by_body["one"]["MessageDeduplicationId"] == "d1"
        assert by_body["two"]["MessageGroupId"] == "g2"
        assert by_body["one"]["SequenceNumber"].isdigit()

    run(scenario, ekiden.endpoint)


def test_a_long_poll_waits_and_returns_as_soon_as_a_message_is_sent(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    async def scenario(client: SqsClient) -> None:
        url = await client.create_queue(queue_name)
        started = time.monotonic()
        polling = asyncio.create_task(client.receive_message(url, wait_time_s=10))
        await asyncio.sleep(0.5)
        assert not polling.done()  # it is waiting, not answering empty at once
        await client.send_message(url, "meanwhile")
        (message,) = await polling
        elapsed = time.monotonic() - started
        assert message["Body"] == "meanwhile"
        assert 0.5 <= elapsed < 5

    run(scenario, ekiden.endpoint)


def test_a_delete_batch_of_25_handles_reports_the_invalid_one_as_failed(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    async def scenario(client: SqsClient) -> None:
        url = await client.create_queue(queue_name)
        for i in range(24):
            await client.send_message(url, f"m{i}")
        messages = await receive_all(client, url, 24)
        handles = [m["ReceiptHandle"] for m in messages]
        assert len(handles) == 24
        forged = handles[0][:-4]  # a handle ekiden never issued
        failed = await client.delete_message_batch(url, [*handles[:12], forged, *handles[12:]])
        assert failed == [forged]
        attributes = await client.get_queue_attributes(
            url, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )
        assert attributes == {
            "ApproximateNumberOfMessages": "0",
            "ApproximateNumberOfMessagesNotVisible": "0",
        }

    run(scenario, ekiden.endpoint)


def test_a_visibility_change_batch_makes_messages_visible_and_refuses_stale_handles(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    async def scenario(client: SqsClient) -> None:
        url = await client.create_queue(queue_name, {"VisibilityTimeout": "60"})
        await client.send_message(url, "a")
        await client.send_message(url, "b")
        first = await receive_all(client, url, 2)
        handles = [m["ReceiptHandle"] for m in first]
        assert await client.change_message_visibility_batch(url, [(h, 0) for h in handles]) == []
        second = await receive_all(client, url, 2)
        assert sorted(m["Body"] for m in second) == ["a", "b"]
        # the handles of the first delivery are stale now: SQS refuses to change with them
        fresh = [m["ReceiptHandle"] for m in second]
        entries = [(handles[0], 0), (fresh[0], 0), (fresh[1], 0)]
        assert await client.change_message_visibility_batch(url, entries) == [handles[0]]

    run(scenario, ekiden.endpoint)


def test_an_unknown_queue_is_a_queue_does_not_exist_error_not_worth_retrying(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    async def scenario(client: SqsClient) -> None:
        with pytest.raises(SqsError) as by_name:
            await client.get_queue_url(queue_name + "-missing")
        url = await client.create_queue(queue_name)
        with pytest.raises(SqsError) as by_url:
            await client.receive_message(url + "-missing", wait_time_s=0)
        for caught in (by_name, by_url):
            error = caught.value
            assert error.code == "QueueDoesNotExist"
            assert error.status == 400
            assert error.retryable is False
            assert error.query_code == "AWS.SimpleQueueService.NonExistentQueue"
            assert error.message

    run(scenario, ekiden.endpoint)


def test_forty_concurrent_long_polls_share_one_client(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    async def scenario(client: SqsClient) -> None:
        url = await client.create_queue(queue_name)
        started = time.monotonic()
        polls = [
            asyncio.create_task(client.receive_message(url, max_messages=1, wait_time_s=3))
            for _ in range(40)
        ]
        await asyncio.sleep(0.5)
        assert not any(p.done() for p in polls)
        for i in range(10):
            await client.send_message(url, f"m{i}")
        results = await asyncio.gather(*polls)
        elapsed = time.monotonic() - started
        received = sorted(m["Body"] for r in results for m in r)
        assert received == [f"m{i}" for i in range(10)]
        # the polls waited side by side: one after another would take 30 s or more
        assert elapsed < 10
        assert 40 <= client.connects <= 41  # one per poll (+ the one of the first calls)

    run(scenario, ekiden.endpoint)


def test_the_client_reconnects_after_the_server_restarts(
    fresh_ekiden: Callable[..., EkidenProcess], queue_name: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    servers = [fresh_ekiden(data_dir=data_dir)]
    port = servers[0].port

    async def restart() -> None:
        servers.append(
            await asyncio.to_thread(fresh_ekiden, "--port", str(port), data_dir=data_dir)
        )

    async def scenario(client: SqsClient) -> None:
        url = await client.create_queue(queue_name)
        await client.send_message(url, "before")
        (message,) = await client.receive_message(url, wait_time_s=5)

        # A clean stop answers the long poll in flight (empty) before closing.
        polling = asyncio.create_task(client.receive_message(url, wait_time_s=20))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(servers[-1].stop)
        assert await polling == []
        with pytest.raises(SqsError) as down:
            await client.get_queue_url(queue_name)
        assert (down.value.code, down.value.status, down.value.retryable) == (
            "ConnectionFailed",
            None,
            True,
        )
        await restart()
        assert await client.get_queue_url(queue_name) == url
        assert await client.delete_message_batch(url, [message["ReceiptHandle"]]) == []

        # A crash loses the long poll in flight: retryable, and never resent blindly.
        polling = asyncio.create_task(client.receive_message(url, wait_time_s=20))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(servers[-1].kill)
        with pytest.raises(SqsError) as lost:
            await polling
        assert (lost.value.code, lost.value.status, lost.value.retryable) == (
            "ConnectionLost",
            None,
            True,
        )
        await restart()
        await client.send_message(url, "after")
        (after,) = await client.receive_message(url, wait_time_s=5)
        assert after["Body"] == "after"

    run(scenario, f"http://127.0.0.1:{port}")
