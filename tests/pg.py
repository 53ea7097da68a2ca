"""PostgreSQL for the tests: a throwaway cluster (scripts/pg_cluster.sh) and fresh databases.

:class:`PostgresServer` wraps a server's admin URL (a superuser's SQLAlchemy URL, e.g.
``postgresql+psycopg://postgres@127.0.0.1:54329/postgres``): each test gets a NEW empty
database (:meth:`PostgresServer.create_database`), dropped after it
(:meth:`PostgresServer.drop_database`, which first ends the connections left open). With
:meth:`PostgresServer.prepare_template`, new databases are clones of one migrated template
(``CREATE DATABASE … TEMPLATE``, ``create_database(template=True)``): the Alembic migrations
run once per session, not per test.

:func:`throwaway_server` starts a cluster in a temporary folder on a free port and removes it at
the end; :func:`server_binaries` tells whether the PostgreSQL server is installed.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_SCRIPT = ROOT / "scripts" / "pg_cluster.sh"

__all__ = [
    "CLUSTER_SCRIPT",
    "PostgresServer",
    "server_binaries",
    "start_cluster",
    "stop_cluster",
    "throwaway_server",
]


def server_binaries() -> Path | None:
    """Folder of ``initdb`` and ``pg_ctl`` (same search as the script), or None if absent."""

    def complete(folder: str | Path) -> bool:
        return all(os.access(Path(folder) / name, os.X_OK) for name in ("initdb", "pg_ctl"))

    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"]) if complete(os.environ["PG_BINDIR"]) else None
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and complete(out):
            return Path(out)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(v) if (v := Path(p).parent.name).isdigit() else -1,
    )
    for folder in reversed(versions):
        if complete(folder):
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb and complete(Path(initdb).parent):
        return Path(initdb).parent
    return None


def libpq_url(url: str) -> str:
    """The libpq conninfo URL (for psycopg) of a SQLAlchemy URL ``postgresql+psycopg://…``."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _database_name(url: str) -> str:
    name = make_url(url).database
    if not name:
        raise ValueError(f"no database name in {make_url(url)!r}")
    return name


class PostgresServer:
    """A running PostgreSQL server, reached by a superuser's SQLAlchemy URL.

    Parameters
    ----------
    admin_url : str
        ``postgresql[+psycopg]://user[:password]@host:port/postgres`` of a role allowed to
        create and drop databases (and to end other sessions).
    """

    def __init__(self, admin_url: str) -> None:
        url = make_url(admin_url)
        if url.get_backend_name() != "postgresql":
            raise ValueError(f"not a PostgreSQL URL: {url!r}")
        self.admin_url = url.set(drivername="postgresql+psycopg").render_as_string(
            hide_password=False
        )
        #: migrated template of the new databases (see :meth:`prepare_template`), or None
        self.template: str | None = None
        self._lock = threading.Lock()

    def connect(self, database: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit psycopg connection to ``database`` (default: the admin database)."""
        url = make_url(self.admin_url)
        if database is not None:
            url = url.set(database=database)
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=10)

    def url_of(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server (driver psycopg 3)."""
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def create_database(self, prefix: str = "t", *, template: bool = False) -> str:
        """Create a new database with a unique name ``<prefix>_<hex>``; return its SQLAlchemy URL.

        It is empty, or with ``template=True`` a clone of the migrated template when
        :meth:`prepare_template` was called (the schema at head, no rows).
        """
        clean = re.sub(r"[^a-z0-9_]", "_", prefix.lower())[:30] or "t"
        name = f"{clean}_{uuid.uuid4().hex[:16]}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        with self.connect() as conn:
            if template and self.template is not None:
                statement = sql.SQL("{} TEMPLATE {}").format(
                    statement, sql.Identifier(self.template)
                )
            conn.execute(statement)
        return self.url_of(name)

    def drop_database(self, url_or_name: str) -> None:
        """End the connections to a database, then drop it (nothing if it does not exist)."""
        name = _database_name(url_or_name) if "://" in url_or_name else url_or_name
        if name == make_url(self.admin_url).database:
            raise ValueError(f"refusing to drop the admin database {name!r}")
        ident = sql.Identifier(name)
        with self.connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                return
            # no new session from now on (a pool may reconnect between terminate and drop)
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(ident))
            drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(ident)
            if conn.info.server_version >= 130000:  # also waits for the ended sessions to exit
                drop = sql.SQL("{} WITH (FORCE)").format(drop)
            for attempt in range(50):
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                try:
                    conn.execute(drop)
                    return
                except psycopg.errors.ObjectInUse:
                    if attempt == 49:
                        raise
                    time.sleep(0.1)

    def databases(self, prefix: str = "") -> list[str]:
        """Names of the databases starting with ``prefix``."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY 1",
                (prefix,),
            ).fetchall()
        return [str(row[0]) for row in rows]

    def prepare_template(self, name: str | None = None) -> str:
        """Create and migrate (``api.db.Database(url).close()``) the template of new databases.

        Called once per session; the name is unique (``cartosoins_template_<hex>``, ``name``
        replacing the prefix) so that sessions sharing a server do not block each other.
        Returns the template's name.
        """
        with self._lock:
            if self.template is not None:
                return self.template
            from api.db import Database

            url = self.create_database(name or "cartosoins_template")
            real = _database_name(url)
            try:
                Database(url).close()  # migrates it
                with self.connect() as conn:  # no one may connect to a template being cloned
                    conn.execute(
                        sql.SQL(
                            "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
                        ).format(sql.Identifier(real))
                    )
                    conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()",
                        (real,),
                    )
            except BaseException:
                self.drop_database(real)
                raise
            self.template = real
            return real

    def drop_template(self) -> None:
        """Drop the template made by :meth:`prepare_template`, if any."""
        with self._lock:
            if self.template is None:
                return
            with self.connect() as conn:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(
                        sql.Identifier(self.template)
                    )
                )
            self.drop_database(self.template)
            self.template = None

    def close(self) -> None:
        """Drop what this object left on the server (its template)."""
        self.drop_template()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cluster(directory: Path, port: int | None = None) -> str:
    """Start (initialising if needed) the cluster in ``directory``; return its admin URL."""
    args = ["bash", str(CLUSTER_SCRIPT), "start", str(directory)]
    if port is not None:
        args.append(str(port))
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{CLUSTER_SCRIPT.name} start {directory} failed ({done.returncode}):\n"
            f"{done.stdout}{done.stderr}"
        )
    return done.stdout.strip().splitlines()[-1]


def stop_cluster(directory: Path) -> None:
    """Stop the cluster in ``directory`` (fast mode); nothing if it is not running."""
    subprocess.run(
        ["bash", str(CLUSTER_SCRIPT), "stop", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=True,
    )


@contextmanager
def throwaway_server(keep: bool = False) -> Iterator[PostgresServer]:
    """A new cluster in a temporary folder on a free port, stopped and removed at the end.

    The folder is made under the system temporary folder (short paths: the Unix socket path
    must stay below ~100 characters), e.g. ``/tmp/cartosoins-pg-xxxx``.
    """
    directory = Path(tempfile.mkdtemp(prefix="cartosoins-pg-"))
    try:
        for attempt in range(3):  # another process may take the free port before us
            try:
                url = start_cluster(directory / "cluster", _free_port())
                break
            except RuntimeError:
                stop_cluster(directory / "cluster")
                if attempt == 2:
                    raise
        server = PostgresServer(url)
        try:
            yield server
        finally:
            server.template = None  # dropped with the cluster
    finally:
        try:
            stop_cluster(directory / "cluster")
        finally:
            if not keep:
                shutil.rmtree(directory, ignore_errors=True)
