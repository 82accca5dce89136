"""The metrics exporter over a real broker and SQLite store (a fake clock moves time): the
figures of known traffic, read back from the exposition with prometheus_client's parser.

The runtime's figures come from a fixed FiguresSource defined here (the runtime's own
counters have their own tests); everything else is the real thing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from ekiden.console.metrics import MetricsExporter
from ekiden.core.clock import FakeClock
from ekiden.core.figures import FunctionStats, MappingStats
from ekiden.core.services.broker import Broker
from ekiden.core.services.messages import ReceiveOptions, SendEntry
from ekiden.core.services.request_metrics import GcGeneration, ProcessFigures, RequestMetrics
from ekiden.store.sqlite.store import SqliteStore

ACCOUNT = "000000000000"
REGION = "us-east-1"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class StaticFigures:
    """A FiguresSource with fixed figures."""

    def __init__(
        self, functions: Mapping[str, FunctionStats], mappings: list[MappingStats]
    ) -> None:
        self.functions = functions
        self.mappings = mappings

    def function_figures(self) -> Mapping[str, FunctionStats]:
        return self.functions

    def mapping_figures(self) -> list[MappingStats]:
        return self.mappings


def samples(body: bytes) -> Samples:
    """Every sample of the exposition (parsed strictly), by name and label set."""
    out: Samples = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = sample.value
    return out


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def run(
    tmp_path: Path,
    scenario: Callable[[Broker, FakeClock, SqliteStore], Awaitable[None]],
) -> None:
    async def main() -> None:
        clock = FakeClock()
        store = await SqliteStore.open(tmp_path)
        broker = Broker(store, clock, ACCOUNT, REGION)
        await broker.start()
        try:
            await scenario(broker, clock, store)
        finally:
            await broker.stop()
            await store.close()

    asyncio.run(main())


GC_GENERATIONS = (GcGeneration(120, 3_400, 0), GcGeneration(11, 950, 1), GcGeneration(2, 75, 0))


def exporter(
    broker: Broker,
    store: SqliteStore,
    requests: RequestMetrics | None = None,
    figures: StaticFigures | None = None,
    memory: int | None = 12_345_678,
) -> MetricsExporter:
    return MetricsExporter(
        broker,
        figures or StaticFigures({}, []),
        requests or RequestMetrics(),
        store.writer.figures,
        lambda: ProcessFigures("9.9.9", 1_700_000_000.5, memory, GC_GENERATIONS, 41_000),
    )


def test_queue_depths_and_totals_follow_sends_receives_deletes_and_dead_letters(
    tmp_path: Path,
) -> None:
    async def scenario(broker: Broker, clock: FakeClock, store: SqliteStore) -> None:
        dlq = await broker.queues.create("jobs-dlq", {}, {})
        policy = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})
        await broker.queues.create("jobs", {"RedrivePolicy": policy}, {})
        await broker.queues.create("idle", {}, {})
        await broker.queues.create("later", {"DelaySeconds": "60"}, {})
        await broker.messages.send("jobs", [SendEntry(f"m{i}") for i in range(7)], ACCOUNT)
        await broker.messages.send("later", [SendEntry("soon")], ACCOUNT)
        first = await broker.messages.receive("jobs", ReceiveOptions(5, 30))
        assert len(first) == 5
        await broker.messages.delete("jobs", [m.receipt_handle for m in first[:3]])

        found = samples((await exporter(broker, store).render()).body)
        jobs = {"queue": "jobs"}
        assert value(found, "ekiden_queue_messages_visible", **jobs) == 2
        assert value(found, "ekiden_queue_messages_in_flight", **jobs) == 2
        assert value(found, "ekiden_queue_messages_delayed", **jobs) == 0
        assert value(found, "ekiden_queue_messages_sent_total", **jobs) == 7
        assert value(found, "ekiden_queue_messages_received_total", **jobs) == 5
        assert value(found, "ekiden_queue_messages_deleted_total", **jobs) == 3
        assert value(found, "ekiden_queue_messages_delayed", queue="later") == 1
        assert value(found, "ekiden_queue_messages_visible", queue="idle") == 0
        assert value(found, "ekiden_queue_oldest_message_age_seconds", queue="idle") == 0

        # The two undeleted messages come back after their visibility timeout, and their
        # second receive moves them to the dead-letter queue (maxReceiveCount 1).
        clock.advance(s=31)
        second = await broker.messages.receive("jobs", ReceiveOptions(10, 30))
        assert len(second) == 2  # the two never received before
        found = samples((await exporter(broker, store).render()).body)
        assert value(found, "ekiden_queue_messages_dead_lettered_total", **jobs) == 2
        assert value(found, "ekiden_queue_messages_visible", queue="jobs-dlq") == 2
        assert value(found, "ekiden_queue_messages_in_flight", **jobs) == 2
        assert value(found, "ekiden_queue_oldest_message_age_seconds", **jobs) == 31.0

    run(tmp_path, scenario)


def test_a_deleted_queue_leaves_the_exposition(tmp_path: Path) -> None:
    async def scenario(broker: Broker, clock: FakeClock, store: SqliteStore) -> None:
        await broker.queues.create("gone", {}, {})
        await broker.messages.send("gone", [SendEntry("x")], ACCOUNT)
        await broker.queues.delete("gone")
        found = samples((await exporter(broker, store).render()).body)
        assert not [key for key in found if ("queue", "gone") in key[1]]

    run(tmp_path, scenario)


def test_requests_are_counted_by_protocol_action_and_outcome_with_latency(
    tmp_path: Path,
) -> None:
    async def scenario(broker: Broker, clock: FakeClock, store: SqliteStore) -> None:
        requests = RequestMetrics()
        requests.observe("sqs", "SendMessage", 200, 0.002)
        requests.observe("sqs", "SendMessage", 200, 0.004)
        requests.observe("sqs", "SendMessage", 400, 0.0001)
        requests.observe("sns", "Publish", 500, 12.0)
        found = samples((await exporter(broker, store, requests).render()).body)
        send = {"protocol": "sqs", "action": "SendMessage"}
        assert value(found, "ekiden_requests_total", outcome="ok", **send) == 2
        assert value(found, "ekiden_requests_total", outcome="client_error", **send) == 1
        assert value(found, "ekiden_requests_total", outcome="server_error", **send) == 0
        assert value(found, "ekiden_request_duration_seconds_count", **send) == 3
        assert value(found, "ekiden_request_duration_seconds_bucket", le="0.0005", **send) == 1
        assert value(found, "ekiden_request_duration_seconds_bucket", le="0.005", **send) == 3
        publish = {"protocol": "sns", "action": "Publish"}
        assert value(found, "ekiden_requests_total", outcome="server_error", **publish) == 1
        assert value(found, "ekiden_request_duration_seconds_bucket", le="10.0", **publish) == 0
        assert value(found, "ekiden_request_duration_seconds_bucket", le="+Inf", **publish) == 1
        assert value(found, "ekiden_request_duration_seconds_sum", **publish) == 12.0

    run(tmp_path, scenario)


def test_store_commits_are_measured_and_the_store_reports_healthy(tmp_path: Path) -> None:
    async def scenario(broker: Broker, clock: FakeClock, store: SqliteStore) -> None:
        await broker.queues.create("q", {}, {})
        await asyncio.gather(
            *(broker.messages.send("q", [SendEntry(str(i))], ACCOUNT) for i in range(20))
        )
        found = samples((await exporter(broker, store).render()).body)
        assert value(found, "ekiden_store_healthy") == 1
        commits = value(found, "ekiden_store_commit_duration_seconds_count")
        assert commits == value(found, "ekiden_store_commit_group_jobs_count")
        assert commits >= 2  # at least the queue's creation and one group of sends
        assert value(found, "ekiden_store_commit_duration_seconds_sum") > 0
        # every group holds at least one job (sends of one turn may be coalesced into one)
        assert value(found, "ekiden_store_commit_group_jobs_sum") >= commits
        assert value(found, "ekiden_store_commit_group_jobs_bucket", le="+Inf") == commits

    run(tmp_path, scenario)


def test_functions_and_mappings_are_exported_with_their_labels(tmp_path: Path) -> None:
    async def scenario(broker: Broker, clock: FakeClock, store: SqliteStore) -> None:
        functions = {
            "resize": FunctionStats(
                invocations=10,
                errors=2,
                timeouts=1,
                throttles=3,
                total_duration_ms=2500.0,
                concurrency=4,
            )
        }
        mapping = MappingStats(
            "1b6e-uuid",
            "resize",
            f"arn:aws:sqs:{REGION}:{ACCOUNT}:images",
            invocations=6,
            function_errors=1,
            messages_deleted=50,
            messages_failed=5,
            messages_filtered=7,
            concurrency=2,
            target_concurrency=5,
            state="Enabled",
        )
        stopped = MappingStats(
            "2c7f-uuid", "resize", f"arn:aws:sqs:{REGION}:{ACCOUNT}:thumbs", state="Disabled"
        )
        figures = StaticFigures(functions, [stopped, mapping])
        found = samples((await exporter(broker, store, figures=figures).render()).body)
        fn = {"function": "resize"}
        assert value(found, "ekiden_function_invocations_total", **fn) == 10
        assert value(found, "ekiden_function_errors_total", **fn) == 2
        assert value(found, "ekiden_function_throttles_total", **fn) == 3
        assert value(found, "ekiden_function_timeouts_total", **fn) == 1
        assert value(found, "ekiden_function_duration_seconds_total", **fn) == 2.5
        assert value(found, "ekiden_function_concurrency", **fn) == 4
        m = {"uuid": "1b6e-uuid", "function": "resize", "queue": "images"}
        assert value(found, "ekiden_mapping_invocations_total", **m) == 6
        assert value(found, "ekiden_mapping_errors_total", **m) == 1
        assert value(found, "ekiden_mapping_messages_deleted_total", **m) == 50
        assert value(found, "ekiden_mapping_messages_failed_total", **m) == 5
        assert value(found, "ekiden_mapping_messages_filtered_total", **m) == 7
        assert value(found, "ekiden_mapping_concurrency", **m) == 2
        assert value(found, "ekiden_mapping_target_concurrency", **m) == 5
        assert value(found, "ekiden_mapping_enabled", **m) == 1
        off = {"uuid": "2c7f-uuid", "function": "resize", "queue": "thumbs"}
        assert value(found, "ekiden_mapping_enabled", **off) == 0

    run(tmp_path, scenario)


def test_process_figures_and_content_type_follow_prometheus_conventions(
    tmp_path: Path,
) -> None:
    async def scenario(broker: Broker, clock: FakeClock, store: SqliteStore) -> None:
        response = await exporter(broker, store).render()
        assert response.status == 200
        assert response.content_type.startswith("text/plain; version=0.0.4")
        found = samples(response.body)
        assert value(found, "ekiden_build_info", version="9.9.9") == 1
        assert value(found, "process_start_time_seconds") == 1_700_000_000.5
        assert value(found, "process_resident_memory_bytes") == 12_345_678
        without = samples((await exporter(broker, store, memory=None).render()).body)
        assert ("process_resident_memory_bytes", frozenset()) not in without
        for generation, figures in enumerate(GC_GENERATIONS):
            labels = {"generation": str(generation)}
            assert value(found, "python_gc_collections_total", **labels) == figures.collections
            assert value(found, "python_gc_objects_collected_total", **labels) == figures.collected
            uncollectable = value(found, "python_gc_objects_uncollectable_total", **labels)
            assert uncollectable == figures.uncollectable
        assert value(found, "ekiden_gc_frozen_objects") == 41_000

    run(tmp_path, scenario)


def test_a_store_that_refuses_work_still_yields_a_scrape_without_depths(
    tmp_path: Path,
) -> None:
    async def scenario(broker: Broker, clock: FakeClock, store: SqliteStore) -> None:
        await broker.queues.create("q", {}, {})
        await broker.messages.send("q", [SendEntry("x")], ACCOUNT)
        await store.writer.close()  # every later store call is refused
        found = samples((await exporter(broker, store).render()).body)
        assert ("ekiden_queue_messages_visible", frozenset({("queue", "q")})) not in found
        assert value(found, "ekiden_queue_messages_sent_total", queue="q") == 1

    run(tmp_path, scenario)


def test_a_fifo_deduplication_hit_is_not_counted_as_sent(tmp_path: Path) -> None:
    async def scenario(broker: Broker, clock: FakeClock, store: SqliteStore) -> None:
        queue = await broker.queues.create("orders.fifo", {"FifoQueue": "true"}, {})
        entry = SendEntry("once", dedup_id="d-1", group_id="g")
        first = await broker.messages.send("orders.fifo", [entry], ACCOUNT)
        again = await broker.messages.send("orders.fifo", [entry], ACCOUNT)
        assert again[0].message_id == first[0].message_id  # answered as a send
        assert broker.counters.totals(queue.queue_id).sent == 1
        found = samples((await exporter(broker, store).render()).body)
        assert value(found, "ekiden_queue_messages_sent_total", queue="orders.fifo") == 1

    run(tmp_path, scenario)
