"""How a load process shares out work, counts, stops, and what its messages look like."""

from __future__ import annotations

import orjson

from ekiden.bench.phases import Messages
from ekiden.bench.sqs import EndpointConfig
from ekiden.bench.worker import COUNTER_SLOTS, PhaseSpec, WorkerState


def spec(**changes: object) -> PhaseSpec:
    fields: dict[str, object] = {
        "name": "send",
        "kind": "send",
        "endpoint": EndpointConfig.parse("http://127.0.0.1:9324"),
        "queue_urls": ("http://q/0/a",),
        "processes": 3,
        "connections": 4,
        "pipeline": 1,
        "duration_s": None,
        "messages": 10,
        "target": None,
        "body_size": 16,
        "fifo": False,
        "groups": 2,
        "rate": 1000.0,
        "run_id": "r1",
        **changes,
    }
    return PhaseSpec(**fields)  # type: ignore[arg-type]


def test_the_shares_of_the_processes_add_up_to_the_total() -> None:
    phase = spec(processes=3)
    assert [phase.share(10, i) for i in range(3)] == [4, 3, 3]
    assert sum(phase.share(1_000_001, i) for i in range(3)) == 1_000_001


def test_per_process_queues_are_handed_out_by_index() -> None:
    phase = spec(queue_urls=("u0", "u1"))
    assert [phase.queue_url(i) for i in range(3)] == ["u0", "u1", "u0"]


def test_a_process_takes_no_more_than_its_share_and_can_give_back() -> None:
    state = WorkerState(spec(messages=25, processes=1), 0, [0] * COUNTER_SLOTS)
    state.begin()
    assert [state.take(10), state.take(10), state.take(10), state.take(10)] == [10, 10, 5, 0]
    state.give_back(3)
    assert state.take(10) == 3
    assert state.take(1) == 0


def test_without_a_quota_a_process_runs_until_its_deadline() -> None:
    state = WorkerState(spec(messages=None, duration_s=0.0), 0, [0] * COUNTER_SLOTS)
    state.begin()
    assert state.take(1) == 0  # a zero-length phase is over at once
    unbounded = WorkerState(spec(messages=None, duration_s=3600.0), 0, [0] * COUNTER_SLOTS)
    unbounded.begin()
    assert unbounded.take(10) == 10
    unbounded.stopping = True
    assert unbounded.take(10) == 0


def test_counts_are_published_and_the_target_is_judged_on_all_processes() -> None:
    counters = [0] * (2 * COUNTER_SLOTS)
    first = WorkerState(spec(target=10, processes=2), 0, counters)
    second = WorkerState(spec(target=10, processes=2), 1, counters)
    first.acked(6, 1)
    first.result.requests += 1
    first.failed("HTTP 500 InternalFailure")
    first.publish()
    assert counters[:COUNTER_SLOTS] == [6, 1, 1]
    assert not second.target_reached()
    second.acked(4, 2)
    second.publish()
    assert second.target_reached()
    assert first.result.error_kinds["HTTP 500 InternalFailure"] == 1


def test_elapsed_time_ends_at_the_last_acknowledgement() -> None:
    state = WorkerState(spec(), 0, [0] * (3 * COUNTER_SLOTS))
    state.begin()
    state.acked(1, state.start_ns + 2_500_000_000)
    assert state.finish().elapsed_s == 2.5


def test_standard_messages_reuse_one_body_of_the_asked_size() -> None:
    messages = Messages("http://q/0/a", 100, fifo=False, groups=1, prefix="p")
    one = orjson.loads(messages.single())
    assert one == {"QueueUrl": "http://q/0/a", "MessageBody": messages.body}
    assert len(messages.body) == 100
    batch = orjson.loads(messages.batch(10))
    assert [e["Id"] for e in batch["Entries"]] == [str(i) for i in range(10)]
    assert all(set(e) == {"Id", "MessageBody"} for e in batch["Entries"])


def test_fifo_messages_spread_over_the_groups_with_unique_deduplication_ids() -> None:
    messages = Messages("http://q/0/a.fifo", 8, fifo=True, groups=3, prefix="run-send-0")
    entries = orjson.loads(messages.batch(10))["Entries"]
    entries.append(orjson.loads(messages.single()))
    dedup = [e["MessageDeduplicationId"] for e in entries]
    assert len(set(dedup)) == len(dedup) == 11
    assert all(d.startswith("run-send-0-") for d in dedup)
    assert {e["MessageGroupId"] for e in entries} == {"g0", "g1", "g2"}
