"""Classed choropleth maps of a per-commune measure, with French labels, legend and sources.

The page shows a person French text only: title, legend, tooltips, layer names, credits. The
data are simplified (shared borders kept) and coordinates rounded so a département map stays
small.
"""

from __future__ import annotations

import html
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
from geo.maps.layers import GeoJsonLayer, features_json
from geo.maps.offline import base_map

__all__ = [
    "MEASURE_STYLES",
    "PALETTES",
    "SYNTHETIC_LABEL",
    "ChoroplethSpec",
    "analysis_map",
    "analysis_spec",
    "choropleth_map",
    "class_range_labels",
    "classify",
    "commune_layer",
    "decorate",
    "format_fr",
    "individual_points_of",
    "lowest_bound",
    "palette_colours",
    "simplify_coverage",
    "union_polygons",
]

#: Shown on every map, export and response that displays synthetic practitioners.
SYNTHETIC_LABEL = "praticiens simulés — données de démonstration"

#: Colour-blind-safe sequential palettes (ColorBrewer, 9 classes), light = low; n classes take
#: n evenly spaced colours.
PALETTES: dict[str, list[str]] = {
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
    # diverging, for change maps: decrease (orange), no change, increase (purple)
    "PuOr": ["#b35806", "#f1a340", "#fee0b6", "#f7f7f7", "#d8daeb", "#998ec3", "#542788"],
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
NO_DATA_COLOUR = "#d9d9d9"

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
        Legend text of communes without a value.
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
    no_data_label: str = "sans objet"


def classify(
    values: npt.ArrayLike, scheme: str, *, k: int = 5, breaks: Sequence[float] | None = None
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
        if top > bounds[-1]:
            bounds.append(top)
        classes[finite] = np.searchsorted(bounds, y[finite], side="left")
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
    rounded = shapely.set_precision(out.geometry.to_numpy(), precision_deg)
    return out.set_geometry(gpd.GeoSeries(rounded, index=out.index, crs=4326))


def class_range_labels(bounds: Sequence[float], lo: float, decimals: int = 1) -> list[str]:
    """French labels of the classes: "0,0 – 1,5", "> 1,5 – 2,5", … (a class at lo is "0,0").

    Shared by the legend, the tooltips and the static exports so they always agree.

    >>> class_range_labels([0.0, 4.0, 7.0], 0.0)
    ['0,0', '> 0,0 – 4,0', '> 4,0 – 7,0']
    """
    labels = []
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


def _legend_html(
    spec: ChoroplethSpec,
    labels: Sequence[str],
    colours: Sequence[str],
    layer: str | None = None,
    *,
    visible: bool = True,
) -> str:
    rows = [
        f'<div><span class="cs-swatch" style="background:{colour}"></span>{html.escape(label)}'
        "</div>"
        for label, colour in zip(labels, colours, strict=False)
    ]
    rows.append(
        f'<div><span class="cs-swatch" style="background:{NO_DATA_COLOUR}"></span>'
        f"{html.escape(spec.no_data_label)}</div>"
    )
    data = f' data-layer="{html.escape(layer)}"' if layer else ""
    style = "" if visible else ' style="display:none"'
    return (
        f'<div class="cs-legend" role="figure" aria-label="Légende"{data}{style}>'
        f"<strong>{html.escape(spec.label)}</strong><br><em>{html.escape(spec.unit)}</em>"
        + "".join(rows)
        + "</div>"
    )


_CSS = """
<style>
.cs-legend{position:absolute;z-index:1000;bottom:64px;left:10px;background:#fff;padding:8px 10px;
 font:12px/1.5 system-ui,sans-serif;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.35);
 max-width:260px}
.cs-swatch{display:inline-block;width:14px;height:14px;margin-right:6px;vertical-align:-2px;
 border:1px solid #888}
.cs-title{position:absolute;z-index:1000;top:10px;left:54px;right:180px;background:#fff;
 padding:6px 12px;font:600 16px/1.3 system-ui,sans-serif;border-radius:4px;
 box-shadow:0 1px 4px rgba(0,0,0,.35)}
.cs-title small{display:block;font-weight:400;font-size:12px;color:#444}
.cs-credits{position:absolute;z-index:1000;bottom:0;right:0;background:rgba(255,255,255,.85);
 padding:2px 6px;font:11px/1.4 system-ui,sans-serif;max-width:70%}
.cs-synthetic{color:#b00020;font-weight:600}
.cs-tip th{text-align:left;font-weight:600;padding-right:8px}
.cs-tip td{text-align:right}
.cs-site{width:24px;height:24px;border-radius:50%;background:#d7191c;color:#fff;
 font:700 13px/24px system-ui,sans-serif;text-align:center;border:2px solid #fff;
 box-shadow:0 1px 3px rgba(0,0,0,.5)}
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
    """Create a base map fitted to the communes (a national map opens on the mainland)."""
    mainland = simple["zone"].eq("metro").to_numpy() if "zone" in simple.columns else None
    framed = simple[mainland] if mainland is not None and mainland.any() else simple
    minx, miny, maxx, maxy = framed.total_bounds
    return base_map((minx, miny, maxx, maxy), tiles=tiles, title=title)


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
    if spec.palette not in PALETTES:
        raise DataValidationError(f"palette {spec.palette!r} is not one of {sorted(PALETTES)}")
    values = pd.to_numeric(simple[spec.column], errors="coerce").to_numpy(dtype="float64")
    classes, bounds = classify(values, spec.scheme, k=spec.k, breaks=spec.breaks)
    colours = palette_colours(PALETTES[spec.palette], len(bounds))
    fill = np.array([colours[c] if c >= 0 else NO_DATA_COLOUR for c in classes], dtype=object)
    lo = lowest_bound(values, spec)
    labels = list(class_labels or class_range_labels(bounds, lo, spec.decimals))
    if len(labels) != len(bounds):
        raise DataValidationError(f"{len(labels)} class labels for {len(bounds)} classes")
    class_label = [labels[c] if c >= 0 else "sans objet" for c in classes]

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
    ).add_to(layer)
    legend = _legend_html(spec, labels, colours, name if not overlay else None, visible=show)
    return layer, legend


def decorate(
    fmap: folium.Map, spec: ChoroplethSpec, legends: str, subtitle: str | None = None
) -> None:
    """Add the stylesheet, the title block, the legend(s) and the credits line to a map."""
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
            + legends
            + f'<div class="cs-credits">Sources : {credits}</div>'
        )
    )


def palette_colours(palette: list[str], n: int) -> list[str]:
    """``n`` evenly spaced colours of a palette (the colours of ``n`` classes)."""
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


def _points_layer(points: pd.DataFrame, name: str) -> folium.FeatureGroup:
    missing = [c for c in ("lon", "lat", "count", "label") if c not in points.columns]
    if missing:
        raise DataValidationError(f"points to map lack column(s) {missing}")
    group = folium.FeatureGroup(name=html.escape(name), show=True)
    counts = points["count"].to_numpy(dtype="float64")
    radius = 3.0 + 3.0 * np.sqrt(np.maximum(counts, 0.0))
    for lon, lat, r, label in zip(
        points["lon"].to_numpy(),
        points["lat"].to_numpy(),
        radius,
        points["label"].astype(str).to_numpy(),
        strict=True,
    ):
        folium.CircleMarker(
            location=[float(lat), float(lon)],
            radius=float(r),
            color="#7a0177",
            weight=1,
            fill=True,
            fill_color="#c51b8a",
            fill_opacity=0.75,
            tooltip=html.escape(label),
        ).add_to(group)
    return group


#: Above this many communes a map is drawn lighter (500 m simplification, département lines).
LARGE_MAP_COMMUNES = 3_000

#: How each measure of :data:`geo.analysis.MEASURES` is classed and coloured by default.
MEASURE_STYLES: dict[str, dict[str, Any]] = {
    "density": {"scheme": "fixed", "breaks": (0.0, 4.0, 7.0, 10.0, 15.0), "palette": "YlGnBu"},
    "apl": {"scheme": "fixed", "breaks": (1.5, 2.5, 4.0, 5.0), "palette": "YlGnBu"},
    "nearest": {
        "scheme": "fixed",
        "breaks": (5.0, 10.0, 15.0, 20.0, 30.0),
        "palette": "YlOrRd",
        "decimals": 0,
    },
}


def analysis_spec(result: gpd.GeoDataFrame, place: str) -> tuple[ChoroplethSpec, str | None]:
    """Spec and subtitle of the map of an :func:`geo.analysis.analyse` result.

    Read from ``result.attrs`` (measure, label_fr, unit_fr, synthetic, parameters); the
    interactive and the static maps both use it, so they show the same classes and words.

    Returns
    -------
    (ChoroplethSpec, str or None)
        What to draw and the subtitle (the catchment of the ratio measures).
    """
    attrs = result.attrs
    measure = str(attrs.get("measure", ""))
    params = attrs.get("parameters", {}) or {}
    style = MEASURE_STYLES.get(measure, {"scheme": "quantiles", "palette": "YlGnBu"})
    if measure == "apl" and params.get("supply") != "consultations":
        style = {"scheme": "quantiles", "palette": "YlGnBu"}  # the zonage breaks need consultations
    subtitle = None
    if measure not in ("density", "nearest") and "catchment_minutes" in params:
        subtitle = f"Zone de recherche : {format_fr(params['catchment_minutes'], 0)} minutes"
    label = str(attrs.get("label_fr", "Indicateur"))
    spec = ChoroplethSpec(
        column="value",
        title=f"{label} — {place}",
        label=label,
        unit=str(attrs.get("unit_fr", "")),
        sources=_sources_of(attrs),
        synthetic=bool(attrs.get("synthetic", False)),
        no_data_label=(
            "non renseigné (commune hors de la source des praticiens) ou commune non localisée"
            if measure == "apl"
            else "sans objet (aucun praticien à portée, commune non renseignée ou non localisée)"
        ),
        decimals=int(style.get("decimals", 1)),
        scheme=style["scheme"],
        breaks=style.get("breaks"),
        palette=style["palette"],
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
    """
    spec, subtitle = analysis_spec(result, place)
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
    missing = [c for c in ("lon", "lat", "label") if c not in points.columns]
    if missing:
        raise DataValidationError(f"individual points to map lack column(s) {missing}")
    group = folium.FeatureGroup(name=html.escape(name), show=False)
    cluster = MarkerCluster(options={"maxClusterRadius": 40})  # type: ignore[no-untyped-call]
    cluster.add_to(group)
    for lon, lat, label in zip(
        points["lon"].to_numpy(), points["lat"].to_numpy(), points["label"].astype(str), strict=True
    ):
        folium.Marker(
            location=[float(lat), float(lon)],
            icon=folium.DivIcon(html=_DOT_ICON, icon_size=(11, 11), icon_anchor=(5, 5)),
            tooltip=html.escape(label),
        ).add_to(cluster)
    return group
