"""Calibrate the activity counted for each GP of a headcount-only file (the embedded BPE).

The official APL counts each GP's yearly consultations and visits (with DREES's floors and
caps); the BPE only counts GPs. One activity per GP is then chosen so that the national
APL of métropole, computed on the embedded data exactly as ``analyse`` does by default
(fitted travel times, embedded age structure, DREES weights, mean weighted by standardised
population with zeros, communes not covered left out), equals the national figure DREES
publishes for the data's year. The APL is linear in the supply, so one run with 1
consultation per GP gives the factor.

    python scripts/calibrate_apl.py           # writes data/offre/calibration_apl.json
    python scripts/calibrate_apl.py --check   # recomputes and compares
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.analysis import analyse  # noqa: E402
from geo.drees import (  # noqa: E402
    DEFAULT_AGE_WEIGHTS_EDITION,
    HEADCOUNT_CALIBRATION_TARGET,
    load_activity_calibration,
)
from geo.offer import load_gp_offer  # noqa: E402
from geo.reference import load_communes  # noqa: E402
from geo.traveltime import load_default_model  # noqa: E402

OUT = ROOT / "data" / "offre" / "calibration_apl.json"


def calibrate() -> dict[str, object]:
    """Run the national APL at one consultation per GP and derive the activity per GP."""
    offer = load_gp_offer()
    practitioners = offer.practitioners()
    communes = load_communes()
    metro = communes[communes["zone"] == "metro"].reset_index(drop=True)
    started = time.perf_counter()
    result = analyse(metro, practitioners, "apl", activity_per_gp=1.0)
    seconds = time.perf_counter() - started
    summary = result.attrs["summary"]
    mean_at_one = float(summary["population_weighted_mean"])
    year, target, source = HEADCOUNT_CALIBRATION_TARGET
    per_gp = round(target / mean_at_one, 1)
    return {
        "consultations_per_gp": per_gp,
        "target_apl": target,
        "target_year": year,
        "target_source": source,
        "details": {
            "data": offer.source_label,
            "territory": "France métropolitaine (communes couvertes par la source)",
            "communes": len(metro),
            "communes_missing": int(summary["communes_missing"]),
            "population": float(summary["population"]),
            "population_missing": float(summary["population_missing"]),
            "gps": len(practitioners),
            "apl_at_one_consultation_per_gp": mean_at_one,
            "mean_weights": summary["mean_weights"],
            "travel_model": load_default_model().name,
            "age_weights_edition": DEFAULT_AGE_WEIGHTS_EDITION,
            "catchment_minutes": result.attrs["parameters"]["catchment_minutes"],
            "seconds": round(seconds, 1),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args(argv)
    data = calibrate()
    if args.check:
        committed = json.loads(OUT.read_text("utf-8"))
        same = committed["consultations_per_gp"] == data["consultations_per_gp"]
        print(
            f"committed {committed['consultations_per_gp']} / recomputed "
            f"{data['consultations_per_gp']} consultations per GP: "
            + ("identical" if same else "DIFFERENT")
        )
        return 0 if same else 1
    data["details"].pop("seconds", None)  # type: ignore[union-attr]
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
    load_activity_calibration.cache_clear()
    print(f"wrote {OUT}: {data['consultations_per_gp']} consultations per GP")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
