"""Scenario and siting maps: before / after / change, sites, in a real browser."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.analysis import analyse
from geo.demo import generate_practitioners
from geo.errors import DataValidationError
from geo.maps.choropleth import (
    APL_ZONAGE_COLOURS,
    NO_ACCESS_COLOUR,
    NO_DATA_COLOUR,
    PALETTES,
    SYNTHETIC_LABEL,
    analysis_spec,
)
from geo.maps.compare import (
    _delta_spec,
    comparison_map,
    delta_breaks,
    displayed_change,
    sites_layer,
)
from geo.maps.offline import save_offline_html, to_offline_html
from geo.reference import load_communes
from geo.territory import resolve_territory
from tests.browser import OfflineBrowser


def test_delta_breaks() -> None:
    assert delta_breaks([-2.0, 0.0, 1.0]) == [-1.0, -0.2, -1e-09, 1e-09, 0.2, 1.0, 2.0]
    assert delta_breaks([0.0, 0.0]) == [1e-09]
    assert delta_breaks([np.nan, 0.05], decimals=1)[4] == 0.1  # at least one step


@pytest.fixture(scope="module")
def scenario() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """APL of Puy-de-Dôme before and after 3 more (simulated) GPs at Ambert's town hall."""
    france = load_communes()
    gps = generate_practitioners(france, seed=0, professions=["medecin_generaliste"])
    territory = resolve_territory(departements="63")
    ambert = territory.communes.set_index("code").loc["63003"]
    extra = gpd.GeoDataFrame(
        {
            "id": ["NEW-1", "NEW-2", "NEW-3"],
            "consultations_per_year": [4900.0] * 3,
            "synthetic": True,
        },
        geometry=[ambert["chef_lieu"]] * 3,
        crs=4326,
    )
    before = analyse(territory, gps, "apl")
    after = analyse(territory, pd.concat([gps, extra], ignore_index=True), "apl")
    result = before[["code", "nom", "population", "epci", "geometry"]].copy()
    result["before"] = before["value"].to_numpy()
    result["after"] = after["value"].to_numpy()
    result["delta"] = result["after"] - result["before"]
    result.attrs = before.attrs
    sites = pd.DataFrame(
        {
            "lon": [ambert["chef_lieu"].x],
            "lat": [ambert["chef_lieu"].y],
            "rank": [1],
            "label": ["Site n° 1 : Ambert — 3 médecins"],
            "catchment_km": [15.4],
        }
    )
    return result, sites


def test_comparison_map_html(scenario: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    result, sites = scenario
    page = to_offline_html(
        comparison_map(result, "Puy-de-Dôme (63)", scenario="3 médecins à Ambert", sites=sites)
    )
    for text in ("Avant", "Après", "Écart", "inchangé", "hausse", SYNTHETIC_LABEL, "Ambert"):
        assert text in page
    assert page.count('class="cs-legend"') == 3
    assert "baselayerchange" in page
    # only increases: adding practitioners never lowers anyone's APL
    change = result["delta"].dropna()
    assert (change >= -1e-12).all() and (change > 0).any()


def test_comparison_map_in_browser(
    scenario: tuple[gpd.GeoDataFrame, pd.DataFrame],
    offline_browser: OfflineBrowser,
    tmp_path: Path,
) -> None:
    result, sites = scenario
    path = save_offline_html(
        comparison_map(result, "Puy-de-Dôme (63)", scenario="3 médecins à Ambert", sites=sites),
        tmp_path / "scenario.html",
    )
    page, report = offline_browser.open(path)
    try:
        assert report.page_errors == [] and report.console_errors == []
        assert report.blocked == [] and report.failed == []
        visible = page.evaluate(
            "() => [...document.querySelectorAll('.cs-legend')]"
            ".filter(d => d.style.display !== 'none').map(d => d.dataset.layer)"
        )
        sites_drawn = page.locator(".cs-site").count()
        page.get_by_text("Après", exact=True).click()
        after_click = page.evaluate(
            "() => [...document.querySelectorAll('.cs-legend')]"
            ".filter(d => d.style.display !== 'none').map(d => d.dataset.layer)"
        )
    finally:
        page.close()
    assert visible == ["Écart"]
    assert after_click == ["Après"]
    assert sites_drawn == 1


def test_errors(scenario: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    result, sites = scenario
    with pytest.raises(DataValidationError, match="lacks column"):
        comparison_map(result.drop(columns="delta"), "x")
    with pytest.raises(DataValidationError, match="'rank'"):
        sites_layer(sites.drop(columns="rank"))
    grid_like = result.iloc[:3].copy()
    grid_like["after"] = grid_like["before"]
    grid_like["delta"] = 0.0
    page = to_offline_html(comparison_map(grid_like, "x"))
    assert "inchangé" in page
    assert shapely.is_valid(result.geometry.to_numpy()).all()


def test_map_of_a_real_scenario_and_siting() -> None:
    from geo import prepare, recommend_sites
    from geo.maps.compare import sites_for_map
    from geo.scenario import Scenario

    gps = generate_practitioners(load_communes(), seed=0, professions=["medecin_generaliste"])
    baseline = prepare(resolve_territory(departements="15"), gps, "apl")
    retired = Scenario().retire(horizon_year=2030).apply(baseline)
    siting = recommend_sites(retired, 3, 2)
    sites = sites_for_map(siting.sites, catchment_km=15.4, gain_label="habitants sortis")
    assert sites["rank"].tolist() == [1, 2, 3]
    assert sites["label"].str.startswith("Site n° ").all()
    page = to_offline_html(
        comparison_map(
            siting.scenario.communes, "Cantal (15)", scenario="3 sites de 2 médecins", sites=sites
        )
    )
    assert page.count("cs-site") >= 3 + 1  # three markers and the stylesheet
    assert "Classe avant → après" in page
    assert SYNTHETIC_LABEL in page


# --- issue #12: words, fixed colours and tooltips that add up ---------------------------------


def _grid_scenario(grid: gpd.GeoDataFrame, measure: str = "apl") -> gpd.GeoDataFrame:
    """Before / after on the 3×3 grid, G1 chosen so that rounding the raw change misleads."""
    before = [2.14, 0.0, 3.0, 4.2, 5.0, 1.0, 2.0, 6.0, np.nan]
    after = [1.76, 0.0, 3.0, 4.2, 5.55, 1.0, 2.6, 6.0, np.nan]
    result = grid.assign(
        before=before,
        after=after,
        delta=np.subtract(after, before),
        status=["ok", "aucun médecin à moins de 20 min", *["ok"] * 6, "non renseigné"],
    )
    result.attrs = {
        "measure": measure,
        "label_fr": "Accessibilité potentielle localisée (APL)",
        "unit_fr": "consultations par an et par habitant standardisé",
        "parameters": {"catchment_minutes": 20.0, "supply": "consultations"},
        "higher_is_better": measure != "nearest",
        "sources": {"practitioners": "médecins généralistes libéraux — INSEE BPE, 2017"},
    }
    return result


def test_tooltip_before_after_and_change_add_up(grid3x3: gpd.GeoDataFrame) -> None:
    result = _grid_scenario(grid3x3)
    base, _ = analysis_spec(result, "x")
    shown = displayed_change(result, replace(base, column="before"), "after", 1)
    before, after, change = (np.asarray(v) for v in shown)
    ok = np.isfinite(before)
    assert np.allclose(np.round(after[ok] - before[ok], 1), change[ok])
    assert change[0] == -0.3 and round(float(result["delta"].iloc[0]), 1) == -0.4
    page = to_offline_html(comparison_map(result, "Hautes-Alpes (05)", scenario="essai"))
    g1 = page[page.index('"code":"G1"') :]
    g1 = g1[: g1.index("]")]
    assert '"2,1"' in g1 and '"1,8"' in g1 and '"-0,3"' in g1 and '"-0,4"' not in g1
    assert '"-0,0"' not in page


def test_comparison_title_colours_and_orientation(grid3x3: gpd.GeoDataFrame) -> None:
    result = _grid_scenario(grid3x3)
    page = to_offline_html(comparison_map(result, "Hautes-Alpes (05)", scenario="départs"))
    assert "Accès aux médecins généralistes (APL) — Hautes-Alpes (05)" in page
    # before / after in the fixed APL zonage colours, the commune without a GP in maroon
    for colour in (*APL_ZONAGE_COLOURS, NO_ACCESS_COLOUR, NO_DATA_COLOUR):
        assert colour in page
    assert "aucun médecin à moins de 20 min" in page
    # a worsening is orange: a fall of the APL, a rise of the minutes to the nearest GP
    spec = _delta_spec(analysis_spec(result, "x")[0], "d", delta_breaks([-1.0, 1.0]), False)
    assert spec.colours is not None and spec.colours[0] == PALETTES["PuOr"][0]
    worse_up = _delta_spec(analysis_spec(result, "x")[0], "d", delta_breaks([-1.0, 1.0]), True)
    assert worse_up.colours is not None and worse_up.colours[-1] == PALETTES["PuOr"][0]


def test_retirement_title_counts_the_territory_s_own_practitioners() -> None:
    from geo import prepare
    from geo.scenario import Scenario

    gps = generate_practitioners(load_communes(), seed=0, professions=["medecin_generaliste"])
    territory = resolve_territory(departements="05")
    retired = Scenario().retire(horizon_year=2030).apply(prepare(territory, gps, "apl"))
    own = int(retired.summary["leaving_territory"])
    in_05 = gps[gps["commune"].astype(str).str.startswith("05")]
    assert 0 < own < len(in_05) < 1_000 < len(gps)  # not the national count
    changes = "; ".join(retired.problem.history)
    page = to_offline_html(comparison_map(retired.communes, "Hautes-Alpes (05)", scenario=changes))
    assert f"{own} praticiens du territoire" in page
    national = f"{len(gps):,}".replace(",", "\u202f")
    for count in (national, str(len(gps))):  # as a count of practitioners (not in coordinates)
        assert not re.search(rf"(?<![\d.,]){count}\s+praticiens", page)
