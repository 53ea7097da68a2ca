"""Like-for-like benchmark: cartosoins' public 2SFCA / E2SFCA against PySAL access's, all France.

Run: .venv/bin/python benchmarks/bench_access.py [--runs 5] [--ids int str] [--measures ...]

What is compared
----------------
* cartosoins: ``geo.two_step_fca`` / ``geo.enhanced_two_step_fca`` (the public functions, their
  whole validation included: ids, duplicate pairs, costs, amounts).
* PySAL access 1.1.10: ``access.Access(...)`` built on the same frames, then its public
  ``.two_stage_fca`` / ``.enhanced_two_stage_fca`` (the constructor is timed too: it is part of
  the public call and copies the demand and supply frames).

Inputs, built ONCE by the parent outside every timed section and pickled for the children: the
34,871 located communes (chef-lieu points, population 2023) as demand, the synthetic GPs of
``geo.demo`` (seed 0, ~58,500 practitioners, their FTE as capacity) as supply, and a long cost
frame ``origin, dest, cost`` of the straight-line km within 30 km (cKDTree per territory's metric
CRS: mainland, each DROM), in the order cKDTree returns the pairs (neither sorted nor grouped).
Two variants of the same frames: integer ids (a random permutation of 1..n for communes and of
1..m for practitioners, so ids are neither positions nor sorted) and string ids (commune codes
such as "01001", practitioner ids such as "SIM-01004-MG-0002", pandas' default ``str`` dtype).
Catchment 30 km; E2SFCA steps {10: 1, 20: 0.68, 30: 0.22} km.

Each (measure, ids, engine) case runs in a fresh child process: it loads the pickled frames and
imports its engine, then makes one warm-up call and ``--runs`` timed calls, the same for both
engines. Wall time (``time.perf_counter``) and CPU time (``time.process_time``) per call; peak
memory is the high-water mark of the resident set (VmHWM, reset through /proc/self/clear_refs
after loading) minus the resident set before the first call. The parent checks that both engines
give the same values (max relative difference) and NaN at the same communes.

Targets (issue #18): through the public functions, 2SFCA ≥ 3× and E2SFCA ≥ 20× faster than
access, peak memory ≤ half of access's. The verdict is read on the medians (wall and CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _machine import machine_line

CATCHMENT_KM = 30.0
E2SFCA_STEPS_KM = {10.0: 1.0, 20.0: 0.68, 30.0: 0.22}
TARGETS = {"2sfca": 3.0, "e2sfca": 20.0}
MEMORY_TARGET = 0.5


# ----------------------------------------------------------------------------- child side
def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:  # Linux ≥ 4.0: "5" resets VmHWM to the current resident set
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _cartosoins_call(measure: str) -> Any:
    import geo

    def call(demand: pd.DataFrame, supply: pd.DataFrame, cost: pd.DataFrame) -> np.ndarray:
        if measure == "2sfca":
            out = geo.two_step_fca(
                demand, supply, cost, demand_col="pop", supply_col="cap", max_cost=CATCHMENT_KM
            )
        else:
            out = geo.enhanced_two_step_fca(
                demand,
                supply,
                cost,
                demand_col="pop",
                supply_col="cap",
                weights=E2SFCA_STEPS_KM,
                max_cost=CATCHMENT_KM,
            )
        return out  # type: ignore[no-any-return]

    return call


def _access_call(measure: str) -> Any:
    import logging

    from access import Access, weights

    logging.getLogger("access").setLevel(logging.WARNING)

    def call(demand: pd.DataFrame, supply: pd.DataFrame, cost: pd.DataFrame) -> pd.DataFrame:
        model = Access(
            demand_df=demand,
            demand_index=True,
            demand_value="pop",
            supply_df=supply,
            supply_index=True,
            supply_value="cap",
            cost_df=cost,
            cost_origin="origin",
            cost_dest="dest",
            cost_name="cost",
        )
        if measure == "2sfca":
            return model.two_stage_fca(name="v", max_cost=CATCHMENT_KM)
        return model.enhanced_two_stage_fca(
            name="v", max_cost=CATCHMENT_KM, weight_fn=weights.step_fn(E2SFCA_STEPS_KM)
        )

    return call


def child(inputs: Path, engine: str, measure: str, runs: int, out: Path) -> None:
    """Time one engine on one measure in this (fresh) process; write times, peak and values."""
    import gc
    import warnings

    warnings.simplefilter("ignore")  # access's pandas FutureWarnings: not what is measured
    demand, supply, cost = pd.read_pickle(inputs)
    call = _cartosoins_call(measure) if engine == "cartosoins" else _access_call(measure)
    gc.collect()
    _reset_peak()
    baseline = _status_kb("VmRSS")
    result = call(demand, supply, cost)  # warm-up, for both engines
    walls, cpus = [], []
    for _ in range(runs):
        del result
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        result = call(demand, supply, cost)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    peak_mb = (_status_kb("VmHWM") - baseline) / 1024
    # outside the timing: the values in demand's order
    if engine == "cartosoins":
        values = result.to_numpy(dtype="float64")
    else:
        values = result["v_cap"].reindex(demand.index).to_numpy(dtype="float64")
    np.save(out.with_suffix(".npy"), values)
    out.write_text(json.dumps({"wall": walls, "cpu": cpus, "peak_mb": peak_mb}))


# ----------------------------------------------------------------------------- parent side
def prepare(tmp: Path, kinds: list[str]) -> dict[str, Any]:
    """Build the frames of each id kind once and pickle them; return their sizes."""
    from scipy.spatial import cKDTree

    from geo.crs import metric_crs_for
    from geo.demo import generate_practitioners
    from geo.reference import load_communes

    france = load_communes(with_geometry_only=True)
    gps = generate_practitioners(france, seed=0, professions=["medecin_generaliste"])
    group_of_dep = {dep: metric_crs_for([dep]) for dep in france["departement"].unique()}
    demand_crs = france["departement"].map(group_of_dep).to_numpy()
    supply_crs = gps["commune"].map(france.set_index("code")["departement"]).map(group_of_dep)
    supply_crs = supply_crs.to_numpy()
    rows, cols, km = [], [], []
    for crs in sorted(set(demand_crs)):
        di, si = np.flatnonzero(demand_crs == crs), np.flatnonzero(supply_crs == crs)
        if len(di) == 0 or len(si) == 0:
            continue
        a = france["chef_lieu"].iloc[di].to_crs(crs)
        b = gps.geometry.iloc[si].to_crs(crs)
        pairs = cKDTree(np.column_stack([a.x, a.y])).sparse_distance_matrix(
            cKDTree(np.column_stack([b.x, b.y])), CATCHMENT_KM * 1000.0, output_type="ndarray"
        )
        rows.append(di[pairs["i"]])
        cols.append(si[pairs["j"]])
        km.append(pairs["v"] / 1000.0)
    row, col, cost_km = np.concatenate(rows), np.concatenate(cols), np.concatenate(km)
    population = france["population"].to_numpy(dtype="float64")
    capacity = gps["fte"].to_numpy(dtype="float64")
    rng = np.random.default_rng(0)
    ids: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "int": (rng.permutation(len(france)) + 1, rng.permutation(len(gps)) + 1),
        "str": (france["code"].to_numpy(dtype=str), gps["id"].to_numpy(dtype=str)),
    }
    for kind in kinds:
        demand_ids, supply_ids = ids[kind]
        demand = pd.DataFrame({"pop": population}, index=pd.Index(demand_ids, name="code"))
        supply = pd.DataFrame({"cap": capacity}, index=pd.Index(supply_ids, name="id"))
        cost = pd.DataFrame({"origin": demand_ids[row], "dest": supply_ids[col], "cost": cost_km})
        pd.to_pickle((demand, supply, cost), tmp / f"frames-{kind}.pkl")
        del demand, supply, cost
    return {"communes": len(france), "practitioners": len(gps), "pairs": len(row)}


def run_case(inputs: Path, engine: str, measure: str, runs: int, tmp: Path) -> dict[str, Any]:
    """Run one case in a fresh child process and read its results back."""
    out = tmp / f"{engine}-{measure}-{inputs.stem}.json"
    subprocess.run(
        [sys.executable, __file__, "--child", str(inputs), engine, measure, str(runs), str(out)],
        check=True,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    result: dict[str, Any] = json.loads(out.read_text())
    result["values"] = np.load(out.with_suffix(".npy"))
    return result


def compare(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, bool]:
    """Max relative difference where both are finite, and whether the NaN sets are equal."""
    same_nan = bool(np.array_equal(np.isnan(ours), np.isnan(theirs)))
    both = np.isfinite(ours) & np.isfinite(theirs)
    if not both.any():
        return 0.0, same_nan
    diff = np.abs(ours[both] - theirs[both]) / np.maximum(np.abs(theirs[both]), 1e-300)
    return float(diff.max()), same_nan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=5, metavar=("INPUTS", "ENGINE", "MEASURE", "N", "OUT"))
    parser.add_argument(
        "--runs", type=int, default=5, help="timed calls per case (after 1 warm-up)"
    )
    parser.add_argument("--ids", nargs="+", choices=["int", "str"], default=["int", "str"])
    parser.add_argument(
        "--measures", nargs="+", choices=sorted(TARGETS), default=["2sfca", "e2sfca"]
    )
    args = parser.parse_args()
    if args.child:
        inputs, engine, measure, runs, out = args.child
        child(Path(inputs), engine, measure, int(runs), Path(out))
        return 0

    import access
    import scipy

    print(machine_line("start"))
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"pandas {pd.__version__}, access {getattr(access, '__version__', '?')}; "
        f"{args.runs} timed runs per case after 1 warm-up, each case in a fresh process"
    )
    failed = False
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        sizes = prepare(tmp, args.ids)
        print(
            f"inputs: {sizes['communes']} communes, {sizes['practitioners']} synthetic GPs, "
            f"{sizes['pairs']:,} cost rows (straight line ≤ {CATCHMENT_KM:g} km)"
        )
        header = (
            f"{'measure':7s} {'ids':3s} {'engine':10s} {'wall med':>8s} {'best':>6s} "
            f"{'CPU med':>7s} {'best':>6s} {'peak MB':>7s} | {'×wall':>6s} {'×CPU':>6s} "
            f"{'mem':>5s} {'max rel diff':>12s} NaN= verdict"
        )
        print(header)
        print("-" * len(header))
        for measure in args.measures:
            for kind in args.ids:
                inputs = tmp / f"frames-{kind}.pkl"
                ours = run_case(inputs, "cartosoins", measure, args.runs, tmp)
                theirs = run_case(inputs, "access", measure, args.runs, tmp)
                rel, same_nan = compare(ours["values"], theirs["values"])
                med = {
                    name: {k: float(np.median(r[k])) for k in ("wall", "cpu")}
                    for name, r in (("ours", ours), ("theirs", theirs))
                }
                speed_wall = med["theirs"]["wall"] / med["ours"]["wall"]
                speed_cpu = med["theirs"]["cpu"] / med["ours"]["cpu"]
                mem = ours["peak_mb"] / max(theirs["peak_mb"], 1e-9)
                target = TARGETS[measure]
                ok = (
                    min(speed_wall, speed_cpu) >= target
                    and mem <= MEMORY_TARGET
                    and rel <= 1e-9
                    and same_nan
                )
                failed |= not ok
                for name, r in (("cartosoins", ours), ("access", theirs)):
                    key = "ours" if name == "cartosoins" else "theirs"
                    line = (
                        f"{measure:7s} {kind:3s} {name:10s} {med[key]['wall']:7.3f}s "
                        f"{min(r['wall']):5.2f}s {med[key]['cpu']:6.3f}s {min(r['cpu']):5.2f}s "
                        f"{r['peak_mb']:7.0f}"
                    )
                    if name == "cartosoins":
                        line += (
                            f" | {speed_wall:5.1f}× {speed_cpu:5.1f}× {mem:5.2f} {rel:12.1e} "
                            f"{'yes' if same_nan else 'NO ':3s}  "
                            f"{'OK' if ok else 'MISSED'} (≥ {target:g}×, mem ≤ {MEMORY_TARGET})"
                        )
                    print(line, flush=True)
    print(machine_line("end"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
