"""The shared job queue (QueueRunner) on SQLite and PostgreSQL: claims, leases, takeovers.

Each test runs on both engines: SQLite serialises claims with its write lock, PostgreSQL with
``FOR UPDATE SKIP LOCKED``. Several runners on one database stand for several processes (each
has its own worker id, threads and lease keeper); a worker that "died" is simulated by a claim
in its name whose lease has run out.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from api import crud
from api.db import Database
from api.jobs import JobInterrupted, Persist, QueueRunner
from api.schemas import AnalysisCreate
from api.services import open_services
from tests.api.conftest import SMALL_TERRITORY, make_settings, pending_jobs

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@pytest.fixture(params=ENGINES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | Path]:
    """A new empty database of each engine."""
    if request.param == "sqlite":
        yield tmp_path / "queue.sqlite3"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create_database("queue")
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def db(target: str | Path) -> Iterator[Database]:
    database = Database(target)
    try:
        yield database
    finally:
        database.close()


def _runner(db: Database, work: Callable[[crud.AnalysisRecord], Any], **kw: Any) -> QueueRunner:
    options: dict[str, Any] = {"lease_s": 30.0, "max_attempts": 2, "poll_s": 0.05}
    options.update(kw)
    workers = options.pop("workers", 1)
    runner = QueueRunner(db, workers, public_workers=1, **options)
    runner.start(work, lambda dataset_id: None)
    return runner


def _recording(log: list[str], lock: threading.Lock) -> Callable[[crud.AnalysisRecord], Any]:
    """A rebuild whose computation notes which analysis it computed."""

    def rebuild(record: crud.AnalysisRecord) -> Callable[[Callable[[float, str], None]], Persist]:
        def work(progress: Callable[[float, str], None]) -> Persist:
            progress(0.5, "à mi-chemin")
            with lock:
                log.append(record.id)
            return lambda conn: None

        return work

    return rebuild


def _job(db: Database, job_id: str) -> crud.JobRecord:
    job = crud.get_job(db.connection(), job_id)
    assert job is not None
    return job


def _until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.02)


def _die_holding(db: Database, lane: str = "private") -> crud.JobRecord:
    """Claim the next job as a worker that dies at once (its lease already ran out)."""
    with db.transaction() as conn:
        job = crud.claim_job(conn, lane, "machine:1:mort", now_s=time.time(), lease_s=-1.0)
    assert job is not None
    return job


def test_two_runners_share_the_queue_and_compute_each_job_once(db: Database) -> None:
    pairs = pending_jobs(db, 40)
    log: list[str] = []
    lock = threading.Lock()
    runners = [_runner(db, _recording(log, lock), workers=2) for _ in range(2)]
    try:
        for runner in runners:
            runner.submit("", "", lambda progress: lambda conn: None)  # wakes them
        for job_id, _ in pairs:
            runners[0].wait(job_id, timeout=120)
    finally:
        for runner in runners:
            runner.shutdown(10)
    assert sorted(log) == sorted(analysis_id for _, analysis_id in pairs)  # each once
    jobs = [_job(db, job_id) for job_id, _ in pairs]
    assert {j.status for j in jobs} == {"done"} and {j.attempts for j in jobs} == {1}
    assert {j.worker for j in jobs} <= {r.worker_id for r in runners}


def test_a_job_whose_worker_died_is_taken_over_after_its_lease(db: Database) -> None:
    [(job_id, analysis_id)] = pending_jobs(db, 1)
    dead = _die_holding(db)
    assert dead.id == job_id and _job(db, job_id).status == "running"
    log: list[str] = []
    runner = _runner(db, _recording(log, threading.Lock()))
    try:
        runner.wait(job_id, timeout=60)
    finally:
        runner.shutdown(10)
    job = _job(db, job_id)
    assert (job.status, job.attempts, job.worker) == ("done", 2, runner.worker_id)
    assert log == [analysis_id]


def test_a_job_that_killed_its_workers_too_often_fails_with_a_retry(db: Database) -> None:
    [(job_id, analysis_id)] = pending_jobs(db, 1)
    _die_holding(db)
    _die_holding(db)  # taken over once, and that worker died too: two attempts used
    log: list[str] = []
    runner = _runner(db, _recording(log, threading.Lock()))
    try:
        runner.wait(job_id, timeout=60)
    finally:
        runner.shutdown(10)
    job = _job(db, job_id)
    assert job.status == "failed" and log == []
    assert job.error is not None and f"POST /jobs/{job_id}/retry" in job.error
    analysis = crud.get_analysis(db.connection(), analysis_id)
    assert analysis is not None and analysis.status == "failed"


def test_a_worker_that_lost_its_lease_never_writes_its_result(db: Database) -> None:
    [(job_id, analysis_id)] = pending_jobs(db, 1)
    assert _job(db, job_id).analysis_id == analysis_id
    inside, release = threading.Event(), threading.Event()
    outcome: list[str] = []

    def rebuild(record: crud.AnalysisRecord) -> Any:
        def work(progress: Callable[[float, str], None]) -> Persist:
            inside.set()
            release.wait(60)

            def persist(conn: Any) -> None:
                outcome.append("écrit")

            return persist

        return work

    runner = _runner(db, rebuild)
    try:
        assert inside.wait(60)
        with db.transaction() as conn:  # meanwhile another worker took it over
            conn.execute(
                text(
                    "UPDATE jobs SET worker = 'ailleurs:2:vivant', lease_until = :t WHERE id = :id"
                ),
                {"t": time.time() + 3600, "id": job_id},
            )
        release.set()
        _until(lambda: not runner._held, "the job's thread to end")
    finally:
        release.set()
        runner.shutdown(10)
    job = _job(db, job_id)
    assert outcome == [] and (job.status, job.worker) == ("running", "ailleurs:2:vivant")
    analysis = crud.get_analysis(db.connection(), analysis_id)
    assert analysis is not None and analysis.result_sha256 is None


def test_progress_of_a_lost_job_stops_the_computation(db: Database) -> None:
    [(job_id, _)] = pending_jobs(db, 1)
    inside = threading.Event()
    stopped: list[type[BaseException]] = []

    def rebuild(record: crud.AnalysisRecord) -> Any:
        def work(progress: Callable[[float, str], None]) -> Persist:
            inside.set()
            deadline = time.monotonic() + 60
            try:
                while time.monotonic() < deadline:
                    progress(0.5, "calcul")
                    time.sleep(0.3)  # a long computation reporting now and then
            except JobInterrupted as exc:
                stopped.append(type(exc))
                raise
            return lambda conn: None

        return work

    runner = _runner(db, rebuild)
    try:
        assert inside.wait(60)
        with db.transaction() as conn:
            conn.execute(
                text("UPDATE jobs SET worker = 'ailleurs:2:vivant' WHERE id = :id"),
                {"id": job_id},
            )
        _until(lambda: stopped == [JobInterrupted], "the computation to stop")
    finally:
        runner.shutdown(10)


def test_the_lease_keeper_renews_a_long_job(db: Database) -> None:
    [(job_id, _)] = pending_jobs(db, 1)
    release = threading.Event()

    def rebuild(record: crud.AnalysisRecord) -> Any:
        def work(progress: Callable[[float, str], None]) -> Persist:
            release.wait(60)  # silent: no progress report renews anything
            return lambda conn: None

        return work

    runner = _runner(db, rebuild, lease_s=1.5)
    try:
        _until(lambda: _job(db, job_id).status == "running", "the claim")
        first = _job(db, job_id).lease_until
        assert first is not None
        _until(lambda: (_job(db, job_id).lease_until or 0) > first, "a renewal", timeout=30)
        with db.transaction() as conn:  # nobody else can take it: its lease is alive
            assert crud.claim_job(conn, "private", "autre", now_s=time.time(), lease_s=5) is None
        release.set()
        runner.wait(job_id, timeout=60)
    finally:
        release.set()
        runner.shutdown(10)
    assert _job(db, job_id).status == "done" and _job(db, job_id).attempts == 1


def test_shutdown_hands_a_running_job_back_to_the_queue(db: Database) -> None:
    [(job_id, _)] = pending_jobs(db, 1)
    inside, release = threading.Event(), threading.Event()

    def rebuild(record: crud.AnalysisRecord) -> Any:
        def work(progress: Callable[[float, str], None]) -> Persist:
            inside.set()
            release.wait(60)
            return lambda conn: None

        return work

    runner = _runner(db, rebuild)
    assert inside.wait(60)
    runner.shutdown(0.1)
    job = _job(db, job_id)
    assert (job.status, job.worker, job.attempts) == ("pending", None, 1)
    release.set()
    _until(lambda: not runner._held, "the abandoned thread to end")
    assert _job(db, job_id).status == "pending"  # its result was not written
    log: list[str] = []
    again = _runner(db, _recording(log, threading.Lock()))
    try:
        again.wait(job_id, timeout=60)
    finally:
        again.shutdown(10)
    assert _job(db, job_id).status == "done" and _job(db, job_id).attempts == 2


def test_public_lane_cap_counts_every_process(db: Database) -> None:
    pending_jobs(db, 2)
    with db.transaction() as conn:
        conn.execute(text("UPDATE jobs SET lane = 'public'"))
    runner = QueueRunner(db, 1, public_queue_max=2, claim=False)
    with pytest.raises(Exception) as refused:
        runner.admit("public", "client")
    assert getattr(refused.value, "error", None) == "queue_full"
    runner.admit("private", "client")  # token holders are not capped


def test_identical_requests_at_once_make_one_analysis(target: str | Path, tmp_path: Path) -> None:
    overrides: dict[str, Any] = {}
    if isinstance(target, str):
        overrides = {"database_url": target, "data_dir": tmp_path / "fichiers"}
    services = open_services(make_settings(tmp_path, **overrides))
    request = AnalysisCreate.model_validate(
        {"territory": SMALL_TERRITORY, "dataset": "demo", "measure": "density"}
    )
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        try:
            barrier.wait()
            results.append(services.create_analysis(request))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        ids = Counter(record.id for record, _, _ in results)
        assert len(ids) == 1
        jobs = {job.id for _, job, _ in results if job is not None}
        assert len(jobs) == 1
        assert sum(1 for _, _, cached in results if not cached) == 1
        services.runner.wait(jobs.pop(), timeout=120)
    finally:
        services.close()
