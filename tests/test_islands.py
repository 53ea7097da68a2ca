"""Land masses: islands without a bridge reach only their own island."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import DataValidationError
from geo.islands import (
    CONTINENT_PREFIX,
    ISLAND_BRIDGES,
    ISLAND_NAMES,
    IslandBridge,
    build_island_table,
    land_components,
    land_mass_of,
    load_islands,
    same_land_mass,
)
from geo.reference import load_communes

BELLE_ILE = ["56009", "56114", "56152", "56241"]
RE = ["17019", "17051", "17121", "17161", "17207", "17286", "17297", "17318", "17360", "17369"]
OLERON = ["17093", "17140", "17323", "17337", "17385", "17411", "17485", "17486"]
NOIRMOUTIER = ["85011", "85083", "85106", "85163"]


# --------------------------------------------------------------------------------------------
# the committed table
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "ile_id"),
    [
        ("56088", "ile-d-arz"),
        ("56087", "ile-aux-moines"),
        ("56069", "groix"),
        ("97131", "les-saintes-terre-de-haut"),
        ("97130", "les-saintes-terre-de-bas"),
        ("29155", "ouessant"),
        ("85113", "yeu"),
        ("22016", "ile-de-brehat"),
        ("97608", "petite-terre"),
        ("97615", "petite-terre"),
    ],
)
def test_island_communes_are_their_own_land_mass(code: str, ile_id: str) -> None:
    assert land_mass_of([code]).tolist() == [ile_id]


def test_belle_ile_communes_share_one_island() -> None:
    assert set(land_mass_of(BELLE_ILE)) == {"belle-ile"}
    islands = load_islands()
    assert sorted(islands.loc[islands["ile_id"] == "belle-ile", "code"]) == BELLE_ILE


def test_bridged_islands_are_on_the_continent() -> None:
    assert set(land_mass_of(RE + OLERON + NOIRMOUTIER)) == {"continent:metro"}


def test_corsica_is_not_the_continent() -> None:
    assert land_mass_of(["2A004", "2B033", "13055"]).tolist() == [
        "corse",
        "corse",
        "continent:metro",
    ]
    assert not same_land_mass(["2A004"], ["13055"])[0]


def test_guadeloupe_main_land_holds_both_wings_and_not_the_dependencies() -> None:
    # Pointe-à-Pitre (Grande-Terre) and Basse-Terre, joined by the Rivière Salée bridges
    assert land_mass_of(["97120", "97105", "97101", "97103"]).tolist() == ["continent:971"] * 4
    assert set(land_mass_of(["97108", "97112", "97126"])) == {"marie-galante"}
    assert land_mass_of(["97110"]).tolist() == ["la-desirade"]


def test_pairs_across_the_sea_are_dropped() -> None:
    origin = ["75056", "56088", "56069", "97131", "97608", "97608", "97209", "2A004", "56152"]
    dest = ["69123", "56260", "56162", "97130", "97615", "97611", "97120", "2B033", "56241"]
    expected = [True, False, False, False, True, False, False, True, True]
    assert same_land_mass(origin, dest).tolist() == expected


def test_unknown_codes_carry_no_constraint() -> None:
    assert land_mass_of(["XXXXX", "56088"]).tolist() == ["", "ile-d-arz"]
    assert same_land_mass(["XXXXX", "56088"], ["56088", None]).tolist() == [True, True]


def test_communes_without_polygon_are_on_the_continent() -> None:
    # the 4 restored Cantal communes, inland
    assert set(land_mass_of(["15031", "15035", "15047", "15171"])) == {"continent:metro"}


def test_overseas_main_lands_are_distinct() -> None:
    masses = land_mass_of(["97209", "97302", "97411", "97611", "97120"]).tolist()
    assert masses == [f"{CONTINENT_PREFIX}{d}" for d in ("972", "973", "974", "976", "971")]


def test_same_land_mass_checks_lengths_and_shape() -> None:
    with pytest.raises(DataValidationError, match="pas la même longueur : 2 et 1"):
        same_land_mass(["56088", "56088"], ["56088"])
    with pytest.raises(DataValidationError, match="origin_codes : une suite"):
        same_land_mass([["56088"]], [["56088"]])


def test_same_land_mass_on_empty_input() -> None:
    out = same_land_mass(np.array([], dtype=object), [])
    assert out.dtype == bool
    assert out.shape == (0,)


def test_table_layout_and_island_totals() -> None:
    islands = load_islands()
    assert islands["code"].is_unique
    assert set(islands["ile_id"]) == {i for i, _ in ISLAND_NAMES.values()}
    by_island = islands.groupby("ile_id")["code"].size()
    assert by_island["corse"] == 360
    assert by_island["marie-galante"] == 3
    assert by_island["petite-terre"] == 2
    assert not islands["code"].isin(RE + OLERON + NOIRMOUTIER).any()


def test_bridge_ends_are_the_named_communes() -> None:
    codes = [c for b in ISLAND_BRIDGES for c in (b.island_commune, b.mainland_commune)]
    names = load_communes(codes=codes).set_index("code")["nom"]
    ends = {b.island: (names[b.island_commune], names[b.mainland_commune]) for b in ISLAND_BRIDGES}
    assert ends["Île de Ré"] == ("Rivedoux-Plage", "La Rochelle")
    assert ends["Île d'Oléron"] == ("Le Château-d'Oléron", "Bourcefranc-le-Chapus")
    assert ends["Île de Noirmoutier"] == ("Barbâtre", "La Barre-de-Monts")
    assert ends["Grande-Terre (Guadeloupe)"] == ("Les Abymes", "Baie-Mahault")


def test_committed_table_is_reproduced() -> None:
    pd.testing.assert_frame_equal(build_island_table(), load_islands())


# --------------------------------------------------------------------------------------------
# the method, on geometry small enough to check by hand
# --------------------------------------------------------------------------------------------
@pytest.fixture
def grid_with_islands(grid3x3: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The 3×3 grid (x 700–730 km), an island I1 2 km east and a far island I2 40 km east."""
    extra = gpd.GeoDataFrame(
        {
            "code": ["I1", "I2"],
            "nom": ["Île Une", "Île Deux"],
            "departement": "99",
            "population": [100, 200],
        },
        geometry=[
            shapely.box(732_000, 6_580_000, 735_000, 6_583_000),
            shapely.box(770_000, 6_580_000, 772_000, 6_582_000),
        ],
        crs=2154,
    )
    return pd.concat([grid3x3.drop(columns="chef_lieu"), extra], ignore_index=True)


def test_components_of_the_grid(grid_with_islands: gpd.GeoDataFrame) -> None:
    comps = land_components(grid_with_islands, bridges=())
    main = comps.set_index("code")["main"]
    assert main[[f"G{i}" for i in range(1, 10)]].all()
    assert not main["I1"] and not main["I2"]
    assert comps["component"].nunique() == 3
    assert set(comps["zone"]) == {"metro"}


def test_tolerance_and_bridge_join_an_island(grid_with_islands: gpd.GeoDataFrame) -> None:
    wide = land_components(grid_with_islands, tolerance_m=2_500.0, bridges=())
    assert wide.set_index("code")["main"]["I1"]
    bridge = IslandBridge("Île Deux", "I2", "G6", "pont d'essai", 2000)
    bridged = land_components(grid_with_islands, bridges=(bridge,)).set_index("code")["main"]
    assert bridged["I2"] and not bridged["I1"]


def test_build_names_islands_and_rejects_an_unnamed_one(
    grid_with_islands: gpd.GeoDataFrame,
) -> None:
    names = {"I1": ("une", "Île Une"), "I2": ("deux", "Île Deux")}
    table = build_island_table(grid_with_islands, bridges=(), names=names)
    assert table[["code", "ile_id", "population"]].to_numpy().tolist() == [
        ["I1", "une", 100],
        ["I2", "deux", 200],
    ]
    with pytest.raises(DataValidationError, match="I2 Île Deux"):
        build_island_table(grid_with_islands, bridges=(), names={"I1": ("une", "Île Une")})
    with pytest.raises(DataValidationError, match=r"\['I1'\] plus sur une île"):
        build_island_table(grid_with_islands, tolerance_m=2_500.0, bridges=(), names={**names})


def test_land_components_rejects_bad_input(grid_with_islands: gpd.GeoDataFrame) -> None:
    with pytest.raises(DataValidationError, match=r"tolerance_m.*reçu -1"):
        land_components(grid_with_islands, tolerance_m=-1.0)
    with pytest.raises(DataValidationError, match="avec un CRS"):
        land_components(grid_with_islands.set_crs(None, allow_override=True), bridges=())
    half = IslandBridge("Île Deux", "I2", "NOPE", "pont d'essai", 2000)
    with pytest.raises(DataValidationError, match=r"pont d'essai.*une seule extrémité"):
        land_components(grid_with_islands, bridges=(half,))
