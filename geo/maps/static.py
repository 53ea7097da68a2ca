"""Static maps for slides and print: PNG, SVG and PDF exports of a classed choropleth.

Same classes, colours and French wording as the interactive maps of :mod:`geo.maps.choropleth`,
laid out for a page: title, legend beside or under the map, scale bar, north arrow, sources.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from matplotlib.artist import Artist
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from matplotlib.transforms import Transform

from geo.crs import METRIC_CRS_BY_DEPARTEMENT, metric_crs_of
from geo.errors import DataValidationError
from geo.maps.choropleth import (
    CIRCLE_RADIUS_M,
    LARGE_MAP_COMMUNES,
    PALETTES,
    SYNTHETIC_LABEL,
    ChoroplethSpec,
    analysis_spec,
    class_scheme,
    format_fr,
    simplify_coverage,
    union_polygons,
)
from geo.reference import list_departements

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "EXPORT_FORMATS",
    "analysis_static_map",
    "save_static_map",
    "static_map",
    "static_map_bytes",
]

#: File suffix → format written by :func:`save_static_map`.
EXPORT_FORMATS: Final[dict[str, str]] = {".png": "png", ".svg": "svg", ".pdf": "pdf"}

CM_PER_INCH: Final = 2.54
#: Smallest page side that still holds a title, a map and a legend.
MIN_SIDE_CM: Final = 5.0
#: Largest raster side (Agg refuses 2**16 pixels; an A0 sheet at 300 dpi is ~9,900 px).
MAX_SIDE_PX: Final = 16_384
#: Polygons are simplified to this much paper (invisible, and keeps SVG/PDF small).
SIMPLIFY_PAPER_MM: Final = 0.15
#: Diameter of the largest proportional circle, as a share of the page's shorter side.
CIRCLE_MAX_DIAMETER_SHARE: Final = 0.035
#: Holes of a territory smaller than this (m²) are slivers between simplified communes.
OUTLINE_MIN_HOLE_M2: Final = 2e6
#: Circles smaller than this diameter (points) are not drawn; the legend says from which count.
CIRCLE_MIN_DIAMETER_PT: Final = 1.0
#: Width of the column of DROM insets beside métropole, as a share of métropole's height.
INSET_SHARE: Final = 0.2
#: Round scale-bar lengths, in metres.
SCALE_BAR_LENGTHS_M: Final = (
    100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000
)  # fmt: skip

_SYNTHETIC_COLOUR = "#b00020"
_TEXT_COLOUR = "#1a1a1a"
_MUTED_COLOUR = "#4d4d4d"
_TERRITORY_COLOUR = "#222222"
_GROUP_COLOUR = "#555555"
_POINT_FACE, _POINT_EDGE = "#c51b8a", "#7a0177"

#: Everything that shapes the output is fixed here and applied only while drawing and saving,
#: so no global matplotlib setting changes and two identical calls give identical files.
_RC: Final[dict[RcKeyType, Any]] = {
    "font.family": "DejaVu Sans",  # bundled with matplotlib: no font download, same everywhere
    "text.usetex": False,
    "text.parse_math": False,  # "$" in a title is a dollar, not mathtext
    "axes.unicode_minus": True,
    "svg.hashsalt": "cartosoins",  # stable ids in SVG
    "svg.fonttype": "path",  # looks the same in every viewer and slide tool
    "pdf.fonttype": 42,  # embedded TrueType subset: text stays selectable
    "pdf.compression": 6,
    "savefig.facecolor": "white",
    "savefig.edgecolor": "white",
    "savefig.transparent": False,
}


# --- Public API ------------------------------------------------------------------------------


def static_map(
    communes: gpd.GeoDataFrame,
    spec: ChoroplethSpec,
    *,
    width_cm: float = 25.0,
    height_cm: float = 18.0,
    dpi: float = 200,
    subtitle: str | None = None,
    points: pd.DataFrame | None = None,
    points_label: str = "Praticiens",
    outline_by: str | None = "epci",
    north_arrow: bool = True,
    tolerance_m: float | None = None,
) -> Figure:
    """Draw a classed choropleth of ``spec.column`` as a page for slides or print.

    The page holds the title (and subtitle), the map in a metric CRS, the legend (class ranges,
    unit, the no-data class, proportional circles) beside or under the map, whichever leaves
    the map larger, a scale bar, a north arrow and the source line; when ``spec.synthetic``
    the page says, in red, that the practitioners are simulated. Classes and colours are those of
    :func:`geo.maps.choropleth.choropleth_map` for the same ``spec``.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        One row per commune with a CRS, the measure column and polygons; ``departement`` picks
        the metric CRS (Lambert-93, or the local CRS of an overseas département). Communes of
        métropole and of the DROM together (France entière) are drawn as a map of métropole
        with one inset per DROM, in its own CRS and at its own scale, in a column on the left.
    spec : ChoroplethSpec
        Measure, wording, classification.
    width_cm, height_cm : float
        Page size in centimetres (at least 5 cm a side).
    dpi : float
        Resolution of the PNG export (SVG and PDF are vector).
    subtitle : str, optional
        Line under the title.
    points : DataFrame, optional
        Practitioners aggregated per commune, drawn as proportional circles: columns ``lon``,
        ``lat`` (EPSG:4326), ``count`` and ``label`` (unused on paper). Never individual people.
    points_label : str
        Legend heading of the circles.
    outline_by : str, optional
        Column whose groups get an outline (EPCI by default; ignored when absent). The
        territory's outline is always drawn.
    north_arrow : bool
        Draw a north arrow above the scale bar.
    tolerance_m : float, optional
        Simplification tolerance in metres; default ~0.15 mm of paper at the map's scale.

    Returns
    -------
    matplotlib.figure.Figure
        A figure with its own Agg canvas (pyplot is not involved); save it with
        :func:`save_static_map` or :func:`static_map_bytes`.

    Raises
    ------
    DataValidationError
        If the size or dpi is not positive (or too large), the column or palette is unknown,
        the communes have no CRS or no polygon, ``points`` lacks a column or ``tolerance_m``
        is negative.
    """
    width_in, height_in = _check_page(width_cm, height_cm, dpi)
    _check_communes(communes, spec)
    circles = _check_points(points)
    if outline_by == "epci" and len(communes) > LARGE_MAP_COMMUNES:
        outline_by = "departement"  # a région or France: EPCI lines would blacken the map
    zones = _zones(communes)
    crs, mainland = zones[0]
    simple = _simplified(mainland, crs, width_in, tolerance_m)
    insets = [
        _Inset(name, zone_crs, _simplified(frame, zone_crs, width_in * INSET_SHARE, tolerance_m))
        for zone_crs, frame, name in _inset_zones(zones[1:])
    ]
    parts = [simple, *(inset.communes for inset in insets)]
    fills, entries = _zone_classes(parts, spec)
    fill = fills[0]
    for inset, inset_fill in zip(insets, fills[1:], strict=True):
        inset.fill = inset_fill
    span = _span(simple)
    if insets:  # a strip left of the mainland holds the insets
        span = (span[0] + span[1] * INSET_SHARE, span[1])
    diameter_max_pt = CIRCLE_MAX_DIAMETER_SHARE * min(width_in, height_in) * 72
    legend_circles = None
    if circles is not None:
        top = float(circles["count"].max())
        diameter_max_pt = _circle_diameter_pt(top, span, width_in, height_in)
        smallest = top * (CIRCLE_MIN_DIAMETER_PT / diameter_max_pt) ** 2
        circles = circles[circles["count"].to_numpy() >= smallest]
        shown = [c for c in _nice_counts(top) if c >= smallest]
        heading = points_label
        if smallest > 1:  # small counts are below a visible dot at this scale: say so
            floor = math.ceil(smallest)
            shown = [c for c in shown if c > floor] + [float(floor)]
            heading = f"{points_label} — communes de {format_fr(floor, 0)} ou plus"
        legend_circles = (shown, diameter_max_pt, heading)
    with _style():
        page, arrangement = _lay_out(
            width_in,
            height_in,
            dpi,
            spec,
            subtitle,
            entries,
            legend_circles,
            span,
            north_arrow,
        )
        axes = _draw_map(page, arrangement, simple, fill, outline_by, crs, insets)
        if circles is not None:
            for ax, zone_crs, frame in axes:
                _draw_circles(ax, _within(circles, frame), zone_crs, diameter_max_pt, top)
        page.scale_bar(
            arrangement.scale_box, arrangement.scale_align, arrangement.metres_per_in, north_arrow
        )
    return page.fig


def analysis_static_map(
    result: gpd.GeoDataFrame,
    place: str,
    *,
    width_cm: float = 25.0,
    height_cm: float = 18.0,
    dpi: float = 200,
    points: pd.DataFrame | None = None,
    points_label: str = "Praticiens",
    outline_by: str | None = "epci",
    north_arrow: bool = True,
    profession: str | None = None,
) -> Figure:
    """Draw the static map of an :func:`geo.analysis.analyse` result, worded from its metadata.

    The print twin of :func:`geo.maps.choropleth.analysis_map`: same classes, colours, title
    and legend, see :func:`analysis_spec`.

    Parameters
    ----------
    result : geopandas.GeoDataFrame
        Output of ``analyse`` (``value`` and ``attrs``).
    place : str
        Territory name for the title ("Puy-de-Dôme (63)").
    width_cm, height_cm, dpi, points, points_label, outline_by, north_arrow
        See :func:`static_map`.
    profession : str, optional
        Profession code for the words (see :func:`analysis_spec`).

    Returns
    -------
    matplotlib.figure.Figure
        The page.
    """
    spec, subtitle = analysis_spec(result, place, profession=profession)
    return static_map(
        result,
        spec,
        width_cm=width_cm,
        height_cm=height_cm,
        dpi=dpi,
        subtitle=subtitle,
        points=points,
        points_label=points_label,
        outline_by=outline_by,
        north_arrow=north_arrow,
    )


def static_map_bytes(fig: Figure, format: str, *, dpi: float | None = None) -> bytes:
    """Render a page from :func:`static_map` to PNG, SVG or PDF bytes.

    SVG and PDF carry no date and stable ids: the same map gives the same bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The page.
    format : {"png", "svg", "pdf"}
        Output format.
    dpi : float, optional
        PNG resolution; default the ``dpi`` the page was drawn with.

    Returns
    -------
    bytes
        The file's content.

    Raises
    ------
    DataValidationError
        If the format is unknown or the dpi is not positive (or too large for the page).
    """
    fmt = str(format).lower().lstrip(".")
    if fmt not in EXPORT_FORMATS.values():
        raise DataValidationError(
            f"format {format!r} is not one of {', '.join(EXPORT_FORMATS.values())}"
        )
    width_in, height_in = (float(v) for v in fig.get_size_inches())
    save_dpi = float(fig.dpi) if dpi is None else _check_dpi(dpi)
    _check_pixels(width_in, height_in, save_dpi)
    title = fig.get_label() or "Carte"
    metadata: dict[str, Any] = {
        "png": {"Title": title, "Software": "cartosoins"},
        "svg": {"Title": title, "Date": None, "Creator": "cartosoins"},
        "pdf": {"Title": title, "CreationDate": None, "Creator": "cartosoins"},
    }[fmt]
    buffer = BytesIO()
    with _style():
        if fmt == "png" and save_dpi != fig.dpi:
            # a whole number of pixels at this dpi too, then the page as it was
            fig.set_size_inches(_snap(width_in, save_dpi), _snap(height_in, save_dpi))
        try:
            fig.savefig(buffer, format=fmt, dpi=save_dpi, metadata=metadata)
        finally:
            fig.set_size_inches(width_in, height_in)
    return buffer.getvalue()


def save_static_map(fig: Figure, path: str | os.PathLike[str], *, dpi: float | None = None) -> Path:
    """Write a page from :func:`static_map` to ``path``, in the format of its suffix.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The page.
    path : str or os.PathLike
        Output file ending in ``.png``, ``.svg`` or ``.pdf``; its folder must exist.
    dpi : float, optional
        PNG resolution; default the ``dpi`` the page was drawn with.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    DataValidationError
        If the suffix is not one of :data:`EXPORT_FORMATS` or the dpi is not positive.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise DataValidationError(
            f"path suffix {out.suffix!r} of {str(out)!r} is not one of {', '.join(EXPORT_FORMATS)}"
        )
    out.write_bytes(static_map_bytes(fig, EXPORT_FORMATS[suffix], dpi=dpi))
    return out


# --- Validation ------------------------------------------------------------------------------


def _positive(name: str, value: object, unit: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise DataValidationError(f"{name} must be a positive number ({unit}), got {value!r}")
    return number


def _snap(inches: float, dpi: float) -> float:
    """Round a page side to whole pixels: Agg truncates, and 10 cm at 254 dpi is 999.99… px."""
    return (max(round(inches * dpi), 1) + 1e-3) / dpi


def _check_dpi(dpi: object) -> float:
    return _positive("dpi", dpi, "dots per inch")


def _check_pixels(width_in: float, height_in: float, dpi: float) -> None:
    side_px = max(width_in, height_in) * dpi
    if side_px > MAX_SIDE_PX:
        raise DataValidationError(
            f"dpi {dpi:g} makes a {side_px:.0f}-pixel side; at most {MAX_SIDE_PX} pixels a side"
        )


def _check_page(width_cm: object, height_cm: object, dpi: object) -> tuple[float, float]:
    sides = {
        "width_cm": _positive("width_cm", width_cm, "centimetres"),
        "height_cm": _positive("height_cm", height_cm, "centimetres"),
    }
    for name, side in sides.items():
        if side < MIN_SIDE_CM:
            raise DataValidationError(
                f"{name} must be at least {MIN_SIDE_CM:g} cm to hold the map, got {side:g}"
            )
    width_in, height_in = (side / CM_PER_INCH for side in sides.values())
    pixels_per_in = _check_dpi(dpi)
    _check_pixels(width_in, height_in, pixels_per_in)
    return _snap(width_in, pixels_per_in), _snap(height_in, pixels_per_in)


def _check_communes(communes: gpd.GeoDataFrame, spec: ChoroplethSpec) -> None:
    if not isinstance(communes, gpd.GeoDataFrame):
        raise DataValidationError(f"communes must be a GeoDataFrame, got {type(communes).__name__}")
    if spec.column not in communes.columns:
        raise DataValidationError(f"column {spec.column!r} not in the communes to map")
    if spec.palette not in PALETTES:
        raise DataValidationError(f"palette {spec.palette!r} is not one of {sorted(PALETTES)}")
    if communes.crs is None:
        raise DataValidationError("the communes to map have no CRS")
    geoms = communes.geometry.to_numpy()
    if not (~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)).any():
        raise DataValidationError("none of the communes to map has a polygon")


def _check_points(points: pd.DataFrame | None) -> pd.DataFrame | None:
    if points is None:
        return None
    missing = [c for c in ("lon", "lat", "count", "label") if c not in points.columns]
    if missing:
        raise DataValidationError(
            f"points to map lack column(s) {missing}; expected lon, lat, count, label"
        )
    counts = pd.to_numeric(points["count"], errors="coerce")
    lon = pd.to_numeric(points["lon"], errors="coerce")
    lat = pd.to_numeric(points["lat"], errors="coerce")
    kept = (counts > 0) & lon.notna() & lat.notna()
    if not kept.any():
        return None
    return pd.DataFrame(
        {"lon": lon[kept], "lat": lat[kept], "count": counts[kept].astype("float64")}
    )


# --- Data ------------------------------------------------------------------------------------


def _simplified(
    communes: gpd.GeoDataFrame, crs: str, width_in: float, tolerance_m: float | None
) -> gpd.GeoDataFrame:
    """Communes with a polygon, simplified along shared borders, in the metric CRS."""
    if tolerance_m is not None and not float(tolerance_m) >= 0:
        raise DataValidationError(f"tolerance_m must be ≥ 0 metres, got {tolerance_m!r}")
    if tolerance_m is None:
        box = gpd.GeoSeries([shapely.box(*communes.total_bounds)], crs=communes.crs).to_crs(crs)
        minx, miny, maxx, maxy = box.total_bounds
        # the map takes roughly two thirds of the page width
        metres_per_mm = max(maxx - minx, maxy - miny) / (width_in * 2 / 3 * 25.4)
        tolerance_m = SIMPLIFY_PAPER_MM * metres_per_mm
    return simplify_coverage(communes, float(tolerance_m)).to_crs(crs)


def _classes(
    simple: gpd.GeoDataFrame, spec: ChoroplethSpec
) -> tuple[npt.NDArray[np.object_], list[tuple[str, str]]]:
    """Fill colour of each commune and the legend entries (colour, text), no-data last.

    The classification of the interactive map (:func:`geo.maps.choropleth.class_scheme`) on
    the communes that have a polygon: same colours, same entries ("aucun médecin à moins de
    20 min" first and "non renseigné" last, each only when such communes exist).
    """
    fill, _, entries = class_scheme(simple, spec)
    return fill, entries


def _span(simple: gpd.GeoDataFrame) -> tuple[float, float]:
    """Width and height (metres) to show: the territory with a 1 % margin each side."""
    minx, miny, maxx, maxy = (float(v) for v in simple.total_bounds)
    return max(maxx - minx, 1.0) * 1.02, max(maxy - miny, 1.0) * 1.02


def _union_m(geoms: npt.NDArray[np.object_]) -> shapely.Geometry:
    """Union in a metric CRS: 1 cm snapping as a last resort (see ``union_polygons``)."""
    return union_polygons(geoms, grid_size=0.01)


def _group_boundaries(simple: gpd.GeoDataFrame, by: str | None) -> list[shapely.Geometry]:
    if not by or by not in simple.columns:
        return []
    codes, _ = pd.factorize(simple[by])  # missing keys get −1 and no outline
    geoms = simple.geometry.to_numpy()
    return [shapely.boundary(_union_m(geoms[codes == g])) for g in range(codes.max() + 1)]


def _nice_counts(top: float) -> list[float]:
    """Pick the counts of the circle legend: the largest, a round middle one, and 1."""
    shown = [top]
    nice = [n for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if n <= top / 3]
    if nice and nice[-1] > 1:
        shown.append(float(nice[-1]))
    if top > 1:
        shown.append(1.0)
    return shown


def _scale_length_m(metres_per_in: float, max_in: float) -> float:
    fitting = [m for m in SCALE_BAR_LENGTHS_M if m / metres_per_in <= max_in]
    return float(fitting[-1] if fitting else SCALE_BAR_LENGTHS_M[0])


def _distance_fr(metres: float) -> str:
    if metres < 1000:
        return f"{format_fr(metres, 0)} m"
    km = metres / 1000
    return f"{format_fr(km, 0 if km == round(km) else 1)} km"


# --- Page layout ----------------------------------------------------------------------------


@contextmanager
def _style() -> Iterator[None]:
    with mpl.rc_context(_RC):
        yield


@dataclass
class _Block:
    """Artists stacked top-down and moved as one; ``offsets`` are their tops below the block's."""

    artists: list[Artist]
    offsets: list[float]
    width_in: float
    height_in: float

    def place(self, page: _Page, x_in: float, top_in: float) -> None:
        for artist, dy in zip(self.artists, self.offsets, strict=True):
            if isinstance(artist, Legend):
                artist.set_bbox_to_anchor((x_in, top_in - dy), transform=page.inches)
            elif isinstance(artist, Text):
                artist.set_position((x_in, top_in - dy))


@dataclass(frozen=True)
class _Arrangement:
    """Where the map, the legend blocks and the scale bar go (inches from the bottom left)."""

    map_box: tuple[float, float, float, float]  # left, bottom, width, height
    places: list[tuple[float, float]]  # left, top of each legend block
    scale_box: tuple[float, float, float]  # left, bottom, width
    scale_align: str  # "left" beside the map, "right" under it
    metres_per_in: float


class _Page:
    """A figure laid out in inches from its bottom-left corner, fonts sized by ``scale``."""

    def __init__(
        self, width_in: float, height_in: float, dpi: float, title: str, scale: float
    ) -> None:
        self.fig = Figure(figsize=(width_in, height_in), dpi=dpi, facecolor="white")
        canvas = FigureCanvasAgg(self.fig)  # Agg for this figure only: no global backend switch
        self.renderer: RendererBase = canvas.get_renderer()  # type: ignore[no-untyped-call]
        self.fig.set_label(title)
        self.width_in, self.height_in = width_in, height_in
        self.scale = scale
        self.pad_in = 0.22 * scale
        self.gap_in = 0.18 * scale
        self.title_pt = 17 * scale
        self.subtitle_pt = 11.5 * scale
        self.legend_pt = 10 * scale
        self.source_pt = 7.5 * scale

    @property
    def inches(self) -> Transform:
        return self.fig.dpi_scale_trans

    def size_in(self, artist: Artist) -> tuple[float, float]:
        box = artist.get_window_extent(self.renderer)
        return float(box.width) / self.fig.dpi, float(box.height) / self.fig.dpi

    def wrap(self, text: str, width_in: float, size_pt: float, weight: str = "normal") -> str:
        """Break ``text`` at spaces so that each line fits ``width_in``."""
        prop = FontProperties(family=_RC["font.family"], size=size_pt, weight=weight)
        limit = width_in * self.fig.dpi
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line = ""
            for word in paragraph.split(" "):
                trial = f"{line} {word}" if line else word
                w, _, _ = self.renderer.get_text_width_height_descent(trial, prop, ismath=False)
                if line and w > limit:
                    lines.append(line)
                    line = word
                else:
                    line = trial
            lines.append(line)
        return "\n".join(lines)

    def text(
        self,
        text: str,
        width_in: float,
        size_pt: float,
        *,
        weight: str = "normal",
        colour: str = _TEXT_COLOUR,
    ) -> Text:
        """Write wrapped text anchored at its top left (placed later)."""
        return self.fig.text(
            0,
            0,
            self.wrap(text, width_in, size_pt, weight),
            transform=self.inches,
            fontsize=size_pt,
            fontweight=weight,
            color=colour,
            ha="left",
            va="top",
            linespacing=1.25,
        )

    def stack(self, parts: Sequence[tuple[Artist, float]]) -> _Block:
        """Stack artists top-down, each after a gap (inches)."""
        offsets, y, width = [], 0.0, 0.0
        for artist, gap in parts:
            y += gap
            offsets.append(y)
            w, h = self.size_in(artist)
            y += h
            width = max(width, w)
        return _Block([a for a, _ in parts], offsets, width, y)

    # -- blocks -------------------------------------------------------------------------------

    def title_block(self, title: str, subtitle: str | None, synthetic: bool) -> _Block:
        width = self.width_in - 2 * self.pad_in
        parts: list[tuple[Artist, float]] = [
            (self.text(title, width, self.title_pt, weight="bold"), 0.0)
        ]
        if subtitle:
            parts.append((self.text(subtitle, width, self.subtitle_pt, colour=_MUTED_COLOUR), 0.05))
        if synthetic:
            warning = self.text(SYNTHETIC_LABEL, width, self.subtitle_pt, colour=_SYNTHETIC_COLOUR)
            parts.append((warning, 0.04))
        return self.stack(parts)

    def source_block(self, sources: Sequence[str], synthetic: bool) -> _Block:
        width = self.width_in - 2 * self.pad_in
        parts: list[tuple[Artist, float]] = []
        if synthetic:
            parts.append(
                (
                    self.text(
                        SYNTHETIC_LABEL,
                        width,
                        self.source_pt,
                        weight="bold",
                        colour=_SYNTHETIC_COLOUR,
                    ),
                    0.0,
                )
            )
        if sources:
            line = "Sources : " + " · ".join(str(s) for s in sources)
            parts.append((self.text(line, width, self.source_pt, colour=_MUTED_COLOUR), 0.02))
        return self.stack(parts)

    def class_block(self, label: str, unit: str, entries: list[tuple[str, str]]) -> _Block:
        """Heading, unit and one swatch per class, no-data class last."""
        max_width = 0.36 * self.width_in
        handle_em, pad_em = 1.5, 0.6
        text_width = max_width - (handle_em + pad_em) * self.legend_pt / 72
        legend = self.fig.legend(
            [Patch(facecolor=colour, edgecolor="#7f7f7f", linewidth=0.5) for colour, _ in entries],
            [self.wrap(text, text_width, self.legend_pt) for _, text in entries],
            loc="upper left",
            bbox_to_anchor=(0, 0),
            bbox_transform=self.inches,
            frameon=False,
            fontsize=self.legend_pt,
            handlelength=handle_em,
            handleheight=1.1,
            handletextpad=pad_em,
            labelspacing=0.45,
            borderpad=0,
            borderaxespad=0,
        )
        parts: list[tuple[Artist, float]] = [
            (self.text(label, max_width, self.legend_pt + 0.5 * self.scale, weight="bold"), 0.0)
        ]
        if unit:
            unit_text = self.text(
                unit, max_width, self.legend_pt - self.scale, colour=_MUTED_COLOUR
            )
            parts.append((unit_text, 0.02))
        parts.append((legend, 0.4 * self.legend_pt / 72))
        return self.stack(parts)

    def circle_block(self, counts: list[float], diameter_max_pt: float, heading: str) -> _Block:
        """Heading and a few proportional circles with their counts."""
        top = counts[0]
        handles = [
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=diameter_max_pt * math.sqrt(c / top),
                markerfacecolor=_POINT_FACE,
                markeredgecolor=_POINT_EDGE,
                markeredgewidth=0.5,
                alpha=0.8,
            )
            for c in counts
        ]
        size_em = max(diameter_max_pt / self.legend_pt, 1.0)
        legend = self.fig.legend(
            handles,
            [format_fr(c, 0 if c == round(c) else 1) for c in counts],
            loc="upper left",
            bbox_to_anchor=(0, 0),
            bbox_transform=self.inches,
            frameon=False,
            fontsize=self.legend_pt,
            handlelength=size_em,
            handleheight=size_em,
            handletextpad=0.6,
            labelspacing=0.3,
            borderpad=0,
            borderaxespad=0,
        )
        title = self.text(heading, 0.36 * self.width_in, self.legend_pt, weight="bold")
        return self.stack([(title, 0.0), (legend, 0.3 * self.legend_pt / 72)])

    # -- scale bar and north arrow ------------------------------------------------------------

    @property
    def _scale_label_pt(self) -> float:
        return 0.85 * self.legend_pt

    def _arrow_in(self) -> tuple[float, float]:
        """Size of the north arrow and its gap above the bar."""
        return 0.3 * self.scale, 0.2 * self.scale

    def scale_size_in(self, arrow: bool) -> tuple[float, float]:
        """Room taken by the scale bar (and north arrow): width, height."""
        label_h = self._scale_label_pt / 72 * 1.3
        height = label_h + 0.03 + 0.055 * self.scale
        if arrow:
            size, gap = self._arrow_in()
            height += gap + size + 0.03 + self.legend_pt / 72 * 1.2
        return 1.6 * self.scale, height

    def scale_bar(
        self, box: tuple[float, float, float], align: str, metres_per_in: float, arrow: bool
    ) -> None:
        """Draw a two-part scale bar of round length and a north arrow above it."""
        left, bottom, width = box
        label_pt = self._scale_label_pt
        probe = self.fig.text(0, 0, "500 km", fontsize=label_pt)
        overhang = self.size_in(probe)[0] / 2
        probe.remove()
        length_m = _scale_length_m(metres_per_in, min(width - overhang, 2.2 * self.scale))
        length_in = length_m / metres_per_in
        x0 = left if align == "left" else left + width - overhang - length_in
        bar_h = 0.055 * self.scale
        y0 = bottom + label_pt / 72 * 1.3 + 0.03
        for i, colour in enumerate((_TEXT_COLOUR, "white")):
            self.fig.add_artist(
                Rectangle(
                    (x0 + i * length_in / 2, y0),
                    length_in / 2,
                    bar_h,
                    transform=self.inches,
                    facecolor=colour,
                    edgecolor=_TEXT_COLOUR,
                    linewidth=0.6,
                )
            )
        middle = format_fr(length_m / 2000, 0) if length_m % 2000 == 0 else ""
        ticks = ((0.0, "0"), (length_in / 2, middle), (length_in, _distance_fr(length_m)))
        for dx, text in ticks:
            if not text:
                continue
            self.fig.text(
                x0 + dx,
                y0 - 0.03,
                text,
                transform=self.inches,
                fontsize=label_pt,
                color=_TEXT_COLOUR,
                ha="center",
                va="top",
            )
        if arrow:
            size, gap = self._arrow_in()
            cx, base = x0 + size / 2, y0 + bar_h + gap
            self.fig.add_artist(
                Polygon(
                    [
                        (cx, base + size),
                        (cx - size * 0.32, base),
                        (cx, base + size * 0.28),
                        (cx + size * 0.32, base),
                    ],
                    closed=True,
                    transform=self.inches,
                    facecolor=_TEXT_COLOUR,
                    edgecolor=_TEXT_COLOUR,
                    linewidth=0.6,
                )
            )
            self.fig.text(
                cx,
                base + size + 0.03,
                "N",
                transform=self.inches,
                fontsize=self.legend_pt,
                fontweight="bold",
                color=_TEXT_COLOUR,
                ha="center",
                va="bottom",
            )

    # -- arrangement --------------------------------------------------------------------------

    def arrange(
        self,
        top_in: float,
        bottom_in: float,
        blocks: Sequence[_Block],
        scale_size: tuple[float, float],
        span: tuple[float, float],
    ) -> _Arrangement | None:
        """Legend beside or under the map, whichever fits and leaves the larger map."""
        candidates = [
            c
            for c in (
                self._beside(top_in, bottom_in, blocks, scale_size, span),
                self._under(top_in, bottom_in, blocks, scale_size, span),
            )
            if c is not None
        ]
        return min(candidates, key=lambda c: c.metres_per_in, default=None)

    def _map_fits(self, width: float, height: float) -> bool:
        return width >= 0.35 * self.width_in and height >= 0.3 * self.height_in

    def _beside(
        self,
        top_in: float,
        bottom_in: float,
        blocks: Sequence[_Block],
        scale_size: tuple[float, float],
        span: tuple[float, float],
    ) -> _Arrangement | None:
        gap, between = self.gap_in, 0.22 * self.scale
        column = max([b.width_in for b in blocks] + [scale_size[0]])
        free = top_in - bottom_in - 2 * gap
        needed = sum(b.height_in for b in blocks) + between * len(blocks) + scale_size[1]
        width = self.width_in - 2 * self.pad_in - column - 2 * gap
        if needed > free or not self._map_fits(width, free):
            return None
        x = self.width_in - self.pad_in - column
        places, y = [], top_in - gap
        for block in blocks:
            places.append((x, y))
            y -= block.height_in + between
        return _Arrangement(
            map_box=(self.pad_in, bottom_in + gap, width, free),
            places=places,
            scale_box=(x, bottom_in + gap, column),
            scale_align="left",
            metres_per_in=max(span[0] / width, span[1] / free),
        )

    def _under(
        self,
        top_in: float,
        bottom_in: float,
        blocks: Sequence[_Block],
        scale_size: tuple[float, float],
        span: tuple[float, float],
    ) -> _Arrangement | None:
        gap, between = self.gap_in, 0.4 * self.scale
        width = self.width_in - 2 * self.pad_in
        needed = sum(b.width_in for b in blocks) + between * len(blocks) + scale_size[0]
        row = max([b.height_in for b in blocks] + [scale_size[1]])
        height = top_in - bottom_in - 3 * gap - row
        if needed > width or not self._map_fits(width, height):
            return None
        places, x = [], self.pad_in
        for block in blocks:
            places.append((x, bottom_in + gap + row))
            x += block.width_in + between
        return _Arrangement(
            map_box=(self.pad_in, bottom_in + 2 * gap + row, width, height),
            places=places,
            scale_box=(self.width_in - self.pad_in - scale_size[0], bottom_in + gap, scale_size[0]),
            scale_align="right",
            metres_per_in=max(span[0] / width, span[1] / height),
        )


def _font_scales(width_in: float, height_in: float) -> list[float]:
    """Font scales to try, largest first: 1 on a 25 × 18 cm page."""
    first = math.sqrt(width_in * height_in / (25 * 18 / CM_PER_INCH**2))
    first = min(max(first, 0.7), 1.8)  # legend text of 7 pt at least, unless it cannot fit
    return [first * f for f in (1.0, 0.85, 0.72, 0.6)]


def _lay_out(
    width_in: float,
    height_in: float,
    dpi: float,
    spec: ChoroplethSpec,
    subtitle: str | None,
    entries: list[tuple[str, str]],
    circles: tuple[list[float], float, str] | None,
    span: tuple[float, float],
    north_arrow: bool,
) -> tuple[_Page, _Arrangement]:
    """Place the texts and legends, shrinking fonts until everything fits around the map."""
    scales = _font_scales(width_in, height_in)
    for attempt, scale in enumerate(scales):
        page = _Page(width_in, height_in, dpi, spec.title, scale)
        title = page.title_block(spec.title, subtitle, spec.synthetic)
        title.place(page, page.pad_in, height_in - page.pad_in)
        top = height_in - page.pad_in - title.height_in
        sources = page.source_block(spec.sources, spec.synthetic)
        sources.place(page, page.pad_in, page.pad_in * 0.8 + sources.height_in)
        bottom = page.pad_in * 0.8 + sources.height_in
        blocks = [page.class_block(spec.label, spec.unit, entries)]
        if circles is not None:
            blocks.append(page.circle_block(*circles))
        scale_size = page.scale_size_in(north_arrow)
        arrangement = page.arrange(top, bottom, blocks, scale_size, span)
        if arrangement is None and attempt == len(scales) - 1:
            # the page is too small for everything: keep the legend beside a cramped map
            column = max([b.width_in for b in blocks] + [scale_size[0]])
            width = max(width_in - 2 * page.pad_in - column - 2 * page.gap_in, 0.3)
            height = max(top - bottom - 2 * page.gap_in, 0.3)
            x = width_in - page.pad_in - column
            arrangement = _Arrangement(
                map_box=(page.pad_in, bottom + page.gap_in, width, height),
                places=[(x, top - page.gap_in)],
                scale_box=(x, bottom + page.gap_in, column),
                scale_align="left",
                metres_per_in=max(span[0] / width, span[1] / height),
            )
            blocks = blocks[:1]
        if arrangement is not None:
            for block, (x, y) in zip(blocks, arrangement.places, strict=True):
                block.place(page, x, y)
            return page, arrangement
    raise AssertionError("unreachable: the last font scale always returns")  # pragma: no cover


@dataclass
class _Inset:
    """An overseas zone drawn in its own box: its name, metric CRS, communes and fills."""

    name: str
    crs: str
    communes: gpd.GeoDataFrame
    fill: npt.NDArray[np.object_] | None = None


def _circle_diameter_pt(
    top: float, span: tuple[float, float], width_in: float, height_in: float
) -> float:
    """Diameter of the largest circle: a share of the page, at most its size in metres.

    In metres as on the interactive map (:data:`geo.maps.choropleth.CIRCLE_RADIUS_M` times the
    square root of the count), at the map's approximate scale (it takes about 60 % of the page
    width, 75 % of its height): on a national map circles shrink with the territory instead of
    burying it; on a département map the page share is the smaller one.
    """
    share = CIRCLE_MAX_DIAMETER_SHARE * min(width_in, height_in) * 72
    metres_per_in = max(span[0] / (0.6 * width_in), span[1] / (0.75 * height_in))
    metric = 2 * CIRCLE_RADIUS_M * math.sqrt(top) / metres_per_in * 72
    return max(min(share, metric), CIRCLE_MIN_DIAMETER_PT)


def _zones(communes: gpd.GeoDataFrame) -> list[tuple[str, gpd.GeoDataFrame]]:
    """Communes split by metric CRS: métropole (or the first zone) first, then each DROM.

    One zone for a territory in one CRS; France entière gives métropole and five DROM.
    """
    if "departement" not in communes.columns:
        return [(metric_crs_of(communes), communes)]
    deps = communes["departement"].astype("string").fillna("")
    # each overseas département is a zone (Guadeloupe and Martinique share a CRS, not a box)
    overseas = deps.isin(list(METRIC_CRS_BY_DEPARTEMENT)).to_numpy()
    zone = np.where(overseas, deps.to_numpy(dtype=object), "")
    keys = sorted(pd.unique(zone))  # "" (métropole) first, then the DROM by code
    if len(keys) == 1:
        return [(metric_crs_of(communes), communes)]
    out = []
    for key in keys:
        frame = communes[zone == key]
        geoms = frame.geometry.to_numpy()
        if not (~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)).any():
            continue  # a zone without a polygon has nothing to draw
        out.append((metric_crs_of(frame), frame))
    return out


def _inset_zones(
    zones: Sequence[tuple[str, gpd.GeoDataFrame]],
) -> list[tuple[str, gpd.GeoDataFrame, str]]:
    """Zones to draw as insets, with their name (the département's, e.g. "La Réunion")."""
    names = list_departements().set_index("code")["nom"]
    out = []
    for crs, frame in zones:
        deps = sorted(set(frame["departement"].astype(str)))
        out.append((crs, frame, " · ".join(str(names.get(d, d)) for d in deps)))
    return out


def _zone_classes(
    parts: Sequence[gpd.GeoDataFrame], spec: ChoroplethSpec
) -> tuple[list[npt.NDArray[np.object_]], list[tuple[str, str]]]:
    """Classes of every zone together (one legend), the fills split back per zone."""
    if len(parts) == 1:
        fill, entries = _classes(parts[0], spec)
        return [fill], entries
    table = pd.concat(
        [pd.DataFrame(part.drop(columns=part.geometry.name)) for part in parts],
        ignore_index=True,
    )
    fill, entries = _classes(gpd.GeoDataFrame(table), spec)
    ends = np.cumsum([len(part) for part in parts])[:-1]
    return list(np.split(fill, ends)), entries


def _within(circles: pd.DataFrame, frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """Circles inside the bounding box (with a margin) of a zone's communes."""
    box = gpd.GeoSeries([shapely.box(*frame.total_bounds)], crs=frame.crs).to_crs(4326)
    west, south, east, north = (float(v) for v in box.total_bounds)
    lon, lat = circles["lon"].to_numpy(), circles["lat"].to_numpy()
    inside = (lon >= west - 0.1) & (lon <= east + 0.1) & (lat >= south - 0.1) & (lat <= north + 0.1)
    return circles[inside]


def _draw_zone(
    ax: Any,
    page: _Page,
    simple: gpd.GeoDataFrame,
    fill: npt.NDArray[np.object_],
    outline_by: str | None,
    crs: str,
    weight: float = 1.0,
    metres_per_in: float = 0.0,
) -> None:
    """Communes, group boundaries and the zone's outline on one axes.

    Holes of the outlines under 2 mm of paper (``metres_per_in``), at least
    :data:`OUTLINE_MIN_HOLE_M2`, are left out: a national map showed each small gap between
    communes of the reference layer as a black dot.

    Drawn as three matplotlib collections built from the coordinates at once: geopandas'
    ``plot`` made one patch per commune (15 s for France) and redrew the whole page after
    each call.
    """
    scale = page.scale * weight
    edge = 0.25 if len(simple) <= LARGE_MAP_COMMUNES else 0.08  # thousands of communes: finer
    paths, kept = _polygon_paths(simple.geometry.to_numpy())
    ax.add_collection(
        PathCollection(
            paths,
            facecolors=list(np.asarray(fill, dtype=object)[kept]),
            edgecolors="white",
            linewidths=edge * scale,
            zorder=1,
        )
    )
    min_hole = max(OUTLINE_MIN_HOLE_M2, (0.08 * metres_per_in) ** 2)
    groups = _group_lines(simple, outline_by, min_hole)
    if groups:
        ax.add_collection(
            LineCollection(
                _line_vertices(groups),
                colors=_GROUP_COLOUR,
                linewidths=0.7 * scale,
                linestyles=[(0, (4, 2))],
                zorder=2,
            )
        )
    ax.add_collection(
        LineCollection(
            _line_vertices([_outline(simple, min_hole)]),
            colors=_TERRITORY_COLOUR,
            linewidths=1.1 * scale,
            zorder=3,
        )
    )


def _polygon_paths(
    geoms: npt.NDArray[np.object_],
) -> tuple[list[MplPath], npt.NDArray[np.intp]]:
    """One compound path per (multi)polygon, its rings as sub-paths; and the geometries kept."""
    present = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_empty(geoms))
    parts, part_of = shapely.get_parts(geoms[present], return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, coord_of = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    starts = np.flatnonzero(np.r_[True, np.diff(coord_of) != 0])
    codes[starts] = MplPath.MOVETO
    codes[np.r_[starts[1:] - 1, len(coords) - 1]] = MplPath.CLOSEPOLY
    geom_of = part_of[ring_of][coord_of]
    cuts = np.flatnonzero(np.diff(geom_of) != 0) + 1
    paths = [
        MplPath(v, c) for v, c in zip(np.split(coords, cuts), np.split(codes, cuts), strict=True)
    ]
    return paths, present[geom_of[np.r_[0, cuts]]] if len(coords) else present[:0]


def _line_vertices(geoms: Sequence[shapely.Geometry]) -> list[npt.NDArray[np.float64]]:
    """Vertices of every line part of ``geoms`` (for a ``LineCollection``)."""
    lines = shapely.get_parts(np.asarray(geoms, dtype=object))
    lines = lines[~shapely.is_empty(lines)]
    coords, line_of = shapely.get_coordinates(lines, return_index=True)
    cuts = np.flatnonzero(np.diff(line_of) != 0) + 1
    return np.split(coords, cuts) if len(coords) else []


def _group_lines(
    simple: gpd.GeoDataFrame, by: str | None, min_hole_m2: float = OUTLINE_MIN_HOLE_M2
) -> list[shapely.Geometry]:
    """Outline of each group (EPCI, département) of communes, see :func:`_outline`."""
    if not by or by not in simple.columns:
        return []
    codes, _ = pd.factorize(simple[by])  # missing keys get −1 and no outline
    geoms = simple.geometry.to_numpy()
    return [_outline(geoms[codes == g], min_hole_m2) for g in range(codes.max() + 1)]


def _outline(
    simple: gpd.GeoDataFrame | npt.NDArray[np.object_], min_hole_m2: float = OUTLINE_MIN_HOLE_M2
) -> shapely.Geometry:
    """Boundary of communes' union without its holes under ``min_hole_m2``.

    Simplified commune polygons leave slivers between them; drawn with a thick line, each one
    was a black dot on a national map.
    """
    geoms = simple.geometry.to_numpy() if isinstance(simple, gpd.GeoDataFrame) else simple
    parts = shapely.get_parts(_union_m(geoms))
    parts = parts[shapely.get_type_id(parts) == 3]  # polygons
    rings: list[shapely.LineString] = list(shapely.get_exterior_ring(parts))
    for polygon in parts:
        holes = shapely.get_rings(polygon)[1:]
        rings += [h for h in holes if shapely.area(shapely.Polygon(h)) >= min_hole_m2]
    return shapely.MultiLineString(rings)


def _draw_map(
    page: _Page,
    arrangement: _Arrangement,
    simple: gpd.GeoDataFrame,
    fill: npt.NDArray[np.object_],
    outline_by: str | None,
    crs: str,
    insets: Sequence[_Inset] = (),
) -> list[tuple[Any, str, gpd.GeoDataFrame]]:
    """Communes, group and territory outlines, centred in the map box at its scale.

    With ``insets`` (the DROM of a France entière map), a column on the left of the map box
    holds one framed, named box per inset, each at its own scale; the mainland takes the rest.

    Returns
    -------
    list of (axes, crs, communes)
        The mainland's axes first, then each inset's, for the circles.
    """
    left, bottom, width, height = arrangement.map_box
    mpi = arrangement.metres_per_in
    minx, miny, maxx, maxy = (float(v) for v in simple.total_bounds)
    strip = 0.0
    if insets:
        main_width = max(maxx - minx, 1.0) * 1.02 / mpi
        strip = max(width - main_width, 0.0)
    ax = page.fig.add_axes(
        (
            (left + strip) / page.width_in,
            bottom / page.height_in,
            (width - strip) / page.width_in,
            height / page.height_in,
        )
    )
    ax.set_axis_off()
    _draw_zone(ax, page, simple, fill, outline_by, crs, metres_per_in=mpi)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half_x = mpi * (width - strip) / 2
    half_y = mpi * height / 2
    ax.set_xlim(cx - half_x, cx + half_x)
    ax.set_ylim(cy - half_y, cy + half_y)
    ax.set_aspect("equal", adjustable="datalim")
    _draw_labels(page, ax, simple)
    drawn: list[tuple[Any, str, gpd.GeoDataFrame]] = [(ax, crs, simple)]
    if insets:
        drawn += _draw_insets(page, (left, bottom, strip, height), insets, outline_by)
    return drawn


def _draw_insets(
    page: _Page,
    box: tuple[float, float, float, float],
    insets: Sequence[_Inset],
    outline_by: str | None,
) -> list[tuple[Any, str, gpd.GeoDataFrame]]:
    """One framed square per inset, stacked in ``box`` (inches), each named under its frame."""
    left, bottom, width, height = box
    label_pt = 0.8 * page.legend_pt
    label_in = label_pt / 72 * 1.4
    gap = 0.08 * page.scale
    n = len(insets)
    side = max(min(width - gap, (height - n * (label_in + gap)) / n), 0.2)
    column = n * (side + label_in + gap) - gap
    top = bottom + (height + column) / 2
    drawn = []
    for i, inset in enumerate(insets):
        y = top - (i + 1) * side - i * (label_in + gap)
        ax = page.fig.add_axes(
            (left / page.width_in, y / page.height_in, side / page.width_in, side / page.height_in)
        )
        fill = inset.fill if inset.fill is not None else np.full(len(inset.communes), "#d9d9d9")
        _draw_zone(ax, page, inset.communes, fill, outline_by, inset.crs, weight=0.6)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        for spine in ax.spines.values():
            spine.set_edgecolor("#8c8c8c")
            spine.set_linewidth(0.6 * page.scale)
        minx, miny, maxx, maxy = (float(v) for v in inset.communes.total_bounds)
        half = max(maxx - minx, maxy - miny, 1.0) * 1.08 / 2
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        ax.set_xlim(cx - half, cx + half)
        ax.set_ylim(cy - half, cy + half)
        ax.set_aspect("equal", adjustable="box")
        page.fig.text(
            left + side / 2,
            y - 0.02,
            inset.name,
            transform=page.inches,
            fontsize=label_pt,
            color=_MUTED_COLOUR,
            ha="center",
            va="top",
        )
        drawn.append((ax, inset.crs, inset.communes))
    return drawn


#: Commune names on a static map: at most one per this many square inches of map, tried among
#: at most :data:`LABEL_CANDIDATES` communes, the most populated first.
LABEL_AREA_IN2: Final = 2.0
LABEL_CANDIDATES: Final = 300


def _draw_labels(page: _Page, ax: Any, simple: gpd.GeoDataFrame) -> list[Text]:
    """Names of the main communes (by population), none touching another or the map's edge.

    Each name sits just above a point inside its commune, with a white halo; its box, measured
    by the renderer, must keep a small gap to every name already placed and stay inside the
    map's axes, or the name is left out.

    Returns
    -------
    list of matplotlib.text.Text
        The names drawn, in the order placed.
    """
    if simple.empty or "nom" not in simple.columns:
        return []
    from matplotlib import patheffects

    geoms = simple.geometry.to_numpy()
    if "population" in simple.columns:
        priority = pd.to_numeric(simple["population"], errors="coerce").to_numpy(dtype="float64")
    else:
        priority = shapely.area(geoms)
    order = np.argsort(-np.nan_to_num(priority, nan=-1.0), kind="stable")[:LABEL_CANDIDATES]
    points = shapely.point_on_surface(geoms[order])
    names = simple["nom"].astype(str).to_numpy()[order]
    ax.apply_aspect()  # the final limits, before measuring
    frame = ax.get_window_extent(page.renderer)
    most = max(3, int(frame.width * frame.height / page.fig.dpi**2 / LABEL_AREA_IN2))
    size_pt = 0.75 * page.legend_pt
    gap_px = 0.35 * size_pt / 72 * page.fig.dpi
    halo = [patheffects.withStroke(linewidth=2.2 * page.scale, foreground="white")]
    placed: list[tuple[float, float, float, float]] = []
    drawn: list[Text] = []
    for x, y, name in zip(shapely.get_x(points), shapely.get_y(points), names, strict=True):
        text = ax.annotate(
            name,
            (float(x), float(y)),
            xytext=(0, 0.3 * size_pt),  # just above the point, as a town's name over its dot
            textcoords="offset points",
            fontsize=size_pt,
            fontweight="bold",
            color=_TEXT_COLOUR,
            ha="center",
            va="bottom",
            zorder=6,
            path_effects=halo,
        )
        box = text.get_window_extent(page.renderer)
        x0, y0, x1, y1 = box.x0 - gap_px, box.y0 - gap_px, box.x1 + gap_px, box.y1 + gap_px
        inside = frame.x0 <= box.x0 and box.x1 <= frame.x1
        inside = inside and frame.y0 <= box.y0 and box.y1 <= frame.y1
        if not inside or any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in placed):
            text.remove()
            continue
        placed.append((x0, y0, x1, y1))
        drawn.append(text)
        if len(drawn) >= most:
            break
    return drawn


def _draw_circles(
    ax: Any, circles: pd.DataFrame, crs: str, diameter_max_pt: float, top: float
) -> None:
    """Proportional circles (area ∝ count, ``top`` gets ``diameter_max_pt``), small on top."""
    if circles.empty:
        return
    xy = gpd.GeoSeries(gpd.points_from_xy(circles["lon"], circles["lat"]), crs=4326).to_crs(crs)
    counts = circles["count"].to_numpy(dtype="float64")
    diameters = diameter_max_pt * np.sqrt(counts / top)
    order = np.argsort(-counts, kind="stable")
    ax.scatter(
        xy.x.to_numpy()[order],
        xy.y.to_numpy()[order],
        s=diameters[order] ** 2,
        facecolor=_POINT_FACE,
        edgecolor=_POINT_EDGE,
        linewidths=0.5,
        alpha=0.8,
        zorder=4,
    )
