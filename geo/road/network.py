"""Road graph of an OSM extract and origin–destination car times over it (``travel="road"``).

:class:`RoadNetwork` holds the directed graph (cached on disk per extract), snaps points to its
nearest segment and runs a bounded multi-source Dijkstra; :func:`road_costs` does all three.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Geod, Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from geo.costs import TravelCosts, _metric_xy, _unique_index
from geo.errors import DataValidationError, InputFormatError, warn_data
from geo.road.osm import OsmSegments, read_osm_segments
from geo.road.profile import DEFAULT_PROFILE, NO_SNAP_HIGHWAYS, RoadProfile

__all__ = [
    "MAX_SNAP_M",
    "REPORT_SAMPLE",
    "SNAP_SPEED_KMH",
    "RoadNetwork",
    "RoadNetworkWarning",
    "default_cache_dir",
    "load_network",
    "road_costs",
]

#: Speed (km/h) of the straight line between a point and the road it is snapped to: the
#: unmapped driveway, yard or car park between a town hall or a practice and the street, driven
#: slowly (OSRM's speed for ``highway=service``); 15 km/h rather than a 5 km/h walk because the
#: trip is by car, and well below main-road speeds so that the access leg never looks like a
#: shortcut. ``snap_speed_kmh`` changes it.
SNAP_SPEED_KMH = 15.0
#: Points farther than this (metres) from every drivable road get no travel time: they are
#: reported as unreachable rather than joined to a road they cannot use.
MAX_SNAP_M = 2000.0
#: A snapped position closer than this (metres) to a segment end is that end node.
_AT_NODE_M = 0.01
#: Memory bound (bytes) of one Dijkstra batch: rows of float64 distances to every graph node.
_BATCH_BYTES = 256 * 2**20
#: Networks kept in memory by :func:`road_costs` (keyed by file content and profile).
_MEMO_SIZE = 2
#: A file whose status changed less than this many seconds before it was hashed is hashed again
#: next time (timestamps are coarse: a rewrite within the same tick keeps them all).
_RACY_S = 2.0
#: Unreachable or isolated points listed by name in ``TravelCosts.params`` (the counts are
#: complete): a national analysis over a regional extract has tens of thousands of them.
REPORT_SAMPLE = 20

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class RoadNetworkWarning(UserWarning):
    """A recoverable problem: points too far from any road, an unwritable cache folder."""


def default_cache_dir() -> Path:
    """Folder of cached road graphs: ``$XDG_CACHE_HOME/cartosoins/road`` (``~/.cache/…``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cartosoins" / "road"


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass(frozen=True)
class _Snap:
    """Where each point joins the network (``segment`` = -1 when farther than the limit)."""

    segment: IntArray
    fraction: FloatArray
    snap_m: FloatArray
    status: npt.NDArray[np.str_]


class _SnapIndex:
    """Snappable segments in one metric CRS: the main component's tree, all of them on demand."""

    def __init__(
        self,
        node_xy: FloatArray,
        lines: npt.NDArray[Any],
        main: IntArray,
        pool: IntArray,
    ) -> None:
        self.node_xy = node_xy
        self.lines = lines
        self.main = main  # snappable segments of the main component
        self.pool = pool  # every snappable segment
        self.main_tree: shapely.STRtree = shapely.STRtree(lines[main])
        self._all_tree: shapely.STRtree | None = None
        self._hull: shapely.Geometry | None = None

    def all_tree(self) -> shapely.STRtree:
        if self._all_tree is None:  # only for points away from the main component
            self._all_tree = shapely.STRtree(self.lines[self.pool])
        return self._all_tree

    def hull(self) -> shapely.Geometry:
        """Convex hull of the nodes: roughly the area the extract covers."""
        if self._hull is None:
            hull = shapely.convex_hull(shapely.multipoints(self.node_xy))
            assert isinstance(hull, shapely.Geometry)
            shapely.prepare(hull)
            self._hull = hull
        return self._hull


class RoadNetwork:
    """Directed car graph of a road network, with times in minutes.

    Build it with :meth:`from_osm` (an OSM extract, cached on disk) or :meth:`from_segments`
    (arrays, e.g. a synthetic network). Nodes are OSM nodes (every vertex of a way, so that
    bends are kept); each pair of consecutive way nodes is a *segment*, driven in the directions
    its way allows, in ``length / speed``.

    Attributes
    ----------
    node_ids : numpy.ndarray of int64
        OSM id of each node; its position is the node index (read from OSM, nodes are numbered
        along a Z-order curve for memory locality: use :meth:`node_index` to find one).
    lon, lat : numpy.ndarray of float64
        Node coordinates, EPSG:4326.
    tail, head : numpy.ndarray of int64
        Segment end nodes, in the drawing direction of their way.
    length_m : numpy.ndarray of float64
        Geodesic length of each segment (WGS 84 ellipsoid).
    forward_kmh, backward_kmh : numpy.ndarray of float64
        Speed of each segment along / against its drawing direction, 0 where forbidden.
    forward_minutes, backward_minutes : numpy.ndarray of float64
        Time to drive each segment in either direction, inf where forbidden.
    graph : scipy.sparse.csr_matrix
        ``n_nodes × n_nodes`` travel minutes of the directed edges (the fastest of parallel
        segments; explicit zeros are real edges).
    in_main_component : numpy.ndarray of bool
        Node belongs to the largest strongly connected component.
    highway_classes : tuple of str
        Class name of each ``highway`` code (empty when the segments carry no class).
    snappable : numpy.ndarray of bool
        Segment may receive points: not of a class in ``no_snap`` (motorways and slip roads by
        default, :data:`geo.road.profile.NO_SNAP_HIGHWAYS`).
    source : dict
        Where the network comes from (file, sha256, profile, counts) and whether it was read
        from the cache (``from_cache``).

    Notes
    -----
    What the graph does not model: turn restrictions (``type=restriction`` relations) and turn
    or junction delays: every turn allowed by the one-ways is taken, at no cost; ferries
    (``route=ferry`` ways have no ``highway`` tag and are not read: a point on an island
    without a bridge reaches only that island's roads); traffic (free-flow speeds per class);
    time-dependent access (``oneway=reversible`` ways are left out, ``*:conditional`` tags are
    ignored); barriers on nodes (gates, bollards). Times are therefore lower bounds where
    restrictions or ferries matter.

    Examples
    --------
    >>> net = RoadNetwork.from_segments(
    ...     lon=[2.0, 2.01], lat=[45.0, 45.0], tail=[0], head=[1],
    ...     forward_kmh=[60.0], backward_kmh=[0.0])
    >>> round(float(net.shortest_minutes([0], max_minutes=10)[0, 1]), 3)
    0.788
    """

    def __init__(
        self,
        *,
        node_ids: IntArray,
        lon: FloatArray,
        lat: FloatArray,
        tail: IntArray,
        head: IntArray,
        forward_kmh: FloatArray,
        backward_kmh: FloatArray,
        way_ids: IntArray | None = None,
        highway: npt.NDArray[np.int8] | None = None,
        source: Mapping[str, Any] | None = None,
        highway_classes: Sequence[str] = (),
        no_snap: Iterable[str] = NO_SNAP_HIGHWAYS,
    ) -> None:
        self.node_ids = np.asarray(node_ids, dtype=np.int64)
        self.lon = np.asarray(lon, dtype=np.float64)
        self.lat = np.asarray(lat, dtype=np.float64)
        self.tail = np.asarray(tail, dtype=np.int64)
        self.head = np.asarray(head, dtype=np.int64)
        self.forward_kmh = np.asarray(forward_kmh, dtype=np.float64)
        self.backward_kmh = np.asarray(backward_kmh, dtype=np.float64)
        m = self.tail.size
        self.way_ids = (
            np.full(m, -1, dtype=np.int64) if way_ids is None else np.asarray(way_ids, np.int64)
        )
        self.highway = (
            np.full(m, -1, dtype=np.int8) if highway is None else np.asarray(highway, np.int8)
        )
        self.source: dict[str, Any] = dict(source or {})
        self.highway_classes = tuple(str(c) for c in highway_classes)
        _check_arrays(self)
        excluded = frozenset(no_snap)
        blocked = np.array([c in excluded for c in self.highway_classes] + [False], dtype=bool)
        # code -1 (no class known) indexes the trailing False: such segments take points
        codes = np.where(
            (self.highway >= 0) & (self.highway < len(self.highway_classes)), self.highway, -1
        )
        self.snappable: BoolArray = ~blocked[codes]
        _, _, length = Geod(ellps="WGS84").inv(
            self.lon[self.tail], self.lat[self.tail], self.lon[self.head], self.lat[self.head]
        )
        self.length_m = np.asarray(length, dtype=np.float64)
        with np.errstate(divide="ignore"):
            # minutes = km / (km/h) × 60; inf where the direction is forbidden
            self.forward_minutes = np.where(
                self.forward_kmh > 0, self.length_m * 0.06 / self.forward_kmh, np.inf
            )
            self.backward_minutes = np.where(
                self.backward_kmh > 0, self.length_m * 0.06 / self.backward_kmh, np.inf
            )
        self._edge_tail, self._edge_head, self._edge_minutes = _directed_edges(
            self.tail, self.head, self.forward_minutes, self.backward_minutes
        )
        self.graph = _csr(self._edge_tail, self._edge_head, self._edge_minutes, self.n_nodes)
        self.in_main_component = _main_component(self.graph)
        self._snap_index: dict[str, _SnapIndex] = {}

    # ----------------------------------------------------------------- constructors

    @classmethod
    def from_segments(
        cls,
        *,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        tail: npt.ArrayLike,
        head: npt.ArrayLike,
        forward_kmh: npt.ArrayLike,
        backward_kmh: npt.ArrayLike,
        node_ids: npt.ArrayLike | None = None,
        highway: npt.ArrayLike | None = None,
        no_snap: Iterable[str] = NO_SNAP_HIGHWAYS,
    ) -> RoadNetwork:
        """Network from node coordinates (EPSG:4326) and segments between node positions.

        Parameters
        ----------
        lon, lat : array-like
            Node coordinates in degrees.
        tail, head : array-like of int
            Node positions of each segment.
        forward_kmh, backward_kmh : array-like of float
            Speed from tail to head and from head to tail; 0 where a car may not go.
        node_ids : array-like of int, optional
            Node ids (default: their positions).
        highway : array-like of str, optional
            OSM ``highway`` class of each segment (``"motorway"``, ``"residential"``…); without
            it every segment may receive points.
        no_snap : iterable of str
            Classes points are never attached to (default: motorways and slip roads).
        """
        n = np.asarray(lon).size
        classes: tuple[str, ...] = ()
        codes = None
        if highway is not None:
            names = np.asarray(highway, dtype=object).astype(str)
            uniques, inverse = np.unique(names, return_inverse=True)
            classes = tuple(str(u) for u in uniques)
            codes = inverse.astype(np.int8)
        return cls(
            node_ids=np.arange(n) if node_ids is None else np.asarray(node_ids),
            lon=np.asarray(lon, dtype=np.float64),
            lat=np.asarray(lat, dtype=np.float64),
            tail=np.asarray(tail, dtype=np.int64),
            head=np.asarray(head, dtype=np.int64),
            forward_kmh=np.asarray(forward_kmh, dtype=np.float64),
            backward_kmh=np.asarray(backward_kmh, dtype=np.float64),
            highway=codes,
            source={"kind": "segments"},
            highway_classes=classes,
            no_snap=no_snap,
        )

    @classmethod
    def from_osm(
        cls,
        path: str | Path,
        *,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        profile: RoadProfile = DEFAULT_PROFILE,
        file_format: str | None = None,
    ) -> RoadNetwork:
        """Drivable network of an OSM extract, read once and cached on disk.

        Parameters
        ----------
        path : str or Path
            ``.osm.pbf``, ``.osm`` or ``.osm.gz`` extract (sorted or not).
        cache_dir : str or Path, optional
            Folder of cached graphs (default :func:`default_cache_dir`). The cache key is the
            SHA-256 of the file's content and :meth:`RoadProfile.key` (speeds, tag rules and
            the code applying them): a changed file, profile or rule is read again, an
            unchanged one (even touched or renamed) is not.
        use_cache : bool
            False to always read the file and write nothing.
        profile : RoadProfile
            Drivable classes and speeds.
        file_format : str, optional
            ``"pbf"``, ``"osm"``, ``"osm.gz"``… when the file name does not tell (uploads).

        Raises
        ------
        InputFormatError
            Missing file, not an OSM file, no drivable road (the message names the file).
        """
        path = Path(path)
        if not path.is_file():
            raise InputFormatError(f"{path}: file not found")
        return cls._from_osm_digest(path, _sha256(path), cache_dir, use_cache, profile, file_format)

    @classmethod
    def _from_osm_digest(
        cls,
        path: Path,
        digest: str,
        cache_dir: str | Path | None,
        use_cache: bool,
        profile: RoadProfile,
        file_format: str | None,
    ) -> RoadNetwork:
        folder = default_cache_dir() if cache_dir is None else Path(cache_dir)
        profile_key = profile.key()
        cache_file = folder / f"{digest[:32]}-{profile_key}.npz"
        if use_cache:
            cached = _load_cache(cache_file, digest, profile_key, profile)
            if cached is not None:
                cached.source["path"] = str(path)
                return cached
        segments = read_osm_segments(path, profile, file_format=file_format)
        source = {
            "kind": "osm",
            "path": str(path),
            "file": path.name,
            "sha256": digest,
            "profile": profile.name,
            "profile_key": profile_key,
            "highway_classes": list(profile.classes),
            **segments.stats,
            "from_cache": False,
        }
        network = cls._from_osm_segments(segments, source, profile)
        if use_cache:
            _save_cache(cache_file, segments, source)
        return network

    @classmethod
    def _from_osm_segments(
        cls, seg: OsmSegments, source: Mapping[str, Any], profile: RoadProfile
    ) -> RoadNetwork:
        return cls(
            node_ids=seg.node_ids,
            lon=seg.lon,
            lat=seg.lat,
            tail=seg.tail,
            head=seg.head,
            forward_kmh=seg.forward_kmh,
            backward_kmh=seg.backward_kmh,
            way_ids=seg.way_ids,
            highway=seg.highway,
            source=source,
            highway_classes=profile.classes,
            no_snap=profile.no_snap,
        )

    # ----------------------------------------------------------------- description

    @property
    def n_nodes(self) -> int:
        """Number of graph nodes."""
        return int(self.node_ids.size)

    @property
    def n_segments(self) -> int:
        """Number of segments (pairs of consecutive way nodes)."""
        return int(self.tail.size)

    @property
    def n_edges(self) -> int:
        """Number of directed edges of the graph (after merging parallel segments)."""
        return int(self.graph.nnz)

    @property
    def total_km(self) -> float:
        """Length of the network, each segment counted once whatever its directions."""
        return float(self.length_m.sum() / 1000.0)

    @property
    def max_speed_kmh(self) -> float:
        """Fastest speed of any segment: no time can beat ``straight line / max_speed_kmh``."""
        return float(max(self.forward_kmh.max(initial=0.0), self.backward_kmh.max(initial=0.0)))

    @property
    def utm_crs(self) -> str:
        """WGS 84 / UTM zone of the network's centre, the default metric CRS for snapping."""
        lon = float(np.median(self.lon)) if self.n_nodes else 0.0
        lat = float(np.median(self.lat)) if self.n_nodes else 0.0
        zone = min(int((lon + 180.0) // 6.0) + 1, 60)
        return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"

    def edges(self) -> pd.DataFrame:
        """Directed edges of the graph: ``tail``, ``head`` (node positions) and ``minutes``."""
        return pd.DataFrame(
            {"tail": self._edge_tail, "head": self._edge_head, "minutes": self._edge_minutes}
        )

    def node_index(self, osm_ids: npt.ArrayLike) -> IntArray:
        """Positions of OSM node ids in the graph (-1 for ids not in it)."""
        ids = np.asarray(osm_ids, dtype=np.int64)
        return np.asarray(pd.Index(self.node_ids).get_indexer(pd.Index(ids)), dtype=np.int64)

    # ----------------------------------------------------------------- routing

    def shortest_minutes(
        self, sources: npt.ArrayLike, *, max_minutes: float = np.inf, reverse: bool = False
    ) -> FloatArray:
        """Fastest times from graph nodes to every node (inf beyond ``max_minutes``).

        Parameters
        ----------
        sources : array-like of int
            Node positions.
        max_minutes : float
            Search limit.
        reverse : bool
            Times *to* the sources instead (Dijkstra on the reversed graph).

        Returns
        -------
        numpy.ndarray
            ``len(sources) × n_nodes`` minutes; use for a few sources (dense rows).
        """
        src = np.asarray(sources, dtype=np.int64).ravel()
        if src.size and (src.min() < 0 or src.max() >= self.n_nodes):
            raise DataValidationError(
                f"sources must be node positions in [0, {self.n_nodes}), got {src.min()}…"
                f"{src.max()}"
            )
        graph = (
            _csr(self._edge_head, self._edge_tail, self._edge_minutes, self.n_nodes)
            if reverse
            else self.graph
        )
        limit = float(max_minutes)
        out = dijkstra(graph, directed=True, indices=src, limit=limit)
        return np.asarray(out, dtype=np.float64).reshape(src.size, self.n_nodes)

    # ----------------------------------------------------------------- snapping

    def snap(
        self,
        points: gpd.GeoSeries,
        *,
        crs: str | None = None,
        max_snap_m: float = MAX_SNAP_M,
    ) -> pd.DataFrame:
        """Where each point joins the network: its nearest segment.

        Points join the nearest segment of the largest strongly connected component when one
        lies within ``max_snap_m``; otherwise the nearest segment of a smaller piece (status
        ``"isolated"``: it may reach few places); otherwise none (status ``"too_far"``).
        Segments of the classes in ``no_snap`` (:attr:`snappable` false: ``motorway``,
        ``motorway_link`` and ``trunk_link`` by default) never receive a point: a town hall
        beside a motorway joins the nearest street, however close the motorway is.

        Parameters
        ----------
        points : geopandas.GeoSeries
            Points with a CRS.
        crs : str, optional
            Metric CRS for distances (default: :attr:`utm_crs`).
        max_snap_m : float
            Largest distance to the road.

        Returns
        -------
        pandas.DataFrame
            Indexed like ``points``: ``segment`` (position, -1 if too far), ``fraction`` (0 at the
            segment's tail, 1 at its head), ``snap_m`` (distance to the nearest segment, even
            beyond the limit), ``way_id``, ``status`` (``"ok"``, ``"isolated"``, ``"too_far"``).
        """
        metric = crs or self.utm_crs
        _check_positive(max_snap_m, "max_snap_m", allow_zero=True)
        xy = _metric_xy(points, metric, "snapped")
        snap = self._snap_xy(xy, metric, float(max_snap_m))
        way = np.where(snap.segment >= 0, self.way_ids[np.maximum(snap.segment, 0)], -1)
        return pd.DataFrame(
            {
                "segment": snap.segment,
                "fraction": snap.fraction,
                "snap_m": snap.snap_m,
                "way_id": way,
                "status": snap.status,
            },
            index=points.index,
        )

    def coverage(
        self,
        points: gpd.GeoSeries,
        *,
        crs: str | None = None,
        max_snap_m: float = MAX_SNAP_M,
    ) -> pd.DataFrame:
        """Whether the extract covers each point: its snap status and where it lies.

        Parameters
        ----------
        points : geopandas.GeoSeries
            Points with a CRS (communes' chef-lieu, practitioners).
        crs : str, optional
            Metric CRS (default :attr:`utm_crs`).
        max_snap_m : float
            Largest distance to a road.

        Returns
        -------
        pandas.DataFrame
            Indexed like ``points``: ``status`` (as :meth:`snap`), ``snap_m`` and
            ``in_extract`` (inside the convex hull of the extract's nodes: False means the
            extract stops short of the point, True with ``"too_far"`` that it has no road
            near it).
        """
        metric = crs or self.utm_crs
        _check_positive(max_snap_m, "max_snap_m", allow_zero=True)
        xy = _metric_xy(points, metric, "checked")
        snap = self._snap_xy(xy, metric, float(max_snap_m))
        if len(xy) and self.n_nodes:
            inside = shapely.covers(self._index_for(metric).hull(), shapely.points(xy))
        else:
            inside = np.zeros(len(xy), dtype=bool)
        return pd.DataFrame(
            {"status": snap.status, "snap_m": snap.snap_m, "in_extract": inside},
            index=points.index,
        )

    def reach_km(self, minutes: float, snap_speed_kmh: float = SNAP_SPEED_KMH) -> float:
        """Farthest straight-line distance (km) a trip of ``minutes`` can cover.

        The drive runs at most at :attr:`max_speed_kmh`, the access legs at ``snap_speed_kmh``
        and so does a direct leg: no pair farther apart than this can be within ``minutes``.
        """
        return float(minutes) / 60.0 * max(self.max_speed_kmh, float(snap_speed_kmh))

    def _index_for(self, crs: str) -> _SnapIndex:
        """Node coordinates and segment trees in ``crs``, built once per CRS."""
        if crs not in self._snap_index:
            to_metric = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
            x, y = to_metric.transform(self.lon, self.lat)
            node_xy = np.column_stack([x, y]).astype(np.float64)
            lines = np.asarray(
                shapely.linestrings(np.stack([node_xy[self.tail], node_xy[self.head]], axis=1))
            )
            main = np.flatnonzero(
                self.in_main_component[self.tail]
                & self.in_main_component[self.head]
                & self.snappable
            ).astype(np.int64)
            pool = np.flatnonzero(self.snappable).astype(np.int64)
            self._snap_index[crs] = _SnapIndex(node_xy, lines, main, pool)
        return self._snap_index[crs]

    def _snap_xy(self, xy: FloatArray, crs: str, max_snap_m: float) -> _Snap:
        n = len(xy)
        segment = np.full(n, -1, dtype=np.int64)
        snap_m = np.full(n, np.inf)
        status = np.full(n, "too_far", dtype="<U8")
        if n == 0 or not self.snappable.any():
            return _Snap(segment, np.zeros(n), snap_m, status)
        index = self._index_for(crs)
        node_xy, main = index.node_xy, index.main
        pts = np.asarray(shapely.points(xy))
        if main.size:
            which, found = index.main_tree.query_nearest(
                pts, max_distance=max_snap_m, all_matches=False
            )
            segment[which] = main[found]
            status[which] = "ok"
        left = np.flatnonzero(segment < 0)
        if left.size:
            which, found = index.all_tree().query_nearest(pts[left], all_matches=False)
            segment[left[which]] = index.pool[found]
        lines = shapely.linestrings(
            np.stack([node_xy[self.tail[segment]], node_xy[self.head[segment]]], axis=1)
        )
        snap_m = np.asarray(shapely.distance(lines, pts), dtype=np.float64)
        fraction = np.clip(shapely.line_locate_point(lines, pts, normalized=True), 0.0, 1.0)
        # a zero-length segment has no direction: any fraction is its single point
        fraction = np.where(np.isfinite(fraction), fraction, 0.0)
        # a point on a node must be *at* the node (free to take any of its edges), not a
        # rounding error away from it on a one-way segment that leads elsewhere
        seg_m = np.asarray(shapely.length(lines), dtype=np.float64)
        fraction = np.where(fraction * seg_m <= _AT_NODE_M, 0.0, fraction)
        fraction = np.where((1.0 - fraction) * seg_m <= _AT_NODE_M, 1.0, fraction)
        rescued = (status == "too_far") & (snap_m <= max_snap_m)
        status[rescued] = "isolated"
        segment[status == "too_far"] = -1
        return _Snap(segment, fraction, snap_m.astype(np.float64), status)

    # ----------------------------------------------------------------- OD costs

    def travel_costs(
        self,
        demand: gpd.GeoSeries,
        supply: gpd.GeoSeries,
        *,
        max_minutes: float,
        crs: str | None = None,
        snap_speed_kmh: float = SNAP_SPEED_KMH,
        max_snap_m: float = MAX_SNAP_M,
    ) -> TravelCosts:
        """Car minutes between demand and supply points, for the pairs within ``max_minutes``.

        Each point joins its nearest segment (:meth:`snap`); its time is the straight line to
        that segment at ``snap_speed_kmh``, plus the fastest drive from the snapped position to
        the other point's snapped position (bounded Dijkstra from the smaller side, on the
        reversed graph when destinations are fewer), plus the other point's access leg. Two
        points whose straight line is no longer than their two access legs together are joined
        along it at ``snap_speed_kmh`` instead (same address: 0 minutes).

        Parameters
        ----------
        demand, supply : geopandas.GeoSeries
            Points with a CRS, indexed by unique ids (communes' chef-lieu, practitioners).
        max_minutes : float
            Cut-off: no pair above it is kept.
        crs : str, optional
            Metric CRS for snapping and the ``km`` column (default :attr:`utm_crs`; the
            engine passes :func:`geo.crs.metric_crs_for`).
        snap_speed_kmh : float
            Speed of the access legs.
        max_snap_m : float
            Points farther from every road get no pair.

        Returns
        -------
        TravelCosts
            ``method="road"``; ``km`` is the straight-line distance of each pair. ``params``
            counts per side the points that could not be joined (``unreachable_count``:
            ``{"demand": n, "supply": m}``) and those joined to a piece cut off from the main
            network (``isolated_count``), and names a sample of at most :data:`REPORT_SAMPLE`
            of each (``unreachable``, ``isolated``: side, id, distance to the road, reason;
            both sides represented); no point is dropped from ``origins`` or
            ``destinations``.

        Warns
        -----
        RoadNetworkWarning
            When some points are farther than ``max_snap_m`` from every road.
        """
        return self._travel_costs(
            demand,
            supply,
            max_minutes=max_minutes,
            crs=crs,
            snap_speed_kmh=snap_speed_kmh,
            max_snap_m=max_snap_m,
            stacklevel=3,
        )

    def _travel_costs(
        self,
        demand: gpd.GeoSeries,
        supply: gpd.GeoSeries,
        *,
        max_minutes: float,
        crs: str | None,
        snap_speed_kmh: float,
        max_snap_m: float,
        stacklevel: int,
        supply_labels: pd.Series | None = None,
    ) -> TravelCosts:
        _check_positive(max_minutes, "max_minutes", allow_zero=True)
        _check_positive(snap_speed_kmh, "snap_speed_kmh")
        _check_positive(max_snap_m, "max_snap_m", allow_zero=True)
        metric = crs or self.utm_crs
        origins = _unique_index(pd.Index(demand.index), "demand")
        destinations = _unique_index(pd.Index(supply.index), "supply")
        o_xy = _metric_xy(demand, metric, "demand")
        d_xy = _metric_xy(supply, metric, "supply")
        o_snap = self._snap_xy(o_xy, metric, float(max_snap_m))
        d_snap = self._snap_xy(d_xy, metric, float(max_snap_m))
        per_minute_m = snap_speed_kmh * 1000.0 / 60.0
        o_access = o_snap.snap_m / per_minute_m
        d_access = d_snap.snap_m / per_minute_m

        rows, cols, minutes = self._od_minutes(
            o_snap, d_snap, o_access, d_access, float(max_minutes)
        )
        rows, cols, minutes = _with_direct_legs(
            rows, cols, minutes, o_xy, d_xy, o_snap, d_snap, per_minute_m, float(max_minutes)
        )
        km = np.hypot(*(o_xy[rows] - d_xy[cols]).T) / 1000.0
        order = np.lexsort((cols, rows))
        shown_supply = (
            destinations
            if supply_labels is None
            else pd.Index(supply_labels.reindex(destinations).astype(str), dtype=object)
        )
        sides = ((origins, o_snap, "demand"), (shown_supply, d_snap, "supply"))
        unreachable_count, unreachable = _report(sides, "too_far")
        isolated_count, isolated = _report(sides, "isolated")
        total = unreachable_count["demand"] + unreachable_count["supply"]
        if total:
            shown = ", ".join(
                f"{'commune' if u['side'] == 'demand' else 'offre'} {u['id']!r}"
                for u in unreachable[:5]
            )
            more = f" et {total - 5} autre(s)" if total > 5 else ""
            warn_data(
                f"{total} point(s) ({unreachable_count['demand']} côté communes, "
                f"{unreachable_count['supply']} côté offre) à plus de {max_snap_m:g} m de "
                f"toute route de l'extrait n'ont pas de temps routier : {shown}{more}",
                RoadNetworkWarning,
                stacklevel=stacklevel,
            )
        return TravelCosts(
            origins=origins,
            destinations=destinations,
            rows=rows[order],
            cols=cols[order],
            minutes=minutes[order],
            km=km[order],
            max_minutes=float(max_minutes),
            method="road",
            params={
                "osm_file": self.source.get("file"),
                "osm_sha256": self.source.get("sha256"),
                "profile": self.source.get("profile"),
                "crs": metric,
                "snap_speed_kmh": float(snap_speed_kmh),
                "max_snap_m": float(max_snap_m),
                "max_speed_kmh": self.max_speed_kmh,
                "graph_nodes": self.n_nodes,
                "graph_edges": self.n_edges,
                "unreachable_count": unreachable_count,
                "unreachable": unreachable,
                "isolated_count": isolated_count,
                "isolated": isolated,
            },
        )

    def _od_minutes(
        self,
        o_snap: _Snap,
        d_snap: _Snap,
        o_access: FloatArray,
        d_access: FloatArray,
        max_minutes: float,
    ) -> tuple[IntArray, IntArray, FloatArray]:
        o_ok = np.flatnonzero(o_snap.segment >= 0)
        d_ok = np.flatnonzero(d_snap.segment >= 0)
        empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
        if o_ok.size == 0 or d_ok.size == 0:
            return empty
        # points at the same place on the network share one virtual node
        o_keys, o_virtual = _virtual_nodes(o_snap, o_ok)
        d_keys, d_virtual = _virtual_nodes(d_snap, d_ok)
        limit = max_minutes - o_access[o_ok].min() - d_access[d_ok].min()
        if limit < 0:
            return empty
        vi, vj, net = self._virtual_pairs(o_keys, d_keys, limit)
        # expand virtual pairs to the points behind them, then add both access legs
        p, q, k = _expand(vi, vj, o_virtual, d_virtual, len(o_keys[0]), len(d_keys[0]))
        rows = o_ok[p]
        cols = d_ok[q]
        minutes = o_access[rows] + net[k] + d_access[cols]
        keep = minutes <= max_minutes
        return rows[keep], cols[keep], minutes[keep]

    def _virtual_pairs(
        self,
        o_keys: tuple[IntArray, FloatArray],
        d_keys: tuple[IntArray, FloatArray],
        limit: float,
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """Network minutes between snapped positions (≤ limit), by bounded Dijkstra."""
        o_seg, o_t = o_keys
        d_seg, d_t = d_keys
        n, n_o, n_d = self.n_nodes, o_seg.size, d_seg.size
        fwd = self.forward_minutes
        bwd = self.backward_minutes
        u_o, v_o = self.tail[o_seg], self.head[o_seg]
        u_d, v_d = self.tail[d_seg], self.head[d_seg]
        # from a position at fraction t of segment u→v: ahead to v, or back to u; at an end
        # (t = 0 or 1) the point *is* that node, whatever the segment's direction
        with np.errstate(invalid="ignore"):  # 0 × inf in the branch np.where discards
            o_to_v = np.where(o_t >= 1.0, 0.0, (1.0 - o_t) * fwd[o_seg])
            o_to_u = np.where(o_t <= 0.0, 0.0, o_t * bwd[o_seg])
            u_to_d = np.where(d_t <= 0.0, 0.0, d_t * fwd[d_seg])
            v_to_d = np.where(d_t >= 1.0, 0.0, (1.0 - d_t) * bwd[d_seg])
        o_node = n + np.arange(n_o)
        d_node = n + n_o + np.arange(n_d)
        tails = [self._edge_tail, o_node, o_node, u_d, v_d]
        heads = [self._edge_head, v_o, u_o, d_node, d_node]
        weights = [self._edge_minutes, o_to_v, o_to_u, u_to_d, v_to_d]
        tail = np.concatenate(tails)
        head = np.concatenate(heads)
        weight = np.concatenate(weights)
        usable = np.isfinite(weight)
        tail, head, weight = tail[usable], head[usable], weight[usable]
        size = n + n_o + n_d
        if n_o <= n_d:
            graph = _csr(tail, head, weight, size)
            sources, targets = o_node, d_node
        else:  # fewer destinations: search backwards from them on the reversed graph
            graph = _csr(head, tail, weight, size)
            sources, targets = d_node, o_node
        batch = max(1, min(sources.size, _BATCH_BYTES // (8 * size)))
        found_s: list[IntArray] = []
        found_t: list[IntArray] = []
        found_m: list[FloatArray] = []
        for start in range(0, sources.size, batch):
            chunk = sources[start : start + batch]
            dist = dijkstra(graph, directed=True, indices=chunk, limit=limit)[:, targets]
            s, t = np.nonzero(dist <= limit)
            found_s.append((s + start).astype(np.int64))
            found_t.append(t.astype(np.int64))
            found_m.append(dist[s, t])
        s_all = np.concatenate(found_s)
        t_all = np.concatenate(found_t)
        m_all = np.concatenate(found_m)
        vi, vj = (s_all, t_all) if n_o <= n_d else (t_all, s_all)
        # two positions on one segment: the direct drive along it is not a path in the graph
        si, sj, sm = _same_segment(o_seg, o_t, d_seg, d_t, fwd, bwd)
        vi = np.concatenate([vi, si])
        vj = np.concatenate([vj, sj])
        vm = np.concatenate([m_all, sm])
        order = np.lexsort((vm, vj, vi))
        vi, vj, vm = vi[order], vj[order], vm[order]
        first = np.ones(vi.size, dtype=bool)
        first[1:] = (vi[1:] != vi[:-1]) | (vj[1:] != vj[:-1])
        keep = first & (vm <= limit)
        return vi[keep], vj[keep], vm[keep]


# --------------------------------------------------------------------- helpers


def _check_arrays(net: RoadNetwork) -> None:
    n = net.node_ids.size
    if net.lon.size != n or net.lat.size != n:
        raise DataValidationError(
            f"lon and lat must have one value per node ({n}), got {net.lon.size}, {net.lat.size}"
        )
    m = net.tail.size
    sizes = {
        "head": net.head.size,
        "forward_kmh": net.forward_kmh.size,
        "backward_kmh": net.backward_kmh.size,
        "way_ids": net.way_ids.size,
        "highway": net.highway.size,
    }
    bad = {k: v for k, v in sizes.items() if v != m}
    if bad:
        raise DataValidationError(f"segment arrays must all have {m} values (tail), got {bad}")
    if m and (min(net.tail.min(), net.head.min()) < 0 or max(net.tail.max(), net.head.max()) >= n):
        raise DataValidationError(f"tail and head must be node positions in [0, {n})")
    if not (np.isfinite(net.lon).all() and np.isfinite(net.lat).all()):
        raise DataValidationError("node coordinates must be finite")
    speeds = np.concatenate([net.forward_kmh, net.backward_kmh])
    if not (np.isfinite(speeds).all() and (speeds >= 0).all()):
        raise DataValidationError("forward_kmh and backward_kmh must be finite and ≥ 0")


def _check_positive(value: float, name: str, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not (isinstance(value, int | float | np.floating | np.integer) and ok):
        expected = "≥ 0" if allow_zero else "> 0"
        raise DataValidationError(f"{name} must be a number {expected}, got {value!r}")


def _directed_edges(
    tail: IntArray, head: IntArray, forward: FloatArray, backward: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Directed edges of the segments; parallel edges keep the fastest, loops are dropped."""
    t = np.concatenate([tail, head])
    h = np.concatenate([head, tail])
    w = np.concatenate([forward, backward])
    keep = np.isfinite(w) & (t != h)
    t, h, w = t[keep], h[keep], w[keep]
    order = np.lexsort((w, h, t))
    t, h, w = t[order], h[order], w[order]
    first = np.ones(t.size, dtype=bool)
    first[1:] = (t[1:] != t[:-1]) | (h[1:] != h[:-1])
    return t[first], h[first], w[first]


def _csr(tail: IntArray, head: IntArray, weight: FloatArray, size: int) -> csr_matrix:
    """CSR matrix built from its arrays, so that explicit zeros stay edges (no summing)."""
    order = np.argsort(tail, kind="stable")
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=size), out=indptr[1:])
    return csr_matrix((weight[order], head[order], indptr), shape=(size, size))


def _main_component(graph: csr_matrix) -> BoolArray:
    if graph.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    _, labels = connected_components(graph, directed=True, connection="strong")
    return np.asarray(labels == np.argmax(np.bincount(labels)), dtype=bool)


def _virtual_nodes(snap: _Snap, ok: IntArray) -> tuple[tuple[IntArray, FloatArray], IntArray]:
    """Group snapped points by (segment, fraction): unique positions and each point's group."""
    keys = pd.MultiIndex.from_arrays([snap.segment[ok], snap.fraction[ok]])
    codes, uniques = pd.factorize(keys)
    seg = np.asarray(uniques.get_level_values(0), dtype=np.int64)
    frac = np.asarray(uniques.get_level_values(1), dtype=np.float64)
    return (seg, frac), np.asarray(codes, dtype=np.int64)


def _same_segment(
    o_seg: IntArray,
    o_t: FloatArray,
    d_seg: IntArray,
    d_t: FloatArray,
    fwd: FloatArray,
    bwd: FloatArray,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Direct drive between an origin and a destination on the same segment."""
    order = np.argsort(d_seg, kind="stable")
    lo = np.searchsorted(d_seg[order], o_seg, side="left")
    hi = np.searchsorted(d_seg[order], o_seg, side="right")
    count = hi - lo
    i = np.repeat(np.arange(o_seg.size), count)
    offset = np.arange(i.size) - np.repeat(np.cumsum(count) - count, count)
    j = order[np.repeat(lo, count) + offset]
    seg = o_seg[i]
    gap = d_t[j] - o_t[i]
    with np.errstate(invalid="ignore"):
        ahead = np.where(gap >= 0, gap * fwd[seg], np.inf)
        behind = np.where(gap <= 0, -gap * bwd[seg], np.inf)
    minutes = np.where(gap == 0, 0.0, np.fmin(ahead, behind))
    keep = np.isfinite(minutes)
    return i[keep].astype(np.int64), j[keep].astype(np.int64), minutes[keep]


def _expand(
    vi: IntArray, vj: IntArray, o_virtual: IntArray, d_virtual: IntArray, n_o: int, n_d: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Point pairs behind virtual pairs: (origin point, destination point, virtual pair)."""
    o_order = np.argsort(o_virtual, kind="stable")
    o_count = np.bincount(o_virtual, minlength=n_o)
    o_start = np.cumsum(o_count) - o_count
    d_order = np.argsort(d_virtual, kind="stable")
    d_count = np.bincount(d_virtual, minlength=n_d)
    d_start = np.cumsum(d_count) - d_count
    per_pair = o_count[vi] * d_count[vj]
    k = np.repeat(np.arange(vi.size), per_pair)
    within = np.arange(k.size) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    n_dest = d_count[vj][k]
    p = o_order[o_start[vi][k] + within // n_dest]
    q = d_order[d_start[vj][k] + within % n_dest]
    return p.astype(np.int64), q.astype(np.int64), k.astype(np.int64)


def _with_direct_legs(
    rows: IntArray,
    cols: IntArray,
    minutes: FloatArray,
    o_xy: FloatArray,
    d_xy: FloatArray,
    o_snap: _Snap,
    d_snap: _Snap,
    per_minute_m: float,
    max_minutes: float,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Join two points directly when the line between them is no longer than their two access legs.

    Going to the road and back cannot beat that line, so a practitioner at the town hall's own
    address costs 0 rather than twice the town hall's distance to the street.
    """
    o_ok = np.flatnonzero(o_snap.segment >= 0)
    d_ok = np.flatnonzero(d_snap.segment >= 0)
    if o_ok.size == 0 or d_ok.size == 0:
        return rows, cols, minutes
    radius = float(o_snap.snap_m[o_ok].max() + d_snap.snap_m[d_ok].max())
    near = cKDTree(o_xy[o_ok]).sparse_distance_matrix(
        cKDTree(d_xy[d_ok]), radius, output_type="ndarray"
    )
    i = o_ok[near["i"]].astype(np.int64)
    j = d_ok[near["j"]].astype(np.int64)
    dist = np.asarray(near["v"], dtype=np.float64)
    keep = (dist <= o_snap.snap_m[i] + d_snap.snap_m[j]) & (dist / per_minute_m <= max_minutes)
    if not keep.any():
        return rows, cols, minutes
    r = np.concatenate([rows, i[keep]])
    c = np.concatenate([cols, j[keep]])
    m = np.concatenate([minutes, dist[keep] / per_minute_m])
    order = np.lexsort((m, c, r))
    r, c, m = r[order], c[order], m[order]
    first = np.ones(r.size, dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    return r[first], c[first], m[first]


def _report(
    sides: Sequence[tuple[pd.Index, _Snap, str]], status: str
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Count the points of each side with ``status``, and name a sample of them.

    The sample holds at most :data:`REPORT_SAMPLE` entries, the first points of each side in
    input order, shared evenly between the sides (a side with fewer leaves its share to the
    other).
    """
    reason = {
        "too_far": "farther than max_snap_m from every drivable road",
        "isolated": "nearest road is cut off from the main network",
    }[status]
    where = [np.flatnonzero(snap.status == status) for _, snap, _ in sides]
    counts = {side: int(w.size) for (_, _, side), w in zip(sides, where, strict=True)}
    share = [REPORT_SAMPLE // len(sides)] * len(sides)
    spare = sum(max(0, q - w.size) for q, w in zip(share, where, strict=True))
    take = []
    for q, w in zip(share, where, strict=True):
        extra = min(spare, max(0, w.size - q))
        spare -= extra
        take.append(min(w.size, q + extra))
    sample = [
        {"side": side, "id": ident, "snap_m": round(float(dist), 1), "reason": reason}
        for (ids, snap, side), w, k in zip(sides, where, take, strict=True)
        for ident, dist in zip(ids[w[:k]].tolist(), snap.snap_m[w[:k]], strict=True)
    ]
    return counts, sample


# --------------------------------------------------------------------- disk cache

_CACHED_ARRAYS = (
    "node_ids",
    "lon",
    "lat",
    "tail",
    "head",
    "forward_kmh",
    "backward_kmh",
    "way_ids",
    "highway",
)


def _load_cache(
    cache_file: Path, digest: str, profile_key: str, profile: RoadProfile
) -> RoadNetwork | None:
    """Network stored for this file content, or None when absent, stale or unreadable."""
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {name: data[name] for name in _CACHED_ARRAYS}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # a corrupt or foreign file is rebuilt over
    if (
        meta.get("sha256") != digest
        or meta.get("profile_key") != profile_key
        or meta.get("arrays") != list(_CACHED_ARRAYS)
    ):
        return None
    meta["from_cache"] = True
    segments = OsmSegments(stats={}, **arrays)
    return RoadNetwork._from_osm_segments(segments, meta, profile)


def _save_cache(cache_file: Path, seg: OsmSegments, source: Mapping[str, Any]) -> None:
    """Write the segments atomically (temporary file + rename): readers never see half a file."""
    meta = {**source, "arrays": list(_CACHED_ARRAYS)}
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=cache_file.stem, suffix=".tmp", dir=cache_file.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    meta=np.array(json.dumps(meta)),
                    **{name: getattr(seg, name) for name in _CACHED_ARRAYS},
                )
            os.replace(tmp, cache_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        warn_data(
            f"road graph cache not written to {cache_file.parent} ({exc}); the extract will be "
            "read again next time",
            RoadNetworkWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------- one call

_MEMO: OrderedDict[tuple[Any, ...], RoadNetwork] = OrderedDict()
#: SHA-256 of the files already hashed, by their status signature (see :func:`_content_digest`).
_DIGESTS: OrderedDict[tuple[Any, ...], str] = OrderedDict()


def _content_digest(path: Path) -> str:
    """SHA-256 of a file's content, hashed again only when the file may have changed.

    The signature is (path, device, inode, size, mtime_ns, ctime_ns): rewriting a file, even
    to the same size with its mtime put back (``os.utime``), changes its ctime, and replacing
    it changes its inode. A file whose signature was taken less than :data:`_RACY_S` after its
    last change is hashed again on each call (a second rewrite within the same clock tick
    would keep every timestamp: git's "racy clean" rule).
    """
    stat = path.stat()
    signature = (
        str(path.resolve()),
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
    )
    if signature in _DIGESTS:
        _DIGESTS.move_to_end(signature)
        return _DIGESTS[signature]
    digest = _sha256(path)
    changed_s = max(stat.st_mtime_ns, stat.st_ctime_ns) / 1e9
    if time.time() - changed_s >= _RACY_S:  # settled: trust the signature next time
        _DIGESTS[signature] = digest
        while len(_DIGESTS) > 16 * _MEMO_SIZE:
            _DIGESTS.popitem(last=False)
    return digest


def _network(
    path: Path,
    cache_dir: str | Path | None,
    use_cache: bool,
    profile: RoadProfile,
    file_format: str | None,
) -> RoadNetwork:
    """Return the network of an extract, kept in memory by content (not name, size or date)."""
    if not path.is_file():
        raise InputFormatError(f"{path}: file not found")
    digest = _content_digest(path)
    key = (
        digest,
        profile.key(),
        tuple(sorted(profile.no_snap)),
        file_format,
        None if cache_dir is None else str(cache_dir),
        use_cache,
    )
    if key in _MEMO:
        _MEMO.move_to_end(key)
        network = _MEMO[key]
        network.source["path"] = str(path)
        return network
    network = RoadNetwork._from_osm_digest(path, digest, cache_dir, use_cache, profile, file_format)
    _MEMO[key] = network
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    return network


def load_network(
    osm_path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    profile: RoadProfile = DEFAULT_PROFILE,
    file_format: str | None = None,
) -> RoadNetwork:
    """Return the network of an extract as :func:`road_costs` gets it (memory, then disk).

    Parameters
    ----------
    osm_path : str or Path
        OSM extract.
    cache_dir, use_cache, profile, file_format
        See :meth:`RoadNetwork.from_osm`.

    Notes
    -----
    The last networks used stay in memory, keyed by the SHA-256 of the file's content (hashed
    again whenever the file's size, dates or inode change) and the profile: a file rewritten
    in place is never answered with the times of its former content.
    """
    return _network(Path(osm_path), cache_dir, use_cache, profile, file_format)


def road_costs(
    osm_path: str | Path,
    demand: gpd.GeoSeries,
    supply: gpd.GeoSeries,
    *,
    max_minutes: float,
    crs: str | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    profile: RoadProfile = DEFAULT_PROFILE,
    file_format: str | None = None,
    snap_speed_kmh: float = SNAP_SPEED_KMH,
    max_snap_m: float = MAX_SNAP_M,
    supply_labels: pd.Series | None = None,
) -> TravelCosts:
    """Car travel minutes over an OSM extract between demand and supply points.

    The road counterpart of :func:`geo.costs.straight_line_costs`: the network is read once
    per extract (cached on disk, and the last ones in memory), then
    :meth:`RoadNetwork.travel_costs` computes the pairs.

    Parameters
    ----------
    osm_path : str or Path
        OSM extract covering the demand and supply points.
    demand, supply : geopandas.GeoSeries
        Points with a CRS, indexed by unique ids.
    max_minutes : float
        Cut-off.
    crs : str, optional
        Metric CRS for snapping (default: UTM zone of the network).
    cache_dir, use_cache, profile, file_format
        See :meth:`RoadNetwork.from_osm`.
    snap_speed_kmh, max_snap_m
        See :meth:`RoadNetwork.travel_costs`.
    supply_labels : pandas.Series, optional
        How the reports and warnings name each supply point (indexed like ``supply``; default:
        its id). The engine names practitioners by their commune, never by an identifier
        that may be personal data (an RPPS number).

    Returns
    -------
    TravelCosts
        ``method="road"``, unreachable points listed in ``params["unreachable"]``.

    Examples
    --------
    >>> costs = road_costs("monaco.osm.pbf", communes, practitioners,
    ...                    max_minutes=30, crs="EPSG:2154")  # doctest: +SKIP
    """
    network = _network(Path(osm_path), cache_dir, use_cache, profile, file_format)
    return network._travel_costs(
        demand,
        supply,
        max_minutes=max_minutes,
        crs=crs,
        snap_speed_kmh=snap_speed_kmh,
        max_snap_m=max_snap_m,
        stacklevel=3,
        supply_labels=supply_labels,
    )
