"""The service's operations: store datasets, run and cache analyses, scenarios, renderings.

Each route calls one function of this module; it validates against the database, commits rows
in one transaction, hands long work to the :class:`~api.jobs.JobRunner` and serves stored
results. Engine calls go through :mod:`api.core`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from api import core, crud
from api.db import Database, lock
from api.jobs import JobRunner, Lane, Persist, QueueRunner, SlidingWindowLimiter
from api.schemas import (
    BPE_DATASET,
    DEMO_DATASET,
    AddPractitionersChange,
    AnalysisCreate,
    ChangePopulationChange,
    RemovePractitionersChange,
    RetireChange,
    ScenarioCreate,
    SitingCreate,
)
from api.settings import Settings
from api.store import BlobStore
from api.uploads import Upload
from geo.analysis import FRANCE_BOXES, AccessProblem, line_radius_m, metric_crs_of_lonlat
from geo.costs import read_od_table
from geo.demo import is_synthetic
from geo.errors import (
    CartosoinsError,
    DataValidationError,
    InputFormatError,
    collect_data_warnings,
)
from geo.io import read_population_table, read_practitioners
from geo.maps.choropleth import SYNTHETIC_LABEL
from geo.scenario import NEW_PRACTITIONER_PREFIX, Scenario
from geo.siting import recommend_sites
from geo.territory import Territory

__all__ = [
    "CACHE_VERSION",
    "RENDER_KINDS",
    "Conflict",
    "NotFound",
    "Services",
    "open_services",
]

#: Part of every cache key: bump it when the engine's results change for the same request.
CACHE_VERSION = "cartosoins-1"

#: Renderings of a stored result: kind → media type.
RENDER_KINDS: dict[str, str] = {
    "map_html": "text/html; charset=utf-8",
    "map_png": "image/png",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
}

#: Why the embedded real GPs cannot answer a question about ages.
_NO_AGES = (
    "{option} demande l'âge des praticiens, que le jeu de données 'bpe' (INSEE BPE : des "
    "effectifs par commune) ne donne pas : simulez plutôt des départs nommés "
    "(remove_practitioners, ids « BPE-<commune>-<n> »), ou analysez le jeu 'demo' (praticiens "
    "simulés) ou un fichier avec les âges (extraction RPPS / Annuaire Santé)"
)

PRACTITIONER_FORMATS = ("auto", "csv_latlon", "csv_commune", "bpe", "rpps", "geojson", "gpkg")


class NotFound(LookupError):
    """A dataset, analysis or job id that does not exist (HTTP 404)."""


class Conflict(RuntimeError):
    """A request that the state of a resource forbids now (HTTP 409)."""


logger = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class _LRU(Generic[K, V]):
    """A small thread-safe least-recently-used cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


@dataclass
class Services:
    """What the routes work with: settings, database, files, job runner and caches."""

    settings: Settings
    db: Database
    store: BlobStore
    runner: JobRunner | QueueRunner
    problems: _LRU[str, AccessProblem] = field(default_factory=lambda: _LRU(2))
    frames: _LRU[str, gpd.GeoDataFrame] = field(default_factory=lambda: _LRU(4))
    _locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)
    #: One thread reads big uploads: two national files at once would double the memory.
    _readers: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="cartosoins-read")
    )
    _reads: dict[str, Future[None]] = field(default_factory=dict)

    def close(self) -> None:
        """Stop the jobs (bounded by ``shutdown_grace_seconds``) and close the database.

        Queued jobs stay queued for the next start; running ones unfinished after the grace
        time are marked failed with their one-call resubmission (``POST /jobs/{id}/retry``).
        """
        self.runner.shutdown(self.settings.shutdown_grace_seconds)
        # a dataset read cut short stays pending: read again at the next start
        self._readers.shutdown(wait=True, cancel_futures=True)
        self.db.close()

    def rebuild_work(self, record: crud.AnalysisRecord) -> Callable[[core.Progress], Persist]:
        """Rebuild the computation of a stored analysis, scenario or siting from its request.

        Used to resume a queued job at startup and to retry a failed one. Raises when the
        request can no longer run as stored (its parent analysis is gone or not done…).
        """
        request = record.request
        if record.kind == "analysis":
            territory = core.resolve(**request["territory"])
            return self._analysis_work(record.id, request, territory)
        if record.parent_id is None:
            raise DataValidationError(f"{record.kind} {record.id!r} sans analyse de départ")
        parent = self._done_parent(record.parent_id)
        if record.kind == "scenario":
            scenario = ScenarioCreate.model_validate(request)
            return self._scenario_work(
                record.id, parent, _scenario_of(scenario), scenario.gap_preset
            )
        return self._siting_work(record.id, parent, SitingCreate.model_validate(request))

    def retry_job(self, job_id: str) -> tuple[crud.AnalysisRecord, crud.JobRecord]:
        """Compute a failed job's analysis again from its stored request, under the same id.

        Returns
        -------
        (AnalysisRecord, JobRecord)
            The analysis, pending again, and its new job.
        """
        job = self.job(job_id)
        record = self.analysis(job.analysis_id)
        if job.status != "failed":
            raise Conflict(f"le job {job_id!r} est {job.status} : seul un job échoué se relance")
        if record.job_id != job_id:
            raise Conflict(
                f"le job {job_id!r} a été remplacé par le job {record.job_id!r} "
                f"(analyse {record.id!r}, {record.status}) : suivez /jobs/{record.job_id}"
            )
        work = self.rebuild_work(record)
        old_lane: Lane = "public" if job.lane == "public" else "private"
        new_job_id = crud.new_id("job")
        with self.db.transaction() as conn:
            lock(conn, f"analysis:{record.id}")
            again = crud.get_analysis(conn, record.id)
            if again is None or again.job_id != job_id or again.status != "failed":
                raise Conflict(f"le job {job_id!r} vient d'être relancé : suivez l'analyse")
            crud.delete_renders(conn, record.id)
            crud.insert_job(conn, new_job_id, record.kind, record.id, lane=old_lane)
            crud.set_analysis_status(conn, record.id, "pending", job_id=new_job_id)
            updated = crud.get_analysis(conn, record.id)
            new_job = crud.get_job(conn, new_job_id)
        assert updated is not None and new_job is not None  # committed just above
        self.runner.submit(new_job_id, record.id, work, lane=old_lane)
        return updated, new_job

    @contextmanager
    def _lock(self, *key: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault((key[0], key[1]), threading.Lock())
        with lock:
            yield

    # ----------------------------------------------------------------------------------------
    # datasets
    # ----------------------------------------------------------------------------------------
    def create_dataset(
        self,
        kind: str,
        data: bytes | Upload,
        filename: str,
        options: dict[str, Any],
        private: bool,
        owner: str | None = None,
    ) -> tuple[crud.DatasetRecord, bool]:
        """Parse and store an upload; an identical upload returns the stored dataset.

        ``owner`` is the uploading member's organisation (None: the bootstrap administrator);
        it is part of the identity of an upload: an organisation never gets another's dataset.

        Identical means the same bytes, kind, reading options *and* privacy: a private upload
        never returns an earlier public dataset, and a public upload never returns (and so
        never exposes) a private one; each gets its own record (the files are shared by
        content hash). A dataset whose reading failed is not reused: the upload is read again.

        An upload up to ``settings.sync_parse_bytes`` is read now (engine errors propagate);
        a bigger one is stored and read by a background thread: the record returned is
        ``pending``, its ``status``, ``progress``, ``message`` and ``error`` tell how the
        reading goes. Either way no half-written dataset is left: the parsed table and the
        ``ready`` state are committed together, or the dataset is ``failed`` with no table.

        Parameters
        ----------
        data : bytes or Upload
            The file: its bytes, or an :class:`~api.uploads.Upload` (in memory or in a
            temporary file of the store, moved into the store or deleted here).

        Returns
        -------
        (DatasetRecord, bool)
            The dataset and whether it was created now.
        """
        upload = (
            data
            if isinstance(data, Upload)
            else Upload(filename, hashlib.sha256(data).hexdigest(), len(data), data=data)
        )
        try:
            existing = crud.find_dataset(
                self.db.connection(), kind, upload.sha256, options, private=private, owner=owner
            )
            if existing is not None and existing.status != "failed":
                return existing, False
            if upload.size > self.settings.sync_parse_bytes:
                return self._read_later(kind, upload, filename, options, private, owner), True
            source: bytes | Path
            if upload.data is not None:
                source = upload.data
            else:
                assert upload.path is not None  # an upload is in memory or in a file
                source = upload.path
            parsed, rows, columns, info, fmt = _parse_dataset(kind, source, filename, options)
            original_sha = self._store_upload(upload)
            record = crud.DatasetRecord(
                id=crud.new_id("ds"),
                kind=kind,
                filename=filename,
                format=fmt,
                options=options,
                original_sha256=original_sha,
                original_bytes=upload.size,
                parsed_sha256=original_sha if parsed is None else self.store.put(parsed),
                rows=rows,
                columns=columns,
                info=info,
                private=private,
                created_at=crud.now(),
                organisation_id=owner,
            )
            with self.db.transaction() as conn:
                # re-check under the lock: the same file may have been sent twice at once
                self._lock_upload(conn, kind, record)
                again = crud.find_dataset(
                    conn, kind, upload.sha256, options, private=private, owner=owner
                )
                if again is not None and again.status != "failed":
                    return again, False
                if again is not None:
                    crud.delete_dataset(conn, again.id)
                self._check_blobs(record.original_sha256, record.parsed_sha256)
                crud.insert_dataset(conn, record)
            return record, True
        finally:
            upload.discard()

    def _store_upload(self, upload: Upload) -> str:
        """Put an upload's file into the store (a rename for a temporary file)."""
        if upload.path is not None and upload.path.is_file():
            return self.store.put_file(upload.path, upload.sha256)
        return self.store.put(upload.read_bytes())

    def _read_later(
        self,
        kind: str,
        upload: Upload,
        filename: str,
        options: dict[str, Any],
        private: bool,
        owner: str | None,
    ) -> crud.DatasetRecord:
        """Store a big upload as a ``pending`` dataset and read it in the background."""
        original_sha = self._store_upload(upload)
        record = crud.DatasetRecord(
            id=crud.new_id("ds"),
            kind=kind,
            filename=filename,
            format=str(options.get("format") or "auto") if kind == "practitioners" else kind,
            options=options,
            original_sha256=original_sha,
            original_bytes=upload.size,
            parsed_sha256="",
            rows=0,
            columns=[],
            info={},
            private=private,
            created_at=crud.now(),
            status="pending",
            progress=0.0,
            message="En attente de lecture…",
            organisation_id=owner,
        )
        reader = self.runner.worker_id
        with self.db.transaction() as conn:
            self._lock_upload(conn, kind, record)
            again = crud.find_dataset(
                conn, kind, upload.sha256, options, private=private, owner=owner
            )
            if again is not None and again.status != "failed":
                return again
            if again is not None:
                crud.delete_dataset(conn, again.id)
            self._check_blobs(record.original_sha256)
            crud.insert_dataset(
                conn,
                record,
                reader=reader,
                lease_until=None if reader is None else time.time() + self._lease_s,
            )
        self.runner.hold_dataset(record.id)
        self._submit_read(record.id)
        return record

    @property
    def _lease_s(self) -> float:
        return self.settings.job_lease_seconds

    @staticmethod
    def _lock_upload(conn: Any, kind: str, record: crud.DatasetRecord) -> None:
        """Serialise identical uploads and the deletions of their files (PostgreSQL)."""
        lock(
            conn,
            f"dataset:{kind}:{record.original_sha256}",
            *(f"blob:{sha}" for sha in (record.original_sha256, record.parsed_sha256) if sha),
        )

    def _check_blobs(self, *shas: str) -> None:
        """Refuse to commit a row whose file a concurrent deletion just removed (rare)."""
        missing = [sha for sha in shas if sha and not self.store.exists(sha)]
        if missing:
            raise Conflict("le fichier vient d'être supprimé par une autre demande : renvoyez-le")

    def _forget_blobs(self, conn: Any, *shas: str) -> None:
        """Delete the files no row refers to any more, inside the deleting transaction.

        The files are locked (:func:`api.db.lock`), so an upload of the same content waits and
        then finds its file gone (and asks to be sent again) instead of committing a row whose
        file is deleted after it.
        """
        shas = tuple(sha for sha in shas if sha)
        lock(conn, *(f"blob:{sha}" for sha in shas))
        still = crud.referenced_blobs(conn)
        for sha in shas:
            if sha not in still:
                self.store.delete(sha)

    def _submit_read(self, dataset_id: str) -> None:
        future = self._readers.submit(self._read_held, dataset_id)
        with self._locks_guard:
            self._reads = {k: f for k, f in self._reads.items() if not f.done()}
            self._reads[dataset_id] = future

    def wait_dataset(self, dataset_id: str, timeout: float | None = None) -> None:
        """Block until the background reading of a dataset ends (no-op when none runs).

        With a shared database another process may be reading it: its row is watched.

        Raises
        ------
        TimeoutError
            Still being read after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._locks_guard:
            future = self._reads.get(dataset_id)
        if future is not None:
            future.result(timeout=timeout)
        if self.runner.worker_id is None:
            return
        while True:
            record = crud.get_dataset(self.db.connection(), dataset_id)
            if record is None or record.status not in ("pending", "running"):
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"dataset {dataset_id} still read after {timeout} s")
            time.sleep(0.05)

    def _read_held(self, dataset_id: str) -> None:
        try:
            self._read_dataset(dataset_id)
        finally:
            self.runner.release_dataset(dataset_id)

    def resume_dataset_reads(self) -> int:
        """Read again the datasets whose background reading a stopped server left unfinished.

        Their original file is stored, so the reading starts over; returns how many. With a
        shared database the queue's workers take over the readings whose process died (their
        lease ran out), so nothing is resumed here.
        """
        if self.runner.worker_id is not None:
            return 0
        records = crud.unfinished_datasets(self.db.connection())
        for record in records:
            self._submit_read(record.id)
        return len(records)

    def _dataset_state(
        self, dataset_id: str, status: str, progress: float, message: str, error: str | None = None
    ) -> None:
        with self.db.transaction() as conn:
            crud.update_dataset_state(
                conn, dataset_id, status=status, progress=progress, message=message, error=error
            )

    def _read_dataset(self, dataset_id: str) -> None:
        """Background reading of a stored upload: ``ready`` with its table, or ``failed``."""
        record = crud.get_dataset(self.db.connection(), dataset_id)
        if record is None or record.status not in ("pending", "running"):
            return
        try:
            self._dataset_state(dataset_id, "running", 0.05, "Lecture du fichier…")
            source = self.store.path(record.original_sha256)
            if not source.is_file():
                raise InputFormatError(f"{record.filename} : le fichier reçu a disparu du stockage")
            parsed, rows, columns, info, fmt = _parse_dataset(
                record.kind, source, record.filename, record.options
            )
            self._dataset_state(dataset_id, "running", 0.9, "Enregistrement de la table lue…")
            parsed_sha = record.original_sha256 if parsed is None else self.store.put(parsed)
            del parsed
        except CartosoinsError as exc:
            self._fail_read(record, f"Lecture impossible du fichier {record.filename} : {exc}")
            return
        except Exception as exc:  # a reading never dies silently
            logger.exception("reading dataset %s failed", dataset_id)
            self._fail_read(
                record,
                f"Lecture impossible du fichier {record.filename} : erreur interne "
                f"({type(exc).__name__})",
            )
            return
        done = replace(
            record,
            format=fmt,
            parsed_sha256=parsed_sha,
            rows=rows,
            columns=columns,
            info=info,
            message="Prêt",
        )
        with self.db.transaction() as conn:
            lock(conn, f"blob:{parsed_sha}")
            alive = crud.get_dataset(conn, dataset_id) is not None
            if alive:
                self._check_blobs(parsed_sha)
                crud.finish_dataset(conn, done)
            else:  # deleted while it was read
                self._forget_blobs(conn, parsed_sha)

    def _fail_read(self, record: crud.DatasetRecord, error: str) -> None:
        """Mark a dataset failed (no table); its original file goes unless another row uses it."""
        with self.db.transaction() as conn:
            lock(conn, f"blob:{record.original_sha256}")
            crud.update_dataset_state(
                conn, record.id, status="failed", progress=1.0, message="Échec", error=error
            )
            others = crud.count_live_datasets_of(conn, record.original_sha256, besides=record.id)
            if not others:
                self.store.delete(record.original_sha256)

    def dataset(self, dataset_id: str) -> crud.DatasetRecord:
        """Return a stored dataset (raises NotFound)."""
        record = crud.get_dataset(self.db.connection(), dataset_id)
        if record is None:
            raise NotFound(f"dataset {dataset_id!r} not found")
        return record

    def list_datasets(
        self, *, public_only: bool, limit: int, offset: int, organisation_id: str | None = None
    ) -> list[crud.DatasetRecord]:
        """List stored datasets, newest first (a member: what its organisation may read)."""
        return crud.list_datasets(
            self.db.connection(),
            public_only=public_only,
            limit=limit,
            offset=offset,
            organisation_id=organisation_id,
        )

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset and its files (analyses keep their aggregated results)."""
        with self.db.transaction() as conn:
            record = crud.get_dataset(conn, dataset_id)
            if record is None:
                raise NotFound(f"dataset {dataset_id!r} not found")
            crud.delete_dataset(conn, dataset_id)
            # a dataset not read yet has no parsed table
            self._forget_blobs(conn, record.original_sha256, record.parsed_sha256)

    def _practitioners(self, dataset_id: str, profession: str | None, seed: int) -> Any:
        if dataset_id in (DEMO_DATASET, BPE_DATASET):
            return core.builtin_practitioners(dataset_id, profession, seed)
        record = crud.get_dataset(self.db.connection(), dataset_id)
        if record is None:
            raise DataValidationError(f"dataset {dataset_id!r} no longer exists (deleted)")
        frame = gpd.read_parquet(io.BytesIO(self.store.get(record.parsed_sha256)))
        return core.select_profession(frame, profession, f"dataset {record.filename!r}")

    def _table(self, dataset_id: str) -> pd.DataFrame:
        record = crud.get_dataset(self.db.connection(), dataset_id)
        if record is None:
            raise DataValidationError(f"dataset {dataset_id!r} no longer exists (deleted)")
        return pd.read_parquet(io.BytesIO(self.store.get(record.parsed_sha256)))

    def _check_dataset(self, dataset_id: str | None, kind: str, role: str) -> None:
        if dataset_id is None or dataset_id in (DEMO_DATASET, BPE_DATASET):
            return
        record = crud.get_dataset(self.db.connection(), dataset_id)
        if record is None:
            raise NotFound(f"{role} {dataset_id!r} not found")
        if record.kind != kind:
            raise DataValidationError(
                f"{role} {dataset_id!r} is a {record.kind} dataset, expected {kind}"
            )
        if record.status in ("pending", "running"):
            raise Conflict(
                f"{role} {dataset_id!r} : le fichier {record.filename} est encore en cours de "
                f"lecture ({record.progress:.0%}) ; réessayez quand son statut sera « ready »"
            )
        if record.status == "failed":
            raise DataValidationError(
                f"{role} {dataset_id!r} : la lecture du fichier a échoué ({record.error})"
            )

    def _check_profession(self, dataset_id: str | None, profession: str | None) -> None:
        """Refuse (422) a profession the uploaded dataset lacks, or none for a mixed dataset.

        A dataset holding several professions needs one named: their sum would be a wrong
        number (pharmacies are not doctors). Read from the dataset's stored info (the
        professions counted at upload), not its file.
        """
        if dataset_id is None or dataset_id in (DEMO_DATASET, BPE_DATASET):
            return
        record = crud.get_dataset(self.db.connection(), dataset_id)
        if record is None or record.kind != "practitioners":
            return  # _check_dataset refuses it
        found = (record.info or {}).get("professions")
        if profession is None:
            if found is not None and len(found) > 1:
                shown = ", ".join(f"{k} ({v})" for k, v in sorted(found.items())[:20])
                more = f" et {len(found) - 20} autres" if len(found) > 20 else ""
                raise DataValidationError(
                    f"profession : le jeu de données {dataset_id!r} ({record.filename}) contient "
                    f"{len(found)} professions ; les compter ensemble donnerait un chiffre faux. "
                    f"Donnez « profession » parmi : {shown}{more}"
                )
            return
        if found is None and "profession" not in record.columns:
            raise DataValidationError(
                f"profession : {profession!r} demandée, mais le jeu de données {dataset_id!r} "
                f"({record.filename}) n'a pas de colonne de profession"
            )
        if found is not None and profession not in found:
            shown = ", ".join(f"{k} ({v})" for k, v in sorted(found.items())[:10])
            raise DataValidationError(
                f"profession : {profession!r} est absente du jeu de données {dataset_id!r} "
                f"({record.filename}) ; professions présentes : {shown or 'aucune'}"
            )

    def _known_practitioner_ids(self, request: dict[str, Any]) -> pd.Index:
        """Ids of the practitioners an analysis request reads (its dataset and profession)."""
        dataset, profession = str(request["dataset"]), request.get("profession")
        if dataset in (DEMO_DATASET, BPE_DATASET):
            frame = core.builtin_practitioners(dataset, profession, int(request.get("seed", 0)))
            values = frame["id"] if "id" in frame.columns else frame.index.to_series()
            builtin: pd.Index = pd.Index(values.astype(str).to_numpy(), dtype=object)
            return builtin
        record = crud.get_dataset(self.db.connection(), dataset)
        if record is None:
            raise DataValidationError(
                f"dataset : le jeu de données {dataset!r} de l'analyse n'existe plus (supprimé)"
            )
        columns = ["id", "profession"] if "profession" in record.columns else ["id"]
        table = pd.read_parquet(io.BytesIO(self.store.get(record.parsed_sha256)), columns=columns)
        if profession is not None and "profession" in table.columns:
            table = table[table["profession"].astype(str) == profession]
        return pd.Index(table["id"].astype(str).to_numpy(), dtype=object)

    def _check_communes(self, parent: crud.AnalysisRecord, name: str, codes: Iterable[str]) -> None:
        """Refuse (422) commune codes unknown, or outside the analysis' context when known.

        The context (territory and surroundings) is known when the parent's prepared analysis
        is in memory (most often: it was just computed); otherwise the job checks it.
        """
        wanted = [str(c) for c in codes]
        _refuse_unknown_communes(name, wanted)
        problem = self.problems.get(parent.id)
        if problem is None:
            return
        context = pd.Index(
            np.concatenate([np.asarray(g.demand_ids, dtype=object) for g in problem.groups])
        )
        outside = sorted(set(wanted) - set(context))
        if outside:
            shown = ", ".join(map(repr, outside[:10]))
            more = f" (et {len(outside) - 10} autres)" if len(outside) > 10 else ""
            raise DataValidationError(
                f"{name} : commune(s) {shown}{more} hors du territoire de l'analyse et de ses "
                f"environs ({len(context)} communes)"
            )

    def _check_changes(self, parent: crud.AnalysisRecord, request: ScenarioCreate) -> None:
        """Refuse (422) at submission what would fail the scenario's job.

        Unknown commune codes (and, when the prepared analysis is in memory, communes outside
        its context), points outside France, and practitioner ids to remove that the
        analysis' practitioners do not hold.
        """
        known_ids: pd.Index | None = None
        removed: set[str] = set()
        for i, change in enumerate(request.changes):
            where = f"changes[{i}]"
            if isinstance(change, AddPractitionersChange):
                if change.commune is not None:
                    self._check_communes(parent, f"{where}.commune", [change.commune])
                if change.lon is not None and change.lat is not None:
                    _refuse_outside_france(f"{where}.lon/lat", change.lon, change.lat)
            elif isinstance(change, ChangePopulationChange):
                if change.populations is not None:
                    self._check_communes(parent, f"{where}.populations", change.populations)
                if change.codes is not None:
                    self._check_communes(parent, f"{where}.codes", change.codes)
            elif isinstance(change, RemovePractitionersChange):
                if known_ids is None:
                    problem = self.problems.get(parent.id)
                    known_ids = (
                        self._known_practitioner_ids(parent.request)
                        if problem is None
                        else problem.practitioner_ids
                    )
                asked = pd.Index(change.ids, dtype=object)
                new = asked.str.startswith(f"{NEW_PRACTITIONER_PREFIX}-")  # added earlier on
                unknown = asked[~asked.isin(known_ids) & ~np.asarray(new, dtype=bool)].tolist()
                if unknown:
                    shown = ", ".join(map(repr, unknown[:10]))
                    more = f" (et {len(unknown) - 10} autres)" if len(unknown) > 10 else ""
                    raise DataValidationError(
                        f"{where}.ids : praticien(s) inconnu(s) du jeu de données de l'analyse "
                        f"({parent.request.get('dataset')!r}, profession "
                        f"{parent.request.get('profession')!r}) : {shown}{more}"
                    )
                again = sorted(removed.intersection(change.ids))
                if again:
                    raise DataValidationError(
                        f"{where}.ids : praticien(s) déjà retiré(s) par un changement précédent : "
                        f"{', '.join(map(repr, again[:10]))}"
                    )
                removed.update(change.ids)

    # ----------------------------------------------------------------------------------------
    # analyses
    # ----------------------------------------------------------------------------------------
    def create_analysis(
        self,
        request: AnalysisCreate,
        *,
        anonymous: bool = False,
        lane: Lane = "private",
        client: str | None = None,
        owner: str | None = None,
    ) -> tuple[crud.AnalysisRecord, crud.JobRecord | None, bool]:
        """Start an analysis, or return the stored one of an identical request.

        Parameters
        ----------
        request : AnalysisCreate
            What to compute.
        anonymous : bool
            A request of the public pages (``/cartes/…``), on nobody's behalf: it is served
            only by public reference analyses, shareable and stored under a key of their own
            (a user's private analysis of the same parameters is never returned nor made
            shareable; a user's analysis already shareable is reused).
        lane, client : str
            Where the runner queues the job (:meth:`api.jobs.JobRunner.submit`): ``public``
            for a caller without the token when one is configured (bounded), and its client
            key for the rate limit.
        owner : str, optional
            The requesting member's organisation, which owns the analysis (None: the bootstrap
            administrator); identical requests of two organisations are two analyses.

        Returns
        -------
        (AnalysisRecord, JobRecord or None, bool)
            The analysis, its job and whether it was served from the store.
        """
        territory = core.resolve(**request.territory.canonical())
        self._check_dataset(request.dataset, "practitioners", "dataset")
        self._check_profession(request.dataset, request.profession)
        self._check_dataset(request.population_dataset, "population", "population_dataset")
        self._check_dataset(request.od_dataset, "od", "od_dataset")
        self._check_dataset(request.road_dataset, "osm", "road_dataset")
        if request.travel == "road" and request.road_dataset is None:
            self._configured_osm()  # 422 now rather than a failed job
        if request.dataset in (DEMO_DATASET, BPE_DATASET):
            core.check_builtin_profession(str(request.dataset), request.profession)
        if request.dataset == BPE_DATASET and request.parameters.exclude_aged_from is not None:
            raise DataValidationError(_NO_AGES.format(option="parameters.exclude_aged_from"))
        canonical = request.model_dump(mode="json", exclude={"shareable"})
        canonical["territory"] = request.territory.canonical()
        if request.travel == "road" and request.road_dataset is None:
            # the configured extract may change: its content is part of the cache key
            canonical["osm_sha256"] = _file_sha256(self._configured_osm())
        if request.dataset != DEMO_DATASET:
            canonical.pop("seed")
        request_hash = _hash("analysis", canonical)
        return self._start(
            kind="analysis",
            parent_id=None,
            request=canonical,
            request_hash=request_hash,
            title=territory.name,
            shareable=request.shareable,
            synthetic=request.dataset == DEMO_DATASET,
            work=lambda analysis_id: self._analysis_work(analysis_id, canonical, territory),
            public_hash=_hash("analysis", {**canonical, "lane": "public"}) if anonymous else None,
            lane=lane,
            client=client,
            owner=owner,
        )

    def _start(
        self,
        *,
        kind: str,
        parent_id: str | None,
        request: dict[str, Any],
        request_hash: str,
        title: str,
        shareable: bool,
        synthetic: bool,
        work: Callable[[str], Callable[[core.Progress], Persist]],
        public_hash: str | None = None,
        lane: Lane = "private",
        client: str | None = None,
        owner: str | None = None,
    ) -> tuple[crud.AnalysisRecord, crud.JobRecord | None, bool]:
        """Serve an identical request from the store, or insert the rows and submit the job.

        An organisation's request (``owner``) is keyed apart from everyone else's: it finds
        only its own analyses and the new one belongs to it.

        A user's request (``public_hash`` None, behind the token when one is configured) is
        keyed by ``request_hash``; asking shareable for the user's own private analysis shares
        it. A public page's request (``public_hash`` given, anonymous) never changes a user's
        analysis: it reuses the user's analysis only when already shareable (and not failed),
        else its own public reference analysis keyed by ``public_hash``, created shareable.
        A job the runner refuses (``LimitExceeded``: public queue full, rate limit) propagates
        (HTTP 429): the in-process runner refuses after the rows are committed and leaves them
        failed (an identical request later computes again under the same id); the shared queue
        refuses before, inside the transaction, so nothing is written. A request served from
        the store starts no job and counts against no limit.
        """
        anonymous = public_hash is not None  # a public page's request
        if owner is not None:
            request_hash = _hash("owner", {"organisation": owner, "request": request_hash})
        job_id = crud.new_id("job")
        with self.db.transaction() as conn:
            # identical requests one after the other (PostgreSQL runs transactions side by side)
            lock(conn, *(f"request:{h}" for h in (request_hash, public_hash) if h is not None))
            if public_hash is not None:
                user = crud.get_analysis_by_hash(conn, request_hash)
                if user is not None and user.shareable and user.status != "failed":
                    job = None if user.job_id is None else crud.get_job(conn, user.job_id)
                    return user, job, True
                request_hash, shareable = public_hash, True
            existing = crud.get_analysis_by_hash(conn, request_hash)
            if existing is not None and existing.status != "failed":
                if shareable and not existing.shareable and not anonymous:
                    crud.set_shareable(conn, existing.id, True)  # the owner shares it
                record = crud.get_analysis(conn, existing.id)
                assert record is not None  # same transaction
                job = None if record.job_id is None else crud.get_job(conn, record.job_id)
                return record, job, True
            # a job is needed: a shared queue checks the public lane's limits now, before the
            # rows exist (another process could start the job at once), and a refusal rolls
            # everything back; the in-process runner checks in submit()
            self.runner.admit(lane, client)
            if existing is not None:  # failed before: compute again under the same id
                analysis_id = existing.id
                crud.delete_renders(conn, analysis_id)
                if shareable and not anonymous:
                    crud.set_shareable(conn, analysis_id, True)
            else:
                analysis_id = crud.new_id(
                    {"analysis": "an", "scenario": "sc", "siting": "si"}[kind]
                )
                crud.insert_analysis(
                    conn,
                    analysis_id=analysis_id,
                    kind=kind,
                    parent_id=parent_id,
                    request=request,
                    request_hash=request_hash,
                    title=title,
                    shareable=shareable,
                    synthetic=synthetic,
                    organisation_id=owner,
                )
            lock(conn, f"analysis:{analysis_id}")
            crud.insert_job(conn, job_id, kind, analysis_id, lane=lane)
            crud.set_analysis_status(conn, analysis_id, "pending", job_id=job_id)
            record = crud.get_analysis(conn, analysis_id)
            job = crud.get_job(conn, job_id)
        assert record is not None and job is not None  # committed just above
        self._submit(job_id, analysis_id, work(analysis_id), lane=lane, client=client)
        return record, job, False

    def _submit(
        self,
        job_id: str,
        analysis_id: str,
        work: Callable[[core.Progress], Persist],
        *,
        lane: Lane,
        client: str | None,
    ) -> None:
        """Hand a committed job to the runner; a refusal marks the rows failed, then propagates."""
        try:
            self.runner.submit(job_id, analysis_id, work, lane=lane, client=client)
        except BaseException:
            message = "calcul non lancé (file de calcul pleine ou limite de demandes atteinte)"
            with self.db.transaction() as conn:
                crud.update_job(
                    conn, job_id, status="failed", progress=0.0, message="Échec", error=message
                )
                crud.set_analysis_status(conn, analysis_id, "failed", error=message)
            raise

    def _inputs(
        self, request: dict[str, Any], progress: core.Progress
    ) -> tuple[Territory, Any, dict[str, Any]]:
        """Territory, practitioners and engine options of a stored analysis request."""
        progress(0.05, "Chargement du territoire…")
        territory = core.resolve(**request["territory"])
        progress(0.1, "Chargement des praticiens…")
        practitioners = self._practitioners(
            request["dataset"], request["profession"], int(request.get("seed", 0))
        )
        params = {k: v for k, v in request["parameters"].items() if v is not None}
        options: dict[str, Any] = dict(params)
        if "catchment_minutes" not in options:
            options["catchment_minutes"] = None
        if request.get("population_dataset"):
            options["age_table"] = self._table(request["population_dataset"])
            options["consumption_weights"] = request["consumption_weights"]
        if request.get("od_dataset"):
            options["travel"] = "od_table"
            options["od_table"] = self._table(request["od_dataset"])
            options["od_columns"] = ("origin", "dest", "minutes")
        if request.get("travel") == "road":
            options["travel"] = "road"
            options["osm_path"] = (
                self._osm_file(request["road_dataset"])
                if request.get("road_dataset")
                else self._configured_osm()
            )
            options["road_cache_dir"] = self.settings.road_cache_dir
        return territory, practitioners, options

    def _osm_file(self, dataset_id: str) -> Path:
        record = crud.get_dataset(self.db.connection(), dataset_id)
        if record is None:
            raise DataValidationError(f"dataset {dataset_id!r} no longer exists (deleted)")
        return self.store.path(record.original_sha256)

    def _configured_osm(self) -> Path:
        path = self.settings.osm_path
        if path is None or not Path(path).is_file():
            raise DataValidationError(
                "travel 'road' needs a road_dataset (upload an OSM extract to /datasets/osm) "
                "or an extract configured on the server (CARTOSOINS_OSM_PATH)"
            )
        return Path(path)

    def _baseline(self, record: crud.AnalysisRecord, progress: core.Progress) -> AccessProblem:
        """Return the prepared problem of a stored analysis (recomputed when not in memory)."""
        problem = self.problems.get(record.id)
        if problem is None:
            territory, practitioners, options = self._inputs(record.request, progress)
            problem = core.prepare_analysis(
                territory, practitioners, record.request["measure"], options, progress
            )
            self.problems.put(record.id, problem)
        return problem

    def _analysis_work(
        self, analysis_id: str, request: dict[str, Any], territory: Territory
    ) -> Callable[[core.Progress], Persist]:
        def work(progress: core.Progress) -> Persist:
            _, practitioners, options = self._inputs(request, progress)
            problem = core.prepare_analysis(
                territory, practitioners, request["measure"], options, progress
            )
            self.problems.put(analysis_id, problem)
            result = problem.result()
            synthetic = is_synthetic(practitioners)
            progress(0.7, "Carte interactive…")
            label = core.points_label(request["profession"], synthetic)
            html = core.render_map_html(result, territory.name, label).encode("utf-8")
            progress(0.9, "Enregistrement…")
            summary = core.summary_of(
                result,
                territory.name,
                dataset=request["dataset"],
                source_praticiens=core.source_label_of(result.attrs),
                profession=request["profession"],
                **({"seed": request["seed"]} if "seed" in request else {}),
            )
            return self._persist(analysis_id, result, summary, None, {"map_html": html})

        return work

    def _persist(
        self,
        analysis_id: str,
        result: gpd.GeoDataFrame,
        summary: dict[str, Any],
        extra: dict[str, Any] | None,
        renders: dict[str, bytes],
    ) -> Persist:
        # files first (atomic, content-addressed), rows in the job's final transaction
        result_sha = self.store.put(core.frame_to_parquet(result))
        stored = {kind: (self.store.put(data), len(data)) for kind, data in renders.items()}
        attrs = core.jsonable(result.attrs)

        def persist(conn: Any) -> None:
            crud.set_analysis_result(
                conn,
                analysis_id,
                result_sha256=result_sha,
                attrs=attrs,
                summary=summary,
                extra=extra,
            )
            for kind, (sha, size) in stored.items():
                crud.put_render(
                    conn, crud.RenderRecord(analysis_id, kind, sha, RENDER_KINDS[kind], size)
                )

        return persist

    def analysis(self, analysis_id: str) -> crud.AnalysisRecord:
        """Return a stored analysis, scenario or siting (raises NotFound)."""
        record = crud.get_analysis(self.db.connection(), analysis_id)
        if record is None:
            raise NotFound(f"analysis {analysis_id!r} not found")
        return record

    def job_of(self, record: crud.AnalysisRecord) -> crud.JobRecord | None:
        """Return the latest job of an analysis."""
        if record.job_id is None:
            return None
        return crud.get_job(self.db.connection(), record.job_id)

    def job(self, job_id: str) -> crud.JobRecord:
        """Return a job (raises NotFound)."""
        record = crud.get_job(self.db.connection(), job_id)
        if record is None:
            raise NotFound(f"job {job_id!r} not found")
        return record

    def list_analyses(
        self,
        *,
        kind: str | None,
        parent_id: str | None,
        shareable_only: bool,
        limit: int,
        offset: int,
        organisation_id: str | None = None,
    ) -> list[crud.AnalysisRecord]:
        """List stored analyses, newest first (a member: what its organisation may read)."""
        return crud.list_analyses(
            self.db.connection(),
            kind=kind,
            parent_id=parent_id,
            shareable_only=shareable_only,
            limit=limit,
            offset=offset,
            organisation_id=organisation_id,
        )

    def set_shareable(self, analysis_id: str, shareable: bool) -> crud.AnalysisRecord:
        """Make an analysis' map and exports public, or private again."""
        with self.db.transaction() as conn:
            if crud.get_analysis(conn, analysis_id) is None:
                raise NotFound(f"analysis {analysis_id!r} not found")
            crud.set_shareable(conn, analysis_id, shareable)
            record = crud.get_analysis(conn, analysis_id)
        assert record is not None
        return record

    # ----------------------------------------------------------------------------------------
    # scenarios
    # ----------------------------------------------------------------------------------------
    def _done_parent(self, parent_id: str) -> crud.AnalysisRecord:
        parent = self.analysis(parent_id)
        if parent.kind != "analysis":
            raise DataValidationError(
                f"{parent_id!r} is a {parent.kind}: scenarios and sitings start from an analysis"
            )
        if parent.status != "done":
            raise Conflict(f"analysis {parent_id!r} is {parent.status}, not done yet")
        return parent

    def create_scenario(
        self, parent_id: str, request: ScenarioCreate, *, owner: str | None = None
    ) -> tuple[crud.AnalysisRecord, crud.JobRecord | None, bool]:
        """Start a scenario on a finished analysis (or return the stored identical one)."""
        parent = self._done_parent(parent_id)
        if parent.request.get("dataset") == BPE_DATASET and any(
            isinstance(change, RetireChange) for change in request.changes
        ):
            raise DataValidationError(_NO_AGES.format(option="le changement « retire »"))
        self._check_changes(parent, request)  # 422 now rather than a failed job
        canonical = request.model_dump(mode="json", exclude={"shareable"}, exclude_none=True)
        scenario = _scenario_of(request)  # engine validation before anything is stored
        request_hash = _hash("scenario", {"parent": parent.request_hash, **canonical})
        return self._start(
            kind="scenario",
            parent_id=parent.id,
            request=canonical,
            request_hash=request_hash,
            title=parent.title,
            shareable=request.shareable,
            synthetic=parent.synthetic,
            work=lambda sid: self._scenario_work(sid, parent, scenario, request.gap_preset),
            owner=owner,
        )

    def _scenario_work(
        self,
        scenario_id: str,
        parent: crud.AnalysisRecord,
        scenario: Scenario,
        preset: str | None,
    ) -> Callable[[core.Progress], Persist]:
        def work(progress: core.Progress) -> Persist:
            baseline = self._baseline(parent, progress)
            progress(0.5, "Application du scénario…")
            result = scenario.apply(baseline, preset=preset)
            frame = result.communes
            changes = list(result.problem.history)
            progress(0.7, "Carte avant / après…")
            html = core.render_comparison_html(frame, parent.title, "; ".join(changes))
            progress(0.9, "Enregistrement…")
            summary = core.jsonable(
                {
                    "territory": parent.title,
                    "analysis_id": parent.id,
                    "measure": frame.attrs.get("measure"),
                    "unit_fr": frame.attrs.get("unit_fr"),
                    "synthetic": frame.attrs.get("synthetic"),
                    "label": frame.attrs.get("label"),
                    "source_praticiens": core.source_label_of(frame.attrs),
                    "sources": frame.attrs.get("sources"),
                    "changes": changes,
                    **dict(result.summary),
                    "scenario": frame.attrs.get("scenario"),
                    "gaps": frame.attrs.get("gaps"),
                }
            )
            extra = core.jsonable(
                {
                    "classes": result.classes.to_dict(orient="records"),
                    "transitions": {
                        str(k): v for k, v in result.transitions.to_dict(orient="index").items()
                    },
                }
            )
            return self._persist(scenario_id, frame, summary, extra, {"map_html": html.encode()})

        return work

    # ----------------------------------------------------------------------------------------
    # siting
    # ----------------------------------------------------------------------------------------
    def create_siting(
        self, parent_id: str, request: SitingCreate, *, owner: str | None = None
    ) -> tuple[crud.AnalysisRecord, crud.JobRecord | None, bool]:
        """Start a siting on a finished analysis (or return the stored identical one)."""
        parent = self._done_parent(parent_id)
        supply = ((parent.attrs or {}).get("parameters") or {}).get("supply")
        if request.capacity is not None and supply == "headcount":
            raise DataValidationError(
                f"capacity={request.capacity!r}: the analysis counts practitioners (supply "
                "'headcount'), each new practitioner counts 1; change n_per_site instead"
            )
        if request.candidates is not None:
            self._check_communes(parent, "candidates", request.candidates)
        if request.exclude is not None:
            self._check_communes(parent, "exclude", request.exclude)
        communes = int((parent.summary or {}).get("communes") or 0)
        listed = request.candidates is not None or request.candidate_points is not None
        if not listed and request.k > communes:
            raise DataValidationError(
                f"k={request.k} is larger than the number of communes of the territory ({communes})"
            )
        canonical = request.model_dump(mode="json", exclude={"shareable"})
        request_hash = _hash("siting", {"parent": parent.request_hash, **canonical})
        return self._start(
            kind="siting",
            parent_id=parent.id,
            request=canonical,
            request_hash=request_hash,
            title=parent.title,
            shareable=request.shareable,
            synthetic=parent.synthetic,
            work=lambda sid: self._siting_work(sid, parent, request),
            owner=owner,
        )

    def _siting_work(
        self, siting_id: str, parent: crud.AnalysisRecord, request: SitingCreate
    ) -> Callable[[core.Progress], Persist]:
        def work(progress: core.Progress) -> Persist:
            baseline = self._baseline(parent, progress)
            progress(0.5, "Recherche des meilleurs sites…")
            found = recommend_sites(
                baseline,
                request.k,
                request.n_per_site,
                request.objective,
                candidates=_siting_candidates(request),
                exclude=request.exclude,
                practitioners_per_site=request.practitioners_per_site,
                coverage_minutes=request.coverage_minutes,
                only_uncovered=request.only_uncovered,
                capacity=request.capacity,
                preset=request.gap_preset,
                method=request.method,
            )
            frame = found.scenario.communes
            options = baseline.options
            minutes = (
                request.coverage_minutes
                if request.objective == "max_coverage"
                else options.catchment
            )
            radius_km = (
                line_radius_m(minutes, options) / 1000.0  # the farthest reach of the model
                if options.travel == "straight_line"
                else None
            )
            sites = core.sites_for_map(found.sites, radius_km, found.objective_label_fr)
            title = f"{request.k} site(s) de {request.n_per_site} praticien(s)"
            progress(0.8, "Carte des sites…")
            html = core.render_comparison_html(frame, parent.title, title, sites)
            progress(0.9, "Enregistrement…")
            site_table = pd.DataFrame(found.sites.drop(columns=found.sites.geometry.name))
            site_table["lon"], site_table["lat"] = sites["lon"], sites["lat"]
            summary = core.jsonable(
                {
                    "territory": parent.title,
                    "analysis_id": parent.id,
                    "measure": frame.attrs.get("measure"),
                    "unit_fr": frame.attrs.get("unit_fr"),
                    "synthetic": frame.attrs.get("synthetic"),
                    "label": frame.attrs.get("label"),
                    "source_praticiens": core.source_label_of(frame.attrs),
                    "sources": frame.attrs.get("sources"),
                    "objective": found.objective,
                    "objective_label_fr": found.objective_label_fr,
                    "total_gain": found.total_gain,
                    "method": found.method,
                    "optimal": found.optimal,
                    "candidates": found.candidates,
                    "seconds": round(found.seconds, 3),
                    "sites": site_table.to_dict(orient="records"),
                    "changes": [title],
                    "scenario": dict(found.scenario.summary),
                }
            )
            extra = core.jsonable(
                {
                    "map_sites": sites.to_dict(orient="records"),
                    "classes": found.scenario.classes.to_dict(orient="records"),
                }
            )
            return self._persist(siting_id, frame, summary, extra, {"map_html": html.encode()})

        return work

    # ----------------------------------------------------------------------------------------
    # stored results and renderings
    # ----------------------------------------------------------------------------------------
    def result_frame(self, record: crud.AnalysisRecord) -> gpd.GeoDataFrame:
        """Load the stored per-commune result of a finished analysis."""
        if record.status != "done" or record.result_sha256 is None:
            raise Conflict(f"analysis {record.id!r} is {record.status}, not done")
        frame = self.frames.get(record.id)
        if frame is None:
            frame = core.frame_from_parquet(self.store.get(record.result_sha256), record.attrs)
            self.frames.put(record.id, frame)
        return frame

    def rendering(self, record: crud.AnalysisRecord, kind: str) -> crud.RenderRecord:
        """Return a stored rendering of a finished analysis, made (once) on first request."""
        found = crud.get_render(self.db.connection(), record.id, kind)
        if found is not None and self.store.exists(found.sha256):
            return found
        frame = self.result_frame(record)
        with self._lock(record.id, kind):
            found = crud.get_render(self.db.connection(), record.id, kind)
            if found is not None and self.store.exists(found.sha256):
                return found
            data = self._render(record, frame, kind)
            sha = self.store.put(data)
            out = crud.RenderRecord(record.id, kind, sha, RENDER_KINDS[kind], len(data))
            with self.db.transaction() as conn:
                crud.put_render(conn, out)
        return out

    def _render(self, record: crud.AnalysisRecord, frame: gpd.GeoDataFrame, kind: str) -> bytes:
        if kind == "geojson":
            return core.export_geojson(frame)
        if kind == "csv":
            return core.export_csv(frame)
        if kind == "gpkg":
            return core.export_gpkg(frame)
        profession = record.request.get("profession")
        if record.kind == "analysis":
            label = core.points_label(profession, record.synthetic)
            if kind == "map_html":
                return core.render_map_html(frame, record.title, label).encode("utf-8")
            return _png(frame, record.title, label)
        if kind == "map_html":
            changes = (record.summary or {}).get("changes", [])
            sites = (record.extra or {}).get("map_sites")
            html = core.render_comparison_html(
                frame,
                record.title,
                "; ".join(changes),
                None if sites is None else pd.DataFrame(sites),
            )
            return html.encode()
        after = frame.drop(columns=[c for c in ("value",) if c in frame.columns]).rename(
            columns={"after": "value", "population_after": "population"}
        )
        after["practitioners"] = 0
        after.attrs = dict(frame.attrs)
        return _png(after, f"{record.title} — après scénario", "Praticiens")

    def blob_path(self, sha256: str) -> Any:
        """Path of a stored file."""
        return self.store.path(sha256)


_PNG_LOCK = threading.Lock()


def _png(frame: gpd.GeoDataFrame, title: str, label: str) -> bytes:
    # matplotlib's font cache and text layout are not safe across threads
    with _PNG_LOCK:
        return core.render_map_png(frame, title, label)


def _siting_candidates(request: SitingCreate) -> list[str | tuple[str, float, float]] | None:
    """Return the engine's candidates: commune codes, then the points (label, lon, lat)."""
    if request.candidates is None and request.candidate_points is None:
        return None
    points = [(p.label, p.lon, p.lat) for p in request.candidate_points or []]
    return [*(request.candidates or []), *points]


def _hash(kind: str, canonical: dict[str, Any]) -> str:
    text = json.dumps(
        {"v": CACHE_VERSION, "kind": kind, "request": canonical},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@lru_cache(maxsize=1)
def _known_communes() -> frozenset[str]:
    """INSEE codes of the reference communes (the engine's territories are made of them)."""
    return frozenset(core.commune_table()["code"].astype(str))


def _refuse_unknown_communes(name: str, codes: Iterable[str]) -> None:
    """Refuse (422) commune codes absent from the reference, naming the field and the codes."""
    known = _known_communes()
    unknown = sorted({str(c) for c in codes} - known)
    if unknown:
        shown = ", ".join(map(repr, unknown[:10]))
        more = f" (et {len(unknown) - 10} autres)" if len(unknown) > 10 else ""
        raise DataValidationError(
            f"{name} : code(s) commune inconnu(s) {shown}{more} (codes INSEE des communes "
            "actuelles)"
        )


def _refuse_outside_france(name: str, lon: float, lat: float) -> None:
    """Refuse (422) a lon/lat point outside France (métropole and DROM)."""
    if not str(metric_crs_of_lonlat(np.array([[lon, lat]], dtype=np.float64))[0]):
        raise DataValidationError(
            f"{name} : le point (lon {lon:g}, lat {lat:g}) est hors de France (métropole et "
            f"DROM : {', '.join(FRANCE_BOXES)})"
        )


def _scenario_of(request: ScenarioCreate) -> Scenario:
    """Build the engine scenario of a request (validated by the engine's change classes)."""
    scenario = Scenario()
    for change in request.changes:
        if isinstance(change, AddPractitionersChange):
            point = None if change.lon is None or change.lat is None else (change.lon, change.lat)
            scenario = scenario.add_practitioners(
                commune=change.commune, point=point, n=change.n, capacity=change.capacity
            )
        elif isinstance(change, RemovePractitionersChange):
            scenario = scenario.remove_practitioners(change.ids)
        elif isinstance(change, RetireChange):
            scenario = scenario.retire(
                age_at_least=change.age_at_least,
                horizon_year=change.horizon_year,
                retirement_age=change.retirement_age,
            )
        elif isinstance(change, ChangePopulationChange):
            scenario = scenario.change_population(
                change.populations, factor=change.factor, codes=change.codes
            )
    return scenario


# --------------------------------------------------------------------------------------------
# parsing uploads
# --------------------------------------------------------------------------------------------
def _parse_dataset(
    kind: str, data: bytes | Path, filename: str, options: dict[str, Any]
) -> tuple[bytes | None, int, list[str], dict[str, Any], str]:
    """Parse an upload: table (Parquet bytes), rows, columns, info and format.

    ``data`` is the file's bytes or its path (a big upload, read in chunks by the engine);
    ``filename`` is the client's name, the only one messages show. The table is None for an
    OSM extract: the stored file is the table.
    """
    if kind == "practitioners":
        fmt = options.get("format") or "auto"
        with collect_data_warnings() as caught:  # per thread, unlike warnings.catch_warnings
            frame = read_practitioners(
                data,
                filename=filename,
                format=None if fmt == "auto" else fmt,
                professions=options.get("professions"),
                all_professions=True,  # the profession is chosen per analysis
            )
        if frame.empty:
            raise InputFormatError(f"{filename}: no practitioner found in the file")
        synthetic = is_synthetic(frame)
        info: dict[str, Any] = {
            "synthetic": synthetic,
            "label": SYNTHETIC_LABEL if synthetic else None,
            "bounds_wgs84": [
                round(float(v), 5)
                for v in (frame if frame.crs == 4326 else frame.to_crs(4326)).total_bounds
            ],
            "read": core.jsonable(frame.attrs),
            "warnings": list(caught),
        }
        if "profession" in frame.columns:
            counts = frame["profession"].astype(str).value_counts()
            info["professions"] = {str(k): int(v) for k, v in counts.items()}
        columns = list(map(str, frame.columns))
        rows, fmt = len(frame), str(frame.attrs.get("format", fmt))
        buffer = io.BytesIO()
        # points stored as GeoArrow coordinates (x and y columns), not WKB: no bytes object per
        # row on a national file (gpd.read_parquet reads both); the frame goes before the copy
        frame.to_parquet(buffer, geometry_encoding="geoarrow")
        del frame
        return buffer.getvalue(), rows, columns, info, fmt
    if kind == "population":
        table = read_population_table(data, filename=filename)
        buffer = io.BytesIO()
        table.to_parquet(buffer)
        info = {"communes": len(table), "read": core.jsonable(table.attrs)}
        layout = str(table.attrs.get("layout", "csv"))
        return buffer.getvalue(), len(table), list(map(str, table.columns)), info, layout
    if kind == "osm":
        return _parse_osm(data, filename)
    od, read = _read_od(data, filename, options)
    if od.empty or not np.isfinite(od["minutes"]).any():
        raise InputFormatError(f"{filename} : aucun temps de trajet lu dans le fichier")
    buffer = io.BytesIO()
    od.to_parquet(buffer)
    info = {
        "origins": int(od["origin"].nunique()),
        "destinations": int(od["dest"].nunique()),
        "max_minutes": float(od["minutes"].max()),
        # how the file was read: layout and unit, stated or detected
        **{k: read[k] for k in ("layout", "layout_from", "unit", "unit_from") if k in read},
    }
    return buffer.getvalue(), len(od), list(map(str, od.columns)), info, "csv"


def _parse_osm(
    data: bytes | Path, filename: str
) -> tuple[bytes | None, int, list[str], dict[str, Any], str]:
    """Check an OSM extract by building its road graph; the stored table is the file itself.

    The row count is the number of drivable ways read; the info names the client's file, never
    a path of the server.
    """
    import tempfile

    from geo.road import RoadNetwork
    from geo.road.osm import sniff_osm_format

    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(data, Path):
            path = data
        else:
            path = Path(tmp) / "extract"
            path.write_bytes(data)
        fmt = sniff_osm_format(path)
        if fmt is None:
            raise InputFormatError(
                f"{filename}: not an OpenStreetMap file (.osm.pbf, .osm or .osm.gz)"
            )
        try:
            network = RoadNetwork.from_osm(path, file_format=fmt, use_cache=False)
        except InputFormatError as exc:
            raise InputFormatError(str(exc).replace(str(path), filename).replace(tmp, "")) from exc
    source = {k: v for k, v in network.source.items() if k not in ("path", "file")}
    source["file"] = filename
    info = {
        "road_km": round(float(network.total_km), 1),
        "max_speed_kmh": float(network.max_speed_kmh),
        "source": core.jsonable(source),
    }
    rows = int(source.get("drivable_ways", 0) or 0)
    return None, rows, [], info, fmt


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_od(
    data: bytes | Path, filename: str, options: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read an origin–destination file as origin, dest, minutes.

    CSV ``;``/``,``/tab, UTF-8/CP1252, gzip-compressed or not, or Parquet; long or a wide
    square matrix, in minutes or seconds (stated, or detected by
    :func:`geo.costs.read_od_table`).
    """
    costs = read_od_table(
        data,
        filename=filename,
        origin_col=options["origin_column"],
        dest_col=options["dest_column"],
        minutes_col=options["minutes_column"],
        layout=options.get("layout"),
        unit=options.get("unit"),
    )
    origins = costs.origins.to_numpy()[costs.rows].astype(str)
    dests = costs.destinations.to_numpy()[costs.cols].astype(str)
    table = pd.DataFrame(
        {"origin": origins, "dest": dests, "minutes": np.asarray(costs.minutes, dtype=float)}
    )
    return table, dict(costs.params)


#: With a shared database, startup deletes only unreferenced files older than this (seconds):
#: a younger one may belong to another process's request not committed yet.
SHARED_GARBAGE_AGE_S = 3600.0


def open_services(settings: Settings, *, claim: bool = True) -> Services:
    """Open the database (migrated), the file store and the job runner.

    Files no row refers to (a crash between writing a file and committing its row) are
    deleted; then, on SQLite, the jobs a stopped server left queued are resumed from their
    stored request, and the ones it was running are marked failed with a one-call
    resubmission (:meth:`api.jobs.JobRunner.recover`). On PostgreSQL the jobs wait in the
    shared queue (:class:`api.jobs.QueueRunner`); ``claim=False`` makes a process that queues
    jobs but leaves their computing to ``cartosoins worker`` processes.
    """
    db = Database(settings.database_target, pool_size=settings.db_pool_size)
    store = BlobStore(settings.artefacts_dir)
    with db.transaction() as conn:
        referenced = crud.referenced_blobs(conn)
    # before any resumed job writes a file; with a shared database other processes are
    # writing files whose rows are not committed yet: only old leftovers go
    store.collect_garbage(
        referenced, min_age_s=SHARED_GARBAGE_AGE_S if settings.database_is_shared else 0.0
    )
    rate_limiter = SlidingWindowLimiter(
        settings.public_rate_limit, settings.public_rate_window_seconds
    )
    runner: JobRunner | QueueRunner
    if settings.database_is_shared:
        runner = QueueRunner(
            db,
            settings.worker_threads,
            public_workers=settings.public_worker_threads,
            public_queue_max=settings.public_queue_max,
            rate_limiter=rate_limiter,
            lease_s=settings.job_lease_seconds,
            max_attempts=settings.job_max_attempts,
            poll_s=settings.queue_poll_seconds,
            claim=claim,
        )
    else:
        runner = JobRunner(
            db,
            settings.worker_threads,
            public_workers=settings.public_worker_threads,
            public_queue_max=settings.public_queue_max,
            rate_limiter=rate_limiter,
        )
    services = Services(settings=settings, db=db, store=store, runner=runner)
    runner.recover(services.rebuild_work)
    runner.start(services.rebuild_work, services._read_dataset)
    services.resume_dataset_reads()  # big uploads whose reading a stop interrupted
    return services
