"""Lambda subscriptions, delivered through the SNS outbox on the SQLite store: a publish
writes the entry in its transaction, the delivery loop invokes the function with the SNS
event, function errors are retried by Lambda's asynchronous rules and then go to the
function's on-failure queue, what SNS cannot hand over is retried by the managed policy
(server-side) or dead-lettered at once (client-side), and pending entries survive a
restart.

A real ``Broker`` over a real ``SqliteStore`` in ``tmp_path``, with a fake clock moved by
hand; the function runtime is a fake invoker defined here (it stands for the runtime's
worker pool, not for any part of ekiden's server)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ekiden.core.clock import FakeClock
from ekiden.core.errors import FunctionDoesNotExist, TooManyRequests
from ekiden.core.functions import FunctionInvoker, FunctionSpec, InvokeResult
from ekiden.core.messages import AttributeValue
from ekiden.core.services.broker import Broker
from ekiden.core.services.http_delivery import HttpOutcome
from ekiden.core.services.lambda_delivery import FUNCTION_FAILURE, invocation_request_id
from ekiden.core.sns_envelopes import EnvelopeSignature
from ekiden.core.sns_messages import PublishInput
from ekiden.core.storage import ClaimRequest, DeliveredMessage
from ekiden.core.topic_storage import PendingDelivery
from ekiden.store.sqlite.outbox import SqliteOutboxStore
from ekiden.store.sqlite.store import SqliteStore
from ekiden.store.sqlite.topics import SqliteTopicStore

REGION, ACCOUNT = "us-east-1", "000000000000"
NOW = 1_700_000_000_000
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker"
FAR_FUTURE = NOW + 10**12


class FakeSigner:
    def sign(
        self, string_to_sign: bytes, signature_version: str, base_url: str
    ) -> EnvelopeSignature:
        return EnvelopeSignature(signature_version, "c2ln", f"{base_url}/cert.pem")


class NoPoster:
    async def post(
        self, url: str, body: bytes, headers: Sequence[tuple[str, str]], timeout_s: float
    ) -> HttpOutcome:
        raise AssertionError(f"nothing is POSTed here ({url})")


class FakeInvoker:
    """Plays a script, one step per invocation: ``ok``, ``error`` (the handler raised)
    or ``throttle`` (at its concurrency limit); ``ok`` once the script is over."""

    def __init__(self, script: Sequence[str] = ()) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, bytes, str | None, bool]] = []

    async def invoke(
        self,
        function: FunctionSpec,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        wait_for_capacity: bool = True,
    ) -> InvokeResult:
        self.calls.append((function.name, payload, request_id, wait_for_capacity))
        step = self.script.pop(0) if self.script else "ok"
        if step == "throttle":
            raise TooManyRequests("Rate Exceeded.")
        if step == "error":
            document = {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}
            return InvokeResult(request_id or "", json.dumps(document).encode(), "Unhandled")
        return InvokeResult(request_id or "", b"null")


class Directory:
    def __init__(self, functions: Sequence[FunctionSpec], invoker: FunctionInvoker | None) -> None:
        self.functions = {f.name: f for f in functions}
        self.invoker = invoker

    def get_function(self, name_or_arn: str) -> FunctionSpec:
        try:
            return self.functions[name_or_arn]
        except KeyError:
            raise FunctionDoesNotExist(f"Function not found: {name_or_arn}") from None


class Harness:
    """A broker over a SQLite store at ``location`` (reopened by ``restart``)."""

    def __init__(self, location: Path, clock: FakeClock) -> None:
        self.location = location
        self.clock = clock
        self.store: SqliteStore
        self.broker: Broker
        self.outbox: SqliteOutboxStore

    async def open(self) -> Harness:
        self.store = await SqliteStore.open(self.location)
        self.outbox = SqliteOutboxStore(self.store.writer)
        self.broker = Broker(
            self.store,
            self.clock,
            ACCOUNT,
            REGION,
            topic_store=SqliteTopicStore(self.store.writer),
            signer=FakeSigner(),
            outbox=SqliteOutboxStore(self.store.writer),
            poster=NoPoster(),
        )
        await self.broker.start()
        return self

    async def close(self) -> None:
        await self.broker.stop()
        await self.store.close()

    async def restart(self) -> None:
        await self.close()
        await self.open()

    @property
    def topics(self) -> Any:
        assert self.broker.topics is not None
        return self.broker.topics

    async def subscribe(self, attributes: dict[str, str] | None = None) -> tuple[str, str]:
        topic_arn = await self.topics.create_topic("orders", {}, [])
        arn = await self.topics.subscribe(
            topic_arn, "lambda", FUNCTION_ARN, attributes or {}, return_subscription_arn=True
        )
        return topic_arn, arn

    async def publish(self, topic_arn: str, message: PublishInput) -> str:
        topic = self.topics.publish_topic(topic_arn, None, None)
        receipt = await self.topics.publish(topic, message, "http://sns.test")
        return str(receipt.message_id)

    async def pending(self) -> list[PendingDelivery]:
        return (await self.outbox.due(FAR_FUTURE, 100, ())).due

    async def advance(self, s: float) -> None:
        self.clock.advance(s=s)
        assert self.broker.http_deliveries is not None
        self.broker.http_deliveries.wake()

    async def received(self, queue_name: str) -> list[DeliveredMessage]:
        queue = self.broker.queues.cached(queue_name)
        assert queue is not None
        claimed = await self.store.claim(
            ClaimRequest(queue.queue_id, False, 10, 30_000, self.clock.now_ms())
        )
        return claimed.messages


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.01)


def run(location: Path, scenario: Callable[[Harness], Awaitable[None]]) -> None:
    async def main() -> None:
        harness = await Harness(location, FakeClock(NOW)).open()
        try:
            await scenario(harness)
        finally:
            await harness.close()

    asyncio.run(main())


def worker(**settings: Any) -> FunctionSpec:
    return FunctionSpec(name="worker", handler="app:handler", **settings)


def test_a_publish_invokes_the_function_once_with_the_sns_event(tmp_path: Path) -> None:
    invoker = FakeInvoker()

    async def scenario(h: Harness) -> None:
        topic_arn, subscription_arn = await h.subscribe()
        h.broker.use_functions(Directory([worker()], invoker))
        attributes = {"kind": AttributeValue("String", "paid")}
        message_id = await h.publish(
            topic_arn, PublishInput("hello", subject="greeting", attributes=attributes)
        )

        async def settled() -> bool:
            return bool(invoker.calls) and not await h.pending()

        await eventually(settled)
        ((name, payload, request_id, wait),) = invoker.calls
        assert name == "worker" and wait is False  # a busy function is an SNS retry
        assert request_id == invocation_request_id(subscription_arn, message_id)
        (record,) = json.loads(payload)["Records"]
        assert record["EventSource"] == "aws:sns"
        assert record["EventSubscriptionArn"] == subscription_arn
        sns = record["Sns"]
        assert (sns["MessageId"], sns["TopicArn"], sns["Subject"], sns["Message"]) == (
            message_id,
            topic_arn,
            "greeting",
            "hello",
        )
        assert sns["MessageAttributes"] == {"kind": {"Type": "String", "Value": "paid"}}
        assert sns["SigningCertUrl"] == "http://sns.test/cert.pem"
        assert sns["UnsubscribeUrl"].endswith(subscription_arn)

    run(tmp_path / "store", scenario)


def test_a_message_the_filter_policy_rejects_writes_no_entry(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        topic_arn, _ = await h.subscribe({"FilterPolicy": '{"kind": ["refund"]}'})
        paid = {"kind": AttributeValue("String", "paid")}
        await h.publish(topic_arn, PublishInput("m", attributes=paid))
        assert await h.pending() == []

    run(tmp_path / "store", scenario)


def test_function_errors_are_retried_after_the_async_delays_with_one_request_id(
    tmp_path: Path,
) -> None:
    invoker = FakeInvoker(["error", "error", "ok"])

    async def scenario(h: Harness) -> None:
        topic_arn, _ = await h.subscribe()
        h.broker.use_functions(
            Directory([worker(maximum_retry_attempts=2, async_retry_delay_s=60.0)], invoker)
        )
        await h.publish(topic_arn, PublishInput("hello"))

        async def retry_recorded(attempts: int, due_ms: int) -> bool:
            return [(p.attempts, p.due_ms) for p in await h.pending()] == [(attempts, due_ms)]

        await eventually(lambda: retry_recorded(FUNCTION_FAILURE, NOW + 60_000))
        await h.advance(59.9)
        await asyncio.sleep(0.1)
        assert len(invoker.calls) == 1  # not due yet
        await h.advance(0.1)
        await eventually(lambda: retry_recorded(2 * FUNCTION_FAILURE, NOW + 180_000))
        assert len(invoker.calls) == 2  # the second retry waits twice as long
        await h.advance(120)

        async def delivered() -> bool:
            return len(invoker.calls) == 3 and not await h.pending()

        await eventually(delivered)
        assert len({call[2] for call in invoker.calls}) == 1  # one request id
        assert len({call[1] for call in invoker.calls}) == 1  # one payload

    run(tmp_path / "store", scenario)


def test_the_event_goes_to_the_on_failure_queue_after_the_last_retry_fails(
    tmp_path: Path,
) -> None:
    invoker = FakeInvoker(["error"] * 5)

    async def scenario(h: Harness) -> None:
        await h.broker.queues.create("worker-failures", {}, {})
        topic_arn, subscription_arn = await h.subscribe()
        spec = worker(
            maximum_retry_attempts=1, async_retry_delay_s=1.0, on_failure_queue="worker-failures"
        )
        h.broker.use_functions(Directory([spec], invoker))
        message_id = await h.publish(topic_arn, PublishInput("hello"))
        await eventually(lambda: _has_attempts(h, FUNCTION_FAILURE))
        await h.advance(1)

        async def moved() -> bool:
            return len(invoker.calls) == 2 and not await h.pending()

        await eventually(moved)
        (failed,) = await h.received("worker-failures")
        assert failed.body.encode() == invoker.calls[0][1]  # the event, unchanged
        request_id = invocation_request_id(subscription_arn, message_id)
        assert {name: (v.data_type, v.string_value) for name, v in failed.attributes.items()} == {
            "RequestID": ("String", request_id),
            "ErrorCode": ("Number", "200"),
            "ErrorMessage": ("String", "boom"),
        }

    run(tmp_path / "store", scenario)


async def _has_attempts(h: Harness, attempts: int) -> bool:
    return [p.attempts for p in await h.pending()] == [attempts]


def test_without_an_on_failure_queue_the_failed_event_is_dropped(tmp_path: Path) -> None:
    invoker = FakeInvoker(["error"])

    async def scenario(h: Harness) -> None:
        topic_arn, _ = await h.subscribe()
        h.broker.use_functions(Directory([worker(maximum_retry_attempts=0)], invoker))
        await h.publish(topic_arn, PublishInput("hello"))

        async def dropped() -> bool:
            return len(invoker.calls) == 1 and not await h.pending()

        await eventually(dropped)

    run(tmp_path / "store", scenario)


def test_a_missing_function_sends_the_notification_to_the_subscription_dlq_at_once(
    tmp_path: Path,
) -> None:
    invoker = FakeInvoker()

    async def scenario(h: Harness) -> None:
        await h.broker.queues.create("sns-dlq", {}, {})
        dlq_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:sns-dlq"
        topic_arn, subscription_arn = await h.subscribe(
            {"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})}
        )
        h.broker.use_functions(Directory([], invoker))  # "worker" is not declared
        message_id = await h.publish(topic_arn, PublishInput("hello", subject="s"))

        async def dead_lettered() -> bool:
            return not await h.pending()

        await eventually(dead_lettered)  # no retry: a client-side error
        (dead,) = await h.received("sns-dlq")
        envelope = json.loads(dead.body)
        assert (envelope["Type"], envelope["MessageId"], envelope["Message"]) == (
            "Notification",
            message_id,
            "hello",
        )
        assert envelope["UnsubscribeURL"].endswith(subscription_arn)
        assert invoker.calls == []

    run(tmp_path / "store", scenario)


@pytest.mark.parametrize("cause", ["throttled", "no runtime"])
def test_a_hand_over_failure_is_retried_by_the_managed_policy(tmp_path: Path, cause: str) -> None:
    invoker = FakeInvoker(["throttle"] * 4 if cause == "throttled" else [])

    async def scenario(h: Harness) -> None:
        topic_arn, _ = await h.subscribe()
        directory = Directory([worker()], invoker if cause == "throttled" else None)
        h.broker.use_functions(directory)
        await h.publish(topic_arn, PublishInput("hello"))
        # The first attempt and 3 immediate retries failed; the 4th retry waits a second.
        await eventually(lambda: _has_attempts(h, 4))
        assert [p.due_ms for p in await h.pending()] == [NOW + 1_000]
        directory.invoker = invoker
        await h.advance(1)

        async def delivered() -> bool:
            return not await h.pending()

        await eventually(delivered)
        assert len(invoker.calls) == (5 if cause == "throttled" else 1)
        assert all(call[3] is False for call in invoker.calls)

    run(tmp_path / "store", scenario)


def test_pending_invocations_survive_a_restart_and_keep_their_request_id(
    tmp_path: Path,
) -> None:
    before = FakeInvoker(["error"])
    after = FakeInvoker()

    async def scenario(h: Harness) -> None:
        topic_arn, _ = await h.subscribe()
        spec = worker(async_retry_delay_s=60.0)
        h.broker.use_functions(Directory([spec], before))
        await h.publish(topic_arn, PublishInput("hello"))
        await eventually(lambda: _has_attempts(h, FUNCTION_FAILURE))

        await h.restart()
        h.broker.use_functions(Directory([spec], after))
        (pending,) = await h.pending()
        assert (pending.attempts, pending.due_ms) == (FUNCTION_FAILURE, NOW + 60_000)
        await asyncio.sleep(0.1)
        assert after.calls == []  # not due yet
        await h.advance(60)

        async def delivered() -> bool:
            return bool(after.calls) and not await h.pending()

        await eventually(delivered)
        assert after.calls[0][1:3] == before.calls[0][1:3]  # same event, same request id

    run(tmp_path / "store", scenario)


def test_an_entry_written_before_the_runtime_exists_is_kept_until_it_does(
    tmp_path: Path,
) -> None:
    invoker = FakeInvoker()

    async def scenario(h: Harness) -> None:
        topic_arn, _ = await h.subscribe()
        await h.publish(topic_arn, PublishInput("hello"))  # no functions wired yet
        await eventually(lambda: _has_attempts(h, 4))
        await h.restart()
        assert len(await h.pending()) == 1
        h.broker.use_functions(Directory([worker()], invoker))
        await h.advance(1)

        async def delivered() -> bool:
            return bool(invoker.calls) and not await h.pending()

        await eventually(delivered)

    run(tmp_path / "store", scenario)


def test_unsubscribing_drops_the_pending_invocations(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        topic_arn, subscription_arn = await h.subscribe()
        await h.publish(topic_arn, PublishInput("hello"))
        await eventually(lambda: _has_attempts(h, 4))
        await h.topics.unsubscribe(subscription_arn)
        assert await h.pending() == []

    run(tmp_path / "store", scenario)
