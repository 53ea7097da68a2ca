"""What several routers share: public views of stored records and stored-file responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import FileResponse, Response

from api import core
from api.accounts import Principal
from api.crud import AnalysisRecord, DatasetRecord, JobRecord, RenderRecord
from api.schemas import AnalysisPublic, DatasetPublic, JobPublic
from api.services import Services
from geo.maps.choropleth import SYNTHETIC_LABEL

__all__ = [
    "ANALYSIS_LINKS",
    "BASELINE_LINKS",
    "DATASET_LINKS",
    "AnalysisId",
    "DatasetIdPath",
    "JobId",
    "analysis_public",
    "dataset_public",
    "job_public",
    "practitioners_source_of",
    "stored_file",
]

AnalysisId = Annotated[
    str, Path(pattern=r"^(an|sc|si)_[0-9a-f]{26}$", description="Analysis, scenario or siting id.")
]
DatasetIdPath = Annotated[str, Path(pattern=r"^ds_[0-9a-f]{26}$", description="Dataset id.")]
JobId = Annotated[str, Path(pattern=r"^job_[0-9a-f]{26}$", description="Job id.")]


def _link(operation: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation, "parameters": parameters}


#: OpenAPI links from a created analysis (scenario, siting) to what can be done with it.
ANALYSIS_LINKS: dict[str, Any] = {
    "ReadAnalysis": _link("read_analysis", analysis_id="$response.body#/id"),
    "ReadSummary": _link("read_summary", analysis_id="$response.body#/id"),
    "ReadMap": _link("read_map_html", analysis_id="$response.body#/id"),
    "ReadCsv": _link("read_csv", analysis_id="$response.body#/id"),
    "ReadJob": _link("read_job", job_id="$response.body#/job/id"),
}
#: OpenAPI links from a created analysis to its scenarios and sitings.
BASELINE_LINKS: dict[str, Any] = ANALYSIS_LINKS | {
    "CreateScenario": _link("create_scenario", analysis_id="$response.body#/id"),
    "CreateSiting": _link("create_siting", analysis_id="$response.body#/id"),
}
#: OpenAPI links from an uploaded dataset.
DATASET_LINKS: dict[str, Any] = {
    "ReadDataset": _link("read_dataset", dataset_id="$response.body#/id"),
    "DeleteDataset": _link("delete_dataset", dataset_id="$response.body#/id"),
}


def job_public(job: JobRecord) -> JobPublic:
    """Public view of a job."""
    return JobPublic(
        id=job.id,
        kind=job.kind,
        analysis_id=job.analysis_id,
        status=job.status,  # type: ignore[arg-type]
        progress=job.progress,
        message=job.message,
        error=job.error,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


def analysis_links(record: AnalysisRecord) -> dict[str, str]:
    """Where to find an analysis, its job and its outputs."""
    base = f"/analyses/{record.id}"
    links = {"self": base}
    if record.job_id:
        links["job"] = f"/jobs/{record.job_id}"
    if record.parent_id:
        links["parent"] = f"/analyses/{record.parent_id}"
    if record.status == "done":
        links |= {
            "summary": f"{base}/summary",
            "map_html": f"/maps/{record.id}.html",
            "map_png": f"/maps/{record.id}.png",
            "geojson": f"{base}/communes.geojson",
            "csv": f"{base}/communes.csv",
            "gpkg": f"{base}/communes.gpkg",
        }
        if record.kind == "analysis":
            links |= {"scenarios": f"{base}/scenarios", "siting": f"{base}/siting"}
    return links


def practitioners_source_of(record: AnalysisRecord) -> str | None:
    """Where an analysis' practitioners come from: its summary, else its dataset."""
    summary = record.summary or {}
    label = summary.get("source_praticiens") or (summary.get("sources") or {}).get("practitioners")
    if label:
        return str(label)
    if record.synthetic:
        return SYNTHETIC_LABEL
    dataset = record.request.get("dataset")
    return None if dataset is None else core.practitioners_source(str(dataset))


def public_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """Show a stored request with the practitioners' identifiers counted, not listed.

    A scenario may name the practitioners who leave by their identifier (an RPPS number: personal
    data); the store keeps them to recompute the scenario, responses say how many.
    """
    shown = dict(request)
    changes = shown.get("changes")
    if isinstance(changes, list):
        shown["changes"] = [
            {**{k: v for k, v in change.items() if k != "ids"}, "ids_count": len(change["ids"])}
            if isinstance(change, Mapping) and isinstance(change.get("ids"), list)
            else change
            for change in changes
        ]
    return shown


def analysis_public(
    record: AnalysisRecord, job: JobRecord | None, *, cached: bool = False
) -> AnalysisPublic:
    """Public view of an analysis (scenario, siting) and its latest job."""
    return AnalysisPublic(
        id=record.id,
        kind=record.kind,  # type: ignore[arg-type]
        parent_id=record.parent_id,
        title=record.title,
        status=record.status,  # type: ignore[arg-type]
        error=record.error,
        shareable=record.shareable,
        synthetic=record.synthetic,
        label=SYNTHETIC_LABEL if record.synthetic else None,
        practitioners_source=practitioners_source_of(record),
        cached=cached,
        request=public_request(record.request),
        summary=record.summary,
        job=None if job is None else job_public(job),
        links=analysis_links(record),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def started(
    created: tuple[AnalysisRecord, JobRecord | None, bool], response: Response
) -> AnalysisPublic:
    """Answer a started computation: 202 with its job, or 200 when served from the store."""
    record, job, cached = created
    if cached and record.status == "done":
        response.status_code = 200
    response.headers["Location"] = f"/analyses/{record.id}"
    return analysis_public(record, job, cached=cached)


def children(
    services: Services,
    access: Principal,
    analysis_id: str,
    kind: str,
    limit: int,
    offset: int,
) -> list[AnalysisPublic]:
    """Scenarios or sitings of an analysis the caller may read, newest first."""
    records = services.list_analyses(
        kind=kind,
        parent_id=analysis_id,
        shareable_only=not access.authenticated,
        limit=limit,
        offset=offset,
        organisation_id=None
        if access.bootstrap or access.organisation is None
        else access.organisation.id,
    )
    return [analysis_public(r, None) for r in records]


def dataset_public(record: DatasetRecord) -> DatasetPublic:
    """Public view of a dataset (its metadata, never its content)."""
    synthetic = bool(record.info.get("synthetic", False))
    return DatasetPublic(
        id=record.id,
        kind=record.kind,  # type: ignore[arg-type]
        filename=record.filename,
        format=record.format,
        rows=record.rows,
        columns=record.columns,
        info=record.info,
        private=record.private,
        original_bytes=record.original_bytes,
        created_at=record.created_at,
        synthetic=synthetic,
        label=SYNTHETIC_LABEL if synthetic else None,
        status=record.status,  # type: ignore[arg-type]
        progress=record.progress,
        message=record.message,
        error=record.error,
    )


def stored_file(
    services: Services,
    render: RenderRecord,
    request: Request,
    *,
    filename: str | None = None,
    frame_ancestors: str | None = None,
    public: bool = False,
) -> Response:
    """Serve a stored rendering, with its hash as ETag (``If-None-Match`` gets a 304)."""
    etag = f'"{render.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": ("public" if public else "private") + ", no-cache",
    }
    if frame_ancestors is not None:
        headers["Content-Security-Policy"] = f"frame-ancestors {frame_ancestors}"
    if filename is not None:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return FileResponse(
        services.blob_path(render.sha256), media_type=render.media_type, headers=headers
    )
