from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from geo.agestructure import AGE_BANDS, load_age_structure, standardised_ratio
from geo.errors import DataValidationError
from geo.reference import load_communes

ROOT = Path(__file__).resolve().parents[1]
CENSUS = "population/insee_rp2021_communes_3300plus_ages_gozan.csv"


def _script() -> ModuleType:
    name = "build_age_structure"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_bands() -> None:
    assert len(AGE_BANDS) == 19
    assert AGE_BANDS[:2] == ("0-4", "5-9") and AGE_BANDS[-2:] == ("85-89", "90+")
    assert AGE_BANDS == _script().AGE_BANDS


def test_every_reference_commune_has_a_structure() -> None:
    ages = load_age_structure()
    codes = load_communes()["code"]
    assert ages.index.is_unique
    assert set(ages.index) == set(codes) and len(ages) == 34_875
    assert list(ages.columns) == [*AGE_BANDS, "source"]
    shares = ages[list(AGE_BANDS)].to_numpy()
    assert (shares >= 0).all()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-6)
    assert set(ages["source"]) == {
        "recensement 2021",
        "estimation",
        "estimation (profil du département)",
    }
    assert ages.loc["63113", "source"] == "recensement 2021"  # Clermont-Ferrand
    assert ages.loc["55050", "source"] == "estimation (profil du département)"  # no inhabitant


def test_load_returns_an_independent_copy() -> None:
    ages = load_age_structure()
    ages.loc["63113", "0-4"] = 99.0
    assert load_age_structure().loc["63113", "0-4"] < 1.0


def test_standardised_ratio_by_hand_and_errors() -> None:
    table = pd.DataFrame(
        {"a": [1.0, 0.25], "b": [0.0, 0.75], "autre": ["x", "y"]}, index=["C1", "C2"]
    )
    r = standardised_ratio(table, {"a": 0.5, "b": 2.0})
    assert r.to_dict() == {"C1": 0.5, "C2": 0.25 * 0.5 + 0.75 * 2.0}
    with pytest.raises(DataValidationError, match=r"tranche\(s\) d'âge \['c'\] absente"):
        standardised_ratio(table, {"a": 1.0, "c": 1.0})
    with pytest.raises(DataValidationError, match="poids manquant ou négatif"):
        standardised_ratio(table, {"a": -1.0})
    bad = table.assign(b=["0,5", "0.75"])
    with pytest.raises(DataValidationError, match=r"'C1', tranche 'b' : '0,5'"):
        standardised_ratio(bad, {"a": 1.0, "b": 1.0})


def test_embedded_ratios_are_plausible() -> None:
    ages = load_age_structure()
    w = dict.fromkeys(AGE_BANDS, 1.0)
    np.testing.assert_allclose(standardised_ratio(ages, w), 1.0, atol=1e-6)
    older = {b: (2.0 if b in ("75-79", "80-84", "85-89", "90+") else 1.0) for b in AGE_BANDS}
    r = standardised_ratio(ages, older) - 1.0  # = share aged 75+
    assert r.between(0.0, 0.6).all()


@pytest.mark.shared_data
def test_census_communes_keep_their_census_shares(shared_data: Path) -> None:
    raw = pd.read_csv(shared_data / CENSUS, sep=";", dtype=str, keep_default_na=False)
    band = {}
    for col in raw.columns:
        m = re.fullmatch(r"(?:Homme|Femme)s?_(\d+)_(?:\d+|plus)", col)
        if m:
            low = int(m.group(1))
            band[col] = "90+" if low >= 90 else f"{low}-{low + 4}"
    assert sorted(set(band.values())) == sorted(AGE_BANDS)
    counts = raw[list(band)].apply(lambda s: pd.to_numeric(s, errors="coerce"))
    counts = counts.T.groupby(pd.Series(band)).sum(min_count=1).T[list(AGE_BANDS)]
    counts.index = raw["Code"]
    counts = counts.dropna()
    ages = load_age_structure()
    # codes that are communes in 2026 and took in no other code of the file
    own = counts.index[counts.index.isin(ages.index)].difference(["49126", "69114", "93066"])
    assert len(own) > 3_200
    expected = counts.loc[own].div(counts.loc[own].sum(axis=1), axis=0)
    got = ages.loc[own, list(AGE_BANDS)]
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=1.01e-6)
    assert (ages.loc[own, "source"] == "recensement 2021").all()
    # a merged code's counts go to today's commune: Pierrefitte (93059) into Saint-Denis
    merged = counts.loc[["93059", "93066"]].sum()
    np.testing.assert_allclose(
        ages.loc["93066", list(AGE_BANDS)].to_numpy(float), merged / merged.sum(), atol=1.01e-6
    )
    # DROM rows of the source have no bands: estimated
    assert ages.loc["97411", "source"] == "estimation"


@pytest.mark.shared_data
def test_readme_validation_figures_are_reproduced(shared_data: Path) -> None:
    script = _script()
    inputs = script.load_inputs(shared_data)
    table = script.validate(inputs)
    readme = (ROOT / "data" / "population" / "README.md").read_text(encoding="utf-8")
    assert script.validation_markdown(table) in readme
    chosen = table[table["model"] == script.CHOSEN.name]
    national = table[table["model"] == "national profile"]
    # the model beats the national baseline on every split and edition
    assert (chosen["median_abs_pct"].to_numpy() < national["median_abs_pct"].to_numpy()).all()
    folds = table[table["validation"] != script.SMALL_LABEL]
    assert (folds["n"] == len(inputs.census)).all()
