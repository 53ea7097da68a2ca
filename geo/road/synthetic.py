"""Synthetic OpenStreetMap extracts: a road grid written in the format real extracts come in.

For tests and benchmarks of ``travel="road"`` at any size without downloading an extract: a
regular grid of residential streets, primary roads every few lines and motorways (with their
own nodes, joined to the grid by slip roads only) over a longitude/latitude box, written by
pyosmium as ``.osm.pbf``, ``.osm`` or ``.osm.gz`` (chosen by the file suffix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geo.errors import DataValidationError

__all__ = ["GridExtract", "write_grid_extract"]

_KM_PER_DEGREE = 111.195


@dataclass(frozen=True)
class GridExtract:
    """What :func:`write_grid_extract` wrote.

    Attributes
    ----------
    path : Path
        The file.
    nodes, ways : int
        Objects written.
    rows, columns : int
        Grid lines (west–east rows, south–north columns).
    motorway_lines : int
        Grid lines doubled by a motorway.
    """

    path: Path
    nodes: int
    ways: int
    rows: int
    columns: int
    motorway_lines: int


def write_grid_extract(
    path: str | Path,
    bbox: tuple[float, float, float, float],
    *,
    spacing_km: float = 1.0,
    primary_every: int = 10,
    motorway_every: int = 50,
    link_every: int = 10,
) -> GridExtract:
    """Write a road grid over ``bbox`` as an OSM file.

    Parameters
    ----------
    path : str or Path
        Output file; ``.osm.pbf``, ``.osm`` or ``.osm.gz`` (pyosmium picks the format).
    bbox : tuple of float
        ``(west, south, east, north)`` in degrees (EPSG:4326).
    spacing_km : float
        Distance between grid lines; every grid line is a ``residential`` street (25 km/h).
    primary_every : int
        Every this many lines is a ``primary`` road tagged ``maxspeed=FR:rural`` (64 km/h).
    motorway_every : int
        Every this many lines (from the third) is doubled by a two-way ``motorway`` tagged
        ``maxspeed=130`` (104 km/h) on its own nodes, 20 % of a spacing beside the line.
    link_every : int
        A ``motorway_link`` joins the motorway to the grid every this many nodes.

    Returns
    -------
    GridExtract
        Counts of what was written.

    Raises
    ------
    DataValidationError
        For an empty box or a spacing ≤ 0.
    """
    import osmium
    from osmium.osm.mutable import Node, Way

    west, south, east, north = (float(v) for v in bbox)
    if not (east > west and north > south and spacing_km > 0):
        raise DataValidationError(
            f"bbox {bbox!r} must be (ouest, sud, est, nord) non vide et spacing_km > 0 "
            f"(reçu {spacing_km!r})"
        )
    cos_lat = math.cos(math.radians((south + north) / 2.0))
    d_lat = spacing_km / _KM_PER_DEGREE
    d_lon = spacing_km / (_KM_PER_DEGREE * cos_lat)
    lons = west + d_lon * np.arange(int((east - west) / d_lon) + 1)
    lats = south + d_lat * np.arange(int((north - south) / d_lat) + 1)
    ny, nx = lats.size, lons.size
    grid_id = (1 + np.arange(ny * nx)).reshape(ny, nx)
    next_id = int(ny * nx) + 1
    out = Path(path)
    out.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(out))
    nodes = ways = 0
    motorway_lines = 0
    try:
        for r in range(ny):
            for c in range(nx):
                writer.add_node(Node(id=int(grid_id[r, c]), location=(lons[c], lats[r])))
        nodes = ny * nx
        # motorway nodes: beside every motorway_every-th row (north) and column (east)
        motorways: list[tuple[str, int, np.ndarray]] = []
        for kind, count in (("row", ny), ("col", nx)):
            for line in range(2, count, motorway_every):
                along = nx if kind == "row" else ny
                ids = next_id + np.arange(along)
                next_id += along
                for k in range(along):
                    if kind == "row":
                        lon, lat = lons[k], lats[line] + 0.2 * d_lat
                    else:
                        lon, lat = lons[line] + 0.2 * d_lon, lats[k]
                    writer.add_node(Node(id=int(ids[k]), location=(lon, lat)))
                nodes += along
                motorways.append((kind, line, ids))
        way_id = 1
        for kind, count in (("row", ny), ("col", nx)):
            for line in range(count):
                refs = grid_id[line, :] if kind == "row" else grid_id[:, line]
                tags = {"highway": "residential"}
                if line % primary_every == 0:
                    tags = {"highway": "primary", "maxspeed": "FR:rural"}
                writer.add_way(Way(id=way_id, nodes=[int(v) for v in refs], tags=tags))
                way_id += 1
        for kind, line, ids in motorways:
            motorway = {"highway": "motorway", "oneway": "no", "maxspeed": "130"}
            writer.add_way(Way(id=way_id, nodes=[int(v) for v in ids], tags=motorway))
            way_id += 1
            motorway_lines += 1
            grid_line = grid_id[line, :] if kind == "row" else grid_id[:, line]
            for k in range(0, ids.size, link_every):
                link = {"highway": "motorway_link", "oneway": "no"}
                ends = [int(ids[k]), int(grid_line[k])]
                writer.add_way(Way(id=way_id, nodes=ends, tags=link))
                way_id += 1
        ways = way_id - 1
    finally:
        writer.close()
    return GridExtract(
        path=out, nodes=nodes, ways=ways, rows=ny, columns=nx, motorway_lines=motorway_lines
    )
