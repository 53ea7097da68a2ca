"""Parity with PySAL access on a real-shaped problem whose cost table has extra rows.

The usual access workflow: a regional cost matrix (communes of Cantal and Puy-de-Dôme, GPs of
Cantal, Puy-de-Dôme and Haute-Loire) used with a subset of it as demand (Cantal) and supply
(Cantal and Puy-de-Dôme GPs). access ignores the rows whose ids are not in its frames; so do
the public functions by default, counting them in ``attrs["ignored_cost_rows"]``, while
``strict_ids=True`` keeps the strict refusal.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest
from access import Access
from access import weights as access_weights
from scipy.spatial import cKDTree

from geo.access import (
    apl,
    enhanced_two_step_fca,
    gravity,
    kernel_two_step_fca,
    nearest_cost,
    three_step_fca,
    two_step_fca,
)
from geo.crs import metric_crs_for
from geo.demo import generate_practitioners
from geo.errors import DataValidationError
from geo.reference import load_communes

CATCHMENT_KM = 30.0
STEPS = {10.0: 1.0, 20.0: 0.68, 30.0: 0.22}
KW: dict[str, Any] = {"demand_col": "pop", "supply_col": "doc"}


@dataclass(frozen=True)
class Regional:
    demand: pd.DataFrame  # Cantal communes
    supply: pd.DataFrame  # GPs of Cantal and Puy-de-Dôme
    cost: pd.DataFrame  # 15 + 63 communes × 15 + 63 + 43 GPs within 30 km
    unknown_origin: int
    unknown_dest: int


@cache
def regional(kind: str) -> Regional:
    """The regional problem with string ids (codes) or integer ids (codes' positions + 1000)."""
    communes = load_communes(with_geometry_only=True)
    communes = communes[communes["departement"].isin(["15", "63"])].reset_index(drop=True)
    region = load_communes(with_geometry_only=True)
    region = region[region["departement"].isin(["15", "63", "43"])]
    gps = generate_practitioners(region, seed=0, professions=["medecin_generaliste"])
    crs = metric_crs_for(["15"])
    a = communes["chef_lieu"].to_crs(crs)
    b = gps.geometry.to_crs(crs)
    pairs = cKDTree(np.column_stack([a.x, a.y])).sparse_distance_matrix(
        cKDTree(np.column_stack([b.x, b.y])), CATCHMENT_KM * 1000.0, output_type="ndarray"
    )
    commune_ids = communes["code"].to_numpy(dtype=str)
    gp_ids = gps["id"].to_numpy(dtype=str)
    if kind == "int":
        commune_ids = np.arange(len(communes)) + 1000
        gp_ids = np.arange(len(gps)) + 5000
    cost = pd.DataFrame(
        {
            "origin": commune_ids[pairs["i"]],
            "dest": gp_ids[pairs["j"]],
            "cost": pairs["v"] / 1000.0,
        }
    )
    in_demand = (communes["departement"] == "15").to_numpy()
    gp_dep = gps["commune"].str[:2].to_numpy()
    in_supply = np.isin(gp_dep, ["15", "63"])
    demand = pd.DataFrame(
        {"pop": communes["population"].to_numpy(dtype=float)[in_demand]},
        index=pd.Index(commune_ids[in_demand], name="geoid"),
    )
    supply = pd.DataFrame(
        {"doc": gps["fte"].to_numpy(dtype=float)[in_supply]},
        index=pd.Index(gp_ids[in_supply], name="geoid"),
    )
    return Regional(
        demand,
        supply,
        cost,
        int((~in_demand[pairs["i"]]).sum()),
        int((~in_supply[pairs["j"]]).sum()),
    )


def access_model(p: Regional) -> Access:
    logging.getLogger("access").setLevel(logging.WARNING)
    return Access(
        demand_df=p.demand,
        demand_index=True,
        demand_value="pop",
        supply_df=p.supply,
        supply_index=True,
        supply_value="doc",
        cost_df=p.cost.copy(),
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )


Ours = Callable[[Regional], pd.Series]
Theirs = Callable[[Access], pd.DataFrame]
MEASURES: dict[str, tuple[Ours, Theirs]] = {
    "2sfca": (
        lambda p: two_step_fca(p.demand, p.supply, p.cost, max_cost=CATCHMENT_KM, **KW),
        lambda a: a.two_stage_fca(name="x", max_cost=CATCHMENT_KM),
    ),
    "e2sfca": (
        lambda p: enhanced_two_step_fca(
            p.demand, p.supply, p.cost, weights=STEPS, max_cost=CATCHMENT_KM, **KW
        ),
        lambda a: a.enhanced_two_stage_fca(
            name="x", weight_fn=access_weights.step_fn(STEPS), max_cost=CATCHMENT_KM
        ),
    ),
    "kd2sfca": (
        lambda p: kernel_two_step_fca(
            p.demand, p.supply, p.cost, sigma=10.0, max_cost=CATCHMENT_KM, **KW
        ),
        lambda a: a.two_stage_fca(
            name="x", weight_fn=access_weights.gaussian(10.0), max_cost=CATCHMENT_KM
        ),
    ),
    "gravity": (
        lambda p: gravity(
            p.demand, p.supply, p.cost, scale=1.0, alpha=-1.0, min_dist=1.0, max_cost=25.0, **KW
        ),
        lambda a: a.weighted_catchment(
            name="x", weight_fn=access_weights.gravity(1.0, -1.0, 1.0), max_cost=25.0
        ),
    ),
}


@pytest.mark.parametrize("kind", ["str", "int"])
@pytest.mark.parametrize("measure", sorted(MEASURES))
def test_extra_cost_rows_are_ignored_like_access(kind: str, measure: str) -> None:
    p = regional(kind)
    assert p.unknown_origin > 1000 and p.unknown_dest > 1000  # the problem has both kinds
    ours_fn, theirs_fn = MEASURES[measure]
    ours = ours_fn(p)
    assert ours.attrs["ignored_cost_rows"] == {
        "origin": p.unknown_origin,
        "dest": p.unknown_dest,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas FutureWarnings inside access
        theirs = theirs_fn(access_model(p))["x_doc"].reindex(ours.index)
    a, b = ours.to_numpy(), theirs.to_numpy(dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    assert both.sum() > 200
    np.testing.assert_allclose(a[both], b[both], rtol=1e-12)
    # Documented differences only: access gives inf where only zero-population communes use a
    # supply point (none here), and 0 instead of NaN to a commune whose pairs in reach all lead
    # to a GP missing from supply_df (access keeps those rows with a supply of 0).
    assert not np.isinf(b).any()
    differ = np.isnan(a) != np.isnan(b)
    if measure != "gravity":
        known_dest = p.cost["dest"].isin(p.supply.index)
        reach = p.cost["cost"] <= CATCHMENT_KM
        with_known = p.cost.loc[reach & known_dest, "origin"].unique()
        with_any = p.cost.loc[reach, "origin"].unique()
        only_unknown = ours.index.isin(with_any) & ~ours.index.isin(with_known)
        np.testing.assert_array_equal(differ, only_unknown)
        assert (b[only_unknown] == 0).all()
    else:
        assert not differ.any()


@pytest.mark.parametrize("kind", ["str", "int"])
def test_strict_ids_refuses_the_extra_rows_in_french(kind: str) -> None:
    p = regional(kind)
    with pytest.raises(DataValidationError) as err:
        two_step_fca(p.demand, p.supply, p.cost, strict_ids=True, **KW)
    message = str(err.value)
    assert "cost_df['origin'] contient" in message
    assert "absent(s) de demand_df.index" in message
    assert "cost_df['dest'] contient" in message
    assert "absent(s) de supply_df.index" in message
    assert "strict_ids=True refuse ces lignes" in message
    # with only the rows of known ids, strict and default agree and nothing is ignored
    known = p.cost["origin"].isin(p.demand.index) & p.cost["dest"].isin(p.supply.index)
    strict = two_step_fca(p.demand, p.supply, p.cost[known], strict_ids=True, **KW)
    default = two_step_fca(p.demand, p.supply, p.cost, **KW)
    np.testing.assert_array_equal(strict.to_numpy(), default.to_numpy())
    assert strict.attrs["ignored_cost_rows"] == {"origin": 0, "dest": 0}


DEMAND = pd.DataFrame({"pop": [100.0, 300.0]}, index=["A", "B"])
SUPPLY = pd.DataFrame({"doc": [2.0, 1.0]}, index=["X", "Y"])
COST = pd.DataFrame(
    {
        "origin": ["A", "A", "B", "Z", "B", "Z"],
        "dest": ["X", "Y", "X", "X", "W", "W"],
        "cost": [0.0, 4.0, 5.0, 1.0, 0.0, 2.0],
    }
)


@pytest.mark.parametrize(
    "call",
    [
        lambda **k: two_step_fca(DEMAND, SUPPLY, COST, **KW, **k),
        lambda **k: enhanced_two_step_fca(DEMAND, SUPPLY, COST, **KW, **k),
        lambda **k: kernel_two_step_fca(DEMAND, SUPPLY, COST, sigma=3.0, **KW, **k),
        lambda **k: three_step_fca(DEMAND, SUPPLY, COST, **KW, **k),
        lambda **k: gravity(DEMAND, SUPPLY, COST, scale=1, alpha=-1, min_dist=1, **KW, **k),
        lambda **k: nearest_cost(DEMAND, SUPPLY, COST, **k),
        lambda **k: apl(DEMAND, SUPPLY, COST, **KW, **k),
    ],
)
def test_every_measure_counts_and_refuses_unknown_ids(call: Callable[..., pd.Series]) -> None:
    got = call()
    # rows 3 (Z → X), 4 (B → W) and 5 (Z → W, counted on both sides) are ignored
    assert got.attrs["ignored_cost_rows"] == {"origin": 2, "dest": 2}
    assert got.index.equals(DEMAND.index)
    with pytest.raises(DataValidationError, match=r"'Z'.*'W'"):
        call(strict_ids=True)


def test_ignoring_rows_equals_dropping_them() -> None:
    got = two_step_fca(DEMAND, SUPPLY, COST, **KW)
    dropped = two_step_fca(DEMAND, SUPPLY, COST.iloc[:3], **KW)
    np.testing.assert_array_equal(got.to_numpy(), dropped.to_numpy())
    # A: 2/(100+300) + 1/100, B: 2/400
    np.testing.assert_allclose(got.to_numpy(), [0.015, 0.005])
    assert dropped.attrs["ignored_cost_rows"] == {"origin": 0, "dest": 0}


def test_gravity_zero_cost_error_names_the_kept_row() -> None:
    # the zero-cost check runs on the kept rows: it must name (A, X), not an ignored row
    with pytest.raises(DataValidationError, match=r"1 pair\(s\) of cost 0: \('A', 'X'\);"):
        gravity(DEMAND, SUPPLY, COST, scale=1, alpha=-1, **KW)


def test_no_row_left_is_refused_even_by_default() -> None:
    cost = COST.assign(origin=["Q"] * len(COST))
    with pytest.raises(DataValidationError, match=r"aucune ligne de cost_df ne relie"):
        two_step_fca(DEMAND, SUPPLY, cost, **KW)


def test_duplicates_are_checked_on_the_kept_rows_only() -> None:
    twice_ignored = pd.concat([COST, COST.iloc[[3]]], ignore_index=True)  # (Z, X) twice
    got = two_step_fca(DEMAND, SUPPLY, twice_ignored, **KW)
    assert got.attrs["ignored_cost_rows"] == {"origin": 3, "dest": 2}
    twice_kept = pd.concat([COST, COST.iloc[[0]]], ignore_index=True)  # (A, X) twice
    with pytest.raises(DataValidationError, match=r"\('A', 'X'\) at rows \[0, 6\]"):
        two_step_fca(DEMAND, SUPPLY, twice_kept, **KW)


@pytest.mark.parametrize("order", ["as given", "by origin", "by dest", "shuffled"])
def test_duplicate_pairs_are_found_in_any_row_order(order: str) -> None:
    rng = np.random.default_rng(7)
    n, m = 40, 30
    rows, cols = np.nonzero(rng.random((n, m)) < 0.4)
    cost = pd.DataFrame({"origin": rows, "dest": cols + 100, "cost": rng.uniform(0, 9, rows.size)})
    cost = pd.concat([cost, cost.iloc[[17]]], ignore_index=True)
    cost = {
        "as given": cost,
        "by origin": cost.sort_values("origin", kind="stable"),
        "by dest": cost.sort_values("dest", kind="stable"),
        "shuffled": cost.sample(frac=1.0, random_state=3),
    }[order]
    demand = pd.DataFrame({"pop": np.ones(n)})
    supply = pd.DataFrame({"doc": np.ones(m)}, index=np.arange(m) + 100)
    pair = (int(rows[17]), int(cols[17]) + 100)
    with pytest.raises(DataValidationError, match=r"1 duplicate .*" + re.escape(repr(pair))):
        two_step_fca(demand, supply, cost, **KW)
    two_step_fca(demand, supply, cost.drop_duplicates(["origin", "dest"]), **KW)


@pytest.mark.parametrize(
    ("origin", "index"),
    [
        (np.array([5, 7, 9]), pd.Index([9, 7, 5])),  # compact: dense table
        (np.array([10**12, 7, 9]), pd.Index([9, 7, 10**12])),  # sparse: hashing
        (np.array([-3, 7, 9]), pd.Index([9, 7, -3])),  # negative ids: shifted table
    ],
)
def test_integer_id_lookups(origin: np.ndarray, index: pd.Index) -> None:
    demand = pd.DataFrame({"pop": [1.0, 2.0, 3.0]}, index=index)
    supply = pd.DataFrame({"doc": [6.0]}, index=[1])
    extra = np.array([index.max() + 1, index.min() - 1])
    cost = pd.DataFrame(
        {"origin": np.append(origin, extra), "dest": 1, "cost": [1.0, 2.0, 3.0, 4.0, 5.0]}
    )
    got = two_step_fca(demand, supply, cost, **KW)
    np.testing.assert_allclose(got.to_numpy(), [1.0, 1.0, 1.0])
    assert got.attrs["ignored_cost_rows"] == {"origin": 2, "dest": 0}
