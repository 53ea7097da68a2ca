"""The default APL through the public ``geo.analyse`` on the embedded real GPs.

Run: .venv/bin/python benchmarks/bench_analyse.py [--repeat 5]

Inputs: the embedded INSEE BPE GPs (``geo.load_gp_offer().practitioners()``, ~60,500 points)
and the reference communes; the call is exactly what ``make map``, the CLI and the service run
by default: the fitted straight-line travel model, islands, the embedded age structure with
DREES's weights, the calibrated activity per GP, 0 where no GP is within 20 minutes.

Cases, each called ``--repeat`` times in this process after one warm-up call (the reference
layers, the age structure and the island polygons are read once and cached, as in a server):
all of France (métropole + DROM, 34,875 communes), métropole only, one département
(Puy-de-Dôme, 463 communes, with its surroundings). Wall and CPU time per call, median and
best; the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from geo import analyse, load_communes, load_gp_offer

    gps = load_gp_offer().practitioners()
    france = load_communes()
    cases = {
        "France (métropole + DROM)": france,
        "métropole": france[france["zone"] == "metro"].reset_index(drop=True),
        "Puy-de-Dôme (63)": load_communes(departements="63"),
    }
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"practitioners: {len(gps):,} GPs (INSEE BPE); repeat: {args.repeat} (+1 warm-up)")
    print("| territory | communes | wall median | wall best | CPU median | national mean |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, communes in cases.items():
        analyse(communes, gps, "apl")  # warm-up: caches
        walls, cpus = [], []
        result = None
        for _ in range(args.repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            result = analyse(communes, gps, "apl")
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        assert result is not None
        mean = result.attrs["summary"]["population_weighted_mean"]
        print(
            f"| {name} | {len(communes):,} | {statistics.median(walls):.2f} s | "
            f"{min(walls):.2f} s | {statistics.median(cpus):.2f} s | {mean:.3f} |"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
