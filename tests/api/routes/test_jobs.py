from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import crud
from api.db import Database
from api.main import create_app
from tests.api.conftest import SMALL_TERRITORY, make_settings, wait_job


def test_job_reports_progress_and_a_french_message(client: TestClient) -> None:
    created = client.post("/analyses", json={"territory": SMALL_TERRITORY}).json()
    job = client.get(f"/jobs/{created['job']['id']}").json()
    assert 0.0 <= job["progress"] <= 1.0 and job["kind"] == "analysis"
    assert job["analysis_id"] == created["id"]
    done = wait_job(client, created["job"]["id"])
    assert done["status"] == "done" and done["progress"] == 1.0 and done["message"] == "Terminé"
    assert client.get("/jobs/job_" + "0" * 26).status_code == 404


@pytest.mark.sqlite_only(
    reason="on PostgreSQL (QueueRunner) a job whose worker died is taken over when its lease "
    "runs out, not failed at startup"
)
def test_jobs_interrupted_by_a_crash_are_failed_at_startup(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    db = Database(settings.database_target)
    with db.transaction() as conn:  # what a server killed mid-job leaves behind
        crud.insert_analysis(
            conn,
            analysis_id="an_" + "1" * 26,
            kind="analysis",
            parent_id=None,
            request={"territory": SMALL_TERRITORY},
            request_hash="h" * 64,
            title="3 communes",
            shareable=False,
            synthetic=True,
        )
        crud.insert_job(conn, "job_" + "1" * 26, "analysis", "an_" + "1" * 26)
        crud.update_job(conn, "job_" + "1" * 26, status="running", progress=0.5, message="…")
        crud.set_analysis_status(conn, "an_" + "1" * 26, "running", job_id="job_" + "1" * 26)
    db.close()
    with TestClient(create_app(settings)) as client:
        job = client.get("/jobs/job_" + "1" * 26).json()
        assert job["status"] == "failed"
        assert job["error"] == (
            "Interrompu par l'arrêt du serveur : relancez avec POST /jobs/job_"
            + "1" * 26
            + "/retry (ou renvoyez la même demande)."
        )
        assert client.get("/analyses/an_" + "1" * 26).json()["status"] == "failed"
