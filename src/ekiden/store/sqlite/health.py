"""Store health: which SQLite errors mean the disk failed, and how recovery is proven.

A full disk (``SQLITE_FULL``) or an I/O error (``SQLITE_IOERR``, which is how SQLite
reports a failed write or fsync) is not a bad request: it says the database cannot make
changes durable right now. The group-commit writer then refuses writes (answering
``ServiceUnavailable``), keeps serving reads, and runs :func:`probe_write` in the
background until a write commits again.

After an I/O error the connection is replaced before the store is declared healthy: a
failed fsync may have lost pages the kernel already marked clean (the "fsyncgate"
lesson), so the connection's cached view is not trusted; a fresh connection runs SQLite's
WAL recovery from what is really on disk. A full disk loses nothing, so the connection
is kept.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# SQLite primary result codes (the low byte of an extended code).
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26
_DISK_FAILURES = {
    SQLITE_READONLY,
    SQLITE_IOERR,
    SQLITE_CORRUPT,
    SQLITE_FULL,
    SQLITE_CANTOPEN,
    SQLITE_NOTADB,
}
# Exceptions made by hand (tests, wrappers) carry no code; SQLite's messages for them.
_MESSAGES = {"database or disk is full": SQLITE_FULL, "disk i/o error": SQLITE_IOERR}

# What a probe must be able to write and commit: room for one largest message with
# its attributes, so a store declared healthy can take at least a send again.
PROBE_HEADROOM_BYTES = 256 * 1024


def open_connection(path: Path) -> sqlite3.Connection:
    """A connection configured for durability: WAL with a full fsync on every commit."""
    # The hot statements come in a few shapes times power-of-two lengths (see
    # ekiden.store.sqlite.sql): more than the default cache of 128 prepared statements.
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=512
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache, bodies are not kept beyond
    return conn


def primary_code(exc: BaseException) -> int | None:
    """The SQLite primary result code of ``exc``, or ``None`` if it is not known."""
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    return _MESSAGES.get(str(exc).strip().lower())


def is_disk_failure(exc: BaseException) -> bool:
    """True if ``exc`` says the database cannot be written (full, I/O error, corrupt,
    read-only, gone), as opposed to a mistake of one statement."""
    return primary_code(exc) in _DISK_FAILURES


def needs_reopen(exc: BaseException) -> bool:
    """True unless ``exc`` is a plain full disk: any other failure of a write or commit
    leaves the connection's view of the file in doubt."""
    return primary_code(exc) != SQLITE_FULL


def probe_write(conn: sqlite3.Connection) -> None:
    """The probe's work, run inside ``BEGIN IMMEDIATE`` .. ``COMMIT`` by the writer.

    It writes ``PROBE_HEADROOM_BYTES`` into the ``meta`` table and deletes them again in
    the same transaction: the pages must be allocated (so a database at its size limit
    or a full filesystem fails here) and the commit goes through the WAL and its fsync
    like any other. The freed pages stay in the file for the next writes.
    """
    conn.execute(
        "INSERT OR REPLACE INTO meta VALUES ('health_probe', zeroblob(?))",
        (PROBE_HEADROOM_BYTES,),
    )
    conn.execute("DELETE FROM meta WHERE name = 'health_probe'")
