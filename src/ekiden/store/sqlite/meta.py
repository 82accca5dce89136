"""Broker-wide values kept in the SQLite store's ``meta`` table (migration 3), such as
the SNS signing key: created once per data directory, the same after every restart."""

from __future__ import annotations

import sqlite3

from ekiden.store.sqlite.writer import GroupCommitWriter


async def read_meta(writer: GroupCommitWriter, name: str) -> bytes | None:
    """The value stored under ``name``, or ``None``."""

    def work(conn: sqlite3.Connection) -> bytes | None:
        row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    result: bytes | None = await writer.submit(work, read=True)
    return result


async def keep_meta(writer: GroupCommitWriter, name: str, value: bytes) -> bytes:
    """Store ``value`` under ``name`` unless a value is there already; returns the value
    that is kept (so a caller that made a value concurrently with another ends up with
    the same one)."""

    def work(conn: sqlite3.Connection) -> bytes:
        conn.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (name, value))
        (kept,) = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return bytes(kept)

    result: bytes = await writer.submit(work)
    return result
