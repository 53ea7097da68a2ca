"""Fixtures of the HTTP service tests: an app on a temporary database, uploads, polling."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import crud
from api.db import Database
from api.main import create_app
from api.settings import Settings

TOKEN = "jeton-de-test-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Three communes of Clermont Auvergne Métropole: small enough to compute in a second.
SMALL_TERRITORY = {"communes": ["63113", "63014", "63019"]}
#: Two GPs of Clermont-Ferrand in a French CSV: CP1252, ';' and decimal commas.
LATLON_CSV = (
    "id;profession;latitude;longitude;âge\n"
    "MG-01;Médecin généraliste;45,7772;3,0870;52\n"
    "MG-02;medecin_generaliste;45,7800;3,0950;64\n"
).encode("cp1252")


def make_settings(root: Path, **overrides: Any) -> Settings:
    """Settings on a temporary database and data folder."""
    values: dict[str, Any] = {
        "database_path": root / "var" / "cartosoins.sqlite3",
        "worker_threads": 1,
        "max_upload_bytes": 200_000,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[TestClient]:
    """A service that asks for the bearer token."""
    with TestClient(create_app(make_settings(tmp_path, api_token=TOKEN))) as test_client:
        yield test_client


def wait_job(client: TestClient, job_id: str, headers: dict[str, str] | None = None) -> Any:
    """Poll a job until it ends (60 s at most); return its last state."""
    deadline = time.monotonic() + 60
    while True:
        job = client.get(f"/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def run(
    client: TestClient, url: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    """POST a computation, wait for its job, return the finished resource."""
    response = client.post(url, json=body, headers=headers)
    assert response.status_code in (200, 202), response.text
    created = response.json()
    if created["job"] is not None:
        job = wait_job(client, created["job"]["id"], headers)
        assert job["status"] == "done", job
    return client.get(f"/analyses/{created['id']}", headers=headers).json()


def upload(
    client: TestClient,
    data: bytes,
    filename: str,
    kind: str = "practitioners",
    headers: dict[str, str] | None = None,
    **params: Any,
) -> Any:
    """Upload a file as a multipart form."""
    return client.post(
        f"/datasets/{kind}",
        files={"file": (filename, data, "text/csv")},
        params=params,
        headers=headers,
    )


def pending_jobs(db: Database, n: int, *, shareable: bool = False) -> list[tuple[str, str]]:
    """Commit ``n`` pending analyses and their jobs; return (job id, analysis id) pairs."""
    pairs = []
    with db.transaction() as conn:
        for _ in range(n):
            job_id, analysis_id = crud.new_id("job"), crud.new_id("an")
            crud.insert_analysis(
                conn,
                analysis_id=analysis_id,
                kind="analysis",
                parent_id=None,
                request={},
                request_hash=analysis_id,
                title="test",
                shareable=shareable,
                synthetic=True,
            )
            crud.insert_job(conn, job_id, "analysis", analysis_id)
            crud.set_analysis_status(conn, analysis_id, "pending", job_id=job_id)
            pairs.append((job_id, analysis_id))
    return pairs
