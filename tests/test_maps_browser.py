"""Real maps of real territories in headless Chromium with the network blocked."""

from __future__ import annotations

import io
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.analysis import analyse
from geo.demo import generate_practitioners
from geo.maps.choropleth import (
    APL_ZONAGE_BREAKS,
    APL_ZONAGE_CLASSES,
    SYNTHETIC_LABEL,
    analysis_map,
)
from geo.maps.offline import save_offline_html
from geo.reference import load_communes
from geo.territory import resolve_territory
from tests.browser import (
    CENTRE_OF_JS,
    COUNT_LAYERS_JS,
    EDGE_COMMUNES_JS,
    OVERLAY_BOXES_JS,
    VIEWPORT,
    VIEWPORTS,
    OfflineBrowser,
    hover_until,
    overlaps,
    tooltip_at,
)


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
    assert "zone intermédiaire : de 2,5 à moins de 4" in legend  # APL zonage classes
    assert "Puy-de-Dôme (63)" in title and SYNTHETIC_LABEL in title
    assert SYNTHETIC_LABEL in credits and "INSEE COG 2026" in credits
    assert "Limites" in control
    assert scale == 1
    tip = "".join(tooltip.split()).replace("\u202f", "")  # table cells, no separators
    assert tip.startswith("Clermont-FerrandPopulation")  # the name heads the table
    assert "Population2023146351" in tip
    value = f"{clermont['value']:.1f}".replace(".", ",")
    assert f"standardisé){value}" in tip
    # the zonage class of its value (APL < 2.5 sous-dense, < 4 intermédiaire, else bien dotée)
    k = int(np.searchsorted(APL_ZONAGE_BREAKS, clermont["value"], side="right"))
    assert "Classe" + APL_ZONAGE_CLASSES[k].replace(" ", "") in tip, tip
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


# --- Readable everywhere: real maps built by the CLI, at three window sizes -----------------

MAPS = ("apl", "scenario")


def _cli_map(out: Path, *args: str) -> Path:
    """Run ``cartosoins *args --out out`` and return the HTML map it wrote."""
    from typer.testing import CliRunner

    from api.cli import app

    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    (path,) = out.glob("carte_*.html")
    return path


@pytest.fixture(scope="module")
def cli_apl_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Puy-de-Dôme's APL map with the real INSEE BPE GPs, as ``make map`` writes it."""
    out = tmp_path_factory.mktemp("apl")
    return _cli_map(out, "map", "--departement", "63", "--measure", "apl", "--no-png")


@pytest.fixture(scope="module")
def cli_scenario_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The comparison map (gap, before, after) of 3 more GPs at Ambert, by the CLI."""
    out = tmp_path_factory.mktemp("scenario")
    return _cli_map(out, "scenario", "--departement", "63", "--add", "63003:3")


@pytest.fixture
def cli_maps(request: pytest.FixtureRequest) -> dict[str, Path]:
    """The CLI map of the test's ``kind`` parameter, by kind."""
    kind = request.getfixturevalue("kind")
    return {kind: request.getfixturevalue(f"cli_{kind}_map")}


@pytest.fixture(scope="module")
def communes63() -> gpd.GeoDataFrame:
    return resolve_territory(departements="63").communes


def _open(browser: OfflineBrowser, path: Path, size: tuple[int, int]) -> tuple[object, object]:
    page, report = browser.open(path, viewport=size)
    _assert_clean(report, path)
    return page, report


def _set_all_folds(page: object, expanded: bool) -> None:
    """Click every visible fold button whose state differs from ``expanded``."""
    buttons = page.locator(".cs-fold:visible")  # type: ignore[attr-defined]
    for i in range(buttons.count()):
        button = buttons.nth(i)
        if (button.get_attribute("aria-expanded") == "true") != expanded:
            button.click()


@pytest.mark.parametrize("size", VIEWPORTS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("kind", MAPS)
def test_title_legend_controls_sources_never_overlap(
    offline_browser: OfflineBrowser,
    cli_maps: dict[str, Path],
    kind: str,
    size: tuple[int, int],
) -> None:
    page, _ = _open(offline_browser, cli_maps[kind], size)
    try:
        states = {"default": page.evaluate(OVERLAY_BOXES_JS)}
        folded = page.evaluate(
            "() => [...document.querySelectorAll('.cs-fold')].filter(b => b.offsetParent)"
            ".map(b => b.getAttribute('aria-expanded'))"
        )
        _set_all_folds(page, expanded=True)
        states["unfolded"] = page.evaluate(OVERLAY_BOXES_JS)
        _set_all_folds(page, expanded=False)
        states["folded"] = page.evaluate(OVERLAY_BOXES_JS)
    finally:
        page.close()
    width, height = size
    for state, boxes in states.items():
        assert {"title", "legend", "layers", "zoom", "scale", "credits"} <= set(boxes), state
        assert overlaps(boxes) == [], (state, boxes)
        for name, (left, top, right, bottom) in boxes.items():
            assert left >= 0 and top >= 0 and right <= width and bottom <= height, (state, name)
    # a slide's frame starts with the layer control folded; a large screen shows everything
    assert len(folded) == 2
    assert folded == (["false", "true"] if height < 560 else ["true", "true"])  # layers, legend


def _edge_candidates(communes: gpd.GeoDataFrame) -> list[list[object]]:
    points = shapely.point_on_surface(communes.to_crs(4326).geometry.to_numpy())
    return [
        [code, float(y), float(x)]
        for code, x, y in zip(
            communes["code"], shapely.get_x(points), shapely.get_y(points), strict=True
        )
    ]


def _zoom_in(page: object, levels: float, centre: list[float] | None = None) -> list[float]:
    """Zoom the map in by ``levels`` (on ``centre``, [lat, lon]); its zoom before and after.

    A zoom asked during Leaflet's opening animation is ignored: ask again until it is done.
    """
    for _ in range(20):
        zooms = page.evaluate(  # type: ignore[attr-defined]
            """([levels, centre]) => { const m = window[document.querySelector(".folium-map").id];
                const z = m.getZoom(); m.setView(centre || m.getCenter(), z + levels,
                                                 {animate: false});
                return [z, m.getZoom()]; }""",
            [levels, centre],
        )
        if zooms[1] > zooms[0]:
            return list(zooms)
        page.wait_for_timeout(100)  # type: ignore[attr-defined]
    raise AssertionError(f"the map did not zoom in: {zooms}")


@pytest.mark.parametrize("size", VIEWPORTS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_tooltips_stay_inside_the_window_at_its_four_edges(
    offline_browser: OfflineBrowser,
    cli_apl_map: Path,
    communes63: gpd.GeoDataFrame,
    size: tuple[int, int],
) -> None:
    names = communes63.set_index("code")["nom"]
    page, _ = _open(offline_browser, cli_apl_map, size)
    try:
        # zoomed in so that the département runs past the window on every side
        west, south, east, north = communes63.to_crs(4326).total_bounds
        zooms = _zoom_in(page, 1.5, [(south + north) / 2, (west + east) / 2])
        edges = page.evaluate(EDGE_COMMUNES_JS, _edge_candidates(communes63))
        boxes = {
            edge: tooltip_at(page, [x, y], str(names[code])) for edge, (code, x, y) in edges.items()
        }
    finally:
        page.close()
    width, height = size
    assert zooms[1] >= zooms[0] + 1, zooms
    # the communes are at the edges of the window
    assert edges["west"][1] < 0.1 * width and edges["east"][1] > 0.9 * width
    assert edges["north"][2] < 0.25 * height and edges["south"][2] > 0.75 * height
    for edge, (left, top, right, bottom) in boxes.items():
        assert 0 <= left and right <= width and 0 <= top and bottom <= height, (edge, boxes)
        assert right - left <= 360, (edge, boxes)  # compact: wraps rather than spreads


@pytest.mark.parametrize("kind", MAPS)
def test_one_feature_per_commune_french_page_metric_scale(
    offline_browser: OfflineBrowser,
    cli_maps: dict[str, Path],
    communes63: gpd.GeoDataFrame,
    kind: str,
) -> None:
    page, _ = _open(offline_browser, cli_maps[kind], (1024, 768))
    try:
        codes = page.evaluate(
            """() => { const map = window[document.querySelector(".folium-map").id];
                const out = [];
                map.eachLayer(l => { if (l instanceof L.GeoJSON && l.getLayers().some(
                    p => p.getTooltip && p.getTooltip())) out.push(
                        l.getLayers().map(p => p.feature.properties.code)); });
                return out; }"""
        )
        lang = page.evaluate("() => document.documentElement.lang")
        scales = page.locator(".leaflet-control-scale-line").all_inner_texts()
    finally:
        page.close()
    assert len(codes) == 1  # one commune layer shown (the comparison shows one view at a time)
    assert sorted(codes[0]) == sorted(communes63["code"])  # each commune once
    assert lang == "fr"
    assert len(scales) == 1 and re.fullmatch(r"\d+ k?m", scales[0]), scales  # no miles


@pytest.mark.parametrize("kind", MAPS)
def test_print_hides_the_controls_and_keeps_title_legend_sources(
    offline_browser: OfflineBrowser, cli_maps: dict[str, Path], kind: str
) -> None:
    shown = """() => Object.fromEntries(Object.entries({
        zoom: '.leaflet-control-zoom', layers: '.leaflet-control-layers',
        fold: '.cs-fold', title: '.cs-title', legend: '.cs-legend-body',
        credits: '.cs-credits'}).map(([k, s]) => [k, [...document.querySelectorAll(s)]
            .some(el => el.getBoundingClientRect().height > 0)]))"""
    page, _ = _open(offline_browser, cli_maps[kind], (800, 450))
    try:
        _set_all_folds(page, expanded=False)  # a folded legend is printed anyway
        screen = page.evaluate(shown)
        page.emulate_media(media="print")
        printed = page.evaluate(shown)
    finally:
        page.close()
    assert screen == dict.fromkeys(screen, True) | {"legend": False}
    assert printed == {
        "zoom": False,
        "layers": False,
        "fold": False,
        "title": True,
        "legend": True,
        "credits": True,
    }


def test_legend_and_layer_control_fold_with_the_keyboard(
    offline_browser: OfflineBrowser, cli_apl_map: Path
) -> None:
    state = """() => [...document.querySelectorAll('.cs-fold')].map(b => [b.textContent,
        b.getAttribute('aria-expanded'), document.getElementById(
            b.getAttribute('aria-controls')).getBoundingClientRect().height > 0])"""
    page, _ = _open(offline_browser, cli_apl_map, (1024, 768))
    try:
        before = page.evaluate(state)
        focused = []
        for _ in range(30):  # Tab through the page until both fold buttons were reached
            page.keyboard.press("Tab")
            label = page.evaluate(
                "() => document.activeElement.classList.contains('cs-fold')"
                " ? document.activeElement.textContent : null"
            )
            if label and label not in focused:
                focused.append(label)
                page.keyboard.press("Enter")  # fold
                folded = page.evaluate(state)
                page.keyboard.press(" ")  # unfold
                unfolded = page.evaluate(state)
                assert folded != before and unfolded == before, (label, folded, unfolded)
                assert [s for s in folded if s[0] == label] == [[label, "false", False]]
            if len(focused) == 2:
                break
    finally:
        page.close()
    assert sorted(focused) == ["Couches", "Légende"]
    assert sorted(before) == [["Couches", "true", True], ["Légende", "true", True]]


LABELS_JS = """() => [...document.querySelectorAll('.cs-label')].map(el => {
    const r = el.getBoundingClientRect(); return [el.textContent, r.left, r.top, r.right, r.bottom];
})"""


def test_commune_names_where_they_fit(offline_browser: OfflineBrowser, cli_apl_map: Path) -> None:
    page, _ = _open(offline_browser, cli_apl_map, (1024, 768))
    try:
        at_start = page.evaluate(LABELS_JS)
        _zoom_in(page, 2, [45.78, 3.09])
        zoomed = page.evaluate(LABELS_JS)
    finally:
        page.close()
    for labels in (at_start, zoomed):
        boxes = {name: box for name, *box in labels}
        assert len(boxes) == len(labels) > 5
        assert overlaps(boxes) == []
        assert all(0 <= b[0] and b[2] <= 1024 and 0 <= b[1] and b[3] <= 768 for b in boxes.values())
    names = [name for name, *_ in at_start]
    # the main towns at the département's zoom, the suburbs of Clermont once zoomed in
    assert {"Clermont-Ferrand", "Issoire", "Thiers", "Ambert"} <= set(names)
    assert {"Chamalières", "Aubière"} & {name for name, *_ in zoomed}
    assert "Chamalières" not in names and "Aubière" not in names
