#!/usr/bin/env python3
"""Build ``docs/exemples/``: small extracts of real public files, in their real format.

The examples of ``docs/formats.md`` and ``docs/donnees.md`` read these files, and
``tests/test_docs.py`` runs those examples. Every file only SELECTS rows and columns of a
sample of ``../shared/data`` (see its SOURCES.md); no value is changed, except the long OD
table, whose times are the same OSRM seconds divided by 60 (the layout of ``metric.osrm``).

* ``bpe_sante_extrait.csv`` — every health row of two Loire communes (42039, 42070) of the
  INSEE BPE extract ``bpe/bpe_42_43partial_sante_presence_sabah42.csv``, all its columns
  (their SIRET cells are empty: no establishment is identified);
* ``temps_vercors_osrm_secondes.csv`` — the 6 × 6 block of the Communauté de communes du
  Massif du Vercors (38129, 38153, 38205, 38225, 38433, 38548) of the OSRM car-time matrix
  ``od/isere_osrm_car_seconds_neocarto.csv`` (wide, seconds, header ``id``), cells as found;
* ``temps_vercors_metric_minutes.csv`` — the same pairs in the long layout of the columns
  ``idSrc``, ``idDst``, ``duree`` (minutes, 2 decimals) that INSEE's ``metric.osrm`` returns,
  without the rows of a commune to itself (``stable = FALSE``);
* ``part_75_plus_vercors.csv`` — the 2022 share of inhabitants aged 75 or more of the same six
  communes, from ``population/part_75_plus_communes_2022_linalek.csv``, as found.

Usage::

    python scripts/build_doc_examples.py            # write docs/exemples/
    python scripts/build_doc_examples.py --check    # rebuild in memory, compare with the files
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' shared helpers

from _committed import write_or_check  # noqa: E402

SHARED_DEFAULT = ROOT.parent / "shared" / "data"
OUT_DIR = ROOT / "docs" / "exemples"

BPE_FILE = "bpe/bpe_42_43partial_sante_presence_sabah42.csv"
OD_FILE = "od/isere_osrm_car_seconds_neocarto.csv"
P75_FILE = "population/part_75_plus_communes_2022_linalek.csv"

BPE_COMMUNES = ("42039", "42070")
#: CC du Massif du Vercors (SIREN 243801024), COG 2026.
VERCORS = ("38129", "38153", "38205", "38225", "38433", "38548")


def _csv(frame: pd.DataFrame, **options: object) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n", **options)  # type: ignore[call-overload]
    return buffer.getvalue()


def build(shared: Path) -> dict[str, str]:
    """Return the files of ``docs/exemples/`` (name → text), read from ``shared``."""
    bpe = pd.read_csv(shared / BPE_FILE, dtype=str, keep_default_na=False)
    bpe = bpe[bpe["DEPCOM"].isin(BPE_COMMUNES)]
    if (bpe["SIRET"] != "").any():
        raise SystemExit("the selected BPE rows carry a SIRET: choose other communes")

    # the matrix file quotes every cell: read it as text to keep the values as written
    od = pd.read_csv(shared / OD_FILE, dtype=str).set_index("id")
    block = od.loc[list(VERCORS), list(VERCORS)]
    # written as R's write.csv wrote the source: text quoted, numbers as found
    wide_lines = ['"id",' + ",".join(f'"{c}"' for c in VERCORS)]
    cells = block.to_numpy(dtype=str)
    wide_lines += [f'"{code}",' + ",".join(row) for code, row in zip(VERCORS, cells, strict=True)]
    seconds = cells.astype(float)
    n = len(VERCORS)
    long = pd.DataFrame(
        {
            "idSrc": [o for o in VERCORS for _ in range(n)],
            "idDst": list(VERCORS) * n,
            "duree": seconds.ravel(),
        }
    )
    long = long[long["idSrc"] != long["idDst"]]
    long["duree"] = (long["duree"] / 60.0).round(2)

    p75 = pd.read_csv(shared / P75_FILE, dtype=str, keep_default_na=False)
    p75 = p75[p75["code"].isin(VERCORS)]
    return {
        "bpe_sante_extrait.csv": _csv(bpe),
        "temps_vercors_osrm_secondes.csv": "\n".join(wide_lines) + "\n",
        "temps_vercors_metric_minutes.csv": _csv(long),
        "part_75_plus_vercors.csv": _csv(p75),
    }


def main(argv: list[str] | None = None) -> int:
    """Write (or ``--check``) the example files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED_DEFAULT, help="../shared/data")
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    args = parser.parse_args(argv)
    if not args.shared.is_dir():
        print(f"samples not found: {args.shared} (see --shared)", file=sys.stderr)
        return 2
    return write_or_check(build(args.shared), OUT_DIR, check=args.check, what="docs/exemples")


if __name__ == "__main__":
    raise SystemExit(main())
