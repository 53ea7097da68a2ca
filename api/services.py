"""The service's operations: store datasets, run and cache analyses, scenarios, renderings.

Each route calls one function of this module; it validates against the database, commits rows
in one transaction, hands long work to the :class:`~api.jobs.JobRunner` and serves stored
results. Engine calls go through :mod:`api.core`.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from api import core, crud
from api.db import Database
from api.jobs import JobRunner, Persist
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
from geo.analysis import AccessProblem, line_radius_m
from geo.costs import read_od_table
from geo.demo import is_synthetic
from geo.errors import DataValidationError, InputFormatError, collect_data_warnings
from geo.io import read_population_table, read_practitioners
from geo.maps.choropleth import SYNTHETIC_LABEL
from geo.scenario import Scenario
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
    runner: JobRunner
    problems: _LRU[str, AccessProblem] = field(default_factory=lambda: _LRU(2))
    frames: _LRU[str, gpd.GeoDataFrame] = field(default_factory=lambda: _LRU(4))
    _locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        """Wait for running jobs and close the database."""
        self.runner.shutdown()
        self.db.close()

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
        data: bytes,
        filename: str,
        options: dict[str, Any],
        private: bool,
    ) -> tuple[crud.DatasetRecord, bool]:
        """Parse and store an upload; an identical upload returns the stored dataset.

        Returns
        -------
        (DatasetRecord, bool)
            The dataset and whether it was created now.
        """
        original_sha = hashlib.sha256(data).hexdigest()
        existing = crud.find_dataset(self.db.connection(), kind, original_sha, options)
        if existing is not None:
            return existing, False
        parsed, rows, columns, info, fmt = _parse_dataset(kind, data, filename, options)
        record = crud.DatasetRecord(
            id=crud.new_id("ds"),
            kind=kind,
            filename=filename,
            format=fmt,
            options=options,
            original_sha256=self.store.put(data),
            original_bytes=len(data),
            parsed_sha256=self.store.put(parsed),
            rows=rows,
            columns=columns,
            info=info,
            private=private,
            created_at=crud.now(),
        )
        with self.db.transaction() as conn:
            # re-check under the write lock: the same file may have been sent twice at once
            again = crud.find_dataset(conn, kind, original_sha, options)
            if again is not None:
                return again, False
            crud.insert_dataset(conn, record)
        return record, True

    def dataset(self, dataset_id: str) -> crud.DatasetRecord:
        """Return a stored dataset (raises NotFound)."""
        record = crud.get_dataset(self.db.connection(), dataset_id)
        if record is None:
            raise NotFound(f"dataset {dataset_id!r} not found")
        return record

    def list_datasets(
        self, *, public_only: bool, limit: int, offset: int
    ) -> list[crud.DatasetRecord]:
        """List stored datasets, newest first."""
        return crud.list_datasets(
            self.db.connection(), public_only=public_only, limit=limit, offset=offset
        )

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset and its files (analyses keep their aggregated results)."""
        with self.db.transaction() as conn:
            record = crud.get_dataset(conn, dataset_id)
            if record is None:
                raise NotFound(f"dataset {dataset_id!r} not found")
            crud.delete_dataset(conn, dataset_id)
            still = crud.referenced_blobs(conn)
        for sha in (record.original_sha256, record.parsed_sha256):
            if sha not in still:
                self.store.delete(sha)

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

    # ----------------------------------------------------------------------------------------
    # analyses
    # ----------------------------------------------------------------------------------------
    def create_analysis(
        self, request: AnalysisCreate
    ) -> tuple[crud.AnalysisRecord, crud.JobRecord | None, bool]:
        """Start an analysis, or return the stored one of an identical request.

        Returns
        -------
        (AnalysisRecord, JobRecord or None, bool)
            The analysis, its job and whether it was served from the store.
        """
        territory = core.resolve(**request.territory.canonical())
        self._check_dataset(request.dataset, "practitioners", "dataset")
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
    ) -> tuple[crud.AnalysisRecord, crud.JobRecord | None, bool]:
        job_id = crud.new_id("job")
        with self.db.transaction() as conn:
            existing = crud.get_analysis_by_hash(conn, request_hash)
            if existing is not None and existing.status != "failed":
                if shareable and not existing.shareable:
                    crud.set_shareable(conn, existing.id, True)
                record = crud.get_analysis(conn, existing.id)
                assert record is not None  # same transaction
                job = None if record.job_id is None else crud.get_job(conn, record.job_id)
                return record, job, True
            if existing is not None:  # failed before: compute again under the same id
                analysis_id = existing.id
                crud.delete_renders(conn, analysis_id)
                if shareable:
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
                )
            crud.insert_job(conn, job_id, kind, analysis_id)
            crud.set_analysis_status(conn, analysis_id, "pending", job_id=job_id)
            record = crud.get_analysis(conn, analysis_id)
            job = crud.get_job(conn, job_id)
        assert record is not None and job is not None  # committed just above
        self.runner.submit(job_id, analysis_id, work(analysis_id))
        return record, job, False

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
    ) -> list[crud.AnalysisRecord]:
        """List stored analyses, newest first."""
        return crud.list_analyses(
            self.db.connection(),
            kind=kind,
            parent_id=parent_id,
            shareable_only=shareable_only,
            limit=limit,
            offset=offset,
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
        self, parent_id: str, request: ScenarioCreate
    ) -> tuple[crud.AnalysisRecord, crud.JobRecord | None, bool]:
        """Start a scenario on a finished analysis (or return the stored identical one)."""
        parent = self._done_parent(parent_id)
        if parent.request.get("dataset") == BPE_DATASET and any(
            isinstance(change, RetireChange) for change in request.changes
        ):
            raise DataValidationError(_NO_AGES.format(option="le changement « retire »"))
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
        self, parent_id: str, request: SitingCreate
    ) -> tuple[crud.AnalysisRecord, crud.JobRecord | None, bool]:
        """Start a siting on a finished analysis (or return the stored identical one)."""
        parent = self._done_parent(parent_id)
        supply = ((parent.attrs or {}).get("parameters") or {}).get("supply")
        if request.capacity is not None and supply == "headcount":
            raise DataValidationError(
                f"capacity={request.capacity!r}: the analysis counts practitioners (supply "
                "'headcount'), each new practitioner counts 1; change n_per_site instead"
            )
        communes = int((parent.summary or {}).get("communes") or 0)
        if request.candidates is None and request.k > communes:
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
                candidates=request.candidates,
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


def _hash(kind: str, canonical: dict[str, Any]) -> str:
    text = json.dumps(
        {"v": CACHE_VERSION, "kind": kind, "request": canonical},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


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
    kind: str, data: bytes, filename: str, options: dict[str, Any]
) -> tuple[bytes, int, list[str], dict[str, Any], str]:
    """Parse an upload: table (Parquet bytes), rows, columns, info and format."""
    if kind == "practitioners":
        fmt = options.get("format") or "auto"
        with collect_data_warnings() as caught:  # per thread, unlike warnings.catch_warnings
            frame = read_practitioners(
                data,
                filename=filename,
                format=None if fmt == "auto" else fmt,
                professions=options.get("professions"),
            )
        if frame.empty:
            raise InputFormatError(f"{filename}: no practitioner found in the file")
        synthetic = is_synthetic(frame)
        info: dict[str, Any] = {
            "synthetic": synthetic,
            "label": SYNTHETIC_LABEL if synthetic else None,
            "bounds_wgs84": [round(float(v), 5) for v in frame.to_crs(4326).total_bounds],
            "read": core.jsonable(frame.attrs),
            "warnings": list(caught),
        }
        if "profession" in frame.columns:
            counts = frame["profession"].astype(str).value_counts()
            info["professions"] = {str(k): int(v) for k, v in counts.items()}
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        columns = list(map(str, frame.columns))
        return buffer.getvalue(), len(frame), columns, info, str(frame.attrs.get("format", fmt))
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


def _parse_osm(data: bytes, filename: str) -> tuple[bytes, int, list[str], dict[str, Any], str]:
    """Check an OSM extract by building its road graph; the stored table is the file itself."""
    import tempfile

    from geo.road import RoadNetwork
    from geo.road.osm import sniff_osm_format

    with tempfile.TemporaryDirectory() as tmp:
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
            raise InputFormatError(str(exc).replace(str(path), filename)) from exc
    info = {
        "road_km": round(float(network.total_km), 1),
        "max_speed_kmh": float(network.max_speed_kmh),
        "source": core.jsonable(dict(network.source)),
    }
    return data, int(network.source.get("segments", 0) or 0), [], info, fmt


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_od(
    data: bytes, filename: str, options: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read an origin–destination file as origin, dest, minutes.

    CSV ``;``/``,``/tab, UTF-8/CP1252, or Parquet; long or a wide square matrix, in minutes or
    seconds (stated, or detected by :func:`geo.costs.read_od_table`).
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


def open_services(settings: Settings) -> Services:
    """Open the database (migrated), the file store and the job runner.

    Jobs a stopped server left unfinished are marked failed, and files no row refers to
    (a crash between writing a file and committing its row) are deleted.
    """
    db = Database(settings.database_path)
    store = BlobStore(settings.artefacts_dir)
    with db.transaction() as conn:
        crud.fail_interrupted_jobs(conn)
        referenced = crud.referenced_blobs(conn)
    store.collect_garbage(referenced)
    runner = JobRunner(db, settings.worker_threads)
    return Services(settings=settings, db=db, store=store, runner=runner)
