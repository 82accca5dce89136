"""Crash safety under load: SIGKILL the server while clients send and receive, restart it,
and check that nothing acknowledged was lost, duplicated, or resurrected.

The clients are real boto3 clients (one per thread, both wire protocols, no retries), so
an answer the client got is exactly what the server acknowledged. Bookkeeping per body
(bodies are unique):

* a send the client got an answer for is *acknowledged*; one that failed on the wire
  (the crash) is *uncertain*: it may or may not have been stored.
* a delete the client got a success for is *acknowledged*; one that failed on the wire is
  *uncertain*. Each queue has a single receiver, so every delete uses the newest receipt
  handle: an acknowledged delete really removed the message.

After the last crash every queue is drained with a long visibility timeout (messages that
were in flight at a crash reappear once their short visibility timeout expires), and:

* every acknowledged send was either deleted (acknowledged) or is drained now;
* nothing whose delete was acknowledged is ever received again, before or after a crash;
* every body is one message: all receives of a body show the same MessageId, the one its
  acknowledged send returned; an uncertain send is there once or not at all;
* nothing appears that was never sent, and nothing received whose delete was never tried
  is missing;
* FIFO: within each group the drained messages are in send order; an uncertain FIFO send
  retried after the restart with the same deduplication id is not duplicated.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError

from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess

CYCLES = 3
VISIBILITY_S = 2  # short: messages in flight at the crash come back quickly
LOAD_ITEMS = 3_000  # acknowledged sends, receives and deletes per cycle before the kill ...
LOAD_MAX_S = 1.5  # ... or this much load, whichever comes first
FIFO_GROUPS = ("g0", "g1", "g2", "g3")
STANDARD = "crash-standard"
FIFO = "crash.fifo"


@dataclass
class Ledger:
    """What the clients were told, for every queue; shared by all threads under a lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acked_sends: dict[str, str] = field(default_factory=dict)  # body -> MessageId
    uncertain_sends: set[str] = field(default_factory=set)
    acked_deletes: set[str] = field(default_factory=set)
    uncertain_deletes: set[str] = field(default_factory=set)
    seen_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    received: set[str] = field(default_factory=set)
    resurrected: list[str] = field(default_factory=list)  # received after an acked delete
    fifo_order: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    fifo_index: dict[str, tuple[str, int]] = field(default_factory=dict)  # body -> place
    fifo_batch_disorder: list[list[str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # anything but a transport error
    items: int = 0

    def sent(self, body: str, message_id: str) -> None:
        with self.lock:
            self.acked_sends[body] = message_id
            self.uncertain_sends.discard(body)
            self.items += 1

    def observe(self, messages: list[dict[str, Any]]) -> None:
        with self.lock:
            for message in messages:
                body = message["Body"]
                if body in self.acked_deletes:
                    self.resurrected.append(body)
                self.seen_ids[body].add(message["MessageId"])
                self.received.add(body)
            self.items += 1


def queue_urls(sqs: Any) -> tuple[str, str]:
    return (
        sqs.get_queue_url(QueueName=STANDARD)["QueueUrl"],
        sqs.get_queue_url(QueueName=FIFO)["QueueUrl"],
    )


class Load:
    """The client threads of one cycle. Each stops at its first transport error (the
    server is gone) or when told to."""

    def __init__(self, server: EkidenProcess, ledger: Ledger, cycle: int) -> None:
        self.ledger = ledger
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.transport_errors = 0
        std_url, fifo_url = queue_urls(sqs_client(server.endpoint))
        plans: list[tuple[Callable[..., None], str, str]] = [
            (self._send_single, "json", std_url),
            (self._send_batch, "query", std_url),
            (self._receive, "json", std_url),
            (self._send_fifo, "json", fifo_url),
            (self._receive, "query", fifo_url),
        ]
        for number, (target, protocol, url) in enumerate(plans):
            client = sqs_client(server.endpoint, protocol)  # one client per thread
            self.threads.append(
                threading.Thread(
                    target=self._guard, args=(target, client, url, f"c{cycle}t{number}")
                )
            )

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)
            assert not thread.is_alive(), "a load thread did not finish"

    def _guard(self, target: Callable[..., None], sqs: Any, url: str, prefix: str) -> None:
        try:
            target(sqs, url, prefix)
        except BotoCoreError:  # the connection broke: the server was killed
            with self.ledger.lock:
                self.transport_errors += 1
        except Exception as error:  # a ClientError or a failed check: reported at the end
            with self.ledger.lock:
                self.ledger.failures.append(f"{prefix}: {error!r}")

    # --- senders -------------------------------------------------------------------------

    def _send_single(self, sqs: Any, url: str, prefix: str) -> None:
        for n in itertools.count():
            if self.stop.is_set():
                return
            body = f"{prefix}-{n}"
            with self.ledger.lock:
                self.ledger.uncertain_sends.add(body)
            answer = sqs.send_message(QueueUrl=url, MessageBody=body)
            self.ledger.sent(body, answer["MessageId"])

    def _send_batch(self, sqs: Any, url: str, prefix: str) -> None:
        for n in itertools.count():
            if self.stop.is_set():
                return
            bodies = [f"{prefix}-{n}-{i}" for i in range(10)]
            with self.ledger.lock:
                self.ledger.uncertain_sends.update(bodies)
            answer = sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)],
            )
            assert not answer.get("Failed"), answer["Failed"]
            for entry in answer["Successful"]:
                self.ledger.sent(bodies[int(entry["Id"])], entry["MessageId"])

    def _send_fifo(self, sqs: Any, url: str, prefix: str) -> None:
        for n in itertools.count():
            if self.stop.is_set():
                return
            if n % 2:
                entries = [fifo_entry(f"{prefix}-{n}-{i}", FIFO_GROUPS[i % 4]) for i in range(8)]
            else:
                entries = [fifo_entry(f"{prefix}-{n}", FIFO_GROUPS[n % 4])]
            with self.ledger.lock:
                for entry in entries:
                    body, group = entry["MessageBody"], entry["MessageGroupId"]
                    self.ledger.uncertain_sends.add(body)
                    self.ledger.fifo_index[body] = (group, len(self.ledger.fifo_order[group]))
                    self.ledger.fifo_order[group].append(body)
            if len(entries) == 1:
                (entry,) = entries
                answer = sqs.send_message(QueueUrl=url, **entry)
                self.ledger.sent(entry["MessageBody"], answer["MessageId"])
                continue
            batch = sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), **e} for i, e in enumerate(entries)]
            )
            assert not batch.get("Failed"), batch["Failed"]
            for result in batch["Successful"]:
                self.ledger.sent(entries[int(result["Id"])]["MessageBody"], result["MessageId"])

    # --- receiver ------------------------------------------------------------------------

    def _receive(self, sqs: Any, url: str, prefix: str) -> None:
        fifo = url.endswith(".fifo")
        for n in itertools.count():
            if self.stop.is_set():
                return
            answer = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                AttributeNames=["MessageGroupId"],
            )
            messages = answer.get("Messages", [])
            self.ledger.observe(messages)
            if fifo:
                self._check_batch_order(messages)
            if not messages:
                continue
            bodies = [m["Body"] for m in messages]
            with self.ledger.lock:
                self.ledger.uncertain_deletes.update(bodies)
            if n % 2 and not fifo:
                for message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    self._deleted([message["Body"]])
                continue
            answer = sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
            assert not answer.get("Failed"), answer["Failed"]
            self._deleted([bodies[int(entry["Id"])] for entry in answer["Successful"]])

    def _deleted(self, bodies: list[str]) -> None:
        with self.ledger.lock:
            self.ledger.acked_deletes.update(bodies)
            self.ledger.uncertain_deletes.difference_update(bodies)
            self.ledger.items += 1

    def _check_batch_order(self, messages: list[dict[str, Any]]) -> None:
        with self.ledger.lock:
            last: dict[str, int] = {}
            for message in messages:
                group, index = self.ledger.fifo_index[message["Body"]]
                if group != message["Attributes"]["MessageGroupId"] or index <= last.get(group, -1):
                    self.ledger.fifo_batch_disorder.append([m["Body"] for m in messages])
                last[group] = index


def fifo_entry(body: str, group: str) -> dict[str, str]:
    return {"MessageBody": body, "MessageGroupId": group, "MessageDeduplicationId": body}


def run_load_until_killed(server: EkidenProcess, ledger: Ledger, cycle: int) -> Load:
    load = Load(server, ledger, cycle)
    start_items = ledger.items
    load.start()
    deadline = time.monotonic() + LOAD_MAX_S
    while ledger.items - start_items < LOAD_ITEMS and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()  # mid-load: the threads are still sending, receiving and deleting
    load.join()
    return load


def retry_uncertain_fifo_sends(sqs: Any, url: str, ledger: Ledger) -> int:
    """Resend, with the same deduplication id, every FIFO send the crash left unanswered:
    what SQS promises a producer that retries within the dedup window. Returns how many."""
    with ledger.lock:
        uncertain = [
            (group, body)
            for group, bodies in ledger.fifo_order.items()
            for body in bodies
            if body in ledger.uncertain_sends
        ]
    for group, body in uncertain:
        answer = sqs.send_message(QueueUrl=url, **fifo_entry(body, group))
        ledger.sent(body, answer["MessageId"])
    return len(uncertain)


def drain(sqs: Any, url: str, ledger: Ledger) -> list[dict[str, Any]]:
    """Receive and delete until the queue is empty, in-flight and delayed included."""
    drained: list[dict[str, Any]] = []
    for _ in range(2_000):
        answer = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=300,
            AttributeNames=["MessageGroupId"],
        )
        messages = answer.get("Messages", [])
        if messages:
            ledger.observe(messages)
            drained += messages
            result = sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
            assert not result.get("Failed"), result["Failed"]
            continue
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        if all(left[name] == "0" for name in names):
            return drained
    raise AssertionError(f"{url} did not drain")


def test_acknowledged_sends_and_deletes_survive_repeated_sigkills_under_load(
    fresh_ekiden: Callable[..., EkidenProcess],
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint)
    attributes = {"VisibilityTimeout": str(VISIBILITY_S)}
    sqs.create_queue(QueueName=STANDARD, Attributes=attributes)
    sqs.create_queue(QueueName=FIFO, Attributes={**attributes, "FifoQueue": "true"})
    ledger = Ledger()
    retried = 0
    per_cycle: list[tuple[int, int, int]] = []

    for cycle in range(CYCLES):
        sends_before, deletes_before = len(ledger.acked_sends), len(ledger.acked_deletes)
        load = run_load_until_killed(server, ledger, cycle)
        per_cycle.append(
            (
                len(ledger.acked_sends) - sends_before,
                len(ledger.acked_deletes) - deletes_before,
                load.transport_errors,
            )
        )
        server.start()
        sqs = sqs_client(server.endpoint)
        retried += retry_uncertain_fifo_sends(sqs, queue_urls(sqs)[1], ledger)

    std_url, fifo_url = queue_urls(sqs)
    drained_std = drain(sqs, std_url, ledger)
    drained_fifo = drain(sqs, fifo_url, ledger)
    drained = drained_std + drained_fifo
    drained_bodies = [m["Body"] for m in drained]
    drained_set = set(drained_bodies)

    # The load was real: every cycle had acknowledged sends and deletes, and its kill broke
    # requests in flight.
    assert all(s > 0 and d > 0 and broken > 0 for s, d, broken in per_cycle), (per_cycle, retried)
    assert ledger.failures == []
    assert ledger.fifo_batch_disorder == []

    # Nothing is drained twice (the drain's visibility timeout outlasts it).
    assert len(drained_bodies) == len(drained_set)

    # Every acknowledged send is still there unless a delete of it was acknowledged or was
    # under way at a crash (that delete may have committed without its answer getting out).
    deleted = ledger.acked_deletes | ledger.uncertain_deletes
    lost = [b for b in ledger.acked_sends if b not in deleted and b not in drained_set]
    assert lost == []

    # An acknowledged delete is final: never received again, before or after a crash.
    assert ledger.resurrected == []
    assert drained_set.isdisjoint(ledger.acked_deletes)

    # Every body is one message, and the one its acknowledged send named.
    attempted = set(ledger.acked_sends) | ledger.uncertain_sends
    assert set(ledger.seen_ids) <= attempted, "a message nobody sent"
    duplicated = {body: ids for body, ids in ledger.seen_ids.items() if len(ids) > 1}
    assert duplicated == {}
    wrong_ids = [
        body
        for body, ids in ledger.seen_ids.items()
        if body in ledger.acked_sends and ids != {ledger.acked_sends[body]}
    ]
    assert wrong_ids == []

    # An uncertain send is there once or not at all (the checks above); the FIFO ones were
    # all retried, so none is left uncertain.
    assert ledger.uncertain_sends.isdisjoint(ledger.fifo_index)

    # A message received before a crash and never (possibly) deleted is still there.
    kept = ledger.received - ledger.acked_deletes - ledger.uncertain_deletes
    assert kept <= drained_set

    # FIFO: the survivors of each group come out in the order they were sent.
    for group, sent_order in ledger.fifo_order.items():
        index = {body: i for i, body in enumerate(sent_order)}
        survivors = [
            index[m["Body"]] for m in drained_fifo if m["Attributes"]["MessageGroupId"] == group
        ]
        assert survivors == sorted(survivors), group
    assert {m["Attributes"]["MessageGroupId"] for m in drained_fifo} <= set(FIFO_GROUPS)
