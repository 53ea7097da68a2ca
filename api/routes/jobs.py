"""Jobs: progress of the background computations (analyses, scenarios, sitings)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AccessDep, ServicesDep, ensure_readable
from api.routes.common import JobId, job_public
from api.schemas import ErrorPublic, JobPublic

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get(
    "/{job_id}",
    summary="State of a job",
    responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}},
)
def read_job(job_id: JobId, services: ServicesDep, access: AccessDep) -> JobPublic:
    """Status, progress (0–1) and a French message; poll it until `done` or `failed`."""
    job = services.job(job_id)
    ensure_readable(services.analysis(job.analysis_id), access)
    return job_public(job)
