"""One lookup of a standard claim on the SQLite store reads rows up to a byte budget.

A claim serves many receives at once (they are coalesced), so its lookups must bound the
JSON text they build: rows are taken in visibility order while the bodies and attributes
of the rows before them add up to less than the budget, the first row always.
"""

from __future__ import annotations

import sqlite3

from ekiden.store.sqlite.claim import _VISIBLE_MESSAGES, _VISIBLE_MESSAGES_BUT_TAKEN
from ekiden.store.sqlite.schema import migrate
from ekiden.store.sqlite.sql import json_rows

NOW_MS = 1_700_000_000_000


def _queue_of(sizes: list[tuple[int, int]]) -> sqlite3.Connection:
    """A queue (id 1) holding one visible message per (body length, attributes length)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)
    for index, (body, attributes) in enumerate(sizes):
        conn.execute(
            "INSERT INTO messages (queue_id, message_id, body, attributes, md5_body, "
            "sender_id, sent_ms, expires_ms, visible_at_ms) VALUES (1, ?, ?, ?, '', '', 0, ?, ?)",
            (
                f"m{index}",
                "é" * (body // 2),  # two bytes a character: the budget counts bytes
                b"a" * attributes if attributes else None,
                NOW_MS * 2,
                NOW_MS - 1000 + index,
            ),
        )
    return conn


def _lookup(conn: sqlite3.Connection, limit: int, budget: int) -> list[int]:
    rows = json_rows(conn, _VISIBLE_MESSAGES, (1, NOW_MS, limit, budget))
    return sorted(row[0] for row in rows)


def test_rows_are_read_while_the_bytes_before_them_are_under_the_budget() -> None:
    conn = _queue_of([(1000, 0), (600, 400), (1000, 0), (1000, 0)])  # 1,000 bytes each

    assert _lookup(conn, 10, 3000) == [1, 2, 3]  # 0 + 1,000 + 2,000 before: under 3,000
    assert _lookup(conn, 10, 3001) == [1, 2, 3, 4]
    assert _lookup(conn, 2, 10_000) == [1, 2]  # the LIMIT still holds
    assert _lookup(conn, 10, 1) == [1]  # the first row always comes, however large


def test_a_second_lookup_can_leave_out_what_the_claim_took() -> None:
    conn = _queue_of([(10, 0)] * 5)
    rows = json_rows(conn, _VISIBLE_MESSAGES_BUT_TAKEN, (1, NOW_MS, "[1, 3]", 10, 1 << 20))
    assert sorted(row[0] for row in rows) == [2, 4, 5]
