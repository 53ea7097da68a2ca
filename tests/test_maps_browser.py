"""Real maps of real territories in headless Chromium with the network blocked."""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from geo.analysis import analyse
from geo.demo import generate_practitioners
from geo.maps.choropleth import SYNTHETIC_LABEL, analysis_map
from geo.maps.offline import save_offline_html
from geo.reference import load_communes
from geo.territory import resolve_territory
from tests.browser import CENTRE_OF_JS, COUNT_LAYERS_JS, VIEWPORT, OfflineBrowser, hover_until


@pytest.fixture(scope="module")
def national_gps() -> gpd.GeoDataFrame:
    return generate_practitioners(load_communes(), seed=0, professions=["medecin_generaliste"])


#: Per GeoJSON layer: number of features and of features carrying a tooltip.
GEOJSON_LAYERS_JS = """
() => {
    const map = window[document.querySelector(".folium-map").id];
    const out = [];
    map.eachLayer(layer => {
        if (layer instanceof L.GeoJSON) {
            const parts = layer.getLayers();
            out.push([parts.length, parts.filter(p => p.getTooltip && p.getTooltip()).length]);
        }
    });
    return out;
}
"""


def _commune_features(layers: list[list[int]]) -> int:
    """Features of the one GeoJSON layer whose features carry tooltips (the communes)."""
    with_tooltips = [n for n, tips in layers if tips]
    assert len(with_tooltips) == 1, layers
    return with_tooltips[0]


def _assert_clean(report: object, path: Path) -> None:
    assert report.page_errors == []  # type: ignore[attr-defined]
    assert report.console_errors == []  # type: ignore[attr-defined]
    assert report.blocked == []  # type: ignore[attr-defined]
    assert report.failed == []  # type: ignore[attr-defined]
    others = [u for u in report.requests if not u.startswith("data:")]  # type: ignore[attr-defined]
    assert others == [path.resolve().as_uri()]


def test_departement_apl_map(
    offline_browser: OfflineBrowser, national_gps: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    from PIL import Image

    territory = resolve_territory(departements="63")
    result = analyse(territory, national_gps, "apl")
    path = save_offline_html(analysis_map(result, territory.name), tmp_path / "apl63.html")
    clermont = result.set_index("code").loc["63113"]
    page, report = offline_browser.open(path)
    try:
        _assert_clean(report, path)
        counts = page.evaluate(COUNT_LAYERS_JS)
        layers = page.evaluate(GEOJSON_LAYERS_JS)
        legend = page.locator(".cs-legend").inner_text()
        title = page.locator(".cs-title").inner_text()
        credits = page.locator(".cs-credits").inner_text()
        control = page.locator(".leaflet-control-layers").inner_text()
        scale = page.locator(".leaflet-control-scale").count()
        png = page.screenshot()
        point = page.evaluate(CENTRE_OF_JS, [45.7772, 3.0863])  # Clermont-Ferrand town hall
        tooltip = hover_until(page, point, ".leaflet-tooltip")
    finally:
        page.close()
    # one drawn polygon per commune, on one canvas
    assert _commune_features(layers) == 463
    assert counts["polygons"] == 463 + 1  # and the territory's outline
    assert counts["canvases"] == 1 and counts["svgPathsInMap"] == 0
    assert "consultations par an et par habitant standardisé" in legend
    assert "> 2,5 – 4,0" in legend
    assert "Puy-de-Dôme (63)" in title and SYNTHETIC_LABEL in title
    assert SYNTHETIC_LABEL in credits and "INSEE COG 2026" in credits
    assert "Limites" in control
    assert scale == 1
    tip = "".join(tooltip.split()).replace("\u202f", "")  # table cells, no separators
    assert "CommuneClermont-Ferrand" in tip
    assert "Population2023146351" in tip
    value = f"{clermont['value']:.1f}".replace(".", ",")
    assert f"standardisé){value}" in tip
    # the class of its value, among the zonage breaks (1.5, 2.5, 4, 5)
    bounds = [0.0, 1.5, 2.5, 4.0, 5.0]
    k = int(np.searchsorted(bounds, clermont["value"], side="left")) - 1
    low, high = (f"{b:.1f}".replace(".", ",") for b in (bounds[k], bounds[k + 1]))
    assert f"Classe>{low}–{high}" in tip, tip
    assert "Situationok" in tip
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (VIEWPORT["width"], VIEWPORT["height"])
    colours = image.getcolors(maxcolors=VIEWPORT["width"] * VIEWPORT["height"])
    assert colours is not None and len(colours) > 50


def test_national_map_draws_every_commune(
    offline_browser: OfflineBrowser, national_gps: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    france = load_communes()
    result = analyse(france, national_gps, "density", surroundings=None)
    path = save_offline_html(analysis_map(result, "France"), tmp_path / "france.html")
    assert path.stat().st_size < 30_000_000
    page, report = offline_browser.open(path, timeout_ms=60_000)
    try:
        _assert_clean(report, path)
        counts = page.evaluate(COUNT_LAYERS_JS)
        layers = page.evaluate(GEOJSON_LAYERS_JS)
    finally:
        page.close()
    assert _commune_features(layers) == int(france.geometry.notna().sum())  # 34,871
    assert counts["canvases"] == 1
