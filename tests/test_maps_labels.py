"""Commune names on static maps: the most populated first, never touching one another."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from geo.maps.choropleth import ChoroplethSpec
from geo.maps.layers import features_json
from geo.maps.static import static_map
from tests.browser import OfflineBrowser


def _spec() -> ChoroplethSpec:
    return ChoroplethSpec(
        column="population", title="Titre", label="Population", unit="habitants", k=3
    )


def _names(fig: object) -> list[tuple[str, object]]:
    """Names drawn on the map (its first axes), with their boxes in pixels."""
    ax = fig.axes[0]  # type: ignore[attr-defined]
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts]


def test_main_communes_named_without_collision(grid3x3: gpd.GeoDataFrame) -> None:
    fig = static_map(grid3x3, _spec(), width_cm=25, height_cm=18, dpi=100)
    names = _names(fig)
    frame = fig.axes[0].get_window_extent(fig.canvas.get_renderer())
    # largest first (populations 9000, 8000, …): the bottom row, then the next ones
    assert [n for n, _ in names][:3] == ["Commune G9", "Commune G8", "Commune G7"]
    for i, (name, box) in enumerate(names):
        assert frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1), name
        assert not any(box.overlaps(other) for _, other in names[i + 1 :]), name


def test_names_that_would_collide_are_left_out(grid3x3: gpd.GeoDataFrame) -> None:
    crowded = grid3x3.assign(nom="Saint-Martin-de-la-Grande-Vallée " + grid3x3["code"])
    fig = static_map(crowded, _spec(), width_cm=16, height_cm=10, dpi=100)
    names = [n for n, _ in _names(fig)]
    # each name is wider than its commune: in each row, the middle commune's name would run
    # into its more populated right-hand neighbour's, and is left out; the rows do not touch
    assert [n[-2:] for n in names] == ["G9", "G7", "G6", "G4", "G3", "G1"]
    boxes = [b for _, b in _names(fig)]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_commune_borders_wait_for_a_departement_zoom(
    offline_browser: OfflineBrowser, tmp_path: Path
) -> None:
    """A région / France map draws its communes without the white borders that wash the
    colours out at that scale; zoomed in to a département, the borders come back."""
    import folium

    from geo.maps.layers import GeoJsonLayer
    from geo.maps.offline import base_map, save_offline_html

    fmap = base_map((-1.0, 42.0, 7.0, 50.0), tiles=False, title="t")  # a région or more
    # no zoom animation: what is tested is the restyle, not Leaflet's animation timers (a
    # 250 ms timer that a page opened among the session's other pages may not see fire)
    fmap.options["zoomAnimation"] = False
    squares = gpd.GeoSeries(
        [shapely.box(2.5 + i * 0.2, 45.5, 2.6 + i * 0.2, 45.6) for i in range(3)]
    )
    layer = GeoJsonLayer(
        features_json(squares.to_numpy(), pd.DataFrame({"_fill": ["#ff0000"] * 3})),
        style={"color": "#ffffff", "weight": 0.4},
        border_min_zoom=8.0,
    )
    group = folium.FeatureGroup(name="communes")
    layer.add_to(group)
    group.add_to(fmap)
    path = save_offline_html(fmap, tmp_path / "bords.html")
    page, report = offline_browser.open(path)
    assert not (report.page_errors or report.blocked), report
    weights = f"{layer.get_name()}.getLayers().map(l => l.options.weight)"
    zoom = page.evaluate(f"{fmap.get_name()}.getZoom()")
    assert zoom < 8, zoom
    # at the opening zoom: no border
    page.wait_for_function(f"{weights}.every(w => w === 0)")
    name = fmap.get_name()
    page.evaluate(f"{name}.setView({name}.getCenter(), 9, {{animate: false}})")
    assert page.evaluate(f"{name}.getZoom()") == 9
    assert page.evaluate(weights) == [0.4, 0.4, 0.4]
    page.close()
