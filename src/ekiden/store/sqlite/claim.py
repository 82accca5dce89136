"""One receive on the SQLite store: pick visible messages, expire or dead-letter the ones
that must go, and hide the rest behind a fresh receipt nonce. Also the row moves shared
with message move tasks, and FIFO group-head upkeep."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from operator import itemgetter
from typing import Any

import orjson

from ekiden.core.ids import ReceiptRef, format_sequence_number, new_receipt_nonce
from ekiden.core.rules import dedup, redrive, retention, visibility
from ekiden.core.storage import ClaimRequest, ClaimResult, DeadLetterTarget, DeliveredMessage
from ekiden.store.sqlite.codec import decode_attributes
from ekiden.store.sqlite.sql import json_rows, key_lists

MESSAGE_COLUMNS = (
    "seq, message_id, body, attributes, system_attributes, md5_body, md5_attributes, "
    "md5_system, sender_id, sent_ms, expires_ms, visible_at_ms, receive_count, "
    "first_receive_ms, nonce, group_id, dedup_id, dlq_source_queue_id"
)
# MESSAGE_COLUMNS as one JSON array per row, for ``json_rows`` (the BLOBs as their text).
MESSAGE_JSON = (
    "json_array(seq, message_id, body, CAST(attributes AS TEXT), "
    "CAST(system_attributes AS TEXT), md5_body, md5_attributes, md5_system, sender_id, "
    "sent_ms, expires_ms, visible_at_ms, receive_count, first_receive_ms, nonce, group_id, "
    "dedup_id, dlq_source_queue_id)"
)


def _visible_messages(but: str) -> str:
    """Visible messages of a queue (``queue_id, now_ms, [but...], limit, byte budget``) in
    visibility order, as many as the LIMIT allows but no more than fit the byte budget:
    a row is included while the bodies and attributes of the rows before it add up to
    less than the budget (the first row always is). ``but`` leaves rows out.

    The JSON text of a row is at most about four times those bytes (attributes are
    escaped twice: once in the stored JSON, once in the aggregate), so one lookup stays
    near 4 x 8 MiB plus one row however many receives one claim serves; a usual claim
    needs one lookup, where fixed chunks of 32 rows made a claim for 300 messages ten
    lookups and ten updates (each one a GIL hand-over for the writer thread). The running
    sum is worked out over keys and sizes only, so no body is held but those returned.
    """
    return (
        f"SELECT json_group_array({MESSAGE_JSON}) FROM messages WHERE seq IN ("
        "SELECT seq FROM (SELECT seq, sum(size) OVER (ORDER BY visible_at_ms, seq "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS bytes_before FROM ("
        "SELECT seq, visible_at_ms, length(CAST(body AS BLOB)) "
        "+ ifnull(length(attributes), 0) + ifnull(length(system_attributes), 0) AS size "
        f"FROM messages WHERE queue_id = ? AND visible_at_ms <= ?{but} "
        "ORDER BY visible_at_ms, seq LIMIT ?)) WHERE ifnull(bytes_before, 0) < ?)"
    )


_VISIBLE_MESSAGES = _visible_messages("")
# The same, leaving out the seqs of a JSON list: what a claim with a zero visibility
# timeout took (still visible) when it has to look again.
_VISIBLE_MESSAGES_BUT_TAKEN = _visible_messages(" AND seq NOT IN (SELECT value FROM json_each(?))")
_GROUP_MESSAGES = (
    f"SELECT json_group_array({MESSAGE_JSON}) FROM (SELECT * FROM messages "
    "WHERE queue_id = ? AND group_id = ? ORDER BY seq LIMIT ?)"
)
_in_visibility_order = itemgetter(11, 0)  # ORDER BY visible_at_ms, then the index's seq
_in_seq_order = itemgetter(0)
_CLAIM_LOOKUP_ROWS = 1024  # rows per lookup of a standard claim, at most
_CLAIM_LOOKUP_BYTES = 8 * 1024 * 1024  # see _VISIBLE_MESSAGES
_COPY_COLUMNS = (
    "message_id, body, attributes, system_attributes, md5_body, md5_attributes, md5_system, "
    "sender_id, sent_ms, group_id, dedup_id"
)


class Claim:
    """One receive: pick visible messages, dead-letter or expire the ones that must go,
    and hide the rest behind a fresh receipt nonce."""

    def __init__(
        self, conn: sqlite3.Connection, request: ClaimRequest, fifo_queues: set[int]
    ) -> None:
        self.conn = conn
        self.req = request
        self.fifo_queues = fifo_queues
        self.delivered: list[DeliveredMessage] = []
        self.dead_lettered: set[int] = set()
        self.dead_lettered_count = 0
        self.removed = 0
        self.nonce = new_receipt_nonce() | 1
        self.unhidden: list[int] = []  # seqs taken but not yet hidden (see _hide_taken)

    def run(self) -> ClaimResult:
        req = self.req
        if req.attempt_id is not None:
            repeated = self._repeat_attempt()
            if repeated is not None:
                return ClaimResult(repeated, None)
        if req.is_fifo:
            self._claim_fifo()
        else:
            self._claim_standard()
        if self.removed:
            self.conn.execute(
                "UPDATE queues SET message_count = message_count - ? WHERE id = ?",
                (self.removed, req.queue_id),
            )
        if req.attempt_id is not None and self.delivered:
            self.conn.execute(
                "INSERT OR REPLACE INTO receive_attempts VALUES (?, ?, ?, ?)",
                (
                    req.queue_id,
                    req.attempt_id,
                    dedup.dedup_expires_ms(req.now_ms),
                    orjson.dumps([[m.receipt.seq, m.receipt.nonce] for m in self.delivered]),
                ),
            )
        next_visible = None if self.delivered else self.next_visible_at()
        return ClaimResult(
            self.delivered, next_visible, sorted(self.dead_lettered), self.dead_lettered_count
        )

    def _claim_standard(self) -> None:
        req = self.req
        # What this claim delivered stays visible with a zero visibility timeout, so later
        # lookups of the claim leave it out.
        stays_visible = req.visibility_ms // 1000 == 0
        while len(self.delivered) < req.max_messages:
            wanted = min(req.max_messages - len(self.delivered), _CLAIM_LOOKUP_ROWS)
            if stays_visible and self.delivered:
                taken = orjson.dumps([m.receipt.seq for m in self.delivered]).decode()
                statement = _VISIBLE_MESSAGES_BUT_TAKEN
                params: tuple[Any, ...] = (req.queue_id, req.now_ms, taken)
            else:
                statement, params = _VISIBLE_MESSAGES, (req.queue_id, req.now_ms)
            found = json_rows(self.conn, statement, (*params, wanted, _CLAIM_LOOKUP_BYTES))
            if not found:
                break
            found.sort(key=_in_visibility_order)
            for row in found:
                self._take(row)
            self._hide_taken()

    def _claim_fifo(self) -> None:
        req = self.req
        # Groups that delivered in this claim; with a zero visibility timeout they are still
        # available and would otherwise hand out the same messages again.
        served: set[str] = set()
        while len(self.delivered) < req.max_messages:
            groups = self.conn.execute(
                "SELECT group_id FROM fifo_groups WHERE queue_id = ? AND available_at_ms <= ? "
                "ORDER BY available_at_ms, head_seq LIMIT ?",
                (req.queue_id, req.now_ms, len(served) + 1),
            ).fetchall()
            group_id = next((g for (g,) in groups if g not in served), None)
            if group_id is None:
                return
            delivered_before = len(self.delivered)
            rows = json_rows(
                self.conn,
                _GROUP_MESSAGES,
                (req.queue_id, group_id, req.max_messages - len(self.delivered)),
            )
            rows.sort(key=_in_seq_order)
            for row in rows:
                if not visibility.is_visible(row[11], req.now_ms):  # keep the group's order
                    break
                self._take(row)
            self._hide_taken()
            refresh_group(self.conn, req.queue_id, group_id)
            if len(self.delivered) > delivered_before:
                served.add(group_id)
            # The group is now blocked (a message in flight), empty, or served, so the next
            # iteration picks another group.

    def _take(self, row: Sequence[Any]) -> None:
        """Deliver ``row`` (hidden by the next ``_hide_taken``), or expire or dead-letter it."""
        req = self.req
        seq, expires_ms, receive_count, group_id = row[0], row[10], row[12], row[15]
        if retention.is_expired(expires_ms, req.now_ms):
            self.conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))
            self.removed += 1
            return
        dead_letter = req.dead_letter
        if (
            dead_letter is not None
            # A queue named as its own dead-letter queue keeps the message: moving it
            # would put it back within reach of this very claim, again and again.
            and dead_letter.queue_id != req.queue_id
            and redrive.must_dead_letter(receive_count, dead_letter.max_receive_count)
            and self._dead_letter(seq, row[9], group_id, dead_letter)
        ):
            return
        delivered = delivered_from_row(req.queue_id, row, req.is_fifo)
        delivered.receipt = ReceiptRef(req.queue_id, seq, self.nonce)
        delivered.receive_count = receive_count + 1
        delivered.first_receive_ms = row[13] if row[13] is not None else req.now_ms
        self.delivered.append(delivered)
        self.unhidden.append(seq)

    def _hide_taken(self) -> None:
        """Hide what ``_take`` delivered since the last call, with one statement.

        One nonce serves the whole claim: a receipt must tell this delivery of a message
        from its other deliveries, and every other claim draws its own nonce.
        """
        taken = self.unhidden
        if not taken:
            return
        req = self.req
        visible_at = visibility.hidden_until(req.now_ms, req.visibility_ms // 1000)
        for marks, values in key_lists(self.conn, taken):
            self.conn.execute(
                "UPDATE messages SET visible_at_ms = ?, receive_count = receive_count + 1, "
                "first_receive_ms = COALESCE(first_receive_ms, ?), received_ms = ?, "
                f"nonce = ? WHERE seq IN ({marks})",
                (visible_at, req.now_ms, req.now_ms, self.nonce, *values),
            )
        self.unhidden = []

    def _dead_letter(
        self, seq: int, sent_ms: int, group_id: str | None, target: DeadLetterTarget
    ) -> bool:
        """Move a message received too often to its DLQ; False when the DLQ is gone (the
        message is then delivered as usual, as SQS does)."""
        exists = self.conn.execute("SELECT 1 FROM queues WHERE id = ?", (target.queue_id,))
        if exists.fetchone() is None:
            return False
        expires = redrive.dead_letter_expiry_ms(
            sent_ms=sent_ms,
            now_ms=self.req.now_ms,
            dlq_retention_ms=target.retention_ms,
            dlq_is_fifo=target.is_fifo,
        )
        move_message(
            self.conn,
            seq,
            self.req.queue_id,
            target.queue_id,
            group_id,
            self.req.now_ms,
            self.fifo_queues,
            expires_ms=expires,
            dead_letter_source=self.req.queue_id,
        )
        self.dead_lettered.add(target.queue_id)
        self.dead_lettered_count += 1
        return True

    def _repeat_attempt(self) -> list[DeliveredMessage] | None:
        req = self.req
        row = self.conn.execute(
            "SELECT deliveries FROM receive_attempts WHERE queue_id = ? AND attempt_id = ? "
            "AND expires_ms > ?",
            (req.queue_id, req.attempt_id, req.now_ms),
        ).fetchone()
        if row is None:
            return None
        repeated: list[DeliveredMessage] = []
        for seq, nonce in orjson.loads(row[0]):
            message = self.conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE seq = ? AND queue_id = ?",
                (seq, req.queue_id),
            ).fetchone()
            if message is None or message[14] != nonce or message[11] <= req.now_ms:
                return None  # deleted, redelivered or visible again: a fresh receive
            repeated.append(delivered_from_row(req.queue_id, message, req.is_fifo))
        return repeated

    def next_visible_at(self) -> int | None:
        """When the next invisible message of the queue becomes visible (``None``: none)."""
        req = self.req
        if req.is_fifo:
            row = self.conn.execute(
                "SELECT MIN(available_at_ms) FROM fifo_groups WHERE queue_id = ? "
                "AND available_at_ms > ?",
                (req.queue_id, req.now_ms),
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT MIN(visible_at_ms) FROM messages WHERE queue_id = ? AND visible_at_ms > ?",
                (req.queue_id, req.now_ms),
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])


ClaimKey = tuple[int, int, DeadLetterTarget | None]


def claim_key(request: ClaimRequest) -> ClaimKey | None:
    """What receives must share to be served by one claim (see ``claim_batch``); ``None``
    for the ones that are served alone: FIFO receives (group order and attempt ids), and
    receives with a zero visibility timeout (what one of them takes stays visible, so
    the next one, run after it, must be able to take it again, as in SQS)."""
    if request.is_fifo or request.attempt_id is not None or request.visibility_ms == 0:
        return None
    return (request.queue_id, request.visibility_ms, request.dead_letter)


def claim_batch(
    conn: sqlite3.Connection,
    key: ClaimKey,
    requests: list[ClaimRequest],
    fifo_queues: set[int],
) -> list[ClaimResult]:
    """Serve concurrent standard-queue receives (equal ``claim_key``) with one claim.

    One claim of the sum of their batch sizes, at the latest of their times (they are
    concurrent, and the job runs after all of them started), is dealt out in call order:
    the same messages the receives would have got one after the other, with one lookup
    and one update instead of two per receive.
    """
    del key  # the requests carry it
    merged = replace(
        requests[0],
        max_messages=sum(r.max_messages for r in requests),
        now_ms=max(r.now_ms for r in requests),
    )
    claim = Claim(conn, merged, fifo_queues)
    result = claim.run()
    messages = result.messages
    next_visible = result.next_visible_at_ms
    if len(messages) < merged.max_messages and messages:
        next_visible = claim.next_visible_at()  # for the receives left empty-handed
    results: list[ClaimResult] = []
    start = 0
    for request in requests:
        share = messages[start : start + request.max_messages]
        start += len(share)
        # The dead-letter count goes with the first result only: a sum stays exact.
        count = result.dead_lettered_count if not results else 0
        results.append(
            ClaimResult(share, None if share else next_visible, result.dead_lettered_to, count)
        )
    return results


def delivered_from_row(queue_id: int, row: Sequence[Any], is_fifo: bool) -> DeliveredMessage:
    """A message row (``MESSAGE_COLUMNS``) as the delivery its current nonce names."""
    seq = row[0]
    return DeliveredMessage(
        receipt=ReceiptRef(queue_id, seq, row[14]),
        message_id=row[1],
        body=row[2],
        attributes=decode_attributes(row[3]),
        system_attributes=decode_attributes(row[4]),
        md5_of_body=row[5],
        md5_of_attributes=row[6],
        md5_of_system_attributes=row[7],
        sender_id=row[8],
        sent_ms=row[9],
        receive_count=row[12],
        first_receive_ms=row[13] or 0,
        group_id=row[15],
        dedup_id=row[16],
        sequence_number=format_sequence_number(seq) if is_fifo else None,
        dead_letter_source_queue_id=row[17],
    )


def move_message(
    conn: sqlite3.Connection,
    seq: int,
    from_queue: int,
    to_queue: int,
    group_id: str | None,
    now_ms: int,
    fifo_queues: set[int],
    *,
    expires_ms: int | None,
    dead_letter_source: int | None = None,
) -> None:
    """Re-insert a message at the tail of another queue (new row, so FIFO order holds)."""
    # A FIFO dead-letter queue restarts the retention clock on arrival; remember where.
    retention_start = now_ms if dead_letter_source is not None and to_queue in fifo_queues else None
    cursor = conn.execute(
        f"INSERT INTO messages (queue_id, {_COPY_COLUMNS}, expires_ms, visible_at_ms, "
        "receive_count, dlq_source_queue_id, retention_start_ms) "
        f"SELECT ?, {_COPY_COLUMNS}, COALESCE(?, expires_ms), ?, "
        "CASE WHEN ? IS NULL THEN 0 ELSE receive_count END, ?, ? FROM messages WHERE seq = ?",
        (
            to_queue,
            expires_ms,
            now_ms,
            dead_letter_source,
            dead_letter_source,
            retention_start,
            seq,
        ),
    )
    new_seq = int(cursor.lastrowid or 0)
    conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))
    conn.execute("UPDATE queues SET message_count = message_count - 1 WHERE id = ?", (from_queue,))
    conn.execute("UPDATE queues SET message_count = message_count + 1 WHERE id = ?", (to_queue,))
    if from_queue in fifo_queues and group_id is not None:
        refresh_group(conn, from_queue, group_id)
    if to_queue in fifo_queues:
        conn.execute(
            "INSERT OR IGNORE INTO fifo_groups VALUES (?, ?, ?, ?)",
            (to_queue, group_id or "", new_seq, now_ms),
        )
        if group_id is None:
            conn.execute("UPDATE messages SET group_id = '' WHERE seq = ?", (new_seq,))


# A claim hands out a contiguous run of a group from its head, at most a batch, and the
# group stays blocked until that run is done: so every in-flight message of a group lies
# within this many rows of its head.
_GROUP_PREFIX_ROWS = 32


def refresh_group(conn: sqlite3.Connection, queue_id: int, group_id: str) -> None:
    """Recompute when a FIFO group is next available: when its oldest message is visible
    and none of its messages is in flight any more."""
    prefix = json_rows(
        conn,
        "SELECT json_group_array(json_array(seq, visible_at_ms, receive_count)) FROM ("
        "SELECT seq, visible_at_ms, receive_count FROM messages "
        "WHERE queue_id = ? AND group_id = ? ORDER BY seq LIMIT ?)",
        (queue_id, group_id, _GROUP_PREFIX_ROWS),
    )
    prefix.sort(key=_in_seq_order)
    if not prefix:
        conn.execute(
            "DELETE FROM fifo_groups WHERE queue_id = ? AND group_id = ?", (queue_id, group_id)
        )
        return
    head_seq, available_at, _ = prefix[0]
    for _seq, visible_at, receive_count in prefix[1:]:
        if receive_count > 0 and visible_at > available_at:
            available_at = visible_at  # a later message still in flight holds the group
    conn.execute(
        "INSERT OR REPLACE INTO fifo_groups VALUES (?, ?, ?, ?)",
        (queue_id, group_id, head_seq, available_at),
    )
