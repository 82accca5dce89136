"""The runtime's SQS client against small scripted HTTP servers on port 0: keep-alive
reuse, the connection bound, what is resent after a lost connection and what is not,
timeouts, batches, closing and cancelling."""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from ekiden.runtime.sqs_client import SqsClient, SqsError
from tests.support.http_endpoint import make_private_ca

URL = "http://queue.example/000000000000/q"


@dataclass
class Seen:
    """One request the scripted server read."""

    connection: int
    action: str
    headers: dict[str, str]
    payload: dict[str, Any]


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # close right after answering (without saying so)


DROP = "drop"  # close the connection without answering
Handler = Callable[[Seen], Awaitable["Reply | str"]]


class Scripted:
    """An HTTP/1.1 server answering each request with what ``handler`` returns."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.seen: list[Seen] = []
        self.connections = 0
        self.open = 0
        self.max_open = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self.connections
        self.connections += 1
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                headers = {}
                for line in head.split("\r\n")[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers["content-length"]))
                action = headers["x-amz-target"].removeprefix("AmazonSQS.")
                seen = Seen(number, action, headers, orjson.loads(body))
                self.seen.append(seen)
                reply = await self.handler(seen)
                if isinstance(reply, str):
                    break
                data = reply.body if isinstance(reply.body, bytes) else orjson.dumps(reply.body)
                extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
                head = f"HTTP/1.1 {reply.status} X\r\n{extra}Content-Length: {len(data)}\r\n\r\n"
                writer.write(head.encode() + data)
                await writer.drain()
                if reply.close or reply.headers.get("Connection") == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()


@asynccontextmanager
async def connected(handler: Handler, **options: Any) -> AsyncIterator[tuple[Scripted, SqsClient]]:
    """A scripted server and a client of it (closed in that order's reverse)."""
    async with (
        Scripted(handler) as server,
        SqsClient(server.endpoint, region="us-east-1", **options) as client,
    ):
        yield server, client


async def queue_url_reply(seen: Seen) -> Reply:
    return Reply(body={"QueueUrl": URL})


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await asyncio.wait_for(coro, 20)

    return asyncio.run(main())


def test_sequential_calls_reuse_one_keep_alive_connection() -> None:
    async def scenario() -> None:
        async with Scripted(queue_url_reply) as server:
            async with SqsClient(server.endpoint, region="us-east-1") as client:
                for _ in range(5):
                    assert await client.get_queue_url("q") == URL
                assert client.connects == 1
            assert server.connections == 1 and len(server.seen) == 5

    run(scenario())


def test_concurrent_calls_open_connections_only_up_to_the_bound() -> None:
    async def slow(seen: Seen) -> Reply:
        await asyncio.sleep(0.05)
        return Reply(body={"QueueUrl": URL})

    async def scenario() -> None:
        async with Scripted(slow) as server:
            async with SqsClient(server.endpoint, region="us-east-1", max_connections=3) as client:
                urls = await asyncio.gather(*(client.get_queue_url("q") for _ in range(12)))
                assert urls == [URL] * 12
                assert client.connects == 3
            assert server.max_open == 3

    run(scenario())


def drop_the_second_request(seen: Seen, state: dict[str, int]) -> Reply | str:
    state["n"] += 1
    return DROP if state["n"] == 2 else Reply(body={"QueueUrl": URL, "Messages": []})


def test_an_idempotent_call_is_resent_once_when_its_reused_connection_was_lost() -> None:
    state = {"n": 0}

    async def handler(seen: Seen) -> Reply | str:
        return drop_the_second_request(seen, state)

    async def scenario() -> None:
        async with Scripted(handler) as server:
            async with SqsClient(server.endpoint, region="us-east-1") as client:
                await client.get_queue_url("q")
                assert await client.get_queue_url("q") == URL
            assert [s.connection for s in server.seen] == [0, 0, 1]

    run(scenario())


def test_a_receive_written_to_a_connection_then_lost_is_not_resent() -> None:
    state = {"n": 0}

    async def handler(seen: Seen) -> Reply | str:
        return drop_the_second_request(seen, state)

    async def scenario() -> None:
        async with Scripted(handler) as server:
            async with SqsClient(server.endpoint, region="us-east-1") as client:
                await client.get_queue_url("q")
                with pytest.raises(SqsError) as caught:
                    await client.receive_message(URL, wait_time_s=1)
                error = caught.value
                assert (error.code, error.status, error.retryable) == ("ConnectionLost", None, True)
                assert error.action == "ReceiveMessage"
                # the client recovers: the next call opens a new connection
                assert await client.receive_message(URL, wait_time_s=1) == []
            assert [s.action for s in server.seen] == [
                "GetQueueUrl",
                "ReceiveMessage",
                "ReceiveMessage",
            ]

    run(scenario())


def test_a_connection_the_server_closed_while_idle_is_never_written_to() -> None:
    async def close_after_answering(seen: Seen) -> Reply:
        return Reply(body={"Messages": []}, close=True)

    async def scenario() -> None:
        async with Scripted(close_after_answering) as server:
            async with SqsClient(server.endpoint, region="us-east-1") as client:
                assert await client.receive_message(URL, wait_time_s=0) == []
                await asyncio.sleep(0.1)  # the client sees the close
                assert await client.receive_message(URL, wait_time_s=0) == []
                assert client.connects == 2
            assert len(server.seen) == 2

    run(scenario())


def test_an_answer_saying_connection_close_is_the_last_on_its_connection() -> None:
    async def goodbye(seen: Seen) -> Reply:
        return Reply(body={"QueueUrl": URL}, headers={"Connection": "close"})

    async def scenario() -> None:
        async with Scripted(goodbye) as server:
            async with SqsClient(server.endpoint, region="us-east-1") as client:
                for _ in range(3):
                    assert await client.get_queue_url("q") == URL
            assert [s.connection for s in server.seen] == [0, 1, 2]

    run(scenario())


def test_a_refused_connection_is_a_retryable_connection_failure() -> None:
    async def scenario() -> None:
        async with Scripted(queue_url_reply) as server:
            port = server.port
        await asyncio.sleep(0.05)
        async with SqsClient(f"http://127.0.0.1:{port}", region="us-east-1") as client:
            with pytest.raises(SqsError) as caught:
                await client.receive_message(URL)
        error = caught.value
        assert (error.code, error.status, error.retryable) == ("ConnectionFailed", None, True)

    run(scenario())


def test_a_call_without_an_answer_times_out_as_a_retryable_error() -> None:
    async def never(seen: Seen) -> Reply:
        await asyncio.Event().wait()
        raise AssertionError

    async def scenario() -> None:
        async with connected(never, request_timeout_s=0.2) as (_, client):
            with pytest.raises(SqsError) as caught:
                await client.get_queue_url("q")
        assert (caught.value.code, caught.value.retryable) == ("RequestTimeout", True)

    run(scenario())


def test_a_long_poll_is_given_its_wait_on_top_of_the_request_timeout() -> None:
    async def slow_receive(seen: Seen) -> Reply:
        await asyncio.sleep(0.6)
        return Reply(body={"Messages": [{"MessageId": "m", "Body": "b"}]})

    async def scenario() -> None:
        async with connected(slow_receive, request_timeout_s=0.2) as (_, client):
            started = time.monotonic()
            messages = await client.receive_message(URL, wait_time_s=1)
            assert messages == [{"MessageId": "m", "Body": "b"}]
            assert time.monotonic() - started >= 0.5

    run(scenario())


def test_a_receive_asks_for_every_attribute_as_botocore_names_them() -> None:
    async def scenario() -> None:
        async with Scripted(lambda seen: queue_url_reply(seen)) as server:
            async with SqsClient(server.endpoint, region="us-east-1") as client:
                await client.receive_message(URL, max_messages=7, visibility_timeout_s=45)
            assert server.seen[0].payload == {
                "QueueUrl": URL,
                "MaxNumberOfMessages": 7,
                "WaitTimeSeconds": 20,
                "VisibilityTimeout": 45,
                "AttributeNames": ["All"],
                "MessageSystemAttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            }

    run(scenario())


def test_a_send_carries_typed_attributes_and_fifo_ids() -> None:
    async def sent(seen: Seen) -> Reply:
        return Reply(body={"MessageId": "id-1", "MD5OfMessageBody": "x"})

    async def scenario() -> None:
        async with Scripted(sent) as server:
            async with SqsClient(server.endpoint, region="us-east-1") as client:
                message_id = await client.send_message(
                    URL,
                    "hello",
                    attributes={
                        "s": ("String", "text"),
                        "n": ("Number.int", "42"),
                        "b": ("Binary", b"\x00\xff"),
                    },
                    group_id="g",
                    dedup_id="d",
                )
                assert message_id == "id-1"
            assert server.seen[0].payload == {
                "QueueUrl": URL,
                "MessageBody": "hello",
                "MessageAttributes": {
                    "s": {"DataType": "String", "StringValue": "text"},
                    "n": {"DataType": "Number.int", "StringValue": "42"},
                    "b": {
                        "DataType": "Binary",
                        "BinaryValue": base64.b64encode(b"\x00\xff").decode(),
                    },
                },
                "MessageGroupId": "g",
                "MessageDeduplicationId": "d",
            }

    run(scenario())


def test_batches_go_out_in_requests_of_ten_and_return_the_failed_handles() -> None:
    async def batch(seen: Seen) -> Reply:
        entries = seen.payload["Entries"]
        ok = [{"Id": e["Id"]} for e in entries if e["ReceiptHandle"] != "h13"]
        failed = [
            {"Id": e["Id"], "SenderFault": True, "Code": "ReceiptHandleIsInvalid", "Message": ""}
            for e in entries
            if e["ReceiptHandle"] == "h13"
        ]
        return Reply(body={"Successful": ok, "Failed": failed})

    async def scenario() -> None:
        handles = [f"h{i}" for i in range(25)]
        async with connected(batch) as (server, client):
            assert await client.delete_message_batch(URL, handles) == ["h13"]
            entries = [(h, 30) for h in handles]
            assert await client.change_message_visibility_batch(URL, entries) == ["h13"]
            assert await client.delete_message_batch(URL, []) == []
        deletes = [s.payload for s in server.seen if s.action == "DeleteMessageBatch"]
        assert sorted(len(p["Entries"]) for p in deletes) == [5, 10, 10]
        for payload in deletes:
            ids = [e["Id"] for e in payload["Entries"]]
            assert ids == [str(i) for i in range(len(ids))]
        changes = [s.payload for s in server.seen if s.action == "ChangeMessageVisibilityBatch"]
        assert len(changes) == 3
        assert all(e["VisibilityTimeout"] == 30 for p in changes for e in p["Entries"])

    run(scenario())


def test_a_batch_entry_missing_from_the_answer_counts_as_failed() -> None:
    async def forgetful(seen: Seen) -> Reply:
        return Reply(body={"Successful": [{"Id": "0"}], "Failed": []})

    async def scenario() -> None:
        async with connected(forgetful) as (_, client):
            assert await client.delete_message_batch(URL, ["a", "b"]) == ["b"]

    run(scenario())


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"NoQueueUrl": 1}'])
def test_a_garbled_answer_is_a_retryable_bad_response(body: bytes) -> None:
    async def garbled(seen: Seen) -> Reply:
        return Reply(body=body)

    async def scenario() -> None:
        async with connected(garbled) as (_, client):
            with pytest.raises(SqsError) as caught:
                await client.get_queue_url("q")
        assert (caught.value.code, caught.value.status, caught.value.retryable) == (
            "BadResponse",
            200,
            True,
        )

    run(scenario())


def test_closing_the_client_fails_calls_in_flight_and_later_calls_for_good() -> None:
    async def never(seen: Seen) -> Reply:
        await asyncio.Event().wait()
        raise AssertionError

    async def scenario() -> None:
        async with Scripted(never) as server:
            client = SqsClient(server.endpoint, region="us-east-1")
            polling = asyncio.create_task(client.receive_message(URL, wait_time_s=20))
            while not server.seen:
                await asyncio.sleep(0.01)
            await client.close()
            with pytest.raises(SqsError) as caught:
                await polling
            assert (caught.value.code, caught.value.retryable) == ("ClientClosed", False)
            with pytest.raises(SqsError) as later:
                await client.get_queue_url("q")
            assert later.value.code == "ClientClosed"

    run(scenario())


def test_a_cancelled_call_does_not_leave_its_answer_for_the_next_call() -> None:
    async def late_first(seen: Seen) -> Reply:
        if seen.payload["QueueName"] == "slow":
            await asyncio.sleep(0.3)
        return Reply(body={"QueueUrl": f"{URL}-{seen.payload['QueueName']}"})

    async def scenario() -> None:
        async with connected(late_first) as (server, client):
            slow = asyncio.create_task(client.get_queue_url("slow"))
            while not server.seen:
                await asyncio.sleep(0.01)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            assert await client.get_queue_url("fast") == f"{URL}-fast"
            await asyncio.sleep(0.4)  # the slow answer arrives on a discarded connection
            assert await client.get_queue_url("again") == f"{URL}-again"

    run(scenario())


def test_https_to_a_server_of_a_private_ca_given_as_ca_file_keeps_alive(tmp_path: Path) -> None:
    ca = make_private_ca(tmp_path)

    async def scenario() -> None:
        async with Scripted(queue_url_reply, tls=ca.server_context) as server:
            async with SqsClient(server.endpoint, region="us-east-1", ca_file=ca.ca_file) as client:
                for _ in range(3):
                    assert await client.get_queue_url("q") == URL
                assert client.connects == 1
            assert server.seen[0].headers["host"] == f"127.0.0.1:{server.port}"

    run(scenario())


def test_https_to_a_server_the_trust_store_refuses_is_not_worth_retrying(tmp_path: Path) -> None:
    ca = make_private_ca(tmp_path)

    async def scenario() -> None:
        async with (
            Scripted(queue_url_reply, tls=ca.server_context) as server,
            SqsClient(server.endpoint, region="us-east-1") as client,
        ):
            with pytest.raises(SqsError) as caught:
                await client.get_queue_url("q")
            assert server.seen == []
        error = caught.value
        assert (error.code, error.status, error.retryable) == (
            "TlsCertificateRejected",
            None,
            False,
        )

    run(scenario())
