"""Analyses: a measure on a territory's communes, computed in the background and stored.

An identical request is served from the store (``cached``); per-commune results come as
GeoJSON, CSV and GeoPackage. Results are private unless the analysis is marked shareable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from enum import IntEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api import core
from api.core import BPE_DATASET, DEMO_DATASET
from api.deps import (
    AccessDep,
    ServicesDep,
    ensure_owned,
    ensure_readable,
    owner_of,
    record_action,
    require_token,
)
from api.errors import RATE_LIMITED
from api.routes.common import BASELINE_LINKS, AnalysisId, analysis_public, started, stored_file
from api.schemas import AnalysisCreate, AnalysisPublic, AnalysisUpdate, ErrorPublic
from api.services import CACHE_VERSION, Conflict

router = APIRouter(prefix="/analyses", tags=["analyses"])

_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "Private analysis: the token is needed."},
    404: {"model": ErrorPublic, "description": "No such analysis."},
    409: {"model": ErrorPublic, "description": "Not done yet (see its job)."},
}
#: A stored file: 304 when ``If-None-Match`` names its ETag.
_FILE_RESPONSES: dict[int | str, dict[str, Any]] = _READ_ERRORS | {
    304: {"description": "Not modified: `If-None-Match` names the current ETag."}
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
        429: RATE_LIMITED,
    },
)
def create_analysis(
    body: AnalysisCreate, services: ServicesDep, response: Response, access: AccessDep
) -> AnalysisPublic:
    """Start computing a measure (202, follow `job`), or return the stored identical one."""
    for dataset_id in (body.dataset, body.population_dataset, body.od_dataset, body.road_dataset):
        if dataset_id is not None and dataset_id not in (DEMO_DATASET, BPE_DATASET):
            ensure_readable(services.dataset(dataset_id), access, services)
    record, job, cached = services.create_analysis(body, owner=owner_of(access))
    if not cached:
        record_action(services, access, "create", "analysis", record.id)
    return started((record, job, cached), response)


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
        organisation_id=None if access.bootstrap else owner_of(access),
    )
    return [analysis_public(r, None) for r in records]


@router.get("/{analysis_id}", summary="One analysis", responses=_READ_ERRORS)
def read_analysis(
    analysis_id: AnalysisId, services: ServicesDep, access: AccessDep
) -> AnalysisPublic:
    """State, request and summary of an analysis, scenario or siting."""
    record = services.analysis(analysis_id)
    ensure_readable(record, access, services)
    return analysis_public(record, services.job_of(record))


@router.patch(
    "/{analysis_id}",
    summary="Share or unshare an analysis",
    dependencies=[Depends(require_token)],
    responses={404: {"model": ErrorPublic}},
)
def update_analysis(
    analysis_id: AnalysisId, body: AnalysisUpdate, services: ServicesDep, access: AccessDep
) -> AnalysisPublic:
    """Mark the analysis shareable (map and exports public) or private again."""
    ensure_owned(services.analysis(analysis_id), access, services)
    record = services.set_shareable(analysis_id, body.shareable)
    action = "publish" if body.shareable else "unpublish"
    record_action(services, access, action, "analysis", analysis_id)
    return analysis_public(record, services.job_of(record))


@router.get("/{analysis_id}/summary", summary="Summary of an analysis", responses=_READ_ERRORS)
def read_summary(
    analysis_id: AnalysisId, services: ServicesDep, access: AccessDep
) -> dict[str, Any]:
    """Return population, population beyond the threshold, weighted mean, parameters.

    Also the sources and the synthetic flag (« praticiens simulés »).
    """
    record = services.analysis(analysis_id)
    ensure_readable(record, access, services)
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
    ensure_readable(record, access, services)
    render = services.rendering(record, kind)
    return stored_file(
        services, render, request, filename=f"communes_{record.id}.{suffix}", public=False
    )


def _export_variant(
    analysis_id: str,
    variant: str,
    filename_suffix: str,
    media_type: str,
    build: Callable[[Any], bytes],
    services: ServicesDep,
    access: AccessDep,
    request: Request,
) -> Response:
    """Serve an export in a non-default dialect or CRS, built from the stored result.

    Its ETag hashes the stored result, the variant and ``CACHE_VERSION``: a client revalidates
    it cheaply (304) and gets a new one whenever the result changes.
    """
    record = services.analysis(analysis_id)
    ensure_readable(record, access, services)
    frame = services.result_frame(record)  # 409 while not done
    key = f"{CACHE_VERSION}:{record.result_sha256}:{variant}"
    etag = f'"{hashlib.sha256(key.encode()).hexdigest()}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "Content-Disposition": f'attachment; filename="communes_{record.id}{filename_suffix}"',
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(build(frame), media_type=media_type, headers=headers)


class ExportCrs(IntEnum):
    """Projections of the GeoJSON and GeoPackage exports (EPSG codes)."""

    WGS84 = 4326
    LAMBERT93 = 2154


_CRS_HELP = (
    "EPSG code: 4326 (WGS 84 longitude/latitude) or 2154 (Lambert-93, for QGIS users; refused "
    "with a 422 for overseas communes, which Lambert-93 does not cover)."
)


@router.get(
    "/{analysis_id}/communes.geojson",
    summary="Per-commune results (GeoJSON)",
    responses=_FILE_RESPONSES | {200: {"content": {"application/geo+json": {}}}},
    response_class=Response,
)
def read_geojson(
    analysis_id: AnalysisId,
    services: ServicesDep,
    access: AccessDep,
    request: Request,
    crs: Annotated[ExportCrs, Query(description=_CRS_HELP)] = ExportCrs.WGS84,
) -> Response:
    """One feature per commune with the metadata in a `metadata` member.

    WGS 84 by default, as RFC 7946 requires; `crs=2154` gives Lambert-93 coordinates (outside
    RFC 7946, named by a `crs` member that QGIS and GDAL read).
    """
    if crs == ExportCrs.WGS84:
        return _export(analysis_id, "geojson", "geojson", services, access, request)
    return _export_variant(
        analysis_id,
        f"geojson-{int(crs)}",
        f"_epsg{int(crs)}.geojson",
        "application/geo+json",
        lambda frame: core.export_geojson(frame, crs=int(crs)),
        services,
        access,
        request,
    )


@router.get(
    "/{analysis_id}/communes.csv",
    summary="Per-commune results (CSV)",
    responses=_FILE_RESPONSES | {200: {"content": {"text/csv": {}}}},
    response_class=Response,
)
def read_csv(
    analysis_id: AnalysisId,
    services: ServicesDep,
    access: AccessDep,
    request: Request,
    csv_format: Annotated[
        Literal["standard", "excel"],
        Query(
            alias="format",
            description="`standard`: UTF-8, `,` separator, decimal point (for programs). "
            "`excel`: UTF-8 with BOM, `;` separator, decimal comma: opens right in French "
            "Excel with a double click.",
        ),
    ] = "standard",
) -> Response:
    """One row per commune; `source_praticiens` flags simulated data.

    `format=excel` gives the dialect of French Excel (BOM, `;`, decimal comma).
    """
    if csv_format == "standard":
        return _export(analysis_id, "csv", "csv", services, access, request)
    return _export_variant(
        analysis_id,
        "csv-excel",
        "_excel.csv",
        "text/csv; charset=utf-8",
        lambda frame: core.export_csv(frame, excel=True),
        services,
        access,
        request,
    )


@router.get(
    "/{analysis_id}/communes.gpkg",
    summary="Per-commune results (GeoPackage)",
    responses=_FILE_RESPONSES | {200: {"content": {"application/geopackage+sqlite3": {}}}},
    response_class=Response,
)
def read_gpkg(
    analysis_id: AnalysisId,
    services: ServicesDep,
    access: AccessDep,
    request: Request,
    crs: Annotated[ExportCrs | None, Query(description=_CRS_HELP + " Default: WGS 84.")] = None,
) -> Response:
    """Layer `communes` and table `metadonnees` (parameters, sources, synthetic flag).

    WGS 84 by default; `crs=2154` for a Lambert-93 layer.
    """
    if crs is None:
        return _export(analysis_id, "gpkg", "gpkg", services, access, request)
    return _export_variant(
        analysis_id,
        f"gpkg-{int(crs)}",
        f"_epsg{int(crs)}.gpkg",
        "application/geopackage+sqlite3",
        lambda frame: core.export_gpkg(frame, crs=int(crs)),
        services,
        access,
        request,
    )
