"""``GET /metrics`` of a live server: known boto3 traffic (send 7, receive 5, delete 3, two
messages dead-lettered) then a scrape, read with prometheus_client's strict parser."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(endpoint: str) -> tuple[requests.Response, Samples]:
    response = requests.get(f"{endpoint}/metrics", timeout=10)
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return response, out


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def receive_exactly(sqs: Any, url: str, wanted: int, visibility_s: int) -> list[dict[str, Any]]:
    """Receive until ``wanted`` messages came (a standard queue may answer with fewer)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(got) < wanted and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(wanted - len(got), 10),
            VisibilityTimeout=visibility_s,
            WaitTimeSeconds=1,
        )
        got.extend(answer.get("Messages", []))
    assert len(got) == wanted
    return got


@pytest.fixture
def metrics_endpoint(ekiden: EkidenProcess) -> str:
    return ekiden.endpoint


def test_a_scrape_reports_the_queue_figures_of_known_traffic(
    metrics_endpoint: str, queue_name: str
) -> None:
    sqs = sqs_client(metrics_endpoint)
    dlq = sqs.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    url = sqs.create_queue(QueueName=queue_name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    for i in range(7):
        sqs.send_message(QueueUrl=url, MessageBody=f"job {i}")
    first = receive_exactly(sqs, url, 5, visibility_s=1)
    for message in first[:3]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    response, found = scrape(metrics_endpoint)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    queue = {"queue": queue_name}
    assert value(found, "ekiden_queue_messages_sent_total", **queue) == 7
    assert value(found, "ekiden_queue_messages_received_total", **queue) == 5
    assert value(found, "ekiden_queue_messages_deleted_total", **queue) == 3
    assert value(found, "ekiden_queue_messages_visible", **queue) == 2
    assert value(found, "ekiden_queue_messages_in_flight", **queue) == 2
    assert value(found, "ekiden_queue_messages_delayed", **queue) == 0
    assert value(found, "ekiden_queue_oldest_message_age_seconds", **queue) >= 0

    # The two undeleted messages reappear after their 1 s visibility timeout; received a
    # second time (maxReceiveCount 1) they move to the dead-letter queue instead.
    time.sleep(1.2)
    second: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)
        second.extend(answer.get("Messages", []))
        _, found = scrape(metrics_endpoint)
        moved = value(found, "ekiden_queue_messages_dead_lettered_total", **queue)
        if (len(second) == 2 and moved == 2) or time.monotonic() > deadline:
            break
    assert len(second) == 2  # the two never received before
    assert moved == 2
    assert value(found, "ekiden_queue_messages_received_total", **queue) == 7
    assert value(found, "ekiden_queue_messages_in_flight", **queue) == 2
    assert value(found, "ekiden_queue_messages_visible", **queue) == 0
    assert value(found, "ekiden_queue_messages_visible", queue=f"{queue_name}-dlq") == 2
    assert value(found, "ekiden_queue_oldest_message_age_seconds", **queue) >= 1.0


def test_a_scrape_reports_requests_store_and_process(metrics_endpoint: str) -> None:
    sqs = sqs_client(metrics_endpoint)
    url = sqs.create_queue(QueueName="metrics-requests")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="metrics-no-such-queue")
    _, found = scrape(metrics_endpoint)
    send = {"protocol": "sqs", "action": "SendMessage"}
    assert value(found, "ekiden_requests_total", outcome="ok", **send) >= 1
    assert value(found, "ekiden_request_duration_seconds_count", **send) >= 1
    lookup = {"protocol": "sqs", "action": "GetQueueUrl", "outcome": "client_error"}
    assert value(found, "ekiden_requests_total", **lookup) >= 1
    assert value(found, "ekiden_store_healthy") == 1
    assert value(found, "ekiden_store_commit_duration_seconds_count") >= 1
    assert value(found, "ekiden_store_commit_group_jobs_count") >= 1
    builds = [key for key in found if key[0] == "ekiden_build_info"]
    assert len(builds) == 1 and found[builds[0]] == 1
    assert value(found, "process_start_time_seconds") > 1_600_000_000


def test_made_up_actions_are_counted_as_unknown_not_as_new_series(metrics_endpoint: str) -> None:
    for n in range(3):
        answer = requests.post(
            metrics_endpoint,
            data={"Action": f"MadeUpAction{n}", "Version": "2012-11-05"},
            timeout=10,
        )
        assert answer.status_code == 400
    _, found = scrape(metrics_endpoint)
    actions = {
        dict(labels).get("action") for name, labels in found if name == "ekiden_requests_total"
    }
    assert not any(a and a.startswith("MadeUpAction") for a in actions)
    unknown = {"protocol": "sqs", "action": "unknown", "outcome": "client_error"}
    assert value(found, "ekiden_requests_total", **unknown) >= 3


def test_start_up_objects_are_frozen_and_request_garbage_is_left_to_reference_counting(
    tmp_path: Path,
) -> None:
    """The server's collector policy (ekiden.server.gc_policy), seen through /metrics: what
    start-up built sits in the permanent generation, and 4,000 sends with 64 in flight
    trigger hardly any young-generation collection (with the interpreter's default
    threshold the same load makes dozens)."""
    with EkidenProcess(tmp_path / "data") as server:
        _, before = scrape(server.endpoint)
        assert value(before, "ekiden_gc_frozen_objects") > 10_000
        load = [sys.executable, "-m", "ekiden", "bench", "send", "--endpoint", server.endpoint]
        load += ["--messages", "4000", "--concurrency", "64", "--body-size", "100", "--keep-queue"]
        done = subprocess.run(load, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        _, after = scrape(server.endpoint)
        sent = [v for (name, _), v in after.items() if name == "ekiden_queue_messages_sent_total"]
        assert sum(sent) == 4000
        young = {"generation": "0"}
        collections = value(after, "python_gc_collections_total", **young) - value(
            before, "python_gc_collections_total", **young
        )
        assert collections <= 10  # 118 measured with the interpreter's default
