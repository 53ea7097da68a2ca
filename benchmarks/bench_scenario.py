"""One-site scenario on Puy-de-Dôme (APL): incremental update vs full recomputation, one run.

Run: .venv/bin/python benchmarks/bench_scenario.py [--repeat 7]

Inputs: Puy-de-Dôme (463 communes) with its surroundings (reference layer), the national
synthetic GPs of ``geo.demo`` (seed 0, ~58,000) so that the border effect is real; APL with
the default bands (20 min, supply in consultations).

Cases, each timed in this process:

* incremental: ``add_practitioners(problem, commune=..., n=1)`` on the prepared problem, result
  frames and class transitions included (first call builds the pair index, then the median);
* full recomputation, end to end: ``analyse(territory, scenario_practitioners(result), "apl")``,
  what one would run without scenarios (validation, context, pairs, APL, nearest times);
* full recomputation of the numeric cores only, on the already updated arrays
  (``AccessProblem.recompute()``): the floor of any non-incremental method.

Target (issue "Coverage gaps, scenarios and siting"): the incremental scenario is ≥ 10× faster
than the full recomputation, with identical values (max relative difference ≤ 1e-9).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _machine import cpu_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_SPEEDUP = 10.0


_CPU: list[float] = []  # CPU seconds of the last _timed call, one per run


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    """Wall seconds of each run (CPU seconds of each run left in ``_CPU``) and the last result."""
    times, out = [], None
    _CPU.clear()
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        _CPU.append(time.process_time() - c0)
    return times, out


def _max_rel(a: np.ndarray, b: np.ndarray) -> tuple[float, bool]:
    same_nan = bool((np.isnan(a) == np.isnan(b)).all())
    ok = np.isfinite(a) & np.isfinite(b)
    rel = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300)
    return float(rel.max(initial=0.0)), same_nan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    import pandas as pd
    import scipy

    from geo.analysis import analyse, prepare
    from geo.demo import generate_practitioners
    from geo.reference import load_communes
    from geo.scenario import add_practitioners, retire, scenario_practitioners
    from geo.territory import resolve_territory

    print(
        f"{cpu_model()}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, pandas {pd.__version__}"
    )
    t0 = time.perf_counter()
    gps = generate_practitioners(load_communes(), seed=0, professions=["medecin_generaliste"])
    territory = resolve_territory(departements="63")
    print(
        f"inputs: {len(gps):,} simulated GPs, {len(territory.communes)} communes ({time.perf_counter() - t0:.2f} s)"
    )

    t0 = time.perf_counter()
    problem = prepare(territory, gps, "apl")
    t_prepare = time.perf_counter() - t0
    base = problem.frame
    ctx = base.attrs["context"]
    print(
        f"prepare(Puy-de-Dôme, national GPs, 'apl'): {t_prepare:.2f} s; context "
        f"{ctx['demand_communes']} communes, {ctx['supply_points']} GPs, {ctx['pairs']:,} pairs"
    )
    # the site: the most populated commune in the gap class ("zone sous-dense")
    gap = base[base["value"] < 2.5].sort_values("population", ascending=False)
    code, name = str(gap["code"].iat[0]), str(gap["nom"].iat[0])

    t0 = time.perf_counter()
    first = add_practitioners(problem, commune=code, n=1)
    t_first = time.perf_counter() - t0
    inc_times, res = _timed(lambda: add_practitioners(problem, commune=code, n=1), args.repeat)
    inc_cpu = statistics.median(_CPU)
    meta = res.communes.attrs["scenario"]

    prac = scenario_practitioners(res)
    full_times, full = _timed(lambda: analyse(territory, prac, "apl"), 3)
    full_cpu = statistics.median(_CPU)
    core_times, recomputed = _timed(lambda: res.problem.recompute(), args.repeat)

    inc = statistics.median(inc_times)
    full_med = statistics.median(full_times)
    core = statistics.median(core_times)
    rel, same_nan = _max_rel(res.communes["after"].to_numpy(), full["value"].to_numpy())
    rel_core, _ = _max_rel(res.after["value"].to_numpy(), recomputed.result()["value"].to_numpy())
    speedup = full_med / inc
    ok = speedup >= TARGET_SPEEDUP and rel <= 1e-9 and same_nan
    delta = res.communes["delta"].to_numpy()
    changed = int((np.isfinite(delta) & (delta != 0)).sum())
    print(f"\none GP added at {name} ({code}), APL before {gap['value'].iat[0]:.3f}:")
    print(
        f"  incremental scenario: first call {t_first * 1000:.1f} ms (builds the pair index), "
        f"then median {inc * 1000:.1f} ms (CPU {inc_cpu * 1000:.1f} ms), best "
        f"{min(inc_times) * 1000:.1f} ms over {args.repeat}; "
        f"{meta['pairs_read']:,} pair reads of {meta['pairs_total']:,} pairs, "
        f"{meta['communes_updated']} context communes updated, {changed} territory communes changed"
    )
    print(
        f"  full recomputation analyse(): median {full_med * 1000:.0f} ms "
        f"(CPU {full_cpu * 1000:.0f} ms, 3 runs) -> "
        f"speed-up {speedup:.0f}x (target >= {TARGET_SPEEDUP:g}x) {'OK' if ok else 'MISSED'}; "
        f"max rel. diff {rel:.1e}, same NaN: {same_nan}"
    )
    print(
        f"  numeric cores only on the updated arrays (recompute()): median {core * 1000:.1f} ms "
        f"-> incremental/core ratio {core / inc:.2f}x; max rel. diff {rel_core:.1e}"
    )
    print(
        f"  population lifted out of 'zone sous-dense': "
        f"{res.summary['population_lifted_out_of_gap']:,.0f}"
    )
    del first

    ret_times, ret = _timed(lambda: retire(problem, horizon_year=2030), 3)
    ret_cpu = statistics.median(_CPU)
    prac_2030 = scenario_practitioners(ret)
    full_ret_times, full_ret = _timed(lambda: analyse(territory, prac_2030, "apl"), 3)
    rel_ret, nan_ret = _max_rel(ret.communes["after"].to_numpy(), full_ret["value"].to_numpy())
    s = ret.summary
    print(
        f"\nretirements by 2030 at 67: {s['leaving_territory']:,} GPs of the territory, "
        f"{s['leaving_surroundings']:,} of its surroundings in reach ({s['leaving_elsewhere']:,} "
        "others of the national input); "
        f"incremental median {statistics.median(ret_times) * 1000:.0f} ms "
        f"(CPU {ret_cpu * 1000:.0f} ms), full "
        f"{statistics.median(full_ret_times) * 1000:.0f} ms "
        f"({statistics.median(full_ret_times) / statistics.median(ret_times):.0f}x); max rel. "
        f"diff {rel_ret:.1e}, same NaN: {nan_ret}; population pushed into 'zone sous-dense': "
        f"{ret.summary['population_pushed_into_gap']:,.0f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
