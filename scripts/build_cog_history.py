#!/usr/bin/env python3
"""Build ``data/reference/cog_historique.csv``: every historical commune code → today's commune.

Source: npm ``@etalab/decoupage-administratif@6.0.0`` (COG 2026), fetched and checked against
its pinned sha256 by ``scripts/build_reference.py`` (``fetch_decoupage``/``read_decoupage``),
file ``data/communes.json``:

* ``anciensCodes`` of each current commune (``type: commune-actuelle``): codes it absorbed;
* rows of type ``commune-deleguee`` / ``commune-associee``: their ``chefLieu`` is the current
  commune they belong to (their name is the historical name);
* rows of type ``arrondissement-municipal``: their ``commune`` (75056, 69123, 13055).

A code that is still a current commune is never re-coded. A code that points to several current
communes (split or restored communes, or an inconsistency of the source) is ambiguous: it is kept
in the table with nature ``ambigu``, every candidate in ``code`` separated by ``|``, and is never
used for re-coding.

Usage::

    python scripts/build_cog_history.py            # fetch (cached), build, write the CSV
    python scripts/build_cog_history.py --check    # rebuild in memory, compare with the file
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "reference" / "cog_historique.csv"
COLUMNS = ("ancien_code", "nom_ancien", "code", "nom", "nature")

NATURE_ANCIEN = "ancien code"
NATURE_DELEGUEE = "commune déléguée"
NATURE_ASSOCIEE = "commune associée"
NATURE_ARRONDISSEMENT = "arrondissement municipal"
NATURE_AMBIGU = "ambigu"
_NATURE_OF_TYPE = {
    "commune-deleguee": NATURE_DELEGUEE,
    "commune-associee": NATURE_ASSOCIEE,
    "arrondissement-municipal": NATURE_ARRONDISSEMENT,
}


def _build_reference_module() -> ModuleType:
    """``scripts/build_reference.py`` as a module (it is a script, not a package)."""
    path = ROOT / "scripts" / "build_reference.py"
    spec = importlib.util.spec_from_file_location("_build_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


def build(communes: list[dict[str, object]]) -> pd.DataFrame:
    """The history table from the rows of ``communes.json``, sorted by ``ancien_code``."""
    current = {str(c["code"]): str(c["nom"]) for c in communes if c["type"] == "commune-actuelle"}
    targets: dict[str, set[str]] = defaultdict(set)
    names: dict[str, str] = {}
    natures: dict[str, str] = {}
    for c in communes:
        code, kind = str(c["code"]), str(c["type"])
        if kind == "commune-actuelle":
            for old in c.get("anciensCodes", []) or []:  # type: ignore[union-attr]
                targets[str(old)].add(code)
        elif kind in ("commune-deleguee", "commune-associee"):
            targets[code].add(str(c["chefLieu"]))
        elif kind == "arrondissement-municipal":
            targets[code].add(str(c["commune"]))
        else:
            raise SystemExit(f"unexpected commune type {kind!r} for {code}")
        if kind in _NATURE_OF_TYPE:
            names.setdefault(code, str(c["nom"]))
            natures.setdefault(code, _NATURE_OF_TYPE[kind])
    rows = []
    for old in sorted(targets):
        if old in current:  # a current commune keeps its code (e.g. the chef-lieu déléguée)
            continue
        new = sorted(targets[old])
        unknown = [t for t in new if t not in current]
        if unknown:
            raise SystemExit(f"{old} points to {unknown}, which are not current communes")
        rows.append(
            {
                "ancien_code": old,
                "nom_ancien": names.get(old, ""),
                "code": "|".join(new),
                "nom": "|".join(current[t] for t in new),
                "nature": NATURE_AMBIGU if len(new) > 1 else natures.get(old, NATURE_ANCIEN),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def render(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    ref = _build_reference_module()
    tgz = ref.fetch_decoupage(ref.CACHE_DIR)
    table = build(ref.read_decoupage(tgz)["communes"])
    text = render(table)
    counts = table["nature"].value_counts().to_dict()
    ambiguous = table[table["nature"] == NATURE_AMBIGU]
    summary = f"{len(table)} historical codes ({counts}); ambiguous, not mapped: " + (
        ", ".join(
            f"{a} → {c}" for a, c in zip(ambiguous["ancien_code"], ambiguous["code"], strict=True)
        )
        or "none"
    )
    if args.check:
        committed = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if committed != text:
            print(f"{args.out} differs from the rebuilt table")
            return 1
        print(f"{args.out.name} reproduced identically; {summary}")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
