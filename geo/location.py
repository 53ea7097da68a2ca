r"""Exact facility location on a cost matrix: set covering, p-median and maximal coverage.

The three classic models of PySAL spopt (``LSCP``, ``PMedian``, ``MCLP``), solved to optimality
with scipy's HiGHS MILP, with existing sites that must stay open and a documented rule that
picks one site set when several are equally good.

Tie rule
--------
When several site sets reach the same optimal objective, every function here returns the one
whose sorted candidate positions are **lexicographically smallest**: the set holding the
earliest possible first candidate, then among those the earliest possible second one, and so
on. Order the candidates by preference (e.g. existing health centres first, then by
population) and the rule prefers the earlier ones. All the optimal sets have the same size
(the minimum count for set covering, ``p`` otherwise), so this is the same as maximising the
0/1 vector ``(x_0, x_1, …)`` lexicographically over the optimal solutions, which is done for
real by a second stage, where every MILP keeps the model's own objective (HiGHS handles
that far better than an "objective ≤ optimum" constraint):

1. stage 1 solves the model: optimum :math:`z^*` and an optimal incumbent;
2. a "witness" solve for a set B of candidates minimises the objective with the extra
   constraint :math:`\sum_{j \in B} x_j \ge 1` (and the candidates fixed so far): if its
   optimum is within the tie tolerance of :math:`z^*`, it is an optimal solution opening one
   of B, otherwise (or if infeasible) no optimal solution opens any of B;
3. first, B = the candidates closed in the incumbent but placed before its last site: with no
   witness, every other optimum trades one of the incumbent's sites for a later candidate, so
   the incumbent is the answer (a unique optimum costs this one extra solve);
4. otherwise the sites are fixed in position order: with B = the undecided candidates before
   the incumbent's first undecided site, no witness fixes them closed and that site open; a
   witness becomes the incumbent and the search continues before its first site in B.

The number of solves is in :attr:`LocationSolution.solves`. Objectives within ``1e-9``
relative, and at least ``2e-6`` absolute (twice HiGHS' absolute gap), tie; 0.5 for the
integral count of set covering. If the time limit stops stage 2, the optimal
incumbent is returned, ``tie_rule="incomplete"``. ``tie_break="none"`` skips stage 2 (HiGHS'
own choice, which depends on its presolve and the platform).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from geo.errors import DataValidationError, warn_data

__all__ = [
    "CostPairs",
    "LocationSolution",
    "max_coverage",
    "p_median",
    "set_covering",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
TieBreak = Literal["lexicographic", "none"]

#: Two objectives closer than this (relative, or absolute: twice HiGHS' absolute gap) tie.
_TIE_RTOL = 1e-9
_TIE_ATOL = 2e-6
#: Positions quoted in an error message before "…".
_SHOWN = 20


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostPairs:
    """Sparse long form of a demand × candidate cost matrix: only the listed pairs exist.

    For problems too large for a dense matrix (all of France: pairs beyond the service radius
    or catchment are simply absent). An absent pair means "not reachable": it never covers, and
    in the p-median a demand point cannot be assigned to that candidate.

    Attributes
    ----------
    rows : array of int (q,)
        Demand position of each pair, in ``[0, n_demand)``.
    cols : array of int (q,)
        Candidate position of each pair, in ``[0, n_candidates)``.
    cost : array of float (q,)
        Travel cost (distance, minutes) of each pair, finite and ≥ 0.
    n_demand, n_candidates : int
        Size of the full matrix.

    Examples
    --------
    >>> pairs = CostPairs([0, 1, 1], [0, 0, 1], [2.0, 5.0, 1.0], 2, 2)
    >>> set_covering(pairs, 3.0).sites.tolist()
    [0, 1]
    """

    rows: npt.ArrayLike
    cols: npt.ArrayLike
    cost: npt.ArrayLike
    n_demand: int
    n_candidates: int

    @classmethod
    def from_dense(cls, matrix: npt.ArrayLike, max_cost: float | None = None) -> CostPairs:
        """Keep the finite entries of a dense matrix (``≤ max_cost`` if given) as pairs."""
        dense = _dense(matrix)
        keep = np.isfinite(dense)
        if max_cost is not None:
            keep &= dense <= _positive_number("max_cost", max_cost)
        rows, cols = np.nonzero(keep)
        return cls(rows, cols, dense[rows, cols], dense.shape[0], dense.shape[1])


@dataclass(frozen=True)
class _Pairs:
    """Validated pairs, sorted by demand then candidate."""

    rows: IntArray
    cols: IntArray
    cost: FloatArray
    n_demand: int
    n_candidates: int


def _shown(positions: npt.NDArray[Any]) -> str:
    head = ", ".join(str(int(v)) for v in positions[:_SHOWN])
    return head + (f" … ({len(positions)} au total)" if len(positions) > _SHOWN else "")


def _dense(matrix: npt.ArrayLike) -> FloatArray:
    try:
        dense = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(
            f"cost : une matrice de coûts numérique est attendue ({exc})"
        ) from None
    if dense.ndim != 2 or 0 in dense.shape:
        raise DataValidationError(
            "cost : une matrice à deux dimensions (points de demande × candidats) non vide est "
            f"attendue, reçu la forme {dense.shape}"
        )
    bad = np.argwhere(np.isnan(dense))
    if len(bad):
        i, j = bad[0]
        raise DataValidationError(
            f"cost : {len(bad)} coût(s) NaN, dont (demande {i}, candidat {j}) ; utilisez "
            "np.inf pour une paire inaccessible"
        )
    neg = np.argwhere(dense < 0)
    if len(neg):
        i, j = neg[0]
        raise DataValidationError(
            f"cost : {len(neg)} coût(s) négatif(s), dont {float(dense[i, j])!r} (demande {i}, "
            f"candidat {j}) ; les coûts doivent être ≥ 0"
        )
    return dense


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise DataValidationError(f"{name} : un entier ≥ 1 est attendu, reçu {value!r}")
    return int(value)


def _positions(name: str, values: npt.ArrayLike, size: int) -> IntArray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataValidationError(f"{name} : un tableau à une dimension est attendu")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise DataValidationError(f"{name} : des positions entières sont attendues ({arr.dtype})")
    out = arr.astype(np.int64)
    bad = out[(out < 0) | (out >= size)]
    if bad.size:
        raise DataValidationError(
            f"{name} : positions hors de [0, {size}) : {_shown(np.unique(bad))}"
        )
    return out


def _pairs(cost: npt.ArrayLike | CostPairs) -> _Pairs:
    if not isinstance(cost, CostPairs):
        dense = _dense(cost)
        rows, cols = np.nonzero(np.isfinite(dense))  # row-major: already sorted
        return _Pairs(
            rows.astype(np.int64),
            cols.astype(np.int64),
            dense[rows, cols],
            dense.shape[0],
            dense.shape[1],
        )
    n_d = _count("cost.n_demand", cost.n_demand)
    n_c = _count("cost.n_candidates", cost.n_candidates)
    rows = _positions("cost.rows", cost.rows, n_d)
    cols = _positions("cost.cols", cost.cols, n_c)
    try:
        values = np.asarray(cost.cost, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(
            f"cost.cost : des coûts numériques sont attendus ({exc})"
        ) from None
    if not (rows.shape == cols.shape == values.shape):
        raise DataValidationError(
            f"cost : rows {rows.shape}, cols {cols.shape} et cost {values.shape} doivent avoir "
            "la même longueur"
        )
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        q = int(bad[0])
        raise DataValidationError(
            f"cost.cost : {bad.size} coût(s) non fini(s) ou négatif(s), dont {float(values[q])!r} "
            f"(demande {rows[q]}, candidat {cols[q]}) ; une paire inaccessible est omise"
        )
    order = np.lexsort((cols, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    dup = np.flatnonzero((rows[1:] == rows[:-1]) & (cols[1:] == cols[:-1]))
    if dup.size:
        q = int(dup[0])
        raise DataValidationError(
            f"cost : {dup.size} paire(s) en double, dont (demande {rows[q]}, candidat {cols[q]})"
        )
    return _Pairs(rows, cols, values, n_d, n_c)


def _weights(weights: npt.ArrayLike, n_demand: int) -> FloatArray:
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"weights : des nombres sont attendus ({exc})") from None
    if w.shape != (n_demand,):
        raise DataValidationError(
            f"weights : un poids par point de demande est attendu ({n_demand}), reçu la forme "
            f"{w.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if bad.size:
        raise DataValidationError(
            f"weights : {bad.size} poids non fini(s) ou négatif(s), dont {float(w[bad[0]])!r} "
            f"(demande {bad[0]}) ; les poids doivent être finis et ≥ 0"
        )
    return w


def _positive_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise DataValidationError(f"{name} : un nombre > 0 est attendu, reçu {value!r}")
    out = float(value)
    if not (np.isfinite(out) and out > 0):
        raise DataValidationError(f"{name} : un nombre fini > 0 est attendu, reçu {value!r}")
    return out


def _predefined(predefined: npt.ArrayLike | None, n_c: int) -> IntArray:
    """Sites that must stay open: a boolean mask over the candidates or their positions."""
    if predefined is None:
        return np.zeros(0, dtype=np.int64)
    arr = np.asarray(predefined)
    if arr.dtype == np.bool_:
        if arr.shape != (n_c,):
            raise DataValidationError(
                f"predefined : un masque booléen doit avoir un élément par candidat ({n_c}), "
                f"reçu la forme {arr.shape}"
            )
        return np.flatnonzero(arr).astype(np.int64)
    pos = _positions("predefined", arr.ravel() if arr.ndim == 0 else arr, n_c)
    uniq, counts = np.unique(pos, return_counts=True)
    if (counts > 1).any():
        raise DataValidationError(
            f"predefined : positions en double {_shown(uniq[counts > 1])} ; pour un masque "
            "0/1 à la manière de spopt, passez un tableau de booléens"
        )
    return uniq


def _check_p(p: object, n_c: int, n_pre: int) -> int:
    if isinstance(p, bool) or not isinstance(p, int | np.integer) or not 1 <= p <= n_c:
        raise DataValidationError(
            f"p : un entier entre 1 et le nombre de candidats ({n_c}) est attendu, reçu {p!r}"
        )
    if p < n_pre:
        raise DataValidationError(
            f"p={p} est inférieur au nombre de sites existants imposés (predefined : {n_pre}) ; "
            "p compte tous les sites ouverts, existants compris"
        )
    return int(p)


def _check_options(tie_break: object, time_limit_s: object) -> float:
    if tie_break not in ("lexicographic", "none"):
        raise DataValidationError(
            f"tie_break : 'lexicographic' ou 'none' attendu, reçu {tie_break!r}"
        )
    return _positive_number("time_limit_s", time_limit_s)


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LocationSolution:
    r"""Sites chosen by :func:`set_covering`, :func:`p_median` or :func:`max_coverage`.

    Attributes
    ----------
    model : str
        ``"set_covering"``, ``"p_median"`` or ``"max_coverage"``.
    sites : numpy.ndarray of int
        Open candidate positions, sorted, existing (predefined) sites included.
    predefined : numpy.ndarray of int
        The existing sites imposed by the caller, sorted.
    objective : float
        Set covering: number of open sites (existing included, as spopt counts). p-median:
        :math:`\sum_i w_i d_{i,a(i)}` with :math:`a(i)` the nearest open site. Maximal
        coverage: weight of the demand points within ``service_radius`` of an open site.
        Recomputed from :attr:`sites`, not read from the solver.
    covered : numpy.ndarray of bool
        Per demand point: within reach of an open site (set covering, maximal coverage), or
        assigned to one (p-median).
    assignment : numpy.ndarray of int or None
        p-median only: the nearest open site of each demand point (ties to the lowest
        position), -1 when no listed pair reaches an open site.
    redundant : numpy.ndarray of int
        New sites that add nothing to the objective (``p`` larger than useful); they were
        picked by the tie rule.
    uncoverable : numpy.ndarray of int
        Set covering with ``allow_uncovered=True``: demand points no candidate can reach.
    status : str
        ``"optimal"`` (HiGHS proved optimality) or ``"time_limit"`` (best solution found).
    tie_rule : str
        ``"lexicographic"`` (the module's rule was applied to completion), ``"none"``
        (``tie_break="none"``) or ``"incomplete"`` (stopped by the time limit).
    solves : int
        MILP solves, both stages.
    seconds : float
        Wall time, validation included.
    """

    model: str
    sites: IntArray
    predefined: IntArray
    objective: float
    covered: BoolArray
    assignment: IntArray | None
    redundant: IntArray
    uncoverable: IntArray
    status: str
    tie_rule: str
    solves: int
    seconds: float

    @property
    def new_sites(self) -> IntArray:
        """Open sites that are not predefined."""
        out: IntArray = np.setdiff1d(self.sites, self.predefined).astype(np.int64)
        return out

    @property
    def optimal(self) -> bool:
        """True when HiGHS proved the objective optimal."""
        return self.status == "optimal"


# --------------------------------------------------------------------------------------------
# the two-stage solver
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Model:
    """``min c·v`` over ``v = (x_0..x_{n_x-1}, other)`` with binary ``x``."""

    c: FloatArray
    n_x: int
    lb: FloatArray
    ub: FloatArray
    constraints: list[LinearConstraint]
    integral_objective: bool  # objective takes integer values (set covering)


@dataclass(frozen=True)
class _Solved:
    chosen: BoolArray
    status: str
    tie_rule: str
    solves: int


def _run(
    model: _Model,
    cost: FloatArray,
    lb: FloatArray,
    ub: FloatArray,
    constraints: list[LinearConstraint],
    deadline: float,
) -> Any:
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return None
    integrality = np.zeros(len(cost), dtype=np.int64)
    integrality[: model.n_x] = 1
    return milp(
        cost,
        integrality=integrality,
        bounds=Bounds(lb, ub),
        constraints=constraints,
        options={"time_limit": remaining, "disp": False, "mip_rel_gap": 0.0},
    )


def _solve(model: _Model, k: int | None, name: str, deadline: float, tie_break: str) -> _Solved:
    """Stage 1, then the lexicographic stage 2 (see the module docstring).

    ``k`` is the number of open sites of every optimal solution (None: read from stage 1).
    """
    first = _run(model, model.c, model.lb, model.ub, model.constraints, deadline)
    if first is None or first.x is None:
        reason = (
            "aucune solution réalisable"
            if first is not None and first.status == 2
            else "pas de solution dans la limite de temps"
        )
        detail = "" if first is None else f" ({first.message})"
        raise DataValidationError(f"{name} : {reason}{detail}")
    chosen = np.asarray(first.x[: model.n_x] > 0.5)
    if first.status != 0:
        return _Solved(chosen, "time_limit", "incomplete", 1)
    if tie_break == "none":
        return _Solved(chosen, "optimal", "none", 1)
    value = float(model.c @ first.x)
    tol = 0.5 if model.integral_objective else max(_TIE_RTOL * abs(value), _TIE_ATOL)
    n_sites = int(chosen.sum()) if k is None else k
    lb, ub = model.lb.copy(), model.ub.copy()
    decided = lb[: model.n_x] > 0.5  # the predefined sites
    solves = 1

    def witness(block: IntArray) -> tuple[bool, BoolArray | None]:
        """(answered, sites): an optimum (under the fixes) opening one of ``block``, or None."""
        nonlocal solves
        solves += 1
        row = sparse.csr_array(
            (np.ones(block.size), (np.zeros(block.size, dtype=np.int64), block)),
            shape=(1, len(model.c)),
        )
        extra = LinearConstraint(row, 1.0, np.inf)
        res = _run(model, model.c, lb, ub, [*model.constraints, extra], deadline)
        if res is None or res.status not in (0, 2):
            return False, None  # time limit: give up the rule
        if res.status == 2 or float(model.c @ res.x) > value + tol:
            return True, None
        return True, np.asarray(res.x[: model.n_x] > 0.5)

    def fix(sites: IntArray, is_open: bool) -> None:
        decided[sites] = True
        lb[sites] = ub[sites] = 1.0 if is_open else 0.0

    undecided = np.flatnonzero(~decided)
    open_now = undecided[chosen[undecided]]
    before = undecided[~chosen[undecided] & (undecided < (open_now[-1] if open_now.size else 0))]
    if before.size == 0:  # the incumbent opens the first undecided candidates
        return _Solved(chosen, "optimal", "lexicographic", solves)
    if open_now.size:
        # one solve settles a unique optimum: if no optimum opens a candidate closed in the
        # incumbent and placed before its last site, every other optimum trades one of its
        # sites for a later candidate, so the incumbent is the lexicographic first
        answered, other = witness(before)
        if not answered:
            return _Solved(chosen, "optimal", "incomplete", solves)
        if other is None:
            return _Solved(chosen, "optimal", "lexicographic", solves)
        chosen = other
    while int((decided & (lb[: model.n_x] > 0.5)).sum()) < n_sites:
        undecided = np.flatnonzero(~decided)
        first_open = int(undecided[chosen[undecided]][0])
        zone = undecided[undecided < first_open]
        while zone.size:  # is any candidate before the incumbent's first site open in an optimum?
            answered, other = witness(zone)
            if not answered:
                return _Solved(chosen, "optimal", "incomplete", solves)
            if other is None:
                fix(zone, False)
                break
            chosen = other  # an optimum opening an earlier candidate: look before it
            first_open = int(zone[chosen[zone]][0])
            zone = zone[zone < first_open]
        fix(np.array([first_open]), True)
    return _Solved(chosen, "optimal", "lexicographic", solves)


def _site_bounds(n_c: int, n_other: int, predefined: IntArray) -> tuple[FloatArray, FloatArray]:
    lb = np.zeros(n_c + n_other)
    lb[predefined] = 1.0
    return lb, np.ones(n_c + n_other)


def _count_row(n_c: int, n_var: int, p: int) -> LinearConstraint:
    row = sparse.csr_array(
        (np.ones(n_c), (np.zeros(n_c, dtype=np.int64), np.arange(n_c))), shape=(1, n_var)
    )
    return LinearConstraint(row, float(p), float(p))


def _deadline(time_limit_s: float) -> float:
    return time.perf_counter() + time_limit_s


def _warn_redundant(name: str, redundant: IntArray) -> None:
    if redundant.size:
        warn_data(
            f"{name} : {redundant.size} site(s) choisi(s) n'ajoutent rien à l'objectif "
            f"(positions {_shown(redundant)}) ; p dépasse ce qui est utile, ils complètent p "
            "selon la règle d'égalité (premières positions)",
            stacklevel=3,
        )


# --------------------------------------------------------------------------------------------
# set covering
# --------------------------------------------------------------------------------------------
def set_covering(
    cost: npt.ArrayLike | CostPairs,
    service_radius: float,
    *,
    predefined: npt.ArrayLike | None = None,
    allow_uncovered: bool = False,
    tie_break: TieBreak = "lexicographic",
    time_limit_s: float = 60.0,
) -> LocationSolution:
    r"""Location set covering (LSCP): fewest sites so that every demand point is within reach.

    "How many maisons de santé so that everyone is within 20 minutes, and where?"

    .. math::

        \min \sum_j x_j \quad \text{s.t.} \quad \sum_{j:\, d_{ij} \le S} x_j \ge 1 \;\forall i,
        \; x_j = 1 \;\forall j \in \text{predefined},\; x_j \in \{0, 1\}

    Same model as spopt's ``LSCP.from_cost_matrix`` (coverage is ``cost ≤ service_radius``).

    Parameters
    ----------
    cost : array (n_demand, n_candidates) or CostPairs
        Dense costs (``np.inf``: unreachable; NaN and negative values are refused) or the
        sparse pairs.
    service_radius : float
        Maximum acceptable cost S (> 0), in the unit of ``cost``.
    predefined : bool array (n_candidates,) or int positions, optional
        Existing sites that must stay open; they count in the objective, as in spopt.
    allow_uncovered : bool, default False
        Demand points that no candidate reaches make the problem infeasible: by default a
        :class:`DataValidationError` names them (spopt's solver only says "Infeasible"). With
        True they are left out and listed in :attr:`LocationSolution.uncoverable`.
    tie_break : {"lexicographic", "none"}
        Among the minimum site sets, return the lexicographically smallest one (see the
        module docstring), or HiGHS' own choice.
    time_limit_s : float, default 60
        Budget of all the MILP solves.

    Returns
    -------
    LocationSolution

    Raises
    ------
    DataValidationError
        Bad input, or uncoverable demand points without ``allow_uncovered``.

    Examples
    --------
    >>> cost = np.array([[1.0, 9.0, 2.0], [9.0, 1.0, 2.0], [9.0, 9.0, 9.0]])
    >>> set_covering(cost, 2.0, allow_uncovered=True).sites.tolist()
    [2]
    """
    started = time.perf_counter()
    pairs = _pairs(cost)
    radius = _positive_number("service_radius", service_radius)
    limit = _check_options(tie_break, time_limit_s)
    n_c = pairs.n_candidates
    pre = _predefined(predefined, n_c)
    near = pairs.cost <= radius
    rows, cols = pairs.rows[near], pairs.cols[near]
    reachable = np.zeros(pairs.n_demand, dtype=bool)
    reachable[rows] = True
    uncoverable = np.flatnonzero(~reachable).astype(np.int64)
    if uncoverable.size and not allow_uncovered:
        raise DataValidationError(
            f"set_covering : {uncoverable.size} point(s) de demande hors de portée de tout "
            f"candidat à service_radius={radius:g} (positions {_shown(uncoverable)}) ; "
            "augmentez service_radius, ajoutez des candidats ou passez allow_uncovered=True"
        )
    is_pre = np.zeros(n_c, dtype=bool)
    is_pre[pre] = True
    done = np.zeros(pairs.n_demand, dtype=bool)
    done[rows[is_pre[cols]]] = True
    todo = reachable & ~done
    index = np.cumsum(todo) - 1
    keep = todo[rows]
    constraints = []
    if todo.any():
        matrix = sparse.csr_array(
            (np.ones(int(keep.sum())), (index[rows[keep]], cols[keep])),
            shape=(int(todo.sum()), n_c),
        )
        constraints.append(LinearConstraint(matrix, 1.0, np.inf))
    lb, ub = _site_bounds(n_c, 0, pre)
    model = _Model(np.ones(n_c), n_c, lb, ub, constraints, integral_objective=True)
    solved = _solve(model, None, "set_covering", _deadline(limit), tie_break)
    sites = np.flatnonzero(solved.chosen).astype(np.int64)
    covered = np.zeros(pairs.n_demand, dtype=bool)
    covered[rows[solved.chosen[cols]]] = True
    return LocationSolution(
        model="set_covering",
        sites=sites,
        predefined=pre,
        objective=float(sites.size),
        covered=covered,
        assignment=None,
        redundant=np.zeros(0, dtype=np.int64),
        uncoverable=uncoverable,
        status=solved.status,
        tie_rule=solved.tie_rule,
        solves=solved.solves,
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------------
# maximal coverage
# --------------------------------------------------------------------------------------------
def _coverage_value(w: FloatArray, rows: IntArray, cols: IntArray, chosen: BoolArray) -> BoolArray:
    covered = np.zeros(len(w), dtype=bool)
    covered[rows[chosen[cols]]] = True
    return covered


def max_coverage(
    cost: npt.ArrayLike | CostPairs,
    weights: npt.ArrayLike,
    service_radius: float,
    p: int,
    *,
    predefined: npt.ArrayLike | None = None,
    tie_break: TieBreak = "lexicographic",
    time_limit_s: float = 60.0,
) -> LocationSolution:
    r"""Maximal coverage (MCLP) from a cost matrix, exact, like spopt's ``MCLP.from_cost_matrix``.

    .. math::

        \max \sum_i w_i y_i \quad \text{s.t.} \quad y_i \le \sum_{j:\, d_{ij} \le S} x_j,\;
        \sum_j x_j = p,\; x_j = 1 \;\forall j \in \text{predefined},\;
        x_j \in \{0, 1\},\; 0 \le y_i \le 1

    (the :math:`y_i` are integral at an optimum). Demand points of zero weight or out of
    reach are left out of the model.

    Parameters
    ----------
    cost : array (n_demand, n_candidates) or CostPairs
        See :func:`set_covering`.
    weights : array (n_demand,)
        Demand weight (population), finite and ≥ 0.
    service_radius : float
        Coverage radius S (> 0): demand i is covered by j when ``cost[i, j] ≤ S``.
    p : int
        Number of open sites, **existing ones included** (as in spopt), 1 ≤ p ≤ n_candidates.
    predefined : bool array or int positions, optional
        Existing sites that must stay open.
    tie_break, time_limit_s
        See :func:`set_covering`.

    Returns
    -------
    LocationSolution
        ``objective`` is the covered weight; sites adding nothing are in ``redundant`` (a
        warning says so).

    Examples
    --------
    >>> cost = np.array([[1.0, 5.0], [5.0, 1.0], [5.0, 1.0]])
    >>> s = max_coverage(cost, [10.0, 3.0, 3.0], 2.0, 1)
    >>> s.sites.tolist(), s.objective
    ([0], 10.0)
    """
    started = time.perf_counter()
    pairs = _pairs(cost)
    w = _weights(weights, pairs.n_demand)
    radius = _positive_number("service_radius", service_radius)
    limit = _check_options(tie_break, time_limit_s)
    n_c = pairs.n_candidates
    pre = _predefined(predefined, n_c)
    k = _check_p(p, n_c, pre.size)
    near = pairs.cost <= radius
    rows, cols = pairs.rows[near], pairs.cols[near]
    useful = np.zeros(pairs.n_demand, dtype=bool)
    useful[rows] = True
    useful &= w > 0
    index = np.cumsum(useful) - 1
    n_y = int(useful.sum())
    keep = useful[rows]
    n_var = n_c + n_y
    constraints = [_count_row(n_c, n_var, k)]
    if n_y:
        y_cols = n_c + np.arange(n_y)
        link = sparse.csr_array(
            (
                np.concatenate((np.ones(n_y), -np.ones(int(keep.sum())))),
                (
                    np.concatenate((np.arange(n_y), index[rows[keep]])),
                    np.concatenate((y_cols, cols[keep])),
                ),
            ),
            shape=(n_y, n_var),
        )
        constraints.append(LinearConstraint(link, -np.inf, 0.0))
    c = np.concatenate((np.zeros(n_c), -w[useful]))
    lb, ub = _site_bounds(n_c, n_y, pre)
    model = _Model(c, n_c, lb, ub, constraints, integral_objective=False)
    solved = _solve(model, k, "max_coverage", _deadline(limit), tie_break)
    covered = _coverage_value(w, rows, cols, solved.chosen)
    # a new site matters if it alone covers some positive-weight demand point
    in_set = solved.chosen[cols]
    times = np.bincount(rows[in_set], minlength=pairs.n_demand)
    alone = in_set & (times[rows] == 1) & (w[rows] > 0)
    contributing = np.unique(cols[alone])
    sites = np.flatnonzero(solved.chosen).astype(np.int64)
    redundant = np.setdiff1d(np.setdiff1d(sites, contributing), pre).astype(np.int64)
    _warn_redundant("max_coverage", redundant)
    return LocationSolution(
        model="max_coverage",
        sites=sites,
        predefined=pre,
        objective=float(w[covered].sum()),
        covered=covered,
        assignment=None,
        redundant=redundant,
        uncoverable=np.zeros(0, dtype=np.int64),
        status=solved.status,
        tie_rule=solved.tie_rule,
        solves=solved.solves,
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------------
# p-median
# --------------------------------------------------------------------------------------------
def _nearest(pairs: _Pairs, chosen: BoolArray) -> tuple[IntArray, FloatArray]:
    """Nearest open site of each demand point (ties: lowest position), -1 / inf if none."""
    open_pair = chosen[pairs.cols]
    r, c, d = pairs.rows[open_pair], pairs.cols[open_pair], pairs.cost[open_pair]
    order = np.lexsort((c, d, r))
    r, c, d = r[order], c[order], d[order]
    first = np.ones(r.size, dtype=bool)
    first[1:] = r[1:] != r[:-1]
    assignment = np.full(pairs.n_demand, -1, dtype=np.int64)
    distance = np.full(pairs.n_demand, np.inf)
    assignment[r[first]] = c[first]
    distance[r[first]] = d[first]
    return assignment, distance


def p_median(
    cost: npt.ArrayLike | CostPairs,
    weights: npt.ArrayLike,
    p: int,
    *,
    predefined: npt.ArrayLike | None = None,
    tie_break: TieBreak = "lexicographic",
    time_limit_s: float = 60.0,
) -> LocationSolution:
    r"""p-median: open p sites minimising the total weighted cost to the nearest open site.

    "Where to put k sites to minimise total travel time?"

    .. math::

        \min \sum_{i,j} w_i d_{ij} z_{ij} \quad \text{s.t.} \quad \sum_j z_{ij} = 1,\;
        z_{ij} \le x_j,\; \sum_j x_j = p,\; x_j = 1 \;\forall j \in \text{predefined},\;
        x_j \in \{0, 1\},\; z_{ij} \ge 0

    Same model as spopt's ``PMedian.from_cost_matrix`` (uncapacitated); the :math:`z_{ij}` are
    continuous (once the sites are fixed, assigning each point to its nearest open site is
    optimal). With :class:`CostPairs`, a demand point can only be assigned along a listed
    pair (spopt's ``KNNPMedian`` idea): too small a ``p`` can then be infeasible. Demand points
    of zero weight do not enter the model; they still get their nearest open site.

    Parameters
    ----------
    cost : array (n_demand, n_candidates) or CostPairs
        See :func:`set_covering`.
    weights : array (n_demand,)
        Demand weight (population), finite and ≥ 0.
    p : int
        Number of open sites, **existing ones included** (as in spopt).
    predefined : bool array or int positions, optional
        Existing sites that must stay open.
    tie_break, time_limit_s
        See :func:`set_covering`.

    Returns
    -------
    LocationSolution
        ``objective`` is the total weighted cost, ``assignment`` the nearest open site of each
        point; ``objective / sum(weights)`` is spopt's ``mean_dist``.

    Raises
    ------
    DataValidationError
        Bad input, a positive-weight demand point with no pair at all, or no feasible
        assignment with p sites.

    Examples
    --------
    >>> cost = np.array([[0.0, 4.0, 9.0], [4.0, 0.0, 5.0], [9.0, 5.0, 0.0]])
    >>> s = p_median(cost, [1.0, 1.0, 1.0], 1)
    >>> s.sites.tolist(), s.objective, s.assignment.tolist()
    ([1], 9.0, [1, 1, 1])
    """
    started = time.perf_counter()
    pairs = _pairs(cost)
    w = _weights(weights, pairs.n_demand)
    limit = _check_options(tie_break, time_limit_s)
    n_c = pairs.n_candidates
    pre = _predefined(predefined, n_c)
    k = _check_p(p, n_c, pre.size)
    has_pair = np.zeros(pairs.n_demand, dtype=bool)
    has_pair[pairs.rows] = True
    lost = np.flatnonzero((w > 0) & ~has_pair)
    if lost.size:
        raise DataValidationError(
            f"p_median : {lost.size} point(s) de demande de poids > 0 sans aucune paire de coût "
            f"(positions {_shown(lost)}) ; ils ne peuvent être affectés à aucun site"
        )
    active = w > 0
    keep = active[pairs.rows]
    r, col, d = pairs.rows[keep], pairs.cols[keep], pairs.cost[keep]
    index = np.cumsum(active) - 1
    n_a, n_z = int(active.sum()), int(keep.sum())
    n_var = n_c + n_z
    z = n_c + np.arange(n_z)
    constraints = [_count_row(n_c, n_var, k)]
    if n_z:
        assign = sparse.csr_array((np.ones(n_z), (index[r], z)), shape=(n_a, n_var))
        opening = sparse.csr_array(
            (
                np.concatenate((np.ones(n_z), -np.ones(n_z))),
                (np.tile(np.arange(n_z), 2), np.concatenate((z, col))),
            ),
            shape=(n_z, n_var),
        )
        constraints += [LinearConstraint(assign, 1.0, 1.0), LinearConstraint(opening, -np.inf, 0.0)]
    c = np.concatenate((np.zeros(n_c), w[r] * d))
    lb, ub = _site_bounds(n_c, n_z, pre)
    model = _Model(c, n_c, lb, ub, constraints, integral_objective=False)
    solved = _solve(model, k, "p_median", _deadline(limit), tie_break)
    assignment, distance = _nearest(pairs, solved.chosen)
    sites = np.flatnonzero(solved.chosen).astype(np.int64)
    served = np.unique(assignment[active & (assignment >= 0)])
    redundant = np.setdiff1d(np.setdiff1d(sites, served), pre).astype(np.int64)
    _warn_redundant("p_median", redundant)
    return LocationSolution(
        model="p_median",
        sites=sites,
        predefined=pre,
        objective=float((w[active] * distance[active]).sum()),
        covered=assignment >= 0,
        assignment=assignment,
        redundant=redundant,
        uncoverable=np.zeros(0, dtype=np.int64),
        status=solved.status,
        tie_rule=solved.tie_rule,
        solves=solved.solves,
        seconds=time.perf_counter() - started,
    )
