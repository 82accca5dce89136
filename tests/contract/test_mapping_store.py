"""The MappingStore contract on the SQLite store: event source mappings persist across
restarts, keep their creation order, and replace by uuid.

Restart cases close the store and open it again at the same location.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ekiden.core.functions import EventSourceMapping
from ekiden.store.sqlite.mappings import SqliteMappingStore
from ekiden.store.sqlite.schema import MIGRATIONS
from ekiden.store.sqlite.store import SqliteStore

ARN = "arn:aws:sqs:us-east-1:000000000000:jobs"


class Stores:
    """An open queue store and the mapping store sharing its writer."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self.queues: SqliteStore
        self.mappings: SqliteMappingStore

    async def open(self) -> Stores:
        self.queues = await SqliteStore.open(self.location)
        self.mappings = SqliteMappingStore(self.queues.writer)
        return self

    async def reopen(self) -> None:
        await self.queues.close()
        await self.open()


def run(location: Path, scenario: Callable[[Stores], Awaitable[Any]]) -> None:
    async def main() -> None:
        stores = await Stores(location).open()
        try:
            await scenario(stores)
        finally:
            await stores.queues.close()

    asyncio.run(main())


def mapping(uuid: str, **fields: Any) -> EventSourceMapping:
    values: dict[str, Any] = {"function_name": "worker", "event_source_arn": ARN} | fields
    return EventSourceMapping(uuid=uuid, **values)


def test_every_field_of_a_mapping_survives_a_restart(tmp_path: Path) -> None:
    full = mapping(
        "u-1",
        batch_size=500,
        maximum_batching_window_s=7,
        function_response_types=("ReportBatchItemFailures",),
        filter_patterns=('{"body": {"kind": ["a"]}}', '{"body": [{"prefix": "x"}]}'),
        maximum_concurrency=40,
        enabled=False,
        last_modified_ms=1_700_000_000_123,
        declared=True,
    )
    bare = mapping("u-2", event_source_arn=ARN + ".fifo")

    async def scenario(s: Stores) -> None:
        await s.mappings.put_mapping(full)
        await s.mappings.put_mapping(bare)
        await s.reopen()
        assert await s.mappings.list_mappings() == [full, bare]

    run(tmp_path, scenario)


def test_mappings_are_listed_oldest_first_and_a_replacement_keeps_its_place(
    tmp_path: Path,
) -> None:
    async def scenario(s: Stores) -> None:
        for uuid in ("c", "a", "b"):
            await s.mappings.put_mapping(mapping(uuid))
        await s.mappings.put_mapping(mapping("c", batch_size=3, enabled=False))
        listed = await s.mappings.list_mappings()
        assert [m.uuid for m in listed] == ["c", "a", "b"]
        assert (listed[0].batch_size, listed[0].enabled) == (3, False)

    run(tmp_path, scenario)


def test_a_delete_is_durable_and_says_whether_the_mapping_existed(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        await s.mappings.put_mapping(mapping("a"))
        await s.mappings.put_mapping(mapping("b"))
        assert await s.mappings.delete_mapping("a") is True
        assert await s.mappings.delete_mapping("a") is False
        await s.reopen()
        assert [m.uuid for m in await s.mappings.list_mappings()] == ["b"]
        await s.mappings.put_mapping(mapping("a"))  # re-created: now the newest
        assert [m.uuid for m in await s.mappings.list_mappings()] == ["b", "a"]

    run(tmp_path, scenario)


def test_concurrent_puts_all_land(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        await asyncio.gather(*(s.mappings.put_mapping(mapping(f"m{n}")) for n in range(20)))
        await s.reopen()
        stored = await s.mappings.list_mappings()
        assert sorted(m.uuid for m in stored) == sorted(f"m{n}" for n in range(20))

    run(tmp_path, scenario)


def test_the_mappings_table_is_made_by_migration_seven(tmp_path: Path) -> None:
    async def scenario(s: Stores) -> None:
        await s.mappings.put_mapping(mapping("a"))

    run(tmp_path, scenario)
    conn = sqlite3.connect(tmp_path / "ekiden.sqlite3")
    try:
        (level,) = conn.execute("PRAGMA user_version").fetchone()
        assert level == len(MIGRATIONS) >= 7
        assert conn.execute("SELECT uuid FROM event_source_mappings").fetchall() == [("a",)]
    finally:
        conn.close()
