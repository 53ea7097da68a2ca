from __future__ import annotations

import io
import re
from pathlib import Path

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from geo.analysis import analyse
from geo.demo import generate_practitioners
from geo.errors import DataValidationError
from geo.maps.choropleth import (
    APL_ZONAGE_BREAKS,
    APL_ZONAGE_COLOURS,
    NO_DATA_COLOUR,
    PALETTES,
    ChoroplethSpec,
    analysis_map,
    analysis_spec,
)
from geo.maps.offline import to_offline_html
from geo.maps.static import (
    analysis_static_map,
    save_static_map,
    static_map,
    static_map_bytes,
)
from geo.reference import load_communes

SYNTHETIC = "praticiens simulés — données de démonstration"


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _png(fig: Figure, dpi: float | None = None) -> tuple[bytes, npt.NDArray[np.uint8]]:
    data = static_map_bytes(fig, "png", dpi=dpi)
    with Image.open(io.BytesIO(data)) as image:
        return data, np.asarray(image.convert("RGB"))


def _count(pixels: npt.NDArray[np.uint8], hex_colour: str) -> int:
    return int((pixels == np.array(_rgb(hex_colour), dtype=np.uint8)).all(axis=-1).sum())


def _distinct(pixels: npt.NDArray[np.uint8]) -> int:
    packed = pixels.astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], dtype=np.uint32)
    return len(np.unique(packed))


def _grid_spec(**kwargs: object) -> ChoroplethSpec:
    options: dict[str, object] = {
        "column": "value",
        "title": "Essai de carte",
        "label": "Valeur",
        "unit": "unités",
        "scheme": "fixed",
        "breaks": (2.0, 5.0),
        "sources": ("Source A", "Source B"),
        "synthetic": True,
    }
    options.update(kwargs)
    return ChoroplethSpec(**options)  # type: ignore[arg-type]


@pytest.fixture
def grid(grid3x3: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    grid3x3["value"] = [0.0, 1, 2, 3, 4, 5, 6, 7, np.nan]
    return grid3x3


# --- 3×3 grid: checkable by hand ---------------------------------------------------------------


def test_png_size_and_class_colours_at_commune_centres(grid: gpd.GeoDataFrame) -> None:
    fig = static_map(grid, _grid_spec(), width_cm=16, height_cm=10, dpi=150)
    data, pixels = _png(fig)
    assert pixels.shape[:2] == (round(10 / 2.54 * 150), round(16 / 2.54 * 150))
    assert data.startswith(b"\x89PNG") and len(data) < 1_000_000
    # rounded, not truncated, also when saved at another dpi
    width_in, height_in = fig.get_size_inches()
    assert _png(fig, dpi=97)[1].shape[:2] == (round(height_in * 97), round(width_in * 97))
    assert tuple(fig.get_size_inches()) == (width_in, height_in)
    # fixed breaks 2, 5 (+ the top 7): 3 classes → colours 0, 4 and 8 of the 9-colour palette
    low, mid, high = (PALETTES["YlGnBu"][i] for i in (0, 4, 8))
    expected = [low, low, low, mid, mid, mid, high, high, NO_DATA_COLOUR]
    ax = fig.axes[0]
    centres = np.column_stack([grid.geometry.centroid.x, grid.geometry.centroid.y])
    px = ax.transData.transform(centres)
    rows = np.round(pixels.shape[0] - px[:, 1]).astype(int)
    cols = np.round(px[:, 0]).astype(int)
    got = [tuple(int(v) for v in pixels[r, c]) for r, c in zip(rows, cols, strict=True)]
    assert got == [_rgb(c) for c in expected]
    assert _distinct(pixels) > 50


def test_png_size_is_not_truncated(grid: gpd.GeoDataFrame) -> None:
    # 10 cm at 254 dpi is 999.99… px in floating point, which Agg would truncate to 999
    fig = static_map(grid, _grid_spec(), width_cm=16, height_cm=10, dpi=254)
    assert _png(fig)[1].shape[:2] == (1000, 1600)


def test_legend_wording_and_page_texts(grid: gpd.GeoDataFrame) -> None:
    fig = static_map(grid, _grid_spec(), subtitle="Sous-titre", width_cm=16, height_cm=10, dpi=72)
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_texts == ["0,0 – 2,0", "> 2,0 – 5,0", "> 5,0", "non renseigné"]
    swatches = [mpl.colors.to_hex(p.get_facecolor()) for p in fig.legends[0].get_patches()]
    assert swatches == [*(PALETTES["YlGnBu"][i] for i in (0, 4, 8)), NO_DATA_COLOUR]
    texts = " ".join(t.get_text().replace("\n", " ") for t in fig.texts)
    for expected in ("Essai de carte", "Sous-titre", "Valeur", "unités", SYNTHETIC, "km"):
        assert expected in texts
    assert "Sources : Source A · Source B" in texts
    red = [t for t in fig.texts if t.get_text() == SYNTHETIC]
    assert red and all(mpl.colors.to_hex(t.get_color()) == "#b00020" for t in red)


def test_no_synthetic_warning_for_real_data(grid: gpd.GeoDataFrame) -> None:
    fig = static_map(grid, _grid_spec(synthetic=False), width_cm=16, height_cm=10, dpi=72)
    assert SYNTHETIC not in static_map_bytes(fig, "svg").decode()


@pytest.mark.parametrize(("width_cm", "height_cm"), [(25, 18), (12, 18), (10, 7.5), (30, 10)])
def test_legend_and_texts_never_cover_the_map(
    grid: gpd.GeoDataFrame, width_cm: float, height_cm: float
) -> None:
    points = pd.DataFrame(
        {"lon": [3.0, 3.1], "lat": [45.7, 45.75], "count": [12, 3], "label": ["a", "b"]}
    )
    fig = static_map(
        grid, _grid_spec(), width_cm=width_cm, height_cm=height_cm, dpi=72, points=points
    )
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    ax_box = fig.axes[0].get_window_extent(renderer)
    page = fig.bbox
    for artist in [*fig.texts, *fig.legends]:
        box = artist.get_window_extent(renderer)
        if not artist.get_visible() or box.width == 0:
            continue
        assert not box.overlaps(ax_box), artist
        assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1, artist
        assert page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1, artist


def test_svg_and_pdf_are_reproducible(grid: gpd.GeoDataFrame, tmp_path: Path) -> None:
    paths = []
    for i in range(2):
        fig = static_map(grid, _grid_spec(), width_cm=16, height_cm=10)
        paths.append(save_static_map(fig, tmp_path / f"carte{i}.svg"))
        paths.append(save_static_map(fig, tmp_path / f"carte{i}.pdf"))
    svg0, pdf0, svg1, pdf1 = (p.read_bytes() for p in paths)
    assert svg0 == svg1 and pdf0 == pdf1
    text = svg0.decode("utf-8")
    assert "Essai de carte" in text and SYNTHETIC in text
    assert "<dc:date>" not in text
    assert pdf0.startswith(b"%PDF") and len(pdf0) > 5_000
    assert b"CreationDate" not in pdf0


def test_no_global_matplotlib_state_changes(grid: gpd.GeoDataFrame) -> None:
    import matplotlib.pyplot as plt  # geopandas' plot imports it; we never use it

    before = dict(mpl.rcParams)
    figures = plt.get_fignums()
    fig = static_map(grid, _grid_spec(title="Coût en $ et 50 %"), width_cm=16, height_cm=10)
    static_map_bytes(fig, "svg")
    assert dict(mpl.rcParams) == before
    assert plt.get_fignums() == figures
    # "$" is text, not mathtext
    assert any(t.get_text() == "Coût en $ et 50 %" for t in fig.texts)


def test_errors_name_the_value(grid: gpd.GeoDataFrame, tmp_path: Path) -> None:
    spec = _grid_spec()
    with pytest.raises(DataValidationError, match="'nope'"):
        static_map(grid, _grid_spec(column="nope"))
    with pytest.raises(DataValidationError, match=r"width_cm .* got 0"):
        static_map(grid, spec, width_cm=0)
    with pytest.raises(DataValidationError, match=r"height_cm .* got -3"):
        static_map(grid, spec, height_cm=-3)
    with pytest.raises(DataValidationError, match=r"dpi .* got nan"):
        static_map(grid, spec, dpi=float("nan"))
    with pytest.raises(DataValidationError, match="at least 5 cm"):
        static_map(grid, spec, width_cm=2)
    with pytest.raises(DataValidationError, match="pixels a side"):
        static_map(grid, spec, dpi=100_000)
    with pytest.raises(DataValidationError, match="palette 'Rainbow'"):
        static_map(grid, _grid_spec(palette="Rainbow"))
    with pytest.raises(DataValidationError, match=r"tolerance_m .* got -1"):
        static_map(grid, spec, tolerance_m=-1)
    # mainland and overseas communes together: an inset, no longer an error
    assert len(static_map(grid.assign(departement=["63"] * 8 + ["974"]), spec).axes) == 2
    with pytest.raises(DataValidationError, match="no CRS"):
        static_map(grid.set_crs(None, allow_override=True), spec)
    with pytest.raises(DataValidationError, match=r"lack column\(s\) \['count', 'label'\]"):
        static_map(grid, spec, points=pd.DataFrame({"lon": [3.0], "lat": [45.0]}))
    fig = static_map(grid, spec, width_cm=8, height_cm=6, dpi=50)
    with pytest.raises(DataValidationError, match=r"suffix '\.jpg'.*\.png, \.svg, \.pdf"):
        save_static_map(fig, tmp_path / "carte.jpg")
    with pytest.raises(DataValidationError, match="suffix ''"):
        save_static_map(fig, tmp_path / "carte")
    with pytest.raises(DataValidationError, match="format 'tiff'"):
        static_map_bytes(fig, "tiff")
    with pytest.raises(DataValidationError, match=r"dpi .* got 0"):
        save_static_map(fig, tmp_path / "carte.png", dpi=0)
    assert not list(tmp_path.iterdir())


def test_overseas_departement_uses_its_local_crs() -> None:
    reunion = load_communes(departements="974")
    reunion["value"] = reunion["population"] / 1000.0
    spec = ChoroplethSpec(column="value", title="La Réunion", label="Population", unit="milliers")
    fig = static_map(reunion, spec, width_cm=12, height_cm=9, dpi=60)
    x0, x1 = fig.axes[0].get_xlim()
    y0, y1 = fig.axes[0].get_ylim()
    # UTM 40S (EPSG:2975): eastings ~300-380 km, northings ~7.63-7.70 Mm
    assert 250_000 < x0 < x1 < 450_000 and 7_600_000 < y0 < y1 < 7_720_000


# --- Real data: Puy-de-Dôme, simulated GPs, APL ---------------------------------------------


@pytest.fixture(scope="module")
def apl_63() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    territory = load_communes(departements="63")
    practitioners = generate_practitioners(load_communes(), professions=["medecin_generaliste"])
    result = analyse(territory, practitioners, "apl")
    chef_lieu = territory.set_index("code")["chef_lieu"]
    located = result[result["practitioners"] > 0]
    xy = gpd.GeoSeries(chef_lieu.reindex(located["code"]).to_numpy(), crs=territory.crs)
    points = pd.DataFrame(
        {
            "lon": xy.x.to_numpy(),
            "lat": xy.y.to_numpy(),
            "count": located["practitioners"].to_numpy(),
            "label": located["nom"].to_numpy(),
        }
    )
    return result, points


def test_real_map_png(apl_63: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    result, points = apl_63
    fig = analysis_static_map(result, "Puy-de-Dôme (63)", points=points)
    data, pixels = _png(fig)
    assert pixels.shape[:2] == (round(18 / 2.54 * 200), round(25 / 2.54 * 200))
    assert 100_000 < len(data) < 3_000_000
    assert _distinct(pixels) > 500
    spec, _ = analysis_spec(result, "Puy-de-Dôme (63)")
    assert spec.scheme == "fixed" and spec.breaks == APL_ZONAGE_BREAKS
    values = result["value"].to_numpy(dtype="float64")
    classes = np.searchsorted(spec.breaks, values[values > 0], side="right")  # [2,5 ; 4[
    present = {APL_ZONAGE_COLOURS[int(c)] for c in classes}
    # Clermont-Ferrand's class colour covers many pixels (as does every class present)
    clermont = float(result.loc[result["code"] == "63113", "value"].iloc[0])
    clermont_class = int(np.searchsorted(spec.breaks, clermont, side="right"))
    assert _count(pixels, APL_ZONAGE_COLOURS[clermont_class]) > 1_000
    assert all(_count(pixels, c) > 50 for c in present)


def test_real_map_agrees_with_interactive_map(
    apl_63: tuple[gpd.GeoDataFrame, pd.DataFrame],
) -> None:
    result, _ = apl_63
    fig = analysis_static_map(result, "Puy-de-Dôme (63)", dpi=50)
    html = to_offline_html(analysis_map(result, "Puy-de-Dôme (63)"))
    legend = html[html.index('class="cs-legend"') :]
    interactive = re.findall(
        r'cs-swatch" style="background:(#[0-9a-f]{6})"></span>([^<]*)<', legend
    )
    static = [
        (mpl.colors.to_hex(p.get_facecolor()), t.get_text().replace("\n", " "))
        for p, t in zip(fig.legends[0].get_patches(), fig.legends[0].get_texts(), strict=True)
    ]
    assert static == [(c, t.replace("&gt;", ">")) for c, t in interactive]
    assert fig.get_label() in html  # same title
    assert any("Zone de recherche : 20 minutes" in t.get_text() for t in fig.texts)


def test_real_map_svg_pdf(apl_63: tuple[gpd.GeoDataFrame, pd.DataFrame], tmp_path: Path) -> None:
    result, points = apl_63
    fig = analysis_static_map(result, "Puy-de-Dôme (63)", points=points)
    svg = save_static_map(fig, tmp_path / "apl_63.svg").read_bytes()
    pdf = save_static_map(fig, tmp_path / "apl_63.PDF").read_bytes()
    text = svg.decode("utf-8")
    assert "(APL) — Puy-de-Dôme (63)" in text and "Accès aux" in text
    assert SYNTHETIC in text
    assert 100_000 < len(svg) < 5_000_000
    assert pdf.startswith(b"%PDF") and 50_000 < len(pdf) < 3_000_000
