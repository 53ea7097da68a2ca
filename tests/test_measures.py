"""fca_ratio, RAAM, cumulative opportunities and polygon distances against PySAL access 1.1.10.

Access's own test fixtures are reproduced (its ``tests/util.py`` grid and its expected numbers),
then random medium problems are compared with access run live.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from access import Access
from access import raam as access_raam
from access import weights as access_weights

from geo._fca import GaussianWeights
from geo.errors import DataValidationError
from geo.measures import (
    cumulative_opportunities,
    fca_ratio,
    polygon_distances,
    raam,
)

REL_TOL = 1e-9
#: RAAM replays access's integer moves exactly; only the final weighted means round apart.
RAAM_REL_TOL = 1e-12


def max_rel_diff(ours: pd.Series, theirs: pd.Series) -> float:
    """Largest relative difference; NaN and inf must sit at the same ids."""
    theirs = theirs.reindex(ours.index)
    a, b = ours.to_numpy(dtype=float), theirs.to_numpy(dtype=float)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(a[np.isinf(a)], b[np.isinf(a)])
    ok = np.isfinite(a)
    np.testing.assert_array_equal(ok, np.isfinite(b))
    if not ok.any():
        return 0.0
    return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300)))


# --------------------------------------------------------------------------------------------
# access's own fixtures (access/tests/util.py), vectorised
# --------------------------------------------------------------------------------------------


def nxn_grid(n: int, random_values: bool = False, seed: int = 44) -> gpd.GeoDataFrame:
    """access's ``create_nxn_grid``: ids 1..n², x, y and value (1, or randint(1, 200))."""
    random.seed(seed)
    x, y = np.divmod(np.arange(n * n), n)
    values = [random.randint(1, 200) for _ in range(n * n)] if random_values else [1] * (n * n)
    data = pd.DataFrame({"id": np.arange(1, n * n + 1), "x": x, "y": y, "value": values})
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(data.x, data.y))


def euclidean_cost_matrix(grid: pd.DataFrame) -> pd.DataFrame:
    """access's ``create_cost_matrix(grid, "euclidean")``: every ordered pair, self included."""
    o, d = np.divmod(np.arange(len(grid) ** 2), len(grid))
    x, y = grid["x"].to_numpy(float), grid["y"].to_numpy(float)
    ids = grid["id"].to_numpy()
    return pd.DataFrame(
        {"origin": ids[o], "dest": ids[d], "cost": np.sqrt((x[o] - x[d]) ** 2 + (y[o] - y[d]) ** 2)}
    )


def access_grid_model(n_demand: int) -> tuple[Access, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The setup of access's TestFloatingCatchmentArea / TestRAAM (5×5 grid, sampled demand).

    access samples the demand cells at random; a fixed sample keeps this test deterministic
    (access's expected numbers hold for any sample).
    """
    supply = nxn_grid(5)
    demand = supply.sample(n_demand, random_state=3)
    cost = euclidean_cost_matrix(supply)
    model = Access(
        demand_df=demand,
        demand_index="id",
        demand_value="value",
        supply_df=supply,
        supply_index="id",
        supply_value="value",
        cost_df=cost,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
        neighbor_cost_df=cost,
        neighbor_cost_origin="origin",
        neighbor_cost_dest="dest",
        neighbor_cost_name="cost",
    )
    return model, demand.set_index("id"), supply.set_index("id"), cost


# --------------------------------------------------------------------------------------------
# fca_ratio: access's TestFloatingCatchmentArea
# --------------------------------------------------------------------------------------------


def access_fca(model: Access, **options: object) -> pd.DataFrame:
    """``model.fca_ratio(...)`` without its warning that demand ids are not supply ids."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "some tracts may be unaccounted", UserWarning)
        out: pd.DataFrame = model.fca_ratio(**options)
    return out


def test_fca_ratio_large_catchment_is_total_supply_over_total_demand() -> None:
    model, demand, supply, cost = access_grid_model(5)
    ours = fca_ratio(demand, supply, cost, demand_col="value", supply_col="value")
    access_fca(model)
    expected = supply["value"].sum() / demand["value"].sum()  # access's expected: 25 / 5
    assert expected == 5
    assert (ours == expected).all()
    assert max_rel_diff(ours, model.access_df["fca_value"]) == 0


@pytest.mark.parametrize("max_cost", [0.9, 0.8])
def test_fca_ratio_small_catchment_is_one(max_cost: float) -> None:
    model, demand, supply, cost = access_grid_model(5)
    ours = fca_ratio(
        demand, supply, cost, demand_col="value", supply_col="value", max_cost=max_cost
    )
    access_fca(model, max_cost=max_cost)
    assert (ours == 1).all()
    assert max_rel_diff(ours, model.access_df["fca_value"]) == 0


def test_fca_ratio_normalize_like_access() -> None:
    model, demand, supply, cost = access_grid_model(5)
    theirs = access_fca(model, normalize=True)["fca_value"]
    ours = fca_ratio(demand, supply, cost, demand_col="value", supply_col="value", normalize=True)
    # access's test reads the raw column (5); the normalised frame it returns is 5 / 5.
    assert model.access_df["fca_value"].iloc[0] == 5
    assert (ours == 1).all()
    assert max_rel_diff(ours, theirs) == 0


def test_fca_ratio_negative_catchment_is_refused() -> None:
    # access returns NaN everywhere for max_cost=-1; here it is an input error.
    _, demand, supply, cost = access_grid_model(5)
    with pytest.raises(DataValidationError, match=r"max_cost doit être fini et ≥ 0, reçu -1"):
        fca_ratio(demand, supply, cost, demand_col="value", supply_col="value", max_cost=-1)


def test_fca_ratio_nan_and_inf_where_access_puts_them() -> None:
    # A: supply next to zero-population neighbours only (inf); B: nothing at all around (0/0
    # → NaN); C: no neighbour row (NaN); D: ordinary.
    demand = pd.DataFrame(
        {"pop": [0.0, 0.0, 10.0, 40.0]}, index=pd.Index(list("ABCD"), name="geoid")
    )
    supply = pd.DataFrame({"doc": [2.0, 1.0]}, index=pd.Index(["A", "D"], name="geoid"))
    neighbours = pd.DataFrame(
        {"origin": ["A", "A", "B", "D", "D"], "dest": ["A", "B", "B", "D", "C"]}
    ).assign(cost=[0.0, 5.0, 0.0, 0.0, 8.0])
    cost = pd.DataFrame({"origin": ["A", "C", "D"], "dest": ["A", "D", "D"], "cost": 0.0})
    model = Access(
        demand_df=demand,
        demand_value="pop",
        supply_df=supply,
        supply_value="doc",
        cost_df=cost,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
        neighbor_cost_df=neighbours,
        neighbor_cost_origin="origin",
        neighbor_cost_dest="dest",
        neighbor_cost_name="cost",
    )
    theirs = access_fca(model, max_cost=10)["fca_doc"]
    ours = fca_ratio(
        demand,
        supply,
        cost,
        demand_col="pop",
        supply_col="doc",
        max_cost=10,
        demand_cost_df=neighbours,
    )
    assert ours["A"] == math.inf and math.isnan(ours["B"]) and math.isnan(ours["C"])
    assert ours["D"] == 1 / 50
    assert max_rel_diff(ours, theirs) == 0


def random_communes(seed: int, n: int = 400, m: int = 120) -> dict[str, pd.DataFrame]:
    """Communes with string codes on a plane, practitioners in some of them, costs ≤ 40."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"{63000 + i}" for i in range(n)])
    pop = rng.integers(0, 3000, n).astype(float)
    pop[rng.random(n) < 0.05] = 0
    demand = pd.DataFrame({"pop": pop}, index=pd.Index(ids, name="geoid"))
    sites = rng.choice(ids, m, replace=False)
    supply = pd.DataFrame(
        {"doc": rng.integers(0, 6, m).astype(float)}, index=pd.Index(sites, name="geoid")
    )
    xy = rng.uniform(0, 100, (n, 2))
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]).round(1)
    o, d = np.nonzero(dist <= 40)
    full = pd.DataFrame({"origin": ids[o], "dest": ids[d], "cost": dist[o, d]})
    cost = full[full["dest"].isin(sites)].reset_index(drop=True)
    return {"demand": demand, "supply": supply, "cost": cost, "neighbours": full}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_cost", [None, 10.0, 20.0])
@pytest.mark.parametrize("normalize", [False, True])
def test_fca_ratio_equals_access_on_random_problems(
    seed: int, max_cost: float | None, normalize: bool
) -> None:
    p = random_communes(seed)
    model = Access(
        demand_df=p["demand"],
        demand_value="pop",
        supply_df=p["supply"],
        supply_value="doc",
        cost_df=p["cost"].copy(),
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
        neighbor_cost_df=p["neighbours"].copy(),
        neighbor_cost_origin="origin",
        neighbor_cost_dest="dest",
        neighbor_cost_name="cost",
    )
    theirs = access_fca(model, max_cost=max_cost, normalize=normalize)["fca_doc"]
    common = {"demand_col": "pop", "supply_col": "doc", "max_cost": max_cost}
    separate = fca_ratio(
        p["demand"],
        p["supply"],
        p["cost"],
        demand_cost_df=p["neighbours"],
        normalize=normalize,
        **common,
    )
    # One commune-to-commune table in both roles, as access's Chicago example does.
    shared = fca_ratio(p["demand"], p["supply"], p["neighbours"], normalize=normalize, **common)
    assert max_rel_diff(separate, theirs) <= REL_TOL
    assert max_rel_diff(shared, theirs) <= REL_TOL
    assert separate.attrs["ignored_cost_rows"] == 0
    assert shared.attrs["ignored_cost_rows"] == 0
    assert list(separate.index) == list(p["demand"].index)


def test_fca_ratio_shared_table_counts_rows_of_no_use_and_strict_refuses_them() -> None:
    p = random_communes(0, n=60, m=20)
    extra = pd.DataFrame({"origin": ["99999", "63001"], "dest": ["63001", "ZZZ"], "cost": 1.0})
    cost = pd.concat([p["neighbours"], extra], ignore_index=True)
    out = fca_ratio(p["demand"], p["supply"], cost, demand_col="pop", supply_col="doc")
    assert out.attrs["ignored_cost_rows"] == 2
    with pytest.raises(DataValidationError, match=r"cost_df a 2 ligne\(s\).*'99999'.*'ZZZ'"):
        fca_ratio(
            p["demand"], p["supply"], cost, demand_col="pop", supply_col="doc", strict_ids=True
        )


def test_fca_ratio_without_any_neighbour_pair_is_an_error() -> None:
    demand = pd.DataFrame({"pop": [10.0]}, index=["A"])
    supply = pd.DataFrame({"doc": [1.0]}, index=["X"])
    cost = pd.DataFrame({"origin": ["A"], "dest": ["X"], "cost": [1.0]})
    with pytest.raises(DataValidationError, match="demand_cost_df"):
        fca_ratio(demand, supply, cost, demand_col="pop", supply_col="doc")


# --------------------------------------------------------------------------------------------
# Cumulative opportunities: access's weighted_catchment
# --------------------------------------------------------------------------------------------


def test_cumulative_opportunities_by_hand() -> None:
    demand = pd.DataFrame({"pop": [100, 300, 5]}, index=["A", "B", "C"])
    supply = pd.DataFrame({"gp": [2.0, 1.0, 4.0]}, index=["X", "Y", "Z"])
    cost = pd.DataFrame(
        {"origin": ["A", "A", "A", "B", "C"], "dest": ["X", "Y", "Z", "Y", "Z"]}
    ).assign(cost=[0.0, 30.0, 31.0, 45.0, 30.0])
    out = cumulative_opportunities(demand, supply, cost, supply_col="gp", max_cost=30)
    assert out.name == "cumulative"
    np.testing.assert_array_equal(out.to_numpy(), [3.0, np.nan, 4.0])  # ≤ 30 is in reach
    weighted = cumulative_opportunities(
        demand, supply, cost, supply_col="gp", max_cost=None, weights={10: 1.0, 40: 0.5}
    )
    np.testing.assert_array_equal(weighted.to_numpy(), [2.0 + 0.5 + 2.0, 0.0, 2.0])


def test_cumulative_opportunities_on_access_grid() -> None:
    # access's TestWeightedCatchment setup: 5×5 grid, supply 1 per cell; within 1 of a cell:
    # itself and its 2–4 rook neighbours.
    model, demand, supply, cost = access_grid_model(25)
    ours = cumulative_opportunities(demand, supply, cost, supply_col="value", max_cost=1)
    theirs = model.weighted_catchment(max_cost=1)["catchment_value"]
    assert ours.loc[1] == 3 and ours.loc[7] == 5  # corner, inner cell
    assert max_rel_diff(ours, theirs) == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [10.0, 20.0])
@pytest.mark.parametrize("normalize", [False, True])
def test_cumulative_opportunities_equals_access_weighted_catchment(
    seed: int, threshold: float, normalize: bool
) -> None:
    p = random_communes(seed)
    model = Access(
        demand_df=p["demand"],
        demand_value="pop",
        supply_df=p["supply"],
        supply_value="doc",
        cost_df=p["cost"].copy(),
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    kw = {"demand_col": "pop", "supply_col": "doc", "normalize": normalize}
    d, s, c = p["demand"], p["supply"], p["cost"]
    cut = model.weighted_catchment(name="cut", max_cost=threshold, normalize=normalize)
    step = model.weighted_catchment(
        name="step", weight_fn=access_weights.step_fn({threshold: 1}), normalize=normalize
    )
    gauss = model.weighted_catchment(
        name="gauss",
        weight_fn=access_weights.gaussian(10),
        max_cost=threshold,
        normalize=normalize,
    )
    ours_cut = cumulative_opportunities(d, s, c, max_cost=threshold, **kw)
    assert ours_cut.isna().any() == (threshold == 10.0)  # some have nobody within 10
    assert max_rel_diff(ours_cut, cut["cut_doc"]) <= REL_TOL
    ours_step = cumulative_opportunities(d, s, c, max_cost=None, weights={threshold: 1.0}, **kw)
    assert max_rel_diff(ours_step, step["step_doc"]) <= REL_TOL
    ours_gauss = cumulative_opportunities(
        d, s, c, max_cost=threshold, weights=GaussianWeights(10), **kw
    )
    assert max_rel_diff(ours_gauss, gauss["gauss_doc"]) <= REL_TOL


def test_cumulative_opportunities_ignores_unknown_ids_unless_strict() -> None:
    demand = pd.DataFrame({"pop": [100]}, index=["A"])
    supply = pd.DataFrame({"gp": [2.0]}, index=["X"])
    cost = pd.DataFrame({"origin": ["A", "A", "Q"], "dest": ["X", "W", "X"], "cost": 1.0})
    out = cumulative_opportunities(demand, supply, cost, supply_col="gp", max_cost=5)
    assert out.tolist() == [2.0] and out.attrs["ignored_cost_rows"] == 2
    with pytest.raises(DataValidationError, match=r"cost_df\['origin'\] a 1 identifiant.*'Q'"):
        cumulative_opportunities(demand, supply, cost, supply_col="gp", max_cost=5, strict_ids=True)


# --------------------------------------------------------------------------------------------
# RAAM: access's TestRAAM, then random problems
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options", [{}, {"initial_step": 1}, {"min_step": 1}], ids=["default", "int_step", "min_step"]
)
def test_raam_single_demand_location_equals_sum_of_supply(options: dict[str, float]) -> None:
    model, demand, supply, cost = access_grid_model(1)
    ours = raam(demand, supply, cost, demand_col="value", supply_col="value", **options)
    model.raam(**options)
    assert ours.iloc[0] == supply["value"].sum() == 25  # access's expected number
    assert max_rel_diff(ours, model.access_df["raam_value"]) == 0


def test_raam_normalize_like_access() -> None:
    model, demand, supply, cost = access_grid_model(1)
    theirs = model.raam(normalize=True)["raam_value"]
    ours = raam(demand, supply, cost, demand_col="value", supply_col="value", normalize=True)
    assert model.access_df["raam_value"].iloc[0] == 25  # access's test reads the raw column
    assert ours.iloc[0] == 1
    assert max_rel_diff(ours, theirs) == 0


def test_raam_two_sites_reach_the_equilibrium_by_hand() -> None:
    # ρ = 20 / 2 = 10 per site; with τ = 30 the 30-minute site costs 1 more: 15 / 5 split,
    # both sites then cost 15/10 + 0 = 5/10 + 1 = 1.5.
    demand = pd.DataFrame({"pop": [20]}, index=["A"])
    supply = pd.DataFrame({"gp": [1, 1]}, index=["X", "Y"])
    cost = pd.DataFrame({"origin": ["A", "A"], "dest": ["X", "Y"], "cost": [0.0, 30.0]})
    out = raam(demand, supply, cost, demand_col="pop", supply_col="gp", tau=30.0)
    assert out.iloc[0] == pytest.approx(1.5, rel=1e-15)
    assert out.name == "raam"


def access_supply_order(supply: pd.DataFrame, cost: pd.DataFrame, col: str) -> pd.DataFrame:
    """``supply`` with access's column order first: the order of its set of supply ids."""
    first = list(set(cost["dest"]) & set(supply[supply[col] > 0].index))
    return pd.concat([supply.loc[first], supply.drop(index=first)])


def raam_problem(seed: int, fractional: bool, n: int = 300, m: int = 80) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    pop = rng.integers(0, 5000, n).astype(float)
    pop[rng.random(n) < 0.05] = 0
    if fractional:
        pop *= 1.37
    demand = pd.DataFrame({"pop": pop}, index=pd.Index([f"C{i:04d}" for i in range(n)]))
    supply = pd.DataFrame(
        {"doc": rng.integers(0, 10, m)}, index=pd.Index([f"S{j:03d}" for j in range(m)])
    )
    o, d = np.nonzero(rng.random((n, m)) < 0.3)
    cost = pd.DataFrame(
        {"origin": demand.index[o], "dest": supply.index[d], "cost": rng.uniform(0, 90, len(o))}
    )
    return {"demand": demand, "supply": supply, "cost": cost}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fractional", [False, True], ids=["integer_pop", "fractional_pop"])
@pytest.mark.parametrize(
    "options",
    [{"tau": 30.0}, {"tau": 5.0, "rho": 300.0}, {"tau": 60.0, "initial_step": 40, "min_step": 2}],
    ids=["tau30", "tau5_rho", "int_step"],
)
def test_raam_equals_access_on_random_problems(
    seed: int, fractional: bool, options: dict[str, float]
) -> None:
    p = raam_problem(seed, fractional)
    theirs = access_raam.raam(
        p["demand"], p["supply"], p["cost"], demand_name="pop", supply_name="doc", **options
    )
    supply = access_supply_order(p["supply"], p["cost"], "doc")
    ours = raam(p["demand"], supply, p["cost"], demand_col="pop", supply_col="doc", **options)
    assert ours.isna().sum() == (p["demand"]["pop"] == 0).sum() > 0
    assert max_rel_diff(ours, theirs) <= RAAM_REL_TOL


def test_raam_equals_access_on_grid_with_ties_and_normalize() -> None:
    # Integer ids: access's set order is the ids' order, so every tie is broken alike.
    grid = nxn_grid(10, random_values=True).set_index("id")
    cost = euclidean_cost_matrix(nxn_grid(10))
    demand = grid.assign(value=grid["value"] * 37)
    model = Access(
        demand_df=demand,
        demand_value="value",
        supply_df=grid,
        supply_value="value",
        cost_df=cost,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    for tau in (60.0, 5.0):
        theirs = model.raam(name=f"r{tau:g}", tau=tau, normalize=True)[f"r{tau:g}_value"]
        ours = raam(
            demand, grid, cost, demand_col="value", supply_col="value", tau=tau, normalize=True
        )
        assert max_rel_diff(ours, theirs) <= RAAM_REL_TOL


def test_raam_ties_go_to_the_first_site_of_supply_df() -> None:
    # Two equidistant sites: all 10 residents start at the first one in supply_df, and moves
    # of < 1 person (step 0.2 × 3) never happen.
    demand = pd.DataFrame({"pop": [3]}, index=["A"])
    cost = pd.DataFrame({"origin": ["A", "A"], "dest": ["X", "Y"], "cost": [5.0, 5.0]})
    small_first = pd.DataFrame({"gp": [1, 2]}, index=["X", "Y"])
    big_first = small_first.iloc[::-1]
    a = raam(demand, small_first, cost, demand_col="pop", supply_col="gp", max_cycles=1)
    b = raam(demand, big_first, cost, demand_col="pop", supply_col="gp", max_cycles=1)
    rho = 3 / 3
    assert a.iloc[0] == pytest.approx(3 / (1 * rho) + 5 / 60, rel=1e-15)
    assert b.iloc[0] == pytest.approx(3 / (2 * rho) + 5 / 60, rel=1e-15)


def test_raam_does_not_depend_on_the_order_of_demand_rows() -> None:
    p = raam_problem(4, fractional=False)
    a = raam(p["demand"], p["supply"], p["cost"], demand_col="pop", supply_col="doc")
    shuffled = p["demand"].sample(frac=1.0, random_state=1)
    b = raam(shuffled, p["supply"], p["cost"], demand_col="pop", supply_col="doc")
    pd.testing.assert_series_equal(a, b.loc[a.index], check_exact=False, rtol=1e-14)


def test_raam_point_reaching_only_empty_sites_is_nan_and_loads_nobody() -> None:
    # access sends commune 3's residents to the first site of its dense matrix (site 10,
    # unreachable for them), which raises commune 1's cost; here 3 takes no part.
    demand = pd.DataFrame({"pop": [100, 200, 50, 0]}, index=[1, 2, 3, 4])
    supply = pd.DataFrame({"doc": [1, 2, 0]}, index=[10, 11, 12])
    cost = pd.DataFrame({"origin": [1, 1, 2, 3, 4], "dest": [10, 11, 11, 12, 10]}).assign(
        cost=[5.0, 20.0, 3.0, 1.0, 2.0]
    )
    ours = raam(demand, supply, cost, demand_col="pop", supply_col="doc", tau=30.0)
    without_3 = access_raam.raam(
        demand, supply, cost[cost["origin"] != 3], demand_name="pop", supply_name="doc", tau=30
    )
    assert ours.isna().tolist() == [False, False, True, True]
    assert max_rel_diff(ours, without_3) <= RAAM_REL_TOL


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tau": 0.0}, r"tau doit être fini et > 0, reçu 0.0"),
        ({"max_cycles": 0}, r"max_cycles doit être un entier ≥ 1, reçu 0"),
        ({"max_cycles": 2.5}, r"max_cycles doit être un entier ≥ 1, reçu 2.5"),
        ({"rho": -1.0}, r"rho doit être fini et > 0, reçu -1.0"),
        ({"initial_step": True}, r"initial_step doit être un nombre réel, reçu True"),
        ({"half_life": math.inf}, r"half_life doit être fini et > 0, reçu inf"),
    ],
)
def test_raam_refuses_bad_parameters(options: dict[str, object], message: str) -> None:
    demand = pd.DataFrame({"pop": [20]}, index=["A"])
    supply = pd.DataFrame({"gp": [1]}, index=["X"])
    cost = pd.DataFrame({"origin": ["A"], "dest": ["X"], "cost": [0.0]})
    with pytest.raises(DataValidationError, match=message):
        raam(demand, supply, cost, demand_col="pop", supply_col="gp", **options)  # type: ignore[arg-type]


def test_raam_without_supply_is_an_error() -> None:
    demand = pd.DataFrame({"pop": [20]}, index=["A"])
    supply = pd.DataFrame({"gp": [0]}, index=["X"])
    cost = pd.DataFrame({"origin": ["A"], "dest": ["X"], "cost": [0.0]})
    with pytest.raises(DataValidationError, match=r"supply_df\['gp'\] est nul partout"):
        raam(demand, supply, cost, demand_col="pop", supply_col="gp")


# --------------------------------------------------------------------------------------------
# Shared validation
# --------------------------------------------------------------------------------------------

Measure = Callable[..., pd.Series]
MEASURES: list[tuple[Measure, dict[str, object]]] = [
    (fca_ratio, {}),
    (raam, {}),
    (cumulative_opportunities, {"max_cost": 10.0}),
]


@pytest.mark.parametrize(("measure", "extra"), MEASURES, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"supply_col": "médecins"}, r"supply_col='médecins' n'est pas une colonne de supply_df"),
        ({"cost_col": "minutes"}, r"cost_col='minutes' n'est pas une colonne de cost_df"),
        ({"normalize": "oui"}, r"normalize doit valoir True ou False, reçu 'oui'"),
        ({"strict_ids": 1}, r"strict_ids doit valoir True ou False, reçu 1"),
    ],
)
def test_measures_name_the_bad_argument(
    measure: Measure, extra: dict[str, object], change: dict[str, object], message: str
) -> None:
    demand = pd.DataFrame({"pop": [10.0, 20.0]}, index=["A", "B"])
    supply = pd.DataFrame({"gp": [1.0]}, index=["A"])
    cost = pd.DataFrame({"origin": ["A", "B"], "dest": ["A", "A"], "cost": [0.0, 3.0]})
    kwargs: dict[str, object] = {"demand_col": "pop", "supply_col": "gp", **extra, **change}
    with pytest.raises(DataValidationError, match=message):
        measure(demand, supply, cost, **kwargs)


@pytest.mark.parametrize(("measure", "extra"), MEASURES, ids=lambda v: getattr(v, "__name__", ""))
def test_measures_refuse_bad_values(measure: Measure, extra: dict[str, object]) -> None:
    demand = pd.DataFrame({"pop": [10.0, -2.0]}, index=["A", "B"])
    supply = pd.DataFrame({"gp": [1.0]}, index=["A"])
    cost = pd.DataFrame({"origin": ["A", "B"], "dest": ["A", "A"], "cost": [0.0, np.nan]})
    kw: dict[str, object] = {"demand_col": "pop", "supply_col": "gp", **extra}
    with pytest.raises(DataValidationError, match=r"demand_df\['pop'\] doit être fini.*'B' : -2"):
        measure(demand, supply, cost, **kw)
    with pytest.raises(DataValidationError, match=r"cost_df\['cost'\] doit être fini.*'B' → 'A'"):
        measure(demand.abs(), supply, cost, **kw)
    doubled = pd.DataFrame({"origin": ["A", "A"], "dest": ["A", "A"], "cost": [0.0, 1.0]})
    with pytest.raises(DataValidationError, match=r"1 paire\(s\).*\('A', 'A'\)"):
        measure(demand.abs(), supply, doubled, **kw)
    with pytest.raises(
        DataValidationError, match=r"supply_df.index a 1 identifiant\(s\) en double"
    ):
        measure(demand.abs(), pd.concat([supply, supply]), cost.fillna(1.0), **kw)


def test_cumulative_opportunities_normalize_needs_demand_col() -> None:
    demand = pd.DataFrame({"pop": [10.0]}, index=["A"])
    supply = pd.DataFrame({"gp": [1.0]}, index=["A"])
    cost = pd.DataFrame({"origin": ["A"], "dest": ["A"], "cost": [0.0]})
    with pytest.raises(DataValidationError, match="normalize=True demande demand_col"):
        cumulative_opportunities(
            demand, supply, cost, supply_col="gp", max_cost=5.0, normalize=True
        )


# --------------------------------------------------------------------------------------------
# Polygon distances: access's TestEuclidean / TestEuclideanNeighbors
# --------------------------------------------------------------------------------------------


def circles(ids: list[int], xs: list[float], ys: list[float], radius: float) -> gpd.GeoDataFrame:
    """access's euclidean fixtures (points buffered), here with a metric CRS."""
    frame = gpd.GeoDataFrame(
        {"id": ids, "value": 1}, geometry=gpd.points_from_xy(xs, ys), crs=2154
    ).set_index("id")
    return frame.set_geometry(frame.buffer(radius))


@pytest.mark.parametrize(
    ("centroid_o", "centroid_d", "expected"),
    [(True, True, 1.0), (True, False, 0.5), (False, False, 0.0)],
    ids=["point_to_point", "point_to_poly", "poly_to_poly"],
)
def test_polygon_distances_access_euclidean_fixture(
    centroid_o: bool, centroid_d: bool, expected: float
) -> None:
    demand, supply = circles([0], [0], [0], 0.5), circles([1], [0], [1], 0.5)
    out = polygon_distances(
        demand, supply, max_cost=2, centroid_origins=centroid_o, centroid_destinations=centroid_d
    )
    assert out.to_numpy().tolist() == [[0, 1, pytest.approx(expected, abs=1e-12)]]
    model = Access(demand_df=demand, demand_value="value", supply_df=supply, supply_value="value")
    model.create_euclidean_distance(threshold=2, centroid_o=centroid_o, centroid_d=centroid_d)
    assert model.cost_df["euclidean"].tolist() == out["cost"].tolist()


@pytest.mark.parametrize(
    ("centroid", "expected"), [(True, [0.0, 1.0, 1.0, 0.0]), (False, [0.0, 0.5, 0.5, 0.0])]
)
def test_polygon_distances_access_neighbours_fixture(centroid: bool, expected: list[float]) -> None:
    demand = circles([0, 1], [0, 0], [0, 1], 0.25)
    out = polygon_distances(
        demand, demand, max_cost=2, centroid_origins=centroid, centroid_destinations=centroid
    )
    assert out[["origin", "dest"]].to_numpy().tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    np.testing.assert_allclose(out["cost"], expected, rtol=0, atol=1e-12)


def random_polygons(n: int, seed: int, prefix: str) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0, 200_000, (n, 2)) + np.array([700_000, 6_500_000])
    radius = rng.uniform(500, 6000, n)
    geoms = shapely.buffer(shapely.points(centre), radius, quad_segs=4)
    return gpd.GeoDataFrame(
        {"pop": rng.integers(1, 100, n)},
        geometry=geoms,
        crs=2154,
        index=pd.Index([f"{prefix}{i}" for i in range(n)], name="geoid"),
    )


@pytest.mark.parametrize(
    ("centroid_o", "centroid_d"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_polygon_distances_equal_access_on_random_polygons(
    centroid_o: bool, centroid_d: bool
) -> None:
    demand, supply = random_polygons(300, 1, "d"), random_polygons(120, 2, "s")
    threshold = 30_000.0
    model = Access(demand_df=demand, demand_value="pop", supply_df=supply, supply_value="pop")
    model.create_euclidean_distance(
        threshold=threshold, centroid_o=centroid_o, centroid_d=centroid_d
    )
    theirs = model.cost_df[["origin", "dest", "euclidean"]]
    ours = polygon_distances(
        demand,
        supply,
        max_cost=threshold,
        centroid_origins=centroid_o,
        centroid_destinations=centroid_d,
    )
    both = ours.merge(theirs, on=["origin", "dest"], how="outer", indicator=True)
    common = both[both["_merge"] == "both"]
    assert len(common) == len(theirs) > 2000  # every pair of access is here…
    assert (common["cost"] == common["euclidean"]).all()  # …with the same distance, bit for bit
    extra = both.loc[both["_merge"] == "left_only", "cost"]
    # …and the pairs access misses sit within its buffer's polygonal error below the threshold
    # (16 segments per quarter circle: 1 - cos(π/64) ≈ 0.12 %), or exactly on it.
    assert (extra >= threshold * math.cos(math.pi / 64)).all() and (extra <= threshold).all()
    if centroid_o and centroid_d:  # points: access cross-joins, no buffer, so no miss
        assert extra.empty


def test_polygon_distances_neighbours_equal_access() -> None:
    demand = random_polygons(200, 3, "d")
    model = Access(demand_df=demand, demand_value="pop", supply_df=demand, supply_value="pop")
    model.create_euclidean_distance_neighbors(threshold=20_000.0, centroid=True)
    theirs = model.neighbor_cost_df
    ours = polygon_distances(
        demand, demand, max_cost=20_000.0, centroid_origins=True, centroid_destinations=True
    )
    merged = ours.merge(theirs, on=["origin", "dest"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged["cost"] == merged["euclidean"]).all()


def test_polygon_distances_without_max_cost_is_every_pair_sorted() -> None:
    squares = gpd.GeoSeries(
        [shapely.box(0, 0, 10, 10), shapely.box(15, 0, 25, 10), shapely.box(0, 40, 10, 50)],
        index=["A", "B", "C"],
        crs=2154,
    )
    sites = gpd.GeoDataFrame(geometry=[shapely.Point(12, 5), shapely.Point(5, 5)], crs=2154)
    out = polygon_distances(squares, sites, origin_col="o", dest_col="d", cost_col="m")
    assert out.to_numpy().tolist() == [
        ["A", 0, 2.0],
        ["A", 1, 0.0],
        ["B", 0, 3.0],
        ["B", 1, 10.0],
        ["C", 0, pytest.approx(math.hypot(2, 35))],
        ["C", 1, 35.0],
    ]
    cut = polygon_distances(squares, sites, max_cost=3.0)  # ≤ max_cost is kept
    assert cut.to_numpy().tolist() == [["A", 0, 2.0], ["A", 1, 0.0], ["B", 0, 3.0]]


def test_polygon_distances_refuse_geographic_missing_or_different_crs() -> None:
    square = gpd.GeoSeries([shapely.box(0, 0, 1, 1)], index=["A"], crs=2154)
    with pytest.raises(DataValidationError, match=r"origins est en coordonnées géographiques"):
        polygon_distances(square.to_crs(4326), square, max_cost=10)
    with pytest.raises(DataValidationError, match=r"destinations n'a pas de système"):
        polygon_distances(square, square.set_crs(None, allow_override=True), max_cost=10)
    with pytest.raises(DataValidationError, match=r"n'ont pas le même CRS"):
        polygon_distances(square, square.to_crs(3857), max_cost=10)
    with pytest.raises(DataValidationError, match=r"1 géométrie\(s\) manquante\(s\).*'B'"):
        polygon_distances(
            gpd.GeoSeries([shapely.box(0, 0, 1, 1), None], index=["A", "B"], crs=2154), square
        )
    with pytest.raises(DataValidationError, match=r"max_cost doit être fini et ≥ 0"):
        polygon_distances(square, square, max_cost=-5)
    with pytest.raises(DataValidationError, match=r"GeoDataFrame ou une GeoSeries"):
        polygon_distances(pd.DataFrame({"x": [1]}), square)
