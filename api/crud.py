"""Rows of the service's database: datasets, analyses (and scenarios, sitings), jobs, renders.

Plain functions over a connection of :mod:`api.db` (SQLAlchemy Core on SQLite or PostgreSQL):
a transaction's connection for writes, :meth:`api.db.Database.connection` for single reads; the
caller owns the transaction, so several of them commit together or not at all.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import and_, delete, func, insert, or_, select, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping

from api.db import Executor
from api.tables import analyses, datasets, jobs, renders, shares

__all__ = [
    "AnalysisRecord",
    "DatasetRecord",
    "JobRecord",
    "RenderRecord",
    "claim_dataset",
    "claim_job",
    "count_live_datasets_of",
    "count_unfinished_jobs",
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
    "is_shared",
    "job_held_by",
    "list_analyses",
    "list_datasets",
    "list_unfinished_analyses",
    "list_unfinished_jobs",
    "new_id",
    "now",
    "put_render",
    "referenced_blobs",
    "release_job",
    "renew_dataset_leases",
    "renew_job_leases",
    "report_progress",
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
    organisation_id: str | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> DatasetRecord:
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
            organisation_id=row["organisation_id"],
        )


def insert_dataset(
    conn: Executor,
    record: DatasetRecord,
    *,
    reader: str | None = None,
    lease_until: float | None = None,
) -> None:
    """Insert a dataset row (a background reading: held by ``reader`` until ``lease_until``)."""
    conn.execute(
        insert(datasets).values(
            id=record.id,
            kind=record.kind,
            filename=record.filename,
            format=record.format,
            options_json=_dumps(record.options),
            original_sha256=record.original_sha256,
            original_bytes=record.original_bytes,
            parsed_sha256=record.parsed_sha256,
            rows=record.rows,
            columns_json=_dumps(record.columns),
            info_json=_dumps(record.info),
            private=int(record.private),
            created_at=record.created_at,
            status=record.status,
            progress=record.progress,
            message=record.message,
            error=record.error,
            reader=reader,
            lease_until=lease_until,
            organisation_id=record.organisation_id,
        )
    )


def update_dataset_state(
    conn: Executor,
    dataset_id: str,
    *,
    status: str,
    progress: float,
    message: str,
    error: str | None = None,
) -> None:
    """Record the reading state of a dataset (background reading of a big upload)."""
    conn.execute(
        update(datasets)
        .where(datasets.c.id == dataset_id)
        .values(status=status, progress=progress, message=message, error=error)
    )


def finish_dataset(conn: Executor, record: DatasetRecord) -> None:
    """Store the result of a dataset read in the background: ready, with its parsed table."""
    conn.execute(
        update(datasets)
        .where(datasets.c.id == record.id)
        .values(
            format=record.format,
            parsed_sha256=record.parsed_sha256,
            rows=record.rows,
            columns_json=_dumps(record.columns),
            info_json=_dumps(record.info),
            status="ready",
            progress=1.0,
            message=record.message,
            error=None,
            reader=None,
            lease_until=None,
        )
    )


def unfinished_datasets(conn: Executor) -> list[DatasetRecord]:
    """Datasets whose background reading had not ended (a server stopped meanwhile)."""
    rows = conn.execute(
        select(datasets)
        .where(datasets.c.status.in_(("pending", "running")))
        .order_by(datasets.c.created_at, datasets.c.id)
    ).mappings()
    return [DatasetRecord.from_row(r) for r in rows]


def get_dataset(conn: Executor, dataset_id: str) -> DatasetRecord | None:
    """Return the dataset of this id, if any."""
    row = conn.execute(select(datasets).where(datasets.c.id == dataset_id)).mappings().first()
    return None if row is None else DatasetRecord.from_row(row)


def find_dataset(
    conn: Executor,
    kind: str,
    original_sha256: str,
    options: dict[str, Any],
    *,
    private: bool,
    owner: str | None = None,
) -> DatasetRecord | None:
    """Find a dataset of the same bytes, kind, reading options and privacy (a second upload).

    The privacy flag is part of the key: a private upload never returns a public dataset, and a
    public upload never returns (and so never exposes) a private one.
    """
    row = (
        conn.execute(
            select(datasets)
            .where(
                datasets.c.kind == kind,
                datasets.c.original_sha256 == original_sha256,
                datasets.c.options_json == _dumps(options),
                datasets.c.private == int(private),
                _owned_by(datasets, owner),
            )
            .order_by(datasets.c.created_at, datasets.c.id)
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else DatasetRecord.from_row(row)


def list_datasets(
    conn: Executor,
    *,
    public_only: bool,
    limit: int,
    offset: int,
    organisation_id: str | None = None,
) -> list[DatasetRecord]:
    """Datasets, newest first: all, the public ones, or what an organisation may read.

    ``organisation_id`` (a member's organisation): the public ones, its own and those shared
    with it.
    """
    query = select(datasets).order_by(datasets.c.created_at.desc(), datasets.c.id)
    if public_only:
        query = query.where(datasets.c.private == 0)
    elif organisation_id is not None:
        query = query.where(
            or_(
                datasets.c.private == 0,
                datasets.c.organisation_id == organisation_id,
                datasets.c.id.in_(_shared_with("dataset", organisation_id)),
            )
        )
    rows = conn.execute(query.limit(limit).offset(offset)).mappings()
    return [DatasetRecord.from_row(r) for r in rows]


def delete_dataset(conn: Executor, dataset_id: str) -> bool:
    """Delete a dataset row; return whether it existed."""
    return _rowcount(conn.execute(delete(datasets).where(datasets.c.id == dataset_id))) > 0


def count_live_datasets_of(conn: Executor, original_sha256: str, *, besides: str) -> int:
    """Datasets other than ``besides`` of the same original file and not failed."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(datasets)
            .where(
                datasets.c.original_sha256 == original_sha256,
                datasets.c.id != besides,
                datasets.c.status != "failed",
            )
        ).scalar_one()
    )


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
    organisation_id: str | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> AnalysisRecord:
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
            organisation_id=row["organisation_id"],
        )


def insert_analysis(
    conn: Executor,
    *,
    analysis_id: str,
    kind: str,
    parent_id: str | None,
    request: dict[str, Any],
    request_hash: str,
    title: str,
    shareable: bool,
    synthetic: bool,
    organisation_id: str | None = None,
) -> None:
    """Insert a pending analysis (owned by an organisation, or by nobody: the bootstrap)."""
    stamp = now()
    conn.execute(
        insert(analyses).values(
            id=analysis_id,
            kind=kind,
            parent_id=parent_id,
            request_json=_dumps(request),
            request_hash=request_hash,
            title=title,
            status="pending",
            shareable=int(shareable),
            synthetic=int(synthetic),
            created_at=stamp,
            updated_at=stamp,
            organisation_id=organisation_id,
        )
    )


def get_analysis(conn: Executor, analysis_id: str) -> AnalysisRecord | None:
    """Return the analysis of this id, if any."""
    row = conn.execute(select(analyses).where(analyses.c.id == analysis_id)).mappings().first()
    return None if row is None else AnalysisRecord.from_row(row)


def get_analysis_by_hash(conn: Executor, request_hash: str) -> AnalysisRecord | None:
    """Return the analysis of an identical request, if any."""
    row = (
        conn.execute(select(analyses).where(analyses.c.request_hash == request_hash))
        .mappings()
        .first()
    )
    return None if row is None else AnalysisRecord.from_row(row)


def list_analyses(
    conn: Executor,
    *,
    kind: str | None,
    parent_id: str | None,
    shareable_only: bool,
    limit: int,
    offset: int,
    organisation_id: str | None = None,
) -> list[AnalysisRecord]:
    """Analyses, newest first, optionally of one kind or one parent.

    ``organisation_id`` (a member's organisation): the shareable ones, its own and those
    shared with it.
    """
    query = select(analyses).order_by(analyses.c.created_at.desc(), analyses.c.id)
    if kind is not None:
        query = query.where(analyses.c.kind == kind)
    if parent_id is not None:
        query = query.where(analyses.c.parent_id == parent_id)
    if shareable_only:
        query = query.where(analyses.c.shareable == 1)
    elif organisation_id is not None:
        query = query.where(
            or_(
                analyses.c.shareable == 1,
                analyses.c.organisation_id == organisation_id,
                analyses.c.id.in_(_shared_with("analysis", organisation_id)),
            )
        )
    rows = conn.execute(query.limit(limit).offset(offset)).mappings()
    return [AnalysisRecord.from_row(r) for r in rows]


def set_analysis_status(
    conn: Executor,
    analysis_id: str,
    status: Status,
    *,
    error: str | None = None,
    job_id: str | None = None,
) -> None:
    """Change the state of an analysis (and the job computing it)."""
    values: dict[str, Any] = {"status": status, "error": error, "updated_at": now()}
    if job_id is not None:
        values["job_id"] = job_id
    conn.execute(update(analyses).where(analyses.c.id == analysis_id).values(**values))


def set_analysis_result(
    conn: Executor,
    analysis_id: str,
    *,
    result_sha256: str,
    attrs: dict[str, Any],
    summary: dict[str, Any],
    extra: dict[str, Any] | None,
) -> None:
    """Store the result of a finished analysis."""
    conn.execute(
        update(analyses)
        .where(analyses.c.id == analysis_id)
        .values(
            status="done",
            error=None,
            result_sha256=result_sha256,
            attrs_json=_dumps(attrs),
            summary_json=_dumps(summary),
            extra_json=None if extra is None else _dumps(extra),
            updated_at=now(),
        )
    )


def set_shareable(conn: Executor, analysis_id: str, shareable: bool) -> None:
    """Mark an analysis shareable (its map and exports become public) or not."""
    conn.execute(
        update(analyses)
        .where(analyses.c.id == analysis_id)
        .values(shareable=int(shareable), updated_at=now())
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
    lane: str = "private"
    worker: str | None = None
    lease_until: float | None = None
    attempts: int = 0

    @classmethod
    def from_row(cls, row: RowMapping) -> JobRecord:
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
            lane=row["lane"],
            worker=row["worker"],
            lease_until=None if row["lease_until"] is None else float(row["lease_until"]),
            attempts=int(row["attempts"]),
        )


def insert_job(
    conn: Executor, job_id: str, kind: str, analysis_id: str, *, lane: str = "private"
) -> None:
    """Insert a pending job of a lane (``private``: token holders; ``public``: anonymous)."""
    stamp = now()
    conn.execute(
        insert(jobs).values(
            id=job_id,
            kind=kind,
            analysis_id=analysis_id,
            status="pending",
            progress=0.0,
            message="En attente…",
            created_at=stamp,
            updated_at=stamp,
            lane=lane,
            attempts=0,
        )
    )


def get_job(conn: Executor, job_id: str) -> JobRecord | None:
    """Return the job of this id, if any."""
    row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
    return None if row is None else JobRecord.from_row(row)


def update_job(
    conn: Executor,
    job_id: str,
    *,
    status: Status,
    progress: float,
    message: str,
    error: str | None = None,
) -> None:
    """Record a job's state."""
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(status=status, progress=progress, message=message, error=error, updated_at=now())
    )


def list_unfinished_jobs(conn: Executor) -> list[JobRecord]:
    """Jobs pending or running, oldest first (what a stopped server left behind)."""
    rows = conn.execute(
        select(jobs)
        .where(jobs.c.status.in_(("pending", "running")))
        .order_by(jobs.c.created_at, jobs.c.id)
    ).mappings()
    return [JobRecord.from_row(r) for r in rows]


# --------------------------------------------------------------------------------------------
# the shared queue (api.jobs.QueueRunner): claims, leases, takeovers
# --------------------------------------------------------------------------------------------
def claim_job(
    conn: Executor, lane: str, worker: str, *, now_s: float, lease_s: float
) -> JobRecord | None:
    """Take the next job of a lane for ``worker``: pending, or running with a lease run out.

    Jobs never tried come first, oldest first; the row is locked with ``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL (two workers never take the same job, nor wait for each other), and
    SQLite's write lock serialises the claims. The job is ``running``, held by ``worker`` until
    ``now_s + lease_s``, one attempt more; the caller checks the attempts against its limit.
    """
    query = (
        select(jobs)
        .where(
            jobs.c.lane == lane,
            or_(
                jobs.c.status == "pending",
                and_(
                    jobs.c.status == "running",
                    or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < now_s),
                ),
            ),
        )
        .order_by(jobs.c.attempts, jobs.c.created_at, jobs.c.id)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    found = JobRecord.from_row(row)
    taken_over = found.status == "running"
    conn.execute(
        update(jobs)
        .where(jobs.c.id == found.id)
        .values(
            status="running",
            worker=worker,
            lease_until=now_s + lease_s,
            attempts=jobs.c.attempts + 1,
            progress=0.0,
            message="Reprise après l'arrêt du processus qui calculait…"
            if taken_over
            else "Démarrage…",
            updated_at=now(),
        )
    )
    return replace(
        found,
        status="running",
        worker=worker,
        lease_until=now_s + lease_s,
        attempts=found.attempts + 1,
    )


def job_held_by(conn: Executor, job_id: str, worker: str) -> bool:
    """Whether ``worker`` still holds the running job (and lock it until the commit).

    A worker whose lease ran out (another took the job over) must not write its result.
    """
    query = select(jobs.c.status, jobs.c.worker).where(jobs.c.id == job_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return row is not None and row["status"] == "running" and row["worker"] == worker


def report_progress(
    conn: Executor, job_id: str, worker: str, progress: float, message: str
) -> bool:
    """Record a held job's progress; False when ``worker`` no longer holds it."""
    result = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == "running")
        .values(progress=progress, message=message, updated_at=now())
    )
    return _rowcount(result) > 0


def renew_job_leases(conn: Executor, worker: str, job_ids: list[str], until: float) -> set[str]:
    """Extend the leases ``worker`` holds on these running jobs; return those still held."""
    if not job_ids:
        return set()
    rows = conn.execute(
        update(jobs)
        .where(jobs.c.id.in_(job_ids), jobs.c.worker == worker, jobs.c.status == "running")
        .values(lease_until=until)
        .returning(jobs.c.id)
    ).all()
    return {str(r[0]) for r in rows}


def release_job(conn: Executor, job_id: str, worker: str, message: str) -> bool:
    """Give a held job back to the queue (pending, no worker); False when not held."""
    result = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == "running")
        .values(status="pending", worker=None, lease_until=None, message=message, updated_at=now())
    )
    return _rowcount(result) > 0


def count_unfinished_jobs(conn: Executor, lane: str) -> int:
    """Jobs of a lane pending or running (the public lane's cap)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.lane == lane, jobs.c.status.in_(("pending", "running")))
        ).scalar_one()
    )


def claim_dataset(
    conn: Executor, reader: str, *, now_s: float, lease_s: float
) -> DatasetRecord | None:
    """Take a dataset whose background reading has no live reader (its process died)."""
    query = (
        select(datasets)
        .where(
            datasets.c.status.in_(("pending", "running")),
            or_(datasets.c.lease_until.is_(None), datasets.c.lease_until < now_s),
        )
        .order_by(datasets.c.created_at, datasets.c.id)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    conn.execute(
        update(datasets)
        .where(datasets.c.id == row["id"])
        .values(status="pending", reader=reader, lease_until=now_s + lease_s)
    )
    return DatasetRecord.from_row(row)


def renew_dataset_leases(conn: Executor, reader: str, dataset_ids: list[str], until: float) -> None:
    """Extend the leases ``reader`` holds on the readings of these datasets."""
    if dataset_ids:
        conn.execute(
            update(datasets)
            .where(datasets.c.id.in_(dataset_ids), datasets.c.reader == reader)
            .values(lease_until=until)
        )


def list_unfinished_analyses(conn: Executor) -> list[AnalysisRecord]:
    """Analyses (scenarios, sitings) pending or running, oldest first."""
    rows = conn.execute(
        select(analyses)
        .where(analyses.c.status.in_(("pending", "running")))
        .order_by(analyses.c.created_at, analyses.c.id)
    ).mappings()
    return [AnalysisRecord.from_row(r) for r in rows]


def fail_interrupted_jobs(conn: Executor) -> int:
    """Mark failed the jobs (and their analyses) a stopped server left unfinished."""
    message = "Interrompu par un arrêt du serveur ; relancer la demande."
    stamp = now()
    conn.execute(
        update(analyses)
        .where(analyses.c.status.in_(("pending", "running")))
        .values(status="failed", error=message, updated_at=stamp)
    )
    return _rowcount(
        conn.execute(
            update(jobs)
            .where(jobs.c.status.in_(("pending", "running")))
            .values(status="failed", error=message, message=message, updated_at=stamp)
        )
    )


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


def get_render(conn: Executor, analysis_id: str, kind: str) -> RenderRecord | None:
    """Return the stored rendering of an analysis, if any."""
    row = conn.execute(
        select(
            renders.c.analysis_id,
            renders.c.kind,
            renders.c.sha256,
            renders.c.media_type,
            renders.c.bytes,
        ).where(renders.c.analysis_id == analysis_id, renders.c.kind == kind)
    ).first()
    return None if row is None else RenderRecord(*row)


def put_render(conn: Executor, record: RenderRecord) -> None:
    """Store (or replace) a rendering."""
    values = {
        "analysis_id": record.analysis_id,
        "kind": record.kind,
        "sha256": record.sha256,
        "media_type": record.media_type,
        "bytes": record.bytes,
        "created_at": now(),
    }
    # an upsert in the dialect's words (both spell it ON CONFLICT … DO UPDATE)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(renders).values(**values)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[renders.c.analysis_id, renders.c.kind],
            set_={
                k: statement.excluded[k] for k in ("sha256", "media_type", "bytes", "created_at")
            },
        )
    )


def delete_renders(conn: Executor, analysis_id: str) -> None:
    """Forget the renderings of an analysis (before it is recomputed)."""
    conn.execute(delete(renders).where(renders.c.analysis_id == analysis_id))


def referenced_blobs(conn: Executor) -> set[str]:
    """Every file hash a row refers to."""
    rows = conn.execute(
        union(
            select(datasets.c.original_sha256),
            select(datasets.c.parsed_sha256),
            select(analyses.c.result_sha256).where(analyses.c.result_sha256.is_not(None)),
            select(renders.c.sha256),
        )
    ).all()
    return {str(r[0]) for r in rows}


def is_shared(conn: Executor, object_kind: str, object_id: str, organisation_id: str) -> bool:
    """Whether a dataset, an analysis or a territory is shared with an organisation."""
    row = conn.execute(
        select(shares.c.object_id).where(
            shares.c.object_kind == object_kind,
            shares.c.object_id == object_id,
            shares.c.organisation_id == organisation_id,
        )
    ).first()
    return row is not None


def _shared_with(object_kind: str, organisation_id: str) -> Any:
    """Ids of the objects of a kind shared with an organisation (a subquery)."""
    return select(shares.c.object_id).where(
        shares.c.object_kind == object_kind, shares.c.organisation_id == organisation_id
    )


def _owned_by(table: Any, owner: str | None) -> Any:
    """Rows of an organisation, or of nobody (the bootstrap administrator) when None."""
    column = table.c.organisation_id
    return column.is_(None) if owner is None else column == owner


def _rowcount(result: Any) -> int:
    """Rows a DML statement touched."""
    return int(result.rowcount)
