"""Jobs: progress of the background computations (analyses, scenarios, sitings), retries."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from api.deps import AccessDep, ServicesDep, ensure_owned, ensure_readable, require_token
from api.routes.common import ANALYSIS_LINKS, JobId, analysis_public, job_public
from api.schemas import AnalysisPublic, ErrorPublic, JobPublic

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get(
    "/{job_id}",
    summary="State of a job",
    responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}},
)
def read_job(job_id: JobId, services: ServicesDep, access: AccessDep) -> JobPublic:
    """Status, progress (0–1) and a French message; poll it until `done` or `failed`."""
    job = services.job(job_id)
    ensure_readable(services.analysis(job.analysis_id), access, services)
    return job_public(job)


@router.post(
    "/{job_id}/retry",
    summary="Retry a failed job",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_token)],
    responses={
        202: {"description": "Computing again: follow the new `job`.", "links": ANALYSIS_LINKS},
        401: {"model": ErrorPublic, "description": "The token is needed."},
        404: {"model": ErrorPublic, "description": "No such job."},
        409: {"model": ErrorPublic, "description": "The job has not failed, or was replaced."},
        422: {"model": ErrorPublic, "description": "Its request can no longer run as stored."},
    },
)
def retry_job(
    job_id: JobId, services: ServicesDep, response: Response, access: AccessDep
) -> AnalysisPublic:
    """Compute a failed job's analysis (scenario, siting) again from its stored request.

    One call after a job « interrompu par l'arrêt du serveur »: same analysis id, a new job.
    """
    ensure_owned(services.analysis(services.job(job_id).analysis_id), access, services)
    record, job = services.retry_job(job_id)
    response.headers["Location"] = f"/analyses/{record.id}"
    return analysis_public(record, job)
