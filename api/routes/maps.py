"""Maps of an analysis: the offline interactive HTML (for an iframe) and a PNG for slides.

Rendered once and stored; embedding is allowed by ``Content-Security-Policy: frame-ancestors``
(setting ``frame_ancestors``). A map is public only when its analysis is shareable.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.deps import AccessDep, ServicesDep, ensure_readable
from api.routes.common import AnalysisId, stored_file
from api.schemas import ErrorPublic

router = APIRouter(prefix="/maps", tags=["maps"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "Private analysis: the token is needed."},
    404: {"model": ErrorPublic, "description": "No such analysis."},
    409: {"model": ErrorPublic, "description": "Not done yet."},
    304: {"description": "Not modified: `If-None-Match` names the current ETag."},
}


def _map(
    analysis_id: str, kind: str, services: ServicesDep, access: AccessDep, request: Request
) -> Response:
    record = services.analysis(analysis_id)
    ensure_readable(record, access)
    render = services.rendering(record, kind)
    return stored_file(
        services,
        render,
        request,
        frame_ancestors=services.settings.frame_ancestors,
        public=record.shareable,
    )


@router.get(
    "/{analysis_id}.html",
    summary="Interactive map (offline HTML)",
    responses=_ERRORS | {200: {"content": {"text/html": {}}}},
    response_class=Response,
)
def read_map_html(
    analysis_id: AnalysisId, services: ServicesDep, access: AccessDep, request: Request
) -> Response:
    """Self-contained Leaflet map (no network needed); scenarios show before / after / change."""
    return _map(analysis_id, "map_html", services, access, request)


@router.get(
    "/{analysis_id}.png",
    summary="Static map (PNG)",
    responses=_ERRORS | {200: {"content": {"image/png": {}}}},
    response_class=Response,
)
def read_map_png(
    analysis_id: AnalysisId, services: ServicesDep, access: AccessDep, request: Request
) -> Response:
    """25 × 18 cm at 200 dpi, legend, scale bar, sources (scenarios: the values after)."""
    return _map(analysis_id, "map_png", services, access, request)
