"""scripts/pg_cluster.sh and tests/pg.py: a throwaway cluster, databases made and dropped."""

from __future__ import annotations

import subprocess

import psycopg
import pytest

from tests.pg import CLUSTER_SCRIPT, PostgresServer

pytestmark = pytest.mark.postgresql


def test_script_prints_the_admin_url() -> None:
    done = subprocess.run(
        ["bash", str(CLUSTER_SCRIPT), "url", "/nonexistent-cluster-dir-for-url", "54999"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "postgresql+psycopg://postgres@127.0.0.1:54999/postgres"


def test_server_answers_with_test_settings(postgres_server: PostgresServer) -> None:
    with postgres_server.connect() as conn:
        row = conn.execute("SHOW server_encoding").fetchone()
        assert row == ("UTF8",)
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        assert row == (True,)


def test_create_and_drop_database(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("pgtest")
    other = postgres_server.create_database("pgtest")
    assert url != other and url.startswith("postgresql+psycopg://")
    name = url.rsplit("/", 1)[1]
    assert name.startswith("pgtest_")
    assert name in postgres_server.databases("pgtest_")
    with postgres_server.connect(name) as conn:  # a new, empty database
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (1,)
    postgres_server.drop_database(url)
    postgres_server.drop_database(other)
    assert postgres_server.databases("pgtest_") == []
    postgres_server.drop_database(url)  # already gone: nothing to do


def test_drop_terminates_open_connections(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("pgbusy")
    name = url.rsplit("/", 1)[1]
    idle = postgres_server.connect(name)
    in_transaction = postgres_server.connect(name)
    in_transaction.autocommit = False
    in_transaction.execute("CREATE TABLE t (x int)")  # a transaction left open
    try:
        postgres_server.drop_database(url)
        assert name not in postgres_server.databases("pgbusy_")
        with pytest.raises(psycopg.OperationalError):
            idle.execute("SELECT 1")
    finally:
        idle.close()
        in_transaction.close()


def test_admin_database_is_never_dropped(postgres_server: PostgresServer) -> None:
    with pytest.raises(ValueError, match="admin database"):
        postgres_server.drop_database(postgres_server.admin_url)


def test_template_clones_are_independent(postgres_server: PostgresServer) -> None:
    """A template-made database starts as a copy of it; later changes stay in the copy."""
    server = PostgresServer(postgres_server.admin_url)  # own template, not the session's
    template_url = server.create_database("pgtpl")
    template = template_url.rsplit("/", 1)[1]
    with server.connect(template) as conn:
        conn.execute("CREATE TABLE seed (x int)")
        conn.execute("INSERT INTO seed VALUES (42)")
    server.template = template
    first = server.create_database("pgclone", template=True)
    second = server.create_database("pgclone", template=True)
    empty = server.create_database("pgempty")  # no template asked: an empty database
    try:
        with server.connect(empty.rsplit("/", 1)[1]) as conn:
            seed = conn.execute("SELECT to_regclass('public.seed')").fetchone()
            assert seed == (None,)
        with server.connect(first.rsplit("/", 1)[1]) as conn:
            assert conn.execute("SELECT x FROM seed").fetchall() == [(42,)]
            conn.execute("INSERT INTO seed VALUES (1)")
        with server.connect(second.rsplit("/", 1)[1]) as conn:
            assert conn.execute("SELECT x FROM seed").fetchall() == [(42,)]
    finally:
        for url in (first, second, empty):
            server.drop_database(url)
        server.template = None
        server.drop_database(template)
