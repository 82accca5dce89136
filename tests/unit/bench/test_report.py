"""Phase results (merging, JSON) and the report's JSON shape, medians, ratios and text."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest

from ekiden.bench.options import make_options
from ekiden.bench.report import FORMAT_VERSION, Report, machine_info
from ekiden.bench.results import PhaseResult
from ekiden.bench.runner import EndpointRun

A = "http://127.0.0.1:9324"
B = "http://127.0.0.1:5000"


def phase(
    name: str, messages: int, elapsed_s: float, latencies_us: list[int], errors: int = 0
) -> PhaseResult:
    kind = name.split("-")[0] if name.startswith(("send", "drain")) else name
    headline = {"send": "SendMessage", "drain": "receive+delete"}.get(kind, "SendMessage")
    result = PhaseResult(name, kind, headline, messages, messages, errors, elapsed_s)
    for value in latencies_us:
        result.histogram(headline).record(value)
    if errors:
        result.error_kinds["HTTP 500 InternalFailure"] = errors
    return result


def test_merged_phase_results_sum_counts_and_keep_the_longest_elapsed_time() -> None:
    one = phase("send", 100, 2.0, [1000, 2000])
    two = phase("send", 300, 2.5, [3000], errors=4)
    two.extra["sent"] = 7
    one.merge(two)
    assert (one.messages, one.requests, one.errors, one.elapsed_s) == (400, 400, 4, 2.5)
    assert one.msgs_per_s == 160.0
    assert one.latency.count == 3
    assert one.error_kinds == Counter({"HTTP 500 InternalFailure": 4})
    assert one.extra["sent"] == 7


def test_a_phase_result_survives_its_json_form() -> None:
    original = phase("send", 10, 1.25, [100, 5000, 70_000], errors=1)
    original.extra["before-ack"] = 2
    data = orjson.loads(orjson.dumps(original.to_dict()))
    again = PhaseResult.from_dict(data)
    assert again.to_dict() == original.to_dict()
    assert data["latency"]["p50_ms"] == pytest.approx(5.0, rel=0.01)  # bucket precision
    assert data["msgs_per_s"] == 8.0


def test_an_empty_phase_reports_zero_rates() -> None:
    empty = PhaseResult("send", "send", "SendMessage")
    assert (empty.msgs_per_s, empty.requests_per_s) == (0.0, 0.0)
    assert empty.figures()["latency"]["p99_ms"] == 0.0


def compared_report() -> Report:
    options = make_options(scenario="send", endpoint=A, compare=B, duration_s=5)
    runs = []
    for round_no, (rate_a, rate_b) in enumerate([(1000, 100), (1200, 90), (800, 110)], 1):
        for label, url, rate in (("A", A, rate_a), ("B", B, rate_b)):
            run = EndpointRun(label, url, round_no, queues=[f"{url}/000000000000/q{round_no}"])
            run.phases.append(phase("send", rate * 5, 5.0, [1000 * round_no, 2000]))
            runs.append(run)
    return Report(options, runs, machine_info(), "2026-01-01T00:00:00+00:00", "later")


def test_the_json_report_has_every_part_a_later_comparison_needs() -> None:
    data: dict[str, Any] = orjson.loads(orjson.dumps(compared_report().to_json()))
    assert data["tool"] == "ekiden bench"
    assert data["format"] == FORMAT_VERSION
    assert data["scenario"] == "send"
    assert data["endpoints"] == {"A": A, "B": B}
    assert data["options"]["compare"] == B
    assert data["options"]["rounds"] == 3
    assert set(data["client"]) >= {"processes", "connections_per_process", "pipeline"}
    assert set(data["client"]) >= {"in_flight", "body_size", "queue"}
    assert set(data["machine"]) >= {"cores", "cpu_model", "ram_gib", "python"}
    assert [(r["label"], r["round"]) for r in data["runs"]] == [
        ("A", 1),
        ("B", 1),
        ("A", 2),
        ("B", 2),
        ("A", 3),
        ("B", 3),
    ]
    first = data["runs"][0]["phases"][0]
    assert set(first) >= {"name", "messages", "requests", "errors", "error_kinds", "elapsed_s"}
    assert set(first) >= {"msgs_per_s", "requests_per_s", "latency", "latencies"}
    assert set(first["latency"]) >= {"p50_ms", "p90_ms", "p99_ms", "max_ms"}
    assert PhaseResult.from_dict(first).messages == 5000  # histograms included, mergeable


def test_the_json_file_is_the_json_report_with_compact_histograms() -> None:
    report = compared_report()
    written = report.json_bytes()
    assert orjson.loads(written) == orjson.loads(orjson.dumps(report.to_json()))
    assert b'"buckets": [[' in written  # one line per histogram, not one per bucket
    assert written.endswith(b"}\n")


def test_the_summary_gives_medians_per_endpoint_and_their_ratio() -> None:
    summary = compared_report().summary()
    assert summary["median"]["A"]["send"]["msgs_per_s"] == 1000
    assert summary["median"]["B"]["send"]["msgs_per_s"] == 100
    assert summary["ratio_a_to_b"]["send"]["msgs_per_s"] == 10.0
    assert summary["median"]["A"]["send"]["p50_ms"] == 2.0  # the rounds' p50: 1, 2, 2 ms


def test_the_text_report_shows_each_round_the_medians_and_the_ratio() -> None:
    text = compared_report().text()
    assert "ekiden bench send" in text
    assert f"A  {A}" in text and f"B  {B}" in text
    assert "1 process(es) x 32 connection(s) x pipeline 1 = 32 in flight" in text
    for row in ("A1", "B1", "A2", "B2", "A3", "B3", "A median", "B median", "A/B"):
        assert f"\n  {row} " in text
    assert "  10x  " in text
    assert "cores" in text


def test_backlog_reports_compare_each_rate_with_the_empty_queue() -> None:
    options = make_options(scenario="backlog", endpoint=A, messages=1000, backlog=5000)
    run = EndpointRun("A", A, 1)
    run.phases += [
        phase("send-empty", 1000, 1.0, [1]),
        phase("drain-empty", 1000, 0.5, [1]),
        phase("fill", 5000, 1.0, [1]),
        phase("send-backlog", 900, 1.0, [1]),
        phase("drain-backlog", 1000, 1.0, [1]),
    ]
    report = Report(options, [run], machine_info(), "now", "later")
    assert report.summary()["backlog_vs_empty"] == {"A": {"send": 0.9, "drain": 0.5}}
    assert "send runs at 90% and drain at 50% of the empty-queue rate" in report.text()


def test_errors_are_listed_under_their_phase() -> None:
    options = make_options(scenario="send", endpoint=A, messages=10)
    run = EndpointRun("A", A, 1, phases=[phase("send", 8, 1.0, [5], errors=2)])
    text = Report(options, [run], machine_info(), "now", "later").text()
    assert "HTTP 500 InternalFailure x2" in text


@pytest.mark.parametrize("key", ["cores", "cpu_model", "ram_gib", "python", "os"])
def test_the_machine_is_described(key: str) -> None:
    assert machine_info()[key]
