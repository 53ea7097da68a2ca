"""Floating-catchment accessibility of health care (2SFCA, E2SFCA, 3SFCA, gravity, APL).

DataFrame adapter over :mod:`geo._fca`, with inputs shaped like PySAL access (demand and supply
frames indexed by id, a long cost table): it validates once, maps ids to positions and calls
the vectorised core.

Shared conventions
------------------
* ``demand_df`` is indexed by demand id (commune code), ``supply_df`` by supply id; ``cost_df``
  holds one row per reachable (origin, dest) pair: ``origin_col`` are demand ids, ``dest_col``
  supply ids, ``cost_col`` the travel cost (≥ 0, finite). A missing pair means unreachable; a
  pair of cost 0 (practitioner in the commune itself) is a real pair.
* A pair is in reach when ``cost <= max_cost`` (every pair when ``max_cost`` is None).
* The result is a :class:`pandas.Series` indexed like ``demand_df`` (same order), NaN for
  demand points with no pair in reach, exactly where PySAL access puts NaN.
* ``normalize=True`` divides by the population-weighted mean exactly as access does (see
  :func:`geo._fca.normalize_like_access`): ``A / (Σ_{A_i not NaN} P_i A_i / Σ_all P_i)``.
* Cost rows whose origin is not in ``demand_df.index`` or whose dest is not in
  ``supply_df.index`` are ignored, as PySAL access does (a regional matrix, a subset of the
  demand), and counted in the result's ``attrs["ignored_cost_rows"]`` (``{"origin": n_o,
  "dest": n_d}``); ``strict_ids=True`` refuses them instead. A cost table none of whose rows
  links a known origin to a known dest is always refused.
* Errors in the inputs raise :class:`~geo.errors.DataValidationError` naming the argument, the
  bad values and their ids: missing column, non-numeric / NaN / negative / infinite values,
  duplicate ids, duplicate (origin, dest) pairs among the rows kept, unknown ids (with
  ``strict_ids=True``), empty frames.
* Validation is linear in the number of cost rows: integer ids go through a dense lookup table
  when their range is compact, strings are hashed once per distinct id, and duplicate pairs
  are found by two counting sorts, not a comparison sort.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NoReturn, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_array

from geo._fca import (
    APL_BANDS,
    APL_BANDS_2012,
    APL_UNITS,
    E2SFCA_DEFAULT_STEPS,
    THREE_STEP_DEFAULT_STEPS,
    BandWeights,
    FloatArray,
    GaussianWeights,
    GravityWeights,
    StepWeights,
    SupplyUnit,
    WeightFunction,
    _Grouped,
    _two_step_fca_grouped,
    apl_core,
    apl_unit,
    gravity_core,
    kernel_two_step_fca_core,
    nearest_cost_core,
    normalize_like_access,
    standardise_population_core,
    three_step_fca_core,
)
from geo.errors import DataValidationError

_csr_count_blocks: Callable[..., int] | None
try:  # C++ "distinct (row, col) blocks" counter of CSR matrices; private, hence the fallback
    from scipy.sparse._sparsetools import csr_count_blocks as _csr_count_blocks
except ImportError:  # pragma: no cover - depends on the scipy version
    _csr_count_blocks = None

__all__ = [
    "APL_BANDS",
    "APL_BANDS_2012",
    "APL_UNITS",
    "E2SFCA_DEFAULT_STEPS",
    "THREE_STEP_DEFAULT_STEPS",
    "BandWeights",
    "GaussianWeights",
    "GravityWeights",
    "StepWeights",
    "WeightFunction",
    "WeightSpec",
    "apl",
    "enhanced_two_step_fca",
    "gravity",
    "kernel_two_step_fca",
    "nearest_cost",
    "standardise_population",
    "three_step_fca",
    "two_step_fca",
]

#: A weight function, or a mapping threshold → weight read as :class:`StepWeights`.
WeightSpec = WeightFunction | Mapping[float, float]

_SHOWN = 5  # how many offending ids an error message lists


# --------------------------------------------------------------------------------------------
# Boundary validation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    """Validated inputs as arrays: the core's arguments."""

    index: pd.Index
    demand: FloatArray
    supply: FloatArray
    rows: npt.NDArray[np.integer[Any]]
    cols: npt.NDArray[np.integer[Any]]
    cost: FloatArray
    #: The same pairs grouped by the duplicate check (what the 2SFCA products read).
    grouped: _Grouped
    #: Positions in ``cost_df`` of the rows kept (None: every row).
    kept: npt.NDArray[np.intp] | None = None
    #: Rows of ``cost_df`` ignored because their origin / dest id is unknown.
    ignored: tuple[int, int] = (0, 0)

    def without_pairs(self) -> _Problem:
        """Drop the pairs (flat and grouped) from the problem, so the caller can free them."""
        none = np.empty(0, dtype=np.int32)
        empty = _Grouped(self.grouped.n, self.grouped.m, none, none, np.empty(0), True)
        return replace(self, rows=none, cols=none, cost=np.empty(0), grouped=empty)

    @property
    def arrays(
        self,
    ) -> tuple[
        FloatArray,
        FloatArray,
        npt.NDArray[np.integer[Any]],
        npt.NDArray[np.integer[Any]],
        FloatArray,
    ]:
        """``(demand, supply, rows, cols, cost)``, the positional arguments of every core."""
        return self.demand, self.supply, self.rows, self.cols, self.cost


def _shown(items: Sequence[str]) -> str:
    more = f" (and {len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def _shown_fr(items: Sequence[str]) -> str:
    more = f" (et {len(items) - _SHOWN} autres)" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def _check_frame(name: str, frame: object) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    if len(frame) == 0:
        raise DataValidationError(f"{name} is empty: nothing to compute")
    return frame


def _check_column(frame_name: str, frame: pd.DataFrame, arg: str, column: Hashable) -> None:
    if column not in frame.columns:
        columns = _shown([repr(c) for c in frame.columns])
        raise DataValidationError(
            f"{arg}={column!r} is not a column of {frame_name}; its columns are: {columns}"
        )


def _check_ids(frame_name: str, frame: pd.DataFrame) -> None:
    index = frame.index
    if index.hasnans:
        raise DataValidationError(f"{frame_name}.index has missing id(s): every row needs an id")
    if not index.is_unique:
        dupes = index[index.duplicated()].unique()
        raise DataValidationError(
            f"{frame_name}.index has {len(dupes)} duplicate id(s): "
            f"{_shown([repr(d) for d in dupes])}"
        )


def _numeric(label: str, series: pd.Series) -> FloatArray:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise DataValidationError(
            f"{label} must be numeric, got dtype {series.dtype} (convert with pd.to_numeric)"
        )
    if series.dtype == np.float64:
        # NaN is already NaN: no na_value, which would copy the column.
        return np.asarray(series.to_numpy(), dtype=np.float64)
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _all_finite_non_negative(values: FloatArray) -> bool:
    # Two reductions and no temporary array on millions of costs; NaN fails both comparisons.
    return values.size == 0 or bool(values.min() >= 0 and values.max() < np.inf)


def _amounts(frame_name: str, frame: pd.DataFrame, column: Hashable) -> FloatArray:
    label = f"{frame_name}[{column!r}]"
    values = _numeric(label, frame[column])
    if _all_finite_non_negative(values):
        return values
    bad = ~(np.isfinite(values) & (values >= 0))
    shown = [
        f"id {i!r}: {v!r}" for i, v in zip(frame.index[bad], values[bad].tolist(), strict=True)
    ]
    raise DataValidationError(
        f"{label} must be finite and ≥ 0; {int(bad.sum())} bad value(s): {_shown(shown)}"
    )


#: A dense lookup table (one int per possible id) is used for integer ids when it holds at most
#: this many entries per id of the frame (plus a fixed allowance): 4 bytes each.
_DENSE_PER_ID = 8
_DENSE_ALLOWANCE = 1 << 16


def _position_dtype(size: int) -> type[np.int32] | type[np.int64]:
    return np.int32 if size < np.iinfo(np.int32).max else np.int64


def _integer_positions(
    ids: npt.NDArray[np.integer[Any]], index: pd.Index
) -> npt.NDArray[np.integer[Any]] | None:
    """Positions of integer ids in an integer index through a dense table, or None if too sparse.

    One gather per cost row (no hashing): ``table[id - low]`` holds the position of ``id`` in
    ``index`` or -1. Used when the index's id range is at most ``_DENSE_PER_ID`` times its length
    (ids such as 1..n, commune numbers, positions), else the caller falls back to hashing.
    """
    keys = index.to_numpy()
    low, high = int(keys.min()), int(keys.max())
    if high - low + 1 > _DENSE_PER_ID * len(keys) + _DENSE_ALLOWANCE:
        return None
    dtype = _position_dtype(len(keys))
    # Start the table at 0 when the ids are non-negative and small: ids index it directly.
    base = 0 if 0 <= low and high < _DENSE_PER_ID * len(keys) + _DENSE_ALLOWANCE else low
    # One -1 past the end: with mode="clip", ids above the table read it (unknown ids).
    table = np.full(high - base + 2, -1, dtype=dtype)
    table[keys - base] = np.arange(len(keys), dtype=dtype)
    out = np.empty(ids.size, dtype=dtype)
    if ids.size == 0:
        return out
    # Ids below 0 clip to table[0]: exact when 0 is not an id (table[0] = -1), else check them.
    if base == 0 and (table[0] < 0 or int(ids.min()) >= 0):
        np.take(table, ids, out=out, mode="clip")
        return out
    # Some ids fall outside the table, or need shifting: by blocks, to bound the temporaries.
    block = 1 << 20
    for start in range(0, ids.size, block):
        part = ids[start : start + block].astype(np.int64) - base
        inside = (part >= 0) & (part < table.size)
        chunk = np.full(part.size, -1, dtype=dtype)
        chunk[inside] = table[part[inside]]
        out[start : start + block] = chunk
    return out


def _positions(ids: pd.Series, index: pd.Index) -> npt.NDArray[np.integer[Any]]:
    """Position of each id of a cost column in ``index``, -1 for ids not in it."""
    dtype = _position_dtype(len(index))
    if (
        isinstance(ids.dtype, np.dtype)
        and ids.dtype.kind in "iu"
        and isinstance(index.dtype, np.dtype)
        and index.dtype.kind in "iu"
    ):
        found = _integer_positions(ids.to_numpy(), index)
        if found is not None:
            return found
    if pd.api.types.is_numeric_dtype(ids) and not isinstance(ids.dtype, pd.CategoricalDtype):
        return index.get_indexer(pd.Index(ids, copy=False)).astype(dtype, copy=False)
    # Strings (or anything hashable): hashing millions of strings once (factorize) and looking
    # the distinct ones up beats a get_indexer on each of them.
    if isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow":
        arrow = pa.array(ids)  # zero copy
        if isinstance(arrow, pa.ChunkedArray):
            arrow = arrow.combine_chunks()
        if arrow.null_count == 0 and (
            isinstance(index.dtype, pd.StringDtype) or index.inferred_type == "string"
        ):
            # one hash lookup per id straight into the index's positions (Arrow's index_in):
            # a quarter faster than encoding, then looking the distinct ids up
            value_set = pa.array(np.asarray(index, dtype=object), type=arrow.type)
            found = pc.fill_null(pc.index_in(arrow, value_set=value_set), -1)
            positions: npt.NDArray[np.integer[Any]] = found.to_numpy().astype(dtype, copy=False)
            return positions
        if arrow.null_count == 0:
            # Arrow's dictionary encoding gives int32 codes directly (pandas' factorize of the
            # same column widens them to int64 and back): a third less time and memory.
            encoded = pc.dictionary_encode(arrow)
            uniques = pd.Index(encoded.dictionary.to_pylist(), dtype=ids.dtype)
            table = index.get_indexer(uniques).astype(dtype, copy=False)
            codes: npt.NDArray[np.int32] = encoded.indices.to_numpy(zero_copy_only=False)
            return np.take(table, codes)
    all_codes, uniques = pd.factorize(ids, use_na_sentinel=False)
    unique_positions = index.get_indexer(pd.Index(uniques)).astype(dtype, copy=False)
    return np.take(unique_positions, all_codes)


def _unknown_ids_message(
    cost_df: pd.DataFrame, column: Hashable, frame_name: str, index: pd.Index, unknown: Any
) -> str:
    ids = cost_df[column]
    values = list(pd.unique(ids[unknown]))
    hint = ""
    if ids.dtype != index.dtype:
        hint = (
            f" (cost_df[{column!r}] est de type {ids.dtype}, {frame_name}.index de type "
            f"{index.dtype})"
        )
    return (
        f"cost_df[{column!r}] contient {len(values)} identifiant(s) absent(s) de "
        f"{frame_name}.index : {_shown_fr([repr(u) for u in values])}{hint}"
    )


def _group_pairs(
    rows: npt.NDArray[np.integer[Any]],
    cols: npt.NDArray[np.integer[Any]],
    cost: FloatArray,
    n: int,
    m: int,
) -> _Grouped | None:
    """Group the pairs by row (by column when only those come sorted); None for a duplicate.

    A duplicate is a (row, col) pair that occurs twice. O(pairs) time, no comparison sort.

    Unsorted pairs are grouped by row with a stable counting sort (scipy's COO → CSR
    conversion, the costs carried along), then scipy's block counter with 1 × 1 blocks counts
    the distinct columns of each row with one "last row seen" stamp per column: fewer distinct
    pairs than pairs means a duplicate. Without that counter (a private scipy function), a
    second counting sort by column puts the rows of each column in increasing order, where a
    repeated pair shows as two equal neighbours. The grouping is kept for the products
    (:func:`geo._fca._two_step_fca_grouped`).
    """
    index_dtype = np.int32 if max(n, m, rows.size) < np.iinfo(np.int32).max else np.int64
    if _is_sorted(rows):
        grouped = _Grouped(
            n, m, _starts(rows, n, index_dtype), cols.astype(index_dtype, copy=False), cost, True
        )
    elif _is_sorted(cols):
        grouped = _Grouped(
            n, m, _starts(cols, m, index_dtype), rows.astype(index_dtype, copy=False), cost, False
        )
    else:
        by_row = _group(rows, cols, cost, n, m, index_dtype)
        if by_row is None:
            return None
        grouped = _Grouped(n, m, by_row[0], by_row[1], by_row[2], True, owns_cost=True)
    n_major, n_minor = (n, m) if grouped.by_row else (m, n)
    if grouped.minor.size < 2:
        return grouped
    if _csr_count_blocks is not None:
        distinct = _csr_count_blocks(n_major, n_minor, 1, 1, grouped.indptr, grouped.minor)
        return grouped if int(distinct) == grouped.minor.size else None
    major_sorted: npt.NDArray[np.integer[Any]] = np.repeat(
        np.arange(n_major, dtype=index_dtype), np.diff(grouped.indptr)
    )
    by_minor = _group(grouped.minor, major_sorted, None, n_minor, n_major, index_dtype)
    if by_minor is None:
        return None
    starts_of, major_by_minor, _ = by_minor
    same = major_by_minor[1:] == major_by_minor[:-1]
    starts = starts_of[1:-1]
    same[starts[(starts > 0) & (starts < major_by_minor.size)] - 1] = False  # across two groups
    return None if bool(same.any()) else grouped


def _is_sorted(keys: npt.NDArray[np.integer[Any]]) -> bool:
    """Whether the keys never decrease (a short prefix first: unsorted keys fail it cheaply)."""
    head = keys[:4096]
    if not bool(np.all(head[1:] >= head[:-1])):
        return False
    return bool(np.all(keys[1:] >= keys[:-1]))


def _starts(
    sorted_keys: npt.NDArray[np.integer[Any]],
    size: int,
    index_dtype: type[np.int32] | type[np.int64],
) -> npt.NDArray[np.integer[Any]]:
    """Group starts (CSR ``indptr``) of keys already sorted in increasing order."""
    indptr = np.zeros(size + 1, dtype=index_dtype)
    np.cumsum(np.bincount(sorted_keys, minlength=size), out=indptr[1:])
    return indptr


def _group(
    major: npt.NDArray[np.integer[Any]],
    minor: npt.NDArray[np.integer[Any]],
    data: FloatArray | None,
    n_major: int,
    n_minor: int,
    index_dtype: type[np.int32] | type[np.int64],
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]] | None:
    """Stable counting sort of the pairs by ``major``: ``(group starts, minor, data)``.

    ``data`` None: one-byte flags are carried instead of values.

    scipy's COO → CSR conversion is that counting sort; the canonical-format flag skips its
    duplicate summation (a comparison sort of each group). None if a scipy version summed
    anyway and fewer entries came out: that means duplicates.
    """
    values: npt.NDArray[Any] = np.ones(major.size, dtype=np.int8) if data is None else data
    coo = coo_array(
        (values, (major.astype(index_dtype, copy=False), minor.astype(index_dtype, copy=False))),
        shape=(n_major, n_minor),
    )
    coo.has_canonical_format = True
    grouped = coo.tocsr()
    if grouped.nnz < major.size:  # pragma: no cover - depends on the scipy version
        return None
    return grouped.indptr, grouped.indices, grouped.data


def _raise_duplicate_pairs(
    cost_df: pd.DataFrame,
    origin_col: Hashable,
    dest_col: Hashable,
    kept: npt.NDArray[np.intp] | None,
) -> NoReturn:
    frame = cost_df if kept is None else cost_df.iloc[kept]
    dup = frame.duplicated(subset=[origin_col, dest_col], keep=False).to_numpy()
    groups = frame.loc[dup, [origin_col, dest_col]].groupby([origin_col, dest_col]).groups
    shown = [f"{pair!r} at rows {list(labels)}" for pair, labels in groups.items()]
    raise DataValidationError(
        f"cost_df has {len(shown)} duplicate ({origin_col}, {dest_col}) pair(s): {_shown(shown)}; "
        "keep one cost per pair (e.g. the minimum)"
    )


def _prepare(
    demand_df: pd.DataFrame,
    supply_df: pd.DataFrame,
    cost_df: pd.DataFrame,
    *,
    demand_col: Hashable | None,
    supply_col: Hashable | None,
    origin_col: Hashable,
    dest_col: Hashable,
    cost_col: Hashable,
    max_cost: float | None = None,
    normalize: bool = False,
    strict_ids: bool = False,
) -> _Problem:
    """Validate the three frames and the options; turn them into the core's arrays."""
    _check_max_cost(max_cost)
    _check_flag("normalize", normalize)
    _check_flag("strict_ids", strict_ids)
    demand_df = _check_frame("demand_df", demand_df)
    supply_df = _check_frame("supply_df", supply_df)
    cost_df = _check_frame("cost_df", cost_df)
    if demand_col is not None:
        _check_column("demand_df", demand_df, "demand_col", demand_col)
    if supply_col is not None:
        _check_column("supply_df", supply_df, "supply_col", supply_col)
    for arg, column in (("origin_col", origin_col), ("dest_col", dest_col), ("cost_col", cost_col)):
        _check_column("cost_df", cost_df, arg, column)
    _check_ids("demand_df", demand_df)
    _check_ids("supply_df", supply_df)
    demand = (
        np.ones(len(demand_df))
        if demand_col is None
        else _amounts("demand_df", demand_df, demand_col)
    )
    supply = (
        np.ones(len(supply_df))
        if supply_col is None
        else _amounts("supply_df", supply_df, supply_col)
    )
    cost = _numeric(f"cost_df[{cost_col!r}]", cost_df[cost_col])
    if not _all_finite_non_negative(cost):
        bad = ~(np.isfinite(cost) & (cost >= 0))
        rows_bad = cost_df.loc[bad, [origin_col, dest_col]]
        shown = [
            f"row {label!r} ({o!r} → {d!r}): {v!r}"
            for label, o, d, v in zip(
                rows_bad.index,
                rows_bad[origin_col],
                rows_bad[dest_col],
                cost[bad].tolist(),
                strict=True,
            )
        ]
        raise DataValidationError(
            f"cost_df[{cost_col!r}] must be finite and ≥ 0 (drop unreachable pairs instead of "
            f"coding them as NaN or inf); {int(bad.sum())} bad value(s): {_shown(shown)}"
        )
    rows = _positions(cost_df[origin_col], demand_df.index)
    cols = _positions(cost_df[dest_col], supply_df.index)
    kept: npt.NDArray[np.intp] | None = None
    ignored = (0, 0)
    # min() < 0 is one pass without a temporary array: the usual case (every id known) stops here.
    if rows.min() < 0 or cols.min() < 0:
        unknown_origin, unknown_dest = rows < 0, cols < 0
        messages = [
            _unknown_ids_message(cost_df, column, frame_name, index, mask)
            for column, frame_name, index, mask in (
                (origin_col, "demand_df", demand_df.index, unknown_origin),
                (dest_col, "supply_df", supply_df.index, unknown_dest),
            )
            if mask.any()
        ]
        keep = ~(unknown_origin | unknown_dest)
        if strict_ids:
            raise DataValidationError(
                "; ".join(messages) + " (strict_ids=True refuse ces lignes ; par défaut elles "
                "sont ignorées et comptées dans attrs['ignored_cost_rows'])"
            )
        if not keep.any():
            raise DataValidationError(
                "aucune ligne de cost_df ne relie un identifiant de demand_df.index à un "
                "identifiant de supply_df.index : " + "; ".join(messages)
            )
        ignored = (int(unknown_origin.sum()), int(unknown_dest.sum()))
        kept = np.flatnonzero(keep)
        rows, cols, cost = rows[kept], cols[kept], cost[kept]
    grouped = _group_pairs(rows, cols, cost, len(demand_df), len(supply_df))
    if grouped is None:
        _raise_duplicate_pairs(cost_df, origin_col, dest_col, kept)
    return _Problem(demand_df.index, demand, supply, rows, cols, cost, grouped, kept, ignored)


def _check_max_cost(max_cost: object) -> float | None:
    if max_cost is None:
        return None
    if isinstance(max_cost, bool) or not isinstance(max_cost, int | float | np.number):
        raise DataValidationError(f"max_cost doit être un nombre réel ou None, reçu {max_cost!r}")
    if np.isnan(max_cost):
        raise DataValidationError("max_cost ne peut pas être NaN (None : pas de limite)")
    if max_cost < 0:
        raise DataValidationError(
            f"max_cost={max_cost!r} < 0 : aucune paire ne serait gardée, toutes les valeurs "
            "seraient vides ; donnez un coût maximal ≥ 0, ou None pour ne pas limiter"
        )
    return float(max_cost)


def _check_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise DataValidationError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _weight_fn(spec: WeightSpec | None) -> WeightFunction | None:
    if spec is None or isinstance(spec, StepWeights | GaussianWeights | GravityWeights):
        return spec
    if isinstance(spec, Mapping):
        return StepWeights(spec)
    if callable(spec):
        return spec
    raise DataValidationError(
        "weights must be None, a mapping threshold → weight, or a weight function "
        f"(StepWeights, GaussianWeights, GravityWeights or a callable); got {spec!r}"
    )


def _result(
    problem: _Problem, values: FloatArray, name: str, *, normalize: bool = False
) -> pd.Series:
    if normalize:
        values = normalize_like_access(values, problem.demand)
    result = pd.Series(values, index=problem.index, name=name)
    origin, dest = problem.ignored
    result.attrs["ignored_cost_rows"] = {"origin": origin, "dest": dest}
    return result


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------


def two_step_fca(
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
    weights: WeightSpec | None = None,
    normalize: bool = False,
    strict_ids: bool = False,
) -> pd.Series:
    r"""Two-step floating catchment area (2SFCA), weighted in both steps when asked.

    .. math::

        R_j = \frac{S_j}{\sum_{i:\,c_{ij} \le \text{max\_cost}} P_i f(c_{ij})}, \qquad
        A_i = \sum_{j:\,c_{ij} \le \text{max\_cost}} R_j f(c_{ij}),

    with :math:`f \equiv 1` when ``weights`` is None (Luo & Wang 2003).

    Relation to PySAL access 1.1.10: equal (up to float rounding, ~1e-15) to the column
    ``f"{name}_{supply_col}"`` of ``Access(demand_df, demand_value=demand_col, supply_df,
    supply_value=supply_col, cost_df, ...).two_stage_fca(max_cost=max_cost,
    weight_fn=<same weights>)``, NaN at the same demand ids, with ``normalize`` giving the same
    values as access's ``normalize=True``. One documented difference: a supply point whose
    weighted demand :math:`\sum_i P_i f(c_{ij})` is 0 while :math:`S_j > 0` (only zero-population
    points in reach) contributes 0 here, ``inf`` in access.

    Parameters
    ----------
    demand_df : pandas.DataFrame
        Demand points indexed by id, with the population in ``demand_col``.
    supply_df : pandas.DataFrame
        Supply points indexed by id, with the capacity (FTE, practitioners…) in ``supply_col``.
    cost_df : pandas.DataFrame
        One row per (origin, dest) pair with its cost.
    demand_col, supply_col : hashable
        Columns of population and capacity (numeric, finite, ≥ 0).
    origin_col, dest_col, cost_col : hashable, default "origin", "dest", "cost"
        Columns of ``cost_df``.
    max_cost : float, optional
        Catchment: pairs with ``cost > max_cost`` are ignored. None keeps every pair.
    weights : WeightFunction or mapping, optional
        Distance decay applied in both steps; a mapping is read as step weights
        (:class:`StepWeights`, access's ``step_fn`` semantics ``cost <= threshold``).
    normalize : bool, default False
        Divide by the population-weighted mean, exactly as access's ``normalize=True``.
    strict_ids : bool, default False
        By default, rows of ``cost_df`` whose origin is not in ``demand_df.index`` or whose
        dest is not in ``supply_df.index`` are ignored, as PySAL access does (a regional
        matrix, a subset of the demand), and counted in ``attrs["ignored_cost_rows"]``. True
        refuses them with a :class:`~geo.errors.DataValidationError` listing the unknown ids.

    Returns
    -------
    pandas.Series
        :math:`A_i` (supply per inhabitant) indexed like ``demand_df``, named ``"2sfca"``.
        ``attrs["ignored_cost_rows"]`` is ``{"origin": n_o, "dest": n_d}``: the number of
        ``cost_df`` rows ignored because their origin (resp. dest) id is unknown (a row with
        both unknown counts in both); ``{"origin": 0, "dest": 0}`` when none was.

    Raises
    ------
    DataValidationError
        On invalid inputs (see the module docstring).

    Examples
    --------
    >>> demand = pd.DataFrame({"pop": [100.0, 300.0]}, index=["A", "B"])
    >>> supply = pd.DataFrame({"gp": [2.0]}, index=["X"])
    >>> cost = pd.DataFrame({"origin": ["A", "B"], "dest": ["X", "X"], "cost": [0.0, 5.0]})
    >>> two_step_fca(demand, supply, cost, demand_col="pop", supply_col="gp").tolist()
    [0.005, 0.005]
    """
    weight_fn = _weight_fn(weights)
    problem = _prepare(
        demand_df,
        supply_df,
        cost_df,
        demand_col=demand_col,
        supply_col=supply_col,
        origin_col=origin_col,
        dest_col=dest_col,
        cost_col=cost_col,
        max_cost=max_cost,
        strict_ids=strict_ids,
        normalize=normalize,
    )
    grouped, problem = problem.grouped, problem.without_pairs()  # frees the flat pairs
    values = _two_step_fca_grouped(
        problem.demand, problem.supply, grouped, weights=weight_fn, max_cost=max_cost, consume=True
    )
    return _result(problem, values, "2sfca", normalize=normalize)


def enhanced_two_step_fca(
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
    weights: WeightSpec = E2SFCA_DEFAULT_STEPS,
    normalize: bool = False,
    strict_ids: bool = False,
) -> pd.Series:
    r"""Enhanced 2SFCA (Luo & Qi 2009): 2SFCA with step weights in both steps.

    Default weights ``{10: 1, 20: 0.68, 30: 0.22}``: :math:`f(c) = 1` for :math:`c \le 10`,
    0.68 for :math:`10 < c \le 20`, 0.22 for :math:`20 < c \le 30`, 0 beyond.

    Relation to PySAL access 1.1.10: same values as the column ``f"e2sfca_{supply_col}"`` of
    ``Access(...).enhanced_two_stage_fca(max_cost=max_cost, weight_fn=<same steps>)``
    (``normalize`` as access's). With ``max_cost=None`` (access's default) a demand point whose
    pairs all lie beyond the last threshold gets 0, not NaN; pass ``max_cost=30`` for NaN.
    Same zero-weighted-demand difference as :func:`two_step_fca`.

    Parameters
    ----------
    demand_df, supply_df, cost_df, demand_col, supply_col, origin_col, dest_col, cost_col
    strict_ids
        See :func:`two_step_fca` (``attrs["ignored_cost_rows"]`` likewise).
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are ignored.
    weights : mapping or WeightFunction, default E2SFCA_DEFAULT_STEPS
        Threshold → weight (or any weight function).
    normalize : bool, default False
        Divide by the population-weighted mean, as access.

    Returns
    -------
    pandas.Series
        :math:`A_i` indexed like ``demand_df``, named ``"e2sfca"``.
    """
    weight_fn = _weight_fn(weights)
    problem = _prepare(
        demand_df,
        supply_df,
        cost_df,
        demand_col=demand_col,
        supply_col=supply_col,
        origin_col=origin_col,
        dest_col=dest_col,
        cost_col=cost_col,
        max_cost=max_cost,
        strict_ids=strict_ids,
        normalize=normalize,
    )
    grouped, problem = problem.grouped, problem.without_pairs()  # frees the flat pairs
    values = _two_step_fca_grouped(
        problem.demand, problem.supply, grouped, weights=weight_fn, max_cost=max_cost, consume=True
    )
    return _result(problem, values, "e2sfca", normalize=normalize)


def kernel_two_step_fca(
    demand_df: pd.DataFrame,
    supply_df: pd.DataFrame,
    cost_df: pd.DataFrame,
    *,
    demand_col: Hashable,
    supply_col: Hashable,
    sigma: float,
    origin_col: Hashable = "origin",
    dest_col: Hashable = "dest",
    cost_col: Hashable = "cost",
    max_cost: float | None = None,
    normalize: bool = False,
    strict_ids: bool = False,
) -> pd.Series:
    r"""Kernel-density 2SFCA: Gaussian weight :math:`e^{-c^2 / 2\sigma^2}` in both steps.

    Relation to PySAL access 1.1.10: access has no dedicated method; same values as
    ``Access(...).two_stage_fca(max_cost=max_cost, weight_fn=weights.gaussian(sigma))``
    (column ``f"2sfca_{supply_col}"``), ``normalize`` as access's. The kernel is access's plain,
    untruncated Gaussian (:math:`f(0) = 1`).

    Parameters
    ----------
    demand_df, supply_df, cost_df, demand_col, supply_col, origin_col, dest_col, cost_col
    strict_ids
        See :func:`two_step_fca` (``attrs["ignored_cost_rows"]`` likewise).
    sigma : float
        Kernel width (> 0), same unit as the costs.
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are ignored.
    normalize : bool, default False
        Divide by the population-weighted mean, as access.

    Returns
    -------
    pandas.Series
        :math:`A_i` indexed like ``demand_df``, named ``"kd2sfca"``.
    """
    GaussianWeights(sigma)  # validate before the costly checks of the frames
    problem = _prepare(
        demand_df,
        supply_df,
        cost_df,
        demand_col=demand_col,
        supply_col=supply_col,
        origin_col=origin_col,
        dest_col=dest_col,
        cost_col=cost_col,
        max_cost=max_cost,
        strict_ids=strict_ids,
        normalize=normalize,
    )
    values = kernel_two_step_fca_core(
        *problem.arrays,
        sigma=sigma,
        max_cost=max_cost,
    )
    return _result(problem, values, "kd2sfca", normalize=normalize)


def three_step_fca(
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
    weights: WeightSpec = THREE_STEP_DEFAULT_STEPS,
    normalize: bool = False,
    strict_ids: bool = False,
) -> pd.Series:
    r"""Three-step floating catchment area (Wan, Zou & Sternberg 2012), as PySAL access.

    .. math::

        G_{ij} = \frac{f(c_{ij})}{\sum_{k \in \text{cost\_df rows of } i} f(c_{ik})}, \quad
        R_j = \frac{S_j}{\sum_{i} P_i G_{ij} f(c_{ij})}, \quad
        A_i = \sum_j R_j G_{ij} f(c_{ij}),

    the last two sums over pairs with ``cost <= max_cost``. The selection weights :math:`G` are
    normalised over **every** row of ``cost_df`` for origin ``i``, before the ``max_cost`` cut,
    as access does: rows beyond ``max_cost`` change the result.

    Relation to PySAL access 1.1.10: same values as the column ``f"3sfca_{supply_col}"`` of
    ``Access(...).three_stage_fca(max_cost=max_cost, weight_fn=<same weights>)`` given the same
    cost table (default weights ``{10: .962, 20: .704, 30: .377, 60: .042}``), ``normalize``
    as access's. Unlike access, ``cost_df`` is not modified (access adds a ``W3`` column to the
    frame it was given).

    Parameters
    ----------
    demand_df, supply_df, cost_df, demand_col, supply_col, origin_col, dest_col, cost_col
    strict_ids
        See :func:`two_step_fca` (``attrs["ignored_cost_rows"]`` likewise).
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are ignored in the ratio steps.
    weights : mapping or WeightFunction, default THREE_STEP_DEFAULT_STEPS
        :math:`f`.
    normalize : bool, default False
        Divide by the population-weighted mean, as access.

    Returns
    -------
    pandas.Series
        :math:`A_i` indexed like ``demand_df``, named ``"3sfca"``.
    """
    weight_fn = _weight_fn(weights)
    problem = _prepare(
        demand_df,
        supply_df,
        cost_df,
        demand_col=demand_col,
        supply_col=supply_col,
        origin_col=origin_col,
        dest_col=dest_col,
        cost_col=cost_col,
        max_cost=max_cost,
        strict_ids=strict_ids,
        normalize=normalize,
    )
    values = three_step_fca_core(
        *problem.arrays,
        weights=weight_fn,
        max_cost=max_cost,
    )
    return _result(problem, values, "3sfca", normalize=normalize)


def gravity(
    demand_df: pd.DataFrame,
    supply_df: pd.DataFrame,
    cost_df: pd.DataFrame,
    *,
    demand_col: Hashable,
    supply_col: Hashable,
    scale: float,
    alpha: float,
    min_dist: float = 0.0,
    origin_col: Hashable = "origin",
    dest_col: Hashable = "dest",
    cost_col: Hashable = "cost",
    max_cost: float | None = None,
    normalize: bool = False,
    strict_ids: bool = False,
) -> pd.Series:
    r"""Hansen gravity potential :math:`A_i = \sum_j S_j (\max(c_{ij}, x_\min)/s)^\alpha`.

    Sum over pairs with ``cost <= max_cost``. ``alpha`` is not implicitly negative: ``-1`` gives
    a :math:`1/d` decay. There is no demand-side competition term: ``demand_col`` only serves
    ``normalize``.

    Relation to PySAL access 1.1.10: same values as the column ``f"{name}_{supply_col}"`` of
    ``Access(...).weighted_catchment(weight_fn=weights.gravity(scale, alpha, min_dist),
    max_cost=max_cost)``, ``normalize`` as access's.

    Parameters
    ----------
    demand_df, supply_df, cost_df, demand_col, supply_col, origin_col, dest_col, cost_col
    strict_ids
        See :func:`two_step_fca` (``attrs["ignored_cost_rows"]`` likewise).
    scale : float
        :math:`s` (> 0), same unit as the costs.
    alpha : float
        Exponent :math:`\alpha`.
    min_dist : float, default 0
        Floor :math:`x_\min` of the cost. Must be > 0 when ``alpha < 0`` and some cost is 0
        (the weight would be infinite; access returns ``inf`` there).
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are ignored.
    normalize : bool, default False
        Divide by the population-weighted mean, as access.

    Returns
    -------
    pandas.Series
        Potential indexed like ``demand_df``, named ``"gravity"``.
    """
    fn = GravityWeights(scale, alpha, min_dist)
    problem = _prepare(
        demand_df,
        supply_df,
        cost_df,
        demand_col=demand_col,
        supply_col=supply_col,
        origin_col=origin_col,
        dest_col=dest_col,
        cost_col=cost_col,
        max_cost=max_cost,
        strict_ids=strict_ids,
        normalize=normalize,
    )
    if fn.alpha < 0 and fn.min_dist == 0:
        zero = problem.cost == 0
        if zero.any() and (max_cost is None or max_cost >= 0):
            at = np.flatnonzero(zero) if problem.kept is None else problem.kept[zero]
            pairs = cost_df.iloc[at][[origin_col, dest_col]]
            shown = [
                f"({o!r}, {d!r})" for o, d in zip(pairs[origin_col], pairs[dest_col], strict=True)
            ]
            raise DataValidationError(
                f"gravity with alpha={alpha!r} < 0 and min_dist=0 gives an infinite weight to "
                f"the {int(zero.sum())} pair(s) of cost 0: {_shown(shown)}; set min_dist > 0"
            )
    values = gravity_core(
        *problem.arrays,
        scale=fn.scale,
        alpha=fn.alpha,
        min_dist=fn.min_dist,
        max_cost=max_cost,
    )
    return _result(problem, values, "gravity", normalize=normalize)


def nearest_cost(
    demand_df: pd.DataFrame,
    supply_df: pd.DataFrame,
    cost_df: pd.DataFrame,
    *,
    supply_col: Hashable | None = None,
    origin_col: Hashable = "origin",
    dest_col: Hashable = "dest",
    cost_col: Hashable = "cost",
    max_cost: float | None = None,
    strict_ids: bool = False,
) -> pd.Series:
    r"""Cost to the nearest supply point in reach: :math:`N_i = \min_j c_{ij}`.

    PySAL access has no equivalent. With ``supply_col`` given, supply points whose capacity is
    0 are skipped (a site without practitioner is not "the nearest practitioner").

    Parameters
    ----------
    demand_df, supply_df, cost_df, origin_col, dest_col, cost_col, strict_ids
        See :func:`two_step_fca`.
    supply_col : hashable, optional
        Capacity column; None counts every supply point.
    max_cost : float, optional
        Pairs with ``cost > max_cost`` are ignored.

    Returns
    -------
    pandas.Series
        :math:`N_i` in the unit of the costs, indexed like ``demand_df``, NaN where no supply
        point is in reach, named ``"nearest_cost"``.
    """
    problem = _prepare(
        demand_df,
        supply_df,
        cost_df,
        demand_col=None,
        supply_col=supply_col,
        origin_col=origin_col,
        dest_col=dest_col,
        cost_col=cost_col,
        max_cost=max_cost,
        strict_ids=strict_ids,
    )
    values = nearest_cost_core(
        *problem.arrays,
        max_cost=max_cost,
        positive_supply_only=supply_col is not None,
    )
    return _result(problem, values, "nearest_cost")


def apl(
    demand_df: pd.DataFrame,
    supply_df: pd.DataFrame,
    cost_df: pd.DataFrame,
    *,
    demand_col: Hashable,
    supply_col: Hashable,
    supply_unit: SupplyUnit = "consultations",
    bands: Mapping[float, float] | StepWeights | BandWeights = APL_BANDS,
    origin_col: Hashable = "origin",
    dest_col: Hashable = "dest",
    cost_col: Hashable = "cost",
    max_cost: float | None = None,
    strict_ids: bool = False,
) -> pd.Series:
    r"""French APL (accessibilité potentielle localisée, DREES / IRDES), per commune.

    An E2SFCA on road minutes between chefs-lieux with the weights in both steps; see
    :func:`geo._fca.apl_core` for the formula, the bands and the sources. Default bands, from
    DREES's parameter sheet: :math:`t < 10` → 1, :math:`10 \le t < 15` → 2/3,
    :math:`15 \le t \le 20` → 1/3, beyond → 0; :data:`APL_BANDS_2012`: :math:`t < 5` → 1,
    :math:`5 \le t < 10` → 0.3, :math:`10 \le t \le 15` → 0.1. A mapping of bands is read
    as DREES words them (:class:`~geo._fca.BandWeights`); pass a :class:`StepWeights` for
    access's ``x <= k``.

    Parameters
    ----------
    demand_df, supply_df, cost_df, origin_col, dest_col, cost_col, strict_ids
        See :func:`two_step_fca`; costs in minutes.
    demand_col : hashable
        Population, or age-standardised population (see :func:`standardise_population`).
    supply_col : hashable
        Yearly consultations and visits (``supply_unit="consultations"``), FTE (``"fte"``) or
        practitioner headcount (``"headcount"``).
    supply_unit : {"consultations", "fte", "headcount"}, default "consultations"
        Fixes the output unit: consultations per standardised inhabitant per year, or FTE /
        practitioners per 100,000 standardised inhabitants.
    bands : mapping or StepWeights, default APL_BANDS
        Upper bound in minutes → weight.
    max_cost : float, optional
        Catchment in minutes; default the last band's bound. Communes with no supply pair
        within it get NaN (DREES shows 0: use ``.fillna(0)``).

    Returns
    -------
    pandas.Series
        APL indexed like ``demand_df``; its name carries the unit (``"apl_consultations"``,
        ``"apl_fte_per_100k"`` or ``"apl_headcount_per_100k"``) and ``attrs["unit"]`` spells it.
    """
    unit, _ = apl_unit(supply_unit)
    band_weights = bands if isinstance(bands, StepWeights | BandWeights) else BandWeights(bands)
    problem = _prepare(
        demand_df,
        supply_df,
        cost_df,
        demand_col=demand_col,
        supply_col=supply_col,
        origin_col=origin_col,
        dest_col=dest_col,
        cost_col=cost_col,
        max_cost=max_cost,
        strict_ids=strict_ids,
    )
    values = apl_core(
        *problem.arrays,
        bands=band_weights,
        max_cost=max_cost,
        supply_unit=supply_unit,
    )
    name = "apl_consultations" if supply_unit == "consultations" else f"apl_{supply_unit}_per_100k"
    result = _result(problem, values, name)
    result.attrs["unit"] = unit
    return result


@overload
def standardise_population(
    population_by_band: pd.DataFrame,
    consumption_weights: Mapping[Any, float] | pd.Series | Sequence[float] | npt.NDArray[Any],
) -> pd.Series: ...


@overload
def standardise_population(
    population_by_band: npt.NDArray[Any] | Sequence[Sequence[float]],
    consumption_weights: Sequence[float] | npt.NDArray[Any],
) -> FloatArray: ...


def standardise_population(
    population_by_band: pd.DataFrame | npt.NDArray[Any] | Sequence[Sequence[float]],
    consumption_weights: Mapping[Any, float] | pd.Series | Sequence[float] | npt.NDArray[Any],
) -> pd.Series | FloatArray:
    r"""Age-standardised population for the APL demand, same total as the raw population.

    :math:`\tilde P_i = (\sum_b P_{ib} c_b) \cdot \sum_{i,b} P_{ib} / \sum_{i,b} P_{ib} c_b`:
    each age band counts in proportion to its consumption of care, and the total over the rows
    given (pass all of France for a national standardisation) equals the raw population.

    Parameters
    ----------
    population_by_band : pandas.DataFrame or 2-D array (n points × B age bands)
        Population by age band (numeric, finite, ≥ 0).
    consumption_weights : mapping, Series, sequence or array
        Relative care consumption per inhabitant of each band (finite, ≥ 0, not all 0 where
        people live), e.g. mean yearly GP consultations by age. For a DataFrame, a mapping or
        Series is matched to the columns by name and must cover exactly the columns; a
        sequence follows the column order.

    Returns
    -------
    pandas.Series or numpy.ndarray
        :math:`\tilde P_i`: a Series indexed like the DataFrame (named
        ``"population_standardised"``), or an array for array input.

    Examples
    --------
    >>> pop = pd.DataFrame({"0-69": [80.0, 20.0], "70+": [20.0, 80.0]}, index=["A", "B"])
    >>> standardise_population(pop, {"0-69": 1.0, "70+": 2.0}).round(2).tolist()
    [80.0, 120.0]
    """
    if isinstance(population_by_band, pd.DataFrame):
        frame = population_by_band
        columns = list(frame.columns)
        if isinstance(consumption_weights, Mapping | pd.Series):
            given = dict(consumption_weights.items())
            missing = [c for c in columns if c not in given]
            extra = [k for k in given if k not in frame.columns]
            if missing or extra:
                raise DataValidationError(
                    "consumption_weights must have one weight per column of population_by_band; "
                    f"missing: {_shown([repr(c) for c in missing]) or 'none'}, "
                    f"unknown: {_shown([repr(k) for k in extra]) or 'none'}"
                )
            weights = np.array([given[c] for c in columns], dtype=np.float64)
        else:
            weights = np.asarray(consumption_weights, dtype=np.float64)
        values = np.column_stack(
            [_amounts("population_by_band", frame, c) for c in columns]
        ).reshape(len(frame), len(columns))
        result = standardise_population_core(values, weights)
        return pd.Series(result, index=frame.index, name="population_standardised")
    if isinstance(consumption_weights, Mapping | pd.Series):
        raise DataValidationError(
            "consumption_weights must be a sequence or array when population_by_band is an array"
        )
    return standardise_population_core(population_by_band, consumption_weights)
