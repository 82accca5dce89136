"""Failing handlers end to end: partial batch responses, malformed responses, timeouts,
poison messages moved to a dead-letter queue, FIFO order when a group fails.

One server for the module. Queues have short visibility timeouts (1-2 s) so failed records
come back quickly; handlers decide whether to fail from the record's
``ApproximateReceiveCount`` or from what they recorded before, and record every attempt.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.functions import (
    FunctionsApp,
    queue_arn,
    receive_all,
    send_bodies,
    wait_for_empty,
    wait_for_log,
    wait_for_queue_url,
)
from tests.support.server import EkidenProcess

PARTIAL_HANDLER = """
from recorder import record


def lambda_handler(event, context):
    failures = []
    for r in event["Records"]:
        count = int(r["attributes"]["ApproximateReceiveCount"])
        record("partial", id=r["messageId"], body=r["body"], count=count)
        if r["body"].startswith("fail") and count == 1:
            failures.append({"itemIdentifier": r["messageId"]})
    return {"batchItemFailures": failures}
"""

MALFORMED_HANDLER = """
import os
from recorder import record


class NotJson:
    pass


BAD = {
    "missing": {"batchItemFailures": [{"id": "x"}]},
    "empty": {"batchItemFailures": [{"itemIdentifier": ""}]},
    "unknown": {"batchItemFailures": [{"itemIdentifier": "no-such-message-id"}]},
    "notjson": {"batchItemFailures": [NotJson()]},
}


def lambda_handler(event, context):
    kind = os.environ["KIND"]
    counts = [int(r["attributes"]["ApproximateReceiveCount"]) for r in event["Records"]]
    for r, count in zip(event["Records"], counts):
        record("malformed-" + kind, id=r["messageId"], count=count)
    if min(counts) == 1:
        return BAD[kind]
    return {"batchItemFailures": []}
"""

SLOW_HANDLER = """
import time
from recorder import record


def lambda_handler(event, context):
    for r in event["Records"]:
        count = int(r["attributes"]["ApproximateReceiveCount"])
        record("slow", phase="start", body=r["body"], count=count)
        if r["body"] == "slow" and count == 1:
            time.sleep(5)
        record("slow", phase="done", body=r["body"], count=count)
"""

POISON_HANDLER = """
from recorder import record


def lambda_handler(event, context):
    for r in event["Records"]:
        record("poison", body=r["body"], count=int(r["attributes"]["ApproximateReceiveCount"]))
        if r["body"] == "poison":
            raise ValueError("poison message")
"""

# Fails the first delivery of every group-A message. A failed message stops its group for
# the rest of the batch: later records of that group are reported as failures without
# being processed (what AWS asks of FIFO handlers), unless REPORT_REST is "no": then they
# are only skipped, and the runtime must keep them itself.
FIFO_HANDLER = """
import os
from recorder import record, seen


def lambda_handler(event, context):
    file = os.environ["RECORD_FILE"]
    tried = {line["id"] for line in seen(file + "-attempts")}
    record(file + "-calls", batch=[
        (r["body"], r["attributes"]["ApproximateReceiveCount"], r["receiptHandle"][-12:])
        for r in event["Records"]
    ])
    stopped, failures = set(), []
    for r in event["Records"]:
        group = r["attributes"]["MessageGroupId"]
        if group in stopped:
            if os.environ["REPORT_REST"] == "yes":
                failures.append({"itemIdentifier": r["messageId"]})
            continue
        if group == "A" and r["messageId"] not in tried:
            record(file + "-attempts", id=r["messageId"])
            failures.append({"itemIdentifier": r["messageId"]})
            stopped.add(group)
            continue
        record(file, id=r["messageId"], body=r["body"], group=group)
    return {"batchItemFailures": failures}
"""

MALFORMED_KINDS = ("missing", "empty", "unknown", "notjson")
SHORT_VISIBILITY = {"VisibilityTimeout": 2}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path_factory.mktemp("functions-failures"))
    app.write_handler("partial", PARTIAL_HANDLER)
    app.write_handler("malformed", MALFORMED_HANDLER)
    app.write_handler("slow", SLOW_HANDLER)
    app.write_handler("poison", POISON_HANDLER)
    app.write_handler("fifo", FIFO_HANDLER)
    reports = {"report_batch_item_failures": True}
    functions: dict[str, dict[str, object]] = {
        "partial": app.function("partial:lambda_handler", timeout_s=2),
        "slow": app.function("slow:lambda_handler", timeout_s=1),
        "poison": app.function("poison:lambda_handler", timeout_s=1),
        "fifo": app.function(
            "fifo:lambda_handler",
            timeout_s=1,
            environment={"RECORD_FILE": "fifo", "REPORT_REST": "yes"},
        ),
        "fifoskip": app.function(
            "fifo:lambda_handler",
            timeout_s=1,
            environment={"RECORD_FILE": "fifoskip", "REPORT_REST": "no"},
        ),
    }
    mappings: list[dict[str, object]] = [
        {"function": "partial", "queue": "partial", **reports},
        {"function": "slow", "queue": "slow"},
        {"function": "poison", "queue": "poison", "batch_size": 1},
        {"function": "fifo", "queue": "order.fifo", **reports},
        {"function": "fifoskip", "queue": "orderskip.fifo", **reports},
    ]
    queues: list[dict[str, object]] = [
        {"name": "partial", "attributes": SHORT_VISIBILITY},
        {"name": "slow", "attributes": SHORT_VISIBILITY},
        {"name": "poison-dlq"},
        {
            "name": "poison",
            "attributes": {
                **SHORT_VISIBILITY,
                "RedrivePolicy": {
                    "deadLetterTargetArn": queue_arn("poison-dlq"),
                    "maxReceiveCount": 2,
                },
            },
        },
    ]
    for fifo in ("order.fifo", "orderskip.fifo"):
        attributes = {"FifoQueue": True, "ContentBasedDeduplication": True, "VisibilityTimeout": 1}
        queues.append({"name": fifo, "attributes": attributes})
    for kind in MALFORMED_KINDS:
        functions[f"malformed-{kind}"] = app.function(
            "malformed:lambda_handler", timeout_s=2, environment={"KIND": kind}
        )
        mappings.append({"function": f"malformed-{kind}", "queue": f"malformed-{kind}", **reports})
        queues.append({"name": f"malformed-{kind}", "attributes": SHORT_VISIBILITY})
    app.write_config(functions=functions, mappings=mappings, queues=queues)
    yield app
    app.close()


def test_reported_item_failures_reappear_and_the_rest_are_deleted_once(
    app: FunctionsApp, client: Any
) -> None:
    url = wait_for_queue_url(client, "partial")
    ok = [f"ok {n}" for n in range(7)]
    fail = [f"fail {n}" for n in range(3)]
    send_bodies(client, url, [*fail[:1], *ok[:4], *fail[1:], *ok[4:]])

    app.wait_records(
        "partial",
        lambda seen: {(r["body"], r["count"]) for r in seen} >= {(body, 2) for body in fail},
        30,
        "the failed items to come back with receive count 2",
    )
    wait_for_empty(client, url)
    deliveries = Counter((r["body"], r["count"]) for r in app.records("partial"))
    assert deliveries == Counter([(body, 1) for body in ok + fail] + [(body, 2) for body in fail])


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_a_malformed_batch_response_fails_the_whole_batch(
    app: FunctionsApp, client: Any, kind: str
) -> None:
    url = wait_for_queue_url(client, f"malformed-{kind}")
    ids = send_bodies(client, url, [f"{kind} {n}" for n in range(3)])

    seen = app.wait_records(
        f"malformed-{kind}",
        lambda seen: {(r["id"], r["count"]) for r in seen} >= {(i, 2) for i in ids},
        30,
        "every record of the failed batch to come back",
    )
    wait_for_empty(client, url)
    # Nothing was deleted after the malformed answer: every message came back exactly once.
    counts = Counter(r["id"] for r in app.records(f"malformed-{kind}"))
    assert counts == {i: 2 for i in ids}, seen


def test_a_timed_out_batch_is_not_deleted_and_the_function_keeps_working(
    app: FunctionsApp, server: EkidenProcess, client: Any
) -> None:
    url = wait_for_queue_url(client, "slow")
    client.send_message(QueueUrl=url, MessageBody="slow")

    wait_for_log(server, "Task timed out")
    app.wait_records(
        "slow",
        lambda seen: {"phase": "done", "body": "slow", "count": 2} in _shapes(seen),
        30,
        "the timed-out message to come back and succeed",
    )
    client.send_message(QueueUrl=url, MessageBody="fast")
    app.wait_records(
        "slow",
        lambda seen: {"phase": "done", "body": "fast", "count": 1} in _shapes(seen),
        20,
        "a later fast invocation",
    )
    wait_for_empty(client, url)
    # The first run was killed at the timeout: it never got past its sleep.
    assert {"phase": "done", "body": "slow", "count": 1} not in _shapes(app.records("slow"))


def _shapes(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: r[k] for k in ("phase", "body", "count")} for r in seen]


def test_a_poison_message_lands_in_the_dead_letter_queue_after_two_receives(
    app: FunctionsApp, client: Any
) -> None:
    url = wait_for_queue_url(client, "poison")
    dlq = wait_for_queue_url(client, "poison-dlq")
    good = [f"good {n}" for n in range(4)]
    send_bodies(client, url, ["poison", *good])

    dead = receive_all(client, dlq, expected=1, timeout_s=40)
    assert [m["Body"] for m in dead] == ["poison"]
    wait_for_empty(client, url)
    seen = app.records("poison")
    assert sorted(r["count"] for r in seen if r["body"] == "poison") == [1, 2]
    assert sorted(r["body"] for r in seen if r["body"] != "poison") == good


@pytest.mark.parametrize("fifo", ["fifo", "fifoskip"], ids=["handler-reports-rest", "skips-rest"])
def test_fifo_groups_are_processed_in_send_order_when_a_group_fails(
    app: FunctionsApp, server: EkidenProcess, client: Any, fifo: str
) -> None:
    name = "order.fifo" if fifo == "fifo" else "orderskip.fifo"
    url = wait_for_queue_url(client, name)
    sent: dict[str, list[str]] = defaultdict(list)
    entries = []
    for n in range(5):
        for group in ("A", "B"):
            body = json.dumps({"group": group, "n": n})
            sent[group].append(body)
            entries.append({"Id": f"{group}{n}", "MessageBody": body, "MessageGroupId": group})
    for start in range(0, len(entries), 10):
        answer = client.send_message_batch(QueueUrl=url, Entries=entries[start : start + 10])
        assert not answer.get("Failed"), answer

    app.wait_records(fifo, lambda seen: len(seen) >= 10, 60, "all ten messages processed")
    wait_for_empty(client, url)
    processed: dict[str, list[str]] = defaultdict(list)
    for r in app.records(fifo):
        processed[r["group"]].append(r["body"])
    calls = "\n".join(f"{c['t']:.3f} {c['batch']}" for c in app.records(fifo + "-calls"))
    assert processed == sent, f"{_warnings(server)}\nbatches:\n{calls}"


def _warnings(server: EkidenProcess) -> str:
    """The server's warnings and errors, to explain a failure."""
    return "\n".join(
        line for line in server.log_text.splitlines() if " WARNING " in line or " ERROR " in line
    )
