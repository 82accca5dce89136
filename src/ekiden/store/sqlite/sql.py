"""Statement builders that keep SQLite's statement cache small.

Multi-row INSERTs and ``IN (...)`` lists take one statement for many rows or keys (see
``ekiden.store.sqlite.coalesce`` for why statements are what costs), but every distinct
length is a distinct statement to prepare. So lengths are powers of two: inserts are
split into power-of-two chunks, key lists are padded up to one (repeating a key in an
``IN`` list changes nothing).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

Row = tuple[Any, ...]

_MAX_INSERT_ROWS = 256  # 256 rows of 14 values stay far below SQLite's 32,766 bound values
_MAX_KEYS = 1024


@cache
def _values_clause(columns: int, rows: int) -> str:
    one = "(" + ", ".join("?" * columns) + ")"
    return " VALUES " + ", ".join([one] * rows)


def _power_of_two_chunks(count: int, largest: int) -> Iterator[int]:
    """``count`` split into powers of two of at most ``largest``, largest first."""
    size = largest
    while count:
        while size > count:
            size //= 2
        yield size
        count -= size


def insert_many(conn: sqlite3.Connection, statement: str, columns: int, rows: Sequence[Row]) -> int:
    """Run ``statement`` (an ``INSERT ... INTO t (cols)``) for ``rows``, in order, with
    one statement per power-of-two chunk; the rowid of the first row inserted."""
    first = 0
    start = 0
    for size in _power_of_two_chunks(len(rows), _MAX_INSERT_ROWS):
        flat = [value for row in rows[start : start + size] for value in row]
        cursor = conn.execute(statement + _values_clause(columns, size), flat)
        if start == 0:
            first = int(cursor.lastrowid or 0) - size + 1
        start += size
    return first


@cache
def _marks(count: int) -> str:
    return ", ".join("?" * count)


def key_lists(keys: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
    """``(placeholders, values)`` for ``IN (placeholders)`` covering ``keys``: one pair
    per 1,024 keys, each padded to a power of two by repeating its last key."""
    for start in range(0, len(keys), _MAX_KEYS):
        chunk = list(keys[start : start + _MAX_KEYS])
        size = 1
        while size < len(chunk):
            size *= 2
        chunk += [chunk[-1]] * (size - len(chunk))
        yield _marks(size), chunk
