"""Static figures for slides: page sizes in cm or pixels, titled maps, before / after panels.

The single maps come from :func:`geo.maps.static.static_map`; this module adds what a slide
needs around it: a page given in centimetres or in pixels, a chosen title and subtitle, and the
side-by-side image of a scenario (before and after with one classification, one legend, and the
proposed sites of a siting numbered on the "after" panel).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.patches import Patch

from geo.crs import metric_crs_of
from geo.errors import DataValidationError
from geo.maps.choropleth import (
    ChoroplethSpec,
    analysis_spec,
    format_fr,
    union_polygons,
)
from geo.maps.compare import shared_spec
from geo.maps.static import (
    CM_PER_INCH,
    EXPORT_FORMATS,
    MAX_SIDE_PX,
    MIN_SIDE_CM,
    _classes,
    _simplified,
    _style,
    static_map,
    static_map_bytes,
)

__all__ = [
    "SLIDE_HEIGHT_CM",
    "SLIDE_WIDTH_CM",
    "PageSize",
    "page_size",
    "save_figure",
    "scenario_figure",
    "titled_static_map",
]

_LABELS: Final = {
    "width_cm": "largeur_cm",
    "height_cm": "hauteur_cm",
    "width_px": "largeur_px",
    "height_px": "hauteur_px",
    "dpi": "dpi",
}
#: A 16:9 slide (PowerPoint, LibreOffice Impress "16:9" page).
SLIDE_WIDTH_CM: Final = 33.867
SLIDE_HEIGHT_CM: Final = 19.05
_TEXT, _MUTED, _RED = "#1a1a1a", "#4d4d4d", "#b00020"
_SITE_FACE, _SITE_EDGE = "#d7191c", "#ffffff"


@dataclass(frozen=True)
class PageSize:
    """A page for :func:`geo.maps.static.static_map`: centimetres and a resolution."""

    width_cm: float
    height_cm: float
    dpi: float

    @property
    def pixels(self) -> tuple[int, int]:
        """Width and height of the PNG, in pixels."""
        return (
            round(self.width_cm / CM_PER_INCH * self.dpi),
            round(self.height_cm / CM_PER_INCH * self.dpi),
        )


def _number(option: str, value: object, unit: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise DataValidationError(f"{option} doit être un nombre positif ({unit}), reçu {value!r}")
    return number


def page_size(
    *,
    width_cm: float | None = None,
    height_cm: float | None = None,
    width_px: float | None = None,
    height_px: float | None = None,
    dpi: float | None = None,
    default: tuple[float, float] = (25.0, 18.0),
    default_dpi: float = 200.0,
    labels: Mapping[str, str] | None = None,
) -> PageSize:
    """Turn a size given in centimetres or in pixels into a page in centimetres and a dpi.

    A side not given keeps the proportions of ``default`` (a width of 1920 px gives a height of
    1382 px on the 25 × 18 cm default). Centimetres and pixels cannot be mixed.

    Parameters
    ----------
    width_cm, height_cm : float, optional
        Page size in centimetres.
    width_px, height_px : float, optional
        Image size in pixels (at ``dpi``; default ``default_dpi``).
    dpi : float, optional
        Resolution of the PNG.
    default : (float, float)
        Page in centimetres when no size is given.
    default_dpi : float
        Resolution when none is given.
    labels : mapping, optional
        How the messages call each option (``{"width_cm": "--largeur-cm", …}``); default the
        French names ``largeur_cm``, ``hauteur_cm``, ``largeur_px``, ``hauteur_px``, ``dpi``.

    Returns
    -------
    PageSize
        Checked: each side at least 5 cm, at most 16 384 pixels.

    Raises
    ------
    DataValidationError
        In French, naming the option: a size not positive, centimetres mixed with pixels, a page
        too small to hold a map or an image too large.
    """
    name_of = _LABELS | dict(labels or {})
    resolution = default_dpi if dpi is None else _number(name_of["dpi"], dpi, "points par pouce")
    cm = (width_cm, height_cm)
    px = (width_px, height_px)
    if any(v is not None for v in cm) and any(v is not None for v in px):
        raise DataValidationError(
            f"taille : donnez-la en centimètres ({name_of['width_cm']}, {name_of['height_cm']}) "
            f"ou en pixels ({name_of['width_px']}, {name_of['height_px']}), pas les deux"
        )
    ratio = default[1] / default[0]
    if any(v is not None for v in px):
        wide = _number(name_of["width_px"], width_px, "pixels") if width_px is not None else None
        high = _number(name_of["height_px"], height_px, "pixels") if height_px is not None else None
        w_px = wide if wide is not None else high / ratio if high is not None else 0.0
        h_px = high if high is not None else w_px * ratio
        width, height = w_px / resolution * CM_PER_INCH, h_px / resolution * CM_PER_INCH
    elif any(v is not None for v in cm):
        wide = (
            _number(name_of["width_cm"], width_cm, "centimètres") if width_cm is not None else None
        )
        high = (
            _number(name_of["height_cm"], height_cm, "centimètres")
            if height_cm is not None
            else None
        )
        width = wide if wide is not None else high / ratio if high is not None else 0.0
        height = high if high is not None else width * ratio
    else:
        width, height = default
    unit = "px" if any(v is not None for v in px) else "cm"
    given = (width_px, height_px) if unit == "px" else (width_cm, height_cm)
    sides = [("width", width, given[0]), ("height", height, given[1])]
    for key, side, _ in sorted(sides, key=lambda s: s[2] is None):  # the sides given first
        name = f"{name_of[f'{key}_{unit}']} ({'largeur' if key == 'width' else 'hauteur'})"
        if side < MIN_SIDE_CM - 1e-9:
            raise DataValidationError(
                f"{name} : {format_fr(side, 1)} cm (à {format_fr(resolution, 0)} dpi) ; au "
                f"moins {format_fr(MIN_SIDE_CM, 0)} cm pour tenir la carte et sa légende"
            )
        pixels = side / CM_PER_INCH * resolution
        if pixels > MAX_SIDE_PX:
            raise DataValidationError(
                f"{name} : {format_fr(pixels, 0)} pixels ; au plus "
                f"{format_fr(MAX_SIDE_PX, 0)} pixels par côté (réduisez la taille ou le dpi)"
            )
    return PageSize(max(width, MIN_SIDE_CM), max(height, MIN_SIDE_CM), resolution)


def titled_static_map(
    result: gpd.GeoDataFrame,
    place: str,
    *,
    title: str | None = None,
    subtitle: str | None = None,
    page: PageSize | None = None,
    points: pd.DataFrame | None = None,
    points_label: str = "Praticiens",
) -> Figure:
    """Draw the static map of an analysis result with a chosen title and subtitle.

    As :func:`geo.maps.static.analysis_static_map`, whose title ("<mesure> — <territoire>") and
    subtitle are kept when not given.

    Parameters
    ----------
    result : geopandas.GeoDataFrame
        Output of :func:`geo.analysis.analyse`.
    place : str
        Territory name for the default title.
    title, subtitle : str, optional
        Replace the default title / subtitle (an empty subtitle removes it).
    page : PageSize, optional
        Size and resolution (default 25 × 18 cm, 200 dpi).
    points, points_label
        See :func:`geo.maps.static.static_map`.

    Returns
    -------
    matplotlib.figure.Figure
        The page.
    """
    spec, default_subtitle = analysis_spec(result, place)
    if title:
        spec = replace(spec, title=title)
    size = page or page_size()
    return static_map(
        result,
        spec,
        width_cm=size.width_cm,
        height_cm=size.height_cm,
        dpi=size.dpi,
        subtitle=default_subtitle if subtitle is None else (subtitle or None),
        points=points,
        points_label=points_label,
    )


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: float | None = None) -> Path:
    """Write a figure as PNG, SVG or PDF after its suffix.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A page of this module or of :mod:`geo.maps.static`.
    path : str or os.PathLike
        ``.png``, ``.svg`` or ``.pdf``.
    dpi : float, optional
        PNG resolution (default the figure's).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    out = Path(path)
    fmt = EXPORT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise DataValidationError(
            f"{out.name} : extension {out.suffix!r} inconnue, attendu {', '.join(EXPORT_FORMATS)}"
        )
    out.write_bytes(static_map_bytes(fig, fmt, dpi=dpi))
    return out


def scenario_figure(
    result: gpd.GeoDataFrame,
    place: str,
    *,
    scenario: str,
    before: str = "before",
    after: str = "after",
    before_label: str = "Avant",
    after_label: str = "Après",
    sites: pd.DataFrame | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    page: PageSize | None = None,
) -> Figure:
    """Before / after of a scenario side by side: same classes and colours, one legend.

    Parameters
    ----------
    result : geopandas.GeoDataFrame
        ``ScenarioResult.communes``: polygons, ``before`` and ``after`` columns, the attrs of
        the analysis (measure, unit, sources, synthetic flag).
    place : str
        Territory name ("Hautes-Alpes (05)").
    scenario : str
        What changes, in French ("départ de 5 médecins d'ici 2030"); in the default subtitle.
    before, after : str
        Value columns.
    before_label, after_label : str
        Panel headings.
    sites : DataFrame, optional
        Proposed sites drawn on the "after" panel as numbered red discs: ``lon``, ``lat``
        (EPSG:4326), ``rank`` and ``nom`` (commune; listed under the panel).
    title, subtitle : str, optional
        Default: "<mesure> — <territoire> : avant / après" and the scenario.
    page : PageSize, optional
        Default a 16:9 slide (33,9 × 19,1 cm) at 150 dpi.

    Returns
    -------
    matplotlib.figure.Figure
        The page, with its own Agg canvas.

    Raises
    ------
    DataValidationError
        If a column is missing or no commune has a polygon.
    """
    missing = [c for c in (before, after) if c not in result.columns]
    if missing:
        raise DataValidationError(f"résultat du scénario : colonne(s) absente(s) {missing}")
    if sites is not None:
        lacking = [c for c in ("lon", "lat", "rank", "nom") if c not in sites.columns]
        if lacking:
            raise DataValidationError(f"sites proposés : colonne(s) absente(s) {lacking}")
    size = page or page_size(default=(SLIDE_WIDTH_CM, SLIDE_HEIGHT_CM), default_dpi=150)
    width_in, height_in = size.width_cm / CM_PER_INCH, size.height_cm / CM_PER_INCH
    base, _ = analysis_spec(result, place)
    crs = metric_crs_of(result)
    simple = _simplified(result, crs, width_in / 2, None)
    if simple.empty:
        raise DataValidationError("résultat du scénario : aucune commune n'a de polygone")
    values = pd.to_numeric(pd.concat([simple[before], simple[after]]), errors="coerce")
    # the interactive comparison map's classes and colours (geo.maps.compare.shared_spec)
    spec = replace(shared_spec(result, base, before, after), column="_valeur")
    both = gpd.GeoDataFrame(
        {"_valeur": values.to_numpy(dtype="float64")},
        geometry=np.concatenate([simple.geometry.to_numpy(), simple.geometry.to_numpy()]),
        crs=crs,
    )
    fill, entries = _classes(both, spec)
    n = len(simple)
    scale = min(max(math.sqrt(width_in * height_in / (25 * 18 / CM_PER_INCH**2)), 0.6), 2.0)
    with _style():
        fig = Figure(figsize=(width_in, height_in), dpi=size.dpi, facecolor="white")
        FigureCanvasAgg(fig)
        heading = title or f"{base.title} : avant / après"  # the interactive map's words
        fig.set_label(heading)
        pad = 0.25 * scale / height_in
        y = 1 - pad
        top = fig.text(
            0.5, y, heading, ha="center", va="top", fontsize=18 * scale, weight="bold", color=_TEXT
        )
        y -= (18 * scale * 1.35 / 72) / height_in
        line = scenario if subtitle is None else subtitle
        if line:
            fig.text(0.5, y, line, ha="center", va="top", fontsize=12 * scale, color=_MUTED)
            y -= (12 * scale * 1.4 / 72) / height_in
        if base.synthetic:
            from geo.maps.choropleth import SYNTHETIC_LABEL

            fig.text(
                0.5, y, SYNTHETIC_LABEL, ha="center", va="top", fontsize=11 * scale, color=_RED
            )
            y -= (11 * scale * 1.4 / 72) / height_in
        top.set_wrap(True)
        sources = "Sources : " + " · ".join(str(s) for s in base.sources) if base.sources else ""
        bottom = pad + (7 * scale * 1.4 / 72) / height_in * (2 if len(sources) > 180 else 1)
        if sources:
            fig.text(
                0.5,
                pad * 0.6,
                _wrap(sources, 220),
                ha="center",
                va="bottom",
                fontsize=7 * scale,
                color=_MUTED,
            )
        _, legend_h = _legend(fig, entries, base, scale, bottom)
        panel_top = y - 0.3 * scale / height_in
        has_sites = sites is not None and len(sites) > 0
        sites_y = bottom + legend_h + 0.06 * scale / height_in
        panel_bottom = sites_y + (9.5 * scale * 1.6 / 72) / height_in if has_sites else sites_y
        extent = _extent(simple)
        outline = gpd.GeoSeries(
            [union_polygons(simple.geometry.to_numpy(), grid_size=0.01)], crs=crs
        )
        outline = outline.boundary
        gap = 0.02
        for i, (label, colours) in enumerate(((before_label, fill[:n]), (after_label, fill[n:]))):
            ax = fig.add_axes(
                (gap + i * 0.5, panel_bottom, 0.5 - 1.5 * gap, panel_top - panel_bottom)
            )
            _panel(ax, simple, colours, outline, extent, scale)
            ax.set_title(label, fontsize=13 * scale, weight="bold", color=_TEXT, pad=4 * scale)
            if i == 1 and sites is not None and len(sites):
                _draw_sites(ax, sites, crs, scale)
        if sites is not None and has_sites:
            names = " · ".join(
                f"{int(r)}. {nom}"
                for r, nom in zip(sites["rank"], sites["nom"].astype(str), strict=True)
            )
            fig.text(
                0.75,
                sites_y,
                f"Sites proposés : {names}",
                ha="center",
                va="bottom",
                fontsize=9.5 * scale,
                color=_SITE_FACE,
                weight="bold",
            )
    return fig


def _legend(
    fig: Figure, entries: list[tuple[str, str]], base: ChoroplethSpec, scale: float, bottom: float
) -> tuple[Legend, float]:
    """One legend under both panels, in as many columns as fit the page; its height (fraction)."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for ncol in range(min(4, len(entries)), 0, -1):
        legend = fig.legend(
            [Patch(facecolor=c, edgecolor="#7f7f7f", linewidth=0.5) for c, _ in entries],
            [text for _, text in entries],
            loc="lower center",
            bbox_to_anchor=(0.5, bottom),
            ncol=ncol,
            frameon=False,
            fontsize=9.5 * scale,
            title=f"{base.label} ({base.unit})" if base.unit else base.label,
            title_fontsize=10.5 * scale,
            columnspacing=1.5,
        )
        legend.get_title().set_fontweight("bold")
        box = legend.get_window_extent(renderer)
        if box.width <= 0.96 * fig.bbox.width or ncol == 1:
            return legend, float(box.height) / float(fig.bbox.height)
        legend.remove()
    raise AssertionError("unreachable: one column always returns")  # pragma: no cover


def _wrap(text: str, width: int) -> str:
    """Break a long sources line in two at a separator near the middle."""
    if len(text) <= width:
        return text
    cut = text.find(" · ", len(text) // 2 - 20)
    return text if cut < 0 else text[:cut] + "\n" + text[cut + 3 :]


def _extent(simple: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = (float(v) for v in simple.total_bounds)
    mx, my = (maxx - minx) * 0.02, (maxy - miny) * 0.02
    return minx - mx, maxx + mx, miny - my, maxy + my


def _panel(
    ax: Axes,
    simple: gpd.GeoDataFrame,
    colours: np.ndarray,
    outline: gpd.GeoSeries,
    extent: tuple[float, float, float, float],
    scale: float,
) -> None:
    """One panel: the communes in their class colour and the territory's outline."""
    ax.set_axis_off()
    simple.plot(ax=ax, color=list(colours), edgecolor="white", linewidth=0.2 * scale)
    outline.plot(ax=ax, color="#222222", linewidth=0.9 * scale)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal", adjustable="box", anchor="C")


def _draw_sites(ax: Axes, sites: pd.DataFrame, crs: str, scale: float) -> None:
    """Numbered red discs at the proposed sites."""
    xy = gpd.GeoSeries(
        gpd.points_from_xy(
            pd.to_numeric(sites["lon"]).to_numpy(dtype="float64"),
            pd.to_numeric(sites["lat"]).to_numpy(dtype="float64"),
        ),
        crs=4326,
    ).to_crs(crs)
    ax.scatter(
        xy.x.to_numpy(),
        xy.y.to_numpy(),
        s=(16 * scale) ** 2,
        facecolor=_SITE_FACE,
        edgecolor=_SITE_EDGE,
        linewidths=1.2 * scale,
        zorder=5,
    )
    for x, y, rank in zip(xy.x.to_numpy(), xy.y.to_numpy(), sites["rank"], strict=True):
        ax.text(
            x,
            y,
            str(int(rank)),
            ha="center",
            va="center",
            color="white",
            fontsize=9 * scale,
            weight="bold",
            zorder=6,
        )
