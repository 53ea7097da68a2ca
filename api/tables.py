"""Tables of the service's database, as SQLAlchemy Core objects (SQLite and PostgreSQL).

The schema itself is created and changed by the Alembic migrations of ``api/migrations``; these
objects describe the state after the last one, for the queries of :mod:`api.crud`. Times are
ISO 8601 UTC strings (they sort as times), flags are integers 0/1 (as the first SQLite schema
had them), JSON documents are text (compared as written by :func:`api.crud._dumps`, sorted
keys), leases are seconds since the epoch.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

__all__ = [
    "analyses",
    "api_tokens",
    "audit_log",
    "datasets",
    "jobs",
    "login_failures",
    "memberships",
    "metadata",
    "organisations",
    "project_territories",
    "public_links",
    "renders",
    "sessions",
    "shares",
    "users",
]


class SafeText(TypeDecorator[str]):
    r"""Text whose NUL characters are replaced on PostgreSQL, which refuses them in ``text``.

    SQLite stores them as they are; PostgreSQL would fail the whole request (a file name, a
    message or an identifier looked up, with ``\x00``, coming from outside), so they become
    U+FFFD there: a lookup of such an identifier finds nothing (404) instead of failing.
    Every text column has this type, so every value bound to it (inserts and comparisons) is
    cleaned.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str) and dialect.name == "postgresql" and "\x00" in value:
            return value.replace("\x00", "\ufffd")
        return value


metadata = MetaData()

datasets = Table(
    "datasets",
    metadata,
    Column("id", SafeText, primary_key=True),
    Column("kind", SafeText, nullable=False),
    Column("filename", SafeText, nullable=False),
    Column("format", SafeText, nullable=False),
    Column("options_json", SafeText, nullable=False),
    Column("original_sha256", SafeText, nullable=False),
    Column("original_bytes", Integer, nullable=False),
    Column("parsed_sha256", SafeText, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("columns_json", SafeText, nullable=False),
    Column("info_json", SafeText, nullable=False),
    Column("private", Integer, nullable=False),
    Column("created_at", SafeText, nullable=False),
    Column("status", SafeText, nullable=False),
    Column("progress", Float, nullable=False),
    Column("message", SafeText, nullable=False),
    Column("error", SafeText),
    # background reading: which process reads it, until when its lease runs (epoch seconds)
    Column("reader", SafeText),
    Column("lease_until", Float),
    Column("organisation_id", SafeText),
)

analyses = Table(
    "analyses",
    metadata,
    Column("id", SafeText, primary_key=True),
    Column("kind", SafeText, nullable=False),
    Column("parent_id", SafeText, ForeignKey("analyses.id")),
    Column("request_json", SafeText, nullable=False),
    Column("request_hash", SafeText, nullable=False, unique=True),
    Column("title", SafeText, nullable=False),
    Column("status", SafeText, nullable=False),
    Column("error", SafeText),
    Column("result_sha256", SafeText),
    Column("attrs_json", SafeText),
    Column("summary_json", SafeText),
    Column("extra_json", SafeText),
    Column("shareable", Integer, nullable=False),
    Column("synthetic", Integer, nullable=False),
    Column("job_id", SafeText),
    Column("created_at", SafeText, nullable=False),
    Column("updated_at", SafeText, nullable=False),
    Column("organisation_id", SafeText),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", SafeText, primary_key=True),
    Column("kind", SafeText, nullable=False),
    Column("analysis_id", SafeText, ForeignKey("analyses.id"), nullable=False),
    Column("status", SafeText, nullable=False),
    Column("progress", Float, nullable=False),
    Column("message", SafeText, nullable=False),
    Column("error", SafeText),
    Column("created_at", SafeText, nullable=False),
    Column("updated_at", SafeText, nullable=False),
    # the shared queue: lane, the worker holding the job and until when, attempts so far
    Column("lane", SafeText, nullable=False),
    Column("worker", SafeText),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False),
)

renders = Table(
    "renders",
    metadata,
    Column("analysis_id", SafeText, ForeignKey("analyses.id"), primary_key=True),
    Column("kind", SafeText, primary_key=True),
    Column("sha256", SafeText, nullable=False),
    Column("media_type", SafeText, nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("created_at", SafeText, nullable=False),
)

organisations = Table(
    "organisations",
    metadata,
    Column("id", SafeText, primary_key=True),
    Column("name", SafeText, nullable=False, unique=True),
    Column("kind", SafeText, nullable=False),
    Column("created_at", SafeText, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", SafeText, primary_key=True),
    Column("email", SafeText, nullable=False, unique=True),
    Column("name", SafeText, nullable=False),
    Column("password_hash", SafeText, nullable=False),
    Column("active", Integer, nullable=False),
    Column("created_at", SafeText, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("user_id", SafeText, ForeignKey("users.id"), primary_key=True),
    Column("organisation_id", SafeText, ForeignKey("organisations.id"), primary_key=True),
    Column("role", SafeText, nullable=False),
    Column("created_at", SafeText, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", SafeText, primary_key=True),
    Column("user_id", SafeText, ForeignKey("users.id"), nullable=False),
    Column("organisation_id", SafeText, ForeignKey("organisations.id"), nullable=False),
    Column("csrf_token", SafeText, nullable=False),
    Column("created_at", SafeText, nullable=False),
    Column("expires_at", Float, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", SafeText, primary_key=True),
    Column("token_hash", SafeText, nullable=False, unique=True),
    Column("user_id", SafeText, ForeignKey("users.id"), nullable=False),
    Column("organisation_id", SafeText, ForeignKey("organisations.id"), nullable=False),
    Column("name", SafeText, nullable=False),
    Column("created_at", SafeText, nullable=False),
    Column("last_used_at", SafeText),
    Column("revoked_at", SafeText),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("key", SafeText, nullable=False),
    Column("at", Float, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", SafeText, primary_key=True),
    Column("at", SafeText, nullable=False),
    Column("user_id", SafeText),
    Column("organisation_id", SafeText),
    Column("action", SafeText, nullable=False),
    Column("object_kind", SafeText, nullable=False),
    Column("object_id", SafeText),
    Column("detail_json", SafeText, nullable=False),
)

project_territories = Table(
    "project_territories",
    metadata,
    Column("id", SafeText, primary_key=True),
    Column("organisation_id", SafeText, ForeignKey("organisations.id"), nullable=False),
    Column("name", SafeText, nullable=False),
    Column("communes_json", SafeText, nullable=False),
    Column("created_by", SafeText),
    Column("created_at", SafeText, nullable=False),
    Column("updated_at", SafeText, nullable=False),
)

shares = Table(
    "shares",
    metadata,
    Column("object_kind", SafeText, primary_key=True),
    Column("object_id", SafeText, primary_key=True),
    Column("organisation_id", SafeText, ForeignKey("organisations.id"), primary_key=True),
    Column("created_by", SafeText),
    Column("created_at", SafeText, nullable=False),
)

public_links = Table(
    "public_links",
    metadata,
    Column("id", SafeText, primary_key=True),
    Column("slug", SafeText, nullable=False, unique=True),
    Column("analysis_id", SafeText, ForeignKey("analyses.id"), nullable=False),
    Column("organisation_id", SafeText),
    Column("created_by", SafeText),
    Column("created_at", SafeText, nullable=False),
    Column("revoked_at", SafeText),
)
