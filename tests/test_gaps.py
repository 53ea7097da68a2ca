"""Gap classes and their summaries, checked by hand on small frames and the 3×3 grid."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.analysis import analyse
from geo.errors import DataValidationError
from geo.gaps import (
    CONSULTATIONS_PER_FTE_PER_YEAR,
    UNCLASSIFIED_LABEL,
    classify_gaps,
    gap_scheme,
    summarise_gaps,
)

KM_IS_MINUTE = {"detour_factor": 1.0, "speed_kmh": 60.0}
CENTRE = (715_000.0, 6_585_000.0)  # centre of G5


def _frame(values: list[float], measure: str = "apl", supply: str = "consultations", **cols):
    n = len(values)
    frame = pd.DataFrame(
        {
            "code": [f"C{i}" for i in range(n)],
            "nom": [f"Commune {i}" for i in range(n)],
            "population": cols.pop("population", [100] * n),
            "value": values,
            "nearest_minutes": cols.pop("nearest", [5.0] * n),
            "status": cols.pop("status", ["ok"] * n),
            **cols,
        }
    )
    frame.attrs = {
        "measure": measure,
        "parameters": {"supply": supply},
        "unit_fr": "u",
        "higher_is_better": measure != "nearest",
        "label_fr": measure,
    }
    return frame


def test_apl_preset_boundaries() -> None:
    # "APL < 2.5" is sous-dense: 2.5 itself is intermédiaire, 4 is bien dotée
    res = classify_gaps(_frame([2.4999, 2.5, 3.9999, 4.0, np.nan, 0.0]))
    assert res["gap_class"].tolist() == [
        "zone sous-dense",
        "zone intermédiaire",
        "zone intermédiaire",
        "zone bien dotée",
        "zone sous-dense",  # no practitioner in reach: no access at all
        "zone sous-dense",
    ]
    assert res["gap_level"].tolist() == [0, 1, 1, 2, 0, 0]
    assert res["in_gap"].tolist() == [True, False, False, False, True, True]
    assert res.attrs["gaps"]["breaks"] == [2.5, 4.0]
    assert res.attrs["measure"] == "apl"  # the result's metadata is kept


@pytest.mark.parametrize(
    ("measure", "supply", "expected"),
    [
        # APL in FTE or headcount per 100,000: 2.5 consultations ↔ 2.5 / 4,900 FTE per inhabitant
        ("apl", "fte", (2.5e5 / CONSULTATIONS_PER_FTE_PER_YEAR, 4e5 / 4_900)),
        ("apl", "headcount", (2.5e5 / 4_900, 4e5 / 4_900)),
        ("2sfca", "headcount", (2.5e4 / 4_900, 4e4 / 4_900)),
    ],
)
def test_apl_preset_adapts_to_the_unit(measure: str, supply: str, expected: tuple) -> None:
    scheme = gap_scheme(_frame([1.0], measure, supply), preset="apl")
    assert scheme.breaks == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("measure", "supply", "threshold"),
    [
        ("2sfca", "headcount", 10_000 / 3_500),  # per 10,000 inhabitants
        ("density", "headcount", 10_000 / 3_500),
        ("apl", "fte", 100_000 / 3_500),  # per 100,000
        ("apl", "consultations", 4_900 / 3_500),  # 1.4 consultations per inhabitant
    ],
)
def test_ratio_preset_hpsa(measure: str, supply: str, threshold: float) -> None:
    frame = _frame([threshold * 0.999, threshold, threshold * 1.001], measure, supply)
    res = classify_gaps(frame, preset="ratio")
    # HPSA: 3,500 inhabitants *or more* per practitioner is a shortage (right-closed)
    assert res["in_gap"].tolist() == [True, True, False]
    assert res["gap_class"].iat[0].startswith("pénurie")


def test_travel_time_preset_any_measure() -> None:
    nearest = [20.0, 20.01, 30.0, 30.01, np.nan]
    res = classify_gaps(_frame([1.0] * 5, nearest=nearest), preset="travel_time")
    assert res["gap_class"].tolist() == [
        "20 min ou moins",
        "de 20 à 30 min",
        "de 20 à 30 min",
        "plus de 30 min",
        "plus de 30 min",  # no practitioner at all
    ]
    # the nearest measure uses it by default
    assert gap_scheme(_frame([1.0], "nearest")).preset == "travel_time"
    # "more than 20 min" as a gap: one break
    one = classify_gaps(_frame([1.0] * 5, nearest=nearest), preset="travel_time", breaks=[20])
    assert one["in_gap"].tolist() == [False, True, True, True, True]
    assert list(one.attrs["gaps"]["labels"]) == ["plus de 20", "20 ou moins"]


def test_custom_breaks_and_labels() -> None:
    frame = _frame([0.5, 1.5, 2.5], "gravity")
    res = classify_gaps(frame, breaks=[1, 2], labels=["faible", "moyen", "fort"])
    assert res["gap_class"].tolist() == ["faible", "moyen", "fort"]
    default = classify_gaps(frame, breaks=[1.5])
    assert default["gap_class"].tolist() == ["moins de 1,5", "1,5 ou plus", "1,5 ou plus"]


def test_unclassified_communes() -> None:
    frame = _frame(
        [np.nan, np.nan, 3.0],
        population=[0, 100, 0],
        status=["population nulle", "non localisée", "population nulle"],
    )
    res = classify_gaps(frame)
    assert res["gap_class"].tolist() == [
        UNCLASSIFIED_LABEL,
        UNCLASSIFIED_LABEL,
        "zone intermédiaire",
    ]
    assert res["gap_level"].tolist() == [-1, -1, 1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"preset": "hpsa"}, r"preset 'hpsa' is not one of 'apl', 'ratio', 'travel_time'"),
        ({"breaks": [2, 1]}, r"strictly increasing, got \[2.0, 1.0\]"),
        ({"breaks": []}, "at least one class boundary"),
        ({"breaks": [1, np.inf]}, "finite"),
        ({"breaks": "2.5"}, "sequence of numbers"),
        ({"labels": ["a", "b"]}, r"labels must name 3 classes"),
        ({"labels": ["a", "a", "b"]}, "distinct"),
    ],
)
def test_scheme_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        classify_gaps(_frame([1.0]), **kwargs)


def test_preset_not_applicable() -> None:
    with pytest.raises(DataValidationError, match=r"measure 'gravity' has no default class"):
        classify_gaps(_frame([1.0], "gravity"))
    with pytest.raises(DataValidationError, match=r"preset 'apl'.*'nearest' is not one"):
        classify_gaps(_frame([1.0], "nearest"), preset="apl")
    with pytest.raises(DataValidationError, match=r"cannot convert supply 'visits'"):
        classify_gaps(_frame([1.0], "2sfca", "visits"), preset="ratio")
    with pytest.raises(DataValidationError, match=r"attrs\['measure'\] is missing"):
        classify_gaps(pd.DataFrame({"value": [1.0]}))


# --------------------------------------------------------------------------------------------
# summaries on the grid
# --------------------------------------------------------------------------------------------
def _grid_apl(grid3x3: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One practitioner of 76,400 consultations a year at the centre of G5 (caps off).

    DREES bands (each includes its lower bound): G5 itself (0 min) weighs 1, its four
    neighbours (10 min: "entre 10 et 15 minutes") and the corners (14.1 min) 2/3. Weighted
    demand 5000 + 2/3 × 40,000 = 95,000 / 3, so the APL is 76,400 × 3 / 95,000 = 2.41 in G5
    and 2/3 of it, 1.61, in the eight others. DREES's activity caps would count 6,000.
    """
    prac = gpd.GeoDataFrame(
        {"id": ["P0"], "consultations_per_year": [76_400.0]},
        geometry=[shapely.Point(CENTRE)],
        crs=2154,
    )
    return analyse(grid3x3, prac, "apl", surroundings=None, activity_caps=False, **KM_IS_MINUTE)


def test_summary_by_hand(grid3x3: gpd.GeoDataFrame) -> None:
    res = _grid_apl(grid3x3)
    apl_g5 = 76_400 / (5000 + 2 / 3 * 40_000)
    assert res.set_index("code")["value"]["G5"] == pytest.approx(apl_g5)
    assert res.set_index("code")["value"]["G1"] == pytest.approx(2 / 3 * apl_g5)
    # every commune is sous-dense (45,000 inhabitants)
    summary = summarise_gaps(res)
    first = summary.classes.iloc[0]
    assert first["gap_class"] == "zone sous-dense"
    assert first["communes"] == 9
    assert summary.classes["population"].tolist() == [45_000, 0, 0]
    g = summary.groups.iloc[0]
    # population-weighted mean: (5 × 2.41 + 40 × 2/3 × 2.41) / 45 = 76,400 / 45,000 (on an
    # island the population-weighted APLs add up to the supply)
    assert g["population_weighted_mean"] == pytest.approx((5 + 40 * 2 / 3) * apl_g5 / 45)
    assert g["population_weighted_mean"] == pytest.approx(76_400 / 45_000)
    assert g["population_share_in_gap"] == 1.0
    # worst communes: the eight at 1.61 tie, larger population first; G5 (2.41) last
    assert summary.worst["code"].tolist() == ["G9", "G8", "G7", "G6", "G4", "G3", "G2", "G1", "G5"]
    assert summary.worst["rank"].tolist() == list(range(1, 10))
    assert summary.attrs["gaps"]["preset"] == "apl"


def test_worst_skips_empty_communes(grid3x3: gpd.GeoDataFrame) -> None:
    res = _grid_apl(grid3x3)
    res.loc[res["code"] == "G9", "population"] = 0
    assert "G9" not in summarise_gaps(res).worst["code"].tolist()


def test_summary_by_epci_and_departement(grid3x3: gpd.GeoDataFrame) -> None:
    res = _grid_apl(grid3x3)
    by_epci = summarise_gaps(res, by="epci", worst=2)
    # E1: G1..G6 (21,000 inhabitants), E2: G7..G9 (24,000)
    assert by_epci.groups.set_index("group")["population"].to_dict() == {"E1": 21_000, "E2": 24_000}
    assert len(by_epci.classes) == 2 * 3
    assert by_epci.worst.groupby("group")["rank"].max().to_dict() == {"E1": 2, "E2": 2}
    assert by_epci.worst.set_index(["group", "rank"])["code"][("E2", 1)] == "G9"
    by_dep = summarise_gaps(res, by="departement")
    assert by_dep.groups["group_name"].tolist() == ["99 (99)"]  # not a real département
    with pytest.raises(DataValidationError, match=r"by 'region' is not one of None, 'epci'"):
        summarise_gaps(res, by="region")
    with pytest.raises(DataValidationError, match="worst must be an integer ≥ 0, got -1"):
        summarise_gaps(res, worst=-1)


def test_summary_reuses_the_classes(grid3x3: gpd.GeoDataFrame) -> None:
    res = classify_gaps(_grid_apl(grid3x3), preset="apl", breaks=[2.0], labels=["bas", "haut"])
    summary = summarise_gaps(res)
    assert summary.classes["gap_class"].tolist() == ["bas", "haut"]
    assert summary.groups["population_in_gap"].iat[0] == 40_000  # all but G5 (1.61 < 2 ≤ 2.41)
    assert summarise_gaps(res, preset="apl").scheme.breaks == (2.5, 4.0)
