"""Numeric core of the floating-catchment accessibility measures (2SFCA, E2SFCA, 3SFCA, APL…).

Arrays in, arrays out: demand and supply vectors plus a sparse list of (demand, supply, cost)
pairs; the DataFrame adapter with validation and id mapping lives in :mod:`geo.access`.

Conventions shared by every ``*_core`` function
-----------------------------------------------
* ``demand`` (n,) and ``supply`` (m,) are non-negative floats (population, FTE, consultations).
* A pair ``k`` links demand point ``rows[k]`` to supply point ``cols[k]`` at cost ``cost[k] ≥ 0``.
  A missing pair means "unreachable". A pair of cost 0 (a practitioner in the commune itself) is
  a real pair: weights are computed from the arrays, never from stored sparse zeros.
* A pair is *in reach* when ``cost ≤ max_cost`` (every pair when ``max_cost`` is None), exactly
  like PySAL access (``temp[cost] <= max_cost``).
* Demand point ``i`` with no pair in reach gets NaN; a demand point with pairs in reach whose
  weights are all 0 gets 0 (PySAL access does the same).
* Duplicate pairs add up in the FCA cores (the adapter rejects them). Costs are assumed finite
  and ≥ 0 (the adapter checks them); shapes and index bounds are checked here.
* No runtime warning is emitted for zero population, zero supply or empty inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from scipy.sparse import csc_array, csr_array

from geo.errors import DataValidationError

__all__ = [
    "APL_BANDS",
    "APL_BANDS_2012",
    "APL_UNITS",
    "E2SFCA_DEFAULT_STEPS",
    "THREE_STEP_DEFAULT_STEPS",
    "BandWeights",
    "FloatArray",
    "GaussianWeights",
    "GravityWeights",
    "StepWeights",
    "SupplyUnit",
    "WeightFunction",
    "apl_core",
    "apl_unit",
    "enhanced_two_step_fca_core",
    "gravity_core",
    "kernel_two_step_fca_core",
    "nearest_cost_core",
    "normalize_like_access",
    "standardise_population_core",
    "three_step_fca_core",
    "two_step_fca_core",
]

FloatArray = npt.NDArray[np.float64]
_IndexArray = npt.NDArray[np.int32] | npt.NDArray[np.int64]

#: Weights of the enhanced 2SFCA (Luo & Qi 2009), PySAL access's default: minutes → weight.
E2SFCA_DEFAULT_STEPS: Mapping[float, float] = MappingProxyType({10.0: 1.0, 20.0: 0.68, 30.0: 0.22})
#: Weights of the 3SFCA (Wan, Zou & Sternberg 2012), PySAL access's default: minutes → weight.
THREE_STEP_DEFAULT_STEPS: Mapping[float, float] = MappingProxyType(
    {10.0: 0.962, 20.0: 0.704, 30.0: 0.377, 60.0: 0.042}
)
#: APL distance decay on road travel time (minutes → weight), DREES workbook of the APL for GPs,
#: sheet "Paramètres", rubric "décroissance temps trajet" (editions 2022 and 2023): "Moins de
#: 10 minutes" 1, "Entre 10 et 15 minutes" 0.666667, "Entre 15 et 20 minutes" 0.333333, "Plus
#: de 20 minutes" 0. Read as bands by :class:`BandWeights`: [0, 10) → 1, [10, 15) → 2/3,
#: [15, 20] → 1/3, beyond 20 → 0 (a time of exactly 10 is not "moins de 10 minutes").
APL_BANDS: Mapping[float, float] = MappingProxyType({10.0: 1.0, 15.0: 2.0 / 3.0, 20.0: 1.0 / 3.0})
#: APL distance bands of the 2012 version (Barlet et al. 2012): < 5 min 1, 5–10 min 0.3,
#: 10–15 min 0.1, none beyond 15 min.
APL_BANDS_2012: Mapping[float, float] = MappingProxyType({5.0: 1.0, 10.0: 0.3, 15.0: 0.1})

SupplyUnit = Literal["consultations", "fte", "headcount"]
#: Unit of the APL for each kind of supply, and the factor applied to the raw ratio.
APL_UNITS: Mapping[str, tuple[str, float]] = MappingProxyType(
    {
        "consultations": ("consultations per standardised inhabitant per year", 1.0),
        "fte": ("FTE per 100,000 standardised inhabitants", 100_000.0),
        "headcount": ("practitioners per 100,000 standardised inhabitants", 100_000.0),
    }
)


# --------------------------------------------------------------------------------------------
# Weight functions as data
# --------------------------------------------------------------------------------------------


class WeightFunction(Protocol):
    """Distance-decay weight: maps an array of costs to an array of weights (same shape, ≥ 0)."""

    def __call__(self, cost: FloatArray, /) -> FloatArray:
        """Return the weight of each cost."""
        ...


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise DataValidationError(f"{name} must be a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise DataValidationError(f"{name} must be finite, got {value!r}")
    return out


@dataclass(frozen=True, init=False)
class StepWeights:
    r"""Step weights with PySAL access's ``step_fn`` semantics.

    :math:`f(x) = v_k` for the smallest threshold :math:`k` with :math:`x \le k`, and 0 beyond
    the largest threshold. A cost equal to a threshold therefore belongs to the closer band.

    Parameters
    ----------
    steps : mapping of float to float
        Threshold (same unit as the costs) → weight (finite, ≥ 0). Not empty.

    Examples
    --------
    >>> f = StepWeights({10: 1.0, 20: 0.68, 30: 0.22})
    >>> f(np.array([0.0, 10.0, 10.5, 30.0, 31.0])).tolist()
    [1.0, 1.0, 0.68, 0.22, 0.0]
    """

    thresholds: tuple[float, ...]
    values: tuple[float, ...]

    def __init__(self, steps: Mapping[float, float]) -> None:
        if not isinstance(steps, Mapping) or len(steps) == 0:
            raise DataValidationError(
                f"step weights must be a non-empty mapping threshold → weight, got {steps!r}"
            )
        items = sorted(
            (_finite("step threshold", k), _finite(f"step weight for threshold {k!r}", v))
            for k, v in steps.items()
        )
        negative = [(k, v) for k, v in items if v < 0]
        if negative:
            raise DataValidationError(
                f"step weights must be ≥ 0, got {', '.join(f'{k:g}: {v:g}' for k, v in negative)}"
            )
        object.__setattr__(self, "thresholds", tuple(k for k, _ in items))
        object.__setattr__(self, "values", tuple(v for _, v in items))

    def __call__(self, cost: FloatArray, /) -> FloatArray:
        """Return the weight of each cost."""
        # searchsorted(side="left") is the index of the first threshold k with cost <= k.
        lookup = np.append(np.asarray(self.values, dtype=np.float64), 0.0)
        thresholds = np.asarray(self.thresholds, dtype=np.float64)
        if len(thresholds) > 8:
            return lookup[np.searchsorted(thresholds, cost, side="left")]
        # the same index for a few thresholds: how many lie strictly below the cost (a third
        # of searchsorted's time on the 12 million pairs of all France); NaN sorts last
        c = np.asarray(cost, dtype=np.float64)
        below = np.atleast_1d(np.greater(c, thresholds[0]).astype(np.int8))
        for k in thresholds[1:]:
            below += np.atleast_1d(np.greater(c, k))
        below[np.atleast_1d(np.isnan(c))] = len(thresholds)
        out: FloatArray = lookup[below.reshape(c.shape)]
        return out

    @property
    def max_threshold(self) -> float:
        """Largest threshold: beyond it every weight is 0."""
        return self.thresholds[-1]


@dataclass(frozen=True, init=False)
class BandWeights:
    r"""Distance bands read as the DREES sheet words them: each band includes its lower bound.

    With bounds :math:`b_1 < \dots < b_K` and weights :math:`v_1, \dots, v_K`:
    :math:`f(x) = v_1` for :math:`x < b_1`, :math:`v_k` for :math:`b_{k-1} \le x < b_k`, the
    last band also includes :math:`b_K` ("entre 15 et 20 minutes" holds 20), and 0 beyond.
    This differs from :class:`StepWeights` (PySAL access's ``x <= k``) only for a time equal to
    an inner bound: 10 minutes is "entre 10 et 15 minutes", not "moins de 10 minutes".

    Parameters
    ----------
    bands : mapping of float to float
        Upper bound of each band → weight (finite, ≥ 0). Not empty.

    Examples
    --------
    >>> f = BandWeights({10: 1.0, 15: 0.5, 20: 0.25})
    >>> f(np.array([0.0, 9.99, 10.0, 15.0, 20.0, 20.01])).tolist()
    [1.0, 1.0, 0.5, 0.25, 0.25, 0.0]
    """

    thresholds: tuple[float, ...]
    values: tuple[float, ...]

    def __init__(self, bands: Mapping[float, float]) -> None:
        steps = StepWeights(bands)  # same validation and ordering
        object.__setattr__(self, "thresholds", steps.thresholds)
        object.__setattr__(self, "values", steps.values)

    def __call__(self, cost: FloatArray, /) -> FloatArray:
        """Return the weight of each cost."""
        lookup = np.append(np.asarray(self.values, dtype=np.float64), 0.0)
        thresholds = np.asarray(self.thresholds, dtype=np.float64)
        cost = np.asarray(cost, dtype=np.float64)
        out: FloatArray = lookup[np.searchsorted(thresholds, cost, side="right")]
        out[cost == thresholds[-1]] = self.values[-1]
        return out

    @property
    def max_threshold(self) -> float:
        """Largest bound: beyond it every weight is 0."""
        return self.thresholds[-1]


@dataclass(frozen=True)
class GaussianWeights:
    r"""Unnormalised Gaussian kernel, as PySAL access's ``gaussian``.

    :math:`f(x) = \exp(-x^2 / (2\sigma^2))`, so :math:`f(0) = 1`.

    Parameters
    ----------
    sigma : float
        Kernel width, same unit as the costs, > 0.
    """

    sigma: float

    def __post_init__(self) -> None:
        if _finite("sigma", self.sigma) <= 0:
            raise DataValidationError(f"sigma must be > 0, got {self.sigma!r}")

    def __call__(self, cost: FloatArray, /) -> FloatArray:
        """Return the weight of each cost."""
        return np.exp(-(cost * cost) / (2.0 * float(self.sigma) ** 2))


@dataclass(frozen=True)
class GravityWeights:
    r"""Power-law weight, as PySAL access's ``gravity(scale, alpha, min_dist)``.

    :math:`f(x) = (\max(x, x_\min) / s)^\alpha`. ``alpha`` is *not* implicitly negative: use
    ``alpha=-1`` for a classic :math:`1/d` decay. With ``alpha < 0`` and ``min_dist = 0`` a
    zero cost gives an infinite weight, which the cores reject: set ``min_dist > 0``.

    Parameters
    ----------
    scale : float
        Scale :math:`s` (> 0), same unit as the costs.
    alpha : float
        Exponent :math:`\alpha`.
    min_dist : float, default 0
        Floor :math:`x_\min` (≥ 0) applied to the cost before scaling.
    """

    scale: float
    alpha: float
    min_dist: float = 0.0

    def __post_init__(self) -> None:
        if _finite("scale", self.scale) <= 0:
            raise DataValidationError(f"scale must be > 0, got {self.scale!r}")
        _finite("alpha", self.alpha)
        if _finite("min_dist", self.min_dist) < 0:
            raise DataValidationError(f"min_dist must be ≥ 0, got {self.min_dist!r}")

    def __call__(self, cost: FloatArray, /) -> FloatArray:
        """Return the weight of each cost (inf for 0 ** negative, without a warning)."""
        base = np.maximum(cost, float(self.min_dist)) / float(self.scale)
        with np.errstate(divide="ignore"):
            return np.power(base, float(self.alpha))


# --------------------------------------------------------------------------------------------
# Shared plumbing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pairs:
    n: int
    m: int
    rows: _IndexArray
    cols: _IndexArray
    cost: FloatArray


def _as_vector(name: str, values: npt.ArrayLike) -> FloatArray:
    out = np.asarray(values, dtype=np.float64)
    if out.ndim != 1:
        raise DataValidationError(f"{name} must be one-dimensional, got shape {out.shape}")
    return out


def _pairs(n: int, m: int, rows: npt.ArrayLike, cols: npt.ArrayLike, cost: npt.ArrayLike) -> _Pairs:
    rows_a, cols_a = np.asarray(rows), np.asarray(cols)
    cost_a = _as_vector("cost", cost)
    for name, arr in (("rows", rows_a), ("cols", cols_a)):
        if arr.ndim != 1 or arr.shape != cost_a.shape:
            raise DataValidationError(
                f"{name} must be one-dimensional like cost {cost_a.shape}, got shape {arr.shape}"
            )
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise DataValidationError(f"{name} must hold integer positions, got {arr.dtype}")
    for name, arr, bound in (("rows", rows_a, n), ("cols", cols_a, m)):
        if arr.size and (arr.min() < 0 or arr.max() >= bound):
            raise DataValidationError(
                f"{name} holds positions outside [0, {bound}): min {arr.min()}, max {arr.max()}"
            )
    # int32 indices halve the memory traffic of the sparse products when they fit; positions
    # already in the right dtype are used as they are (no copy of millions of pairs).
    if max(n, m, cost_a.size) < np.iinfo(np.int32).max:
        return _Pairs(
            n, m, rows_a.astype(np.int32, copy=False), cols_a.astype(np.int32, copy=False), cost_a
        )
    return _Pairs(
        n, m, rows_a.astype(np.int64, copy=False), cols_a.astype(np.int64, copy=False), cost_a
    )


def _finite_or_inf(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise DataValidationError(f"{name} must be a real number or None, got {value!r}")
    out = float(value)
    if math.isnan(out):
        raise DataValidationError(f"{name} must not be NaN")
    return out


def _weights(fn: WeightFunction | None, cost: FloatArray) -> FloatArray:
    if fn is None:
        return np.ones_like(cost)
    out = np.asarray(fn(cost), dtype=np.float64)
    if out.shape != cost.shape:
        raise DataValidationError(
            f"weight function {fn!r} returned shape {out.shape} for costs of shape {cost.shape}"
        )
    # Two reductions, no temporary array, in the usual case (NaN fails both comparisons).
    if out.size == 0 or (out.min() >= 0 and out.max() < np.inf):
        return out
    bad = ~(np.isfinite(out) & (out >= 0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"weight function {fn!r} returned {int(bad.sum())} non-finite or negative weight(s), "
            f"e.g. {out[first]!r} for cost {cost[first]!r}; weights must be finite and ≥ 0 "
            "(gravity with alpha < 0 needs min_dist > 0 when some costs are 0)"
        )
    return out


def _in_reach(pairs: _Pairs, max_cost: float | None) -> npt.NDArray[np.bool_] | None:
    """Mask of the pairs with ``cost <= max_cost`` (None: every pair)."""
    if max_cost is None:
        return None
    return pairs.cost <= _finite_or_inf("max_cost", max_cost)


def _subset(pairs: _Pairs, keep: npt.NDArray[np.bool_] | None) -> _Pairs:
    if keep is None or keep.all():
        return pairs
    return _Pairs(pairs.n, pairs.m, pairs.rows[keep], pairs.cols[keep], pairs.cost[keep])


_CHUNK = 1 << 18  # pairs per block in the sparse products: small temporaries, cache-friendly


def _sum_by(
    index: _IndexArray,
    values: FloatArray | None,
    size: int,
    *,
    gather: FloatArray | None = None,
    by: _IndexArray | None = None,
) -> FloatArray:
    r"""Sparse matrix-vector product in pair (COO) form: ``out[k] = Σ_{p: index[p] = k} v[p]``.

    ``v[p]`` is ``values[p]`` (1 when None), times ``gather[by[p]]`` when ``gather`` is given:
    the product ``W @ x`` or ``Wᵀ @ x`` without building a CSR matrix (which would sort
    millions of pairs for two products only). The pairs are added in their order, block by
    block, with ``np.add.at``: the same additions in the same order as
    ``np.bincount(index, weights=v)``, so the same result to the last bit, with temporaries of
    one block instead of the whole pair list (and no conversion of int32 indices to intp).
    """
    out = np.zeros(size, dtype=np.float64)
    total = index.size
    for start in range(0, total, _CHUNK):
        stop = min(start + _CHUNK, total)
        if gather is None or by is None:
            block = np.ones(stop - start) if values is None else values[start:stop]
        elif values is None:
            block = gather[by[start:stop].astype(np.intp, copy=False)]
        else:
            block = gather[by[start:stop].astype(np.intp, copy=False)] * values[start:stop]
        # intp indices: ufunc.at's fast path is a third quicker than with int32 ones
        np.add.at(out, index[start:stop].astype(np.intp, copy=False), block)
    return out


def _with_nan(values: FloatArray, pairs: _Pairs, empty: float = 0.0) -> FloatArray:
    """Set NaN where a demand point has no pair (in ``pairs``, already cut at max_cost).

    ``empty`` is the value a demand point without pair gets from the reduction (0 for a sum,
    inf for a minimum): a point with another value has a pair, so the pairs are counted only
    when some value equals ``empty`` (a sum of non-negative terms that happens to be 0).
    """
    candidates = np.flatnonzero(values == empty)
    if candidates.size == 0:
        return values
    if candidates.size > pairs.n // 8:
        values[np.bincount(pairs.rows, minlength=pairs.n) == 0] = np.nan
        return values
    # Few candidates: one boolean gather over the pairs instead of counting every row's pairs.
    asked = np.zeros(pairs.n, dtype=bool)
    asked[candidates] = True
    has_pair = np.zeros(pairs.n, dtype=bool)
    has_pair[pairs.rows[asked[pairs.rows]]] = True
    values[candidates[~has_pair[candidates]]] = np.nan
    return values


def _two_step(
    demand: FloatArray, supply: FloatArray, pairs: _Pairs, w: FloatArray | None
) -> FloatArray:
    # R_j = S_j / Σ_i P_i W_ij; a supply with zero weighted demand is not distributed (R_j = 0).
    # w None means W_ij = 1 (P_i * 1.0 is P_i exactly: same values as a vector of ones).
    weighted_demand = _sum_by(pairs.cols, w, pairs.m, gather=demand, by=pairs.rows)
    ratio = np.zeros_like(weighted_demand)
    np.divide(supply, weighted_demand, out=ratio, where=weighted_demand > 0)
    return _sum_by(pairs.rows, w, pairs.n, gather=ratio, by=pairs.cols)


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------


def two_step_fca_core(
    demand: npt.ArrayLike,
    supply: npt.ArrayLike,
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    cost: npt.ArrayLike,
    *,
    weights: WeightFunction | None = None,
    max_cost: float | None = None,
) -> FloatArray:
    r"""Two-step floating catchment area (Luo & Wang 2003), weighted in both steps.

    With :math:`W_{ij} = f(c_{ij})` for pairs in reach (:math:`c_{ij} \le` ``max_cost``), 0
    otherwise (:math:`f \equiv 1` when ``weights`` is None):

    .. math::

        R_j = \frac{S_j}{\sum_i P_i W_{ij}}, \qquad A_i = \sum_j R_j W_{ij}.

    :math:`R_j = 0` when :math:`\sum_i P_i W_{ij} = 0` (supply nobody can use; PySAL access
    gives ``inf`` to the demand points reaching such a supply with a positive weight).
    :math:`A_i` is NaN when demand point ``i`` has no pair in reach. When every supply with
    :math:`S_j > 0` has a positive weighted demand, :math:`\sum_i P_i A_i = \sum_j S_j`.

    Parameters
    ----------
    demand : array (n,)
        Population :math:`P_i` (≥ 0).
    supply : array (m,)
        Capacity :math:`S_j` (≥ 0).
    rows, cols : int arrays (k,)
        Positions of each pair's demand and supply point.
    cost : float array (k,)
        Cost of each pair (≥ 0).
    weights : WeightFunction, optional
        Distance decay :math:`f`, applied in both steps. None means 1.
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are ignored. None keeps every pair.

    Returns
    -------
    numpy.ndarray (n,)
        :math:`A_i`, same value as PySAL access's ``two_stage_fca`` column.

    Examples
    --------
    >>> two_step_fca_core([100.0, 300.0], [2.0], [0, 1], [0, 0], [0.0, 5.0]).tolist()
    [0.005, 0.005]
    """
    p, s = _as_vector("demand", demand), _as_vector("supply", supply)
    pairs = _pairs(p.size, s.size, rows, cols, cost)
    return _two_step_fca_checked(p, s, pairs, weights=weights, max_cost=max_cost)


def _two_step_fca_checked(
    demand: FloatArray,
    supply: FloatArray,
    pairs: _Pairs,
    *,
    weights: WeightFunction | None,
    max_cost: float | None,
) -> FloatArray:
    """:func:`two_step_fca_core` on inputs already checked (shapes, positions in bounds).

    For :mod:`geo.access`, which validates millions of pairs once: the checks of
    :func:`_pairs` would read them again.
    """
    reach = _subset(pairs, _in_reach(pairs, max_cost))
    w = None if weights is None else _weights(weights, reach.cost)
    return _with_nan(_two_step(demand, supply, reach, w), reach)


@dataclass(frozen=True)
class _Grouped:
    """Pairs grouped by demand point (CSR, ``by_row``) or by supply point (CSC).

    ``indptr`` are the group starts, ``minor`` the other end of each pair (supply positions
    when grouped by row), ``cost`` the pairs' costs in that order. :mod:`geo.access` builds it
    with the counting sort of its duplicate check, so the products need no other sort.
    """

    n: int
    m: int
    indptr: npt.NDArray[np.integer[Any]]
    minor: npt.NDArray[np.integer[Any]]
    cost: FloatArray
    by_row: bool
    #: ``cost`` is a private copy (made by the grouping), not the caller's array.
    owns_cost: bool = False

    def matrix(self, data: FloatArray) -> csr_array | csc_array:
        """Build the (n × m) sparse matrix of ``data`` (one value per pair, in this order)."""
        arrays = (data, self.minor, self.indptr)
        if self.by_row:
            return csr_array(arrays, shape=(self.n, self.m), copy=False)
        return csc_array(arrays, shape=(self.n, self.m), copy=False)

    def rows_with_pair(self, keep: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.bool_]:
        """Whether each demand point has a pair (among ``keep``; None: every pair)."""
        if self.by_row:
            if keep is None:
                return np.diff(self.indptr) > 0
            kept = np.zeros(keep.size + 1, dtype=np.int64)
            np.cumsum(keep, out=kept[1:])
            has_pair: npt.NDArray[np.bool_] = kept[self.indptr[1:]] > kept[self.indptr[:-1]]
            return has_pair
        has = np.zeros(self.n, dtype=bool)
        has[self.minor if keep is None else self.minor[keep]] = True
        return has


def _two_step_fca_grouped(
    demand: FloatArray,
    supply: FloatArray,
    grouped: _Grouped,
    *,
    weights: WeightFunction | None,
    max_cost: float | None,
    consume: bool = False,
) -> FloatArray:
    """:func:`two_step_fca_core` on checked pairs grouped by :mod:`geo.access`.

    The same sums as the pair form: :math:`R = S / (W^T P)` and :math:`A = W R` as sparse
    matrix-vector products (scipy's compiled CSR/CSC kernels, no scatter of millions of pairs
    from Python). Grouped by row, each :math:`A_i` adds its pairs in their input order, like
    the pair form; the sums per supply point add them by increasing demand position (the last
    bits may differ from the pair form's order). ``consume``: the caller drops ``grouped``
    after the call, so a private ``grouped.cost`` may hold the weights (one array less).
    """
    keep = None if max_cost is None else grouped.cost <= _finite_or_inf("max_cost", max_cost)
    if keep is not None and keep.all():
        keep = None
    if weights is None:
        if consume and grouped.owns_cost:
            data = grouped.cost
            if keep is None:
                data.fill(1.0)
            else:
                np.copyto(data, keep)
        else:
            data = np.ones(grouped.cost.size) if keep is None else keep.astype(np.float64)
    elif keep is None:
        data = _weights(weights, grouped.cost)
    else:  # weights of the pairs in reach only, as the pair form: 0 beyond max_cost
        data = np.zeros(grouped.cost.size)
        data[keep] = _weights(weights, grouped.cost[keep])
    w = grouped.matrix(data)
    weighted_demand = np.asarray(w.T @ demand, dtype=np.float64)
    ratio = np.zeros_like(weighted_demand)
    np.divide(supply, weighted_demand, out=ratio, where=weighted_demand > 0)
    values = np.asarray(w @ ratio, dtype=np.float64)
    candidates = np.flatnonzero(values == 0)  # a positive sum has a pair; 0 may have none
    if candidates.size:
        values[candidates[~grouped.rows_with_pair(keep)[candidates]]] = np.nan
    return values


def enhanced_two_step_fca_core(
    demand: npt.ArrayLike,
    supply: npt.ArrayLike,
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    cost: npt.ArrayLike,
    *,
    steps: Mapping[float, float] | StepWeights = E2SFCA_DEFAULT_STEPS,
    max_cost: float | None = None,
) -> FloatArray:
    r"""Enhanced 2SFCA (Luo & Qi 2009): :func:`two_step_fca_core` with step weights.

    :math:`W_{ij} = v_k` for the first threshold :math:`k` with :math:`c_{ij} \le k`, 0 beyond
    the last one; the same weight applies in both steps, as in PySAL access's
    ``enhanced_two_stage_fca`` (default ``{10: 1, 20: 0.68, 30: 0.22}``).

    Parameters
    ----------
    demand, supply, rows, cols, cost
        See :func:`two_step_fca_core`.
    steps : mapping or StepWeights, default E2SFCA_DEFAULT_STEPS
        Threshold → weight.
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are ignored (None, like access: every pair counts, and a
        demand point whose pairs all lie beyond the last threshold gets 0, not NaN).

    Returns
    -------
    numpy.ndarray (n,)
        :math:`A_i`.
    """
    fn = steps if isinstance(steps, StepWeights) else StepWeights(steps)
    return two_step_fca_core(demand, supply, rows, cols, cost, weights=fn, max_cost=max_cost)


def kernel_two_step_fca_core(
    demand: npt.ArrayLike,
    supply: npt.ArrayLike,
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    cost: npt.ArrayLike,
    *,
    sigma: float,
    max_cost: float | None = None,
) -> FloatArray:
    r"""Kernel-density 2SFCA with a Gaussian kernel in both steps.

    :math:`W_{ij} = \exp(-c_{ij}^2 / 2\sigma^2)` for pairs in reach, then
    :func:`two_step_fca_core`. Same value as PySAL access's
    ``two_stage_fca(weight_fn=weights.gaussian(sigma))``. This is the plain (untruncated)
    Gaussian: :math:`f(\text{max\_cost}) > 0`, so the catchment edge is a hard cut.

    Parameters
    ----------
    demand, supply, rows, cols, cost
        See :func:`two_step_fca_core`.
    sigma : float
        Kernel width (> 0), same unit as the costs.
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are ignored.

    Returns
    -------
    numpy.ndarray (n,)
        :math:`A_i`.
    """
    return two_step_fca_core(
        demand, supply, rows, cols, cost, weights=GaussianWeights(sigma), max_cost=max_cost
    )


def three_step_fca_core(
    demand: npt.ArrayLike,
    supply: npt.ArrayLike,
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    cost: npt.ArrayLike,
    *,
    weights: WeightFunction | None = None,
    max_cost: float | None = None,
) -> FloatArray:
    r"""Three-step floating catchment area (Wan, Zou & Sternberg 2012), as PySAL access.

    Selection weights are normalised over **all** pairs of origin ``i`` given here, *before*
    the ``max_cost`` cut (PySAL access computes them on its whole cost table):

    .. math::

        G_{ij} = \frac{f(c_{ij})}{\sum_{k} f(c_{ik})}, \qquad
        R_j = \frac{S_j}{\sum_i P_i G_{ij} f(c_{ij})}, \qquad
        A_i = \sum_j R_j G_{ij} f(c_{ij}),

    the last two sums over pairs in reach. :math:`G_{ij} = 0` when :math:`\sum_k f(c_{ik}) = 0`
    (access gets NaN there, which its sums skip). Consequence: the result depends on the pairs
    passed *beyond* ``max_cost``; pass the same pairs as to access to get the same values.

    Parameters
    ----------
    demand, supply, rows, cols, cost
        See :func:`two_step_fca_core`.
    weights : WeightFunction, optional
        :math:`f`; default ``StepWeights(THREE_STEP_DEFAULT_STEPS)`` like access.
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are ignored in the two ratio steps.

    Returns
    -------
    numpy.ndarray (n,)
        :math:`A_i`, NaN for demand points with no pair in reach.
    """
    p, s = _as_vector("demand", demand), _as_vector("supply", supply)
    pairs = _pairs(p.size, s.size, rows, cols, cost)
    fn = StepWeights(THREE_STEP_DEFAULT_STEPS) if weights is None else weights
    w_all = _weights(fn, pairs.cost)
    row_total = np.bincount(pairs.rows, weights=w_all, minlength=pairs.n)[pairs.rows]
    selection = np.zeros_like(w_all)
    np.divide(w_all, row_total, out=selection, where=row_total > 0)
    keep = _in_reach(pairs, max_cost)
    reach = _subset(pairs, keep)
    effective = selection * w_all if keep is None else (selection * w_all)[keep]
    return _with_nan(_two_step(p, s, reach, effective), reach)


def gravity_core(
    demand: npt.ArrayLike,
    supply: npt.ArrayLike,
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    cost: npt.ArrayLike,
    *,
    scale: float,
    alpha: float,
    min_dist: float = 0.0,
    max_cost: float | None = None,
) -> FloatArray:
    r"""Hansen gravity potential, as PySAL access's ``weighted_catchment`` with ``gravity``.

    .. math::

        A_i = \sum_{j:\,c_{ij} \le \text{max\_cost}} S_j
              \left(\frac{\max(c_{ij}, x_\min)}{s}\right)^{\alpha}

    There is **no** demand-side competition term (no division by a population potential
    :math:`\sum_k P_k f(c_{kj})`): access's gravity is the plain supply potential. ``demand`` is
    only used for its length (and by the adapter for ``normalize``).

    Parameters
    ----------
    demand, supply, rows, cols, cost
        See :func:`two_step_fca_core`.
    scale, alpha, min_dist : float
        See :class:`GravityWeights`.
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are ignored.

    Returns
    -------
    numpy.ndarray (n,)
        :math:`A_i`, NaN for demand points with no pair in reach.
    """
    p, s = _as_vector("demand", demand), _as_vector("supply", supply)
    pairs = _pairs(p.size, s.size, rows, cols, cost)
    reach = _subset(pairs, _in_reach(pairs, max_cost))
    w = _weights(GravityWeights(scale, alpha, min_dist), reach.cost)
    return _with_nan(_sum_by(reach.rows, w, reach.n, gather=s, by=reach.cols), reach)


def nearest_cost_core(
    demand: npt.ArrayLike,
    supply: npt.ArrayLike,
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    cost: npt.ArrayLike,
    *,
    max_cost: float | None = None,
    positive_supply_only: bool = True,
) -> FloatArray:
    r"""Cost to the nearest supply point: :math:`N_i = \min_{j \text{ in reach}} c_{ij}`.

    Parameters
    ----------
    demand, supply, rows, cols, cost
        See :func:`two_step_fca_core`; ``demand`` is only used for its length.
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are ignored.
    positive_supply_only : bool, default True
        Ignore pairs to supply points with :math:`S_j = 0` (a site without practitioner).

    Returns
    -------
    numpy.ndarray (n,)
        :math:`N_i`, NaN when demand point ``i`` has no (eligible) pair in reach.

    Examples
    --------
    >>> nearest_cost_core([1.0, 1.0], [1.0, 0.0], [0, 0, 1], [0, 1, 1], [7.0, 3.0, 1.0]).tolist()
    [7.0, nan]
    """
    p, s = _as_vector("demand", demand), _as_vector("supply", supply)
    pairs = _pairs(p.size, s.size, rows, cols, cost)
    keep = _in_reach(pairs, max_cost)
    if positive_supply_only:
        positive = s[pairs.cols] > 0
        keep = positive if keep is None else keep & positive
    reach = _subset(pairs, keep)
    nearest = np.full(reach.n, np.inf)
    np.minimum.at(nearest, reach.rows, reach.cost)
    return _with_nan(nearest, reach, np.inf)


def apl_core(
    demand: npt.ArrayLike,
    supply: npt.ArrayLike,
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    cost: npt.ArrayLike,
    *,
    bands: Mapping[float, float] | StepWeights | BandWeights = APL_BANDS,
    max_cost: float | None = None,
    supply_unit: SupplyUnit = "consultations",
) -> FloatArray:
    r"""French APL (accessibilité potentielle localisée, DREES / IRDES): an E2SFCA on minutes.

    With :math:`W_{ij}` the band weight of the road time :math:`t_{ij}` between commune
    :math:`i` and the commune of supply :math:`j` (weights in both steps):

    .. math::

        \text{APL}_i = u \sum_j W_{ij} \frac{S_j}{\sum_k \tilde P_k W_{kj}}

    * :math:`S_j`: yearly consultations and visits (``supply_unit="consultations"``, the DREES
      GP indicator, :math:`u = 1`, unit "consultations per standardised inhabitant per year"), or
      FTE / headcount (``"fte"`` / ``"headcount"``, :math:`u = 100\,000`, unit "FTE per 100,000
      standardised inhabitants"); see :data:`APL_UNITS`.
    * :math:`\tilde P_k`: population, or age-standardised population (see
      :func:`standardise_population_core`) when an age-consumption weighting is used.
    * Bands as DREES's parameter sheet words them (:class:`BandWeights`, each band includes its
      lower bound): :data:`APL_BANDS` gives 1 for :math:`t < 10`, 2/3 for
      :math:`10 \le t < 15`, 1/3 for :math:`15 \le t \le 20`, 0 beyond (DREES workbook of
      the APL for GPs, sheet "Paramètres", editions 2022 and 2023); :data:`APL_BANDS_2012`
      (Barlet, Coldefy, Collin & Lucas-Gabrielli 2012, Études et Résultats 795 / IRDES DT 51)
      gives 1 for :math:`t < 5`, 0.3 for :math:`5 \le t < 10`, 0.1 for
      :math:`10 \le t \le 15`. A :class:`StepWeights` keeps PySAL access's ``t <= k``.

    Parameters
    ----------
    demand, supply, rows, cols, cost
        See :func:`two_step_fca_core`; ``cost`` in minutes by road.
    bands : mapping, BandWeights or StepWeights, default APL_BANDS
        Upper bound in minutes → weight.
    max_cost : float, optional
        Catchment in minutes; default the last band's bound (20 min). A commune with no supply
        pair within it gets NaN here, like access (DREES publishes 0 there, as
        :func:`geo.analysis.analyse` does).
    supply_unit : {"consultations", "fte", "headcount"}, default "consultations"
        Unit of ``supply``, which fixes the output unit.

    Returns
    -------
    numpy.ndarray (n,)
        APL of each demand point.
    """
    _, factor = apl_unit(supply_unit)
    fn = bands if isinstance(bands, StepWeights | BandWeights) else BandWeights(bands)
    catchment = fn.max_threshold if max_cost is None else max_cost
    ratio = two_step_fca_core(demand, supply, rows, cols, cost, weights=fn, max_cost=catchment)
    return ratio * factor


def apl_unit(supply_unit: str) -> tuple[str, float]:
    """Return the APL's unit label and scale factor for a kind of supply (see APL_UNITS).

    Raises
    ------
    DataValidationError
        If ``supply_unit`` is not one of ``"consultations"``, ``"fte"``, ``"headcount"``.
    """
    if supply_unit not in APL_UNITS:
        raise DataValidationError(
            f"supply_unit must be one of {', '.join(map(repr, APL_UNITS))}; got {supply_unit!r}"
        )
    return APL_UNITS[supply_unit]


def standardise_population_core(
    population_by_band: npt.ArrayLike, consumption_weights: npt.ArrayLike
) -> FloatArray:
    r"""Age-standardised population whose total equals the raw total.

    .. math::

        \tilde P_i = \Big(\sum_b P_{ib} c_b\Big)
                     \frac{\sum_{i,b} P_{ib}}{\sum_{i,b} P_{ib} c_b}

    Parameters
    ----------
    population_by_band : array (n, B)
        Population of each demand point by age band (≥ 0).
    consumption_weights : array (B,)
        Relative consumption of care per inhabitant of each band (≥ 0), e.g. mean yearly GP
        consultations by age; only their ratios matter.

    Returns
    -------
    numpy.ndarray (n,)
        :math:`\tilde P_i`; :math:`\sum_i \tilde P_i = \sum_{i,b} P_{ib}` over the rows given
        (pass all of France to standardise nationally).

    Examples
    --------
    >>> standardise_population_core([[10.0, 0.0], [0.0, 10.0]], [1.0, 3.0]).tolist()
    [5.0, 15.0]
    """
    pop = np.asarray(population_by_band, dtype=np.float64)
    weights = np.asarray(consumption_weights, dtype=np.float64)
    if pop.ndim != 2:
        raise DataValidationError(
            f"population_by_band must be two-dimensional (points × age bands), got {pop.shape}"
        )
    if weights.shape != (pop.shape[1],):
        raise DataValidationError(
            f"consumption_weights must hold one weight per age band ({pop.shape[1]}), "
            f"got shape {weights.shape}"
        )
    for name, arr in (("population_by_band", pop), ("consumption_weights", weights)):
        if not np.all(np.isfinite(arr) & (arr >= 0)):
            raise DataValidationError(f"{name} must be finite and ≥ 0")
    weighted = pop @ weights
    weighted_total = float(weighted.sum())
    if weighted_total <= 0:
        raise DataValidationError(
            "age-weighted population is 0 in total: cannot standardise "
            "(all populations or all consumption weights are 0)"
        )
    return weighted * (float(pop.sum()) / weighted_total)


def normalize_like_access(values: npt.ArrayLike, demand: npt.ArrayLike) -> FloatArray:
    r"""Divide by the population-weighted mean, exactly as PySAL access's ``normalize=True``.

    .. math::

        \bar A = \frac{\sum_{i:\,A_i \ne \text{NaN}} P_i A_i}{\sum_{i} P_i}, \qquad
        A_i^{\text{norm}} = A_i / \bar A

    The denominator counts the population of **every** demand point, NaN ones included (pandas
    skips NaN in the numerator only), so unreachable population pulls the mean down. When
    :math:`\bar A` is 0 or undefined the result holds NaN / inf as in access, without warnings.

    Parameters
    ----------
    values : array (n,)
        Raw accessibility :math:`A_i`.
    demand : array (n,)
        Population :math:`P_i`.

    Returns
    -------
    numpy.ndarray (n,)
        Normalised accessibility (population-weighted mean 1 over the reachable points when
        nothing is NaN).
    """
    a, p = _as_vector("values", values), _as_vector("demand", demand)
    if a.shape != p.shape:
        raise DataValidationError(f"values {a.shape} and demand {p.shape} must have one shape")
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.float64(p.sum())
        mean = np.nansum(a * p) / total
        return np.asarray(a / mean, dtype=np.float64)
