"""Coalescing: the calls of one kind, to one queue, that wait for the same group commit
become one store job.

Why: the writer thread gives up the GIL inside every SQLite step and must win it back
from the event-loop thread afterwards; under load those hand-overs, not SQLite, are the
cost of a store call. A job that serves a hundred concurrent SendMessage (or
DeleteMessage) calls runs a handful of statements instead of hundreds.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, Protocol, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Key = TypeVar("Key", bound=Hashable)
Work = Callable[[sqlite3.Connection], Any]


_Waiter = tuple[asyncio.Future[list[Outcome]], int, int]
"""A call waiting for a batch: its future, where its items start and how many."""


class Submit(Protocol):
    """``GroupCommitWriter.submit``."""

    def __call__(self, work: Work, *, durable: bool = ...) -> asyncio.Future[Any]: ...


class Coalescer(Generic[Key, Item, Outcome]):
    """Gathers calls with equal keys into one job of the group-commit writer.

    The first call for a key submits a job and opens a batch; the calls that follow join
    it until the writer thread starts the job, which closes the batch and hands all its
    items, in call order, to ``run``. ``run`` must return one outcome per item, in order,
    and give every item the outcome it would have had if the calls had run one after the
    other (they are concurrent, so any such order is correct). A call is answered with
    its own items' outcomes once the job's group is committed; when ``run`` raises, every
    call of the batch fails with that error.

    ``run`` may be run twice for one batch (the writer re-runs a group whose job failed,
    after a rollback); the batch is closed by then, so both runs see the same items.
    """

    def __init__(
        self,
        submit: Submit,
        run: Callable[[sqlite3.Connection, Key, list[Item]], list[Outcome]],
        loop: asyncio.AbstractEventLoop,
        *,
        durable: bool = True,
    ) -> None:
        self._submit = submit
        # The loop the calls come from, kept: asyncio.get_running_loop() makes a getpid()
        # system call on every call (Python 3.11), measured at 13% of the loop thread.
        self._loop = loop
        self._durable = durable  # see GroupCommitWriter.submit
        self._run_batch = run
        self._lock = threading.Lock()  # the loop thread adds, the writer thread closes
        self._open: dict[Key, tuple[list[Item], list[_Waiter[Outcome]]]] = {}

    async def add(self, key: Key, items: Sequence[Item]) -> list[Outcome]:
        """Store ``items`` with the batch open for ``key``; their outcomes, in order."""
        # Each call waits on a future of its own, so cancelling one caller (its client
        # went away) cannot cancel the others' answer; their items are stored regardless.
        mine: asyncio.Future[list[Outcome]] = self._loop.create_future()
        with self._lock:
            entry = self._open.get(key)
            if entry is None:
                batch: list[Item] = []
                waiters: list[_Waiter[Outcome]] = []
                job = self._submit(lambda conn: self._run(conn, key, batch), durable=self._durable)
                self._open[key] = (batch, waiters)
                job.add_done_callback(lambda done: self._settle(key, batch, waiters, done))
            else:
                batch, waiters = entry
            waiters.append((mine, len(batch), len(items)))
            batch.extend(items)
        return await mine

    def _run(self, conn: sqlite3.Connection, key: Key, batch: list[Item]) -> list[Outcome]:
        self._forget(key, batch)  # later calls start a new batch
        return self._run_batch(conn, key, batch)

    def _settle(
        self,
        key: Key,
        batch: list[Item],
        waiters: list[_Waiter[Outcome]],
        job: asyncio.Future[list[Outcome]],
    ) -> None:
        """Answer every call of a finished job with its own outcomes (or the job's error)."""
        self._forget(key, batch)  # a job the writer refused never ran to close its batch
        error = job.exception() if not job.cancelled() else asyncio.CancelledError()
        outcomes = job.result() if error is None else []
        for future, start, count in waiters:
            if future.done():
                continue  # its caller was cancelled
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(outcomes[start : start + count])

    def _forget(self, key: Key, batch: list[Item]) -> None:
        with self._lock:
            entry = self._open.get(key)
            if entry is not None and entry[0] is batch:
                del self._open[key]
