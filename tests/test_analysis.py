"""Hand-checkable analyses on a 3×3 grid of 10 km square communes.

With ``detour_factor=1`` and ``speed_kmh=60`` one straight-line kilometre is one minute, so
neighbours are 10 min apart, diagonal neighbours 14.14 min, opposite sides 20 min.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.analysis import MEASURES, analyse
from geo.demo import SYNTHETIC_LABEL, generate_practitioners
from geo.errors import DataValidationError
from geo.offer import load_gp_offer
from geo.reference import load_communes
from geo.territory import resolve_territory
from tests.conftest import requires_shared_data

KM_IS_MINUTE = {"detour_factor": 1.0, "speed_kmh": 60.0}


def _prac(xy: list[tuple[float, float]], **cols: list[object]) -> gpd.GeoDataFrame:
    ids = [f"P{i}" for i in range(len(xy))]
    coords = np.asarray(xy, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame({"id": ids, **cols}, geometry=shapely.points(coords), crs=2154)


CENTRE = (715_000.0, 6_585_000.0)  # centre of G5


def _by_code(result: gpd.GeoDataFrame, column: str = "value") -> pd.Series:
    return result.set_index("code")[column]


def test_apl_bands_by_hand(grid3x3: gpd.GeoDataFrame) -> None:
    res = analyse(
        grid3x3, _prac([CENTRE]), "apl", surroundings=None, supply="headcount", **KM_IS_MINUTE
    )
    # DREES bands: G5 0 min → 1; G2, G4, G6, G8 at exactly 10 min are "entre 10 et 15
    # minutes" → 2/3; corners at 14.14 min → 2/3
    weighted_demand = (
        5000 + 2 / 3 * (2000 + 4000 + 6000 + 8000) + 2 / 3 * (1000 + 3000 + 7000 + 9000)
    )
    ratio = 100_000 / weighted_demand  # headcount per 100,000 inhabitants
    v = _by_code(res)
    assert v["G5"] == pytest.approx(ratio, rel=1e-12)
    assert v["G2"] == pytest.approx(2 / 3 * ratio, rel=1e-12)
    assert v["G1"] == pytest.approx(2 / 3 * ratio, rel=1e-12)
    # the grid is not in the reference: no embedded age structure, so not "standardisés"
    assert res.attrs["unit_fr"] == "praticiens pour 100 000 habitants"
    assert res.attrs["parameters"]["age_standardised"] is False
    assert res.attrs["parameters"]["bands"] == {"10": 1.0, "15": 2 / 3, "20": 1 / 3}


def test_apl_band_edges(grid3x3: gpd.GeoDataFrame) -> None:
    # one practitioner 15 km east of G5's centre... is outside the grid; use 12 km from G4
    # instead: G4 centre (705000, 6585000); P at (717000, 6585000) lies in G5.
    res = analyse(
        grid3x3,
        _prac([(717_000.0, 6_585_000.0)]),
        "apl",
        surroundings=None,
        supply="headcount",
        **KM_IS_MINUTE,
    )
    near = _by_code(res, "nearest_minutes")
    assert near["G4"] == pytest.approx(12.0)
    assert near["G6"] == pytest.approx(8.0)
    w = {"G5": 1.0, "G6": 1.0, "G4": 2 / 3}  # 2, 8, 12 min
    d_g2 = float(np.hypot(2_000, 10_000)) / 1000  # 10.2 min → 2/3
    d_g3 = float(np.hypot(8_000, 10_000)) / 1000  # 12.8 min → 2/3
    d_g1 = float(np.hypot(12_000, 10_000)) / 1000  # 15.6 min → 1/3
    assert 10 < d_g2 <= 15 and 10 < d_g3 <= 15 and 15 < d_g1 <= 20
    pops = {f"G{i}": 1000 * i for i in range(1, 10)}
    weights = w | {"G2": 2 / 3, "G8": 2 / 3, "G3": 2 / 3, "G9": 2 / 3, "G1": 1 / 3, "G7": 1 / 3}
    total = sum(pops[c] * weights[c] for c in weights)
    v = _by_code(res)
    for code, weight in weights.items():
        assert v[code] == pytest.approx(weight * 100_000 / total, rel=1e-12), code


def test_nearest_time_and_population_beyond(grid3x3: gpd.GeoDataFrame) -> None:
    res = analyse(
        grid3x3,
        _prac([(705_000.0, 6_595_000.0)]),  # centre of G1
        "nearest",
        surroundings=None,
        threshold_minutes=20.0,
        **KM_IS_MINUTE,
    )
    near = _by_code(res)
    assert near["G1"] == pytest.approx(0.0)
    assert near["G5"] == pytest.approx(np.hypot(10, 10))
    assert near["G9"] == pytest.approx(np.hypot(20, 20))
    # beyond 20 min: G6 (22.4), G8 (22.4), G9 (28.3)
    assert res.attrs["summary"]["population_beyond_threshold"] == 6000 + 8000 + 9000
    assert res.attrs["summary"]["communes_beyond_threshold"] == 3


def test_two_step_by_hand_and_invariant(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([(705_000.0, 6_595_000.0), (725_000.0, 6_575_000.0)])  # G1 and G9 centres
    res = analyse(grid3x3, prac, "2sfca", catchment_minutes=10.0, surroundings=None, **KM_IS_MINUTE)
    v = _by_code(res)
    r1 = 1 / (1000 + 2000 + 4000)  # G1 reaches itself, G2 and G4 within 10 min
    r9 = 1 / (9000 + 6000 + 8000)
    assert v["G1"] == pytest.approx(r1 * 10_000)
    assert v["G9"] == pytest.approx(r9 * 10_000)
    assert np.isnan(v["G5"])  # nothing within 10 min
    assert res.set_index("code").at["G5", "status"] == "aucun praticien à portée"
    # every practitioner is shared out: Σ P_i A_i = Σ S_j
    pop = res["population"].to_numpy(dtype=float)
    assert np.nansum(pop * res["value"].to_numpy()) / 10_000 == pytest.approx(2.0)


def test_border_effect(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([(715_000.0, 6_585_000.0), (735_000.0, 6_585_000.0)])
    full = analyse(
        grid3x3, prac, "2sfca", catchment_minutes=10.0, surroundings=None, **KM_IS_MINUTE
    )
    territory = grid3x3[grid3x3["code"].isin(["G4", "G5"])]
    with_border = analyse(
        territory, prac, "2sfca", catchment_minutes=10.0, surroundings=grid3x3, **KM_IS_MINUTE
    )
    island = analyse(
        territory, prac, "2sfca", catchment_minutes=10.0, surroundings=None, **KM_IS_MINUTE
    )
    assert list(with_border["code"]) == ["G4", "G5"]
    np.testing.assert_allclose(
        _by_code(with_border).to_numpy(), _by_code(full)[["G4", "G5"]].to_numpy(), rtol=1e-12
    )
    # as an island, G5's practitioner is shared by G4 and G5 only: an overestimate
    assert _by_code(island)["G5"] > _by_code(with_border)["G5"]
    assert with_border.attrs["context"]["border_effect"] is True
    # G5's practitioner serves G2, G4, G6, G8 and G5: 2000 + 4000 + 5000 + 6000 + 8000
    assert _by_code(with_border)["G5"] == pytest.approx(10_000 / 25_000)


def test_od_table_equals_straight_line(grid3x3: gpd.GeoDataFrame) -> None:
    centres = grid3x3.set_index("code")["chef_lieu"]
    prac = gpd.GeoDataFrame(
        {"id": ["A", "B", "C"], "commune": ["G1", "G5", "G5"]},
        geometry=[centres["G1"], centres["G5"], centres["G5"]],
        crs=2154,
    )
    xy = shapely.get_coordinates(centres.to_numpy())
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]) / 1000
    od = pd.DataFrame(
        [
            (a, b, dist[i, j])
            for i, a in enumerate(centres.index)
            for j, b in enumerate(centres.index)
        ],
        columns=["origin", "dest", "minutes"],
    )
    for measure in ("2sfca", "e2sfca", "apl", "nearest"):
        a = analyse(grid3x3, prac, measure, surroundings=None, supply="headcount", **KM_IS_MINUTE)
        b = analyse(
            grid3x3,
            prac,
            measure,
            surroundings=None,
            supply="headcount",
            travel="od_table",
            od_table=od,
        )
        np.testing.assert_allclose(
            _by_code(a).to_numpy(), _by_code(b).to_numpy(), rtol=1e-9, err_msg=measure
        )
        assert b.attrs["travel"]["method"] == "od_table"


def test_density_and_practitioner_counts(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([(705_000.0, 6_595_000.0)] * 2 + [CENTRE])
    res = analyse(grid3x3, prac, "density", surroundings=None, **KM_IS_MINUTE)
    v = _by_code(res)
    assert v["G1"] == pytest.approx(2 * 10_000 / 1000)
    assert v["G5"] == pytest.approx(10_000 / 5000)
    assert v["G2"] == 0
    assert _by_code(res, "practitioners")["G1"] == 2


def test_zero_population_and_age_exclusion(grid3x3: gpd.GeoDataFrame) -> None:
    grid3x3.loc[grid3x3["code"] == "G5", "population"] = 0
    prac = _prac([CENTRE, CENTRE], age=[50, 67])
    res = analyse(grid3x3, prac, "apl", surroundings=None, supply="headcount", **KM_IS_MINUTE)
    assert res.set_index("code").at["G5", "status"] == "population nulle"
    assert np.isfinite(_by_code(res)["G5"])
    young = analyse(
        grid3x3,
        prac,
        "apl",
        surroundings=None,
        supply="headcount",
        exclude_aged_from=66,
        **KM_IS_MINUTE,
    )
    assert _by_code(young)["G5"] == pytest.approx(_by_code(res)["G5"] / 2)
    assert _by_code(young, "practitioners_in_reach")["G5"] == 1
    with pytest.raises(DataValidationError, match="'age' column"):
        analyse(grid3x3, _prac([CENTRE]), "apl", surroundings=None, exclude_aged_from=66)


def test_age_standardised_demand(grid3x3: gpd.GeoDataFrame) -> None:
    ages = pd.DataFrame(
        {"moins_75": [90.0] * 8 + [50.0], "75_plus": [10.0] * 8 + [50.0]},
        index=[f"G{i}" for i in range(1, 10)],
    )
    res = analyse(
        grid3x3,
        _prac([CENTRE]),
        "2sfca",
        surroundings=None,
        age_table=ages,
        consumption_weights={"moins_75": 1.0, "75_plus": 2.0},
        **KM_IS_MINUTE,
    )
    # weights are relative to the national consumption: P × Σ share × weight, no renormalising
    d = _by_code(res, "demand") / _by_code(res, "population")
    assert d["G1"] == pytest.approx(0.9 * 1.0 + 0.1 * 2.0, rel=1e-12)
    assert d["G9"] == pytest.approx(0.5 * 1.0 + 0.5 * 2.0, rel=1e-12)
    assert res.attrs["unit_fr"] == "praticiens pour 10 000 habitants standardisés"
    # a commune's standardised population does not depend on the territory asked for
    alone = analyse(
        grid3x3[grid3x3["code"] == "G9"],
        _prac([CENTRE]),
        "2sfca",
        surroundings=None,
        age_table=ages,
        consumption_weights={"moins_75": 1.0, "75_plus": 2.0},
        **KM_IS_MINUTE,
    )
    assert _by_code(alone, "demand")["G9"] == _by_code(res, "demand")["G9"]
    with pytest.raises(DataValidationError, match="no row for 1 commune"):
        analyse(
            grid3x3,
            _prac([CENTRE]),
            "2sfca",
            surroundings=None,
            age_table=ages.drop(index="G3"),
            consumption_weights={"moins_75": 1.0},
        )


@pytest.mark.parametrize(
    ("prac", "match"),
    [
        (lambda: _prac([CENTRE]).set_crs(None, allow_override=True), "no CRS"),
        (
            lambda: _prac([CENTRE, CENTRE]).assign(id=["X", "X"]),
            r"duplicate practitioner ids: \['X'\]",
        ),
        (lambda: _prac([(np.nan, np.nan)]), "missing or NaN coordinates"),
        (
            lambda: gpd.GeoDataFrame({"id": ["Q"]}, geometry=[shapely.Point(46.5, 3.1)], crs=4326),
            r"outside France.*'Q'.*lon 46\.5",
        ),
        (lambda: _prac([CENTRE], fte=[-1.0]), r"'fte': value -1\.0 of practitioner 'P0'"),
        (lambda: pd.DataFrame({"x": [1]}), "must be a GeoDataFrame"),
    ],
)
def test_practitioner_validation(grid3x3: gpd.GeoDataFrame, prac: object, match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        analyse(grid3x3, prac(), "2sfca", surroundings=None, supply="fte")  # type: ignore[operator]


def test_other_errors(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([CENTRE])
    with pytest.raises(DataValidationError, match="'foo' is not one of"):
        analyse(grid3x3, prac, "foo")
    with pytest.raises(DataValidationError, match="no commune"):
        analyse(grid3x3.iloc[:0], prac, "apl")
    with pytest.raises(DataValidationError, match="supply column 'fte'"):
        analyse(grid3x3, prac, "apl", supply="fte", surroundings=None)
    bad = grid3x3.assign(population=[-1] + [1] * 8)
    with pytest.raises(DataValidationError, match=r"'G1'.*-1"):
        analyse(bad, prac, "apl", surroundings=None)
    dup = pd.concat([grid3x3, grid3x3.iloc[[0]]])
    with pytest.raises(DataValidationError, match=r"duplicate commune codes.*'G1'"):
        analyse(dup, prac, "apl", surroundings=None)


def test_no_practitioner_at_all(grid3x3: gpd.GeoDataFrame) -> None:
    empty = _prac([])
    for measure in MEASURES:
        with pytest.warns(UserWarning, match="la table des praticiens est vide"):
            res = analyse(grid3x3, empty, measure, surroundings=None)
        if measure == "density":
            assert (res["value"] == 0).all()
        elif measure == "apl":
            # DREES publishes 0 where no GP is within reach, and the mean counts those zeros
            assert (res["value"] == 0).all()
            assert (res["status"] == "aucun praticien à moins de 20 min").all()
            assert res.attrs["summary"]["population_weighted_mean"] == 0
            assert res.attrs["summary"]["communes_without_supply"] == 9
        else:
            assert res["value"].isna().all(), measure


@pytest.fixture(scope="module")
def national_gps() -> gpd.GeoDataFrame:
    return generate_practitioners(load_communes(), seed=0, professions=["medecin_generaliste"])


def test_real_departement_with_demo(national_gps: gpd.GeoDataFrame) -> None:
    territory = resolve_territory(departements="63")
    res = analyse(territory, national_gps, "apl")
    assert len(res) == 463
    assert res["code"].is_unique
    assert res.attrs["synthetic"] is True
    assert res.attrs["label"] == SYNTHETIC_LABEL
    assert res.attrs["parameters"]["supply"] == "consultations"
    assert res.attrs["unit_fr"] == "consultations par an et par habitant standardisé"
    # the demo model is calibrated on 8.5 GPs per 10,000 and 4,900 consultations per FTE:
    # the population-weighted APL must land near the national 3.3 (DREES, 2023)
    assert 2.5 < res.attrs["summary"]["population_weighted_mean"] < 4.2
    assert res.attrs["context"]["demand_communes"] > 463  # neighbours of the 4 départements
    assert res.crs == territory.communes.crs
    assert "communes" in res.attrs["sources"]


@requires_shared_data
def test_apl_age_standardised_with_real_75_plus_shares(
    shared_data: object, national_gps: gpd.GeoDataFrame
) -> None:
    """Loire (42): demand weighted by the INSEE RP 2022 share of inhabitants aged 75+."""
    from pathlib import Path

    shares = pd.read_csv(
        Path(str(shared_data)) / "population" / "part_75_plus_communes_2022_linalek.csv",
        dtype={"code": str},
    ).set_index("code")
    ages = pd.DataFrame(
        {
            "moins_75": 100.0 - shares["part_75_plus_pct_2022"],
            "75_plus": shares["part_75_plus_pct_2022"],
        }
    )
    loire = resolve_territory(departements="42")
    # surroundings: the départements around the Loire, all present in the share file
    around = load_communes(departements=["42", "43", "63", "03", "69", "71", "07", "38", "01"])
    plain = analyse(loire, national_gps, "apl", surroundings=around)
    weighted = analyse(
        loire,
        national_gps,
        "apl",
        surroundings=around,
        age_table=ages,
        consumption_weights={"moins_75": 1.0, "75_plus": 2.0},
    )
    assert weighted.attrs["parameters"]["age_standardised"] is True
    demand = weighted.set_index("code")["demand"]
    pop = weighted.set_index("code")["population"]
    old = shares.loc[demand.index, "part_75_plus_pct_2022"]
    # each inhabitant weighs the consumption of their band: 1 under 75, 2 from 75 on
    ratio = demand / pop
    np.testing.assert_allclose(ratio, 1.0 + old / 100.0, rtol=1e-12)
    assert ratio[old > old.median() + 3].mean() > ratio[old < old.median() - 3].mean()
    assert not np.allclose(weighted["value"], plain["value"], equal_nan=True)
    # by default the APL is standardised with the embedded age structure and DREES's weights
    assert plain.attrs["parameters"]["age_standardised"] is True
    assert "DREES" in plain.attrs["parameters"]["age_source"]


# --------------------------------------------------------------------------------------------
# issue 18 point 3: gravity with practitioners at a chef-lieu; point 4: one error hierarchy
# --------------------------------------------------------------------------------------------
def test_gravity_with_a_practitioner_at_the_chef_lieu(grid3x3: gpd.GeoDataFrame) -> None:
    import access

    from geo.analysis import GRAVITY_MIN_MINUTES

    prac = _prac([CENTRE, CENTRE, (705_000.0, 6_595_000.0)])  # 2 at G5's chef-lieu, 1 at G1's
    res = analyse(grid3x3, prac, "gravity", surroundings=None, **KM_IS_MINUTE)
    v = _by_code(res)
    # by hand: weight (max(t, 4) / 1) ** -1 with t in minutes = km here (times are rounded
    # to 1e-9 min, hence rel=1e-9)
    floor = GRAVITY_MIN_MINUTES
    assert v["G5"] == pytest.approx(2 / floor + 1 / np.hypot(10, 10), rel=1e-9)
    assert v["G1"] == pytest.approx(2 / np.hypot(10, 10) + 1 / floor, rel=1e-9)
    assert res.attrs["parameters"]["min_minutes"] == floor
    # the same as PySAL access's gravity weight with min_dist on the same pairs
    centres = grid3x3.set_index("code")["chef_lieu"]
    xy = shapely.get_coordinates(centres.to_numpy())
    supply_xy = shapely.get_coordinates(prac.geometry.to_numpy())
    cost = pd.DataFrame(
        [
            (code, f"P{j}", float(np.hypot(*(xy[i] - supply_xy[j])) / 1000))
            for i, code in enumerate(centres.index)
            for j in range(len(prac))
        ],
        columns=["origin", "dest", "cost"],
    )
    acc = access.Access(
        demand_df=grid3x3.set_index("code")[["population"]],
        demand_index=True,
        demand_value="population",
        supply_df=pd.DataFrame({"n": [1.0, 1.0, 1.0]}, index=["P0", "P1", "P2"]),
        supply_index=True,
        supply_value="n",
        cost_df=cost,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    expected = acc.weighted_catchment(
        name="g", weight_fn=access.weights.gravity(scale=1, alpha=-1, min_dist=floor), max_cost=60
    ).iloc[:, 0]
    np.testing.assert_allclose(v.to_numpy(), expected.loc[v.index].to_numpy(), rtol=1e-9)
    # 0 restores access's raw weight, refused at the 0-minute pairs; the floor is validated
    with pytest.raises(DataValidationError, match="non-finite or negative weight"):
        analyse(grid3x3, prac, "gravity", surroundings=None, gravity_min_minutes=0, **KM_IS_MINUTE)
    for bad in (-1, float("nan"), float("inf"), True, "4"):
        with pytest.raises(DataValidationError, match="gravity_min_minutes doit être"):
            analyse(grid3x3, prac, "gravity", surroundings=None, gravity_min_minutes=bad)


def test_od_table_paths_and_encodings_go_through_the_french_reader(
    grid3x3: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    from geo.errors import InputFormatError

    prac = _prac([CENTRE], commune=["G5"])
    codes = grid3x3["code"].tolist()
    rows = [f"{a};{b};{'0' if a == b else '12,5'}" for a in codes for b in codes]
    cp1252 = tmp_path / "durées.csv"
    cp1252.write_bytes(("origine;destination;durée\n" + "\n".join(rows) + "\n").encode("cp1252"))
    kwargs = {"surroundings": None, "travel": "od_table", "supply": "headcount"}
    res = analyse(
        grid3x3,
        prac,
        "2sfca",
        od_table=cp1252,  # a pathlib.Path, CP1252, ';' and decimal commas
        od_columns=("origine", "destination", "durée"),
        **kwargs,  # type: ignore[arg-type]
    )
    assert _by_code(res)["G1"] == pytest.approx(10_000 / 45_000)
    with pytest.raises(InputFormatError, match=r"durées\.csv : colonne\(s\) manquante\(s\)"):
        analyse(grid3x3, prac, "2sfca", od_table=cp1252, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InputFormatError, match=r"absent\.csv : fichier introuvable"):
        analyse(grid3x3, prac, "2sfca", od_table=tmp_path / "absent.csv", **kwargs)  # type: ignore[arg-type]


def test_options_that_would_give_silent_defaults_are_refused(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([CENTRE])
    with pytest.raises(DataValidationError, match="steps est vide"):
        analyse(grid3x3, prac, "e2sfca", surroundings=None, steps={})
    with pytest.raises(DataValidationError, match="catchment_minutes doit être un nombre ≥ 0"):
        analyse(grid3x3, prac, "2sfca", surroundings=None, catchment_minutes=-5)


def test_practitioners_all_out_of_reach_warn(grid3x3: gpd.GeoDataFrame) -> None:
    far = _prac([(900_000.0, 6_300_000.0), (900_100.0, 6_300_000.0)])  # ~330 km away
    with pytest.warns(UserWarning, match="aucun des 2 praticiens fournis n'est à 30 minutes"):
        res = analyse(grid3x3, far, "2sfca", surroundings=None, **KM_IS_MINUTE)
    assert res["value"].isna().all()
    # one within reach: no warning (warnings are errors in this suite)
    analyse(grid3x3, _prac([CENTRE]), "2sfca", surroundings=None, **KM_IS_MINUTE)


def test_no_out_of_reach_warning_where_the_data_say_non_renseigne() -> None:
    # the embedded BPE has no DROM GP: the communes are « non renseigné », which already says
    # why (warnings are errors in this suite)
    res = analyse(load_communes(departements="972"), load_gp_offer().practitioners(), "apl")
    assert (res["status"] == "non renseigné").all()


def test_age_table_with_a_commune_twice_is_refused(grid3x3: gpd.GeoDataFrame) -> None:
    table = pd.DataFrame(
        {"jeunes": [1.0] * 10, "vieux": [1.0] * 10},
        index=[*grid3x3["code"], "G1"],
    )
    with pytest.raises(
        DataValidationError, match=r"plusieurs lignes pour 1 commune\(s\), ex\. \['G1'\]"
    ):
        analyse(
            grid3x3,
            _prac([CENTRE]),
            "2sfca",
            surroundings=None,
            age_table=table,
            consumption_weights={"jeunes": 1.0, "vieux": 2.0},
        )
