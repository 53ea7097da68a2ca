"""Time to generate the synthetic practitioners of all France.

Run: .venv/bin/python benchmarks/bench_demo.py

Target (issue "Foundation", helper brief): all professions for the 34,875 communes in < 3 s.
"""

from __future__ import annotations

import platform
import statistics
import time

from geo.demo import generate_practitioners
from geo.reference import load_communes

TARGET_S = 3.0


def main() -> int:
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    france = load_communes()
    for professions, label in ((None, "all professions"), (["medecin_generaliste"], "GPs")):
        times = []
        for seed in range(3):
            t0 = time.perf_counter()
            out = generate_practitioners(france, seed=seed, professions=professions)
            times.append(time.perf_counter() - t0)
        print(
            f"France, {label:16s} rows={len(out):7d}  median={statistics.median(times):.2f}s  "
            f"worst={max(times):.2f}s  target<{TARGET_S}s  ratio={max(times) / TARGET_S:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
