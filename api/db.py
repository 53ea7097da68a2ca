"""The service's database: SQLite (embedded, the default) or PostgreSQL, through SQLAlchemy Core.

Every write goes through :meth:`Database.transaction`, so a request either commits all its rows
or none. On SQLite (WAL: readers work while one writer commits) the transaction starts with
``BEGIN IMMEDIATE``: writers queue, and a read-then-write (look up a cached analysis, insert it
when absent) cannot interleave with another writer. On PostgreSQL writers run concurrently; the
read-then-writes that must not interleave take an advisory lock on their key first
(:func:`lock`), which is a no-op on SQLite.

The schema is made by the Alembic migrations of ``api/migrations`` (``cartosoins migrate``, or
at the first opening); a SQLite file made by the hand-written migrations of earlier versions
(table ``schema_version``) is stamped at the matching revision, then upgraded in place.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Dialect, Result, make_url
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Executable

__all__ = ["SCHEMA_VERSION", "Database", "Executor", "database_url", "lock"]

logger = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Revision of the schema this code expects (``0004``: organisations and people).
HEAD_REVISION = "0004"
#: The same, as the integer reported by ``/health``.
SCHEMA_VERSION = int(HEAD_REVISION)
# versions of the hand-written SQLite migrations and the revision each one equals
_LEGACY_REVISIONS = {1: "0001", 2: "0002"}
_BUSY_TIMEOUT_MS = 30_000
# key of the advisory lock the migrations hold on PostgreSQL
_MIGRATION_LOCK = "cartosoins:migrations"


def database_url(target: Path | str) -> str:
    """Normalise where the database is: a SQLite file path, or a SQLAlchemy URL.

    ``postgresql://`` and ``postgres://`` URLs get the psycopg 3 driver
    (``postgresql+psycopg://``); a plain path becomes ``sqlite:///<absolute path>``.
    """
    if isinstance(target, Path) or "://" not in target:
        return f"sqlite:///{Path(target).expanduser().resolve()}"
    url = make_url(target)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"base de données non prise en charge : {url.get_backend_name()!r} "
            "(SQLite ou PostgreSQL attendus)"
        )
    return url.render_as_string(hide_password=False)


def _key(name: str) -> int:
    """Return the signed 64-bit advisory-lock key of a name (stable across processes)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock(conn: Connection, *names: str) -> None:
    """Hold advisory locks on ``names`` until the transaction ends (PostgreSQL; SQLite: no-op).

    SQLite's ``BEGIN IMMEDIATE`` already serialises writers; PostgreSQL's transactions run
    side by side, so a check-then-insert on a key (a request hash, a stored file) locks the key
    first. Locks are taken in sorted order: two transactions cannot deadlock on them.
    """
    if conn.dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _key(name)})


class _Reader:
    """Reads outside a write transaction: each statement on a pooled connection, alone.

    Each read is its own snapshot (as the SQLite store always behaved): a short read
    transaction (SQLite: a deferred ``BEGIN``, which takes no write lock) whose rows are
    fetched before the connection goes back to the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def dialect(self) -> Dialect:
        """The database's dialect (``.name``: ``sqlite`` or ``postgresql``)."""
        return self._engine.dialect

    def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | Sequence[Any] | None = None
    ) -> Result[Any]:
        with self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # one round trip, not BEGIN + SELECT + ROLLBACK: a lone read needs no transaction
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                conn = conn.execution_options(cartosoins_read=True)
            result = conn.execute(statement, parameters)
            if not result.returns_rows:
                return result
            return result.freeze()()


#: What :mod:`api.crud` reads and writes through: a transaction's connection or a reader.
Executor = Connection | _Reader


class Database:
    """The store of the service, shared by the request threads, the jobs and other processes.

    Parameters
    ----------
    target : Path or str
        A SQLite file (its folder is created) or a SQLAlchemy URL (``sqlite:///…``,
        ``postgresql://user@host/db``).
    pool_size : int
        PostgreSQL: connections kept open per process (more are opened under a burst, up to
        twice as many); SQLite keeps one per thread that used it.
    migrate : bool
        Apply the migrations the database lacks (default); False only checks nothing.
    """

    def __init__(self, target: Path | str, *, pool_size: int = 10, migrate: bool = True) -> None:
        self.url = database_url(target)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self.path: Path | None = None
        if self.dialect == "sqlite":
            self.path = Path(parsed.database or "")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                self.url,
                connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                pool_size=64,
                max_overflow=64,
            )
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=2 * pool_size,
                pool_pre_ping=True,
                pool_timeout=60,
            )
        self._reader = _Reader(self.engine)
        self._lock = threading.Lock()
        self._closed = False
        if migrate:
            self.migrate()

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"

    @property
    def display_url(self) -> str:
        """The URL without its password (for logs and messages)."""
        return make_url(self.url).render_as_string(hide_password=True)

    def connection(self) -> _Reader:
        """Return a reader: each ``execute`` is its own snapshot."""
        if self._closed:
            raise RuntimeError(f"database {self.display_url} is closed")
        return self._reader

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Run a write transaction, committed at the end of the block, rolled back on any error.

        SQLite: ``BEGIN IMMEDIATE`` (the write lock at once); PostgreSQL: ``READ COMMITTED``,
        with :func:`lock` where a read-then-write must not interleave.
        """
        if self._closed:
            raise RuntimeError(f"database {self.display_url} is closed")
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def version(self) -> int:
        """Return the schema revision of the database as an integer (0 for a new one)."""
        with self.engine.connect() as conn:
            return int(_current_revision(conn) or 0)

    def migrate(self) -> None:
        """Apply the migrations the database lacks, in one transaction (safe from two processes).

        Raises
        ------
        RuntimeError
            The database was made by a newer cartosoins (unknown revision).
        """
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
        with self.transaction() as conn:
            lock(conn, _MIGRATION_LOCK)
            config.attributes["connection"] = conn
            current = _current_revision(conn)
            legacy = _legacy_version(conn) if current is None else None
            if legacy is not None:
                if legacy not in _LEGACY_REVISIONS:
                    raise RuntimeError(
                        f"database {self.display_url} has schema version {legacy}, newer than "
                        f"this cartosoins ({SCHEMA_VERSION}); upgrade cartosoins"
                    )
                command.stamp(config, _LEGACY_REVISIONS[legacy])
                current = _LEGACY_REVISIONS[legacy]
            if current is not None and current not in known:
                raise RuntimeError(
                    f"database {self.display_url} has schema revision {current}, newer than "
                    f"this cartosoins ({HEAD_REVISION}); upgrade cartosoins"
                )
            if current != HEAD_REVISION:
                logger.info("migrating %s from %s to %s", self.display_url, current, HEAD_REVISION)
                command.upgrade(config, "head")

    def close(self) -> None:
        """Close the pooled connections (the object is unusable after).

        A connection another thread still holds (a job past the shutdown's grace time, inside
        its transaction) is left to it and closed when it is given back.
        """
        with self._lock:
            self._closed = True
        self.engine.dispose()


def _current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


def _legacy_version(conn: Connection) -> int | None:
    """Version of a database made by the hand-written SQLite migrations (None when not one)."""
    if not inspect(conn).has_table("schema_version"):
        return None
    row = conn.execute(text("SELECT max(version) FROM schema_version")).first()
    return None if row is None or row[0] is None else int(row[0])


def _sqlite_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # the driver's own transaction handling off: BEGIN is emitted by _sqlite_begin
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk when the request returns, even after a power cut
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # a reader takes no lock; a writer takes the write lock at once (writers queue)
    read = conn.get_execution_options().get("cartosoins_read", False)
    conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")
