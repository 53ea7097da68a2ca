"""Exact location models: ``geo.location`` (scipy HiGHS) vs PySAL spopt 0.7 (PuLP + CBC).

Run: .venv/bin/python benchmarks/bench_location.py [--repeat 5] [--large]

Public call against public call on the same cost matrix, same number of runs: ours is
``set_covering`` / ``p_median`` / ``max_coverage`` (validation, both MILP stages of the tie
rule, and the result arrays included), spopt's is ``LSCP`` / ``PMedian`` / ``MCLP``
``.from_cost_matrix(...).solve(pulp.PULP_CBC_CMD(msg=False))``. CBC runs in a child process:
its CPU time is counted (``RUSAGE_CHILDREN``) beside this process's ``time.process_time``.
The objective of both is printed (they must agree), and ours with ``tie_break="none"`` shows
what the tie rule costs.

Instances: spopt's San Francisco test matrix (205 tracts × 16 stores, network metres,
POP2000; read from spopt's installed test data), and random Euclidean ones (uniform points in a
100 km square, log-normal weights, seed 0): 500 × 100, and with ``--large`` 1,000 × 150 (CBC took over 10 min on the 2,000 × 300 p-median).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _machine import cpu_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _measure(call: Callable[[], float], repeat: int) -> tuple[list[float], list[float], float]:
    walls, cpus, value = [], [], float("nan")
    for _ in range(repeat):
        child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0, t0 = time.process_time(), time.perf_counter()
        value = call()
        wall = time.perf_counter() - t0
        child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        children = (child1.ru_utime + child1.ru_stime) - (child0.ru_utime + child0.ru_stime)
        walls.append(wall)
        cpus.append(time.process_time() - c0 + children)
    return walls, cpus, value


def _instances(large: bool) -> list[tuple[str, np.ndarray, np.ndarray, float, float, int]]:
    """(name, cost, weights, LSCP radius, MCLP radius, p)."""
    import pandas as pd
    import spopt

    out = []
    data = Path(spopt.__file__).parent / "tests" / "test_locate" / "data"
    if data.is_dir():
        dist = pd.read_csv(data / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
        pivot = dist.pivot_table(values="distance", index="DestinationName", columns="name")
        demand = pd.read_csv(data / "SF_demand_205_centroid_uniform_weight.csv")
        w = demand.sort_values("NAME")["POP2000"].to_numpy(dtype=float)
        out.append(("SF 205×16", pivot.to_numpy(), w, 5000.0, 5000.0, 4))
    sizes = [(500, 100)] + ([(1000, 150)] if large else [])
    rng = np.random.default_rng(0)
    for n, m in sizes:
        demand, sites = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 100, (m, 2))
        diff = demand[:, None, :] - sites[None, :, :]
        cost = np.hypot(diff[..., 0], diff[..., 1])
        w = np.round(rng.lognormal(6, 1.2, n))
        out.append((f"random {n}×{m}", cost, w, 20.0, 12.0, 8))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--large", action="store_true", help="add a 1,000 × 150 instance")
    args = parser.parse_args()

    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from spopt.locate import LSCP, MCLP, PMedian

    from geo.location import max_coverage, p_median, set_covering

    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical)")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"runs per case: {args.repeat}; times in ms: median / best; CPU includes CBC's child")

    def spopt_call(model: str, cost: np.ndarray, w: np.ndarray, r: float, p: int) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if model == "set_covering":
                built: Any = LSCP.from_cost_matrix(cost, r)
            elif model == "max_coverage":
                built = MCLP.from_cost_matrix(cost, w, r, p)
            else:
                built = PMedian.from_cost_matrix(cost, w, p)
            solved = built.solve(pulp.PULP_CBC_CMD(msg=False))
        return float(solved.problem.objective.value())

    def ours_call(model: str, cost: np.ndarray, w: np.ndarray, r: float, p: int, tie: str) -> float:
        if model == "set_covering":
            return set_covering(cost, r, tie_break=tie).objective  # type: ignore[arg-type]
        if model == "max_coverage":
            return max_coverage(cost, w, r, p, tie_break=tie).objective  # type: ignore[arg-type]
        return p_median(cost, w, p, tie_break=tie).objective  # type: ignore[arg-type]

    header = (
        f"{'instance':<16} {'model':<13} {'spopt wall':>16} {'spopt CPU':>16} "
        f"{'ours wall':>14} {'ours CPU':>14} {'no-tie wall':>12} {'speed-up':>8}  objectives"
    )
    print(header)
    print("-" * len(header))
    for name, cost, w, r_lscp, r_mclp, p in _instances(args.large):
        for model in ("set_covering", "max_coverage", "p_median"):
            r = r_lscp if model == "set_covering" else r_mclp
            sw, sc, sv = _measure(lambda: spopt_call(model, cost, w, r, p), args.repeat)  # noqa: B023
            ow, oc, ov = _measure(
                lambda: ours_call(model, cost, w, r, p, "lexicographic"),  # noqa: B023
                args.repeat,
            )
            nw, _, _ = _measure(lambda: ours_call(model, cost, w, r, p, "none"), args.repeat)  # noqa: B023
            agree = "equal" if abs(sv - ov) <= 1e-9 * max(1.0, abs(sv)) else "DIFFER"
            ms = 1000.0
            print(
                f"{name:<16} {model:<13} "
                f"{statistics.median(sw) * ms:>8.0f} / {min(sw) * ms:<6.0f} "
                f"{statistics.median(sc) * ms:>8.0f} / {min(sc) * ms:<6.0f} "
                f"{statistics.median(ow) * ms:>6.0f} / {min(ow) * ms:<6.0f} "
                f"{statistics.median(oc) * ms:>6.0f} / {min(oc) * ms:<6.0f} "
                f"{statistics.median(nw) * ms:>12.0f} "
                f"{statistics.median(sw) / statistics.median(ow):>7.1f}×  "
                f"{sv:,.6g} vs {ov:,.6g} {agree}"
            )
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
