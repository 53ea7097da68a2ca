"""Persistence: migrations, atomic transactions, concurrent writers, content-addressed files."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from api import crud
from api.db import SCHEMA_VERSION, Database
from api.store import BlobStore


def _insert(conn: Connection, analysis_id: str, request_hash: str) -> None:
    crud.insert_analysis(
        conn,
        analysis_id=analysis_id,
        kind="analysis",
        parent_id=None,
        request={},
        request_hash=request_hash,
        title="t",
        shareable=False,
        synthetic=False,
    )


def test_new_database_is_migrated_in_wal_mode(tmp_path: Path) -> None:
    db = Database(tmp_path / "sub" / "db.sqlite3")
    assert db.version() == SCHEMA_VERSION
    assert db.connection().execute(text("PRAGMA journal_mode")).fetchone()[0] == "wal"
    db.close()
    again = Database(tmp_path / "sub" / "db.sqlite3")  # reopening migrates nothing
    assert again.version() == SCHEMA_VERSION
    again.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite3")
    with db.transaction() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.close()
    with pytest.raises(RuntimeError, match="newer than this cartosoins"):
        Database(tmp_path / "db.sqlite3")


def test_newer_legacy_schema_is_refused(tmp_path: Path) -> None:
    """A file of the hand-written migrations with a version this code does not know."""
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (3)")
    with pytest.raises(RuntimeError, match="newer than this cartosoins"):
        Database(tmp_path / "db.sqlite3")


def test_a_failing_transaction_leaves_no_row(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite3")
    with pytest.raises(RuntimeError, match="crash"), db.transaction() as conn:
        _insert(conn, "an_1", "h1")
        crud.insert_job(conn, "job_1", "analysis", "an_1")
        raise RuntimeError("crash between two writes")
    assert crud.get_analysis(db.connection(), "an_1") is None
    assert crud.get_job(db.connection(), "job_1") is None


def test_concurrent_writers_queue_and_the_unique_key_holds(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite3")
    errors: list[BaseException] = []
    created: list[str] = []

    def worker(i: int) -> None:
        try:
            for j in range(20):
                with db.transaction() as conn:
                    # the check-then-insert of a cached request, under the write lock
                    if crud.get_analysis_by_hash(conn, f"h{j}") is None:
                        _insert(conn, f"an_{i}_{j}", f"h{j}")
                        created.append(f"h{j}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(created) == sorted(f"h{j}" for j in range(20))
    count = db.connection().execute(text("SELECT count(*) FROM analyses")).fetchone()[0]
    assert count == 20
    db.close()


def test_blob_store_is_content_addressed_and_atomic(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "files")
    sha = store.put(b"contenu")
    assert store.get(sha) == b"contenu" and store.put(b"contenu") == sha
    assert list((tmp_path / "files" / "tmp").iterdir()) == []  # no temporary file left
    with pytest.raises(ValueError, match="SHA-256"):
        store.path("../../etc/passwd")
    (tmp_path / "files" / "tmp" / "x.tmp").write_bytes(b"half")  # a crash mid-write
    orphan = store.put(b"orphelin")
    assert store.collect_garbage({sha}) == 2
    assert store.exists(sha) and not store.exists(orphan)


def test_close_leaves_a_running_thread_its_connection(tmp_path: Path) -> None:
    """A job past the shutdown's grace time may still write: closing its connection under it
    crashed the process (a segfault seen under load); it keeps it and finishes cleanly."""
    db = Database(tmp_path / "x.sqlite3")
    inside, release = threading.Event(), threading.Event()
    outcome: list[str] = []

    def job() -> None:
        with db.transaction() as conn:
            inside.set()
            release.wait()
            conn.execute(text("SELECT 1")).fetchone()
        outcome.append("committed")

    thread = threading.Thread(target=job)
    thread.start()
    inside.wait()
    db.close()  # the main thread's shutdown, while the job is mid-transaction
    release.set()
    thread.join()
    assert outcome == ["committed"]
    with pytest.raises(RuntimeError, match="closed"):
        db.connection()  # a closed database refuses new work
