"""Jobs across restarts: queued jobs resumed, running ones failed with a one-call retry."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api import crud
from api.db import Database
from api.jobs import JobRunner, Persist
from api.main import create_app
from api.schemas import AnalysisCreate, ScenarioCreate, SitingCreate
from api.services import Services, open_services
from api.settings import Settings
from tests.api.conftest import (
    AUTH,
    SMALL_TERRITORY,
    TOKEN,
    make_settings,
    pending_jobs,
    run,
    wait_job,
)
from tests.api.test_server_e2e import _free_port, _wait, serve

DEMO = {"territory": SMALL_TERRITORY, "dataset": "demo", "measure": "apl"}


@contextmanager
def queued_only(settings: Settings) -> Iterator[Services]:
    """The services of a server that commits jobs but stops before running them."""
    services = open_services(settings, claim=False)  # a shared queue: no claiming threads

    def never_run(*args: Any, **kwargs: Any) -> Future[None]:
        return Future()

    services.runner.submit = never_run  # type: ignore[method-assign]
    try:
        yield services
    finally:
        services.close()


def _stored_job(settings: Settings, job_id: str) -> crud.JobRecord:
    db = Database(settings.database_target)
    try:
        job = crud.get_job(db.connection(), job_id)
    finally:
        db.close()
    assert job is not None
    return job


# --------------------------------------------------------------------------------------------
# startup: resume the queued jobs, fail the running ones
# --------------------------------------------------------------------------------------------
def test_queued_analysis_scenario_and_siting_are_resumed_at_startup(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        parent = run(client, "/analyses", DEMO)
    with queued_only(settings) as services:
        analysis, job, _ = services.create_analysis(
            AnalysisCreate.model_validate(DEMO | {"measure": "density"})
        )
        scenario, scenario_job, _ = services.create_scenario(
            parent["id"],
            ScenarioCreate.model_validate(
                {"changes": [{"type": "add_practitioners", "commune": "63113", "n": 2}]}
            ),
        )
        siting, siting_job, _ = services.create_siting(
            parent["id"], SitingCreate.model_validate({"k": 1})
        )
    queued = {analysis.id: job, scenario.id: scenario_job, siting.id: siting_job}
    assert all(
        j is not None and _stored_job(settings, j.id).status == "pending" for j in queued.values()
    )
    with TestClient(create_app(settings)) as client:  # the next start
        for analysis_id, queued_job in queued.items():
            assert queued_job is not None
            finished = wait_job(client, queued_job.id)
            assert finished["status"] == "done", finished
            done = client.get(f"/analyses/{analysis_id}").json()
            assert done["status"] == "done" and done["job"]["id"] == queued_job.id
            assert client.get(f"/maps/{analysis_id}.html").status_code == 200


def test_a_queued_job_that_cannot_resume_fails_with_a_clear_message(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    db = Database(settings.database_target)
    with db.transaction() as conn:  # a scenario queued on an analysis that failed since
        for analysis_id, kind, parent_id, status in (
            ("an_" + "1" * 26, "analysis", None, "failed"),
            ("sc_" + "2" * 26, "scenario", "an_" + "1" * 26, "pending"),
        ):
            crud.insert_analysis(
                conn,
                analysis_id=analysis_id,
                kind=kind,
                parent_id=parent_id,
                request={"changes": [{"type": "add_practitioners", "commune": "63113"}]},
                request_hash=analysis_id,
                title="3 communes",
                shareable=False,
                synthetic=True,
            )
            crud.set_analysis_status(conn, analysis_id, status)  # type: ignore[arg-type]
        crud.insert_job(conn, "job_" + "2" * 26, "scenario", "sc_" + "2" * 26)
        crud.set_analysis_status(conn, "sc_" + "2" * 26, "pending", job_id="job_" + "2" * 26)
    db.close()
    with TestClient(create_app(settings)) as client:
        job = wait_job(client, "job_" + "2" * 26)  # at startup (SQLite), at the claim (queue)
        assert job["status"] == "failed"
        start = "Calcul impossible (" if settings.database_is_shared else "Reprise impossible "
        assert job["error"].startswith(start)
        assert job["error"].endswith(
            f"relancez avec POST /jobs/job_{'2' * 26}/retry une fois la cause corrigée."
        )
        assert client.get("/analyses/sc_" + "2" * 26).json()["status"] == "failed"


def test_a_job_running_at_a_crash_fails_and_one_call_retries_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_token=TOKEN)
    with queued_only(settings) as services:
        analysis, job, _ = services.create_analysis(AnalysisCreate.model_validate(DEMO))
        assert job is not None
        with services.db.transaction() as conn:  # the process died while computing it
            crud.update_job(conn, job.id, status="running", progress=0.4, message="Calcul…")
            crud.set_analysis_status(conn, analysis.id, "running")
            if settings.database_is_shared:
                # a shared queue takes such a job over, up to job_max_attempts claims: here
                # every attempt died (its lease ran out), so it fails as on SQLite
                conn.execute(
                    text(
                        "UPDATE jobs SET worker = 'machine:1:mort', lease_until = 0, "
                        "attempts = :n WHERE id = :id"
                    ),
                    {"n": settings.job_max_attempts, "id": job.id},
                )
    with TestClient(create_app(settings)) as client:
        failed = wait_job(client, job.id, AUTH)  # at startup (SQLite), at the claim (queue)
        assert failed["status"] == "failed"
        assert failed["error"] == (
            f"Interrompu par l'arrêt du serveur : relancez avec POST /jobs/{job.id}/retry "
            "(ou renvoyez la même demande)."
        )
        assert client.post(f"/jobs/{job.id}/retry").status_code == 401  # a write: the token
        retried = client.post(f"/jobs/{job.id}/retry", headers=AUTH)
        assert retried.status_code == 202, retried.text
        body = retried.json()
        assert body["id"] == analysis.id and body["job"]["id"] != job.id
        assert retried.headers["location"] == f"/analyses/{analysis.id}"
        assert wait_job(client, body["job"]["id"], AUTH)["status"] == "done"
        assert client.get(f"/analyses/{analysis.id}", headers=AUTH).json()["status"] == "done"
        again = client.post(f"/jobs/{job.id}/retry", headers=AUTH)
        assert again.status_code == 409 and again.json()["error"] == "conflict"
        assert f"remplacé par le job '{body['job']['id']}'" in again.json()["detail"]
        done = client.post(f"/jobs/{body['job']['id']}/retry", headers=AUTH)
        assert done.status_code == 409 and "seul un job échoué se relance" in done.json()["detail"]
        assert client.post("/jobs/job_" + "0" * 26 + "/retry", headers=AUTH).status_code == 404


# --------------------------------------------------------------------------------------------
# shutdown: bounded wait, running jobs past the grace time marked failed, queued ones kept
# --------------------------------------------------------------------------------------------
def _gated(gate: threading.Event, started: threading.Event, wrote: list[str]) -> Any:
    """A job that reports progress once the test opens ``gate``, then writes a marker."""

    def work(progress: Callable[[float, str], None]) -> Persist:
        started.set()
        assert gate.wait(timeout=30), "the test never opened the gate"
        progress(0.5, "Calcul…")
        return lambda conn: wrote.append("persisted")

    return work


def _status(db: Database, job_id: str) -> crud.JobRecord:
    job = crud.get_job(db.connection(), job_id)
    assert job is not None
    return job


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "jobs.sqlite3")
    yield database
    database.close()


def test_shutdown_past_the_grace_time_fails_the_running_job_and_keeps_the_queued(
    db: Database,
) -> None:
    runner = JobRunner(db, 1)
    gate, started, wrote = threading.Event(), threading.Event(), []
    (running, an_running), (queued, an_queued) = pending_jobs(db, 2)
    first = runner.submit(running, an_running, _gated(gate, started, wrote))
    second = runner.submit(queued, an_queued, lambda progress: lambda conn: None)
    assert started.wait(timeout=30)
    runner.shutdown(grace_s=0.0)
    job = _status(db, running)
    assert job.status == "failed" and job.error is not None
    assert job.error.startswith("Interrompu par l'arrêt du serveur : relancez avec POST /jobs/")
    assert crud.get_analysis(db.connection(), an_running).status == "failed"  # type: ignore[union-attr]
    assert second.cancelled() and _status(db, queued).status == "pending"  # for the next start
    late = runner.submit(*pending_jobs(db, 1)[0], lambda progress: lambda conn: None)
    assert late.cancelled()  # no job accepted once stopping; its row stays pending
    gate.set()  # the abandoned job goes on: its next progress report stops it
    first.result(timeout=30)
    assert wrote == [] and _status(db, running).status == "failed"


def test_shutdown_lets_a_running_job_finish_within_the_grace_time(db: Database) -> None:
    runner = JobRunner(db, 1)
    gate, started, wrote = threading.Event(), threading.Event(), []
    ((job_id, analysis_id),) = pending_jobs(db, 1)
    runner.submit(job_id, analysis_id, _gated(gate, started, wrote))
    assert started.wait(timeout=30)
    stopping = threading.Thread(target=runner.shutdown, args=(30.0,))
    stopping.start()
    gate.set()
    stopping.join(timeout=60)
    assert not stopping.is_alive()
    assert wrote == ["persisted"] and _status(db, job_id).status == "done"


# --------------------------------------------------------------------------------------------
# the real server process: SIGTERM, restart on the same database
# --------------------------------------------------------------------------------------------
def _poll(client: httpx.Client, job_id: str, until: Callable[[dict[str, Any]], bool]) -> Any:
    deadline = time.monotonic() + 60
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if until(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.02)


def test_sigterm_fails_the_running_job_and_the_restart_resumes_the_queued_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARTOSOINS_SHUTDOWN_GRACE_SECONDS", "0")
    monkeypatch.setenv("CARTOSOINS_WORKER_THREADS", "1")  # the second job waits in the queue
    db = tmp_path / "cartosoins.sqlite3"
    log = tmp_path / "server.log"
    port = _free_port()
    # four départements on the simulated practitioners: seconds of work, stopped mid-way
    long = {"territory": {"departements": ["63", "15", "43", "03"]}, "dataset": "demo"}
    short = DEMO | {"measure": "density"}
    with serve(db, port, log, stop=signal.SIGTERM) as client:
        running = client.post("/analyses", json=long | {"measure": "e2sfca"}).json()
        queued = client.post("/analyses", json=short).json()
        _poll(client, running["job"]["id"], lambda job: job["status"] != "pending")
        assert client.get(f"/jobs/{queued['job']['id']}").json()["status"] == "pending"
    with sqlite3.connect(db) as conn:  # the stopped server's last word
        states = dict(conn.execute("SELECT id, status FROM jobs").fetchall())
        error = conn.execute(
            "SELECT error FROM jobs WHERE id = ?", (running["job"]["id"],)
        ).fetchone()[0]
    assert states == {running["job"]["id"]: "failed", queued["job"]["id"]: "pending"}
    assert error.startswith("Interrompu par l'arrêt du serveur : relancez avec POST /jobs/")
    with serve(db, port, log) as client:
        assert _wait(client, queued["job"]["id"])["status"] == "done"  # resumed, not lost
        assert client.get(f"/analyses/{queued['id']}").json()["status"] == "done"
        retried = client.post(f"/jobs/{running['job']['id']}/retry")  # no token configured
        assert retried.status_code == 202, retried.text
        assert retried.json()["id"] == running["id"]
        again = client.get(f"/jobs/{retried.json()['job']['id']}").json()
        assert again["analysis_id"] == running["id"] and again["status"] != "failed"
        # (computing it to the end is test_a_job_running_at_a_crash_fails_and_one_call_retries_it)
