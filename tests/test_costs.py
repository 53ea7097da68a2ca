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
    with pytest.raises(DataValidationError, match="max_km ou max_minutes"):
        straight_line_costs(demand, supply)
    with pytest.raises(DataValidationError, match="sans système de coordonnées"):
        straight_line_costs(demand, supply.set_crs(None, allow_override=True), max_km=1)
    with pytest.raises(DataValidationError, match=r"identifiants en double \(supply\)"):
        straight_line_costs(demand, _supply([(0, 0), (1, 1)], ["P", "P"]), max_km=1)
    nan_pt = gpd.GeoSeries([shapely.Point(np.nan, np.nan)], index=["X"], crs=2154)
    with pytest.raises(DataValidationError, match="sans coordonnées ou vides"):
        straight_line_costs(demand, nan_pt, max_km=1)
    with pytest.raises(DataValidationError, match="doivent être des points"):
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
        ([("A", "B", "-1")], r"durée négative .* ligne\(s\) 1"),
        ([("A", "B", "")], r"durée manquante ou non numérique .* ligne\(s\) 1"),
        ([("A", "B", "abc")], "non numérique"),
        ([("A", "B", "1"), ("A", "B", "2")], r"paire en double \('A', 'B'\) ligne\(s\) 2"),
        ([("Z", "B", "1")], r"'origin', code\(s\) commune inconnu\(s\) \['Z'\]"),
    ],
)
def test_od_table_errors(rows: list[tuple[str, str, str]], match: str) -> None:
    df = pd.DataFrame(rows, columns=["origin", "dest", "minutes"])
    with pytest.raises(InputFormatError, match=match):
        read_od_table(df, origins=pd.Index(["A"]), destinations=pd.Index(["B"]))


def test_od_table_missing_column_and_file(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"colonne\(s\) manquante\(s\) \['minutes'\]"):
        read_od_table(pd.DataFrame({"origin": ["A"], "dest": ["B"]}))
    with pytest.raises(InputFormatError, match="fichier introuvable"):
        read_od_table(tmp_path / "nope.csv")
    bad = tmp_path / "x.xlsx"
    bad.write_text("x")
    with pytest.raises(InputFormatError, match="non pris en charge"):
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
    with pytest.raises(InputFormatError, match=r"metric\.csv : colonne 'DUREE', durée négative"):
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


# --------------------------------------------------------------------------------------------
# wide matrices, seconds (OSRM, R osrm)
# --------------------------------------------------------------------------------------------
def _wide_csv(cells: list[list[str]], codes: list[str], corner: str = "id") -> bytes:
    lines = [";".join([corner, *codes])]
    lines += [";".join([code, *row]) for code, row in zip(codes, cells, strict=True)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.shared_data
def test_isere_osrm_matrix_wide_and_long(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "od" / "isere_osrm_car_seconds_neocarto.csv"
    wide = read_od_table(path)
    assert wide.params["layout"] == "wide" and wide.params["layout_from"] == "detected"
    assert wide.params["unit"] == "seconds" and wide.params["unit_from"] == "magnitudes"
    assert len(wide.origins) == len(wide.destinations) == 512
    assert wide.n_pairs == 512 * 512
    raw = pd.read_csv(path, dtype={"id": str}).set_index("id")
    raw.columns = raw.columns.astype(str)
    long = raw.stack().rename("duree").rename_axis(["origin", "dest"]).reset_index()
    long_path = tmp_path / "isere_long.csv"
    long.to_csv(long_path, index=False, sep=";", decimal=",")
    from_long = read_od_table(long_path, minutes_col="duree")
    assert from_long.params["layout"] == "long" and from_long.params["unit"] == "seconds"
    a, b = wide.to_frame(), from_long.to_frame()
    pd.testing.assert_frame_equal(
        a.sort_values(["origin", "dest"], ignore_index=True),
        b.sort_values(["origin", "dest"], ignore_index=True),
        rtol=1e-12,
    )
    # minutes are the file's seconds / 60; an asymmetric pair checked by hand
    seconds = raw.loc["38185", "38421"]
    got = a[(a["origin"] == "38185") & (a["dest"] == "38421")]["cost"].item()
    assert got == pytest.approx(seconds / 60.0)
    assert raw.loc["38185", "38421"] != raw.loc["38421", "38185"]
    # a stated unit wins over the magnitudes
    as_minutes = read_od_table(path, unit="minutes")
    assert as_minutes.params["unit_from"] == "stated"
    np.testing.assert_allclose(as_minutes.minutes, wide.minutes * 60.0)
    stated = read_od_table(path, layout="wide", unit="seconds", max_minutes=20.0)
    assert stated.params["layout_from"] == "stated" and stated.minutes.max() <= 20.0


def test_wide_matrix_codes_empty_cells_and_unit_names() -> None:
    codes = ["01001", "2A004", "97411"]
    raw = _wide_csv([["0", "90", ""], ["95,5", "0", "NA"], ["", "", "0"]], codes)
    costs = read_od_table(raw, filename="osrm.csv")
    assert list(costs.origins) == codes and list(costs.destinations) == codes  # zeros kept
    frame = costs.to_frame()
    assert frame.values.tolist() == [
        ["01001", "01001", 0.0],
        ["01001", "2A004", 90.0],
        ["2A004", "01001", 95.5],
        ["2A004", "2A004", 0.0],
        ["97411", "97411", 0.0],
    ]  # empty and NA cells: no pair
    assert costs.params["unit"] == "minutes" and costs.params["unit_from"] == "magnitudes"
    named = read_od_table(_wide_csv([["0", "90"], ["95", "0"]], codes[:2], corner="secondes"))
    assert named.params["unit_from"] == "column name"
    assert named.minutes.tolist() == [0.0, 1.5, 95 / 60, 0.0]
    long = pd.DataFrame({"origin": ["A"], "dest": ["B"], "duree_s": ["120"]})
    by_name = read_od_table(long, minutes_col="duree_s")
    assert by_name.params["unit"] == "seconds" and by_name.minutes.tolist() == [2.0]
    assert read_od_table(long, minutes_col="duree_s", unit="minutes").minutes.tolist() == [120.0]
    big = pd.DataFrame({"origin": ["A", "A"], "dest": ["B", "C"], "t": ["3000", "4000"]})
    assert read_od_table(big, minutes_col="t").params["unit"] == "seconds"
    assert read_od_table(big, minutes_col="t", unit="minutes").minutes.tolist() == [3000, 4000]
    with pytest.raises(DataValidationError, match="layout 'matrix' inconnu"):
        read_od_table(long, layout="matrix")  # type: ignore[arg-type]
    with pytest.raises(DataValidationError, match="unit 'hours' inconnu"):
        read_od_table(long, unit="hours")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cells", "match"),
    [
        (
            [["0", "abc"], ["1", "0"]],
            r"osrm\.csv : durée non numérique 'abc' ligne 1 "
            r"\(origine '38001'\), colonne '38002'",
        ),
        (
            [["0", "5"], ["-3", "0"]],
            r"durée négative '-3' ligne 2 \(origine '38002'\), "
            r"colonne '38001'",
        ),
    ],
)
def test_wide_matrix_bad_cells(cells: list[list[str]], match: str) -> None:
    with pytest.raises(InputFormatError, match=match):
        read_od_table(_wide_csv(cells, ["38001", "38002"]), filename="osrm.csv")


def test_wide_matrix_unknown_codes_and_duplicates() -> None:
    raw = _wide_csv([["0", "5"], ["5", "0"]], ["38001", "38002"])
    known = pd.Index(["38001"])
    with pytest.raises(
        InputFormatError,
        match=r"osrm\.csv : code\(s\) origine inconnu\(s\) \['38002'\] "
        r"\(ligne 2, colonne 'id', valeur '38002'\)",
    ):
        read_od_table(raw, filename="osrm.csv", origins=known)
    with pytest.raises(
        InputFormatError, match=r"code\(s\) destination inconnu\(s\) \['38002'\] \(colonne '38002'"
    ):
        read_od_table(raw, filename="osrm.csv", destinations=known)
    twice = b"id;38001;38001\n38001;0;1\n"
    with pytest.raises(InputFormatError, match="la destination '38001' a deux colonnes"):
        read_od_table(twice, filename="osrm.csv")
    rows_twice = b"id;38001;38002\n38001;0;1\n38001;1;0\n"
    with pytest.raises(InputFormatError, match=r"l'origine '38001' .* ligne\(s\) 1, 2"):
        read_od_table(rows_twice, filename="osrm.csv")
    # not codes in the header: read as long, missing columns reported as before
    with pytest.raises(InputFormatError, match=r"colonne\(s\) manquante\(s\)"):
        read_od_table(b"id;A;B\nA;0;1\n", filename="osrm.csv")
    assert read_od_table(b"id;A;B\nA;0;1\n", layout="wide").n_pairs == 2


def test_restricted_keeps_pairs_between_given_ids() -> None:
    costs = read_od_table(_wide_csv([["0", "5"], ["7", "0"]], ["38001", "38002"]))
    sub = costs.restricted(origins=pd.Index(["38002", "38999"]))
    assert list(sub.origins) == ["38002", "38999"]
    assert sub.to_frame().values.tolist() == [["38002", "38001", 7.0], ["38002", "38002", 0.0]]
    both = costs.restricted(pd.Index(["38001"]), pd.Index(["38002"]))
    assert both.to_frame().values.tolist() == [["38001", "38002", 5.0]]


def test_analysis_reads_a_wide_matrix_of_seconds(grid3x3: gpd.GeoDataFrame, tmp_path: Path) -> None:
    from geo.analysis import analyse

    codes = [f"990{i:02d}" for i in range(1, 10)]
    grid = grid3x3.assign(code=codes)
    centres = grid.set_index("code")["chef_lieu"]
    prac = gpd.GeoDataFrame(
        {"id": ["A", "B"], "commune": [codes[0], codes[4]]},
        geometry=[centres[codes[0]], centres[codes[4]]],
        crs=2154,
    )
    xy = shapely.get_coordinates(centres.to_numpy())
    minutes = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]) / 1000
    long = pd.DataFrame(
        {"origin": np.repeat(codes, 9), "dest": np.tile(codes, 9), "minutes": minutes.ravel()}
    )
    path = tmp_path / "osrm.csv"
    seconds = pd.DataFrame(minutes * 60, index=pd.Index(codes, name="id"), columns=codes)
    seconds.to_csv(path, sep=";", decimal=",")
    kw = {"surroundings": None, "supply": "headcount", "travel": "od_table"}
    for measure in ("2sfca", "nearest"):
        a = analyse(grid, prac, measure, od_table=long, **kw)
        b = analyse(grid, prac, measure, od_table=str(path), **kw)
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
        )
