"""Regenerate docs/validation.md: how close the project's APL is to the official one.

Computes, on the embedded data and the staged real samples (../shared/data):
the national APL and the population in each zonage class, the same with the former travel
rule, the mean per département beside the embedded and CNAM 2024 headcounts, the APL of Isère
on real OSRM times against the fitted and the former straight-line models, and gathers the
measured errors of the travel-time model and of the estimated age structures.

    python scripts/validate_apl.py            # writes docs/validation.md (about a minute)
    python scripts/validate_apl.py --shared DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.analysis import MISSING_STATUS, analyse  # noqa: E402
from geo.drees import (  # noqa: E402
    DEFAULT_AGE_WEIGHTS_EDITION,
    NATIONAL_APL_PUBLISHED,
    load_activity_calibration,
)
from geo.offer import cnam_headcounts, load_gp_offer  # noqa: E402
from geo.reference import list_departements, load_communes  # noqa: E402

OUT = ROOT / "docs" / "validation.md"
ZONAGE = (2.5, 4.0)


def fr(value: float, decimals: int = 2) -> str:
    """French number format (narrow no-break space for thousands, decimal comma)."""
    if value is None or not np.isfinite(value):
        return "—"
    text = f"{value:,.{decimals}f}".replace(",", "\u202f").replace(".", ",")
    return text


def pct(value: float) -> str:
    return fr(100.0 * value, 1) + " %"


def zonage_shares(result: pd.DataFrame) -> dict[str, float]:
    """Share of the covered population below 2.5, 2.5–4 and from 4 (DREES's zonage bounds)."""
    ok = (result["status"] != MISSING_STATUS).to_numpy() & result["value"].notna().to_numpy()
    pop = result["population"].to_numpy(float)[ok]
    v = result["value"].to_numpy(float)[ok]
    total = pop.sum()
    return {
        "< 1,5": pop[v < 1.5].sum() / total,
        "< 2,5": pop[v < 2.5].sum() / total,
        "2,5–4": pop[(v >= 2.5) & (v < 4.0)].sum() / total,
        "≥ 4": pop[v >= 4.0].sum() / total,
        "0 (aucun médecin à moins de 20 min)": pop[v == 0].sum() / total,
    }


def departement_table(result: pd.DataFrame) -> pd.DataFrame:
    ok = result[result["status"] != MISSING_STATUS]
    grouped = (
        ok.assign(w=ok["value"] * ok["demand"])
        .groupby("departement")
        .agg(w=("w", "sum"), demand=("demand", "sum"), population=("population", "sum"))
    )
    grouped["apl"] = grouped["w"] / grouped["demand"]
    counts = load_gp_offer().counts
    embedded = (
        counts.assign(departement=counts["code"].map(result.set_index("code")["departement"]))
        .groupby("departement")["medecins_generalistes"]
        .sum()
    )
    deps = list_departements().set_index("code")
    cnam = cnam_headcounts().set_index("departement")
    table = pd.DataFrame(
        {
            "nom": deps["nom"],
            "apl": grouped["apl"],
            "embedded": embedded,
            "cnam": cnam["medecins_generalistes_2024"],
        }
    )
    return table


def isere_comparison(shared: Path) -> dict[str, dict[str, float]]:
    """APL of Isère on the real OSRM matrix against the straight-line models, same inputs."""
    practitioners = load_gp_offer().practitioners()
    practitioners = practitioners[practitioners["commune"].str.startswith("38")]
    isere = load_communes(departements="38")
    matrix = shared / "od" / "isere_osrm_car_seconds_neocarto.csv"
    common = {"surroundings": isere}
    real = analyse(isere, practitioners, "apl", travel="od_table", od_table=str(matrix), **common)
    truth = real.set_index("code")["value"]
    out: dict[str, dict[str, float]] = {}
    for label, model in (
        ("modèle ajusté (défaut)", None),
        ("ancienne règle 1,3 × d à 60 km/h", "legacy"),
    ):
        res = analyse(isere, practitioners, "apl", travel_model=model, **common)
        v = res.set_index("code")["value"].reindex(truth.index)
        ok = truth.notna() & v.notna()
        t, m = truth[ok].to_numpy(), v[ok].to_numpy()
        cls_t, cls_m = np.digitize(t, ZONAGE), np.digitize(m, ZONAGE)
        out[label] = {
            "pearson": float(np.corrcoef(t, m)[0, 1]),
            "spearman": float(pd.Series(t).rank().corr(pd.Series(m).rank())),
            "mae": float(np.abs(m - t).mean()),
            "median_abs": float(np.median(np.abs(m - t))),
            "class_changed": float((cls_t != cls_m).mean()),
            "below_2_5_real": float((t < 2.5).mean()),
            "below_2_5_model": float((m < 2.5).mean()),
            "mean_real": float(t.mean()),
            "mean_model": float(m.mean()),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    if not (args.shared / "od").is_dir():
        raise SystemExit(f"real samples not found at {args.shared}: pass --shared DIR")
    started = time.perf_counter()
    offer = load_gp_offer()
    practitioners = offer.practitioners()
    communes = load_communes()
    metro = communes[communes["zone"] == "metro"].reset_index(drop=True)
    national = analyse(communes, practitioners, "apl")
    legacy = analyse(metro, practitioners, "apl", travel_model="legacy")
    calibration = load_activity_calibration()
    shares, shares_legacy = zonage_shares(national), zonage_shares(legacy)
    deps = departement_table(national)
    isere = isere_comparison(args.shared)
    travel = json.loads((ROOT / "data" / "travel" / "modele_temps_trajet.json").read_text("utf-8"))
    cv = travel["model"]["cv"]
    summary = national.attrs["summary"]
    lines = render(
        summary, calibration, shares, shares_legacy, legacy.attrs["summary"], deps, isere, cv
    )
    OUT.write_text("\n".join(lines) + "\n", "utf-8")
    print(f"wrote {OUT} in {time.perf_counter() - started:.0f} s")
    return 0


def render(
    summary: dict[str, object],
    calibration: object,
    shares: dict[str, float],
    shares_legacy: dict[str, float],
    summary_legacy: dict[str, object],
    deps: pd.DataFrame,
    isere: dict[str, dict[str, float]],
    cv: dict[str, dict[str, float]],
) -> list[str]:
    cal = calibration
    published = ", ".join(
        f"{year} : {fr(v, 2)} ({src})" for year, (v, src) in sorted(NATIONAL_APL_PUBLISHED.items())
    )
    out = [
        "# Validation: the project's APL against the official one",
        "",
        "Generated by `python scripts/validate_apl.py` (needs `../shared/data`); do not edit by hand.",
        "The official per-commune APL is NOT in the repository and was not used to fit anything:",
        "every figure below is computed from the embedded data and the staged public samples.",
        "",
        "## What is reproduced, what is not",
        "",
        "| component | official APL (DREES) | cartosoins by default | status |",
        "|---|---|---|---|",
        "| unit of computation | commune, from its chef-lieu (town hall) | same (reference town halls) | reproduced |",
        "| distance decay | 1 < 10 min, 2/3 for 10–15, 1/3 for 15–20, 0 beyond (sheet « Paramètres ») | same values, each band includes its lower bound (`geo._fca.BandWeights`); a time of exactly 20 min is in the last band | reproduced (bounds read from the sheet's wording) |",
        "| travel times | road times between chefs-lieux | straight-line distance → minutes with a model fitted on real OSRM times of **Isère only** (`data/travel/`); an OD table or an OSM extract may be given instead | **estimated** (error below) |",
        "| islands | road network: no crossing without a bridge | islands without a road bridge reach only their own communes (`geo.islands`) | reproduced (no ferries) |",
        "| supply | consultations + visits of each libéral GP (SNIIR-AM), floors and caps, 5,400 for a new GP, no caps in health centres | applied when a file carries `consultations_per_year` (`geo.drees.capped_activity`); the embedded BPE counts GPs only: one calibrated activity per GP | **estimated** for the embedded data |",
        "| practitioners | GPs of the year (libéraux, some MEP, salaried in centres de santé) | INSEE BPE D201, libéral GPs, vintage probably 2017 (`data/offre/`) | **vintage and field differ** |",
        f"| demand | population municipale × DREES age weights (national consumption) | population 2023 × DREES weights {DEFAULT_AGE_WEIGHTS_EDITION} (2022 available) × the commune's age structure: census 2021 where staged (3,300+ inhabitants), estimated elsewhere (`data/population/`) | reproduced for the weights; age structure **estimated** for 31,597 communes |",
        "| commune with no GP within 20 min | 0 | 0, status « aucun médecin à moins de 20 min », counted in means | reproduced |",
        "| territory mean | weighted by standardised population, zeros included | same | reproduced |",
        "| zonage variant « médecins de 65 ans ou moins » | computed | not computable: the BPE has no ages (`exclude_aged_from` works on files with ages) | **left out** |",
        "| Paris | covered | missing from the BPE source: « non renseigné », its GPs estimated from CNAM 2024 for its neighbours only | **missing** |",
        "| DROM | covered (not Mayotte) | not covered by the BPE D201 file: « non renseigné » | **missing** |",
        "",
        "## National figures",
        "",
        f"- Activity counted per GP (headcount-only data): **{fr(cal.consultations_per_gp, 0)}** consultations and visits a year, "
        f"calibrated so that the national APL of métropole equals **{fr(cal.target_apl, 3)}** "
        f"({cal.target_year}: {cal.target_source}). By construction the national mean is therefore not a validation; "
        "published national figures: " + published + ".",
        f"- National mean computed (all communes covered, standardised-population weights): "
        f"**{fr(float(summary['population_weighted_mean']), 3)}**; communes « non renseigné »: "
        f"{summary['communes_missing']} ({fr(float(summary['population_missing']), 0)} inhabitants).",
        f"- Communes with no GP within 20 minutes: {summary['communes_without_supply']} "
        f"({fr(float(summary['population_without_supply']), 0)} inhabitants).",
        "",
        "Population of the covered communes by APL class (zonage bounds):",
        "",
        "| class | fitted travel model (default) | former rule 1.3 × d at 60 km/h |",
        "|---|---|---|",
    ]
    for key in shares:
        out.append(f"| {key} | {pct(shares[key])} | {pct(shares_legacy[key])} |")
    out += [
        "",
        "Public anchors: DREES counted 8.6 % of the population below 2.5 in 2016 (all GPs; "
        "DREES, May 2018) and 3.8 % → 5.7 % of the population in « zones sous-denses » between "
        "2015 and 2018 (Études et Résultats n° 1144). The share above is larger: the APL's spread is wider "
        "here, for reasons listed under « What is reproduced » (uniform activity per GP, travel "
        "times estimated with a model fitted on a mountain département, a 2017 offer).",
        "",
        "## Travel-time model (Isère, real OSRM car times)",
        "",
        "Cross-validated on held-out communes (5 folds), pairs with OSRM ≤ 30 min "
        "(`data/travel/README.md` has every candidate form):",
        "",
        "| model | median abs. error | P90 abs. error | bias | pairs changing APL band |",
        "|---|---|---|---|---|",
    ]
    for label, key in (("former rule 1.3 × d", "legacy"), ("fitted (default)", "chosen")):
        c = cv[key]
        out.append(
            f"| {label} | {fr(c['median_abs_le30'])} min | {fr(c['p90_abs_le30'])} min | "
            f"{fr(c['bias_le30'])} min | {pct(c['band_change_le30'])} |"
        )
    out += [
        "",
        "**Fitted on one département.** Isère mixes high mountains and dense valleys; elsewhere "
        "(flat countryside) the model probably overestimates times, so rural APL values lean low.",
        "",
        "APL of the 512 communes of Isère with the embedded GPs of Isère, on the real OSRM matrix "
        "(taken as the truth) against each straight-line model; same inputs otherwise, "
        "Isère alone (no border effect on either side). The fitted model was fitted on these "
        "times, so this is an in-sample check of its effect on the APL:",
        "",
        "| model | Pearson r | Spearman ρ | mean abs. diff. | median abs. diff. | communes changing zonage class | < 2.5 (OSRM → model) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, m in isere.items():
        out.append(
            f"| {label} | {fr(m['pearson'], 3)} | {fr(m['spearman'], 3)} | {fr(m['mae'])} | "
            f"{fr(m['median_abs'])} | {pct(m['class_changed'])} | "
            f"{pct(m['below_2_5_real'])} → {pct(m['below_2_5_model'])} |"
        )
    out += [
        "",
        "## Age structure of the communes",
        "",
        "Census bands are used where staged; the other communes' bands are estimated and "
        "validated by leaving known communes out (`data/population/README.md`): error of the "
        "standardised population ratio, median 0.95 % and P90 2.5 % (5-fold), 1.2 % and 2.9 % "
        "on the communes under 5,000 inhabitants, against 3.6 % / 9.6 % for the national profile. "
        "The estimated communes are smaller than every training commune: the real error is "
        "probably larger.",
        "",
        "## Départements: APL, embedded GPs and CNAM 2024",
        "",
        "The BPE (2017 probable) counts libéral practices; the CNAM 2024 headcount counts libéral "
        "GPs. The ratio shows the vintage and field gap département by département "
        "(the Paris row is the estimate).",
        "",
        "| département | APL (standardised mean) | GPs embedded | GPs CNAM 2024 | embedded / CNAM |",
        "|---|---|---|---|---|",
    ]
    for code, row in deps.sort_index().iterrows():
        ratio = row["embedded"] / row["cnam"] if row["cnam"] else float("nan")
        out.append(
            f"| {code} {row['nom']} | {fr(row['apl'])} | {fr(row['embedded'], 0)} | "
            f"{fr(row['cnam'], 0)} | {fr(ratio)} |"
        )
    out += [
        "",
        "## Deviations stated in every result",
        "",
        "Each result carries them in its metadata: `sources.practitioners` (the BPE and its "
        "vintage), `parameters.activity` (the calibrated activity and its target), "
        "`parameters.age_source`, `travel.model*` (the fitted model and what it was fitted on), "
        "`summary.missing_reasons` (communes « non renseigné » and why).",
    ]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
