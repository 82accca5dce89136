"""The SQLite store reads rows by key or index range, never by walking a queue.

Every statement the hot operations run (send, receive, delete, visibility change, counts,
expiry, and the console's peek and oldest-message age; FIFO sends with duplicates too) is
captured from the connection and explained: none may scan the messages table or the
dedup keys, and a lookup by message keys (``seq IN (...)``) must use the key itself.
SQLite's planner changes its mind with the number of keys (from five keys on it
preferred walking a queue's whole visibility index), so batches of one and of ten are
both run.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import pytest

from ekiden.core.storage import ClaimRequest, VisibilityChange
from ekiden.store.sqlite.store import SqliteStore
from tests.contract.test_store_contract import DAY_MS, new_message

NOW_MS = 1_700_000_000_000
_PARAMETER = re.compile(r"\?")
_EXPLAINED = ("SELECT", "UPDATE", "DELETE", "INSERT")


def _statements_of_a_busy_queue(data_dir: Path, fifo: bool, batch: int) -> list[str]:
    async def scenario() -> list[str]:
        store = await SqliteStore.open(data_dir)
        statements: list[str] = []
        try:
            queue = await store.create_queue("q.fifo" if fifo else "q", fifo, {}, {}, NOW_MS)
            backlog = [
                new_message(
                    f"m{i}", group=f"g{i % 3}" if fifo else None, dedup=f"d{i}" if fifo else None
                )
                for i in range(50)
            ]
            await store.enqueue(queue, backlog, DAY_MS, NOW_MS)

            def trace(conn: sqlite3.Connection, on: bool) -> None:
                conn.set_trace_callback(statements.append if on else None)

            await store.writer.submit(lambda conn: trace(conn, True))
            sent = [
                new_message(
                    f"n{i}", group=f"g{i % 3}" if fifo else None, dedup=f"e{i}" if fifo else None
                )
                for i in range(batch)
            ]
            await store.enqueue(queue, sent, DAY_MS, NOW_MS)
            if fifo:  # duplicates: of an earlier send, and within one call
                copy = new_message("copy", group="g0", dedup="d0")
                await store.enqueue(queue, [copy], DAY_MS, NOW_MS)
                twins = [new_message(twin, group="g0", dedup="twin") for twin in ("a", "b")]
                await store.enqueue(queue, twins, DAY_MS, NOW_MS)
            claimed = await store.claim(ClaimRequest(queue.queue_id, fifo, batch, 30_000, NOW_MS))
            receipts = [m.receipt for m in claimed.messages]
            assert receipts, "the claim delivered nothing"
            await store.change_visibility(
                queue.queue_id, [VisibilityChange(r, 60) for r in receipts], NOW_MS
            )
            await store.delete_messages(queue.queue_id, receipts, NOW_MS)
            await store.counts(queue.queue_id, NOW_MS)
            await store.peek(queue.queue_id, 10, NOW_MS)  # the console's looks
            await store.oldest_sent_ms(queue.queue_id)
            await store.expire(NOW_MS + 2 * DAY_MS)
            await store.writer.submit(lambda conn: trace(conn, False))

            def plans(conn: sqlite3.Connection) -> list[str]:
                found = []
                for statement in statements:
                    if not statement.lstrip().upper().startswith(_EXPLAINED):
                        continue
                    nulls = (None,) * len(_PARAMETER.findall(statement))
                    rows = conn.execute("EXPLAIN QUERY PLAN " + statement, nulls).fetchall()
                    details = "; ".join(str(row[-1]) for row in rows)
                    found.append(f"{' '.join(statement.split())}\n    -> {details}")
                return found

            result: list[str] = await store.writer.submit(plans)
            return result
        finally:
            await store.close()

    return asyncio.run(scenario())


@pytest.mark.parametrize("batch", [1, 10])
@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_hot_statements_never_scan_the_messages_table(
    tmp_path: Path, fifo: bool, batch: int
) -> None:
    explained = _statements_of_a_busy_queue(tmp_path, fifo, batch)
    assert explained
    scans = [e for e in explained if re.search(r"SCAN (messages|dedup)\b", e)]
    assert not scans, "\n".join(scans)


@pytest.mark.parametrize("batch", [1, 10])
@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_lookups_by_message_key_use_the_key(tmp_path: Path, fifo: bool, batch: int) -> None:
    explained = _statements_of_a_busy_queue(tmp_path, fifo, batch)
    by_key = [e for e in explained if re.search(r"WHERE seq (IN|=)", e)]
    assert by_key, "no lookup by key was captured"
    wrong = [e for e in by_key if "INTEGER PRIMARY KEY" not in e.split("->")[1]]
    assert not wrong, "\n".join(wrong)
