"""Commune names on static maps: the most populated first, never touching one another."""

from __future__ import annotations

import geopandas as gpd

from geo.maps.choropleth import ChoroplethSpec
from geo.maps.static import static_map


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
