"""The COG history: former commune codes → today's commune (data/reference/cog_historique.csv)."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.cog import (
    NATURE_AMBIGUOUS,
    ambiguous_codes,
    current_code_of,
    load_history,
    recode_communes,
)
from geo.errors import ReferenceDataError
from geo.reference import load_communes


def test_history_table_is_consistent_with_the_reference() -> None:
    history = load_history()
    assert history["ancien_code"].is_unique
    assert history["ancien_code"].str.fullmatch(r"\d{5}|2[AB]\d{3}").all()
    current = set(load_communes()["code"])
    # a current commune is never re-coded
    assert not set(history["ancien_code"]) & current
    mapped = history[history["nature"] != NATURE_AMBIGUOUS]
    # targets are current communes (métropole, DROM, or a collectivité d'outre-mer like 97701)
    in_reference = mapped["code"].isin(current)
    assert in_reference.mean() > 0.99
    assert mapped.loc[~in_reference, "code"].str.startswith("97").all()
    assert set(history["nature"]) == {
        "ancien code",
        "commune déléguée",
        "commune associée",
        "arrondissement municipal",
        NATURE_AMBIGUOUS,
    }
    paris = history[history["code"] == "75056"]
    assert len(paris) == 20 and set(paris["nature"]) == {"arrondissement municipal"}


def test_known_mergers() -> None:
    assert current_code_of("01091") == "01033"  # Châtillon-en-Michaille → Valserhône
    assert current_code_of("93059") == "93066"  # Pierrefitte-sur-Seine → Saint-Denis (2025)
    assert current_code_of("69385") == "69123"  # Lyon 5e arrondissement
    row = load_history().set_index("ancien_code").loc["01091"]
    assert (row["nom_ancien"], row["nom"], row["nature"]) == (
        "Châtillon-en-Michaille",
        "Valserhône",
        "commune déléguée",
    )


def test_current_unknown_and_ambiguous_codes_are_not_recoded() -> None:
    assert current_code_of("01033") is None
    assert current_code_of("42218") is None
    assert current_code_of("99999") is None
    split = ambiguous_codes()
    assert split == {"55273": ("55245", "55386"), "60455": ("60054", "60694")}
    assert current_code_of("55273") is None


def test_recode_communes_keeps_index_missing_values_and_reports() -> None:
    codes = pd.Series(
        ["01091", "01033", None, "01091", "99999", "55273", "93059"], index=list("abcdefg")
    )
    new, report = recode_communes(codes)
    assert new.index.tolist() == list("abcdefg")
    assert new.tolist() == ["01033", "01033", None, "01033", "99999", "55273", "93066"]
    assert report.to_dict("records") == [
        {"ancien_code": "01091", "code": "01033", "rows": 2},
        {"ancien_code": "93059", "code": "93066", "rows": 1},
    ]
    empty, none = recode_communes(pd.Series([], dtype=object))
    assert empty.empty and none.empty and list(none.columns) == ["ancien_code", "code", "rows"]


def test_missing_history_file(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("CARTOSOINS_REFERENCE_DIR", str(tmp_path))
    with pytest.raises(ReferenceDataError, match=r"build_cog_history\.py"):
        load_history()
