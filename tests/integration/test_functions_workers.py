"""Two ``ekiden worker`` processes share one queue served by an ``ekiden serve`` that runs
no runtime of its own: every message is processed, none twice while its visibility holds.

Handlers append the ids they processed to a file named after their worker (the handler
process's parent); the union of the files is every message sent, without duplicates.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.functions import (
    FunctionsApp,
    send_bodies,
    sqs,
    start_worker,
    wait_for,
    wait_for_empty,
)

WORKER_HANDLER = """
import os
import time
from recorder import record


def lambda_handler(event, context):
    time.sleep(0.05 * len(event["Records"]))
    record("by-" + str(os.getppid()), ids=[r["messageId"] for r in event["Records"]])
"""

MESSAGES = 300


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path)
    app.write_handler("work", WORKER_HANDLER)
    app.write_config(
        functions={"shared": app.function("work:lambda_handler", timeout_s=10)},
        mappings=[{"function": "shared", "queue": "shared", "batch_size": 5}],
        queues=[{"name": "shared", "attributes": {"VisibilityTimeout": 30}}],
        runtime={"enabled": False},
    )
    yield app
    app.close()


def _processed(app: FunctionsApp) -> list[str]:
    ids: list[str] = []
    for path in sorted(app.out_dir.glob("by-*.jsonl")):
        for line in path.read_text().splitlines():
            ids += json.loads(line)["ids"]
    return ids


def test_two_workers_share_a_queue_and_process_every_message_once(
    app: FunctionsApp, tmp_path: Path
) -> None:
    server = app.server().start()
    client = sqs(server.endpoint)
    url = client.create_queue(QueueName="shared", Attributes={"VisibilityTimeout": "30"})[
        "QueueUrl"
    ]
    sent = send_bodies(client, url, [f"job {n}" for n in range(MESSAGES)])
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(2):
            workers.append(start_worker(server.endpoint, app.config_path, tmp_path / f"w{n}.log"))
        wait_for(
            lambda: len(_processed(app)) >= MESSAGES or None,
            60,
            "every message to be processed",
            last=lambda: (
                len(_processed(app)),
                [w.poll() for w in workers],
                [(tmp_path / f"w{n}.log").read_text()[-2000:] for n in range(len(workers))],
            ),
        )
        wait_for_empty(client, url)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(30) for worker in workers]
    processed = _processed(app)
    duplicates = {i: n for i, n in Counter(processed).items() if n > 1}
    assert not duplicates
    assert sorted(processed) == sorted(sent)
    by_worker = {p.name: len(p.read_text().splitlines()) for p in app.out_dir.glob("by-*.jsonl")}
    assert len(by_worker) >= 2, f"one worker did everything: {by_worker}"
    assert codes == [0, 0]
    # The server ran no handler: with its runtime off, the workers did all the work.
    assert "[shared]" not in server.log_text
    server.stop()
