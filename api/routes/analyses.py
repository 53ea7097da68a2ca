"""Analyses: a measure on a territory's communes, computed in the background and stored.

An identical request is served from the store (``cached``); per-commune results come as
GeoJSON, CSV and GeoPackage. Results are private unless the analysis is marked shareable.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api.deps import AccessDep, ServicesDep, ensure_readable, require_token
from api.routes.common import BASELINE_LINKS, AnalysisId, analysis_public, started, stored_file
from api.schemas import AnalysisCreate, AnalysisPublic, AnalysisUpdate, ErrorPublic
from api.services import Conflict

router = APIRouter(prefix="/analyses", tags=["analyses"])

_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "Private analysis: the token is needed."},
    404: {"model": ErrorPublic, "description": "No such analysis."},
    409: {"model": ErrorPublic, "description": "Not done yet (see its job)."},
}


@router.post(
    "",
    summary="Create an analysis",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_token)],
    responses={
        200: {
            "model": AnalysisPublic,
            "description": "Identical request already computed.",
            "links": BASELINE_LINKS,
        },
        202: {"description": "Computing: follow `job`.", "links": BASELINE_LINKS},
        404: {"model": ErrorPublic, "description": "Unknown territory or dataset."},
        422: {"model": ErrorPublic, "description": "Invalid request."},
    },
)
def create_analysis(
    body: AnalysisCreate, services: ServicesDep, response: Response
) -> AnalysisPublic:
    """Start computing a measure (202, follow `job`), or return the stored identical one."""
    return started(services.create_analysis(body), response)


@router.get("", summary="List the analyses")
def list_analyses(
    services: ServicesDep,
    access: AccessDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AnalysisPublic]:
    """Analyses (not their scenarios), newest first; without the token, the shareable ones."""
    records = services.list_analyses(
        kind="analysis",
        parent_id=None,
        shareable_only=not access.authenticated,
        limit=limit,
        offset=offset,
    )
    return [analysis_public(r, None) for r in records]


@router.get("/{analysis_id}", summary="One analysis", responses=_READ_ERRORS)
def read_analysis(
    analysis_id: AnalysisId, services: ServicesDep, access: AccessDep
) -> AnalysisPublic:
    """State, request and summary of an analysis, scenario or siting."""
    record = services.analysis(analysis_id)
    ensure_readable(record, access)
    return analysis_public(record, services.job_of(record))


@router.patch(
    "/{analysis_id}",
    summary="Share or unshare an analysis",
    dependencies=[Depends(require_token)],
    responses={404: {"model": ErrorPublic}},
)
def update_analysis(
    analysis_id: AnalysisId, body: AnalysisUpdate, services: ServicesDep
) -> AnalysisPublic:
    """Mark the analysis shareable (map and exports public) or private again."""
    record = services.set_shareable(analysis_id, body.shareable)
    return analysis_public(record, services.job_of(record))


@router.get("/{analysis_id}/summary", summary="Summary of an analysis", responses=_READ_ERRORS)
def read_summary(
    analysis_id: AnalysisId, services: ServicesDep, access: AccessDep
) -> dict[str, Any]:
    """Return population, population beyond the threshold, weighted mean, parameters.

    Also the sources and the synthetic flag (« praticiens simulés »).
    """
    record = services.analysis(analysis_id)
    ensure_readable(record, access)
    if record.status != "done":
        raise Conflict(f"analysis {analysis_id!r} is {record.status}, not done")
    return dict(record.summary or {}) | {"id": record.id, "kind": record.kind}


def _export(
    analysis_id: str,
    kind: str,
    suffix: str,
    services: ServicesDep,
    access: AccessDep,
    request: Request,
) -> Response:
    record = services.analysis(analysis_id)
    ensure_readable(record, access)
    render = services.rendering(record, kind)
    return stored_file(
        services, render, request, filename=f"communes_{record.id}.{suffix}", public=False
    )


@router.get(
    "/{analysis_id}/communes.geojson",
    summary="Per-commune results (GeoJSON)",
    responses=_READ_ERRORS | {200: {"content": {"application/geo+json": {}}}},
    response_class=Response,
)
def read_geojson(
    analysis_id: AnalysisId, services: ServicesDep, access: AccessDep, request: Request
) -> Response:
    """One feature per commune (WGS 84) with the metadata in a `metadata` member."""
    return _export(analysis_id, "geojson", "geojson", services, access, request)


@router.get(
    "/{analysis_id}/communes.csv",
    summary="Per-commune results (CSV)",
    responses=_READ_ERRORS | {200: {"content": {"text/csv": {}}}},
    response_class=Response,
)
def read_csv(
    analysis_id: AnalysisId, services: ServicesDep, access: AccessDep, request: Request
) -> Response:
    """One row per commune, UTF-8, comma-separated; `source_praticiens` flags simulated data."""
    return _export(analysis_id, "csv", "csv", services, access, request)


@router.get(
    "/{analysis_id}/communes.gpkg",
    summary="Per-commune results (GeoPackage)",
    responses=_READ_ERRORS | {200: {"content": {"application/geopackage+sqlite3": {}}}},
    response_class=Response,
)
def read_gpkg(
    analysis_id: AnalysisId, services: ServicesDep, access: AccessDep, request: Request
) -> Response:
    """Layer `communes` and table `metadonnees` (parameters, sources, synthetic flag)."""
    return _export(analysis_id, "gpkg", "gpkg", services, access, request)
