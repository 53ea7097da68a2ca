"""Scenarios on a prepared analysis: hand-checked on the 3×3 grid, and incremental = full.

With ``detour_factor=1`` and ``speed_kmh=60`` one straight-line kilometre is one minute:
neighbours are 10 min apart, diagonal neighbours 14.14 min, opposite sides 20 min. APL bands
as DREES words them (each includes its lower bound): < 10 min → 1, [10, 15) → 2/3, [15, 20] → 1/3,
0 beyond. So a practitioner at G5 reaches G5 itself with weight 1 and the eight other communes
(10 or 14.14 min) with 2/3: weighted demand 5000 + 2/3 × 40,000 = 95,000 / 3.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.analysis import AccessProblem, analyse, prepare
from geo.demo import SYNTHETIC_LABEL, generate_practitioners
from geo.errors import DataValidationError
from geo.reference import load_communes
from geo.scenario import (
    Scenario,
    ScenarioResult,
    add_practitioners,
    change_population,
    remove_practitioners,
    retire,
    scenario_practitioners,
)
from geo.territory import resolve_territory
from tests.conftest import reference_without_geometry

KM_IS_MINUTE = {"detour_factor": 1.0, "speed_kmh": 60.0}
#: Chef-lieu of each grid commune (EPSG:2154).
CENTRE = {
    f"G{r * 3 + c + 1}": (705_000.0 + 10_000 * c, 6_595_000.0 - 10_000 * r)
    for r in range(3)
    for c in range(3)
}


def _prac(xy: list[tuple[float, float]], **cols: list[object]) -> gpd.GeoDataFrame:
    ids = cols.pop("id", [f"P{i}" for i in range(len(xy))])
    coords = np.asarray(xy, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame({"id": ids, **cols}, geometry=shapely.points(coords), crs=2154)


def _values(result: gpd.GeoDataFrame, column: str = "after") -> pd.Series:
    return result.set_index("code")[column]


# --------------------------------------------------------------------------------------------
# by hand
# --------------------------------------------------------------------------------------------
def test_add_one_practitioner_at_g5_by_hand(grid3x3: gpd.GeoDataFrame) -> None:
    base = prepare(
        grid3x3, _prac([CENTRE["G1"]]), "apl", surroundings=None, supply="headcount", **KM_IS_MINUTE
    )
    res = add_practitioners(base, commune="G5")
    # DREES bands (each includes its lower bound): G1's practitioner reaches G1 at 0 min (1),
    # G2 and G4 at 10 min and G5 at 14.1 (2/3), G3 and G7 at 20 min (1/3)
    t = 2 / 3
    r1 = 100_000 / (1000 + t * (2000 + 4000 + 5000) + (3000 + 7000) / 3)
    # the new one at G5: itself (1), its four neighbours at 10 min and the corners at 14.1 (2/3)
    r5 = 100_000 / (5000 + t * (2000 + 4000 + 6000 + 8000 + 1000 + 3000 + 7000 + 9000))
    expected = {
        "G1": r1 + t * r5,
        "G2": t * r1 + t * r5,
        "G3": r1 / 3 + t * r5,
        "G4": t * r1 + t * r5,
        "G5": t * r1 + r5,
        "G6": t * r5,
        "G7": r1 / 3 + t * r5,
        "G8": t * r5,
        "G9": t * r5,
    }
    after = _values(res.communes)
    for code, value in expected.items():
        assert after[code] == pytest.approx(value, rel=1e-12), code
    before = _values(res.communes, "before")
    # out of reach of G1's practitioner: 0, as DREES publishes it
    assert (before[["G6", "G8", "G9"]] == 0).all()
    assert _values(res.communes, "delta")["G9"] == pytest.approx(t * r5, rel=1e-12)
    assert _values(res.communes, "delta")["G1"] == pytest.approx(t * r5, rel=1e-12)
    assert res.after.set_index("code")["nearest_minutes"]["G9"] == pytest.approx(np.hypot(10, 10))
    assert res.after.set_index("code")["practitioners"]["G5"] == 1
    assert res.summary["practitioners_added"] == 1
    assert res.communes.attrs["scenario"]["incremental"] is True
    assert res.problem.added["id"].tolist() == ["NOUVEAU-1-G5-01"]


def test_retire_the_67_year_old(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([CENTRE["G5"], CENTRE["G5"]], age=[50, 67], birth_year=[1976, 1959])
    base = prepare(grid3x3, prac, "apl", surroundings=None, supply="headcount", **KM_IS_MINUTE)
    res = retire(base, age_at_least=67)
    # G5 itself (0 min) weighs 1; its edge neighbours (10 min) and corners (14.1) weigh 2/3
    weighted_demand = 5000 + 2 / 3 * (2000 + 4000 + 6000 + 8000 + 1000 + 3000 + 7000 + 9000)
    assert _values(res.communes)["G5"] == pytest.approx(100_000 / weighted_demand, rel=1e-12)
    assert _values(res.communes, "before")["G5"] == pytest.approx(2 * 100_000 / weighted_demand)
    assert _values(res.communes)["G2"] == pytest.approx(
        2 / 3 * 100_000 / weighted_demand, rel=1e-12
    )
    assert res.problem.removed_ids == frozenset({"P1"})
    assert res.summary["practitioners_removed"] == 1
    assert "67 ans ou plus" in res.problem.history[0]
    # by a horizon year: 2030 − 1976 = 54 stays, 2030 − 1959 = 71 ≥ 67 leaves
    horizon = retire(base, horizon_year=2030)
    np.testing.assert_array_equal(horizon.communes["after"], res.communes["after"])
    # with a retirement age of 55 both are gone by 2031: nobody in reach anywhere, APL 0 as
    # DREES publishes it (the layer has no profession: "praticien", catchment 20 min)
    both = retire(base, horizon_year=2031, retirement_age=55)
    assert (both.communes["after"] == 0).all()
    assert (both.after["status"] == "aucun praticien à moins de 20 min").all()
    # ages without birth years: from age and the reference year of the analysis
    ages_only = prepare(
        grid3x3,
        prac.drop(columns="birth_year"),
        "apl",
        surroundings=None,
        supply="headcount",
        reference_year=2026,
        **KM_IS_MINUTE,
    )
    np.testing.assert_array_equal(
        retire(ages_only, horizon_year=2030).communes["after"], res.communes["after"]
    )


def test_lifted_out_of_sous_dense(grid3x3: gpd.GeoDataFrame) -> None:
    # 76,400 consultations at G5 (DREES's activity caps off: they would count 6,000) / weighted
    # demand 95,000 / 3: APL 2.41 in G5, 2/3 of it (1.61) in the eight others, all < 2.5
    prac = _prac([CENTRE["G5"]], consultations_per_year=[76_400.0])
    base = prepare(grid3x3, prac, "apl", surroundings=None, activity_caps=False, **KM_IS_MINUTE)
    assert (base.result()["value"] < 2.5).all()
    res = add_practitioners(base, commune="G5")  # default capacity: the mean, 76,400
    after = _values(res.communes)
    doubled = 2 * 76_400 / (5000 + 2 / 3 * 40_000)
    assert after["G5"] == pytest.approx(doubled, rel=1e-12)  # 4.83: "bien dotée" (≥ 4)
    assert after["G2"] == pytest.approx(2 / 3 * doubled, rel=1e-12)  # 3.22: intermédiaire
    assert after["G1"] == pytest.approx(2 / 3 * doubled, rel=1e-12)
    classes = res.classes.set_index("gap_class")
    assert classes.loc["zone sous-dense", "population_before"] == 45_000
    assert classes.loc["zone sous-dense", "population_after"] == 0
    assert classes.loc["zone sous-dense", "lifted_out"] == 45_000
    assert classes.loc["zone intermédiaire", "population_after"] == 45_000 - 5000
    assert classes.loc["zone bien dotée", "population_after"] == 5000
    assert classes["pushed_in"].sum() == 0
    assert res.transitions.loc["zone sous-dense", "zone bien dotée"] == 5000
    assert res.transitions.loc["zone sous-dense", "zone intermédiaire"] == 40_000
    assert res.summary["population_lifted_out_of_gap"] == 45_000
    assert res.summary["population_in_gap_after"] == 0
    assert set(res.communes["class_change"]) == {"classe supérieure"}
    # and back: the added practitioner leaves again, everyone is pushed into the gap
    back = remove_practitioners(res, ["NOUVEAU-1-G5-01"])
    np.testing.assert_array_equal(back.communes["after"], back.communes["before"])
    assert back.summary["population_lifted_out_of_gap"] == 0
    assert back.baseline is base  # the comparison stays with the original baseline


def test_population_change_two_hops_by_hand(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([CENTRE["G5"]])
    base = prepare(grid3x3, prac, "apl", surroundings=None, supply="headcount", **KM_IS_MINUTE)
    # G9 empties: G5's weighted demand 95,000 / 3 loses 2/3 × 9000 (G9 at 14.1 min), every
    # commune in its reach gains; G5 itself weighs 1, G1 (14.1 min) and G2 (10 min) 2/3
    res = change_population(base, {"G9": 0})
    weighted_demand = 5000 + 2 / 3 * 40_000 - 2 / 3 * 9000
    after = _values(res.communes)
    assert after["G5"] == pytest.approx(100_000 / weighted_demand, rel=1e-12)
    assert after["G1"] == pytest.approx(2 / 3 * 100_000 / weighted_demand, rel=1e-12)
    assert after["G2"] == pytest.approx(2 / 3 * 100_000 / weighted_demand, rel=1e-12)
    assert res.after.set_index("code")["status"]["G9"] == "population nulle"
    assert res.summary["population_change"] == -9000
    # a factor on the whole territory scales the APL down by it
    grown = change_population(base, factor=1.25)
    np.testing.assert_allclose(grown.communes["after"], grown.communes["before"] / 1.25, rtol=1e-12)
    assert grown.communes["population_after"].iloc[0] == 1250


# --------------------------------------------------------------------------------------------
# incremental = full recomputation
# --------------------------------------------------------------------------------------------
def _scattered(seed: int = 7) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    xy = np.column_stack((rng.uniform(701_000, 729_000, 14), rng.uniform(6_571_000, 6_599_000, 14)))
    return _prac(
        [tuple(p) for p in xy],
        age=rng.integers(30, 72, 14).tolist(),
        fte=np.round(rng.uniform(0.3, 1.2, 14), 2).tolist(),
    )


def _full(
    grid: gpd.GeoDataFrame, res: ScenarioResult, measure: str, **kw: object
) -> gpd.GeoDataFrame:
    territory = grid.copy()
    territory["population"] = res.after["population"].to_numpy()
    return analyse(territory, scenario_practitioners(res), measure, **kw)  # type: ignore[arg-type]


def _assert_same(res: ScenarioResult, full: gpd.GeoDataFrame) -> None:
    np.testing.assert_allclose(res.communes["after"], full["value"], rtol=1e-9, equal_nan=True)
    for column in ("nearest_minutes", "practitioners_in_reach", "practitioners", "demand"):
        np.testing.assert_allclose(res.after[column], full[column], rtol=1e-9, equal_nan=True)
    assert (res.after["status"] == full["status"]).all()


MEASURES = ["apl", "2sfca", "e2sfca", "kernel_2sfca", "3sfca", "gravity", "nearest", "density"]


@pytest.mark.parametrize("measure", MEASURES)
def test_incremental_equals_full_recompute(grid3x3: gpd.GeoDataFrame, measure: str) -> None:
    kw = {"surroundings": None, "supply": "fte", "catchment_minutes": 15.0, **KM_IS_MINUTE}
    base = prepare(grid3x3, _scattered(), measure, **kw)  # type: ignore[arg-type]
    point = gpd.GeoSeries([shapely.Point(712_345.0, 6_587_654.0)], crs=2154).to_crs(4326)
    scenario = (
        Scenario()
        .add_practitioners(point=(point.x.iat[0], point.y.iat[0]), n=2, capacity=0.8)
        .remove_practitioners(["P3", "P8"])
        .retire(age_at_least=65)
        .change_population({"G9": 12_000, "G2": 0})
    )
    if measure != "gravity":  # gravity's 1/d is infinite at the chef-lieu itself
        scenario = scenario.add_practitioners(commune="G7", n=1)
    res = scenario.apply(base, preset="travel_time")
    _assert_same(res, _full(grid3x3, res, measure, **kw))
    # and bit for bit the cores on the updated arrays
    recomputed = res.problem.recompute().result()
    np.testing.assert_allclose(res.after["value"], recomputed["value"], rtol=1e-12, equal_nan=True)
    meta = res.communes.attrs["scenario"]
    assert meta["incremental"] is (measure != "3sfca")
    if measure == "3sfca":
        assert "3SFCA" in meta["not_incremental_because"][0]


def test_od_table_scenarios_equal_full(grid3x3: gpd.GeoDataFrame) -> None:
    centres = grid3x3.set_index("code")["chef_lieu"]
    xy = shapely.get_coordinates(centres.to_numpy())
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]) / 1000
    codes = list(centres.index)
    od = pd.DataFrame(
        [(a, b, dist[i, j]) for i, a in enumerate(codes) for j, b in enumerate(codes)],
        columns=["origin", "dest", "minutes"],
    )
    od = od[(od["origin"] != "G3") | (od["dest"] != "G9")]  # a pair missing from the table
    prac = gpd.GeoDataFrame(
        {"id": ["A", "B", "C"], "commune": ["G1", "G5", "G5"], "age": [40, 66, 50]},
        geometry=[centres["G1"], centres["G5"], centres["G5"]],
        crs=2154,
    )
    kw = {"surroundings": None, "supply": "headcount", "travel": "od_table", "od_table": od}
    for measure in ("apl", "2sfca", "nearest", "density", "3sfca"):
        base = prepare(grid3x3, prac, measure, **kw)  # type: ignore[arg-type]
        scenario = (
            Scenario()
            .add_practitioners(commune="G9", n=2)  # a new destination
            .add_practitioners(commune="G5")  # more supply at an existing one
            .remove_practitioners(["A"])  # G1 loses its only practitioner
            .retire(age_at_least=66)
            .change_population({"G4": 100})
        )
        res = scenario.apply(base, preset="travel_time")
        _assert_same(res, _full(grid3x3, res, measure, **kw))
    without_g9 = kw | {"od_table": od[od["dest"] != "G9"]}
    base = prepare(grid3x3, prac, "apl", **without_g9)  # type: ignore[arg-type]
    with pytest.raises(DataValidationError, match=r"commune 'G9'.*practitioners must be at a"):
        add_practitioners(base, commune="G9")


def test_age_standardised_population_change_recomputes(grid3x3: gpd.GeoDataFrame) -> None:
    ages = pd.DataFrame(
        {"moins_75": [90.0] * 8 + [50.0], "75_plus": [10.0] * 8 + [50.0]},
        index=[f"G{i}" for i in range(1, 10)],
    )
    kw = {
        "surroundings": None,
        "supply": "headcount",
        "age_table": ages,
        "consumption_weights": {"moins_75": 1.0, "75_plus": 2.0},
        **KM_IS_MINUTE,
    }
    base = prepare(grid3x3, _prac([CENTRE["G5"], CENTRE["G1"]]), "2sfca", **kw)  # type: ignore[arg-type]
    res = change_population(base, {"G9": 4000})
    _assert_same(res, _full(grid3x3, res, "2sfca", **kw))
    assert res.communes.attrs["scenario"]["incremental"] is False
    assert "standardisée par âge" in res.communes.attrs["scenario"]["not_incremental_because"][0]


def test_chained_scenarios(grid3x3: gpd.GeoDataFrame) -> None:
    kw = {"surroundings": None, "supply": "fte", **KM_IS_MINUTE}
    prac = _scattered()
    young = prac.loc[prac["age"] < 60, "id"].iat[0]
    base = prepare(grid3x3, prac, "apl", **kw)  # type: ignore[arg-type]
    first = retire(base, age_at_least=60)
    second = add_practitioners(first, commune="G3", n=2, capacity=1.0)
    third = remove_practitioners(second, ["NOUVEAU-1-G3-01", young])
    assert third.baseline is base
    np.testing.assert_array_equal(third.communes["before"], base.result()["value"])
    assert len(third.problem.history) == 3
    _assert_same(third, _full(grid3x3, third, "apl", **kw))
    one_go = (
        Scenario()
        .retire(age_at_least=60)
        .add_practitioners(commune="G3", n=2, capacity=1.0)
        .remove_practitioners(["NOUVEAU-1-G3-01", young])
        .apply(base)
    )
    np.testing.assert_allclose(one_go.communes["after"], third.communes["after"], rtol=1e-12)
    assert one_go.problem.added["id"].tolist() == ["NOUVEAU-1-G3-02"]


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
@pytest.fixture
def grid_problem(grid3x3: gpd.GeoDataFrame) -> AccessProblem:
    prac = _prac([CENTRE["G5"], CENTRE["G1"]], age=[50, 67], fte=[1.0, 0.5])
    return prepare(grid3x3, prac, "apl", surroundings=None, supply="fte", **KM_IS_MINUTE)


S = Scenario


@pytest.mark.parametrize(
    ("scenario", "match"),
    [
        (
            lambda: S().add_practitioners(commune="63113"),
            r"commune '63113' : ni dans le territoire ni dans ses environs \(les 9 communes",
        ),
        (lambda: S().add_practitioners(commune="G5", n=0), "n must be a positive integer, got 0"),
        (lambda: S().add_practitioners(commune="G5", n=2.5), "got 2.5"),
        (
            lambda: S().add_practitioners(commune="G5", capacity=-1),
            "capacity must be a finite number > 0, got -1",
        ),
        (lambda: S().add_practitioners(), "exactly one of commune"),
        (lambda: S().add_practitioners(commune="G5", point=(3.0, 45.0)), "exactly one of"),
        (lambda: S().add_practitioners(point=(46.5, 3.1)), r"\(46.5, 3.1\).*outside France"),
        (
            lambda: S().add_practitioners(point=(55.5, -21.1)),
            r"CRS zone EPSG:2975, outside the territory's \(EPSG:2154\)",
        ),
        (lambda: S().add_practitioners(point=(np.nan, 45.0)), "finite"),
        (
            lambda: S().remove_practitioners(["P0", "X9"]),
            r"unknown practitioner id\(s\) to remove: \['X9'\]",
        ),
        (lambda: S().remove_practitioners([]), "ids is empty"),
        (
            lambda: S().remove_practitioners(["P0"]).remove_practitioners(["P0"]),
            r"already removed: \['P0'\]",
        ),
        (lambda: S().retire(), "exactly one of age_at_least"),
        (lambda: S().retire(horizon_year="2030"), "must be an integer year, got '2030'"),
        (lambda: S().retire(horizon_year=1850), "horizon_year 1850 is not a plausible year"),
        (lambda: S().retire(horizon_year=2030.5), "got 2030.5"),
        (lambda: S().change_population({"G1": -5}), "population of commune 'G1'.*got -5"),
        (lambda: S().change_population({"X1": 5}), r"commune 'X1' : ni dans le territoire"),
        (lambda: S().change_population(), "exactly one of a mapping"),
        (lambda: S(), "the scenario has no change"),
    ],
)
def test_validation(grid_problem: AccessProblem, scenario: object, match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        scenario().apply(grid_problem)  # type: ignore[operator]


def test_validation_against_the_data(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([CENTRE["G5"]], age=[50], birth_year=[1976])
    base = prepare(grid3x3, prac, "apl", surroundings=None, supply="headcount", **KM_IS_MINUTE)
    with pytest.raises(DataValidationError, match=r"2020 is before the year of the data \(2026\)"):
        retire(base, horizon_year=2020)
    with pytest.raises(DataValidationError, match=r"capacity=3\.0: the analysis counts"):
        add_practitioners(base, commune="G5", capacity=3.0)
    no_age = prepare(grid3x3, _prac([CENTRE["G5"]]), "apl", surroundings=None, **KM_IS_MINUTE)
    with pytest.raises(DataValidationError, match="needs an 'age' column"):
        retire(no_age, age_at_least=60)
    with pytest.raises(DataValidationError, match="baseline must be an AccessProblem"):
        add_practitioners(base.result(), commune="G5")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# a real département with the national simulated GPs (border effect)
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def national_gps() -> gpd.GeoDataFrame:
    return generate_practitioners(load_communes(), seed=0, professions=["medecin_generaliste"])


def test_puy_de_dome_one_site_and_retirements(national_gps: gpd.GeoDataFrame) -> None:
    territory = resolve_territory(departements="63")
    base = prepare(territory, national_gps, "apl")
    res = add_practitioners(base, commune="63098", n=2)  # Chastreix, Massif du Sancy
    meta = res.communes.attrs["scenario"]
    assert meta["incremental"] is True
    assert meta["pairs_read"] < meta["pairs_total"] / 5  # only the new site's neighbourhood
    full = analyse(territory, scenario_practitioners(res), "apl")
    np.testing.assert_allclose(res.communes["after"], full["value"], rtol=1e-9, equal_nan=True)
    changed = res.communes["delta"] != 0
    assert 0 < changed.sum() < 60
    assert res.communes.attrs["synthetic"] is True
    assert res.communes.attrs["label"] == SYNTHETIC_LABEL
    assert res.after.attrs["label"] == SYNTHETIC_LABEL
    assert res.summary["population_lifted_out_of_gap"] >= 0
    retired = retire(res, horizon_year=2030)
    full = analyse(territory, scenario_practitioners(retired), "apl")
    np.testing.assert_allclose(retired.communes["after"], full["value"], rtol=1e-9, equal_nan=True)
    assert retired.summary["population_pushed_into_gap"] > 0
    # departures counted where they work, not over the national input
    s = retired.summary
    assert s["practitioners_removed"] == s["leaving_territory"] + s["leaving_surroundings"]
    assert s["leaving_elsewhere"] > 10 * s["practitioners_removed"]


# --------------------------------------------------------------------------------------------
# personal data: removals are described by profession and commune, never by id
# --------------------------------------------------------------------------------------------
RPPS_IDS = ["10101234567", "10109876543", "10105555555"]


def test_removal_names_profession_and_commune_never_the_rpps_number(
    grid3x3: gpd.GeoDataFrame,
) -> None:
    prac = _prac(
        [CENTRE["G5"], CENTRE["G5"], CENTRE["G1"]],
        id=RPPS_IDS,
        profession=["medecin_generaliste", "medecin_generaliste", "infirmier"],
        profession_libelle=["Médecin généraliste", "Médecin généraliste", "Infirmier"],
        commune=["G5", "G5", "G1"],
        commune_nom=["Commune G5", "Commune G5", "Commune G1"],
    )
    base = prepare(grid3x3, prac, "apl", surroundings=None, supply="headcount", **KM_IS_MINUTE)
    one = remove_practitioners(base, [RPPS_IDS[0]])
    assert one.problem.history == ("départ de 1 médecin généraliste à Commune G5 (G5)",)
    every = remove_practitioners(base, RPPS_IDS)
    assert every.problem.history == (
        "départ de 3 praticiens : 2 médecins généralistes à Commune G5 (G5), "
        "1 infirmier à Commune G1 (G1)",
    )
    for result in (one, every):
        text = repr(result.communes.attrs) + repr(dict(result.summary))
        assert "départ de" in text
        assert not any(pid in text for pid in RPPS_IDS)  # history, scenario attrs, summary


def test_removal_without_commune_in_the_file_names_the_hosting_commune(
    grid3x3: gpd.GeoDataFrame,
) -> None:
    # a file with coordinates only (csv_latlon): the commune is the one hosting the point
    prac = _prac([CENTRE["G9"]], id=["10101234567-X"])
    base = prepare(grid3x3, prac, "apl", surroundings=None, supply="headcount", **KM_IS_MINUTE)
    res = remove_practitioners(base, ["10101234567-X"])
    assert res.problem.history == ("départ de 1 praticien à Commune G9 (G9)",)
    # added then removed in the same scenario: never added, still described without an id
    both = (
        Scenario()
        .add_practitioners(commune="G2", n=2)
        .remove_practitioners(["NOUVEAU-1-G2-01"])
        .apply(base)
    )
    assert both.problem.history[-1] == "départ de 1 nouveau praticien à Commune G2 (G2)"


def test_missing_age_is_reported_without_the_id(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac(
        [CENTRE["G5"], CENTRE["G1"]],
        id=RPPS_IDS[:2],
        age=[50.0, np.nan],
        profession_libelle=["Infirmier", "Infirmier"],
        commune=["G5", "G1"],
        commune_nom=["Commune G5", "Commune G1"],
    )
    base = prepare(grid3x3, prac, "apl", surroundings=None, supply="headcount", **KM_IS_MINUTE)
    with pytest.raises(DataValidationError, match="1 infirmier à Commune G1") as caught:
        retire(base, age_at_least=60)
    assert not any(pid in str(caught.value) for pid in RPPS_IDS)


# --------------------------------------------------------------------------------------------
# issue 18 point 7: headlines of the territory, integer codes, reach, communes without a point
# --------------------------------------------------------------------------------------------
def test_retirement_headlines_count_where_practitioners_work(grid3x3: gpd.GeoDataFrame) -> None:
    # all 70: one in G5 (territory), one 5 km east of the grid (10 min from G3, G6 and G9's
    # chefs-lieux: in reach), one 35 km east (35 min: in the supply context, out of reach),
    # one 100 km east (outside the context)
    east = [(735_000.0, 6_585_000.0), (760_000.0, 6_585_000.0), (825_000.0, 6_585_000.0)]
    prac = _prac([CENTRE["G5"], *east], age=[70, 70, 70, 70])
    base = prepare(grid3x3, prac, "apl", surroundings=None, supply="headcount", **KM_IS_MINUTE)
    res = retire(base, age_at_least=67)
    s = res.summary
    assert (s["leaving_territory"], s["leaving_surroundings"], s["leaving_elsewhere"]) == (1, 1, 2)
    assert s["practitioners_removed"] == 2  # not the 4 of the input
    assert res.problem.history == (
        "départ des praticiens de 67 ans ou plus : 1 praticien du territoire, 1 praticien des "
        "environs à portée (selon l'âge)",
    )
    # explicit removals are counted the same way, along a chain too (added then removed)
    far = remove_practitioners(base, ["P3"])
    assert (far.summary["practitioners_removed"], far.summary["leaving_elsewhere"]) == (0, 1)
    chain = remove_practitioners(add_practitioners(base, commune="G2"), ["NOUVEAU-1-G2-01", "P1"])
    assert (chain.summary["leaving_territory"], chain.summary["leaving_surroundings"]) == (1, 1)


def test_cantal_retirements_count_its_88_gps_not_the_nation(
    national_gps: gpd.GeoDataFrame,
) -> None:
    # the demo GPs are national (58,499): 10,656 of them reach 67 by 2030, 13 of Cantal's 88
    cantal = national_gps["commune"].str.startswith("15").to_numpy()
    leaving = (2030 - national_gps["birth_year"] >= 67).to_numpy()
    assert cantal.sum() == 88
    base = prepare(resolve_territory(departements="15"), national_gps, "apl")
    res = retire(base, horizon_year=2030)
    s = res.summary
    assert s["leaving_territory"] == (cantal & leaving).sum() == 13
    assert 0 < s["leaving_surroundings"] < 88  # those within 20 min of a Cantal commune
    assert s["practitioners_removed"] == s["leaving_territory"] + s["leaving_surroundings"]
    assert s["practitioners_removed"] + s["leaving_elsewhere"] == leaving.sum() == 10_656
    assert res.problem.history[0].startswith(
        "départs à la retraite d'ici 2030 à 67 ans : 13 praticiens du territoire, "
    )
    assert "10656" not in res.problem.history[0] and "10 656" not in res.problem.history[0]


@pytest.fixture
def numbered_grid(grid3x3: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The 3×3 grid with INSEE-like codes 01001..01009 (a leading zero Excel drops)."""
    out = grid3x3.copy()
    out["code"] = [f"0100{i}" for i in range(1, 10)]
    return out


def test_integer_commune_codes_in_every_change(numbered_grid: gpd.GeoDataFrame) -> None:
    xy = [CENTRE["G1"], CENTRE["G9"]]
    prac = _prac(xy, id=[101, 102], age=[70, 40])  # integer ids too
    base = prepare(
        numbered_grid, prac, "apl", surroundings=None, supply="headcount", **KM_IS_MINUTE
    )

    def same(a: Scenario, b: Scenario) -> ScenarioResult:
        left, right = a.apply(base), b.apply(base)
        np.testing.assert_array_equal(left.communes["after"], right.communes["after"])
        np.testing.assert_array_equal(
            left.communes["population_after"], right.communes["population_after"]
        )
        assert left.problem.history == right.problem.history
        return left

    added = same(
        S().add_practitioners(commune=1005, n=2), S().add_practitioners(commune="01005", n=2)
    )
    assert added.problem.history[0].startswith("ajout de 2 praticiens à Commune G5 (01005)")
    assert (added.communes["delta"] > 0).all()
    assert add_practitioners(base, commune=np.int64(1005)).summary["practitioners_added"] == 1
    assert add_practitioners(base, commune="1005").summary["practitioners_added"] == 1  # text
    popped = same(S().change_population({1009: 0}), S().change_population({"01009": 0}))
    assert popped.summary["population_change"] == -9000
    same(
        S().change_population(factor=2, codes=[1009]),
        S().change_population(factor=2, codes="01009"),
    )
    same(
        S().change_population(factor=2, codes=1009),
        S().change_population(factor=2, codes=["01009"]),
    )
    gone = same(S().remove_practitioners([101]), S().remove_practitioners(["101"]))
    assert gone.summary["leaving_territory"] == 1
    for bad, match in [
        (lambda: S().add_practitioners(commune=True), "code INSEE attendu.*reçu True"),
        (lambda: S().add_practitioners(commune=1005.0), "code INSEE attendu.*reçu 1005.0"),
        (lambda: S().add_practitioners(commune=123), "l'entier 123 n'est pas un code INSEE"),
        (lambda: S().change_population({1009: 1, "01009": 2}), "01009 est donnée deux fois"),
        (lambda: S().change_population(factor=2, codes=[None]), "reçu None"),
    ]:
        with pytest.raises(DataValidationError, match=match):
            bad().apply(base)  # type: ignore[no-untyped-call]


def test_added_far_outside_the_territory_is_refused(grid3x3: gpd.GeoDataFrame) -> None:
    base = prepare(
        grid3x3,
        _prac([CENTRE["G5"]]),
        "apl",
        surroundings=None,
        supply="headcount",
        **KM_IS_MINUTE,
    )
    # 15 km east of G3, G6 and G9's chefs-lieux: within their 20 minutes, accepted
    near = add_practitioners(base, point=(740_000.0, 6_585_000.0), crs="EPSG:2154")
    assert near.communes.set_index("code")["delta"]["G6"] > 0
    # 30 km east: no commune of the territory reaches it
    with pytest.raises(
        DataValidationError,
        match=r"praticiens ajoutés au point \(755000, 6\.585e\+06\) \[EPSG:2154\] hors de portée "
        r"du territoire : aucune de ses communes n'est à 20 min ou moins",
    ):
        add_practitioners(base, point=(755_000.0, 6_585_000.0), crs="EPSG:2154", n=2)
    # 100 km east, in France but outside every commune of the analysis
    with pytest.raises(DataValidationError, match=r"praticien ajouté au point .* hors de portée"):
        add_practitioners(base, point=(825_000.0, 6_585_000.0), crs="EPSG:2154")


@pytest.fixture(scope="module")
def cantal() -> AccessProblem:
    prac = gpd.GeoDataFrame(
        {"id": ["A", "B"], "age": [50, 70]},
        geometry=[shapely.Point(2.44495, 44.93032), shapely.Point(2.97836, 45.12631)],
        crs=4326,
    )  # Aurillac and Neussargues-Moissac's town halls
    return prepare(resolve_territory(departements="15"), prac, "apl", supply="headcount")


def test_far_from_cantal_is_refused(cantal: AccessProblem) -> None:
    with pytest.raises(DataValidationError, match=r"au point \(7\.26, 43\.7\) .*hors de portée"):
        add_practitioners(cantal, point=(7.26, 43.70))
    with pytest.raises(DataValidationError, match=r"commune '06088' : ni dans le territoire"):
        add_practitioners(cantal, commune="06088")
    # in the surroundings: Rodez is 1 h away, refused; Brommat, on the border, is reached
    with pytest.raises(DataValidationError, match=r"ajouté à Rodez \(12202\) hors de portée"):
        add_practitioners(cantal, commune="12202")
    near = add_practitioners(cantal, commune=12036)
    assert near.problem.history[0].startswith("ajout de 1 praticien à Brommat (12036)")
    assert (near.communes["delta"] > 0).any()


UNLOCATED = {"15031": ("Celles", 217), "15035": ("Chalinargues", 304)}


@pytest.fixture
def cantal_unlocated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AccessProblem:
    """Cantal on a reference copy where Celles and Chalinargues have no polygon."""
    folder = reference_without_geometry(tmp_path / "reference", list(UNLOCATED))
    monkeypatch.setenv("CARTOSOINS_REFERENCE_DIR", str(folder))
    prac = gpd.GeoDataFrame(
        {"id": ["A", "B"], "age": [50, 70]},
        geometry=[shapely.Point(2.44495, 44.93032), shapely.Point(2.97836, 45.12631)],
        crs=4326,
    )
    return prepare(resolve_territory(departements="15"), prac, "apl", supply="headcount")


def test_communes_without_geometry_can_be_named(cantal_unlocated: AccessProblem) -> None:
    cantal = cantal_unlocated
    frame = cantal.frame.set_index("code")
    assert (frame.loc[list(UNLOCATED), "status"] == "non localisée").all()
    with pytest.warns(UserWarning, match=r"sans contour ni chef-lieu .*\(Celles \(15031\)\)"):
        res = change_population(cantal, {"15031": 500, 15014: 30_000})
    after = res.communes.set_index("code")["population_after"]
    assert after["15031"] == 500 and after["15014"] == 30_000
    assert res.summary["population_change"] == (500 - 217) + (
        30_000 - frame.loc["15014", "population"]
    )
    # a factor on the territory scales them too; values do not move for them (no point)
    doubled = change_population(cantal, factor=2)
    np.testing.assert_array_equal(
        doubled.communes["population_after"], 2 * doubled.communes["population_before"]
    )
    assert np.isnan(doubled.communes.set_index("code")["after"]["15031"])
    with pytest.warns(UserWarning, match=r"Chalinargues \(15035\)"):
        chained = change_population(res, factor=3, codes=[15031, "15035"])
    assert chained.communes.set_index("code")["population_after"]["15031"] == 1500
    assert chained.communes.set_index("code")["population_after"]["15035"] == 912
    # practitioners cannot be placed by its code (no point): the error says why and what to do
    with pytest.raises(
        DataValidationError,
        match=r"Celles \(15031\) n'a ni contour ni chef-lieu.*point=\(lon, lat\)",
    ):
        add_practitioners(cantal, commune=15031)
