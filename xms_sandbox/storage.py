"""SQLite storage for the sandbox: plans, batches, recipients, groups, inbounds and callbacks.

A file by default, so state survives a restart and several processes (several notebook kernels
each running their own embedded sandbox) can share it: WAL mode lets readers work while one
writer writes, and every write takes the database lock up front (``BEGIN IMMEDIATE``) so two
processes never deadlock upgrading a read lock. ``:memory:`` keeps everything in this process.

With a file, each thread reads through a connection of its own, so a room's delivery-report
polls never queue behind another learner's send while it commits (bench/room.py); writes share
one connection, one at a time. ``:memory:`` has a single connection for everything: another
connection would see another, empty database.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    queue_tail REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    modified_at REAL NOT NULL,
    sender TEXT,
    client_reference TEXT,
    expire_at REAL NOT NULL,
    canceled_at REAL,
    callbacks_pending REAL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_by_plan ON batches (plan_id, created_at);
CREATE INDEX IF NOT EXISTS batches_by_reference ON batches (plan_id, client_reference);
CREATE INDEX IF NOT EXISTS batches_with_callbacks ON batches (callbacks_pending);
CREATE TABLE IF NOT EXISTS recipients (
    batch_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    msisdn TEXT NOT NULL,
    dispatch_at REAL NOT NULL,
    abort_code INTEGER,
    reported INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, idx)
) WITHOUT ROWID;
-- No index by number: a room sends to the same few numbers, so each send would dirty a page
-- of it per recipient (a 100-recipient send took 5x as long). Phones are found per plan.
DROP INDEX IF EXISTS recipients_by_number;
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    name TEXT,
    created_at REAL NOT NULL,
    modified_at REAL NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS groups_by_plan ON groups (plan_id, created_at);
CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL,
    msisdn TEXT NOT NULL,
    PRIMARY KEY (group_id, msisdn)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbounds (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    to_number TEXT NOT NULL,
    from_number TEXT NOT NULL,
    client_reference TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbounds_by_plan ON inbounds (plan_id, received_at);
CREATE TABLE IF NOT EXISTS feedback (
    batch_id TEXT NOT NULL,
    msisdn TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
CREATE TABLE IF NOT EXISTS callback_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS callback_inbox_by_plan ON callback_inbox (plan_id, id);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id TEXT,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    status INTEGER NOT NULL,
    seconds REAL NOT NULL,
    method TEXT,
    path TEXT,
    after INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS request_buckets (
    plan_id TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    updated REAL NOT NULL
);
"""

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A 26-character ULID-style ID (time-ordered, Crockford base32), like current Sinch IDs."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Storage:
    """A writing SQLite connection shared by this process's threads behind a lock, and (for a
    file) a reading connection per thread."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self.path = str(path)
        self.in_memory = self.path == ":memory:"
        if not self.in_memory:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            # Readable by its owner only: it holds everyone's messages (and token hashes).
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        self._lock = threading.RLock()
        self._db = self._connect()
        if not self.in_memory:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            # Copying the log into the file (and syncing it) happens in the background, not
            # inside a learner's send: that made every send in a room wait (bench/room.py).
            self._db.execute("PRAGMA wal_autocheckpoint = 0")
        self._create_schema()
        self._readers = threading.local()
        self._all_readers: list[sqlite3.Connection] = []
        self._lock_file: int | None = None
        if not self.in_memory and fcntl is not None:
            self._lock_file = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._closing = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if not self.in_memory:
            self._checkpointer = threading.Thread(
                target=self._checkpoint, name="xms-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _checkpoint(self, every: float = 1.0) -> None:
        """Copy the write-ahead log into the database file every ``every`` seconds, with a
        connection of its own, letting writers go on meanwhile (PASSIVE)."""
        db = self._connect()
        try:
            while not self._closing.wait(every):
                with suppress(sqlite3.Error):  # busy now: the next round does it
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        # Not checked for the thread: the writer is shared behind the lock, and close() may
        # close a reader from another thread; each reader is otherwise only its thread's.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout = 30000")
        return db

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """This thread's reading connection (the shared one, locked, for ``:memory:``)."""
        if self.in_memory:
            with self._lock:
                yield self._db
            return
        reader: sqlite3.Connection | None = getattr(self._readers, "db", None)
        if reader is None:
            reader = self._readers.db = self._connect()
            # A small page cache each: a room's server has a reader per thread (32), and the
            # operating system caches the file for all of them anyway.
            reader.execute("PRAGMA cache_size = -256")
            with self._lock:
                self._all_readers.append(reader)
        yield reader

    def _create_schema(self) -> None:
        with self._lock:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A transaction that holds the database's write lock from its first statement."""
        with self._lock, self._between_processes():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _between_processes(self) -> Iterator[None]:
        """Writers in other processes on the same file queue here, in turn. SQLite alone makes
        a waiting writer sleep and retry, in steps of up to 100 ms: two worker processes of one
        room each saw sends take a second (bench/room.py). A lock file wakes the next writer the
        moment the last one is done. (Windows has no flock: there, SQLite's own retry.)"""
        if self._lock_file is None:
            yield
            return
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several reads (write nothing through it)."""
        with self._reader() as db:
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """The rows of one read (writes go through :meth:`write`)."""
        with self._reader() as db:
            rows: list[sqlite3.Row] = db.execute(sql, params).fetchall()
            return rows

    def reset(self) -> None:
        """Forget everything but the plans (their tokens and settings): a fresh room."""
        with self.write() as db:
            tables = ("recipients", "batches", "group_members", "groups", "inbounds", "feedback")
            for table in (*tables, "outbox", "callback_inbox"):
                db.execute(f"DELETE FROM {table}")  # our own table names, never input
            db.execute("UPDATE plans SET queue_tail = 0")

    def close(self) -> None:
        self._closing.set()
        if self._checkpointer is not None:
            # Gone before close() returns: a process that forks workers next (--workers) must
            # not fork while this thread is inside SQLite, holding its locks.
            self._checkpointer.join(timeout=5)
        with self._lock:
            for reader in self._all_readers:
                reader.close()
            self._all_readers.clear()
            self._db.close()
            if self._lock_file is not None:
                os.close(self._lock_file)
                self._lock_file = None
