"""Anonymous computation is bounded: its own lane, a queue cap, a per-client rate (fake clock)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import crud
from api.db import Database
from api.deps import ServicesDep
from api.jobs import JobRunner, LimitExceeded, Persist, SlidingWindowLimiter
from api.limits import CallerDep
from api.main import create_app
from tests.api.conftest import AUTH, TOKEN, make_settings, pending_jobs


class FakeClock:
    """Seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _blocked(gate: threading.Event, started: threading.Event | None = None) -> Any:
    """A job that waits for ``gate`` (set by the test) and persists nothing."""

    def work(progress: Callable[[float, str], None]) -> Persist:
        if started is not None:
            started.set()
        assert gate.wait(timeout=30), "the test never opened the gate"
        return lambda conn: None

    return work


def _status(db: Database, job_id: str) -> str:
    job = crud.get_job(db.connection(), job_id)
    assert job is not None
    return job.status


def _instant(progress: Callable[[float, str], None]) -> Persist:
    return lambda conn: None


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "jobs.sqlite3")
    yield database
    database.close()


def test_the_window_limiter_counts_per_client_on_the_injected_clock() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(2, 60.0, clock=clock)
    assert limiter.try_acquire("1.2.3.4") == 0.0
    clock.now += 10
    assert limiter.try_acquire("1.2.3.4") == 0.0
    clock.now += 5
    assert limiter.try_acquire("1.2.3.4") == pytest.approx(45.0)  # the first one leaves at 60
    assert limiter.try_acquire("5.6.7.8") == 0.0  # another client has its own budget
    clock.now += 45
    assert limiter.try_acquire("1.2.3.4") == 0.0
    assert limiter.try_acquire("1.2.3.4") == pytest.approx(10.0)
    refusal = limiter.refusal(9.2)
    assert refusal.status_code == 429 and refusal.error == "rate_limited"
    assert refusal.headers == {"Retry-After": "10"} and "Réessayez dans 10 s" in refusal.detail


def test_a_token_holders_job_never_waits_behind_anonymous_ones(db: Database) -> None:
    clock = FakeClock()
    runner = JobRunner(
        db,
        1,
        public_workers=1,
        public_queue_max=2,
        rate_limiter=SlidingWindowLimiter(100, 60.0, clock=clock),
    )
    gate, started = threading.Event(), threading.Event()
    (a, an_a), (b, an_b), (c, an_c), (p, an_p) = pending_jobs(db, 4, shareable=True)
    try:
        first = runner.submit(a, an_a, _blocked(gate, started), lane="public", client="x")
        assert started.wait(timeout=30)
        second = runner.submit(b, an_b, _instant, lane="public", client="y")
        with pytest.raises(LimitExceeded) as refused:
            runner.submit(c, an_c, _instant, lane="public", client="z")
        assert refused.value.error == "queue_full" and refused.value.status_code == 429
        assert refused.value.headers is not None and int(refused.value.headers["Retry-After"]) > 0
        assert "La file des calculs publics est pleine (2" in refused.value.detail
        # the public lane is busy and full; the token holder's job runs at once
        runner.submit(p, an_p, _instant).result(timeout=30)
        assert _status(db, p) == "done"
        assert not first.done() and _status(db, b) == "pending"
        gate.set()
        assert first.result(timeout=30) is None and second.result(timeout=30) is None
        assert _status(db, a) == _status(db, b) == "done"
        assert _status(db, c) == "pending"  # never queued: the caller fails its rows
    finally:
        gate.set()
        runner.shutdown()


def test_the_rate_limit_is_per_client_and_reopens_with_the_clock(db: Database) -> None:
    clock = FakeClock()
    runner = JobRunner(db, 1, rate_limiter=SlidingWindowLimiter(1, 60.0, clock=clock))
    jobs = pending_jobs(db, 5, shareable=True)
    try:
        runner.submit(*jobs[0], _instant, lane="public", client="1.2.3.4").result(timeout=30)
        clock.now += 20
        with pytest.raises(LimitExceeded) as refused:
            runner.submit(*jobs[1], _instant, lane="public", client="1.2.3.4")
        assert refused.value.error == "rate_limited"
        assert refused.value.headers == {"Retry-After": "40"}
        runner.submit(*jobs[2], _instant, lane="public", client="5.6.7.8").result(timeout=30)
        runner.submit(*jobs[3], _instant, lane="private").result(timeout=30)  # no limit
        clock.now += 40
        runner.submit(*jobs[4], _instant, lane="public", client="1.2.3.4").result(timeout=30)
    finally:
        runner.shutdown()


def _app_with_a_computation(tmp_path: Path, **settings: Any) -> Any:
    """The real app (error handlers, token) with a route that starts a job as the pages do."""
    app = create_app(make_settings(tmp_path, **settings))

    @app.post("/test/computation")
    def start(caller: CallerDep, services: ServicesDep) -> dict[str, str]:
        # as Services._start: a shared queue admits before the rows exist, the in-process
        # runner in submit()
        services.runner.admit(caller.lane, caller.client)
        ((job_id, analysis_id),) = pending_jobs(services.db, 1, shareable=True)
        services.runner.submit(
            job_id, analysis_id, _instant, lane=caller.lane, client=caller.client
        )
        return {"lane": caller.lane}

    return app


def test_anonymous_callers_get_a_429_with_retry_after_and_the_error_body(tmp_path: Path) -> None:
    app = _app_with_a_computation(tmp_path, api_token=TOKEN, public_rate_limit=2)
    with TestClient(app) as client:
        for _ in range(2):
            response = client.post("/test/computation")
            assert response.status_code == 200 and response.json() == {"lane": "public"}
        refused = client.post("/test/computation")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        body = refused.json()
        assert set(body) == {"detail", "error"} and body["error"] == "rate_limited"
        assert body["detail"].startswith("Trop de calculs demandés depuis votre adresse")
        for _ in range(3):  # the token holder is not limited
            response = client.post("/test/computation", headers=AUTH)
            assert response.status_code == 200 and response.json() == {"lane": "private"}
        wrong = client.post("/test/computation", headers={"Authorization": "Bearer " + "x" * 30})
        assert wrong.status_code == 401


def test_without_a_configured_token_everyone_is_a_token_holder(tmp_path: Path) -> None:
    app = _app_with_a_computation(tmp_path, public_rate_limit=1)
    with TestClient(app) as client:
        for _ in range(3):
            response = client.post("/test/computation")
            assert response.status_code == 200 and response.json() == {"lane": "private"}


def test_the_public_pages_computations_are_rate_limited_per_client(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_token=TOKEN, public_rate_limit=1)
    page = "/cartes/epci/246300701"  # Clermont Auvergne Métropole
    with TestClient(create_app(settings)) as client:
        first = client.get(page, params={"donnees": "demo"}, follow_redirects=False)
        assert first.status_code in (200, 303)  # computing, or done already
        refused = client.get(page, params={"donnees": "demo", "mesure": "density"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        # a person reads the page: French HTML that comes back by itself
        assert refused.headers["content-type"].startswith("text/html")
        assert "Trop de demandes" in refused.text and 'http-equiv="refresh"' in refused.text
        holder = client.get(page, params={"donnees": "demo", "mesure": "nearest"}, headers=AUTH)
        assert holder.status_code in (200, 303)  # a token holder's lane has no such limit
        # coming back to the first page (computed or computing) starts nothing: not counted
        for _ in range(3):
            again = client.get(page, params={"donnees": "demo"}, follow_redirects=False)
            assert again.status_code in (200, 303), again.status_code
