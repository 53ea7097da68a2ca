#!/usr/bin/env python3
"""Build ``data/population/``: the share of each 5-year age band of every reference commune.

The official APL (DREES) standardises demand with one consumption weight per 5-year age band
(19 bands, "0-4" … "85-89", "90+"). This script gives every commune of the reference layer
(34,875 communes, COG 2026) the share of each band:

* communes of the INSEE census 2021 file (3,300 inhabitants or more, métropole): their census
  counts, codes re-mapped to the COG 2026 (``source = "recensement 2021"``);
* every other commune: a ridge regression per band of the share on the commune's share of
  inhabitants aged 75 or more in 2022 with (shrunk) département effects, fitted on the census
  communes, clipped at 0 and renormalised (``source = "estimation"``);
* communes without inhabitants: the census profile of their département.

It also measures the error of that estimate on left-out census communes (5-fold and the
smallest census communes) for the standardised population ratio ``r_i = Σ_b share_ib × w_b``
(DREES weights 2022 and 2023), and writes the figures into ``data/population/README.md``.

Inputs are read from ``../shared/data`` (``--shared`` overrides it); see that folder's
SOURCES.md. Usage::

    python scripts/build_age_structure.py            # build, write data/population/
    python scripts/build_age_structure.py --check    # rebuild in memory, compare with the files
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``geo`` importable
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' shared helpers

from _committed import write_or_check  # noqa: E402

from geo.reference import load_communes  # noqa: E402

SHARED_DEFAULT = ROOT.parent / "shared" / "data"
OUT_DIR = ROOT / "data" / "population"
CSV_NAME = "structure_age_communes.csv"

CENSUS_FILE = "population/insee_rp2021_communes_3300plus_ages_gozan.csv"
P75_FILE = "population/part_75_plus_communes_2022_linalek.csv"
COG_FILE = "communes/decoupage_administratif_6.0.0_communes.csv"
DREES_FILE = "drees/drees_apl_generalistes_parametres_2022_2023.csv"

AGE_BANDS: tuple[str, ...] = (*(f"{a}-{a + 4}" for a in range(0, 90, 5)), "90+")
OLD_BANDS = ("75-79", "80-84", "85-89", "90+")

#: Ridge penalty on the département effects, in "communes": a département with n census
#: communes keeps n / (n + λ) of its mean residual. Chosen by the 5-fold validation (see README).
RIDGE_LAMBDA = 5.0
N_FOLDS = 5
SEED = 2026
#: The smallest census communes, closest to the estimated ones: under 5,000 inhabitants in
#: 2023 (3,300 or more at the 2021 census, except a few that lost inhabitants since).
SMALL_MAX = 5_000
SMALL_LABEL = "under 5,000 inhabitants (trained on the others)"
#: Estimated communes at least this large are listed by name in the README.
BIG_COMMUNE = 20_000
#: Départements without any 75+ value in the source: whose population-weighted mean to use.
#: Mayotte (976) is absent from the 75+ file; Guyane (973) is the other very young DROM
#: (a documented assumption, not data).
P75_FALLBACK_DEPARTEMENT = {"976": "973"}

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
@dataclass
class Inputs:
    """Everything the model needs, aligned on the reference communes."""

    ref: pd.DataFrame  # code, departement, population, zone (index: code)
    census: pd.DataFrame  # counts per band, index code (COG 2026), census communes only
    census_report: dict[str, object]
    p75: pd.Series  # share (fraction) aged 75+, every reference commune
    p75_source: pd.Series  # "given", "département mean", "mean of another département"
    p75_report: dict[str, object]
    weights: dict[int, pd.Series]  # DREES edition → weight per band
    notes: list[str] = field(default_factory=list)


def _parents(shared: Path) -> tuple[set[str], pd.Series]:
    """Current commune codes and, for old codes (déléguées, associées), today's commune."""
    cog = pd.read_csv(shared / COG_FILE, dtype=str, keep_default_na=False)
    current = set(cog.loc[cog["type"] == "commune-actuelle", "code"])
    old = cog[cog["type"].isin(["commune-deleguee", "commune-associee"])].copy()
    # the parent is in commune_parent, or only in chef_lieu for some rows of the package
    old["parent"] = old["commune_parent"].where(old["commune_parent"] != "", old["chef_lieu"])
    old = old[(old["parent"] != "") & ~old["code"].isin(current)].drop_duplicates("code")
    return current, old.set_index("code")["parent"]


def _recode(codes: pd.Series, current: set[str], parent: pd.Series) -> pd.Series:
    """Map codes to COG 2026 communes; NaN where neither current nor a known old code."""
    return codes.where(codes.isin(current), codes.map(parent))


def _band_of(column: str) -> str | None:
    """Age band of a census column (``Hommes_70_47`` is the source's typo for men 70–74)."""
    m = re.fullmatch(r"(?:Homme|Hommes|Femme|Femmes)_(\d+)_(\d+|plus)", column)
    if m is None:
        return None
    low = int(m.group(1))
    return "90+" if low >= 90 else f"{low}-{low + 4}"


def load_census(shared: Path, current: set[str], parent: pd.Series) -> tuple[pd.DataFrame, dict]:
    """Census 2021 counts per age band, summed onto COG 2026 communes."""
    raw = pd.read_csv(shared / CENSUS_FILE, sep=";", dtype=str, keep_default_na=False)
    columns = {c: _band_of(c) for c in raw.columns if _band_of(c) is not None}
    per_band = pd.Series(columns).value_counts()
    expected = {b: 4 if b == "90+" else 2 for b in AGE_BANDS}
    if per_band.to_dict() != expected:
        raise SystemExit(f"{CENSUS_FILE}: unexpected age columns {per_band.to_dict()}")
    counts = raw[list(columns)].apply(
        lambda s: pd.to_numeric(s.str.strip().str.replace(",", ".", regex=False), errors="coerce")
    )
    counts = counts.T.groupby(pd.Series(columns)).sum(min_count=1).T[list(AGE_BANDS)]
    code = raw["Code"].str.strip().str.zfill(5)
    missing = counts.isna().any(axis=1)
    total_file = pd.to_numeric(
        raw["Population municipale 2021.x"].str.replace(",", ".", regex=False), errors="coerce"
    )
    new = _recode(code, current, parent)
    unmatched = sorted(code[new.isna() & ~missing])
    recoded = pd.DataFrame({"ancien": code, "nouveau": new})[(code != new) & new.notna() & ~missing]
    ok = ~missing & new.notna()
    counts = counts[ok].groupby(new[ok].to_numpy()).sum()
    counts.index.name = "code"
    totals = counts.sum(axis=1)
    file_total = total_file[ok].groupby(new[ok].to_numpy()).sum()
    gap = (totals / file_total - 1).abs()
    report = {
        "rows": len(raw),
        "rows_without_bands": sorted(code[missing]),
        "unmatched": unmatched,
        "recoded": list(recoded.itertuples(index=False, name=None)),
        "communes": len(counts),
        "band_total_gap_10pct": sorted(
            (c, int(totals[c]), int(file_total[c])) for c in gap.index[gap > 0.10]
        ),
        "band_total_within_2pct": float((gap <= 0.02).mean()),
    }
    return counts.astype("float64"), report


def load_p75(
    shared: Path, ref: pd.DataFrame, current: set[str], parent: pd.Series
) -> tuple[pd.Series, pd.Series, dict]:
    """Share (fraction) aged 75+ in 2022 of every reference commune, with its provenance."""
    raw = pd.read_csv(shared / P75_FILE, dtype=str, keep_default_na=False)
    code = raw["code"].str.strip().str.zfill(5)
    value = pd.to_numeric(raw["part_75_plus_pct_2022"].str.replace(",", "."), errors="coerce")
    new = _recode(code, current, parent)
    direct = new == code
    # an old code counts only when its commune has no value of its own
    use = value.notna() & new.notna() & (direct | ~new.isin(new[direct]))
    share = (value[use] / 100.0).groupby(new[use].to_numpy()).mean()
    out = share.reindex(ref.index)
    source = pd.Series(np.where(out.notna(), "given", ""), index=ref.index, dtype=object)
    pop = ref["population"].astype("float64")
    known = out.notna() & (pop > 0)
    dep_mean = (out[known] * pop[known]).groupby(ref.loc[known, "departement"]).sum() / pop[
        known
    ].groupby(ref.loc[known, "departement"]).sum()
    for dep, other in P75_FALLBACK_DEPARTEMENT.items():
        if dep not in dep_mean.index and other in dep_mean.index:
            dep_mean[dep] = dep_mean[other]
    fill = out.isna()
    out[fill] = ref.loc[fill, "departement"].map(dep_mean)
    source[fill] = np.where(
        ref.loc[fill, "departement"].isin(P75_FALLBACK_DEPARTEMENT),
        "mean of another département",
        "département mean",
    )
    if out.isna().any():
        raise SystemExit(f"no 75+ share for {list(out.index[out.isna()][:10])}")
    report = {
        "rows": len(raw),
        "unmatched": sorted(code[new.isna()]),
        "recoded": int((new.notna() & ~direct & use).sum()),
        "filled": ref.loc[fill, ["departement"]].assign(source=source[fill]),
    }
    return out, source, report


def load_weights(shared: Path) -> dict[int, pd.Series]:
    """DREES consumption weight of each band, editions 2022 and 2023."""
    table = pd.read_csv(shared / DREES_FILE, dtype=str, keep_default_na=False)
    rows = table[table["rubrique"] == "poids_age"]

    def band(label: str) -> str:
        label = " ".join(label.split())
        if label == "Moins de 5 ans":
            return "0-4"
        if label == "Plus de 90 ans":
            return "90+"
        m = re.fullmatch(r"de (\d+) à (\d+) ans", label)
        if m is None:
            raise SystemExit(f"{DREES_FILE}: unknown age band {label!r}")
        return f"{m.group(1)}-{m.group(2)}"

    bands = rows["libelle"].map(band)
    out = {}
    for year, col in ((2022, "valeur_2022_ou_unique"), (2023, "valeur_2023")):
        weights = pd.Series(rows[col].astype(float).to_numpy(), index=bands.to_numpy())
        out[year] = weights.reindex(list(AGE_BANDS))
        if out[year].isna().any():
            raise SystemExit(f"{DREES_FILE}: missing weights for {year}")
    return out


def load_inputs(shared: Path) -> Inputs:
    """Read every input from the shared data folder, aligned on the reference communes."""
    communes = load_communes()
    ref = pd.DataFrame(
        {
            "departement": communes["departement"].to_numpy(),
            "population": communes["population"].to_numpy(),
            "zone": communes["zone"].to_numpy(),
            "nom": communes["nom"].to_numpy(),
        },
        index=pd.Index(communes["code"].to_numpy(), name="code"),
    )
    current, parent = _parents(shared)
    census, census_report = load_census(shared, current, parent)
    not_ref = sorted(set(census.index) - set(ref.index))
    if not_ref:
        census_report["unmatched"] = sorted([*census_report["unmatched"], *not_ref])
        census = census.drop(not_ref)
    p75, p75_source, p75_report = load_p75(shared, ref, current, parent)
    return Inputs(ref, census, census_report, p75, p75_source, p75_report, load_weights(shared))


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------
def _shares(counts: pd.DataFrame) -> pd.DataFrame:
    return counts.div(counts.sum(axis=1), axis=0)


def _profile(counts: pd.DataFrame) -> FloatArray:
    total = counts.sum(axis=0).to_numpy(dtype="float64")
    return total / total.sum()


def _normalise(pred: FloatArray) -> FloatArray:
    pred = np.clip(pred, 0.0, None)
    return pred / pred.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Model:
    """One way of predicting a commune's age profile from what is known everywhere."""

    name: str
    kind: str  # "national", "departement", "regression"
    ridge: float = RIDGE_LAMBDA
    log_population: bool = False
    clip_population: bool = False  # hold log(population) within the training range
    quadratic: bool = False
    pin_75_plus: bool = False  # rescale the 75+ bands to sum to the known 75+ share


MODELS = (
    Model("national profile", "national"),
    Model("département profile", "departement"),
    Model("75+ share + département", "regression"),
    Model("75+ share (quadratic) + département", "regression", quadratic=True),
    Model("75+ share + size + département", "regression", log_population=True),
    Model(
        "75+ share + bounded size + département",
        "regression",
        log_population=True,
        clip_population=True,
    ),
    Model("75+ share + département, 75+ bands pinned", "regression", pin_75_plus=True),
)
#: The model used for the estimated communes (see the validation in the README).
CHOSEN = MODELS[5]


def _design(
    model: Model, x: FloatArray, pop: FloatArray, pop_range: tuple[float, float]
) -> FloatArray:
    cols = [np.ones_like(x), x]
    if model.quadratic:
        cols.append(x**2)
    if model.log_population:
        size = np.maximum(pop, 1.0)
        if model.clip_population:
            size = np.clip(size, *pop_range)
        cols.append(np.log(size))
    return np.column_stack(cols)


def fit_predict(
    model: Model,
    train_counts: pd.DataFrame,
    train: pd.DataFrame,
    test: pd.DataFrame,
) -> FloatArray:
    """Fit ``model`` on census communes and predict the band shares of ``test``.

    ``train`` and ``test`` have columns x (75+ share), departement, population.
    """
    national = _profile(train_counts)
    if model.kind == "national":
        return np.tile(national, (len(test), 1))
    if model.kind == "departement":
        by_dep = train_counts.groupby(train["departement"].to_numpy()).sum()
        profiles = _shares(by_dep)
        out = np.array(profiles.reindex(test["departement"].to_numpy()), dtype="float64")
        out[np.isnan(out).any(axis=1)] = national
        return out
    y = _shares(train_counts).to_numpy(dtype="float64")
    train_pop = train["population"].to_numpy(float)
    pop_range = (float(train_pop.min()), float(train_pop.max()))
    z = _design(model, train["x"].to_numpy(float), train_pop, pop_range)
    deps = pd.Index(sorted(set(train["departement"])))
    d_pos = deps.get_indexer(train["departement"])
    p, k = z.shape[1], len(deps)
    # normal equations of ‖Y − Zβ − Dγ‖² + λ‖γ‖² (D: one-hot département)
    dz = np.zeros((k, p))
    np.add.at(dz, d_pos, z)
    dy = np.zeros((k, y.shape[1]))
    np.add.at(dy, d_pos, y)
    n_dep = np.bincount(d_pos, minlength=k).astype(float)
    lhs = np.block([[z.T @ z, dz.T], [dz, np.diag(n_dep + model.ridge)]])
    rhs = np.vstack([z.T @ y, dy])
    coef = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    beta, gamma = coef[:p], coef[p:]
    zt = _design(model, test["x"].to_numpy(float), test["population"].to_numpy(float), pop_range)
    pred = zt @ beta
    t_pos = deps.get_indexer(test["departement"])
    pred[t_pos >= 0] += gamma[t_pos[t_pos >= 0]]
    pred = _normalise(pred)
    if model.pin_75_plus:
        old = np.isin(AGE_BANDS, OLD_BANDS)
        x = test["x"].to_numpy(float)[:, None]
        s_old = pred[:, old].sum(axis=1, keepdims=True)
        s_young = 1.0 - s_old
        pred[:, old] *= np.divide(x, s_old, out=np.zeros_like(x), where=s_old > 0)
        pred[:, ~old] *= np.divide(1 - x, s_young, out=np.zeros_like(x), where=s_young > 0)
        pred = _normalise(pred)
    return pred


def _features(inputs: Inputs, codes: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": inputs.p75.reindex(codes).to_numpy(),
            "departement": inputs.ref.loc[codes, "departement"].to_numpy(),
            "population": inputs.ref.loc[codes, "population"].to_numpy(dtype=float),
        },
        index=codes,
    )


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def _fold_ids(n: int) -> npt.NDArray[np.int64]:
    perm = np.random.default_rng(SEED).permutation(n)
    folds = np.empty(n, dtype=np.int64)
    folds[perm] = np.arange(n) % N_FOLDS
    return folds


def validate(inputs: Inputs) -> pd.DataFrame:
    """Relative error of the standardised ratio on left-out census communes.

    Returns
    -------
    pandas.DataFrame
        One row per (validation, model, DREES edition): n, median and 90th percentile of the
        absolute relative error of ``r_i``, and the mean relative error (bias), in %.
    """
    counts = inputs.census
    feats = _features(inputs, counts.index)
    truth = _shares(counts).to_numpy(dtype="float64")
    folds = _fold_ids(len(counts))
    # the size used by the model (population 2023), so that the bounded size term is tested
    # below its training range as it is used on the estimated communes
    small = feats["population"].to_numpy() < SMALL_MAX
    splits = {
        f"{N_FOLDS}-fold": [(folds != f, folds == f) for f in range(N_FOLDS)],
        SMALL_LABEL: [(~small, small)],
    }
    rows = []
    for split_name, parts in splits.items():
        for model in MODELS:
            pred = np.full_like(truth, np.nan)
            held = np.zeros(len(counts), dtype=bool)
            for train, test in parts:
                pred[test] = fit_predict(model, counts[train], feats[train], feats[test])
                held |= test
            for year, w in inputs.weights.items():
                wv = w.to_numpy(dtype="float64")
                r_true = truth[held] @ wv
                r_pred = pred[held] @ wv
                err = r_pred / r_true - 1.0
                rows.append(
                    {
                        "validation": split_name,
                        "model": model.name,
                        "weights": year,
                        "n": int(held.sum()),
                        "median_abs_pct": 100 * float(np.median(np.abs(err))),
                        "p90_abs_pct": 100 * float(np.quantile(np.abs(err), 0.9)),
                        "mean_bias_pct": 100 * float(np.mean(err)),
                    }
                )
    return pd.DataFrame(rows)


def validation_markdown(table: pd.DataFrame) -> str:
    """The validation table as it appears in the README (figures rounded to 0.01 %)."""
    lines = [
        "| validation | model | DREES weights | communes | median \\|error\\| | P90 \\|error\\| | mean bias |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in table.itertuples(index=False):
        chosen = " (**chosen**)" if row[1] == CHOSEN.name else ""
        lines.append(
            f"| {row[0]} | {row[1]}{chosen} | {row[2]} | {row[3]} "
            f"| {row[4]:.2f} % | {row[5]:.2f} % | {row[6]:+.2f} % |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------------
def _round_rows(shares: FloatArray, decimals: int = 6) -> FloatArray:
    """Round each row to ``decimals`` so that it still sums to exactly 1 (largest remainder)."""
    unit = 10**decimals
    scaled = shares * unit
    floor = np.floor(scaled)
    short = (unit - floor.sum(axis=1)).round().astype(np.int64)
    rank = np.argsort(np.argsort(-(scaled - floor), axis=1, kind="stable"), axis=1)
    floor += rank < short[:, None]
    return floor / unit


def build(inputs: Inputs) -> pd.DataFrame:
    """Band shares of every reference commune (index code, columns source + the 19 bands)."""
    ref = inputs.ref
    census = inputs.census
    out = pd.DataFrame(np.nan, index=ref.index, columns=list(AGE_BANDS))
    out.loc[census.index] = _shares(census).to_numpy()
    source = pd.Series("estimation", index=ref.index, dtype=object)
    source[census.index] = "recensement 2021"
    empty = (ref["population"] == 0) & (source == "estimation")
    todo = (source == "estimation") & ~empty
    feats_train = _features(inputs, census.index)
    codes = ref.index[todo]
    out.loc[codes] = fit_predict(CHOSEN, census, feats_train, _features(inputs, codes))
    empty_codes = ref.index[empty]
    if len(empty_codes):
        profile = fit_predict(
            MODELS[1], census, feats_train, _features(inputs, empty_codes)
        )  # the département's census profile
        out.loc[empty_codes] = profile
        source[empty_codes] = "estimation (profil du département)"
    values = _round_rows(out.to_numpy(dtype="float64"))
    table = pd.DataFrame(values, index=ref.index, columns=list(AGE_BANDS))
    table.insert(0, "source", source)
    return table


def to_csv(table: pd.DataFrame) -> str:
    """The CSV text written to ``data/population/``."""
    buf = io.StringIO()
    table.reset_index().to_csv(buf, index=False, float_format="%.6f", lineterminator="\n")
    return buf.getvalue()


def _fmt(n: float) -> str:
    return f"{n:,.0f}".replace(",", " ")


def readme(inputs: Inputs, table: pd.DataFrame, validation: pd.DataFrame) -> str:
    """The README beside the dataset: sources, method, validation, build command."""
    cr = inputs.census_report
    pr = inputs.p75_report
    ref = inputs.ref
    pop = ref["population"]
    counts = table["source"].value_counts()
    source_rows = "\n".join(
        f"| {s} | {_fmt(n)} | {_fmt(pop[table['source'] == s].sum())} |" for s, n in counts.items()
    )
    filled = pr["filled"].groupby(["departement", "source"]).size()
    filled_text = "; ".join(f"{dep}: {n} ({src})" for (dep, src), n in filled.items())
    gaps = ", ".join(f"{c} ({a}/{b})" for c, a, b in cr["band_total_gap_10pct"])
    recoded = ", ".join(f"{a} → {b}" for a, b in cr["recoded"]) or "none"
    unmatched = ", ".join(cr["unmatched"]) or "none"
    p75_unmatched = ", ".join(pr["unmatched"]) or "none"
    est = table["source"].str.startswith("estimation") & (pop > 0)
    metro_est = est & (ref["zone"] == "metro")
    x_est = inputs.p75[metro_est]
    x_cen = inputs.p75.reindex(inputs.census.index)
    pop_cen = ref.loc[inputs.census.index, "population"]
    w22 = inputs.weights[2022]
    w23 = inputs.weights[2023]
    small_2022 = validation[
        (validation["validation"] == SMALL_LABEL) & (validation["weights"] == 2022)
    ]

    def bias(name: str) -> str:
        value = float(small_2022.loc[small_2022["model"] == name, "mean_bias_pct"].iloc[0])
        return f"{value:+.2f} %"

    train = _features(inputs, inputs.census.index)
    target = _features(inputs, ref.index[est])
    unbounded = next(m for m in MODELS if m.log_population and not m.clip_population)
    w = w22.to_numpy(dtype="float64")
    r_bounded = fit_predict(CHOSEN, inputs.census, train, target) @ w
    r_unbounded = fit_predict(unbounded, inputs.census, train, target) @ w
    unbounded_shift = float(np.mean(r_unbounded / r_bounded - 1.0))
    below = metro_est & (pop < pop_cen.min())
    big = ref[metro_est & (pop >= BIG_COMMUNE)].sort_values("population", ascending=False)
    big_text = ", ".join(
        f"{n} ({c}, {_fmt(p)})"
        for c, n, p in zip(big.index, big["nom"], big["population"], strict=True)
    )
    big_text = (
        f"the {len(big)} estimated communes of métropole with {_fmt(BIG_COMMUNE)} inhabitants "
        f"or more are those ({big_text}); they"
    )
    weights_row = " | ".join(f"{w22[b]:.2f} / {w23[b]:.2f}" for b in AGE_BANDS)
    return f"""# Age structure of every commune (5-year bands)

`{CSV_NAME}` gives, for each of the {_fmt(len(table))} communes of the reference layer
(`geo.reference.load_communes()`: COG 2026, métropole + DROM), the share of each of the 19 age
bands of the DREES APL: `0-4`, `5-9`, …, `85-89`, `90+`. Read it with
`geo.agestructure.load_age_structure()`. Built by `scripts/build_age_structure.py`; do not edit
by hand.

Columns: `code` (INSEE, COG 2026), `source`, then the 19 shares (6 decimals; every row sums to
exactly 1).

| source | communes | population 2023 |
|---|---:|---:|
{source_rows}

- `recensement 2021`: the census counts of the commune (known).
- `estimation`: estimated from the commune's share of inhabitants aged 75+ in 2022, its size
  and its département (inferred; see the method and its measured error below).
- `estimation (profil du département)`: communes without inhabitants; the census profile of
  their département.

## Sources and vintages

| data | source | vintage | licence |
|---|---|---|---|
| Population by sex and 5-year age band, communes of 3,300 inhabitants or more | INSEE, recensement de la population; file found in github Richard-GOZAN/Projet-Stat-2A-Ensai @ 935591d8, `data/demof2.csv` (staged as `shared/data/{CENSUS_FILE}`) | census 2021 (as labelled by the source) | Licence Ouverte 2.0 |
| Share of inhabitants aged 75+, all communes | INSEE (RP 2022 indicator); github linalek/hackathon @ 5be73cfe, `data/part_personnes_agees/part_personnes_agees_communes.json` (staged as `shared/data/{P75_FILE}`) | 2022 | Licence Ouverte 2.0 |
| Commune codes, communes déléguées/associées, population | INSEE COG 2026 via npm `@etalab/decoupage-administratif@6.0.0` (`shared/data/{COG_FILE}`) and `data/reference/` | COG 2026, population municipale 2023 | Licence Ouverte 2.0 |
| Consumption weight per age band (validation only) | DREES, APL workbook for GPs, sheet "Paramètres"; github louiselize/Data_Analysis_Lattitudes_Sante_et_Territoires @ b6378a0b, `data/raw/apl-thierache-centre/apl_generalistes.xlsx` (staged as `shared/data/{DREES_FILE}`) | editions 2022 and 2023 | Licence Ouverte 2.0 |

The derived file is published under the same Licence Ouverte 2.0 (source: INSEE, DREES).

## Method

1. **Census 2021.** The 40 columns `Homme(s)_a_b` / `Femmes_a_b` are summed per band
   (`Hommes_70_47` is the source's typo for men aged 70–74; 90–94 and 95+ make the `90+` band).
   Of the {_fmt(cr["rows"])} rows, {len(cr["rows_without_bands"])} (every DROM commune of the
   source) have no bands (`NA`): those communes are estimated. Codes that are no longer
   communes in 2026 are mapped to today's commune (`commune_parent`, or `chef_lieu` where that
   is empty, of the `commune-deleguee`/`commune-associee` rows) and their counts summed:
   {recoded}. Codes matching no commune: {unmatched}. Result: {_fmt(cr["communes"])} communes.
   The band total is within ±2 % of the same file's "Population municipale 2021" for
   {100 * cr["band_total_within_2pct"]:.1f} % of them; it differs by more than 10 % for
   {len(cr["band_total_gap_10pct"])} (code (band total/population)): {gaps}. The source does not
   say why (its band columns come from another table than its population column; for 16097 and
   69149 its `Libelle` shows the bands of one former commune only). Only the proportions are
   used.
2. **Share aged 75+ in 2022**, the predictor known everywhere: {_fmt(pr["rows"])} rows, codes
   matching no commune: {p75_unmatched}. Reference communes without a value get their
   département's mean weighted by population 2023: {filled_text}. Mayotte (976) is absent from
   the source: it gets the mean of Guyane (973), the other very young DROM (an assumption, not
   data).
3. **Estimate** (model "{CHOSEN.name}"): for each band b,
   `share_ib = α_b + β_b × share75_i + δ_b × ln(clip(pop_i, Pmin, Pmax)) + γ_b,dép(i)`,
   least squares over the census communes (`pop`: population municipale 2023; `Pmin`, `Pmax`:
   the smallest and largest training commune, so the size effect is **not** extrapolated: a
   commune of 200 inhabitants is treated as one of {_fmt(pop_cen.min())} for this term); the
   département effects are shrunk (ridge, λ = {RIDGE_LAMBDA:g} communes: a département with n
   census communes keeps n / (n + λ) of its mean residual); negative shares are set to 0 and
   rows renormalised to 1. A département without census communes (the DROM) has no effect of
   its own: only its 75+ share and size act, with the coefficients learnt in métropole.
4. The model is chosen by the validation below among variants (quadratic 75+ term, unbounded
   size, 75+ bands rescaled to the known 75+ share). The size term removes most of the bias on
   the smallest known communes ({bias("75+ share + département")} without it,
   {bias(CHOSEN.name)} bounded, {bias(unbounded.name)} unbounded). Unbounded, it would raise
   `r` by {100 * unbounded_shift:+.1f} % on average over the estimated communes, purely by
   extrapolating a straight line in ln(population) far below anything tested: the bounded,
   cautious version is kept. λ between 0 and 50 changes the figures by a few hundredths.

## Validation

Census communes are **left out** and predicted, and what matters for the APL is compared: the
standardised population ratio `r_i = Σ_b share_ib × w_b` (DREES weights 2022 and 2023), as the
relative error `r̂_i / r_i − 1`. Two splits: 5 random folds (seed {SEED}) over the
{_fmt(len(inputs.census))} communes; and the smallest known communes (under
{_fmt(SMALL_MAX)} inhabitants in 2023, i.e. 3,300–5,000 at the 2021 census but for a few that
lost inhabitants since: the closest to the estimated communes), trained on all the others (all
of {_fmt(SMALL_MAX)} or more, so the bounded size term is tested outside its training range,
as on the estimated communes). Baselines: the national profile (all training communes pooled)
and the département profile (the département's training communes pooled; national where it has
none). Reproduced by `validate()` in the script (and by `tests/test_agestructure.py`).

{validation_markdown(validation)}

**Caveat: extrapolation.** The census source lacks Paris, Marseille, Lyon and all of Corsica:
{big_text} are estimated like the small communes (Paris and Corsica with no training commune in
their département). Apart from them, the estimated communes of métropole are small:
{_fmt(below.sum())} of {_fmt(metro_est.sum())} have fewer inhabitants than every training
commune ({_fmt(pop_cen.min())}); their median is {_fmt(pop[metro_est].median())} inhabitants
against {_fmt(pop_cen.median())} for the census communes, and their 75+ shares spread wider
({100 * x_est.min():.1f} % to {100 * x_est.max():.1f} %, against {100 * x_cen.min():.1f} % to
{100 * x_cen.max():.1f} % in training). The real error on small communes is probably larger
than measured here, even on the communes under 5,000 inhabitants. The DROM are estimated with
no training commune in their département, and Mayotte with a borrowed 75+ share. For the APL
only `r_i` matters; the detailed structure of an estimated commune must not be read as data.

DREES weights used for the validation (2022 / 2023):

| {" | ".join(AGE_BANDS)} |
|{"---:|" * len(AGE_BANDS)}
| {weights_row} |

## Rebuild

```
python scripts/build_age_structure.py            # reads ../shared/data (or --shared FOLDER)
python scripts/build_age_structure.py --check    # rebuilds in memory, compares with these files
```
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED_DEFAULT, help="shared data folder")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    parser.add_argument(
        "--check", action="store_true", help="rebuild in memory and compare with --out"
    )
    args = parser.parse_args(argv)
    inputs = load_inputs(args.shared)
    table = build(inputs)
    validation = validate(inputs)
    files = {CSV_NAME: to_csv(table), "README.md": readme(inputs, table, validation)}
    if args.check:
        return write_or_check(files, args.out, check=True, what="age structure")
    write_or_check(files, args.out, check=False, what="age structure")
    print(table["source"].value_counts().to_string())
    print(validation_markdown(validation))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
