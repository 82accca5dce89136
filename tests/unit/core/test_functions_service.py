"""The functions service against a real SQLite store: mapping CRUD with Lambda's
validation, declared mappings across restarts, and Invoke with Lambda's asynchronous
semantics.

The invoker is a small fake defined here: it stands for the runtime's worker pool, which
has its own tests; everything else (store, queues, messages) is the real thing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ekiden.core.clock import FakeClock
from ekiden.core.errors import (
    FunctionDoesNotExist,
    InvalidParameterValue,
    MalformedRequest,
    MappingDoesNotExist,
    MessageTooLong,
    ResourceConflict,
    ServiceUnavailable,
    TooManyRequests,
)
from ekiden.core.functions import EventSourceMapping, FunctionSpec, InvokeResult
from ekiden.core.rules.mappings import MappingChanges
from ekiden.core.services.broker import Broker
from ekiden.core.services.functions import FunctionsService, declared_mapping_uuid
from ekiden.core.services.messages import ReceiveOptions
from ekiden.store.sqlite.mappings import SqliteMappingStore
from ekiden.store.sqlite.store import SqliteStore

ACCOUNT = "000000000000"
REGION = "us-east-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker"
WORKER = FunctionSpec("worker", "app:handle", timeout_s=20, async_retry_delay_s=60.0)
SLOW = FunctionSpec("slow", "app:slow", timeout_s=60)
FLAKY = FunctionSpec("flaky", "app:flaky", on_failure_queue="failed", async_retry_delay_s=5.0)
FAILED_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:failed"


class FakeInvoker:
    """Answers from a script of results (the last one repeats) and records each call."""

    def __init__(self, *results: InvokeResult | Exception) -> None:
        self.results = list(results) or [InvokeResult("r", b"null")]
        self.calls: list[dict[str, Any]] = []
        self.block: asyncio.Event | None = None

    async def invoke(
        self,
        function: FunctionSpec,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        wait_for_capacity: bool = True,
    ) -> InvokeResult:
        self.calls.append(
            {
                "function": function.name,
                "payload": payload,
                "request_id": request_id,
                "client_context": client_context,
                "wait_for_capacity": wait_for_capacity,
            }
        )
        if self.block is not None:
            await self.block.wait()
        outcome = self.results[min(len(self.calls), len(self.results)) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def failure(message: str = "boom") -> InvokeResult:
    document = {"errorMessage": message, "errorType": "RuntimeError", "stackTrace": []}
    return InvokeResult("r", json.dumps(document).encode(), function_error="Unhandled")


class World:
    """A broker and a functions service on one store; ``restart`` reopens both."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self.clock = FakeClock()
        self.sleeps: list[float] = []
        self.heard: list[list[EventSourceMapping]] = []
        self.store: SqliteStore
        self.broker: Broker
        self.service: FunctionsService

    async def open(
        self,
        declared: tuple[EventSourceMapping, ...] = (),
        functions: tuple[FunctionSpec, ...] = (),
    ) -> World:
        self.heard = []
        self.store = await SqliteStore.open(self.location)
        self.broker = Broker(self.store, self.clock, ACCOUNT, REGION)
        await self.broker.start()

        async def no_wait(delay_s: float) -> None:
            self.sleeps.append(delay_s)

        self.service = FunctionsService(
            functions or (WORKER, SLOW, FLAKY),
            SqliteMappingStore(self.store.writer),
            self.broker.queues,
            self.broker.messages,
            self.clock,
            ACCOUNT,
            REGION,
            sleep=no_wait,
        )
        self.service.add_listener(lambda mappings: self.heard.append(list(mappings)))
        await self.service.start(declared)
        return self

    async def close(self) -> None:
        await self.service.stop()
        await self.broker.stop()
        await self.store.close()

    async def restart(self, declared: tuple[EventSourceMapping, ...] = ()) -> None:
        await self.close()
        await self.open(declared)

    async def queue(self, name: str, **attributes: str) -> str:
        return (await self.broker.queues.create(name, attributes, {})).arn

    async def settled(self) -> None:
        for _ in range(500):
            if not self.service.pending_async_invocations:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("asynchronous invocations did not finish")


def run(tmp_path: Path, scenario: Callable[[World], Awaitable[None]], **open_args: Any) -> None:
    async def main() -> None:
        world = await World(tmp_path / "data").open(**open_args)
        try:
            await scenario(world)
        finally:
            await world.close()

    asyncio.run(main())


def create(function: str = "worker", arn: str = QUEUE_ARN, **fields: Any) -> MappingChanges:
    return MappingChanges(function_name=function, event_source_arn=arn, **fields)


# --- functions -------------------------------------------------------------------------


def test_a_function_is_found_by_name_arn_partial_arn_and_latest_qualifier(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        s = w.service
        for ref in ("worker", FUNCTION_ARN, f"{ACCOUNT}:function:worker", "worker:$LATEST"):
            assert s.get_function(ref) is WORKER
        assert s.function_arn("worker") == FUNCTION_ARN
        assert [f.name for f in s.list_functions()] == ["flaky", "slow", "worker"]

    run(tmp_path, scenario)


def test_an_unknown_function_is_not_found_with_lambdas_words(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        with pytest.raises(FunctionDoesNotExist) as caught:
            w.service.get_function("nope")
        assert caught.value.message == (
            f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:nope"
        )
        elsewhere = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:worker"
        with pytest.raises(FunctionDoesNotExist, match=elsewhere):
            w.service.get_function(elsewhere)
        with pytest.raises(FunctionDoesNotExist):
            w.service.get_function("worker:7")

    run(tmp_path, scenario)


# --- mappings --------------------------------------------------------------------------


def test_a_created_mapping_is_stored_listed_announced_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        await w.queue("jobs")
        mapping = await w.service.create_mapping(create(FUNCTION_ARN, batch_size=5))
        assert (mapping.function_name, mapping.event_source_arn) == ("worker", QUEUE_ARN)
        assert (mapping.batch_size, mapping.declared) == (5, False)
        assert mapping.last_modified_ms == w.clock.now_ms()
        assert w.service.get_mapping(mapping.uuid) == mapping
        assert w.heard[-1] == [mapping]
        await w.restart()
        assert w.service.list_mappings() == [mapping]
        assert w.heard == [[mapping]]  # once, from start

    run(tmp_path, scenario)


def test_a_mapping_needs_a_declared_function_and_an_existing_queue(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.queue("jobs")
        with pytest.raises(InvalidParameterValue, match=r"^Function does not exist$"):
            await w.service.create_mapping(create("nope"))
        for arn in (QUEUE_ARN + "-missing", QUEUE_ARN.replace(REGION, "eu-west-1")):
            with pytest.raises(InvalidParameterValue) as caught:
                await w.service.create_mapping(create(arn=arn))
            assert caught.value.message == (
                "Error occurred while ReceiveMessage. SQS Error Code: "
                "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified "
                "queue does not exist."
            )
        with pytest.raises(InvalidParameterValue, match="Unrecognized event source"):
            await w.service.create_mapping(create(arn="arn:aws:kinesis:us-east-1:0:stream/s"))
        assert w.service.list_mappings() == [] and w.heard == [[]]

    run(tmp_path, scenario)


def test_a_second_mapping_of_one_function_and_queue_is_a_conflict(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.queue("jobs")
        first = await w.service.create_mapping(create())
        with pytest.raises(ResourceConflict) as caught:
            await w.service.create_mapping(create(FUNCTION_ARN))
        assert caught.value.message == (
            f'An event source mapping with SQS arn (" {QUEUE_ARN} ") and function (" worker '
            '") already exists. Please update or delete the existing mapping with UUID '
            f"{first.uuid}"
        )
        assert await w.service.create_mapping(
            create("slow", arn=await w.queue("long", VisibilityTimeout="60"))
        )

    run(tmp_path, scenario)


def test_the_queue_must_hide_messages_as_long_as_the_function_runs(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.queue("jobs")  # 30 s visibility, SLOW runs up to 60 s
        with pytest.raises(InvalidParameterValue) as caught:
            await w.service.create_mapping(create("slow"))
        assert caught.value.message == (
            "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"
        )

    run(tmp_path, scenario)


def test_a_fifo_queue_refuses_a_batching_window(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        arn = await w.queue("jobs.fifo", FifoQueue="true")
        with pytest.raises(InvalidParameterValue, match="not supported for FIFO queues"):
            await w.service.create_mapping(create(arn=arn, maximum_batching_window_s=1))
        assert (await w.service.create_mapping(create(arn=arn))).batch_size == 10

    run(tmp_path, scenario)


def test_an_update_changes_only_what_it_names(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.queue("jobs")
        created = await w.service.create_mapping(create(batch_size=7))
        w.clock.advance(s=5)
        updated = await w.service.update_mapping(created.uuid, MappingChanges(enabled=False))
        assert updated == dataclasses.replace(
            created, enabled=False, last_modified_ms=w.clock.now_ms()
        )
        with pytest.raises(InvalidParameterValue, match="Maximum batch window"):
            await w.service.update_mapping(created.uuid, MappingChanges(batch_size=50))
        await w.restart()
        assert w.service.get_mapping(created.uuid) == updated

    run(tmp_path, scenario)


def test_an_update_to_another_function_is_checked_like_a_create(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.queue("jobs")
        worker = await w.service.create_mapping(create("worker"))
        flaky = await w.service.create_mapping(create("flaky"))
        with pytest.raises(ResourceConflict, match=worker.uuid):
            await w.service.update_mapping(flaky.uuid, MappingChanges(function_name="worker"))
        with pytest.raises(InvalidParameterValue, match="Function timeout: 60 seconds"):
            await w.service.update_mapping(flaky.uuid, MappingChanges(function_name="slow"))
        with pytest.raises(InvalidParameterValue, match="Function does not exist"):
            await w.service.update_mapping(flaky.uuid, MappingChanges(function_name="nope"))
        await w.service.delete_mapping(worker.uuid)
        moved = await w.service.update_mapping(
            flaky.uuid, MappingChanges(function_name=FUNCTION_ARN)
        )
        assert moved.function_name == "worker"

    run(tmp_path, scenario)


def test_a_deleted_mapping_is_gone_and_an_unknown_uuid_is_not_found(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.queue("jobs")
        mapping = await w.service.create_mapping(create())
        assert await w.service.delete_mapping(mapping.uuid) == mapping
        for attempt in (
            lambda: w.service.delete_mapping(mapping.uuid),
            lambda: w.service.update_mapping(mapping.uuid, MappingChanges(enabled=False)),
        ):
            with pytest.raises(
                MappingDoesNotExist, match=r"^The resource you requested does not exist\.$"
            ):
                await attempt()
        with pytest.raises(MappingDoesNotExist):
            w.service.get_mapping(mapping.uuid)
        assert w.heard[-1] == []
        await w.restart()
        assert w.service.list_mappings() == []

    run(tmp_path, scenario)


def test_mappings_are_listed_by_function_and_by_queue(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        other = await w.queue("other")
        await w.queue("jobs")
        a = await w.service.create_mapping(create("worker"))
        b = await w.service.create_mapping(create("flaky"))
        c = await w.service.create_mapping(create("worker", arn=other))
        s = w.service
        assert s.list_mappings() == [a, b, c]
        assert s.list_mappings(function_name=FUNCTION_ARN) == [a, c]
        assert s.list_mappings(event_source_arn=QUEUE_ARN) == [a, b]
        assert s.list_mappings(function_name="worker", event_source_arn=other) == [c]
        assert s.list_mappings(function_name="arn:aws:lambda:x:1:function:worker") == []

    run(tmp_path, scenario)


# --- declared mappings -----------------------------------------------------------------


def declared(function: str = "worker", queue: str = "jobs", **fields: Any) -> EventSourceMapping:
    return EventSourceMapping(
        uuid="", function_name=function, event_source_arn=queue, declared=True, **fields
    )


def test_a_declared_mapping_creates_its_queue_and_gets_a_stable_uuid(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        (mapping,) = w.service.list_mappings()
        assert mapping.uuid == declared_mapping_uuid("worker", QUEUE_ARN)
        assert (mapping.event_source_arn, mapping.batch_size, mapping.declared) == (
            QUEUE_ARN,
            3,
            True,
        )
        assert await w.broker.queues.get("jobs")
        w.clock.advance(s=60)
        await w.restart((declared(batch_size=3),))
        assert w.service.list_mappings() == [mapping]  # unchanged: same LastModified
        await w.restart((declared(batch_size=4),))
        assert w.service.list_mappings()[0].last_modified_ms == w.clock.now_ms()
        await w.restart(())
        assert w.service.list_mappings() == []  # gone from the config: deleted

    run(tmp_path, scenario, declared=(declared(batch_size=3),))


def test_a_declared_fifo_queue_is_created_fifo_and_a_slow_functions_queue_hides_longer(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        fifo = await w.broker.queues.get("jobs.fifo")
        assert fifo.record.is_fifo
        slow = await w.broker.queues.get("long")
        assert slow.settings.visibility_timeout_s == 360
        assert len(w.service.list_mappings()) == 2

    run(
        tmp_path,
        scenario,
        declared=(
            declared(queue=f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs.fifo"),
            declared("slow", "long"),
        ),
    )


def test_a_declared_mapping_takes_over_an_api_mapping_of_the_same_pair(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.queue("jobs")
        api = await w.service.create_mapping(create())
        await w.restart((declared(),))
        (mapping,) = w.service.list_mappings()
        assert mapping.declared and mapping.uuid != api.uuid

    run(tmp_path, scenario)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (declared("nope"), "no function 'nope' is declared"),
        (declared(batch_size=11), "Maximum batch window in seconds"),
        (declared(queue="arn:aws:sqs:eu-west-1:000000000000:jobs"), "not the ARN of a queue"),
    ],
)
def test_a_bad_declared_mapping_stops_the_start_with_its_reason(
    tmp_path: Path, item: EventSourceMapping, reason: str
) -> None:
    async def main() -> None:
        world = World(tmp_path / "data")
        with pytest.raises(ValueError, match=reason):
            await world.open((item,))
        await world.broker.stop()
        await world.store.close()

    asyncio.run(main())


# --- invoke ----------------------------------------------------------------------------


def test_a_synchronous_invoke_returns_the_result_and_does_not_wait_for_capacity(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        invoker = FakeInvoker(InvokeResult("r-1", b'{"ok": true}'))
        w.service.invoker = invoker
        result = await w.service.invoke(
            FUNCTION_ARN, b'{"a": 1}', invocation_type="RequestResponse", client_context="e30="
        )
        assert result == InvokeResult("r-1", b'{"ok": true}')
        assert invoker.calls == [
            {
                "function": "worker",
                "payload": b'{"a": 1}',
                "request_id": None,
                "client_context": "e30=",
                "wait_for_capacity": False,
            }
        ]
        w.service.invoker = FakeInvoker(TooManyRequests("Rate Exceeded."))
        with pytest.raises(TooManyRequests):
            await w.service.invoke("worker", b"{}", invocation_type="RequestResponse")

    run(tmp_path, scenario)


def test_invoke_checks_the_payload_as_lambda_does(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        invoker = FakeInvoker()
        w.service.invoker = invoker
        with pytest.raises(MalformedRequest, match="Could not parse request body into json"):
            await w.service.invoke("worker", b"{not json", invocation_type="RequestResponse")
        with pytest.raises(MessageTooLong, match="smaller than 6291456 bytes"):
            big = b'"' + b"x" * 6_291_456 + b'"'
            await w.service.invoke("worker", big, invocation_type="RequestResponse")
        with pytest.raises(MessageTooLong, match="too large for the Event invocation type"):
            await w.service.invoke(
                "worker", b"[" + b"1," * 600_000 + b"1]", invocation_type="Event"
            )
        await w.service.invoke("worker", b"", invocation_type="RequestResponse")
        assert [call["payload"] for call in invoker.calls] == [b"{}"]

    run(tmp_path, scenario)


def test_dry_run_validates_only_and_no_runtime_means_unavailable(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        assert await w.service.invoke("worker", b"{}", invocation_type="DryRun") is None
        with pytest.raises(FunctionDoesNotExist):
            await w.service.invoke("nope", b"{}", invocation_type="DryRun")
        for kind in ("RequestResponse", "Event"):
            with pytest.raises(ServiceUnavailable):
                await w.service.invoke("worker", b"{}", invocation_type=kind)  # type: ignore[arg-type]

    run(tmp_path, scenario)


def test_an_event_invoke_returns_at_once_and_runs_in_the_background(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        invoker = FakeInvoker()
        w.service.invoker = invoker
        result = await w.service.invoke(
            "worker", b'{"n": 1}', invocation_type="Event", client_context="e30=", request_id="q-1"
        )
        assert result is None
        await w.settled()
        assert invoker.calls == [
            {
                "function": "worker",
                "payload": b'{"n": 1}',
                "request_id": "q-1",
                "client_context": None,
                "wait_for_capacity": True,
            }
        ]
        assert w.sleeps == []

    run(tmp_path, scenario)


def test_a_failing_event_is_retried_then_sent_to_the_dead_letter_queue(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.queue("failed")
        invoker = FakeInvoker(failure("first"), failure("second"), failure("last words"))
        w.service.invoker = invoker
        await w.service.invoke("flaky", b'{"order": 7}', invocation_type="Event", request_id="q-9")
        await w.settled()
        assert len(invoker.calls) == 3 and {c["request_id"] for c in invoker.calls} == {"q-9"}
        assert w.sleeps == [5.0, 10.0]
        (message,) = await w.broker.messages.receive(
            "failed", ReceiveOptions(max_messages=10, message_attribute_names=["All"])
        )
        assert message.body == '{"order": 7}'
        attributes = {
            name: (value.data_type, value.string_value)
            for name, value in message.message_attributes.items()
        }
        assert attributes == {
            "RequestID": ("String", "q-9"),
            "ErrorCode": ("Number", "200"),
            "ErrorMessage": ("String", "last words"),
        }

    run(tmp_path, scenario)


def test_an_event_that_succeeds_on_a_retry_leaves_the_dead_letter_queue_empty(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        await w.queue("failed")
        w.service.invoker = FakeInvoker(failure(), InvokeResult("r", b"null"))
        await w.service.invoke("flaky", b"{}", invocation_type="Event")
        await w.settled()
        assert w.sleeps == [5.0]
        assert await w.broker.messages.receive("failed", ReceiveOptions(max_messages=10)) == []

    run(tmp_path, scenario)


def test_a_dead_letter_queue_named_by_arn_receives_failures_of_the_runtime_itself(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        await w.queue("failed")
        w.service.invoker = FakeInvoker(RuntimeError("worker pool crashed"))
        await w.service.invoke("flaky", b"{}", invocation_type="Event")
        await w.settled()
        (message,) = await w.broker.messages.receive(
            "failed", ReceiveOptions(message_attribute_names=["ErrorCode", "ErrorMessage"])
        )
        assert message.message_attributes["ErrorCode"].string_value == "500"
        assert "worker pool crashed" in (
            message.message_attributes["ErrorMessage"].string_value or ""
        )

    flaky_by_arn = dataclasses.replace(FLAKY, on_failure_queue=FAILED_ARN, maximum_retry_attempts=0)
    run(tmp_path, scenario, functions=(WORKER, flaky_by_arn))


def test_stop_cancels_pending_events_and_refuses_new_ones(tmp_path: Path) -> None:
    async def main() -> None:
        world = await World(tmp_path / "data").open()
        invoker = FakeInvoker()
        invoker.block = asyncio.Event()  # never set: the run hangs until cancelled
        world.service.invoker = invoker
        await world.service.invoke("worker", b"{}", invocation_type="Event")
        await asyncio.sleep(0)
        assert world.service.pending_async_invocations == 1
        await world.service.stop()
        assert world.service.pending_async_invocations == 0
        with pytest.raises(ServiceUnavailable):
            await world.service.invoke("worker", b"{}", invocation_type="Event")
        await world.close()

    asyncio.run(main())
