"""Event-driven long polling.

A receive that finds nothing waits on its queue's current *generation* future. Any change
that can make a message visible (a send, a visibility reset, a dead-letter move, a
redrive) completes that future and installs a fresh one, waking every waiter at once.
Taking the future *before* the claim closes the race where a send lands between an empty
claim and the wait. Timed visibility (delays, expiring receipts) is covered by the caller
waking at the next ``visible_at`` the store reports, so nobody polls.
"""

from __future__ import annotations

import asyncio
from asyncio import FIRST_COMPLETED


class QueueWaiters:
    """Per-queue wake-up signals for receivers that are long polling."""

    def __init__(self) -> None:
        self._generations: dict[int, asyncio.Future[None]] = {}
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the broker runs on (the running loop at the first call).

        Kept because ``asyncio.get_running_loop()`` makes a ``getpid()`` system call on
        every call (Python 3.11), and receives and sends need the loop every time.
        """
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    def watch(self, queue_id: int) -> asyncio.Future[None]:
        """The future the next change to ``queue_id`` completes."""
        future = self._generations.get(queue_id)
        if future is None or future.done():
            future = self.loop.create_future()
            if self._closed:
                future.set_result(None)
            self._generations[queue_id] = future
        return future

    def watched(self, queue_id: int) -> bool:
        """Whether a receiver may be waiting on ``queue_id`` (a wake-up is pending)."""
        future = self._generations.get(queue_id)
        return future is not None and not future.done()

    def notify(self, queue_id: int) -> None:
        """Wake everyone waiting on ``queue_id``."""
        future = self._generations.pop(queue_id, None)
        if future is not None and not future.done():
            future.set_result(None)

    def close(self) -> None:
        """Wake every waiter (shutdown): long polls answer at once with what they have."""
        self._closed = True
        for future in self._generations.values():
            if not future.done():
                future.set_result(None)
        self._generations.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    @staticmethod
    async def wait(
        future: asyncio.Future[None],
        timeout_s: float,
        abandoned: asyncio.Future[None] | None = None,
    ) -> bool:
        """Wait for ``future`` up to ``timeout_s`` (or until ``abandoned`` completes);
        True when woken, False otherwise. Neither future is cancelled: both are shared."""
        if timeout_s <= 0:
            return future.done()
        if abandoned is None:
            try:
                await asyncio.wait_for(asyncio.shield(future), timeout_s)
            except TimeoutError:
                return False
            return True
        await asyncio.wait({future, abandoned}, timeout=timeout_s, return_when=FIRST_COMPLETED)
        return future.done()
