"""Road travel times (geo.road): scipy's bounded Dijkstra vs networkx, and a département-sized run.

Run: .venv/bin/python benchmarks/bench_road.py  [--skip-real] [--skip-synthetic] [--nx-synthetic]
     [--skip-apl | --only-apl] [--departement 63] [--spacing-km 0.5] [--runs 5]

(a) Real graphs (../shared/data/osm: Monaco with its French neighbours, Redon, Saint-Barthélemy).
    On the same directed graph (``RoadNetwork.edges()``), the same 300 source nodes and the same
    30 min cut-off: ``RoadNetwork.shortest_minutes`` (scipy.sparse.csgraph.dijkstra, all sources
    in one call) vs networkx ``single_source_dijkstra_path_length`` per source, best of 3 runs
    each. Graph building excluded for both; the times must be identical (max |Δ| printed, must
    be ≤ 1e-9 min). Then the full backend (``travel_costs``: snapping + Dijkstra + pairs) on
    Monaco's communes × health POIs.

(b) Synthetic département: a 707 × 707 perturbed grid (499,849 nodes, 100 m spacing, ~71 km
    across, in Lambert-93 near Clermont-Ferrand), ~8 % of links missing, OSRM class speeds
    ±10 % (primary every 50th line, secondary every 10th, tertiary every 5th, else residential
    or unclassified), 10 % of the minor links one-way. 500 demand × 2,000 supply points drawn
    uniformly (so most sit off the road), 30 min cut-off, snapping in EPSG:2154. Times: graph
    build (lengths, CSR, components), OD with the snapping index built (cold) and again (warm).
    Peak memory: VmHWM − VmRSS before each phase (/proc/self/status, peak reset between phases).

(c) APL of a département by road, end to end (issue #18 point 5): a synthetic regional
    extract written as .osm.pbf by ``geo.road.synthetic.write_grid_extract`` (a 200 km × 200 km
    box centred on the département, residential grid every ``--spacing-km``, primary roads
    every 10th line at FR:rural, two-way motorways maxspeed=130 every 50th line, joined by
    slip roads every 10 nodes), all-France synthetic GPs (``geo.demo``), the embedded
    communes as surroundings. ``analyse(dep, gps, "apl", travel="road")`` timed ``--runs``
    times with the network in memory (after one call that parses the extract), wall and CPU,
    median and best, for the surroundings sized from the graph's top speed and the catchment
    and for the former sizing (130 km/h × max(catchment, threshold), pulled ×2 for demand and
    ×3 for supply), same inputs, same runs. Peak memory: VmHWM − VmRSS over one call.

Target (issue "Road travel times from OpenStreetMap"): (b) under 30 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from _machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.road import RoadNetwork, RoadNetworkWarning  # noqa: E402

OSM = ROOT.parent / "shared" / "data" / "osm"
CUTOFF_MIN = 30.0


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


class _Phase:
    """Wall time and peak memory increase of a block."""

    def __enter__(self) -> _Phase:
        _reset_peak()
        self.rss0 = _status_kb("VmRSS")
        self.t0 = time.perf_counter()
        self.cpu0 = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.cpu0
        self.peak_mb = (_status_kb("VmHWM") - self.rss0) / 1024


# ----------------------------------------------------------------------------- (a) real graphs
def bench_real(n_sources: int, repeat: int) -> None:
    import networkx as nx

    print("## (a) Real graphs: scipy bounded Dijkstra vs networkx, same graph, same sources\n")
    print(
        "| extract | nodes | directed edges | sources | cut-off | networkx s | ours s | ratio "
        "| max abs Δ (min) | pairs compared |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    cache_dir = tempfile.TemporaryDirectory(prefix="bench_road_")
    cache = Path(cache_dir.name)
    for name in ("monaco.osm.pbf", "redon_geoclimate.osm.gz", "saint_barthelemy.osm.pbf"):
        net = RoadNetwork.from_osm(OSM / name, cache_dir=cache)
        edges = net.edges()
        graph = nx.DiGraph()
        graph.add_nodes_from(range(net.n_nodes))
        graph.add_weighted_edges_from(
            zip(edges["tail"], edges["head"], edges["minutes"], strict=True)
        )
        rng = np.random.default_rng(0)
        sources = rng.choice(net.n_nodes, min(n_sources, net.n_nodes), replace=False)

        t_ours = t_nx = np.inf
        for _ in range(repeat):  # best of `repeat`, both sides: the machine may be shared
            t0 = time.perf_counter()
            ours = net.shortest_minutes(sources, max_minutes=CUTOFF_MIN)
            t_ours = min(t_ours, time.perf_counter() - t0)

            t0 = time.perf_counter()
            theirs = [
                nx.single_source_dijkstra_path_length(graph, int(s), cutoff=CUTOFF_MIN)
                for s in sources
            ]
            t_nx = min(t_nx, time.perf_counter() - t0)

        expected = np.full_like(ours, np.inf)
        for row, lengths in enumerate(theirs):
            expected[row, list(lengths)] = list(lengths.values())
        same_reach = np.array_equal(np.isfinite(ours), np.isfinite(expected))
        finite = np.isfinite(ours) & np.isfinite(expected)
        diff = float(np.abs(ours[finite] - expected[finite]).max())
        if not same_reach or diff > 1e-9:
            raise SystemExit(f"{name}: times differ from networkx (max {diff}, {same_reach=})")
        print(
            f"| {name} | {net.n_nodes:,} | {net.n_edges:,} | {len(sources)} | {CUTOFF_MIN:g} min "
            f"| {t_nx:.3f} | {t_ours:.3f} | {t_nx / t_ours:.1f}× | {diff:.1e} "
            f"| {int(finite.sum()):,} |"
        )

    net = RoadNetwork.from_osm(OSM / "monaco.osm.pbf", cache_dir=cache)
    pois = pd.read_csv(OSM / "osm_health_pois.csv")
    pois = pois[pois["source_file"] == "monaco.osm.pbf"]
    supply = gpd.GeoSeries(
        gpd.points_from_xy(pois["lon"], pois["lat"]), index=pois["osm_id"].astype(str), crs=4326
    )
    communes = gpd.GeoSeries(
        gpd.points_from_xy(
            [7.4197, 7.4234, 7.4040, 7.4004, 7.4835], [43.7311, 43.7430, 43.7228, 43.7455, 43.7606]
        ),
        index=["99138", "06012", "06032", "06150", "06104"],
        crs=4326,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RoadNetworkWarning)
        t0 = time.perf_counter()
        costs = net.travel_costs(communes, supply, max_minutes=CUTOFF_MIN, crs="EPSG:2154")
        t_costs = time.perf_counter() - t0
    unreachable = [u["id"] for u in costs.params["unreachable"]]
    print(
        f"\nMonaco backend end to end (5 communes × {len(supply)} health POIs, snapping index "
        f"built in the call): {t_costs * 1000:.0f} ms, {costs.n_pairs} pairs, "
        f"min/median/max {costs.minutes.min():.2f}/{np.median(costs.minutes):.2f}/"
        f"{costs.minutes.max():.2f} min; unreachable: {unreachable} ({len(caught)} warning)\n"
    )
    cache_dir.cleanup()


# ----------------------------------------------------------------------------- (b) synthetic
def synthetic_network(side: int, seed: int = 0) -> tuple[RoadNetwork, float]:
    from pyproj import Transformer

    rng = np.random.default_rng(seed)
    spacing = 100.0
    x0, y0 = 680_000.0, 6_480_000.0
    gx, gy = np.meshgrid(np.arange(side) * spacing, np.arange(side) * spacing)
    x = x0 + gx.ravel() + rng.uniform(-15, 15, side * side)
    y = y0 + gy.ravel() + rng.uniform(-15, 15, side * side)
    lon, lat = Transformer.from_crs(2154, 4326, always_xy=True).transform(x, y)
    idx = np.arange(side * side).reshape(side, side)
    # horizontal links lie on row r, vertical ones on column c: the line number sets the class
    tail = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    head = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    line = np.concatenate(
        [np.repeat(np.arange(side), side - 1), np.tile(np.arange(side), side - 1)]
    )
    speed = np.full(tail.size, 25.0)  # residential and unclassified
    speed = np.where(line % 5 == 0, 40.0, speed)  # tertiary
    speed = np.where(line % 10 == 0, 55.0, speed)  # secondary
    speed = np.where(line % 50 == 0, 65.0, speed)  # primary
    speed *= rng.uniform(0.9, 1.1, tail.size)
    keep = (rng.random(tail.size) > 0.08) | (speed > 30)
    minor = speed < 30
    oneway = minor & (rng.random(tail.size) < 0.10)
    forward_only = oneway & (rng.random(tail.size) < 0.5)
    forward = np.where(oneway & ~forward_only, 0.0, speed)
    backward = np.where(forward_only, 0.0, speed)
    t0 = time.perf_counter()
    net = RoadNetwork.from_segments(
        lon=lon,
        lat=lat,
        tail=tail[keep],
        head=head[keep],
        forward_kmh=forward[keep],
        backward_kmh=backward[keep],
    )
    return net, time.perf_counter() - t0


def bench_synthetic(side: int, n_demand: int, n_supply: int, with_nx: bool) -> None:
    print(
        f"## (b) Synthetic département: {side}×{side} grid, {n_demand} × {n_supply} points, "
        f"{CUTOFF_MIN:g} min cut-off\n"
    )
    with _Phase() as build:
        net, _ = synthetic_network(side)
    rng = np.random.default_rng(1)
    extent = (side - 1) * 100.0

    def points(n: int, prefix: str) -> gpd.GeoSeries:
        xy = rng.uniform(0, extent, size=(n, 2)) + np.array([680_000.0, 6_480_000.0])
        return gpd.GeoSeries(
            gpd.points_from_xy(xy[:, 0], xy[:, 1]),
            index=[f"{prefix}{i}" for i in range(n)],
            crs=2154,
        )

    demand, supply = points(n_demand, "c"), points(n_supply, "p")
    with _Phase() as cold:
        costs = net.travel_costs(demand, supply, max_minutes=CUTOFF_MIN, crs="EPSG:2154")
    with _Phase() as warm:
        again = net.travel_costs(demand, supply, max_minutes=CUTOFF_MIN, crs="EPSG:2154")
    assert np.array_equal(costs.minutes, again.minutes)
    assert costs.km is not None
    lower_ok = bool(np.all(costs.minutes >= costs.km / net.max_speed_kmh * 60 * (1 - 1e-3)))
    reached = np.isfinite(costs.nearest_minutes()).mean()
    print("| step | wall s | CPU s | peak memory increase |")
    print("|---|---|---|---|")
    print(
        f"| graph build ({net.n_nodes:,} nodes, {net.n_segments:,} segments, "
        f"{net.n_edges:,} directed edges) | {build.seconds:.2f} | {build.cpu:.2f} "
        f"| {build.peak_mb:.0f} MB |"
    )
    print(
        f"| OD {n_demand} × {n_supply}, cold (snapping index built) | {cold.seconds:.2f} "
        f"| {cold.cpu:.2f} | {cold.peak_mb:.0f} MB |"
    )
    print(
        f"| OD {n_demand} × {n_supply}, warm | {warm.seconds:.2f} | {warm.cpu:.2f} "
        f"| {warm.peak_mb:.0f} MB |"
    )
    print(
        f"| total, build included (cold) | {build.seconds + cold.seconds:.2f} "
        f"| {build.cpu + cold.cpu:.2f} | process peak {_status_kb('VmHWM') / 1024:.0f} MB |"
    )
    print(
        f"\npairs ≤ {CUTOFF_MIN:g} min: {costs.n_pairs:,} "
        f"({costs.n_pairs / (n_demand * n_supply):.1%} of all), origins reaching ≥ 1 point: "
        f"{reached:.1%}, median {np.median(costs.minutes):.1f} min; "
        f"times ≥ straight line / {net.max_speed_kmh:.0f} km/h: {lower_ok}; "
        f"target < 30 s (build excluded): {'met' if cold.seconds < 30 else 'MISSED'}\n"
    )

    if with_nx:
        import networkx as nx

        edges = net.edges()
        graph = nx.DiGraph()
        graph.add_weighted_edges_from(
            zip(edges["tail"], edges["head"], edges["minutes"], strict=True)
        )
        sources = np.random.default_rng(2).choice(net.n_nodes, 5, replace=False)
        t0 = time.perf_counter()
        ours = net.shortest_minutes(sources, max_minutes=CUTOFF_MIN)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        diff = 0.0
        for row, s in zip(ours, sources, strict=True):
            lengths = nx.single_source_dijkstra_path_length(graph, int(s), cutoff=CUTOFF_MIN)
            got = row[list(lengths)]
            diff = max(diff, float(np.abs(got - np.array(list(lengths.values()))).max()))
            assert np.isfinite(row).sum() == len(lengths)
        t_nx = time.perf_counter() - t0
        print(
            f"networkx on the synthetic graph, 5 sources: {t_nx:.2f} s vs ours {t_ours:.2f} s "
            f"({t_nx / t_ours:.1f}×), max |Δ| {diff:.1e} min\n"
        )


# ----------------------------------------------------------------------------- (c) APL by road


def bench_apl(departement: str, spacing_km: float, runs: int) -> None:
    import geo.analysis as analysis
    from geo.analysis import analyse
    from geo.demo import generate_practitioners
    from geo.reference import load_communes
    from geo.road.network import _MEMO
    from geo.road.synthetic import write_grid_extract

    communes = load_communes()
    territory = communes[communes["departement"] == departement]
    gps = generate_practitioners(communes, professions=["medecin_generaliste"])
    lon, lat = territory["chef_lieu"].x.mean(), territory["chef_lieu"].y.mean()
    half_lat = 100.0 / 111.195
    half_lon = half_lat / np.cos(np.radians(lat))
    bbox = (lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat)
    work = Path(tempfile.mkdtemp(prefix="bench_road_apl_"))
    with _Phase() as write:
        grid = write_grid_extract(work / "region.osm.pbf", bbox, spacing_km=spacing_km)
    size_kb = grid.path.stat().st_size / 1024
    print(
        f"(c) APL of département {departement} by road ({len(territory)} communes, "
        f"{len(gps):,} synthetic GPs in France)\n"
        f"    extract: {grid.rows} × {grid.columns} grid, {grid.nodes:,} nodes, {grid.ways:,} "
        f"ways, {size_kb:,.0f} kB pbf (a regular grid packs well), "
        f"bbox {tuple(round(float(v), 2) for v in bbox)}; written in "
        f"{write.seconds:.1f} s"
    )
    kwargs = dict(travel="road", osm_path=grid.path, road_cache_dir=work / "cache")

    def call() -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RoadNetworkWarning)
            return analyse(territory, gps, "apl", **kwargs)

    _MEMO.clear()
    with _Phase() as cold:
        res = call()
    net_source = next(iter(_MEMO.values())).source
    print(
        f"    first call (parse the pbf, build the graph, write the disk cache): "
        f"{cold.seconds:.2f} s wall, {cold.cpu:.2f} s CPU, peak +{cold.peak_mb:.0f} MB; "
        f"graph {next(iter(_MEMO.values())).n_nodes:,} nodes, "
        f"top speed {res.attrs['travel']['max_speed_kmh']:.0f} km/h, "
        f"from cache: {net_source.get('from_cache')}"
    )
    old_reach = analysis._road_context_km

    def former_reach(opts: analysis.AnalysisOptions) -> float:
        return max(opts.catchment, opts.threshold_minutes) / 60.0 * 130.0

    variants = {
        "graph top speed + catchment": (old_reach, analysis._road_trim),
        "former 130 km/h ×2/×3": (former_reach, lambda ctx, opts: ctx),
    }
    print(
        f"    {'sizing':<28} {'demand':>7} {'supply':>7} {'pairs kept':>10} "
        f"{'wall med':>9} {'wall best':>9} {'CPU med':>8} {'CPU best':>8} {'peak MB':>8}"
    )
    values = {}
    for name, (reach, trim) in variants.items():
        analysis._road_context_km = reach  # type: ignore[assignment]
        analysis._road_trim = trim  # type: ignore[assignment]
        try:
            walls, cpus = [], []
            for _ in range(runs):
                t0, c0 = time.perf_counter(), time.process_time()
                res = call()
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            with _Phase() as one:
                call()
        finally:
            analysis._road_context_km = old_reach
            analysis._road_trim = variants["graph top speed + catchment"][1]
        ctx = res.attrs["context"]
        values[name] = res.set_index("code")["value"]
        print(
            f"    {name:<28} {ctx['demand_communes']:>7,} {ctx['supply_points']:>7,} "
            f"{ctx['pairs']:>10,} {np.median(walls):>8.2f}s {min(walls):>8.2f}s "
            f"{np.median(cpus):>7.2f}s {min(cpus):>7.2f}s {one.peak_mb:>8.0f}"
        )
    a, b = values.values()
    print(
        f"    same APL with both sizings: max |Δ| = {float(np.nanmax(np.abs(a - b))):.2e} "
        f"over {int(a.notna().sum())} communes; load average {os.getloadavg()[0]:.1f}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--nx-synthetic", action="store_true", help="networkx check on (b)")
    parser.add_argument("--sources", type=int, default=300, help="source nodes in (a)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings in (a)")
    parser.add_argument("--side", type=int, default=707)
    parser.add_argument("--demand", type=int, default=500)
    parser.add_argument("--supply", type=int, default=2000)
    parser.add_argument("--skip-apl", action="store_true", help="skip (c)")
    parser.add_argument("--only-apl", action="store_true", help="run (c) only")
    parser.add_argument("--departement", default="63", help="territory of (c)")
    parser.add_argument("--spacing-km", type=float, default=0.5, help="grid spacing of (c)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per sizing in (c)")
    args = parser.parse_args()
    if args.only_apl:
        args.skip_real = args.skip_synthetic = True
    print(
        f"{cpu_model()}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU, "
        f"numpy {np.__version__}, {platform.machine()}, "
        f"load average {os.getloadavg()[0]:.1f} (wall times grow with other processes' load; "
        "CPU times much less)\n"
    )
    if not args.skip_real:
        if not OSM.is_dir():
            print(f"(a) skipped: {OSM} not found")
        else:
            bench_real(args.sources, args.repeat)
    if not args.skip_synthetic:
        bench_synthetic(args.side, args.demand, args.supply, args.nx_synthetic)
    if not args.skip_apl:
        bench_apl(args.departement, args.spacing_km, args.runs)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
