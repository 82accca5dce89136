"""The store implementations the contract suite (``tests/contract``) runs against.

An *opener* is a coroutine function that opens one store at one persistent location;
calling it again after ``close`` reopens the same state. ``STORE_OPENERS`` maps a backend
name to a function from a fresh location to an opener: adding a backend is one entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from ekiden.core.storage import Store
from ekiden.store.sqlite.store import SqliteStore

StoreOpener = Callable[[], Awaitable[Store]]


def sqlite_opener(location: Path) -> StoreOpener:
    async def open_store() -> Store:
        return await SqliteStore.open(location)

    return open_store


STORE_OPENERS: dict[str, Callable[[Path], StoreOpener]] = {
    "sqlite": sqlite_opener,
}
