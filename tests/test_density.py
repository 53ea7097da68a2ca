from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.density import assign_communes, density, practitioners_per_commune
from geo.errors import DataValidationError


def _points(xy: list[tuple[float, float]], **cols: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=shapely.points(xy), crs=2154)


def test_assign_by_point_in_polygon_and_by_code(grid3x3: gpd.GeoDataFrame) -> None:
    pts = _points(
        [(705_000, 6_595_000), (725_000, 6_575_000), (0, 0), (715_000, 6_585_000)],
        commune=[None, None, None, "G1"],
    )
    codes = assign_communes(pts, grid3x3)
    assert codes.tolist()[:2] == ["G1", "G9"]
    assert pd.isna(codes.iloc[2])  # outside every commune
    assert codes.iloc[3] == "G1"  # the file's own code wins


def test_assign_reprojects(grid3x3: gpd.GeoDataFrame) -> None:
    pts = _points([(705_000, 6_595_000)]).to_crs(4326)
    assert assign_communes(pts, grid3x3).tolist() == ["G1"]


def test_density_per_commune_and_epci(grid3x3: gpd.GeoDataFrame) -> None:
    pts = _points(
        [(705_000, 6_595_000)] * 3 + [(725_000, 6_575_000)],
        fte=[1.0, 0.5, 0.5, 1.0],
    )
    counts = practitioners_per_commune(pts, grid3x3)
    assert counts["G1"] == 3 and counts["G9"] == 1 and counts.sum() == 4
    per_commune = density(grid3x3, counts)
    assert per_commune.at["G1", "density"] == pytest.approx(3 * 10_000 / 1000)
    assert per_commune.at["G5", "density"] == 0
    by_epci = density(grid3x3, counts, by="epci")
    # E1 = G1..G6 (21,000 inh., 3 practitioners), E2 = G7..G9 (24,000 inh., 1)
    assert by_epci.at["E1", "density"] == pytest.approx(3 * 10_000 / 21_000)
    assert by_epci.at["E2", "density"] == pytest.approx(10_000 / 24_000)
    fte = practitioners_per_commune(pts, grid3x3, weight="fte")
    assert fte["G1"] == pytest.approx(2.0)


def test_zero_population_gives_nan_without_warning(grid3x3: gpd.GeoDataFrame) -> None:
    grid3x3.loc[0, "population"] = 0
    out = density(grid3x3, pd.Series({"G1": 2.0}))
    assert np.isnan(out.at["G1", "density"])


def test_user_grouping(grid3x3: gpd.GeoDataFrame) -> None:
    groups = pd.Series(["north"] * 3 + ["south"] * 6, name="zone")
    out = density(grid3x3, pd.Series({"G1": 1.0, "G9": 1.0}), by=groups)
    assert out.index.name == "zone"
    assert out["practitioners"].tolist() == [1.0, 1.0]


def test_errors(grid3x3: gpd.GeoDataFrame) -> None:
    pts = _points([(705_000, 6_595_000)], fte=[-1.0])
    with pytest.raises(DataValidationError, match=r"'fte'.*-1\.0"):
        practitioners_per_commune(pts, grid3x3, weight="fte")
    with pytest.raises(DataValidationError, match="'etp' not in practitioners"):
        practitioners_per_commune(pts, grid3x3, weight="etp")
    bad = grid3x3.assign(population=["x"] + [1] * 8)
    with pytest.raises(DataValidationError, match="'G1'"):
        density(bad, pd.Series(dtype=float))
    with pytest.raises(DataValidationError, match="CRS"):
        assign_communes(pts.set_crs(None, allow_override=True), grid3x3)
