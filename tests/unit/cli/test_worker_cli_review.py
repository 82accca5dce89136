"""``ekiden worker`` against a live ekiden: several functions and mappings at once, a
queue given by ARN, an ARN the endpoint cannot serve, and a second signal while a batch
is in flight (the worker and its handler processes end at once)."""

from __future__ import annotations

import os
import signal
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess
from tests.support.worker import WorkerProcess, queue_is_empty, wait_until

HANDLERS = textwrap.dedent(
    """
    import os
    import time


    def first(event, context):
        for record in event["Records"]:
            print("first got:", record["body"])


    def second(event, context):
        for record in event["Records"]:
            print("second got:", record["body"], "pid", os.getpid())
            if record["body"] == "hang":
                time.sleep(60)
    """
)


def write_config(root: Path, mappings: list[tuple[str, str]], extra: str = "") -> Path:
    """Functions ``first`` and ``second`` (timeout 60 s) and one mapping per
    (function, queue) of ``mappings``."""
    (root / "functions").mkdir(parents=True, exist_ok=True)
    (root / "functions" / "handlers.py").write_text(HANDLERS, encoding="utf-8")
    text = ""
    for function in ("first", "second"):
        text += (
            f'[functions.{function}]\nhandler = "handlers:{function}"\n'
            'code = "./functions"\ntimeout_s = 60\n\n'
        )
    for function, queue in mappings:
        text += f'[[event_source_mappings]]\nfunction = "{function}"\nqueue = "{queue}"\n\n'
    config = root / "ekiden.toml"
    config.write_text(text + extra, encoding="utf-8")
    return config


def queue_arn(name: str, account: str = "000000000000", region: str = "us-east-1") -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


def test_one_worker_runs_several_functions_and_mappings_including_a_queue_given_by_arn(
    ekiden: EkidenProcess,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    queue_name: str,
) -> None:
    sqs = sqs_client(ekiden.endpoint, "json")
    by_arn = sqs.create_queue(
        QueueName=queue_name + "-arn", Attributes={"VisibilityTimeout": "60"}
    )["QueueUrl"]
    write_config(
        tmp_path,
        [
            ("first", queue_name + "-a"),
            ("second", queue_arn(queue_name + "-arn")),
            ("first", queue_arn(queue_name + "-arn")),
        ],
        extra=f'[[queues]]\nname = "{queue_name}-a"\n[queues.attributes]\nVisibilityTimeout = 60\n',
    )
    worker = start_worker(ekiden.endpoint)
    worker.wait_for_log(r"polling 3 mappings on .* [(]0 disabled, 2 functions[)]")
    by_name = sqs.get_queue_url(QueueName=queue_name + "-a")["QueueUrl"]

    sqs.send_message(QueueUrl=by_name, MessageBody="to a")
    for n in range(6):
        sqs.send_message(QueueUrl=by_arn, MessageBody=f"by arn {n}")

    worker.wait_for_log(r"\[first\] first got: to a\n")
    for n in range(6):
        worker.wait_for_log(rf"\[(first|second)\] (first|second) got: by arn {n}\b")
    wait_until(lambda: queue_is_empty(sqs, by_name), "queue a to be emptied")
    wait_until(lambda: queue_is_empty(sqs, by_arn), "the queue given by ARN to be emptied")
    assert worker.stop() == 0


@pytest.mark.parametrize(
    ("account", "region", "expected"),
    [
        ("111111111111", "us-east-1", "another account or region"),
        ("000000000000", "eu-west-1", "not in the worker's region us-east-1"),
    ],
)
def test_a_queue_arn_the_endpoint_cannot_serve_stops_the_worker_instead_of_polling_another_queue(
    ekiden: EkidenProcess,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    queue_name: str,
    account: str,
    region: str,
    expected: str,
) -> None:
    sqs = sqs_client(ekiden.endpoint, "json")
    sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "60"})
    write_config(tmp_path, [("first", queue_arn(queue_name, account, region))])

    worker = start_worker(ekiden.endpoint)

    assert worker.proc.wait(20) == 2
    worker._reader.join(2)
    arn = queue_arn(queue_name, account, region)
    assert f"event source mapping of function 'first' to queue '{arn}'" in worker.log
    assert expected in worker.log
    assert "polling" not in worker.log


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (not yet reaped by its dead parent's reaper) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_ends_the_worker_and_its_handler_processes_at_once(
    ekiden: EkidenProcess,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    queue_name: str,
    sig: signal.Signals,
) -> None:
    sqs = sqs_client(ekiden.endpoint, "json")
    url = sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    write_config(tmp_path, [("second", queue_name)])
    worker = start_worker(ekiden.endpoint)
    worker.wait_for_log("polling 1 mappings")
    sqs.send_message(QueueUrl=url, MessageBody="hang")
    handler_pid = int(worker.wait_for_log(r"second got: hang pid (\d+)").group(1))

    worker.proc.send_signal(sig)
    worker.wait_for_log("stopping: no new batches")
    started = time.monotonic()
    worker.proc.send_signal(sig)
    status = worker.proc.wait(10)

    assert time.monotonic() - started < 5, "the second signal did not end the worker at once"
    assert status == 128 + sig
    worker.wait_for_log("second signal: killing the batches in flight")
    wait_until(lambda: not _alive(handler_pid), "the handler process to end", timeout_s=5)
