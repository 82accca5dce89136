"""Numbered schema migrations of the SQLite store (``PRAGMA user_version`` holds the level)."""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: queues, messages, FIFO group heads, deduplication window, receive attempts,
    #    message move tasks.
    """
    CREATE TABLE queues (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        is_fifo       INTEGER NOT NULL,
        attributes    TEXT NOT NULL,
        tags          TEXT NOT NULL,
        created_ms    INTEGER NOT NULL,
        modified_ms   INTEGER NOT NULL,
        purged_at_ms  INTEGER,
        message_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE messages (
        seq                 INTEGER PRIMARY KEY,
        queue_id            INTEGER NOT NULL,
        message_id          TEXT NOT NULL,
        body                TEXT NOT NULL,
        attributes          BLOB,
        system_attributes   BLOB,
        md5_body            TEXT NOT NULL,
        md5_attributes      TEXT,
        md5_system          TEXT,
        sender_id           TEXT NOT NULL,
        sent_ms             INTEGER NOT NULL,
        expires_ms          INTEGER NOT NULL,
        visible_at_ms       INTEGER NOT NULL,
        receive_count       INTEGER NOT NULL DEFAULT 0,
        first_receive_ms    INTEGER,
        received_ms         INTEGER,
        nonce               INTEGER NOT NULL DEFAULT 0,
        group_id            TEXT,
        dedup_id            TEXT,
        dlq_source_queue_id INTEGER
    );
    CREATE INDEX messages_by_visibility ON messages (queue_id, visible_at_ms);
    CREATE INDEX messages_by_expiry ON messages (expires_ms);
    CREATE INDEX messages_by_group ON messages (queue_id, group_id, seq)
        WHERE group_id IS NOT NULL;
    CREATE TABLE fifo_groups (
        queue_id        INTEGER NOT NULL,
        group_id        TEXT NOT NULL,
        head_seq        INTEGER NOT NULL,
        available_at_ms INTEGER NOT NULL,
        PRIMARY KEY (queue_id, group_id)
    ) WITHOUT ROWID;
    CREATE INDEX fifo_groups_by_availability
        ON fifo_groups (queue_id, available_at_ms, head_seq);
    CREATE TABLE dedup (
        queue_id   INTEGER NOT NULL,
        dedup_key  TEXT NOT NULL,
        message_id TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        PRIMARY KEY (queue_id, dedup_key)
    ) WITHOUT ROWID;
    CREATE INDEX dedup_by_expiry ON dedup (expires_ms);
    CREATE TABLE receive_attempts (
        queue_id   INTEGER NOT NULL,
        attempt_id TEXT NOT NULL,
        expires_ms INTEGER NOT NULL,
        deliveries TEXT NOT NULL,
        PRIMARY KEY (queue_id, attempt_id)
    ) WITHOUT ROWID;
    CREATE TABLE move_tasks (
        task_id         TEXT PRIMARY KEY,
        source_queue_id INTEGER NOT NULL,
        source_arn      TEXT NOT NULL,
        destination_arn TEXT,
        rate_per_s      INTEGER,
        status          TEXT NOT NULL,
        started_ms      INTEGER NOT NULL,
        to_move         INTEGER NOT NULL,
        moved           INTEGER NOT NULL,
        max_seq         INTEGER NOT NULL,
        failure_reason  TEXT
    );
    """,
    # 2: ids are never reused. Without AUTOINCREMENT SQLite hands the id of the newest
    #    deleted row to the next insert: a FIFO SequenceNumber could repeat, and a new queue
    #    could inherit the id (and so the dead-lettered messages) of a deleted one.
    """
    CREATE TABLE queues_v2 (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        name          TEXT NOT NULL UNIQUE,
        is_fifo       INTEGER NOT NULL,
        attributes    TEXT NOT NULL,
        tags          TEXT NOT NULL,
        created_ms    INTEGER NOT NULL,
        modified_ms   INTEGER NOT NULL,
        purged_at_ms  INTEGER,
        message_count INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO queues_v2 SELECT id, name, is_fifo, attributes, tags, created_ms, modified_ms,
        purged_at_ms, message_count FROM queues;
    DROP TABLE queues;
    ALTER TABLE queues_v2 RENAME TO queues;
    CREATE TABLE messages_v2 (
        seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
        queue_id            INTEGER NOT NULL,
        message_id          TEXT NOT NULL,
        body                TEXT NOT NULL,
        attributes          BLOB,
        system_attributes   BLOB,
        md5_body            TEXT NOT NULL,
        md5_attributes      TEXT,
        md5_system          TEXT,
        sender_id           TEXT NOT NULL,
        sent_ms             INTEGER NOT NULL,
        expires_ms          INTEGER NOT NULL,
        visible_at_ms       INTEGER NOT NULL,
        receive_count       INTEGER NOT NULL DEFAULT 0,
        first_receive_ms    INTEGER,
        received_ms         INTEGER,
        nonce               INTEGER NOT NULL DEFAULT 0,
        group_id            TEXT,
        dedup_id            TEXT,
        dlq_source_queue_id INTEGER
    );
    INSERT INTO messages_v2 SELECT seq, queue_id, message_id, body, attributes,
        system_attributes, md5_body, md5_attributes, md5_system, sender_id, sent_ms,
        expires_ms, visible_at_ms, receive_count, first_receive_ms, received_ms, nonce,
        group_id, dedup_id, dlq_source_queue_id FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_v2 RENAME TO messages;
    CREATE INDEX messages_by_visibility ON messages (queue_id, visible_at_ms);
    CREATE INDEX messages_by_expiry ON messages (expires_ms);
    CREATE INDEX messages_by_group ON messages (queue_id, group_id, seq)
        WHERE group_id IS NOT NULL;
    """,
    # 3: broker-wide values, such as the key receipt handles are sealed with.
    """
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) WITHOUT ROWID;
    """,
    # 4: where a message's retention clock starts when that is not its send time (a FIFO
    #    dead-letter queue restarts it on arrival); NULL means sent_ms.
    """
    ALTER TABLE messages ADD COLUMN retention_start_ms INTEGER;
    """,
    # 5: SNS topics, their subscriptions, and the deduplication window of FIFO topics.
    #    Subscriptions name their topic by id (a topic re-created under the same name starts
    #    without them); ids are paging keys, so they are never reused. ``last_seq`` is the
    #    last SequenceNumber a FIFO topic handed out, kept in the transaction of the publish.
    """
    CREATE TABLE topics (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT NOT NULL UNIQUE,
        is_fifo     INTEGER NOT NULL,
        attributes  TEXT NOT NULL,
        tags        TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        last_seq    INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE subscriptions (
        id                   INTEGER PRIMARY KEY AUTOINCREMENT,
        arn                  TEXT NOT NULL UNIQUE,
        topic_id             INTEGER NOT NULL,
        protocol             TEXT NOT NULL,
        endpoint             TEXT NOT NULL,
        attributes           TEXT NOT NULL,
        pending_confirmation INTEGER NOT NULL,
        authenticated        INTEGER NOT NULL,
        token                TEXT,
        owner                TEXT NOT NULL,
        created_ms           INTEGER NOT NULL
    );
    CREATE INDEX subscriptions_by_topic ON subscriptions (topic_id, id);
    CREATE UNIQUE INDEX subscriptions_by_endpoint
        ON subscriptions (topic_id, protocol, endpoint);
    CREATE INDEX subscriptions_by_token ON subscriptions (token) WHERE token IS NOT NULL;
    CREATE TABLE topic_dedup (
        topic_id        INTEGER NOT NULL,
        dedup_key       TEXT NOT NULL,
        message_id      TEXT NOT NULL,
        sequence_number TEXT,
        expires_ms      INTEGER NOT NULL,
        PRIMARY KEY (topic_id, dedup_key)
    ) WITHOUT ROWID;
    CREATE INDEX topic_dedup_by_expiry ON topic_dedup (expires_ms);
    """,
    # 6: the outbox of SNS deliveries to HTTP/S endpoints, written in the transaction of
    #    the publish (or the subscribe, for a confirmation) and emptied as deliveries
    #    succeed, run out of retries or lose their subscription. ``due_ms`` orders the
    #    delivery loop's work; ``slot_reserved`` marks an entry the throttle has given its
    #    send slot. ``attributes`` (raw deliveries) are what a dead-letter queue gets.
    """
    CREATE TABLE sns_outbox (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        subscription_arn TEXT NOT NULL,
        message_type     TEXT NOT NULL,
        message_id       TEXT NOT NULL,
        topic_arn        TEXT NOT NULL,
        body             TEXT NOT NULL,
        raw              INTEGER NOT NULL,
        attributes       BLOB,
        attempts         INTEGER NOT NULL DEFAULT 0,
        due_ms           INTEGER NOT NULL,
        slot_reserved    INTEGER NOT NULL DEFAULT 0,
        created_ms       INTEGER NOT NULL
    );
    CREATE INDEX sns_outbox_by_due ON sns_outbox (due_ms, id);
    CREATE INDEX sns_outbox_by_subscription ON sns_outbox (subscription_arn, message_type);
    """,
    # 7: event source mappings (queue -> function), from the Lambda API or the config file.
    #    ``position`` keeps creation order (a replaced mapping keeps its place). Tuples of
    #    strings (FunctionResponseTypes, filter patterns) are JSON arrays.
    """
    CREATE TABLE event_source_mappings (
        uuid                      TEXT PRIMARY KEY,
        position                  INTEGER NOT NULL UNIQUE,
        function_name             TEXT NOT NULL,
        event_source_arn          TEXT NOT NULL,
        batch_size                INTEGER NOT NULL,
        maximum_batching_window_s INTEGER NOT NULL,
        function_response_types   TEXT NOT NULL,
        filter_patterns           TEXT NOT NULL,
        maximum_concurrency       INTEGER,
        enabled                   INTEGER NOT NULL,
        last_modified_ms          INTEGER NOT NULL,
        declared                  INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 8: a queue's messages in arrival order, for the console's peek and the age of the
    #    oldest message (metrics): without it both walked the queue's whole visibility
    #    index (110 ms at a million messages, on the writer thread).
    """
    CREATE INDEX messages_by_queue ON messages (queue_id, seq);
    """,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the newest schema level; returns that level."""
    (level,) = conn.execute("PRAGMA user_version").fetchone()
    for number, script in enumerate(MIGRATIONS, start=1):
        if number <= level:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
