"""End to end: the real ``cartosoins serve`` process, an upload, an analysis, a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import LATLON_CSV

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(
    db: Path, port: int, log: Path, stop: signal.Signals = signal.SIGTERM
) -> Iterator[httpx.Client]:
    """Run ``python -m api.cli serve`` until the block ends (then send it ``stop``)."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    env.pop("CARTOSOINS_API_TOKEN", None)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--db", str(db)],
            cwd=db.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log.read_text(errors="replace")
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server not ready in 60 s"
                time.sleep(0.1)
            yield client
    finally:
        proc.send_signal(stop)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung server fails the test
            proc.kill()
            proc.wait()
            raise


def _wait(client: httpx.Client, job_id: str) -> Any:
    deadline = time.monotonic() + 120
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_upload_analyse_map_restart(tmp_path: Path) -> None:
    db = tmp_path / "donnees" / "cartosoins.sqlite3"
    db.parent.mkdir()
    log = tmp_path / "server.log"
    port = _free_port()
    request = {"territory": {"communes": ["63113", "63014"]}, "measure": "2sfca"}
    timings: dict[str, float] = {}
    t = time.perf_counter()
    with serve(db, port, log) as client:
        timings["start"] = time.perf_counter() - t
        t = time.perf_counter()
        uploaded = client.post(
            "/datasets/practitioners", files={"file": ("mg.csv", LATLON_CSV, "text/csv")}
        )
        assert uploaded.status_code == 201, uploaded.text
        request["dataset"] = uploaded.json()["id"]
        timings["upload"] = time.perf_counter() - t
        t = time.perf_counter()
        created = client.post("/analyses", json=request)
        assert created.status_code == 202, created.text
        analysis_id = created.json()["id"]
        assert _wait(client, created.json()["job"]["id"])["status"] == "done"
        timings["analysis"] = time.perf_counter() - t
        t = time.perf_counter()
        first_map = client.get(f"/maps/{analysis_id}.html")
        timings["map"] = time.perf_counter() - t
        assert first_map.status_code == 200 and "Accessibilité 2SFCA" in first_map.text
        summary = client.get(f"/analyses/{analysis_id}/summary").json()
        assert summary["practitioners_in_territory"] == 2 and summary["synthetic"] is False
    assert db.is_file()

    t = time.perf_counter()
    with serve(db, port, log) as client:  # a new process on the same database
        timings["restart"] = time.perf_counter() - t
        again = client.get(f"/analyses/{analysis_id}").json()
        assert again["status"] == "done"
        assert client.get(f"/analyses/{analysis_id}/summary").json() == summary
        second_map = client.get(f"/maps/{analysis_id}.html")
        assert second_map.status_code == 200 and second_map.text == first_map.text
        assert second_map.headers["etag"] == first_map.headers["etag"]
        cached = client.post("/analyses", json=request)
        assert cached.status_code == 200 and cached.json()["cached"] is True
        assert cached.json()["id"] == analysis_id
        assert client.get(f"/datasets/{request['dataset']}").json()["rows"] == 2
    print("e2e timings (s):", {k: round(v, 2) for k, v in timings.items()})


def test_a_server_killed_mid_job_leaves_no_half_written_result(tmp_path: Path) -> None:
    db = tmp_path / "cartosoins.sqlite3"
    log = tmp_path / "server.log"
    port = _free_port()
    # four départements on all the simulated professions: long enough to be killed mid-way
    request = {
        "territory": {"departements": ["63", "15", "43", "03"]},
        "dataset": "demo",
        "measure": "e2sfca",
    }
    with serve(db, port, log, stop=signal.SIGKILL) as client:
        created = client.post("/analyses", json=request).json()
        job_id = created["job"]["id"]
        deadline = time.monotonic() + 30
        while client.get(f"/jobs/{job_id}").json()["status"] == "pending":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    with serve(db, port, log) as client:
        job = client.get(f"/jobs/{job_id}").json()
        assert job["status"] == "failed" and "Interrompu" in job["error"]
        analysis = client.get(f"/analyses/{created['id']}").json()
        assert analysis["status"] == "failed" and analysis["summary"] is None
        assert client.get(f"/maps/{created['id']}.html").status_code == 409
        # asking again computes it anew, under the same id
        again = client.post("/analyses", json=request).json()
        assert again["id"] == created["id"] and again["job"]["id"] != job_id
        assert _wait(client, again["job"]["id"])["status"] == "done"
        assert client.get(f"/maps/{created['id']}.html").status_code == 200
