"""Road travel times from OpenStreetMap: parsing, speeds, one-ways, snapping, cache, Dijkstra."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from geo.costs import TravelCosts
from geo.errors import DataValidationError, InputFormatError
from geo.road import (
    DEFAULT_PROFILE,
    MAX_SNAP_M,
    REPORT_SAMPLE,
    SNAP_SPEED_KMH,
    RoadNetwork,
    RoadNetworkWarning,
    RoadProfile,
    load_network,
    parse_maxspeed,
    road_costs,
)

EXTRACTS = {
    # file, SOURCES.md drivable km, INSEE of the main commune
    "monaco": ("monaco.osm.pbf", 82.9),
    "saint_barthelemy": ("saint_barthelemy.osm.pbf", 119.8),
    "redon": ("redon_geoclimate.osm.gz", 15.7),
}


# --------------------------------------------------------------------------- fixtures


def _points(lon: object, lat: object, ids: object) -> gpd.GeoSeries:
    return gpd.GeoSeries(
        gpd.points_from_xy(np.asarray(lon), np.asarray(lat)), index=pd.Index(ids), crs=4326
    )


# A(2.000, 45.000) → B(2.010, 45.000): one-way, maxspeed 50 (→ 40 km/h), ~787 m.
# B → C(2.010, 45.010) → D(2.000, 45.010) → A: two-way residential (25 km/h), ~3 km round.
# E–F: a service road cut off from the rest, its third node (99) missing from the file.
# Ways come before nodes and ids descend: the file is unsorted on purpose.
TINY_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <way id="3"><nd ref="5"/><nd ref="6"/><nd ref="99"/>
    <tag k="highway" v="service"/></way>
  <way id="2"><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="highway" v="residential"/></way>
  <way id="1"><nd ref="1"/><nd ref="2"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="yes"/><tag k="maxspeed" v="50"/></way>
  <way id="4"><nd ref="1"/><nd ref="4"/><tag k="highway" v="footway"/></way>
  <way id="5"><nd ref="2"/><nd ref="4"/>
    <tag k="highway" v="residential"/><tag k="access" v="private"/></way>
  <node id="6" lat="45.000" lon="2.021"/>
  <node id="5" lat="45.000" lon="2.020"/>
  <node id="4" lat="45.010" lon="2.000"/>
  <node id="3" lat="45.010" lon="2.010"/>
  <node id="2" lat="45.000" lon="2.010"/>
  <node id="1" lat="45.000" lon="2.000"/>
</osm>
"""


@pytest.fixture
def tiny_osm(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.osm"
    path.write_text(TINY_OSM, encoding="utf-8")
    return path


@pytest.fixture
def tiny(tiny_osm: Path, tmp_path: Path) -> RoadNetwork:
    return RoadNetwork.from_osm(tiny_osm, cache_dir=tmp_path / "cache")


@pytest.fixture(scope="module")
def real_networks(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, RoadNetwork]:
    cache = tmp_path_factory.mktemp("road_cache")
    return {
        key: RoadNetwork.from_osm(shared_data / "osm" / name, cache_dir=cache)
        for key, (name, _) in EXTRACTS.items()
    }


@pytest.fixture(scope="module")
def health_pois(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "osm" / "osm_health_pois.csv")


def _near_nodes(net: RoadNetwork, n: int, seed: int, offset_deg: float = 0.0003) -> gpd.GeoSeries:
    """Points a few tens of metres off random main-component nodes (mid-segment snaps)."""
    rng = np.random.default_rng(seed)
    nodes = rng.choice(np.flatnonzero(net.in_main_component), n, replace=False)
    jitter = rng.uniform(-offset_deg, offset_deg, size=(2, n))
    return _points(net.lon[nodes] + jitter[0], net.lat[nodes] + jitter[1], [f"p{i}" for i in nodes])


def _matrix(costs: TravelCosts) -> pd.Series:
    return pd.Series(
        costs.minutes,
        index=pd.MultiIndex.from_arrays(
            [costs.origins[costs.rows], costs.destinations[costs.cols]]
        ),
    )


def _lower_bound_ok(costs: TravelCosts, top_kmh: float) -> bool:
    assert costs.km is not None
    # edge lengths are geodesic, pair distances are in a UTM projection: allow 0.1 %
    bound = costs.km / top_kmh * 60.0 * (1 - 1e-3)
    return bool(np.all(costs.minutes >= bound))


# --------------------------------------------------------------------------- speeds


@pytest.mark.parametrize(
    ("value", "kmh"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("90kmh", 90.0),
        ("30 mph", 48.28032),
        ("FR:urban", 50.0),
        ("fr:rural", 80.0),
        ("FR:motorway", 130.0),
        ("FR:zone30", 30.0),
        ("FR:walk", 6.0),
        ("walk", 6.0),
        ("MC:urban", 50.0),
        ("DE:rural", 90.0),
        ("50;30", 30.0),
        ("7,5", 7.5),
        ("none", None),
        ("signals", None),
        ("variable", None),
        ("0", None),
        ("999", None),
        ("fast", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_maxspeed(value: str | None, kmh: float | None) -> None:
    assert parse_maxspeed(value) == kmh


@pytest.mark.parametrize(
    ("tags", "speeds"),
    [
        ({"highway": "motorway"}, (90.0, 0.0)),  # implied one-way
        ({"highway": "motorway", "oneway": "no"}, (90.0, 90.0)),
        ({"highway": "motorway", "maxspeed": "FR:motorway"}, (104.0, 0.0)),
        ({"highway": "primary"}, (65.0, 65.0)),
        ({"highway": "secondary", "maxspeed": "90"}, (72.0, 72.0)),
        ({"highway": "residential", "oneway": "yes"}, (25.0, 0.0)),
        ({"highway": "residential", "oneway": "1"}, (25.0, 0.0)),
        ({"highway": "residential", "oneway": "true"}, (25.0, 0.0)),
        ({"highway": "residential", "oneway": "-1"}, (0.0, 25.0)),
        ({"highway": "tertiary", "junction": "roundabout"}, (40.0, 0.0)),
        ({"highway": "living_street", "maxspeed": "FR:walk"}, (4.8, 4.8)),
        ({"highway": "service"}, (15.0, 15.0)),
        ({"highway": "unclassified", "access": "yes", "motor_vehicle": "destination"}, (25, 25)),
        ({"highway": "primary", "maxspeed:forward": "70", "maxspeed": "50"}, (56.0, 40.0)),
        ({"highway": "footway"}, None),
        ({"highway": "track"}, None),
        ({"highway": "residential", "access": "private"}, None),
        ({"highway": "residential", "access": "no"}, None),
        ({"highway": "residential", "motor_vehicle": "no"}, None),
        ({"highway": "residential", "access": "no", "motorcar": "yes"}, (25.0, 25.0)),
        ({"highway": "residential", "oneway": "reversible"}, None),
        ({"highway": "service", "area": "yes"}, None),
        ({"highway": "service", "service": "emergency_access"}, None),
    ],
)
def test_way_speeds(tags: dict[str, str], speeds: tuple[float, float] | None) -> None:
    assert DEFAULT_PROFILE.way_speeds(tags) == speeds


def test_profile_validates_speeds() -> None:
    with pytest.raises(DataValidationError, match="highway_speed_kmh"):
        RoadProfile(highway_speed_kmh={"primary": -5.0})
    with pytest.raises(DataValidationError, match="maxspeed_factor"):
        RoadProfile(maxspeed_factor=1.5)
    assert RoadProfile(name="fast", maxspeed_factor=1.0).key() != DEFAULT_PROFILE.key()


# --------------------------------------------------------------------------- tiny network


def test_tiny_unsorted_file_is_read_with_missing_node(tiny: RoadNetwork) -> None:
    # footway and private road left out; node 99 is missing: the service road keeps E–F
    assert tiny.source["drivable_ways"] == 3
    assert tiny.source["highway_ways"] == 5
    assert tiny.source["missing_nodes"] == 1
    assert sorted(tiny.node_ids.tolist()) == [1, 2, 3, 4, 5, 6]
    assert tiny.n_segments == 5
    assert tiny.n_edges == 1 + 2 * 3 + 2
    assert tiny.max_speed_kmh == 40.0
    # E and F form their own piece
    assert tiny.in_main_component[tiny.node_index([1, 2, 3, 4])].all()
    assert not tiny.in_main_component[tiny.node_index([5, 6])].any()


def test_one_way_street_is_respected(tiny: RoadNetwork) -> None:
    a, b = tiny.node_index([1, 2])
    ab = tiny.shortest_minutes([a])[0, b]
    ba = tiny.shortest_minutes([b])[0, a]
    length_ab = tiny.length_m[(tiny.tail == a) & (tiny.head == b)][0]
    assert ab == pytest.approx(length_ab / 1000 / 40 * 60)  # maxspeed 50 × 0.8
    loop_m = tiny.length_m[tiny.way_ids == 2].sum()
    assert ba == pytest.approx(loop_m / 1000 / 25 * 60)
    assert ba > 5 * ab
    # the reversed search gives the times *to* the source
    assert tiny.shortest_minutes([b], reverse=True)[0, a] == pytest.approx(ab)


def test_travel_costs_follow_one_way_and_report_isolated(tiny: RoadNetwork) -> None:
    pts = _points([2.000, 2.010, 2.0205], [45.000, 45.000, 45.0], ["A", "B", "EF"])
    # EF lies on the cut-off service road, 830 m from B: within max_snap_m it would join the
    # main network rather than a piece that leads nowhere
    assert tiny.snap(pts).loc["EF", "status"] == "ok"
    costs = tiny.travel_costs(pts, pts, max_minutes=60, max_snap_m=500)
    assert costs.method == "road"
    m = _matrix(costs)
    assert m["A", "B"] < m["B", "A"]
    assert m["A", "A"] == 0.0 and m["B", "B"] == 0.0  # zero-cost pairs kept
    assert m["EF", "EF"] == 0.0
    assert ("A", "EF") not in m.index and ("EF", "A") not in m.index
    assert {(i["side"], i["id"]) for i in costs.params["isolated"]} == {
        ("demand", "EF"),
        ("supply", "EF"),
    }
    assert costs.params["unreachable"] == []


def test_same_segment_positions(tiny: RoadNetwork) -> None:
    # quarter and three quarters of the one-way A→B: forwards along it, backwards round the loop
    q1 = _points([2.0025], [45.0], ["q1"])
    q3 = _points([2.0075], [45.0], ["q3"])
    ab = tiny.shortest_minutes(tiny.node_index([1]))[0, tiny.node_index([2])[0]]
    ba = tiny.shortest_minutes(tiny.node_index([2]))[0, tiny.node_index([1])[0]]
    forward = tiny.travel_costs(q1, q3, max_minutes=60)
    assert forward.minutes == pytest.approx([0.5 * ab], rel=1e-3)
    backward = tiny.travel_costs(q3, q1, max_minutes=60)
    assert backward.minutes == pytest.approx([0.25 * ab + ba + 0.25 * ab], rel=1e-3)


def test_snapping_adds_access_time_at_snap_speed(tiny: RoadNetwork) -> None:
    on_road = _points([2.000], [45.000], ["A"])
    off_road = _points([2.000], [44.999], ["A_south"])  # 111 m south of A
    costs = tiny.travel_costs(off_road, on_road, max_minutes=60)
    snap = tiny.snap(off_road)
    assert snap.loc["A_south", "status"] == "ok"
    assert snap.loc["A_south", "snap_m"] == pytest.approx(111.2, abs=0.5)
    assert costs.minutes == pytest.approx([snap.loc["A_south", "snap_m"] / 1000 / 15 * 60])
    slower = tiny.travel_costs(off_road, on_road, max_minutes=60, snap_speed_kmh=5)
    assert slower.minutes[0] == pytest.approx(3 * costs.minutes[0])
    assert SNAP_SPEED_KMH == 15.0 and MAX_SNAP_M == 2000.0


def test_unreachable_points_are_reported_not_dropped(tiny: RoadNetwork) -> None:
    demand = _points([2.000, 2.6], [45.000, 45.0], ["A", "far"])  # ~47 km east
    supply = _points([2.010], [45.000], ["B"])
    with pytest.warns(RoadNetworkWarning, match=r"1 point\(s\) \(1 côté communes.*'far'"):
        costs = tiny.travel_costs(demand, supply, max_minutes=600)
    assert list(costs.origins) == ["A", "far"]
    assert costs.params["unreachable_count"] == {"demand": 1, "supply": 0}
    assert costs.to_frame()["origin"].tolist() == ["A"]
    (entry,) = costs.params["unreachable"]
    assert entry["side"] == "demand" and entry["id"] == "far"
    assert entry["snap_m"] > 40_000
    assert np.isnan(costs.nearest_minutes()[1])
    snap = tiny.snap(demand)
    assert snap.loc["far", "status"] == "too_far" and snap.loc["far", "segment"] == -1


def test_cut_off_and_empty_inputs(tiny: RoadNetwork) -> None:
    pts = _points([2.000, 2.010], [45.000, 45.000], ["A", "B"])
    full = _matrix(tiny.travel_costs(pts, pts, max_minutes=60))
    cut = tiny.travel_costs(pts, pts, max_minutes=2.0)
    assert cut.max_minutes == 2.0
    assert (cut.minutes <= 2.0).all()
    assert set(_matrix(cut).index) == set(full[full <= 2.0].index)
    none = tiny.travel_costs(pts.iloc[:0], pts, max_minutes=60)
    assert none.n_pairs == 0 and len(none.destinations) == 2


def test_travel_costs_validate_inputs(tiny: RoadNetwork) -> None:
    pts = _points([2.0], [45.0], ["A"])
    with pytest.raises(DataValidationError, match="max_minutes must be a number ≥ 0, got -1"):
        tiny.travel_costs(pts, pts, max_minutes=-1)
    with pytest.raises(DataValidationError, match="snap_speed_kmh must be a number > 0"):
        tiny.travel_costs(pts, pts, max_minutes=10, snap_speed_kmh=0)
    no_crs = r"demand points have no CRS|points \(demand\) sans système"
    with pytest.raises(DataValidationError, match=no_crs):
        tiny.travel_costs(pts.set_crs(None, allow_override=True), pts, max_minutes=10)
    dup = _points([2.0, 2.01], [45.0, 45.0], ["A", "A"])
    dup_msg = r"(duplicate supply ids:|identifiants en double \(supply\) :) \['A'\]"
    with pytest.raises(DataValidationError, match=dup_msg):
        tiny.travel_costs(pts, dup, max_minutes=10)
    with pytest.raises(DataValidationError, match="sources must be node positions"):
        tiny.shortest_minutes([99])


def test_from_segments_validates_arrays() -> None:
    with pytest.raises(DataValidationError, match="tail and head must be node positions"):
        RoadNetwork.from_segments(
            lon=[0, 1], lat=[0, 0], tail=[0], head=[5], forward_kmh=[10], backward_kmh=[10]
        )
    with pytest.raises(DataValidationError, match="must be finite and ≥ 0"):
        RoadNetwork.from_segments(
            lon=[0, 1], lat=[0, 0], tail=[0], head=[1], forward_kmh=[-1], backward_kmh=[10]
        )


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"nowhere\.osm\.pbf: file not found"):
        RoadNetwork.from_osm(tmp_path / "nowhere.osm.pbf", cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.osm", b"<osm version='0.6'><node id='1' lat='45' lon="),
        ("garbage.osm.pbf", bytes(range(256)) * 8),
        ("plain.txt", b"commune;lat;lon\n"),
        ("notgzip.osm.gz", b"<osm></osm>"),
    ],
)
def test_not_an_osm_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFormatError, match=rf"{name}: not a readable OpenStreetMap file"):
        RoadNetwork.from_osm(path, cache_dir=tmp_path / "cache")


def test_no_drivable_road(tmp_path: Path) -> None:
    path = tmp_path / "paths.osm"
    path.write_text(
        '<osm version="0.6"><node id="1" lat="45" lon="2"/><node id="2" lat="45" lon="2.01"/>'
        '<way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>'
    )
    with pytest.raises(InputFormatError, match=r"paths\.osm: no drivable road found \(1 ways"):
        RoadNetwork.from_osm(path, cache_dir=tmp_path / "cache")


def test_file_format_for_uploads(tiny_osm: Path, tmp_path: Path) -> None:
    upload = tmp_path / "upload.bin"
    shutil.copy(tiny_osm, upload)
    net = RoadNetwork.from_osm(upload, file_format="osm", use_cache=False)
    assert net.n_segments == 5
    with pytest.raises(InputFormatError, match="file_format 'shp' is not one of pbf, osm"):
        RoadNetwork.from_osm(upload, file_format="shp", use_cache=False)


# --------------------------------------------------------------------------- cache


def test_cache_hit_miss_and_invalidation(tiny_osm: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = RoadNetwork.from_osm(tiny_osm, cache_dir=cache)
    assert first.source["from_cache"] is False
    (stored,) = cache.glob("*.npz")
    assert not list(cache.glob("*.tmp"))

    second = RoadNetwork.from_osm(tiny_osm, cache_dir=cache)
    assert second.source["from_cache"] is True
    np.testing.assert_array_equal(second.graph.toarray(), first.graph.toarray())
    assert second.n_segments == first.n_segments

    # touched but unchanged: the key is the content, still a hit
    os.utime(tiny_osm, ns=(1_000_000_000, 1_000_000_000))
    assert RoadNetwork.from_osm(tiny_osm, cache_dir=cache).source["from_cache"] is True

    # changed content: read again, a new entry, new speeds
    tiny_osm.write_text(TINY_OSM.replace('v="50"', 'v="30"'), encoding="utf-8")
    changed = RoadNetwork.from_osm(tiny_osm, cache_dir=cache)
    assert changed.source["from_cache"] is False
    assert changed.max_speed_kmh == 25.0
    assert len(list(cache.glob("*.npz"))) == 2

    # another profile is another entry
    slow = RoadProfile(name="slow", maxspeed_factor=0.5)
    assert RoadNetwork.from_osm(tiny_osm, cache_dir=cache, profile=slow).max_speed_kmh == 25.0
    assert len(list(cache.glob("*.npz"))) == 3

    # a corrupt entry is rebuilt over
    stored.write_bytes(b"not a zip")
    tiny_osm.write_text(TINY_OSM, encoding="utf-8")
    rebuilt = RoadNetwork.from_osm(tiny_osm, cache_dir=cache)
    assert rebuilt.source["from_cache"] is False
    assert RoadNetwork.from_osm(tiny_osm, cache_dir=cache).source["from_cache"] is True


def test_cache_disabled_and_unwritable(tiny_osm: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    RoadNetwork.from_osm(tiny_osm, cache_dir=cache, use_cache=False)
    assert not cache.exists()
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.warns(RoadNetworkWarning, match="road graph cache not written"):
        net = RoadNetwork.from_osm(tiny_osm, cache_dir=blocker / "sub")
    assert net.n_segments == 5


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from geo.road import default_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "cartosoins" / "road"


def test_road_costs_one_call(tiny_osm: Path, tmp_path: Path) -> None:
    pts = _points([2.000, 2.010], [45.000, 45.000], ["A", "B"])
    costs = road_costs(tiny_osm, pts, pts, max_minutes=60, cache_dir=tmp_path / "c")
    again = road_costs(tiny_osm, pts, pts, max_minutes=60, cache_dir=tmp_path / "c")
    assert isinstance(costs, TravelCosts) and costs.method == "road"
    np.testing.assert_array_equal(costs.minutes, again.minutes)
    assert costs.params["osm_file"] == "tiny.osm"
    assert costs.params["crs"] == "EPSG:32631"
    lambert = road_costs(
        tiny_osm, pts, pts, max_minutes=60, crs="EPSG:2154", cache_dir=tmp_path / "c"
    )
    np.testing.assert_allclose(lambert.minutes, costs.minutes, rtol=1e-3)
    with pytest.raises(InputFormatError, match="file not found"):
        road_costs(tmp_path / "missing.osm", pts, pts, max_minutes=10)


# --------------------------------------------------------------------------- networkx


def _nx_graph(net: RoadNetwork) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(net.n_nodes))
    e = net.edges()
    graph.add_weighted_edges_from(zip(e["tail"], e["head"], e["minutes"], strict=True))
    return graph


def test_same_times_as_networkx_on_tiny(tiny: RoadNetwork) -> None:
    graph = _nx_graph(tiny)
    ours = tiny.shortest_minutes(np.arange(tiny.n_nodes))
    for s in range(tiny.n_nodes):
        lengths = nx.single_source_dijkstra_path_length(graph, s, weight="weight")
        expected = np.full(tiny.n_nodes, np.inf)
        expected[list(lengths)] = list(lengths.values())
        np.testing.assert_allclose(ours[s], expected, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- real extracts


@pytest.mark.parametrize("key", list(EXTRACTS))
def test_real_extract_is_parsed(real_networks: dict[str, RoadNetwork], key: str) -> None:
    net = real_networks[key]
    _, sources_km = EXTRACTS[key]
    # SOURCES.md counts access=private roads too (5.5 km in Monaco, 0.4 km in Redon)
    assert 0.9 * sources_km <= net.total_km <= 1.01 * sources_km
    assert net.n_edges > net.n_segments  # most segments are two-way
    assert net.in_main_component.mean() > 0.85
    assert 20 <= net.max_speed_kmh <= 130


def test_real_extract_counts(real_networks: dict[str, RoadNetwork]) -> None:
    monaco, stbarth, redon = (real_networks[k] for k in ("monaco", "saint_barthelemy", "redon"))
    assert monaco.source["drivable_ways"] == 1141 and monaco.n_segments == 7141
    assert stbarth.source["drivable_ways"] == 504 and stbarth.n_segments == 3747
    # ways cut by the Overpass bounding box: their outside nodes are missing, not fatal
    assert redon.source["drivable_ways"] == 199 and redon.source["missing_nodes"] == 204


@pytest.mark.parametrize("key", list(EXTRACTS))
def test_times_not_below_straight_line_at_top_speed(
    real_networks: dict[str, RoadNetwork], key: str
) -> None:
    net = real_networks[key]
    pts = _near_nodes(net, 40, seed=1)
    costs = net.travel_costs(pts, pts, max_minutes=60)
    assert costs.n_pairs > 40
    assert _lower_bound_ok(costs, max(net.max_speed_kmh, SNAP_SPEED_KMH))
    assert (np.diag(_matrix(costs).unstack().loc[pts.index, pts.index].to_numpy()) == 0).all()


@pytest.mark.parametrize("key", list(EXTRACTS))
def test_two_way_roads_give_symmetric_times(
    real_networks: dict[str, RoadNetwork], key: str
) -> None:
    net = real_networks[key]
    both = (net.forward_kmh > 0) & (net.forward_kmh == net.backward_kmh)
    two_way = RoadNetwork.from_segments(
        lon=net.lon,
        lat=net.lat,
        tail=net.tail[both],
        head=net.head[both],
        forward_kmh=net.forward_kmh[both],
        backward_kmh=net.backward_kmh[both],
    )
    pts = _near_nodes(two_way, 30, seed=2)
    m = _matrix(two_way.travel_costs(pts, pts, max_minutes=60))
    assert len(m) > 30
    swapped = m.copy()
    swapped.index = swapped.index.swaplevel()
    aligned = swapped.reindex(m.index)
    np.testing.assert_allclose(m.to_numpy(), aligned.to_numpy(), rtol=1e-9, atol=1e-9)


def test_real_graph_matches_networkx(real_networks: dict[str, RoadNetwork]) -> None:
    net = real_networks["redon"]
    graph = _nx_graph(net)
    sources = np.random.default_rng(3).choice(net.n_nodes, 60, replace=False)
    ours = net.shortest_minutes(sources, max_minutes=5.0)
    for row, s in zip(ours, sources, strict=True):
        lengths = nx.single_source_dijkstra_path_length(graph, int(s), cutoff=5.0)
        expected = np.full(net.n_nodes, np.inf)
        expected[list(lengths)] = list(lengths.values())
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-9)
    # the OD costs of points standing on nodes are the node-to-node times
    nodes = sources[:20]
    pts = _points(net.lon[nodes], net.lat[nodes], [str(n) for n in nodes])
    m = _matrix(net.travel_costs(pts, pts, max_minutes=5.0))
    for (a, b), minutes in m.items():
        assert minutes == pytest.approx(
            nx.shortest_path_length(graph, int(a), int(b), weight="weight"), abs=1e-6
        )
    full = ours[:20][:, nodes]
    assert len(m) == int(np.isfinite(full).sum())


def test_monaco_and_french_neighbours(
    real_networks: dict[str, RoadNetwork], health_pois: pd.DataFrame
) -> None:
    net = real_networks["monaco"]
    communes = _points(
        [7.4197, 7.4234, 7.4040, 7.4004, 7.4835, 6.80],
        [43.7311, 43.7430, 43.7228, 43.7455, 43.7606, 43.70],
        ["99138", "06012", "06032", "06150", "06104", "far_away"],
    )  # Monaco, Beausoleil, Cap-d'Ail, La Turbie, Roquebrune-Cap-Martin; a point 50 km west
    pois = health_pois[health_pois["source_file"] == "monaco.osm.pbf"]
    supply = _points(pois["lon"], pois["lat"], pois["osm_id"].astype(str))
    with pytest.warns(RoadNetworkWarning, match="far_away"):
        costs = net.travel_costs(communes, supply, max_minutes=30, crs="EPSG:2154")
    reported = {u["id"] for u in costs.params["unreachable"]}
    assert "far_away" in reported
    assert list(costs.origins) == list(communes.index)  # nobody dropped
    snap = net.snap(communes, crs="EPSG:2154")
    assert set(snap.index[snap["status"] == "too_far"]) == reported
    assert (net.snap(supply)["status"] == "ok").all()
    reached = set(costs.origins[costs.rows])
    assert {"99138", "06012", "06032"} <= reached  # across the border both ways
    assert _lower_bound_ok(costs, net.max_speed_kmh)
    assert costs.minutes.max() <= 30


def test_saint_barthelemy_outside_reference_communes(
    real_networks: dict[str, RoadNetwork],
) -> None:
    net = real_networks["saint_barthelemy"]
    assert net.utm_crs == "EPSG:32620"
    towns = _points(
        [-62.8498, -62.8340, -62.8135], [17.8962, 17.9040, 17.9065], ["Gustavia", "StJean", "L"]
    )
    costs = net.travel_costs(towns, towns, max_minutes=30)
    m = _matrix(costs)
    assert len(m) == 9 and costs.params["unreachable"] == []
    assert 2 < m["Gustavia", "L"] < 20
    assert _lower_bound_ok(costs, net.max_speed_kmh)


def _split_graph(net: RoadNetwork, snap: pd.DataFrame) -> nx.DiGraph:
    """Independent model: each snapped point becomes a node splitting its segment."""
    graph = _nx_graph(net)
    for seg, group in snap[snap["segment"] >= 0].groupby("segment"):
        u, v = int(net.tail[seg]), int(net.head[seg])
        fwd, bwd = net.forward_minutes[seg], net.backward_minutes[seg]
        chain = [(0.0, u), *sorted(zip(group["fraction"], group.index, strict=True)), (1.0, v)]
        for (t0, a), (t1, b) in itertools.pairwise(chain):
            if np.isfinite(fwd):
                graph.add_edge(a, b, weight=(t1 - t0) * fwd)
            if np.isfinite(bwd):
                graph.add_edge(b, a, weight=(t1 - t0) * bwd)
        for t, point in zip(group["fraction"], group.index, strict=True):
            for end, at in ((0.0, u), (1.0, v)):
                if t == end:  # standing on the node itself: free to take any of its edges
                    graph.add_edge(point, at, weight=0.0)
                    graph.add_edge(at, point, weight=0.0)
    return graph


@pytest.mark.parametrize("key", ["redon", "monaco"])
def test_mid_segment_times_match_a_split_graph(
    real_networks: dict[str, RoadNetwork], key: str
) -> None:
    net = real_networks[key]
    pts = _near_nodes(net, 25, seed=4)
    snap = net.snap(pts)
    graph = _split_graph(net, snap)
    m = _matrix(net.travel_costs(pts, pts, max_minutes=60))
    access = snap["snap_m"] / (SNAP_SPEED_KMH * 1000 / 60)
    xy = np.column_stack([pts.to_crs(net.utm_crs).x, pts.to_crs(net.utm_crs).y])
    for i, a in enumerate(pts.index):
        lengths = nx.single_source_dijkstra_path_length(graph, a, weight="weight")
        for j, b in enumerate(pts.index):
            expected = access[a] + lengths.get(b, np.inf) + access[b]
            line_m = float(np.hypot(*(xy[i] - xy[j])))
            if line_m <= snap.loc[a, "snap_m"] + snap.loc[b, "snap_m"]:
                expected = min(expected, line_m / (SNAP_SPEED_KMH * 1000 / 60))
            if expected <= 60:
                assert m[a, b] == pytest.approx(expected, rel=1e-9, abs=1e-9)
            else:
                assert (a, b) not in m.index


@pytest.mark.parametrize("key", ["monaco", "redon"])
def test_backward_search_when_destinations_are_fewer(
    real_networks: dict[str, RoadNetwork], key: str
) -> None:
    net = real_networks[key]
    pts = _near_nodes(net, 30, seed=5)
    few = pts.iloc[:7]
    everything = _matrix(net.travel_costs(pts, pts, max_minutes=20))  # forward search
    backward = _matrix(net.travel_costs(pts, few, max_minutes=20))  # 30 > 7: reversed graph
    expected = everything[everything.index.get_level_values(1).isin(few.index)]
    pd.testing.assert_series_equal(
        backward.sort_index(), expected.sort_index(), check_exact=False, rtol=1e-12
    )


def test_an_upload_without_suffix_is_recognised_by_content(
    shared_data: Path, tmp_path: Path
) -> None:
    """Uploads are stored under a content hash: the format comes from the first bytes."""
    from geo.road.osm import sniff_osm_format

    for name, expected in (
        ("monaco.osm.pbf", "pbf"),
        ("redon_geoclimate.osm.gz", "osm.gz"),
    ):
        copy = tmp_path / f"upload-{expected}"
        copy.write_bytes((shared_data / "osm" / name).read_bytes())
        assert sniff_osm_format(copy) == expected
        assert RoadNetwork.from_osm(copy, use_cache=False).total_km > 10
    text = tmp_path / "plain"
    text.write_text("hello", encoding="utf-8")
    assert sniff_osm_format(text) is None


# --------------------------------------------------------------------------- issue 18 point 5

MOTORWAY_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" lat="45.0000" lon="2.000"/><node id="2" lat="45.0000" lon="2.020"/>
  <node id="3" lat="45.0030" lon="2.000"/><node id="4" lat="45.0030" lon="2.020"/>
  <node id="5" lat="45.0015" lon="2.000"/><node id="6" lat="45.0015" lon="2.020"/>
  <way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="motorway"/></way>
  <way id="2"><nd ref="3"/><nd ref="4"/><tag k="highway" v="residential"/></way>
  <way id="3"><nd ref="5"/><nd ref="6"/><tag k="highway" v="motorway_link"/></way>
  <way id="4"><nd ref="1"/><nd ref="5"/><nd ref="3"/><tag k="highway" v="primary"/></way>
  <way id="5"><nd ref="2"/><nd ref="6"/><nd ref="4"/><tag k="highway" v="trunk_link"/></way>
</osm>
"""


def test_points_never_snap_to_motorways_or_slip_roads(tmp_path: Path) -> None:
    path = tmp_path / "motorway.osm"
    path.write_text(MOTORWAY_OSM, encoding="utf-8")
    # 10 m from the motorway, 160 m from the residential street; 10 m from the slip road
    pts = _points([2.010, 2.010], [45.0001, 45.0016], ["by_motorway", "by_link"])
    for net in (
        RoadNetwork.from_osm(path, cache_dir=tmp_path / "c"),
        RoadNetwork.from_osm(path, cache_dir=tmp_path / "c"),  # read from the disk cache
    ):
        snap = net.snap(pts)
        ways = dict(zip(snap.index, snap["way_id"], strict=True))
        assert ways == {"by_motorway": 2, "by_link": 2}
        assert (snap["snap_m"] > 100).all()
        classes = np.asarray(net.highway_classes)[net.highway]
        assert set(classes[~net.snappable]) == {"motorway", "motorway_link", "trunk_link"}
    assert net.source["from_cache"] is True
    # from arrays: class names given, the same rule; without them every segment takes points
    seg = dict(
        lon=[2.0, 2.02, 2.0, 2.02], lat=[45.0, 45.0, 45.003, 45.003], tail=[0, 2], head=[1, 3]
    )
    speeds = dict(forward_kmh=[90.0, 25.0], backward_kmh=[90.0, 25.0])
    named = RoadNetwork.from_segments(**seg, **speeds, highway=["motorway", "residential"])
    assert named.snap(pts.iloc[:1])["segment"].tolist() == [1]
    assert RoadNetwork.from_segments(**seg, **speeds).snap(pts.iloc[:1])["segment"].tolist() == [0]
    # a profile may allow them again
    free = RoadProfile(no_snap=frozenset())
    assert RoadNetwork.from_osm(path, use_cache=False, profile=free).snappable.all()


def test_unreachable_points_are_counted_and_sampled(tiny: RoadNetwork) -> None:
    far_d = _points(np.full(50, 3.0), np.linspace(45, 46, 50), [f"d{i}" for i in range(50)])
    far_s = _points(np.full(30, 3.5), np.linspace(45, 46, 30), [f"s{i}" for i in range(30)])
    near = _points([2.0], [45.0], ["A"])
    with pytest.warns(RoadNetworkWarning, match=r"80 point\(s\) \(50 côté communes, 30 côté"):
        costs = tiny.travel_costs(pd.concat([near, far_d]), pd.concat([near, far_s]), max_minutes=9)
    assert costs.params["unreachable_count"] == {"demand": 50, "supply": 30}
    sample = costs.params["unreachable"]
    assert len(sample) == REPORT_SAMPLE == 20
    assert [u["id"] for u in sample] == [f"d{i}" for i in range(10)] + [f"s{i}" for i in range(10)]
    # one side short: the other fills the sample
    with pytest.warns(RoadNetworkWarning):
        few = tiny.travel_costs(pd.concat([near, far_d]), far_s.iloc[:3], max_minutes=9)
    assert [u["side"] for u in few.params["unreachable"]].count("demand") == 17
    assert few.params["isolated_count"] == {"demand": 0, "supply": 0}


def test_memory_cache_sees_a_file_rewritten_with_same_size_and_mtime(
    tiny_osm: Path, tmp_path: Path
) -> None:
    pts = _points([2.000, 2.010], [45.000, 45.000], ["A", "B"])
    before = road_costs(tiny_osm, pts, pts, max_minutes=60, use_cache=False)
    assert load_network(tiny_osm, use_cache=False) is load_network(tiny_osm, use_cache=False)
    stat = tiny_osm.stat()
    # same size (50 → 30 km/h posted), the modification time put back
    tiny_osm.write_text(TINY_OSM.replace('v="50"', 'v="30"'), encoding="utf-8")
    os.utime(tiny_osm, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after_stat = tiny_osm.stat()
    assert (after_stat.st_size, after_stat.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    after = road_costs(tiny_osm, pts, pts, max_minutes=60, use_cache=False)
    m0, m1 = _matrix(before), _matrix(after)
    assert m1["A", "B"] == pytest.approx(m0["A", "B"] * 40 / 24)  # 0.8 × 50 → 0.8 × 30
    assert load_network(tiny_osm, use_cache=False).max_speed_kmh == 25.0


def test_disk_cache_key_follows_the_tag_rules(
    tiny_osm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geo.road import profile as profile_module

    cache = tmp_path / "cache"
    first = RoadNetwork.from_osm(tiny_osm, cache_dir=cache)
    assert first.n_segments == 5 and first.source["from_cache"] is False
    key = DEFAULT_PROFILE.key()
    # a rule changes (private roads allowed): another key, the file is read again
    monkeypatch.setattr(profile_module, "_DENIED_ACCESS", frozenset({"no"}))
    assert DEFAULT_PROFILE.key() != key
    again = RoadNetwork.from_osm(tiny_osm, cache_dir=cache)
    assert again.source["from_cache"] is False and again.n_segments == 6
    # so does a changed implied limit
    rural = dict(profile_module.IMPLIED_MAXSPEED_KMH) | {"fr:rural": 90.0}
    monkeypatch.setattr(profile_module, "IMPLIED_MAXSPEED_KMH", rural)
    assert parse_maxspeed("FR:rural") == 90.0
    assert DEFAULT_PROFILE.key() not in (key, again.source["profile_key"])
    monkeypatch.undo()
    assert DEFAULT_PROFILE.key() == key
    assert RoadNetwork.from_osm(tiny_osm, cache_dir=cache).source["from_cache"] is True


def test_reach_and_coverage(tiny: RoadNetwork) -> None:
    assert tiny.reach_km(30) == pytest.approx(30 / 60 * 40.0)  # top speed 40 km/h
    slow = RoadNetwork.from_segments(
        lon=[2.0, 2.01], lat=[45.0, 45.0], tail=[0], head=[1], forward_kmh=[10], backward_kmh=[10]
    )
    assert slow.reach_km(60) == pytest.approx(SNAP_SPEED_KMH)  # access legs at 15 km/h
    pts = _points([2.005, 2.005, 2.6], [45.005, 45.0005, 45.0], ["inside", "on", "east"])
    cov = tiny.coverage(pts, max_snap_m=100)
    assert cov["status"].tolist() == ["too_far", "ok", "too_far"]
    assert cov["in_extract"].tolist() == [True, True, False]
