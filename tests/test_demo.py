"""Tests of geo.demo: synthetic practitioners for demonstrations."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.demo import (
    NATIONAL_POPULATION,
    NATIONAL_POPULATION_BY_SIZE_CLASS,
    OUTPUT_COLUMNS,
    PROFESSIONS,
    SIZE_CLASS_LOWER_BOUNDS_INHABITANTS,
    SYNTHETIC_LABEL,
    SYNTHETIC_SOURCE,
    generate_practitioners,
    is_synthetic,
)
from geo.errors import DataValidationError
from geo.reference import load_communes

GP = "medecin_generaliste"
# 1e-5 degree is about 1 m: the "within a metre" tolerance of the placement check.
ONE_METRE_DEG = 1e-5


@pytest.fixture(scope="module")
def france() -> gpd.GeoDataFrame:
    return load_communes()


@pytest.fixture(scope="module")
def national(france: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return generate_practitioners(france, seed=0)


@pytest.fixture(scope="module")
def gps(national: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return national[national["profession"] == GP]


def assert_same_records(left: gpd.GeoDataFrame, right: gpd.GeoDataFrame) -> None:
    """Same rows, attributes and bit-identical coordinates."""
    left, right = left.reset_index(drop=True), right.reset_index(drop=True)
    pd.testing.assert_frame_equal(
        pd.DataFrame(left.drop(columns="geometry")), pd.DataFrame(right.drop(columns="geometry"))
    )
    np.testing.assert_array_equal(
        shapely.get_coordinates(left.geometry.values),
        shapely.get_coordinates(right.geometry.values),
    )
    assert left.crs == right.crs


# --- determinism and territory independence ----------------------------------------------------


def test_same_seed_gives_same_frame(france: gpd.GeoDataFrame) -> None:
    puy = france[france["departement"] == "63"]
    assert_same_records(generate_practitioners(puy, seed=3), generate_practitioners(puy, seed=3))


def test_different_seeds_differ(france: gpd.GeoDataFrame) -> None:
    puy = france[france["departement"] == "63"]
    first, second = generate_practitioners(puy, seed=0), generate_practitioners(puy, seed=1)
    assert len(first) != len(second) or not first["id"].equals(second["id"])
    common = first.merge(pd.DataFrame(second[["id", "age"]]), on="id", suffixes=("", "_other"))
    assert (common["age"] != common["age_other"]).mean() > 0.5


@pytest.mark.parametrize("departement", ["63", "2A", "2B", "974"])
def test_departement_alone_equals_national_subset(
    france: gpd.GeoDataFrame, national: gpd.GeoDataFrame, departement: str
) -> None:
    alone = generate_practitioners(load_communes(departements=departement), seed=0)
    codes = set(france.loc[france["departement"] == departement, "code"])
    assert len(alone) > 0
    assert_same_records(alone, national[national["commune"].isin(codes)])


def test_territory_independence_with_another_seed(france: gpd.GeoDataFrame) -> None:
    everything = generate_practitioners(france, seed=12345, professions=[GP, "infirmier"])
    alone = generate_practitioners(
        load_communes(departements="63"), seed=12345, professions=["infirmier", GP]
    )
    assert_same_records(alone, everything[everything["commune"].str.startswith("63")])


def test_input_order_and_profession_subset_do_not_matter(
    france: gpd.GeoDataFrame, national: gpd.GeoDataFrame
) -> None:
    puy = france[france["departement"] == "63"]
    shuffled = puy.sample(frac=1.0, random_state=1)
    sage_femmes = generate_practitioners(shuffled, seed=0, professions="sage_femme")
    expected = national[national["commune"].str.startswith("63")]
    assert_same_records(sage_femmes, expected[expected["profession"] == "sage_femme"])


def test_corsican_and_overseas_codes_do_not_collide(grid3x3: gpd.GeoDataFrame) -> None:
    # identical communes that differ only by code must get different draws
    codes = ["2A004", "2B004", "20004", "97411", "97104", "9741", "02A04", "2A0040", "63113"]
    same = grid3x3.iloc[[0] * len(codes)].reset_index(drop=True)
    grid = same.assign(code=codes, population=100_000)
    pros = generate_practitioners(grid, seed=0, professions=[GP])
    ages = pros.groupby("commune")["age"].agg(lambda a: tuple(a.head(20)))
    assert len(ages) == len(codes)
    assert ages.nunique() == len(codes)


# --- national calibration ----------------------------------------------------------------------


def test_national_constants_match_reference(france: gpd.GeoDataFrame) -> None:
    assert int(france["population"].sum()) == NATIONAL_POPULATION
    hostable = france[france.geometry.notna() & france["chef_lieu"].notna()]
    size_class = (
        np.searchsorted(SIZE_CLASS_LOWER_BOUNDS_INHABITANTS, hostable["population"], side="right")
        - 1
    )
    by_class = hostable["population"].groupby(size_class).sum()
    assert tuple(
        int(by_class.get(k, 0)) for k in range(len(SIZE_CLASS_LOWER_BOUNDS_INHABITANTS))
    ) == (NATIONAL_POPULATION_BY_SIZE_CLASS)


@pytest.mark.parametrize("code", list(PROFESSIONS))
def test_expected_national_density_is_the_target(code: str) -> None:
    p = PROFESSIONS[code]
    expected = sum(
        pop * f * p.base_density_per_10k
        for pop, f in zip(NATIONAL_POPULATION_BY_SIZE_CLASS, p.size_factors, strict=True)
    )
    assert expected / NATIONAL_POPULATION == pytest.approx(p.density_per_10k, rel=1e-12)
    # the factor rises with commune size: low in villages, above 1 in towns
    assert list(p.size_factors) == sorted(p.size_factors)
    assert p.size_factors[0] < 1 < p.size_factors[-1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_national_gp_density(france: gpd.GeoDataFrame, seed: int) -> None:
    gps = generate_practitioners(france, seed=seed, professions=[GP])
    density = len(gps) / france["population"].sum() * 10_000
    assert density == pytest.approx(8.5, abs=0.15)


def test_national_densities_of_all_professions(
    france: gpd.GeoDataFrame, national: gpd.GeoDataFrame
) -> None:
    density = national["profession"].value_counts() / france["population"].sum() * 10_000
    for code, profession in PROFESSIONS.items():
        assert density[code] == pytest.approx(profession.density_per_10k, rel=0.03)


def test_rural_communes_hold_few_gps(france: gpd.GeoDataFrame, gps: gpd.GeoDataFrame) -> None:
    population = france.set_index("code")["population"]
    rural_population_share = population[population < 2_000].sum() / population.sum()
    rural_gp_share = (population.loc[gps["commune"]].to_numpy() < 2_000).mean()
    assert 0.20 < rural_population_share < 0.25
    assert 0.10 <= rural_gp_share <= 0.15


def test_small_communes_mostly_get_none(
    france: gpd.GeoDataFrame, national: gpd.GeoDataFrame
) -> None:
    per_commune = national.groupby("commune").size()
    villages = france.loc[france["population"] < 200, "code"]
    assert per_commune.reindex(villages, fill_value=0).eq(0).mean() > 0.8
    assert per_commune["63113"] > 300  # Clermont-Ferrand


def test_communes_without_geometry_or_inhabitants_get_none(
    france: gpd.GeoDataFrame, national: gpd.GeoDataFrame
) -> None:
    empty = france.loc[france.geometry.isna() | (france["population"] == 0), "code"]
    assert len(empty) >= 4
    assert not national["commune"].isin(empty).any()


# --- attributes --------------------------------------------------------------------------------


def test_gp_age_pyramid(gps: gpd.GeoDataFrame) -> None:
    assert 0.20 <= (gps["age"] >= 60).mean() <= 0.35
    retiring_now = (gps["age"] >= 65).mean()
    assert 0.08 <= retiring_now <= 0.18
    # a 2030 horizon (aged 61 or more in 2026) removes noticeably more than retirements today
    assert (gps["age"] >= 61).mean() > retiring_now + 0.05
    assert gps["age"].mean() == pytest.approx(50, abs=2)
    assert gps["age"].between(28, 75).all()


def test_rural_gps_are_older(france: gpd.GeoDataFrame, gps: gpd.GeoDataFrame) -> None:
    population = france.set_index("code")["population"].loc[gps["commune"]].to_numpy()
    assert gps["age"][population < 2_000].mean() > gps["age"][population >= 2_000].mean() + 1


def test_younger_cohorts_are_more_female(gps: gpd.GeoDataFrame) -> None:
    female = gps["sex"] == "F"
    assert female[gps["age"] < 40].mean() > 0.6
    assert female[gps["age"] >= 60].mean() < 0.35


def test_attribute_columns(national: gpd.GeoDataFrame) -> None:
    assert tuple(national.columns) == OUTPUT_COLUMNS
    assert national["id"].is_unique
    assert national["id"].str.fullmatch(r"SIM-[0-9AB]{5}-(MG|INF|MK|CD|SF)-\d{4,}").all()
    assert (national["birth_year"] == 2026 - national["age"]).all()
    assert set(national["sex"]) == {"F", "M"}
    assert national["fte"].between(0.2, 1.2).all()
    labels = {code: p.label for code, p in PROFESSIONS.items()}
    assert (national["profession_libelle"] == national["profession"].map(labels)).all()
    assert national["commune_nom"].notna().all()


def test_consultations_only_for_gps(national: gpd.GeoDataFrame) -> None:
    is_gp = national["profession"] == GP
    assert national.loc[~is_gp, "consultations_per_year"].isna().all()
    gp = national[is_gp]
    assert (gp["consultations_per_year"] > 0).all()
    per_fte = gp["consultations_per_year"] / gp["fte"]
    assert per_fte.mean() == pytest.approx(4_900, rel=0.03)
    assert per_fte.std() > 500


def test_reference_year_shifts_birth_years(france: gpd.GeoDataFrame) -> None:
    puy = france[france["departement"] == "63"]
    later = generate_practitioners(puy, reference_year=2030)
    now = generate_practitioners(puy)
    assert (later["age"] == now["age"]).all()
    assert (later["birth_year"] == now["birth_year"] + 4).all()
    assert later.attrs["reference_year"] == 2030


def test_points_inside_their_commune(france: gpd.GeoDataFrame, national: gpd.GeoDataFrame) -> None:
    polygons = france.set_index("code").geometry.loc[national["commune"]].to_numpy()
    x, y = national.geometry.x.to_numpy(), national.geometry.y.to_numpy()
    inside = shapely.contains_xy(polygons, x, y)
    near = shapely.dwithin(polygons[~inside], national.geometry.to_numpy()[~inside], ONE_METRE_DEG)
    assert near.all()
    assert national.crs == france.crs


def test_points_spread_around_the_chef_lieu(
    france: gpd.GeoDataFrame, national: gpd.GeoDataFrame
) -> None:
    clermont = national[national["commune"] == "63113"].to_crs(2154)
    town_hall = gpd.GeoSeries(
        france.loc[france["code"] == "63113", "chef_lieu"], crs=france.crs
    ).to_crs(2154)
    distance_m = clermont.distance(town_hall.iloc[0])
    assert 100 < distance_m.median() < 2_500
    assert clermont.geometry.nunique() == len(clermont)


# --- flags and metadata ------------------------------------------------------------------------


def test_flags_and_attrs(national: gpd.GeoDataFrame) -> None:
    assert national["synthetic"].all()
    assert (national["source"] == SYNTHETIC_SOURCE).all()
    assert national.attrs["synthetic"] is True
    assert national.attrs["label"] == SYNTHETIC_LABEL
    assert national.attrs["seed"] == 0
    assert national.attrs["reference_year"] == 2026
    assert national.attrs["model"]
    assert is_synthetic(national)


def test_is_synthetic_survives_lost_attrs(national: gpd.GeoDataFrame) -> None:
    real = pd.DataFrame({"id": ["RPPS-1"], "synthetic": [False]})
    mixed = pd.concat([real, pd.DataFrame(national[["id", "synthetic"]].head(3))])
    mixed.attrs = {}
    assert is_synthetic(mixed)
    assert not is_synthetic(real)
    assert not is_synthetic(pd.DataFrame({"id": ["RPPS-1"]}))


# --- small synthetic geometry --------------------------------------------------------------------


def test_grid_in_lambert93(grid3x3: gpd.GeoDataFrame) -> None:
    grid = grid3x3.assign(population=grid3x3["population"] * 10)
    pros = generate_practitioners(grid, seed=5)
    assert pros.crs == grid.crs
    assert len(pros) > 0
    polygons = grid.set_index("code").geometry.loc[pros["commune"]].to_numpy()
    assert shapely.contains_xy(polygons, pros.geometry.x, pros.geometry.y).all()
    assert pros["commune_nom"].str.startswith("Commune G").all()


def test_chef_lieu_outside_polygon_still_places_inside(grid3x3: gpd.GeoDataFrame) -> None:
    grid = grid3x3.assign(population=50_000)
    outside = shapely.Point(0.0, 0.0)
    grid["chef_lieu"] = gpd.GeoSeries([outside] * len(grid), crs=grid.crs)
    pros = generate_practitioners(grid, seed=0, professions=[GP])
    polygons = grid.set_index("code").geometry.loc[pros["commune"]].to_numpy()
    assert len(pros) > 100
    assert shapely.contains_xy(polygons, pros.geometry.x, pros.geometry.y).all()


def test_empty_communes_give_empty_result(france: gpd.GeoDataFrame) -> None:
    pros = generate_practitioners(france.iloc[:0], seed=0)
    assert len(pros) == 0
    assert tuple(pros.columns) == OUTPUT_COLUMNS
    assert pros.crs == france.crs
    full = generate_practitioners(france[france["departement"] == "90"], seed=0)
    pd.testing.assert_series_equal(pros.dtypes, full.dtypes)
    assert is_synthetic(pros)


# --- validation --------------------------------------------------------------------------------


def test_rejects_communes_without_crs(grid3x3: gpd.GeoDataFrame) -> None:
    grid = grid3x3.set_crs(None, allow_override=True)
    with pytest.raises(DataValidationError, match="communes has no CRS"):
        generate_practitioners(grid)


@pytest.mark.parametrize("column", ["code", "population", "chef_lieu"])
def test_rejects_missing_column(grid3x3: gpd.GeoDataFrame, column: str) -> None:
    with pytest.raises(DataValidationError, match=rf"lacks column\(s\) {column}; required"):
        generate_practitioners(grid3x3.drop(columns=column))


def test_rejects_missing_geometry(grid3x3: gpd.GeoDataFrame) -> None:
    no_geometry = gpd.GeoDataFrame(pd.DataFrame(grid3x3.drop(columns=["geometry"])))
    with pytest.raises(DataValidationError, match=r"lacks column\(s\) geometry; required"):
        generate_practitioners(no_geometry)


def test_accepts_a_renamed_geometry_column(grid3x3: gpd.GeoDataFrame) -> None:
    renamed = grid3x3.rename_geometry("polygon")
    assert len(generate_practitioners(renamed, seed=0)) > 0


def test_rejects_plain_dataframe(grid3x3: gpd.GeoDataFrame) -> None:
    with pytest.raises(DataValidationError, match="must be a GeoDataFrame, got DataFrame"):
        generate_practitioners(pd.DataFrame(grid3x3.drop(columns=["geometry", "chef_lieu"])))


def test_rejects_unknown_profession(grid3x3: gpd.GeoDataFrame) -> None:
    with pytest.raises(
        DataValidationError,
        match=r"unknown profession\(s\) 'pharmacien'; allowed values: .*sage_femme",
    ):
        generate_practitioners(grid3x3, professions=[GP, "pharmacien"])
    with pytest.raises(DataValidationError, match="professions is empty; choose among"):
        generate_practitioners(grid3x3, professions=[])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"population": -1}, "'population' must hold finite numbers >= 0.*G1"),
        ({"population": np.nan}, "'population' must hold finite numbers >= 0"),
        ({"code": "G1"}, "duplicate codes: G1"),
    ],
)
def test_rejects_bad_values(
    grid3x3: gpd.GeoDataFrame, change: dict[str, object], message: str
) -> None:
    grid = grid3x3.copy()
    column, value = next(iter(change.items()))
    grid[column] = grid[column].astype(object)
    grid.loc[0:1, column] = value
    with pytest.raises(DataValidationError, match=message):
        generate_practitioners(grid)


def test_rejects_bad_seed_and_year(grid3x3: gpd.GeoDataFrame) -> None:
    with pytest.raises(DataValidationError, match="seed must be an integer"):
        generate_practitioners(grid3x3, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(DataValidationError, match="reference_year must be an integer year"):
        generate_practitioners(grid3x3, reference_year=26)
