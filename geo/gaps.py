"""Coverage gaps: classes of an accessibility result (zonage-like) and their summaries.

Classes turn a measure into what planners act on (APL "zone sous-dense", 1 GP per 3,500
inhabitants, more than 30 minutes to the nearest practitioner); summaries count population and
communes per class for the territory, each EPCI or each département, and rank the worst communes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.errors import DataValidationError
from geo.reference import list_departements

__all__ = [
    "APL_BREAKS_CONSULTATIONS",
    "CONSULTATIONS_PER_FTE_PER_YEAR",
    "GAP_PRESETS",
    "HPSA_INHABITANTS_PER_PRACTITIONER",
    "TRAVEL_TIME_BREAKS_MINUTES",
    "UNCLASSIFIED_LABEL",
    "GapScheme",
    "GapSummary",
    "classify_gaps",
    "gap_scheme",
    "summarise_gaps",
]

#: APL class breaks in consultations per standardised inhabitant per year: below 2.5 the
#: commune is "sous-dense" (zonage, arrêté of 13/11/2017), from 4 on "bien dotée".
APL_BREAKS_CONSULTATIONS: Final[tuple[float, float]] = (2.5, 4.0)
#: US HPSA rule: a shortage when there are 3,500 inhabitants or more per FTE primary-care
#: physician.
HPSA_INHABITANTS_PER_PRACTITIONER: Final[float] = 3_500.0
#: Travel-time class breaks (minutes to the nearest practitioner).
TRAVEL_TIME_BREAKS_MINUTES: Final[tuple[float, float]] = (20.0, 30.0)
#: Yearly consultations and visits of a full-time GP, used to express the APL breaks for an APL
#: computed in FTE or headcount (a practitioner counted as one FTE) and the HPSA ratio for an APL
#: in consultations. Order of magnitude of the CNAM/DREES activity figures (and of geo.demo).
CONSULTATIONS_PER_FTE_PER_YEAR: Final[float] = 4_900.0
#: Class of the communes that cannot be classified (not located, or no inhabitant and no value).
UNCLASSIFIED_LABEL: Final[str] = "non classée"

Preset = Literal["apl", "ratio", "travel_time"]
#: Names of the presets and what they classify.
GAP_PRESETS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "apl": "APL zonage: < 2.5 sous-dense, 2.5–4 intermédiaire, ≥ 4 bien dotée (consultations)",
        "ratio": "HPSA ratio: 3,500 inhabitants or more per practitioner is a shortage",
        "travel_time": "minutes to the nearest practitioner: > 30, 20–30, ≤ 20",
    }
)

_RATIO_MEASURES: Final[frozenset[str]] = frozenset(
    {"2sfca", "e2sfca", "kernel_2sfca", "3sfca", "density"}
)
_PER_10K: Final[float] = 10_000.0
_APL_FACTOR: Final[Mapping[str, float]] = MappingProxyType(
    {"consultations": 1.0, "fte": 100_000.0, "headcount": 100_000.0}
)


def _fr(x: float) -> str:
    """Format a number the French way (decimal comma, no useless zeros)."""
    text = f"{x:.4g}" if abs(x) < 1e4 else f"{x:,.0f}".replace(",", "\u202f")
    return text.replace(".", ",")


@dataclass(frozen=True)
class GapScheme:
    """How a result column is cut into classes, from the worst to the best.

    Attributes
    ----------
    preset : str
        ``"apl"``, ``"ratio"``, ``"travel_time"`` or ``"custom"``.
    column : str
        Classified column of the result: ``"value"`` or ``"nearest_minutes"``.
    breaks : tuple of float
        Increasing class boundaries, in the column's unit.
    labels : tuple of str
        French class names, worst class first (``len(breaks) + 1`` of them).
    higher_is_better : bool
        Direction of the column.
    right : bool
        Intervals closed on the right, ``(b_k, b_k+1]`` (a value equal to a break belongs to the
        lower interval), else on the left, ``[b_k, b_k+1)``. APL: left ("APL < 2.5" is
        sous-dense, 2.5 is not); HPSA and travel time: right (exactly 3,500 inhabitants per
        practitioner is a shortage, exactly 30 min is not "more than 30 min").
    unit_fr : str
        Unit of the column, in French.
    title_fr : str
        Short French description of the scheme for legends and reports.
    """

    preset: str
    column: str
    breaks: tuple[float, ...]
    labels: tuple[str, ...]
    higher_is_better: bool
    right: bool
    unit_fr: str
    title_fr: str

    @property
    def gap_label(self) -> str:
        """Name of the gap class (the worst one)."""
        return self.labels[0]

    @property
    def gap_bound(self) -> float:
        """Break between the gap class and the next one."""
        return self.breaks[0] if self.higher_is_better else self.breaks[-1]

    @property
    def best_bound(self) -> float:
        """Break below (above for times) which a commune is not in the best class."""
        return self.breaks[-1] if self.higher_is_better else self.breaks[0]

    def levels(self, values: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Class level of each value: 0 for the worst class, ``len(breaks)`` for the best.

        NaN (no practitioner in reach, no practitioner at all) falls in the worst class.
        """
        v = np.asarray(values, dtype=np.float64)
        edges = np.asarray(self.breaks, dtype=np.float64)
        side: Literal["left", "right"] = "left" if self.right else "right"
        raw = np.searchsorted(edges, v, side=side).astype(np.int64)
        level = raw if self.higher_is_better else len(edges) - raw
        level[np.isnan(v)] = 0
        return level

    def in_gap(self, values: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each value falls in the gap class (NaN does)."""
        out: npt.NDArray[np.bool_] = self.levels(values) == 0
        return out

    def result_levels(self, result: pd.DataFrame) -> npt.NDArray[np.int64]:
        """Level of each commune of an analysis result, −1 for an unclassified commune.

        Unclassified: not located (status "non localisée"), or no value and no inhabitant.
        """
        values = result[self.column].to_numpy(dtype=np.float64)
        out: npt.NDArray[np.int64] = np.where(
            _classifiable(result, self.column), self.levels(values), -1
        ).astype(np.int64)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain description, for ``attrs`` and JSON."""
        return {
            "preset": self.preset,
            "column": self.column,
            "breaks": list(self.breaks),
            "labels": list(self.labels),
            "higher_is_better": self.higher_is_better,
            "right_closed": self.right,
            "unit_fr": self.unit_fr,
            "title_fr": self.title_fr,
            "gap_class": self.gap_label,
        }


def _interval_labels(
    breaks: Sequence[float], higher_is_better: bool, right: bool, unit: str
) -> tuple[str, ...]:
    """French labels of the intervals cut by ``breaks``, worst first."""
    b = [_fr(x) for x in breaks]
    suffix = f" {unit}" if unit else ""
    if right:
        ordered = [f"{b[0]}{suffix} ou moins"]
        ordered += [f"plus de {lo} à {hi}{suffix}" for lo, hi in itertools.pairwise(b)]
        ordered.append(f"plus de {b[-1]}{suffix}")
    else:
        ordered = [f"moins de {b[0]}{suffix}"]
        ordered += [f"de {lo} à moins de {hi}{suffix}" for lo, hi in itertools.pairwise(b)]
        ordered.append(f"{b[-1]}{suffix} ou plus")
    return tuple(ordered) if higher_is_better else tuple(reversed(ordered))


def _metadata(result: pd.DataFrame) -> dict[str, Any]:
    if not isinstance(result, pd.DataFrame) or "measure" not in result.attrs:
        raise DataValidationError(
            "result must be an analysis result (geo.analysis.analyse) with its attrs metadata "
            "(attrs['measure'] is missing)"
        )
    return {str(k): v for k, v in result.attrs.items()}


def _supply_to_value(attrs: Mapping[str, Any], preset: str) -> tuple[float, str]:
    """Factor turning "practitioners (FTE) per inhabitant" into the result's value unit."""
    measure = str(attrs["measure"])
    supply = str(attrs.get("parameters", {}).get("supply", "headcount"))
    if measure not in _RATIO_MEASURES and measure != "apl":
        raise DataValidationError(
            f"preset {preset!r} classifies supply-per-inhabitant measures (APL, 2SFCA family, "
            f"density); measure {measure!r} is not one: pass breaks=[...] for it, or use "
            "preset='travel_time'"
        )
    if supply not in _APL_FACTOR:
        raise DataValidationError(
            f"preset {preset!r} cannot convert supply {supply!r} (a custom column) into its "
            "thresholds; pass breaks=[...] in the result's unit"
        )
    scale = _APL_FACTOR[supply] if measure == "apl" else _PER_10K
    per_fte = CONSULTATIONS_PER_FTE_PER_YEAR if supply == "consultations" else 1.0
    return scale * per_fte, str(attrs.get("unit_fr", ""))


def _check_breaks(breaks: Sequence[float]) -> tuple[float, ...]:
    if isinstance(breaks, str | bytes) or not isinstance(breaks, Sequence | np.ndarray):
        raise DataValidationError(f"breaks must be a sequence of numbers, got {breaks!r}")
    out: list[float] = []
    for x in breaks:
        if isinstance(x, bool) or not isinstance(x, int | float | np.number):
            raise DataValidationError(f"breaks must be numbers, got {x!r} in {list(breaks)!r}")
        if not math.isfinite(float(x)):
            raise DataValidationError(f"breaks must be finite, got {x!r} in {list(breaks)!r}")
        out.append(float(x))
    if not out:
        raise DataValidationError("breaks must hold at least one class boundary, got []")
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise DataValidationError(f"breaks must be strictly increasing, got {out!r}")
    return tuple(out)


def gap_scheme(
    result: pd.DataFrame,
    preset: str | None = None,
    breaks: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
) -> GapScheme:
    r"""Build the class scheme of a result from a preset and/or explicit breaks.

    Presets, with their breaks expressed in the result's unit (``attrs``: measure, supply):

    * ``"apl"``: APL :math:`< 2.5` "zone sous-dense", :math:`2.5 \le \text{APL} < 4` "zone
      intermédiaire", :math:`\ge 4` "zone bien dotée", in consultations per standardised
      inhabitant per year; an APL in FTE or headcount per 100,000 uses
      :math:`b \times 100\,000 / 4\,900` (:data:`CONSULTATIONS_PER_FTE_PER_YEAR`, one FTE per
      practitioner), a 2SFCA per 10,000 inhabitants :math:`b \times 10\,000 / 4\,900`.
    * ``"ratio"``: US HPSA rule, shortage when :math:`\text{value} \le u / 3\,500` (3,500
      inhabitants or more per practitioner), :math:`u` the unit factor (10,000 for a density
      or 2SFCA per 10,000 inhabitants, 100,000 for an APL in FTE, 4,900 consultations for an
      APL in consultations).
    * ``"travel_time"``: ``nearest_minutes`` > 30 "plus de 30 min", 20–30, ≤ 20 (any measure).

    Without ``preset``, it follows the measure: ``apl`` → "apl", ``nearest`` → "travel_time",
    2SFCA family and density → "ratio"; gravity needs ``breaks``.

    Parameters
    ----------
    result : DataFrame
        A result of :func:`geo.analysis.analyse` (its ``attrs`` give the measure and unit).
    preset : {"apl", "ratio", "travel_time"}, optional
        Named scheme.
    breaks : sequence of float, optional
        Increasing boundaries replacing the preset's (e.g. ``[20]`` for "more than 20 min").
        Without a preset they cut the measure's ``value``.
    labels : sequence of str, optional
        Class names, worst first, one more than the breaks. Default: the preset's names when
        its breaks are kept, else interval names ("moins de 2,5", …).

    Returns
    -------
    GapScheme

    Raises
    ------
    DataValidationError
        Unknown preset, preset not applicable to the measure, bad breaks or labels, result
        without metadata.
    """
    attrs = _metadata(result)
    measure = str(attrs["measure"])
    if preset is None and breaks is None:
        if measure == "apl":
            preset = "apl"
        elif measure == "nearest":
            preset = "travel_time"
        elif measure in _RATIO_MEASURES:
            preset = "ratio"
        else:
            raise DataValidationError(
                f"measure {measure!r} has no default class scheme: pass breaks=[...] or "
                "preset='travel_time'"
            )
    if preset is not None and preset not in GAP_PRESETS:
        raise DataValidationError(
            f"preset {preset!r} is not one of {', '.join(map(repr, GAP_PRESETS))}"
        )
    chosen = None if breaks is None else _check_breaks(breaks)
    scheme = _preset_scheme(attrs, preset) if preset is not None else None
    if scheme is None:
        if chosen is None:  # pragma: no cover - excluded above
            raise DataValidationError("give a preset or breaks")
        column = "nearest_minutes" if measure == "nearest" else "value"
        higher = bool(attrs.get("higher_is_better", True)) and column == "value"
        unit = str(attrs.get("unit_fr", ""))
        scheme = GapScheme(
            "custom",
            column,
            chosen,
            _interval_labels(chosen, higher, right=not higher, unit=""),
            higher,
            not higher,
            unit,
            f"Classes de {attrs.get('label_fr', measure)} ({unit})",
        )
    elif chosen is not None and chosen != scheme.breaks:
        scheme = GapScheme(
            scheme.preset,
            scheme.column,
            chosen,
            _interval_labels(chosen, scheme.higher_is_better, scheme.right, ""),
            scheme.higher_is_better,
            scheme.right,
            scheme.unit_fr,
            scheme.title_fr + f" (seuils {' ; '.join(_fr(b) for b in chosen)})",
        )
    if labels is not None:
        names = tuple(str(x) for x in labels)
        if isinstance(labels, str) or len(names) != len(scheme.breaks) + 1:
            raise DataValidationError(
                f"labels must name {len(scheme.breaks) + 1} classes (worst first) for breaks "
                f"{list(scheme.breaks)}, got {labels!r}"
            )
        if len(set(names)) != len(names) or UNCLASSIFIED_LABEL in names:
            raise DataValidationError(
                f"labels must be distinct and differ from {UNCLASSIFIED_LABEL!r}, got {labels!r}"
            )
        scheme = GapScheme(
            scheme.preset,
            scheme.column,
            scheme.breaks,
            names,
            scheme.higher_is_better,
            scheme.right,
            scheme.unit_fr,
            scheme.title_fr,
        )
    return scheme


def _preset_scheme(attrs: Mapping[str, Any], preset: str) -> GapScheme:
    if preset == "travel_time":
        return GapScheme(
            "travel_time",
            "nearest_minutes",
            TRAVEL_TIME_BREAKS_MINUTES,
            ("plus de 30 min", "de 20 à 30 min", "20 min ou moins"),
            False,
            True,
            "minutes",
            "Temps d'accès au praticien le plus proche",
        )
    factor, unit = _supply_to_value(attrs, preset)
    if preset == "apl":
        # the APL breaks are consultations per inhabitant: back to practitioners (FTE) first
        per_fte = factor / CONSULTATIONS_PER_FTE_PER_YEAR
        breaks = tuple(float(b * per_fte) for b in APL_BREAKS_CONSULTATIONS)
        if math.isclose(per_fte, 1.0):
            breaks = APL_BREAKS_CONSULTATIONS
        return GapScheme(
            "apl",
            "value",
            breaks,
            ("zone sous-dense", "zone intermédiaire", "zone bien dotée"),
            True,
            False,
            unit,
            "Zonage APL (sous-dense < 2,5 ; bien dotée ≥ 4 consultations par an et par "
            "habitant standardisé)",
        )
    threshold = factor / HPSA_INHABITANTS_PER_PRACTITIONER
    return GapScheme(
        "ratio",
        "value",
        (float(threshold),),
        (
            "pénurie (3 500 habitants ou plus par praticien)",
            "offre suffisante (moins de 3 500 habitants par praticien)",
        ),
        True,
        True,
        unit,
        "Seuil de pénurie HPSA : 1 praticien pour 3 500 habitants",
    )


def _classifiable(result: pd.DataFrame, column: str) -> npt.NDArray[np.bool_]:
    """Communes that get a class: located, and either inhabited or with a value."""
    values = pd.to_numeric(result[column], errors="coerce").to_numpy(dtype=np.float64)
    population = pd.to_numeric(result["population"], errors="coerce").to_numpy(dtype=np.float64)
    located = np.ones(len(result), dtype=bool)
    if "status" in result.columns:
        # not located, or not covered by the source ("non renseigné"): no class, no mean
        located = (~result["status"].isin(("non localisée", "non renseigné"))).to_numpy()
    out: npt.NDArray[np.bool_] = located & (np.isfinite(values) | (population > 0))
    return out


def classify_gaps(
    result: pd.DataFrame,
    preset: str | None = None,
    breaks: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Put each commune of a result in a gap class.

    Parameters
    ----------
    result : GeoDataFrame
        A result of :func:`geo.analysis.analyse`.
    preset, breaks, labels
        See :func:`gap_scheme`.

    Returns
    -------
    GeoDataFrame
        A copy of ``result`` with ``gap_level`` (0 for the worst class, −1 for an unclassified
        commune), ``gap_class`` (French class name, :data:`UNCLASSIFIED_LABEL` when not
        located or without inhabitants and value) and ``in_gap`` (worst class). A commune with
        no practitioner in reach (value NaN) is in the worst class. ``attrs["gaps"]``
        describes the scheme; the other ``attrs`` (synthetic label…) are kept.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"code": ["a", "b", "c"], "population": [10, 20, 30],
    ...                       "value": [1.0, 3.0, 5.0]})
    >>> frame.attrs = {"measure": "apl", "parameters": {"supply": "consultations"}}
    >>> classify_gaps(frame)["gap_class"].tolist()
    ['zone sous-dense', 'zone intermédiaire', 'zone bien dotée']
    """
    scheme = gap_scheme(result, preset, breaks, labels)
    return _with_classes(result, scheme)


def _with_classes(result: pd.DataFrame, scheme: GapScheme) -> gpd.GeoDataFrame:
    for column in (scheme.column, "population"):
        if column not in result.columns:
            raise DataValidationError(f"result lacks the column {column!r} needed to classify")
    out = result.copy()
    level = scheme.result_levels(result)
    names = np.asarray((*scheme.labels, UNCLASSIFIED_LABEL), dtype=object)
    out["gap_level"] = level.astype(np.int64)
    out["gap_class"] = names[level]  # −1 picks the last name: unclassified
    out["in_gap"] = level == 0
    out.attrs = dict(result.attrs) | {"gaps": scheme.to_dict()}
    return out


@dataclass(frozen=True)
class GapSummary:
    """Population and communes per gap class, per territory, EPCI or département.

    Attributes
    ----------
    scheme : GapScheme
        Classes used.
    by : str or None
        Grouping column (None: the whole territory).
    classes : DataFrame
        One row per group and class (empty classes included, worst first): group, group_name,
        gap_level, gap_class, communes, population, population_share.
    groups : DataFrame
        One row per group: group, group_name, communes, population, population_weighted_mean
        (of the classified column, communes without a value left out, as in the analysis
        summary), communes_in_gap, population_in_gap, population_share_in_gap.
    worst : DataFrame
        The worst inhabited communes of each group, ranked (1 = worst): group, group_name,
        rank, code, nom, population, the classified column, gap_class, status. No practitioner
        in reach ranks first.
    attrs : dict
        Metadata of the result (measure, unit, synthetic label…) and the scheme.
    """

    scheme: GapScheme
    by: str | None
    classes: pd.DataFrame
    groups: pd.DataFrame
    worst: pd.DataFrame
    attrs: Mapping[str, Any]


_BY_COLUMNS: Final[Mapping[str, tuple[str, str | None]]] = MappingProxyType(
    {"epci": ("epci", "epci_nom"), "departement": ("departement", None)}
)


def _groups_of(result: pd.DataFrame, by: str | None) -> tuple[pd.Series, pd.Series]:
    """Group key and display name of each commune."""
    if by is None:
        key = pd.Series("territoire", index=result.index, dtype=object)
        return key, pd.Series("Territoire", index=result.index, dtype=object)
    if by not in _BY_COLUMNS:
        raise DataValidationError(
            f"by {by!r} is not one of None, {', '.join(map(repr, _BY_COLUMNS))}"
        )
    column, name_column = _BY_COLUMNS[by]
    if column not in result.columns:
        raise DataValidationError(f"by={by!r} needs a {column!r} column in the result")
    key = result[column].astype(object).where(result[column].notna(), "sans " + by.upper())
    key = key.astype(str)
    if name_column is not None and name_column in result.columns:
        name = result[name_column].astype(object).where(result[name_column].notna(), key)
    else:
        table = list_departements().set_index("code")["nom"].astype(str)
        name = key.map({code: f"{table.get(code, code)} ({code})" for code in key.unique()})
    return key, name.astype(str)


def summarise_gaps(
    result: pd.DataFrame,
    by: str | None = None,
    worst: int = 10,
    *,
    preset: str | None = None,
    breaks: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
) -> GapSummary:
    """Summarise the gap classes of a result for the territory or per EPCI / département.

    Parameters
    ----------
    result : GeoDataFrame
        A result of :func:`geo.analysis.analyse`, classified or not (an already classified
        result keeps its classes unless a preset, breaks or labels are given).
    by : {None, "epci", "departement"}
        Grouping: the whole territory, each EPCI, each département.
    worst : int, default 10
        How many of the worst communes to rank per group (0: none).
    preset, breaks, labels
        See :func:`gap_scheme`.

    Returns
    -------
    GapSummary
        Per-class counts, per-group means and shares, ranked worst communes.

    Raises
    ------
    DataValidationError
        Bad ``by`` or ``worst``, or any error of :func:`gap_scheme`.
    """
    if isinstance(worst, bool) or not isinstance(worst, int | np.integer) or worst < 0:
        raise DataValidationError(f"worst must be an integer ≥ 0, got {worst!r}")
    reuse = "gaps" in result.attrs and "gap_level" in result.columns
    if reuse and preset is None and breaks is None and labels is None:
        scheme = _scheme_from_dict(result.attrs["gaps"])
        classified = result
    else:
        scheme = gap_scheme(result, preset, breaks, labels)
        classified = _with_classes(result, scheme)
    key, name = _groups_of(classified, by)
    level = classified["gap_level"].to_numpy(dtype=np.int64)
    population = pd.to_numeric(classified["population"]).to_numpy(dtype=np.float64)
    values = classified[scheme.column].to_numpy(dtype=np.float64)
    group_ids, group_pos = np.unique(key.to_numpy(dtype=str), return_inverse=True)
    names = pd.Series(name.to_numpy(), index=group_pos).groupby(level=0).first()
    g = len(group_ids)

    # class counts per group, as a (groups × classes) table
    n_classes = len(scheme.labels) + 1  # + unclassified, kept when used
    slot = np.where(level >= 0, level, n_classes - 1)
    cell = group_pos * n_classes + slot
    communes = np.bincount(cell, minlength=g * n_classes).reshape(g, n_classes)
    people = np.bincount(cell, weights=population, minlength=g * n_classes).reshape(g, n_classes)
    totals = people.sum(axis=1)
    share = np.divide(people, totals[:, None], out=np.zeros_like(people), where=totals[:, None] > 0)
    keep = np.ones(n_classes, dtype=bool)
    keep[-1] = communes[:, -1].sum() > 0
    class_names = np.asarray((*scheme.labels, UNCLASSIFIED_LABEL), dtype=object)
    class_levels = np.append(np.arange(len(scheme.labels)), -1)
    used = np.flatnonzero(keep)
    gi, ci = np.repeat(np.arange(g), len(used)), np.tile(used, g)
    classes = pd.DataFrame(
        {
            "group": group_ids[gi],
            "group_name": names.to_numpy()[gi],
            "gap_level": class_levels[ci],
            "gap_class": class_names[ci],
            "communes": communes[gi, ci],
            "population": people[gi, ci],
            "population_share": share[gi, ci],
        }
    )

    finite = np.isfinite(values) & (population > 0)
    weighted = np.bincount(group_pos[finite], weights=(values * population)[finite], minlength=g)
    weight = np.bincount(group_pos[finite], weights=population[finite], minlength=g)
    mean = np.full(g, np.nan)
    np.divide(weighted, weight, out=mean, where=weight > 0)
    groups = pd.DataFrame(
        {
            "group": group_ids,
            "group_name": names.to_numpy(),
            "communes": communes.sum(axis=1),
            "population": totals,
            "population_weighted_mean": mean,
            "communes_in_gap": communes[:, 0],
            "population_in_gap": people[:, 0],
            "population_share_in_gap": share[:, 0],
        }
    )
    return GapSummary(
        scheme=scheme,
        by=by,
        classes=classes,
        groups=groups,
        worst=_worst(classified, scheme, group_ids, names, group_pos, worst),
        attrs=_metadata(result) | {"gaps": scheme.to_dict()},
    )


def _worst(
    classified: pd.DataFrame,
    scheme: GapScheme,
    group_ids: npt.NDArray[np.str_],
    names: pd.Series,
    group_pos: npt.NDArray[np.intp],
    n: int,
) -> pd.DataFrame:
    columns = ["group", "group_name", "rank", "code", "nom", "population", scheme.column]
    columns += ["gap_class", "status"]
    population = pd.to_numeric(classified["population"]).to_numpy(dtype=np.float64)
    values = classified[scheme.column].to_numpy(dtype=np.float64)
    eligible = (population > 0) & (classified["gap_level"].to_numpy() >= 0)
    # worse first: NaN (no practitioner) before anything, then by value, then more people
    badness = -values if scheme.higher_is_better else values.copy()
    badness[np.isnan(badness)] = np.inf
    order = np.lexsort((-population, -badness, group_pos))
    order = order[eligible[order]]
    ranks = np.arange(len(order)) - np.searchsorted(group_pos[order], group_pos[order])
    order, ranks = order[ranks < n], ranks[ranks < n]
    picked = classified.iloc[order]
    frame = pd.DataFrame(
        {
            "group": group_ids[group_pos[order]],
            "group_name": names.to_numpy()[group_pos[order]],
            "rank": ranks + 1,
            "code": picked["code"].to_numpy(),
            "nom": picked["nom"].to_numpy() if "nom" in picked.columns else picked["code"],
            "population": picked["population"].to_numpy(),
            scheme.column: values[order],
            "gap_class": picked["gap_class"].to_numpy(),
            "status": picked["status"].to_numpy() if "status" in picked.columns else "ok",
        },
        columns=columns,
    )
    return frame.reset_index(drop=True)


def _scheme_from_dict(data: Mapping[str, Any]) -> GapScheme:
    return GapScheme(
        preset=str(data["preset"]),
        column=str(data["column"]),
        breaks=tuple(float(b) for b in data["breaks"]),
        labels=tuple(str(x) for x in data["labels"]),
        higher_is_better=bool(data["higher_is_better"]),
        right=bool(data["right_closed"]),
        unit_fr=str(data["unit_fr"]),
        title_fr=str(data["title_fr"]),
    )
