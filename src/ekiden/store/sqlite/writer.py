"""Group commit: one thread owns the SQLite connection and commits work in groups.

Every store call becomes a small function of the connection. The writer thread takes all
calls waiting at that moment, runs them in one transaction (if one fails part-way, the
group runs again with each call in its own SAVEPOINT, so only that call's writes are
lost), then commits once (one fsync for the whole group) and only then resolves the
callers' futures.
So a reply is never sent before its effect is durable, and durability costs one fsync per
group rather than per request.

One kind of work may be answered before the commit: work submitted with
``durable=False`` (receives: the claim of a message for a visibility timeout) is answered
once every job of its group has run, while the COMMIT is still under way. Should that
commit fail or the process die, the claim is simply gone and the message visible again,
which SQS's at-least-once delivery allows; waiting for the fsync would only add its time
to every message's end-to-end latency. A claim may hand out a message sent in its own
group: if that commit fails, the receiver holds a message whose sender was told it
failed, and the sender's retry is a duplicate -- again within at-least-once delivery.
Sends, deletes and explicit visibility changes are always answered after the commit.

A failed COMMIT is sticky: the writer refuses all later work until the store is reopened,
because after an I/O error the database state is unknown.

The writer keeps two histograms for the metrics: the duration of each COMMIT and the
number of jobs of each committed group. The writer thread records them, the event loop
reads :meth:`GroupCommitWriter.figures` (see ``ekiden.core.services.request_metrics``
for why that needs no lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ekiden.core.errors import EkidenError, ServiceUnavailable
from ekiden.core.services.request_metrics import (
    COMMIT_BUCKETS_S,
    GROUP_JOBS_BUCKETS,
    Histogram,
    StoreFigures,
)

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]

log = logging.getLogger("ekiden.store")

_STOP = object()


@dataclass(slots=True)
class _Job:
    work: Work
    future: asyncio.Future[Any]
    durable: bool = True  # answered only after the commit
    result: Any = None
    error: BaseException | None = None


class GroupCommitWriter:
    """Runs store work on one thread, committing each group of calls with one fsync."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        loop: asyncio.AbstractEventLoop,
        commit_delay_s: float = 0.0,
    ) -> None:
        self._conn = conn
        self._commit_delay_s = commit_delay_s
        self._loop = loop
        self._jobs: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._failed: BaseException | None = None
        self._closed = False
        self.groups_committed = 0
        self.jobs_committed = 0
        self._commit_seconds = Histogram(COMMIT_BUCKETS_S)
        self._group_jobs = Histogram(GROUP_JOBS_BUCKETS)
        self._thread = threading.Thread(target=self._run, name="ekiden-store", daemon=True)
        self._thread.start()

    @property
    def failed(self) -> bool:
        """True after a commit failed: the writer refuses work until the store reopens."""
        return self._failed is not None

    def figures(self) -> StoreFigures:
        """Health, COMMIT durations and group sizes so far (safe to call from the loop)."""
        return StoreFigures(
            healthy=self._failed is None,
            commit_duration_s=self._commit_seconds.snapshot(),
            group_jobs=self._group_jobs.snapshot(),
        )

    def submit(
        self, work: Callable[[sqlite3.Connection], T], *, durable: bool = True
    ) -> asyncio.Future[T]:
        """Schedule ``work``; the future resolves after the group holding it is durable,
        or, with ``durable=False``, once the group's work has run (see the module doc)."""
        future: asyncio.Future[T] = self._loop.create_future()
        if self._closed:
            future.set_exception(ServiceUnavailable("The store is closed."))
        elif self._failed is not None:
            future.set_exception(
                ServiceUnavailable("The store failed a commit and refuses writes until restart.")
            )
        else:
            self._jobs.put(_Job(work, future, durable))
        return future

    async def close(self) -> None:
        """Finish the queued work, then stop the thread and close the connection."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)

    def _run(self) -> None:
        while True:
            first = self._jobs.get()
            if first is _STOP:
                break
            if self._commit_delay_s > 0:
                time.sleep(self._commit_delay_s)  # let more work join this group
            group = [first]
            stop_after = False
            while True:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                group.append(item)
            jobs: list[_Job] = [j for j in group if isinstance(j, _Job)]
            self._run_group(jobs)
            if stop_after:
                break
        try:
            self._conn.close()
        except sqlite3.Error:
            log.exception("closing the database failed")

    def _run_group(self, jobs: list[_Job]) -> None:
        conn = self._conn
        if self._failed is not None:
            for job in jobs:
                job.error = ServiceUnavailable(
                    "The store failed a commit and refuses writes until restart."
                )
            self._loop.call_soon_threadsafe(_resolve, jobs)
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            if not _run_all(conn, jobs):
                # Some job failed part-way: start again with each job in its own
                # savepoint, so its partial writes go and the others' stay.
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                _run_each_isolated(conn, jobs)
            ran = len(jobs)
            early = [job for job in jobs if not job.durable]
            if early:
                # Their results are final now (no job of the group runs again).
                self._loop.call_soon_threadsafe(_resolve, early)
                jobs = [job for job in jobs if job.durable]
            started = time.perf_counter()
            conn.execute("COMMIT")
            self._commit_seconds.observe(time.perf_counter() - started)
            self._group_jobs.observe(ran)
            self.groups_committed += 1
            self.jobs_committed += ran
        except sqlite3.Error as exc:
            log.critical("commit failed; the store refuses further writes: %s", exc)
            self._failed = exc
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            for job in jobs:
                job.result = None
                job.error = ServiceUnavailable("The store could not make the change durable.")
        self._loop.call_soon_threadsafe(_resolve, jobs)


def _run_all(conn: sqlite3.Connection, jobs: list[_Job]) -> bool:
    """Run every job in the open transaction; False (and nothing kept) if one raised.

    Nearly every group succeeds whole, and a savepoint per job costs two statements per
    request, so the fast path has none. A job may therefore run twice (after a rollback):
    whatever it does outside the database must be harmless to repeat.
    """
    for job in jobs:
        try:
            job.result = job.work(conn)
        except Exception:
            for done in jobs:
                done.result = None
            return False
    return True


def _run_each_isolated(conn: sqlite3.Connection, jobs: list[_Job]) -> None:
    """Run each job in its own savepoint: a job that raises leaves no trace."""
    for job in jobs:
        conn.execute("SAVEPOINT job")
        try:
            job.result = job.work(conn)
        except EkidenError as exc:
            conn.execute("ROLLBACK TO job")
            job.error = exc
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            log.exception("store operation failed")
            job.error = exc
        conn.execute("RELEASE job")


def _resolve(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.cancelled():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)
