"""Statement builders that keep SQLite's statement cache small.

Multi-row INSERTs and ``IN (...)`` lists take one statement for many rows or keys (see
``ekiden.store.sqlite.coalesce`` for why statements are what costs), but every distinct
length is a distinct statement to prepare. So lengths are powers of two: both are padded
up to one -- an INSERT repeats its last row and a ``LIMIT`` keeps only the real ones, a
key list repeats its last key (which changes nothing in an ``IN`` list).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import orjson

Row = tuple[Any, ...]

_MAX_INSERT_ROWS = 1024
_MAX_KEYS = 1024
_SPARE_VARIABLES = 8  # a key list's statement binds a few values besides the keys


def _largest_power_of_two(limit: int) -> int:
    size = 1
    while size * 2 <= limit:
        size *= 2
    return size


def _padded_length(count: int) -> int:
    """The power of two a statement for ``count`` rows or keys is padded up to."""
    size = 1
    while size < count:
        size *= 2
    return size


def _variable_limit(conn: sqlite3.Connection) -> int:
    """How many values one statement may bind: 32,766 since SQLite 3.32, 999 before."""
    return conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


@cache
def _padded_insert(statement: str, columns: int, rows: int, upsert: str) -> str:
    one = "(" + ", ".join("?" * columns) + ")"
    return f"{statement} SELECT * FROM (VALUES {', '.join([one] * rows)}) LIMIT ? {upsert}"


def insert_many(
    conn: sqlite3.Connection, statement: str, columns: int, rows: Sequence[Row], upsert: str = ""
) -> int:
    """Run ``statement`` (an ``INSERT ... INTO t (cols)``, then ``upsert``, an ``ON
    CONFLICT`` clause, if given) for ``rows``, in order; the rowid of the first row
    inserted (rows inserted together get consecutive rowids). That rowid means something
    only for a plain INSERT into a rowid table: with ``OR IGNORE`` or an upsert a
    skipped or updated row would shift it. (The ``LIMIT`` also ends the ``SELECT`` where
    SQLite could otherwise read ``ON CONFLICT`` as a join constraint.)

    One statement per 1,024 rows (fewer where SQLite binds fewer values), so a usual
    group's rows go in with one: every statement costs the writer thread a hand-over of
    the GIL, which under load is dearer than binding a few more values. Its row count is
    padded up to a power of two with copies of the last row, which ``LIMIT`` drops.
    """
    first = 0
    largest = _largest_power_of_two(min(_MAX_INSERT_ROWS, (_variable_limit(conn) - 1) // columns))
    for start in range(0, len(rows), largest):
        chunk = rows[start : start + largest]
        count = len(chunk)
        size = _padded_length(count)
        values = [value for row in chunk for value in row]
        if size > count:
            values.extend(chunk[-1] * (size - count))
        values.append(count)
        cursor = conn.execute(_padded_insert(statement, columns, size, upsert), values)
        if start == 0:
            first = int(cursor.lastrowid or 0) - count + 1
    return first


@cache
def _marks(count: int) -> str:
    return ", ".join("?" * count)


def key_lists(conn: sqlite3.Connection, keys: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
    """``(placeholders, values)`` for ``IN (placeholders)`` covering ``keys``: one pair
    per 1,024 keys (fewer where SQLite binds fewer values), each padded to a power of two
    by repeating its last key."""
    most = _largest_power_of_two(min(_MAX_KEYS, _variable_limit(conn) - _SPARE_VARIABLES))
    for start in range(0, len(keys), most):
        chunk = list(keys[start : start + most])
        size = _padded_length(len(chunk))
        chunk += [chunk[-1]] * (size - len(chunk))
        yield _marks(size), chunk


def json_rows(conn: sqlite3.Connection, statement: str, params: Sequence[Any]) -> list[list[Any]]:
    """The rows of a query that returns them as one JSON array of arrays
    (``SELECT json_group_array(json_array(...)) FROM (...)``), decoded.

    Why: the sqlite3 module gives up the GIL for every row it steps through and must win
    it back from the event-loop thread before the next one -- on a busy server a wait of
    tens of microseconds per row, which was most of a receive's time in the writer. One
    aggregate row is one step, whatever the number of rows; building and parsing the JSON
    costs about what fetching the rows did. The JSON has no order guarantee of its own,
    so callers sort what they need sorted. BLOB columns must be cast to TEXT.
    """
    (text,) = conn.execute(statement, params).fetchone()
    rows: list[list[Any]] = orjson.loads(text)
    return rows
