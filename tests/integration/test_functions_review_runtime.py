"""Regressions found reviewing the runtime's pollers, against a live ekiden.

The SQS side is real (the shared server, the runtime's own SQS client); the function side
is either the real worker pool with handler files, or :class:`Recorder`, a small invoker
written here that records what the poller hands to the function (payload sizes, overlap)
so that the tests can observe what no handler could.

* a changed mapping's new poller waits for the old one (never two at once) and ends
  ``Enabled``;
* no invocation's event exceeds Lambda's 6 MB payload limit: a larger batch is invoked
  in parts, and on FIFO a group that failed in one part is held in the next;
* a batch throttled by the function's reserved concurrency is given up before its
  visibility timeout runs out (never invoked after another consumer could have it);
* an unexpected error while receiving does not end a slot.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from ekiden.core.functions import EventSourceMapping, FunctionSpec, InvokeResult
from ekiden.runtime.events import INVOKE_PAYLOAD_LIMIT_BYTES
from ekiden.runtime.pool import WorkerPool
from ekiden.runtime.sqs_client import SqsClient, queue_arn_from_url
from ekiden.runtime.supervisor import Runtime
from tests.support.server import EkidenProcess

REGION = "us-east-1"
ACCOUNT = "000000000000"


class Recorder:
    """A FunctionInvoker that sleeps ``duration_s`` per invocation and records it.

    ``fail`` decides from the event whether the invocation is a function error.
    """

    def __init__(
        self, duration_s: float = 0.0, fail: Callable[[dict[str, Any]], bool] | None = None
    ) -> None:
        self.duration_s = duration_s
        self.fail = fail or (lambda event: False)
        self.calls: list[tuple[float, float, dict[str, Any], int]] = []
        self.running = 0
        self.peak = 0

    async def invoke(
        self,
        function: FunctionSpec,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        wait_for_capacity: bool = True,
    ) -> InvokeResult:
        self.running += 1
        self.peak = max(self.peak, self.running)
        began = time.monotonic()
        try:
            await asyncio.sleep(self.duration_s)
        finally:
            self.running -= 1
        event = orjson.loads(payload)
        self.calls.append((began, time.monotonic(), event, len(payload)))
        if self.fail(event):
            return InvokeResult("r", b'{"errorMessage":"no","errorType":"E"}', "Unhandled")
        return InvokeResult("r", b"null")

    def bodies(self) -> list[str]:
        return [r["body"] for _, _, event, _ in self.calls for r in event["Records"]]


def run(scenario: Callable[[SqsClient], Awaitable[Any]], endpoint: str) -> Any:
    async def main() -> Any:
        async with SqsClient(endpoint, region=REGION) as client:
            return await asyncio.wait_for(scenario(client), 90)

    return asyncio.run(main())


async def eventually(probe: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def mapping_of(url: str, **keys: Any) -> EventSourceMapping:
    return EventSourceMapping(
        uuid=keys.pop("uuid", str(uuid.uuid4())),
        function_name="f",
        event_source_arn=queue_arn_from_url(url, REGION),
        **keys,
    )


def test_a_changed_mapping_never_runs_two_pollers_at_once_and_ends_enabled(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    async def scenario(client: SqsClient) -> None:
        url = await client.create_queue(queue_name, {"VisibilityTimeout": "30"})
        for i in range(12):
            await client.send_message(url, f"m{i}")
        recorder = Recorder(duration_s=0.8)
        function = FunctionSpec("f", "h:h", timeout_s=5)
        runtime = Runtime(sqs=client, invoker=recorder, functions={"f": function}, region=REGION)
        first = mapping_of(url, batch_size=1, maximum_concurrency=2)
        runtime.apply([first])
        await eventually(lambda: recorder.running == 2, 10, "two batches in flight")
        # A change while both batches run: the old poller must drain before the new starts.
        runtime.apply([mapping_of(url, uuid=first.uuid, batch_size=2, maximum_concurrency=2)])
        await eventually(lambda: len(recorder.bodies()) == 12, 30, "every message")
        [stats] = runtime.stats()
        assert stats.state == "Enabled"
        await runtime.close()
        assert recorder.peak <= 2
        assert stats.state == "Disabled"

    run(scenario, ekiden.endpoint)


def test_no_invocation_carries_more_than_six_mb_a_larger_batch_is_invoked_in_parts(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    async def scenario(client: SqsClient) -> None:
        url = await client.create_queue(queue_name)
        bodies = [f"{i}:" + "x" * 1_000_000 for i in range(10)]
        for body in bodies:
            await client.send_message(url, body)
        recorder = Recorder()
        function = FunctionSpec("f", "h:h", timeout_s=5)
        runtime = Runtime(sqs=client, invoker=recorder, functions={"f": function}, region=REGION)
        runtime.apply([mapping_of(url, batch_size=10, maximum_batching_window_s=2)])
        await eventually(lambda: len(recorder.bodies()) == 10, 30, "every message")
        await runtime.close()
        assert sorted(recorder.bodies()) == sorted(bodies)
        assert max(size for *_, size in recorder.calls) <= INVOKE_PAYLOAD_LIMIT_BYTES
        assert await client.get_queue_attributes(url, ("ApproximateNumberOfMessages",)) == {
            "ApproximateNumberOfMessages": "0"
        }

    run(scenario, ekiden.endpoint)


def test_a_fifo_group_that_failed_in_one_part_of_a_large_batch_is_held_in_the_next(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    async def scenario(client: SqsClient) -> None:
        url = await client.create_queue(
            queue_name + ".fifo",
            {"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "60"},
        )
        for i in range(8):
            await client.send_message(url, f"{i}:" + "x" * 1_000_000, group_id="g")
        recorder = Recorder(fail=lambda event: True)
        function = FunctionSpec("f", "h:h", timeout_s=5)
        runtime = Runtime(sqs=client, invoker=recorder, functions={"f": function}, region=REGION)
        runtime.apply([mapping_of(url, batch_size=10)])
        await eventually(lambda: len(recorder.calls) >= 1, 20, "an invocation")
        await asyncio.sleep(1.0)  # room for a wrong second part to be invoked
        await runtime.close()
        # One part failed; the rest of the group was neither invoked nor deleted.
        assert len(recorder.calls) == 1
        first_part = [r["body"].split(":")[0] for r in recorder.calls[0][2]["Records"]]
        assert first_part == [str(i) for i in range(len(first_part))]
        assert len(first_part) < 8
        counts = await client.get_queue_attributes(url, ("ApproximateNumberOfMessagesNotVisible",))
        assert counts == {"ApproximateNumberOfMessagesNotVisible": "8"}

    run(scenario, ekiden.endpoint)


THROTTLED_HANDLER = """
import json, os, time


def lambda_handler(event, context):
    started = time.time()
    with open(os.environ["OUT"], "a") as out:
        for r in event["Records"]:
            out.write(json.dumps({
                "body": r["body"],
                "count": int(r["attributes"]["ApproximateReceiveCount"]),
                "first_receive": int(r["attributes"]["ApproximateFirstReceiveTimestamp"]) / 1000,
                "started": started,
            }) + "\\n")
    time.sleep(1.2)
"""


def test_a_throttled_batch_is_given_up_before_its_visibility_timeout_runs_out(
    ekiden: EkidenProcess, queue_name: str, tmp_path: Path
) -> None:
    (tmp_path / "throttled.py").write_text(THROTTLED_HANDLER)
    out = tmp_path / "out.jsonl"
    visibility_s = 4

    async def scenario(client: SqsClient) -> Any:
        url = await client.create_queue(queue_name, {"VisibilityTimeout": str(visibility_s)})
        for i in range(5):
            await client.send_message(url, f"m{i}")
        function = FunctionSpec(
            "f",
            "throttled:lambda_handler",
            code=str(tmp_path),
            timeout_s=2,
            reserved_concurrency=1,
            environment={"OUT": str(out)},
        )
        pool = WorkerPool(region=REGION, account_id=ACCOUNT, log_sink=lambda line: None)
        runtime = Runtime(sqs=client, invoker=pool, functions={"f": function}, region=REGION)
        runtime.apply([mapping_of(url, batch_size=1)])

        def processed() -> int:
            lines = out.read_text().splitlines() if out.exists() else []
            return len({orjson.loads(line)["body"] for line in lines})

        await eventually(lambda: processed() == 5, 60, "every message")
        [stats] = runtime.stats()
        await runtime.close()
        await pool.close(5)
        return stats

    stats = run(scenario, ekiden.endpoint)
    for line in out.read_text().splitlines():
        seen = orjson.loads(line)
        if seen["count"] == 1:
            # First delivery: its visibility timeout started at first_receive. Starting
            # later than that + visibility would race another consumer for the message.
            assert seen["started"] - seen["first_receive"] < visibility_s, seen
    assert stats.throttles > 0


class FaultyOnce(SqsClient):
    """The real client, whose first ReceiveMessage fails with an unexpected error."""

    failed = False

    async def receive_message(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        if not FaultyOnce.failed:
            FaultyOnce.failed = True
            raise RuntimeError("unexpected")
        return await super().receive_message(*args, **kwargs)


def test_an_unexpected_error_while_receiving_does_not_end_the_slot(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    async def main() -> None:
        async with FaultyOnce(ekiden.endpoint, region=REGION) as client:
            url = await client.create_queue(queue_name)
            recorder = Recorder()
            function = FunctionSpec("f", "h:h", timeout_s=5)
            # One slot only: the runtime's cap.
            runtime = Runtime(
                sqs=client,
                invoker=recorder,
                functions={"f": function},
                region=REGION,
                max_concurrency=1,
            )
            runtime.apply([mapping_of(url, batch_size=1)])
            await eventually(lambda: FaultyOnce.failed, 10, "the fault")
            await client.send_message(url, "after the fault")
            await eventually(lambda: recorder.bodies() == ["after the fault"], 20, "the message")
            [stats] = runtime.stats()
            await runtime.close()
            assert stats.receive_errors == 1

    asyncio.run(asyncio.wait_for(main(), 60))
