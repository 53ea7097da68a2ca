"""Initial schema: datasets, analyses, jobs and renders (schema_version 1 of the old store).

Revision ID: 0001
Revises:
Create Date: 2026-11-20

The statements are those of the first hand-written SQLite migration, so a database created by
Alembic and one created before it (stamped at this revision by :mod:`api.db`) have the same
tables; floating-point columns are ``DOUBLE PRECISION`` on PostgreSQL (its ``REAL`` is 4 bytes).
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def real() -> str:
    """Return the 8-byte floating-point type of the dialect."""
    return "DOUBLE PRECISION" if op.get_bind().dialect.name == "postgresql" else "REAL"


def upgrade() -> None:
    """Create the four tables."""
    op.execute(
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
        """
    )
    op.execute("CREATE INDEX datasets_content ON datasets (kind, original_sha256)")
    op.execute(
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
        """
    )
    op.execute("CREATE INDEX analyses_parent ON analyses (parent_id)")
    op.execute(
        f"""
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            analysis_id TEXT NOT NULL REFERENCES analyses (id),
            status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
            progress {real()} NOT NULL DEFAULT 0,
            message TEXT NOT NULL DEFAULT '',
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    op.execute(
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
        """
    )
