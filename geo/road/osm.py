"""Read the drivable ways of an OpenStreetMap extract (.osm.pbf, .osm, .osm.gz) with pyosmium.

This is the only module of :mod:`geo.road` that opens OSM files. It returns plain arrays of road
segments (consecutive way nodes); :mod:`geo.road.network` turns them into a graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from geo.errors import InputFormatError
from geo.road.profile import RoadProfile

if TYPE_CHECKING:
    import osmium.io

__all__ = ["OSM_FORMATS", "OsmSegments", "read_osm_segments", "sniff_osm_format"]

#: Formats pyosmium reads, by the name given as ``file_format`` (default: from the suffix).
OSM_FORMATS = ("pbf", "osm", "osm.gz", "osm.bz2", "opl")

#: libosmium's fixed-point coordinates are 1e-7 degree integers.
_COORDINATE_PRECISION = 10_000_000

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OsmSegments:
    """Drivable segments of an OSM extract, one per pair of consecutive way nodes.

    Attributes
    ----------
    node_ids : numpy.ndarray of int64
        OSM ids of the nodes used by the segments, in Z-order of their location.
    lon, lat : numpy.ndarray of float64
        Node coordinates (EPSG:4326).
    tail, head : numpy.ndarray of int64
        Node positions of each segment, in the way's drawing direction.
    forward_kmh, backward_kmh : numpy.ndarray of float64
        Speed along / against the drawing direction, 0 where a car may not go.
    way_ids : numpy.ndarray of int64
        OSM id of the way each segment belongs to.
    highway : numpy.ndarray of int8
        Position of the way's class in ``RoadProfile.classes``.
    stats : dict
        ``highway_ways`` (ways with a highway tag), ``drivable_ways``, ``missing_nodes`` (node
        references absent from the extract: ways cut at its border are split there).
    """

    node_ids: IntArray
    lon: FloatArray
    lat: FloatArray
    tail: IntArray
    head: IntArray
    forward_kmh: FloatArray
    backward_kmh: FloatArray
    way_ids: IntArray
    highway: npt.NDArray[np.int8]
    stats: dict[str, int]


def read_osm_segments(
    path: str | Path, profile: RoadProfile, *, file_format: str | None = None
) -> OsmSegments:
    """Read the drivable ways of an OSM file as segments.

    The file is read in two passes (node locations first, then ways), so that files whose
    objects are not sorted (Overpass XML) are read as well as sorted ones; references to nodes
    missing from the extract split the way instead of failing.

    Parameters
    ----------
    path : str or Path
        OSM extract.
    profile : RoadProfile
        Drivable classes, directions and speeds.
    file_format : str, optional
        One of :data:`OSM_FORMATS` when the suffix does not tell (an uploaded file).

    Raises
    ------
    InputFormatError
        The file is missing, is not an OSM file, or holds no drivable road; the message names it.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputFormatError(f"{name}: file not found")
    if file_format is not None and file_format not in OSM_FORMATS:
        raise InputFormatError(
            f"{name}: file_format {file_format!r} is not one of {', '.join(OSM_FORMATS)}"
        )
    if file_format is None and not path.name.lower().endswith(_SUFFIXES):
        file_format = sniff_osm_format(path)  # an upload stored under a content hash
    try:
        ways = _read_ways(path, profile, file_format or "")
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputFormatError(
            f"{name}: not a readable OpenStreetMap file (.osm.pbf, .osm, .osm.gz): {exc}"
        ) from exc
    segments = _segments(*ways)
    if segments.tail.size == 0:
        raise InputFormatError(
            f"{name}: no drivable road found ({segments.stats['highway_ways']} ways with a "
            f"highway tag, none of the classes {', '.join(profile.classes)} usable by car)"
        )
    return segments


_Ways = tuple[
    IntArray,  # way ids
    IntArray,  # nodes per way
    IntArray,  # node refs, all ways concatenated
    IntArray,  # x (1e-7 degree) of each ref, invalid when missing
    IntArray,  # y
    FloatArray,  # forward km/h per way
    FloatArray,  # backward km/h per way
    npt.NDArray[np.int8],  # class code per way
    int,  # ways with a highway tag
]


_SUFFIXES = (".pbf", ".osm", ".osm.gz", ".osm.bz2", ".opl")


def sniff_osm_format(path: str | Path) -> str | None:
    """Format of an OSM file from its first bytes: ``pbf``, ``osm.gz``, ``osm`` or None.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "upload"
    >>> _ = p.write_bytes(b'<?xml version="1.0"?><osm version="0.6"></osm>')
    >>> sniff_osm_format(p)
    'osm'
    """
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"\x1f\x8b"):
        return "osm.gz"
    if head.lstrip().startswith((b"<?xml", b"<osm")):
        return "osm"
    if b"OSMHeader" in head[:32]:
        return "pbf"
    return None


def _osm_file(path: Path, file_format: str) -> osmium.io.File:
    import osmium.io

    return osmium.io.File(str(path), file_format)


def _read_ways(path: Path, profile: RoadProfile, file_format: str) -> _Ways:
    # imported here: the engine (and geo.road on arrays) works without pyosmium installed
    try:
        import osmium
        import osmium.filter
        import osmium.index
        from osmium.osm import NODE, WAY
    except ImportError as exc:  # pragma: no cover - osmium is a declared dependency
        raise ImportError("reading OpenStreetMap files needs pyosmium: pip install osmium") from exc

    # one handler for both passes: it remembers that node ids came unsorted and sorts its
    # index before the first way lookup
    locations = osmium.index.create_map("flex_mem")
    add_locations = osmium.NodeLocationsForWays(locations)
    with osmium.io.Reader(_osm_file(path, file_format), NODE) as reader:
        osmium.apply(reader, add_locations)
    add_locations.ignore_errors()  # nodes missing from the extract split their way

    class_code = {c: i for i, c in enumerate(profile.classes)}
    way_ids: list[int] = []
    lengths: list[int] = []
    refs: list[int] = []
    xs: list[int] = []
    ys: list[int] = []
    forward: list[float] = []
    backward: list[float] = []
    codes: list[int] = []
    seen = 0
    # pyosmium's iterator does not own its handlers: keep them referenced while iterating
    highways = osmium.filter.KeyFilter("highway")
    with osmium.io.Reader(_osm_file(path, file_format), WAY) as reader:
        for way in osmium.OsmFileIterator(reader, add_locations, highways):
            if not isinstance(way, osmium.osm.Way):  # pragma: no cover - WAY-only reader
                continue
            seen += 1
            tags = {tag.k: tag.v for tag in way.tags}
            speeds = profile.way_speeds(tags)
            if speeds is None:
                continue
            count = 0
            for node in way.nodes:
                location = node.location
                refs.append(node.ref)
                xs.append(location.x)
                ys.append(location.y)
                count += 1
            way_ids.append(way.id)
            lengths.append(count)
            forward.append(speeds[0])
            backward.append(speeds[1])
            codes.append(class_code[tags["highway"]])
    return (
        np.asarray(way_ids, dtype=np.int64),
        np.asarray(lengths, dtype=np.int64),
        np.asarray(refs, dtype=np.int64),
        np.asarray(xs, dtype=np.int64),
        np.asarray(ys, dtype=np.int64),
        np.asarray(forward, dtype=np.float64),
        np.asarray(backward, dtype=np.float64),
        np.asarray(codes, dtype=np.int8),
        seen,
    )


def _spread_bits(v: IntArray) -> IntArray:
    """Insert a zero bit between the 16 low bits of each value (0b111 → 0b10101)."""
    v = v & 0xFFFF
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    return (v | (v << 1)) & 0x55555555


def _morton(lon: FloatArray, lat: FloatArray) -> IntArray:
    """Z-order key of points on a 65,536 × 65,536 grid over their bounding box."""
    if lon.size == 0:
        return np.zeros(0, dtype=np.int64)
    scale = 65535.0 / max(float(np.ptp(lon)), float(np.ptp(lat)), 1e-12)
    x = ((lon - lon.min()) * scale).astype(np.int64)
    y = ((lat - lat.min()) * scale).astype(np.int64)
    return _spread_bits(x) | (_spread_bits(y) << 1)


def _segments(
    way_ids: IntArray,
    lengths: IntArray,
    refs: IntArray,
    xs: IntArray,
    ys: IntArray,
    forward: FloatArray,
    backward: FloatArray,
    codes: npt.NDArray[np.int8],
    seen: int,
) -> OsmSegments:
    """Consecutive valid node pairs of each way, as arrays (no Python loop)."""
    valid = (np.abs(xs) <= 180 * _COORDINATE_PRECISION) & (np.abs(ys) <= 90 * _COORDINATE_PRECISION)
    way_of_ref = np.repeat(np.arange(len(way_ids)), lengths)
    is_last = np.zeros(refs.size, dtype=bool)
    is_last[(np.cumsum(lengths) - 1)[lengths > 0]] = True
    a = np.flatnonzero(~is_last & valid & np.roll(valid, -1))
    a = a[refs[a] != refs[a + 1]]  # a node repeated in a row is no segment
    b = a + 1
    used, inverse = np.unique(np.concatenate([refs[a], refs[b]]), return_inverse=True)
    # every occurrence of a node has the same location: take any valid one
    valid_refs = refs[valid]
    order = np.argsort(valid_refs, kind="stable")
    at = order[np.searchsorted(valid_refs[order], used)]
    lon = xs[valid][at] / _COORDINATE_PRECISION
    lat = ys[valid][at] / _COORDINATE_PRECISION
    # number nodes along a Z-order curve: neighbours in space are neighbours in memory, which
    # makes Dijkstra ~1.7× faster than in OSM id order on a département-sized graph
    spatial = np.argsort(_morton(lon, lat), kind="stable")
    rank = np.empty_like(spatial)
    rank[spatial] = np.arange(spatial.size)
    used, lon, lat, inverse = used[spatial], lon[spatial], lat[spatial], rank[inverse]
    way = way_of_ref[a]
    missing = int(np.unique(refs[~valid]).size)
    return OsmSegments(
        node_ids=used.astype(np.int64),
        lon=lon.astype(np.float64),
        lat=lat.astype(np.float64),
        tail=inverse[: a.size].astype(np.int64),
        head=inverse[a.size :].astype(np.int64),
        forward_kmh=forward[way],
        backward_kmh=backward[way],
        way_ids=way_ids[way],
        highway=codes[way],
        stats={
            "highway_ways": seen,
            "drivable_ways": len(way_ids),
            "missing_nodes": missing,
        },
    )
