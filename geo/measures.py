"""Accessibility measures of PySAL access that the floating-catchment module lacks.

The floating-catchment ratio (``fca_ratio``), the rational agent access model (RAAM, Saxon &
Snow 2020), cumulative opportunities within a cost, and the Euclidean distances between polygons
that access builds its costs from; same calling convention as :mod:`geo.access`.

Shared conventions
------------------
* ``demand_df`` is indexed by demand id, ``supply_df`` by supply id; ``cost_df`` holds one row
  per (origin, dest) pair: ``origin_col`` demand ids, ``dest_col`` supply ids, ``cost_col`` the
  cost (finite, ≥ 0). A missing pair is unreachable; a pair of cost 0 is a real pair.
* A pair is in reach when ``cost <= max_cost`` (every pair when ``max_cost`` is None).
* Cost rows whose origin or destination is not in the demand / supply frames are ignored, as
  PySAL access ignores them (a regional matrix, a subset of demand); how many is stored in the
  result's ``attrs["ignored_cost_rows"]``. ``strict_ids=True`` refuses them instead.
* The result is a :class:`pandas.Series` indexed like ``demand_df`` (same order), NaN where
  PySAL access 1.1.10 gives NaN (see each function).
* ``normalize=True`` divides by the population-weighted mean exactly as access does
  (:func:`geo._fca.normalize_like_access`).
* Bad inputs raise :class:`~geo.errors.DataValidationError` with a French message naming the
  argument, the column and the offending values.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo._fca import FloatArray, StepWeights, WeightFunction, normalize_like_access
from geo.errors import DataValidationError

__all__ = [
    "RAAM_LIMIT_INITIAL",
    "cumulative_opportunities",
    "fca_ratio",
    "polygon_distances",
    "raam",
]

_LOG = logging.getLogger(__name__)

#: Cycles during which RAAM scales moves down so that no attractive site gets "mobbed" (more
#: arrivals than its capacity in one cycle): access 1.1.10's ``limit_initial`` (fixed at 20).
RAAM_LIMIT_INITIAL = 20

#: Metadata key of the results: number of cost rows ignored for an unknown id.
_IGNORED = "ignored_cost_rows"
_SHOWN = 5  # how many offending values an error message lists

IntArray = npt.NDArray[np.intp]
WeightSpec = WeightFunction | Mapping[float, float]


# --------------------------------------------------------------------------------------------
# Boundary validation
# --------------------------------------------------------------------------------------------


def _shown(items: Sequence[str]) -> str:
    more = f" (et {len(items) - _SHOWN} autre(s))" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def _frame(name: str, frame: object) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(
            f"{name} doit être un pandas.DataFrame, reçu {type(frame).__name__}"
        )
    if len(frame) == 0:
        raise DataValidationError(f"{name} est vide : rien à calculer")
    return frame


def _column(frame_name: str, frame: pd.DataFrame, arg: str, column: Hashable) -> None:
    if column not in frame.columns:
        columns = _shown([repr(c) for c in frame.columns])
        raise DataValidationError(
            f"{arg}={column!r} n'est pas une colonne de {frame_name} ; ses colonnes : {columns}"
        )


def _unique_ids(frame_name: str, index: pd.Index) -> None:
    if index.hasnans:
        raise DataValidationError(
            f"{frame_name}.index a des identifiants manquants : chaque ligne doit en avoir un"
        )
    if not index.is_unique:
        dupes = index[index.duplicated()].unique()
        raise DataValidationError(
            f"{frame_name}.index a {len(dupes)} identifiant(s) en double : "
            f"{_shown([repr(d) for d in dupes])}"
        )


def _numeric(label: str, series: pd.Series) -> FloatArray:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise DataValidationError(
            f"{label} doit être numérique, reçu le type {series.dtype} "
            "(convertir avec pd.to_numeric)"
        )
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _amounts(frame_name: str, frame: pd.DataFrame, column: Hashable) -> FloatArray:
    label = f"{frame_name}[{column!r}]"
    values = _numeric(label, frame[column])
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        shown = [
            f"id {i!r} : {v!r}" for i, v in zip(frame.index[bad], values[bad].tolist(), strict=True)
        ]
        raise DataValidationError(
            f"{label} doit être fini et ≥ 0 ; {int(bad.sum())} valeur(s) invalide(s) : "
            f"{_shown(shown)}"
        )
    return values


def _real(name: str, value: object, *, positive: bool = False) -> float:
    """Return ``value`` as a finite float ≥ 0 (> 0 when ``positive``), or name it in an error."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise DataValidationError(f"{name} doit être un nombre réel, reçu {value!r}")
    out = float(value)
    if not math.isfinite(out) or out < 0 or (positive and out == 0):
        bound = "> 0" if positive else "≥ 0"
        raise DataValidationError(f"{name} doit être fini et {bound}, reçu {value!r}")
    return out


def _max_cost(value: object) -> float | None:
    if value is None:
        return None
    return _real("max_cost", value)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise DataValidationError(f"{name} doit valoir True ou False, reçu {value!r}")
    return bool(value)


def _weight_fn(spec: object) -> WeightFunction | None:
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        return StepWeights(spec)
    if callable(spec):
        fn: WeightFunction = spec
        return fn
    raise DataValidationError(
        "weights doit être None, un dictionnaire seuil → poids ou une fonction de poids "
        f"(StepWeights, GaussianWeights, GravityWeights ou un appelable) ; reçu {spec!r}"
    )


def _weight_values(fn: WeightFunction | None, cost: FloatArray) -> FloatArray:
    if fn is None:
        return np.ones_like(cost)
    out = np.asarray(fn(cost), dtype=np.float64)
    if out.shape != cost.shape:
        raise DataValidationError(
            f"la fonction de poids {fn!r} a rendu la forme {out.shape} pour des coûts de forme "
            f"{cost.shape}"
        )
    bad = ~(np.isfinite(out) & (out >= 0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"la fonction de poids {fn!r} a rendu {int(bad.sum())} poids non fini(s) ou "
            f"négatif(s), par ex. {out[first]!r} pour le coût {cost[first]!r}"
        )
    return out


@dataclass(frozen=True)
class _Pairs:
    """Validated cost rows as positions: ``rows`` into the origins, ``cols`` into the dests."""

    rows: IntArray
    cols: IntArray
    cost: FloatArray
    ignored: int
    #: Which rows of the cost table were kept (ids known), before any ``within``.
    kept: npt.NDArray[np.bool_]

    def within(self, max_cost: float | None) -> _Pairs:
        """Return the pairs with ``cost <= max_cost`` (all of them when None)."""
        if max_cost is None:
            return self
        keep = self.cost <= max_cost
        return _Pairs(self.rows[keep], self.cols[keep], self.cost[keep], self.ignored, self.kept)


def _positions(ids: pd.Series, index: pd.Index) -> IntArray:
    if pd.api.types.is_numeric_dtype(ids):
        return index.get_indexer(pd.Index(ids, copy=False)).astype(np.intp, copy=False)
    codes, uniques = pd.factorize(ids, use_na_sentinel=False)
    return index.get_indexer(pd.Index(uniques)).astype(np.intp, copy=False)[codes]


def _pairs(
    cost_name: str,
    cost_df: pd.DataFrame,
    origin_col: Hashable,
    dest_col: Hashable,
    cost_col: Hashable,
    origins: tuple[str, pd.Index],
    dests: tuple[str, pd.Index],
    *,
    strict_ids: bool,
) -> _Pairs:
    """Validate a cost table and map its ids to positions in ``origins`` / ``dests``."""
    for arg, column in (("origin_col", origin_col), ("dest_col", dest_col), ("cost_col", cost_col)):
        _column(cost_name, cost_df, arg, column)
    cost = _numeric(f"{cost_name}[{cost_col!r}]", cost_df[cost_col])
    bad = ~(np.isfinite(cost) & (cost >= 0))
    if bad.any():
        where = cost_df.loc[bad, [origin_col, dest_col]]
        shown = [
            f"{o!r} → {d!r} : {v!r}"
            for o, d, v in zip(where[origin_col], where[dest_col], cost[bad].tolist(), strict=True)
        ]
        raise DataValidationError(
            f"{cost_name}[{cost_col!r}] doit être fini et ≥ 0 (retirer les paires injoignables "
            f"plutôt que de les coder NaN ou inf) ; {int(bad.sum())} valeur(s) invalide(s) : "
            f"{_shown(shown)}"
        )
    rows = _positions(cost_df[origin_col], origins[1])
    cols = _positions(cost_df[dest_col], dests[1])
    known = (rows >= 0) & (cols >= 0)
    ignored = int(len(known) - np.count_nonzero(known))
    if ignored and strict_ids:
        for column, pos, (frame_name, index) in (
            (origin_col, rows, origins),
            (dest_col, cols, dests),
        ):
            unknown = pd.unique(cost_df[column].to_numpy()[pos < 0])
            if len(unknown):
                hint = ""
                if cost_df[column].dtype != index.dtype:
                    hint = (
                        f" ({cost_name}[{column!r}] est de type {cost_df[column].dtype}, "
                        f"{frame_name}.index de type {index.dtype})"
                    )
                raise DataValidationError(
                    f"{cost_name}[{column!r}] a {len(unknown)} identifiant(s) absent(s) de "
                    f"{frame_name}.index : {_shown([repr(u) for u in unknown])}{hint} "
                    "(strict_ids=False ignore ces lignes)"
                )
    if ignored:
        rows, cols, cost = rows[known], cols[known], cost[known]
        cost_df = cost_df.loc[known]
    keys = rows.astype(np.int64) * np.int64(max(len(dests[1]), 1)) + cols.astype(np.int64)
    sorted_keys = np.sort(keys)
    if np.any(sorted_keys[1:] == sorted_keys[:-1]):
        dup = cost_df.duplicated(subset=[origin_col, dest_col], keep=False)
        pairs = cost_df.loc[dup, [origin_col, dest_col]].drop_duplicates()
        shown = [f"({o!r}, {d!r})" for o, d in zip(pairs[origin_col], pairs[dest_col], strict=True)]
        raise DataValidationError(
            f"{cost_name} a {len(shown)} paire(s) ({origin_col}, {dest_col}) en double : "
            f"{_shown(shown)} ; garder un coût par paire (par ex. le minimum)"
        )
    return _Pairs(rows, cols, cost, ignored, known)


@dataclass(frozen=True)
class _Problem:
    index: pd.Index
    demand: FloatArray
    supply: FloatArray
    pairs: _Pairs


def _prepare(
    demand_df: object,
    supply_df: object,
    cost_df: object,
    *,
    demand_col: Hashable | None,
    supply_col: Hashable,
    origin_col: Hashable,
    dest_col: Hashable,
    cost_col: Hashable,
    strict_ids: object,
) -> _Problem:
    strict = _flag("strict_ids", strict_ids)
    demand_frame = _frame("demand_df", demand_df)
    supply_frame = _frame("supply_df", supply_df)
    cost_frame = _frame("cost_df", cost_df)
    if demand_col is not None:
        _column("demand_df", demand_frame, "demand_col", demand_col)
    _column("supply_df", supply_frame, "supply_col", supply_col)
    _unique_ids("demand_df", demand_frame.index)
    _unique_ids("supply_df", supply_frame.index)
    demand = (
        np.ones(len(demand_frame))
        if demand_col is None
        else _amounts("demand_df", demand_frame, demand_col)
    )
    supply = _amounts("supply_df", supply_frame, supply_col)
    pairs = _pairs(
        "cost_df",
        cost_frame,
        origin_col,
        dest_col,
        cost_col,
        ("demand_df", demand_frame.index),
        ("supply_df", supply_frame.index),
        strict_ids=strict,
    )
    return _Problem(demand_frame.index, demand, supply, pairs)


def _result(
    problem: _Problem, values: FloatArray, name: str, *, normalize: bool, ignored: int
) -> pd.Series:
    if normalize:
        values = normalize_like_access(values, problem.demand)
    out = pd.Series(values, index=problem.index, name=name)
    out.attrs[_IGNORED] = ignored
    return out


# --------------------------------------------------------------------------------------------
# Cumulative opportunities and the floating-catchment ratio
# --------------------------------------------------------------------------------------------


def cumulative_opportunities(
    demand_df: pd.DataFrame,
    supply_df: pd.DataFrame,
    cost_df: pd.DataFrame,
    *,
    supply_col: Hashable,
    max_cost: float | None,
    demand_col: Hashable | None = None,
    origin_col: Hashable = "origin",
    dest_col: Hashable = "dest",
    cost_col: Hashable = "cost",
    weights: WeightSpec | None = None,
    normalize: bool = False,
    strict_ids: bool = False,
) -> pd.Series:
    r"""Cumulative opportunities: the supply reachable within a cost ``max_cost``.

    .. math::

        O_i = \sum_{j:\,c_{ij} \le T} S_j \, f(c_{ij}),

    with :math:`f \equiv 1` when ``weights`` is None: the number of practitioners (or FTE)
    within ``T`` minutes of each commune, the simplest place-based accessibility measure (the
    "cumulative opportunity" or isochrone measure; Páez, Scott & Morency 2012, *Journal of
    Transport Geography* 25, 141–153). Unlike the
    floating-catchment measures it ignores competition between demand points.

    Relation to PySAL access 1.1.10: access has no measure of this name; it is its
    ``Access.weighted_catchment(max_cost=T)`` (equivalently ``weight_fn=weights.step_fn({T:
    1})``), which this function equals (up to float rounding) with the same NaN pattern, and
    with ``weights`` its ``weighted_catchment(weight_fn=..., max_cost=...)``. ``normalize``
    gives access's ``normalize=True``.

    Parameters
    ----------
    demand_df : pandas.DataFrame
        Demand points indexed by id; only the index is used unless ``normalize`` is True.
    supply_df : pandas.DataFrame
        Supply points indexed by id, with the capacity in ``supply_col``.
    cost_df : pandas.DataFrame
        One row per (origin, dest) pair with its cost.
    supply_col : hashable
        Column of the capacity (numeric, finite, ≥ 0).
    max_cost : float or None
        The threshold :math:`T` (same unit as the costs, ≥ 0); None keeps every pair.
    demand_col : hashable, optional
        Column of the population; needed only with ``normalize=True``.
    origin_col, dest_col, cost_col : hashable, default "origin", "dest", "cost"
        Columns of ``cost_df``.
    weights : WeightFunction or mapping, optional
        Distance decay applied to the supply in reach; a mapping is read as
        :class:`~geo.access.StepWeights` (access's ``step_fn``).
    normalize : bool, default False
        Divide by the population-weighted mean, exactly as access's ``normalize=True``.
    strict_ids : bool, default False
        Refuse cost rows whose ids are not in the frames instead of ignoring them.

    Returns
    -------
    pandas.Series
        :math:`O_i` indexed like ``demand_df``, named ``"cumulative"``; NaN for a demand point
        with no pair in reach (as access; ``.fillna(0)`` reads it as "nothing in reach").
        ``attrs["ignored_cost_rows"]`` counts the cost rows ignored for an unknown id.

    Raises
    ------
    DataValidationError
        On invalid inputs (see the module docstring).

    Examples
    --------
    >>> demand = pd.DataFrame({"pop": [100, 300]}, index=["A", "B"])
    >>> supply = pd.DataFrame({"gp": [2.0, 1.0]}, index=["X", "Y"])
    >>> cost = pd.DataFrame({"origin": ["A", "A", "B"], "dest": ["X", "Y", "Y"],
    ...                      "cost": [5.0, 25.0, 40.0]})
    >>> cumulative_opportunities(demand, supply, cost, supply_col="gp", max_cost=30).tolist()
    [3.0, nan]
    """
    limit = _max_cost(max_cost)
    weight_fn = _weight_fn(weights)
    if _flag("normalize", normalize) and demand_col is None:
        raise DataValidationError("normalize=True demande demand_col (la population)")
    problem = _prepare(
        demand_df,
        supply_df,
        cost_df,
        demand_col=demand_col,
        supply_col=supply_col,
        origin_col=origin_col,
        dest_col=dest_col,
        cost_col=cost_col,
        strict_ids=strict_ids,
    )
    pairs = problem.pairs.within(limit)
    n = len(problem.index)
    w = _weight_values(weight_fn, pairs.cost)
    values: FloatArray = np.bincount(
        pairs.rows, weights=problem.supply[pairs.cols] * w, minlength=n
    ).astype(np.float64, copy=False)
    values[np.bincount(pairs.rows, minlength=n) == 0] = np.nan
    return _result(problem, values, "cumulative", normalize=normalize, ignored=pairs.ignored)


def fca_ratio(
    demand_df: pd.DataFrame,
    supply_df: pd.DataFrame,
    cost_df: pd.DataFrame,
    *,
    demand_col: Hashable,
    supply_col: Hashable,
    origin_col: Hashable = "origin",
    dest_col: Hashable = "dest",
    cost_col: Hashable = "cost",
    max_cost: float | None = None,
    demand_cost_df: pd.DataFrame | None = None,
    weights: WeightSpec | None = None,
    normalize: bool = False,
    strict_ids: bool = False,
) -> pd.Series:
    r"""Floating catchment area ratio: supply over demand, both summed within the catchment.

    .. math::

        \mathrm{FCA}_i = \frac{\sum_{j:\,c_{ij} \le T} S_j f(c_{ij})}
                              {\sum_{k:\,d_{ik} \le T} P_k f(d_{ik})},

    where :math:`c_{ij}` is the cost from demand point :math:`i` to supply :math:`j` and
    :math:`d_{ik}` the cost between demand points :math:`i` and :math:`k` (the "neighbour"
    costs, :math:`d_{ii} = 0` usually included): the practitioners around a commune divided by
    the population around it. This is PySAL access's ``fca_ratio`` (access documentation,
    https://access.readthedocs.io, API reference ``Access.fca_ratio``: "the floating catchment
    area (buffer) ratio access score"; computed in ``access/fca.py`` by two calls of
    ``weighted_catchment``), the ratio that 2SFCA refines by giving each practitioner its own
    catchment.

    Relation to PySAL access 1.1.10: equal (up to float rounding) to the column
    ``f"{name}_{supply_col}"`` of ``Access(demand_df, ..., cost_df=cost_df,
    neighbor_cost_df=demand_cost_df or cost_df).fca_ratio(max_cost=max_cost,
    normalize=normalize)``, with the same NaN and ``inf`` entries: NaN where no demand
    neighbour is in reach (or supply and demand in reach are both 0), ``inf`` where supply is in
    reach but only zero-population neighbours. Differences: ``max_cost < 0`` is refused (access
    returns all NaN), and ``weights`` (available in ``access.fca.fca_ratio`` only) is exposed.

    Parameters
    ----------
    demand_df : pandas.DataFrame
        Demand points indexed by id, with the population in ``demand_col``.
    supply_df : pandas.DataFrame
        Supply points indexed by id, with the capacity in ``supply_col``.
    cost_df : pandas.DataFrame
        Demand → supply pairs with their cost.
    demand_col, supply_col : hashable
        Columns of population and capacity (numeric, finite, ≥ 0).
    origin_col, dest_col, cost_col : hashable, default "origin", "dest", "cost"
        Columns of ``cost_df`` (and of ``demand_cost_df``).
    max_cost : float, optional
        Catchment :math:`T` (≥ 0) applied to both sums; None keeps every pair.
    demand_cost_df : pandas.DataFrame, optional
        Demand → demand pairs with their cost (access's ``neighbor_cost_df``), same columns as
        ``cost_df``. None: ``cost_df`` itself, read where both ids are demand ids (demand and
        supply located by the same codes, e.g. communes, as in access's Chicago example).
    weights : WeightFunction or mapping, optional
        Distance decay applied in both sums; a mapping is read as step weights.
    normalize : bool, default False
        Divide by the population-weighted mean, exactly as access's ``normalize=True``.
    strict_ids : bool, default False
        Refuse cost rows whose ids are not in the frames instead of ignoring them.

    Returns
    -------
    pandas.Series
        The ratio indexed like ``demand_df``, named ``"fca"``; ``attrs["ignored_cost_rows"]``
        counts the rows of ``cost_df`` (and of ``demand_cost_df``) ignored for an unknown id.

    Raises
    ------
    DataValidationError
        On invalid inputs (see the module docstring), or when no neighbour pair is found.

    Examples
    --------
    >>> demand = pd.DataFrame({"pop": [100, 300]}, index=["A", "B"])
    >>> supply = pd.DataFrame({"gp": [2.0]}, index=["A"])
    >>> cost = pd.DataFrame({"origin": ["A", "A", "B", "B"], "dest": ["A", "B", "A", "B"],
    ...                      "cost": [0.0, 10.0, 10.0, 0.0]})
    >>> fca_ratio(demand, supply, cost, demand_col="pop", supply_col="gp",
    ...           max_cost=5).tolist()
    [0.02, 0.0]
    """
    limit = _max_cost(max_cost)
    weight_fn = _weight_fn(weights)
    normalize = _flag("normalize", normalize)
    strict = _flag("strict_ids", strict_ids)
    problem = _prepare(
        demand_df,
        supply_df,
        cost_df,
        demand_col=demand_col,
        supply_col=supply_col,
        origin_col=origin_col,
        dest_col=dest_col,
        cost_col=cost_col,
        strict_ids=strict and demand_cost_df is not None,
    )
    ignored = problem.pairs.ignored
    demand_ids = ("demand_df", problem.index)
    if demand_cost_df is None:
        # One table in both roles: a row is ignored only when it serves neither.
        neighbours = _pairs(
            "cost_df",
            _frame("cost_df", cost_df),
            origin_col,
            dest_col,
            cost_col,
            demand_ids,
            demand_ids,
            strict_ids=False,
        )
        unused = ~(problem.pairs.kept | neighbours.kept)
        ignored = int(np.count_nonzero(unused))
        if ignored and strict:
            where = cost_df.loc[unused, [origin_col, dest_col]]
            shown = [
                f"({o!r}, {d!r})" for o, d in zip(where[origin_col], where[dest_col], strict=True)
            ]
            raise DataValidationError(
                f"cost_df a {ignored} ligne(s) dont l'origine n'est pas dans demand_df.index ou la "
                "destination ni dans supply_df.index ni dans demand_df.index : "
                f"{_shown(shown)} (strict_ids=False ignore ces lignes)"
            )
    else:
        neighbours = _pairs(
            "demand_cost_df",
            _frame("demand_cost_df", demand_cost_df),
            origin_col,
            dest_col,
            cost_col,
            demand_ids,
            demand_ids,
            strict_ids=strict,
        )
        ignored += neighbours.ignored
    if len(neighbours.rows) == 0:
        raise DataValidationError(
            "aucune paire entre points de demande : fca_ratio somme la population autour de "
            "chaque point, donner demand_cost_df (coûts demande → demande)"
        )
    n = len(problem.index)
    supply_pairs = problem.pairs.within(limit)
    neighbours = neighbours.within(limit)
    supply_in_reach = np.bincount(
        supply_pairs.rows,
        weights=problem.supply[supply_pairs.cols] * _weight_values(weight_fn, supply_pairs.cost),
        minlength=n,
    ).astype(np.float64, copy=False)
    demand_in_reach = np.bincount(
        neighbours.rows,
        weights=problem.demand[neighbours.cols] * _weight_values(weight_fn, neighbours.cost),
        minlength=n,
    ).astype(np.float64, copy=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = supply_in_reach / demand_in_reach
    values[np.bincount(neighbours.rows, minlength=n) == 0] = np.nan
    return _result(problem, values, "fca", normalize=normalize, ignored=ignored)


# --------------------------------------------------------------------------------------------
# Rational agent access model
# --------------------------------------------------------------------------------------------


def _first_min_per_row(values: FloatArray, starts: IntArray, row_of: IntArray) -> IntArray:
    """Position of the first minimum of each row segment (pairs sorted by row then column).

    The first in column order, as ``numpy.argmin`` on access's dense matrix picks it.
    """
    low = np.minimum.reduceat(values, starts)
    position = np.arange(len(values), dtype=np.intp)
    candidates = np.where(values == low[row_of], position, len(values))
    return np.asarray(np.minimum.reduceat(candidates, starts), dtype=np.intp)


def _raam_core(
    demand: FloatArray,
    supply: FloatArray,
    rows: IntArray,
    cols: IntArray,
    travel: FloatArray,
    *,
    max_cycles: int,
    initial_step: float,
    step_is_fraction: bool,
    min_step: float,
    half_life: float,
) -> FloatArray:
    """RAAM iterations of access 1.1.10 (``access.raam.iterate_raam``) on sparse pairs.

    ``demand`` (n,) > 0, ``supply`` (m,) > 0 already scaled by rho, pairs sorted by row then
    column with every row present; ``travel`` already divided by tau. Each step replays the
    dense reference's arithmetic in the same order so that the integer moves (truncations)
    come out identical.
    """
    m = len(supply)
    nnz = len(travel)
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]).astype(np.intp)
    assignment = np.zeros(nnz)
    assignment[_first_min_per_row(travel, starts, rows)] = demand
    total_cost = travel
    position = np.arange(nnz, dtype=np.intp)
    for cycle in range(max_cycles):
        demand_at_supply = np.bincount(cols, weights=assignment, minlength=m)
        congestion = demand_at_supply / supply
        total_cost = congestion[cols] + travel

        lmin = _first_min_per_row(total_cost, starts, rows)
        assigned = assignment != 0
        masked = np.where(assigned, total_cost, -np.inf)
        high = np.maximum.reduceat(masked, starts)
        lmax = np.asarray(
            np.minimum.reduceat(np.where(assigned & (masked == high[rows]), position, nnz), starts),
            dtype=np.intp,
        )
        lmax = np.where(lmax == nnz, lmin, lmax)  # no assigned pair: nothing to move
        cmin, cmax = cols[lmin], cols[lmax]

        slmin, slmax = supply[cmin], supply[cmax]
        trlmin, trlmax = travel[lmin], travel[lmax]
        drlmin, drlmax = assignment[lmin], assignment[lmax]
        dr = drlmin + drlmax
        drotherlmin = demand_at_supply[cmin] - drlmin
        drotherlmax = demand_at_supply[cmax] - drlmax
        drlmin_new = ((slmin * slmax) / (slmin + slmax)) * (
            (trlmax - trlmin) + (dr + drotherlmax) / slmax - drotherlmin / slmin
        )
        delta = np.minimum(drlmin_new - drlmin, drlmax)
        delta = np.where(lmax == lmin, 0, delta)

        step_size: float
        if step_is_fraction:
            step_size = max(initial_step * 0.5 ** (cycle / half_life), min_step)
            moves = np.minimum(delta, step_size * demand).astype(np.int64)
        else:
            step_size = int(np.round(initial_step * 0.5 ** (cycle / half_life)))
            if step_size < min_step:
                step_size = min_step
            moves = np.minimum(delta, step_size).astype(np.int64)

        if cycle < RAAM_LIMIT_INITIAL:
            # Do not let an attractive site get "mobbed": scale the arrivals at each site down
            # to its capacity (the "naive assignment" of access).
            arrivals = np.bincount(cmin, weights=moves, minlength=m)
            scale = np.maximum(arrivals / supply, 1)
            moves = np.round(moves / scale[cmin]).astype(np.int64)

        assignment[lmin] += moves
        assignment[lmax] -= moves

        if _LOG.isEnabledFor(logging.DEBUG) and not cycle % 25:
            mean_cost = np.mean(
                np.add.reduceat(total_cost * assignment, starts)
                / np.add.reduceat(assignment, starts)
            )
            _LOG.debug(
                "RAAM cycle %d: mean cost %.2f, moved %d, step %.3f",
                cycle,
                mean_cost,
                int(moves.sum()),
                step_size,
            )
    # As access: the costs of the last cycle (before its moves) weighted by the final assignment.
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.add.reduceat(total_cost * assignment, starts) / np.add.reduceat(assignment, starts)
    return np.asarray(out, dtype=np.float64)


def raam(
    demand_df: pd.DataFrame,
    supply_df: pd.DataFrame,
    cost_df: pd.DataFrame,
    *,
    demand_col: Hashable,
    supply_col: Hashable,
    origin_col: Hashable = "origin",
    dest_col: Hashable = "dest",
    cost_col: Hashable = "cost",
    max_cost: float | None = None,
    tau: float = 60.0,
    rho: float | None = None,
    max_cycles: int = 150,
    initial_step: float = 0.2,
    half_life: float = 50.0,
    min_step: float = 0.005,
    normalize: bool = False,
    strict_ids: bool = False,
) -> pd.Series:
    r"""Rational agent access model (RAAM): the travel and congestion cost each person bears.

    Saxon, J. & Snow, D. (2020), "A Rational Agent Model for the Spatial Accessibility of
    Primary Health Care", *Annals of the American Association of Geographers* 110(1), 205–222,
    doi:10.1080/24694452.2019.1629870.
    Every resident chooses the site :math:`j` that minimises a total cost

    .. math::

        C_{ij} = \frac{t_{ij}}{\tau} + \frac{D_j}{\rho\, S_j},

    travel time scaled by :math:`\tau` plus the congestion at the site (its patients
    :math:`D_j` over its capacity), and patients move until no one gains by moving (an
    equilibrium). :math:`\rho` defaults to the mean demand per unit of supply, so that a site
    at the average load costs as much as :math:`\tau` minutes of travel. The result is the
    mean :math:`C` borne by the residents of each demand point: **lower is better** (the
    opposite direction of the FCA ratios).

    This is ``access.raam.raam`` of PySAL access 1.1.10 (``Access.raam``), the same iterations
    (move the integer number of people that equalises a row's cheapest and dearest sites,
    capped by a step that halves every ``half_life`` cycles, scaled down during the first
    :data:`RAAM_LIMIT_INITIAL` cycles so no site gets mobbed), run on the sparse pairs instead
    of a dense demand × supply matrix (all France fits). Every integer move is replayed with
    access's arithmetic, so the result equals access's to float rounding (≤ 1e-15 relative in
    the tests, fractional populations included; with fractional populations a sum rounded
    differently could in principle flip one truncated move).

    Relation to PySAL access 1.1.10 (the column ``f"{name}_{supply_col}"`` of
    ``Access(...).raam(tau=..., ...)``); same NaN where access gives NaN (zero population,
    no cost row); differences:

    * a demand point whose pairs all lead to zero-supply sites (or beyond ``max_cost``) is NaN
      and takes no part; access sends its residents to the first supply site of its dense
      matrix, whatever the distance, which loads that site for everyone;
    * ties (two sites of equal cost for a row) go to the first site in ``supply_df``'s order;
      access takes the first in the order of a Python ``set`` of the ids, which for string ids
      changes from one run to the next (``PYTHONHASHSEED``). The iterations stop before a
      unique equilibrium, so with costs in whole minutes ties move a commune's value by
      several % (reorder ``supply_df`` like access's set to reproduce one of its runs);
    * ``initial_step`` of any float type (``numpy.float64`` included) is a fraction of the
      demand and any integer a head count; access reads a ``numpy.float64`` as a head count
      (``type(x) is float``): 0.2 rounds to 0, floored to ``min_step`` people, so no move;
    * ``max_cost`` (access has none) drops pairs beyond it first; ``max_cycles`` must be ≥ 1
      (access fails on 0); progress goes to this module's logger at DEBUG, never printed.

    Parameters
    ----------
    demand_df : pandas.DataFrame
        Demand points indexed by id, with the population in ``demand_col``.
    supply_df : pandas.DataFrame
        Supply points indexed by id, with the capacity in ``supply_col``.
    cost_df : pandas.DataFrame
        One row per (origin, dest) pair with its travel cost.
    demand_col, supply_col : hashable
        Columns of population and capacity (numeric, finite, ≥ 0); points at 0 take no part.
    origin_col, dest_col, cost_col : hashable, default "origin", "dest", "cost"
        Columns of ``cost_df``.
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are dropped (residents cannot choose them).
    tau : float, default 60
        Travel cost (in the unit of ``cost_col``) worth a congestion of the mean load; > 0.
    rho : float, optional
        Demand per unit of supply taken as the reference load; default the ratio of total
        positive demand to total positive supply of the frames. > 0.
    max_cycles : int, default 150
        Number of cycles (≥ 1).
    initial_step : float or int, default 0.2
        Float: the largest fraction of a demand point moved in the first cycle. Int: the
        largest head count moved per cycle.
    half_life : float, default 50
        Cycles after which the step halves; > 0.
    min_step : float, default 0.005
        Floor of the step (fraction or head count, as ``initial_step``); ≥ 0.
    normalize : bool, default False
        Divide by the population-weighted mean, exactly as access's ``normalize=True``.
    strict_ids : bool, default False
        Refuse cost rows whose ids are not in the frames instead of ignoring them.

    Returns
    -------
    pandas.Series
        The RAAM cost indexed like ``demand_df``, named ``"raam"``; NaN for points with no
        population or no reachable supply. ``attrs["ignored_cost_rows"]`` counts the cost
        rows ignored for an unknown id.

    Raises
    ------
    DataValidationError
        On invalid inputs (see the module docstring), or when no demand or no supply is > 0.

    Examples
    --------
    One commune, two sites of one practitioner each at 0 and 30 minutes; with ``tau=30`` the
    20 residents split 15/5 so that both sites cost the same (congestion ρ = 10 per site):

    >>> demand = pd.DataFrame({"pop": [20]}, index=["A"])
    >>> supply = pd.DataFrame({"gp": [1, 1]}, index=["X", "Y"])
    >>> cost = pd.DataFrame({"origin": ["A", "A"], "dest": ["X", "Y"], "cost": [0.0, 30.0]})
    >>> round(float(raam(demand, supply, cost, demand_col="pop", supply_col="gp",
    ...                  tau=30.0).iloc[0]), 6)
    1.5
    """
    limit = _max_cost(max_cost)
    tau_value = _real("tau", tau, positive=True)
    half_life_value = _real("half_life", half_life, positive=True)
    min_step_value = _real("min_step", min_step)
    if isinstance(max_cycles, bool) or not isinstance(max_cycles, int | np.integer):
        raise DataValidationError(f"max_cycles doit être un entier ≥ 1, reçu {max_cycles!r}")
    if max_cycles < 1:
        raise DataValidationError(f"max_cycles doit être un entier ≥ 1, reçu {max_cycles!r}")
    step_is_fraction = isinstance(initial_step, float | np.floating)
    step_value = _real("initial_step", initial_step)
    normalize = _flag("normalize", normalize)
    problem = _prepare(
        demand_df,
        supply_df,
        cost_df,
        demand_col=demand_col,
        supply_col=supply_col,
        origin_col=origin_col,
        dest_col=dest_col,
        cost_col=cost_col,
        strict_ids=strict_ids,
    )
    demand, supply = problem.demand, problem.supply
    total_demand = float(demand[demand > 0].sum())
    total_supply = float(supply[supply > 0].sum())
    if total_demand == 0:
        raise DataValidationError(f"demand_df[{demand_col!r}] est nul partout : aucune demande")
    if total_supply == 0:
        raise DataValidationError(f"supply_df[{supply_col!r}] est nul partout : aucune offre")
    rho_value = total_demand / total_supply if rho is None else _real("rho", rho, positive=True)

    pairs = problem.pairs.within(limit)
    keep = (demand[pairs.rows] > 0) & (supply[pairs.cols] > 0)
    rows, cols, cost = pairs.rows[keep], pairs.cols[keep], pairs.cost[keep]
    n = len(problem.index)
    values = np.full(n, np.nan)
    if len(rows):
        # Compact to the active rows / columns, pairs sorted by row then column (the dense
        # matrix's order, which decides ties).
        active_rows, row_pos = np.unique(rows, return_inverse=True)
        active_cols, col_pos = np.unique(cols, return_inverse=True)
        order = np.lexsort((col_pos, row_pos))
        values[active_rows] = _raam_core(
            demand[active_rows],
            supply[active_cols] * rho_value,
            row_pos[order].astype(np.intp),
            col_pos[order].astype(np.intp),
            cost[order] / tau_value,
            max_cycles=int(max_cycles),
            initial_step=step_value,
            step_is_fraction=step_is_fraction,
            min_step=min_step_value,
            half_life=half_life_value,
        )
    return _result(problem, values, "raam", normalize=normalize, ignored=pairs.ignored)


# --------------------------------------------------------------------------------------------
# Distances between polygons
# --------------------------------------------------------------------------------------------


def _geometries(name: str, frame: object, centroid: bool) -> tuple[pd.Index, Any]:
    if not isinstance(frame, gpd.GeoDataFrame | gpd.GeoSeries):
        raise DataValidationError(
            f"{name} doit être un GeoDataFrame ou une GeoSeries, reçu {type(frame).__name__}"
        )
    geoseries = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    if frame.crs is None:
        raise DataValidationError(
            f"{name} n'a pas de système de coordonnées (CRS) : le définir, puis projeter en "
            "mètres (to_crs(2154) en métropole)"
        )
    if frame.crs.is_geographic:
        raise DataValidationError(
            f"{name} est en coordonnées géographiques ({frame.crs.to_string()}) : les distances "
            "y seraient en degrés ; projeter d'abord dans un CRS métrique (to_crs(2154) en "
            "métropole, le CRS local outre-mer)"
        )
    index = pd.Index(frame.index)
    _unique_ids(name, index)
    geoms = geoseries.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        raise DataValidationError(
            f"{name} a {int(bad.sum())} géométrie(s) manquante(s) ou vide(s) : "
            f"{_shown([repr(i) for i in index[bad]])}"
        )
    if centroid:
        geoms = shapely.centroid(geoms)
    return index, geoms


def polygon_distances(
    origins: gpd.GeoDataFrame | gpd.GeoSeries,
    destinations: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    max_cost: float | None = None,
    centroid_origins: bool = False,
    centroid_destinations: bool = False,
    origin_col: str = "origin",
    dest_col: str = "dest",
    cost_col: str = "cost",
) -> pd.DataFrame:
    """Euclidean distances between geometries (polygons or points) as a cost table.

    The distance between two polygons is the shortest distance between them (0 when they touch
    or overlap), in the unit of their metric CRS (metres); ``centroid_origins`` /
    ``centroid_destinations`` measure from the centroids instead. This is PySAL access's
    ``Access.create_euclidean_distance(threshold=max_cost, centroid_o=..., centroid_d=...)``
    (demand → supply) and, with ``destinations = origins``,
    ``create_euclidean_distance_neighbors`` (demand → demand, the ``demand_cost_df`` of
    :func:`fca_ratio`): the same distances (shapely's, to the last bit).

    Pairs are found with an STR-tree (``dwithin``), never as a cross join, so a whole country
    at 30 km stays sparse. Differences from access: pairs at distance ``<= max_cost`` are kept
    (access keeps ``< threshold``, and its buffered polygons can miss pairs within a hair of
    the threshold); ``max_cost=None`` keeps every pair (access's default threshold 0 keeps
    none); a geographic or missing CRS is refused (access measures degrees).

    Parameters
    ----------
    origins, destinations : geopandas.GeoDataFrame or geopandas.GeoSeries
        Geometries indexed by unique ids, in the same metric (projected) CRS.
    max_cost : float, optional
        Largest distance kept (≥ 0, CRS units). None keeps every pair (n × m rows).
    centroid_origins, centroid_destinations : bool, default False
        Measure from the centroid of each origin / destination geometry.
    origin_col, dest_col, cost_col : str, default "origin", "dest", "cost"
        Names of the output columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``origin_col`` (ids of ``origins``), ``dest_col`` (ids of ``destinations``)
        and ``cost_col`` (float distance), sorted by origin then destination in the input
        order; ready as the ``cost_df`` of the measures.

    Raises
    ------
    DataValidationError
        If an input has no CRS, a geographic CRS, CRSs that differ, duplicate ids, or missing
        or empty geometries.

    Examples
    --------
    >>> squares = gpd.GeoSeries([shapely.box(0, 0, 10, 10), shapely.box(15, 0, 25, 10)],
    ...                         index=["A", "B"], crs=2154)
    >>> polygon_distances(squares, squares, max_cost=6).to_numpy().tolist()
    [['A', 'A', 0.0], ['A', 'B', 5.0], ['B', 'A', 5.0], ['B', 'B', 0.0]]
    """
    limit = _max_cost(max_cost)
    o_index, o_geoms = _geometries("origins", origins, _flag("centroid_origins", centroid_origins))
    d_index, d_geoms = _geometries(
        "destinations", destinations, _flag("centroid_destinations", centroid_destinations)
    )
    if not origins.crs.equals(destinations.crs):
        raise DataValidationError(
            f"origins ({origins.crs.to_string()}) et destinations "
            f"({destinations.crs.to_string()}) n'ont pas le même CRS : projeter l'un dans "
            "l'autre"
        )
    names = {origin_col, dest_col, cost_col}
    if len(names) != 3:
        raise DataValidationError(
            f"origin_col, dest_col et cost_col doivent différer, reçu {origin_col!r}, "
            f"{dest_col!r}, {cost_col!r}"
        )
    if limit is None:
        rows = np.repeat(np.arange(len(o_geoms), dtype=np.intp), len(d_geoms))
        cols = np.tile(np.arange(len(d_geoms), dtype=np.intp), len(o_geoms))
    else:
        found = shapely.STRtree(d_geoms).query(o_geoms, predicate="dwithin", distance=limit)
        order = np.lexsort((found[1], found[0]))
        rows, cols = found[0][order].astype(np.intp), found[1][order].astype(np.intp)
    distance = np.asarray(shapely.distance(o_geoms[rows], d_geoms[cols]), dtype=np.float64)
    if limit is not None:
        keep = distance <= limit
        rows, cols, distance = rows[keep], cols[keep], distance[keep]
    return pd.DataFrame(
        {
            origin_col: o_index.take(rows),
            dest_col: d_index.take(cols),
            cost_col: distance,
        }
    )
