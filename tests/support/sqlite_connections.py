"""A SQLite connection with a hook before each COMMIT, for tests that make commits fail
or take longer than the disk would.

Stores take it in place of a ``sqlite3.Connection`` (every other attribute is the
wrapped connection's).
"""

from __future__ import annotations

import sqlite3
from typing import Any


class CommitInterceptor:
    """Passes everything to ``conn``, calling :meth:`before_commit` before each COMMIT."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def before_commit(self) -> None:
        """Runs before each COMMIT (on the store's writer thread); raise to fail it."""

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            self.before_commit()
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)
