"""Organisations and people: accounts, roles, sessions, API tokens, sharing, audit log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Every dataset and analysis may belong to an organisation (``organisation_id``; NULL for what
the settings' bootstrap token created, and for everything made before this revision). Secrets
are never stored: passwords as argon2id hashes, session cookies and personal API tokens as
SHA-256 digests of 256-bit random values. Territoires de projet are lists of communes an
organisation saves under a name; ``shares`` gives other organisations read access to a
dataset, an analysis or a territory; ``public_links`` are revocable read-only addresses of an
analysis' map and key figures; ``login_failures`` slows password guessing down (counted in the
database, so every server process sees them); ``audit_log`` says who created, shared,
published or deleted what.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of organisations and people; owners of datasets and analyses."""
    real = "DOUBLE PRECISION" if op.get_bind().dialect.name == "postgresql" else "REAL"
    op.execute(
        """
        CREATE TABLE organisations (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            created_at TEXT NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE memberships (
            user_id TEXT NOT NULL REFERENCES users (id),
            organisation_id TEXT NOT NULL REFERENCES organisations (id),
            role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'reader')),
            created_at TEXT NOT NULL,
            PRIMARY KEY (user_id, organisation_id)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id),
            organisation_id TEXT NOT NULL REFERENCES organisations (id),
            csrf_token TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at {real} NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX sessions_user ON sessions (user_id)")
    op.execute(
        """
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL REFERENCES users (id),
            organisation_id TEXT NOT NULL REFERENCES organisations (id),
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        )
        """
    )
    op.execute(f"CREATE TABLE login_failures (key TEXT NOT NULL, at {real} NOT NULL)")
    op.execute("CREATE INDEX login_failures_key ON login_failures (key, at)")
    op.execute(
        """
        CREATE TABLE audit_log (
            id TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            user_id TEXT,
            organisation_id TEXT,
            action TEXT NOT NULL,
            object_kind TEXT NOT NULL,
            object_id TEXT,
            detail_json TEXT NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX audit_log_organisation ON audit_log (organisation_id, at)")
    op.execute(
        """
        CREATE TABLE project_territories (
            id TEXT PRIMARY KEY,
            organisation_id TEXT NOT NULL REFERENCES organisations (id),
            name TEXT NOT NULL,
            communes_json TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (organisation_id, name)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE shares (
            object_kind TEXT NOT NULL CHECK (object_kind IN ('dataset', 'analysis', 'territory')),
            object_id TEXT NOT NULL,
            organisation_id TEXT NOT NULL REFERENCES organisations (id),
            created_by TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (object_kind, object_id, organisation_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE public_links (
            id TEXT PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            analysis_id TEXT NOT NULL REFERENCES analyses (id),
            organisation_id TEXT,
            created_by TEXT,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )
        """
    )
    op.execute("ALTER TABLE datasets ADD COLUMN organisation_id TEXT")
    op.execute("ALTER TABLE analyses ADD COLUMN organisation_id TEXT")
    op.execute("CREATE INDEX datasets_organisation ON datasets (organisation_id)")
    op.execute("CREATE INDEX analyses_organisation ON analyses (organisation_id)")
