"""Accessibility analysis of a territory: communes + practitioners + travel costs → a measure.

:func:`analyse` is the one entry point the CLI, the API and the notebooks call. It validates
the inputs, takes the border effect into account (demand and supply around the territory are
part of the computation, results are reported for the territory's communes only), builds the
sparse travel costs once and runs a numeric core from :mod:`geo._fca`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo import _fca
from geo.costs import (
    DETOUR_FACTOR,
    SPEED_KMH,
    TravelCosts,
    km_to_minutes,
    minutes_to_km,
    read_od_table,
    straight_line_costs,
)
from geo.crs import metric_crs_for
from geo.demo import SYNTHETIC_LABEL, is_synthetic
from geo.density import assign_communes
from geo.errors import DataValidationError
from geo.reference import REFERENCE_SOURCES, load_communes
from geo.territory import Territory

__all__ = [
    "FRANCE_BOXES",
    "MEASURES",
    "MeasureInfo",
    "analyse",
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

#: Ratio measures are reported per this many inhabitants (APL has its own DREES unit).
PER_INHABITANTS = 10_000.0

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


def _communes_to_crs(communes: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """Reproject the polygons and the chef-lieu points (no-op when already in ``crs``)."""
    out = communes.to_crs(crs)
    if "chef_lieu" in out.columns:
        out["chef_lieu"] = _points_of(communes).to_crs(crs)
    return out


def _metric_crs(communes: gpd.GeoDataFrame) -> str:
    if "departement" in communes.columns:
        return metric_crs_for(pd.unique(communes["departement"].astype(str)))
    if communes.crs is not None and communes.crs.is_projected:
        return str(communes.crs.to_string())
    return "EPSG:2154"


def _near(
    points_xy: npt.NDArray[np.float64], targets_xy: npt.NDArray[np.float64], radius_m: float
) -> npt.NDArray[np.bool_]:
    """Which ``points`` lie within ``radius_m`` of at least one target."""
    if len(points_xy) == 0 or len(targets_xy) == 0:
        return np.zeros(len(points_xy), dtype=bool)
    dist, _ = cKDTree(targets_xy).query(points_xy, k=1, distance_upper_bound=radius_m)
    return np.isfinite(dist)


def _xy(points: gpd.GeoSeries, crs: str) -> npt.NDArray[np.float64]:
    return shapely.get_coordinates(points.to_crs(crs).to_numpy())


@dataclass(frozen=True)
class _Context:
    communes: gpd.GeoDataFrame  # demand context, located communes only
    in_territory: npt.NDArray[np.bool_]  # per context commune
    practitioners: gpd.GeoDataFrame  # supply context
    practitioner_communes: pd.Series  # commune code of each supply point (NA: outside all)
    crs: str


def _context(
    territory: gpd.GeoDataFrame,
    practitioners: gpd.GeoDataFrame,
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
        extra = surroundings[~_isin(surroundings["code"], located["code"])]
        extra = _communes_to_crs(extra[_points_of(extra).notna()], crs)
        candidates = pd.concat([located, extra[located.columns.intersection(extra.columns)]])
        candidates = gpd.GeoDataFrame(candidates, geometry=located.geometry.name, crs=located.crs)
    cand_xy = _xy(_points_of(candidates), crs)
    keep = _near(cand_xy, terr_xy, 2.0 * reach_km * 1000.0)
    keep |= _isin(candidates["code"], located["code"])
    context = candidates[keep].reset_index(drop=True)
    # supply: within 3× the reach of a chef-lieu, or inside a commune of the territory (what
    # density counts, whatever the catchment)
    codes = assign_communes(practitioners, context)
    near = _near(_xy(practitioners.geometry, crs), terr_xy, 3.0 * reach_km * 1000.0)
    near |= _isin(codes, located["code"])
    return _Context(
        communes=context,
        in_territory=_isin(context["code"], located["code"]),
        practitioners=practitioners[near],
        practitioner_communes=codes[near],
        crs=crs,
    )


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


def _standardised_demand(
    communes: gpd.GeoDataFrame,
    age_table: pd.DataFrame | None,
    consumption_weights: Mapping[str, float] | None,
) -> npt.NDArray[np.float64]:
    population: npt.NDArray[np.float64] = communes["population"].to_numpy(dtype="float64")
    if age_table is None:
        return population
    if consumption_weights is None:
        raise DataValidationError("an age table needs consumption_weights (age band → weight)")
    bands = list(consumption_weights)
    missing = [b for b in bands if b not in age_table.columns]
    if missing:
        raise DataValidationError(
            f"age table lacks the band column(s) {missing}; it has {list(age_table.columns)}"
        )
    table = age_table.copy()
    table.index = table.index.astype(str)
    absent = sorted(set(communes["code"]) - set(table.index))
    if absent:
        raise DataValidationError(
            f"age table has no row for {len(absent)} commune(s) of the analysis, e.g. {absent[:5]}"
        )
    counts = table.loc[communes["code"], bands].apply(pd.to_numeric, errors="coerce")
    if counts.isna().any().any():
        bad = counts.index[counts.isna().any(axis=1)][0]
        raise DataValidationError(f"age table row {bad!r} has a missing or non-numeric value")
    shares = counts.to_numpy(dtype="float64")
    totals = shares.sum(axis=1, keepdims=True)
    # the table may hold counts or shares: only its proportions are used, on population 2023
    props = np.divide(shares, totals, out=np.zeros_like(shares), where=totals > 0)
    by_band = props * population[:, None]
    by_band[totals[:, 0] == 0, 0] = population[totals[:, 0] == 0]
    weights = np.array([float(consumption_weights[b]) for b in bands])
    return _fca.standardise_population_core(by_band, weights)


def analyse(
    territory: Territory | gpd.GeoDataFrame,
    practitioners: gpd.GeoDataFrame,
    measure: str = "apl",
    *,
    catchment_minutes: float | None = None,
    travel: Literal["straight_line", "od_table"] = "straight_line",
    od_table: pd.DataFrame | str | None = None,
    od_columns: tuple[str, str, str] = ("origin", "dest", "minutes"),
    detour_factor: float = DETOUR_FACTOR,
    speed_kmh: float = SPEED_KMH,
    supply: str | None = None,
    steps: Mapping[float, float] | None = None,
    sigma_minutes: float | None = None,
    gravity_scale: float = 1.0,
    gravity_alpha: float = -1.0,
    exclude_aged_from: int | None = None,
    reference_year: int | None = None,
    age_table: pd.DataFrame | None = None,
    consumption_weights: Mapping[str, float] | None = None,
    threshold_minutes: float = 30.0,
    surroundings: gpd.GeoDataFrame | Literal["reference"] | None = "reference",
) -> gpd.GeoDataFrame:
    """Compute an accessibility measure for each commune of a territory.

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
    travel : {"straight_line", "od_table"}
        Straight lines (``km × detour_factor / speed_kmh``) or a user origin–destination table
        of minutes between commune codes (``od_table``, columns ``od_columns``).
    supply : str, optional
        ``headcount`` (1 per practitioner), ``fte``, ``consultations`` or a column name. APL
        defaults to consultations when the column exists, else FTE, else headcount.
    steps : mapping, optional
        Step weights (minutes → weight) of E2SFCA/3SFCA/APL (defaults: access's, APL bands).
    sigma_minutes : float, optional
        Gaussian kernel width of ``kernel_2sfca`` (default: catchment / 2).
    gravity_scale, gravity_alpha : float
        Hansen gravity weight ``(cost / scale) ** alpha``.
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

    Returns
    -------
    geopandas.GeoDataFrame
        One row per commune of the territory, in the territory's CRS: code, nom, population,
        demand, practitioners (in the commune), practitioners_in_reach, nearest_minutes, value,
        status, geometry. ``attrs`` holds the metadata: measure, unit, parameters, travel,
        sources, synthetic flag, context sizes, timings.
    """
    started = time.perf_counter()
    if measure not in MEASURES:
        raise DataValidationError(f"measure {measure!r} is not one of {', '.join(MEASURES)}")
    if travel not in ("straight_line", "od_table"):
        raise DataValidationError(f"travel {travel!r} is not one of straight_line, od_table")
    if travel == "od_table" and od_table is None:
        raise DataValidationError("travel='od_table' needs od_table (a path or a DataFrame)")
    info = MEASURES[measure]
    communes = territory.communes if isinstance(territory, Territory) else territory
    _check_communes(communes, "territory communes")
    if len(communes) == 0:
        raise DataValidationError("the territory has no commune")
    supply_kind = supply or _default_supply(measure, practitioners)
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
        raise DataValidationError(f"catchment_minutes must be ≥ 0, got {catchment_minutes!r}")
    if isinstance(surroundings, str):
        if surroundings != "reference":
            raise DataValidationError("surroundings must be a GeoDataFrame, None or 'reference'")
        surroundings = load_communes() if _in_reference(communes) else None
    opts = _Options(
        measure=measure,
        catchment=catchment,
        travel=travel,
        od_table=od_table,
        od_columns=od_columns,
        detour_factor=detour_factor,
        speed_kmh=speed_kmh,
        supply_kind=supply_kind,
        steps=steps,
        sigma=sigma_minutes,
        gravity_scale=gravity_scale,
        gravity_alpha=gravity_alpha,
        age_table=age_table,
        consumption_weights=consumption_weights,
        threshold_minutes=threshold_minutes,
    )

    # mainland and each overseas département are analysed in their own metric CRS
    by_crs = _crs_of_communes(communes)
    prac_crs = _crs_of_lonlat(lonlat)
    groups = [None] if by_crs is None else sorted(set(by_crs))
    parts = []
    for crs in groups:
        part = communes if crs is None else communes[by_crs == crs]
        work_crs = str(crs) if crs is not None else _metric_crs(part)
        in_group = prac_crs == work_crs
        # overseas points are never projected into Lambert-93 (and conversely)
        supply_part = prac[in_group] if in_group.any() or work_crs in _CRS_OF_BOX.values() else prac
        around = surroundings
        if around is not None and crs is not None:
            around_crs = _crs_of_communes(around)
            around = around if around_crs is None else around[around_crs == crs]
        parts.append(_analyse_group(part, supply_part, around, work_crs, opts))
    result = parts[0] if len(parts) == 1 else _combine(parts, communes)
    result.attrs["parameters"]["exclude_aged_from"] = exclude_aged_from
    result.attrs["context"]["practitioners_total"] = len(prac)
    synthetic = is_synthetic(practitioners)
    result.attrs["synthetic"] = synthetic
    result.attrs["label"] = SYNTHETIC_LABEL if synthetic else None
    result.attrs["sources"] = dict(REFERENCE_SOURCES) | {
        "practitioners": SYNTHETIC_LABEL if synthetic else "données fournies par l'utilisateur"
    }
    result.attrs["timings_s"]["total"] = round(time.perf_counter() - started, 4)
    return result


@dataclass(frozen=True)
class _Options:
    """Validated options of one analysis, shared by its per-CRS groups."""

    measure: str
    catchment: float
    travel: str
    od_table: pd.DataFrame | str | None
    od_columns: tuple[str, str, str]
    detour_factor: float
    speed_kmh: float
    supply_kind: str
    steps: Mapping[float, float] | None
    sigma: float | None
    gravity_scale: float
    gravity_alpha: float
    age_table: pd.DataFrame | None
    consumption_weights: Mapping[str, float] | None
    threshold_minutes: float


def _analyse_group(
    communes: gpd.GeoDataFrame,
    prac: gpd.GeoDataFrame,
    surroundings: gpd.GeoDataFrame | None,
    work_crs: str,
    opts: _Options,
) -> gpd.GeoDataFrame:
    """Analyse communes that share one metric CRS (validated inputs)."""
    info = MEASURES[opts.measure]
    catchment = opts.catchment
    communes_metric = _communes_to_crs(communes, work_crs)
    if opts.travel == "straight_line":
        reach_km = minutes_to_km(catchment, opts.detour_factor, opts.speed_kmh)
    else:
        # road times from a table can beat the straight-line model (motorways): bound the
        # context with a crow-fly speed no road reaches
        reach_km = max(catchment, opts.threshold_minutes) / 60.0 * MAX_CROW_FLY_SPEED_KMH
    prac_metric = prac.to_crs(work_crs)
    ctx = _context(communes_metric, prac_metric, surroundings, reach_km)
    demand_ids = pd.Index(ctx.communes["code"].astype(str))
    demand = _standardised_demand(ctx.communes, opts.age_table, opts.consumption_weights)
    capacity = _supply_values(ctx.practitioners, opts.supply_kind)

    build_started = time.perf_counter()
    if opts.travel == "straight_line":
        costs = straight_line_costs(
            _points_of(ctx.communes).set_axis(demand_ids),
            ctx.practitioners.geometry.set_axis(_ids(ctx.practitioners)),
            crs=ctx.crs,
            max_minutes=catchment,
            detour_factor=opts.detour_factor,
            speed_kmh=opts.speed_kmh,
        )
        supply_capacity = capacity
        supply_headcount: npt.NDArray[np.float64] = np.ones(len(capacity))
    else:
        assert opts.od_table is not None  # checked by analyse()
        codes = ctx.practitioner_communes
        placed = codes.notna().to_numpy()
        dest_ids = pd.Index(pd.unique(codes[placed].astype(str)))
        pos = dest_ids.get_indexer(pd.Index(codes[placed].astype(str)))
        supply_capacity = np.bincount(
            pos, weights=capacity[placed], minlength=len(dest_ids)
        ).astype(np.float64)
        supply_headcount = np.bincount(pos, minlength=len(dest_ids)).astype(np.float64)
        o, d, m = opts.od_columns
        costs = _od_costs(
            opts.od_table,
            o,
            d,
            m,
            demand_ids,
            dest_ids,
            max(catchment, opts.threshold_minutes),
        )
    build_seconds = time.perf_counter() - build_started

    rows, cols, minutes = costs.rows, costs.cols, costs.minutes
    in_reach = minutes <= catchment
    in_reach_count = np.bincount(
        rows[in_reach], weights=supply_headcount[cols[in_reach]], minlength=len(demand_ids)
    ).astype(np.float64)
    positive = supply_capacity[cols] > 0
    pool = prac_metric[_supply_values(prac_metric, opts.supply_kind) > 0]
    nearest = _nearest_minutes(costs, positive, ctx, opts, pool)

    local_capacity = _local_supply(ctx, demand_ids, supply_capacity, costs, opts.travel)
    local_headcount = _local_supply(
        ctx,
        demand_ids,
        None if opts.travel == "straight_line" else supply_headcount,
        costs,
        opts.travel,
    )

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
        supply_kind=opts.supply_kind,
        nearest=nearest,
        local_supply=local_capacity,
    )
    compute_seconds = time.perf_counter() - compute_started

    result = _assemble(
        communes, demand_ids, demand, value, in_reach_count, nearest, local_headcount
    )
    pop = result["population"].to_numpy(dtype="float64")
    far = ~(result["nearest_minutes"].to_numpy() <= opts.threshold_minutes)
    result.attrs = {
        "measure": opts.measure,
        "label_fr": info.label_fr,
        "unit_fr": unit_fr,
        "higher_is_better": info.higher_is_better,
        "parameters": {
            "catchment_minutes": catchment,
            "supply": opts.supply_kind,
            "age_standardised": opts.age_table is not None,
            "threshold_minutes": opts.threshold_minutes,
            **params,
        },
        "travel": {"method": costs.method, **dict(costs.params)},
        "context": {
            "territory_communes": len(communes),
            "demand_communes": len(ctx.communes),
            "supply_points": len(ctx.practitioners),
            "pairs": costs.n_pairs,
            "border_effect": surroundings is not None,
        },
        "summary": {
            "population": float(pop.sum()),
            "population_beyond_threshold": float(pop[far].sum()),
            "communes_beyond_threshold": int(far.sum()),
            "population_weighted_mean": _weighted_mean(result["value"].to_numpy(), pop),
        },
        "timings_s": {"costs": round(build_seconds, 4), "measure": round(compute_seconds, 4)},
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


def _crs_of_lonlat(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
    """Metric CRS of each (validated) practitioner from the box of France it lies in."""
    out = np.full(len(xy), "", dtype=object)
    for name, (minx, miny, maxx, maxy) in FRANCE_BOXES.items():
        inside = (xy[:, 0] >= minx) & (xy[:, 0] <= maxx) & (xy[:, 1] >= miny) & (xy[:, 1] <= maxy)
        out[inside & (out == "")] = _CRS_OF_BOX[name]
    return out.astype(str)


def _combine(parts: list[gpd.GeoDataFrame], communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
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
    pop = result["population"].to_numpy(dtype="float64")
    attrs["summary"] = {
        "population": float(pop.sum()),
        "population_beyond_threshold": sum(
            p.attrs["summary"]["population_beyond_threshold"] for p in parts
        ),
        "communes_beyond_threshold": sum(
            p.attrs["summary"]["communes_beyond_threshold"] for p in parts
        ),
        "population_weighted_mean": _weighted_mean(result["value"].to_numpy(), pop),
    }
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


def _od_costs(
    source: pd.DataFrame | str,
    o: str,
    d: str,
    m: str,
    origins: pd.Index,
    destinations: pd.Index,
    max_minutes: float,
) -> TravelCosts:
    table = (
        pd.read_csv(source, sep=None, engine="python", dtype=str)
        if isinstance(source, str)
        else source
    )
    keep = table[o].astype(str).isin(origins) & table[d].astype(str).isin(destinations)
    return read_od_table(
        table[keep.to_numpy()],
        origin_col=o,
        dest_col=d,
        minutes_col=m,
        origins=origins,
        destinations=destinations,
        max_minutes=max_minutes,
    )


def _nearest_minutes(
    costs: TravelCosts,
    positive: npt.NDArray[np.bool_],
    ctx: _Context,
    opts: _Options,
    pool: gpd.GeoDataFrame,
) -> npt.NDArray[np.float64]:
    """Time to the nearest practitioner, not limited by the catchment for straight lines."""
    n = len(costs.origins)
    if opts.travel == "straight_line":
        # every practitioner with a positive supply (``pool``), not only the context: the
        # nearest one may lie beyond the catchment
        if len(pool) == 0:
            return np.full(n, np.nan)
        d_xy = _xy(_points_of(ctx.communes), ctx.crs)
        dist_m, _ = cKDTree(_xy(pool.geometry, ctx.crs)).query(d_xy, k=1)
        minutes: npt.NDArray[np.float64] = np.round(
            km_to_minutes(dist_m / 1000.0, opts.detour_factor, opts.speed_kmh), 9
        )
        return minutes
    out = np.full(n, np.inf)
    np.minimum.at(out, costs.rows[positive], costs.minutes[positive])
    out[np.isinf(out)] = np.nan
    return out


def _local_supply(
    ctx: _Context,
    demand_ids: pd.Index,
    capacity: npt.NDArray[np.float64] | None,
    costs: TravelCosts,
    travel: str,
) -> npt.NDArray[np.float64]:
    """Supply located in each commune (by destination code, else by commune of the point).

    ``capacity`` None counts practitioners.
    """
    if travel == "od_table":
        assert capacity is not None  # od_table supply is always aggregated per commune
        pos = demand_ids.get_indexer(costs.destinations)
        out = np.zeros(len(demand_ids))
        ok = pos >= 0
        np.add.at(out, pos[ok], capacity[ok])
        return out
    pos = demand_ids.get_indexer(pd.Index(ctx.practitioner_communes.astype(str)))
    ok = (pos >= 0) & ctx.practitioner_communes.notna().to_numpy()
    weights = None if capacity is None else capacity[ok]
    return np.bincount(pos[ok], weights=weights, minlength=len(demand_ids)).astype("float64")


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
    supply_kind: str,
    nearest: npt.NDArray[np.float64],
    local_supply: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], str, dict[str, Any]]:
    info = MEASURES[measure]
    if measure == "density":
        value = np.full(len(demand), np.nan)
        np.divide(local_supply * PER_INHABITANTS, demand, out=value, where=demand > 0)
        return value, info.unit_fr, {}
    if measure == "nearest":
        return nearest, info.unit_fr, {}
    args = (demand, supply, rows, cols, minutes)
    if measure == "2sfca":
        return (
            _fca.two_step_fca_core(*args, max_cost=catchment) * PER_INHABITANTS,
            info.unit_fr,
            {},
        )
    if measure == "e2sfca":
        chosen = dict(steps or _fca.E2SFCA_DEFAULT_STEPS)
        value = _fca.enhanced_two_step_fca_core(*args, steps=chosen, max_cost=catchment)
        return value * PER_INHABITANTS, info.unit_fr, {"steps": _steps_json(chosen)}
    if measure == "kernel_2sfca":
        width = float(sigma if sigma is not None else catchment / 2.0)
        value = _fca.kernel_two_step_fca_core(*args, sigma=width, max_cost=catchment)
        return value * PER_INHABITANTS, info.unit_fr, {"sigma_minutes": width}
    if measure == "3sfca":
        chosen = dict(steps or _fca.THREE_STEP_DEFAULT_STEPS)
        value = _fca.three_step_fca_core(
            *args, weights=_fca.StepWeights(chosen), max_cost=catchment
        )
        return value * PER_INHABITANTS, info.unit_fr, {"steps": _steps_json(chosen)}
    if measure == "gravity":
        value = _fca.gravity_core(
            *args, scale=gravity_scale, alpha=gravity_alpha, max_cost=catchment
        )
        return value, info.unit_fr, {"scale": gravity_scale, "alpha": gravity_alpha}
    # APL
    chosen = dict(steps or _fca.APL_BANDS)
    unit_key = supply_kind if supply_kind in _fca.APL_UNITS else "headcount"
    value = _fca.apl_core(
        *args,
        bands=chosen,
        max_cost=catchment,
        supply_unit=unit_key,  # type: ignore[arg-type]
    )
    unit_fr = {
        "consultations": "consultations par an et par habitant standardisé",
        "fte": "ETP pour 100 000 habitants standardisés",
        "headcount": "praticiens pour 100 000 habitants standardisés",
    }[unit_key]
    return value, unit_fr, {"bands": _steps_json(chosen), "unit": _fca.APL_UNITS[unit_key][0]}


def _steps_json(steps: Mapping[float, float]) -> dict[str, float]:
    return {f"{float(k):g}": float(v) for k, v in sorted(steps.items())}


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
) -> gpd.GeoDataFrame:
    keep = [
        c
        for c in ("code", "nom", "departement", "epci", "epci_nom", "population")
        if c in communes.columns
    ]
    out = gpd.GeoDataFrame(
        communes[keep].copy(), geometry=communes.geometry.to_numpy(), crs=communes.crs
    )
    pos = demand_ids.get_indexer(pd.Index(out["code"].astype(str)))
    located = pos >= 0

    def take(arr: npt.NDArray[np.float64], fill: float) -> npt.NDArray[np.float64]:
        res = np.full(len(out), fill, dtype="float64")
        res[located] = arr[pos[located]]
        return res

    out["demand"] = take(demand, np.nan)
    out["practitioners"] = take(local, 0.0)
    out["practitioners_in_reach"] = take(in_reach, 0.0)
    out["nearest_minutes"] = take(nearest, np.nan)
    out["value"] = take(value, np.nan)
    population = out["population"].to_numpy(dtype="float64")
    status = np.where(
        ~located,
        "non localisée",
        np.where(
            population <= 0,
            "population nulle",
            np.where(np.isnan(out["value"].to_numpy()), "aucun praticien à portée", "ok"),
        ),
    )
    out["status"] = status
    return out
