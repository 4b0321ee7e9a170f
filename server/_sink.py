"""The DeltaHandler of ``privtrak serve``: each batch in one SQLite transaction.

Schema (created on first use)::

    CREATE TABLE user_totals (          -- per-user credit, bytes
        user_id    BLOB PRIMARY KEY,    -- 16 bytes (the decoded passkey)
        uploaded   INTEGER NOT NULL,
        downloaded INTEGER NOT NULL);
    CREATE TABLE user_torrents (        -- per user and torrent
        user_id    BLOB NOT NULL,
        info_hash  BLOB NOT NULL,       -- 20 bytes
        uploaded   INTEGER NOT NULL,
        downloaded INTEGER NOT NULL,
        snatched   INTEGER NOT NULL,    -- completed events accepted (R5.2)
        PRIMARY KEY (user_id, info_hash));
    CREATE TABLE torrent_snatches (     -- per torrent
        info_hash  BLOB PRIMARY KEY,
        snatches   INTEGER NOT NULL);
    CREATE TABLE batch_log (            -- one row per applied batch
        epoch      TEXT NOT NULL,       -- the tracker's lifetime (see below)
        batch_id   INTEGER NOT NULL,
        records    INTEGER NOT NULL,
        uploaded   INTEGER NOT NULL,
        downloaded INTEGER NOT NULL,
        sealed_at  INTEGER NOT NULL,    -- the batch's sealed_at, unix seconds
        PRIMARY KEY (epoch, batch_id));

Batch ids start at 1 for every new tracker (R6.4) and survive snapshots, so
the log is keyed by ``(epoch, batch_id)`` where the epoch is a random id
chosen when a tracker starts without a snapshot and kept in its snapshot.
:meth:`SqliteSink.apply` inserts the log row first in the same transaction
as the totals; a batch already logged is skipped whole, so a redelivered
batch (lost acknowledgement, crash before ``batch_succeeded``) is applied
exactly once. Transfer records add to the totals; ``event`` records with
event ``completed`` count a snatch; ``purge`` records change no total.

The sink is synchronous and owned by one thread (the server runs it in a
single-thread executor); ``delay`` sleeps inside each transaction to model a
slow database.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from privtrak.reference import Batch, Event, RecordKind

SCHEMA = """
CREATE TABLE IF NOT EXISTS user_totals (
    user_id BLOB PRIMARY KEY, uploaded INTEGER NOT NULL, downloaded INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS user_torrents (
    user_id BLOB NOT NULL, info_hash BLOB NOT NULL, uploaded INTEGER NOT NULL,
    downloaded INTEGER NOT NULL, snatched INTEGER NOT NULL, PRIMARY KEY (user_id, info_hash));
CREATE TABLE IF NOT EXISTS torrent_snatches (
    info_hash BLOB PRIMARY KEY, snatches INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batch_log (
    epoch TEXT NOT NULL, batch_id INTEGER NOT NULL, records INTEGER NOT NULL,
    uploaded INTEGER NOT NULL, downloaded INTEGER NOT NULL, sealed_at INTEGER NOT NULL,
    PRIMARY KEY (epoch, batch_id));
"""

_ADD_USER = """INSERT INTO user_totals (user_id, uploaded, downloaded) VALUES (?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET uploaded = uploaded + excluded.uploaded,
downloaded = downloaded + excluded.downloaded"""
_ADD_USER_TORRENT = """INSERT INTO user_torrents
(user_id, info_hash, uploaded, downloaded, snatched) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (user_id, info_hash) DO UPDATE SET uploaded = uploaded + excluded.uploaded,
downloaded = downloaded + excluded.downloaded, snatched = snatched + excluded.snatched"""
_ADD_SNATCH = """INSERT INTO torrent_snatches (info_hash, snatches) VALUES (?, 1)
ON CONFLICT (info_hash) DO UPDATE SET snatches = snatches + 1"""


class SqliteSink:
    """Applies batches to an SQLite file; see the module docstring for the schema."""

    def __init__(self, path: str | Path, delay: float = 0.0) -> None:
        self.path = str(path)
        self.delay = delay
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        """Connect and create the schema (call from the sink's own thread)."""
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA busy_timeout = 5000")
        db.executescript(SCHEMA)
        self._db = db

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def apply(self, epoch: str, batch: Batch) -> bool:
        """Apply ``batch`` atomically; ``False`` if it was applied before.

        Raises ``sqlite3.Error`` (nothing applied) when the database fails.
        """
        db = self._db
        if db is None:
            raise sqlite3.OperationalError("sink is not open")
        db.execute("BEGIN IMMEDIATE")
        try:
            if self.delay > 0:
                time.sleep(self.delay)
            cursor = db.execute(
                "INSERT OR IGNORE INTO batch_log VALUES (?, ?, ?, ?, ?, ?)",
                (epoch, batch.batch_id, len(batch.records), batch.up, batch.down,
                 batch.sealed_at))
            if cursor.rowcount == 0:
                db.execute("ROLLBACK")
                return False
            users: dict[bytes, list[int]] = {}
            pairs: dict[tuple[bytes, bytes], list[int]] = {}
            snatches: list[tuple[bytes]] = []
            for r in batch.records:
                if r.kind is RecordKind.PURGE:
                    continue
                snatch = int(r.event is Event.COMPLETED)
                if r.kind is RecordKind.TRANSFER:
                    u = users.setdefault(r.user, [0, 0])
                    u[0] += r.up
                    u[1] += r.down
                p = pairs.setdefault((r.user, r.info_hash), [0, 0, 0])
                p[0] += r.up
                p[1] += r.down
                p[2] += snatch
                if snatch:
                    snatches.append((r.info_hash,))
            db.executemany(_ADD_USER, [(k, v[0], v[1]) for k, v in users.items()])
            db.executemany(_ADD_USER_TORRENT,
                           [(k[0], k[1], v[0], v[1], v[2]) for k, v in pairs.items()])
            db.executemany(_ADD_SNATCH, snatches)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return True


def read_user_totals(path: str | Path) -> dict[bytes, tuple[int, int]]:
    """user id -> (uploaded, downloaded) from a sink database (read-only helper)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT user_id, uploaded, downloaded FROM user_totals").fetchall()
    finally:
        db.close()
    return {bytes(u): (up, down) for u, up, down in rows}
