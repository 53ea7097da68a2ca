#!/usr/bin/env python3
"""Regenerate docs/img/carte_apl_63.png, the README's map (APL of Puy-de-Dôme, real GPs)."""

from __future__ import annotations

from pathlib import Path

from geo import analyse, load_gp_offer, resolve_territory
from geo.maps import analysis_static_map, save_static_map

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "carte_apl_63.png"


def main() -> None:
    territory = resolve_territory(departements="63")
    gps = load_gp_offer().practitioners()  # INSEE BPE, the default data
    result = analyse(territory, gps, "apl")
    figure = analysis_static_map(result, territory.name, width_cm=24, height_cm=17, dpi=110)
    print(save_static_map(figure, OUT))


if __name__ == "__main__":
    main()
