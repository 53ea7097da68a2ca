"""The shared job queue: lanes, leases and attempts of jobs; leases of dataset readings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

A job is claimed by one worker (``worker``, ``host:pid:random``) until ``lease_until`` (seconds
since the epoch), a lease its worker renews while it computes; a job whose lease ran out (its
worker died) is claimed again, at most ``job_max_attempts`` times in all. Datasets read in the
background carry the same kind of lease, so another process resumes a reading whose process died.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the lanes, leases and attempts of the shared queue."""
    real = "DOUBLE PRECISION" if op.get_bind().dialect.name == "postgresql" else "REAL"
    op.execute(
        "ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT 'private' "
        "CHECK (lane IN ('private', 'public'))"
    )
    op.execute("ALTER TABLE jobs ADD COLUMN worker TEXT")
    op.execute(f"ALTER TABLE jobs ADD COLUMN lease_until {real}")
    op.execute("ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
    op.execute("CREATE INDEX jobs_queue ON jobs (status, lane, created_at)")
    op.execute("ALTER TABLE datasets ADD COLUMN reader TEXT")
    op.execute(f"ALTER TABLE datasets ADD COLUMN lease_until {real}")
