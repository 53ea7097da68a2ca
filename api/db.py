"""Embedded SQLite database of the service: connections, transactions and schema migrations.

WAL mode lets readers work while one writer commits; every write goes through
:meth:`Database.transaction` (``BEGIN IMMEDIATE``), so a request either commits all its rows or
none, and concurrent writers queue instead of failing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Database"]

#: Schema migrations, applied in order; version n is the state after ``MIGRATIONS[n - 1]``.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE datasets (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('practitioners', 'population', 'od', 'osm')),
            filename TEXT NOT NULL,
            format TEXT NOT NULL,
            options_json TEXT NOT NULL,
            original_sha256 TEXT NOT NULL,
            original_bytes INTEGER NOT NULL,
            parsed_sha256 TEXT NOT NULL,
            rows INTEGER NOT NULL,
            columns_json TEXT NOT NULL,
            info_json TEXT NOT NULL,
            private INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX datasets_content ON datasets (kind, original_sha256)",
        """
        CREATE TABLE analyses (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('analysis', 'scenario', 'siting')),
            parent_id TEXT REFERENCES analyses (id),
            request_json TEXT NOT NULL,
            request_hash TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
            error TEXT,
            result_sha256 TEXT,
            attrs_json TEXT,
            summary_json TEXT,
            extra_json TEXT,
            shareable INTEGER NOT NULL DEFAULT 0,
            synthetic INTEGER NOT NULL DEFAULT 0,
            job_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX analyses_parent ON analyses (parent_id)",
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            analysis_id TEXT NOT NULL REFERENCES analyses (id),
            status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
            progress REAL NOT NULL DEFAULT 0,
            message TEXT NOT NULL DEFAULT '',
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE renders (
            analysis_id TEXT NOT NULL REFERENCES analyses (id),
            kind TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            media_type TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (analysis_id, kind)
        )
        """,
    ),
    # datasets read by a background job: state, progress and error of the reading
    (
        "ALTER TABLE datasets ADD COLUMN status TEXT NOT NULL DEFAULT 'ready' "
        "CHECK (status IN ('pending', 'running', 'ready', 'failed'))",
        "ALTER TABLE datasets ADD COLUMN progress REAL NOT NULL DEFAULT 1",
        "ALTER TABLE datasets ADD COLUMN message TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE datasets ADD COLUMN error TEXT",
    ),
)

#: Version of the schema this code expects.
SCHEMA_VERSION = len(MIGRATIONS)

_BUSY_TIMEOUT_MS = 30_000


class Database:
    """A SQLite file shared by the request threads and the background jobs.

    Each thread gets its own connection (sqlite3 connections must not be used by two threads at
    once). :meth:`close` closes those of the calling thread and of threads that have ended; a
    thread still running (a job past the shutdown's grace time) keeps its own until it ends:
    closing a connection another thread is using crashes the process.

    Parameters
    ----------
    path : Path
        Database file; its folder is created.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[sqlite3.Connection, threading.Thread]] = []
        self._closed = False
        self.migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk when the request returns, even after a power cut
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        return conn

    def connection(self) -> sqlite3.Connection:
        """Return the calling thread's connection (autocommit: each read is its own snapshot)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError(f"database {self.path} is closed")
                conn = self._connect()
                self._connections.append((conn, threading.current_thread()))
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a write transaction: ``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error.

        ``IMMEDIATE`` takes the write lock at once, so a read-then-write (look up a cached
        analysis, insert it when absent) cannot interleave with another writer.
        """
        conn = self.connection()
        if conn.in_transaction:
            raise RuntimeError("nested transaction on the same connection")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def version(self) -> int:
        """Return the schema version of the file (0 for a new file)."""
        conn = self.connection()
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def migrate(self) -> None:
        """Apply the migrations the file lacks, each in its own transaction."""
        current = self.version()
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"database {self.path} has schema version {current}, newer than this "
                f"cartosoins ({SCHEMA_VERSION}); upgrade cartosoins"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self.transaction() as conn:
                # re-read under the write lock: another process may have migrated meanwhile
                row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
                if int(row[0] or 0) >= version:
                    continue
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    def close(self) -> None:
        """Close the connections no other running thread holds (the object is unusable after).

        A thread still running keeps its connection, which is closed when the thread ends and
        its thread-local storage goes: sqlite3 would crash (not raise) if a connection were
        closed while another thread executes on it.
        """
        current = threading.current_thread()
        with self._lock:
            self._closed = True
            for conn, owner in self._connections:
                if owner is current or not owner.is_alive():
                    conn.close()
            self._connections.clear()
