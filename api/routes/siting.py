"""Siting on an analysis: where k new sites of n practitioners would help most."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.deps import AccessDep, ServicesDep, ensure_readable, owner_of, require_token
from api.errors import RATE_LIMITED
from api.routes.common import ANALYSIS_LINKS, AnalysisId, children, started
from api.schemas import AnalysisPublic, ErrorPublic, SitingCreate

router = APIRouter(prefix="/analyses/{analysis_id}/siting", tags=["siting"])


@router.post(
    "",
    summary="Recommend sites",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_token)],
    responses={
        202: {"description": "Computing: follow `job`.", "links": ANALYSIS_LINKS},
        200: {
            "model": AnalysisPublic,
            "links": ANALYSIS_LINKS,
            "description": "Identical siting already computed.",
        },
        404: {"model": ErrorPublic},
        409: {"model": ErrorPublic, "description": "The analysis is not done."},
        422: {"model": ErrorPublic},
        429: RATE_LIMITED,
    },
)
def create_siting(
    analysis_id: AnalysisId,
    body: SitingCreate,
    services: ServicesDep,
    response: Response,
    access: AccessDep,
) -> AnalysisPublic:
    """Pick ``k`` candidate communes for new practitioners (greedy or exact MILP).

    The result (kind `siting`) lists the sites with their marginal gains in its summary and
    compares every commune before and after adding them all; its map numbers the sites.
    """
    ensure_readable(services.analysis(analysis_id), access, services)
    return started(services.create_siting(analysis_id, body, owner=owner_of(access)), response)


@router.get("", summary="Sitings of an analysis", responses={404: {"model": ErrorPublic}})
def list_sitings(
    analysis_id: AnalysisId,
    services: ServicesDep,
    access: AccessDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AnalysisPublic]:
    """Sitings run on the analysis, newest first."""
    ensure_readable(services.analysis(analysis_id), access, services)
    return children(services, access, analysis_id, "siting", limit, offset)
