"""Floating-catchment measures: PySAL access as oracle, hand computations, edge cases, errors."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from access import Access
from access import weights as access_weights

from geo import _fca
from geo._fca import BandWeights
from geo.access import (
    APL_BANDS,
    APL_BANDS_2012,
    GaussianWeights,
    StepWeights,
    apl,
    enhanced_two_step_fca,
    gravity,
    kernel_two_step_fca,
    nearest_cost,
    standardise_population,
    three_step_fca,
    two_step_fca,
)
from geo.errors import DataValidationError

REL_TOL = 1e-9
SEEDS = [0, 1, 2, 3, 4]


def max_rel_diff(ours: pd.Series, theirs: pd.Series) -> float:
    """Largest relative difference; the NaN patterns must be identical."""
    theirs = theirs.reindex(ours.index)
    a, b = ours.to_numpy(dtype=float), theirs.to_numpy(dtype=float)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(a)
    if not ok.any():
        return 0.0
    scale = np.maximum(np.abs(b[ok]), 1e-300)
    return float(np.max(np.abs(a[ok] - b[ok]) / scale))


# --------------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------------


@dataclass
class Problem:
    demand: pd.DataFrame
    supply: pd.DataFrame
    cost: pd.DataFrame
    max_cost: float

    def access(self) -> Access:
        """A fresh PySAL access model on copies (access mutates the cost frame it is given)."""
        return Access(
            demand_df=self.demand.rename_axis("geoid"),
            demand_index=True,
            demand_value="pop",
            supply_df=self.supply.rename_axis("geoid"),
            supply_index=True,
            supply_value="doc",
            cost_df=self.cost.copy(),
            cost_origin="origin",
            cost_dest="dest",
            cost_name="cost",
        )


def random_problem(seed: int, n: int = 200, m: int = 60) -> Problem:
    """Random costs with zero costs, costs on the step thresholds and unreachable points.

    Demand points 0–9 have no pair at all, 10–19 only pairs beyond 60 (so beyond max_cost);
    supply points m-5..m-1 have no pair; 15 % of the supply is 0; the demand frame is shuffled
    so that the output order (demand_df's) differs from access's (sorted).
    """
    rng = np.random.default_rng(seed)
    demand_ids = np.array([f"D{i:04d}" for i in range(n)])
    supply_ids = np.array([f"S{j:03d}" for j in range(m)])
    population = rng.uniform(1.0, 5_000.0, n)
    supply = rng.uniform(0.0, 10.0, m)
    supply[rng.random(m) < 0.15] = 0.0

    rows, cols = np.nonzero(rng.random((n, m - 5)) < 0.3)
    cost = rng.uniform(0.0, 60.0, rows.size)
    cost[rng.random(rows.size) < 0.05] = 0.0
    on_threshold = rng.random(rows.size) < 0.2
    cost[on_threshold] = rng.integers(0, 13, on_threshold.sum()) * 5.0
    keep = rows >= 10
    rows, cols, cost = rows[keep], cols[keep], cost[keep]
    cost[rows < 20] = rng.uniform(61.0, 90.0, (rows < 20).sum())

    order = rng.permutation(n)
    demand_df = pd.DataFrame({"pop": population[order]}, index=demand_ids[order])
    supply_df = pd.DataFrame({"doc": supply}, index=supply_ids)
    cost_df = pd.DataFrame({"origin": demand_ids[rows], "dest": supply_ids[cols], "cost": cost})
    cost_df = cost_df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return Problem(demand_df, supply_df, cost_df, float(rng.uniform(20.0, 50.0)))


def hospital_costs(scenario: int) -> pd.DataFrame:
    """Cost tables of access's ``test_hospital_example.py`` (self 1, inbound, outbound, cross)."""
    inbound, outbound, cross = {0: (40, 40, 80), 1: (20, 40, 80), 2: (40, 20, 80), 3: (20, 20, 40)}[
        scenario
    ]
    return pd.DataFrame(
        [
            (1, 1, 1),
            (2, 2, 1),
            (3, 3, 1),
            (1, 3, inbound),
            (2, 3, inbound),
            (3, 1, outbound),
            (3, 2, outbound),
            (1, 2, cross),
            (2, 1, cross),
        ],
        columns=["origin", "dest", "cost"],
    ).astype({"cost": float})


HOSPITAL_TRACTS = pd.DataFrame(
    {"pop": [100.0, 50.0, 10.0], "doc": [15.0, 20.0, 100.0]}, index=pd.Index([1, 2, 3])
)


def hospital_problem(scenario: int) -> Problem:
    return Problem(HOSPITAL_TRACTS[["pop"]], HOSPITAL_TRACTS[["doc"]], hospital_costs(scenario), 61)


# --------------------------------------------------------------------------------------------
# Against PySAL access
# --------------------------------------------------------------------------------------------

Ours = Callable[[Problem], pd.Series]
Theirs = Callable[[Problem], pd.Series]
KW: dict[str, Any] = {"demand_col": "pop", "supply_col": "doc"}
GAUSS = GaussianWeights(12.0)
STEPS = {5: 1.0, 15: 0.5, 25: 0.0, 40: 0.2}

MEASURES: dict[str, tuple[Ours, Theirs]] = {
    "2sfca": (
        lambda p: two_step_fca(p.demand, p.supply, p.cost, max_cost=p.max_cost, **KW),
        lambda p: p.access().two_stage_fca(name="x", max_cost=p.max_cost)["x_doc"],
    ),
    "2sfca-max-cost-on-a-cost-value": (  # pairs at exactly 20 are in reach (cost <= max_cost)
        lambda p: two_step_fca(p.demand, p.supply, p.cost, max_cost=20, **KW),
        lambda p: p.access().two_stage_fca(name="x", max_cost=20)["x_doc"],
    ),
    "2sfca-no-max-cost": (
        lambda p: two_step_fca(p.demand, p.supply, p.cost, **KW),
        lambda p: p.access().two_stage_fca(name="x")["x_doc"],
    ),
    "2sfca-gravity-weights": (
        lambda p: two_step_fca(
            p.demand,
            p.supply,
            p.cost,
            weights=_fca.GravityWeights(10.0, -1.5, 1.0),
            max_cost=p.max_cost,
            **KW,
        ),
        lambda p: p.access().two_stage_fca(
            name="x", weight_fn=access_weights.gravity(10.0, -1.5, 1.0), max_cost=p.max_cost
        )["x_doc"],
    ),
    "2sfca-normalized": (
        lambda p: two_step_fca(
            p.demand, p.supply, p.cost, max_cost=p.max_cost, normalize=True, **KW
        ),
        lambda p: p.access().two_stage_fca(name="x", max_cost=p.max_cost, normalize=True)["x_doc"],
    ),
    "e2sfca-default": (
        lambda p: enhanced_two_step_fca(p.demand, p.supply, p.cost, **KW),
        lambda p: p.access().enhanced_two_stage_fca(name="x")["x_doc"],
    ),
    "e2sfca-steps-max-cost": (
        lambda p: enhanced_two_step_fca(
            p.demand, p.supply, p.cost, weights=STEPS, max_cost=p.max_cost, **KW
        ),
        lambda p: p.access().enhanced_two_stage_fca(
            name="x", weight_fn=access_weights.step_fn(STEPS), max_cost=p.max_cost
        )["x_doc"],
    ),
    "e2sfca-normalized": (
        lambda p: enhanced_two_step_fca(
            p.demand, p.supply, p.cost, max_cost=p.max_cost, normalize=True, **KW
        ),
        lambda p: p.access().enhanced_two_stage_fca(name="x", max_cost=p.max_cost, normalize=True)[
            "x_doc"
        ],
    ),
    "kd2sfca": (
        lambda p: kernel_two_step_fca(
            p.demand, p.supply, p.cost, sigma=12.0, max_cost=p.max_cost, **KW
        ),
        lambda p: p.access().two_stage_fca(
            name="x", weight_fn=access_weights.gaussian(12.0), max_cost=p.max_cost
        )["x_doc"],
    ),
    "3sfca-default": (
        lambda p: three_step_fca(p.demand, p.supply, p.cost, max_cost=p.max_cost, **KW),
        lambda p: p.access().three_stage_fca(name="x", max_cost=p.max_cost)["x_doc"],
    ),
    "3sfca-gaussian-no-max-cost": (
        lambda p: three_step_fca(p.demand, p.supply, p.cost, weights=GAUSS, **KW),
        lambda p: p.access().three_stage_fca(name="x", weight_fn=access_weights.gaussian(12.0))[
            "x_doc"
        ],
    ),
    "3sfca-normalized": (
        lambda p: three_step_fca(
            p.demand, p.supply, p.cost, max_cost=p.max_cost, normalize=True, **KW
        ),
        lambda p: p.access().three_stage_fca(name="x", max_cost=p.max_cost, normalize=True)[
            "x_doc"
        ],
    ),
    "gravity": (
        lambda p: gravity(
            p.demand,
            p.supply,
            p.cost,
            scale=60.0,
            alpha=-1.0,
            min_dist=2.0,
            max_cost=p.max_cost,
            **KW,
        ),
        lambda p: p.access().weighted_catchment(
            name="x", weight_fn=access_weights.gravity(60.0, -1.0, 2.0), max_cost=p.max_cost
        )["x_doc"],
    ),
    "gravity-normalized": (
        lambda p: gravity(
            p.demand, p.supply, p.cost, scale=30.0, alpha=-2.0, min_dist=1.0, normalize=True, **KW
        ),
        lambda p: p.access().weighted_catchment(
            name="x", weight_fn=access_weights.gravity(30.0, -2.0, 1.0), normalize=True
        )["x_doc"],
    ),
}


@pytest.mark.parametrize("measure", list(MEASURES))
@pytest.mark.parametrize("seed", SEEDS)
def test_matches_access_on_random_problems(seed: int, measure: str) -> None:
    problem = random_problem(seed)
    ours_fn, theirs_fn = MEASURES[measure]
    ours = ours_fn(problem)
    theirs = theirs_fn(problem)
    assert ours.index.equals(problem.demand.index)
    assert max_rel_diff(ours, theirs) <= REL_TOL


@pytest.mark.parametrize("measure", list(MEASURES))
@pytest.mark.parametrize("scenario", [0, 1, 2, 3])
def test_matches_access_on_hospital_example(scenario: int, measure: str) -> None:
    problem = hospital_problem(scenario)
    ours_fn, theirs_fn = MEASURES[measure]
    assert max_rel_diff(ours_fn(problem), theirs_fn(problem)) <= REL_TOL


def test_hospital_example_published_values() -> None:
    # access's test_hospital_example.py, scenario 0: 2SFCA, gravity(1, -1), max_cost 61.
    p = hospital_problem(0)
    ours = two_step_fca(
        p.demand, p.supply, p.cost, weights=_fca.GravityWeights(1.0, -1.0), max_cost=61, **KW
    )
    theirs = p.access().two_stage_fca(
        name="x", weight_fn=access_weights.gravity(1, -1), max_cost=61
    )["x_doc"]
    np.testing.assert_allclose(
        ours.to_numpy(), [0.331444117, 0.5798281321, 7.2864181699], atol=5e-10
    )
    assert max_rel_diff(ours, theirs) <= REL_TOL
    ours3 = three_step_fca(
        p.demand, p.supply, p.cost, weights=_fca.GravityWeights(1.0, -1.0), max_cost=61, **KW
    )
    theirs3 = p.access().three_stage_fca(
        name="x", weight_fn=access_weights.gravity(1, -1), max_cost=61
    )["x_doc"]
    assert max_rel_diff(ours3, theirs3) <= REL_TOL


def grid_problem() -> Problem:
    """access's 5×5 grid (ids 1..25 row by row over x), value 1, all-pairs Euclidean costs."""
    ids = np.arange(1, 26)
    x, y = (ids - 1) // 5, (ids - 1) % 5
    origin, dest = np.meshgrid(ids, ids, indexing="ij")
    dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    frame = pd.DataFrame({"pop": 1.0, "doc": 1.0}, index=ids)
    cost = pd.DataFrame({"origin": origin.ravel(), "dest": dest.ravel(), "cost": dist.ravel()})
    return Problem(frame[["pop"]], frame[["doc"]], cost, math.inf)


def test_grid_gravity_published_values() -> None:
    # access's test_weighted_catchment.py: gravity(scale=60, alpha=1), self-pairs of cost 0.
    p = grid_problem()
    ours = gravity(p.demand, p.supply, p.cost, scale=60, alpha=1, **KW)
    expected = {1: 1.322340210, 5: 1.322340210, 13: 0.780985109, 19: 0.925540119, 24: 1.133733026}
    got = ours.loc[list(expected)].to_numpy()
    assert np.max(np.abs(got - list(expected.values())) / list(expected.values())) <= REL_TOL
    theirs = p.access().weighted_catchment(name="x", weight_fn=access_weights.gravity(60, 1))
    assert max_rel_diff(ours, theirs["x_doc"]) <= REL_TOL


def test_grid_large_catchment_values_of_access_suite() -> None:
    # access's test_floating_catchment_area.py: everyone reaches everything → 25 / 25 = 1 each,
    # normalised 1; 3SFCA with step {10: 25} → 1 as well; small catchment 0.9 → self only → 1.
    p = grid_problem()
    assert np.allclose(two_step_fca(p.demand, p.supply, p.cost, **KW), 1.0, rtol=REL_TOL)
    assert np.allclose(
        three_step_fca(p.demand, p.supply, p.cost, weights={10: 25}, **KW), 1.0, rtol=REL_TOL
    )
    assert np.allclose(
        enhanced_two_step_fca(p.demand, p.supply, p.cost, max_cost=0.9, **KW), 1.0, rtol=REL_TOL
    )
    # access returns NaN everywhere for max_cost=-1; here it is an input error (issue 18)
    with pytest.raises(DataValidationError, match=r"max_cost=-1 < 0 : aucune paire"):
        two_step_fca(p.demand, p.supply, p.cost, max_cost=-1, **KW)


# --------------------------------------------------------------------------------------------
# By hand
# --------------------------------------------------------------------------------------------

HAND_DEMAND = pd.DataFrame({"pop": [100.0, 200.0]}, index=["A", "B"])
HAND_SUPPLY = pd.DataFrame({"doc": [3.0, 6.0]}, index=["X", "Y"])
HAND_COST = pd.DataFrame(
    {"origin": ["A", "A", "B", "B"], "dest": ["X", "Y", "X", "Y"], "cost": [5.0, 15.0, 12.0, 8.0]}
)


def test_two_step_by_hand() -> None:
    # max_cost 13 drops A–Y. D_X = 100 + 200, D_Y = 200; R_X = 0.01, R_Y = 0.03.
    got = two_step_fca(HAND_DEMAND, HAND_SUPPLY, HAND_COST, max_cost=13, **KW)
    np.testing.assert_allclose(got.to_numpy(), [0.01, 0.04], rtol=1e-12)
    assert got.name == "2sfca"
    assert (HAND_DEMAND["pop"] * got).sum() == pytest.approx(9.0, rel=1e-12)


def test_enhanced_two_step_by_hand() -> None:
    # w: A–X 1, A–Y .5, B–X .5, B–Y 1. D_X = 200, D_Y = 250; R_X = .015, R_Y = .024.
    got = enhanced_two_step_fca(HAND_DEMAND, HAND_SUPPLY, HAND_COST, weights={10: 1, 20: 0.5}, **KW)
    np.testing.assert_allclose(got.to_numpy(), [0.015 + 0.5 * 0.024, 0.5 * 0.015 + 0.024])


def test_three_step_selection_weights_use_pairs_beyond_max_cost() -> None:
    # G is normalised over every cost row of the origin, before the cut (as access).
    p = random_problem(7)
    far = pd.DataFrame({"origin": ["D0050"], "dest": ["S057"], "cost": [59.0]})
    p_far = Problem(p.demand, p.supply, pd.concat([p.cost, far], ignore_index=True), 30.0)
    p_near = Problem(p.demand, p.supply, p.cost, 30.0)
    if ((p.cost.origin == "D0050") & (p.cost.dest == "S057")).any():
        pytest.skip("pair already present")
    near = three_step_fca(p.demand, p.supply, p.cost, max_cost=30.0, **KW)
    with_far = three_step_fca(p_far.demand, p_far.supply, p_far.cost, max_cost=30.0, **KW)
    assert near["D0050"] != with_far["D0050"]
    theirs = p_far.access().three_stage_fca(name="x", max_cost=30.0)["x_doc"]
    assert max_rel_diff(with_far, theirs) <= REL_TOL
    assert max_rel_diff(near, MEASURES["3sfca-default"][1](p_near)) <= REL_TOL


def test_zero_cost_pairs_count() -> None:
    # A practitioner in the commune itself (cost 0) is a real pair: no implicit sparse zero.
    demand = pd.DataFrame({"pop": [10.0, 30.0]}, index=["A", "B"])
    supply = pd.DataFrame({"doc": [4.0]}, index=["X"])
    cost = pd.DataFrame({"origin": ["A", "B"], "dest": ["X", "X"], "cost": [0.0, 0.0]})
    np.testing.assert_allclose(two_step_fca(demand, supply, cost, max_cost=0, **KW), [0.1, 0.1])
    np.testing.assert_allclose(nearest_cost(demand, supply, cost), [0.0, 0.0])
    np.testing.assert_allclose(
        gravity(demand, supply, cost, scale=1, alpha=-1, min_dist=0.5, **KW), [8.0, 8.0]
    )


@pytest.mark.parametrize(
    ("bands", "expected"),
    [
        (APL_BANDS, [1.0, 1.0, 1.0, 2 / 3, 2 / 3, 1 / 3, 0.0]),
        (APL_BANDS_2012, [1.0, 1.0, 0.3, 0.1, 0.1, 0.0, 0.0]),
    ],
)
def test_step_weights_put_a_bound_in_the_closer_band(
    bands: dict[float, float], expected: list[float]
) -> None:
    minutes = np.array([0.0, 5.0, 10.0, 10.0001, 15.0, 20.0, 25.0])
    np.testing.assert_array_equal(StepWeights(bands)(minutes), expected)


@pytest.mark.parametrize(
    ("bands", "expected"),
    [
        # DREES: "moins de 10 minutes" 1, "entre 10 et 15" 2/3, "entre 15 et 20" 1/3, beyond 0
        (APL_BANDS, [1.0, 1.0, 1.0, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3, 0.0]),
        (APL_BANDS_2012, [1.0, 0.3, 0.3, 0.1, 0.1, 0.1, 0.0, 0.0, 0.0]),
    ],
)
def test_apl_bands_as_drees_words_them(bands: dict[float, float], expected: list[float]) -> None:
    minutes = np.array([0.0, 5.0, 9.999, 10.0, 14.999, 15.0, 19.999, 20.0, 20.001])
    np.testing.assert_array_equal(BandWeights(bands)(minutes), expected)


def test_apl_by_hand_and_units() -> None:
    minutes = [0.0, 5.0, 10.0, 10.0001, 15.0, 20.0, 25.0]
    ids = [f"C{i}" for i in range(len(minutes))]
    demand = pd.DataFrame({"pop": 1.0}, index=ids)
    supply = pd.DataFrame({"cons": [3.99e4]}, index=["GP"])
    cost = pd.DataFrame({"origin": ids, "dest": "GP", "cost": minutes})
    got = apl(demand, supply, cost, demand_col="pop", supply_col="cons")
    w = np.array([1.0, 1.0, 2 / 3, 2 / 3, 1 / 3, 1 / 3])  # 10 min is "entre 10 et 15"
    expected = np.append(w * 3.99e4 / w.sum(), np.nan)  # 25 min: outside the 20-min catchment
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-12)
    assert got.name == "apl_consultations"
    assert got.attrs["unit"] == "consultations per standardised inhabitant per year"
    fte = apl(
        demand,
        supply.assign(cons=2.0),
        cost,
        demand_col="pop",
        supply_col="cons",
        supply_unit="fte",
    )
    np.testing.assert_allclose(fte.to_numpy(), np.append(w * 2.0 / w.sum(), np.nan) * 1e5)
    assert fte.name == "apl_fte_per_100k"
    assert fte.attrs["unit"] == "FTE per 100,000 standardised inhabitants"
    old = apl(demand, supply, cost, demand_col="pop", supply_col="cons", bands=APL_BANDS_2012)
    assert old.isna().tolist() == [False] * 5 + [True, True]
    access_like = apl(
        demand, supply, cost, demand_col="pop", supply_col="cons", bands=StepWeights(APL_BANDS)
    )
    w_access = np.array([1.0, 1.0, 1.0, 2 / 3, 2 / 3, 1 / 3])
    np.testing.assert_allclose(access_like.to_numpy()[:6], w_access * 3.99e4 / w_access.sum())


def test_apl_equals_e2sfca_with_its_bands() -> None:
    p = random_problem(3)
    # with access's step convention, the APL is access's E2SFCA with the DREES weights
    got = apl(
        p.demand, p.supply, p.cost, supply_unit="headcount", bands=StepWeights(APL_BANDS), **KW
    )
    ref = enhanced_two_step_fca(p.demand, p.supply, p.cost, weights=APL_BANDS, max_cost=20, **KW)
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy() * 1e5, rtol=1e-12)
    # DREES's bands include their lower bound: a cost on an inner bound (the problem has many,
    # multiples of 5) falls in the farther band, as access's steps shifted just below the bound
    drees = apl(p.demand, p.supply, p.cost, supply_unit="headcount", **KW)
    shifted = {10.0 - 1e-9: 1.0, 15.0 - 1e-9: 2 / 3, 20.0: 1 / 3}
    ref = enhanced_two_step_fca(p.demand, p.supply, p.cost, weights=shifted, max_cost=20, **KW)
    np.testing.assert_allclose(drees.to_numpy(), ref.to_numpy() * 1e5, rtol=1e-12)
    assert not np.allclose(drees.to_numpy(), got.to_numpy(), equal_nan=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_supply_is_conserved(seed: int) -> None:
    # Σ P_i A_i = Σ S_j over the supply points that some demand reaches (positive weights).
    p = random_problem(seed)
    got = kernel_two_step_fca(p.demand, p.supply, p.cost, sigma=20.0, max_cost=p.max_cost, **KW)
    in_reach = p.cost.loc[p.cost.cost <= p.max_cost, "dest"].unique()
    total_supply = p.supply.loc[in_reach, "doc"].sum()
    assert (p.demand["pop"] * got).sum() == pytest.approx(total_supply, rel=1e-12)


def test_nearest_cost_matches_groupby_min() -> None:
    p = random_problem(2)
    got = nearest_cost(p.demand, p.supply, p.cost, supply_col="doc", max_cost=p.max_cost)
    positive = p.supply.index[p.supply["doc"] > 0]
    kept = p.cost[(p.cost.cost <= p.max_cost) & p.cost.dest.isin(positive)]
    expected = kept.groupby("origin")["cost"].min().reindex(p.demand.index)
    pd.testing.assert_series_equal(got, expected, check_names=False)
    assert got.name == "nearest_cost"
    every_site = nearest_cost(p.demand, p.supply, p.cost, max_cost=p.max_cost).fillna(np.inf)
    assert (every_site <= got.fillna(np.inf)).all()
    assert (every_site < got.fillna(np.inf)).any()  # some nearest sites have no practitioner


def test_standardise_population_keeps_the_total() -> None:
    rng = np.random.default_rng(5)
    pop = pd.DataFrame(rng.integers(0, 500, (50, 3)), columns=["0-14", "15-69", "70+"])
    weights = {"0-14": 3.1, "15-69": 4.0, "70+": 7.6}
    got = standardise_population(pop, weights)
    assert got.sum() == pytest.approx(pop.to_numpy().sum(), rel=1e-12)
    assert got.index.equals(pop.index)
    as_array = standardise_population(pop.to_numpy(), [3.1, 4.0, 7.6])
    np.testing.assert_allclose(as_array, got.to_numpy(), rtol=1e-12)
    # Only the ratios of the weights matter.
    np.testing.assert_allclose(
        standardise_population(pop, {k: 10 * v for k, v in weights.items()}), got, rtol=1e-12
    )


# --------------------------------------------------------------------------------------------
# Edge cases: NaN / 0, never a warning
# --------------------------------------------------------------------------------------------


@pytest.fixture
def no_warnings() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.usefixtures("no_warnings")
def test_zero_population_everywhere_gives_zero_not_inf() -> None:
    demand = HAND_DEMAND.assign(pop=0.0)
    got = two_step_fca(demand, HAND_SUPPLY, HAND_COST, max_cost=13, **KW)
    np.testing.assert_array_equal(got.to_numpy(), [0.0, 0.0])
    normalized = two_step_fca(demand, HAND_SUPPLY, HAND_COST, max_cost=13, normalize=True, **KW)
    assert normalized.isna().all()  # 0 / (0 / 0), as access


@pytest.mark.usefixtures("no_warnings")
def test_zero_supply_and_nothing_in_reach() -> None:
    got = two_step_fca(HAND_DEMAND, HAND_SUPPLY.assign(doc=0.0), HAND_COST, **KW)
    np.testing.assert_array_equal(got.to_numpy(), [0.0, 0.0])
    assert two_step_fca(HAND_DEMAND, HAND_SUPPLY, HAND_COST, max_cost=1, **KW).isna().all()
    assert three_step_fca(HAND_DEMAND, HAND_SUPPLY, HAND_COST, max_cost=1, **KW).isna().all()
    assert nearest_cost(HAND_DEMAND, HAND_SUPPLY, HAND_COST, max_cost=1).isna().all()
    normalized = enhanced_two_step_fca(
        HAND_DEMAND, HAND_SUPPLY, HAND_COST, max_cost=1, normalize=True, **KW
    )
    assert normalized.isna().all()


@pytest.mark.usefixtures("no_warnings")
def test_supply_with_zero_catchment_population_documented_divergence() -> None:
    # Only zero-population B reaches Y: access gives B inf, we give Y's supply no effect.
    demand = pd.DataFrame({"pop": [100.0, 0.0]}, index=["A", "B"])
    cost = pd.DataFrame(
        {"origin": ["A", "B", "B"], "dest": ["X", "X", "Y"], "cost": [1.0, 1.0, 1.0]}
    )
    got = two_step_fca(demand, HAND_SUPPLY, cost, **KW)
    np.testing.assert_allclose(got.to_numpy(), [0.03, 0.03])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas/numpy inside access
        theirs = Problem(demand, HAND_SUPPLY, cost, math.inf).access().two_stage_fca(name="x")
    assert theirs.loc["A", "x_doc"] == pytest.approx(0.03)
    assert math.isinf(theirs.loc["B", "x_doc"])


@pytest.mark.usefixtures("no_warnings")
@pytest.mark.parametrize(
    "core",
    [
        _fca.two_step_fca_core,
        _fca.enhanced_two_step_fca_core,
        _fca.three_step_fca_core,
        _fca.apl_core,
        _fca.nearest_cost_core,
        lambda *a, **k: _fca.kernel_two_step_fca_core(*a, sigma=5.0, **k),
        lambda *a, **k: _fca.gravity_core(*a, scale=1.0, alpha=-1.0, min_dist=1.0, **k),
    ],
)
def test_cores_on_empty_and_degenerate_arrays(core: Callable[..., np.ndarray]) -> None:
    empty_i = np.array([], dtype=np.int64)
    empty_f = np.array([], dtype=float)
    assert core(empty_f, empty_f, empty_i, empty_i, empty_f).shape == (0,)
    no_pairs = core(np.ones(3), np.ones(2), empty_i, empty_i, empty_f)
    assert np.isnan(no_pairs).all()
    zeros = core(np.zeros(2), np.zeros(2), np.array([0, 1]), np.array([1, 1]), np.zeros(2))
    assert zeros.shape == (2,)
    assert not np.isinf(zeros).any()


def test_inputs_are_not_mutated() -> None:
    p = random_problem(1)
    before = (p.demand.copy(), p.supply.copy(), p.cost.copy())
    for ours, _ in MEASURES.values():
        ours(p)
    pd.testing.assert_frame_equal(p.demand, before[0])
    pd.testing.assert_frame_equal(p.supply, before[1])
    pd.testing.assert_frame_equal(p.cost, before[2])


# --------------------------------------------------------------------------------------------
# Error contracts
# --------------------------------------------------------------------------------------------


def _cost(**changes: list[Any]) -> pd.DataFrame:
    return HAND_COST.assign(**changes)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"demand_df": [1, 2]}, r"demand_df must be a pandas DataFrame, got list"),
        ({"demand_df": HAND_DEMAND.iloc[:0]}, r"demand_df is empty"),
        ({"cost_df": HAND_COST.iloc[:0]}, r"cost_df is empty"),
        ({"demand_col": "population"}, r"demand_col='population' is not a column of demand_df"),
        ({"supply_col": "gp"}, r"supply_col='gp' is not a column of supply_df"),
        ({"cost_col": "minutes"}, r"cost_col='minutes' is not a column of cost_df"),
        ({"demand_df": HAND_DEMAND.assign(pop=["1", "2"])}, r"demand_df\['pop'\] must be numeric"),
        (
            {"demand_df": HAND_DEMAND.assign(pop=[-1.0, np.nan])},
            r"demand_df\['pop'\] must be finite and ≥ 0; "
            r"2 bad value\(s\): id 'A': -1.0, id 'B': nan",
        ),
        ({"supply_df": HAND_SUPPLY.assign(doc=[1.0, -3.0])}, r"supply_df\['doc'\].*id 'Y': -3.0"),
        (
            {"cost_df": _cost(cost=[1.0, np.nan, 2.0, 3.0])},
            r"cost_df\['cost'\] must be finite and ≥ 0.*row 1 \('A' → 'Y'\): nan",
        ),
        ({"cost_df": _cost(cost=[1.0, 2.0, -2.0, 3.0])}, r"row 2 \('B' → 'X'\): -2.0"),
        ({"cost_df": _cost(cost=[1.0, 2.0, 2.0, np.inf])}, r"row 3 \('B' → 'Y'\): inf"),
        (
            {"cost_df": _cost(origin=["A", "A", "Z", "Q"]), "strict_ids": True},
            r"cost_df\['origin'\] contient 2 identifiant\(s\) absent\(s\) de demand_df.index : "
            r"'Z', 'Q'.*strict_ids=True refuse ces lignes",
        ),
        (
            {"cost_df": _cost(dest=["X", "Y", "X", "W"]), "strict_ids": True},
            r"cost_df\['dest'\].*absent\(s\) de supply_df.index : 'W'",
        ),
        (  # no row left: refused even by default, with the dtype hint
            {"demand_df": HAND_DEMAND.set_axis([1, 2])},
            r"aucune ligne de cost_df.*absent\(s\) de demand_df.index.*"
            r"de type str, demand_df.index de type int64",
        ),
        ({"strict_ids": "yes"}, r"strict_ids must be True or False, got 'yes'"),
        (
            {"cost_df": _cost(dest=["X", "X", "X", "Y"])},
            r"1 duplicate \(origin, dest\) pair\(s\): \('A', 'X'\) at rows \[0, 1\]",
        ),
        (
            {"demand_df": pd.DataFrame({"pop": [1.0, 2.0]}, index=["A", "A"])},
            r"demand_df.index has 1 duplicate id\(s\): 'A'",
        ),
        (
            {"supply_df": pd.DataFrame({"doc": [1.0, 2.0]}, index=["X", None])},
            r"supply_df.index has missing id",
        ),
        ({"max_cost": float("nan")}, r"max_cost ne peut pas être NaN"),
        ({"max_cost": "20"}, r"max_cost doit être un nombre réel ou None, reçu '20'"),
        ({"normalize": "yes"}, r"normalize must be True or False, got 'yes'"),
        ({"weights": {10: -1.0}}, r"step weights must be ≥ 0, got 10: -1"),
        ({"weights": {}}, r"non-empty mapping"),
        ({"weights": 3}, r"weights must be None, a mapping threshold → weight"),
        ({"weights": lambda c: -c}, r"returned 4 non-finite or negative weight"),
    ],
)
def test_two_step_fca_rejects(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "demand_df": HAND_DEMAND,
        "supply_df": HAND_SUPPLY,
        "cost_df": HAND_COST,
        "demand_col": "pop",
        "supply_col": "doc",
    } | kwargs
    with pytest.raises(DataValidationError, match=match):
        two_step_fca(**args)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gravity(
                HAND_DEMAND, HAND_SUPPLY, _cost(cost=[0.0, 1, 2, 3]), scale=1, alpha=-1, **KW
            ),
            r"infinite weight to the 1 pair\(s\) of cost 0: \('A', 'X'\); set min_dist > 0",
        ),
        (
            lambda: gravity(HAND_DEMAND, HAND_SUPPLY, HAND_COST, scale=0, alpha=-1, **KW),
            r"scale must be > 0",
        ),
        (
            lambda: kernel_two_step_fca(HAND_DEMAND, HAND_SUPPLY, HAND_COST, sigma=0, **KW),
            r"sigma must be > 0, got 0",
        ),
        (
            lambda: apl(HAND_DEMAND, HAND_SUPPLY, HAND_COST, supply_unit="etp", **KW),  # type: ignore[arg-type]
            r"supply_unit must be one of 'consultations', 'fte', 'headcount'; got 'etp'",
        ),
        (
            lambda: standardise_population(
                pd.DataFrame({"a": [1.0], "b": [2.0]}), {"a": 1.0, "c": 2.0}
            ),
            r"missing: 'b', unknown: 'c'",
        ),
        (
            lambda: standardise_population(pd.DataFrame({"a": [1.0, -2.0]}), [1.0]),
            r"population_by_band\['a'\] must be finite and ≥ 0.*id 1: -2.0",
        ),
        (
            lambda: standardise_population(np.ones((2, 3)), [1.0, 2.0]),
            r"one weight per age band \(3\)",
        ),
        (
            lambda: standardise_population(np.ones((2, 2)), [0.0, 0.0]),
            r"age-weighted population is 0",
        ),
        (
            lambda: _fca.two_step_fca_core([1.0], [1.0], [0], [3], [1.0]),
            r"cols holds positions outside \[0, 1\)",
        ),
        (
            lambda: _fca.two_step_fca_core([1.0], [1.0], [0, 0], [0], [1.0]),
            r"rows must be one-dimensional",
        ),
    ],
)
def test_other_error_contracts(call: Callable[[], object], match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        call()


# ------------------------------------------------------------------ grouped pairs (issue #18)
def _random_problem(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """300 origins, 120 destinations, distinct random pairs; some origins without pair, some
    destinations with no capacity, costs beyond the catchment."""
    rng = np.random.default_rng(seed)
    n, m = 300, 120
    keys = rng.choice(n * m, size=6000, replace=False)
    origin, dest = keys // m, keys % m
    demand = pd.DataFrame(
        {"pop": rng.integers(0, 5000, n).astype(float)}, index=pd.Index(np.arange(n) + 7, name="o")
    )
    supply = pd.DataFrame(
        {"doc": rng.integers(0, 4, m).astype(float)}, index=pd.Index(np.arange(m) * 3, name="d")
    )
    cost = pd.DataFrame(
        {"origin": origin + 7, "dest": dest * 3, "cost": rng.uniform(0.0, 40.0, origin.size)}
    )
    cost = cost[~cost["origin"].isin([7, 8, 9])]  # three origins without any pair
    return demand, supply, cost


@pytest.mark.parametrize("order", ["shuffled", "by_origin", "by_dest"])
@pytest.mark.parametrize("counter", ["compiled", "fallback"])
def test_grouped_products_equal_the_pair_form(
    order: str, counter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The public 2SFCA/E2SFCA (grouped CSR/CSC products) equal the pair-form core and access,
    whatever the order of the cost rows, and leave the caller's frames untouched."""
    import geo.access as geo_access

    if counter == "fallback":
        monkeypatch.setattr(geo_access, "_csr_count_blocks", None)
    demand, supply, cost = _random_problem(1)
    if order != "shuffled":
        cost = cost.sort_values("origin" if order == "by_origin" else "dest", kind="stable")
    before = cost.copy()
    rows = demand.index.get_indexer(cost["origin"])
    cols = supply.index.get_indexer(cost["dest"])
    args = (demand["pop"], supply["doc"], rows, cols, cost["cost"].to_numpy())
    for max_cost in (None, 25.0):
        ours = two_step_fca(
            demand, supply, cost, demand_col="pop", supply_col="doc", max_cost=max_cost
        )
        pair_form = _fca.two_step_fca_core(*args, max_cost=max_cost)
        np.testing.assert_allclose(ours.to_numpy(), pair_form, rtol=1e-13, equal_nan=True)
        assert ours.isna().sum() >= 3  # origins 7, 8, 9 have no pair
        steps = {10.0: 1.0, 20.0: 0.5, 30.0: 0.25}
        e2 = enhanced_two_step_fca(
            demand,
            supply,
            cost,
            demand_col="pop",
            supply_col="doc",
            weights=steps,
            max_cost=max_cost,
        )
        e2_pairs = _fca.enhanced_two_step_fca_core(*args, steps=steps, max_cost=max_cost)
        np.testing.assert_allclose(e2.to_numpy(), e2_pairs, rtol=1e-13, equal_nan=True)
    pd.testing.assert_frame_equal(cost, before)
    model = Access(
        demand_df=demand,
        demand_index=True,
        demand_value="pop",
        supply_df=supply,
        supply_index=True,
        supply_value="doc",
        cost_df=cost,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = model.two_stage_fca(name="v", max_cost=25.0)["v_doc"].reindex(demand.index)
    ours = two_step_fca(demand, supply, cost, demand_col="pop", supply_col="doc", max_cost=25.0)
    finite = np.isfinite(theirs.to_numpy())
    np.testing.assert_allclose(ours.to_numpy()[finite], theirs.to_numpy()[finite], rtol=1e-12)


@pytest.mark.parametrize("order", ["shuffled", "by_origin", "by_dest"])
@pytest.mark.parametrize("counter", ["compiled", "fallback"])
def test_duplicate_pair_found_in_every_order(
    order: str, counter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geo.access as geo_access

    if counter == "fallback":
        monkeypatch.setattr(geo_access, "_csr_count_blocks", None)
    demand, supply, cost = _random_problem(2)
    twice = pd.concat([cost, cost.iloc[[1234]]], ignore_index=True)
    twice = (
        twice.sample(frac=1.0, random_state=3)
        if order == "shuffled"
        else twice.sort_values("origin" if order == "by_origin" else "dest", kind="stable")
    )
    origin, dest = cost.iloc[1234][["origin", "dest"]].astype(int)
    with pytest.raises(DataValidationError, match=rf"1 duplicate.*\({origin}, {dest}\)"):
        two_step_fca(demand, supply, twice, demand_col="pop", supply_col="doc")
