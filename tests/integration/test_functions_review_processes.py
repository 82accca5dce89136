"""Handler processes do not outlive a server that was SIGKILLed: an idle warm process
exits as soon as its channel closes, a busy one when its invocation ends (its answer
finds the channel closed). Reviewed behaviour, kept as a regression test."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.functions import FunctionsApp, sqs, wait_for, wait_for_queue_url

HANDLER = """
import time
from recorder import record


def lambda_handler(event, context):
    for r in event["Records"]:
        record("pids", body=r["body"], phase="start")
        if r["body"] == "busy":
            time.sleep(3)
        record("pids", body=r["body"], phase="done")
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path)
    app.write_handler("pids", HANDLER)
    app.write_config(
        functions={"f": app.function("pids:lambda_handler", timeout_s=10)},
        mappings=[{"function": "f", "queue": "orphans", "batch_size": 1}],
        queues=[{"name": "orphans", "attributes": {"VisibilityTimeout": 30}}],
    )
    yield app
    app.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (its parent, the killed server, cannot reap it).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[1].split()[0] != "Z"


def test_handler_processes_exit_when_the_server_is_sigkilled(app: FunctionsApp) -> None:
    server = app.server().start()
    client = sqs(server.endpoint)
    url = wait_for_queue_url(client, "orphans")
    # Sent together: two slots invoke them at once, in two processes; "idle" ends first.
    client.send_message(QueueUrl=url, MessageBody="busy")
    client.send_message(QueueUrl=url, MessageBody="idle")
    app.wait_records(
        "pids",
        lambda r: {(x["body"], x["phase"]) for x in r} >= {("busy", "start"), ("idle", "done")},
        20,
        "an idle warm process and a busy one",
    )
    pids = {r["pid"] for r in app.records("pids")}
    assert len(pids) == 2  # the idle warm process and the busy one

    server.kill()
    killed_at = time.monotonic()
    wait_for(lambda: not any(_alive(p) for p in pids) or None, 15, "handler processes to exit")
    # The busy one ran its invocation to the end (3 s), then found nobody to answer.
    assert time.monotonic() - killed_at < 10
