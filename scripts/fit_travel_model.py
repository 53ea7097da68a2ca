#!/usr/bin/env python3
"""Fit the straight-line → car-minutes model on real OSRM times of Isère; write ``data/travel/``.

Input (read-only, never copied): ``../shared/data/od/isere_osrm_car_seconds_neocarto.csv``, a
512 × 512 matrix of OSRM car times (seconds, OSM 2021) between the chefs-lieux of Isère. Features
come from the reference layer (``geo.reference.load_communes``, COG 2026, population 2023).

Usage::

    python scripts/fit_travel_model.py                # fit, cross-validate, write data/travel/
    python scripts/fit_travel_model.py --shared PATH  # another ../shared/data folder
    python scripts/fit_travel_model.py --check        # recompute and compare with the committed files

Forms are compared by 5-fold cross-validation on held-out COMMUNES (a pair is held out when at
least one end is in the held-out fold; training pairs have both ends in the training folds) and
chosen by the mean absolute error on held-out pairs whose OSRM time is ≤ 30 minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.optimize import least_squares
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geo.reference import list_departements, load_communes  # noqa: E402
from geo.traveltime import (  # noqa: E402
    FEATURES_FILE,
    LEGACY_MODEL,
    MODEL_FILE,
    TravelTimeModel,
)

SHARED_DEFAULT = ROOT.parent / "shared" / "data"
OD_FILE = Path("od") / "isere_osrm_car_seconds_neocarto.csv"
OUT_DIR = ROOT / "data" / "travel"
SEED = 2026
N_FOLDS = 5
FIT_MAX_MINUTES = 60.0
SELECT_MAX_MINUTES = 30.0
APL_BANDS_MINUTES = (10.0, 15.0, 20.0)
APL_WEIGHTS = (1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0)
URBAN_RADIUS_KM = 10.0
#: a form with more parameters must beat a simpler one by this much (minutes) to be chosen
PARSIMONY_MINUTES = 0.05
FEATURE_DECIMALS = 4
FITTED_ON = (
    "temps de trajet en voiture OSRM (OpenStreetMap 2021) entre les chefs-lieux des 512 "
    "communes de l'Isère (neocarto/rspatial), couples ≤ 60 min"
)


# --------------------------------------------------------------------------- features
def _metric_xy(communes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Chef-lieu coordinates in the metric CRS of each commune's département, and that CRS."""
    crs_of_dep = list_departements().set_index("code")["metric_crs"]
    crs = communes["departement"].map(crs_of_dep).to_numpy()
    xy = np.full((len(communes), 2), np.nan)
    chef = communes["chef_lieu"]
    for name in pd.unique(crs):
        sel = (crs == name) & chef.notna().to_numpy()
        pts = chef[sel].set_crs(communes.crs, allow_override=True).to_crs(name)
        xy[sel] = shapely.get_coordinates(pts.to_numpy())
    return xy, crs


def commune_feature_table(communes: pd.DataFrame) -> pd.DataFrame:
    """Per-commune features for every reference commune (NaN where not located)."""
    xy, crs = _metric_xy(communes)
    pop = communes["population"].to_numpy(dtype="float64")
    area = communes["area_km2"].to_numpy(dtype="float64")
    urban = np.full(len(communes), np.nan)
    radius_m = URBAN_RADIUS_KM * 1000.0
    for name in pd.unique(crs):  # a k-d tree per metric zone, over ALL its communes
        sel = np.flatnonzero((crs == name) & np.isfinite(xy[:, 0]))
        tree = cKDTree(xy[sel])
        pairs = tree.sparse_distance_matrix(tree, radius_m, output_type="ndarray")
        around = np.bincount(pairs["i"], weights=pop[sel][pairs["j"]], minlength=sel.size)
        urban[sel] = np.log10(np.maximum(around / (np.pi * URBAN_RADIUS_KM**2), 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(area > 0, np.log10(np.maximum(pop / area, 1.0)), np.nan)
    return pd.DataFrame(
        {
            "code": communes["code"].to_numpy(),
            "caractere_urbain_10km": np.round(urban, FEATURE_DECIMALS),
            "log_densite_commune": np.round(own, FEATURE_DECIMALS),
        }
    )


# --------------------------------------------------------------------------- pairs
@dataclass
class Pairs:
    """Ordered pairs of distinct Isère communes with OSRM minutes and straight-line km."""

    codes: np.ndarray  # communes of the matrix kept (in the reference)
    o: np.ndarray  # positions in codes
    d: np.ndarray
    osrm: np.ndarray  # minutes
    km: np.ndarray
    features: dict[str, np.ndarray]  # per position in codes
    report: dict[str, Any]


def build_pairs(shared: Path, communes: pd.DataFrame, features: pd.DataFrame) -> Pairs:
    """Read the OSRM matrix, drop codes absent from the reference, measure distances."""
    path = shared / OD_FILE
    if not path.is_file():
        raise SystemExit(f"{path}: fichier introuvable (option --shared)")
    matrix = pd.read_csv(path, dtype={"id": str}).set_index("id")
    matrix.columns = matrix.columns.astype(str)
    known = set(communes["code"])
    o_codes, d_codes = matrix.index.to_numpy(str), matrix.columns.to_numpy(str)
    n_pairs_raw = int(o_codes.size * d_codes.size - np.intersect1d(o_codes, d_codes).size)
    keep_o = np.isin(o_codes, list(known))
    keep_d = np.isin(d_codes, list(known))
    matrix = matrix.loc[keep_o, keep_d]
    codes = np.union1d(matrix.index.to_numpy(str), matrix.columns.to_numpy(str))
    xy, _ = _metric_xy(communes.set_index("code").loc[codes].reset_index())
    minutes = matrix.to_numpy(dtype="float64") / 60.0
    oi = np.searchsorted(codes, matrix.index.to_numpy(str))
    di = np.searchsorted(codes, matrix.columns.to_numpy(str))
    o = np.repeat(oi, di.size)
    d = np.tile(di, oi.size)
    osrm = minutes.ravel()
    distinct = (o != d) & np.isfinite(osrm)
    o, d, osrm = o[distinct], d[distinct], osrm[distinct]
    km = np.hypot(*(xy[o] - xy[d]).T) / 1000.0
    n_zero = int((km == 0).sum())
    positive = km > 0
    feats = features.set_index("code").loc[codes]
    report = {
        "source": str(OD_FILE),
        "communes_in_matrix": len(set(o_codes) | set(d_codes)),
        "codes_dropped": sorted(set(o_codes[~keep_o]) | set(d_codes[~keep_d])),
        "pairs_in_matrix": n_pairs_raw,
        "pairs_same_chef_lieu": n_zero,
        "pairs_used": int(positive.sum()),
    }
    report["pairs_dropped_unknown_codes"] = n_pairs_raw - int(
        keep_o.sum() * keep_d.sum() - np.intersect1d(o_codes[keep_o], d_codes[keep_d]).size
    )
    report["pairs_missing_time"] = int((~np.isfinite(minutes)).sum())
    return Pairs(
        codes=codes,
        o=o[positive],
        d=d[positive],
        osrm=osrm[positive],
        km=km[positive],
        features={c: feats[c].to_numpy(dtype="float64") for c in feats.columns},
        report=report,
    )


def folds_of(n_communes: int) -> np.ndarray:
    """Fold of each commune (fixed seed)."""
    return np.random.default_rng(SEED).permutation(n_communes) % N_FOLDS


# --------------------------------------------------------------------------- candidates
@dataclass(frozen=True)
class Candidate:
    """A form, its feature and its fitting criterion."""

    key: str
    form: str
    weighting: str  # "ols": plain least squares; "rel": residuals divided by the OSRM time
    feature: str | None = None

    @property
    def n_params(self) -> int:
        return {"legacy": 0, "linear": 2, "sqrt": 3, "power": 3, "power_urban": 4}[self.form]

    def label(self) -> str:
        forms = {
            "legacy": "ancienne règle 1,3 × d à 60 km/h",
            "linear": "a + b·d",
            "sqrt": "a + b·d + c·√d",
            "power": "a + b·d^p",
            "power_urban": f"a + (b0·(1−ū) + b1·ū)·d^p, ū = {self.feature}",
        }
        if self.form == "legacy":
            return forms["legacy"]
        crit = "moindres carrés" if self.weighting == "ols" else "moindres carrés relatifs"
        return f"{forms[self.form]} ({crit})"


CANDIDATES = (
    Candidate("legacy", "legacy", "none"),
    *(
        Candidate(f"{form}_{w}", form, w)
        for w in ("ols", "rel")
        for form in ("linear", "sqrt", "power")
    ),
    *(
        Candidate(f"power_urban_{f}_{w}", "power_urban", w, f)
        for w in ("ols", "rel")
        for f in ("caractere_urbain_10km", "log_densite_commune")
    ),
)


def _coefficients(form: str, theta: np.ndarray) -> dict[str, float]:
    t = [float(v) for v in theta]
    if form == "linear":
        return {"a": t[0], "b0": t[1], "b1": t[1], "c": 0.0, "p": 1.0}
    if form == "sqrt":
        return {"a": t[0], "b0": t[1], "b1": t[1], "c": t[2], "p": 1.0}
    if form == "power":
        return {"a": t[0], "b0": t[1], "b1": t[1], "c": 0.0, "p": t[2]}
    return {"a": t[0], "b0": t[1], "b1": t[2], "c": 0.0, "p": t[3]}


_START = {
    "linear": ([1.0, 1.5], [0.0, 1e-6], [np.inf, np.inf]),
    "sqrt": ([1.0, 1.0, 1.0], [0.0, 0.0, 1e-6], [np.inf, np.inf, np.inf]),
    "power": ([1.0, 3.0, 0.75], [0.0, 1e-6, 0.2], [np.inf, np.inf, 1.5]),
    "power_urban": ([1.0, 3.0, 3.0, 0.75], [0.0, 1e-6, 1e-6, 0.2], [np.inf] * 3 + [1.5]),
}


def fit(
    cand: Candidate, pairs: Pairs, mask: np.ndarray, feature_range: tuple[float, float]
) -> TravelTimeModel:
    """Least-squares fit of ``cand`` on the pairs of ``mask`` (OSRM ≤ 60 min)."""
    if cand.form == "legacy":
        return LEGACY_MODEL
    feat = pairs.features[cand.feature] if cand.feature else np.zeros(pairs.codes.size)
    km, y = pairs.km[mask], pairs.osrm[mask]
    fo, fd = feat[pairs.o[mask]], feat[pairs.d[mask]]
    scale = 1.0 / y if cand.weighting == "rel" else np.ones_like(y)
    neutral = float(np.nanmedian(feat)) if cand.feature else 0.0

    def make(theta: np.ndarray) -> TravelTimeModel:
        return TravelTimeModel(
            name=cand.key,
            label=cand.label(),
            form=cand.form,
            coefficients=_coefficients(cand.form, theta),
            feature=cand.feature,
            feature_range=feature_range,
            neutral=neutral,
        )

    def residuals(theta: np.ndarray) -> np.ndarray:
        return (make(theta).minutes(km, fo, fd) - y) * scale

    x0, lo, hi = _START[cand.form]
    res = least_squares(residuals, np.array(x0), bounds=(lo, hi), x_scale="jac", method="trf")
    return make(res.x)


def _band(minutes: np.ndarray) -> np.ndarray:
    return np.digitize(minutes, APL_BANDS_MINUTES)


def metrics(pred: np.ndarray, osrm: np.ndarray) -> dict[str, float]:
    """Errors of ``pred`` (model minus OSRM) on the pairs given."""
    err = pred - osrm
    out: dict[str, float] = {}
    for lim in (30, 60):
        s = osrm <= lim
        a = np.abs(err[s])
        out[f"n_le{lim}"] = int(s.sum())
        out[f"median_abs_le{lim}"] = float(np.median(a))
        out[f"p90_abs_le{lim}"] = float(np.quantile(a, 0.9))
        out[f"mean_abs_le{lim}"] = float(a.mean())
        out[f"bias_le{lim}"] = float(err[s].mean())
    s = osrm <= 30
    out["band_change_le30"] = float((_band(pred[s]) != _band(osrm[s])).mean())
    s = (osrm < 20) | (pred < 20)
    out["band_change_either_lt20"] = float((_band(pred[s]) != _band(osrm[s])).mean())
    w = np.asarray(APL_WEIGHTS)
    out["apl_weight_ratio"] = float(w[_band(pred)].sum() / w[_band(osrm)].sum())
    return out


def feature_range(pairs: Pairs, feature: str | None, train: np.ndarray) -> tuple[float, float]:
    """Range of the feature over the communes at either end of the training pairs."""
    if feature is None:
        return (0.0, 1.0)
    used = np.union1d(pairs.o[train], pairs.d[train])
    vals = pairs.features[feature][used]
    vals = vals[np.isfinite(vals)]
    return (float(vals.min()), float(vals.max()))


def cross_validate(cand: Candidate, pairs: Pairs) -> tuple[dict[str, float], np.ndarray]:
    """Out-of-fold predictions of ``cand`` and their errors."""
    fold = folds_of(pairs.codes.size)
    fo, fd = fold[pairs.o], fold[pairs.d]
    pred = np.full(pairs.osrm.size, np.nan)
    feat = pairs.features[cand.feature] if cand.feature else np.zeros(pairs.codes.size)
    for k in range(N_FOLDS):
        train = (fo != k) & (fd != k) & (pairs.osrm <= FIT_MAX_MINUTES)
        test = (fo == k) | (fd == k)
        model = fit(cand, pairs, train, feature_range(pairs, cand.feature, train))
        pred[test] = model.minutes(pairs.km[test], feat[pairs.o[test]], feat[pairs.d[test]])
    return metrics(pred, pairs.osrm), pred


def choose(cv: dict[str, dict[str, float]]) -> str:
    """Fewest parameters among the fitted forms within PARSIMONY_MINUTES of the best MAE ≤ 30."""
    fitted = {c.key: c for c in CANDIDATES if c.form != "legacy"}
    best = min(cv[k]["mean_abs_le30"] for k in fitted)
    ok = [k for k in fitted if cv[k]["mean_abs_le30"] <= best + PARSIMONY_MINUTES]
    return min(ok, key=lambda k: (fitted[k].n_params, cv[k]["mean_abs_le30"]))


# --------------------------------------------------------------------------- outputs
def build(shared: Path) -> tuple[dict[str, Any], pd.DataFrame, str]:
    """Everything the script writes: model JSON, feature table, README text."""
    started = time.perf_counter()
    communes = load_communes()
    features = commune_feature_table(communes)
    pairs = build_pairs(shared, communes, features)
    cv = {}
    for cand in CANDIDATES:
        cv[cand.key], _ = cross_validate(cand, pairs)
        print(f"  {cand.key:45s} MAE≤30 {cv[cand.key]['mean_abs_le30']:.3f} min", flush=True)
    chosen_key = choose(cv)
    chosen = next(c for c in CANDIDATES if c.key == chosen_key)
    train = pairs.osrm <= FIT_MAX_MINUTES
    fitted = fit(chosen, pairs, train, feature_range(pairs, chosen.feature, train))
    neutral = float(features[chosen.feature].median()) if chosen.feature else fitted.neutral
    model = TravelTimeModel(
        name="isere_osrm_2021",
        label="modèle ajusté sur les temps OSRM de l'Isère",
        form=fitted.form,
        coefficients=dict(fitted.coefficients),
        feature=fitted.feature,
        feature_range=fitted.feature_range,
        neutral=neutral,
        fitted_on=FITTED_ON,
        cv={
            "candidate": chosen_key,
            "criterion": "erreur absolue moyenne hors échantillon, couples OSRM ≤ 30 min",
            "chosen": _rounded(cv[chosen_key]),
            "legacy": _rounded(cv["legacy"]),
        },
    )
    payload = {
        "model": model.params(),
        "selection": {
            "seed": SEED,
            "folds": N_FOLDS,
            "fit_max_minutes": FIT_MAX_MINUTES,
            "select_max_minutes": SELECT_MAX_MINUTES,
            "parsimony_minutes": PARSIMONY_MINUTES,
            "apl_bands_minutes": list(APL_BANDS_MINUTES),
            "chosen": chosen_key,
        },
        "data": pairs.report,
        "candidates": {
            c.key: {"label": c.label(), "n_params": c.n_params, "cv": _rounded(cv[c.key])}
            for c in CANDIDATES
        },
    }
    readme = render_readme(payload)
    print(f"built in {time.perf_counter() - started:.1f} s; chosen {chosen_key}")
    return payload, features, readme


def _rounded(m: dict[str, float]) -> dict[str, float]:
    return {k: (v if isinstance(v, int) else round(float(v), 4)) for k, v in m.items()}


def render_readme(payload: dict[str, Any]) -> str:
    """The README of data/travel/, report tables included."""
    model, data, sel = payload["model"], payload["data"], payload["selection"]
    coef = model["coefficients"]
    rows = []
    for key, c in payload["candidates"].items():
        m = c["cv"]
        mark = " **(choisi)**" if key == sel["chosen"] else ""
        rows.append(
            f"| {c['label']}{mark} | {c['n_params']} | {m['median_abs_le30']:.2f} | "
            f"{m['p90_abs_le30']:.2f} | {m['mean_abs_le30']:.2f} | {m['bias_le30']:+.2f} | "
            f"{m['median_abs_le60']:.2f} | {m['p90_abs_le60']:.2f} | {m['bias_le60']:+.2f} | "
            f"{100 * m['band_change_le30']:.1f} % | {100 * m['band_change_either_lt20']:.1f} % | "
            f"{m['apl_weight_ratio']:.2f} |"
        )
    table = "\n".join(rows)
    ch, lg = payload["candidates"][sel["chosen"]]["cv"], payload["candidates"]["legacy"]["cv"]
    dropped = data["codes_dropped"]
    return f"""# Travel-time model: straight-line km → car minutes

Built by `python scripts/fit_travel_model.py` (reads `../shared/data/{data["source"]}`, option
`--shared PATH`); `python scripts/fit_travel_model.py --check` recomputes and compares with
these files. Do not edit by hand: this README is generated with its tables.

| file | content |
|---|---|
| `{MODEL_FILE}` | the chosen model (`model`: form, coefficients, feature, range, CV errors), the selection settings, the data counts and the cross-validated errors of every candidate form |
| `{FEATURES_FILE}` | for the 34,875 reference communes: `caractere_urbain_10km` = log10 of the population (2023) whose chef-lieu lies within {URBAN_RADIUS_KM:g} km of the commune's chef-lieu, per km² of the disc (floor 1/km², k-d tree over all communes of the same metric zone); `log_densite_commune` = log10 of the commune's own population per km² (floor 1). Empty for the 4 communes without location (and `log_densite_commune` for null areas): the engine then uses the median. |

Read by `geo/traveltime.py` (`load_default_model()`, `commune_features()`, `features_at()`).

## Chosen model

`{model["formula"]}`, for a straight-line distance d > 0 km between the two points (0 minutes
for the same point, by the DREES convention for a practitioner of the commune):
a = {coef["a"]:.4g} min, b = {coef["b0"]:.4f}{"" if coef["b0"] == coef["b1"] else f" (ū = 0) to {coef['b1']:.4f} (ū = 1)"}, c = {coef["c"]:.4g}, p = {coef["p"]:.4f}.
Feature: {model["feature"] or "none (the urban character did not earn its parameters, see below)"}.

Held-out communes, pairs with OSRM ≤ 30 min: median absolute error {ch["median_abs_le30"]:.2f} min
(legacy {lg["median_abs_le30"]:.2f}), 90th percentile {ch["p90_abs_le30"]:.2f} min (legacy
{lg["p90_abs_le30"]:.2f}), APL band changed for {100 * ch["band_change_le30"]:.1f} % of the pairs
(legacy {100 * lg["band_change_le30"]:.1f} %).

## Data

- {data["communes_in_matrix"]} communes in the matrix, {data["pairs_in_matrix"]:,} ordered pairs of distinct communes; codes not in
  the reference (COG 2026) dropped: {len(dropped)} ({", ".join(dropped) or "none"}), i.e. {data["pairs_dropped_unknown_codes"]} pairs.
- {data["pairs_same_chef_lieu"]} pairs of distinct communes share the same chef-lieu point (0 km) and are left out;
  {data["pairs_used"]:,} pairs used, of which fits use those with OSRM ≤ {sel["fit_max_minutes"]:g} min.
- Distances between chefs-lieux in EPSG:2154.

## Method

- Candidates: the legacy constants (1.3 × d at 60 km/h = 1.3 min/km), a + b·d, a + b·d + c·√d,
  a + b·d^p, and a + (b0·(1 − ū) + b1·ū)·d^p where ū is the mean over both ends of the feature
  scaled to [0, 1] over the fitted range (clamped outside), so that the speed depends on the
  urban character; all coefficients ≥ 0 (time ≥ 0 and strictly increasing in d for any feature).
- Each form is fitted twice by least squares (scipy `least_squares`) on pairs with OSRM ≤ 60 min:
  plain (« moindres carrés ») and relative (residual divided by the OSRM time, « relatifs »);
  the plain fit is dominated by the many 30–60 min pairs.
- {sel["folds"]}-fold cross-validation on held-out COMMUNES (seed {sel["seed"]}): train on pairs with both
  ends in the training communes, evaluate on pairs with at least one end in the held-out fold.
- Choice: the smallest cross-validated mean absolute error on pairs with OSRM ≤ {sel["select_max_minutes"]:g} min;
  a form with more parameters must beat a simpler one by ≥ {sel["parsimony_minutes"]} min.

## Cross-validated errors (minutes, out of fold)

Error = model − OSRM. « bande » = APL band (< 10, 10–15, 15–20, ≥ 20 min) differs from OSRM's;
« bande (l'un < 20) » is over the pairs where OSRM or the model is < 20 min (false inclusions
count); « Σ poids » = sum of APL weights (1, 2/3, 1/3, 0) of the model / that of OSRM.

| form | params | méd. ≤30 | P90 ≤30 | moy. ≤30 | biais ≤30 | méd. ≤60 | P90 ≤60 | biais ≤60 | bande ≤30 | bande (l'un < 20) | Σ poids |
|---|---|---|---|---|---|---|---|---|---|---|---|
{table}

## Limits: read before use

- Fitted on ONE département, Isère: high mountains (Vercors, Chartreuse, Belledonne, Oisans)
  where roads wind around massifs, plus the Grenoble and Lyon-suburb (Nord-Isère) urban areas.
  The errors above are for Isère only. In flatter départements the real detour is smaller and
  this model will probably OVERESTIMATE times (a conservative APL); in other mountains it may
  be close, in dense cities without congestion modelling it says nothing about peak hours.
  A national model needs OD times from several départements.
- OSRM on OSM gives free-flow car times between town halls: no congestion, no parking, no
  access to the practitioner's door. The 2021 road graph is assumed still valid.
- Errors conditioned on OSRM ≤ 30 min favour models that underestimate (pairs selected for
  being fast); the « l'un < 20 » and « Σ poids » columns are the symmetric view.
- Pairs crossing the département border are absent from the data (communes near the border
  lose their neighbours outside Isère): no bias on a pair's time, but less coverage of
  border situations.
- The straight line cannot see a ridge: the 90th percentile error stays several minutes.

## Sources and licences

- OSRM matrix: neocarto/rspatial @ 890cfda9, `osrm/data/TimeDistCarIsere.csv` (OSRM on
  OpenStreetMap, 2021), © OpenStreetMap contributors, ODbL; the coefficients are a derived
  product of it (attribution: « © les contributeurs d'OpenStreetMap »). Not copied here.
- Communes, chefs-lieux, populations, areas: `data/reference/` (COG 2026, population 2023,
  IGN ADMIN EXPRESS-COG), Licence Ouverte 2.0.
"""


def write(payload: dict[str, Any], features: pd.DataFrame, readme: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL_FILE).write_text(
        json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    features.to_csv(out / FEATURES_FILE, index=False, float_format=f"%.{FEATURE_DECIMALS}f")
    (out / "README.md").write_text(readme, encoding="utf-8")


def _close(a: Any, b: Any, path: str, diffs: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                diffs.append(f"{path}.{k}: absent d'un côté")
            else:
                _close(a[k], b[k], f"{path}.{k}", diffs)
    elif isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        if not np.isclose(a, b, rtol=1e-4, atol=1e-4):
            diffs.append(f"{path}: {a} ≠ {b}")
    elif a != b:
        diffs.append(f"{path}: {a!r} ≠ {b!r}")


def check(payload: dict[str, Any], features: pd.DataFrame, readme: str, out: Path) -> int:
    """Compare a fresh build with the committed files; 0 when they agree."""
    diffs: list[str] = []
    committed = json.loads((out / MODEL_FILE).read_text(encoding="utf-8"))
    _close(json.loads(json.dumps(payload)), committed, "json", diffs)
    old = pd.read_csv(out / FEATURES_FILE, dtype={"code": str})
    if list(old["code"]) != list(features["code"]):
        diffs.append(f"{FEATURES_FILE}: codes différents")
    else:
        for col in features.columns[1:]:
            a, b = features[col].to_numpy(float), old[col].to_numpy(float)
            if not np.allclose(a, b, atol=2 * 10**-FEATURE_DECIMALS, equal_nan=True):
                diffs.append(f"{FEATURES_FILE}: colonne {col} différente")
    if (out / "README.md").read_text(encoding="utf-8") != readme and not diffs:
        diffs.append("README.md: texte différent (arrondis ?)")
    for d in diffs:
        print("DIFF", d)
    print("identique" if not diffs else f"{len(diffs)} différence(s)")
    return 1 if diffs else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED_DEFAULT, help="../shared/data")
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    payload, features, readme = build(args.shared)
    if args.check:
        return check(payload, features, readme, args.out)
    write(payload, features, readme, args.out)
    print(f"écrit {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
