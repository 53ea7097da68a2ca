"""Scenarios on an analysis: practitioners added, removed or retiring, population change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.deps import AccessDep, ServicesDep, ensure_readable, owner_of, require_token
from api.errors import RATE_LIMITED
from api.routes.common import ANALYSIS_LINKS, AnalysisId, children, started
from api.schemas import AnalysisPublic, ErrorPublic, ScenarioCreate

router = APIRouter(prefix="/analyses/{analysis_id}/scenarios", tags=["scenarios"])


@router.post(
    "",
    summary="Run a scenario",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_token)],
    responses={
        202: {"description": "Computing: follow `job`.", "links": ANALYSIS_LINKS},
        200: {
            "model": AnalysisPublic,
            "links": ANALYSIS_LINKS,
            "description": "Identical scenario already computed.",
        },
        404: {"model": ErrorPublic},
        409: {"model": ErrorPublic, "description": "The analysis is not done."},
        422: {"model": ErrorPublic},
        429: RATE_LIMITED,
    },
)
def create_scenario(
    analysis_id: AnalysisId,
    body: ScenarioCreate,
    services: ServicesDep,
    response: Response,
    access: AccessDep,
) -> AnalysisPublic:
    """Apply the changes to the analysis and compare every commune before and after.

    The result (kind `scenario`) counts the population moving between gap classes and has its
    own map (before / after / change).
    """
    ensure_readable(services.analysis(analysis_id), access, services)
    return started(services.create_scenario(analysis_id, body, owner=owner_of(access)), response)


@router.get("", summary="Scenarios of an analysis", responses={404: {"model": ErrorPublic}})
def list_scenarios(
    analysis_id: AnalysisId,
    services: ServicesDep,
    access: AccessDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AnalysisPublic]:
    """Scenarios run on the analysis, newest first."""
    ensure_readable(services.analysis(analysis_id), access, services)
    return children(services, access, analysis_id, "scenario", limit, offset)
