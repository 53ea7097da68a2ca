"""Datasets read by a background job: state, progress and error (schema_version 2).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the reading state of datasets."""
    real = "DOUBLE PRECISION" if op.get_bind().dialect.name == "postgresql" else "REAL"
    op.execute(
        "ALTER TABLE datasets ADD COLUMN status TEXT NOT NULL DEFAULT 'ready' "
        "CHECK (status IN ('pending', 'running', 'ready', 'failed'))"
    )
    op.execute(f"ALTER TABLE datasets ADD COLUMN progress {real} NOT NULL DEFAULT 1")
    op.execute("ALTER TABLE datasets ADD COLUMN message TEXT NOT NULL DEFAULT ''")
    op.execute("ALTER TABLE datasets ADD COLUMN error TEXT")
