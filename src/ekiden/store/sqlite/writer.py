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

A disk failure (a failed COMMIT, or a job failing with a full disk or an I/O error; see
``ekiden.store.sqlite.health``) rolls the group back, answers every job of it with
``ServiceUnavailable`` (nothing is acknowledged that was not stored) and makes the store
*unhealthy*: writes are refused at once, while work submitted with ``read=True`` is
still served, each group of reads in a read transaction that is rolled back. The writer
thread then probes (a small write transaction, after 1 s and backing off to 10 s); once
a probe commits, the store is healthy again and writes resume. After anything but a full
disk the probe first replaces the connection. Both changes of state are logged once.

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
from ekiden.store.sqlite.health import is_disk_failure, needs_reopen

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]

log = logging.getLogger("ekiden.store")

_STOP = object()
_REFUSED = "The store cannot write to its disk right now and refuses writes until it can."
_NOT_DURABLE = "The store could not make the change durable."


def _no_probe(conn: sqlite3.Connection) -> None:
    """A probe that writes nothing: only BEGIN IMMEDIATE and COMMIT are tried."""


@dataclass(slots=True)
class _Job:
    work: Work
    future: asyncio.Future[Any]
    durable: bool = True  # answered only after the commit
    read: bool = False  # writes nothing: served while the store is unhealthy
    result: Any = None
    error: BaseException | None = None


class _DiskFailure(Exception):
    """A job hit a disk failure: the whole group is given up (see ``_run_group``)."""

    def __init__(self, cause: sqlite3.Error) -> None:
        super().__init__(str(cause))
        self.cause = cause


class GroupCommitWriter:
    """Runs store work on one thread, committing each group of calls with one fsync.

    ``reopen`` makes a fresh connection to the same database (used by the probe after an
    I/O error; without it the connection is kept). ``probe`` is the work of the probe's
    write transaction. ``probe_delays_s`` is (first, longest) pause between probes; it is
    a plain attribute so tests may shorten it.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        loop: asyncio.AbstractEventLoop,
        commit_delay_s: float = 0.0,
        *,
        reopen: Callable[[], sqlite3.Connection] | None = None,
        probe: Work = _no_probe,
        probe_delays_s: tuple[float, float] = (1.0, 10.0),
    ) -> None:
        self._conn = conn
        self._commit_delay_s = commit_delay_s
        self._loop = loop
        self._reopen = reopen
        self._probe_work = probe
        self.probe_delays_s = probe_delays_s
        self._jobs: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        # Written by the writer thread only; the loop thread reads it (a plain reference).
        self._failure: BaseException | None = None
        self._reopen_first = False
        self._probe_delay_s = 0.0
        self._next_probe_at = 0.0
        self._closed = False
        self.groups_committed = 0
        self.jobs_committed = 0
        self._commit_seconds = Histogram(COMMIT_BUCKETS_S)
        self._group_jobs = Histogram(GROUP_JOBS_BUCKETS)
        self._thread = threading.Thread(target=self._run, name="ekiden-store", daemon=True)
        self._thread.start()

    @property
    def failed(self) -> bool:
        """True while the store is unhealthy: writes are refused until a probe commits."""
        return self._failure is not None

    def figures(self) -> StoreFigures:
        """Health, COMMIT durations and group sizes so far (safe to call from the loop)."""
        return StoreFigures(
            healthy=self._failure is None,
            commit_duration_s=self._commit_seconds.snapshot(),
            group_jobs=self._group_jobs.snapshot(),
        )

    def submit(
        self, work: Callable[[sqlite3.Connection], T], *, durable: bool = True, read: bool = False
    ) -> asyncio.Future[T]:
        """Schedule ``work``; the future resolves after the group holding it is durable,
        or, with ``durable=False``, once the group's work has run (see the module doc).

        ``read=True`` promises that ``work`` writes nothing: it is then served even while
        the store is unhealthy (any write it made anyway would be rolled back). Other
        work fails at once with ``ServiceUnavailable`` while the store is unhealthy.
        """
        future: asyncio.Future[T] = self._loop.create_future()
        if self._closed:
            future.set_exception(ServiceUnavailable("The store is closed."))
        elif self._failure is not None and not read:
            future.set_exception(ServiceUnavailable(_REFUSED))
        else:
            self._jobs.put(_Job(work, future, durable, read))
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
            first = self._next_job()
            if first is _STOP:
                break
            if first is None:
                continue  # a probe was due
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
            if self._failure is None:
                self._run_group(jobs)
            else:
                self._run_unhealthy(jobs)
            if stop_after:
                break
        try:
            self._conn.close()
        except sqlite3.Error:
            log.exception("closing the database failed")

    def _next_job(self) -> object | None:
        """The next queued item; while unhealthy, runs a probe when one is due and then
        returns ``None``."""
        if self._failure is None:
            return self._jobs.get()
        wait_s = self._next_probe_at - time.monotonic()
        if wait_s > 0:
            try:
                return self._jobs.get(timeout=wait_s)
            except queue.Empty:
                pass
        self._probe()
        return None

    def _run_group(self, jobs: list[_Job]) -> None:
        conn = self._conn
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
        except (sqlite3.Error, _DiskFailure) as exc:
            cause = exc.cause if isinstance(exc, _DiskFailure) else exc
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            for job in jobs:
                job.result = None
                job.error = ServiceUnavailable(_NOT_DURABLE)
            self._fail(cause)
        self._loop.call_soon_threadsafe(_resolve, jobs)

    def _run_unhealthy(self, jobs: list[_Job]) -> None:
        """Serve the reads of ``jobs`` in one read transaction; refuse the rest (they
        were submitted before the store became unhealthy)."""
        reads = [job for job in jobs if job.read]
        for job in jobs:
            if not job.read:
                job.error = ServiceUnavailable(_REFUSED)
        if reads:
            conn = self._conn
            try:
                conn.execute("BEGIN")
                _run_each_read(conn, reads)
            except sqlite3.Error as exc:
                log.debug("a read failed while the store is unhealthy: %s", exc)
                for job in reads:
                    job.result = None
                    job.error = ServiceUnavailable(_REFUSED)
            finally:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")  # nothing a read did is kept
        self._loop.call_soon_threadsafe(_resolve, jobs)

    def _fail(self, exc: BaseException) -> None:
        """Enter (or stay in) the unhealthy state after ``exc``; logs only a change."""
        if self._failure is None:
            log.critical("the store cannot write to its disk and refuses writes: %s", exc)
            self._probe_delay_s = self.probe_delays_s[0]
        else:
            log.debug("store probe failed: %s", exc)
            self._probe_delay_s = min(self._probe_delay_s * 2, self.probe_delays_s[1])
        self._failure = exc
        self._reopen_first = self._reopen_first or needs_reopen(exc)
        self._next_probe_at = time.monotonic() + self._probe_delay_s

    def _probe(self) -> None:
        """Try a small write transaction; healthy again when it commits."""
        if self._reopen_first and self._reopen is not None:
            try:
                fresh = self._reopen()  # SQLite recovers from the WAL on disk
            except (sqlite3.Error, OSError) as exc:
                self._fail(exc)
                return
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = fresh
            self._reopen_first = False
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._probe_work(conn)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._fail(exc)
            return
        log.warning("the store can write to its disk again; writes resume")
        self._failure = None


def _run_all(conn: sqlite3.Connection, jobs: list[_Job]) -> bool:
    """Run every job in the open transaction; False (and nothing kept) if one raised.

    Nearly every group succeeds whole, and a savepoint per job costs two statements per
    request, so the fast path has none. A job may therefore run twice (after a rollback):
    whatever it does outside the database must be harmless to repeat. A disk failure
    raises ``_DiskFailure``: no job of the group can be trusted to be stored.
    """
    for job in jobs:
        try:
            job.result = job.work(conn)
        except Exception as exc:
            for done in jobs:
                done.result = None
            if isinstance(exc, sqlite3.Error) and is_disk_failure(exc):
                raise _DiskFailure(exc) from exc
            return False
    return True


def _run_each_isolated(conn: sqlite3.Connection, jobs: list[_Job]) -> None:
    """Run each job in its own savepoint: a job that raises leaves no trace (a disk
    failure raises ``_DiskFailure``, as in ``_run_all``)."""
    for job in jobs:
        conn.execute("SAVEPOINT job")
        try:
            job.result = job.work(conn)
        except EkidenError as exc:
            conn.execute("ROLLBACK TO job")
            job.error = exc
        except Exception as exc:
            if isinstance(exc, sqlite3.Error) and is_disk_failure(exc):
                raise _DiskFailure(exc) from exc
            conn.execute("ROLLBACK TO job")
            log.exception("store operation failed")
            job.error = exc
        conn.execute("RELEASE job")


def _run_each_read(conn: sqlite3.Connection, jobs: list[_Job]) -> None:
    """Run read jobs in the open read transaction, each answered with its own result
    or error."""
    for job in jobs:
        try:
            job.result = job.work(conn)
        except EkidenError as exc:
            job.error = exc
        except sqlite3.Error as exc:
            log.debug("a read failed while the store is unhealthy: %s", exc)
            job.error = ServiceUnavailable(_REFUSED)
        except Exception as exc:
            log.exception("store operation failed")
            job.error = exc


def _resolve(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.cancelled():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)
