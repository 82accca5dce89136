"""The figures behind /metrics: histograms (buckets, snapshots taken while another thread
observes) and per-action request metrics (outcomes, bounded label sets)."""

from __future__ import annotations

import threading

import pytest

from ekiden.core.services.request_metrics import (
    OTHER_ACTION,
    UNKNOWN_ACTION,
    Histogram,
    RequestMetrics,
)


def test_a_value_on_a_bound_lands_in_that_bound_s_bucket() -> None:
    histogram = Histogram((1.0, 2.0))
    for value in (0.0, 1.0, 1.5, 2.0, 2.5):
        histogram.observe(value)
    snapshot = histogram.snapshot()
    assert snapshot.counts == (2, 2, 1)
    assert snapshot.cumulative() == [(1.0, 2), (2.0, 4), (float("inf"), 5)]
    assert snapshot.count == 5
    assert snapshot.total == 7.0


@pytest.mark.parametrize("bounds", [(), (1.0, 1.0), (2.0, 1.0)])
def test_bounds_must_be_strictly_ascending_and_not_empty(bounds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        Histogram(bounds)


def test_snapshots_taken_while_another_thread_observes_are_well_formed() -> None:
    histogram = Histogram((0.001, 0.01, 0.1))
    stop = threading.Event()

    def observe() -> None:
        values = (0.0005, 0.005, 0.05, 0.5)
        i = 0
        while not stop.is_set():
            histogram.observe(values[i % 4])
            i += 1

    writer = threading.Thread(target=observe)
    writer.start()
    try:
        previous = 0
        for _ in range(2000):
            snapshot = histogram.snapshot()
            cumulative = [n for _, n in snapshot.cumulative()]
            assert cumulative == sorted(cumulative)  # buckets never decrease
            assert cumulative[-1] == snapshot.count  # +Inf is the count
            assert snapshot.count >= previous  # counters only grow
            previous = snapshot.count
    finally:
        stop.set()
        writer.join()


def test_statuses_are_sorted_into_ok_client_error_and_server_error() -> None:
    metrics = RequestMetrics()
    for status in (200, 202, 204, 304, 400, 403, 404, 413, 500, 503):
        metrics.observe("sqs", "ReceiveMessage", status, 0.001)
    (figures,) = metrics.snapshot()
    assert (figures.ok, figures.client_error, figures.server_error) == (4, 4, 2)
    assert figures.duration_s.count == 10


def test_actions_are_kept_apart_per_protocol_and_listed_in_order() -> None:
    metrics = RequestMetrics()
    metrics.observe("sqs", "SendMessage", 200, 0.001)
    metrics.observe("lambda", "Invoke", 200, 0.2)
    metrics.observe("sns", "Publish", 200, 0.003)
    metrics.observe("sqs", "DeleteMessage", 200, 0.001)
    assert [(f.protocol, f.action) for f in metrics.snapshot()] == [
        ("lambda", "Invoke"),
        ("sns", "Publish"),
        ("sqs", "DeleteMessage"),
        ("sqs", "SendMessage"),
    ]


def test_a_request_without_an_action_is_counted_as_unknown() -> None:
    metrics = RequestMetrics()
    metrics.observe("sqs", "", 400, 0.0001)
    assert [f.action for f in metrics.snapshot()] == [UNKNOWN_ACTION]


def test_past_the_action_limit_new_actions_share_one_other_series() -> None:
    metrics = RequestMetrics(max_actions=3)
    for action in ("A", "B", "C", "Junk1", "Junk2", "A"):
        metrics.observe("sqs", action, 400, 0.001)
    by_action = {f.action: f for f in metrics.snapshot()}
    assert sorted(by_action) == ["A", "B", "C", OTHER_ACTION]
    assert by_action[OTHER_ACTION].client_error == 2
    assert by_action["A"].client_error == 2  # known actions go on being counted
