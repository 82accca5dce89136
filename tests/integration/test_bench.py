"""``ekiden bench`` against live ekiden servers: every scenario runs, and what it counts is
what the server holds (checked with boto3 on the queues kept with --keep-queue)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess

Fresh = Callable[..., EkidenProcess]


def bench(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``ekiden bench`` in a child process; return its JSON report."""
    report = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}.json"
    done = subprocess.run(
        [sys.executable, "-m", "ekiden", "bench", *argv, "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "msgs/s" in done.stdout
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def phases(data: dict[str, Any], run: int = 0) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in data["runs"][run]["phases"]}


def depth(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_send_counts_exactly_the_messages_the_queue_holds(
    fresh_ekiden: Fresh, tmp_path: Path
) -> None:
    srv = fresh_ekiden()
    data = bench(tmp_path, "send", "--endpoint", srv.endpoint, "--messages", "2000",
                 "--processes", "1", "--keep-queue")  # fmt: skip
    send = phases(data)["send"]
    assert (send["messages"], send["requests"], send["errors"]) == (2000, 2000, 0)
    assert send["msgs_per_s"] > 0
    assert send["latency"]["count"] == 2000
    (url,) = data["runs"][0]["queues"]
    assert depth(sqs_client(srv.endpoint), url) == (2000, 0)


def test_two_processes_share_the_messages_and_their_counts_merge(
    fresh_ekiden: Fresh, tmp_path: Path
) -> None:
    srv = fresh_ekiden()
    data = bench(tmp_path, "send", "--endpoint", srv.endpoint, "--messages", "1001",
                 "--processes", "2", "--concurrency", "8", "--pipeline", "2",
                 "--keep-queue")  # fmt: skip
    send = phases(data)["send"]
    assert (send["messages"], send["errors"], send["latency"]["count"]) == (1001, 0, 1001)
    assert data["client"]["processes"] == 2
    assert data["client"]["pipeline"] == 2
    (url,) = data["runs"][0]["queues"]
    assert depth(sqs_client(srv.endpoint), url) == (1001, 0)


def test_send_batch_sends_batches_of_ten(fresh_ekiden: Fresh, tmp_path: Path) -> None:
    srv = fresh_ekiden()
    data = bench(tmp_path, "send-batch", "--endpoint", srv.endpoint, "--messages", "2005",
                 "--processes", "1", "--keep-queue")  # fmt: skip
    batch = phases(data)["send-batch"]
    assert (batch["messages"], batch["requests"], batch["errors"]) == (2005, 201, 0)
    (url,) = data["runs"][0]["queues"]
    assert depth(sqs_client(srv.endpoint), url) == (2005, 0)


def test_fifo_send_batch_uses_a_fifo_queue_with_explicit_ids(
    fresh_ekiden: Fresh, tmp_path: Path
) -> None:
    srv = fresh_ekiden()
    data = bench(tmp_path, "send-batch", "--endpoint", srv.endpoint, "--messages", "2000",
                 "--processes", "1", "--fifo", "--groups", "4", "--keep-queue")  # fmt: skip
    assert phases(data)["send-batch"]["messages"] == 2000
    (url,) = data["runs"][0]["queues"]
    assert url.endswith(".fifo")
    sqs = sqs_client(srv.endpoint)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "false"
    assert depth(sqs, url) == (2000, 0)  # unique deduplication ids: nothing was dropped
    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
    )["Messages"]
    assert {m["Attributes"]["MessageGroupId"] for m in got} <= {"g0", "g1", "g2", "g3"}


def test_drain_deletes_every_message_it_filled(fresh_ekiden: Fresh, tmp_path: Path) -> None:
    srv = fresh_ekiden()
    data = bench(tmp_path, "drain", "--endpoint", srv.endpoint, "--messages", "2000",
                 "--processes", "1", "--keep-queue")  # fmt: skip
    found = phases(data)
    assert found["fill"]["messages"] == 2000
    assert (found["drain"]["messages"], found["drain"]["errors"]) == (2000, 0)
    (url,) = data["runs"][0]["queues"]
    assert depth(sqs_client(srv.endpoint), url) == (0, 0)


def test_latency_receives_and_deletes_every_message_sent(
    fresh_ekiden: Fresh, tmp_path: Path
) -> None:
    srv = fresh_ekiden()
    data = bench(tmp_path, "latency", "--endpoint", srv.endpoint, "--messages", "600",
                 "--rate", "600", "--processes", "1", "--keep-queue")  # fmt: skip
    latency = phases(data)["latency"]
    assert latency["messages"] == 600
    assert latency["extra"] == {"sent": 600, "deleted": 600}
    assert latency["errors"] == 0
    assert latency["latencies"]["end-to-end"]["count"] == 600
    assert latency["latencies"]["SendMessage"]["count"] == 600
    (url,) = data["runs"][0]["queues"]
    assert depth(sqs_client(srv.endpoint), url) == (0, 0)


def test_long_poll_times_each_message_once(fresh_ekiden: Fresh, tmp_path: Path) -> None:
    srv = fresh_ekiden()
    data = bench(tmp_path, "long-poll", "--endpoint", srv.endpoint, "--messages", "30",
                 "--processes", "1", "--keep-queue")  # fmt: skip
    poll = phases(data)["long-poll"]
    assert (poll["messages"], poll["errors"]) == (30, 0)
    assert poll["extra"]["sent"] == 30
    assert poll["extra"]["deleted"] == 30
    assert poll["latencies"]["wake-up"]["count"] == 30
    (url,) = data["runs"][0]["queues"]
    assert depth(sqs_client(srv.endpoint), url) == (0, 0)


def test_backlog_measures_an_empty_and_a_full_queue(fresh_ekiden: Fresh, tmp_path: Path) -> None:
    srv = fresh_ekiden()
    data = bench(tmp_path, "backlog", "--endpoint", srv.endpoint, "--backlog", "5000",
                 "--messages", "1000", "--processes", "1", "--keep-queue")  # fmt: skip
    found = phases(data)
    assert list(found) == ["send-empty", "drain-empty", "fill", "send-backlog", "drain-backlog"]
    assert [found[n]["messages"] for n in found] == [1000, 1000, 5000, 1000, 1000]
    assert sum(p["errors"] for p in found.values()) == 0
    ratios = data["summary"]["backlog_vs_empty"]["A"]
    assert ratios["send"] > 0 and ratios["drain"] > 0
    empty, full = data["runs"][0]["queues"]
    assert data["runs"][0]["queue_attributes"]["before"]["ApproximateNumberOfMessages"] == "5000"
    sqs = sqs_client(srv.endpoint)
    assert depth(sqs, empty) == (0, 0)
    assert depth(sqs, full) == (5000, 0)  # 5,000 + 1,000 sent - 1,000 drained


def test_compare_alternates_the_endpoints_and_deletes_its_queues(
    fresh_ekiden: Fresh, tmp_path: Path
) -> None:
    first, second = fresh_ekiden(), fresh_ekiden()
    data = bench(tmp_path, "send", "--endpoint", first.endpoint, "--compare", second.endpoint,
                 "--messages", "500", "--rounds", "2", "--processes", "1")  # fmt: skip
    assert data["endpoints"] == {"A": first.endpoint, "B": second.endpoint}
    runs = [(r["label"], r["round"], r["endpoint"]) for r in data["runs"]]
    assert runs == [
        ("A", 1, first.endpoint),
        ("B", 1, second.endpoint),
        ("A", 2, first.endpoint),
        ("B", 2, second.endpoint),
    ]
    assert all(phases(data, i)["send"]["messages"] == 500 for i in range(4))
    summary = data["summary"]
    assert summary["median"]["A"]["send"]["msgs_per_s"] > 0
    assert summary["ratio_a_to_b"]["send"]["msgs_per_s"] > 0
    for srv in (first, second):
        assert sqs_client(srv.endpoint).list_queues().get("QueueUrls", []) == []


def test_an_unreachable_endpoint_fails_with_a_clear_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ekiden", "bench", "send", "--endpoint", "http://127.0.0.1:9",
         "--messages", "10"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "CreateQueue failed" in done.stderr


def test_the_fixed_response_server_answers_every_calibrated_scenario(tmp_path: Path) -> None:
    """benchmarks/fixed_response_server.py (the calibration peer of benchmarks/README.md)
    serves send, send-batch (FIFO too) and drain, and answered exactly the requests the
    bench counted, plus one CreateQueue and one DeleteQueue per run."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "fixed_response_server.py"
    server = subprocess.Popen(
        [sys.executable, str(script), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().split()[-1]
        assert endpoint.startswith("http://127.0.0.1:")
        counted = 0
        sends = [
            ("send", ("--messages", "300"), 300),
            ("send-batch", ("--messages", "1005"), 101),
            ("send-batch", ("--fifo", "--groups", "7", "--messages", "995"), 100),
        ]
        for scenario, argv, requests in sends:
            data = bench(tmp_path, scenario, *argv, "--endpoint", endpoint, "--rounds", "1")
            (phase,) = data["runs"][0]["phases"]
            assert (phase["messages"], phase["requests"], phase["errors"]) == (
                int(argv[-1]),
                requests,
                0,
            )
            counted += requests + 2
        data = bench(tmp_path, "drain", "--messages", "505", "--concurrency", "4",
                     "--endpoint", endpoint, "--rounds", "1")  # fmt: skip
        fill, drain = phases(data)["fill"], phases(data)["drain"]
        assert (fill["messages"], fill["requests"], fill["errors"]) == (505, 51, 0)
        # The server never runs dry, so the receives still in flight when the drain
        # reaches its count (at most one of 10 per connection) add to it.
        assert 505 <= drain["messages"] <= 505 + 4 * 10
        assert drain["errors"] == 0
        assert drain["requests"] == 2 * drain["messages"] // 10
        counted += fill["requests"] + drain["requests"] + 2
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=10)
    assert f"served {counted} requests" in out
