"""Deterministic synthetic practitioners for demonstrations, for any set of communes.

No geolocated file of practitioners is available offline, so demos draw a plausible one from
commune populations; every record and the frame itself are flagged as simulated.

Target densities
----------------
National densities of practitioners in liberal or mixed practice, per 10,000 inhabitants. They
are rounded orders of magnitude taken from DREES, *Démographie des professionnels de santé*
(RPPS / ADELI, around 1 January 2023), not the official figure of any single year; the last
column is what they imply for the 68.35 million inhabitants of 2023:

=========================  ==========  ============  ==================================
code                       id prefix   per 10,000    implied national count
=========================  ==========  ============  ==================================
medecin_generaliste        MG          8.5           58,000 GPs libéraux or mixtes
infirmier                  INF         14.0          96,000 infirmiers libéraux
masseur_kinesitherapeute   MK          11.0          75,000 kinésithérapeutes libéraux
chirurgien_dentiste        CD          5.5           38,000 chirurgiens-dentistes libéraux
sage_femme                 SF          1.3           9,000 sages-femmes libérales
=========================  ==========  ============  ==================================

Placement model
---------------
The expected count of a profession in commune *c* is
``population_c × base_density × size_factor[size class of c] / 10,000``. Size classes are
bounded by 500, 2,000, 5,000, 10,000 and 50,000 inhabitants; the factors rise with size (GPs:
0.40, 0.62, 1.10, 1.15, 1.15, 1.20) because practitioners settle in bourgs and towns that serve
the surrounding villages. ``base_density`` is fixed once, on the national population of each size
class (:data:`NATIONAL_POPULATION_BY_SIZE_CLASS`, computed from ``load_communes()`` and checked
by a test), so that the national expectation equals the target density exactly; a département
generated alone is *not* rescaled to the national target. With these factors communes under
2,000 inhabitants (22 % of the population) hold about 12 % of GPs. Counts follow a Poisson law,
so most villages get none and towns get many.

Each practitioner is placed around the commune's chef-lieu (town hall) with a Gaussian spread
``sigma = clip(0.12 × sqrt(area), 150 m, 1,500 m)`` in the metric CRS of its département
(:func:`geo.crs.metric_crs_for`). A draw falling outside the commune polygon is redrawn with a
spread shrunk by 0.7 each time, eight draws in all, then falls back to the chef-lieu; when the
chef-lieu lies outside the (simplified) polygon a point on the polygon's surface is used
instead. Communes without a polygon, without a chef-lieu or with no inhabitants get no
practitioners.

Attributes
----------
* ``age``: drawn from a piecewise-uniform pyramid by age band per profession (assumptions in the
  orders of magnitude of DREES and the CNOM *Atlas de la démographie médicale*: GPs aged 28–75,
  mean ≈ 50, about 26 % aged 60 or over and 12 % aged 65 or over; nurses, physiotherapists and
  midwives younger). In communes under 2,000 inhabitants the quantile is tilted towards older
  ages (``u ** 0.8``), so rural practitioners are older. ``birth_year = reference_year − age``.
* ``sex``: ``"F"`` with probability ``logistic(logit(share_at_50) + slope × (age − 50))``:
  younger cohorts are more female (GPs: about 70 % of women at 32, 45 % at 50, 25 % at 65;
  nurses ≈ 86 % and midwives ≈ 97 % whatever the age).
* ``fte``: full-time equivalent in [0.2, 1.2] (1.2 stands for the long weeks of many liberal
  practitioners), ``0.2 + Kumaraswamy(a, b)`` (a closed-form beta-like law), mean ≈ 0.9 for GPs;
  multiplied by 0.6 from age 65 (cumul emploi-retraite) and rounded to 0.01.
* ``consultations_per_year``: GPs only, ``4,900 × fte × LogNormal(mean 1, sigma 0.25)`` rounded
  to a whole number (about 4,900 consultations and visits a year per full-time GP, order of
  magnitude of the CNAM/DREES activity figures); ``NaN`` for the other professions, whose
  activity is not counted in consultations.
* ``id``: ``SIM-<commune>-<abbreviation>-<rank>``, e.g. ``SIM-63113-MG-0003``. Never a name.

Determinism and territory independence
--------------------------------------
Every random number is a counter-based hash (splitmix64) of (seed, commune code, profession
code, rank, variable), turned into a uniform and then into the law above by inverse CDF. Codes
are packed byte by byte into a 64-bit integer, so ``"2A004"``, ``"20004"`` and ``"97411"`` never
collide. A practitioner therefore depends only on its own commune: generating a département
alone gives exactly the records of that département in the national set, and generating one
profession gives exactly the records of that profession among all of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from types import MappingProxyType
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.special import ndtri
from scipy.stats import poisson

from geo.crs import metric_crs_for
from geo.errors import DataValidationError

__all__ = [
    "NATIONAL_POPULATION",
    "NATIONAL_POPULATION_BY_SIZE_CLASS",
    "OUTPUT_COLUMNS",
    "PROFESSIONS",
    "SIZE_CLASS_LOWER_BOUNDS_INHABITANTS",
    "SYNTHETIC_LABEL",
    "SYNTHETIC_SOURCE",
    "Profession",
    "generate_practitioners",
    "is_synthetic",
]

#: Lower bound (inhabitants, inclusive) of each commune size class.
SIZE_CLASS_LOWER_BOUNDS_INHABITANTS: Final[tuple[int, ...]] = (0, 500, 2_000, 5_000, 10_000, 50_000)

#: Population municipale 2023 of the communes that can host practitioners (with a polygon and a
#: chef-lieu), by size class: sums over ``load_communes()`` of the COG 2026 reference (every
#: commune is located since the reference repair of issue #16). Checked by ``tests/test_demo.py``.
NATIONAL_POPULATION_BY_SIZE_CLASS: Final[tuple[int, ...]] = (
    4_089_033,
    10_946_419,
    10_060_699,
    8_344_146,
    18_394_796,
    16_515_705,
)
#: Population municipale 2023 of all 34,875 communes (métropole and DROM): the denominator of
#: the national target densities.
NATIONAL_POPULATION: Final[int] = 68_350_798

#: Value of the ``source`` column.
SYNTHETIC_SOURCE: Final[str] = "simulé / démonstration"
#: Label carried in ``attrs["label"]``, to be shown on every map or table built from the data.
SYNTHETIC_LABEL: Final[str] = "praticiens simulés — données de démonstration"

#: Columns of :func:`generate_practitioners`' result, in order.
OUTPUT_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "profession",
    "profession_libelle",
    "commune",
    "commune_nom",
    "age",
    "birth_year",
    "sex",
    "fte",
    "consultations_per_year",
    "synthetic",
    "source",
    "geometry",
)

_REQUIRED_COLUMNS: Final[tuple[str, ...]] = ("code", "population", "geometry", "chef_lieu")
_PER_10K: Final[float] = 10_000.0
_RURAL_LIMIT_INHABITANTS: Final[int] = 2_000
# Quantile tilt u -> u**0.8 applied to ages in communes under 2,000 inhabitants (older).
_RURAL_AGE_TILT: Final[float] = 0.8
_FTE_MIN: Final[float] = 0.2
_FTE_MAX: Final[float] = 1.2
_SENIOR_AGE_YEARS: Final[int] = 65
_SENIOR_FTE_FACTOR: Final[float] = 0.6
_CONSULTATIONS_LOG_SIGMA: Final[float] = 0.25
_SPREAD_FRACTION_OF_SQRT_AREA: Final[float] = 0.12
_SPREAD_MIN_M: Final[float] = 150.0
_SPREAD_MAX_M: Final[float] = 1_500.0
_PLACEMENT_ATTEMPTS: Final[int] = 8
_PLACEMENT_SHRINK: Final[float] = 0.7

# Hash streams: one per random variable of a practitioner; placement uses two per attempt.
_STREAM_AGE: Final[int] = 1
_STREAM_SEX: Final[int] = 2
_STREAM_FTE: Final[int] = 3
_STREAM_ACTIVITY: Final[int] = 4
_STREAM_PLACEMENT: Final[int] = 16
# Mixed into the (commune, profession) key for the count draw; ranks never reach it.
_COUNT_KEY: Final[int] = 1 << 63

_U64 = NDArray[np.uint64]
_F64 = NDArray[np.float64]
_I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Profession:
    """Parameters of one simulated profession.

    Attributes
    ----------
    code : str
        English snake-case code, value of the ``profession`` column.
    label : str
        French label for display, value of ``profession_libelle``.
    abbreviation : str
        Short code used in practitioner ids.
    density_per_10k : float
        National target density (liberal or mixed practice) per 10,000 inhabitants.
    size_factors : tuple of float
        Relative density in each size class of :data:`SIZE_CLASS_LOWER_BOUNDS_INHABITANTS`.
    age_band_edges_years : tuple of int
        Edges of the age bands; ages lie in ``[edges[0], edges[-1])``.
    age_band_shares : tuple of float
        Share of practitioners in each band (sums to 1).
    female_share_at_50 : float
        Probability of ``"F"`` at age 50.
    female_logit_slope_per_year : float
        Change of the log-odds of ``"F"`` per year of age (negative: younger is more female).
    fte_kumaraswamy : tuple of float
        Parameters (a, b) of the Kumaraswamy law of ``fte - 0.2``.
    consultations_per_fte : float or None
        Mean consultations per year of a full-time practitioner; None when not counted.
    """

    code: str
    label: str
    abbreviation: str
    density_per_10k: float
    size_factors: tuple[float, ...]
    age_band_edges_years: tuple[int, ...]
    age_band_shares: tuple[float, ...]
    female_share_at_50: float
    female_logit_slope_per_year: float
    fte_kumaraswamy: tuple[float, float]
    consultations_per_fte: float | None = None

    @property
    def base_density_per_10k(self) -> float:
        """Density before the size factor, such that the national expectation hits the target."""
        weighted = sum(
            p * f for p, f in zip(NATIONAL_POPULATION_BY_SIZE_CLASS, self.size_factors, strict=True)
        )
        return self.density_per_10k * NATIONAL_POPULATION / weighted


#: The simulated professions, by code, in canonical order.
PROFESSIONS: Final[Mapping[str, Profession]] = MappingProxyType(
    {
        p.code: p
        for p in (
            Profession(
                code="medecin_generaliste",
                label="Médecin généraliste",
                abbreviation="MG",
                density_per_10k=8.5,
                size_factors=(0.40, 0.62, 1.10, 1.15, 1.15, 1.20),
                age_band_edges_years=(28, 30, 35, 40, 45, 50, 55, 60, 65, 70, 76),
                age_band_shares=(0.03, 0.11, 0.13, 0.12, 0.11, 0.11, 0.13, 0.14, 0.08, 0.04),
                female_share_at_50=0.45,
                female_logit_slope_per_year=-0.058,
                fte_kumaraswamy=(4.0, 2.0),
                consultations_per_fte=4_900.0,
            ),
            Profession(
                code="infirmier",
                label="Infirmier",
                abbreviation="INF",
                density_per_10k=14.0,
                size_factors=(0.55, 0.85, 1.10, 1.10, 1.10, 1.10),
                age_band_edges_years=(23, 25, 30, 35, 40, 45, 50, 55, 60, 65, 71),
                age_band_shares=(0.02, 0.09, 0.12, 0.13, 0.13, 0.13, 0.13, 0.12, 0.09, 0.04),
                female_share_at_50=0.86,
                female_logit_slope_per_year=-0.005,
                fte_kumaraswamy=(5.0, 2.0),
            ),
            Profession(
                code="masseur_kinesitherapeute",
                label="Masseur-kinésithérapeute",
                abbreviation="MK",
                density_per_10k=11.0,
                size_factors=(0.30, 0.60, 1.10, 1.20, 1.20, 1.20),
                age_band_edges_years=(23, 25, 30, 35, 40, 45, 50, 55, 60, 65, 73),
                age_band_shares=(0.05, 0.16, 0.15, 0.13, 0.11, 0.10, 0.09, 0.09, 0.07, 0.05),
                female_share_at_50=0.45,
                female_logit_slope_per_year=-0.03,
                fte_kumaraswamy=(4.0, 2.0),
            ),
            Profession(
                code="chirurgien_dentiste",
                label="Chirurgien-dentiste",
                abbreviation="CD",
                density_per_10k=5.5,
                size_factors=(0.20, 0.50, 1.10, 1.20, 1.25, 1.30),
                age_band_edges_years=(25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 76),
                age_band_shares=(0.08, 0.12, 0.12, 0.11, 0.10, 0.10, 0.12, 0.13, 0.08, 0.04),
                female_share_at_50=0.42,
                female_logit_slope_per_year=-0.06,
                fte_kumaraswamy=(3.5, 2.0),
            ),
            Profession(
                code="sage_femme",
                label="Sage-femme",
                abbreviation="SF",
                density_per_10k=1.3,
                size_factors=(0.10, 0.35, 1.00, 1.20, 1.30, 1.35),
                age_band_edges_years=(23, 25, 30, 35, 40, 45, 50, 55, 60, 65, 69),
                age_band_shares=(0.03, 0.17, 0.18, 0.16, 0.13, 0.11, 0.09, 0.08, 0.04, 0.01),
                female_share_at_50=0.97,
                female_logit_slope_per_year=0.0,
                fte_kumaraswamy=(2.5, 2.0),
            ),
        )
    }
)

_MODEL_DESCRIPTION: Final[str] = (
    "Poisson counts per commune = population × national density × size-class factor "
    "(calibrated on the 2023 national population); points around the chef-lieu inside the "
    "commune polygon; age, sex, FTE and GP activity drawn from documented assumptions; "
    "counter-based splitmix64 hash of (seed, commune, profession, rank) so each commune's "
    "draws do not depend on the territory requested."
)


def generate_practitioners(
    communes: gpd.GeoDataFrame,
    *,
    seed: int = 0,
    professions: Sequence[str] | None = None,
    reference_year: int = 2026,
) -> gpd.GeoDataFrame:
    """Draw a deterministic synthetic set of practitioners for the given communes.

    The model (densities, size factors, ages, placement) is described in the module docstring.
    A commune's practitioners depend only on the commune, the seed and the profession, so a
    département generated alone equals its subset of the national set.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Communes with a CRS and the columns ``code``, ``population``, ``geometry`` (polygons)
        and ``chef_lieu`` (points), as returned by :func:`geo.reference.load_communes`;
        ``nom`` and ``departement`` are used when present.
    seed : int, default 0
        Seed of the simulation; any integer.
    professions : sequence of str, optional
        Codes of :data:`PROFESSIONS` to simulate (a single code is accepted); all of them by
        default. The order given does not matter.
    reference_year : int, default 2026
        Year at which ages are given (``birth_year = reference_year - age``).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per practitioner, columns :data:`OUTPUT_COLUMNS`, points in the CRS of
        ``communes``, sorted by commune code, profession and rank. ``attrs`` holds
        ``synthetic``, ``label``, ``seed``, ``reference_year``, ``professions`` and ``model``.

    Raises
    ------
    DataValidationError
        If ``communes`` has no CRS, lacks a required column, holds duplicate or missing codes,
        non-numeric or negative populations or non-polygonal geometries, or if a profession is
        unknown.

    Examples
    --------
    >>> from geo.reference import load_communes
    >>> pros = generate_practitioners(load_communes(departements="63"), seed=0)
    >>> is_synthetic(pros), pros.crs.to_string()
    (True, 'EPSG:4326')
    """
    seed_key = _check_seed(seed)
    year = _check_reference_year(reference_year)
    selected = _resolve_professions(professions)
    table = _check_communes(communes)
    pair_hashes = _pair_hashes(table, selected, seed_key)
    counts = _draw_counts(table, selected, pair_hashes)
    draws = _expand(selected, counts, pair_hashes)
    x, y = _place(table, draws)
    return _assemble(communes, table, selected, draws, x, y, seed, year)


def is_synthetic(frame: pd.DataFrame) -> bool:
    """Tell whether a frame holds simulated practitioners.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any practitioners table.

    Returns
    -------
    bool
        True if ``attrs["synthetic"]`` is set or if any row has ``synthetic == True`` (the
        column survives concatenations that drop ``attrs``).

    Examples
    --------
    >>> is_synthetic(pd.DataFrame({"synthetic": [False, True]}))
    True
    """
    if frame.attrs.get("synthetic") is True:
        return True
    if "synthetic" in frame.columns:
        return bool(frame["synthetic"].fillna(False).astype(bool).any())
    return False


# --- validation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Communes:
    """Validated commune arrays, sorted by code."""

    codes: NDArray[np.str_]
    names: NDArray[np.object_]
    keys: _U64
    population: _F64
    polygons: NDArray[np.object_]
    anchors: NDArray[np.object_]
    metric_crs: NDArray[np.str_]
    crs: pyproj.CRS


def _check_seed(seed: object) -> np.uint64:
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise DataValidationError(f"seed must be an integer, got {seed!r}")
    return np.uint64(int(seed) % (1 << 64))


def _check_reference_year(reference_year: object) -> int:
    if (
        not isinstance(reference_year, int | np.integer)
        or isinstance(reference_year, bool)
        or not 1900 <= int(reference_year) <= 2200
    ):
        raise DataValidationError(
            f"reference_year must be an integer year between 1900 and 2200, got {reference_year!r}"
        )
    return int(reference_year)


def _resolve_professions(professions: Sequence[str] | str | None) -> list[Profession]:
    allowed = ", ".join(PROFESSIONS)
    if professions is None:
        return list(PROFESSIONS.values())
    wanted = [professions] if isinstance(professions, str) else list(professions)
    if not wanted:
        raise DataValidationError(f"professions is empty; choose among: {allowed}")
    unknown = [p for p in wanted if not isinstance(p, str) or p not in PROFESSIONS]
    if unknown:
        shown = ", ".join(repr(p) for p in unknown)
        raise DataValidationError(f"unknown profession(s) {shown}; allowed values: {allowed}")
    # canonical order, so that output order does not depend on how professions were listed
    return [p for code, p in PROFESSIONS.items() if code in set(wanted)]


def _check_communes(communes: object) -> _Communes:
    if not isinstance(communes, gpd.GeoDataFrame):
        raise DataValidationError(f"communes must be a GeoDataFrame, got {type(communes).__name__}")
    missing = [c for c in _REQUIRED_COLUMNS if c != "geometry" and c not in communes.columns]
    if not _has_active_geometry(communes):
        missing.insert(2, "geometry")
    if missing:
        raise DataValidationError(
            f"communes lacks column(s) {', '.join(missing)}; required columns: "
            f"{', '.join(_REQUIRED_COLUMNS)} (geometry: the active geometry column, polygons)"
        )
    if communes.crs is None:
        raise DataValidationError(
            "communes has no CRS; set one (e.g. communes.set_crs('EPSG:4326')) before "
            "generating practitioners"
        )
    crs = pyproj.CRS.from_user_input(communes.crs)

    code_series = communes["code"]
    if code_series.isna().any():
        raise DataValidationError("column 'code' holds missing values; every commune needs a code")
    codes = code_series.astype(str).to_numpy(dtype=str)
    duplicated = pd.Series(codes)[pd.Series(codes).duplicated()].unique()
    if len(duplicated):
        raise DataValidationError(
            f"column 'code' holds duplicate codes: {', '.join(map(str, duplicated[:20]))}"
        )

    population = pd.to_numeric(communes["population"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(population) | (population < 0)
    if bad.any():
        raise DataValidationError(
            "column 'population' must hold finite numbers >= 0; bad value(s) for commune(s) "
            f"{', '.join(codes[bad][:20])}"
        )

    polygons = np.asarray(gpd.GeoSeries(communes.geometry).to_numpy(), dtype=object)
    poly_types = shapely.get_type_id(polygons)
    bad = ~np.isin(poly_types, (-1, 3, 6))
    if bad.any():
        raise DataValidationError(
            "column 'geometry' must hold Polygon or MultiPolygon; other geometry for commune(s) "
            f"{', '.join(codes[bad][:20])}"
        )
    anchors = _chef_lieu_array(communes, codes)

    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    names = (
        communes["nom"].astype(object).to_numpy(dtype=object)[order]
        if "nom" in communes.columns
        else np.full(len(codes), None, dtype=object)
    )
    if "departement" in communes.columns:
        departements = communes["departement"].astype(str).to_numpy(dtype=str)[order]
    else:  # INSEE codes: 2 characters of département, 3 overseas ("97411" -> "974")
        departements = np.where(
            np.char.startswith(codes, "97"), codes.astype("U3"), codes.astype("U2")
        )
    return _Communes(
        codes=codes,
        names=names,
        keys=_string_keys(codes),
        population=population[order],
        polygons=polygons[order],
        anchors=anchors[order],
        metric_crs=_metric_crs(departements),
        crs=crs,
    )


def _has_active_geometry(communes: gpd.GeoDataFrame) -> bool:
    try:
        communes.geometry  # noqa: B018 - raises AttributeError when no geometry is active
    except AttributeError:
        return False
    return True


def _chef_lieu_array(communes: gpd.GeoDataFrame, codes: NDArray[np.str_]) -> NDArray[np.object_]:
    column = communes["chef_lieu"]
    try:
        points = gpd.GeoSeries(column)
    except TypeError as exc:
        raise DataValidationError(
            f"column 'chef_lieu' must hold shapely Points, got dtype {column.dtype}"
        ) from exc
    if points.crs is None:
        points = points.set_crs(communes.crs)
    elif not pyproj.CRS.from_user_input(points.crs).equals(communes.crs):
        points = points.to_crs(communes.crs)
    values = np.asarray(points.to_numpy(), dtype=object)
    bad = ~np.isin(shapely.get_type_id(values), (-1, 0))
    if bad.any():
        raise DataValidationError(
            "column 'chef_lieu' must hold Points; other geometry for commune(s) "
            f"{', '.join(codes[bad][:20])}"
        )
    return values


def _metric_crs(departements: NDArray[np.str_]) -> NDArray[np.str_]:
    unique, inverse = np.unique(departements, return_inverse=True)
    per_departement = np.array([metric_crs_for([d]) for d in unique], dtype=str)
    return per_departement[inverse] if len(unique) else np.array([], dtype=str)


# --- counter-based random numbers --------------------------------------------------------------

_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)
_MIX_1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2: Final = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: _U64) -> _U64:
    """Finaliser of splitmix64, element-wise (uint64 arithmetic wraps modulo 2**64)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


def _combine(h: _U64, key: _U64 | np.uint64) -> _U64:
    return _splitmix64(h ^ key)


def _uniform(h: _U64, stream: int) -> _F64:
    """Uniform in the open interval (0, 1) from a hash and a stream number."""
    bits = _splitmix64(h ^ np.uint64(stream)) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) * 2.0**-53


def _string_keys(values: NDArray[np.str_]) -> _U64:
    """Map strings to uint64, injectively for strings of at most 8 bytes (INSEE codes).

    The UTF-8 bytes are packed big-endian; longer strings fold their further 8-byte words in
    with splitmix64. A string's key never depends on the other strings of the array.
    """
    encoded = np.char.encode(np.asarray(values, dtype=str), "utf-8")
    n, width = len(encoded), max(encoded.dtype.itemsize, 1)
    words = -(-width // 8)
    buffer = np.zeros((n, words * 8), dtype=np.uint8)
    buffer[:, :width] = encoded.view(np.uint8).reshape(n, width) if n else 0
    packed = buffer.view(">u8").astype(np.uint64)
    keys = packed[:, 0].copy()
    for j in range(1, words):
        more = packed[:, j] != 0
        keys[more] = _splitmix64(keys[more]) ^ packed[more, j]
    return keys


# --- counts and attributes ---------------------------------------------------------------------


def _size_class(population: _F64) -> _I64:
    bounds = np.asarray(SIZE_CLASS_LOWER_BOUNDS_INHABITANTS, dtype=float)
    return (np.searchsorted(bounds, population, side="right") - 1).astype(np.int64)


def _hostable(table: _Communes) -> NDArray[np.bool_]:
    return (
        ~shapely.is_missing(table.polygons)
        & ~shapely.is_empty(table.polygons)
        & ~shapely.is_missing(table.anchors)
        & ~shapely.is_empty(table.anchors)
        & (table.population > 0)
    )


def _pair_hashes(table: _Communes, selected: list[Profession], seed_key: np.uint64) -> _U64:
    """Hash of (seed, commune, profession), shape (communes, professions)."""
    per_commune = _combine(np.full(len(table.codes), seed_key, dtype=np.uint64), table.keys)
    profession_keys = _string_keys(np.array([p.code for p in selected], dtype=str))
    return _combine(per_commune[:, None], profession_keys[None, :])


def _draw_counts(table: _Communes, selected: list[Profession], pair_hashes: _U64) -> _I64:
    """Poisson counts, shape (communes, professions)."""
    factors = np.array([p.size_factors for p in selected], dtype=float).T  # (classes, profs)
    base = np.array([p.base_density_per_10k for p in selected], dtype=float)
    expected = (
        table.population[:, None] * base[None, :] * factors[_size_class(table.population)]
    ) / _PER_10K
    expected[~_hostable(table)] = 0.0
    u = _uniform(pair_hashes, _COUNT_KEY)
    counts = np.zeros(expected.shape, dtype=np.int64)
    positive = expected > 0
    counts[positive] = np.asarray(poisson.ppf(u[positive], expected[positive]), dtype=np.int64)
    return counts


@dataclass(frozen=True)
class _Draws:
    """Per-practitioner arrays: commune row, profession row, rank, hash."""

    commune: _I64
    profession: _I64
    rank: _I64
    hashes: _U64


def _expand(selected: list[Profession], counts: _I64, pair_hashes: _U64) -> _Draws:
    flat = counts.ravel()  # commune-major: output sorted by commune, then profession
    total = int(flat.sum())
    pair = np.repeat(np.arange(flat.size, dtype=np.int64), flat)
    starts = np.cumsum(flat) - flat
    rank = np.arange(total, dtype=np.int64) - np.repeat(starts, flat)
    pair_hash = pair_hashes.ravel()[pair]
    return _Draws(
        commune=pair // len(selected),
        profession=pair % len(selected),
        rank=rank,
        hashes=_combine(pair_hash, rank.astype(np.uint64)),
    )


def _ages(
    selected: list[Profession], draws: _Draws, rural: NDArray[np.bool_]
) -> tuple[_I64, NDArray[np.bool_]]:
    """Integer ages and a female flag."""
    u = _uniform(draws.hashes, _STREAM_AGE)
    u = np.where(rural, u**_RURAL_AGE_TILT, u)
    ages = np.zeros(len(u), dtype=np.int64)
    female_logit = np.zeros(len(u), dtype=float)
    for i, p in enumerate(selected):
        mine = draws.profession == i
        edges = np.asarray(p.age_band_edges_years, dtype=float)
        cumulative = np.concatenate(([0.0], np.cumsum(p.age_band_shares)))
        cumulative /= cumulative[-1]
        continuous = np.interp(u[mine], cumulative, edges)
        ages[mine] = np.clip(np.floor(continuous), edges[0], edges[-1] - 1).astype(np.int64)
        share = p.female_share_at_50
        female_logit[mine] = math.log(share / (1 - share)) + p.female_logit_slope_per_year * (
            ages[mine] - 50
        )
    female = _uniform(draws.hashes, _STREAM_SEX) < 1.0 / (1.0 + np.exp(-female_logit))
    return ages, female


def _activity(selected: list[Profession], draws: _Draws, ages: _I64) -> tuple[_F64, _F64]:
    """Full-time equivalents and yearly consultations (NaN where not counted)."""
    u_fte = _uniform(draws.hashes, _STREAM_FTE)
    z_activity = ndtri(_uniform(draws.hashes, _STREAM_ACTIVITY))
    a = np.array([p.fte_kumaraswamy[0] for p in selected], dtype=float)[draws.profession]
    b = np.array([p.fte_kumaraswamy[1] for p in selected], dtype=float)[draws.profession]
    kumaraswamy = (1.0 - (1.0 - u_fte) ** (1.0 / b)) ** (1.0 / a)
    senior = np.where(ages >= _SENIOR_AGE_YEARS, _SENIOR_FTE_FACTOR, 1.0)
    fte = np.round(
        np.clip((_FTE_MIN + (_FTE_MAX - _FTE_MIN) * kumaraswamy) * senior, _FTE_MIN, _FTE_MAX), 2
    )
    per_fte = np.array(
        [np.nan if p.consultations_per_fte is None else p.consultations_per_fte for p in selected],
        dtype=float,
    )[draws.profession]
    sigma = _CONSULTATIONS_LOG_SIGMA
    consultations = np.round(per_fte * fte * np.exp(sigma * z_activity - sigma**2 / 2))
    return np.asarray(fte, dtype=np.float64), np.asarray(consultations, dtype=np.float64)


# --- placement ---------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _transformer(source: str, target: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def _place(table: _Communes, draws: _Draws) -> tuple[_F64, _F64]:
    """Coordinates, in the communes' CRS, of each practitioner, inside its commune polygon."""
    x = np.empty(len(draws.commune), dtype=float)
    y = np.empty(len(draws.commune), dtype=float)
    hosting = np.unique(draws.commune)
    if not len(hosting):
        return x, y
    polygons = table.polygons[hosting]
    shapely.prepare(polygons)
    # the chef-lieu, or a point surely inside when the simplified polygon misses the town hall
    anchors = table.anchors[hosting]
    inside = shapely.contains_xy(polygons, shapely.get_x(anchors), shapely.get_y(anchors))
    anchors = np.where(inside, anchors, shapely.point_on_surface(polygons))
    anchor_x, anchor_y = shapely.get_x(anchors), shapely.get_y(anchors)
    row = np.searchsorted(hosting, draws.commune)  # practitioner -> row in `hosting`
    x[:], y[:] = anchor_x[row], anchor_y[row]

    source = table.crs.to_wkt()
    metric = table.metric_crs[hosting]
    for crs in np.unique(metric):
        group = metric == crs
        to_metric = _transformer(source, str(crs))
        to_source = _transformer(str(crs), source)
        mx, my = to_metric.transform(anchor_x[group], anchor_y[group])
        area = shapely.area(shapely.transform(polygons[group], partial(_project, to_metric)))
        spread = np.clip(
            _SPREAD_FRACTION_OF_SQRT_AREA * np.sqrt(area), _SPREAD_MIN_M, _SPREAD_MAX_M
        )
        in_group = np.flatnonzero(group)  # rows of `hosting` in this CRS
        pending = np.flatnonzero(np.isin(row, in_group))
        local = np.searchsorted(in_group, row[pending])  # practitioner -> row in the group
        for attempt in range(_PLACEMENT_ATTEMPTS):
            if not len(pending):
                break
            h = draws.hashes[pending]
            scale = spread[local] * _PLACEMENT_SHRINK**attempt
            cx = np.asarray(mx)[local] + scale * ndtri(_uniform(h, _STREAM_PLACEMENT + 2 * attempt))
            cy = np.asarray(my)[local] + scale * ndtri(
                _uniform(h, _STREAM_PLACEMENT + 2 * attempt + 1)
            )
            sx, sy = to_source.transform(cx, cy)
            sx, sy = np.asarray(sx, dtype=float), np.asarray(sy, dtype=float)
            ok = shapely.contains_xy(polygons[row[pending]], sx, sy)
            x[pending[ok]], y[pending[ok]] = sx[ok], sy[ok]
            pending, local = pending[~ok], local[~ok]
    return x, y


def _project(transformer: pyproj.Transformer, xy: _F64) -> _F64:
    px, py = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([px, py])


# --- assembly ----------------------------------------------------------------------------------


def _assemble(
    communes: gpd.GeoDataFrame,
    table: _Communes,
    selected: list[Profession],
    draws: _Draws,
    x: _F64,
    y: _F64,
    seed: int,
    reference_year: int,
) -> gpd.GeoDataFrame:
    rural = table.population[draws.commune] < _RURAL_LIMIT_INHABITANTS
    ages, female = _ages(selected, draws, rural)
    fte, consultations = _activity(selected, draws, ages)
    codes = pd.Series(table.codes[draws.commune], dtype=str)
    abbreviations = np.array([p.abbreviation for p in selected], dtype=str)[draws.profession]
    ranks = pd.Series(draws.rank + 1, dtype="int64").astype(str).str.zfill(4)
    ids = "SIM-" + codes + "-" + pd.Series(abbreviations, dtype=str) + "-" + ranks
    data: dict[str, Any] = {
        "id": ids.to_numpy(dtype=str),
        "profession": np.array([p.code for p in selected], dtype=str)[draws.profession],
        "profession_libelle": np.array([p.label for p in selected], dtype=str)[draws.profession],
        "commune": codes.to_numpy(dtype=str),
        "commune_nom": pd.Series(table.names[draws.commune], dtype="str"),
        "age": ages,
        "birth_year": reference_year - ages,
        "sex": np.where(female, "F", "M"),
        "fte": fte,
        "consultations_per_year": consultations,
        "synthetic": np.ones(len(ages), dtype=bool),
        "source": np.full(len(ages), SYNTHETIC_SOURCE, dtype=object),
    }
    frame = pd.DataFrame(data)
    for column in ("id", "profession", "profession_libelle", "commune", "sex", "source"):
        frame[column] = frame[column].astype(str)
    result = gpd.GeoDataFrame(frame, geometry=shapely.points(x, y), crs=communes.crs)
    result.attrs = {
        "synthetic": True,
        "label": SYNTHETIC_LABEL,
        "seed": int(seed),
        "reference_year": reference_year,
        "professions": [p.code for p in selected],
        "model": _MODEL_DESCRIPTION,
    }
    return result
