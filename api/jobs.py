"""Background jobs: analyses, scenarios and sitings computed on worker threads, state in SQLite.

A job reports its progress (0–1, French message) to its row; its result and the ``done`` state
are committed in one transaction, so a crash leaves either the whole result or an unfinished
row. Jobs run in two lanes with their own threads: ``private`` (token holders) and ``public``
(anonymous callers of the French pages, bounded by a queue cap and a per-client rate limit,
see :mod:`api.limits`), so a token holder's job never waits behind an anonymous one.

Across restarts: at startup (:meth:`JobRunner.recover`) a queued job is resumed from its stored
request, a job that was running when the process died is marked failed with a one-call
resubmission (``POST /jobs/{id}/retry``); at shutdown (:meth:`JobRunner.shutdown`) queued jobs
stay queued for the next start and running ones get a bounded time to finish.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import math
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal

from fastapi import HTTPException

from api import crud
from api.db import Database
from geo.errors import CartosoinsError, collect_data_warnings

__all__ = [
    "JobInterrupted",
    "JobRunner",
    "Lane",
    "LimitExceeded",
    "Persist",
    "Rebuild",
    "SlidingWindowLimiter",
    "Work",
    "interrupted_message",
]

logger = logging.getLogger(__name__)

#: Writes a finished job's result, inside the transaction that marks the job done.
Persist = Callable[[sqlite3.Connection], None]
#: The computation of a job: gets a progress callback, returns what to persist.
Work = Callable[[Callable[[float, str], None]], Persist]
#: Rebuilds the computation of a stored analysis (scenario, siting) from its stored request.
Rebuild = Callable[[crud.AnalysisRecord], Work]
#: Which threads run a job: ``private`` (token holders, or everyone when no token is
#: configured) or ``public`` (anonymous callers when a token is configured).
Lane = Literal["public", "private"]

_PROGRESS_INTERVAL_S = 0.25
#: ``Retry-After`` of a refusal because the public lane is full.
QUEUE_FULL_RETRY_AFTER_S = 15
# queue priorities: a new job before one resumed at startup; the stop marker last
_NEW, _RESUMED, _STOP = 0, 1, 2
# sweep the rate limiter's table of clients once it holds this many
_CLIENTS_SWEEP_AT = 4096


def interrupted_message(job_id: str) -> str:
    """Error of a job the server stopped (or lost) while it ran: what to do next."""
    return (
        f"Interrompu par l'arrêt du serveur : relancez avec POST /jobs/{job_id}/retry "
        "(ou renvoyez la même demande)."
    )


class JobInterrupted(Exception):
    """Raised in a job's thread, at its next progress report, when the runner abandons it."""


class LimitExceeded(HTTPException):
    """An anonymous computation refused now: HTTP 429 with ``Retry-After`` (seconds).

    Parameters
    ----------
    error : {"rate_limited", "queue_full"}
        Machine-readable kind, the ``error`` member of the body.
    detail : str
        French sentence saying why and when to come back.
    retry_after_s : int
        Seconds to wait (at least 1), the ``Retry-After`` header.
    """

    def __init__(
        self, error: Literal["rate_limited", "queue_full"], detail: str, retry_after_s: int
    ) -> None:
        retry = max(1, int(retry_after_s))
        super().__init__(429, detail=detail, headers={"Retry-After": str(retry)})
        self.error = error
        self.retry_after_s = retry


class SlidingWindowLimiter:
    """At most ``limit`` events per client in any window of ``window_s`` seconds.

    Thread-safe; the clock is injected (tests advance a fake one instead of sleeping).

    Parameters
    ----------
    limit : int
        Events allowed per client and window.
    window_s : float
        Length of the window, seconds.
    clock : callable, optional
        Monotonic seconds; default :func:`time.monotonic`.

    Examples
    --------
    >>> now = [0.0]
    >>> limiter = SlidingWindowLimiter(2, 60.0, clock=lambda: now[0])
    >>> limiter.try_acquire("a"), limiter.try_acquire("a"), limiter.try_acquire("a")
    (0.0, 0.0, 60.0)
    >>> now[0] = 60.0
    >>> limiter.try_acquire("a")
    0.0
    """

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or not window_s > 0:
            raise ValueError(f"limit={limit!r}, window_s={window_s!r}: both must be positive")
        self.limit = limit
        self.window_s = float(window_s)
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def try_acquire(self, client: str) -> float:
        """Count an event of ``client`` if allowed: 0.0, else the seconds until it would be."""
        with self._lock:
            stamp = self.clock()
            events = self._events.setdefault(client, deque())
            while events and events[0] <= stamp - self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return max(events[0] + self.window_s - stamp, 0.0)
            events.append(stamp)
            if len(self._events) >= _CLIENTS_SWEEP_AT:
                horizon = stamp - self.window_s
                for key in [k for k, v in self._events.items() if not v or v[-1] <= horizon]:
                    del self._events[key]
            return 0.0

    def refusal(self, wait_s: float) -> LimitExceeded:
        """Build the 429 of a client that must wait ``wait_s`` seconds."""
        retry = max(1, math.ceil(wait_s))
        return LimitExceeded(
            "rate_limited",
            f"Trop de calculs demandés depuis votre adresse : {self.limit} au plus en "
            f"{self.window_s:g} s sans jeton d'accès. Réessayez dans {retry} s, ou utilisez "
            "l'API avec un jeton.",
            retry,
        )


@dataclass(eq=False)
class _Item:
    job_id: str
    analysis_id: str
    work: Work
    future: Future[None]


class _Pool:
    """Worker threads taking jobs from a priority queue.

    Daemon threads: a job still running when the shutdown's grace time is over must not keep
    the process alive (its row is already marked failed; its result is never written).
    """

    def __init__(self, name: str, workers: int, run: Callable[[_Item], None]) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, _Item | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._run = run
        self.threads = [
            threading.Thread(target=self._loop, name=f"cartosoins-{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self.threads:
            thread.start()

    def put(self, item: _Item, priority: int) -> None:
        self._queue.put((priority, next(self._order), item))

    def stop(self) -> None:
        """Let each thread end after the jobs queued before this call."""
        for _ in self.threads:
            self._queue.put((_STOP, next(self._order), None))

    def _loop(self) -> None:
        while True:
            _, _, item = self._queue.get()
            if item is None:
                return
            if not item.future.set_running_or_notify_cancel():
                continue  # cancelled at shutdown: its row stays pending, resumed at next start
            try:
                self._run(item)
            except BaseException as exc:  # pragma: no cover - _run catches what jobs raise
                item.future.set_exception(exc)
            else:
                item.future.set_result(None)


class JobRunner:
    """Runs jobs in two lanes of worker threads and records their state.

    Parameters
    ----------
    db : Database
        Where job and analysis rows live.
    workers : int
        Threads of the ``private`` lane (token holders).
    public_workers : int
        Threads of the ``public`` lane (anonymous callers).
    public_queue_max : int
        Public jobs queued or running at once; one more is refused (429 ``queue_full``).
    rate_limiter : SlidingWindowLimiter, optional
        Public jobs one client may start per window (429 ``rate_limited``); None: no limit.
    """

    def __init__(
        self,
        db: Database,
        workers: int,
        *,
        public_workers: int = 1,
        public_queue_max: int = 8,
        rate_limiter: SlidingWindowLimiter | None = None,
    ) -> None:
        self.db = db
        self.public_queue_max = public_queue_max
        self.rate_limiter = rate_limiter
        self._pools: dict[Lane, _Pool] = {
            "private": _Pool("prive", workers, self._execute),
            "public": _Pool("public", public_workers, self._execute),
        }
        self._futures: dict[str, tuple[Lane, Future[None]]] = {}
        self._lock = threading.Lock()
        self._accepting = True
        self._abandoned: set[str] = set()

    def submit(
        self,
        job_id: str,
        analysis_id: str,
        work: Work,
        *,
        lane: Lane = "private",
        client: str | None = None,
        resumed: bool = False,
    ) -> Future[None]:
        """Queue a job whose row (pending) is committed.

        Parameters
        ----------
        job_id, analysis_id : str
            The committed rows.
        work : Work
            The computation.
        lane : {"private", "public"}
            ``public`` for a computation an anonymous caller starts (see :mod:`api.limits`).
        client : str, optional
            The anonymous caller's key (remote address) for the rate limit; None shares one
            budget.
        resumed : bool
            A job resumed at startup: it runs after the new jobs of its lane.

        Returns
        -------
        Future
            Done when the job's row is final; cancelled when the server stopped before it
            started (its row stays pending and the next start resumes it).

        Raises
        ------
        LimitExceeded
            A public job over the queue cap or the client's rate; nothing is queued and the
            rows are left to the caller (which marks them failed).
        """
        with self._lock:
            self._futures = {k: v for k, v in self._futures.items() if not v[1].done()}
            if not self._accepting:
                logger.info("job %s left pending: the server is stopping", job_id)
                stopped: Future[None] = Future()
                stopped.cancel()
                return stopped
            if lane == "public":
                queued = sum(1 for kind, _ in self._futures.values() if kind == "public")
                if queued >= self.public_queue_max:
                    raise _queue_full(self.public_queue_max)
                if self.rate_limiter is not None:
                    wait_s = self.rate_limiter.try_acquire(client or "inconnu")
                    if wait_s > 0:
                        raise self.rate_limiter.refusal(wait_s)
            future: Future[None] = Future()
            self._futures[job_id] = (lane, future)
            self._pools[lane].put(
                _Item(job_id, analysis_id, work, future), _RESUMED if resumed else _NEW
            )
        return future

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until a job submitted by this runner ends (no-op for unknown jobs)."""
        with self._lock:
            found = self._futures.get(job_id)
        if found is not None:
            found[1].result(timeout=timeout)

    def recover(self, rebuild: Rebuild) -> tuple[int, int]:
        """Resume the queued jobs a stopped server left, fail the ones it was running.

        A job queued (pending) is resumed from its analysis' stored request (``rebuild``), after
        the new jobs; when that is impossible (a deleted dataset…), or when the job was running
        (the process died under it, perhaps because of it), the job and its analysis are marked
        failed with a French message giving the one-call resubmission
        (``POST /jobs/{id}/retry``).

        Returns
        -------
        (int, int)
            Jobs resumed and jobs marked failed.
        """
        resume: list[crud.AnalysisRecord] = []
        failed = 0
        with self.db.transaction() as conn:
            for job in crud.list_unfinished_jobs(conn):
                analysis = crud.get_analysis(conn, job.analysis_id)
                current = analysis is not None and analysis.job_id == job.id
                if job.status == "pending" and analysis is not None and current:
                    resume.append(analysis)
                    continue
                _mark_failed(conn, job.id, job.analysis_id if current else None)
                failed += 1
            # an analysis left computing without a live job of its own (older crashes)
            waiting = {a.id for a in resume}
            for analysis in crud.list_unfinished_analyses(conn):
                if analysis.id not in waiting:
                    error = interrupted_message(analysis.job_id or "…")
                    crud.set_analysis_status(conn, analysis.id, "failed", error=error)
        resumed = 0
        for analysis in resume:
            assert analysis.job_id is not None  # selected above as the job's analysis
            try:
                work = rebuild(analysis)
            except Exception as exc:
                logger.warning("job %s not resumed: %s", analysis.job_id, exc)
                error = (
                    f"Reprise impossible au redémarrage du serveur ({exc}) ; relancez avec "
                    f"POST /jobs/{analysis.job_id}/retry une fois la cause corrigée."
                )
                self._fail(analysis.job_id, analysis.id, error)
                failed += 1
                continue
            with self.db.transaction() as conn:
                crud.update_job(
                    conn,
                    analysis.job_id,
                    status="pending",
                    progress=0.0,
                    message="En attente (reprise après le redémarrage du serveur)…",
                )
                crud.set_analysis_status(conn, analysis.id, "pending")
            self.submit(analysis.job_id, analysis.id, work, resumed=True)
            resumed += 1
        if resumed or failed:
            logger.info("startup: %d job(s) resumed, %d marked failed", resumed, failed)
        return resumed, failed

    def shutdown(self, grace_s: float | None = None) -> None:
        """Stop accepting jobs; let the running ones finish within ``grace_s`` seconds.

        Queued jobs are not started: their rows stay pending and the next start resumes them.
        Running jobs still unfinished after ``grace_s`` (None: wait for them all) are marked
        failed with :func:`interrupted_message`; their threads stop at their next progress
        report and never write their result.
        """
        with self._lock:
            self._accepting = False
            futures = dict(self._futures)
        for _, future in futures.values():
            future.cancel()  # only the queued ones: a running future cannot be cancelled
        running = {job_id: f for job_id, (_, f) in futures.items() if not f.cancelled()}
        _, late = concurrent.futures.wait(running.values(), timeout=grace_s)
        for job_id, future in running.items():
            if future in late:
                with self._lock:
                    self._abandoned.add(job_id)
                logger.warning("job %s interrupted by the shutdown", job_id)
                with self.db.transaction() as conn:
                    _mark_failed(conn, job_id, _analysis_of(conn, job_id))
        for pool in self._pools.values():
            pool.stop()
        if not late:
            for pool in self._pools.values():
                for thread in pool.threads:
                    thread.join()

    def _is_abandoned(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._abandoned

    def _execute(self, item: _Item) -> None:
        self._run(item.job_id, item.analysis_id, item.work)

    def _run(self, job_id: str, analysis_id: str, work: Work) -> None:
        with self.db.transaction() as conn:
            crud.update_job(conn, job_id, status="running", progress=0.0, message="Démarrage…")
            crud.set_analysis_status(conn, analysis_id, "running")
        last = [0.0]

        def progress(fraction: float, message: str) -> None:
            if self._is_abandoned(job_id):
                raise JobInterrupted(job_id)
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
                # the shutdown may have marked it failed meanwhile: keep that state
                if self._is_abandoned(job_id) or _status(conn, job_id) != "running":
                    raise JobInterrupted(job_id)
                persist(conn)
                crud.update_job(conn, job_id, status="done", progress=1.0, message="Terminé")
        except JobInterrupted:
            logger.info("job %s abandoned, its result not written", job_id)
        except CartosoinsError as exc:
            self._fail(job_id, analysis_id, str(exc))
        except Exception as exc:
            if self._is_abandoned(job_id):
                return  # the database may be closed under it: its row is final already
            logger.exception("job %s failed", job_id)
            self._fail(job_id, analysis_id, f"erreur interne ({type(exc).__name__})")

    def _fail(self, job_id: str, analysis_id: str, error: str) -> None:
        with self.db.transaction() as conn:
            crud.update_job(
                conn, job_id, status="failed", progress=1.0, message="Échec", error=error
            )
            crud.set_analysis_status(conn, analysis_id, "failed", error=error)


def _queue_full(queue_max: int) -> LimitExceeded:
    return LimitExceeded(
        "queue_full",
        f"La file des calculs publics est pleine ({queue_max} calculs en cours ou en attente). "
        f"Réessayez dans {QUEUE_FULL_RETRY_AFTER_S} s : les cartes déjà calculées restent "
        "consultables.",
        QUEUE_FULL_RETRY_AFTER_S,
    )


def _status(conn: sqlite3.Connection, job_id: str) -> str | None:
    job = crud.get_job(conn, job_id)
    return None if job is None else job.status


def _analysis_of(conn: sqlite3.Connection, job_id: str) -> str | None:
    """Return the analysis whose current job is ``job_id`` (None when a newer job replaced it)."""
    job = crud.get_job(conn, job_id)
    if job is None:
        return None
    analysis = crud.get_analysis(conn, job.analysis_id)
    return None if analysis is None or analysis.job_id != job_id else analysis.id


def _mark_failed(conn: sqlite3.Connection, job_id: str, analysis_id: str | None) -> None:
    """Fail an unfinished job (and its analysis) as interrupted; a finished one is kept."""
    if _status(conn, job_id) not in ("pending", "running"):
        return
    error = interrupted_message(job_id)
    crud.update_job(conn, job_id, status="failed", progress=1.0, message="Interrompu", error=error)
    if analysis_id is not None:
        crud.set_analysis_status(conn, analysis_id, "failed", error=error)
