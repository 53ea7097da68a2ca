from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.costs import (
    DETOUR_FACTOR,
    SPEED_KMH,
    km_to_minutes,
    minutes_to_km,
    read_od_table,
    straight_line_costs,
)
from geo.errors import DataValidationError, InputFormatError


def _supply(xy: list[tuple[float, float]], ids: list[str]) -> gpd.GeoSeries:
    return gpd.GeoSeries(shapely.points(xy), index=ids, crs=2154)


def test_straight_line_pairs_on_grid(grid3x3: gpd.GeoDataFrame) -> None:
    demand = grid3x3.set_index("code")["chef_lieu"]
    supply = _supply([(705_000, 6_595_000), (725_000, 6_575_000)], ["P1", "P2"])
    costs = straight_line_costs(demand, supply, max_km=10.0)
    frame = costs.to_frame()
    # P1 sits on G1's centre (zero distance kept), 10 km from G2 and G4 (kept: ≤), G5 is 14.1 km
    p1 = frame[frame["dest"] == "P1"].set_index("origin")["cost"]
    assert set(p1.index) == {"G1", "G2", "G4"}
    assert p1["G1"] == 0.0
    assert p1["G2"] == pytest.approx(km_to_minutes(10.0))
    assert costs.km is not None and costs.km.max() <= 10.0
    assert costs.nearest_minutes()[4] != costs.nearest_minutes()[4]  # G5: NaN, nothing in reach
    assert km_to_minutes(10.0) == pytest.approx(10.0 * DETOUR_FACTOR / SPEED_KMH * 60)


def test_max_minutes_and_within(grid3x3: gpd.GeoDataFrame) -> None:
    demand = grid3x3.set_index("code")["chef_lieu"]
    supply = _supply([(715_000, 6_585_000)], ["P"])  # centre of G5
    costs = straight_line_costs(demand, supply, max_minutes=km_to_minutes(14.2))
    assert costs.n_pairs == 9
    assert costs.within(km_to_minutes(10.0)).n_pairs == 5
    assert minutes_to_km(float(km_to_minutes(12.5))) == pytest.approx(12.5)


def test_reprojection_matches(grid3x3: gpd.GeoDataFrame) -> None:
    demand = grid3x3.set_index("code")["chef_lieu"]
    supply = _supply([(715_000, 6_585_000)], ["P"])
    a = straight_line_costs(demand, supply, max_km=20)
    b = straight_line_costs(demand.to_crs(4326), supply.to_crs(4326), max_km=20)
    assert a.km is not None and b.km is not None
    np.testing.assert_allclose(a.km, b.km, atol=1e-6)


def test_validation(grid3x3: gpd.GeoDataFrame) -> None:
    demand = grid3x3.set_index("code")["chef_lieu"]
    supply = _supply([(715_000, 6_585_000)], ["P"])
    with pytest.raises(DataValidationError, match="max_km or max_minutes"):
        straight_line_costs(demand, supply)
    with pytest.raises(DataValidationError, match="no CRS"):
        straight_line_costs(demand, supply.set_crs(None, allow_override=True), max_km=1)
    with pytest.raises(DataValidationError, match="duplicate supply ids"):
        straight_line_costs(demand, _supply([(0, 0), (1, 1)], ["P", "P"]), max_km=1)
    nan_pt = gpd.GeoSeries([shapely.Point(np.nan, np.nan)], index=["X"], crs=2154)
    with pytest.raises(DataValidationError, match="missing or empty coordinates"):
        straight_line_costs(demand, nan_pt, max_km=1)
    with pytest.raises(DataValidationError, match="must be points"):
        straight_line_costs(grid3x3.set_index("code").geometry, supply, max_km=1)


def test_empty_inputs(grid3x3: gpd.GeoDataFrame) -> None:
    demand = grid3x3.set_index("code")["chef_lieu"]
    empty = gpd.GeoSeries([], crs=2154)
    costs = straight_line_costs(demand, empty, max_km=10)
    assert costs.n_pairs == 0
    assert np.isnan(costs.nearest_minutes()).all()


def test_od_table_csv_french_format(tmp_path: Path) -> None:
    path = tmp_path / "metric.csv"
    path.write_bytes("CODGEO;CODGEO_DEST;DUREE\n63113;63113;0\n63113;63014;12,5\n".encode("cp1252"))
    costs = read_od_table(path, origin_col="CODGEO", dest_col="CODGEO_DEST", minutes_col="DUREE")
    assert costs.to_frame()["cost"].tolist() == [0.0, 12.5]
    assert list(costs.origins) == ["63113"]


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([("A", "B", "-1")], r"negative times .* row\(s\) 1"),
        ([("A", "B", "")], r"missing or non-numeric times .* row\(s\) 1"),
        ([("A", "B", "abc")], "non-numeric"),
        ([("A", "B", "1"), ("A", "B", "2")], r"duplicate pair \('A', 'B'\) at row\(s\) 2"),
        ([("Z", "B", "1")], r"'origin' has unknown code\(s\) \['Z'\]"),
    ],
)
def test_od_table_errors(rows: list[tuple[str, str, str]], match: str) -> None:
    df = pd.DataFrame(rows, columns=["origin", "dest", "minutes"])
    with pytest.raises(InputFormatError, match=match):
        read_od_table(df, origins=pd.Index(["A"]), destinations=pd.Index(["B"]))


def test_od_table_missing_column_and_file(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"missing column\(s\) \['minutes'\]"):
        read_od_table(pd.DataFrame({"origin": ["A"], "dest": ["B"]}))
    with pytest.raises(InputFormatError, match="file not found"):
        read_od_table(tmp_path / "nope.csv")
    bad = tmp_path / "x.xlsx"
    bad.write_text("x")
    with pytest.raises(InputFormatError, match="unsupported format"):
        read_od_table(bad)


def test_od_table_from_uploaded_bytes_and_gzip(tmp_path: Path) -> None:
    raw = "CODGEO;CODGEO_DEST;DUREE\n63113;63113;0\n63113;63014;12,5\n".encode("cp1252")
    costs = read_od_table(
        raw,
        filename="metric.csv",
        origin_col="CODGEO",
        dest_col="CODGEO_DEST",
        minutes_col="DUREE",
    )
    assert costs.to_frame()["cost"].tolist() == [0.0, 12.5]
    with pytest.raises(InputFormatError, match=r"metric\.csv: column 'DUREE' has negative"):
        read_od_table(
            raw.replace(b";0\n", b";-1\n"),
            filename="metric.csv",
            origin_col="CODGEO",
            dest_col="CODGEO_DEST",
            minutes_col="DUREE",
        )
    import gzip

    packed = tmp_path / "metric.csv.gz"
    packed.write_bytes(gzip.compress(raw))
    again = read_od_table(packed, origin_col="CODGEO", dest_col="CODGEO_DEST", minutes_col="DUREE")
    assert again.to_frame()["cost"].tolist() == [0.0, 12.5]
