"""The console JSON API against a real SQLite store, broker (with topics) and functions
service: every action goes through the same services as the AWS APIs.

The figures source and the invoker are small stand-ins defined here (they stand for the
runtime, which has its own tests); everything else is the real thing.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from ekiden.console.api import ConsoleApi
from ekiden.core.clock import FakeClock
from ekiden.core.figures import FunctionStats, MappingStats
from ekiden.core.functions import EventSourceMapping, FunctionSpec, InvokeResult
from ekiden.core.messages import AttributeValue, md5_of_attributes
from ekiden.core.services.broker import Broker
from ekiden.core.services.functions import FunctionsService
from ekiden.core.services.history import QueueHistory
from ekiden.core.services.messages import ReceiveOptions
from ekiden.store.sqlite.mappings import SqliteMappingStore
from ekiden.store.sqlite.store import SqliteStore
from ekiden.store.sqlite.topics import SqliteTopicStore
from tests.support.invokers import RecordingInvoker

ACCOUNT = "000000000000"
REGION = "us-east-1"
WORKER = FunctionSpec("worker", "app:handle", timeout_s=20, description="does work")


def echo(payload: bytes, request_id: str | None) -> InvokeResult:
    """The handler returned the event it got, wrapped."""
    answer = json.dumps({"echo": json.loads(payload)}).encode()
    return InvokeResult("req-1", answer, log_tail="START\nREPORT\n")


class Figures:
    """The runtime's figures, as a test sets them."""

    def __init__(self) -> None:
        self.functions: dict[str, FunctionStats] = {}
        self.mappings: list[MappingStats] = []

    def function_figures(self) -> Mapping[str, FunctionStats]:
        return self.functions

    def mapping_figures(self) -> list[MappingStats]:
        return self.mappings


class World:
    def __init__(self, location: Path) -> None:
        self.location = location
        self.clock = FakeClock()
        self.figures = Figures()
        self.invoker = RecordingInvoker(echo)

    async def open(self) -> World:
        self.store = await SqliteStore.open(self.location)
        self.broker = Broker(
            self.store, self.clock, ACCOUNT, REGION, topic_store=SqliteTopicStore(self.store.writer)
        )
        await self.broker.start()

        async def no_wait(delay_s: float) -> None:
            pass

        self.functions = FunctionsService(
            (WORKER,),
            SqliteMappingStore(self.store.writer),
            self.broker.queues,
            self.broker.messages,
            self.clock,
            ACCOUNT,
            REGION,
            sleep=no_wait,
        )
        self.functions.invoker = self.invoker
        await self.functions.start()
        self.history = QueueHistory(
            self.broker.queues, self.store, self.broker.counters, self.clock
        )
        self.api = ConsoleApi(
            self.broker,
            self.functions,
            self.figures,
            self.history,
            self.broker.counters,
            base_url="http://localhost:9324",
        )
        return self

    async def close(self) -> None:
        await self.functions.stop()
        await self.broker.stop()
        await self.store.close()

    async def call(
        self, method: str, path: str, body: Any = None, query: str = ""
    ) -> tuple[int, Any]:
        raw = (
            body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        )
        response = await self.api.handle(method, "/console/api/" + path, query, raw)
        assert response.content_type == "application/json"
        return response.status, json.loads(response.body)

    async def ok(self, method: str, path: str, body: Any = None, query: str = "") -> Any:
        status, answer = await self.call(method, path, body, query)
        assert status < 300, answer
        return answer


def run(tmp_path: Path, scenario: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        world = await World(tmp_path / "data").open()
        try:
            await scenario(world)
        finally:
            await world.close()

    asyncio.run(main())


def test_a_message_sent_through_the_api_is_received_with_the_same_digests(
    tmp_path: Path,
) -> None:
    async def scenario(w: World) -> None:
        await w.ok("POST", "queues", {"name": "jobs"})
        sent = await w.ok(
            "POST",
            "queues/jobs/messages",
            {
                "body": "hello",
                "attributes": {
                    "kind": {"data_type": "String", "string_value": "greeting"},
                    "blob": {
                        "data_type": "Binary",
                        "binary_value": base64.b64encode(b"\x00\x01").decode(),
                    },
                },
            },
        )
        (received,) = await w.broker.messages.receive(
            "jobs", ReceiveOptions(message_attribute_names=["All"])
        )
        assert received.message_id == sent["message_id"]
        assert received.md5_of_body == sent["md5_of_body"]
        expected = md5_of_attributes(
            {
                "kind": AttributeValue("String", string_value="greeting"),
                "blob": AttributeValue("Binary", binary_value=b"\x00\x01"),
            }
        )
        assert received.md5_of_message_attributes == expected
        assert sent["md5_of_message_attributes"] == expected
        assert sent["sequence_number"] is None

    run(tmp_path, scenario)


def test_peek_shows_every_state_oldest_first_and_changes_nothing(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.ok("POST", "queues", {"name": "jobs"})
        for body in ("first", "second"):
            await w.ok("POST", "queues/jobs/messages", {"body": body})
            w.clock.advance(ms=10)
        await w.ok("POST", "queues/jobs/messages", {"body": "later", "delay_s": 60})
        await w.ok("POST", "queues/jobs/receive", {"max": 1})
        before = await w.ok("GET", "queues/jobs/peek", query="max=10")
        again = await w.ok("GET", "queues/jobs/peek")
        assert before == again
        bodies = [(m["body"], m["state"], m["receive_count"]) for m in before["messages"]]
        assert bodies == [
            ("first", "in_flight", 1),
            ("second", "visible", 0),
            ("later", "delayed", 0),
        ]
        first = before["messages"][0]
        assert first["attributes"]["ApproximateReceiveCount"] == "1"
        assert first["attributes"]["SentTimestamp"] == str(first["sent_ms"])
        one = await w.ok("GET", "queues/jobs/peek", query="max=1")
        assert len(one["messages"]) == 1
        status, error = await w.call("GET", "queues/jobs/peek", query="max=101")
        assert (status, error["error"]["code"]) == (400, "InvalidParameterValue")

    run(tmp_path, scenario)


def test_overview_reports_depth_age_dead_letter_links_and_totals(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        dlq = await w.ok("POST", "queues", {"name": "jobs-dlq"})
        policy = json.dumps({"deadLetterTargetArn": dlq["queue"]["arn"], "maxReceiveCount": 1})
        await w.ok("POST", "queues", {"name": "jobs", "attributes": {"RedrivePolicy": policy}})
        await w.ok("POST", "queues/jobs/messages/batch", {"bodies": ["a", "b", "c"]})
        w.clock.advance(s=30)
        got = await w.ok("POST", "queues/jobs/receive", {"max": 1, "delete": True})
        assert len(got["messages"]) == 1
        await w.ok("POST", "queues/jobs/receive", {"max": 1, "visibility_timeout_s": 0})
        # received once already: the next receive moves it to the dead-letter queue
        await w.ok("POST", "queues/jobs/receive", {"max": 10, "visibility_timeout_s": 60})
        overview = await w.ok("GET", "overview")
        assert overview["now_ms"] == w.clock.now_ms()
        names = [q["name"] for q in overview["queues"]]
        assert names == ["jobs", "jobs-dlq"]
        jobs, dead = overview["queues"]
        assert jobs["url"] == f"http://localhost:9324/{ACCOUNT}/jobs"
        assert jobs["dead_letter_target_arn"] == dlq["queue"]["arn"]
        assert dead["dead_letter_sources"] == ["jobs"]
        assert (jobs["sent_total"], jobs["deleted_total"], jobs["dead_lettered_total"]) == (3, 1, 1)
        assert jobs["received_total"] == 3
        assert (jobs["visible"], jobs["in_flight"], jobs["delayed"]) == (0, 1, 0)
        assert jobs["oldest_age_s"] == 30.0
        assert (dead["visible"], dead["oldest_age_s"]) == (1, 30.0)
        assert overview["functions"][0]["name"] == "worker"

    run(tmp_path, scenario)


def test_client_errors_get_their_status_and_change_nothing(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.ok("POST", "queues", {"name": "jobs"})
        cases: list[tuple[str, str, Any, int, str]] = [
            ("POST", "queues/jobs/messages", b"{not json", 400, "MalformedRequest"),
            ("POST", "queues/jobs/messages", {"body": 5}, 400, "InvalidParameterValue"),
            ("POST", "queues/jobs/messages", {}, 400, "MissingParameter"),
            (
                "POST",
                "queues/jobs/messages",
                {"body": "x", "attributes": {"a": {"data_type": "Weird", "string_value": "1"}}},
                400,
                "InvalidParameterValue",
            ),
            (
                "POST",
                "queues/jobs/messages",
                {"body": "x", "delay_s": 901},
                400,
                "InvalidParameterValue",
            ),
            (
                "PATCH",
                "queues/jobs/attributes",
                {"attributes": {"Nope": "1"}},
                400,
                "InvalidAttributeName",
            ),
            (
                "PATCH",
                "queues/jobs/attributes",
                {"attributes": {"VisibilityTimeout": 5}},
                400,
                "InvalidParameterValue",
            ),
            ("POST", "queues/nope/messages", {"body": "x"}, 404, "QueueDoesNotExist"),
            ("GET", "queues/nope", None, 404, "QueueDoesNotExist"),
            (
                "POST",
                "queues/jobs/messages/batch",
                {"bodies": ["x"] * 11},
                400,
                "TooManyEntriesInBatchRequest",
            ),
            ("POST", "queues/jobs/receive", {"max": 11}, 400, "InvalidParameterValue"),
            ("POST", "functions/nope/invoke", {"payload": {}}, 404, "FunctionDoesNotExist"),
            ("DELETE", "topics/nope", None, 404, "TopicDoesNotExist"),
            ("GET", "nothing/here", None, 404, "NotFound"),
            ("DELETE", "overview", None, 405, "MethodNotAllowed"),
        ]
        for method, path, body, status, code in cases:
            got_status, answer = await w.call(method, path, body)
            assert (got_status, answer["error"]["code"]) == (status, code), (method, path, answer)
            assert answer["error"]["message"]
        detail = await w.ok("GET", "queues/jobs")
        assert detail["attributes"]["VisibilityTimeout"] == "30"
        assert detail["queue"]["visible"] == 0
        assert detail["queue"]["sent_total"] == 0

    run(tmp_path, scenario)


def test_attributes_change_and_purge_keeps_the_sixty_second_rule(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.ok("POST", "queues", {"name": "jobs", "tags": {"team": "a"}})
        changed = await w.ok(
            "PATCH", "queues/jobs/attributes", {"attributes": {"VisibilityTimeout": "60"}}
        )
        assert changed["attributes"]["VisibilityTimeout"] == "60"
        assert (await w.ok("GET", "queues/jobs"))["tags"] == {"team": "a"}
        await w.ok("POST", "queues/jobs/messages", {"body": "x"})
        assert await w.ok("POST", "queues/jobs/purge") == {}
        status, answer = await w.call("POST", "queues/jobs/purge")
        assert (status, answer["error"]["code"]) == (403, "PurgeQueueInProgress")
        assert (await w.ok("GET", "queues/jobs/peek"))["messages"] == []
        assert await w.ok("DELETE", "queues/jobs") == {}
        assert (await w.ok("GET", "queues"))["queues"] == []

    run(tmp_path, scenario)


def test_redrive_starts_a_move_task_listed_newest_first(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        dlq = await w.ok("POST", "queues", {"name": "dlq"})
        policy = json.dumps({"deadLetterTargetArn": dlq["queue"]["arn"], "maxReceiveCount": 1})
        await w.ok("POST", "queues", {"name": "src", "attributes": {"RedrivePolicy": policy}})
        await w.ok("POST", "queues/src/messages", {"body": "x"})
        await w.ok("POST", "queues/src/receive", {"visibility_timeout_s": 0})
        await w.ok("POST", "queues/src/receive", {"visibility_timeout_s": 0})
        status, started = await w.call("POST", "queues/dlq/redrive", {"max_per_s": 10})
        assert status == 202 and started["task_handle"]
        tasks = (await w.ok("GET", "queues/dlq/redrive"))["tasks"]
        assert tasks[0]["task_handle"] == started["task_handle"]
        assert tasks[0]["source_arn"] == dlq["queue"]["arn"]
        assert tasks[0]["to_move"] == 1
        status, answer = await w.call("POST", "queues/src/redrive", {})
        assert status == 400 and answer["error"]["code"] == "InvalidParameterValue"

    run(tmp_path, scenario)


def test_topics_publish_into_subscribed_queues_and_count_as_sends(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        queue = await w.ok("POST", "queues", {"name": "inbox"})
        status, created = await w.call("POST", "topics", {"name": "news"})
        assert status == 201 and created["topic"]["subscriptions"] == []
        status, subscribed = await w.call(
            "POST",
            "topics/news/subscriptions",
            {
                "protocol": "sqs",
                "endpoint": queue["queue"]["arn"],
                "attributes": {"RawMessageDelivery": "true"},
            },
        )
        assert status == 201
        published = await w.ok(
            "POST",
            "topics/news/publish",
            {"message": "hi", "attributes": {"k": {"data_type": "String", "string_value": "v"}}},
        )
        assert published["message_id"] and published["sequence_number"] is None
        (topic,) = (await w.ok("GET", "topics"))["topics"]
        (subscription,) = topic["subscriptions"]
        assert subscription["arn"] == subscribed["subscription_arn"]
        assert subscription["raw_message_delivery"] is True
        peeked = (await w.ok("GET", "queues/inbox/peek"))["messages"]
        assert [m["body"] for m in peeked] == ["hi"]
        assert peeked[0]["message_attributes"] == {
            "k": {"data_type": "String", "string_value": "v"}
        }
        inbox = (await w.ok("GET", "queues"))["queues"][0]
        assert inbox["sent_total"] == 1
        arn = subscribed["subscription_arn"].replace(":", "%3A")
        assert await w.ok("DELETE", f"subscriptions/{arn}") == {}
        assert await w.ok("DELETE", "topics/news") == {}
        assert (await w.ok("GET", "topics"))["topics"] == []

    run(tmp_path, scenario)


def test_functions_show_runtime_figures_and_invoke_through_the_service(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        queue = await w.ok("POST", "queues", {"name": "jobs"})
        from ekiden.core.rules.mappings import MappingChanges

        mapping: EventSourceMapping = await w.functions.create_mapping(
            MappingChanges(function_name="worker", event_source_arn=queue["queue"]["arn"])
        )
        w.figures.functions["worker"] = FunctionStats(
            invocations=4, errors=1, total_duration_ms=10.0
        )
        w.figures.mappings.append(
            MappingStats(
                mapping.uuid, "worker", queue["queue"]["arn"], invocations=2, state="Enabled"
            )
        )
        (function,) = (await w.ok("GET", "functions"))["functions"]
        assert function["arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker"
        assert (function["invocations"], function["errors"]) == (4, 1)
        assert function["average_duration_ms"] == 2.5
        assert function["description"] == "does work"
        (shown,) = function["mappings"]
        assert (shown["uuid"], shown["invocations"], shown["state"]) == (mapping.uuid, 2, "Enabled")
        answer = await w.ok("POST", "functions/worker/invoke", {"payload": {"n": 1}})
        assert answer == {
            "status_code": 200,
            "function_error": None,
            "payload": {"echo": {"n": 1}},
            "log_tail": "START\nREPORT\n",
        }

    run(tmp_path, scenario)


def test_history_keeps_samples_of_depth_and_totals(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        await w.ok("POST", "queues", {"name": "jobs"})
        await w.ok("POST", "queues/jobs/messages", {"body": "x"})
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            w.clock.advance(s=seconds)
            if len(slept) == 3:
                raise asyncio.CancelledError

        history = QueueHistory(
            w.broker.queues, w.store, w.broker.counters, w.clock, keep_s=10.0, sleep=sleep
        )
        with pytest.raises(asyncio.CancelledError):
            await history.run()
        assert slept == [5.0, 5.0, 5.0]
        samples = history.snapshot()
        assert len(samples) == 2  # 10 s of 5 s samples: the first one dropped out
        assert samples[1].t_ms - samples[0].t_ms == 5000
        await w.history.sample(w.clock.now_ms())
        answer = await w.ok("GET", "history")
        assert answer["interval_s"] == 5
        (sample,) = answer["samples"]
        assert sample["queues"]["jobs"] == {
            "visible": 1,
            "in_flight": 0,
            "sent_total": 1,
            "received_total": 0,
            "deleted_total": 0,
        }

    run(tmp_path, scenario)
