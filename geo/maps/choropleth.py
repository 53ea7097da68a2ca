"""Classed choropleth maps of a per-commune measure, with French labels, legend and sources.

The page shows a person French text only: title, legend, tooltips, layer names, credits. The
data are simplified (shared borders kept) and coordinates rounded so a département map stays
small.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import folium
import geopandas as gpd
import mapclassify
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from folium.plugins import MarkerCluster

from geo.crs import metric_crs_for
from geo.errors import DataValidationError
from geo.maps.layers import (
    CommuneLabels,
    GeoJsonLayer,
    MapScript,
    PageLayout,
    features_json,
)
from geo.maps.offline import base_map
from geo.maps.words import measure_title, no_access_label, profession_of, profession_words

__all__ = [
    "APL_ZONAGE_BREAKS",
    "APL_ZONAGE_CLASSES",
    "APL_ZONAGE_COLOURS",
    "MEASURE_STYLES",
    "NO_ACCESS_COLOUR",
    "NO_DATA_COLOUR",
    "NO_DATA_LABEL",
    "PALETTES",
    "SYNTHETIC_LABEL",
    "ChoroplethSpec",
    "analysis_map",
    "analysis_spec",
    "choropleth_map",
    "class_range_labels",
    "class_scheme",
    "classify",
    "commune_layer",
    "decorate",
    "format_fr",
    "individual_points_of",
    "lowest_bound",
    "no_access_mask",
    "palette_colours",
    "simplify_coverage",
    "union_polygons",
]

#: Beyond this many communes (a région, France), commune borders are drawn only from zoom
#: :data:`BORDER_MIN_ZOOM` (a département's scale): below it they wash the colours out.
MANY_COMMUNES = 2000
BORDER_MIN_ZOOM = 8.0

#: Shown on every map, export and response that displays synthetic practitioners.
SYNTHETIC_LABEL = "praticiens simulés — données de démonstration"

#: Colour palettes, lowest class first. ColorBrewer's diverging RdYlBu (Brewer & Harrower,
#: colorbrewer2.org, marked colour-blind safe, print friendly) is the default: under-served
#: reads warm and alarming (red, orange), well served calm (blue), the middle pale yellow; its
#: reverse serves measures where more is worse (minutes to the nearest practitioner). A class
#: takes a FIXED position in the palette (see :func:`palette_colours`), so the same class has
#: the same colour on every map whatever classes are present.
PALETTES: dict[str, list[str]] = {
    "RdYlBu": [
        "#d73027",
        "#f46d43",
        "#fdae61",
        "#fee090",
        "#ffffbf",
        "#e0f3f8",
        "#abd9e9",
        "#74add1",
        "#4575b4",
    ],
    "RdYlBu_r": [
        "#4575b4",
        "#74add1",
        "#abd9e9",
        "#e0f3f8",
        "#ffffbf",
        "#fee090",
        "#fdae61",
        "#f46d43",
        "#d73027",
    ],
    "YlGnBu": [
        "#ffffd9",
        "#edf8b1",
        "#c7e9b4",
        "#7fcdbb",
        "#41b6c4",
        "#1d91c0",
        "#225ea8",
        "#253494",
        "#081d58",
    ],
    "YlOrRd": [
        "#ffffcc",
        "#ffeda0",
        "#fed976",
        "#feb24c",
        "#fd8d3c",
        "#fc4e2a",
        "#e31a1c",
        "#bd0026",
        "#800026",
    ],
    # diverging, for change maps: decrease (orange), no change, increase (purple); PuOr_r
    # when more is worse, so that a worsening is always orange
    "PuOr": ["#b35806", "#f1a340", "#fee0b6", "#f7f7f7", "#d8daeb", "#998ec3", "#542788"],
    "PuOr_r": ["#542788", "#998ec3", "#d8daeb", "#f7f7f7", "#fee0b6", "#f1a340", "#b35806"],
    "neutre": ["#f7f7f7"],
    "PuBu": [
        "#fff7fb",
        "#ece7f2",
        "#d0d1e6",
        "#a6bddb",
        "#74a9cf",
        "#3690c0",
        "#0570b0",
        "#045a8d",
        "#023858",
    ],
}
#: Communes without a value (not located, no inhabitant, outside the practitioners' source):
#: a neutral mid grey, unlike any class colour and darker than the map's light background.
NO_DATA_COLOUR = "#a3a3a3"
#: Communes with no practitioner within the catchment, the worst case: the strongest colour of
#: the under-served end (ColorBrewer RdBu's darkest red), beyond the palettes' first class.
NO_ACCESS_COLOUR = "#67001f"
#: Legend text of the communes without a value.
NO_DATA_LABEL = "non renseigné"

#: APL zonage classes for GPs, in consultations per standardised inhabitant per year, with
#: left-closed bounds (an APL of exactly 2.5 is not « sous-dense »):
#: * 2.5: official threshold of the « zones sous-denses » (zones d'intervention prioritaire),
#:   arrêté du 13 novembre 2017 (JO 15/11/2017), methodology of the zonage médecin, annex:
#:   territories whose APL (GPs aged 65 or less) is below 2.5 are selected by the ARS;
#: * 4: upper bound of the intermediate band (2.5 to 4) of the same methodology, as ARS notes
#:   of 2017 summarise it (the national mean was about 3.8 then); the arrêté's own text was not
#:   re-read here. cartosoins' gap classes use the same bounds
#:   (:data:`geo.gaps.APL_BREAKS_CONSULTATIONS`, docs/glossaire.md).
#: The colours are fixed per class (RdYlBu positions 0, 3, 7): every APL map agrees.
APL_ZONAGE_BREAKS: tuple[float, float] = (2.5, 4.0)
APL_ZONAGE_CLASSES: tuple[str, str, str] = (
    "zone sous-dense : moins de 2,5",
    "zone intermédiaire : de 2,5 à moins de 4",
    "zone bien dotée : 4 ou plus",
)
APL_ZONAGE_COLOURS: tuple[str, str, str] = ("#d73027", "#fee090", "#74add1")

Scheme = Literal["quantiles", "natural_breaks", "fixed", "equal_interval"]
_SCHEMES = ("quantiles", "natural_breaks", "fixed", "equal_interval")


def format_fr(value: float, decimals: int = 1) -> str:
    """Format a number the French way: narrow no-break space for thousands, comma decimal.

    >>> format_fr(12345.678, 1)
    '12\u202f345,7'
    """
    if value is None or not np.isfinite(value):
        return "—"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u202f").replace(".", ",")


@dataclass(frozen=True)
class ChoroplethSpec:
    """What to draw and how to say it.

    Attributes
    ----------
    column : str
        Column holding the measure.
    title : str
        Map title (French).
    label : str
        Short name of the measure for the legend and tooltips (French).
    unit : str
        Unit shown in the legend ("pour 10 000 hab.").
    scheme : str
        ``quantiles``, ``natural_breaks``, ``equal_interval`` or ``fixed`` (with ``breaks``).
    k : int
        Number of classes for the data-driven schemes.
    breaks : sequence of float, optional
        Upper bounds of the classes for ``fixed`` (the last class is open).
    palette : str
        Key of :data:`PALETTES`.
    decimals : int
        Decimals in legend and tooltips.
    sources : sequence of str
        Credits line items.
    synthetic : bool
        The practitioners are simulated: says so on the map.
    no_data_label : str
        Legend text of communes without a value (:data:`NO_DATA_COLOUR`).
    class_names : sequence of str, optional
        Words of the classes of a ``fixed`` scheme (lowest first, ``len(breaks) + 1``) instead
        of their numeric ranges.
    colours : sequence of str, optional
        One colour per class of a ``fixed`` scheme, instead of positions in ``palette``.
    lower_inclusive : bool
        Classes of a ``fixed`` scheme include their lower bound (``[2.5, 4)``: the zonage's
        "APL < 2.5"); by default their upper bound (``(2.5, 4]``).
    no_access_label : str, optional
        Legend text of the communes with no practitioner in reach ("aucun médecin à moins de
        20 min"), drawn in :data:`NO_ACCESS_COLOUR`; None: no such entry.
    no_access_zero : bool
        A value of 0 marks those communes (the APL, DREES's convention); otherwise a missing
        value of a commune that has a status other than "non renseigné" (see
        :func:`no_access_mask`).
    """

    column: str
    title: str
    label: str
    unit: str
    scheme: Scheme = "quantiles"
    k: int = 5
    breaks: Sequence[float] | None = None
    palette: str = "YlGnBu"
    decimals: int = 1
    sources: Sequence[str] = field(default_factory=tuple)
    synthetic: bool = False
    no_data_label: str = NO_DATA_LABEL
    class_names: Sequence[str] | None = None
    colours: Sequence[str] | None = None
    lower_inclusive: bool = False
    no_access_label: str | None = None
    no_access_zero: bool = False


def classify(
    values: npt.ArrayLike,
    scheme: str,
    *,
    k: int = 5,
    breaks: Sequence[float] | None = None,
    lower_inclusive: bool = False,
) -> tuple[npt.NDArray[np.int64], list[float]]:
    """Class of each value (−1 for NaN) and the class upper bounds, with mapclassify.

    Parameters
    ----------
    values : array-like
        The measure; NaN values get class −1 ("sans objet").
    scheme : str
        One of ``quantiles``, ``natural_breaks``, ``equal_interval``, ``fixed``.
    k : int
        Number of classes (data-driven schemes).
    breaks : sequence of float
        Upper bounds for ``fixed``; values above the last bound fall in an extra open class.
    lower_inclusive : bool
        ``fixed``: a value equal to a bound falls in the class above it (``[b_i, b_i+1)``).
    """
    if scheme not in _SCHEMES:
        raise DataValidationError(f"scheme {scheme!r} is not one of {', '.join(_SCHEMES)}")
    y = np.asarray(values, dtype="float64")
    classes = np.full(y.shape, -1, dtype=np.int64)
    finite = np.isfinite(y)
    if scheme == "fixed":
        if not breaks:
            raise DataValidationError("scheme 'fixed' needs breaks (class upper bounds)")
        bounds = sorted(float(b) for b in breaks)
        top = float(np.nanmax(y)) if finite.any() else bounds[-1]
        if top > bounds[-1] or (lower_inclusive and finite.any() and top == bounds[-1]):
            bounds.append(top)  # the open class above the last bound is present
        side: Literal["left", "right"] = "right" if lower_inclusive else "left"
        classes[finite] = np.searchsorted(bounds, y[finite], side=side)
        classes[finite] = np.minimum(classes[finite], len(bounds) - 1)
        return classes, bounds
    distinct = np.unique(y[finite])
    if distinct.size == 0:
        return classes, []
    k_eff = int(min(k, distinct.size))
    if k_eff < 2:
        classes[finite] = 0
        return classes, [float(distinct[-1])]
    klass = {
        "quantiles": mapclassify.Quantiles,
        "natural_breaks": mapclassify.NaturalBreaks,
        "equal_interval": mapclassify.EqualInterval,
    }[scheme]
    fitted = klass(y[finite], k=k_eff)
    classes[finite] = np.asarray(fitted.yb, dtype=np.int64)
    return classes, [float(b) for b in fitted.bins]


def simplify_coverage(
    gdf: gpd.GeoDataFrame, tolerance_m: float, *, precision_deg: float = 1e-5
) -> gpd.GeoDataFrame:
    """Simplify commune polygons keeping shared borders, and round coordinates.

    Simplification runs in the metric CRS of the communes (``shapely.coverage_simplify``), so
    neighbours keep one common border; coordinates are then rounded to ``precision_deg``
    degrees (1e-5° ≈ 1 m) in EPSG:4326.
    """
    located = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if located.empty:
        return located.to_crs(4326)
    deps = located["departement"] if "departement" in located.columns else ["00"]
    try:
        crs = metric_crs_for(pd.unique(np.asarray(deps)))
    except DataValidationError:
        crs = "EPSG:3857"
    metric = located.to_crs(crs)
    geoms = metric.geometry.to_numpy()
    if tolerance_m > 0:
        try:
            geoms = shapely.coverage_simplify(geoms, tolerance_m)
        except shapely.errors.GEOSException:
            geoms = shapely.simplify(geoms, tolerance_m, preserve_topology=True)
    out = metric.set_geometry(gpd.GeoSeries(geoms, index=metric.index, crs=crs)).to_crs(4326)
    rounded = _rounded(_valid_polygons(out.geometry.to_numpy()), precision_deg)
    return out.set_geometry(gpd.GeoSeries(rounded, index=out.index, crs=4326))


def _valid_polygons(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Repair the few polygons a simplification made invalid (a hole touching its shell…).

    ``shapely.make_valid`` may add lines or points where rings touch: only the polygonal parts
    are kept, so a commune stays a (multi)polygon.
    """
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    if invalid.size == 0:
        return geoms
    out = geoms.copy()
    for i in invalid:
        parts = shapely.get_parts(shapely.make_valid(geoms[i]))
        polygons = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
        out[i] = shapely.multipolygons(polygons) if polygons.size > 1 else polygons[0]
    return out


def _rounded(geoms: npt.NDArray[np.object_], precision_deg: float) -> npt.NDArray[np.object_]:
    """Round coordinates to ``precision_deg``.

    A polygon GEOS cannot round validly is rounded point by point, then repaired.
    """
    try:
        rounded: npt.NDArray[np.object_] = shapely.set_precision(geoms, precision_deg)
        return rounded
    except shapely.errors.GEOSException:
        out = geoms.copy()
        for i, geom in enumerate(geoms):
            try:
                out[i] = shapely.set_precision(geom, precision_deg)
            except shapely.errors.GEOSException:
                pointwise = shapely.set_precision(geom, precision_deg, mode="pointwise")
                out[i] = _valid_polygons(np.array([pointwise], dtype=object))[0]
        return out


def class_range_labels(
    bounds: Sequence[float], lo: float, decimals: int = 1, *, open_top: bool = False
) -> list[str]:
    """French labels of the classes: "0,0 – 1,5", "> 1,5 – 2,5", … (a class at lo is "0,0").

    Shared by the legend, the tooltips and the static exports so they always agree. With
    ``open_top`` one more class follows the last bound: "> 7,0".

    >>> class_range_labels([0.0, 4.0, 7.0], 0.0)
    ['0,0', '> 0,0 – 4,0', '> 4,0 – 7,0']
    >>> class_range_labels([0.0, 4.0], 0.0, open_top=True)
    ['0,0', '> 0,0 – 4,0', '> 4,0']
    """
    labels = []
    if open_top and bounds:
        return [*class_range_labels(bounds, lo, decimals), f"> {format_fr(bounds[-1], decimals)}"]
    for i, bound in enumerate(bounds):
        if i == 0:
            labels.append(
                format_fr(bound, decimals)
                if lo >= bound
                else f"{format_fr(lo, decimals)} – {format_fr(bound, decimals)}"
            )
        else:
            labels.append(f"> {format_fr(bounds[i - 1], decimals)} – {format_fr(bound, decimals)}")
    return labels


def lowest_bound(values: npt.NDArray[np.float64], spec: ChoroplethSpec) -> float:
    """Start of the first class: the minimum, at 0 at most for fixed breaks."""
    lo = float(np.nanmin(values)) if np.isfinite(values).any() else 0.0
    return min(lo, 0.0) if spec.scheme == "fixed" else lo


#: Statuses of :func:`geo.analysis.analyse` for communes that have no value to class.
_UNVALUED_STATUSES = ("non localisée", "population nulle", NO_DATA_LABEL)


def no_access_mask(frame: pd.DataFrame, spec: ChoroplethSpec) -> npt.NDArray[np.bool_]:
    """Communes with no practitioner within the measure's catchment.

    With ``spec.no_access_zero`` (the APL: DREES publishes 0 for a commune without a GP within
    20 minutes) a value of 0; otherwise (2SFCA, E2SFCA, nearest time) a missing value. Either
    way a commune whose ``status`` says it has no value ("non localisée", "population nulle",
    "non renseigné") is not one of them; without a ``status`` column, a missing value counts
    only where ``practitioners_in_reach`` is 0.
    """
    n = len(frame)
    if spec.no_access_label is None or spec.column not in frame.columns:
        return np.zeros(n, dtype=bool)
    values = pd.to_numeric(frame[spec.column], errors="coerce").to_numpy(dtype="float64")
    mask = values == 0.0 if spec.no_access_zero else np.isnan(values)
    if "status" in frame.columns:
        status = frame["status"].astype("string").fillna("").to_numpy(dtype=object)
        return np.asarray(mask & ~np.isin(status, _UNVALUED_STATUSES), dtype=bool)
    if spec.no_access_zero:
        return np.asarray(mask, dtype=bool)
    if "practitioners_in_reach" in frame.columns:
        reach = pd.to_numeric(frame["practitioners_in_reach"], errors="coerce").to_numpy()
        return np.asarray(mask & (reach == 0), dtype=bool)
    return np.zeros(n, dtype=bool)


def class_scheme(
    frame: pd.DataFrame, spec: ChoroplethSpec, class_labels: Sequence[str] | None = None
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], list[tuple[str, str]]]:
    """Fill colour and class wording of each commune, and the legend entries.

    The one classification of the interactive map, the static export and the comparison
    views. Colours never depend on the classes present: a ``fixed`` scheme always has
    ``len(breaks) + 1`` classes (all in the legend), a data-driven one takes the palette
    positions of ``spec.k`` classes; ``spec.colours`` fixes them outright (APL zonage).
    Communes without a practitioner in reach (:func:`no_access_mask`) come first, in
    :data:`NO_ACCESS_COLOUR`, and communes without a value last, in :data:`NO_DATA_COLOUR`;
    each of those two entries is listed only when such communes exist.

    Parameters
    ----------
    frame : DataFrame
        The communes, with ``spec.column`` (and ``status`` when known).
    spec : ChoroplethSpec
        Classification and wording.
    class_labels : sequence of str, optional
        Words for the classes (lowest first) instead of ``spec.class_names`` or the ranges.

    Returns
    -------
    (fill, class_label, entries)
        Colour and class text per commune; legend entries ``(colour, text)`` in order.
    """
    if spec.palette not in PALETTES:
        raise DataValidationError(f"palette {spec.palette!r} is not one of {sorted(PALETTES)}")
    values = pd.to_numeric(frame[spec.column], errors="coerce").to_numpy(dtype="float64")
    no_access = no_access_mask(frame, spec)
    valued = np.where(no_access, np.nan, values)
    classes, bounds = classify(
        valued, spec.scheme, k=spec.k, breaks=spec.breaks, lower_inclusive=spec.lower_inclusive
    )
    lo = lowest_bound(valued, spec)
    if spec.scheme == "fixed":
        fixed = sorted(float(b) for b in spec.breaks or ())
        n_classes = len(fixed) + 1
        labels = list(
            class_labels
            or spec.class_names
            or class_range_labels(fixed, lo, spec.decimals, open_top=True)
        )
        positions = n_classes
    else:
        n_classes = len(bounds)
        labels = list(class_labels or class_range_labels(bounds, lo, spec.decimals))
        positions = max(spec.k, n_classes)
    if len(labels) != n_classes:
        raise DataValidationError(f"{len(labels)} class labels for {n_classes} classes")
    if spec.colours is not None:
        colours = list(spec.colours)
        if len(colours) != n_classes:
            raise DataValidationError(f"{len(colours)} class colours for {n_classes} classes")
    else:
        colours = palette_colours(PALETTES[spec.palette], positions)[:n_classes]
    missing = ~no_access & (classes < 0)
    fill = np.array([NO_DATA_COLOUR, *colours], dtype=object)[classes + 1]
    fill[no_access] = NO_ACCESS_COLOUR
    words = np.array([spec.no_data_label, *labels], dtype=object)[classes + 1]
    words[no_access] = spec.no_access_label
    entries: list[tuple[str, str]] = []
    if no_access.any() and spec.no_access_label:
        entries.append((NO_ACCESS_COLOUR, spec.no_access_label))
    entries += list(zip(colours, labels, strict=True))
    if missing.any():
        entries.append((NO_DATA_COLOUR, spec.no_data_label))
    return fill, words, entries


def _legend_html(
    spec: ChoroplethSpec,
    labels: Sequence[str],
    colours: Sequence[str],
    layer: str | None = None,
    *,
    visible: bool = True,
) -> str:
    """One legend: a fold button, the measure's name and unit, a row per (label, colour)."""
    rows = [
        f'<div><span class="cs-swatch" style="background:{colour}"></span>{html.escape(label)}'
        "</div>"
        for label, colour in zip(labels, colours, strict=False)
    ]
    data = f' data-layer="{html.escape(layer)}"' if layer else ""
    style = "" if visible else ' style="display:none"'
    # the button folds every legend of the page at once (see geo.maps.layers.PageLayout)
    return (
        f'<div class="cs-legend" role="group" aria-label="Légende"{data}{style}>'
        '<button type="button" class="cs-fold" aria-expanded="true">Légende</button>'
        f'<div class="cs-legend-body"><strong>{html.escape(spec.label)}</strong>'
        f"<em>{html.escape(spec.unit)}</em>" + "".join(rows) + "</div></div>"
    )


_CSS = """
<style>
html,body{print-color-adjust:exact;-webkit-print-color-adjust:exact}
.cs-layout{position:absolute;inset:0;z-index:1000;display:flex;flex-direction:column;
 justify-content:space-between;gap:8px;padding:10px;box-sizing:border-box;pointer-events:none;
 font:12px/1.4 system-ui,sans-serif;color:#1a1a1a}
.cs-layout .cs-row{display:flex;gap:10px;min-width:0;min-height:0}
.cs-layout .cs-row-top{align-items:flex-start}
.cs-layout .cs-row-bottom{align-items:flex-end}
.cs-layout .leaflet-top,.cs-layout .leaflet-bottom{position:static;display:flex;
 flex-direction:column;gap:8px;min-width:0;min-height:0;max-height:100%}
.cs-layout .leaflet-left{align-items:flex-start}
.cs-layout .leaflet-right{align-items:flex-end;margin-left:auto}
.cs-layout .leaflet-control{float:none;clear:none;margin:0}
.cs-layout .cs-row-top .leaflet-left,.cs-layout .cs-row-top .leaflet-right{flex:none}
.cs-layout .cs-row-bottom .leaflet-left{flex:0 1 auto;max-width:min(290px,45%)}
.cs-layout .cs-row-bottom .leaflet-right{flex:1 1 0}
.cs-title,.cs-legends,.cs-credits{pointer-events:auto}
.cs-title{flex:0 1 auto;min-width:0;margin-right:auto;background:#fff;padding:6px 12px;
 font:600 16px/1.3 system-ui,sans-serif;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.35);
 overflow-wrap:anywhere}
.cs-title small{display:block;font-weight:400;font-size:12px;color:#444}
.cs-legends{max-width:100%;min-height:0;overflow:auto}
.cs-legend{background:#fff;padding:6px 10px 8px;border-radius:4px;
 box-shadow:0 1px 4px rgba(0,0,0,.35)}
.cs-legend-body{max-width:270px}
.cs-legend-body strong,.cs-legend-body em{display:block}
.cs-legend-body em{margin-bottom:2px}
.cs-legends.cs-folded .cs-legend-body{display:none}
.cs-legends.cs-folded .cs-legend{padding:4px 8px}
.cs-swatch{display:inline-block;width:14px;height:14px;margin-right:6px;vertical-align:-2px;
 border:1px solid #888;box-sizing:border-box}
.cs-fold{display:block;margin:0 0 2px;padding:2px 0;border:0;background:none;cursor:pointer;
 font:600 12px/1.3 system-ui,sans-serif;color:#1a1a1a}
.cs-fold::before{content:"\\25BE";display:inline-block;width:1.1em}
.cs-folded .cs-fold{margin:0}
.cs-folded .cs-fold::before{content:"\\25B8"}
.cs-fold:focus-visible{outline:2px solid #0b5fff;outline-offset:2px}
.cs-layout .leaflet-control-layers{font-size:13px;padding:6px 10px 6px 8px;max-width:320px}
.cs-layout .leaflet-control-layers.cs-folded{padding:4px 8px}
.cs-layout .leaflet-control-layers.cs-folded .leaflet-control-layers-list{display:none}
.cs-credits{max-width:720px;margin-left:auto;background:rgba(255,255,255,.88);padding:2px 6px;
 border-radius:3px;font:11px/1.35 system-ui,sans-serif}
.cs-layout .leaflet-control-attribution{font-size:10px}
.cs-layout .leaflet-control-scale-line{font-size:10px}
.cs-synthetic{color:#b00020;font-weight:600}
.leaflet-pane .leaflet-tooltip{white-space:normal;width:max-content;
 max-width:min(300px,calc(100vw - 24px))}
.leaflet-pane .leaflet-tooltip.cs-tooltip{max-width:min(340px,calc(100vw - 24px));
 padding:4px 8px 5px;font:12px/1.25 system-ui,sans-serif;color:#1a1a1a}
.cs-tip{border-collapse:collapse}
.cs-tip caption{text-align:left;font-weight:700;font-size:13px;padding-bottom:2px}
.cs-tip th{width:55%;text-align:left;font-weight:400;font-size:11px;color:#444;
 padding:1px 10px 1px 0;vertical-align:top}
.cs-tip td{text-align:right;vertical-align:top;padding:1px 0;font-weight:600}
.cs-label{font:600 11px/14px system-ui,sans-serif;color:#1a1a1a;text-align:center;
 white-space:nowrap;text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff,0 0 4px #fff}
.cs-site{width:24px;height:24px;border-radius:50%;background:#d7191c;color:#fff;
 font:700 13px/24px system-ui,sans-serif;text-align:center;border:2px solid #fff;
 box-shadow:0 1px 3px rgba(0,0,0,.5)}
@media (max-height:560px),(max-width:700px){
 .cs-layout{padding:6px;gap:6px}
 .cs-layout .cs-row{gap:6px}
 .cs-title{padding:4px 8px;font-size:14px}
 .cs-title small{font-size:11px}
 .cs-legend{padding:4px 8px 6px}
 .cs-legend-body{font-size:11px;line-height:1.3;max-width:240px}
 .cs-swatch{width:12px;height:12px}
 .cs-credits{font-size:10px;line-height:1.3}
}
@media print{
 .leaflet-control-zoom,.leaflet-control-layers,.cs-fold{display:none!important}
 .cs-legends.cs-folded .cs-legend-body{display:block!important}
 .cs-legends.cs-folded .cs-legend{padding:6px 10px 8px}
}
</style>
"""


def choropleth_map(
    communes: gpd.GeoDataFrame,
    spec: ChoroplethSpec,
    *,
    tooltip_fields: Mapping[str, str] | None = None,
    points: pd.DataFrame | None = None,
    points_label: str = "Praticiens",
    outline_by: str | None = "epci",
    tolerance_m: float = 100.0,
    tiles: bool = False,
    subtitle: str | None = None,
    individual_points: pd.DataFrame | None = None,
    individual_label: str = "Praticiens (un par point)",
) -> folium.Map:
    """Build a classed choropleth map of ``spec.column`` per commune.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        One row per commune: ``code``, ``nom``, the measure column and the tooltip fields.
    spec : ChoroplethSpec
        Measure, wording, classification.
    tooltip_fields : mapping, optional
        Column → French label shown in the tooltip (after the commune name).
    points : DataFrame, optional
        Aggregated practitioners to draw as proportional circles: columns ``lon``, ``lat``,
        ``count`` and ``label`` (the tooltip text). Never individual names.
    points_label : str
        Layer name of those circles.
    outline_by : str, optional
        Column whose groups get an outline layer (EPCI by default); the territory's outline is
        always drawn.
    tolerance_m : float
        Simplification tolerance in metres (0 to keep the geometry).
    tiles : bool
        OpenStreetMap background (needs the network): off for offline exports.
    subtitle : str, optional
        Line under the title.
    individual_points : DataFrame, optional
        One point per practitioner (``lon``, ``lat``, ``label``), drawn as clustered markers.
        Only when the data may be shown individually: RPPS extracts are personal data. Labels
        must not carry names (see :func:`individual_points_of`).
    individual_label : str
        Layer name of those markers.
    """
    if spec.column not in communes.columns:
        raise DataValidationError(f"column {spec.column!r} not in the communes to map")
    if communes.crs is None:
        raise DataValidationError("the communes to map have no CRS")
    fields = dict(tooltip_fields or {})
    simple = simplify_coverage(communes, tolerance_m)
    fmap = _framed_map(simple, spec.title, tiles)
    layer, legend = commune_layer(simple, spec, fields)
    layer.add_to(fmap)
    _outlines(simple, outline_by).add_to(fmap)
    if points is not None and len(points):
        _points_layer(points, points_label).add_to(fmap)
    if individual_points is not None and len(individual_points):
        _cluster_layer(individual_points, individual_label).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    decorate(fmap, spec, legend, subtitle)
    return fmap


def _framed_map(simple: gpd.GeoDataFrame, title: str, tiles: bool) -> folium.Map:
    """Create a base map fitted to the communes; a map with the DROM opens on the mainland.

    The mainland is told by the ``zone`` column (``metro``) when present, else by the
    département code (overseas ones start with 97): an analysis result carries the latter only,
    and without it a "France entière" map opened on the whole world. Fractional zoom levels
    (quarter steps) let a national or regional map fill the window.
    """
    if "zone" in simple.columns:
        mainland = simple["zone"].eq("metro").to_numpy()
    elif "departement" in simple.columns:
        mainland = ~simple["departement"].astype(str).str.startswith("97").to_numpy()
    else:
        mainland = np.ones(len(simple), dtype=bool)
    framed = simple[mainland] if mainland.any() else simple
    minx, miny, maxx, maxy = framed.total_bounds
    fmap = base_map((minx, miny, maxx, maxy), tiles=tiles, title=title)
    fmap.options["zoom_snap"] = 0.25
    # No initial zoom: the map gets its first view from fitBounds, drawn once at that zoom.
    # With folium's zoom 10 first, fitBounds animated from it while the layers loaded, and a
    # national map showed a blank or clipped frame for seconds.
    fmap.options.pop("zoom", None)
    return fmap


def commune_layer(
    simple: gpd.GeoDataFrame,
    spec: ChoroplethSpec,
    fields: Mapping[str, str],
    *,
    overlay: bool = True,
    show: bool = True,
    layer_name: str | None = None,
    class_labels: Sequence[str] | None = None,
) -> tuple[folium.FeatureGroup, str]:
    """Classed commune polygons as a layer, and the HTML of its legend.

    Parameters
    ----------
    simple : geopandas.GeoDataFrame
        Simplified communes in EPSG:4326 (see :func:`simplify_coverage`).
    spec : ChoroplethSpec
        Measure column, classification and wording.
    fields : mapping
        Column → French label of the tooltip rows (after the commune's name).
    overlay, show : bool
        A base layer (``overlay=False``: one at a time, radio buttons) or an overlay; shown at
        first or not.
    layer_name : str, optional
        Name in the layer control (default ``spec.label``); the legend carries it in
        ``data-layer`` so that a base-layer switch can show the matching legend.
    class_labels : sequence of str, optional
        Words for the classes (lowest first) instead of their numeric ranges.
    """
    if spec.column not in simple.columns:
        raise DataValidationError(f"column {spec.column!r} not in the communes to map")
    fill, class_label, entries = class_scheme(simple, spec, class_labels)

    shown: list[npt.NDArray[np.object_]] = [simple["nom"].astype(str).to_numpy(dtype=object)]
    for col in fields:
        if col not in simple.columns:
            raise DataValidationError(f"tooltip column {col!r} not in the communes to map")
        series = simple[col]
        if pd.api.types.is_numeric_dtype(series):
            decimals = spec.decimals if col == spec.column else _decimals_for(series)
            text = [format_fr(v, decimals) for v in series.to_numpy(dtype="float64")]
            shown.append(np.asarray(text, dtype=object))
        else:
            shown.append(series.astype("string").fillna("—").to_numpy(dtype=object))
    shown.append(np.asarray(class_label, dtype=object))
    props = pd.DataFrame(
        {
            "code": simple["code"].astype(str).to_numpy(dtype=object),
            "_fill": fill,
            "_t": [list(row) for row in zip(*shown, strict=True)],
        }
    )
    name = layer_name or spec.label
    layer = folium.FeatureGroup(name=html.escape(name), overlay=overlay, show=show)
    GeoJsonLayer(
        features_json(simple.geometry.to_numpy(), props),
        style={"fillOpacity": 0.8, "color": "#ffffff", "weight": 0.4},
        tooltip_labels=["Commune", *fields.values(), "Classe"],
        highlight={"weight": 2.5, "color": "#000000"},
        # a région or France: no white commune borders until one zooms in on a département
        border_min_zoom=BORDER_MIN_ZOOM if len(simple) > MANY_COMMUNES else None,
    ).add_to(layer)
    _commune_labels(simple).add_to(layer)
    legend = _legend_html(
        spec,
        [text for _, text in entries],
        [colour for colour, _ in entries],
        name if not overlay else None,
        visible=show,
    )
    return layer, legend


def _commune_labels(simple: gpd.GeoDataFrame) -> CommuneLabels:
    """Names of the communes, the most populated first, placed where they fit on the map."""
    geoms = simple.geometry.to_numpy()
    points = shapely.point_on_surface(geoms)
    column = next((c for c in ("population", "population_before") if c in simple.columns), None)
    if column is not None:
        priority = pd.to_numeric(simple[column], errors="coerce").to_numpy(dtype="float64")
    else:  # the largest communes first
        priority = shapely.area(geoms)
    return CommuneLabels(
        shapely.get_y(points), shapely.get_x(points), simple["nom"].astype(str).tolist(), priority
    )


def decorate(
    fmap: folium.Map, spec: ChoroplethSpec, legends: str, subtitle: str | None = None
) -> None:
    """Add the stylesheet, the title block, the legend(s) and the credits line to a map.

    Call it once the map has its layer control: the page's layout script (see
    :class:`geo.maps.layers.PageLayout`) then lays the title, legends, sources and Leaflet's
    controls out in two rows that never overlap, at any window size, with fold buttons for the
    legends and the layer control, compact tooltips, and a print stylesheet without the
    controls.
    """
    credits = " · ".join(html.escape(s) for s in spec.sources)
    if spec.synthetic:
        credits = f'<span class="cs-synthetic">{html.escape(SYNTHETIC_LABEL)}</span> · ' + credits
    sub = f"<small>{html.escape(subtitle)}</small>" if subtitle else ""
    if spec.synthetic:
        sub += f'<small class="cs-synthetic">{html.escape(SYNTHETIC_LABEL)}</small>'
    root: Any = fmap.get_root()  # a branca Figure
    root.header.add_child(folium.Element(_CSS))
    root.html.add_child(
        folium.Element(
            f'<div class="cs-title">{html.escape(spec.title)}{sub}</div>'
            + f'<div class="cs-legends">{legends}</div>'
            + f'<div class="cs-credits">Sources : {credits}</div>'
        )
    )
    PageLayout().add_to(fmap)  # title, legends, sources and controls in rows: no overlap


def palette_colours(palette: list[str], n: int) -> list[str]:
    """``n`` evenly spaced colours of a palette: the colours of a scheme of ``n`` classes.

    Class ``i`` of such a scheme always takes the ``i``-th of them: ``n`` is the scheme's
    number of classes (``len(breaks) + 1``, or ``k``), never the number present on a map.

    >>> palette_colours(PALETTES["RdYlBu"], 3)
    ['#d73027', '#ffffbf', '#4575b4']
    """
    if n <= 0:
        return []
    if n > len(palette):
        raise DataValidationError(f"at most {len(palette)} classes can be drawn, got {n}")
    idx = np.round(np.linspace(0, len(palette) - 1, n)).astype(int)
    return [palette[i] for i in idx]


def _decimals_for(series: pd.Series) -> int:
    v = pd.to_numeric(series, errors="coerce").dropna().to_numpy()
    return 0 if v.size == 0 or np.allclose(v, np.round(v)) else 1


def union_polygons(
    geoms: npt.NDArray[np.object_], *, grid_size: float | None = None
) -> shapely.Geometry:
    """Union of commune polygons.

    The fast coverage union when the polygons form a clean coverage; otherwise (a few source
    communes overlap slightly) a full union of the repaired polygons, snapped to ``grid_size``
    (in the CRS unit) as a last resort when GEOS meets a topology conflict.
    """
    try:
        merged = shapely.coverage_union_all(geoms)
        if shapely.is_valid(merged):
            return merged
    except shapely.errors.GEOSException:
        pass
    repaired = shapely.make_valid(geoms)
    try:
        return shapely.union_all(repaired)
    except shapely.errors.GEOSException:
        if grid_size is None:
            raise
        return shapely.union_all(repaired, grid_size=grid_size)


def _geometry_json(geom: shapely.Geometry) -> str:
    return str(shapely.to_geojson(geom))


#: Layer names of the boundaries drawn inside a territory.
OUTLINE_LABELS = {"epci": "Limites des EPCI", "departement": "Limites des départements"}


def _outlines(simple: gpd.GeoDataFrame, outline_by: str | None) -> folium.FeatureGroup:
    """Territory outline (thick) and the boundaries of its groups (EPCI, départements)."""
    group = folium.FeatureGroup(name="Limites", show=True)
    geoms = simple.geometry.to_numpy()
    grouped = outline_by is not None and outline_by in simple.columns
    keys = simple[outline_by].to_numpy() if grouped else np.zeros(len(simple))
    keyed = pd.notna(keys)
    # union per group first, then of the groups: far cheaper than one union of every commune
    unions = [union_polygons(geoms[keyed & (keys == key)]) for key in pd.unique(keys[keyed])]
    territory = union_polygons(np.array([*unions, *geoms[~keyed]], dtype=object))
    GeoJsonLayer(
        _geometry_json(territory),
        style={"fill": False, "color": "#222222", "weight": 2.2},
        interactive=False,
    ).add_to(group)
    if grouped and len(unions) > 1:
        lines = shapely.MultiLineString(
            [line for u in unions for line in shapely.get_parts(shapely.boundary(u))]
        )
        GeoJsonLayer(
            _geometry_json(lines),
            style={"color": "#555555", "weight": 1.2, "dashArray": "4", "fill": False},
            interactive=False,
        ).add_to(group)
    return group


#: Radius in metres of the circle of one practitioner; the circle's area grows with the count
#: (a commune with 100 GPs: 3 km). Sized in metres, circles shrink with the map: on a national
#: map, those smaller than :data:`CIRCLE_MIN_PIXELS` are not drawn, so they never bury a région.
CIRCLE_RADIUS_M = 300.0
#: Circles whose radius is below this many pixels at the current zoom are not drawn.
CIRCLE_MIN_PIXELS = 0.75

#: A Leaflet circle (radius in metres) not drawn, nor hovered, while under the pixel threshold.
#: Overrides two methods of Leaflet 1.9's L.Circle (the version folium embeds).
_CIRCLE_JS = """
(function () {
    var group = {map};
    var Dot = L.Circle.extend({
        _updatePath: function () {
            if (this._radius >= %(min)s) L.Circle.prototype._updatePath.call(this);
        },
        _containsPoint: function (p) {
            return this._radius >= %(min)s && L.Circle.prototype._containsPoint.call(this, p);
        }
    });
    var style = %(style)s;
    %(data)s.forEach(function (d) {
        new Dot([d[0], d[1]], Object.assign({radius: d[2]}, style))
            .bindTooltip(d[3]).addTo(group);
    });
})();
"""


def _points_layer(points: pd.DataFrame, name: str) -> folium.FeatureGroup:
    """Proportional circles of practitioners per commune, sized in metres (one script).

    The circles' data are one JSON array (latitude, longitude, radius in metres, escaped
    tooltip) read by a short script: a national map's 9,500 circles add ~0.5 MB and no
    template rendering, where one folium marker each added 7 MB and 5 s.
    """
    missing = [c for c in ("lon", "lat", "count", "label") if c not in points.columns]
    if missing:
        raise DataValidationError(f"points to map lack column(s) {missing}")
    group = folium.FeatureGroup(name=html.escape(name), show=True)
    counts = np.maximum(points["count"].to_numpy(dtype="float64"), 0.0)
    radius = np.round(CIRCLE_RADIUS_M * np.sqrt(counts))
    order = np.argsort(-counts, kind="stable")  # large first: small ones stay on top
    rows = [
        [round(float(lat), 5), round(float(lon), 5), float(r), html.escape(label)]
        for lat, lon, r, label in zip(
            points["lat"].to_numpy(dtype="float64")[order],
            points["lon"].to_numpy(dtype="float64")[order],
            radius[order],
            points["label"].astype(str).to_numpy()[order],
            strict=True,
        )
        if r > 0
    ]
    style = {
        "color": "#7a0177",
        "weight": 0.8,
        "fill": True,
        "fillColor": "#c51b8a",
        "fillOpacity": 0.6,
    }
    code = _CIRCLE_JS % {
        "min": CIRCLE_MIN_PIXELS,
        "style": json.dumps(style),
        "data": json.dumps(rows, ensure_ascii=False, separators=(",", ":")),
    }
    MapScript(code).add_to(group)
    return group


#: Above this many communes a map is drawn lighter (500 m simplification, département lines).
LARGE_MAP_COMMUNES = 3_000

#: How each measure of :data:`geo.analysis.MEASURES` is classed and coloured by default:
#: warm where access is poor, calm where it is good (RdYlBu; reversed for minutes). The other
#: measures take quantiles in the same palette.
MEASURE_STYLES: dict[str, dict[str, Any]] = {
    "density": {"scheme": "fixed", "breaks": (0.0, 4.0, 7.0, 10.0, 15.0), "palette": "RdYlBu"},
    "apl": {
        "scheme": "fixed",
        "breaks": APL_ZONAGE_BREAKS,
        "class_names": APL_ZONAGE_CLASSES,
        "colours": APL_ZONAGE_COLOURS,
        "lower_inclusive": True,
        "palette": "RdYlBu",
    },
    "nearest": {
        "scheme": "fixed",
        "breaks": (5.0, 10.0, 15.0, 20.0, 30.0),
        "palette": "RdYlBu_r",
        "decimals": 0,
    },
}
_DEFAULT_STYLE: dict[str, Any] = {"scheme": "quantiles", "palette": "RdYlBu"}
#: Measures whose communes out of reach of every practitioner are told apart, and how: the
#: APL gives them 0 (DREES), the 2SFCA family and the nearest time no value.
_NO_ACCESS_ZERO = {
    "apl": True,
    "2sfca": False,
    "e2sfca": False,
    "kernel_2sfca": False,
    "3sfca": False,
    "nearest": False,
}


def analysis_spec(
    result: gpd.GeoDataFrame, place: str, *, profession: str | None = None
) -> tuple[ChoroplethSpec, str | None]:
    """Spec and subtitle of the map of an :func:`geo.analysis.analyse` result.

    Read from ``result.attrs`` (measure, label_fr, unit_fr, synthetic, parameters); the
    interactive and the static maps both use it, so they show the same classes and words.
    The title names the profession and the measure in plain French ("Accès aux médecins
    généralistes (APL) — Hautes-Alpes (05)"); the APL is classed by the zonage
    (:data:`APL_ZONAGE_CLASSES`), and the communes with no practitioner within the catchment
    get their own legend entry ("aucun médecin à moins de 20 min").

    Parameters
    ----------
    result : geopandas.GeoDataFrame
        Output of ``analyse``.
    place : str
        Territory name for the title.
    profession : str, optional
        Code of the practitioners' profession (:data:`geo.maps.words.PROFESSION_WORDS`);
        default: what the result says (:func:`geo.maps.words.profession_of`), else
        "praticien".

    Returns
    -------
    (ChoroplethSpec, str or None)
        What to draw and the subtitle (the catchment of the ratio measures).
    """
    attrs = result.attrs
    measure = str(attrs.get("measure", ""))
    params = attrs.get("parameters", {}) or {}
    style = MEASURE_STYLES.get(measure, _DEFAULT_STYLE)
    if measure == "apl" and params.get("supply") != "consultations":
        style = _DEFAULT_STYLE  # the zonage bounds are consultations per inhabitant
    if profession is None:
        status = result["status"].to_numpy() if "status" in result.columns else None
        profession = profession_of(attrs, status)
    subtitle = None
    if measure not in ("density", "nearest") and "catchment_minutes" in params:
        subtitle = f"Zone de recherche : {format_fr(params['catchment_minutes'], 0)} minutes"
    plain = measure_title(measure, profession)
    # the legend heading under a title that already names the profession: short
    label = {"density": plain, "nearest": "Temps d'accès"}.get(
        measure, str(attrs.get("label_fr", plain))
    )
    unit = str(attrs.get("unit_fr", ""))
    if profession is not None and unit.startswith("praticiens "):
        unit = unit.replace("praticiens", profession_words(profession).plural, 1)
    catchment = params.get("catchment_minutes")
    no_access = (
        no_access_label(profession, float(catchment))
        if measure in _NO_ACCESS_ZERO and catchment is not None
        else None
    )
    spec = ChoroplethSpec(
        column="value",
        title=f"{plain} — {place}",
        label=label,
        unit=unit,
        sources=_sources_of(attrs),
        synthetic=bool(attrs.get("synthetic", False)),
        no_data_label=NO_DATA_LABEL,
        decimals=int(style.get("decimals", 1)),
        scheme=style["scheme"],
        breaks=style.get("breaks"),
        palette=style["palette"],
        class_names=style.get("class_names"),
        colours=style.get("colours"),
        lower_inclusive=bool(style.get("lower_inclusive", False)),
        no_access_label=no_access,
        no_access_zero=_NO_ACCESS_ZERO.get(measure, False),
    )
    return spec, subtitle


def _sources_of(attrs: Mapping[str, Any]) -> tuple[str, ...]:
    """Source line of a result's map: the practitioners first, then the reference layers."""
    sources: list[str] = []
    practitioners = (attrs.get("sources") or {}).get("practitioners")
    if practitioners and not attrs.get("synthetic"):
        sources.append(str(practitioners))
    params = attrs.get("parameters") or {}
    activity = params.get("activity") or {}
    # short on the map (the full wording is in the result's metadata and the summary)
    if activity.get("rule") == "calibrated_per_gp":
        per_gp = format_fr(float(activity["consultations_per_gp"]), 0)
        sources.append(
            f"activité estimée : {per_gp} consultations par médecin et par an "
            f"(calibrée sur l'APL national {activity.get('target_year', '')})".replace(" )", ")")
        )
    elif activity.get("rule") == "drees_floors_and_caps":
        sources.append("activité plafonnée selon les règles de la DREES")
    elif activity.get("description_fr"):
        sources.append(str(activity["description_fr"]))
    age_source = str(params.get("age_source") or "")
    if "DREES" in age_source:
        edition = age_source.rsplit("DREES", 1)[-1].strip()
        sources.append(f"population standardisée par âge (poids DREES {edition})")
    elif age_source:
        sources.append(f"population standardisée par âge ({age_source})")
    sources += [
        "IGN ADMIN EXPRESS-COG",
        "INSEE COG 2026, population municipale 2023",
        "Licence Ouverte",
    ]
    return tuple(sources)


def analysis_map(
    result: gpd.GeoDataFrame,
    place: str,
    *,
    points: pd.DataFrame | None = None,
    points_label: str = "Praticiens",
    tiles: bool = False,
    individual_points: pd.DataFrame | None = None,
    profession: str | None = None,
) -> folium.Map:
    """Choropleth of an :func:`geo.analysis.analyse` result, worded from its metadata.

    Parameters
    ----------
    result : geopandas.GeoDataFrame
        Output of ``analyse``: ``value``, ``population``, ``nearest_minutes``,
        ``practitioners_in_reach`` and ``attrs`` (measure, unit, synthetic flag, sources).
    place : str
        Territory name for the title ("Puy-de-Dôme (63)").
    points, points_label, tiles, individual_points
        See :func:`choropleth_map`.
    profession : str, optional
        Profession code for the words (see :func:`analysis_spec`).
    """
    spec, subtitle = analysis_spec(result, place, profession=profession)
    large = len(result) > LARGE_MAP_COMMUNES
    fields = {
        "population": "Population 2023",
        "value": f"{spec.label} ({spec.unit})",
        "nearest_minutes": "Temps au praticien le plus proche (min)",
        "practitioners_in_reach": "Praticiens à portée",
        "status": "Situation",
    }
    if "status_reason" in result.columns and result["status_reason"].fillna("").astype(bool).any():
        fields["status_reason"] = "Précision"  # why a commune is « non renseigné »
    return choropleth_map(
        result,
        spec,
        tooltip_fields={k: v for k, v in fields.items() if k in result.columns},
        points=points,
        points_label=points_label,
        tiles=tiles,
        subtitle=subtitle,
        # thousands of communes: coarser outlines and département boundaries keep the page light
        tolerance_m=500.0 if large else 100.0,
        outline_by="departement" if large else "epci",
        individual_points=individual_points,
    )


def individual_points_of(practitioners: gpd.GeoDataFrame) -> pd.DataFrame:
    """One point per practitioner for :func:`choropleth_map`'s clustered markers.

    The label says the profession and the commune only: names, RPPS numbers and addresses of
    an Annuaire Santé extract are never read, whatever columns the frame carries.
    """
    if practitioners.crs is None:
        raise DataValidationError("the practitioners to map have no CRS")
    located = practitioners[practitioners.geometry.notna() & ~practitioners.geometry.is_empty]
    pts = located.geometry.to_crs(4326)
    if "profession_libelle" in located.columns:
        what = located["profession_libelle"].astype(str)
    elif "profession" in located.columns:
        what = located["profession"].astype(str)
    else:
        what = pd.Series("Praticien", index=located.index)
    where = (
        " — " + located["commune_nom"].astype(str)
        if "commune_nom" in located.columns
        else pd.Series("", index=located.index)
    )
    synthetic = (
        located["synthetic"].fillna(False).astype(bool).to_numpy()
        if "synthetic" in located.columns
        else np.zeros(len(located), dtype=bool)
    )
    label = (what + where).to_numpy(dtype=object)
    label[synthetic] = label[synthetic] + " (simulé)"
    return pd.DataFrame({"lon": pts.x.to_numpy(), "lat": pts.y.to_numpy(), "label": label})


#: A practitioner marker: a small dot drawn in CSS (no image, no icon font).
_DOT_ICON = (
    '<div style="width:9px;height:9px;border-radius:50%;background:#c51b8a;'
    'border:1px solid #7a0177"></div>'
)


def _cluster_layer(points: pd.DataFrame, name: str) -> folium.FeatureGroup:
    """Clustered dots, one per practitioner, added in bulk by one script (no names)."""
    missing = [c for c in ("lon", "lat", "label") if c not in points.columns]
    if missing:
        raise DataValidationError(f"individual points to map lack column(s) {missing}")
    group = folium.FeatureGroup(name=html.escape(name), show=False)
    cluster = MarkerCluster(  # type: ignore[no-untyped-call]
        options={"maxClusterRadius": 40, "chunkedLoading": True}
    )
    cluster.add_to(group)
    rows = [
        [round(float(lat), 5), round(float(lon), 5), html.escape(label)]
        for lon, lat, label in zip(
            points["lon"].to_numpy(dtype="float64"),
            points["lat"].to_numpy(dtype="float64"),
            points["label"].astype(str).to_numpy(),
            strict=True,
        )
    ]
    icon = {"html": _DOT_ICON, "iconSize": [11, 11], "iconAnchor": [5, 5], "className": "cs-dot"}
    code = (
        f"(function () {{ var icon = L.divIcon({json.dumps(icon)});\n"
        f"{{map}}.addLayers({json.dumps(rows, ensure_ascii=False, separators=(',', ':'))}"
        ".map(function (d) { return L.marker([d[0], d[1]], {icon: icon}).bindTooltip(d[2]); }));"
        "\n})();\n"
    )
    MapScript(code).add_to(cluster)
    return group
