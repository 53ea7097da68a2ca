"""Rows of the service's database: datasets, analyses (and scenarios, sitings), jobs, renders.

Plain functions over a :class:`sqlite3.Connection`; the caller owns the transaction, so several
of them commit together or not at all.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "AnalysisRecord",
    "DatasetRecord",
    "JobRecord",
    "RenderRecord",
    "delete_dataset",
    "delete_renders",
    "fail_interrupted_jobs",
    "find_dataset",
    "finish_dataset",
    "get_analysis",
    "get_analysis_by_hash",
    "get_dataset",
    "get_job",
    "get_render",
    "insert_analysis",
    "insert_dataset",
    "insert_job",
    "list_analyses",
    "list_datasets",
    "list_unfinished_analyses",
    "list_unfinished_jobs",
    "new_id",
    "now",
    "put_render",
    "referenced_blobs",
    "set_analysis_result",
    "set_analysis_status",
    "set_shareable",
    "unfinished_datasets",
    "update_dataset_state",
    "update_job",
]

Status = Literal["pending", "running", "done", "failed"]


def now() -> str:
    """Return the current UTC time, ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_id(prefix: str) -> str:
    """Make a random identifier ``<prefix>_<26 hex digits>``."""
    return f"{prefix}_{secrets.token_hex(13)}"


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetRecord:
    """An uploaded file and its parsed table."""

    id: str
    kind: str
    filename: str
    format: str
    options: dict[str, Any]
    original_sha256: str
    original_bytes: int
    parsed_sha256: str
    rows: int
    columns: list[str]
    info: dict[str, Any]
    private: bool
    created_at: str
    status: str = "ready"
    progress: float = 1.0
    message: str = ""
    error: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> DatasetRecord:
        """Build from a ``datasets`` row."""
        return cls(
            id=row["id"],
            kind=row["kind"],
            filename=row["filename"],
            format=row["format"],
            options=_loads(row["options_json"]),
            original_sha256=row["original_sha256"],
            original_bytes=int(row["original_bytes"]),
            parsed_sha256=row["parsed_sha256"],
            rows=int(row["rows"]),
            columns=_loads(row["columns_json"]),
            info=_loads(row["info_json"]),
            private=bool(row["private"]),
            created_at=row["created_at"],
            status=row["status"],
            progress=float(row["progress"]),
            message=row["message"],
            error=row["error"],
        )


def insert_dataset(conn: sqlite3.Connection, record: DatasetRecord) -> None:
    """Insert a dataset row."""
    conn.execute(
        "INSERT INTO datasets (id, kind, filename, format, options_json, original_sha256, "
        "original_bytes, parsed_sha256, rows, columns_json, info_json, private, created_at, "
        "status, progress, message, error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.id,
            record.kind,
            record.filename,
            record.format,
            _dumps(record.options),
            record.original_sha256,
            record.original_bytes,
            record.parsed_sha256,
            record.rows,
            _dumps(record.columns),
            _dumps(record.info),
            int(record.private),
            record.created_at,
            record.status,
            record.progress,
            record.message,
            record.error,
        ),
    )


def update_dataset_state(
    conn: sqlite3.Connection,
    dataset_id: str,
    *,
    status: str,
    progress: float,
    message: str,
    error: str | None = None,
) -> None:
    """Record the reading state of a dataset (background reading of a big upload)."""
    conn.execute(
        "UPDATE datasets SET status = ?, progress = ?, message = ?, error = ? WHERE id = ?",
        (status, progress, message, error, dataset_id),
    )


def finish_dataset(conn: sqlite3.Connection, record: DatasetRecord) -> None:
    """Store the result of a dataset read in the background: ready, with its parsed table."""
    conn.execute(
        "UPDATE datasets SET format = ?, parsed_sha256 = ?, rows = ?, columns_json = ?, "
        "info_json = ?, status = 'ready', progress = 1, message = ?, error = NULL WHERE id = ?",
        (
            record.format,
            record.parsed_sha256,
            record.rows,
            _dumps(record.columns),
            _dumps(record.info),
            record.message,
            record.id,
        ),
    )


def unfinished_datasets(conn: sqlite3.Connection) -> list[DatasetRecord]:
    """Datasets whose background reading had not ended (a server stopped meanwhile)."""
    rows = conn.execute(
        "SELECT * FROM datasets WHERE status IN ('pending', 'running') ORDER BY created_at, id"
    ).fetchall()
    return [DatasetRecord.from_row(r) for r in rows]


def get_dataset(conn: sqlite3.Connection, dataset_id: str) -> DatasetRecord | None:
    """Return the dataset of this id, if any."""
    row = conn.execute("SELECT * FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
    return None if row is None else DatasetRecord.from_row(row)


def find_dataset(
    conn: sqlite3.Connection,
    kind: str,
    original_sha256: str,
    options: dict[str, Any],
    *,
    private: bool,
) -> DatasetRecord | None:
    """Find a dataset of the same bytes, kind, reading options and privacy (a second upload).

    The privacy flag is part of the key: a private upload never returns a public dataset, and a
    public upload never returns (and so never exposes) a private one.
    """
    rows = conn.execute(
        "SELECT * FROM datasets WHERE kind = ? AND original_sha256 = ? AND options_json = ? "
        "AND private = ? ORDER BY created_at, id",
        (kind, original_sha256, _dumps(options), int(private)),
    ).fetchall()
    return DatasetRecord.from_row(rows[0]) if rows else None


def list_datasets(
    conn: sqlite3.Connection, *, public_only: bool, limit: int, offset: int
) -> list[DatasetRecord]:
    """Datasets, newest first."""
    where = "WHERE private = 0" if public_only else ""
    rows = conn.execute(
        f"SELECT * FROM datasets {where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
        (limit, offset),
    ).fetchall()
    return [DatasetRecord.from_row(r) for r in rows]


def delete_dataset(conn: sqlite3.Connection, dataset_id: str) -> bool:
    """Delete a dataset row; return whether it existed."""
    return conn.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,)).rowcount > 0


# --------------------------------------------------------------------------------------------
# analyses (kind: analysis, scenario, siting)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnalysisRecord:
    """An analysis request, its state and, once done, its stored result."""

    id: str
    kind: str
    parent_id: str | None
    request: dict[str, Any]
    request_hash: str
    title: str
    status: str
    error: str | None
    result_sha256: str | None
    attrs: dict[str, Any] | None
    summary: dict[str, Any] | None
    extra: dict[str, Any] | None
    shareable: bool
    synthetic: bool
    job_id: str | None
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AnalysisRecord:
        """Build from an ``analyses`` row."""
        return cls(
            id=row["id"],
            kind=row["kind"],
            parent_id=row["parent_id"],
            request=_loads(row["request_json"]),
            request_hash=row["request_hash"],
            title=row["title"],
            status=row["status"],
            error=row["error"],
            result_sha256=row["result_sha256"],
            attrs=_loads(row["attrs_json"]),
            summary=_loads(row["summary_json"]),
            extra=_loads(row["extra_json"]),
            shareable=bool(row["shareable"]),
            synthetic=bool(row["synthetic"]),
            job_id=row["job_id"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


def insert_analysis(
    conn: sqlite3.Connection,
    *,
    analysis_id: str,
    kind: str,
    parent_id: str | None,
    request: dict[str, Any],
    request_hash: str,
    title: str,
    shareable: bool,
    synthetic: bool,
) -> None:
    """Insert a pending analysis."""
    stamp = now()
    conn.execute(
        "INSERT INTO analyses (id, kind, parent_id, request_json, request_hash, title, status, "
        "shareable, synthetic, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
        (
            analysis_id,
            kind,
            parent_id,
            _dumps(request),
            request_hash,
            title,
            int(shareable),
            int(synthetic),
            stamp,
            stamp,
        ),
    )


def get_analysis(conn: sqlite3.Connection, analysis_id: str) -> AnalysisRecord | None:
    """Return the analysis of this id, if any."""
    row = conn.execute("SELECT * FROM analyses WHERE id = ?", (analysis_id,)).fetchone()
    return None if row is None else AnalysisRecord.from_row(row)


def get_analysis_by_hash(conn: sqlite3.Connection, request_hash: str) -> AnalysisRecord | None:
    """Return the analysis of an identical request, if any."""
    row = conn.execute("SELECT * FROM analyses WHERE request_hash = ?", (request_hash,)).fetchone()
    return None if row is None else AnalysisRecord.from_row(row)


def list_analyses(
    conn: sqlite3.Connection,
    *,
    kind: str | None,
    parent_id: str | None,
    shareable_only: bool,
    limit: int,
    offset: int,
) -> list[AnalysisRecord]:
    """Analyses, newest first, optionally of one kind or one parent."""
    clauses, params = [], []
    if kind is not None:
        clauses.append("kind = ?")
        params.append(kind)
    if parent_id is not None:
        clauses.append("parent_id = ?")
        params.append(parent_id)
    if shareable_only:
        clauses.append("shareable = 1")
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = conn.execute(
        f"SELECT * FROM analyses {where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
        (*params, limit, offset),
    ).fetchall()
    return [AnalysisRecord.from_row(r) for r in rows]


def set_analysis_status(
    conn: sqlite3.Connection,
    analysis_id: str,
    status: Status,
    *,
    error: str | None = None,
    job_id: str | None = None,
) -> None:
    """Change the state of an analysis (and the job computing it)."""
    conn.execute(
        "UPDATE analyses SET status = ?, error = ?, job_id = coalesce(?, job_id), updated_at = ? "
        "WHERE id = ?",
        (status, error, job_id, now(), analysis_id),
    )


def set_analysis_result(
    conn: sqlite3.Connection,
    analysis_id: str,
    *,
    result_sha256: str,
    attrs: dict[str, Any],
    summary: dict[str, Any],
    extra: dict[str, Any] | None,
) -> None:
    """Store the result of a finished analysis."""
    conn.execute(
        "UPDATE analyses SET status = 'done', error = NULL, result_sha256 = ?, attrs_json = ?, "
        "summary_json = ?, extra_json = ?, updated_at = ? WHERE id = ?",
        (
            result_sha256,
            _dumps(attrs),
            _dumps(summary),
            None if extra is None else _dumps(extra),
            now(),
            analysis_id,
        ),
    )


def set_shareable(conn: sqlite3.Connection, analysis_id: str, shareable: bool) -> None:
    """Mark an analysis shareable (its map and exports become public) or not."""
    conn.execute(
        "UPDATE analyses SET shareable = ?, updated_at = ? WHERE id = ?",
        (int(shareable), now(), analysis_id),
    )


# --------------------------------------------------------------------------------------------
# jobs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobRecord:
    """Background computation of an analysis, a scenario or a siting."""

    id: str
    kind: str
    analysis_id: str
    status: str
    progress: float
    message: str
    error: str | None
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRecord:
        """Build from a ``jobs`` row."""
        return cls(
            id=row["id"],
            kind=row["kind"],
            analysis_id=row["analysis_id"],
            status=row["status"],
            progress=float(row["progress"]),
            message=row["message"],
            error=row["error"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


def insert_job(conn: sqlite3.Connection, job_id: str, kind: str, analysis_id: str) -> None:
    """Insert a pending job."""
    stamp = now()
    conn.execute(
        "INSERT INTO jobs (id, kind, analysis_id, status, progress, message, created_at, "
        "updated_at) VALUES (?, ?, ?, 'pending', 0, 'En attente…', ?, ?)",
        (job_id, kind, analysis_id, stamp, stamp),
    )


def get_job(conn: sqlite3.Connection, job_id: str) -> JobRecord | None:
    """Return the job of this id, if any."""
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else JobRecord.from_row(row)


def update_job(
    conn: sqlite3.Connection,
    job_id: str,
    *,
    status: Status,
    progress: float,
    message: str,
    error: str | None = None,
) -> None:
    """Record a job's state."""
    conn.execute(
        "UPDATE jobs SET status = ?, progress = ?, message = ?, error = ?, updated_at = ? "
        "WHERE id = ?",
        (status, progress, message, error, now(), job_id),
    )


def list_unfinished_jobs(conn: sqlite3.Connection) -> list[JobRecord]:
    """Jobs pending or running, oldest first (what a stopped server left behind)."""
    rows = conn.execute(
        "SELECT * FROM jobs WHERE status IN ('pending', 'running') ORDER BY created_at, id"
    ).fetchall()
    return [JobRecord.from_row(r) for r in rows]


def list_unfinished_analyses(conn: sqlite3.Connection) -> list[AnalysisRecord]:
    """Analyses (scenarios, sitings) pending or running, oldest first."""
    rows = conn.execute(
        "SELECT * FROM analyses WHERE status IN ('pending', 'running') ORDER BY created_at, id"
    ).fetchall()
    return [AnalysisRecord.from_row(r) for r in rows]


def fail_interrupted_jobs(conn: sqlite3.Connection) -> int:
    """Mark failed the jobs (and their analyses) a stopped server left unfinished."""
    message = "Interrompu par un arrêt du serveur ; relancer la demande."
    stamp = now()
    conn.execute(
        "UPDATE analyses SET status = 'failed', error = ?, updated_at = ? "
        "WHERE status IN ('pending', 'running')",
        (message, stamp),
    )
    return conn.execute(
        "UPDATE jobs SET status = 'failed', error = ?, message = ?, updated_at = ? "
        "WHERE status IN ('pending', 'running')",
        (message, message, stamp),
    ).rowcount


# --------------------------------------------------------------------------------------------
# rendered maps and exports
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RenderRecord:
    """A stored rendering (map, export) of an analysis."""

    analysis_id: str
    kind: str
    sha256: str
    media_type: str
    bytes: int


def get_render(conn: sqlite3.Connection, analysis_id: str, kind: str) -> RenderRecord | None:
    """Return the stored rendering of an analysis, if any."""
    row = conn.execute(
        "SELECT analysis_id, kind, sha256, media_type, bytes FROM renders "
        "WHERE analysis_id = ? AND kind = ?",
        (analysis_id, kind),
    ).fetchone()
    return None if row is None else RenderRecord(*row)


def put_render(conn: sqlite3.Connection, record: RenderRecord) -> None:
    """Store (or replace) a rendering."""
    conn.execute(
        "INSERT OR REPLACE INTO renders (analysis_id, kind, sha256, media_type, bytes, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            record.analysis_id,
            record.kind,
            record.sha256,
            record.media_type,
            record.bytes,
            now(),
        ),
    )


def delete_renders(conn: sqlite3.Connection, analysis_id: str) -> None:
    """Forget the renderings of an analysis (before it is recomputed)."""
    conn.execute("DELETE FROM renders WHERE analysis_id = ?", (analysis_id,))


def referenced_blobs(conn: sqlite3.Connection) -> set[str]:
    """Every file hash a row refers to."""
    rows = conn.execute(
        "SELECT original_sha256 FROM datasets UNION SELECT parsed_sha256 FROM datasets "
        "UNION SELECT result_sha256 FROM analyses WHERE result_sha256 IS NOT NULL "
        "UNION SELECT sha256 FROM renders"
    ).fetchall()
    return {str(r[0]) for r in rows}
