"""The Prometheus text exposition writer: escaping, histogram shape, name rules; every
rendered text is read back with prometheus_client's parser."""

from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ekiden.console.metrics_text import (
    Family,
    escape_help,
    escape_label_value,
    format_value,
    render,
)
from ekiden.core.services.request_metrics import Histogram


def parse(text: bytes) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text.decode("utf-8"))}


def test_label_values_escape_backslash_quote_and_newline() -> None:
    assert escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


def test_help_text_escapes_backslash_and_newline_but_not_quotes() -> None:
    assert escape_help('say "hi"\\\nnow') == 'say "hi"\\\\\\nnow'


def test_awkward_label_values_survive_a_round_trip_through_a_strict_parser() -> None:
    family = Family("ekiden_queue_messages_visible", "gauge", 'Depth "now"\nwith \\ in help')
    awkward = 'q"1\\x\nend'
    family.add((("queue", awkward),), 3)
    family.add((("queue", "plain"),), 0)
    (parsed,) = text_string_to_metric_families(render([family]).decode())
    assert parsed.documentation == 'Depth "now"\nwith \\ in help'
    assert {s.labels["queue"]: s.value for s in parsed.samples} == {awkward: 3.0, "plain": 0.0}


def test_values_are_spelled_as_prometheus_spells_them() -> None:
    assert format_value(7) == "7"
    assert format_value(True) == "1"
    assert format_value(0.0005) == "0.0005"
    assert format_value(math.inf) == "+Inf"
    assert format_value(-math.inf) == "-Inf"
    assert format_value(math.nan) == "NaN"
    assert float(format_value(1e-7)) == 1e-7


def test_a_family_renders_help_and_type_before_its_samples() -> None:
    family = Family("ekiden_requests_total", "counter", "Requests.")
    family.add((("protocol", "sqs"), ("action", "SendMessage")), 2)
    text = render([family]).decode()
    assert text == (
        "# HELP ekiden_requests_total Requests.\n"
        "# TYPE ekiden_requests_total counter\n"
        'ekiden_requests_total{protocol="sqs",action="SendMessage"} 2\n'
    )


def test_a_histogram_has_cumulative_buckets_ending_at_inf_then_sum_and_count() -> None:
    histogram = Histogram((0.01, 0.1, 1.0))
    total = 0.0
    for value in (0.005, 0.01, 0.05, 0.5, 0.7, 30.0):
        histogram.observe(value)
        total += value
    family = Family("ekiden_request_duration_seconds", "histogram", "Latency.")
    family.add_histogram((("action", "X"),), histogram.snapshot())
    text = render([family]).decode()
    lines = text.splitlines()[2:]
    assert lines == [
        'ekiden_request_duration_seconds_bucket{action="X",le="0.01"} 2',
        'ekiden_request_duration_seconds_bucket{action="X",le="0.1"} 3',
        'ekiden_request_duration_seconds_bucket{action="X",le="1.0"} 5',
        'ekiden_request_duration_seconds_bucket{action="X",le="+Inf"} 6',
        f'ekiden_request_duration_seconds_sum{{action="X"}} {total!r}',
        'ekiden_request_duration_seconds_count{action="X"} 6',
    ]
    (parsed,) = text_string_to_metric_families(text)
    assert parsed.type == "histogram"
    assert parsed.name == "ekiden_request_duration_seconds"


def test_an_empty_histogram_still_has_every_bucket_and_a_zero_count() -> None:
    family = Family("ekiden_store_commit_group_jobs", "histogram", "Jobs per group.")
    family.add_histogram((), Histogram((1.0, 2.0)).snapshot())
    lines = render([family]).decode().splitlines()[2:]
    assert lines == [
        'ekiden_store_commit_group_jobs_bucket{le="1.0"} 0',
        'ekiden_store_commit_group_jobs_bucket{le="2.0"} 0',
        'ekiden_store_commit_group_jobs_bucket{le="+Inf"} 0',
        "ekiden_store_commit_group_jobs_sum 0.0",
        "ekiden_store_commit_group_jobs_count 0",
    ]


def test_a_family_without_samples_is_still_described() -> None:
    text = render([Family("ekiden_function_concurrency", "gauge", "Running now.")]).decode()
    assert "# TYPE ekiden_function_concurrency gauge" in text
    assert "ekiden_function_concurrency" in parse(text.encode())


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ekiden_requests", "counter"),  # a counter ends in _total
        ("ekiden_depth_total", "gauge"),  # only counters end in _total
        ("ekiden-requests_total", "counter"),  # not a metric name
        ("1ekiden", "gauge"),
    ],
)
def test_names_against_prometheus_conventions_are_refused(name: str, kind: str) -> None:
    with pytest.raises(ValueError):
        Family(name, kind, "x")  # type: ignore[arg-type]


@pytest.mark.parametrize("label", ["bad-label", "__reserved", "0x", ""])
def test_invalid_label_names_are_refused(label: str) -> None:
    family = Family("ekiden_x", "gauge", "x")
    with pytest.raises(ValueError):
        family.add(((label, "v"),), 1)


def test_a_histogram_may_not_set_le_itself_nor_take_plain_samples() -> None:
    family = Family("ekiden_h", "histogram", "x")
    with pytest.raises(ValueError):
        family.add_histogram((("le", "1"),), Histogram((1.0,)).snapshot())
    with pytest.raises(TypeError):
        family.add((), 1)
    with pytest.raises(TypeError):
        Family("ekiden_g", "gauge", "x").add_histogram((), Histogram((1.0,)).snapshot())


def test_a_family_name_may_appear_only_once() -> None:
    with pytest.raises(ValueError):
        render([Family("ekiden_a", "gauge", "x"), Family("ekiden_a", "gauge", "y")])
