"""Several real processes on one PostgreSQL database: the shared job queue end to end.

Two ``cartosoins serve`` and two ``cartosoins worker`` processes share one fresh database and one
data folder. :func:`test_four_processes_compute_each_job_once` sends different and identical
requests to both servers and checks every job was computed exactly once (database and logs);
:func:`test_a_worker_killed_mid_job_is_taken_over` SIGKILLs the worker computing a job and checks
the other one takes it over once the lease runs out.

No sleep synchronises anything: every wait polls a condition (HTTP, database row, log line)
until a generous deadline, so the tests hold on a loaded 2-core machine.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.api.conftest import SMALL_TERRITORY
from tests.pg import PostgresServer

pytestmark = pytest.mark.postgresql

ROOT = Path(__file__).resolve().parents[2]
#: Starting four processes at once (imports, migrations) on a loaded 2-core machine.
STARTUP_S = 240.0
#: Computing all the jobs, or waiting for a takeover.
JOBS_S = 300.0
STOP_S = 60.0
POLL_S = 0.05
_STARTED = re.compile(r"job (job_\w+) started \(attempt (\d+)\) by worker (\S+)")
_DONE = re.compile(r"job (job_\w+) done by worker (\S+)")
_WORKER_BANNER = re.compile(r"cartosoins worker (\S+:\d+:[0-9a-f]+)")

T = TypeVar("T")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(what: str, check: Callable[[], T | None], timeout: float, poll: float = POLL_S) -> T:
    """Poll ``check`` until it returns something else than None/False; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached within {timeout:.0f} s", pytrace=False)
        time.sleep(poll)  # polling interval, not synchronisation


@dataclass
class Proc:
    """One ``cartosoins`` process and its log (stdout and stderr together)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None
    client: httpx.Client | None = None
    worker_id: str | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def http(self) -> httpx.Client:
        assert self.client is not None, f"{self.name} is not a server"
        return self.client

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def holds(self, worker: str | None) -> bool:
        """Whether a ``jobs.worker`` value (``host:pid:hex``) is this process."""
        return worker is not None and worker.split(":")[-2:-1] == [str(self.pid)]

    def alive(self) -> None:
        assert self.popen.poll() is None, (
            f"{self.name} exited ({self.popen.returncode}):\n{self.text()[-4000:]}"
        )

    def terminate(self) -> None:
        """SIGTERM (if still running)."""
        if self.client is not None:
            self.client.close()
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def reap(self, deadline: float) -> None:
        """Wait for the end until ``deadline`` (monotonic), then SIGKILL."""
        try:
            self.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=STOP_S)

    def kill(self) -> None:
        """SIGKILL now and reap it."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=STOP_S)


class Fleet:
    """The processes of one test on one database; each is stopped when the test ends."""

    def __init__(self, tmp: Path, database_url: str, lease_s: float) -> None:
        self.tmp = tmp
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARTOSOINS_")}
        self.env = env | {
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "CARTOSOINS_DATABASE_URL": database_url,
            "CARTOSOINS_DATA_DIR": str(tmp / "shared-data"),
            "CARTOSOINS_JOB_LEASE_SECONDS": str(lease_s),
        }
        self.procs: list[Proc] = []

    def stop_all(self) -> None:
        """SIGTERM every process, then SIGKILL those still there after :data:`STOP_S`."""
        for proc in self.procs:
            proc.terminate()
        deadline = time.monotonic() + STOP_S
        for proc in self.procs:
            proc.reap(deadline)

    def _spawn(self, name: str, argv: list[str]) -> Proc:
        log = self.tmp / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, *argv],
                cwd=self.tmp,  # no stray .env file
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def serve(self, name: str, *, no_jobs: bool) -> Proc:
        port = _free_port()
        argv = ["-m", "api.cli", "serve", "--port", str(port)]
        proc = self._spawn(name, argv + (["--no-jobs"] if no_jobs else []))
        proc.port = port
        # a new connection per request: no reuse of a keep-alive connection the server is
        # closing at that moment (uvicorn drops idle ones after 5 s: "connection reset by peer")
        proc.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            timeout=120,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        return proc

    def worker(self, name: str) -> Proc:
        return self._spawn(name, ["-m", "api.cli", "worker"])

    def wait_ready(self, procs: list[Proc]) -> None:
        """Every server answers /health, every worker printed its id (its threads run)."""

        def ready(proc: Proc) -> bool:
            proc.alive()
            if proc.client is not None:
                try:
                    return proc.client.get("/health", timeout=10).status_code == 200
                except httpx.TransportError:
                    return False
            found = _WORKER_BANNER.search(proc.text())
            if found is None:
                return False
            proc.worker_id = found.group(1)
            assert proc.holds(proc.worker_id), (proc.worker_id, proc.pid)
            return True

        _until("processes ready", lambda: all(ready(p) for p in procs), STARTUP_S, poll=0.2)

    def logs(self) -> str:
        return "\n".join(p.text() for p in self.procs)


@contextmanager
def fleet(tmp: Path, database_url: str, lease_s: float) -> Iterator[Fleet]:
    processes = Fleet(tmp, database_url, lease_s)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[tuple[str, PostgresServer]]:
    """A fresh database (migrated by the processes themselves if it is empty)."""
    url = postgres_server.create_database("cartosoins_mp")
    try:
        yield url, postgres_server
    finally:
        postgres_server.drop_database(url)


def _connect(server: PostgresServer, url: str) -> psycopg.Connection[tuple[Any, ...]]:
    name = make_url(url).database
    assert name
    return server.connect(name)


def _rows(conn: psycopg.Connection[tuple[Any, ...]], query: str, *params: Any) -> list[Any]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(query, params).fetchall()


def _job(conn: psycopg.Connection[tuple[Any, ...]], job_id: str) -> dict[str, Any]:
    rows = _rows(conn, "SELECT * FROM jobs WHERE id = %s", job_id)
    assert len(rows) == 1, job_id
    return dict(rows[0])


def _post(server: Proc, body: dict[str, Any]) -> dict[str, Any]:
    response = server.http.post("/analyses", json=body)
    assert response.status_code in (200, 202), response.text
    result: dict[str, Any] = response.json()
    return result


def _post_at_once(servers: list[Proc], body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST the same request to each server from its own thread, released together."""
    barrier = threading.Barrier(len(servers))
    answers: list[dict[str, Any]] = [{} for _ in servers]

    def send(i: int) -> None:
        barrier.wait(timeout=60)
        answers[i] = _post(servers[i], body)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert all(answers), answers
    return answers


def test_four_processes_compute_each_job_once(
    tmp_path: Path, database: tuple[str, PostgresServer]
) -> None:
    """2 servers (both also compute: no --no-jobs) + 2 workers: 23 analyses, each computed once.

    The lease is 10 s here, not 3: this test asserts no job is ever taken over, and a holder's
    renewal (every lease/3) may be late by seconds on a loaded machine.
    """
    url, server = database
    conn = _connect(server, url)
    with conn, fleet(tmp_path, url, lease_s=10) as processes:
        servers = [processes.serve(f"serve{i}", no_jobs=False) for i in (1, 2)]
        workers = [processes.worker(f"worker{i}") for i in (1, 2)]
        t0 = time.perf_counter()
        processes.wait_ready(servers + workers)
        startup = time.perf_counter() - t0

        # 20 different analyses, alternating between the servers
        t0 = time.perf_counter()
        different: list[dict[str, Any]] = [
            {
                "territory": SMALL_TERRITORY,
                "measure": "2sfca",
                "parameters": {"catchment_minutes": m},
            }
            for m in range(10, 30)
        ]
        created = [_post(servers[i % 2], body) for i, body in enumerate(different)]
        assert all(c["job"] is not None and c["cached"] is False for c in created)
        assert len({c["id"] for c in created}) == 20

        # identical requests sent to both servers at once: one analysis, one job
        identical = [
            {
                "territory": SMALL_TERRITORY,
                "measure": measure,
                "parameters": {"catchment_minutes": 45},
            }
            for measure in ("density", "apl", "e2sfca")
        ]
        for body in identical:
            answers = _post_at_once(servers, body)
            assert answers[0]["id"] == answers[1]["id"], answers
            assert answers[0]["job"]["id"] == answers[1]["job"]["id"], answers
            assert sorted(a["cached"] for a in answers) == [False, True], answers
            created.append(answers[0])
        analysis_ids = {c["id"] for c in created}
        job_ids = {c["job"]["id"] for c in created}
        assert len(analysis_ids) == len(job_ids) == 23

        def all_finished() -> bool:
            for proc in servers + workers:
                proc.alive()
            (left,) = conn.execute(
                "SELECT count(*) FROM jobs WHERE status NOT IN ('done', 'failed')"
            ).fetchone() or (None,)
            return bool(left == 0)

        _until("all jobs finished", all_finished, JOBS_S, poll=0.2)
        computed = time.perf_counter() - t0

        # the database: one job per analysis, done at its first attempt
        jobs = _rows(conn, "SELECT id, analysis_id, status, attempts, worker FROM jobs")
        assert {j["id"] for j in jobs} == job_ids
        assert Counter(j["analysis_id"] for j in jobs) == dict.fromkeys(analysis_ids, 1)
        assert [j for j in jobs if j["status"] != "done" or j["attempts"] != 1] == []
        analyses = _rows(conn, "SELECT id, status, job_id FROM analyses")
        assert {a["id"] for a in analyses} == analysis_ids
        assert [a for a in analyses if a["status"] != "done"] == []
        assert {a["job_id"] for a in analyses} == job_ids
        by_process = Counter(
            next(p.name for p in servers + workers if p.holds(j["worker"])) for j in jobs
        )
        assert len(by_process) >= 2, by_process  # the queue is really shared

        # the logs of the four processes: one start and one end per job, by the DB's worker
        logs = processes.logs()
        started = Counter(m.group(1) for m in _STARTED.finditer(logs))
        assert started == dict.fromkeys(job_ids, 1), started
        assert {m.group(2) for m in _STARTED.finditer(logs)} == {"1"}
        done = {m.group(1): m.group(2) for m in _DONE.finditer(logs)}
        assert done == {j["id"]: j["worker"] for j in jobs}
        assert len(_DONE.findall(logs)) == 23

        # both servers serve every result
        for analysis_id in sorted(analysis_ids):
            for proc in servers:
                assert proc.http.get(f"/analyses/{analysis_id}").json()["status"] == "done"
    print(
        f"multiprocess: 4 processes ready in {startup:.1f} s, 23 jobs in {computed:.1f} s, "
        f"computed by {dict(sorted(by_process.items()))}"
    )


#: e2sfca of four départements on all the simulated professions: ≈5 s on an idle 2-core machine.
_LONG_REQUEST = {
    "territory": {"departements": ["63", "15", "43", "03"]},
    "dataset": "demo",
    "measure": "e2sfca",
}


def test_a_worker_killed_mid_job_is_taken_over(
    tmp_path: Path, database: tuple[str, PostgresServer]
) -> None:
    """Servers with --no-jobs; the worker computing a job is SIGKILLed; the other one finishes."""
    url, server = database
    conn = _connect(server, url)
    lease_s = 3.0
    with conn, fleet(tmp_path, url, lease_s=lease_s) as processes:
        servers = [processes.serve(f"serve{i}", no_jobs=True) for i in (1, 2)]
        workers = [processes.worker(f"worker{i}") for i in (1, 2)]
        processes.wait_ready(servers + workers)

        killed: Proc | None = None
        job_id = analysis_id = ""
        for attempt in range(4):  # the job may end before the kill lands: try another one
            body = _LONG_REQUEST | {"parameters": {"catchment_minutes": 30 + attempt}}
            created = _post(servers[attempt % 2], body)
            assert created["cached"] is False and created["job"] is not None
            job_id, analysis_id = created["job"]["id"], created["id"]

            def holder(job_id: str = job_id) -> Proc | None:
                for proc in servers + workers:
                    proc.alive()
                row = _job(conn, job_id)
                assert row["status"] in ("pending", "running"), row
                if row["status"] != "running":
                    return None
                found = [w for w in workers if w.holds(row["worker"])]
                assert found, (row, [w.worker_id for w in workers])  # not a --no-jobs server
                return found[0]

            victim = _until(f"job {job_id} running", holder, JOBS_S, poll=0.02)
            victim.kill()
            row = _job(conn, job_id)  # the victim is dead: nothing of it changes this row now
            if row["status"] == "running" and row["worker"] == victim.worker_id:
                assert row["attempts"] == 1, row
                killed = victim
                break
            # finished before the kill: replace the worker and try with another request
            workers.remove(victim)
            workers.append(processes.worker(f"worker{len(processes.procs) + 1}"))
            processes.wait_ready(workers)
        assert killed is not None, "the job always ended before its worker was killed"
        survivor = next(w for w in workers if w is not killed)
        killed_at = time.perf_counter()

        def finished() -> dict[str, Any] | None:
            for proc in [*servers, survivor]:
                proc.alive()
            row = _job(conn, job_id)
            return row if row["status"] in ("done", "failed") else None

        row = _until(f"job {job_id} taken over and finished", finished, JOBS_S, poll=0.1)
        takeover = time.perf_counter() - killed_at
        assert row["status"] == "done", row
        assert row["attempts"] == 2, row
        assert row["worker"] == survivor.worker_id, row
        (jobs_of_analysis,) = conn.execute(
            "SELECT count(*) FROM jobs WHERE analysis_id = %s", (analysis_id,)
        ).fetchone() or (None,)
        assert jobs_of_analysis == 1

        survivor_log = survivor.text()
        assert f"job {job_id} started (attempt 2) by worker {survivor.worker_id}" in survivor_log
        assert f"job {job_id} done by worker {survivor.worker_id}" in survivor_log
        killed_log = killed.text()
        assert f"job {job_id} started (attempt 1) by worker {killed.worker_id}" in killed_log
        assert f"job {job_id} done" not in killed_log

        for proc in servers:
            job = proc.http.get(f"/jobs/{job_id}").json()
            assert job["status"] == "done" and job["error"] is None, job
            analysis = proc.http.get(f"/analyses/{analysis_id}").json()
            assert analysis["status"] == "done" and analysis["summary"], analysis
            page = proc.http.get(f"/maps/{analysis_id}.html")
            assert page.status_code == 200, page.text[:500]
            assert "e2sfca" in page.text.lower() or "2sfca" in page.text.lower()
    print(f"multiprocess: worker killed mid-job, taken over and done {takeover:.1f} s later")
