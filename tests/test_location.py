"""Exact location models (set covering, p-median, maximal coverage) against brute force and spopt.

The spopt checks rebuild the instances of spopt 0.7's own tests (``spopt/tests/test_locate``):
the 100 clients × 5 facilities lattice of its ``network_instance`` fixture (spaghetti, seeds 5
and 6), and the San Francisco 205 tracts × 16 stores matrix shipped in its test data. Expected
values are spopt's published ones where its tests state them, otherwise spopt's own solve
(PuLP's bundled CBC) on the same instance.
"""

from __future__ import annotations

import itertools
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geo.errors import DataValidationError
from geo.location import CostPairs, LocationSolution, max_coverage, p_median, set_covering


# --------------------------------------------------------------------------------------------
# brute force: every site set, the lexicographically smallest optimum
# --------------------------------------------------------------------------------------------
def _value(model: str, cost: np.ndarray, w: np.ndarray, sites: tuple[int, ...], r: float) -> float:
    """Objective to minimise (coverage negated)."""
    if model == "set_covering":
        return len(sites) if (cost[:, list(sites)] <= r).any(axis=1).all() else np.inf
    if model == "max_coverage":
        return -float(w[(cost[:, list(sites)] <= r).any(axis=1)].sum())
    return float((w * cost[:, list(sites)].min(axis=1)).sum())


def _brute(
    model: str, cost: np.ndarray, w: np.ndarray, p: int, r: float, pre: list[int]
) -> tuple[float, tuple[int, ...], int]:
    """(optimum, lexicographically smallest optimal set, number of optimal sets)."""
    m = cost.shape[1]
    if model == "set_covering":  # bit masks: fast enough for sets of 5 among 40
        masks = [sum(1 << i for i in np.flatnonzero(cost[:, j] <= r)) for j in range(m)]
        full = (1 << cost.shape[0]) - 1
        for size in range(1, m + 1):
            ties = [
                s
                for s in itertools.combinations(range(m), size)
                if set(pre) <= set(s) and _union(masks, s) == full
            ]
            if ties:
                return float(size), ties[0], len(ties)
        raise AssertionError("no feasible set")
    for size in [p]:
        values = {
            s: _value(model, cost, w, s, r)
            for s in itertools.combinations(range(m), size)
            if set(pre) <= set(s)
        }
        best = min(values.values(), default=np.inf)
        if np.isfinite(best):
            ties = sorted(s for s, v in values.items() if abs(v - best) <= 1e-9 * max(1, abs(best)))
            return best, ties[0], len(ties)
    raise AssertionError("no feasible set")


def _union(masks: list[int], sites: tuple[int, ...]) -> int:
    out = 0
    for j in sites:
        out |= masks[j]
    return out


def _ours(model: str, cost: Any, w: np.ndarray, p: int, r: float, pre: Any) -> LocationSolution:
    if model == "set_covering":
        return set_covering(cost, r, predefined=pre)
    if model == "max_coverage":
        return max_coverage(cost, w, r, p, predefined=pre)
    return p_median(cost, w, p, predefined=pre)


def _signed(model: str, solution: LocationSolution) -> float:
    return -solution.objective if model == "max_coverage" else solution.objective


MODELS = ["set_covering", "max_coverage", "p_median"]


def _small_instance(seed: int, m_range: tuple[int, int]) -> tuple[Any, ...]:
    """Small integer costs and weights: many ties."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(4, 12)), int(rng.integers(*m_range))
    cost = rng.integers(0, 6, (n, m)).astype(float)
    w = rng.integers(0, 3, n).astype(float)
    pre = sorted(rng.choice(m, int(rng.integers(0, 2)), replace=False).tolist())
    p = int(rng.integers(max(1, len(pre)), min(m, 4) + 1))
    return cost, w, pre, p


@pytest.mark.filterwarnings("ignore:.*n'ajoutent rien:UserWarning")
@pytest.mark.parametrize("model", MODELS)
def test_lexicographic_tie_rule_matches_brute_force(model: str) -> None:
    """30 instances with ties: same optimum as enumeration, and its lexicographically first set."""
    tied = 0
    for seed in range(30):
        cost, w, pre, p = _small_instance(seed, (3, 8))
        radius = 2.0
        if model == "set_covering" and not (cost <= radius).any(axis=1).all():
            continue
        best, first, n_optima = _brute(model, cost, w, p, radius, pre)
        ours = _ours(model, cost, w, p, radius, np.array(pre, dtype=np.int64))
        assert _signed(model, ours) == pytest.approx(best, abs=1e-9)
        assert tuple(ours.sites.tolist()) == first, seed
        assert ours.tie_rule == "lexicographic" and ours.optimal
        tied += n_optima > 1
    assert tied >= 10  # the rule was exercised, not only unique optima


@pytest.mark.filterwarnings("ignore:.*n'ajoutent rien:UserWarning")
@pytest.mark.parametrize("model", MODELS)
def test_tie_rule_beyond_one_window(model: str) -> None:
    """22 to 40 candidates, the good ones late: the block and 20-candidate window stages."""
    for seed in range(8):
        rng = np.random.default_rng(1000 + seed)
        n, m = int(rng.integers(5, 12)), int(rng.integers(22, 41))
        cost = rng.integers(0, 8, (n, m)).astype(float)
        cost[:, : m // 2] += 5.0  # the first half rarely optimal
        w = rng.integers(0, 3, n).astype(float)
        pre = [int(rng.integers(m))] if seed % 2 else []
        p = 2 + len(pre)
        radius = 1.0
        if model == "set_covering" and not (cost <= radius).any(axis=1).all():
            continue
        best, first, _ = _brute(model, cost, w, p, radius, pre)
        ours = _ours(model, cost, w, p, radius, pre)
        assert _signed(model, ours) == pytest.approx(best, abs=1e-9)
        assert tuple(ours.sites.tolist()) == first, seed


def test_tie_instance_where_the_rule_decides() -> None:
    """Two clients at 0 and 10 on a line, candidates at 10, 0, 5, 0, 10: four optimal pairs."""
    position = np.array([10.0, 0.0, 5.0, 0.0, 10.0])
    cost = np.abs(np.array([0.0, 10.0])[:, None] - position[None, :])
    w = np.ones(2)
    best, first, n_optima = _brute("p_median", cost, w, 2, 0.0, [])
    assert (best, first, n_optima) == (0.0, (0, 1), 4)
    assert p_median(cost, w, 2).sites.tolist() == [0, 1]
    # the caller's order is the preference: list the candidates the other way round
    assert p_median(cost[:, ::-1], w, 2).sites.tolist() == [0, 1]
    assert set_covering(cost, 0.0 + 1e-9).sites.tolist() == [0, 1]
    # with an existing site at position 3 (a client's location), the other must be 0 or 4
    assert p_median(cost, w, 2, predefined=[3]).sites.tolist() == [0, 3]
    assert max_coverage(cost, w, 1.0, 1).sites.tolist() == [0]


def test_identical_candidates_pick_the_first_ones() -> None:
    cost = np.tile(np.array([[1.0], [2.0], [3.0]]), (1, 45))
    assert set_covering(cost, 3.0).sites.tolist() == [0]
    with pytest.warns(UserWarning, match=r"2 site\(s\) choisi\(s\) n'ajoutent rien .*1, 2"):
        assert p_median(cost, np.ones(3), 3).sites.tolist() == [0, 1, 2]
    cost[:, :30] += 10.0  # now only 30..44 cover
    assert set_covering(cost, 3.0).sites.tolist() == [30]


# --------------------------------------------------------------------------------------------
# the models on hand-checked instances
# --------------------------------------------------------------------------------------------
def test_set_covering_by_hand() -> None:
    cost = np.array(
        [
            [1.0, 9.0, 9.0, 2.0],
            [9.0, 1.0, 9.0, 9.0],
            [9.0, 2.0, 1.0, 9.0],
            [2.0, 9.0, 2.0, 9.0],
        ]
    )
    s = set_covering(cost, 2.0)
    assert s.sites.tolist() == [0, 1] and s.objective == 2.0 and s.covered.all()
    s = set_covering(cost, 2.0, predefined=[3])
    assert s.sites.tolist() == [0, 1, 3] and s.new_sites.tolist() == [0, 1]
    assert s.objective == 3.0  # existing sites count, as in spopt


def test_set_covering_names_uncoverable_points() -> None:
    cost = np.array([[1.0, 9.0], [9.0, 9.0], [2.0, 1.0], [9.0, np.inf]])
    with pytest.raises(DataValidationError, match=r"2 point\(s\) de demande .*positions 1, 3"):
        set_covering(cost, 2.0)
    s = set_covering(cost, 2.0, allow_uncovered=True)
    assert s.uncoverable.tolist() == [1, 3] and s.sites.tolist() == [0]
    assert s.covered.tolist() == [True, False, True, False]


def test_max_coverage_by_hand_and_redundant_sites() -> None:
    cost = np.array([[1.0, 5.0, 5.0], [5.0, 1.0, 5.0], [5.0, 1.0, 5.0]])
    s = max_coverage(cost, [10.0, 3.0, 3.0], 2.0, 1)
    assert s.sites.tolist() == [0] and s.objective == 10.0
    s = max_coverage(cost, [10.0, 3.0, 3.0], 2.0, 2, predefined=[1])
    assert s.sites.tolist() == [0, 1] and s.objective == 16.0
    with pytest.warns(UserWarning, match=r"1 site\(s\) choisi\(s\) n'ajoutent rien.*2"):
        s = max_coverage(cost, [10.0, 3.0, 3.0], 2.0, 3)
    assert s.redundant.tolist() == [2] and s.objective == 16.0


def test_p_median_by_hand() -> None:
    cost = np.array([[0.0, 4.0, 9.0], [4.0, 0.0, 5.0], [9.0, 5.0, 0.0]])
    s = p_median(cost, [1.0, 1.0, 1.0], 1)
    assert s.sites.tolist() == [1] and s.objective == 9.0
    assert s.assignment is not None and s.assignment.tolist() == [1, 1, 1]
    s = p_median(cost, [1.0, 1.0, 5.0], 2, predefined=np.array([True, False, False]))
    assert s.sites.tolist() == [0, 2] and s.objective == 4.0
    assert s.assignment is not None and s.assignment.tolist() == [0, 0, 2]


def test_p_median_zero_weight_points_still_get_a_site() -> None:
    cost = np.array([[0.0, 9.0], [9.0, 0.0], [3.0, 1.0]])
    s = p_median(cost, [5.0, 0.0, 0.0], 1)
    assert s.sites.tolist() == [0] and s.objective == 0.0
    assert s.assignment is not None and s.assignment.tolist() == [0, 0, 0]


# --------------------------------------------------------------------------------------------
# sparse long form
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparse_pairs_give_the_dense_results(seed: int) -> None:
    rng = np.random.default_rng(seed)
    demand, sites = rng.uniform(0, 100, (100, 2)), rng.uniform(0, 100, (25, 2))
    cost = np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    w = np.round(rng.lognormal(5, 1, 100))
    pairs = CostPairs.from_dense(cost, max_cost=20.0)
    assert len(np.asarray(pairs.rows)) < cost.size / 3
    dense, sparse = max_coverage(cost, w, 20.0, 4), max_coverage(pairs, w, 20.0, 4)
    assert dense.sites.tolist() == sparse.sites.tolist() and dense.objective == sparse.objective
    a = set_covering(cost, 25.0, allow_uncovered=True)
    b = set_covering(CostPairs.from_dense(cost, 25.0), 25.0, allow_uncovered=True)
    assert a.sites.tolist() == b.sites.tolist()
    a, b = p_median(cost, w, 3), p_median(CostPairs.from_dense(cost), w, 3)
    assert a.sites.tolist() == b.sites.tolist() and a.objective == pytest.approx(b.objective)
    # shuffled pairs are the same pairs
    order = rng.permutation(len(np.asarray(pairs.rows)))
    shuffled = CostPairs(
        np.asarray(pairs.rows)[order],
        np.asarray(pairs.cols)[order],
        np.asarray(pairs.cost)[order],
        100,
        25,
    )
    again = max_coverage(shuffled, w, 20.0, 4)
    assert again.sites.tolist() == sparse.sites.tolist() and again.objective == sparse.objective


def test_sparse_p_median_only_assigns_along_listed_pairs() -> None:
    pairs = CostPairs([0, 1, 1, 2], [0, 0, 1, 1], [1.0, 5.0, 1.0, 2.0], 3, 2)
    s = p_median(pairs, [1.0, 1.0, 1.0], 2)
    assert s.assignment is not None and s.assignment.tolist() == [0, 1, 1]
    with pytest.raises(DataValidationError, match="p_median : aucune solution réalisable"):
        p_median(pairs, [1.0, 1.0, 1.0], 1)  # client 0 and client 2 need different sites
    lonely = CostPairs([0, 1], [0, 1], [1.0, 1.0], 3, 2)
    with pytest.raises(DataValidationError, match=r"sans aucune paire.*positions 2"):
        p_median(lonely, [1.0, 1.0, 1.0], 2)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: set_covering(c, 0.0), r"service_radius : un nombre fini > 0 .*0\.0"),
        (lambda c: set_covering(c, -1), r"service_radius .* reçu -1"),
        (lambda c: set_covering(c, np.nan), "service_radius"),
        (lambda c: max_coverage(c, [1, 1], 1.0, 4), r"p : un entier entre 1 et .*\(3\).* 4"),
        (lambda c: p_median(c, [1, 1], 0), r"p : .* reçu 0"),
        (lambda c: p_median(c, [1, 1], True), r"p : .* reçu True"),
        (lambda c: p_median(c, [1, 1], 1, predefined=[0, 2]), r"p=1 est inférieur .* 2"),
        (lambda c: p_median(c, [1, 1], 2, predefined=[0, 0]), r"positions en double 0"),
        (lambda c: p_median(c, [1, 1], 2, predefined=[5]), r"predefined : positions hors .*5"),
        (lambda c: p_median(c, [1, 1], 2, predefined=[True]), r"masque booléen .*\(3\)"),
        (lambda c: p_median(c, [1, 1, 1], 1), r"weights : un poids par point .*\(2\)"),
        (lambda c: p_median(c, [1, -1], 1), r"weights : 1 poids .* -1\.0 \(demande 1\)"),
        (lambda c: max_coverage(c, [1, np.nan], 1.0, 1), r"weights .*nan"),
        (lambda c: p_median(c, [1, 1], 1, tie_break="first"), r"tie_break .*'first'"),
        (lambda c: p_median(c, [1, 1], 1, time_limit_s=0), r"time_limit_s"),
        (lambda c: set_covering(c[:, :0], 1.0), r"cost : une matrice .* \(2, 0\)"),
        (lambda c: set_covering(c[0], 1.0), r"cost : une matrice .* \(3,\)"),
        (
            lambda c: set_covering(np.where(c > 1, np.nan, c), 1.0),
            r"cost : 4 coût\(s\) NaN, dont \(demande 0, candidat 1\)",
        ),
        (lambda c: set_covering(-c, 1.0), r"négatif.*-1\.0 \(demande 0, candidat 0\)"),
        (lambda c: set_covering([["a"]], 1.0), r"cost : une matrice de coûts numérique"),
    ],
)
def test_errors_are_french_and_name_the_argument(call: Any, message: str) -> None:
    cost = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    with pytest.raises(DataValidationError, match=message):
        call(cost)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (CostPairs([0, 0], [1, 1], [1.0, 2.0], 2, 2), r"paire\(s\) en double.*candidat 1"),
        (CostPairs([0, 2], [0, 1], [1.0, 2.0], 2, 2), r"cost\.rows : positions hors de \[0, 2\)"),
        (CostPairs([0, 1], [0, 1], [1.0, -2.0], 2, 2), r"cost\.cost .*-2\.0 \(demande 1"),
        (CostPairs([0, 1], [0, 1], [1.0, np.inf], 2, 2), r"cost\.cost .*inf"),
        (CostPairs([0, 1], [0, 1], [1.0], 2, 2), r"la même longueur"),
        (CostPairs([0.0, 1.0], [0, 1], [1.0, 1.0], 2, 2), r"cost\.rows : des positions entières"),
        (CostPairs([0, 1], [0, 1], [1.0, 1.0], 2, 0), r"cost\.n_candidates : un entier ≥ 1"),
    ],
)
def test_bad_pairs_are_refused(pairs: CostPairs, message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        set_covering(pairs, 5.0)


# --------------------------------------------------------------------------------------------
# parity with spopt 0.7 on the instances of its own tests
# --------------------------------------------------------------------------------------------
def _spopt_data() -> Path:
    spopt = pytest.importorskip("spopt")
    data = Path(spopt.__file__).parent / "tests" / "test_locate" / "data"
    if not data.is_dir():
        pytest.skip(f"spopt's test data not installed at {data}")
    return data


def _spopt_sites(data: Path, name: str) -> list[int]:
    """Sites of one of spopt's saved ``fac2cli`` solutions (a facility serving someone)."""
    with open(data / name, "rb") as f:
        fac2cli = pickle.load(f)
    return [j for j, clients in enumerate(fac2cli) if len(clients)]


@pytest.fixture(scope="module")
def lattice() -> dict[str, np.ndarray]:
    """spopt's ``network_instance(100, 5)`` fixture and its test weights, rebuilt exactly."""
    state = np.random.get_state()  # noqa: NPY002  simulated_geo_points seeds numpy's global generator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # spaghetti/libpysal deprecations
        spaghetti = pytest.importorskip("spaghetti")
        geopandas = pytest.importorskip("geopandas")
        util = pytest.importorskip("spopt.locate.util")
        lattice = spaghetti.regular_lattice((0, 0, 10, 10), 9, exterior=True)
        ntw = spaghetti.Network(in_data=lattice)
        arcs = spaghetti.element_as_gdf(ntw, arcs=True)
        street = geopandas.GeoDataFrame(
            geopandas.GeoSeries(arcs["geometry"].buffer(0.2).union_all()),
            crs=arcs.crs,
            columns=["geometry"],
        )
        points = {}
        for name, count, seed in (("clients", 100, 5), ("facilities", 5, 6)):
            simulated = util.simulated_geo_points(street, needed=count, seed=seed)
            ntw.snapobservations(simulated, name, attribute=True)
            snapped = spaghetti.element_as_gdf(ntw, pp_name=name, snapped=True)
            points[name] = np.c_[snapped.geometry.x, snapped.geometry.y]
        network = ntw.allneighbordistances(
            sourcepattern=ntw.pointpatterns["clients"], destpattern=ntw.pointpatterns["facilities"]
        )
        # spopt's tests draw their weights next, from the generator seeded 6 for the facilities
        weights = np.random.randint(1, 12, 100)  # noqa: NPY002
    np.random.set_state(state)  # noqa: NPY002
    diff = points["clients"][:, None, :] - points["facilities"][None, :, :]
    return {"network": network, "euclidean": np.hypot(diff[..., 0], diff[..., 1]), "w": weights}


def test_spopt_lattice_network_costs(lattice: dict[str, np.ndarray]) -> None:
    data = _spopt_data()
    cost, w = lattice["network"], lattice["w"]
    # LSCP, radius 8: spopt saved {1, 2, 4}; same count, ours is the lexicographic first
    saved = _spopt_sites(data, "lscp_fac2cli.pkl")
    ours = set_covering(cost, 8)
    assert ours.objective == len(saved) == 3
    assert (cost[:, saved] <= 8).any(axis=1).all()
    assert ours.sites.tolist() == [0, 1, 3]
    # MCLP, radius 7, p = 4: spopt asserts 1 client uncovered, 99 % covered
    ours = max_coverage(cost, w, 7, 4)
    assert int((~ours.covered).sum()) == 1
    assert ours.sites.tolist() == _spopt_sites(data, "mclp_fac2cli.pkl")
    # p-median, p = 4
    ours = p_median(cost, w, 4)
    assert ours.sites.tolist() == _spopt_sites(data, "pmedian_fac2cli.pkl")


def test_spopt_lattice_predefined_sites(lattice: dict[str, np.ndarray]) -> None:
    """spopt's ``*_preselected_*`` tests (Euclidean costs between the snapped points)."""
    data = _spopt_data()
    cost, w = lattice["euclidean"], lattice["w"]
    # p-median, existing [0, 0, 0, 1, 1], p = 3: spopt's published figures
    ours = p_median(cost, w, 3, predefined=np.array([0, 0, 0, 1, 1], dtype=bool))
    assert ours.objective == pytest.approx(1872.5093264630818, rel=1e-12)
    assert ours.objective / w.sum() == pytest.approx(3.0299503664451164, rel=1e-12)
    assert ours.sites.tolist() == [1, 3, 4]  # spopt's known_solution_set y_1_, y_3_, y_4_
    # LSCP, existing facility 4, radius 8
    ours = set_covering(cost, 8, predefined=[4])
    assert ours.sites.tolist() == _spopt_sites(
        data, "lscp_preselected_loc_geodataframe_fac2cli.pkl"
    )
    # MCLP, existing [1, 1, 0, 1, 0], radius 7, p = 4: a tie, same covered weight
    saved = _spopt_sites(data, "mclp_preselected_loc_geodataframe_fac2cli.pkl")
    with pytest.warns(UserWarning, match=r"n'ajoutent rien .*positions 2\)"):
        ours = max_coverage(cost, w, 7, 4, predefined=[0, 1, 3])
    assert ours.objective == float(w[(cost[:, saved] <= 7).any(axis=1)].sum())
    assert saved == [0, 1, 3, 4] and ours.sites.tolist() == [0, 1, 2, 3]


@pytest.fixture(scope="module")
def san_francisco() -> tuple[np.ndarray, np.ndarray]:
    """spopt's real-world instance: 205 census tracts × 16 stores, network metres, POP2000."""
    data = _spopt_data()
    pd = pytest.importorskip("pandas")
    distance = pd.read_csv(data / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    pivot = distance.pivot_table(values="distance", index="DestinationName", columns="name")
    demand = pd.read_csv(data / "SF_demand_205_centroid_uniform_weight.csv").sort_values("NAME")
    assert pivot.index.tolist() == demand["NAME"].tolist()
    return pivot.to_numpy(), demand["POP2000"].to_numpy()


def test_spopt_san_francisco_published_values(san_francisco: tuple[np.ndarray, np.ndarray]) -> None:
    cost, w = san_francisco
    mclp = max_coverage(cost, w, 5000.0, 4)
    assert int((~mclp.covered).sum()) == 21  # spopt: n_cli_uncov == 21
    assert 100 * mclp.covered.mean() == pytest.approx(89.75609756097561)
    median = p_median(cost, w, 4)
    assert median.objective / w.sum() == pytest.approx(2982.1268579890657, rel=1e-12)
    assert median.sites.tolist() == mclp.sites.tolist() == [1, 2, 5, 10]
    # spopt's infeasible cases are clear errors here
    with pytest.raises(DataValidationError, match=r"205 point\(s\) de demande hors de portée"):
        set_covering(cost, 20.0)
    with pytest.raises(DataValidationError, match=r"p : .*\(16\).*1000"):
        max_coverage(cost, w, 5000.0, 1000)
    with pytest.raises(DataValidationError, match=r"p : .* reçu 0"):
        p_median(cost, w, 0)


def _spopt_objective(
    model: str, cost: np.ndarray, w: np.ndarray, p: int, r: float, pre: Any
) -> float:
    """Solve with spopt + PuLP's CBC; return the objective in our sign convention."""
    pulp = pytest.importorskip("pulp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # spopt 0.7 on PuLP 3.3
        from spopt.locate import LSCP, MCLP, PMedian

        mask = None if pre is None else np.isin(np.arange(cost.shape[1]), pre).astype(int)
        if model == "set_covering":
            solved = LSCP.from_cost_matrix(cost, r, predefined_facilities_arr=mask)
        elif model == "max_coverage":
            solved = MCLP.from_cost_matrix(cost, w, r, p, predefined_facilities_arr=mask)
        else:
            solved = PMedian.from_cost_matrix(cost, w, p, predefined_facilities_arr=mask)
        solved = solved.solve(pulp.PULP_CBC_CMD(msg=False))
        value = float(solved.problem.objective.value())
    return -value if model == "max_coverage" else value


def test_spopt_san_francisco_set_covering(san_francisco: tuple[np.ndarray, np.ndarray]) -> None:
    cost, w = san_francisco
    for pre in (None, [0, 3]):
        ours = set_covering(cost, 5000.0, predefined=pre)
        assert ours.objective == _spopt_objective("set_covering", cost, w, 0, 5000.0, pre)
        assert ours.covered.all()


@pytest.mark.parametrize("model", MODELS)
def test_same_objective_as_spopt_with_existing_sites(model: str) -> None:
    """Random 60 × 15 instances, with and without two existing sites: equal objectives."""
    _spopt_data()
    for seed in range(3):
        rng = np.random.default_rng(seed)
        demand, sites = rng.uniform(0, 100, (60, 2)), rng.uniform(0, 100, (15, 2))
        diff = demand[:, None, :] - sites[None, :, :]
        cost = np.hypot(diff[..., 0], diff[..., 1])
        w = np.round(rng.lognormal(5, 1, 60))
        radius = 40.0 if model == "set_covering" else 20.0
        for pre in (None, [int(rng.integers(15)), 14]):
            ours = _ours(model, cost, w, 4, radius, pre)
            theirs = _spopt_objective(model, cost, w, 4, radius, pre)
            assert _signed(model, ours) == pytest.approx(theirs, rel=1e-9), (seed, pre)
