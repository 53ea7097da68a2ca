#!/usr/bin/env python3
"""Build ``data/reference/iles.csv``: the communes off the main land of their zone.

Reads only the committed reference polygons (``data/reference/communes.parquet``, through
``geo.reference.load_communes``); the method, the tolerance and the bridges live in
``geo/islands.py`` (:func:`geo.islands.build_island_table`).

Usage::

    python scripts/build_islands.py            # build, print the islands, write data/reference/iles.csv
    python scripts/build_islands.py --check    # rebuild in memory and compare with the committed file
    python scripts/build_islands.py --report   # also list every land component with its sea gap
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.crs import METRIC_CRS_BY_DEPARTEMENT, METROPOLE_CRS  # noqa: E402
from geo.islands import (  # noqa: E402
    ISLAND_BRIDGES,
    ISLANDS_FILE,
    LAND_TOLERANCE_M,
    build_island_table,
    land_components,
)
from geo.reference import load_communes, reference_dir  # noqa: E402


def render(table: pd.DataFrame) -> str:
    """CSV text of the island table, as committed."""
    return str(table.to_csv(index=False, lineterminator="\n"))


def report_components(communes: pd.DataFrame) -> None:
    """Print every land component but the largest of each zone, before bridges, with its gap."""
    comps = land_components(communes, bridges=())
    comps = comps.merge(communes[["code", "nom", "population"]], on="code")
    geoms = communes.set_index("code").geometry
    metric = {
        zone: geoms.loc[comps.loc[comps["zone"] == zone, "code"]]
        .to_crs(METRIC_CRS_BY_DEPARTEMENT.get(str(zone), METROPOLE_CRS))
        .to_numpy()
        for zone in comps["zone"].unique()
    }
    for (zone, comp), rows in comps[~comps["main"]].groupby(["zone", "component"]):
        zone_codes = comps.loc[comps["zone"] == zone, "code"]
        inside = zone_codes.isin(rows["code"]).to_numpy()
        zone_geoms = metric[zone]
        gaps = shapely.distance(shapely.union_all(zone_geoms[inside]), zone_geoms[~inside])
        nearest = int(np.argmin(gaps))
        names = ", ".join(
            f"{c} {n} ({p})" for c, n, p in rows[["code", "nom", "population"]].to_numpy()
        )
        print(
            f"[{zone}] composante {comp}: {len(rows)} commune(s), "
            f"{int(rows['population'].sum())} hab., à {gaps[nearest]:.0f} m de "
            f"{zone_codes.to_numpy()[~inside][nearest]}: {names[:300]}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed file, write nothing"
    )
    parser.add_argument(
        "--report", action="store_true", help="list every land component before bridges"
    )
    args = parser.parse_args(argv)

    communes = load_communes()
    if args.report:
        report_components(communes)
    table = build_island_table(communes)
    text = render(table)
    path = reference_dir() / ISLANDS_FILE

    print(f"tolérance {LAND_TOLERANCE_M:g} m; ponts appliqués:")
    for bridge in ISLAND_BRIDGES:
        print(f"  {bridge.island}: {bridge.bridge}, {bridge.opened_year}")
    summary = table.groupby(["ile_id", "ile"], sort=False).agg(
        communes=("code", "size"), population=("population", "sum")
    )
    print(f"{len(table)} communes sur {len(summary)} îles sans pont:")
    print(summary.to_string())

    if args.check:
        committed = path.read_text(encoding="utf-8") if path.is_file() else ""
        if committed != text:
            print(
                f"{path} diffère de la reconstruction : lancer scripts/build_islands.py",
                file=sys.stderr,
            )
            return 1
        print(f"{path} est à jour")
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"{path} écrit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
