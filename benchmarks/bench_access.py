"""cartosoins' floating-catchment engine vs PySAL access, all of France, in one run.

Run: .venv/bin/python benchmarks/bench_access.py

Inputs: the 34,871 located communes of métropole + DROM (chef-lieu points, population 2023) and
the synthetic GPs of ``geo.demo`` (seed 0, ~58,000 points); straight lines in each territory's
metric CRS; a 30 km catchment (costs in km, E2SFCA steps {10: 1, 20: 0.68, 30: 0.22}).

Each case runs in a fresh child process that loads the same prepared inputs, then builds its
pairs (cKDTree for both: access's own ``create_euclidean_distance`` is a 35k × 58k cross join)
and computes the measure. Time and peak memory (VmHWM − VmRSS before the work, from
/proc/self/status) are measured in that child. The parent compares the values of both engines.

Targets (issue "Accessibility engine"): E2SFCA ≥ 20× faster than access, 2SFCA ≥ 3×, peak memory
≤ half of access's, whole-France APL (costs included) < 1.5 s.
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

import numpy as np
import pandas as pd

CATCHMENT_KM = 30.0
E2SFCA_STEPS_KM = {10.0: 1.0, 20.0: 0.68, 30.0: 0.22}


# ----------------------------------------------------------------------------- child side
def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _load(inputs: Path) -> dict[str, np.ndarray]:
    data = np.load(inputs, allow_pickle=False)
    return {k: data[k] for k in data.files}


def _pairs_by_crs(d: dict[str, np.ndarray], max_km: float):  # type: ignore[no-untyped-def]
    """cKDTree pairs within max_km, per metric CRS group (mainland, each DROM)."""
    from scipy.spatial import cKDTree

    rows, cols, dist = [], [], []
    for g in np.unique(d["demand_group"]):
        di = np.flatnonzero(d["demand_group"] == g)
        si = np.flatnonzero(d["supply_group"] == g)
        if len(di) == 0 or len(si) == 0:
            continue
        m = cKDTree(d["demand_xy"][di]).sparse_distance_matrix(
            cKDTree(d["supply_xy"][si]), max_km * 1000.0, output_type="ndarray"
        )
        rows.append(di[m["i"]])
        cols.append(si[m["j"]])
        dist.append(m["v"] / 1000.0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(dist)


def _run_engine(d: dict[str, np.ndarray], measure: str) -> np.ndarray:
    from geo import _fca
    from geo.costs import km_to_minutes

    if measure == "apl":
        # the APL works on minutes: 20 min at the default detour factor and speed
        from geo.costs import minutes_to_km

        rows, cols, km = _pairs_by_crs(d, minutes_to_km(20.0))
        minutes = km_to_minutes(km)
        return _fca.apl_core(
            d["population"], d["consultations"], rows, cols, minutes, supply_unit="consultations"
        )
    rows, cols, km = _pairs_by_crs(d, CATCHMENT_KM)
    if measure == "2sfca":
        return _fca.two_step_fca_core(
            d["population"], d["capacity"], rows, cols, km, max_cost=CATCHMENT_KM
        )
    return _fca.enhanced_two_step_fca_core(
        d["population"],
        d["capacity"],
        rows,
        cols,
        km,
        steps=E2SFCA_STEPS_KM,
        max_cost=CATCHMENT_KM,
    )


def _run_access(d: dict[str, np.ndarray], measure: str) -> np.ndarray:
    import logging

    from access import Access, weights

    logging.getLogger("access").setLevel(logging.WARNING)
    demand_ids = d["demand_id"].astype(str)
    supply_ids = d["supply_id"].astype(str)
    rows, cols, km = _pairs_by_crs(d, CATCHMENT_KM)
    cost_df = pd.DataFrame({"origin": demand_ids[rows], "dest": supply_ids[cols], "cost": km})
    demand_df = pd.DataFrame({"code": demand_ids, "pop": d["population"]})
    supply_df = pd.DataFrame({"id": supply_ids, "cap": d["capacity"]})
    acc = Access(
        demand_df=demand_df,
        demand_index="code",
        demand_value="pop",
        supply_df=supply_df,
        supply_index="id",
        supply_value="cap",
        cost_df=cost_df,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    if measure == "2sfca":
        out = acc.two_stage_fca(name="v", max_cost=CATCHMENT_KM)
    else:
        out = acc.enhanced_two_stage_fca(
            name="v", max_cost=CATCHMENT_KM, weight_fn=weights.step_fn(E2SFCA_STEPS_KM)
        )
    series = out.iloc[:, 0].reindex(demand_ids)
    return series.to_numpy(dtype="float64")


def child(inputs: Path, engine: str, measure: str, repeat: int, out: Path) -> None:
    import gc

    d = _load(inputs)
    fn = _run_engine if engine == "cartosoins" else _run_access
    if engine == "cartosoins":  # import cost out of the timing, as for access below
        import geo._fca  # noqa: F401
    else:
        import access  # noqa: F401
    gc.collect()
    baseline = _status_kb("VmRSS")
    times = []
    values = np.empty(0)
    for _ in range(repeat):
        t0 = time.perf_counter()
        values = fn(d, measure)
        times.append(time.perf_counter() - t0)
    peak = _status_kb("VmHWM") - baseline
    np.save(out.with_suffix(".npy"), values)
    out.write_text(json.dumps({"times": times, "peak_mb": peak / 1024}))


# ----------------------------------------------------------------------------- parent side
def prepare(path: Path) -> dict[str, int]:
    from geo.crs import metric_crs_for
    from geo.demo import generate_practitioners
    from geo.reference import load_communes

    france = load_communes(with_geometry_only=True)
    gps = generate_practitioners(france, seed=0, professions=["medecin_generaliste"])
    group_of_dep = {dep: metric_crs_for([dep]) for dep in france["departement"].unique()}
    demand_crs = france["departement"].map(group_of_dep).to_numpy()
    gp_dep = gps["commune"].map(france.set_index("code")["departement"])
    supply_crs = gp_dep.map(group_of_dep).to_numpy()
    groups = {c: i for i, c in enumerate(sorted(set(demand_crs)))}
    demand_xy = np.zeros((len(france), 2))
    supply_xy = np.zeros((len(gps), 2))
    for crs in groups:
        dm, sm = demand_crs == crs, supply_crs == crs
        demand_xy[dm] = np.column_stack(
            [france["chef_lieu"][dm].to_crs(crs).x, france["chef_lieu"][dm].to_crs(crs).y]
        )
        supply_xy[sm] = np.column_stack(
            [gps.geometry[sm].to_crs(crs).x, gps.geometry[sm].to_crs(crs).y]
        )
    np.savez(
        path,
        demand_id=france["code"].to_numpy(dtype=str),
        demand_xy=demand_xy,
        demand_group=np.array([groups[c] for c in demand_crs]),
        population=france["population"].to_numpy(dtype="float64"),
        supply_id=gps["id"].to_numpy(dtype=str),
        supply_xy=supply_xy,
        supply_group=np.array([groups[c] for c in supply_crs]),
        capacity=np.ones(len(gps)),
        consultations=gps["consultations_per_year"].to_numpy(dtype="float64"),
    )
    return {"communes": len(france), "practitioners": len(gps)}


def run_case(inputs: Path, engine: str, measure: str, repeat: int, tmp: Path) -> dict[str, object]:
    out = tmp / f"{engine}-{measure}.json"
    subprocess.run(
        [sys.executable, __file__, "--child", str(inputs), engine, measure, str(repeat), str(out)],
        check=True,
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    result = json.loads(out.read_text())
    result["values"] = np.load(out.with_suffix(".npy"))
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=5, metavar=("INPUTS", "ENGINE", "MEASURE", "N", "OUT"))
    parser.add_argument("--repeat", type=int, default=3, help="runs of the engine per case")
    args = parser.parse_args()
    if args.child:
        inputs, engine, measure, repeat, out = args.child
        child(Path(inputs), engine, measure, int(repeat), Path(out))
        return 0

    import access
    import scipy

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, pandas {pd.__version__}, "
        f"access {getattr(access, '__version__', '?')}"
    )
    failed = False
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        inputs = tmp / "inputs.npz"
        sizes = prepare(inputs)
        print(
            f"inputs: {sizes['communes']} communes, {sizes['practitioners']} synthetic GPs, "
            f"straight line, catchment {CATCHMENT_KM:g} km"
        )
        for measure, target in (("2sfca", 3.0), ("e2sfca", 20.0)):
            ours = run_case(inputs, "cartosoins", measure, args.repeat, tmp)
            theirs = run_case(inputs, "access", measure, 1, tmp)
            a, b = ours["values"], theirs["values"]
            both = np.isfinite(a) & np.isfinite(b)
            same_nan = bool(np.array_equal(np.isnan(a), np.isnan(b)))
            rel = float(np.max(np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-300)))
            t_ours, t_theirs = min(ours["times"]), min(theirs["times"])
            speed = t_theirs / t_ours
            mem_ratio = ours["peak_mb"] / max(theirs["peak_mb"], 1e-9)
            ok = speed >= target and mem_ratio <= 0.5 and rel <= 1e-9 and same_nan
            failed |= not ok
            print(
                f"{measure:7s} cartosoins {t_ours:6.2f} s {ours['peak_mb']:7.0f} MB | "
                f"access {t_theirs:6.2f} s {theirs['peak_mb']:7.0f} MB | "
                f"speed-up {speed:5.1f}× (target ≥ {target:g}×)  memory ratio {mem_ratio:.2f} "
                f"(target ≤ 0.5)  max rel diff {rel:.1e}, same NaN: {same_nan}  "
                f"{'OK' if ok else 'MISSED'}"
            )
        apl = run_case(inputs, "cartosoins", "apl", args.repeat, tmp)
        t_apl = min(apl["times"])
        ok = t_apl < 1.5
        failed |= not ok
        weights = np.load(inputs)["population"]
        finite = np.isfinite(apl["values"])
        mean = float(np.sum(apl["values"][finite] * weights[finite]) / weights[finite].sum())
        print(
            f"APL     cartosoins {t_apl:6.2f} s {apl['peak_mb']:7.0f} MB, costs included "
            f"(20 min, bands 10/15/20) target < 1.5 s {'OK' if ok else 'MISSED'}; "
            f"population-weighted APL {mean:.2f} consultations/inhabitant/year"
        )

        from geo.analysis import analyse
        from geo.demo import generate_practitioners
        from geo.reference import load_communes

        france = load_communes()
        gps = generate_practitioners(france, seed=0, professions=["medecin_generaliste"])
        runs = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            res = analyse(france, gps, "apl", surroundings=None)
            runs.append(time.perf_counter() - t0)
        print(
            f"analyse(France, 'apl') end to end (validation, 5 CRS groups, context, costs, APL, "
            f"nearest time, per-commune counts): best {min(runs):.2f} s, median "
            f"{sorted(runs)[len(runs) // 2]:.2f} s; last run {res.attrs['timings_s']}, "
            f"{res.attrs['context']['pairs']} pairs"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
