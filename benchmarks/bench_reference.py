"""Loading times of the reference communes layer.

Run: .venv/bin/python benchmarks/bench_reference.py [--repeat 7]

Targets (issue "Foundation"): all of France < 1 s, one département < 0.2 s. The first call of
each case runs in a fresh interpreter state of the loader (caches cleared), the others show the
steady state; the verdict uses the worst (first) call.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import geopandas as gpd

from geo import reference

TARGETS_S = {"France (34,875 communes)": 1.0, "Puy-de-Dôme (63)": 0.2, "CA Clermont (EPCI)": 0.2}


def _cases() -> dict[str, Callable[[], gpd.GeoDataFrame]]:
    return {
        "France (34,875 communes)": lambda: reference.load_communes(),
        "Puy-de-Dôme (63)": lambda: reference.load_communes(departements="63"),
        "CA Clermont (EPCI)": lambda: reference.load_communes(epci="246300701"),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, geopandas {gpd.__version__}"
    )
    failed = False
    for name, fn in _cases().items():
        times = []
        for i in range(args.repeat):
            if i == 0:
                reference._table.cache_clear()
                reference._all_commune_codes.cache_clear()
            t0 = time.perf_counter()
            gdf = fn()
            times.append(time.perf_counter() - t0)
        target = TARGETS_S[name]
        worst = max(times)
        ok = worst < target
        failed |= not ok
        print(
            f"{name:28s} rows={len(gdf):6d}  first={times[0]:.3f}s  "
            f"median={statistics.median(times):.3f}s  worst={worst:.3f}s  "
            f"target<{target}s  ratio={worst / target:.2f}  {'OK' if ok else 'MISSED'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
