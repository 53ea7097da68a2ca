"""Offline HTML export of folium maps: inlined assets, refusals, and a real headless Chromium."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any, ClassVar

import branca
import folium
import pytest
from branca.element import CssLink, Element, JavascriptLink
from folium.elements import JSCSSMixin
from folium.plugins import MarkerCluster

from geo.errors import DataValidationError, ReferenceDataError
from geo.maps import base_map, save_offline_html, to_offline_html
from geo.maps import offline as offline_module
from tests.browser import (
    CENTRE_OF_JS,
    COUNT_LAYERS_JS,
    VIEWPORT,
    OfflineBrowser,
    hover_until,
)

# First bytes of each library as shipped by its package: proof that it was inlined.
LEAFLET_BANNER = "Leaflet 1.9.3, a JS library"
JQUERY_BANNER = "jQuery v3.7.1"
BOOTSTRAP_BANNER = "Bootstrap v5.3.3"  # the CSS file spells it "Bootstrap  v5.3.3"
D3_BANNER = 'version: "3.5.16"'
MARKERCLUSTER_BANNER = "L.MarkerClusterGroup="

REMOTE_TAG = re.compile(
    r"""<(script|link)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE
)

BOUNDS = (3.0, 45.0, 3.3, 45.3)  # west, south, east, north: 3×3 cells of 0.1°
STEP_COLOURS = ["#ffeeee", "#ff8888", "#cc0000"]
N_CLUSTERED_MARKERS = 5


def _cell(i: int, j: int) -> dict[str, Any]:
    x, y = BOUNDS[0] + 0.1 * i, BOUNDS[1] + 0.1 * j
    return {
        "type": "Feature",
        "properties": {"code": f"C{i}{j}", "apl": float(i + j)},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x, y], [x + 0.1, y], [x + 0.1, y + 0.1], [x, y + 0.1], [x, y]]],
        },
    }


CELLS = {"type": "FeatureCollection", "features": [_cell(i, j) for i in range(3) for j in range(3)]}


def _choropleth() -> tuple[folium.Map, branca.colormap.StepColormap]:
    """GeoJson polygons with tooltips, a step colour legend and a layer control."""
    m = base_map(BOUNDS, title="APL <test>")
    colormap = branca.colormap.StepColormap(
        STEP_COLOURS, index=[0, 1.5, 3, 4], vmin=0, vmax=4, caption="APL"
    )

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        return {
            "fillColor": colormap(feature["properties"]["apl"]),
            "color": "#333333",
            "weight": 1,
            "fillOpacity": 0.8,
        }

    folium.GeoJson(
        CELLS,
        name="communes",
        style_function=style,
        tooltip=folium.GeoJsonTooltip(["code", "apl"], aliases=["Commune", "APL"]),
    ).add_to(m)
    colormap.add_to(m)
    return m, colormap


def simple_choropleth() -> folium.Map:
    m, _ = _choropleth()
    folium.LayerControl().add_to(m)
    return m


def full_map() -> folium.Map:
    """Everything our maps use: choropleth, CircleMarker with popup, cluster, default marker."""
    m, _ = _choropleth()
    folium.CircleMarker(
        [45.05, 3.05], radius=6, color="#0044aa", fill=True, popup="Cabinet médical"
    ).add_to(m)
    cluster = MarkerCluster(name="cabinets").add_to(m)
    for k in range(N_CLUSTERED_MARKERS):
        folium.Marker([45.21 + 0.005 * k, 3.03 + 0.005 * k]).add_to(cluster)
    # Leaflet's default icon: its images must come from data URIs, not from the page's folder.
    folium.Marker([45.12, 3.27], tooltip="maison de santé").add_to(m)
    folium.LayerControl().add_to(m)
    return m


def remote_tags(page: str) -> list[str]:
    return [match.group(0) for match in REMOTE_TAG.finditer(page)]


# --- Page content ----------------------------------------------------------------------------


def test_full_map_has_no_remote_script_or_stylesheet() -> None:
    page = to_offline_html(full_map())
    assert remote_tags(page) == []
    for banner in (LEAFLET_BANNER, D3_BANNER, MARKERCLUSTER_BANNER, JQUERY_BANNER):
        assert banner in page
    assert "fontawesome" not in page.lower()
    assert "AwesomeMarkers" not in page
    assert BOOTSTRAP_BANNER not in page
    # Each library once, even though Map, MarkerCluster and the colormap all declare links.
    assert page.count(LEAFLET_BANNER) == 1


def test_simple_choropleth_inlines_only_what_it_uses() -> None:
    page = to_offline_html(simple_choropleth())
    assert remote_tags(page) == []
    assert LEAFLET_BANNER in page
    assert D3_BANNER in page  # branca's legend draws with d3 3.x
    for unused in (JQUERY_BANNER, BOOTSTRAP_BANNER, MARKERCLUSTER_BANNER, "glyphicon"):
        assert unused not in page
    assert "fontawesome" not in page.lower()
    assert "font-awesome" not in page.lower()
    assert len(page.encode()) < 600_000  # measured: about 530 kB, d3 being 337 kB of it


def test_leaflet_images_become_data_uris() -> None:
    page = to_offline_html(simple_choropleth())
    assert "url(images/" not in page
    assert 'url("data:image/png;base64,' in page  # layer-control toggle
    assert 'L.Icon.Default.imagePath = ""' in page
    assert 'iconUrl: "data:image/png;base64,' in page
    assert "sourceMappingURL" not in page


def test_popup_pulls_in_jquery_and_bootstrap_components_pull_in_bootstrap() -> None:
    m = base_map(BOUNDS)
    folium.CircleMarker([45.1, 3.1], popup="x").add_to(m)
    page = to_offline_html(m)
    assert JQUERY_BANNER in page
    assert BOOTSTRAP_BANNER not in page

    folium.Marker(
        [45.2, 3.2],
        icon=folium.DivIcon(html='<button data-bs-toggle="collapse">i</button>'),
    ).add_to(m)
    page = to_offline_html(m)
    assert len(re.findall(r"Bootstrap +v5\.3\.3", page)) == 2  # bundle JS and CSS
    assert remote_tags(page) == []


def test_title_is_escaped() -> None:
    page = to_offline_html(simple_choropleth())
    assert "<title>APL &lt;test&gt;</title>" in page


def test_export_leaves_map_usable_and_is_repeatable() -> None:
    m = full_map()
    first = to_offline_html(m)
    # Folium generates fresh ids only at construction: the same map renders identically.
    assert to_offline_html(m) == first
    online = m.get_root().render()
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in online


def test_save_offline_html(tmp_path: Path) -> None:
    out = save_offline_html(simple_choropleth(), tmp_path / "carte.html")
    assert out == tmp_path / "carte.html"
    assert remote_tags(out.read_text(encoding="utf-8")) == []


def test_inlined_script_cannot_close_its_element(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fake_assets_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "lib.js").write_text('var s = "</script><!-- </SCRIPT >";\n')
    (package / "lib.css").write_text('a::after { content: "</style>"; }\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    js = offline_module._inline(
        offline_module._PackageFile("js", "fake_assets_pkg", "lib.js", "fake-assets")
    )
    assert js.lower().count("</script") == 1 and js.endswith("</script>")
    assert r'"<\/script><\!-- <\/SCRIPT >"' in js
    css = offline_module._inline(
        offline_module._PackageFile("css", "fake_assets_pkg", "lib.css", "fake-assets")
    )
    assert css.count("</style") == 1 and r"<\/style>" in css


# --- Refusals --------------------------------------------------------------------------------


class _FakeCdnPlugin(JSCSSMixin):
    """A plugin declaring its JS like folium's own plugins do."""

    default_js: ClassVar[list[tuple[str, str]]] = [
        ("fake_lib", "https://cdn.fake-cdn.example/fake-lib/1.0/fake.min.js")
    ]


def test_unknown_cdn_script_from_plugin_raises() -> None:
    m = simple_choropleth()
    _FakeCdnPlugin().add_to(m)
    with pytest.raises(DataValidationError, match=r"https://cdn\.fake-cdn\.example/fake-lib"):
        to_offline_html(m)


@pytest.mark.parametrize(
    "element",
    [
        JavascriptLink("https://unpkg.example/leaflet-foo@2.0.0/foo.js"),
        CssLink("//cdn.example.org/foo.css"),
        Element('<script src="https://cdn.example.org/raw.js"></script>'),
        Element('<link rel="stylesheet" href="http://cdn.example.org/raw.css"/>'),
        Element("<style>@import url('https://fonts.example.org/css?family=Marianne');</style>"),
    ],
    ids=["js-link", "protocol-relative-css-link", "raw-script", "raw-link", "css-import"],
)
def test_any_remote_asset_in_the_header_raises(element: Element) -> None:
    m = simple_choropleth()
    m.get_root().header.add_child(element)
    with pytest.raises(DataValidationError, match=r"//(cdn|unpkg|fonts)\.example"):
        to_offline_html(m)


def test_remote_image_in_popup_raises() -> None:
    m = base_map(BOUNDS)
    folium.CircleMarker(
        [45.1, 3.1], popup=folium.Popup('<img src="https://img.example.org/logo.png">')
    ).add_to(m)
    with pytest.raises(DataValidationError, match=r"https://img\.example\.org/logo\.png"):
        to_offline_html(m)


def test_awesome_marker_icon_raises_with_the_fix() -> None:
    m = base_map(BOUNDS)
    folium.Marker([45.1, 3.1], icon=folium.Icon(color="red")).add_to(m)
    with pytest.raises(
        DataValidationError, match=r"awesome-markers.*CircleMarker or folium\.DivIcon"
    ):
        to_offline_html(m)


def test_font_awesome_icon_raises() -> None:
    m = base_map(BOUNDS)
    folium.Marker(
        [45.1, 3.1], icon=folium.DivIcon(html='<i class="fa-solid fa-house-medical"></i>')
    ).add_to(m)
    with pytest.raises(DataValidationError, match=r"Font Awesome"):
        to_offline_html(m)


def test_remote_tiles_raise_unless_allowed() -> None:
    m = base_map(BOUNDS, tiles=True)
    with pytest.raises(DataValidationError, match=r"TileLayer loads 'https://tile\.openstreetmap"):
        to_offline_html(m)
    page = to_offline_html(m, allow_remote_tiles=True)
    assert "tile.openstreetmap.org" in page
    assert remote_tags(page) == []


def test_non_embedded_geojson_raises(tmp_path: Path) -> None:
    path = tmp_path / "communes.geojson"
    path.write_text(json.dumps(CELLS), encoding="utf-8")
    m = base_map(BOUNDS)
    folium.GeoJson(str(path), embed=False).add_to(m)
    with pytest.raises(
        DataValidationError, match=r"GeoJson loads '.*communes\.geojson'.*embed=True"
    ):
        to_offline_html(m)


def test_not_a_map_raises() -> None:
    with pytest.raises(DataValidationError, match=r"m must be a folium\.Map, got FeatureGroup"):
        to_offline_html(folium.FeatureGroup())  # type: ignore[arg-type]


def test_missing_package_raises_reference_error() -> None:
    missing = offline_module._PackageFile("js", "xstatic.pkg.not_installed", "x.js", "XStatic-Nope")
    with pytest.raises(ReferenceDataError, match=r"pip install XStatic-Nope"):
        offline_module._inline(missing)


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ((3.0, 45.0, 3.3), "4 finite numbers"),
        ((3.0, 45.0, 3.3, float("nan")), "4 finite numbers"),
        ((3.3, 45.0, 3.0, 45.3), "west <= east"),
        ((700_000.0, 6_500_000.0, 710_000.0, 6_510_000.0), "EPSG:4326 degrees"),
        ("abcd", "4 numbers"),
    ],
)
def test_base_map_rejects_bad_bounds(bounds: Any, message: str) -> None:
    with pytest.raises(DataValidationError, match=re.escape(message)):
        base_map(bounds)


def test_base_map_options() -> None:
    m = base_map(BOUNDS)
    assert m.options["prefer_canvas"] is True
    assert m.options["max_zoom"] == 18
    assert m.control_scale is True
    assert not any(isinstance(c, folium.TileLayer) for c in m._children.values())


def test_offline_page_in_chromium(offline_browser: OfflineBrowser, tmp_path: Path) -> None:
    from PIL import Image  # dev dependency, only needed with a browser

    path = save_offline_html(full_map(), tmp_path / "carte.html")
    page, report = offline_browser.open(path)
    try:
        # Errors first: a missing library shows up here, not as a later time-out.
        assert report.page_errors == []
        assert report.console_errors == []
        assert report.blocked == []
        assert report.failed == []
        assert [u for u in report.requests if not u.startswith("data:")] == [
            path.resolve().as_uri()
        ]
        counts = page.evaluate(COUNT_LAYERS_JS)
        legend_rects = page.locator(".legend.leaflet-control svg#legend rect").count()
        caption = page.locator(".legend.leaflet-control text.caption").text_content()
        layer_control = page.locator(".leaflet-control-layers").count()
        icon_sources = page.eval_on_selector_all(
            "img.leaflet-marker-icon", "imgs => imgs.map(i => [i.src.slice(0, 22), i.naturalWidth])"
        )
        page.evaluate(
            """() => { const map = window[document.querySelector(".folium-map").id];
                       map.eachLayer(l => { if (l instanceof L.CircleMarker) l.openPopup(); }); }"""
        )
        popup = page.locator(".leaflet-popup-content").text_content()
        page.keyboard.press("Escape")
        png = page.screenshot()
        red_cell = page.evaluate(CENTRE_OF_JS, [45.25, 3.25])  # C22, apl 4, darkest step
        empty_spot = page.evaluate(CENTRE_OF_JS, [45.35, 3.35])  # outside every cell
        tooltip = hover_until(page, red_cell, ".leaflet-tooltip")
    finally:
        page.close()

    assert counts == {
        "polygons": 9,
        "geoJsonWithTooltip": 1,  # GeoJsonTooltip binds to the layer group
        "circleMarkers": 1,
        "markers": 1,
        "clusterGroups": 1,
        "clusteredMarkers": N_CLUSTERED_MARKERS,
        "canvases": 1,  # prefer_canvas: one canvas, no SVG paths
        "svgPathsInMap": 0,
    }
    assert legend_rects > 0 and caption == "APL"
    assert layer_control == 1
    assert icon_sources and all(
        src.startswith("data:image/png;base64") and width > 0 for src, width in icon_sources
    )
    assert popup == "Cabinet médical"
    assert " ".join(tooltip.split()) == "Commune C22 APL 4"

    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (VIEWPORT["width"], VIEWPORT["height"])
    colours = image.getcolors(maxcolors=VIEWPORT["width"] * VIEWPORT["height"])
    assert colours is not None and len(colours) > 50
    r, g, b = image.getpixel(tuple(red_cell))  # type: ignore[misc]
    background = image.getpixel(tuple(empty_spot))
    assert r > g + 80 and r > b + 80, f"C22 should be dark red, got {(r, g, b)}"
    assert background != (r, g, b)


def test_browser_harness_sees_blocked_requests(
    offline_browser: OfflineBrowser, tmp_path: Path
) -> None:
    # Guards the test above against passing vacuously: a CDN script must show up as blocked.
    path = tmp_path / "online.html"
    path.write_text(
        '<!DOCTYPE html><html><head><script src="https://cdn.example.org/lib.js"></script>'
        "</head><body>x</body></html>",
        encoding="utf-8",
    )
    page, report = offline_browser.open(path)
    page.close()
    assert report.blocked == ["https://cdn.example.org/lib.js"]
    assert report.failed and "cdn.example.org" in report.failed[0]
