"""Maps of an analysis: the offline interactive HTML (for an iframe) and a PNG for slides.

Rendered once and stored; embedding is allowed by ``Content-Security-Policy: frame-ancestors``
(setting ``frame_ancestors``). A map is public only when its analysis is shareable.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request, Response

from api import core
from api.crud import AnalysisRecord
from api.deps import AccessDep, ServicesDep, ensure_readable
from api.routes.common import AnalysisId, stored_file
from api.schemas import ErrorPublic
from api.services import _PNG_LOCK, Services
from geo.errors import DataValidationError
from geo.maps.choropleth import format_fr
from geo.maps.figures import PageSize, page_size, titled_static_map
from geo.maps.static import static_map_bytes

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
    ensure_readable(record, access, services)
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


#: Largest side of an image the service draws on request (a 4K screen is 3,840 pixels).
MAX_IMAGE_SIDE_PX = 6_000
IMAGE_MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
_IMAGE_ERRORS = _ERRORS | {
    422: {
        "model": ErrorPublic,
        "description": "Image options out of range (size, dpi, format), named in French.",
    },
    200: {"content": {t: {} for t in IMAGE_MEDIA_TYPES.values()}},
}


@router.get(
    "/{analysis_id}.png",
    summary="Static map (PNG, or SVG / PDF), title and size chosen",
    responses=_IMAGE_ERRORS,
    response_class=Response,
)
def read_map_png(
    analysis_id: AnalysisId,
    services: ServicesDep,
    access: AccessDep,
    request: Request,
    title: Annotated[
        str | None,
        Query(max_length=200, description="Title (default: the measure and the territory)."),
    ] = None,
    subtitle: Annotated[
        str | None, Query(max_length=300, description="Subtitle; empty: none.")
    ] = None,
    width_cm: Annotated[
        float | None, Query(gt=0, le=200, description="Page width in centimetres (≥ 5).")
    ] = None,
    height_cm: Annotated[
        float | None, Query(gt=0, le=200, description="Page height in centimetres (≥ 5).")
    ] = None,
    width_px: Annotated[
        int | None,
        Query(gt=0, le=MAX_IMAGE_SIDE_PX, description="Image width in pixels (with dpi)."),
    ] = None,
    height_px: Annotated[
        int | None,
        Query(gt=0, le=MAX_IMAGE_SIDE_PX, description="Image height in pixels (with dpi)."),
    ] = None,
    dpi: Annotated[
        float | None, Query(ge=30, le=600, description="Resolution (default 200).")
    ] = None,
    format: Annotated[
        Literal["png", "svg", "pdf"], Query(description="png (default), svg or pdf.")
    ] = "png",
) -> Response:
    """25 × 18 cm at 200 dpi, legend, scale bar, sources (scenarios: the values after).

    Without options the stored PNG is served; ``title``, ``subtitle``, a size in centimetres
    (``width_cm``, ``height_cm``) or in pixels (``width_px``, ``height_px``), ``dpi`` and
    ``format`` draw the page on request (a side alone keeps the 25 × 18 proportions). Errors
    are 422 in French, naming the option.
    """
    sizes = (width_cm, height_cm, width_px, height_px, dpi)
    if title is None and subtitle is None and all(v is None for v in sizes) and format == "png":
        return _map(analysis_id, "map_png", services, access, request)
    record = services.analysis(analysis_id)
    ensure_readable(record, access, services)
    page = page_size(
        width_cm=width_cm,
        height_cm=height_cm,
        width_px=width_px,
        height_px=height_px,
        dpi=dpi,
        labels={k: k for k in ("width_cm", "height_cm", "width_px", "height_px", "dpi")},
    )
    if format == "png" and max(page.pixels) > MAX_IMAGE_SIDE_PX:
        raise DataValidationError(
            f"image de {format_fr(page.pixels[0], 0)} × {format_fr(page.pixels[1], 0)} pixels : "
            f"au plus {format_fr(MAX_IMAGE_SIDE_PX, 0)} pixels par côté (réduisez la taille "
            "ou dpi)"
        )
    data = _drawn(services, record, page, title, subtitle, format)
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    headers = {
        "ETag": etag,
        "Cache-Control": ("public" if record.shareable else "private") + ", no-cache",
        "Content-Security-Policy": f"frame-ancestors {services.settings.frame_ancestors}",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=IMAGE_MEDIA_TYPES[format], headers=headers)


def _drawn(
    services: Services,
    record: AnalysisRecord,
    page: PageSize,
    title: str | None,
    subtitle: str | None,
    fmt: str,
) -> bytes:
    """Draw the page of a finished analysis (scenarios and sitings: the values after)."""
    frame = services.result_frame(record)
    if record.kind == "analysis":
        label = core.points_label(record.request.get("profession"), record.synthetic)
        place, points = record.title, core.aggregate_points(frame, label)
    else:  # as the stored PNG: the map after the scenario
        after = frame.drop(columns=[c for c in ("value",) if c in frame.columns]).rename(
            columns={"after": "value", "population_after": "population"}
        )
        after.attrs = dict(frame.attrs)
        frame, label = after, "Praticiens"
        place, points = f"{record.title} — après scénario", pd.DataFrame()
    with _PNG_LOCK:  # matplotlib's font cache and text layout are not safe across threads
        fig = titled_static_map(
            frame,
            place,
            title=title,
            subtitle=subtitle,
            page=page,
            points=points if len(points) else None,
            points_label=label,
        )
        return static_map_bytes(fig, fmt)
