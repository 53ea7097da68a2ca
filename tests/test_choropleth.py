from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.errors import DataValidationError
from geo.maps.choropleth import (
    SYNTHETIC_LABEL,
    ChoroplethSpec,
    choropleth_map,
    classify,
    format_fr,
    simplify_coverage,
)
from geo.maps.offline import to_offline_html
from geo.reference import load_communes


def test_format_fr() -> None:
    assert format_fr(12345.678, 1) == "12\u202f345,7"
    assert format_fr(float("nan")) == "—"
    assert format_fr(3.0, 0) == "3"


def test_classify_fixed_and_nan() -> None:
    classes, bounds = classify([0.0, 2.5, 4.0, 9.0, np.nan], "fixed", breaks=[2.5, 4.0])
    assert classes.tolist() == [0, 0, 1, 2, -1]
    assert bounds == [2.5, 4.0, 9.0]


def test_classify_quantiles_degenerate() -> None:
    classes, bounds = classify([1.0, 1.0, 1.0], "quantiles", k=5)
    assert classes.tolist() == [0, 0, 0] and bounds == [1.0]
    classes, _ = classify([np.nan, np.nan], "natural_breaks")
    assert classes.tolist() == [-1, -1]


def test_classify_errors() -> None:
    with pytest.raises(DataValidationError, match="not one of"):
        classify([1.0], "jenks")
    with pytest.raises(DataValidationError, match="needs breaks"):
        classify([1.0], "fixed")


def test_simplify_coverage_keeps_communes_and_validity() -> None:
    puy = load_communes(departements="63")
    simple = simplify_coverage(puy, 100.0)
    assert len(simple) == len(puy)
    assert shapely.is_valid(simple.geometry.to_numpy()).all()
    before = shapely.get_num_coordinates(puy.geometry.to_numpy()).sum()
    after = shapely.get_num_coordinates(simple.geometry.to_numpy()).sum()
    assert after < before
    # shared borders kept: total area barely changes and no overlaps appear
    assert abs(simple.to_crs(2154).area.sum() / puy.to_crs(2154).area.sum() - 1) < 0.005


def test_choropleth_map_says_synthetic(grid3x3: gpd.GeoDataFrame) -> None:
    grid3x3["value"] = [0.0, 1, 2, 3, 4, 5, 6, 7, np.nan]
    spec = ChoroplethSpec(
        column="value", title="Essai", label="Valeur", unit="u", synthetic=True, k=3
    )
    html = to_offline_html(choropleth_map(grid3x3, spec, tooltip_fields={"value": "Valeur"}))
    assert SYNTHETIC_LABEL in html
    assert "Commune G1" in html
    assert "sans objet" in html
    with pytest.raises(DataValidationError, match="'nope'"):
        choropleth_map(grid3x3, ChoroplethSpec(column="nope", title="", label="", unit=""))


def test_individual_points_never_carry_names(grid3x3: gpd.GeoDataFrame) -> None:
    from geo.maps.choropleth import individual_points_of

    rpps_like = gpd.GeoDataFrame(
        {
            "Identification nationale PP": ["810001234567", "810007654321"],
            "Nom d'exercice": ["DUPONT", "MARTIN"],
            "Prénom d'exercice": ["Jeanne", "Paul"],
            "profession_libelle": ["Médecin généraliste", "Infirmier"],
            "commune_nom": ["Commune G1", "Commune G5"],
        },
        geometry=shapely.points([(705_000, 6_595_000), (715_000, 6_585_000)]),
        crs=2154,
    )
    points = individual_points_of(rpps_like)
    assert points["label"].tolist() == [
        "Médecin généraliste — Commune G1",
        "Infirmier — Commune G5",
    ]
    page = to_offline_html(
        choropleth_map(
            grid3x3.assign(value=1.0),
            ChoroplethSpec(column="value", title="t", label="l", unit="u"),
            individual_points=points,
        )
    )
    for secret in ("DUPONT", "MARTIN", "Jeanne", "810001234567"):
        assert secret not in page
    assert "L.MarkerClusterGroup" in page  # inlined from XStatic-Leaflet-MarkerCluster
