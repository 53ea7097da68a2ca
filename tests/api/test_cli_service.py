"""The service's commands: ``migrate``, ``worker`` and ``serve``'s checks, French and clear."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.db import HEAD_REVISION

runner = CliRunner()


def _said(output: str) -> str:
    """The command's output on one line (the console wraps long messages)."""
    return " ".join(output.split())


@pytest.fixture(autouse=True)
def _no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CARTOSOINS_DATABASE_URL", "CARTOSOINS_DATA_DIR", "CARTOSOINS_DATABASE_PATH"):
        monkeypatch.delenv(name, raising=False)


def test_migrate_creates_a_sqlite_database_and_says_its_revision(tmp_path: Path) -> None:
    db = tmp_path / "var" / "base.sqlite3"
    result = runner.invoke(app, ["migrate", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"schéma à jour (révision {HEAD_REVISION})" in result.output
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            HEAD_REVISION,
        )
    again = runner.invoke(app, ["migrate", "--db", str(db)])  # nothing left to do
    assert again.exit_code == 0 and f"révision {HEAD_REVISION}" in again.output


def test_migrate_upgrades_a_database_of_the_former_store_in_place(tmp_path: Path) -> None:
    db = tmp_path / "ancienne.sqlite3"
    with sqlite3.connect(db) as conn:  # schema_version 1 of the hand-written migrations
        conn.executescript(
            """
            CREATE TABLE schema_version (version INTEGER NOT NULL);
            INSERT INTO schema_version VALUES (1);
            CREATE TABLE datasets (id TEXT PRIMARY KEY, kind TEXT NOT NULL, filename TEXT NOT
              NULL, format TEXT NOT NULL, options_json TEXT NOT NULL, original_sha256 TEXT NOT
              NULL, original_bytes INTEGER NOT NULL, parsed_sha256 TEXT NOT NULL, rows INTEGER
              NOT NULL, columns_json TEXT NOT NULL, info_json TEXT NOT NULL, private INTEGER NOT
              NULL DEFAULT 1, created_at TEXT NOT NULL);
            CREATE TABLE analyses (id TEXT PRIMARY KEY, kind TEXT NOT NULL, parent_id TEXT,
              request_json TEXT NOT NULL, request_hash TEXT NOT NULL UNIQUE, title TEXT NOT
              NULL, status TEXT NOT NULL, error TEXT, result_sha256 TEXT, attrs_json TEXT,
              summary_json TEXT, extra_json TEXT, shareable INTEGER NOT NULL DEFAULT 0,
              synthetic INTEGER NOT NULL DEFAULT 0, job_id TEXT, created_at TEXT NOT NULL,
              updated_at TEXT NOT NULL);
            CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, analysis_id TEXT NOT
              NULL, status TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, message TEXT NOT
              NULL DEFAULT '', error TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
            CREATE TABLE renders (analysis_id TEXT NOT NULL, kind TEXT NOT NULL, sha256 TEXT
              NOT NULL, media_type TEXT NOT NULL, bytes INTEGER NOT NULL, created_at TEXT NOT
              NULL, PRIMARY KEY (analysis_id, kind));
            INSERT INTO datasets VALUES ('ds_1', 'od', 'temps.csv', 'csv', '{}', 'a', 1, 'b', 1,
              '[]', '{}', 1, '2026-01-01');
            INSERT INTO analyses VALUES ('an_1', 'analysis', NULL, '{}', 'h', 'Titre', 'done',
              NULL, NULL, NULL, NULL, NULL, 0, 0, 'job_1', '2026-01-01', '2026-01-01');
            INSERT INTO jobs VALUES ('job_1', 'analysis', 'an_1', 'done', 1, 'Terminé', NULL,
              '2026-01-01', '2026-01-01');
            """
        )
    result = runner.invoke(app, ["migrate", "--db", str(db)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT id, status FROM datasets").fetchall() == [("ds_1", "ready")]
        assert conn.execute("SELECT id, lane, attempts, worker FROM jobs").fetchall() == [
            ("job_1", "private", 0, None)
        ]
        assert conn.execute("SELECT title FROM analyses").fetchall() == [("Titre",)]


def test_worker_needs_a_shared_database(tmp_path: Path) -> None:
    result = runner.invoke(app, ["worker"], env={"CARTOSOINS_DATABASE_PATH": str(tmp_path / "x")})
    assert result.exit_code == 2
    assert "cartosoins worker demande une base PostgreSQL partagée" in result.output
    assert "Traceback" not in result.output


def test_serve_no_jobs_needs_a_shared_database(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--no-jobs", "--db", str(tmp_path / "x.sqlite3")])
    assert result.exit_code == 2 and "--no-jobs demande une base PostgreSQL" in result.output


def test_postgresql_without_a_shared_folder_is_refused_in_french() -> None:
    result = runner.invoke(
        app, ["migrate"], env={"CARTOSOINS_DATABASE_URL": "postgresql://u:secret@127.0.0.1:9/x"}
    )
    assert result.exit_code == 2
    assert "CARTOSOINS_DATA_DIR (data_dir) est obligatoire avec une base PostgreSQL" in _said(
        result.output
    )
    assert "secret" not in result.output and "Traceback" not in result.output


def test_a_database_url_error_hides_the_password() -> None:
    result = runner.invoke(
        app, ["migrate"], env={"CARTOSOINS_DATABASE_URL": "mysql://u:secret@127.0.0.1/x"}
    )
    assert result.exit_code == 2
    assert "adresse de base de données inutilisable" in _said(result.output)
    assert "secret" not in result.output and "***" in result.output


def test_an_unreachable_database_is_a_clear_error_without_its_password(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["migrate"],
        env={
            "CARTOSOINS_DATABASE_URL": "postgresql://u:motdepasse@127.0.0.1:9/x",
            "CARTOSOINS_DATA_DIR": str(tmp_path),
        },
    )
    assert result.exit_code == 2
    said = _said(result.output)
    assert "base de données postgresql+psycopg://u:***@127.0.0.1:9/x inutilisable" in said
    assert "motdepasse" not in result.output and "Traceback" not in result.output


def test_admin_creates_organisations_people_and_tokens(tmp_path: Path) -> None:
    db = str(tmp_path / "base.sqlite3")
    made = runner.invoke(
        app, ["admin", "add-organisation", "Pays du Haut-Allier", "--kind", "pays", "--db", db]
    )
    assert made.exit_code == 0 and "Organisation « Pays du Haut-Allier » créée" in made.output
    again = runner.invoke(app, ["admin", "add-organisation", "pays du haut-allier", "--db", db])
    assert again.exit_code == 2 and "s'appelle déjà" in _said(again.output)
    user = runner.invoke(
        app,
        [
            "admin",
            "add-user",
            "Claire@Example.fr",
            "--organisation",
            "Pays du Haut-Allier",
            "--role",
            "editor",
            "--name",
            "Claire Martin",
            "--db",
            db,
        ],
        env={"CARTOSOINS_NEW_PASSWORD": "une phrase de passe assez longue"},
    )
    assert user.exit_code == 0, user.output
    assert "Compte créé claire@example.fr : editor de « Pays du Haut-Allier »" in _said(user.output)
    assert "phrase de passe" not in user.output
    short = runner.invoke(
        app,
        ["admin", "add-user", "b@example.fr", "--organisation", "Pays du Haut-Allier", "--db", db],
        env={"CARTOSOINS_NEW_PASSWORD": "court"},
    )
    assert short.exit_code == 2 and "mot de passe trop court" in _said(short.output)
    no_terminal = runner.invoke(
        app,
        ["admin", "add-user", "c@example.fr", "--organisation", "Pays du Haut-Allier", "--db", db],
    )
    assert no_terminal.exit_code == 2 and "CARTOSOINS_NEW_PASSWORD" in _said(no_terminal.output)
    listed = runner.invoke(app, ["admin", "list", "--db", db])
    assert "Pays du Haut-Allier" in listed.output and "editor  claire@example.fr" in listed.output
    token = runner.invoke(
        app,
        [
            "admin",
            "add-token",
            "claire@example.fr",
            "--organisation",
            "Pays du Haut-Allier",
            "--name",
            "QGIS",
            "--db",
            db,
        ],
    )
    assert token.exit_code == 0, token.output
    secret = token.output.strip().splitlines()[-1]
    assert secret.startswith("cs_")
    with sqlite3.connect(db) as conn:  # kept hashed, never in clear
        stored = conn.execute("SELECT token_hash FROM api_tokens").fetchone()[0]
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY at")]
    assert secret not in stored and actions == ["create", "add_member", "create"]
