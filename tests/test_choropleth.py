from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pytest
import shapely

from geo.analysis import analyse
from geo.errors import DataValidationError
from geo.maps.choropleth import (
    APL_ZONAGE_CLASSES,
    APL_ZONAGE_COLOURS,
    NO_ACCESS_COLOUR,
    NO_DATA_COLOUR,
    PALETTES,
    SYNTHETIC_LABEL,
    ChoroplethSpec,
    analysis_map,
    analysis_spec,
    choropleth_map,
    class_scheme,
    classify,
    format_fr,
    no_access_mask,
    palette_colours,
    simplify_coverage,
)
from geo.maps.offline import save_offline_html, to_offline_html
from geo.maps.static import analysis_static_map
from geo.offer import load_gp_offer
from geo.reference import load_communes
from geo.territory import resolve_territory
from tests.browser import CENTRE_OF_JS, OfflineBrowser


def test_format_fr() -> None:
    assert format_fr(12345.678, 1) == "12\u202f345,7"
    assert format_fr(float("nan")) == "—"
    assert format_fr(3.0, 0) == "3"


def test_classify_fixed_and_nan() -> None:
    classes, bounds = classify([0.0, 2.5, 4.0, 9.0, np.nan], "fixed", breaks=[2.5, 4.0])
    assert classes.tolist() == [0, 0, 1, 2, -1]
    assert bounds == [2.5, 4.0, 9.0]


def test_classify_quantiles_degenerate() -> None:
    classes, bounds = classify([1.0, 1.0, 1.0], "quantiles", k=5)
    assert classes.tolist() == [0, 0, 0] and bounds == [1.0]
    classes, _ = classify([np.nan, np.nan], "natural_breaks")
    assert classes.tolist() == [-1, -1]


def test_classify_errors() -> None:
    with pytest.raises(DataValidationError, match="not one of"):
        classify([1.0], "jenks")
    with pytest.raises(DataValidationError, match="needs breaks"):
        classify([1.0], "fixed")


def test_simplify_coverage_keeps_communes_and_validity() -> None:
    puy = load_communes(departements="63")
    simple = simplify_coverage(puy, 100.0)
    assert len(simple) == len(puy)
    assert shapely.is_valid(simple.geometry.to_numpy()).all()
    before = shapely.get_num_coordinates(puy.geometry.to_numpy()).sum()
    after = shapely.get_num_coordinates(simple.geometry.to_numpy()).sum()
    assert after < before
    # shared borders kept: total area barely changes and no overlaps appear
    assert abs(simple.to_crs(2154).area.sum() / puy.to_crs(2154).area.sum() - 1) < 0.005


def test_choropleth_map_says_synthetic(grid3x3: gpd.GeoDataFrame) -> None:
    grid3x3["value"] = [0.0, 1, 2, 3, 4, 5, 6, 7, np.nan]
    spec = ChoroplethSpec(
        column="value", title="Essai", label="Valeur", unit="u", synthetic=True, k=3
    )
    html = to_offline_html(choropleth_map(grid3x3, spec, tooltip_fields={"value": "Valeur"}))
    assert SYNTHETIC_LABEL in html
    assert "Commune G1" in html
    assert "non renseigné" in html and "sans objet" not in html
    with pytest.raises(DataValidationError, match="'nope'"):
        choropleth_map(grid3x3, ChoroplethSpec(column="nope", title="", label="", unit=""))


def test_individual_points_never_carry_names(grid3x3: gpd.GeoDataFrame) -> None:
    from geo.maps.choropleth import individual_points_of

    rpps_like = gpd.GeoDataFrame(
        {
            "Identification nationale PP": ["810001234567", "810007654321"],
            "Nom d'exercice": ["DUPONT", "MARTIN"],
            "Prénom d'exercice": ["Jeanne", "Paul"],
            "profession_libelle": ["Médecin généraliste", "Infirmier"],
            "commune_nom": ["Commune G1", "Commune G5"],
        },
        geometry=shapely.points([(705_000, 6_595_000), (715_000, 6_585_000)]),
        crs=2154,
    )
    points = individual_points_of(rpps_like)
    assert points["label"].tolist() == [
        "Médecin généraliste — Commune G1",
        "Infirmier — Commune G5",
    ]
    page = to_offline_html(
        choropleth_map(
            grid3x3.assign(value=1.0),
            ChoroplethSpec(column="value", title="t", label="l", unit="u"),
            individual_points=points,
        )
    )
    for secret in ("DUPONT", "MARTIN", "Jeanne", "810001234567"):
        assert secret not in page
    assert "L.MarkerClusterGroup" in page  # inlined from XStatic-Leaflet-MarkerCluster


# --- classes and colours of issue #12: the worst communes stand out, fixed colours ----------

_SWATCH = re.compile(r"background:\s*(#[0-9a-fA-F]{6})[^>]*>\s*</span>\s*([^<]+?)\s*<")
_FILL = re.compile(r'"code":"(G\d)","_fill":"(#[0-9a-fA-F]{6})"')
NO_GP = "aucun médecin à moins de 20 min"


def _apl(grid: gpd.GeoDataFrame, values: list[float], status: list[str] | None = None) -> Any:
    """An APL result on the 3×3 grid, as :func:`geo.analysis.analyse` words it."""
    result = grid.assign(
        value=values,
        status=status or ["ok" if np.isfinite(v) else "non renseigné" for v in values],
    )
    result.attrs = {
        "measure": "apl",
        "label_fr": "Accessibilité potentielle localisée (APL)",
        "unit_fr": "consultations par an et par habitant standardisé",
        "parameters": {"catchment_minutes": 20.0, "supply": "consultations"},
        "sources": {"practitioners": "médecins généralistes libéraux — INSEE BPE, 2017"},
    }
    return result


def _html_legend(result: gpd.GeoDataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Legend (text → colour) and fill per commune code of the interactive map."""
    page = to_offline_html(analysis_map(result, "Essai"))
    legend = page[page.index('class="cs-legend"') :]
    swatches = {html.unescape(t): c.lower() for c, t in _SWATCH.findall(legend)}
    return swatches, {code: c.lower() for code, c in _FILL.findall(page)}


def _static_legend(result: gpd.GeoDataFrame) -> dict[str, str]:
    fig = analysis_static_map(result, "Essai", width_cm=16, height_cm=10, dpi=40)
    legend = fig.legends[0]
    return {
        t.get_text().replace("\n", " "): mpl.colors.to_hex(p.get_facecolor())
        for p, t in zip(legend.get_patches(), legend.get_texts(), strict=True)
    }


def test_apl_class_keeps_its_colour_whatever_classes_are_present(
    grid3x3: gpd.GeoDataFrame,
) -> None:
    # G7 = 3.0 (« zone intermédiaire ») on both maps; the first has nothing above 3.5, the
    # second nothing below 3 and values up to 10: before #12 the class changed colour
    low = _apl(grid3x3.copy(), [0.5, 1.0, 1.5, 2.0, 2.2, 2.4, 3.0, 3.5, 2.5])
    high = _apl(grid3x3.copy(), [3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 3.0, 9.0, 10.0])
    (low_legend, low_fill), (high_legend, high_fill) = _html_legend(low), _html_legend(high)
    assert low_fill["G7"] == high_fill["G7"] == APL_ZONAGE_COLOURS[1]
    # 2.5 is not « sous-dense » (APL < 2.5), 4.0 is « bien dotée »
    assert low_fill["G9"] == APL_ZONAGE_COLOURS[1] and high_fill["G3"] == APL_ZONAGE_COLOURS[2]
    zonage = dict(zip(APL_ZONAGE_CLASSES, APL_ZONAGE_COLOURS, strict=True))
    assert low_legend == high_legend == zonage  # the same legend on every APL map
    assert _static_legend(low) == _static_legend(high) == zonage
    # under-served warm, well served calm
    red, _, blue = (mpl.colors.to_rgb(c) for c in APL_ZONAGE_COLOURS)
    assert red[0] > red[2] and blue[2] > blue[0]


def test_no_access_entry_exactly_when_such_communes_exist(grid3x3: gpd.GeoDataFrame) -> None:
    values = [0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan]
    status = [NO_GP, NO_GP, *["ok"] * 6, "non renseigné"]
    swatches, fill = _html_legend(_apl(grid3x3.copy(), values, status))
    assert next(iter(swatches)) == NO_GP and swatches[NO_GP] == NO_ACCESS_COLOUR
    assert list(swatches)[-1] == "non renseigné" and swatches["non renseigné"] == NO_DATA_COLOUR
    assert fill["G1"] == fill["G2"] == NO_ACCESS_COLOUR and fill["G9"] == NO_DATA_COLOUR
    assert "sans objet" not in swatches
    static = _static_legend(_apl(grid3x3.copy(), values, status))
    assert static == swatches
    # no commune without a GP in reach, none without a value: neither entry
    fine = _apl(grid3x3.copy(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    assert NO_GP not in _html_legend(fine)[0] and NO_GP not in _static_legend(fine)
    assert "non renseigné" not in _html_legend(fine)[0]
    # the strongest colour of the under-served end, unlike « non renseigné » and every class
    assert NO_ACCESS_COLOUR not in (*APL_ZONAGE_COLOURS, NO_DATA_COLOUR)
    assert sum(mpl.colors.to_rgb(NO_ACCESS_COLOUR)) < sum(mpl.colors.to_rgb(APL_ZONAGE_COLOURS[0]))


def test_no_access_of_a_ratio_measure_is_a_missing_value_in_reach_of_nobody(
    grid3x3: gpd.GeoDataFrame,
) -> None:
    result = grid3x3.assign(
        value=[np.nan, np.nan, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        status=["aucun praticien à portée", "non localisée", *["ok"] * 7],
    )
    result.attrs = {
        "measure": "e2sfca",
        "label_fr": "Accessibilité E2SFCA",
        "unit_fr": "praticiens pour 10 000 habitants",
        "parameters": {"catchment_minutes": 30.0},
        "profession": "infirmier",
    }
    spec, _ = analysis_spec(result, "Essai")
    assert no_access_mask(result, spec).tolist() == [True, *[False] * 8]
    fill, words, entries = class_scheme(result, spec)
    assert fill[0] == NO_ACCESS_COLOUR and fill[1] == NO_DATA_COLOUR
    assert words[0] == "aucun infirmier à moins de 30 min" and words[1] == "non renseigné"
    assert entries[0] == (NO_ACCESS_COLOUR, "aucun infirmier à moins de 30 min")


def test_data_driven_classes_take_fixed_palette_positions(grid3x3: gpd.GeoDataFrame) -> None:
    spec = ChoroplethSpec(column="value", title="t", label="l", unit="u", palette="RdYlBu", k=5)
    five = palette_colours(PALETTES["RdYlBu"], 5)
    # three distinct values only: their classes keep the colours of classes 1–3 of five
    few = grid3x3.assign(value=[1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0])
    _, _, entries = class_scheme(few, spec)
    assert [c for c, _ in entries] == five[:3]
    many = grid3x3.assign(value=np.arange(9.0))
    _, _, entries = class_scheme(many, spec)
    assert [c for c, _ in entries] == five
    # fixed breaks: always len(breaks) + 1 classes in the legend, whatever the data
    fixed = ChoroplethSpec(
        column="value", title="t", label="l", unit="u", scheme="fixed", breaks=(2.0, 5.0)
    )
    _, _, small = class_scheme(grid3x3.assign(value=[0.0] * 9), fixed)
    _, _, large = class_scheme(grid3x3.assign(value=np.arange(9.0) * 10), fixed)
    assert [c for c, _ in small] == [c for c, _ in large] == palette_colours(PALETTES["YlGnBu"], 3)


def test_classify_lower_inclusive() -> None:
    classes, _ = classify([2.4, 2.5, 3.9, 4.0], "fixed", breaks=[2.5, 4.0], lower_inclusive=True)
    assert classes.tolist() == [0, 1, 1, 2]


def test_hautes_alpes_communes_without_a_gp_stand_out_in_the_browser(
    offline_browser: OfflineBrowser, tmp_path: Path
) -> None:
    """The real APL of Hautes-Alpes (embedded INSEE BPE GPs): some communes have no GP within
    20 minutes; their legend entry comes first, in the strongest colour, as on the page."""
    from PIL import Image

    result = analyse(resolve_territory(departements="05"), load_gp_offer().practitioners(), "apl")
    none = result[result["status"] == NO_GP]
    assert len(none) > 0 and (none["value"] == 0).all()
    path = tmp_path / "apl05.html"
    save_offline_html(analysis_map(result, "Hautes-Alpes (05)"), path)
    page, report = offline_browser.open(path, viewport=(1024, 768))
    try:
        assert report.page_errors == [] and report.blocked == []
        legend = page.locator(".cs-legend").inner_text()
        title = page.locator(".cs-title").inner_text()
        swatch = page.evaluate(
            "() => getComputedStyle(document.querySelector('.cs-legend .cs-swatch'))"
            ".backgroundColor"
        )
        # the largest commune without a GP in reach: its centre is drawn in the maroon
        biggest = none.to_crs(2154).area.idxmax()
        centre = none.to_crs(2154).loc[[biggest]].representative_point().to_crs(4326).iloc[0]
        point = page.evaluate(CENTRE_OF_JS, [centre.y, centre.x])
        shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    finally:
        page.close()
    assert "Accès aux médecins généralistes (APL) — Hautes-Alpes (05)" in title
    lines = [line.strip() for line in legend.splitlines() if line.strip()]
    assert NO_GP in lines and lines.index(NO_GP) < lines.index(APL_ZONAGE_CLASSES[0])
    assert swatch == "rgb({}, {}, {})".format(
        *(round(255 * v) for v in mpl.colors.to_rgb(NO_ACCESS_COLOUR))
    )
    x, y = point  # the median of a 9 × 9 px patch: a label or a circle may cross the centre
    patch = np.asarray(shot, dtype=float)[y - 4 : y + 5, x - 4 : x + 5].reshape(-1, 3)
    pixel = np.median(patch, axis=0)
    # fill opacity 0.8 over the light grey background of the map
    expected = 0.8 * np.array(mpl.colors.to_rgb(NO_ACCESS_COLOUR)) * 255 + 0.2 * 221
    assert np.abs(pixel - expected).max() < 12, (pixel, expected)


def test_simplified_coverage_stays_valid_on_bas_rhin() -> None:
    """The repaired reference (gaps filled into Niederrœdern…) simplifies without a GEOS
    TopologyException, into valid (multi)polygons, one per commune."""
    communes = load_communes(departements="67")
    simple = simplify_coverage(communes, 100.0)
    assert len(simple) == len(communes)
    assert shapely.is_valid(simple.geometry.to_numpy()).all()
    assert set(simple.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
