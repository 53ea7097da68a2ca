"""Accessibility analysis of a territory: communes + practitioners + travel costs → a measure.

:func:`analyse` is the one entry point the CLI, the API and the notebooks call. It validates
the inputs, takes the border effect into account (demand and supply around the territory are
part of the computation, results are reported for the territory's communes only), builds the
sparse travel costs once and runs a numeric core from :mod:`geo._fca`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from geo import _fca
from geo.costs import (
    DETOUR_FACTOR,
    SPEED_KMH,
    TravelCosts,
    read_od_table,
)
from geo.crs import metric_crs_for, metric_crs_of
from geo.demo import SYNTHETIC_LABEL, is_synthetic
from geo.density import assign_communes
from geo.drees import (
    AGE_WEIGHTS,
    DEFAULT_AGE_WEIGHTS_EDITION,
    DREES_SOURCE,
    capped_activity,
    load_activity_calibration,
)
from geo.errors import DataValidationError, warn_data
from geo.islands import land_mass_of, load_islands
from geo.reference import REFERENCE_SOURCES, load_communes, reference_to_crs
from geo.territory import Territory
from geo.traveltime import (
    LEGACY_MODEL,
    TravelTimeModel,
    commune_features,
    features_at,
    load_default_model,
)

__all__ = [
    "ADDED_COLUMNS",
    "FRANCE_BOXES",
    "GRAVITY_MIN_MINUTES",
    "MEASURES",
    "MISSING_STATUS",
    "AccessProblem",
    "AgeStructure",
    "AnalysisOptions",
    "CrsGroup",
    "MeasureInfo",
    "MeasureKernel",
    "PairIndex",
    "RatioState",
    "analyse",
    "line_radius_m",
    "metric_crs_of_lonlat",
    "prepare",
    "ratio_of",
    "validate_practitioners",
]

Measure = Literal[
    "density", "nearest", "2sfca", "e2sfca", "kernel_2sfca", "3sfca", "gravity", "apl"
]
SupplyKind = Literal["headcount", "fte", "consultations"]


@dataclass(frozen=True)
class MeasureInfo:
    """How a measure is named and expressed for people (French) and machines."""

    code: str
    label_fr: str
    unit_fr: str
    default_catchment_minutes: float
    higher_is_better: bool = True


#: The measures :func:`analyse` computes, with their default catchment (minutes).
MEASURES: Mapping[str, MeasureInfo] = {
    "density": MeasureInfo(
        "density", "Densité de praticiens", "praticiens pour 10 000 habitants", 0.0
    ),
    "nearest": MeasureInfo(
        "nearest", "Temps d'accès au praticien le plus proche", "minutes", 60.0, False
    ),
    "2sfca": MeasureInfo("2sfca", "Accessibilité 2SFCA", "praticiens pour 10 000 habitants", 30.0),
    "e2sfca": MeasureInfo(
        "e2sfca", "Accessibilité E2SFCA", "praticiens pour 10 000 habitants", 30.0
    ),
    "kernel_2sfca": MeasureInfo(
        "kernel_2sfca",
        "Accessibilité 2SFCA à noyau gaussien",
        "praticiens pour 10 000 habitants",
        30.0,
    ),
    "3sfca": MeasureInfo("3sfca", "Accessibilité 3SFCA", "praticiens pour 10 000 habitants", 60.0),
    "gravity": MeasureInfo(
        "gravity", "Potentiel gravitaire (Hansen)", "potentiel d'offre (praticiens pondérés)", 60.0
    ),
    "apl": MeasureInfo(
        "apl",
        "Accessibilité potentielle localisée (APL)",
        "consultations par an et par habitant standardisé",
        20.0,
    ),
}

#: Upper bound of a door-to-door speed as the crow flies, used to bound the surroundings of a
#: territory when travel times come from a table (motorway speed limit).
MAX_CROW_FLY_SPEED_KMH = 130.0

#: Straight lines never cross the sea: each island without a bridge (:mod:`geo.islands`) gets
#: its own offset on a third coordinate, this far (metres) from the others, so that no
#: catchment and no nearest-practitioner search reaches across (a nearest time found beyond it
#: means "no practitioner on this land mass": NaN).
LAND_MASS_SEPARATION_M = 1.0e8

#: Ratio measures are reported per this many inhabitants (APL has its own DREES unit).
PER_INHABITANTS = 10_000.0

#: Default floor (minutes) of the travel time in the gravity weight: the fitted travel model's
#: time (4.1 min) for the mean distance (1.25 km) between the centre and a point of a median
#: mainland commune (11.0 km²), rounded. A practitioner at a commune's own chef-lieu is 0 min
#: away: without a floor, ``alpha < 0`` gives it an infinite weight.
GRAVITY_MIN_MINUTES = 4.0

#: Bounding boxes (lon/lat) of métropole + Corsica and each DROM: a practitioner outside all of
#: them is a data error (swapped coordinates, Lambert metres read as degrees…).
FRANCE_BOXES: Mapping[str, tuple[float, float, float, float]] = {
    "métropole": (-5.8, 41.2, 10.0, 51.3),
    "Guadeloupe": (-61.9, 15.8, -60.9, 16.6),
    "Martinique": (-61.3, 14.3, -60.7, 14.9),
    "Guyane": (-54.7, 2.0, -51.5, 5.9),
    "La Réunion": (55.1, -21.5, 55.9, -20.8),
    "Mayotte": (44.9, -13.1, 45.4, -12.5),
}

_SUPPLY_COLUMNS: Mapping[str, str | None] = {
    "headcount": None,
    "fte": "fte",
    "consultations": "consultations_per_year",
}


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def validate_practitioners(
    practitioners: gpd.GeoDataFrame, *, supply_column: str | None = None
) -> gpd.GeoDataFrame:
    """Check a practitioners layer; return it unchanged (in its own CRS) when valid.

    Raises
    ------
    DataValidationError
        Not a GeoDataFrame, no CRS, non-point or empty geometries, NaN coordinates, duplicate
        ids, points outside France, a missing or non-numeric/negative supply column. The message
        names the column, the offending ids and values.
    """
    return _validate(practitioners, supply_column)[0]


def _validate(
    practitioners: gpd.GeoDataFrame, supply_column: str | None
) -> tuple[gpd.GeoDataFrame, npt.NDArray[np.float64]]:
    """Validate (see :func:`validate_practitioners`); also return the lon/lat of each point."""
    if not isinstance(practitioners, gpd.GeoDataFrame):
        raise DataValidationError(
            f"practitioners must be a GeoDataFrame of points, got {type(practitioners).__name__}"
        )
    if practitioners.crs is None:
        raise DataValidationError("practitioners have no CRS; set one (e.g. EPSG:4326)")
    ids = _ids(practitioners)
    if not ids.is_unique:
        dup = ids[ids.duplicated()].unique()[:5].tolist()
        raise DataValidationError(f"duplicate practitioner ids: {dup}")
    geoms = practitioners.geometry
    bad_type = geoms.notna() & (geoms.geom_type != "Point")
    if bad_type.any():
        raise DataValidationError(
            f"practitioner geometries must be points; {int(bad_type.sum())} are not "
            f"(e.g. id {ids[bad_type.to_numpy()][0]!r}: {geoms[bad_type].iloc[0].geom_type})"
        )
    wgs = practitioners.to_crs(4326)
    xy = np.full((len(wgs), 2), np.nan)
    present = (wgs.geometry.notna() & ~wgs.geometry.is_empty).to_numpy()
    xy[present] = shapely.get_coordinates(wgs.geometry.to_numpy()[present])
    missing = ~np.isfinite(xy).all(axis=1)
    if missing.any():
        raise DataValidationError(
            f"{int(missing.sum())} practitioner(s) have missing or NaN coordinates "
            f"(ids {ids[missing][:5].tolist()})"
        )
    inside = np.zeros(len(wgs), dtype=bool)
    for minx, miny, maxx, maxy in FRANCE_BOXES.values():
        inside |= (xy[:, 0] >= minx) & (xy[:, 0] <= maxx) & (xy[:, 1] >= miny) & (xy[:, 1] <= maxy)
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        raise DataValidationError(
            f"{int((~inside).sum())} practitioner(s) lie outside France (métropole and DROM), "
            f"e.g. id {ids[i]!r} at lon {xy[i, 0]:.5f}, lat {xy[i, 1]:.5f}; check the CRS and "
            "the order of the coordinates"
        )
    if supply_column is not None:
        if supply_column not in wgs.columns:
            raise DataValidationError(
                f"practitioners lack the supply column {supply_column!r} (columns: "
                f"{', '.join(map(str, wgs.columns))})"
            )
        values = pd.to_numeric(wgs[supply_column], errors="coerce")
        bad = (values.isna() | (values < 0)).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            shown = wgs[supply_column].iloc[i]
            shown = shown.item() if isinstance(shown, np.generic) else shown
            raise DataValidationError(
                f"column {supply_column!r}: value {shown!r} of practitioner "
                f"{ids[i]!r} is not a non-negative number"
            )
    return practitioners, xy


def _ids(frame: pd.DataFrame) -> pd.Index:
    values = frame["id"].to_numpy() if "id" in frame.columns else frame.index.to_numpy()
    ids: pd.Index = pd.Index(np.asarray(values).astype(str), dtype=object)
    return ids


def _check_communes(communes: gpd.GeoDataFrame, what: str) -> None:
    if not isinstance(communes, gpd.GeoDataFrame):
        raise DataValidationError(f"{what} must be a GeoDataFrame")
    missing = [c for c in ("code", "nom", "population") if c not in communes.columns]
    if missing:
        raise DataValidationError(f"{what} lack column(s) {missing}")
    if communes.crs is None:
        raise DataValidationError(f"{what} have no CRS")
    if not communes["code"].is_unique:
        dup = communes.loc[communes["code"].duplicated(), "code"].unique()[:5].tolist()
        raise DataValidationError(f"duplicate commune codes in {what}: {dup}")
    pop = pd.to_numeric(communes["population"], errors="coerce")
    bad = (pop.isna() | (pop < 0)).to_numpy()
    if communes.geometry.isna().all() and "chef_lieu" not in communes.columns:
        raise DataValidationError(f"{what} have neither polygons nor chef-lieu points")
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"population of commune {communes['code'].iloc[i]!r} in {what} is "
            f"{communes['population'].iloc[i]!r}, not a non-negative number"
        )


# --------------------------------------------------------------------------------------------
# analysis
# --------------------------------------------------------------------------------------------
def _points_of(communes: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Demand location of each commune: its chef-lieu, else a point inside its polygon."""
    if "chef_lieu" in communes.columns:
        column = communes["chef_lieu"]
        crs = getattr(column, "crs", None) or communes.crs
        pts = gpd.GeoSeries(column, crs=crs).to_crs(communes.crs)
    else:
        pts = gpd.GeoSeries([None] * len(communes), index=communes.index, crs=communes.crs)
    fallback = pts.isna() & communes.geometry.notna()
    if fallback.any():
        pts = pts.copy()
        pts[fallback] = communes.geometry[fallback].representative_point()
    return pts


def _to_crs(geoms: gpd.GeoSeries, crs: str) -> gpd.GeoSeries:
    """Reproject, through the cache of the reference layer when these are its geometries."""
    cached = reference_to_crs(geoms, crs)
    return geoms.to_crs(crs) if cached is None else cached


def _communes_to_crs(communes: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """Reproject the polygons and the chef-lieu points (no-op when already in ``crs``)."""
    if communes.crs is not None and communes.crs.equals(crs):
        out = communes.copy()
    else:
        geometry = communes.geometry.name
        out = gpd.GeoDataFrame(
            communes.drop(columns=geometry),
            geometry=_to_crs(communes.geometry, crs).rename(geometry),
            crs=crs,
        )[list(communes.columns)]
    if "chef_lieu" in out.columns:
        out["chef_lieu"] = _to_crs(_points_of(communes), crs)
    return out


def _near(
    points_xy: npt.NDArray[np.float64], targets_xy: npt.NDArray[np.float64], radius_m: float
) -> npt.NDArray[np.bool_]:
    """Which ``points`` lie within ``radius_m`` of at least one target."""
    if len(points_xy) == 0 or len(targets_xy) == 0:
        return np.zeros(len(points_xy), dtype=bool)
    dist, _ = cKDTree(targets_xy).query(points_xy, k=1, distance_upper_bound=radius_m)
    return np.isfinite(dist)


@lru_cache(maxsize=16)
def _transformer(source: pyproj.CRS, target: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def _points_xy(frame: gpd.GeoDataFrame, crs: str) -> npt.NDArray[np.float64]:
    """Coordinates in ``crs`` of validated points, each distinct location transformed once.

    Practitioners located by commune share their town hall's point (60,493 GPs on 9,485
    locations): the same coordinates as geopandas' ``to_crs``, without building 60,000 point
    geometries the analysis never needs.
    """
    xy = shapely.get_coordinates(frame.geometry.to_numpy())
    if len(xy) != len(frame) or frame.crs is None:  # empty or multi-part: the general path
        return _xy(frame.geometry, crs)
    if frame.crs.equals(crs):
        return xy
    sites, _, site_of = _sites(xy, np.zeros(len(xy)))
    x, y = _transformer(frame.crs, pyproj.CRS(crs)).transform(sites[:, 0], sites[:, 1])
    out: npt.NDArray[np.float64] = np.column_stack((np.asarray(x), np.asarray(y)))[site_of]
    return out


def _xy(points: gpd.GeoSeries, crs: str) -> npt.NDArray[np.float64]:
    return shapely.get_coordinates(_to_crs(points, crs).to_numpy())


@lru_cache(maxsize=1)
def _island_polygons() -> gpd.GeoSeries:
    """One (multi)polygon per island without a bridge, indexed by island id, sorted, lon/lat."""
    table = load_islands()
    polygons = load_communes(codes=table["code"].tolist())[["code", "geometry"]]
    merged = polygons.merge(table[["code", "ile_id"]], on="code").dissolve(by="ile_id")
    return merged.geometry.sort_index()


@lru_cache(maxsize=8)
def _island_shapes(crs: str) -> tuple[npt.NDArray[np.object_], pd.Index]:
    """Island polygons in ``crs`` and their ids (positions give the land-mass coordinate)."""
    polygons = _island_polygons()
    return polygons.to_crs(crs).to_numpy(), pd.Index(polygons.index.astype(str), dtype=object)


def _island_offsets(ids: pd.Index, masses: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    """Third coordinate of each land mass: 0 on a main land (or unknown), else its island's."""
    pos = ids.get_indexer(pd.Index(masses, dtype=object))
    return np.where(pos >= 0, (pos + 1.0) * LAND_MASS_SEPARATION_M, 0.0)


def _with_land_mass(
    xy: npt.NDArray[np.float64], crs: str, codes: pd.Series | None
) -> npt.NDArray[np.float64]:
    """Append the land-mass coordinate to ``xy``.

    From the commune codes where known, else from the island polygon that holds the point.
    """
    shapes, ids = _island_shapes(crs)
    z = np.zeros(len(xy))
    known = np.zeros(len(xy), dtype=bool)
    if codes is not None:
        text = codes.astype(object).where(codes.notna(), "").astype(str).to_numpy(dtype=object)
        known = text != ""
        inverse, distinct = pd.factorize(text[known])  # once per commune, not per point
        z[known] = _island_offsets(ids, land_mass_of(np.asarray(distinct, dtype=object)))[inverse]
    todo = np.flatnonzero(~known)
    if todo.size and len(shapes):
        tree = shapely.STRtree(shapes)
        pts, hit = tree.query(shapely.points(xy[todo]), predicate="within")
        z[todo[pts]] = (hit + 1.0) * LAND_MASS_SEPARATION_M
    return np.column_stack((xy, z))


def _commune_column(frame: pd.DataFrame) -> pd.Series | None:
    """Return the practitioners' own commune codes (BPE, RPPS, demo…), None without them."""
    return frame["commune"] if "commune" in frame.columns else None


@dataclass(frozen=True)
class _Context:
    communes: gpd.GeoDataFrame  # demand context, located communes only
    in_territory: npt.NDArray[np.bool_]  # per context commune
    practitioners: gpd.GeoDataFrame  # supply context
    practitioner_communes: pd.Series  # commune code of each supply point (NA: outside all)
    crs: str
    practitioner_mask: npt.NDArray[np.bool_]  # which of the input practitioners are supply


def _context(
    territory: gpd.GeoDataFrame,
    practitioners: gpd.GeoDataFrame,
    practitioners_xy: npt.NDArray[np.float64],
    surroundings: gpd.GeoDataFrame | None,
    reach_km: float,
) -> _Context:
    """Demand within 2× the catchment and supply within 3× around the territory.

    A ratio 2SFCA value of commune i depends on supply j within reach of i and on the demand k
    within reach of j (2× the reach); the 3SFCA's selection weights of k involve the supply
    within reach of k (3×). Taking that much context makes border communes exact.
    """
    crs = str(territory.crs)
    located = territory[_points_of(territory).notna()]
    terr_xy = _xy(_points_of(located), crs)
    if surroundings is None:
        candidates = located
    else:
        _check_communes(surroundings, "surrounding communes")
        surroundings = _in_box(surroundings, terr_xy, crs, 2.0 * reach_km * 1000.0)
        extra = surroundings[~_isin(surroundings["code"], located["code"])]
        points = _points_of(extra)
        extra, points = extra[points.notna()], points[points.notna()]
        # only the communes near enough are kept: select them on their points, then reproject
        # their polygons (reprojecting the whole country's polygons cost more than the rest)
        near = _near(_xy(points, crs), terr_xy, 2.0 * reach_km * 1000.0)
        extra = _communes_to_crs(extra[near], crs)
        candidates = pd.concat([located, extra[located.columns.intersection(extra.columns)]])
        candidates = gpd.GeoDataFrame(candidates, geometry=located.geometry.name, crs=located.crs)
    cand_xy = _xy(_points_of(candidates), crs)
    keep = _near(cand_xy, terr_xy, 2.0 * reach_km * 1000.0)
    keep |= _isin(candidates["code"], located["code"])
    context = candidates[keep].reset_index(drop=True)
    # supply: within 3× the reach of a chef-lieu, or inside a commune of the territory (what
    # density counts, whatever the catchment)
    codes = assign_communes(practitioners, context)
    near = _near(practitioners_xy, terr_xy, 3.0 * reach_km * 1000.0)
    near |= _isin(codes, located["code"])
    return _Context(
        communes=context,
        in_territory=_isin(context["code"], located["code"]),
        practitioners=practitioners[near],
        practitioner_communes=codes[near],
        crs=crs,
        practitioner_mask=np.asarray(near, dtype=bool),
    )


def _in_box(
    communes: gpd.GeoDataFrame, terr_xy: npt.NDArray[np.float64], crs: str, radius_m: float
) -> gpd.GeoDataFrame:
    """Communes whose chef-lieu may lie within ``radius_m`` of the territory: a cheap filter.

    The territory's bounding box (metric ``crs``), widened by the radius, is densified and
    brought to the communes' geographic CRS with a 0.05° margin; communes outside it are
    dropped before any reprojection (all of France is 35,000 rows for a département of 500).
    Communes without a chef-lieu are kept (the exact selection follows).
    """
    if (
        communes.crs is None
        or not communes.crs.is_geographic
        or "chef_lieu" not in communes.columns
        or getattr(communes["chef_lieu"], "crs", communes.crs) != communes.crs
        or not len(terr_xy)
    ):
        return communes
    (x0, y0), (x1, y1) = (
        terr_xy[:, :2].min(axis=0) - radius_m,
        terr_xy[:, :2].max(axis=0) + radius_m,
    )
    t = np.linspace(0.0, 1.0, 65)
    xs = np.concatenate([x0 + (x1 - x0) * t, np.full(65, x1), x1 - (x1 - x0) * t, np.full(65, x0)])
    ys = np.concatenate([np.full(65, y0), y0 + (y1 - y0) * t, np.full(65, y1), y1 - (y1 - y0) * t])
    lon, lat = _transformer(pyproj.CRS(crs), communes.crs).transform(xs, ys)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        return communes
    points = np.asarray(communes["chef_lieu"].to_numpy(), dtype=object)
    px, py = shapely.get_x(points), shapely.get_y(points)
    margin = 0.05
    inside = (
        (px >= lon.min() - margin)
        & (px <= lon.max() + margin)
        & (py >= lat.min() - margin)
        & (py <= lat.max() + margin)
    )
    keep = inside | np.isnan(px)
    return communes if keep.all() else communes[keep]


def _isin(values: pd.Series, allowed: pd.Series) -> npt.NDArray[np.bool_]:
    """``values.isin(allowed)`` through a hash table (pandas' Arrow-string isin is slow)."""
    index = pd.Index(np.asarray(values, dtype=object), dtype=object)
    mask: npt.NDArray[np.bool_] = index.isin(
        pd.Index(np.asarray(allowed, dtype=object), dtype=object)
    )
    return mask


def _supply_values(
    practitioners: gpd.GeoDataFrame, supply: SupplyKind | str
) -> npt.NDArray[np.float64]:
    column = _SUPPLY_COLUMNS.get(supply, supply)
    if column is None:
        return np.ones(len(practitioners))
    values: npt.NDArray[np.float64] = pd.to_numeric(
        practitioners[column], errors="coerce"
    ).to_numpy(dtype="float64")
    return values


def _default_supply(measure: str, practitioners: pd.DataFrame) -> str:
    if measure == "apl":
        if "consultations_per_year" in practitioners.columns:
            return "consultations"
        if "fte" in practitioners.columns:
            return "fte"
    return "headcount"


def _age_kept(
    practitioners: gpd.GeoDataFrame, exclude_aged_from: int | None, reference_year: int | None
) -> npt.NDArray[np.bool_]:
    """Mask of the practitioners younger than ``exclude_aged_from`` (all when None)."""
    if exclude_aged_from is None:
        return np.ones(len(practitioners), dtype=bool)
    if "age" in practitioners.columns:
        age = pd.to_numeric(practitioners["age"], errors="coerce")
    elif "birth_year" in practitioners.columns and reference_year is not None:
        age = reference_year - pd.to_numeric(practitioners["birth_year"], errors="coerce")
    else:
        raise DataValidationError(
            "exclude_aged_from needs an 'age' column (or 'birth_year' and reference_year) "
            "in the practitioners"
        )
    if age.isna().any():
        i = int(np.flatnonzero(age.isna().to_numpy())[0])
        raise DataValidationError(
            f"age of practitioner {_ids(practitioners)[i]!r} is missing or not a number"
        )
    kept: npt.NDArray[np.bool_] = (age < exclude_aged_from).to_numpy()
    return kept


@dataclass(frozen=True, eq=False)
class AgeStructure:
    r"""Age-band shares of each demand commune and the relative care consumption of each band.

    The standardised demand of commune :math:`i` is :math:`\tilde P_i = P_i \sum_b s_{ib} c_b`
    with the weights :math:`c_b` taken as given: like DREES's, they are each band's consumption
    relative to the NATIONAL mean consumption, so a commune's standardised population does not
    depend on the territory analysed (no renormalisation over the analysis area).

    Attributes
    ----------
    shares : numpy.ndarray (n, B)
        Share of each band in each commune (rows sum to 1; a commune without data is put in the
        first band).
    weights : numpy.ndarray (B,)
        Consumption weight of each band.
    """

    shares: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]

    def demand(self, population: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Age-standardised demand for the given populations (same rows as ``shares``)."""
        ratio: npt.NDArray[np.float64] = self.shares @ self.weights
        return np.asarray(population, dtype=np.float64) * ratio


def _age_structure(
    communes: gpd.GeoDataFrame,
    age_table: pd.DataFrame | None,
    consumption_weights: Mapping[str, float] | None,
) -> AgeStructure | None:
    if age_table is None:
        return None
    if consumption_weights is None:
        raise DataValidationError("an age table needs consumption_weights (age band → weight)")
    bands = list(consumption_weights)
    missing = [b for b in bands if b not in age_table.columns]
    if missing:
        raise DataValidationError(
            f"age table lacks the band column(s) {missing}; it has {list(age_table.columns)}"
        )
    index = age_table.index
    if index.dtype != object or index.inferred_type != "string":
        index = pd.Index(np.asarray(index.astype(str), dtype=object), dtype=object)
    if not index.is_unique:
        twice = sorted(set(index[index.duplicated()]))
        raise DataValidationError(
            f"la table par âge a plusieurs lignes pour {len(twice)} commune(s), ex. {twice[:5]}"
        )
    codes = np.asarray(communes["code"].astype(str), dtype=object)
    pos = index.get_indexer(pd.Index(codes, dtype=object))
    if (pos < 0).any():
        absent = sorted(set(codes[pos < 0]))
        raise DataValidationError(
            f"age table has no row for {len(absent)} commune(s) of the analysis, e.g. {absent[:5]}"
        )
    values = np.empty((len(codes), len(bands)))
    for k, band in enumerate(bands):
        column = age_table[band]
        if pd.api.types.is_numeric_dtype(column):
            values[:, k] = column.to_numpy(dtype="float64", na_value=np.nan)[pos]
        else:
            values[:, k] = pd.to_numeric(column.iloc[pos], errors="coerce").to_numpy("float64")
    if np.isnan(values).any():
        bad = codes[np.isnan(values).any(axis=1)][0]
        raise DataValidationError(f"age table row {bad!r} has a missing or non-numeric value")
    totals = values.sum(axis=1, keepdims=True)
    # the table may hold counts or shares: only its proportions are used, on population 2023
    shares = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    shares[totals[:, 0] == 0, 0] = 1.0
    weights = np.array([float(consumption_weights[b]) for b in bands])
    return AgeStructure(shares, weights)


# --------------------------------------------------------------------------------------------
# prepared problem
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnalysisOptions:
    """Validated options of one analysis, shared by its per-CRS groups."""

    measure: str
    catchment: float
    travel: str
    od_table: pd.DataFrame | str | Path | bytes | None
    od_columns: tuple[str, str, str]
    detour_factor: float
    speed_kmh: float
    supply_kind: str
    steps: Mapping[float, float] | None
    sigma: float | None
    gravity_scale: float
    gravity_alpha: float
    gravity_min_minutes: float
    age_table: pd.DataFrame | None
    consumption_weights: Mapping[str, float] | None
    threshold_minutes: float
    osm_path: str | os.PathLike[str] | None = None
    road_cache_dir: str | os.PathLike[str] | None = None
    #: demand is age-standardised (a user table, or the embedded structure with DREES weights)
    standardised: bool = False
    #: where the age structure and the weights come from (French), None when not standardised
    age_source: str | None = None
    #: how the APL's supply was counted (DREES activity rule or a calibrated activity per GP)
    activity: Mapping[str, Any] | None = None
    #: communes whose own offer the source does not cover: code → French reason
    missing: Mapping[str, str] = field(default_factory=dict)
    #: "médecin" for GPs, else "praticien" (French status labels)
    practitioner_noun: str = "praticien"
    #: the practitioners' source as the data say it (``attrs["source"]``), or None
    practitioners_source: str | None = None
    #: straight-line travel: minutes from km and both ends' urban character (geo.traveltime)
    travel_model: TravelTimeModel = LEGACY_MODEL
    #: OD table: layout ("long"/"wide") and unit ("minutes"/"seconds"); None: detected
    od_layout: Literal["long", "wide"] | None = None
    od_unit: Literal["minutes", "seconds"] | None = None

    @property
    def pair_max_minutes(self) -> float:
        """Largest travel time kept in the pairs (OD tables also serve the nearest time)."""
        if self.travel == "straight_line":
            return self.catchment
        return max(self.catchment, self.threshold_minutes)


KernelKind = Literal["ratio", "gravity", "three_step", "density", "nearest"]


@dataclass(frozen=True)
class MeasureKernel:
    r"""How a measure's value follows from the prepared arrays, for incremental updates.

    * ``ratio`` (2SFCA, E2SFCA, kernel 2SFCA, APL): :math:`D_j = \sum_i P_i w_{ij}`,
      :math:`R_j = S_j / D_j`, value :math:`= u \sum_j R_j w_{ij}`.
    * ``gravity``: value :math:`= \sum_j S_j w_{ij}`.
    * ``three_step``, ``density``, ``nearest``: no per-supply coefficient; scenarios recompute
      them (3SFCA on all pairs; density and nearest time commune by commune).

    Attributes
    ----------
    kind : str
        One of the kinds above.
    weight : WeightFunction or None
        Distance decay :math:`f` (None: 1 in reach).
    catchment : float
        Pairs beyond this many minutes have :math:`w_{ij} = 0`.
    factor : float
        Unit factor :math:`u` (10,000 for ratio measures per 10,000 inhabitants, the APL unit).
    """

    kind: KernelKind
    weight: _fca.WeightFunction | None
    catchment: float
    factor: float
    #: value of a commune with no supply in reach: NaN (PySAL access), 0 for the APL (DREES)
    empty_value: float = float("nan")

    def pair_weights(self, minutes: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        r"""Weights :math:`w_{ij} = f(t_{ij})` for :math:`t_{ij} \le` catchment, else 0.

        Raises
        ------
        DataValidationError
            If the weight function gives a non-finite or negative weight (gravity with
            ``alpha < 0`` at zero cost).
        """
        reach = minutes <= self.catchment
        if self.weight is None:
            return reach.astype(np.float64)
        w = np.zeros(minutes.shape, dtype=np.float64)
        if reach.any():
            values = np.asarray(self.weight(minutes[reach]), dtype=np.float64)
            bad = ~(np.isfinite(values) & (values >= 0))
            if bad.any():
                raise DataValidationError(
                    f"weight function {self.weight!r} gives {values[bad][0]!r} for a cost of "
                    f"{minutes[reach][bad][0]!r} min; weights must be finite and ≥ 0 "
                    "(gravity with alpha < 0 needs costs > 0)"
                )
            w[reach] = values
        return w


def _kernel(opts: AnalysisOptions) -> MeasureKernel:
    measure, catchment = opts.measure, opts.catchment
    if measure == "2sfca":
        return MeasureKernel("ratio", None, catchment, PER_INHABITANTS)
    if measure == "e2sfca":
        steps = _fca.StepWeights(dict(opts.steps or _fca.E2SFCA_DEFAULT_STEPS))
        return MeasureKernel("ratio", steps, catchment, PER_INHABITANTS)
    if measure == "kernel_2sfca":
        width = float(opts.sigma if opts.sigma is not None else catchment / 2.0)
        return MeasureKernel("ratio", _fca.GaussianWeights(width), catchment, PER_INHABITANTS)
    if measure == "apl":
        unit_key = opts.supply_kind if opts.supply_kind in _fca.APL_UNITS else "headcount"
        bands = _fca.BandWeights(dict(opts.steps or _fca.APL_BANDS))
        return MeasureKernel("ratio", bands, catchment, _fca.APL_UNITS[unit_key][1], 0.0)
    if measure == "gravity":
        weight = _fca.GravityWeights(
            opts.gravity_scale, opts.gravity_alpha, opts.gravity_min_minutes
        )
        return MeasureKernel("gravity", weight, catchment, 1.0)
    if measure == "3sfca":
        steps = _fca.StepWeights(dict(opts.steps or _fca.THREE_STEP_DEFAULT_STEPS))
        return MeasureKernel("three_step", steps, catchment, PER_INHABITANTS)
    kind: KernelKind = "density" if measure == "density" else "nearest"
    return MeasureKernel(kind, None, catchment, PER_INHABITANTS)


class _LazyTree:
    """A cKDTree built on first use and shared by every problem derived from a baseline."""

    def __init__(self, xy: npt.NDArray[np.float64]) -> None:
        self.xy = xy
        self._tree: cKDTree | None = None

    @property
    def tree(self) -> cKDTree:
        if self._tree is None:
            self._tree = cKDTree(self.xy)
        return self._tree


@dataclass(frozen=True)
class PairIndex:
    """Pairs grouped by demand row and by supply column (CSR-like, built on demand).

    ``pairs_of_rows(r)`` and ``pairs_of_cols(c)`` return the positions, in the pair arrays, of
    every pair of the given rows or columns: what an incremental update reads instead of the
    whole pair list.
    """

    row_order: npt.NDArray[np.int64]
    row_ptr: npt.NDArray[np.int64]
    col_order: npt.NDArray[np.int64]
    col_ptr: npt.NDArray[np.int64]

    @classmethod
    def build(
        cls, rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64], n: int, m: int
    ) -> PairIndex:
        """Index the pairs ``(rows, cols)`` of an n × m problem."""
        row_order = np.argsort(rows, kind="stable").astype(np.int64)
        col_order = np.argsort(cols, kind="stable").astype(np.int64)
        row_ptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n)))).astype(np.int64)
        col_ptr = np.concatenate(([0], np.cumsum(np.bincount(cols, minlength=m)))).astype(np.int64)
        return cls(row_order, row_ptr, col_order, col_ptr)

    @staticmethod
    def _gather(
        order: npt.NDArray[np.int64], ptr: npt.NDArray[np.int64], keys: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        keys = np.unique(keys)
        keys = keys[keys < len(ptr) - 1]
        starts, stops = ptr[keys], ptr[keys + 1]
        lengths = stops - starts
        total = int(lengths.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        # positions start_k, start_k + 1, …, stop_k − 1 for every key, without a Python loop
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return order[offsets + np.arange(total)]

    def pairs_of_rows(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Positions of the pairs whose demand row is in ``rows``."""
        return self._gather(self.row_order, self.row_ptr, rows)

    def pairs_of_cols(self, cols: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Positions of the pairs whose supply column is in ``cols``."""
        return self._gather(self.col_order, self.col_ptr, cols)


@dataclass(frozen=True)
class RatioState:
    r"""Per-supply quantities of a ratio or gravity measure.

    Attributes
    ----------
    weights : numpy.ndarray (k,)
        :math:`w_{ij}` of each pair (0 beyond the catchment).
    weighted_demand : numpy.ndarray (m,)
        :math:`D_j = \sum_i P_i w_{ij}` (ratio measures; zeros for gravity).
    coefficient : numpy.ndarray (m,)
        :math:`R_j = S_j / D_j` (0 when :math:`D_j = 0`) for ratio measures, :math:`S_j` for
        gravity: the value of demand row i is ``factor × Σ_j coefficient_j w_ij``.
    """

    weights: npt.NDArray[np.float64]
    weighted_demand: npt.NDArray[np.float64]
    coefficient: npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class CrsGroup:
    """Prepared arrays of the territory's communes that share one metric CRS.

    Demand rows are the context communes (the territory and the surroundings within twice the
    reach, chef-lieu points); supply columns are practitioners (straight lines) or the communes
    hosting practitioners (origin–destination table). Arrays are never modified in place: a
    scenario derives a new group that shares what did not change.

    Attributes
    ----------
    crs : str
        Metric CRS of the group.
    communes : geopandas.GeoDataFrame
        Territory communes of the group, in the caller's CRS: the rows of the result.
    context : geopandas.GeoDataFrame
        Demand context communes in the metric CRS, as prepared (a scenario's populations live
        in ``population``).
    in_territory : numpy.ndarray of bool (n,)
        Context communes that belong to the territory.
    demand_ids : pandas.Index (n,)
        Commune codes of the demand rows.
    demand_xy : numpy.ndarray (n, 2)
        Chef-lieu of each demand row, metric CRS.
    population, demand : numpy.ndarray (n,)
        Population and (possibly age-standardised) demand :math:`P_i`.
    age : AgeStructure or None
        Age structure behind an age-standardised demand.
    supply_ids : pandas.Index (m,)
        Practitioner ids (straight lines) or commune codes (OD table).
    capacity, headcount : numpy.ndarray (m,)
        Supply :math:`S_j` and number of practitioners of each supply point.
    supply_commune : numpy.ndarray of int (m,)
        Demand row of the commune hosting each supply point, −1 outside the context.
    supply_xy : numpy.ndarray (m, 2) or None
        Location of each supply point (straight lines only).
    rows, cols, minutes : numpy.ndarray (k,)
        Pairs within ``AnalysisOptions.pair_max_minutes``.
    prac_ids : pandas.Index (g,)
        Every practitioner of the group's CRS zone, in the context or not.
    prac_supply : numpy.ndarray of int (g,)
        Supply column of each practitioner, −1 when outside the supply context.
    prac_capacity : numpy.ndarray (g,)
        Supply of each practitioner.
    prac_pool : numpy.ndarray of int (g,)
        Position in the nearest-time pool (straight lines), −1 if not in it.
    prac_active : numpy.ndarray of bool (g,)
        Practitioners still present (scenarios remove some).
    pool_xy, pool_active : numpy.ndarray
        Practitioners with a positive supply (straight lines), and which of them are present.
        Straight-line coordinates carry a third, land-mass coordinate
        (:data:`LAND_MASS_SEPARATION_M`).
    value, nearest, in_reach_count, local_capacity, local_headcount : numpy.ndarray (n,)
        Outputs per demand row.
    context_practitioners : int
        Practitioners in the supply context.
    """

    crs: str
    communes: gpd.GeoDataFrame
    context: gpd.GeoDataFrame
    in_territory: npt.NDArray[np.bool_]
    demand_ids: pd.Index
    demand_xy: npt.NDArray[np.float64]
    population: npt.NDArray[np.float64]
    demand: npt.NDArray[np.float64]
    age: AgeStructure | None
    supply_ids: pd.Index
    capacity: npt.NDArray[np.float64]
    headcount: npt.NDArray[np.float64]
    supply_commune: npt.NDArray[np.int64]
    supply_xy: npt.NDArray[np.float64] | None
    rows: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    minutes: npt.NDArray[np.float64]
    prac_ids: pd.Index
    prac_supply: npt.NDArray[np.int64]
    prac_capacity: npt.NDArray[np.float64]
    prac_pool: npt.NDArray[np.int64]
    prac_active: npt.NDArray[np.bool_]
    pool_xy: npt.NDArray[np.float64]
    pool_active: npt.NDArray[np.bool_]
    value: npt.NDArray[np.float64]
    nearest: npt.NDArray[np.float64]
    in_reach_count: npt.NDArray[np.float64]
    local_capacity: npt.NDArray[np.float64]
    local_headcount: npt.NDArray[np.float64]
    context_practitioners: int
    kernel: MeasureKernel
    travel_method: str
    travel_params: Mapping[str, Any]
    surroundings: bool
    unit_fr: str
    measure_params: Mapping[str, Any]
    timings: Mapping[str, float]
    pool_tree: _LazyTree
    od: _LazyOD | None
    state_given: RatioState | None = None
    #: straight-line travel: the travel model's feature of each demand row, supply column and
    #: pool point (the urban character of their commune, :mod:`geo.traveltime`)
    demand_f: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    supply_f: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    pool_f: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))

    @property
    def n(self) -> int:
        """Number of demand rows."""
        return len(self.demand_ids)

    @property
    def m(self) -> int:
        """Number of supply columns."""
        return len(self.supply_ids)

    @cached_property
    def index(self) -> PairIndex:
        """Pairs by row and by column (built on first use)."""
        return PairIndex.build(self.rows, self.cols, self.n, self.m)

    @cached_property
    def in_reach(self) -> npt.NDArray[np.bool_]:
        """Pairs within the catchment."""
        reach: npt.NDArray[np.bool_] = self.minutes <= self.kernel.catchment
        return reach

    @cached_property
    def state(self) -> RatioState:
        """Pair weights, weighted demand and per-supply coefficient (ratio and gravity kinds).

        Computed exactly as :func:`geo._fca.two_step_fca_core` / :func:`~geo._fca.gravity_core`
        do (same products in the same order), so the values match the cores bit for bit.
        """
        if self.state_given is not None:
            return self.state_given
        w = self.kernel.pair_weights(self.minutes)
        if self.kernel.kind == "gravity":
            return RatioState(w, np.zeros(self.m), self.capacity)
        weighted = np.bincount(
            self.cols, weights=self.demand[self.rows] * w, minlength=self.m
        ).astype(np.float64, copy=False)
        return RatioState(w, weighted, ratio_of(self.capacity, weighted))

    def nearest_tree(self) -> cKDTree:
        """Return the k-d tree of the nearest-time pool (straight lines)."""
        return self.pool_tree.tree


def ratio_of(
    capacity: npt.NDArray[np.float64], weighted_demand: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """:math:`R_j = S_j / D_j`, 0 where :math:`D_j = 0` (a supply nobody can use)."""
    ratio = np.zeros_like(weighted_demand)
    np.divide(capacity, weighted_demand, out=ratio, where=weighted_demand > 0)
    return ratio


@dataclass(frozen=True, eq=False)
class _ODLookup:
    """Travel minutes from each demand row to every destination commune of an OD table."""

    rows: npt.NDArray[np.int64]
    dest: pd.Index  # destination code of each row
    minutes: npt.NDArray[np.float64]

    def pairs_to(self, code: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Demand rows and minutes of the table pairs towards commune ``code``."""
        hit = self.dest == code
        return self.rows[hit], self.minutes[hit]

    def has(self, code: str) -> bool:
        """Whether the table has a pair towards ``code`` within the stored time."""
        return bool((self.dest == code).any())


class _LazyOD:
    """The OD table's pairs from the demand rows to every commune, read on first use."""

    def __init__(self, opts: AnalysisOptions, demand_ids: pd.Index) -> None:
        self.opts = opts
        self.demand_ids = demand_ids
        self._lookup: _ODLookup | None = None

    @property
    def lookup(self) -> _ODLookup:
        if self._lookup is None:
            self._lookup = _od_lookup(self.opts, self.demand_ids)
        return self._lookup


def _read_od(opts: AnalysisOptions) -> TravelCosts:
    """Read the analysis' whole OD table, up to the pair reach.

    A path, bytes or a frame; long or wide; minutes or seconds as given, else detected by
    :func:`geo.costs.read_od_table`.
    """
    if opts.od_table is None:  # pragma: no cover - checked by prepare()
        raise DataValidationError("travel='od_table' needs od_table")
    o, d, m = opts.od_columns
    return read_od_table(
        opts.od_table,
        origin_col=o,
        dest_col=d,
        minutes_col=m,
        max_minutes=opts.pair_max_minutes,
        layout=opts.od_layout,
        unit=opts.od_unit,
    )


def _od_lookup(opts: AnalysisOptions, demand_ids: pd.Index) -> _ODLookup:
    costs = _read_od(opts).restricted(origins=demand_ids)
    dest = pd.Index(costs.destinations.to_numpy()[costs.cols].astype(str), dtype=object)
    return _ODLookup(costs.rows, dest, costs.minutes)


@dataclass(frozen=True, eq=False)
class AccessProblem:
    """A prepared analysis: validated inputs and the arrays of each metric-CRS group.

    Built by :func:`prepare`; :meth:`result` assembles the per-commune frame that
    :func:`analyse` returns. Scenarios (:mod:`geo.scenario`) and siting (:mod:`geo.siting`)
    derive new problems from it by updating only the affected arrays.

    Attributes
    ----------
    territory : geopandas.GeoDataFrame
        Communes reported on, as given (caller's CRS).
    practitioners : geopandas.GeoDataFrame
        Validated practitioners of the baseline (after ``exclude_aged_from``), caller's CRS.
    options : AnalysisOptions
        Validated options.
    groups : tuple of CrsGroup
        One group per metric CRS (mainland, each overseas département).
    exclude_aged_from, reference_year : int or None
        Age filter of the baseline.
    synthetic : bool
        The practitioners are simulated (the label travels to every result).
    prepare_seconds : float
        Time :func:`prepare` took.
    history : tuple of str
        French description of each scenario change applied since the baseline.
    removed_ids : frozenset of str
        Practitioners removed by scenarios.
    added : pandas.DataFrame
        Practitioners added by scenarios: id, commune, group, x, y (metric CRS of the group),
        crs, headcount, capacity.
    """

    territory: gpd.GeoDataFrame
    practitioners: gpd.GeoDataFrame
    options: AnalysisOptions
    groups: tuple[CrsGroup, ...]
    exclude_aged_from: int | None
    reference_year: int | None
    synthetic: bool
    prepare_seconds: float
    history: tuple[str, ...] = ()
    removed_ids: frozenset[str] = frozenset()
    added: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(ADDED_COLUMNS)))

    @property
    def measure(self) -> str:
        """Code of the measure (a key of :data:`MEASURES`)."""
        return self.options.measure

    @property
    def info(self) -> MeasureInfo:
        """Names and direction of the measure."""
        return MEASURES[self.options.measure]

    @property
    def kernel(self) -> MeasureKernel:
        """How the measure's value follows from the arrays (same for every group)."""
        return self.groups[0].kernel

    @cached_property
    def practitioner_ids(self) -> pd.Index:
        """Ids of the baseline practitioners (removed ones included)."""
        return _ids(self.practitioners)

    @cached_property
    def profession(self) -> str | None:
        """The one profession of the baseline practitioners (their ``profession``), else None.

        Read once per problem: every :meth:`result` records it for the maps' words.
        """
        if "profession" not in self.practitioners.columns or self.practitioners.empty:
            return None
        found = pd.unique(self.practitioners["profession"].dropna().astype(str))
        return str(found[0]) if len(found) == 1 else None

    @cached_property
    def frame(self) -> gpd.GeoDataFrame:
        """The result frame, built once and shared: read it, do not modify it.

        :meth:`result` returns a fresh frame each time.
        """
        return self.result()

    def result(self) -> gpd.GeoDataFrame:
        """Per-commune frame with metadata, exactly what :func:`analyse` returns."""
        parts = [_group_result(g, self.options) for g in self.groups]
        result = parts[0] if len(parts) == 1 else _combine(parts, self.territory, self.options)
        result.attrs["parameters"]["exclude_aged_from"] = self.exclude_aged_from
        headcount = pd.to_numeric(self.added["headcount"]).sum() if len(self.added) else 0
        result.attrs["context"]["practitioners_total"] = int(
            len(self.practitioners) - len(self.removed_ids) + headcount
        )
        result.attrs["synthetic"] = self.synthetic
        result.attrs["label"] = SYNTHETIC_LABEL if self.synthetic else None
        result.attrs["sources"] = dict(REFERENCE_SOURCES) | {
            "practitioners": SYNTHETIC_LABEL
            if self.synthetic
            else self.options.practitioners_source or "données fournies par l'utilisateur"
        }
        if self.history:
            result.attrs["scenario"] = list(self.history)
        if self.profession is not None:  # the maps name it ("Accès aux infirmiers…")
            result.attrs["profession"] = self.profession
        result.attrs["timings_s"]["total"] = round(self.prepare_seconds, 4)
        return result

    def recompute(self) -> AccessProblem:
        """Recompute every value from the current arrays with the numeric cores (no shortcut).

        Scenarios update values incrementally; this full recomputation is their reference
        (and what they fall back to for the 3SFCA).
        """
        groups = tuple(_recompute_group(g, self.options) for g in self.groups)
        return replace(self, groups=groups)


#: Columns of :attr:`AccessProblem.added`.
ADDED_COLUMNS: tuple[str, ...] = (
    "id",
    "commune",
    "group",
    "x",
    "y",
    "crs",
    "headcount",
    "capacity",
)


def analyse(
    territory: Territory | gpd.GeoDataFrame,
    practitioners: gpd.GeoDataFrame,
    measure: str = "apl",
    *,
    catchment_minutes: float | None = None,
    travel: Literal["straight_line", "od_table", "road"] = "straight_line",
    od_table: pd.DataFrame | str | Path | bytes | None = None,
    od_columns: tuple[str, str, str] = ("origin", "dest", "minutes"),
    od_layout: Literal["long", "wide"] | None = None,
    od_unit: Literal["minutes", "seconds"] | None = None,
    osm_path: str | os.PathLike[str] | None = None,
    road_cache_dir: str | os.PathLike[str] | None = None,
    detour_factor: float = DETOUR_FACTOR,
    speed_kmh: float = SPEED_KMH,
    supply: str | None = None,
    steps: Mapping[float, float] | None = None,
    sigma_minutes: float | None = None,
    gravity_scale: float = 1.0,
    gravity_alpha: float = -1.0,
    gravity_min_minutes: float = GRAVITY_MIN_MINUTES,
    exclude_aged_from: int | None = None,
    reference_year: int | None = None,
    age_table: pd.DataFrame | None = None,
    consumption_weights: Mapping[str, float] | None = None,
    threshold_minutes: float = 30.0,
    surroundings: gpd.GeoDataFrame | Literal["reference"] | None = "reference",
    standardise: bool | None = None,
    age_weights_edition: str = DEFAULT_AGE_WEIGHTS_EDITION,
    activity_per_gp: float | Literal["calibrated", "none"] = "calibrated",
    activity_caps: bool = True,
    missing_communes: Mapping[str, str] | None = None,
    travel_model: str | TravelTimeModel | None = None,
) -> gpd.GeoDataFrame:
    """Compute an accessibility measure for each commune of a territory.

    ``analyse(...)`` is ``prepare(...).result()``: keep the :class:`AccessProblem` of
    :func:`prepare` to run scenarios or siting on the same inputs.

    Parameters
    ----------
    territory : Territory or GeoDataFrame
        The communes reported on (code, nom, population, geometry, optionally chef_lieu).
    practitioners : GeoDataFrame
        Points with a CRS, in and around the territory (supply beyond the border counts).
    measure : str
        One of :data:`MEASURES`: ``density``, ``nearest``, ``2sfca``, ``e2sfca``,
        ``kernel_2sfca``, ``3sfca``, ``gravity``, ``apl``.
    catchment_minutes : float, optional
        Maximum travel time; default per measure (APL: 20, 2SFCA/E2SFCA: 30, nearest: 60).
    travel : {"straight_line", "od_table", "road"}
        Straight lines (see ``travel_model``) or a user origin–destination table of times
        between commune codes (``od_table``: long with columns ``od_columns``, or a wide square
        matrix with codes as headers; minutes or seconds, see ``od_layout`` and ``od_unit``,
        detected when not given, :func:`geo.costs.read_od_table`), or car times
        over an OpenStreetMap extract (``osm_path``: .osm.pbf, .osm or .osm.gz, see
        :mod:`geo.road`; the network is cached in ``road_cache_dir``).
    supply : str, optional
        ``headcount`` (1 per practitioner), ``fte``, ``consultations`` or a column name. APL
        defaults to consultations when the column exists, else FTE, else headcount.
    steps : mapping, optional
        Step weights (minutes → weight) of E2SFCA/3SFCA/APL (defaults: access's, APL bands).
    sigma_minutes : float, optional
        Gaussian kernel width of ``kernel_2sfca`` (default: catchment / 2).
    gravity_scale, gravity_alpha : float
        Hansen gravity weight ``(max(cost, gravity_min_minutes) / scale) ** alpha``.
    gravity_min_minutes : float, default :data:`GRAVITY_MIN_MINUTES` (4 min)
        Floor of the travel time in the gravity weight: practitioners in a commune's own
        chef-lieu (files located by commune, scenarios, siting) are 0 min away and would weigh
        infinitely with ``alpha < 0``. The default is the fitted travel model's time for the
        mean distance between the centre and a point of a median mainland commune (11.0 km²:
        1.25 km, 4.1 min), rounded; 0 restores the raw access weight (then any 0-minute pair
        is refused).
    exclude_aged_from : int, optional
        Leave out practitioners aged this or more (the 2017 zonage counts GPs aged 65 or less:
        ``exclude_aged_from=66``).
    reference_year : int, optional
        Year used with a ``birth_year`` column when there is no ``age``.
    age_table, consumption_weights : optional
        Population by age band per commune code (counts or shares, columns = bands) and the
        relative consumption of each band: demand becomes age-standardised population.
    threshold_minutes : float
        Population beyond this time from the nearest practitioner is summarised in metadata.
    surroundings : GeoDataFrame, None or "reference"
        Communes around the territory that share its practitioners ("reference": the national
        layer; None: no border effect, the territory is treated as an island).
    standardise : bool, optional
        APL only, without ``age_table``: standardise the demand with the embedded age structure
        of every commune (:mod:`geo.agestructure`) and DREES's weights (default: yes when the
        communes are those of the reference layer).
    age_weights_edition : {"2022", "2023"}
        Edition of DREES's age weights (:data:`geo.drees.AGE_WEIGHTS`).
    activity_per_gp : float, "calibrated" or "none"
        APL on GPs counted by headcount only (no consultations, ``supply`` not given): the
        yearly consultations counted for each GP ("calibrated":
        :func:`geo.drees.load_activity_calibration`; "none", or ``supply="headcount"``: keep
        the headcount unit, practitioners per 100,000 inhabitants).
    activity_caps : bool
        APL on consultations: apply DREES's floors and caps (:func:`geo.drees.capped_activity`).
    travel_model : {"fitted", "legacy"}, TravelTimeModel or None
        Straight-line travel: car minutes from the distance and the urban character of both
        ends, fitted on real OSRM times of Isère (:func:`geo.traveltime.load_default_model`,
        "fitted"), or the former rule ``km × detour_factor / speed_kmh × 60`` ("legacy").
        Default: "fitted", or "legacy" when ``detour_factor``/``speed_kmh`` are given.
    missing_communes : mapping, optional
        Communes whose own offer the practitioners' source does not cover (code → French
        reason): reported "non renseigné" with no value, left out of classes and means; their
        practitioners (an estimate) still serve their neighbours. Default: the practitioners'
        ``attrs["missing_communes"]``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per commune of the territory, in the territory's CRS: code, nom, population,
        demand, practitioners (in the commune), practitioners_in_reach, nearest_minutes, value,
        status, geometry. ``attrs`` holds the metadata: measure, unit, parameters, travel,
        sources, synthetic flag, context sizes, timings.
    """
    started = time.perf_counter()
    problem = prepare(
        territory,
        practitioners,
        measure,
        catchment_minutes=catchment_minutes,
        travel=travel,
        od_table=od_table,
        od_columns=od_columns,
        od_layout=od_layout,
        od_unit=od_unit,
        osm_path=osm_path,
        road_cache_dir=road_cache_dir,
        detour_factor=detour_factor,
        speed_kmh=speed_kmh,
        supply=supply,
        steps=steps,
        sigma_minutes=sigma_minutes,
        gravity_scale=gravity_scale,
        gravity_alpha=gravity_alpha,
        gravity_min_minutes=gravity_min_minutes,
        exclude_aged_from=exclude_aged_from,
        reference_year=reference_year,
        age_table=age_table,
        consumption_weights=consumption_weights,
        threshold_minutes=threshold_minutes,
        surroundings=surroundings,
        standardise=standardise,
        age_weights_edition=age_weights_edition,
        activity_per_gp=activity_per_gp,
        activity_caps=activity_caps,
        missing_communes=missing_communes,
        travel_model=travel_model,
    )
    result = problem.result()
    result.attrs["timings_s"]["total"] = round(time.perf_counter() - started, 4)
    return result


def prepare(
    territory: Territory | gpd.GeoDataFrame,
    practitioners: gpd.GeoDataFrame,
    measure: str = "apl",
    *,
    catchment_minutes: float | None = None,
    travel: Literal["straight_line", "od_table", "road"] = "straight_line",
    od_table: pd.DataFrame | str | Path | bytes | None = None,
    od_columns: tuple[str, str, str] = ("origin", "dest", "minutes"),
    od_layout: Literal["long", "wide"] | None = None,
    od_unit: Literal["minutes", "seconds"] | None = None,
    osm_path: str | os.PathLike[str] | None = None,
    road_cache_dir: str | os.PathLike[str] | None = None,
    detour_factor: float = DETOUR_FACTOR,
    speed_kmh: float = SPEED_KMH,
    supply: str | None = None,
    steps: Mapping[float, float] | None = None,
    sigma_minutes: float | None = None,
    gravity_scale: float = 1.0,
    gravity_alpha: float = -1.0,
    gravity_min_minutes: float = GRAVITY_MIN_MINUTES,
    exclude_aged_from: int | None = None,
    reference_year: int | None = None,
    age_table: pd.DataFrame | None = None,
    consumption_weights: Mapping[str, float] | None = None,
    threshold_minutes: float = 30.0,
    surroundings: gpd.GeoDataFrame | Literal["reference"] | None = "reference",
    standardise: bool | None = None,
    age_weights_edition: str = DEFAULT_AGE_WEIGHTS_EDITION,
    activity_per_gp: float | Literal["calibrated", "none"] = "calibrated",
    activity_caps: bool = True,
    missing_communes: Mapping[str, str] | None = None,
    travel_model: str | TravelTimeModel | None = None,
) -> AccessProblem:
    """Validate the inputs and build the reusable arrays of an analysis.

    Same parameters as :func:`analyse`. The returned :class:`AccessProblem` holds, per metric
    CRS, the demand and supply vectors, the travel-time pairs and the computed values;
    ``prepare(...).result()`` equals ``analyse(...)``.

    Examples
    --------
    >>> from geo.reference import load_communes
    >>> from geo.demo import generate_practitioners
    >>> puy = load_communes(departements="63")
    >>> gps = generate_practitioners(puy, professions=["medecin_generaliste"])
    >>> problem = prepare(puy, gps, "apl", surroundings=None)
    >>> len(problem.result())
    463
    """
    started = time.perf_counter()
    if measure not in MEASURES:
        raise DataValidationError(f"measure {measure!r} is not one of {', '.join(MEASURES)}")
    if travel not in ("straight_line", "od_table", "road"):
        raise DataValidationError(f"travel {travel!r} is not one of straight_line, od_table, road")
    if travel == "od_table" and od_table is None:
        raise DataValidationError("travel='od_table' needs od_table (a path or a DataFrame)")
    if travel == "road" and osm_path is None:
        raise DataValidationError("travel='road' needs osm_path (an OpenStreetMap extract)")
    info = MEASURES[measure]
    communes = territory.communes if isinstance(territory, Territory) else territory
    _check_communes(communes, "territory communes")
    if len(communes) == 0:
        raise DataValidationError("the territory has no commune")
    source_attrs = dict(getattr(practitioners, "attrs", None) or {})
    synthetic = is_synthetic(practitioners)
    if source_attrs and isinstance(practitioners, pd.DataFrame):
        # read once above; pandas deep-copies ``attrs`` (here a dict of the missing communes)
        # on every selection of the frame: a bare copy spares that on the 60,000 rows
        practitioners = practitioners.copy(deep=False)
        practitioners.attrs = {}
    missing = dict(
        missing_communes
        if missing_communes is not None
        else source_attrs.get("missing_communes") or {}
    )
    supply_kind = supply or _default_supply(measure, practitioners)
    activity: dict[str, Any] | None = None
    if measure == "apl":
        practitioners, supply_kind, activity = _apl_supply(
            practitioners, supply_kind, activity_per_gp, activity_caps, explicit=supply is not None
        )
    supply_column = _SUPPLY_COLUMNS.get(supply_kind, supply_kind)
    prac, lonlat = _validate(practitioners, supply_column)
    kept = _age_kept(prac, exclude_aged_from, reference_year)
    prac, lonlat = prac[kept], lonlat[kept]
    catchment = float(
        catchment_minutes if catchment_minutes is not None else info.default_catchment_minutes
    )
    if measure == "apl" and steps is None:
        steps = dict(_fca.APL_BANDS)
    if measure in ("e2sfca", "3sfca", "apl") and catchment_minutes is None:
        default_steps = steps or (
            _fca.E2SFCA_DEFAULT_STEPS if measure == "e2sfca" else _fca.THREE_STEP_DEFAULT_STEPS
        )
        catchment = max(float(k) for k in default_steps)
    if not catchment >= 0:
        raise DataValidationError(
            f"catchment_minutes doit être un nombre ≥ 0 (minutes), reçu {catchment_minutes!r}"
        )
    if steps is not None and not len(steps):
        raise DataValidationError(
            "steps est vide : donnez au moins un palier {minutes: poids}, ou None pour les "
            "paliers par défaut de la mesure"
        )
    if not (
        isinstance(gravity_min_minutes, int | float)
        and not isinstance(gravity_min_minutes, bool)
        and math.isfinite(gravity_min_minutes)
        and gravity_min_minutes >= 0
    ):
        raise DataValidationError(
            f"gravity_min_minutes doit être un nombre ≥ 0 (minutes), reçu {gravity_min_minutes!r}"
        )
    in_reference = _in_reference(communes)
    if isinstance(surroundings, str):
        if surroundings != "reference":
            raise DataValidationError("surroundings must be a GeoDataFrame, None or 'reference'")
        surroundings = load_communes() if in_reference else None
    age_source = "table par âge fournie" if age_table is not None else None
    if measure == "apl" and age_table is None and standardise is not False:
        if in_reference:
            age_table, consumption_weights = _embedded_age_table(age_weights_edition)
            age_source = (
                "structure par âge de chaque commune (recensement 2021, estimée sous 3 300 "
                f"habitants), poids par âge DREES {age_weights_edition}"
            )
        elif standardise:
            raise DataValidationError(
                "standardise=True : la structure par âge embarquée ne couvre que les communes "
                "du référentiel ; fournissez age_table et consumption_weights"
            )
    opts = AnalysisOptions(
        measure=measure,
        catchment=catchment,
        travel=travel,
        od_table=od_table,
        od_columns=od_columns,
        od_layout=od_layout,
        od_unit=od_unit,
        osm_path=osm_path,
        road_cache_dir=road_cache_dir,
        detour_factor=detour_factor,
        speed_kmh=speed_kmh,
        supply_kind=supply_kind,
        steps=steps,
        sigma=sigma_minutes,
        gravity_scale=gravity_scale,
        gravity_alpha=gravity_alpha,
        gravity_min_minutes=gravity_min_minutes,
        age_table=age_table,
        consumption_weights=consumption_weights,
        threshold_minutes=threshold_minutes,
        standardised=age_table is not None,
        age_source=age_source,
        activity=activity,
        missing=missing,
        practitioner_noun="médecin" if _only_gps(prac) else "praticien",
        practitioners_source=(str(source_attrs["source"]) if source_attrs.get("source") else None),
        travel_model=_travel_model(travel_model, detour_factor, speed_kmh),
    )
    if travel == "road":  # communes the extract misses: « non renseigné », not 0
        opts = _road_coverage(opts, communes)

    # mainland and each overseas département are analysed in their own metric CRS
    by_crs = _crs_of_communes(communes)
    prac_crs = _crs_of_lonlat(lonlat)
    keys = [None] if by_crs is None else sorted(set(by_crs))
    # the surroundings' CRS of each commune, once for every group
    around_crs = None if surroundings is None or keys == [None] else _crs_of_communes(surroundings)
    groups = []
    for crs in keys:
        part = communes if crs is None else communes[by_crs == crs]
        work_crs = str(crs) if crs is not None else metric_crs_of(part)
        in_group = prac_crs == work_crs
        # overseas points are never projected into Lambert-93 (and conversely)
        supply_part = prac[in_group] if in_group.any() or work_crs in _CRS_OF_BOX.values() else prac
        around = surroundings
        if around is not None and crs is not None and around_crs is not None:
            around = around[around_crs == crs]
        groups.append(_prepare_group(part, supply_part, around, work_crs, opts))
    _warn_if_out_of_reach(groups, len(prac), opts)
    return AccessProblem(
        territory=communes,
        practitioners=prac,
        options=opts,
        groups=tuple(groups),
        exclude_aged_from=exclude_aged_from,
        reference_year=reference_year,
        synthetic=synthetic,
        prepare_seconds=time.perf_counter() - started,
    )


def _warn_if_out_of_reach(
    groups: Sequence[CrsGroup], n_practitioners: int, opts: AnalysisOptions
) -> None:
    """Warn when no practitioner of the input counts for any commune of the territory.

    Neither within the catchment of a territory commune nor located in one: every value is
    then 0 or empty, which usually means the file and the territory do not match.
    """
    if not n_practitioners:
        warn_data(
            "la table des praticiens est vide (après les exclusions demandées) : toutes les "
            "valeurs sont nulles ou vides"
        )
        return
    for g in groups:
        inside = g.supply_commune[g.supply_commune >= 0]
        if g.in_reach_count[g.in_territory].any() or g.in_territory[inside].any():
            return
    codes = pd.concat([g.communes["code"] for g in groups]).astype(str)
    if codes.isin(list(opts.missing)).all():  # « non renseigné » already says why, everywhere
        return
    count = f"{n_practitioners:,}".replace(",", "\u202f")
    warn_data(
        f"aucun des {count} praticiens fournis n'est à {opts.catchment:g} minutes ou moins "
        "d'une commune du territoire, ni dans l'une d'elles : toutes les valeurs sont nulles "
        "ou vides. Vérifiez que le fichier et le territoire se correspondent (département, "
        "coordonnées, système de coordonnées)"
    )


def _only_gps(practitioners: pd.DataFrame) -> bool:
    """Whether a layer's profession column says it holds GPs only."""
    if "profession" not in practitioners.columns:
        return False
    values = practitioners["profession"].astype(str)
    return bool(len(values)) and bool((values == "medecin_generaliste").all())


def _apl_supply(
    practitioners: gpd.GeoDataFrame,
    supply_kind: str,
    activity_per_gp: float | str,
    activity_caps: bool,
    *,
    explicit: bool,
) -> tuple[gpd.GeoDataFrame, str, dict[str, Any] | None]:
    """Count the APL's supply as DREES does: capped consultations, or an activity per GP.

    A headcount-only layer gets an activity per GP unless ``supply="headcount"`` was asked
    for (``explicit``): then the unit stays practitioners per 100,000 inhabitants.

    Returns the practitioners (with ``consultations_per_year`` set when the rule changes it),
    the supply kind to use and the metadata of the rule applied (None: supply used as given).
    """
    if supply_kind == "consultations" and activity_caps:
        if "consultations_per_year" not in practitioners.columns:
            raise DataValidationError(
                "supply 'consultations' : la colonne consultations_per_year manque "
                f"(colonnes : {', '.join(map(str, practitioners.columns))})"
            )
        flags = {
            name: practitioners[name].to_numpy() if name in practitioners.columns else None
            for name in ("new_practitioner", "health_centre")
        }
        counted, report = capped_activity(
            pd.to_numeric(practitioners["consultations_per_year"], errors="coerce"),
            new_practitioner=flags["new_practitioner"],
            health_centre=flags["health_centre"],
        )
        out = practitioners.copy()
        out["consultations_per_year"] = counted
        return (
            out,
            "consultations",
            {
                "rule": "drees_floors_and_caps",
                "description_fr": (
                    "activité plafonnée selon la DREES (≤ 250 : 0 ; 251–3 600 : 3 600 ; "
                    "> 6 000 : 6 000 ; nouvel installé : 5 400 ; centres de santé sans bornes)"
                ),
                "counts": report.to_dict(),
                "source": DREES_SOURCE,
            },
        )
    # a layer without professions is taken as GPs: the APL is the GPs' indicator
    gps = "profession" not in practitioners.columns or _only_gps(practitioners)
    if supply_kind != "headcount" or explicit or activity_per_gp == "none" or not gps:
        return practitioners, supply_kind, None
    if activity_per_gp == "calibrated":
        calibration = load_activity_calibration()
        per_gp = calibration.consultations_per_gp
        meta: dict[str, Any] = {
            "rule": "calibrated_per_gp",
            "consultations_per_gp": per_gp,
            "description_fr": calibration.describe_fr(),
            "target_apl": calibration.target_apl,
            "target_year": calibration.target_year,
            "target_source": calibration.target_source,
        }
    else:
        if isinstance(activity_per_gp, bool) or not isinstance(activity_per_gp, int | float):
            raise DataValidationError(
                f"activity_per_gp doit valoir 'calibrated', 'none' ou un nombre > 0, "
                f"reçu {activity_per_gp!r}"
            )
        per_gp = float(activity_per_gp)
        if not (np.isfinite(per_gp) and per_gp > 0):
            raise DataValidationError(f"activity_per_gp doit être > 0, reçu {activity_per_gp!r}")
        meta = {
            "rule": "given_per_gp",
            "consultations_per_gp": per_gp,
            "description_fr": f"activité fixée : {per_gp:g} consultations par médecin et par an",
        }
    out = practitioners.copy()
    out["consultations_per_year"] = per_gp
    return out, "consultations", meta


def _embedded_age_table(edition: str) -> tuple[pd.DataFrame, Mapping[str, float]]:
    """Age-band shares of every reference commune and DREES's weights of ``edition``."""
    if edition not in AGE_WEIGHTS:
        raise DataValidationError(
            f"age_weights_edition {edition!r} inconnue ; éditions : {', '.join(AGE_WEIGHTS)}"
        )
    weights = AGE_WEIGHTS[edition]
    return _age_table_of(tuple(weights)), weights


@lru_cache(maxsize=4)
def _age_table_of(bands: tuple[str, ...]) -> pd.DataFrame:
    """Return the embedded age table's ``bands``, indexed by Python-string codes (cached).

    Read-only for its callers (:func:`_age_structure` reads it by position).
    """
    from geo.agestructure import load_age_structure

    table = load_age_structure()[list(bands)]
    codes = np.asarray(table.index.astype(str), dtype=object)
    return table.set_axis(pd.Index(codes, dtype=object, name=table.index.name), axis=0)


def _prepare_group(
    communes: gpd.GeoDataFrame,
    prac: gpd.GeoDataFrame,
    surroundings: gpd.GeoDataFrame | None,
    work_crs: str,
    opts: AnalysisOptions,
) -> CrsGroup:
    """Build the arrays of communes that share one metric CRS (validated inputs)."""
    catchment = opts.catchment
    communes_metric = _communes_to_crs(communes, work_crs)
    if opts.travel == "straight_line":
        reach_km = line_radius_m(catchment, opts) / 1000.0
    elif opts.travel == "road":
        # no road time beats the straight line at the graph's own top speed
        reach_km = _road_context_km(opts)
    else:
        # road times from a table can beat the straight-line model (motorways): bound the
        # context with a crow-fly speed no road reaches
        reach_km = max(catchment, opts.threshold_minutes) / 60.0 * MAX_CROW_FLY_SPEED_KMH
    # the practitioners stay in their own CRS: only their coordinates are needed in work_crs
    prac_metric = prac
    prac_xy = _points_xy(prac, work_crs)
    ctx = _context(communes_metric, prac_metric, prac_xy, surroundings, reach_km)
    if opts.travel == "road":
        ctx = _road_trim(ctx, opts)
    # every practitioner's travel feature (and, below, land mass), computed once
    prac_f = np.zeros(len(prac_xy))
    demand_ids = pd.Index(ctx.communes["code"].astype(str))
    demand_xy = _xy(_points_of(ctx.communes), ctx.crs)
    line = opts.travel == "straight_line"
    demand_f = np.zeros(len(demand_ids))
    if line:
        demand_xy = _with_land_mass(demand_xy, ctx.crs, ctx.communes["code"])
        demand_f = commune_features(demand_ids, opts.travel_model.feature)
        prac_xy = _with_land_mass(prac_xy, ctx.crs, _commune_column(prac_metric))
        prac_f = _point_features(prac_metric, opts)
    population = ctx.communes["population"].to_numpy(dtype="float64")
    age = _age_structure(ctx.communes, opts.age_table, opts.consumption_weights)
    demand = population if age is None else age.demand(population)
    capacity = _supply_values(ctx.practitioners, opts.supply_kind)
    ctx_ids = _ids(ctx.practitioners)
    prac_ids = _ids(prac_metric)
    codes = ctx.practitioner_communes

    build_started = time.perf_counter()
    supply_xy: npt.NDArray[np.float64] | None
    if opts.travel in ("straight_line", "road"):
        if opts.travel == "road":
            costs = _road_costs(
                opts,
                _points_of(ctx.communes).set_axis(demand_ids),
                ctx.practitioners,
                ctx_ids,
                ctx.in_territory,
            )
        supply_xy = prac_xy[ctx.practitioner_mask]
        supply_f = prac_f[ctx.practitioner_mask]
        if opts.travel == "straight_line":
            costs = _line_costs(
                (demand_ids, demand_xy, demand_f), (ctx_ids, supply_xy, supply_f), catchment, opts
            )
        supply_capacity = capacity
        supply_headcount: npt.NDArray[np.float64] = np.ones(len(capacity))
        supply_commune = demand_ids.get_indexer(pd.Index(codes.astype(str)))
        supply_commune[codes.isna().to_numpy()] = -1
        prac_supply = ctx_ids.get_indexer(prac_ids)
    else:
        placed = codes.notna().to_numpy()
        dest_ids = pd.Index(pd.unique(codes[placed].astype(str)))
        pos = dest_ids.get_indexer(pd.Index(codes[placed].astype(str)))
        supply_capacity = np.bincount(
            pos, weights=capacity[placed], minlength=len(dest_ids)
        ).astype(np.float64)
        supply_headcount = np.bincount(pos, minlength=len(dest_ids)).astype(np.float64)
        costs = _od_costs(opts, demand_ids, dest_ids)
        supply_commune = demand_ids.get_indexer(costs.destinations)
        supply_xy = None
        supply_f = np.zeros(len(costs.destinations))
        dest_of_ctx = np.full(len(ctx_ids), -1, dtype=np.int64)
        dest_of_ctx[placed] = pos
        at = ctx_ids.get_indexer(prac_ids)
        prac_supply = np.where(at >= 0, dest_of_ctx[np.maximum(at, 0)], -1)
    build_seconds = time.perf_counter() - build_started

    rows = costs.rows.astype(np.int64)
    cols = costs.cols.astype(np.int64)
    minutes = costs.minutes
    in_reach = minutes <= catchment
    in_reach_count = np.bincount(
        rows[in_reach], weights=supply_headcount[cols[in_reach]], minlength=len(demand_ids)
    ).astype(np.float64)
    prac_capacity = _supply_values(prac_metric, opts.supply_kind)
    in_pool = prac_capacity > 0
    prac_pool = np.where(in_pool, np.cumsum(in_pool) - 1, -1).astype(np.int64)
    pool_xy = prac_xy[in_pool]
    pool_f = prac_f[in_pool]
    pool_tree = _LazyTree(pool_xy)
    if line:
        nearest = line_nearest(demand_xy, demand_f, pool_xy, pool_f, opts, distinct=True)
    else:
        nearest = _pair_nearest(rows, cols, minutes, supply_capacity, len(demand_ids))
    supply_commune = supply_commune.astype(np.int64)
    local_capacity = _local(supply_commune, supply_capacity, len(demand_ids))
    local_headcount = _local(supply_commune, supply_headcount, len(demand_ids))

    compute_started = time.perf_counter()
    value, unit_fr, params = _compute(
        opts.measure,
        demand,
        supply_capacity,
        rows,
        cols,
        minutes,
        catchment=catchment,
        steps=opts.steps,
        sigma=opts.sigma,
        gravity_scale=opts.gravity_scale,
        gravity_alpha=opts.gravity_alpha,
        gravity_min_minutes=opts.gravity_min_minutes,
        supply_kind=opts.supply_kind,
        nearest=nearest,
        local_supply=local_capacity,
        standardised=opts.standardised,
    )
    compute_seconds = time.perf_counter() - compute_started
    return CrsGroup(
        crs=ctx.crs,
        communes=communes,
        context=ctx.communes,
        in_territory=ctx.in_territory,
        demand_ids=demand_ids,
        demand_xy=demand_xy,
        population=population,
        demand=demand,
        age=age,
        supply_ids=pd.Index(costs.destinations.astype(str), dtype=object),
        capacity=supply_capacity,
        headcount=supply_headcount,
        supply_commune=supply_commune,
        supply_xy=supply_xy,
        rows=rows,
        cols=cols,
        minutes=minutes,
        prac_ids=prac_ids,
        prac_supply=prac_supply.astype(np.int64),
        prac_capacity=prac_capacity,
        prac_pool=prac_pool,
        prac_active=np.ones(len(prac_ids), dtype=bool),
        pool_xy=pool_xy,
        pool_active=np.ones(len(pool_xy), dtype=bool),
        value=value,
        nearest=nearest,
        in_reach_count=in_reach_count,
        local_capacity=local_capacity,
        local_headcount=local_headcount,
        context_practitioners=len(ctx.practitioners),
        kernel=_kernel(opts),
        travel_method=costs.method,
        travel_params=dict(costs.params),
        surroundings=surroundings is not None,
        unit_fr=unit_fr,
        measure_params=params,
        timings={"costs": build_seconds, "measure": compute_seconds},
        pool_tree=pool_tree,
        od=_LazyOD(opts, demand_ids) if opts.travel == "od_table" else None,
        demand_f=demand_f,
        supply_f=supply_f,
        pool_f=pool_f,
    )


if TYPE_CHECKING:  # geo.road is imported when travel="road" is asked for
    from geo.road import RoadNetwork

#: Start of the ``status_reason`` of a territory commune the OSM extract does not cover (its
#: status is :data:`MISSING_STATUS`: no value, left out of the means, shown on maps).
ROAD_UNCOVERED_REASON = "hors de l'extrait routier"


def _road_network(opts: AnalysisOptions) -> RoadNetwork:
    """Return the road graph of ``opts.osm_path`` (read once, kept in memory and on disk)."""
    from geo.road import load_network  # reads OSM files with pyosmium, only when asked

    if opts.osm_path is None:  # pragma: no cover - checked by prepare()
        raise DataValidationError("travel='road' needs osm_path")
    return load_network(
        Path(opts.osm_path),
        cache_dir=None if opts.road_cache_dir is None else Path(opts.road_cache_dir),
    )


def _road_reach_km(opts: AnalysisOptions) -> tuple[float, float]:
    """Straight-line reach (km) of a trip of the catchment and of the longest kept pair.

    No road time beats the straight line driven at the graph's own top speed (its access legs
    at :data:`geo.road.SNAP_SPEED_KMH`): :meth:`geo.road.RoadNetwork.reach_km`.
    """
    network = _road_network(opts)
    return network.reach_km(opts.catchment), network.reach_km(opts.pair_max_minutes)


def _road_context_km(opts: AnalysisOptions) -> float:
    """Radius handed to :func:`_context`: its 2× and 3× rings hold every ring the road needs."""
    catchment_km, pair_km = _road_reach_km(opts)
    return max(catchment_km, pair_km / 3.0)


def _road_trim(ctx: _Context, opts: AnalysisOptions) -> _Context:
    """Keep the surroundings road times can reach, as the crow flies at the graph's top speed.

    Demand within two catchments of a chef-lieu of the territory (the demand a practitioner
    in reach shares), supply within the longest kept pair (catchment or nearest-time
    threshold; three catchments for the 3SFCA's selection weights) or inside the territory.
    """
    catchment_km, pair_km = _road_reach_km(opts)
    territory = ctx.communes[ctx.in_territory]
    terr_xy = _xy(_points_of(territory), ctx.crs)
    demand_xy = _xy(_points_of(ctx.communes), ctx.crs)
    keep_demand = ctx.in_territory | _near(demand_xy, terr_xy, 2.0 * catchment_km * 1000.0)
    hops = 3.0 if opts.measure == "3sfca" else 1.0
    supply_km = max(pair_km, hops * catchment_km)
    keep_supply = _near(_xy(ctx.practitioners.geometry, ctx.crs), terr_xy, supply_km * 1000.0)
    keep_supply |= _isin(ctx.practitioner_communes, territory["code"])
    return replace(
        ctx,
        communes=ctx.communes[keep_demand].reset_index(drop=True),
        in_territory=ctx.in_territory[keep_demand],
        practitioners=ctx.practitioners[keep_supply],
        practitioner_communes=ctx.practitioner_communes[keep_supply],
    )


def _road_coverage(opts: AnalysisOptions, communes: gpd.GeoDataFrame) -> AnalysisOptions:
    """Mark the territory's communes the extract does not cover as « non renseigné ».

    A commune whose chef-lieu lies farther than :data:`geo.road.MAX_SNAP_M` from every road
    of the extract gets no road time: it is added to ``opts.missing`` with a reason starting
    with :data:`ROAD_UNCOVERED_REASON` (status « non renseigné », no value, left out of the
    means, counted in the summary's ``missing_reasons``), instead of « aucun praticien à
    portée ».

    Raises
    ------
    DataValidationError
        When the extract covers none of the territory's communes.
    """
    from geo.errors import warn_data
    from geo.road import MAX_SNAP_M, RoadNetworkWarning

    network = _road_network(opts)
    points = _points_of(communes)
    located = points.notna().to_numpy()
    if not located.any():
        return opts
    codes = pd.Index(communes["code"].astype(str))[located]
    coverage = network.coverage(points[located].set_axis(codes))
    out = (coverage["status"] == "too_far").to_numpy()
    if not out.any():
        return opts
    name = Path(str(opts.osm_path)).name
    if out.all():
        raise DataValidationError(
            f"osm_path : l'extrait OpenStreetMap {name} ne couvre aucune commune du territoire "
            f"(les {int(out.sum())} chefs-lieux sont à plus de {MAX_SNAP_M:g} m de ses routes ; "
            f"emprise de l'extrait : longitude {network.lon.min():.3f} à {network.lon.max():.3f},"
            f" latitude {network.lat.min():.3f} à {network.lat.max():.3f})"
        )
    km = coverage["snap_m"].to_numpy()[out] / 1000.0
    inside = coverage["in_extract"].to_numpy()[out]
    reasons = [
        f"{ROAD_UNCOVERED_REASON} {name} : "
        + (f"chef-lieu à {d:.1f} km de la route la plus proche" if ok else "il s'arrête avant")
        for d, ok in zip(km, inside, strict=True)
    ]
    uncovered = dict(zip(codes[out].tolist(), reasons, strict=True))
    shown = ", ".join(list(uncovered)[:10]) + (" …" if len(uncovered) > 10 else "")
    warn_data(
        f"{len(uncovered)} commune(s) du territoire hors de l'extrait routier {name} : {shown} ; "
        "elles sont « non renseigné » (sans valeur)",
        RoadNetworkWarning,
        stacklevel=4,
    )
    # a reason given by the practitioners' source comes first
    return replace(opts, missing={**uncovered, **opts.missing})


def _road_costs(
    opts: AnalysisOptions,
    demand: gpd.GeoSeries,
    practitioners: gpd.GeoDataFrame,
    ids: pd.Index,
    in_territory: npt.NDArray[np.bool_],
) -> TravelCosts:
    """Car times over the OSM extract, pairs up to the catchment or the nearest-time bound.

    ``params["coverage"]`` says what the extract misses: the territory's communes it does not
    cover (count and up to 20 codes), the communes and supply points of the surroundings it
    does not reach, and the straight-line rings the surroundings were taken in.
    """
    from geo.errors import warn_data
    from geo.road import REPORT_SAMPLE, RoadNetworkWarning, road_costs

    if opts.osm_path is None:  # pragma: no cover - checked by prepare()
        raise DataValidationError("travel='road' needs osm_path")
    costs = road_costs(
        Path(opts.osm_path),
        demand,
        practitioners.geometry.to_crs(demand.crs).set_axis(ids),
        max_minutes=opts.pair_max_minutes,
        crs=str(demand.crs),
        cache_dir=None if opts.road_cache_dir is None else Path(opts.road_cache_dir),
        # reports and warnings name a practitioner by commune, never by identifier (RPPS)
        supply_labels=pd.Series(_practitioner_labels(practitioners), index=ids),
    )
    catchment_km, pair_km = _road_reach_km(opts)
    territory_ids = demand.index[in_territory]
    uncovered = [
        code
        for code in territory_ids
        if str(opts.missing.get(code, "")).startswith(ROAD_UNCOVERED_REASON)
    ]
    counts = costs.params["unreachable_count"]
    hops = 3.0 if opts.measure == "3sfca" else 1.0
    around = max(0, int(counts["demand"]) - len(uncovered))
    supply_out = int(counts["supply"])
    coverage = {
        "territory_communes_uncovered": len(uncovered),
        "uncovered_communes": uncovered[:REPORT_SAMPLE],
        "surrounding_communes_uncovered": around,
        "supply_points_uncovered": supply_out,
        "surroundings_km": {
            "demand": round(2.0 * catchment_km, 1),
            "supply": round(max(pair_km, hops * catchment_km), 1),
        },
        "complete": not (uncovered or around or supply_out),
    }
    if around or supply_out:
        warn_data(
            f"l'extrait routier {Path(str(opts.osm_path)).name} ne couvre pas tous les environs "
            f"nécessaires : {around} commune(s) et {supply_out} point(s) d'offre à portée du "
            "territoire sont hors de ses routes ; les valeurs des communes proches de son bord "
            "peuvent être sous-estimées",
            RoadNetworkWarning,
            stacklevel=5,
        )
    return replace(costs, params={**costs.params, "coverage": coverage})


def _practitioner_labels(practitioners: pd.DataFrame) -> npt.NDArray[np.object_]:
    """How outputs name practitioners: profession and commune, never an identifier."""
    index = practitioners.index
    what = (
        practitioners["profession"].astype(str)
        if "profession" in practitioners.columns
        else pd.Series("praticien", index=index)
    )
    codes = _commune_column(practitioners)
    where = (
        codes.astype(object).where(codes.notna(), "commune inconnue").astype(str)
        if codes is not None
        else pd.Series("commune inconnue", index=index)
    )
    labels: npt.NDArray[np.object_] = (what + " (" + where + ")").to_numpy(dtype=object)
    return labels


def _recompute_group(group: CrsGroup, opts: AnalysisOptions) -> CrsGroup:
    """Every value of a group recomputed from its arrays with the numeric cores."""
    n = group.n
    in_reach = group.minutes <= opts.catchment
    in_reach_count = np.bincount(
        group.rows[in_reach], weights=group.headcount[group.cols[in_reach]], minlength=n
    ).astype(np.float64)
    if opts.travel == "straight_line":
        active = group.pool_active
        nearest = line_nearest(
            group.demand_xy, group.demand_f, group.pool_xy[active], group.pool_f[active], opts
        )
    else:
        nearest = _pair_nearest(group.rows, group.cols, group.minutes, group.capacity, n)
    local_capacity = _local(group.supply_commune, group.capacity, n)
    local_headcount = _local(group.supply_commune, group.headcount, n)
    value, _, _ = _compute(
        opts.measure,
        group.demand,
        group.capacity,
        group.rows,
        group.cols,
        group.minutes,
        catchment=opts.catchment,
        steps=opts.steps,
        sigma=opts.sigma,
        gravity_scale=opts.gravity_scale,
        gravity_alpha=opts.gravity_alpha,
        gravity_min_minutes=opts.gravity_min_minutes,
        supply_kind=opts.supply_kind,
        nearest=nearest,
        local_supply=local_capacity,
        standardised=opts.standardised,
    )
    return replace(
        group,
        value=value,
        nearest=nearest,
        in_reach_count=in_reach_count,
        local_capacity=local_capacity,
        local_headcount=local_headcount,
        state_given=None,
    )


def _group_result(group: CrsGroup, opts: AnalysisOptions) -> gpd.GeoDataFrame:
    """Per-commune frame of one group, with its metadata."""
    info = MEASURES[opts.measure]
    result = _assemble(
        group.communes,
        group.demand_ids,
        group.demand,
        group.value,
        group.in_reach_count,
        group.nearest,
        group.local_headcount,
        missing=opts.missing,
        empty_status=_empty_status(opts),
    )
    result.attrs = {
        "measure": opts.measure,
        "label_fr": info.label_fr,
        "unit_fr": group.unit_fr,
        "higher_is_better": info.higher_is_better,
        "parameters": {
            "catchment_minutes": opts.catchment,
            "supply": opts.supply_kind,
            "age_standardised": opts.standardised,
            "age_source": opts.age_source,
            "activity": dict(opts.activity) if opts.activity else None,
            "threshold_minutes": opts.threshold_minutes,
            **group.measure_params,
        },
        "travel": {"method": group.travel_method, **dict(group.travel_params)},
        "context": {
            "territory_communes": len(group.communes),
            "demand_communes": group.n,
            "supply_points": group.context_practitioners,
            "pairs": int(group.rows.size),
            "border_effect": group.surroundings,
        },
        "summary": _summary(result, opts),
        "timings_s": {
            "costs": round(group.timings["costs"], 4),
            "measure": round(group.timings["measure"], 4),
        },
    }
    return result


#: Metric CRS of the practitioners found in each box of :data:`FRANCE_BOXES`.
_CRS_OF_BOX: Mapping[str, str] = {
    "métropole": "EPSG:2154",
    "Guadeloupe": "EPSG:5490",
    "Martinique": "EPSG:5490",
    "Guyane": "EPSG:2972",
    "La Réunion": "EPSG:2975",
    "Mayotte": "EPSG:4471",
}


def _crs_of_communes(communes: pd.DataFrame) -> npt.NDArray[np.str_] | None:
    """Metric CRS of each commune from its département (None without a département column)."""
    if "departement" not in communes.columns:
        return None
    deps = communes["departement"].astype(str)
    crs_of = {d: metric_crs_for([d]) for d in pd.unique(deps)}
    return deps.map(crs_of).to_numpy(dtype=str)


def metric_crs_of_lonlat(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
    """Metric CRS of each lon/lat point from the box of :data:`FRANCE_BOXES` it lies in.

    Points outside every box get ``""``.
    """
    return _crs_of_lonlat(xy)


def _crs_of_lonlat(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
    """Metric CRS of each (validated) practitioner from the box of France it lies in."""
    out = np.full(len(xy), "", dtype=object)
    for name, (minx, miny, maxx, maxy) in FRANCE_BOXES.items():
        inside = (xy[:, 0] >= minx) & (xy[:, 0] <= maxx) & (xy[:, 1] >= miny) & (xy[:, 1] <= maxy)
        out[inside & (out == "")] = _CRS_OF_BOX[name]
    return out.astype(str)


def _combine(
    parts: list[gpd.GeoDataFrame], communes: gpd.GeoDataFrame, options: AnalysisOptions
) -> gpd.GeoDataFrame:
    """Join per-CRS results back in the territory's order, with merged metadata."""
    result = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)
    order = pd.Index(result["code"]).get_indexer(pd.Index(communes["code"]))
    result = result.iloc[order].reset_index(drop=True)
    attrs = dict(parts[0].attrs)
    attrs["travel"] = dict(attrs["travel"]) | {"crs": [p.attrs["travel"].get("crs") for p in parts]}
    attrs["context"] = {
        key: (
            any(p.attrs["context"][key] for p in parts)
            if key == "border_effect"
            else sum(p.attrs["context"][key] for p in parts)
        )
        for key in attrs["context"]
    }
    attrs["summary"] = _summary(result, options)
    attrs["timings_s"] = {
        key: round(sum(p.attrs["timings_s"][key] for p in parts), 4) for key in ("costs", "measure")
    }
    result.attrs = attrs
    return result


def _in_reference(communes: gpd.GeoDataFrame) -> bool:
    try:
        load_communes(codes=communes["code"].astype(str).tolist()[:50])
    except (KeyError, DataValidationError):
        return False
    return True


def _od_costs(opts: AnalysisOptions, origins: pd.Index, destinations: pd.Index) -> TravelCosts:
    # the table may cover more than the territory: read it whole, then keep the pairs between
    # the analysis' communes
    costs = _read_od(opts)
    return costs.restricted(origins=origins, destinations=destinations)


def _compute(
    measure: str,
    demand: npt.NDArray[np.float64],
    supply: npt.NDArray[np.float64],
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    minutes: npt.NDArray[np.float64],
    *,
    catchment: float,
    steps: Mapping[float, float] | None,
    sigma: float | None,
    gravity_scale: float,
    gravity_alpha: float,
    gravity_min_minutes: float,
    supply_kind: str,
    nearest: npt.NDArray[np.float64],
    local_supply: npt.NDArray[np.float64],
    standardised: bool = False,
) -> tuple[npt.NDArray[np.float64], str, dict[str, Any]]:
    unit_fr = _unit_fr(measure, supply_kind, standardised)
    if measure == "density":
        value = np.full(len(demand), np.nan)
        np.divide(local_supply * PER_INHABITANTS, demand, out=value, where=demand > 0)
        return value, unit_fr, {}
    if measure == "nearest":
        return nearest, unit_fr, {}
    args = (demand, supply, rows, cols, minutes)
    if measure == "2sfca":
        return (
            _fca.two_step_fca_core(*args, max_cost=catchment) * PER_INHABITANTS,
            unit_fr,
            {},
        )
    if measure == "e2sfca":
        chosen = dict(steps or _fca.E2SFCA_DEFAULT_STEPS)
        value = _fca.enhanced_two_step_fca_core(*args, steps=chosen, max_cost=catchment)
        return value * PER_INHABITANTS, unit_fr, {"steps": _steps_json(chosen)}
    if measure == "kernel_2sfca":
        width = float(sigma if sigma is not None else catchment / 2.0)
        value = _fca.kernel_two_step_fca_core(*args, sigma=width, max_cost=catchment)
        return value * PER_INHABITANTS, unit_fr, {"sigma_minutes": width}
    if measure == "3sfca":
        chosen = dict(steps or _fca.THREE_STEP_DEFAULT_STEPS)
        value = _fca.three_step_fca_core(
            *args, weights=_fca.StepWeights(chosen), max_cost=catchment
        )
        return value * PER_INHABITANTS, unit_fr, {"steps": _steps_json(chosen)}
    if measure == "gravity":
        value = _fca.gravity_core(
            *args,
            scale=gravity_scale,
            alpha=gravity_alpha,
            min_dist=gravity_min_minutes,
            max_cost=catchment,
        )
        params = {"scale": gravity_scale, "alpha": gravity_alpha}
        return value, unit_fr, params | {"min_minutes": gravity_min_minutes}
    # APL: DREES bands, and 0 (not NaN) where no practitioner is within reach, as DREES
    # publishes it
    chosen = dict(steps or _fca.APL_BANDS)
    unit_key = supply_kind if supply_kind in _fca.APL_UNITS else "headcount"
    value = _fca.apl_core(
        *args,
        bands=_fca.BandWeights(chosen),
        max_cost=catchment,
        supply_unit=unit_key,  # type: ignore[arg-type]
    )
    value = np.where(np.isnan(value), 0.0, value)
    return (
        value,
        _unit_fr(measure, unit_key, standardised),
        {"bands": _steps_json(chosen), "unit": _fca.APL_UNITS[unit_key][0]},
    )


def _unit_fr(measure: str, supply_kind: str, standardised: bool) -> str:
    """French unit of a measure: it follows the supply, and says "standardisé" only when so."""
    if measure in ("density", "nearest", "gravity"):
        return MEASURES[measure].unit_fr
    if measure == "apl":
        if supply_kind == "consultations":
            return "consultations par an et par habitant" + (" standardisé" if standardised else "")
        what = "ETP" if supply_kind == "fte" else "praticiens"
        return f"{what} pour 100 000 habitants" + (" standardisés" if standardised else "")
    what = {"fte": "ETP", "consultations": "consultations par an"}.get(supply_kind, "praticiens")
    return f"{what} pour 10 000 habitants" + (" standardisés" if standardised else "")


def _steps_json(steps: Mapping[float, float]) -> dict[str, float]:
    return {f"{float(k):g}": float(v) for k, v in sorted(steps.items())}


def _empty_status(opts: AnalysisOptions) -> str | None:
    """Status of a commune with no supply in reach when the measure gives it 0 (the APL)."""
    if opts.measure != "apl":
        return None
    return f"aucun {opts.practitioner_noun} à moins de {opts.catchment:g} min"


#: Status of a commune whose own offer the source does not cover (no value, no class).
MISSING_STATUS = "non renseigné"


def _summary(result: pd.DataFrame, opts: AnalysisOptions) -> dict[str, Any]:
    """Summarise population, reach and mean of a result; "non renseigné" communes left out.

    The mean is DREES's for the APL: weighted by the (standardised) demand, zeros included.
    """
    pop = result["population"].to_numpy(dtype="float64")
    status = result["status"].to_numpy(dtype=object)
    missing = status == MISSING_STATUS
    covered = ~missing
    far = covered & ~(result["nearest_minutes"].to_numpy() <= opts.threshold_minutes)
    by_demand = opts.measure == "apl" and opts.standardised
    weights = result["demand"].to_numpy(dtype="float64") if by_demand else pop
    weights = np.where(np.isfinite(weights) & covered, weights, 0.0)
    summary: dict[str, Any] = {
        "population": float(pop.sum()),
        "population_beyond_threshold": float(pop[far].sum()),
        "communes_beyond_threshold": int(far.sum()),
        "population_weighted_mean": _weighted_mean(result["value"].to_numpy(), weights),
        "mean_weights": "population standardisée" if by_demand else "population",
        "communes_missing": int(missing.sum()),
        "population_missing": float(pop[missing].sum()),
    }
    if missing.any():
        reasons = pd.Series(result["status_reason"].to_numpy()[missing]).value_counts()
        summary["missing_reasons"] = {str(k): int(v) for k, v in reasons.items()}
    empty = _empty_status(opts)
    if empty is not None:
        none = status == empty
        summary["communes_without_supply"] = int(none.sum())
        summary["population_without_supply"] = float(pop[none].sum())
    return summary


def _weighted_mean(values: npt.NDArray[np.float64], weights: npt.NDArray[np.float64]) -> float:
    ok = np.isfinite(values) & (weights > 0)
    total = float(weights[ok].sum())
    return float((values[ok] * weights[ok]).sum() / total) if total > 0 else float("nan")


def _assemble(
    communes: gpd.GeoDataFrame,
    demand_ids: pd.Index,
    demand: npt.NDArray[np.float64],
    value: npt.NDArray[np.float64],
    in_reach: npt.NDArray[np.float64],
    nearest: npt.NDArray[np.float64],
    local: npt.NDArray[np.float64],
    *,
    missing: Mapping[str, str] | None = None,
    empty_status: str | None = None,
) -> gpd.GeoDataFrame:
    keep = [
        c
        for c in ("code", "nom", "departement", "epci", "epci_nom", "population")
        if c in communes.columns
    ]
    base = pd.DataFrame(communes[keep])
    pos = demand_ids.get_indexer(pd.Index(base["code"].astype(str)))
    located = pos >= 0

    def take(arr: npt.NDArray[np.float64], fill: float) -> npt.NDArray[np.float64]:
        res = np.full(len(base), fill, dtype="float64")
        res[located] = arr[pos[located]]
        return res

    value_out = take(value, np.nan)
    local_out = take(local, 0.0)
    in_reach_out = take(in_reach, 0.0)
    population = base["population"].to_numpy(dtype="float64")
    no_supply = np.isnan(value_out) if empty_status is None else (in_reach_out <= 0) & located
    status = np.where(
        ~located,
        "non localisée",
        np.where(
            population <= 0,
            "population nulle",
            np.where(no_supply, empty_status or "aucun praticien à portée", "ok"),
        ),
    ).astype(object)
    reason = np.full(len(base), "", dtype=object)
    if missing:
        codes = base["code"].astype(str)
        absent = codes.isin(list(missing)).to_numpy()
        if absent.any():
            status[absent] = MISSING_STATUS
            reason[absent] = codes[absent].map(missing).to_numpy(dtype=object)
            value_out[absent] = np.nan
            local_out[absent] = np.nan
    # one construction instead of column-by-column inserts into a GeoDataFrame (5× faster)
    added = pd.DataFrame(
        {
            "geometry": gpd.GeoSeries(communes.geometry.to_numpy(), index=base.index),
            "demand": take(demand, np.nan),
            "practitioners": local_out,
            "practitioners_in_reach": in_reach_out,
            "nearest_minutes": take(nearest, np.nan),
            "value": value_out,
            "status": status,
            "status_reason": reason,
        },
        index=base.index,
    )
    return gpd.GeoDataFrame(pd.concat([base, added], axis=1), geometry="geometry", crs=communes.crs)


def line_minutes(
    dist_m: npt.ArrayLike,
    feature_origin: npt.ArrayLike,
    feature_dest: npt.ArrayLike,
    opts: AnalysisOptions,
) -> npt.NDArray[np.float64]:
    """Straight-line metres → car minutes with the analysis' travel model.

    0 for the same point (a commune's own practitioners, as DREES counts them); NaN for a
    distance across land masses (:data:`LAND_MASS_SEPARATION_M`): no road. Rounded to 1e-9 min
    so that a pair on a band edge does not fall on either side by floating-point noise.
    """
    model = opts.travel_model
    return _unit_minutes(dist_m, model.unit(feature_origin), model.unit(feature_dest), opts)


def _unit_minutes(
    dist_m: npt.ArrayLike,
    unit_origin: npt.ArrayLike,
    unit_dest: npt.ArrayLike,
    opts: AnalysisOptions,
) -> npt.NDArray[np.float64]:
    """:func:`line_minutes` from the ends' feature units (``TravelTimeModel.unit``)."""
    dist = np.asarray(dist_m, dtype=np.float64)
    raw = opts.travel_model.minutes_from_units(dist / 1000.0, unit_origin, unit_dest)
    minutes = np.array(raw, dtype=np.float64)
    # np.round(x, 9) in place: x·1e9, rint, /1e9 (numpy's own steps, bitwise the same)
    minutes *= 1e9
    np.rint(minutes, out=minutes)
    minutes /= 1e9
    minutes[dist == 0] = 0.0
    minutes[dist >= LAND_MASS_SEPARATION_M / 2.0] = np.nan
    return minutes


def _sites(
    xy: npt.NDArray[np.float64], feature: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Return the distinct locations of points (coordinates and feature) and each point's.

    Practitioners located by commune share their town hall's point: the 60,493 GPs of the BPE
    stand on 9,485 locations.
    """
    if not len(xy):
        return xy, feature, np.empty(0, dtype=np.int64)
    key = np.column_stack((xy, np.where(np.isnan(feature), np.inf, feature)))
    order = np.lexsort(key.T[::-1])
    ordered = key[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    site_of = np.empty(len(order), dtype=np.int64)
    site_of[order] = np.cumsum(new) - 1
    first = order[new]
    return xy[first], feature[first], site_of


def _expand(
    site_of: npt.NDArray[np.int64], sites: npt.NDArray[np.int64], n_sites: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Expand pairs towards locations into pairs towards each point of those locations.

    Returns, for each expanded pair, the position of its location pair and the point.
    """
    counts = np.bincount(site_of, minlength=n_sites)
    members = np.argsort(site_of, kind="stable")
    starts = np.cumsum(counts) - counts
    per_pair = counts[sites]
    first_of_pair = np.cumsum(per_pair) - per_pair
    # position in ``members`` of each expanded pair: its location's start + its rank there
    at = np.repeat(starts[sites] - first_of_pair, per_pair)
    at += np.arange(len(at), dtype=np.int64)
    pair = np.repeat(np.arange(len(sites), dtype=np.int64), per_pair)
    return pair, members[at].astype(np.int64)


def line_radius_m(minutes: float, opts: AnalysisOptions) -> float:
    """Largest straight-line distance (metres) that ``minutes`` can cover, for any ends."""
    return opts.travel_model.max_km(float(minutes)) * 1000.0


def line_nearest(
    demand_xy: npt.NDArray[np.float64],
    demand_f: npt.NDArray[np.float64],
    pool_xy: npt.NDArray[np.float64],
    pool_f: npt.NDArray[np.float64],
    opts: AnalysisOptions,
    *,
    tree: _LazyTree | None = None,
    distinct: bool = False,
) -> npt.NDArray[np.float64]:
    """Exact least travel time from each demand point to a pool point on its land mass.

    ``distinct=True`` first merges the pool points that share a location (practitioners
    located by commune stand on their town hall): worth its sort when many do.

    Not limited by the catchment. The 8 nearest points by distance give a candidate time
    ``t``; every other point lies at least as far as the 8th, ``d_8``, so it needs at least
    ``min_minutes(d_8)`` (the model's lower envelope): where ``t`` exceeds that bound, every
    point within ``max_km(t)`` is examined. NaN when the land mass has no pool point.
    """
    n = len(demand_xy)
    best = np.full(n, np.inf)
    if not len(pool_xy) or not n:
        return np.full(n, np.nan)
    if tree is None and distinct:  # co-located points give the same time: one per location
        pool_xy, pool_f, _ = _sites(pool_xy, pool_f)
    built = tree.tree if tree is not None else cKDTree(pool_xy)
    k = min(8, len(pool_xy))
    dist, idx = built.query(demand_xy, k=k)
    dist = np.asarray(dist, dtype=np.float64).reshape(n, k)
    idx = np.asarray(idx, dtype=np.int64).reshape(n, k)
    times = line_minutes(dist, demand_f[:, None], pool_f[idx], opts)
    best = np.where(np.isnan(times), np.inf, times).min(axis=1)
    if k < len(pool_xy):
        far = dist[:, -1]
        bound = opts.travel_model.min_minutes(np.minimum(far, LAND_MASS_SEPARATION_M) / 1000.0)
        todo = np.flatnonzero(np.isfinite(best) & (best > bound))
        if todo.size:
            radii = opts.travel_model._max_km_many(best[todo]) * 1000.0
            hits = built.query_ball_point(demand_xy[todo], radii, return_sorted=False)
            lengths = np.fromiter((len(h) for h in hits), dtype=np.int64, count=todo.size)
            cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])
            rows = np.repeat(todo, lengths)
            d = np.sqrt(((demand_xy[rows] - pool_xy[cols]) ** 2).sum(axis=1))
            t = line_minutes(d, demand_f[rows], pool_f[cols], opts)
            np.minimum.at(best, rows, np.where(np.isnan(t), np.inf, t))
    best[np.isinf(best)] = np.nan
    out: npt.NDArray[np.float64] = np.asarray(best, dtype=np.float64)
    return out


def _line_costs(
    demand: tuple[pd.Index, npt.NDArray[np.float64], npt.NDArray[np.float64]],
    supply: tuple[pd.Index, npt.NDArray[np.float64], npt.NDArray[np.float64]],
    max_minutes: float,
    opts: AnalysisOptions,
) -> TravelCosts:
    """Build the straight-line pairs within ``max_minutes``, never across the sea.

    Each side is given as (ids, coordinates with the land-mass coordinate, features).
    """
    (demand_ids, demand_xy, demand_f), (supply_ids, supply_xy, supply_f) = demand, supply
    radius_m = line_radius_m(max_minutes, opts)
    # pairs are searched and timed between distinct locations, then given to each point there
    site_xy, site_f, site_of = _sites(supply_xy, supply_f)
    if len(demand_xy) and len(site_xy):
        pairs = cKDTree(demand_xy).sparse_distance_matrix(
            cKDTree(site_xy), radius_m, output_type="ndarray"
        )
        rows, sites, dist = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64), pairs["v"]
    else:
        rows = sites = np.empty(0, dtype=np.int64)
        dist = np.empty(0)
    model = opts.travel_model
    unit_d, unit_s = model.unit(demand_f), model.unit(site_f)
    minutes = _unit_minutes(dist, unit_d[rows], unit_s[sites], opts)
    keep = minutes <= max_minutes
    pair, cols = _expand(site_of, sites[keep], len(site_xy))
    return TravelCosts(
        origins=demand_ids,
        destinations=supply_ids,
        rows=rows[keep][pair],
        cols=cols,
        minutes=minutes[keep][pair],
        km=dist[keep][pair] / 1000.0,
        max_minutes=float(max_minutes),
        method="straight_line",
        params={"max_km": radius_m / 1000.0, **_travel_model_params(opts.travel_model)},
    )


def _travel_model_params(model: TravelTimeModel) -> dict[str, Any]:
    """Describe the straight-line travel times for a result's metadata."""
    return {
        "model": model.name,
        "model_label_fr": model.label,
        "model_fitted_on": model.fitted_on,
        "model_params": model.params(),
        "islands": "pas de trajet à travers la mer : une île sans pont n'atteint que ses communes",
    }


def _travel_model(
    choice: str | TravelTimeModel | None, detour_factor: float, speed_kmh: float
) -> TravelTimeModel:
    """Return the straight-line travel model asked for (see :func:`analyse`)."""
    if isinstance(choice, TravelTimeModel):
        return choice
    custom = (detour_factor, speed_kmh) != (DETOUR_FACTOR, SPEED_KMH)
    if choice not in (None, "fitted", "legacy"):
        raise DataValidationError(
            f"travel_model {choice!r} inconnu : 'fitted' (ajusté sur l'Isère) ou 'legacy'"
        )
    if choice == "fitted" and custom:
        raise DataValidationError(
            "detour_factor et speed_kmh ne s'appliquent qu'à travel_model='legacy'"
        )
    if choice == "legacy" or (choice is None and custom):
        if not (detour_factor >= 1 and speed_kmh > 0):
            raise DataValidationError(
                f"detour_factor doit être ≥ 1 et speed_kmh > 0, reçus {detour_factor} et "
                f"{speed_kmh}"
            )
        if not custom:
            return LEGACY_MODEL
        slope = detour_factor / speed_kmh * 60.0
        return TravelTimeModel(
            name="legacy",
            label=f"distance à vol d'oiseau × {detour_factor:g} à {speed_kmh:g} km/h",
            form="legacy",
            coefficients={"a": 0.0, "b0": slope, "b1": slope, "c": 0.0, "p": 1.0},
            fitted_on="aucune donnée : paramètres fournis",
        )
    return load_default_model()


def _point_features(frame: gpd.GeoDataFrame, opts: AnalysisOptions) -> npt.NDArray[np.float64]:
    """Travel-model feature of practitioners: their commune's, else at their location."""
    feature = opts.travel_model.feature
    out = np.full(len(frame), np.nan)
    codes = _commune_column(frame)
    known = np.zeros(len(frame), dtype=bool)
    if codes is not None:
        known = codes.notna().to_numpy()
        if known.any():
            inverse, distinct = pd.factorize(codes[known].astype(str).to_numpy(dtype=object))
            out[known] = commune_features(distinct, feature)[inverse]
    if (~known).any():
        out[~known] = features_at(frame.geometry[~known], feature)
    return out


def _pair_nearest(
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    minutes: npt.NDArray[np.float64],
    capacity: npt.NDArray[np.float64],
    n: int,
) -> npt.NDArray[np.float64]:
    """Minimum time over the pairs towards a positive supply; NaN without one."""
    positive = capacity[cols] > 0
    out = np.full(n, np.inf)
    np.minimum.at(out, rows[positive], minutes[positive])
    out[np.isinf(out)] = np.nan
    return out


def _local(
    supply_commune: npt.NDArray[np.int64], values: npt.NDArray[np.float64], n: int
) -> npt.NDArray[np.float64]:
    """Sum of ``values`` of the supply points located in each commune."""
    ok = supply_commune >= 0
    return np.bincount(supply_commune[ok], weights=values[ok], minlength=n).astype("float64")
