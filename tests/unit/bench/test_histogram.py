"""The log-bucketed latency histogram: buckets, percentiles, merging, JSON form."""

from __future__ import annotations

import math
import random

import pytest

from ekiden.bench.histogram import SUB_BUCKET_BITS, Histogram, bucket_bounds, bucket_index

RELATIVE_ERROR = 1 / 2 ** (SUB_BUCKET_BITS - 1)


def exact_percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def test_buckets_tile_the_integers_without_gaps_or_overlaps() -> None:
    previous_high = -1
    for index in range(bucket_index(10**9) + 1):
        low, high = bucket_bounds(index)
        assert low == previous_high + 1
        assert high >= low
        previous_high = high


@pytest.mark.parametrize("value", [0, 1, 255, 256, 257, 1000, 65_535, 10**6, 2**40 + 12345])
def test_every_value_falls_in_the_bucket_whose_bounds_hold_it(value: int) -> None:
    low, high = bucket_bounds(bucket_index(value))
    assert low <= value <= high
    assert high - low <= max(0, value * RELATIVE_ERROR)


def test_small_values_are_exact() -> None:
    histogram = Histogram()
    for value in range(1, 101):
        histogram.record(value)
    assert histogram.percentile(50) == 50
    assert histogram.percentile(90) == 90
    assert histogram.percentile(99) == 99
    assert histogram.percentile(100) == 100
    assert histogram.min == 1
    assert histogram.max == 100
    assert histogram.mean == 50.5


def test_large_percentiles_are_within_the_bucket_precision() -> None:
    rng = random.Random(7)
    values = [int(rng.lognormvariate(8, 1.5)) for _ in range(20_000)]
    histogram = Histogram()
    for value in values:
        histogram.record(value)
    for q in (50, 90, 99, 99.9):
        exact = exact_percentile(values, q)
        assert exact <= histogram.percentile(q) <= exact * (1 + RELATIVE_ERROR) + 1
    assert histogram.percentile(100) == max(values)
    assert histogram.count == len(values)
    assert histogram.total == sum(values)


def test_negative_values_count_as_zero() -> None:
    histogram = Histogram()
    histogram.record(-5)
    assert histogram.min == 0
    assert histogram.percentile(50) == 0


def test_an_empty_histogram_reports_zeros() -> None:
    histogram = Histogram()
    assert histogram.percentile(99) == 0
    assert histogram.mean == 0.0
    assert histogram.buckets() == []


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentiles_outside_0_to_100_are_refused(q: float) -> None:
    with pytest.raises(ValueError):
        Histogram().percentile(q)


def test_merging_equals_recording_everything_in_one() -> None:
    rng = random.Random(3)
    parts = [[rng.randrange(0, 5_000_000) for _ in range(3000)] for _ in range(4)]
    merged = Histogram()
    together = Histogram()
    for part in parts:
        histogram = Histogram()
        for value in part:
            histogram.record(value)
            together.record(value)
        merged.merge(histogram)
    assert merged.buckets() == together.buckets()
    assert (merged.count, merged.total, merged.min, merged.max) == (
        together.count,
        together.total,
        together.min,
        together.max,
    )
    for q in (50, 90, 99, 100):
        assert merged.percentile(q) == together.percentile(q)


def test_merging_into_or_from_an_empty_histogram_keeps_the_extremes() -> None:
    one = Histogram()
    one.record(40)
    one.record(900)
    empty = Histogram()
    empty.merge(one)
    assert (empty.min, empty.max, empty.count) == (40, 900, 2)
    one.merge(Histogram())
    assert (one.min, one.max, one.count) == (40, 900, 2)


def test_the_json_form_round_trips_exactly() -> None:
    histogram = Histogram()
    for value in (3, 3, 700, 12_345, 9_999_999):
        histogram.record(value)
    data = histogram.to_dict()
    assert data["count"] == 5
    assert all(isinstance(pair, list) and len(pair) == 2 for pair in data["buckets"])
    again = Histogram.from_dict(data)
    assert again.buckets() == histogram.buckets()
    assert again.to_dict() == data


def test_a_json_form_of_another_layout_or_inconsistent_counts_is_refused() -> None:
    histogram = Histogram()
    histogram.record(5)
    data = histogram.to_dict()
    with pytest.raises(ValueError):
        Histogram.from_dict({**data, "sub_bucket_bits": SUB_BUCKET_BITS + 1})
    with pytest.raises(ValueError):
        Histogram.from_dict({**data, "count": 2})
