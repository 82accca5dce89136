"""``insert_many``: rows go in whole, once each and in order, with few statements.

Its statements are padded up to a power of two rows with copies of the last row, and a
``LIMIT`` drops the copies; the rowids of one call are consecutive in the rows' order
(FIFO sequence numbers are worked out from the first). Checked at the sizes around the
padding and chunk boundaries, at SQLite's old variable limit of 999 as well, and with
``INSERT OR IGNORE``/``OR REPLACE`` statements and an upsert clause.
"""

from __future__ import annotations

import sqlite3

import pytest

from ekiden.store.sqlite.sql import insert_many

_SIZES = [1, 2, 3, 5, 8, 9, 43, 64, 65, 370, 1023, 1024, 1025, 2049, 3000]


def _connection(variable_limit: int | None = None) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    if variable_limit is not None:
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variable_limit)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, a INTEGER, b TEXT)")
    return conn


def _statements(conn: sqlite3.Connection) -> list[str]:
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    return seen


@pytest.mark.parametrize("variable_limit", [None, 999], ids=["default-limit", "limit-999"])
@pytest.mark.parametrize("count", _SIZES)
def test_rows_go_in_once_each_in_order_with_consecutive_rowids(
    count: int, variable_limit: int | None
) -> None:
    conn = _connection(variable_limit)
    conn.execute("INSERT INTO t (a, b) VALUES (-1, 'earlier')")  # rowids do not start at 1
    rows = [(i, f"row {i}") for i in range(count)]
    statements = _statements(conn)

    first = insert_many(conn, "INSERT INTO t (a, b)", 2, rows)
    conn.set_trace_callback(None)

    stored = conn.execute("SELECT id, a, b FROM t WHERE a >= 0 ORDER BY id").fetchall()
    assert [(a, b) for _, a, b in stored] == rows  # no padding row, none lost, in order
    assert [row_id for row_id, _, _ in stored] == list(range(first, first + count))
    per_statement = 1024 if variable_limit is None else 256  # (999 - 1) // 2 -> 256
    assert len(statements) == -(-count // per_statement)


def test_padding_copies_never_reach_a_conflict_clause() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)")
    conn.execute("INSERT INTO kv VALUES ('kept', 0), ('replaced', 0)")

    insert_many(conn, "INSERT OR IGNORE INTO kv", 2, [("kept", 1), ("new", 1), ("other", 1)])
    insert_many(conn, "INSERT OR REPLACE INTO kv", 2, [("replaced", 2), ("last", 2)])

    assert dict(conn.execute("SELECT k, v FROM kv").fetchall()) == {
        "kept": 0,
        "new": 1,
        "other": 1,
        "replaced": 2,
        "last": 2,
    }
    assert insert_many(conn, "INSERT INTO kv", 2, []) == 0  # nothing to insert, no statement


@pytest.mark.parametrize("variable_limit", [None, 999], ids=["default-limit", "limit-999"])
def test_an_upsert_clause_applies_to_every_real_row_and_counts_its_changes(
    variable_limit: int | None,
) -> None:
    """1,500 rows (two statements at the 999 limit, padded): each conflict across and
    within the statements meets the clause's WHERE, and ``total_changes`` counts the
    rows inserted or updated -- what FIFO sends use to tell that nothing was a duplicate."""
    conn = _connection(variable_limit)
    conn.execute("CREATE TABLE kv (k INTEGER PRIMARY KEY, v INTEGER)")
    conn.executemany("INSERT INTO kv VALUES (?, 0)", [(k,) for k in range(0, 1500, 100)])
    rows = [(k, 1) for k in range(1500)] + [(7, 2), (1400, 2)]  # two conflict within
    before = conn.total_changes

    insert_many(
        conn,
        "INSERT INTO kv",
        2,
        rows,
        "ON CONFLICT (k) DO UPDATE SET v = excluded.v WHERE kv.v = 0",
    )

    stored = dict(conn.execute("SELECT k, v FROM kv").fetchall())
    assert stored == {k: 1 for k in range(1500)}  # the old rows updated, the copies not
    assert conn.total_changes - before == 1500  # 1,485 inserted, 15 updated, 2 left alone
