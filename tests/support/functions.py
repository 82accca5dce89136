"""Support for end-to-end tests of the Functions runtime: handler code, config, servers.

A test module builds a :class:`FunctionsApp` in a temporary directory: handler modules
written into ``<root>/functions``, an ``ekiden.toml`` with ``[functions.*]`` and
``[[event_source_mappings]]`` written by :func:`write_config`, and an ``out`` directory
where handlers record what they saw. Every function gets ``OUT_DIR`` in its environment;
the :data:`RECORDER` module (always written) appends one JSON line per call to
``OUT_DIR/<file>.jsonl`` with ``O_APPEND``, so records from many handler processes never
interleave inside a line.

Waiting is done by :func:`wait_for`: a predicate polled until it holds or a deadline
passes (then the test fails with the last value seen and the caller's message). Nothing
here sleeps a fixed time to let something happen.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import boto3
import botocore.config

from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess

T = TypeVar("T")

ACCOUNT_ID = "000000000000"
REGION = "us-east-1"

RECORDER = '''
"""Test helper imported by handlers: append one JSON line per record to OUT_DIR/<file>."""
import json
import os
import time


def record(file, **fields):
    fields.setdefault("pid", os.getpid())
    fields.setdefault("t", time.time())
    line = (json.dumps(fields, sort_keys=True) + "\\n").encode()
    # One write() of an O_APPEND file: lines from concurrent processes stay whole.
    fd = os.open(os.path.join(os.environ["OUT_DIR"], file + ".jsonl"),
                 os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def seen(file):
    """Lines already recorded in OUT_DIR/<file>, parsed (used by handlers that fail once)."""
    path = os.path.join(os.environ["OUT_DIR"], file + ".jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as stream:
        return [json.loads(line) for line in stream if line.strip()]
'''


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"


# --- TOML ---------------------------------------------------------------------------------


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        # JSON string escapes are valid TOML basic-string escapes.
        return json.dumps(str(value))
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def _table(header: str, values: Mapping[str, object]) -> str:
    lines = [header]
    lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def write_config(
    path: Path,
    *,
    functions: Mapping[str, Mapping[str, object]] = {},
    mappings: Sequence[Mapping[str, object]] = (),
    queues: Sequence[Mapping[str, object]] = (),
    runtime: Mapping[str, object] | None = None,
) -> Path:
    """Write an ``ekiden.toml`` at ``path`` and return it.

    ``functions`` maps names to ``[functions.NAME]`` keys, ``mappings`` are the
    ``[[event_source_mappings]]`` entries, ``queues`` the ``[[queues]]`` entries (an
    ``attributes`` key is written as a ``[queues.attributes]`` table), ``runtime`` the
    ``[runtime]`` keys. Values are strings, numbers, booleans, lists or inline tables.
    """
    parts: list[str] = []
    if runtime is not None:
        parts.append(_table("[runtime]", runtime))
    for name, keys in functions.items():
        parts.append(_table(f"[functions.{_key(name)}]", keys))
    for mapping in mappings:
        parts.append(_table("[[event_source_mappings]]", mapping))
    for queue in queues:
        plain = {k: v for k, v in queue.items() if k != "attributes"}
        parts.append(_table("[[queues]]", plain))
        attributes = queue.get("attributes")
        if isinstance(attributes, Mapping):
            parts.append(_table("[queues.attributes]", attributes))
    path.write_text("\n".join(parts))
    return path


# --- the app: code, config, output ------------------------------------------------------------


@dataclass
class FunctionsApp:
    """A directory with handler code, an ``ekiden.toml`` and an output directory.

    ``root/functions`` holds the handler modules (the ``code`` of every function unless
    given), ``root/out`` what handlers record, ``root/ekiden.toml`` the config,
    ``root/data`` the server's data directory.
    """

    root: Path
    servers: list[EkidenProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.code_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.code_dir / "recorder.py").write_text(RECORDER.lstrip())

    @property
    def code_dir(self) -> Path:
        return self.root / "functions"

    @property
    def out_dir(self) -> Path:
        return self.root / "out"

    @property
    def config_path(self) -> Path:
        return self.root / "ekiden.toml"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def write_handler(self, module: str, source: str) -> Path:
        """Write ``functions/<module>.py`` from ``source`` (dedented)."""
        path = self.code_dir / f"{module}.py"
        path.write_text(textwrap.dedent(source).lstrip())
        return path

    def function(self, handler: str, **keys: object) -> dict[str, object]:
        """A ``[functions.NAME]`` table: ``handler``, code ``./functions``, ``OUT_DIR`` in
        the environment (merged with an ``environment`` given), then ``keys``."""
        environment = {"OUT_DIR": str(self.out_dir)}
        extra = keys.pop("environment", None)
        if isinstance(extra, Mapping):
            environment.update({str(k): str(v) for k, v in extra.items()})
        return {"handler": handler, "code": "./functions", **keys, "environment": environment}

    def write_config(self, **sections: Any) -> Path:
        """:func:`write_config` at :attr:`config_path`."""
        return write_config(self.config_path, **sections)

    def server(self, *extra_args: str, config: bool = True) -> EkidenProcess:
        """An (unstarted) ``ekiden serve`` on :attr:`data_dir` with ``--config``."""
        args = ("--config", str(self.config_path)) if config else ()
        server = EkidenProcess(self.data_dir, *args, *extra_args)
        self.servers.append(server)
        return server

    def records(self, file: str) -> list[dict[str, Any]]:
        """Every line handlers recorded in ``out/<file>.jsonl`` so far, parsed."""
        path = self.out_dir / f"{file}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def wait_records(
        self,
        file: str,
        done: Callable[[list[dict[str, Any]]], bool],
        timeout_s: float,
        what: str,
    ) -> list[dict[str, Any]]:
        """Wait until ``done(records(file))`` holds; return those records."""

        def probe() -> list[dict[str, Any]] | None:
            records = self.records(file)
            return records if done(records) else None

        return wait_for(probe, timeout_s, what, last=lambda: self.records(file)[-20:])

    def close(self) -> None:
        """Kill whatever server is still running (a test failed halfway)."""
        for server in self.servers:
            if server.proc is not None and server.proc.poll() is None:
                server.kill()


# --- clients ----------------------------------------------------------------------------------


def lambda_client(endpoint: str) -> Any:
    """A boto3 Lambda client of ``endpoint`` (served on the SQS port)."""
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=60),
    )


def sqs(endpoint: str) -> Any:
    """A boto3 SQS client (AWS JSON) of ``endpoint``."""
    return sqs_client(endpoint, "json")


def queue_counts(client: Any, url: str) -> tuple[int, int]:
    """(ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible) of a queue."""
    attributes = client.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def wait_for_queue_url(client: Any, name: str, timeout_s: float = 20.0) -> str:
    """The URL of queue ``name`` once it exists (config-declared queues are created at
    startup, possibly just after the server starts listening)."""

    def url() -> str | None:
        try:
            return str(client.get_queue_url(QueueName=name)["QueueUrl"])
        except client.exceptions.QueueDoesNotExist:
            return None

    return wait_for(url, timeout_s, f"queue {name} to exist")


def wait_for_empty(client: Any, url: str, timeout_s: float = 30.0) -> None:
    """Wait until the queue holds no message, visible or in flight."""
    wait_for(
        lambda: queue_counts(client, url) == (0, 0) or None,
        timeout_s,
        f"queue {url} to be empty",
        last=lambda: queue_counts(client, url),
    )


def send_bodies(client: Any, url: str, bodies: Iterable[str], **extra: Any) -> list[str]:
    """Send ``bodies`` in batches of 10; return the message ids in order."""
    bodies = list(bodies)
    ids: list[str] = []
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        entries = [{"Id": str(i), "MessageBody": body, **extra} for i, body in enumerate(chunk)]
        answer = client.send_message_batch(QueueUrl=url, Entries=entries)
        assert not answer.get("Failed"), answer
        by_id = {entry["Id"]: entry["MessageId"] for entry in answer["Successful"]}
        ids += [by_id[str(i)] for i in range(len(chunk))]
    return ids


def receive_all(client: Any, url: str, *, expected: int, timeout_s: float = 30.0) -> list[Any]:
    """Receive (and delete) messages until ``expected`` came or the deadline passed."""
    received: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(received) < expected and time.monotonic() < deadline:
        messages = client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        for message in messages:
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        received += messages
    return received


# --- waiting ----------------------------------------------------------------------------------


def wait_for(
    probe: Callable[[], T | None],
    timeout_s: float,
    what: str,
    *,
    interval_s: float = 0.1,
    last: Callable[[], object] | None = None,
) -> T:
    """Poll ``probe`` until it returns something other than ``None``/``False``; return it.

    Fails the test (``AssertionError``) after ``timeout_s`` with ``what`` and the last
    value seen (or ``last()`` when given).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            seen = last() if last is not None else value
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; last: {seen}")
        time.sleep(interval_s)


def wait_for_log(server: EkidenProcess, text: str, timeout_s: float = 20.0) -> str:
    """Wait until ``text`` appears in the server's log; return the log."""
    return wait_for(
        lambda: server.log_text if text in server.log_text else None,
        timeout_s,
        f"{text!r} in the server log",
        last=lambda: server.log_text[-3000:],
    )


def log_lines(server: EkidenProcess, function: str) -> list[str]:
    """Log lines tagged with ``[function]``."""
    tag = f"[{function}]"
    return [line for line in server.log_text.splitlines() if tag in line]


# --- worker processes -------------------------------------------------------------------------


def start_worker(endpoint: str, config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m ekiden worker --endpoint URL --config FILE`` with output in ``log_path``."""
    stream = log_path.open("wb")
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ekiden",
                "worker",
                "--endpoint",
                endpoint,
                "--config",
                str(config),
            ],
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    finally:
        stream.close()  # the child holds its own descriptor


def max_overlap(intervals: Iterable[tuple[float, float]]) -> int:
    """The largest number of ``(start, end)`` intervals open at one instant (an end at the
    same instant as a start closes first)."""
    spans = list(intervals)
    events = sorted(
        [(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans],
        key=lambda event: (event[0], event[1]),
    )
    open_now = peak = 0
    for _, step in events:
        open_now += step
        peak = max(peak, open_now)
    return peak
