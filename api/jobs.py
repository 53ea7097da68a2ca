"""Background jobs: analyses, scenarios and sitings computed on worker threads, state in the DB.

A job reports its progress (0–1, French message) to its row; its result and the ``done`` state
are committed in one transaction, so a crash leaves either the whole result or an unfinished
row. Jobs run in two lanes with their own threads: ``private`` (token holders) and ``public``
(anonymous callers of the French pages, bounded by a queue cap and a per-client rate limit,
see :mod:`api.limits`), so a token holder's job never waits behind an anonymous one.

Across restarts: at startup (:meth:`JobRunner.recover`) a queued job is resumed from its stored
request, a job that was running when the process died is marked failed with a one-call
resubmission (``POST /jobs/{id}/retry``); at shutdown (:meth:`JobRunner.shutdown`) queued jobs
stay queued for the next start and running ones get a bounded time to finish.

Two runners share that contract. :class:`JobRunner` (the embedded SQLite default) hands jobs to
the threads of the process that received them. :class:`QueueRunner` (PostgreSQL: several
``cartosoins serve`` and ``cartosoins worker`` processes on one database) lets every process's
threads claim jobs from the ``jobs`` table (``SELECT … FOR UPDATE SKIP LOCKED``); a claim is a
lease its worker renews while it computes, and a job whose worker died (its lease ran out) is
taken over by another, up to ``max_attempts`` attempts in all.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import math
import os
import queue
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal

from fastapi import HTTPException
from sqlalchemy import Connection

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
Persist = Callable[[Connection], None]
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

    #: This runner's jobs run in this process only: no reader name on datasets.
    worker_id: str | None = None

    def admit(self, lane: Lane, client: str | None) -> None:
        """Check a job may be queued before its rows are written: :meth:`submit` checks here."""

    def start(self, rebuild: Rebuild, read_dataset: Callable[[str], None]) -> None:
        """Nothing to start: the threads run from the construction, jobs come from submit."""

    def hold_dataset(self, dataset_id: str) -> None:
        """Datasets read by this process need no lease (one process per SQLite database)."""

    def release_dataset(self, dataset_id: str) -> None:
        """See :meth:`hold_dataset`."""

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
                _admit_public(queued, self.public_queue_max, self.rate_limiter, client)
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


def _admit_public(
    queued: int, queue_max: int, limiter: SlidingWindowLimiter | None, client: str | None
) -> None:
    """Refuse one more public job over the cap (``queued`` already) or the client's rate."""
    if queued >= queue_max:
        raise _queue_full(queue_max)
    if limiter is not None:
        wait_s = limiter.try_acquire(client or "inconnu")
        if wait_s > 0:
            raise limiter.refusal(wait_s)


def _queue_full(queue_max: int) -> LimitExceeded:
    return LimitExceeded(
        "queue_full",
        f"La file des calculs publics est pleine ({queue_max} calculs en cours ou en attente). "
        f"Réessayez dans {QUEUE_FULL_RETRY_AFTER_S} s : les cartes déjà calculées restent "
        "consultables.",
        QUEUE_FULL_RETRY_AFTER_S,
    )


def _status(conn: Connection, job_id: str) -> str | None:
    job = crud.get_job(conn, job_id)
    return None if job is None else job.status


def _analysis_of(conn: Connection, job_id: str) -> str | None:
    """Return the analysis whose current job is ``job_id`` (None when a newer job replaced it)."""
    job = crud.get_job(conn, job_id)
    if job is None:
        return None
    analysis = crud.get_analysis(conn, job.analysis_id)
    return None if analysis is None or analysis.job_id != job_id else analysis.id


def _mark_failed(conn: Connection, job_id: str, analysis_id: str | None) -> None:
    """Fail an unfinished job (and its analysis) as interrupted; a finished one is kept."""
    if _status(conn, job_id) not in ("pending", "running"):
        return
    error = interrupted_message(job_id)
    crud.update_job(conn, job_id, status="failed", progress=1.0, message="Interrompu", error=error)
    if analysis_id is not None:
        crud.set_analysis_status(conn, analysis_id, "failed", error=error)


class QueueRunner:
    """Jobs claimed from the database by the threads of every process sharing it.

    Parameters
    ----------
    db : Database
        The shared database (PostgreSQL; SQLite works too, one writer at a time).
    workers, public_workers : int
        Threads claiming jobs of the ``private`` and the ``public`` lane.
    public_queue_max : int
        Public jobs pending or running at once (counted in the database, all processes
        together); one more is refused (429 ``queue_full``).
    rate_limiter : SlidingWindowLimiter, optional
        Public jobs one client may start per window, counted by this process.
    lease_s : float
        How long a claim lasts without being renewed; the holder renews it every third of it,
        so a job is taken over about ``lease_s`` seconds after its worker died.
    max_attempts : int
        Claims of one job in all: a job that killed its worker this many times fails (with
        the one-call retry of :func:`interrupted_message`).
    poll_s : float
        Longest wait between two looks at the queue (a job submitted by this process wakes its
        threads at once).
    claim : bool
        False for a process that queues jobs without computing them (no threads).
    """

    def __init__(
        self,
        db: Database,
        workers: int,
        *,
        public_workers: int = 1,
        public_queue_max: int = 8,
        rate_limiter: SlidingWindowLimiter | None = None,
        lease_s: float = 30.0,
        max_attempts: int = 2,
        poll_s: float = 0.5,
        claim: bool = True,
    ) -> None:
        self.db = db
        self.public_queue_max = public_queue_max
        self.rate_limiter = rate_limiter
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.poll_s = poll_s
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._lanes: list[Lane] = []
        if claim:
            private: list[Lane] = ["private"] * workers
            public: list[Lane] = ["public"] * public_workers
            self._lanes = private + public
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._generation = 0
        self._stopping = threading.Event()
        self._held: dict[str, Future[None]] = {}  # jobs this process computes
        self._lost: set[str] = set()  # held jobs whose lease is gone: never write them
        self._datasets: set[str] = set()  # dataset readings this process holds
        self._rebuild: Rebuild | None = None
        self._read_dataset: Callable[[str], None] | None = None

    # -- the contract of JobRunner ------------------------------------------------------------
    def start(self, rebuild: Rebuild, read_dataset: Callable[[str], None]) -> None:
        """Start the claiming threads and the lease keeper.

        ``rebuild`` makes a claimed job's computation from its stored request;
        ``read_dataset`` reads a dataset whose reading lost its process.
        """
        self._rebuild, self._read_dataset = rebuild, read_dataset
        names = {"private": "prive", "public": "public"}
        for i, lane in enumerate(self._lanes):
            thread = threading.Thread(
                target=self._loop, args=(lane,), name=f"cartosoins-{names[lane]}-{i}", daemon=True
            )
            self._threads.append(thread)
        self._threads.append(
            threading.Thread(target=self._keep_leases, name="cartosoins-baux", daemon=True)
        )
        for thread in self._threads:
            thread.start()

    def admit(self, lane: Lane, client: str | None) -> None:
        """Refuse a public job over the cap or the client's rate, before its rows exist.

        Raises
        ------
        LimitExceeded
            429 ``queue_full`` or ``rate_limited``.
        """
        if lane != "public":
            return
        queued = crud.count_unfinished_jobs(self.db.connection(), "public")
        _admit_public(queued, self.public_queue_max, self.rate_limiter, client)

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
        """Wake the claiming threads: the job's committed row is the queue entry.

        ``work`` is not kept: whichever process claims the job rebuilds it from the stored
        request. The returned future is done at once; follow the job with :meth:`wait`.
        """
        with self._wake:
            self._generation += 1
            self._wake.notify_all()
        queued: Future[None] = Future()
        queued.set_result(None)
        return queued

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until the job's row is final, whichever process computes it.

        Raises
        ------
        TimeoutError
            Still unfinished after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                held = self._held.get(job_id)
            if held is not None:  # computed here: wait for its thread
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                held.result(timeout=remaining)
            job = crud.get_job(self.db.connection(), job_id)
            if job is None or job.status in ("done", "failed"):
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} unfinished after {timeout} s")
            self._stopping.wait(0.05)

    def recover(self, rebuild: Rebuild) -> tuple[int, int]:
        """Nothing to recover by hand: stale claims are taken over when their lease runs out.

        Returns the jobs waiting in the queue (pending or with a lease run out) and 0.
        """
        now_s = time.time()
        waiting = sum(
            1
            for job in crud.list_unfinished_jobs(self.db.connection())
            if job.status == "pending" or job.lease_until is None or job.lease_until < now_s
        )
        if waiting:
            logger.info("startup: %d job(s) waiting in the shared queue", waiting)
        return waiting, 0

    def shutdown(self, grace_s: float | None = None) -> None:
        """Stop claiming; give running jobs ``grace_s`` seconds, then hand them back.

        A job still running after the grace time goes back to the queue (pending, attempt
        counted) for another process; its thread never writes its result.
        """
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
            held = dict(self._held)
        _, late = concurrent.futures.wait(held.values(), timeout=grace_s)
        for job_id, future in held.items():
            if future in late:
                with self._lock:
                    self._lost.add(job_id)
                with self.db.transaction() as conn:
                    crud.release_job(
                        conn,
                        job_id,
                        self.worker_id,
                        "En attente (le processus qui calculait s'est arrêté)…",
                    )
                logger.warning("job %s handed back to the queue at shutdown", job_id)
        if not late:
            for thread in self._threads:
                thread.join()

    # -- datasets read by this process ------------------------------------------------------
    def hold_dataset(self, dataset_id: str) -> None:
        """Renew the lease of a dataset this process reads until :meth:`release_dataset`."""
        with self._lock:
            self._datasets.add(dataset_id)

    def release_dataset(self, dataset_id: str) -> None:
        """Stop renewing a dataset's reading lease (its reading ended)."""
        with self._lock:
            self._datasets.discard(dataset_id)

    # -- the threads ----------------------------------------------------------------------------
    def _loop(self, lane: Lane) -> None:
        while not self._stopping.is_set():
            with self._lock:
                seen = self._generation
            try:
                worked = self._work_once(lane)
            except _GiveBack:
                return
            except Exception:  # a database hiccup must not kill the thread
                logger.exception("claiming a job failed; retrying")
                worked = False
            if worked:
                continue
            with self._wake:
                if self._generation == seen and not self._stopping.is_set():
                    self._wake.wait(self.poll_s)

    def _work_once(self, lane: Lane) -> bool:
        """Claim and run one job (or, on the private lane, one orphan dataset reading)."""
        with self.db.transaction() as conn:
            job = crud.claim_job(
                conn, lane, self.worker_id, now_s=time.time(), lease_s=self.lease_s
            )
            if job is not None and job.attempts > self.max_attempts:
                _mark_failed(conn, job.id, _analysis_of(conn, job.id))
                logger.warning("job %s failed: its worker died %d times", job.id, job.attempts - 1)
                return True
            if job is not None:
                with self._lock:
                    if self._stopping.is_set():
                        job = None  # stopping: give it back below
                    else:
                        self._held[job.id] = Future()
                if job is None:
                    raise _GiveBack
        if job is not None:
            self._run_claimed(job)
            return True
        if lane == "private":
            return self._read_orphan()
        return False

    def _read_orphan(self) -> bool:
        with self.db.transaction() as conn:
            record = crud.claim_dataset(
                conn, self.worker_id, now_s=time.time(), lease_s=self.lease_s
            )
        if record is None or self._read_dataset is None:
            return False
        logger.info("dataset %s: reading taken over by worker %s", record.id, self.worker_id)
        self.hold_dataset(record.id)
        try:
            self._read_dataset(record.id)
        finally:
            self.release_dataset(record.id)
        return True

    def _run_claimed(self, job: crud.JobRecord) -> None:
        with self._lock:
            future = self._held[job.id]
        logger.info(
            "job %s started (attempt %d) by worker %s", job.id, job.attempts, self.worker_id
        )
        try:
            self._compute(job)
        finally:
            with self._lock:
                self._held.pop(job.id, None)
                self._lost.discard(job.id)
            future.set_result(None)

    def _compute(self, job: crud.JobRecord) -> None:
        analysis = crud.get_analysis(self.db.connection(), job.analysis_id)
        if analysis is None or analysis.job_id != job.id:
            with self.db.transaction() as conn:
                _mark_failed(conn, job.id, None)  # replaced by a newer job
            return
        assert self._rebuild is not None  # start() was called
        with self.db.transaction() as conn:
            crud.set_analysis_status(conn, analysis.id, "running")
        try:
            work = self._rebuild(analysis)
        except Exception as exc:
            logger.warning("job %s cannot run: %s", job.id, exc)
            self._fail(
                job.id,
                analysis.id,
                f"Calcul impossible ({exc}) ; relancez avec POST /jobs/{job.id}/retry une fois "
                "la cause corrigée.",
            )
            return
        last = [0.0]

        def progress(fraction: float, message: str) -> None:
            if self._is_lost(job.id):
                raise JobInterrupted(job.id)
            stamp = time.monotonic()
            if stamp - last[0] < _PROGRESS_INTERVAL_S:
                return
            last[0] = stamp
            with self.db.transaction() as conn:
                held = crud.report_progress(
                    conn,
                    job.id,
                    self.worker_id,
                    min(max(float(fraction), 0.0), 0.99),
                    message,
                )
            if not held:
                raise JobInterrupted(job.id)

        try:
            with collect_data_warnings() as caught:
                persist = work(progress)
            for message in caught:
                logger.warning("job %s: %s", job.id, message)
            with self.db.transaction() as conn:
                # taken over meanwhile (this process looked dead): the other worker writes
                if self._is_lost(job.id) or not crud.job_held_by(conn, job.id, self.worker_id):
                    raise JobInterrupted(job.id)
                persist(conn)
                crud.update_job(conn, job.id, status="done", progress=1.0, message="Terminé")
            logger.info("job %s done by worker %s", job.id, self.worker_id)
        except JobInterrupted:
            logger.info("job %s no longer held by this worker: its result is not written", job.id)
        except CartosoinsError as exc:
            self._fail(job.id, analysis.id, str(exc))
        except Exception as exc:
            logger.exception("job %s failed", job.id)
            self._fail(job.id, analysis.id, f"erreur interne ({type(exc).__name__})")

    def _fail(self, job_id: str, analysis_id: str, error: str) -> None:
        with self.db.transaction() as conn:
            if not crud.job_held_by(conn, job_id, self.worker_id):
                return
            crud.update_job(
                conn, job_id, status="failed", progress=1.0, message="Échec", error=error
            )
            crud.set_analysis_status(conn, analysis_id, "failed", error=error)

    def _is_lost(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._lost

    def _keep_leases(self) -> None:
        """Renew the leases of the jobs and readings this process holds, every third of one."""
        while not self._stopping.wait(self.lease_s / 3):
            with self._lock:
                jobs, datasets = list(self._held), list(self._datasets)
            if not jobs and not datasets:
                continue
            until = time.time() + self.lease_s
            try:
                with self.db.transaction() as conn:
                    kept = crud.renew_job_leases(conn, self.worker_id, jobs, until)
                    crud.renew_dataset_leases(conn, self.worker_id, datasets, until)
            except Exception:
                logger.exception("renewing leases failed; retrying")
                continue
            lost = set(jobs) - kept
            if lost:
                with self._lock:
                    self._lost |= lost & set(self._held)
                logger.warning("job(s) %s taken over by another worker", sorted(lost))


class _GiveBack(Exception):
    """Roll back a claim made while the runner was stopping."""
