#!/usr/bin/env python3
"""Regenerate docs/img/carte_apl_63.png, the README's map (APL of Puy-de-Dôme, simulated GPs)."""

from __future__ import annotations

from pathlib import Path

from geo import analyse, generate_practitioners, load_communes, resolve_territory
from geo.maps import analysis_static_map, save_static_map

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "carte_apl_63.png"


def main() -> None:
    territory = resolve_territory(departements="63")
    gps = generate_practitioners(load_communes(), seed=0, professions=["medecin_generaliste"])
    result = analyse(territory, gps, "apl")
    figure = analysis_static_map(result, territory.name, width_cm=24, height_cm=17, dpi=110)
    print(save_static_map(figure, OUT))


if __name__ == "__main__":
    main()
