"""Fixtures of the HTTP service tests: an app on a temporary database, uploads, polling.

The database is SQLite by default; with ``pytest tests/api --db=postgresql`` every
:func:`make_settings` call gets a new PostgreSQL database (a clone of the migrated template),
dropped when the fixture or the test that made it ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import crud
from api.db import Database
from api.main import create_app
from api.settings import Settings
from tests.pg import PostgresServer

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


class _Backend:
    """The database of this session's service tests, and who drops each PostgreSQL database.

    ``server`` is set (``--db=postgresql``) by the session fixture :func:`_database_backend`.
    ``owners`` is a stack of ``addfinalizer`` functions: the fixture being set up (its
    teardown drops the database, be it function- or module-scoped), else the running test; the
    hooks below push and pop it. A database made outside of both is dropped at session end.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server: PostgresServer | None = None
        self.owners: list[Callable[[Callable[[], object]], None]] = []
        self.leftovers: list[str] = []

    def new_database(self) -> str:
        with self.lock:
            server = self.server
            owner = self.owners[-1] if self.owners else None
        assert server is not None
        url = server.create_database("cartosoins_test", template=True)
        if owner is not None:
            owner(lambda: server.drop_database(url))
        else:
            with self.lock:
                self.leftovers.append(url)
        return url


_backend = _Backend()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(request: pytest.FixtureRequest) -> Generator[None, object, object]:
    with _backend.lock:
        _backend.owners.append(request.addfinalizer)
    try:
        return (yield)
    finally:
        with _backend.lock:
            _backend.owners.pop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    with _backend.lock:
        _backend.owners.append(item.addfinalizer)
    try:
        return (yield)
    finally:
        with _backend.lock:
            _backend.owners.pop()


@pytest.fixture(scope="session", autouse=True)
def _database_backend(request: pytest.FixtureRequest) -> Iterator[None]:
    """With ``--db=postgresql``: the server, its migrated template, and the final cleanup."""
    if request.config.getoption("--db") != "postgresql":
        yield
        return
    if "database_url" not in Settings.model_fields:
        pytest.fail("--db=postgresql: api.settings.Settings has no database_url", pytrace=False)
    server: PostgresServer = request.getfixturevalue("postgres_server")
    server.prepare_template()
    with _backend.lock:
        _backend.server = server
    try:
        yield
    finally:
        with _backend.lock:
            _backend.server, leftovers, _backend.leftovers = None, _backend.leftovers, []
        for url in leftovers:
            server.drop_database(url)


def make_settings(root: Path, **overrides: Any) -> Settings:
    """Settings on a temporary database and data folder.

    With ``--db=postgresql``: a new PostgreSQL database (``database_url``, dropped after the
    fixture or test that called this) and ``data_dir=root/var/artefacts``, unless overridden.
    """
    values: dict[str, Any] = {
        "database_path": root / "var" / "cartosoins.sqlite3",
        "worker_threads": 1,
        "max_upload_bytes": 200_000,
    }
    if _backend.server is not None and "database_url" not in overrides:
        values["database_url"] = _backend.new_database()
        values["data_dir"] = root / "var" / "artefacts"
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
