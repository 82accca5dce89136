"""A bounded soak test of ekiden: mixed traffic, client disconnects, a SIGKILL and restart.

    .venv/bin/python tools/soak.py [--duration 120] [--workers 4] [--seed N] [--json]

It starts its own ``ekiden serve`` on a fresh data directory, creates a standard and a
FIFO queue and runs ``--workers`` client threads for ``--duration`` seconds. Each thread
mixes single and batch sends, receives, deletes, visibility changes and deliberate
disconnects (a request cut off halfway, or sent whole and then abandoned unanswered).
Halfway through, the server is killed with SIGKILL and restarted on the same port and
data directory; the clients carry on through the outage.

Every message body is unique, so the books are kept by body:

* acked      a send answered with a MessageId (single or batch entry): must survive;
* unknown    a send whose answer never came (abandoned, or cut by the kill): may or may
             not be stored, either is correct;
* aborted    a request cut off before its body was complete: must never be stored;
* deleted    a delete answered with success: the message should be gone. SQS allows one
             to come back when a newer receive of it already superseded the receipt
             handle; those are reported as ``redelivered_after_delete``. A delete that
             got no answer leaves its message free to be there or not.

At the end the queues are drained (receive + delete until empty, waiting out any
visibility timeout) and checked: ``lost`` (acked, not deleted, not drained) and
``phantom`` (drained, but never sent or only aborted) must be zero, and the FIFO queue
must drain no body twice. A standard queue may deliver a message more than once
(at-least-once); such ``duplicates`` are counted, not failed. Exit status 0 means every
acknowledged message is accounted for; the figures are printed (``--json`` for machines).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "000000000000"
VISIBILITY_S = 5  # short, so the drain need not wait long for in-flight messages
_LISTENING = re.compile(r"listening on http://([\d.]+):(\d+)")


class Server:
    """One ``ekiden serve`` child on a fixed data directory (port 0 the first time, then
    the same port again, so clients need not learn a new address after a restart)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        cmd = [sys.executable, "-m", "ekiden", "serve", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir)]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        ready = threading.Event()
        proc = self.proc

        def read() -> None:  # keeps the pipe drained for the whole life of the process
            assert proc.stdout is not None
            for line in proc.stdout:
                found = _LISTENING.search(line)
                if found and not ready.is_set():
                    self.port = int(found.group(2))
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not ready.wait(0.02):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ekiden did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class NoAnswer(Exception):
    """The request may or may not have been carried out: no answer came back."""


class Client:
    """A keep-alive JSON-protocol SQS client that reconnects after any failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def call(self, action: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body = json.dumps(params).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AmazonSQS.{action}",
        }
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request("POST", "/", body, headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise NoAnswer(str(error)) from None
        return response.status, (json.loads(data) if data else {})

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def abandon(port: int, action: str, params: dict[str, Any], cut: bool) -> None:
    """Send a request on a fresh connection and hang up without reading the answer;
    with ``cut``, hang up halfway through the body (the request is never complete)."""
    body = json.dumps(params).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.{action}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    data = head + (body[: len(body) // 2] if cut else body)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(data)
            # SO_LINGER 0: close with a reset, like a client that crashed.
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    except OSError:
        pass


@dataclass
class Books:
    """What the clients were told, by message body; shared by the worker threads."""

    acked: dict[str, str] = field(default_factory=dict)  # body -> message id
    unknown: set[str] = field(default_factory=set)
    aborted: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    delete_unknown: set[str] = field(default_factory=set)  # a delete that got no answer
    requests: int = 0
    no_answer: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Worker(threading.Thread):
    def __init__(
        self, n: int, port: int, urls: dict[str, str], books: Books, stop_at: float, seed: int
    ):
        super().__init__(name=f"soak-{n}", daemon=True)
        self.n = n
        self.port = port
        self.urls = urls
        self.books = books
        self.stop_at = stop_at
        self.rng = random.Random(seed)
        self.client = Client(port)
        self.seq = 0

    def run(self) -> None:
        while time.monotonic() < self.stop_at:
            kind = self.rng.choice(["std", "fifo"])
            op = self.rng.choices(
                ["send", "batch", "receive", "abandon", "cut"], weights=[30, 20, 40, 5, 5]
            )[0]
            try:
                getattr(self, op)(kind)
            except NoAnswer:
                with self.books.lock:
                    self.books.no_answer += 1
                time.sleep(0.05)  # the server is down or restarting: do not spin
        self.client.close()

    def _entry(self, kind: str) -> dict[str, Any]:
        self.seq += 1
        body = f"w{self.n}-{self.seq}-" + "x" * self.rng.randint(0, 2000)
        entry: dict[str, Any] = {"MessageBody": body}
        if kind == "fifo":
            entry["MessageGroupId"] = f"g{self.rng.randint(0, 7)}"
            entry["MessageDeduplicationId"] = f"w{self.n}-{self.seq}"
        return entry

    def _call(self, action: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, document = self.client.call(action, params)
        with self.books.lock:
            self.books.requests += 1
            if status != 200:
                self.books.errors[f"{action} {status} {document.get('__type', '')}"] += 1
        return status, document

    def send(self, kind: str) -> None:
        entry = self._entry(kind)
        try:
            status, document = self._call("SendMessage", {"QueueUrl": self.urls[kind], **entry})
        except NoAnswer:
            with self.books.lock:
                self.books.unknown.add(entry["MessageBody"])
            raise
        if status == 200:
            with self.books.lock:
                self.books.acked[entry["MessageBody"]] = document["MessageId"]

    def batch(self, kind: str) -> None:
        entries = [{"Id": str(i), **self._entry(kind)} for i in range(self.rng.randint(1, 10))]
        try:
            status, document = self._call(
                "SendMessageBatch", {"QueueUrl": self.urls[kind], "Entries": entries}
            )
        except NoAnswer:
            with self.books.lock:
                self.books.unknown.update(e["MessageBody"] for e in entries)
            raise
        if status == 200:
            bodies = {e["Id"]: e["MessageBody"] for e in entries}
            with self.books.lock:
                for ok in document.get("Successful", []):
                    self.books.acked[bodies[ok["Id"]]] = ok["MessageId"]

    def receive(self, kind: str) -> None:
        url = self.urls[kind]
        status, document = self._call(
            "ReceiveMessage",
            {"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": VISIBILITY_S},
        )
        if status != 200:
            return
        for message in document.get("Messages", []):
            choice = self.rng.random()
            handle = message["ReceiptHandle"]
            if choice < 0.6:  # process it
                try:
                    status, _ = self._call(
                        "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": handle}
                    )
                except NoAnswer:
                    with self.books.lock:
                        self.books.delete_unknown.add(message["Body"])
                    raise
                if status == 200:
                    with self.books.lock:
                        self.books.deleted.add(message["Body"])
            elif choice < 0.8:  # give it back, now or a little later
                timeout = self.rng.choice([0, 1, 2])
                self._call(
                    "ChangeMessageVisibility",
                    {"QueueUrl": url, "ReceiptHandle": handle, "VisibilityTimeout": timeout},
                )
            # else: forget it; it reappears once its visibility timeout has passed

    def abandon(self, kind: str) -> None:
        entry = self._entry(kind)
        with self.books.lock:
            self.books.unknown.add(entry["MessageBody"])
        abandon(self.port, "SendMessage", {"QueueUrl": self.urls[kind], **entry}, cut=False)

    def cut(self, kind: str) -> None:
        entry = self._entry(kind)
        with self.books.lock:
            self.books.aborted.add(entry["MessageBody"])
        abandon(self.port, "SendMessage", {"QueueUrl": self.urls[kind], **entry}, cut=True)


def wait_healthy(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError("ekiden did not come back")


def drain(port: int, url: str) -> list[str]:
    """Receive and delete until the queue stays empty for longer than any visibility
    timeout the workers set; returns the bodies in the order received."""
    client = Client(port)
    bodies: list[str] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < VISIBILITY_S + 2:
        _, document = client.call(
            "ReceiveMessage",
            {
                "QueueUrl": url,
                "MaxNumberOfMessages": 10,
                "VisibilityTimeout": 300,
                "WaitTimeSeconds": 1,
            },
        )
        messages = document.get("Messages", [])
        if messages:
            quiet_since = time.monotonic()
        bodies += [message["Body"] for message in messages]
        if messages:
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ]
            client.call("DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
    client.close()
    return bodies


@dataclass
class Figures:
    duration_s: float
    workers: int
    requests: int
    requests_per_s: float
    no_answer: int
    sent_acked: int
    sent_unknown: int
    sent_aborted: int
    deleted_acked: int
    drained: int
    lost: int
    phantom: int
    duplicates_standard: int
    duplicates_fifo: int
    redelivered_after_delete: int
    unknown_stored: int
    restart_s: float
    errors: dict[str, int]

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.phantom == 0 and self.duplicates_fifo == 0


def soak(duration_s: float, workers: int, seed: int, data_dir: Path) -> Figures:
    server = Server(data_dir)
    server.start()
    port = server.port
    try:
        setup = Client(port)
        urls: dict[str, str] = {}
        for kind, name, attrs in (
            ("std", "soak", {}),
            ("fifo", "soak.fifo", {"FifoQueue": "true"}),
        ):
            status, document = setup.call("CreateQueue", {"QueueName": name, "Attributes": attrs})
            assert status == 200, document
            urls[kind] = document["QueueUrl"]
        setup.close()
        books = Books()
        started = time.monotonic()
        stop_at = started + duration_s
        threads = [Worker(i, port, urls, books, stop_at, seed + i) for i in range(workers)]
        for thread in threads:
            thread.start()
        time.sleep(duration_s / 2)
        server.kill()
        killed = time.monotonic()
        server.start()
        wait_healthy(port)
        restart_s = time.monotonic() - killed
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        drained = {kind: drain(port, url) for kind, url in urls.items()}
    finally:
        server.stop()
    return account(books, drained, elapsed, workers, restart_s)


def account(
    books: Books, drained: dict[str, list[str]], elapsed: float, workers: int, restart_s: float
) -> Figures:
    seen = Counter(body for bodies in drained.values() for body in bodies)
    expected = set(books.acked) - books.deleted - books.delete_unknown
    known = set(books.acked) | books.unknown
    fifo = Counter(drained["fifo"])
    return Figures(
        duration_s=round(elapsed, 1),
        workers=workers,
        requests=books.requests,
        requests_per_s=round(books.requests / elapsed, 1),
        no_answer=books.no_answer,
        sent_acked=len(books.acked),
        sent_unknown=len(books.unknown - set(books.acked)),
        sent_aborted=len(books.aborted),
        deleted_acked=len(books.deleted),
        drained=sum(seen.values()),
        lost=len(expected - set(seen)),
        phantom=sum(1 for body in seen if body not in known),
        duplicates_standard=sum(n - 1 for n in Counter(drained["std"]).values() if n > 1),
        duplicates_fifo=sum(n - 1 for n in fifo.values() if n > 1),
        redelivered_after_delete=len(books.deleted & set(seen)),
        unknown_stored=len((books.unknown - set(books.acked)) & set(seen)),
        restart_s=round(restart_s, 2),
        errors=dict(books.errors),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of traffic")
    parser.add_argument("--workers", type=int, default=4, help="client threads")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, help="default: a fresh temporary directory")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ekiden-soak-") as tmp:
        figures = soak(args.duration, args.workers, args.seed, args.data_dir or Path(tmp))
    if args.json:
        print(json.dumps({**asdict(figures), "ok": figures.ok}))
    else:
        for name, value in asdict(figures).items():
            print(f"{name:26} {value}")
        print("OK: every acknowledged message is accounted for" if figures.ok else "FAILED")
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())
