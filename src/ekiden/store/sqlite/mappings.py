"""Event source mappings on the SQLite store (table ``event_source_mappings``, migration 7).

``SqliteMappingStore`` shares the ``GroupCommitWriter`` of the ``SqliteStore`` it is
given, so each call joins a commit group and returns only after that group is durable.
Mappings are few and the service keeps them all in memory: the store only persists them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from ekiden.core.functions import EventSourceMapping
from ekiden.store.sqlite.writer import GroupCommitWriter

_FIELDS = (
    "uuid, function_name, event_source_arn, batch_size, maximum_batching_window_s, "
    "function_response_types, filter_patterns, maximum_concurrency, enabled, "
    "last_modified_ms, declared"
)


class SqliteMappingStore:
    """The embedded implementation of ``ekiden.core.functions.MappingStore``."""

    def __init__(self, writer: GroupCommitWriter) -> None:
        self._writer = writer

    async def put_mapping(self, mapping: EventSourceMapping) -> None:
        """Insert the mapping, or replace the one with its uuid (which keeps its place in
        creation order)."""
        m = mapping

        def work(conn: sqlite3.Connection) -> None:
            (last,) = conn.execute(
                "SELECT COALESCE(MAX(position), 0) FROM event_source_mappings"
            ).fetchone()
            conn.execute(
                f"INSERT INTO event_source_mappings (position, {_FIELDS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (uuid) DO UPDATE SET "
                "function_name = excluded.function_name, "
                "event_source_arn = excluded.event_source_arn, "
                "batch_size = excluded.batch_size, "
                "maximum_batching_window_s = excluded.maximum_batching_window_s, "
                "function_response_types = excluded.function_response_types, "
                "filter_patterns = excluded.filter_patterns, "
                "maximum_concurrency = excluded.maximum_concurrency, "
                "enabled = excluded.enabled, "
                "last_modified_ms = excluded.last_modified_ms, "
                "declared = excluded.declared",
                (
                    int(last) + 1,
                    m.uuid,
                    m.function_name,
                    m.event_source_arn,
                    m.batch_size,
                    m.maximum_batching_window_s,
                    orjson.dumps(list(m.function_response_types)).decode(),
                    orjson.dumps(list(m.filter_patterns)).decode(),
                    m.maximum_concurrency,
                    int(m.enabled),
                    m.last_modified_ms,
                    int(m.declared),
                ),
            )

        await self._writer.submit(work)

    async def delete_mapping(self, uuid: str) -> bool:
        """Delete the mapping with ``uuid``; whether it existed."""

        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM event_source_mappings WHERE uuid = ?", (uuid,))
            return cursor.rowcount > 0

        result: bool = await self._writer.submit(work)
        return result

    async def list_mappings(self) -> list[EventSourceMapping]:
        """Every stored mapping, oldest first."""

        def work(conn: sqlite3.Connection) -> list[EventSourceMapping]:
            rows = conn.execute(
                f"SELECT {_FIELDS} FROM event_source_mappings ORDER BY position"
            ).fetchall()
            return [_mapping_from_row(row) for row in rows]

        result: list[EventSourceMapping] = await self._writer.submit(work, read=True)
        return result


def _mapping_from_row(row: tuple[Any, ...]) -> EventSourceMapping:
    (
        uuid,
        function_name,
        event_source_arn,
        batch_size,
        window_s,
        response_types,
        patterns,
        concurrency,
        enabled,
        last_modified_ms,
        declared,
    ) = row
    return EventSourceMapping(
        uuid=uuid,
        function_name=function_name,
        event_source_arn=event_source_arn,
        batch_size=int(batch_size),
        maximum_batching_window_s=int(window_s),
        function_response_types=tuple(orjson.loads(response_types)),
        filter_patterns=tuple(orjson.loads(patterns)),
        maximum_concurrency=None if concurrency is None else int(concurrency),
        enabled=bool(enabled),
        last_modified_ms=int(last_modified_ms),
        declared=bool(declared),
    )
