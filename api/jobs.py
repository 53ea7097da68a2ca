"""Background jobs: analyses, scenarios and sitings computed on a thread pool, state in SQLite.

A job reports its progress (0–1, French message) to its row; its result and the ``done`` state
are committed in one transaction, so a crash leaves either the whole result or a job that the
next startup marks failed (:func:`api.crud.fail_interrupted_jobs`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from api import crud
from api.db import Database
from geo.errors import CartosoinsError, collect_data_warnings

__all__ = ["JobRunner", "Persist", "Work"]

logger = logging.getLogger(__name__)

#: Writes a finished job's result, inside the transaction that marks the job done.
Persist = Callable[[sqlite3.Connection], None]
#: The computation of a job: gets a progress callback, returns what to persist.
Work = Callable[[Callable[[float, str], None]], Persist]

_PROGRESS_INTERVAL_S = 0.25


class JobRunner:
    """Runs jobs on ``workers`` threads and records their state.

    Parameters
    ----------
    db : Database
        Where job and analysis rows live.
    workers : int
        Number of threads.
    """

    def __init__(self, db: Database, workers: int) -> None:
        self.db = db
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cartosoins")
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def submit(self, job_id: str, analysis_id: str, work: Work) -> Future[None]:
        """Start a job whose row (pending) is committed."""
        future = self._executor.submit(self._run, job_id, analysis_id, work)
        with self._lock:
            self._futures = {k: f for k, f in self._futures.items() if not f.done()}
            self._futures[job_id] = future
        return future

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until a job submitted by this runner ends (no-op for unknown jobs)."""
        with self._lock:
            future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        """Stop accepting jobs, cancel the queued ones and wait for the running ones."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _run(self, job_id: str, analysis_id: str, work: Work) -> None:
        with self.db.transaction() as conn:
            crud.update_job(conn, job_id, status="running", progress=0.0, message="Démarrage…")
            crud.set_analysis_status(conn, analysis_id, "running")
        last = [0.0]

        def progress(fraction: float, message: str) -> None:
            # throttled: a chatty computation must not queue writers behind its updates
            stamp = time.monotonic()
            if stamp - last[0] < _PROGRESS_INTERVAL_S:
                return
            last[0] = stamp
            with self.db.transaction() as conn:
                crud.update_job(
                    conn,
                    job_id,
                    status="running",
                    progress=min(max(float(fraction), 0.0), 0.99),
                    message=message,
                )

        try:
            # the engine reports recoverable data problems (points off the road network…) that
            # its metadata already hold: log them, never let them fail the job. Collected per
            # thread: warnings.catch_warnings would swap the process-wide filters under the
            # other jobs' threads
            with collect_data_warnings() as caught:
                persist = work(progress)
            for message in caught:
                logger.warning("job %s: %s", job_id, message)
            with self.db.transaction() as conn:
                persist(conn)
                crud.update_job(conn, job_id, status="done", progress=1.0, message="Terminé")
        except CartosoinsError as exc:
            self._fail(job_id, analysis_id, str(exc))
        except Exception as exc:
            logger.exception("job %s failed", job_id)
            self._fail(job_id, analysis_id, f"erreur interne ({type(exc).__name__})")

    def _fail(self, job_id: str, analysis_id: str, error: str) -> None:
        with self.db.transaction() as conn:
            crud.update_job(
                conn, job_id, status="failed", progress=1.0, message="Échec", error=error
            )
            crud.set_analysis_status(conn, analysis_id, "failed", error=error)
