r"""What-if scenarios on a prepared analysis: new or departing practitioners, population change.

Changes are applied to a :class:`geo.analysis.AccessProblem` incrementally (only the pairs of
the supply points and communes they touch are recomputed); the result compares every commune
before and after and counts the population moving between gap classes.

How each change propagates (ratio measures: 2SFCA, E2SFCA, kernel 2SFCA, APL; gravity)
------------------------------------------------------------------------------------------
With :math:`w_{ij}` the pair weights, :math:`D_j = \sum_i P_i w_{ij}`, :math:`R_j = S_j/D_j` and
:math:`A_i = u \sum_j R_j w_{ij}`:

* adding a supply point :math:`k` needs only its pairs (a k-d tree ball query around it, or the
  OD table's rows towards its commune): :math:`D_k`, :math:`R_k`, then :math:`A_i` for the
  communes :math:`i` in its reach;
* removing or resizing supply :math:`j` changes :math:`R_j` only (other :math:`D` are
  unchanged), hence :math:`A_i` for the communes in reach of :math:`j`;
* a population change at :math:`i` changes :math:`D_j` for the supply in reach of :math:`i`,
  hence :math:`A` for the communes in reach of those (two hops).

The affected :math:`D_j` and :math:`A_i` are recomputed from their own pairs (not patched with
differences), in the same order as a full computation: the incremental values equal a full
recomputation on the same arrays. Gravity uses :math:`S_j` in place of :math:`R_j`. The 3SFCA
(selection weights normalised over each commune's pairs) is recomputed in full; density and the
time to the nearest practitioner are updated commune by commune. An age-standardised demand is
normalised over the whole context, so a population change there recomputes every ratio.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, cast

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo import _fca
from geo.analysis import (
    ADDED_COLUMNS,
    FRANCE_BOXES,
    AccessProblem,
    AnalysisOptions,
    CrsGroup,
    RatioState,
    line_minutes,
    line_nearest,
    line_radius_m,
    metric_crs_of_lonlat,
    ratio_of,
)
from geo.errors import DataValidationError, warn_data
from geo.gaps import UNCLASSIFIED_LABEL, GapScheme, gap_scheme
from geo.traveltime import features_at

__all__ = [
    "DEFAULT_RETIREMENT_AGE",
    "NEW_PRACTITIONER_PREFIX",
    "AddPractitioners",
    "ChangePopulation",
    "RemovePractitioners",
    "Retire",
    "Scenario",
    "ScenarioResult",
    "add_practitioners",
    "apply_changes",
    "change_population",
    "default_capacity",
    "remove_practitioners",
    "retire",
    "scenario_practitioners",
]

#: Age at which a practitioner is assumed to leave by ``retire(horizon_year=...)``: 67, the age
#: of a full-rate pension whatever the career length in France. A parameter, not a fact about
#: GPs (many work longer, see ``cumul emploi-retraite``).
DEFAULT_RETIREMENT_AGE: Final[int] = 67
#: Prefix of the ids given to practitioners added by a scenario.
NEW_PRACTITIONER_PREFIX: Final[str] = "NOUVEAU"
_YEAR_RANGE: Final[tuple[int, int]] = (1900, 2200)
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------------------------
# change specifications
# --------------------------------------------------------------------------------------------
def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) <= 0:
        raise DataValidationError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _real(name: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise DataValidationError(f"{name} must be a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out) or out < 0 or (positive and out == 0):
        what = "> 0" if positive else "≥ 0"
        raise DataValidationError(f"{name} must be a finite number {what}, got {value!r}")
    return out


def _commune_code(value: object, what: str = "commune") -> str:
    """INSEE code of a commune named in a scenario, as the reference spells it.

    Text is stripped and upper-cased (« 2a004 » → « 2A004 »); an integer, or text of four
    digits, is the code that lost its leading zero in a spreadsheet: ``1004`` → « 01004 »,
    ``15014`` → « 15014 » (Corsican codes 2A/2B are text only). Anything else is refused.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | np.integer):
        raise DataValidationError(
            f"{what} : code INSEE attendu (texte comme '01004' ou entier comme 1004), "
            f"reçu {value!r}"
        )
    if isinstance(value, int | np.integer):
        number = int(value)
        if not 1_000 <= number <= 99_999:
            raise DataValidationError(
                f"{what} : l'entier {number} n'est pas un code INSEE de commune (un entier "
                "de 4 ou 5 chiffres, lu sur 5 chiffres : 1004 → '01004')"
            )
        return f"{number:05d}"
    code = value.strip().upper()
    if not code:
        raise DataValidationError(f"{what} : code INSEE vide")
    return code.zfill(5) if len(code) == 4 and code.isdigit() else code


@dataclass(frozen=True)
class AddPractitioners:
    """``n`` new practitioners at a commune's chef-lieu or at a point.

    Attributes
    ----------
    commune : str or None
        INSEE code of a commune of the territory or its surroundings (an integer is read as
        its 5-digit code: ``1004`` → « 01004 »).
    point : tuple of float or None
        Coordinates ``(x, y)`` in ``crs``.
    crs : str
        CRS of ``point`` (default lon/lat).
    n : int
        Number of practitioners (> 0).
    capacity : float or None
        Supply of each (FTE, consultations…, in the analysis's supply unit); default: the mean
        of the baseline practitioners of the same CRS zone with a positive supply (1 for
        headcount).
    """

    commune: str | None = None
    point: tuple[float, float] | None = None
    crs: str = "EPSG:4326"
    n: int = 1
    capacity: float | None = None

    def __post_init__(self) -> None:
        if (self.commune is None) == (self.point is None):
            raise DataValidationError(
                "give exactly one of commune=<INSEE code> or point=(x, y) for new practitioners"
            )
        if self.commune is not None:
            object.__setattr__(self, "commune", _commune_code(self.commune))
        if self.point is not None:
            xy = _point_xy(self.point)
            object.__setattr__(self, "point", xy)
        object.__setattr__(self, "n", _positive_int("n", self.n))
        if self.capacity is not None:
            object.__setattr__(self, "capacity", _real("capacity", self.capacity, positive=True))


def _point_xy(point: object) -> tuple[float, float]:
    if isinstance(point, shapely.Point):
        if point.is_empty:
            raise DataValidationError("point is empty")
        coords = (point.x, point.y)
    elif isinstance(point, Sequence) and not isinstance(point, str) and len(point) == 2:
        coords = (point[0], point[1])
    else:
        raise DataValidationError(f"point must be a shapely Point or (x, y), got {point!r}")
    out = tuple(_real_any("point coordinate", c) for c in coords)
    return out[0], out[1]


def _real_any(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise DataValidationError(f"{name} must be a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise DataValidationError(f"{name} must be finite, got {value!r}")
    return out


@dataclass(frozen=True)
class RemovePractitioners:
    """Practitioners who leave, by id (baseline ids or ids given to added practitioners)."""

    ids: tuple[str, ...]

    def __post_init__(self) -> None:
        ids: object = self.ids  # any iterable at runtime
        if isinstance(ids, str) or not isinstance(ids, Iterable):
            raise DataValidationError(f"ids must be a list of practitioner ids, got {ids!r}")
        values = tuple(str(i) for i in ids)
        if not values:
            raise DataValidationError("ids is empty: give at least one practitioner id to remove")
        dup = sorted({i for i in values if values.count(i) > 1})
        if dup:
            raise DataValidationError(f"practitioner ids given twice: {dup[:5]}")
        object.__setattr__(self, "ids", values)


@dataclass(frozen=True)
class Retire:
    """Practitioners who retire: aged ``age_at_least`` or more now, or by ``horizon_year``.

    With ``horizon_year``, a practitioner leaves when ``horizon_year − birth_year`` (or
    ``age + horizon_year − reference year``) reaches ``retirement_age``.
    """

    age_at_least: float | None = None
    horizon_year: int | None = None
    retirement_age: float = DEFAULT_RETIREMENT_AGE

    def __post_init__(self) -> None:
        if (self.age_at_least is None) == (self.horizon_year is None):
            raise DataValidationError(
                "give exactly one of age_at_least=<age> or horizon_year=<year> to retire"
            )
        if self.age_at_least is not None:
            object.__setattr__(
                self, "age_at_least", _real("age_at_least", self.age_at_least, positive=True)
            )
        if self.horizon_year is not None:
            year = self.horizon_year
            lo, hi = _YEAR_RANGE
            if isinstance(year, bool) or not isinstance(year, int | np.integer):
                raise DataValidationError(f"horizon_year must be an integer year, got {year!r}")
            if not lo <= int(year) <= hi:
                raise DataValidationError(
                    f"horizon_year {year!r} is not a plausible year (between {lo} and {hi})"
                )
            object.__setattr__(self, "horizon_year", int(year))
        object.__setattr__(
            self, "retirement_age", _real("retirement_age", self.retirement_age, positive=True)
        )


@dataclass(frozen=True)
class ChangePopulation:
    """New populations by commune code, or a factor applied to some communes.

    Attributes
    ----------
    changes : mapping of str to float or None
        Commune code → new population (≥ 0).
    factor : float or None
        Multiplier (≥ 0) applied to ``codes``, default every commune of the territory.
    codes : tuple of str or None
        Communes the factor applies to.

    Codes may be integers, read as 5-digit codes (``1004`` → « 01004 »), as for
    :class:`AddPractitioners`.
    """

    changes: Mapping[str, float] | None = None
    factor: float | None = None
    codes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if (self.changes is None) == (self.factor is None):
            raise DataValidationError(
                "give exactly one of a mapping {code: new population} or factor=<multiplier>"
            )
        if self.changes is not None:
            if not isinstance(self.changes, Mapping) or not self.changes:
                raise DataValidationError(
                    f"population changes must be a non-empty mapping code → population, "
                    f"got {self.changes!r}"
                )
            checked: dict[str, float] = {}
            for key, value in self.changes.items():
                code = _commune_code(key, f"population : commune {key!r}")
                if code in checked:
                    raise DataValidationError(
                        f"population : la commune {code} est donnée deux fois (clé {key!r})"
                    )
                checked[code] = _real(f"new population of commune {key!r}", value)
            object.__setattr__(self, "changes", checked)
            if self.codes is not None:
                raise DataValidationError("codes only goes with factor=")
        if self.factor is not None:
            object.__setattr__(self, "factor", _real("factor", self.factor))
        codes: object = self.codes  # any iterable at runtime
        if codes is not None:
            if isinstance(codes, str | int | np.integer):
                codes = (codes,)
            if isinstance(codes, Iterable):
                object.__setattr__(
                    self, "codes", tuple(_commune_code(c, "codes : commune") for c in codes)
                )
            else:
                raise DataValidationError(f"codes must be commune codes, got {codes!r}")


Change = AddPractitioners | RemovePractitioners | Retire | ChangePopulation


# --------------------------------------------------------------------------------------------
# resolution of the changes against a problem
# --------------------------------------------------------------------------------------------
@dataclass
class _NewSite:
    group: int
    commune: str | None
    row: int  # demand row of the commune, −1 outside every context commune
    xy: FloatArray
    ids: list[str]
    capacity_each: float
    feature: float = 0.0  # the straight-line travel model's feature at the site
    #: demand rows and minutes of the site's pairs, when computed to check its reach
    pairs: tuple[IntArray, FloatArray] | None = None


@dataclass
class _Batch:
    removed: dict[int, list[int]] = field(default_factory=dict)  # group → registry positions
    removed_ids: list[str] = field(default_factory=list)
    sites: list[_NewSite] = field(default_factory=list)
    population: dict[int, FloatArray] = field(default_factory=dict)  # group → new population
    #: group → new population of territory communes without a point (no demand row)
    unlocated: dict[int, dict[str, float]] = field(default_factory=dict)
    descriptions: list[str] = field(default_factory=list)
    added_rows: list[dict[str, Any]] = field(default_factory=list)


def _locate_code(problem: AccessProblem, code: str, *, unlocated: bool = False) -> tuple[int, int]:
    """CRS group and demand row of a commune of the analysis context.

    With ``unlocated``, a commune of the territory that has no point in the reference (hence
    no demand row) gives its group and row −1; otherwise it is refused with the reason.
    """
    for gi, group in enumerate(problem.groups):
        pos = group.demand_ids.get_indexer(pd.Index([code]))[0]
        if pos >= 0:
            return gi, int(pos)
    for gi, group in enumerate(problem.groups):
        hit = group.communes["code"].astype(str).to_numpy() == code
        if hit.any():
            if unlocated:
                return gi, -1
            name = _territory_name(group, code)
            raise DataValidationError(
                f"la commune {name} ({code}) n'a ni contour ni chef-lieu dans le référentiel "
                "(commune « non localisée ») : on ne peut pas y placer de praticien par son "
                "code ; donnez un point=(lon, lat), compté dans la commune dont le contour le "
                "contient"
            )
    n = sum(g.n for g in problem.groups)
    raise DataValidationError(
        f"commune {code!r} : ni dans le territoire ni dans ses environs (les {n} communes "
        "du contexte de l'analyse)"
    )


def _territory_name(group: CrsGroup, code: str) -> str:
    """Name of a territory commune of the group (the code when the layer has no name)."""
    if "nom" not in group.communes.columns:
        return code
    names = group.communes.loc[group.communes["code"].astype(str) == code, "nom"]
    return str(names.iloc[0]) if len(names) else code


def _unlocated_codes(group: CrsGroup) -> npt.NDArray[np.bool_]:
    """Territory communes of the group without a demand row (no point in the reference)."""
    codes = pd.Index(group.communes["code"].astype(str).to_numpy(dtype=object), dtype=object)
    missing: npt.NDArray[np.bool_] = group.demand_ids.get_indexer(codes) < 0
    return missing


def default_capacity(group: CrsGroup) -> float:
    """Supply of a new practitioner by default: the mean of the group's present practitioners.

    Only practitioners with a positive supply count; 1 when there are none (headcount).
    """
    base = group.prac_capacity[group.prac_active & (group.prac_capacity > 0)]
    return float(base.mean()) if base.size else 1.0


def _site_feature(problem: AccessProblem, gi: int, row: int, xy: FloatArray) -> float:
    """Travel-model feature of a new site: its commune's, else the one at the point."""
    group = problem.groups[gi]
    if row >= 0 and len(group.demand_f):
        return float(group.demand_f[row])
    point = gpd.GeoSeries([shapely.Point(xy[:2])], crs=group.crs)
    return float(features_at(point, problem.options.travel_model.feature)[0])


def _resolve_add(problem: AccessProblem, change: AddPractitioners, batch: _Batch) -> None:
    seq = len(problem.added["id"].str.split("-").str[1].unique()) if len(problem.added) else 0
    seq += len(batch.sites) + 1
    if change.commune is not None:
        gi, row = _locate_code(problem, change.commune)
        group = problem.groups[gi]
        xy = group.demand_xy[row].copy()
        code: str | None = change.commune
        where = f"à {_commune_name(group, row)} ({code})"
    else:
        assert change.point is not None  # checked by AddPractitioners
        gi, xy, row = _locate_point(problem, change.point, change.crs)
        group = problem.groups[gi]
        code = None if row < 0 else str(group.demand_ids[row])
        where = f"au point ({change.point[0]:g}, {change.point[1]:g}) [{change.crs}]"
    if group.od is not None:
        if code is None:
            raise DataValidationError(
                f"point {change.point!r} lies in no commune of the analysis: with OD-table "
                "travel a new practitioner must be in a commune of the table"
            )
        if not group.od.lookup.has(code):
            raise DataValidationError(
                f"commune {code!r} has no travel time in the origin–destination table: new "
                "practitioners must be at a commune present in the table"
            )
    if problem.options.supply_kind == "headcount" and change.capacity not in (None, 1.0):
        raise DataValidationError(
            f"capacity={change.capacity!r}: the analysis counts practitioners (supply "
            "'headcount'), each new practitioner counts 1; change n instead"
        )
    if change.capacity is None and problem.options.supply_kind != "headcount":
        present = group.prac_active & (group.prac_capacity > 0)
        if not present.any():
            raise DataValidationError(
                f"no practitioner with a positive {problem.options.supply_kind!r} to take a "
                "default capacity from: pass capacity= for the new practitioners"
            )
    capacity = change.capacity if change.capacity is not None else default_capacity(group)
    label = code if code is not None else "point"
    ids = [f"{NEW_PRACTITIONER_PREFIX}-{seq}-{label}-{k:02d}" for k in range(1, change.n + 1)]
    site = _NewSite(gi, code, row, xy, ids, capacity, _site_feature(problem, gi, row, xy))
    _check_reach(problem, site, where)
    batch.sites.append(site)
    for pid in ids:
        batch.added_rows.append(
            {
                "id": pid,
                "commune": code,
                "group": gi,
                "x": float(xy[0]),
                "y": float(xy[1]),
                "crs": group.crs,
                "headcount": 1,
                "capacity": capacity,
            }
        )
    plural = "s" if change.n > 1 else ""
    batch.descriptions.append(
        f"ajout de {change.n} praticien{plural} {where} (offre {_fr(capacity)} chacun)"
    )


def _check_reach(problem: AccessProblem, site: _NewSite, where: str) -> None:
    """Refuse a new site outside the territory that no commune of the territory reaches.

    Inside the territory a site always counts. Outside, at least one commune of the territory
    must reach it within the catchment, else it changes nothing the analysis shows (a point
    at Nice for Cantal). The pairs computed here are kept for the update.
    """
    group = problem.groups[site.group]
    if site.row >= 0 and group.in_territory[site.row]:
        return
    rows, minutes = _new_pairs(group, problem, site, site.commune)
    site.pairs = (rows, minutes)
    catchment = group.kernel.catchment
    if bool((group.in_territory[rows] & (minutes <= catchment)).any()):
        return
    plural = "s" if len(site.ids) > 1 else ""
    raise DataValidationError(
        f"praticien{plural} ajouté{plural} {where} hors de portée du territoire : aucune de ses "
        f"communes n'est à {_fr(catchment)} min ou moins (zone de patientèle de l'analyse) ; "
        f"placez-{'les' if plural else 'le'} dans le territoire ou à portée de l'une de ses "
        "communes"
    )


def _commune_name(group: CrsGroup, row: int) -> str:
    if "nom" in group.context.columns:
        return str(group.context["nom"].iloc[row])
    return str(group.demand_ids[row])


def _fr(x: float) -> str:
    return f"{x:.6g}".replace(".", ",")


def _locate_point(
    problem: AccessProblem, point: tuple[float, float], crs: str
) -> tuple[int, FloatArray, int]:
    """CRS group, metric coordinates and containing context commune (−1: none) of a point."""
    try:
        geo = gpd.GeoSeries([shapely.Point(point)], crs=crs)
        lonlat = shapely.get_coordinates(geo.to_crs(4326).to_numpy())
    except Exception as exc:  # pyproj raises several types for a bad CRS
        raise DataValidationError(f"cannot read point {point!r} in CRS {crs!r}: {exc}") from exc
    zone = str(metric_crs_of_lonlat(lonlat)[0])
    if not zone:
        raise DataValidationError(
            f"point {point!r} ({crs}) lies outside France (métropole and DROM: "
            f"{', '.join(FRANCE_BOXES)}), at lon {lonlat[0, 0]:.5f}, lat {lonlat[0, 1]:.5f}"
        )
    found = _point_in_groups(problem, geo, zone)
    if found is not None:
        return found
    zones = ", ".join(sorted({g.crs for g in problem.groups}))
    raise DataValidationError(
        f"point {point!r} ({crs}) lies in the CRS zone {zone}, outside the territory's ({zones})"
    )


def _point_in_groups(
    problem: AccessProblem, geo: gpd.GeoSeries, zone: str
) -> tuple[int, FloatArray, int] | None:
    """Find a one-point series in the group of metric CRS ``zone``.

    Returns its CRS group, metric coordinates and containing context commune (−1: none); None
    when no group has that CRS. Used by scenarios and by the siting's candidate points.
    """
    for gi, group in enumerate(problem.groups):
        if group.crs == zone:
            xy = shapely.get_coordinates(geo.to_crs(group.crs).to_numpy())[0]
            inside = shapely.contains_xy(group.context.geometry.to_numpy(), xy[0], xy[1])
            hits = np.flatnonzero(np.asarray(inside, dtype=bool))
            row = int(hits[0]) if hits.size else -1
            if group.demand_xy.shape[1] > 2:
                # the land-mass coordinate of straight-line travel: that of the commune hit
                xy = np.append(xy, group.demand_xy[row, 2] if row >= 0 else 0.0)
            return gi, xy, row
    return None


def _resolve_remove(
    problem: AccessProblem, ids: Sequence[str], batch: _Batch, what: str | None = None
) -> None:
    gone = set(problem.removed_ids) | set(batch.removed_ids)
    added_now = {row["id"] for row in batch.added_rows}
    asked = pd.Index(list(ids), dtype=object)
    missing = ~(
        asked.isin(problem.practitioner_ids)
        | asked.isin(problem.added["id"].astype(str))
        | asked.isin(list(added_now))
    )
    unknown = asked[missing].tolist()
    if unknown:
        raise DataValidationError(
            f"unknown practitioner id(s) to remove: {unknown[:10]}"
            + (f" (and {len(unknown) - 10} more)" if len(unknown) > 10 else "")
        )
    again = [i for i in ids if i in gone]
    if again:
        raise DataValidationError(f"practitioner(s) already removed: {again[:10]}")
    pending = [i for i in ids if i in added_now]
    new_communes = {str(r["id"]): r["commune"] for r in batch.added_rows}  # before dropping
    for site in batch.sites:  # added and removed in the same scenario: never added
        site.ids = [i for i in site.ids if i not in pending]
    batch.sites = [s for s in batch.sites if s.ids]
    batch.added_rows = [r for r in batch.added_rows if r["id"] not in pending]
    for gi, group in enumerate(problem.groups):
        pos = group.prac_ids.get_indexer(pd.Index(list(ids), dtype=object))
        pos = pos[pos >= 0]
        if pos.size:
            batch.removed.setdefault(gi, []).extend(pos.tolist())
    batch.removed_ids.extend(i for i in ids if i not in pending)
    batch.descriptions.append(what or _removal_text(problem, ids, new_communes))


#: Plural of the profession labels of the engine (others read "<n> praticiens (<label>)").
_PLURALS: Final[Mapping[str, str]] = {
    "praticien": "praticiens",
    "nouveau praticien": "nouveaux praticiens",
    "médecin généraliste": "médecins généralistes",
    "médecin": "médecins",
    "infirmier": "infirmiers",
    "masseur-kinésithérapeute": "masseurs-kinésithérapeutes",
    "chirurgien-dentiste": "chirurgiens-dentistes",
    "sage-femme": "sages-femmes",
    "pharmacien": "pharmaciens",
}


def _lower_label(label: str) -> str:
    """« Médecin généraliste » → « médecin généraliste » (acronyms such as « IDE » kept)."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _removal_text(
    problem: AccessProblem, ids: Sequence[str], new_communes: Mapping[str, str | None]
) -> str:
    """French description of a removal naming practitioners by profession and commune only.

    Never an id: ids of uploaded files are personal data (RPPS numbers), and the description
    travels to titles, summaries, maps and exports. « départ de 1 médecin généraliste à
    Clermont-Ferrand (63113) »; several kinds: « départ de 5 praticiens : 3 infirmiers à …,
    2 médecins généralistes à … ».
    """
    asked = pd.Index(list(ids), dtype=object)
    n = len(asked)
    prac = problem.practitioners
    pos = problem.practitioner_ids.get_indexer(asked)
    found = pos >= 0
    take = np.maximum(pos, 0)

    def column(name: str) -> pd.Series:
        if name not in prac.columns or not len(prac):
            return pd.Series([None] * n, index=asked, dtype=object)
        values = prac[name].astype(object).to_numpy()[take]
        return pd.Series(np.where(found, values, None), index=asked, dtype=object)

    label = column("profession_libelle")
    code_label = column("profession").map(
        lambda c: None if c is None or pd.isna(c) else str(c).replace("_", " ")
    )
    label = label.where(label.notna() & (label.astype(str) != ""), code_label)
    code = column("commune")
    name = column("commune_nom")
    # added by this scenario or an earlier one: their commune is in ``added``
    earlier = problem.added[["id", "commune"]].astype(object)
    added = pd.Series(earlier["commune"].to_numpy(), index=earlier["id"].astype(str), dtype=object)
    added = pd.concat([added, pd.Series(dict(new_communes), dtype=object)])
    added = added[~added.index.duplicated(keep="last")]
    is_new = ~found & asked.isin(added.index)
    if is_new.any():
        label[is_new] = "nouveau praticien"
        code[is_new] = added.reindex(asked[is_new]).to_numpy()
    label = label.fillna("praticien")
    # a practitioner without a commune in the file (coordinates): the commune hosting them
    for group in problem.groups:
        missing = code.isna().to_numpy()
        if not missing.any():
            break
        at = group.prac_ids.get_indexer(asked[missing])
        col = np.where(at >= 0, group.prac_supply[np.maximum(at, 0)], -1)
        row = np.where(col >= 0, group.supply_commune[np.maximum(col, 0)], -1)
        hit = row >= 0
        rows = row[hit]
        idx = np.flatnonzero(missing)[hit]
        code.iloc[idx] = np.asarray(group.demand_ids, dtype=object)[rows]
        name.iloc[idx] = [_commune_name(group, int(r)) for r in rows]
    # names of codes known without one (added practitioners)
    for group in problem.groups:
        unnamed = (code.notna() & name.isna()).to_numpy()
        if not unnamed.any():
            break
        rows = group.demand_ids.get_indexer(pd.Index(code[unnamed].astype(str)))
        hit = rows >= 0
        idx = np.flatnonzero(unnamed)[hit]
        name.iloc[idx] = [_commune_name(group, int(r)) for r in rows[hit]]
    # built on the known codes only: pandas' str dtype keeps NaN through astype(str)
    where = np.full(n, "hors des communes de l'analyse", dtype=object)
    known = code.notna().to_numpy()
    names = name.fillna(code)[known].to_numpy(dtype=object)
    where[known] = [f"à {w} ({c})" for w, c in zip(names, code[known].to_numpy(), strict=True)]
    table = pd.DataFrame(
        {"label": label.map(lambda v: _lower_label(str(v))).to_numpy(), "where": where}
    )
    counts = table.value_counts(sort=False).reset_index(name="n")
    counts = counts.sort_values(["n", "where", "label"], ascending=[False, True, True])
    parts = [_count_text(int(k), str(lab), str(w)) for lab, w, k in counts.itertuples(index=False)]
    if len(parts) == 1:
        return f"départ de {parts[0]}"
    shown = ", ".join(parts[:3]) + (" …" if len(parts) > 3 else "")
    return f"départ de {n} praticiens : {shown}"


def _count_text(k: int, label: str, where: str) -> str:
    """« 1 médecin généraliste à X (code) », « 2 infirmiers à … », « 2 praticiens (IDE) à … »."""
    if k == 1:
        return f"1 {label} {where}"
    plural = _PLURALS.get(label)
    return f"{k} {plural} {where}" if plural else f"{k} praticiens ({label}) {where}"


def _ages_at(problem: AccessProblem, horizon_year: int | None) -> tuple[FloatArray, str]:
    """Age of each baseline practitioner now (or at ``horizon_year``) and how it was found."""
    prac = problem.practitioners
    has_age, has_birth = "age" in prac.columns, "birth_year" in prac.columns
    age = pd.to_numeric(prac["age"], errors="coerce") if has_age else None
    birth = pd.to_numeric(prac["birth_year"], errors="coerce") if has_birth else None
    data_year: float | None = None
    if age is not None and birth is not None:
        years = (age + birth).dropna()
        data_year = float(years.mode().iloc[0]) if len(years) else None
    elif problem.reference_year is not None:
        data_year = float(problem.reference_year)
    if horizon_year is None:
        if age is not None:
            return age.to_numpy(dtype=np.float64), "âge"
        if birth is not None and data_year is not None:
            return (data_year - birth).to_numpy(dtype=np.float64), "année de naissance"
        raise DataValidationError(
            "retire(age_at_least=...) needs an 'age' column (or 'birth_year' and the "
            "reference_year of the analysis) in the practitioners"
        )
    if data_year is not None and horizon_year < data_year:
        raise DataValidationError(
            f"horizon_year {horizon_year} is before the year of the data ({data_year:g})"
        )
    if data_year is not None and horizon_year > data_year + 60:
        raise DataValidationError(
            f"horizon_year {horizon_year} is more than 60 years after the data ({data_year:g})"
        )
    if birth is not None:
        return (horizon_year - birth).to_numpy(dtype=np.float64), "année de naissance"
    if age is not None and data_year is not None:
        return (age + (horizon_year - data_year)).to_numpy(dtype=np.float64), "âge"
    raise DataValidationError(
        "retire(horizon_year=...) needs a 'birth_year' column, or 'age' with the "
        "reference_year of the analysis"
    )


def _resolve_retire(problem: AccessProblem, change: Retire, batch: _Batch) -> None:
    ages, source = _ages_at(problem, change.horizon_year)
    if np.isnan(ages).any():
        # named by profession and commune, never by id (personal data: RPPS numbers)
        missing = np.flatnonzero(np.isnan(ages))
        first = _removal_text(problem, [str(problem.practitioner_ids[missing[0]])], {})
        raise DataValidationError(
            f"âge manquant ou non numérique pour {len(missing)} praticien(s) (le premier : "
            f"{first.removeprefix('départ de ')}) : « retire » demande l'âge de chacun"
        )
    limit = change.age_at_least if change.age_at_least is not None else change.retirement_age
    leaving = problem.practitioner_ids[ages >= limit]
    gone = set(problem.removed_ids) | set(batch.removed_ids)
    ids = [i for i in leaving if i not in gone]
    # counted where they work: the input may be national (10,656 leaving for Cantal's 88)
    inside, around, _ = _places_of(problem, pd.Index(ids, dtype=object))
    counts = f"{_count_fr(inside)} du territoire, {_count_fr(around)} des environs à portée"
    if change.age_at_least is not None:
        what = f"départ des praticiens de {_fr(limit)} ans ou plus : {counts} (selon l'{source})"
    else:
        what = (
            f"départs à la retraite d'ici {change.horizon_year} à {_fr(limit)} ans : "
            f"{counts} (selon l'{source})"
        )
    if ids:
        _resolve_remove(problem, ids, batch, what)
    else:
        batch.descriptions.append(what)


def _current_population(problem: AccessProblem, batch: _Batch, gi: int, code: str) -> float:
    """Return the population of an unlocated territory commune, after the batch's changes."""
    pending = batch.unlocated.get(gi, {})
    if code in pending:
        return pending[code]
    communes = problem.groups[gi].communes
    values = communes.loc[communes["code"].astype(str) == code, "population"]
    return float(pd.to_numeric(values).iloc[0])


def _set_population(
    problem: AccessProblem, batch: _Batch, code: str, new: float | None, factor: float = 1.0
) -> bool:
    """Set (``new``) or multiply a commune's population in the batch; True when unlocated.

    A territory commune without a point in the reference has no demand row: its population
    changes in the results but weighs in no catchment.
    """
    gi, row = _locate_code(problem, code, unlocated=True)
    if row < 0:
        value = _current_population(problem, batch, gi, code) if new is None else new
        batch.unlocated.setdefault(gi, {})[code] = value * factor if new is None else value
        return True
    pop = batch.population.setdefault(gi, problem.groups[gi].population.copy())
    pop[row] = pop[row] * factor if new is None else new
    return False


def _warn_unlocated(problem: AccessProblem, codes: Sequence[str]) -> None:
    if not codes:
        return
    named = []
    for code in codes:
        gi, _ = _locate_code(problem, code, unlocated=True)
        named.append(f"{_territory_name(problem.groups[gi], code)} ({code})")
    warn_data(
        f"population modifiée de {len(named)} commune(s) sans contour ni chef-lieu dans le "
        f"référentiel ({', '.join(named[:5])}) : la nouvelle population figure dans les "
        "résultats mais ne compte dans aucune zone de patientèle (valeurs inchangées)"
    )


def _count_fr(n: int) -> str:
    """« 0 praticien », « 1 praticien », « 1 234 praticiens » (French thousands separator)."""
    return f"{n:,}".replace(",", "\u202f") + (" praticiens" if n > 1 else " praticien")


def _places_of(problem: AccessProblem, ids: pd.Index) -> tuple[int, int, int]:
    """How many of these practitioners work in the territory, around it, or farther.

    *Territory*: their point lies in a commune of the territory. *Around* (« environs à
    portée »): outside it, but a commune of the territory reaches them within the catchment,
    so their departure changes its values. *Farther*: the rest of the input (beyond every
    territory commune's catchment, or in another CRS zone); they can only lengthen the time
    to the nearest practitioner. Counted on ``problem``, where they must still be present.
    """
    inside = around = found = 0
    for group in problem.groups:
        pos = group.prac_ids.get_indexer(ids)
        pos = pos[pos >= 0]
        found += int(pos.size)
        if not pos.size:
            continue
        col = group.prac_supply[pos]
        col = col[col >= 0]
        row = group.supply_commune[col]
        in_territory = (row >= 0) & group.in_territory[np.maximum(row, 0)]
        reached = np.zeros(group.m, dtype=bool)
        pairs = group.in_reach & group.in_territory[group.rows]
        reached[group.cols[pairs]] = True
        inside += int(in_territory.sum())
        around += int((~in_territory & reached[col]).sum())
    return inside, around, len(ids) - inside - around


def _removed_places(baseline: AccessProblem, problem: AccessProblem) -> tuple[int, int, int]:
    """:func:`_places_of` the practitioners removed since ``baseline``.

    Baseline practitioners are placed on the baseline (where they are still present); those
    added along the chain and removed again by the commune they were added at (every added
    site lies in the territory or within its reach).
    """
    removed = sorted(problem.removed_ids - baseline.removed_ids)
    if not removed:
        return 0, 0, 0
    asked = pd.Index(removed, dtype=object)
    known = np.zeros(len(asked), dtype=bool)
    for group in baseline.groups:
        known |= group.prac_ids.get_indexer(asked) >= 0
    inside, around, farther = _places_of(baseline, asked[known])
    added = problem.added.set_index(problem.added["id"].astype(str))
    new = added.reindex(asked[~known])
    territory = {str(c) for g in problem.groups for c in g.communes["code"]}
    in_territory = new["commune"].astype(object).isin(territory).to_numpy(dtype=bool)
    present = new["id"].notna().to_numpy(dtype=bool)
    inside += int((present & in_territory).sum())
    around += int((present & ~in_territory).sum())
    farther += int((~present).sum())
    return inside, around, farther


def _resolve_population(problem: AccessProblem, change: ChangePopulation, batch: _Batch) -> None:
    if change.changes is not None:
        unlocated = [c for c, v in change.changes.items() if _set_population(problem, batch, c, v)]
        _warn_unlocated(problem, unlocated)
        shown = ", ".join(f"{c} → {_fr(v)}" for c, v in list(change.changes.items())[:3])
        batch.descriptions.append(
            f"population modifiée : {shown}" + (" …" if len(change.changes) > 3 else "")
        )
        return
    assert change.factor is not None  # checked by ChangePopulation
    if change.codes is None:
        for gi, group in enumerate(problem.groups):
            pop = batch.population.setdefault(gi, group.population.copy())
            pop[group.in_territory] = pop[group.in_territory] * change.factor
            codes = group.communes["code"].astype(str).to_numpy()[_unlocated_codes(group)]
            for code in codes.tolist():  # a handful (4 communes in France)
                _set_population(problem, batch, str(code), None, change.factor)
        scope = "des communes du territoire"
    else:
        unlocated = [
            c for c in change.codes if _set_population(problem, batch, c, None, change.factor)
        ]
        _warn_unlocated(problem, unlocated)
        scope = f"de {len(change.codes)} commune(s)"
    batch.descriptions.append(f"population {scope} multipliée par {_fr(change.factor)}")


def _resolve(problem: AccessProblem, changes: Sequence[Change]) -> _Batch:
    batch = _Batch()
    for change in changes:
        if isinstance(change, AddPractitioners):
            _resolve_add(problem, change, batch)
        elif isinstance(change, RemovePractitioners):
            _resolve_remove(problem, change.ids, batch)
        elif isinstance(change, Retire):
            _resolve_retire(problem, change, batch)
        else:
            _resolve_population(problem, change, batch)
    return batch


# --------------------------------------------------------------------------------------------
# incremental update of one group
# --------------------------------------------------------------------------------------------
@dataclass
class _Stats:
    incremental: bool = True
    reasons: list[str] = field(default_factory=list)
    pairs_read: int = 0
    pairs_total: int = 0
    communes_updated: int = 0
    supply_updated: int = 0


def _new_pairs(
    group: CrsGroup, problem: AccessProblem, site: _NewSite | None, code: str | None
) -> tuple[IntArray, FloatArray]:
    """Demand rows and minutes of the pairs of a new (or revived) supply point."""
    opts = problem.options
    if group.od is not None:
        if code is None:  # pragma: no cover - _resolve_add checks it
            raise DataValidationError("a supply point without a commune under OD-table travel")
        rows, minutes = group.od.lookup.pairs_to(code)
        return rows.astype(np.int64), minutes
    assert site is not None and group.supply_xy is not None
    if opts.travel == "road":
        return _road_pairs(group, opts, site)
    radius_m = line_radius_m(opts.catchment, opts)
    rows = np.asarray(
        cKDTree(group.demand_xy).query_ball_point(site.xy, r=radius_m), dtype=np.int64
    )
    rows.sort()
    dist_m = np.sqrt(((group.demand_xy[rows] - site.xy) ** 2).sum(axis=1))
    return rows, line_minutes(dist_m, group.demand_f[rows], site.feature, opts)


def _road_pairs(
    group: CrsGroup, opts: AnalysisOptions, site: _NewSite
) -> tuple[IntArray, FloatArray]:
    """Road times from the demand points to one new site (the network is cached in memory)."""
    from geo.road import road_costs

    if opts.osm_path is None:  # pragma: no cover - prepare() checks it
        raise DataValidationError("travel='road' needs osm_path")
    demand = gpd.GeoSeries(shapely.points(group.demand_xy), index=group.demand_ids, crs=group.crs)
    new = gpd.GeoSeries([shapely.Point(site.xy)], index=["new-site"], crs=group.crs)
    costs = road_costs(
        Path(opts.osm_path),
        demand,
        new,
        max_minutes=opts.pair_max_minutes,
        crs=group.crs,
        cache_dir=None if opts.road_cache_dir is None else Path(opts.road_cache_dir),
    )
    order = np.argsort(costs.rows, kind="stable")
    return costs.rows[order].astype(np.int64), costs.minutes[order]


def _apply_group(
    problem: AccessProblem,
    gi: int,
    removed: Sequence[int],
    sites: Sequence[_NewSite],
    population: FloatArray | None,
    stats: _Stats,
) -> CrsGroup:
    """Derive the group with the changes applied, reading only the affected pairs."""
    g = problem.groups[gi]
    opts, kernel = problem.options, g.kernel
    n, m_old = g.n, g.m
    od = g.od is not None

    # ---- practitioner registry: removals and new practitioners ----------------------------
    prac_active = g.prac_active.copy()
    removed_pos = np.asarray(removed, dtype=np.int64)
    prac_active[removed_pos] = False
    new_ids: list[str] = []
    new_supply: list[int] = []
    new_capacity: list[float] = []
    new_xy: list[FloatArray] = []
    new_f: list[float] = []
    supply_ids = list(g.supply_ids) if sites else None
    supply_commune = g.supply_commune
    supply_xy = g.supply_xy
    extra_commune: list[int] = []
    extra_xy: list[FloatArray] = []
    extra_f: list[float] = []
    next_col = m_old
    site_of_col: dict[int, _NewSite] = {}
    new_commune_col: dict[str, int] = {}
    for site in sites:
        for pid in site.ids:
            code = site.commune
            col = -1
            if od and code is not None:
                # OD tables aggregate practitioners by commune: one supply point per commune
                col = new_commune_col.get(code, int(g.supply_ids.get_indexer(pd.Index([code]))[0]))
            if col < 0:
                # straight lines: one supply point per practitioner, as analyse() builds them
                # (the 3SFCA normalises its selection weights per supply point)
                col = next_col
                next_col += 1
                assert supply_ids is not None
                supply_ids.append(code if od and code is not None else pid)
                extra_commune.append(site.row)
                extra_xy.append(site.xy)
                extra_f.append(site.feature)
                site_of_col[col] = site
                if od and code is not None:
                    new_commune_col[code] = col
            new_ids.append(pid)
            new_supply.append(col)
            new_capacity.append(site.capacity_each)
            new_xy.append(site.xy)
            new_f.append(site.feature)
    m = next_col
    prac_ids = g.prac_ids
    prac_supply, prac_capacity, prac_pool = g.prac_supply, g.prac_capacity, g.prac_pool
    pool_xy, pool_active, pool_f, supply_f = g.pool_xy, g.pool_active.copy(), g.pool_f, g.supply_f
    if new_ids:
        k = len(new_ids)
        # a plain object concatenation: Index.append re-infers the dtype (20× slower)
        prac_ids = pd.Index(
            np.concatenate((prac_ids.to_numpy(dtype=object), np.asarray(new_ids, dtype=object))),
            dtype=object,
            copy=False,
        )
        prac_supply = np.concatenate((prac_supply, np.asarray(new_supply, dtype=np.int64)))
        prac_capacity = np.concatenate((prac_capacity, np.asarray(new_capacity)))
        prac_active = np.concatenate((prac_active, np.ones(k, dtype=bool)))
        if not od:
            prac_pool = np.concatenate((prac_pool, len(pool_xy) + np.arange(k, dtype=np.int64)))
            pool_xy = np.concatenate((pool_xy, np.asarray(new_xy).reshape(-1, pool_xy.shape[1])))
            pool_active = np.concatenate((pool_active, np.ones(k, dtype=bool)))
            pool_f = np.concatenate((pool_f, np.asarray(new_f, dtype=np.float64)))
        else:
            prac_pool = np.concatenate((prac_pool, np.full(k, -1, dtype=np.int64)))
    if extra_commune:
        supply_commune = np.concatenate((supply_commune, np.asarray(extra_commune, np.int64)))
        if supply_xy is not None:
            supply_xy = np.concatenate(
                (supply_xy, np.asarray(extra_xy).reshape(-1, supply_xy.shape[1]))
            )
            supply_f = np.concatenate((supply_f, np.asarray(extra_f, dtype=np.float64)))
    gone_pool = prac_pool[removed_pos]
    pool_active[gone_pool[gone_pool >= 0]] = False

    # ---- supply: capacity and headcount from the present practitioners (same sums as a full
    # preparation, in the same order) ------------------------------------------------------
    placed = prac_active & (prac_supply >= 0)
    capacity = np.bincount(prac_supply[placed], weights=prac_capacity[placed], minlength=m).astype(
        np.float64
    )
    headcount = np.bincount(prac_supply[placed], minlength=m).astype(np.float64)
    old_head = np.zeros(m)
    old_head[:m_old] = g.headcount
    old_cap = np.zeros(m)
    old_cap[:m_old] = g.capacity
    dead = (headcount == 0) & (old_head > 0)
    revived = np.flatnonzero((headcount > 0) & (old_head == 0))
    changed_supply = np.flatnonzero((capacity != old_cap) | (headcount != old_head))

    # ---- pairs: drop those of vanished supply, append those of new supply ----------------
    pairs_of_site: dict[int, tuple[IntArray, FloatArray]] = {}
    add_rows, add_cols, add_minutes = [], [], []
    for col in revived.tolist():
        code = None
        if od:
            code = str(supply_ids[col]) if supply_ids is not None else str(g.supply_ids[col])
        owner = site_of_col.get(col)
        key = id(owner) if owner is not None and not od else -1 - col
        if key not in pairs_of_site:  # practitioners of one site share their pairs
            known = None if owner is None or od else owner.pairs  # computed by _check_reach
            pairs_of_site[key] = known if known is not None else _new_pairs(g, problem, owner, code)
        rows_k, minutes_k = pairs_of_site[key]
        add_rows.append(rows_k)
        add_cols.append(np.full(len(rows_k), col, dtype=np.int64))
        add_minutes.append(minutes_k)
    new_rows = np.concatenate(add_rows) if add_rows else np.empty(0, np.int64)
    new_cols = np.concatenate(add_cols) if add_cols else np.empty(0, np.int64)
    new_minutes = np.concatenate(add_minutes) if add_minutes else np.empty(0)
    dead_m_old = dead[:m_old]
    keep = ~dead_m_old[g.cols] if dead_m_old.any() else None

    def kept(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return a if keep is None else a[keep]

    rows = np.concatenate((kept(g.rows), new_rows)) if new_rows.size else kept(g.rows)
    cols = np.concatenate((kept(g.cols), new_cols)) if new_cols.size else kept(g.cols)
    minutes = (
        np.concatenate((kept(g.minutes), new_minutes)) if new_minutes.size else kept(g.minutes)
    )
    new_reach = new_minutes <= kernel.catchment

    # ---- demand -------------------------------------------------------------------------
    pop = g.population if population is None else population
    demand = g.demand
    changed_rows = np.empty(0, dtype=np.int64)
    if population is not None:
        demand = population if g.age is None else g.age.demand(population)
        changed_rows = np.flatnonzero(demand != g.demand)
        if g.age is not None and changed_rows.size:
            stats.incremental = False
            stats.reasons.append(
                "demande standardisée par âge : normalisée sur tout le contexte, tous les "
                "ratios sont recalculés"
            )

    # ---- which supply and which communes are touched ----------------------------------------
    index = g.index
    if changed_rows.size:
        pos = index.pairs_of_rows(changed_rows)
        pos = pos[g.in_reach[pos] & ~dead[g.cols[pos]]]
        demand_supply = np.unique(g.cols[pos])
        stats.pairs_read += int(pos.size)
    else:
        demand_supply = np.empty(0, dtype=np.int64)
    coef_changed = np.union1d(np.union1d(demand_supply, changed_supply), revived)
    old_part = coef_changed[coef_changed < m_old]
    pos_all = index.pairs_of_cols(old_part)
    pos_cols = pos_all[g.in_reach[pos_all]]
    stats.pairs_read += int(pos_all.size)
    touched_rows = np.unique(
        np.concatenate((g.rows[pos_cols], new_rows[new_reach], changed_rows))
    ).astype(np.int64)
    # the nearest time also reads pairs beyond the catchment (OD tables keep them)
    touched_any = np.unique(np.concatenate((g.rows[pos_all], new_rows))).astype(np.int64)

    # ---- ratio and gravity: D, R and A of the touched supply and communes ------------------
    value = g.value.copy()
    state: RatioState | None = None
    if kernel.kind in ("ratio", "gravity"):
        st = g.state
        w_new = kernel.pair_weights(new_minutes)
        weights = np.concatenate((kept(st.weights), w_new)) if w_new.size else kept(st.weights)
        weighted = np.zeros(m)
        weighted[:m_old] = st.weighted_demand
        coef = np.zeros(m)
        coef[:m_old] = st.coefficient
        if kernel.kind == "ratio":
            # D_j for supply whose demand changed (pairs unchanged) and for new supply
            d_pos = index.pairs_of_cols(demand_supply)
            if d_pos.size:
                sums = np.bincount(
                    g.cols[d_pos], weights=demand[g.rows[d_pos]] * st.weights[d_pos], minlength=m
                )
                weighted[demand_supply] = sums[demand_supply]
            if revived.size:
                sums = np.bincount(new_cols, weights=demand[new_rows] * w_new, minlength=m)
                weighted[revived] = sums[revived]
            weighted[dead] = 0.0
            coef[coef_changed] = ratio_of(capacity[coef_changed], weighted[coef_changed])
        else:
            coef[coef_changed] = capacity[coef_changed]
        state = RatioState(weights, weighted, coef)
        raw, count, read = _rows_sum(
            g, touched_rows, coef, st.weights, dead, (new_rows, new_cols, w_new, new_reach)
        )
        stats.pairs_read += read
        fresh = raw[touched_rows] * kernel.factor
        fresh[count[touched_rows] == 0] = kernel.empty_value
        value[touched_rows] = fresh

    # ---- practitioners in reach and nearest time ----------------------------------------
    in_reach_count = g.in_reach_count.copy()
    heads, _, _ = _rows_sum(
        g, touched_rows, headcount, None, dead, (new_rows, new_cols, None, new_reach)
    )
    in_reach_count[touched_rows] = heads[touched_rows]
    nearest = g.nearest.copy()
    if od or opts.travel == "road":
        # from the pairs, as prepare() does for OD tables and road times
        _od_nearest(g, nearest, touched_any, capacity, dead, (new_rows, new_cols, new_minutes))
    else:
        # exact, and the same computation as a full preparation: the travel time depends on
        # both ends, so the nearest practitioner is not simply the nearest point
        nearest = line_nearest(
            g.demand_xy, g.demand_f, pool_xy[pool_active], pool_f[pool_active], opts
        )
    local_capacity = _local(supply_commune, capacity, n)
    local_headcount = _local(supply_commune, headcount, n)

    if kernel.kind == "three_step":
        stats.incremental = False
        stats.reasons.append(
            "3SFCA : poids de sélection normalisés sur toutes les paires de chaque commune, "
            "valeurs recalculées en entier"
        )
        value = (
            _fca.three_step_fca_core(
                demand,
                capacity,
                rows,
                cols,
                minutes,
                weights=kernel.weight,
                max_cost=opts.catchment,
            )
            * kernel.factor
        )
        stats.pairs_read += int(rows.size)
    elif kernel.kind == "density":
        value = np.full(n, np.nan)
        np.divide(local_capacity * kernel.factor, demand, out=value, where=demand > 0)
    elif kernel.kind == "nearest":
        value = nearest

    stats.pairs_total += int(rows.size)
    stats.communes_updated += int(touched_rows.size)
    stats.supply_updated += int(coef_changed.size)
    communes = g.communes
    if population is not None:
        communes = _with_population(g, pop)
    return replace(
        g,
        communes=communes,
        population=pop,
        demand=demand,
        supply_ids=g.supply_ids if supply_ids is None else pd.Index(supply_ids, dtype=object),
        capacity=capacity,
        headcount=headcount,
        supply_commune=supply_commune,
        supply_xy=supply_xy,
        supply_f=supply_f,
        rows=rows,
        cols=cols,
        minutes=minutes,
        prac_ids=prac_ids,
        prac_supply=prac_supply,
        prac_capacity=prac_capacity,
        prac_pool=prac_pool,
        prac_active=prac_active,
        pool_xy=pool_xy,
        pool_f=pool_f,
        pool_active=pool_active,
        value=value,
        nearest=nearest,
        in_reach_count=in_reach_count,
        local_capacity=local_capacity,
        local_headcount=local_headcount,
        context_practitioners=g.context_practitioners
        - int((g.prac_supply[removed_pos] >= 0).sum())
        + len(new_ids),
        state_given=state,
    )


def _rows_sum(
    g: CrsGroup,
    rows_wanted: IntArray,
    per_supply: FloatArray,
    weights: FloatArray | None,
    dead: npt.NDArray[np.bool_],
    new: tuple[IntArray, IntArray, FloatArray | None, npt.NDArray[np.bool_]],
) -> tuple[FloatArray, IntArray, int]:
    r""":math:`\sum_j c_j w_{ij}` over the in-reach pairs of the wanted rows, and their count.

    Old pairs are read through the row index (in their original order), then the new pairs
    ``(rows, cols, weights, in reach)``: the same order as a full ``bincount`` over the updated
    pair list, hence the same floating-point sums.
    """
    new_rows, new_cols, new_weights, new_reach = new
    n = g.n
    pos = g.index.pairs_of_rows(rows_wanted)
    pos = np.sort(pos[g.in_reach[pos] & ~dead[g.cols[pos]]])
    wanted = np.zeros(n, dtype=bool)
    wanted[rows_wanted] = True
    extra = new_reach & wanted[new_rows] if new_rows.size else np.zeros(0, dtype=bool)
    old_w = np.ones(pos.size) if weights is None else weights[pos]
    new_w = np.ones(int(extra.sum())) if new_weights is None else new_weights[extra]
    r = np.concatenate((g.rows[pos], new_rows[extra]))
    contrib = np.concatenate((per_supply[g.cols[pos]] * old_w, per_supply[new_cols[extra]] * new_w))
    total = np.bincount(r, weights=contrib, minlength=n).astype(np.float64)
    count = np.bincount(r, minlength=n).astype(np.int64)
    return total, count, int(r.size)


def _od_nearest(
    g: CrsGroup,
    nearest: FloatArray,
    touched: IntArray,
    capacity: FloatArray,
    dead: npt.NDArray[np.bool_],
    new: tuple[IntArray, IntArray, FloatArray],
) -> None:
    """Minimum time to a positive supply, recomputed for the touched communes (from pairs)."""
    new_rows, new_cols, new_minutes = new
    if not touched.size:
        return
    pos = g.index.pairs_of_rows(touched)
    pos = pos[~dead[g.cols[pos]] & (capacity[g.cols[pos]] > 0)]
    wanted = np.zeros(g.n, dtype=bool)
    wanted[touched] = True
    extra = wanted[new_rows] & (capacity[new_cols] > 0) if new_rows.size else np.zeros(0, bool)
    out = np.full(g.n, np.inf)
    np.minimum.at(out, g.rows[pos], g.minutes[pos])
    np.minimum.at(out, new_rows[extra], new_minutes[extra])
    fresh = out[touched]
    fresh[np.isinf(fresh)] = np.nan
    nearest[touched] = fresh


def _local(supply_commune: IntArray, values: FloatArray, n: int) -> FloatArray:
    ok = supply_commune >= 0
    return np.bincount(supply_commune[ok], weights=values[ok], minlength=n).astype(np.float64)


def _with_population(
    g: CrsGroup, population: FloatArray | None, unlocated: Mapping[str, float] | None = None
) -> gpd.GeoDataFrame:
    """Territory communes of the group with their new populations.

    ``population`` by demand row; ``unlocated`` by code for communes without a demand row.
    """
    codes = g.communes["code"].astype(str)
    current = pd.to_numeric(g.communes["population"]).to_numpy(dtype=np.float64)
    new = current
    if population is not None:
        pos = g.demand_ids.get_indexer(pd.Index(codes))
        new = np.where(pos >= 0, population[np.maximum(pos, 0)], current)
    if unlocated:
        given = codes.map(dict(unlocated)).to_numpy(dtype=np.float64, na_value=np.nan)
        new = np.where(np.isnan(given), new, given)
    out = g.communes.copy()
    integral = bool(np.all(new == np.round(new)))
    out["population"] = new.astype(np.int64) if integral else new
    return out


def _apply(problem: AccessProblem, batch: _Batch) -> tuple[AccessProblem, _Stats]:
    stats = _Stats()
    groups = list(problem.groups)
    touched = set(batch.removed) | {s.group for s in batch.sites} | set(batch.population)
    for gi in sorted(touched):
        groups[gi] = _apply_group(
            problem,
            gi,
            batch.removed.get(gi, []),
            [s for s in batch.sites if s.group == gi],
            batch.population.get(gi),
            stats,
        )
    for gi, values in batch.unlocated.items():  # results only: no demand row, no pair
        groups[gi] = replace(groups[gi], communes=_with_population(groups[gi], None, values))
    for gi, group in enumerate(groups):
        if gi not in touched:
            stats.pairs_total += int(group.rows.size)
    added = problem.added
    if batch.added_rows:
        rows = pd.DataFrame(batch.added_rows, columns=list(ADDED_COLUMNS))
        added = rows if not len(added) else pd.concat([added, rows], ignore_index=True)
    return (
        replace(
            problem,
            groups=tuple(groups),
            history=problem.history + tuple(batch.descriptions),
            removed_ids=problem.removed_ids | frozenset(batch.removed_ids),
            added=added,
        ),
        stats,
    )


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ScenarioResult:
    """Before/after comparison of a scenario.

    Attributes
    ----------
    baseline : AccessProblem
        The problem before every change of the chain.
    problem : AccessProblem
        The problem after the changes (start a further scenario or a siting from it).
    scheme : GapScheme
        Gap classes used for the transitions.
    communes : GeoDataFrame
        One row per commune of the territory: code, nom, departement, epci, epci_nom,
        population_before, population_after, before, after, delta (measure values; no
        practitioner in reach counts as 0 in ``delta`` for accessibility measures),
        nearest_minutes_before, nearest_minutes_after, class_before, class_after,
        class_change ("classe supérieure", "classe inférieure", "même classe", "non classée"),
        status, geometry. ``attrs``: the baseline's metadata (synthetic label…), ``gaps`` and
        ``scenario``.
    classes : DataFrame
        One row per gap class (worst first): communes and population before and after,
        population_change, lifted_out (population that left the class for a better one) and
        pushed_in (population that came from a better class). Flows count the population
        after the scenario.
    transitions : DataFrame
        Population (after) by class before (rows) and after (columns).
    summary : dict
        Headline numbers: population-weighted means, population in the gap class before and
        after, lifted out of / pushed into it, communes improved / worsened, practitioners
        added, whether the update was incremental. Departures are counted where the
        practitioners work, not over the whole input (often national): ``leaving_territory``
        (in a commune of the territory), ``leaving_surroundings`` (outside it, within the
        catchment of one of its communes), ``practitioners_removed`` (their sum: those whose
        departure can change the territory's values) and ``leaving_elsewhere`` (the rest of
        the input, which can only lengthen the time to the nearest practitioner).
    before, after : GeoDataFrame
        Full analysis results before and after (as :func:`geo.analysis.analyse`).
    """

    baseline: AccessProblem
    problem: AccessProblem
    scheme: GapScheme
    communes: gpd.GeoDataFrame
    classes: pd.DataFrame
    transitions: pd.DataFrame
    summary: Mapping[str, Any]
    before: gpd.GeoDataFrame
    after: gpd.GeoDataFrame


_CHANGE_LABELS: Final[tuple[str, str, str, str]] = (
    "classe supérieure",
    "classe inférieure",
    "même classe",
    "non classée",
)


def _compare(
    baseline: AccessProblem,
    before: gpd.GeoDataFrame,
    problem: AccessProblem,
    scheme: GapScheme,
    stats: _Stats | None,
    seconds: float,
) -> ScenarioResult:
    after = problem.frame
    keep = [c for c in ("code", "nom", "departement", "epci", "epci_nom") if c in before.columns]
    pop_b = pd.to_numeric(before["population"]).to_numpy(dtype=np.float64)
    pop_a = pd.to_numeric(after["population"]).to_numpy(dtype=np.float64)
    v_b = before["value"].to_numpy(dtype=np.float64)
    v_a = after["value"].to_numpy(dtype=np.float64)
    if baseline.kernel.kind in ("ratio", "gravity", "three_step"):
        # no practitioner in reach is no access: 0 against a value, NaN only when both are
        delta = np.nan_to_num(v_a) - np.nan_to_num(v_b)
        delta[np.isnan(v_a) & np.isnan(v_b)] = np.nan
    else:
        delta = v_a - v_b
    lvl_b = scheme.result_levels(before)
    lvl_a = scheme.result_levels(after)
    names = np.asarray((*scheme.labels, UNCLASSIFIED_LABEL), dtype=object)
    classified = (lvl_b >= 0) & (lvl_a >= 0)
    change = np.where(lvl_a > lvl_b, 0, np.where(lvl_a < lvl_b, 1, 2))
    change[~classified] = 3
    columns = {
        "population_before": before["population"].to_numpy(),
        "population_after": after["population"].to_numpy(),
        "before": v_b,
        "after": v_a,
        "delta": delta,
        "nearest_minutes_before": before["nearest_minutes"].to_numpy(),
        "nearest_minutes_after": after["nearest_minutes"].to_numpy(),
        "class_before": names[lvl_b],
        "class_after": names[lvl_a],
        "class_change": np.asarray(_CHANGE_LABELS, dtype=object)[change],
        "status": after["status"].to_numpy(),
        "geometry": gpd.GeoSeries(before.geometry.to_numpy(), index=before.index),
    }
    frame = pd.concat(
        [pd.DataFrame(before[keep]), pd.DataFrame(columns, index=before.index)], axis=1
    )
    out = gpd.GeoDataFrame(frame, geometry="geometry", crs=before.crs)

    k = len(scheme.labels)
    slot_b = np.where(lvl_b >= 0, lvl_b, k)
    slot_a = np.where(lvl_a >= 0, lvl_a, k)
    matrix = np.zeros((k + 1, k + 1))
    np.add.at(matrix, (slot_b, slot_a), pop_a)
    up = classified & (lvl_a > lvl_b)
    down = classified & (lvl_a < lvl_b)
    classes = pd.DataFrame(
        {
            "gap_level": np.append(np.arange(k), -1),
            "gap_class": names,
            "communes_before": np.bincount(slot_b, minlength=k + 1),
            "communes_after": np.bincount(slot_a, minlength=k + 1),
            "population_before": np.bincount(slot_b, weights=pop_b, minlength=k + 1),
            "population_after": np.bincount(slot_a, weights=pop_a, minlength=k + 1),
        }
    )
    classes["population_change"] = classes["population_after"] - classes["population_before"]
    classes["lifted_out"] = np.bincount(slot_b[up], weights=pop_a[up], minlength=k + 1)
    classes["pushed_in"] = np.bincount(slot_a[down], weights=pop_a[down], minlength=k + 1)
    if classes["communes_before"].iat[-1] == 0 and classes["communes_after"].iat[-1] == 0:
        classes = classes.iloc[:-1]
        matrix = matrix[:k, :k]
        labels = list(scheme.labels)
    else:
        labels = list(names)
    transitions = pd.DataFrame(
        matrix,
        index=pd.Index(labels, name="class_before"),
        columns=pd.Index(labels, name="class_after"),
    )
    added = len(problem.added) - len(baseline.added)
    leaving_territory, leaving_surroundings, leaving_elsewhere = _removed_places(baseline, problem)
    summary = {
        "population_weighted_mean_before": before.attrs["summary"]["population_weighted_mean"],
        "population_weighted_mean_after": after.attrs["summary"]["population_weighted_mean"],
        "gap_class": scheme.gap_label,
        "population_in_gap_before": float(pop_b[lvl_b == 0].sum()),
        "population_in_gap_after": float(pop_a[lvl_a == 0].sum()),
        "population_lifted_out_of_gap": float(classes["lifted_out"].to_numpy(dtype=np.float64)[0]),
        "population_pushed_into_gap": float(classes["pushed_in"].to_numpy(dtype=np.float64)[0]),
        "communes_improved": int(up.sum()),
        "communes_worsened": int(down.sum()),
        "practitioners_added": int(added),
        "practitioners_removed": leaving_territory + leaving_surroundings,
        "leaving_territory": leaving_territory,
        "leaving_surroundings": leaving_surroundings,
        "leaving_elsewhere": leaving_elsewhere,
        "population_change": float(pop_a.sum() - pop_b.sum()),
    }
    meta: dict[str, Any] = {
        "changes": list(problem.history),
        "incremental": True if stats is None else stats.incremental,
        "method": "incrémental" if stats is None or stats.incremental else "recalcul complet",
        "not_incremental_because": [] if stats is None else stats.reasons,
        "pairs_read": 0 if stats is None else stats.pairs_read,
        "pairs_total": 0 if stats is None else stats.pairs_total,
        "communes_updated": 0 if stats is None else stats.communes_updated,
        "seconds": round(seconds, 4),
    }
    summary["incremental"] = meta["incremental"]
    out.attrs = {str(a): v for a, v in before.attrs.items() if a not in ("summary", "timings_s")}
    out.attrs |= {"gaps": scheme.to_dict(), "scenario": meta, "summary": summary}
    return ScenarioResult(
        baseline=baseline,
        problem=problem,
        scheme=scheme,
        communes=out,
        classes=classes.reset_index(drop=True),
        transitions=transitions,
        summary=summary,
        before=before.copy(),
        after=after.copy(),
    )


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """A combinable list of changes, applied together to a baseline.

    Each method returns a new scenario with one more change; :meth:`apply` runs them on a
    prepared problem (or on the end state of a previous scenario) in one incremental pass.

    Examples
    --------
    >>> from geo.reference import load_communes
    >>> from geo.demo import generate_practitioners
    >>> from geo.analysis import prepare
    >>> puy = load_communes(departements="63")
    >>> gps = generate_practitioners(puy, professions=["medecin_generaliste"])
    >>> problem = prepare(puy, gps, "apl", surroundings=None)
    >>> result = (Scenario().retire(horizon_year=2030).add_practitioners(commune="63113", n=2)
    ...           .apply(problem))
    >>> sorted(result.summary)[:2]
    ['communes_improved', 'communes_worsened']
    """

    changes: tuple[Change, ...] = ()

    def add_practitioners(
        self,
        *,
        commune: str | int | None = None,
        point: tuple[float, float] | shapely.Point | None = None,
        n: int = 1,
        capacity: float | None = None,
        crs: str = "EPSG:4326",
    ) -> Scenario:
        """Add ``n`` practitioners at a commune's chef-lieu or at a point (see AddPractitioners)."""
        xy = None if point is None else _point_xy(point)
        code = None if commune is None else _commune_code(commune)
        return Scenario((*self.changes, AddPractitioners(code, xy, crs, n, capacity)))

    def remove_practitioners(self, ids: Iterable[str | int] | str | int) -> Scenario:
        """Remove practitioners by id (integers are read as text: ``101`` is « 101 »)."""
        many = ids if isinstance(ids, Iterable) and not isinstance(ids, str) else [ids]
        return Scenario((*self.changes, RemovePractitioners(tuple(str(i) for i in many))))

    def retire(
        self,
        *,
        age_at_least: float | None = None,
        horizon_year: int | None = None,
        retirement_age: float = DEFAULT_RETIREMENT_AGE,
    ) -> Scenario:
        """Remove the practitioners old enough (see :class:`Retire`)."""
        return Scenario((*self.changes, Retire(age_at_least, horizon_year, retirement_age)))

    def change_population(
        self,
        changes: Mapping[str, float]
        | Mapping[int, float]
        | Mapping[str | int, float]
        | None = None,
        *,
        factor: float | None = None,
        codes: Iterable[str | int] | str | int | None = None,
    ) -> Scenario:
        """Set populations by commune code, or multiply some (default: the territory's).

        Codes may be integers, read as 5-digit codes (``1004`` → « 01004 »).
        """
        chosen: tuple[str, ...] | None = None
        if codes is not None:
            many = codes if isinstance(codes, Iterable) and not isinstance(codes, str) else [codes]
            chosen = tuple(_commune_code(c, "codes : commune") for c in many)
        given = cast("Mapping[str, float] | None", changes)  # codes normalised by the change
        return Scenario((*self.changes, ChangePopulation(given, factor, chosen)))

    def apply(
        self,
        baseline: AccessProblem | ScenarioResult,
        *,
        preset: str | None = None,
        breaks: Sequence[float] | None = None,
        labels: Sequence[str] | None = None,
    ) -> ScenarioResult:
        """Apply the changes and compare every commune with the baseline.

        Parameters
        ----------
        baseline : AccessProblem or ScenarioResult
            A prepared problem (:func:`geo.analysis.prepare`), or a previous scenario: its end
            state is changed further and the comparison stays with its baseline.
        preset, breaks, labels
            Gap classes of the comparison (see :func:`geo.gaps.gap_scheme`); default the
            previous scenario's, else the measure's preset.

        Returns
        -------
        ScenarioResult

        Raises
        ------
        DataValidationError
            Unknown commune code or practitioner id, point outside France or the territory's
            CRS zone, a commune missing from the OD table, ages or years unusable for
            retirements.
        """
        if not self.changes:
            raise DataValidationError("the scenario has no change")
        started = time.perf_counter()
        if isinstance(baseline, ScenarioResult):
            start, origin = baseline.problem, baseline.baseline
            before = origin.frame
            if preset is None and breaks is None and labels is None:
                scheme = baseline.scheme
            else:
                scheme = gap_scheme(before, preset, breaks, labels)
        elif isinstance(baseline, AccessProblem):
            start = origin = baseline
            before = baseline.frame
            scheme = gap_scheme(before, preset, breaks, labels)
        else:
            raise DataValidationError(
                "baseline must be an AccessProblem (geo.analysis.prepare) or a ScenarioResult, "
                f"got {type(baseline).__name__}"
            )
        batch = _resolve(start, self.changes)
        problem, stats = _apply(start, batch)
        return _compare(origin, before, problem, scheme, stats, time.perf_counter() - started)


def add_practitioners(
    baseline: AccessProblem | ScenarioResult,
    *,
    commune: str | int | None = None,
    point: tuple[float, float] | shapely.Point | None = None,
    n: int = 1,
    capacity: float | None = None,
    crs: str = "EPSG:4326",
    preset: str | None = None,
) -> ScenarioResult:
    """Scenario: ``n`` new practitioners at a commune's chef-lieu or at a point.

    Parameters
    ----------
    baseline : AccessProblem or ScenarioResult
        Prepared problem or previous scenario.
    commune : str or int, optional
        INSEE code of a commune of the territory or its surroundings (its chef-lieu); an
        integer is read as its 5-digit code (``1004`` → « 01004 »). Outside the territory, a
        commune or point must be within the catchment of one of its communes.
    point : (x, y) or shapely Point, optional
        Location in ``crs`` (default lon/lat); must lie in France, in the territory's CRS zone.
    n : int, default 1
        Number of practitioners (> 0).
    capacity : float, optional
        Supply of each new practitioner in the analysis's unit (FTE, consultations…); default
        the mean of the practitioners of the baseline (1 for headcount).
    crs : str
        CRS of ``point``.
    preset : str, optional
        Gap classes (default the measure's).

    Returns
    -------
    ScenarioResult
    """
    scenario = Scenario().add_practitioners(
        commune=commune, point=point, n=n, capacity=capacity, crs=crs
    )
    return scenario.apply(baseline, preset=preset)


def remove_practitioners(
    baseline: AccessProblem | ScenarioResult,
    ids: Iterable[str | int] | str | int,
    *,
    preset: str | None = None,
) -> ScenarioResult:
    """Scenario: the given practitioners leave (ids of the baseline or added ones)."""
    return Scenario().remove_practitioners(ids).apply(baseline, preset=preset)


def retire(
    baseline: AccessProblem | ScenarioResult,
    *,
    age_at_least: float | None = None,
    horizon_year: int | None = None,
    retirement_age: float = DEFAULT_RETIREMENT_AGE,
    preset: str | None = None,
) -> ScenarioResult:
    """Scenario: practitioners aged ``age_at_least`` or more, or by ``horizon_year``, leave.

    Parameters
    ----------
    baseline : AccessProblem or ScenarioResult
        Prepared problem or previous scenario.
    age_at_least : float, optional
        Current age from which practitioners leave.
    horizon_year : int, optional
        Year by which practitioners reaching ``retirement_age`` leave (ages from
        ``birth_year``, else from ``age`` and the year of the data).
    retirement_age : float, default DEFAULT_RETIREMENT_AGE
        Leaving age with ``horizon_year``.
    preset : str, optional
        Gap classes (default the measure's).

    Returns
    -------
    ScenarioResult
    """
    scenario = Scenario().retire(
        age_at_least=age_at_least, horizon_year=horizon_year, retirement_age=retirement_age
    )
    return scenario.apply(baseline, preset=preset)


def change_population(
    baseline: AccessProblem | ScenarioResult,
    changes: Mapping[str, float] | Mapping[int, float] | Mapping[str | int, float] | None = None,
    *,
    factor: float | None = None,
    codes: Iterable[str | int] | str | int | None = None,
    preset: str | None = None,
) -> ScenarioResult:
    """Scenario: new populations ``{code: population}``, or a factor on some communes.

    Without ``codes`` the factor applies to every commune of the territory (not to the
    surroundings), those without a point in the reference included. Codes may be integers
    (``1004`` → « 01004 »). A commune of the territory without a point (4 in Cantal) can be
    named: its population changes in the results, but it weighs in no catchment (warning). An
    age-standardised demand keeps each commune's age structure.
    """
    return (
        Scenario()
        .change_population(changes, factor=factor, codes=codes)
        .apply(baseline, preset=preset)
    )


def apply_changes(baseline: AccessProblem | ScenarioResult, scenario: Scenario) -> AccessProblem:
    """End state of a scenario, without the before/after comparison frames.

    What the siting search uses to try a site on measures it cannot update per site; the
    values are the same as in :meth:`Scenario.apply`'s ``problem``.
    """
    start = baseline.problem if isinstance(baseline, ScenarioResult) else baseline
    if not scenario.changes:
        raise DataValidationError("the scenario has no change")
    return _apply(start, _resolve(start, scenario.changes))[0]


def scenario_practitioners(problem: AccessProblem | ScenarioResult) -> gpd.GeoDataFrame:
    """Practitioners of a scenario's end state: baseline minus those removed, plus those added.

    Added practitioners get their id, commune, geometry (caller's CRS), the supply column of
    the analysis filled with their capacity and ``source = "scénario"``; feeding this frame to
    :func:`geo.analysis.analyse` recomputes the scenario from scratch.
    """
    if isinstance(problem, ScenarioResult):
        problem = problem.problem
    base = problem.practitioners
    kept = base[~problem.practitioner_ids.isin(list(problem.removed_ids))]
    added = problem.added[~problem.added["id"].isin(list(problem.removed_ids))]
    if not len(added):
        return kept.copy()
    parts = []
    for crs, rows in added.groupby("crs", sort=False):
        pts = gpd.GeoSeries(
            shapely.points(rows[["x", "y"]].to_numpy(dtype=np.float64)), crs=str(crs)
        ).to_crs(base.crs)
        frame = pd.DataFrame({"id": rows["id"].to_numpy(), "commune": rows["commune"].to_numpy()})
        column = {"headcount": None, "fte": "fte", "consultations": "consultations_per_year"}.get(
            problem.options.supply_kind, problem.options.supply_kind
        )
        if column is not None:
            frame[column] = rows["capacity"].to_numpy(dtype=np.float64)
        frame["source"] = "scénario"
        if "synthetic" in base.columns:
            frame["synthetic"] = problem.synthetic
        parts.append(gpd.GeoDataFrame(frame, geometry=pts.to_numpy(), crs=base.crs))
    out = pd.concat([kept, *parts], ignore_index=True)
    result = gpd.GeoDataFrame(out, geometry=base.geometry.name, crs=base.crs)
    result.attrs = dict(base.attrs)
    return result
