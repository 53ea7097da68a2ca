#!/usr/bin/env python3
"""Build ``data/offre/``: the real offer of general practitioners embedded in cartosoins.

Inputs (read from ``../shared/data``, never copied):

* ``bpe/bpe_d201_omnipraticiens_communes_cpprouting.csv``: INSEE BPE equipment D201 "médecin
  omnipraticien", GPs per commune of métropole (COG 2016–2018 codes, vintage probably 2017);
* ``cnam/cnam_effectifs_densites_liberaux_departements_2024.csv``: CNAM headcounts and densities
  of libéral health professionals per département, 2024.

Outputs:

* ``medecins_generalistes_bpe.csv``: one row per current commune (COG 2026) with GPs: code, nom,
  departement, medecins_generalistes, statut (``observé``; ``estimé`` for Paris, absent from the
  source), codes_source (the source codes summed into the row, ``|``-separated);
* ``cnam_2024_medecins_generalistes_departements.csv``: per département (métropole and DROM),
  the 2024 headcount and density of all GPs and of GPs without a particular expertise (MEP);
* ``BUILD_REPORT.md``: every code re-coded, totals before/after, coverage, the Paris estimate.

Usage::

    python scripts/build_gp_offer.py                 # build and write data/offre/
    python scripts/build_gp_offer.py --check         # rebuild in memory, compare with the files
    python scripts/build_gp_offer.py --shared DIR    # another copy of shared/data
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' shared helpers

from _committed import write_or_check  # noqa: E402

from geo.cog import NATURE_AMBIGUOUS, load_history  # noqa: E402
from geo.reference import load_communes  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
OUT_DIR = ROOT / "data" / "offre"
BPE_FILE = Path("bpe") / "bpe_d201_omnipraticiens_communes_cpprouting.csv"
CNAM_FILE = Path("cnam") / "cnam_effectifs_densites_liberaux_departements_2024.csv"
GP_FILE = "medecins_generalistes_bpe.csv"
CNAM_OUT = "cnam_2024_medecins_generalistes_departements.csv"
REPORT_FILE = "BUILD_REPORT.md"

CNAM_ALL = "Ensemble des médecins généralistes"
CNAM_NO_MEP = "Médecins généralistes (hors médecins à expertise particulière - MEP)"
PARIS = "75056"
LYON = "69123"
STATUT_OBSERVED = "observé"
STATUT_ESTIMATED = "estimé"


@dataclass
class Build:
    """Everything the build produces: the tables and what the report says about them."""

    gp: pd.DataFrame
    cnam: pd.DataFrame
    source_rows: int
    source_total: int
    duplicates: pd.DataFrame
    recoded: pd.DataFrame  # ancien_code, code, nom, nature, medecins_generalistes
    unmapped: pd.DataFrame
    k: float
    k_without_69: float
    lyon_check: int
    ratio_quartiles: tuple[float, float, float]
    inputs: dict[str, str] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_bpe(path: Path) -> tuple[pd.DataFrame, int, int, pd.DataFrame]:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in ("CODGEO", "NB_D201"):
        if column not in raw.columns:
            raise SystemExit(f"{path}: column {column!r} missing")
    raw["NB_D201"] = raw["NB_D201"].astype("int64")
    if (raw["NB_D201"] <= 0).any():
        raise SystemExit(f"{path}: NB_D201 must be positive")
    # an exact duplicate line (same code, count, node and population) is an artefact of the
    # file, not a second set of GPs: counted once
    dup = raw.duplicated(keep="first")
    duplicates = raw[dup][["CODGEO", "NB_D201"]].reset_index(drop=True)
    bpe = raw[~dup]
    if bpe["CODGEO"].duplicated().any():
        codes = sorted(set(bpe.loc[bpe["CODGEO"].duplicated(), "CODGEO"]))
        raise SystemExit(f"{path}: codes with different rows: {codes}")
    return (
        bpe[["CODGEO", "NB_D201"]].reset_index(drop=True),
        len(raw),
        int(raw["NB_D201"].sum()),
        duplicates,
    )


def _read_cnam(path: Path, reference_deps: set[str]) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    raw = raw[(raw["classe_age"] == "tout_age") & (raw["libelle_sexe"] == "tout sexe")]
    france = raw[(raw["departement"] == "999") & (raw["region"] == "99")]
    deps = raw[raw["departement"] != "999"]
    out = None
    for profession, suffix in ((CNAM_ALL, ""), (CNAM_NO_MEP, "_hors_mep")):
        rows = deps[deps["profession_sante"] == profession]
        if rows["departement"].duplicated().any():
            raise SystemExit(f"{path}: several rows per département for {profession!r}")
        part = pd.DataFrame(
            {
                "departement": rows["departement"].to_numpy(),
                "nom": rows["libelle_departement"].to_numpy(),
                "region": rows["region"].to_numpy(),
                f"medecins_generalistes{suffix}_2024": rows["effectif"].astype("int64").to_numpy(),
                f"densite{suffix}_2024": rows["densite"].astype("float64").to_numpy(),
            }
        )
        out = part if out is None else out.merge(part, on=["departement", "nom", "region"])
        total = france[france["profession_sante"] == profession]["effectif"].astype("int64")
        if len(total) != 1 or int(total.iloc[0]) != int(part.iloc[:, 3].sum()):
            raise SystemExit(f"{path}: départements of {profession!r} do not add up to FRANCE")
    assert out is not None
    if set(out["departement"]) != reference_deps:
        raise SystemExit(
            f"{path}: départements differ from the reference: "
            f"{sorted(set(out['departement']) ^ reference_deps)}"
        )
    return out.sort_values("departement").reset_index(drop=True)


def build(shared: Path) -> Build:
    """Build the tables from ``shared`` (a copy of ``shared/data``)."""
    bpe_path, cnam_path = shared / BPE_FILE, shared / CNAM_FILE
    communes = load_communes()[["code", "nom", "departement", "zone"]]
    names = communes.set_index("code")["nom"]
    metro = communes[communes["zone"] == "metro"]
    current = set(communes["code"])

    bpe, source_rows, source_total, duplicates = _read_bpe(bpe_path)
    history = load_history()
    usable = history[history["nature"] != NATURE_AMBIGUOUS].set_index("ancien_code")
    is_current = bpe["CODGEO"].isin(current).to_numpy()
    target = bpe["CODGEO"].map(usable["code"]).where(~is_current, bpe["CODGEO"])
    mapped = ~is_current & target.notna().to_numpy()
    unmapped = bpe[~is_current & ~mapped].reset_index(drop=True)
    recoded = pd.DataFrame(
        {
            "ancien_code": bpe["CODGEO"][mapped].to_numpy(),
            "nom_ancien": bpe["CODGEO"][mapped].map(usable["nom_ancien"]).to_numpy(),
            "code": target[mapped].to_numpy(),
            "nom": target[mapped].map(names).to_numpy(),
            "nature": bpe["CODGEO"][mapped].map(usable["nature"]).to_numpy(),
            "medecins_generalistes": bpe["NB_D201"][mapped].to_numpy(),
        }
    ).sort_values("ancien_code", kind="stable")
    located = bpe[target.notna().to_numpy()].assign(code=target[target.notna()])
    outside = located[~located["code"].isin(set(metro["code"]))]
    if len(outside):
        raise SystemExit(f"{bpe_path}: codes outside métropole: {sorted(outside['CODGEO'])}")
    if PARIS in set(located["code"]):
        raise SystemExit(f"{bpe_path}: Paris is present; the Paris estimate is not needed")

    gp = (
        located.sort_values("CODGEO")
        .groupby("code", sort=True)
        .agg(
            medecins_generalistes=("NB_D201", "sum"),
            codes_source=("CODGEO", lambda s: "|".join(s)),
        )
        .reset_index()
    )
    after_total = int(gp["medecins_generalistes"].sum())
    deduplicated_total = source_total - int(duplicates["NB_D201"].sum())
    if after_total != deduplicated_total:
        raise SystemExit(
            f"totals differ: {deduplicated_total} in the source, {after_total} after re-coding; "
            f"codes not mapped: {sorted(unmapped['CODGEO'])}"
        )
    gp["statut"] = STATUT_OBSERVED

    # Paris: missing in the source, estimated from the CNAM 2024 headcount and the ratio k of
    # BPE GPs to CNAM GPs over the rest of métropole
    cnam = _read_cnam(cnam_path, set(communes["departement"]))
    cnam_gp = cnam.set_index("departement")["medecins_generalistes_2024"]
    cnam_metro = cnam_gp[~cnam_gp.index.str.startswith("97")]
    gp_dep = gp["code"].map(communes.set_index("code")["departement"])
    bpe_dep = gp.groupby(gp_dep)["medecins_generalistes"].sum()
    k = float(bpe_dep.drop(["75"], errors="ignore").sum() / cnam_metro.drop(["75"]).sum())
    paris = round(k * int(cnam_metro["75"]))
    # the same method on Lyon, which the source has: how far the estimate is from an observation
    k_without_69 = float(
        bpe_dep.drop(["75", "69"], errors="ignore").sum() / cnam_metro.drop(["75", "69"]).sum()
    )
    lyon_others = int(bpe_dep["69"]) - int(gp.set_index("code").at[LYON, "medecins_generalistes"])
    lyon_check = max(round(k_without_69 * int(cnam_metro["69"])) - lyon_others, 0)
    ratios = (bpe_dep / cnam_metro).dropna()
    quartiles = tuple(float(q) for q in np.quantile(ratios.to_numpy(), [0.25, 0.5, 0.75]))

    estimate = pd.DataFrame(
        {
            "code": [PARIS],
            "medecins_generalistes": [paris],
            "codes_source": [""],
            "statut": [STATUT_ESTIMATED],
        }
    )
    gp = pd.concat([gp, estimate], ignore_index=True).sort_values("code").reset_index(drop=True)
    gp["nom"] = gp["code"].map(names)
    gp["departement"] = gp["code"].map(communes.set_index("code")["departement"])
    gp = gp[["code", "nom", "departement", "medecins_generalistes", "statut", "codes_source"]]
    gp["medecins_generalistes"] = gp["medecins_generalistes"].astype("int64")

    return Build(
        gp=gp,
        cnam=cnam,
        source_rows=source_rows,
        source_total=source_total,
        duplicates=duplicates,
        recoded=recoded.reset_index(drop=True),
        unmapped=unmapped,
        k=k,
        k_without_69=k_without_69,
        lyon_check=int(lyon_check),
        ratio_quartiles=(quartiles[0], quartiles[1], quartiles[2]),
        inputs={
            f"shared/data/{BPE_FILE.as_posix()}": _sha256(bpe_path),
            f"shared/data/{CNAM_FILE.as_posix()}": _sha256(cnam_path),
        },
    )


def _fmt(n: float) -> str:
    return f"{n:,.0f}".replace(",", " ")


def render(result: Build) -> dict[str, str]:
    """File name → text of every generated file (the README is written by hand)."""
    files = {
        GP_FILE: result.gp.to_csv(index=False, lineterminator="\n"),
        CNAM_OUT: result.cnam.to_csv(index=False, lineterminator="\n", float_format="%.1f"),
    }
    files[REPORT_FILE] = _report(result, files)
    return files


def _report(result: Build, files: dict[str, str]) -> str:
    gp = result.gp
    communes = load_communes()[["code", "nom", "zone", "departement"]]
    metro = communes[communes["zone"] == "metro"]
    drom = communes[communes["zone"] == "drom"]
    observed = gp[gp["statut"] == STATUT_OBSERVED]
    estimated = gp[gp["statut"] == STATUT_ESTIMATED]
    observed_total = int(observed["medecins_generalistes"].sum())
    zero = len(metro) - len(observed) - len(estimated)
    paris = int(estimated["medecins_generalistes"].iloc[0])
    lyon = int(gp.set_index("code").at[LYON, "medecins_generalistes"])
    cnam = result.cnam.set_index("departement")
    q1, q2, q3 = result.ratio_quartiles
    cnam_paris = int(cnam.at["75", "medecins_generalistes_2024"])
    lines = [
        "# Build report: data/offre",
        "",
        "Generated by `python scripts/build_gp_offer.py`; do not edit by hand.",
        "",
        "## Inputs",
        "",
        "| file | sha256 |",
        "|---|---|",
        *[f"| `{name}` | `{digest}` |" for name, digest in result.inputs.items()],
        "| `data/reference/cog_historique.csv` (COG 2026 history) | "
        f"`{_sha256(ROOT / 'data' / 'reference' / 'cog_historique.csv')}` |",
        "",
        "## Source file (BPE D201)",
        "",
        f"- rows: {result.source_rows}; GPs (sum of NB_D201): {result.source_total}",
        "- exact duplicate lines (same code, count, road node and population), counted once: "
        + (
            ", ".join(
                f"{c} ({n} GPs)"
                for c, n in zip(
                    result.duplicates["CODGEO"], result.duplicates["NB_D201"], strict=True
                )
            )
            or "none"
        ),
        f"- GPs after removing them: {result.source_total - int(result.duplicates['NB_D201'].sum())}",
        f"- Paris ({PARIS}) is absent; Lyon ({LYON}, {lyon} GPs) and Marseille (13055) are present "
        "as whole communes (no arrondissement codes in the file)",
        "",
        "## Codes re-coded to the COG 2026",
        "",
        f"{len(result.recoded)} codes of the source are no longer current communes; all are "
        f"mapped ({int(result.recoded['medecins_generalistes'].sum())} GPs moved). Codes not "
        f"mapped: {len(result.unmapped)}"
        + (" (" + ", ".join(result.unmapped["CODGEO"]) + ")" if len(result.unmapped) else " (none)")
        + ".",
        "",
        "| former code | former name | current code | current name | nature | GPs |",
        "|---|---|---|---|---|---:|",
        *[
            f"| {r.ancien_code} | {r.nom_ancien} | {r.code} | {r.nom} | {r.nature} | "
            f"{r.medecins_generalistes} |"
            for r in result.recoded.itertuples()
        ],
        "",
        "## Totals",
        "",
        "| | GPs |",
        "|---|---:|",
        f"| source, de-duplicated | {result.source_total - int(result.duplicates['NB_D201'].sum())} |",
        f"| after re-coding (`statut` = {STATUT_OBSERVED}) | {observed_total} |",
        f"| Paris, estimated (`statut` = {STATUT_ESTIMATED}) | {paris} |",
        f"| file total | {int(gp['medecins_generalistes'].sum())} |",
        "",
        "## Coverage (communes of the reference, COG 2026)",
        "",
        f"- métropole: {len(metro)} communes; {len(observed)} with GPs in the file; "
        f"{zero} absent from the file, i.e. **0 GPs** (the BPE lists every commune with at least "
        "one equipment);",
        f"- not covered (missing, not zero): Paris ({PARIS}), absent from the source, its count "
        f"estimated below for its neighbours' accessibility; the {len(drom)} communes of the DROM "
        f"({', '.join(sorted(set(drom['departement'])))}): the source covers métropole only.",
        "",
        "## Paris estimate",
        "",
        "k = BPE GPs of métropole without département 75 / CNAM 2024 headcount (Ensemble des "
        "médecins généralistes) of the same départements "
        f"= {_fmt(observed_total)} / "
        f"{_fmt(int(cnam.loc[~cnam.index.str.startswith('97') & (cnam.index != '75'), 'medecins_generalistes_2024'].sum()))}"
        f" = **{result.k:.4f}**.",
        "",
        f"Paris = round(k × CNAM(75)) = round({result.k:.4f} × {cnam_paris}) = **{paris}**.",
        "",
        "Uncertainty: the ratio BPE/CNAM varies between départements (quartiles "
        f"{q1:.3f} / {q2:.3f} / {q3:.3f}), so Paris lies roughly between {_fmt(q1 * cnam_paris)} and "
        f"{_fmt(q3 * cnam_paris)} at the interquartile range. Check on Lyon, which the source has: "
        "the same method (k without 75 and 69 = "
        f"{result.k_without_69:.4f}; Lyon = k × CNAM(69) − BPE of the other communes of 69) gives "
        f"{result.lyon_check} against {lyon} observed ({(result.lyon_check / lyon - 1) * 100:+.0f} %).",
        "",
        "## CNAM 2024 (départements)",
        "",
        f"- {len(result.cnam)} départements (métropole and DROM; region and total rows left out); "
        f"GPs (Ensemble): {int(result.cnam['medecins_generalistes_2024'].sum())}, "
        f"of which without MEP: {int(result.cnam['medecins_generalistes_hors_mep_2024'].sum())} "
        "(both equal the source's FRANCE row)",
        "",
        "## Outputs",
        "",
        "| file | rows | sha256 |",
        "|---|---:|---|",
        *[
            f"| `{name}` | {text.count(chr(10)) - 1} | "
            f"`{hashlib.sha256(text.encode('utf-8')).hexdigest()}` |"
            for name, text in files.items()
        ],
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="copy of shared/data")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    args = parser.parse_args(argv)
    if not args.shared.is_dir():
        raise SystemExit(f"shared data not found at {args.shared} (use --shared)")
    result = build(args.shared)
    files = render(result)
    if args.check:
        return write_or_check(files, args.out, check=True, what=str(args.out))
    write_or_check(files, args.out, check=False, what=str(args.out))
    print(
        f"{len(result.gp)} communes, {int(result.gp['medecins_generalistes'].sum())} GPs "
        f"(k = {result.k:.4f}); codes re-coded {len(result.recoded)}, not mapped "
        f"{len(result.unmapped)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
