"""Scenario and siting maps: before / after / change, and proposed sites with their catchment.

Before and after share one classification so that colours compare; the change uses a
diverging, colour-blind-safe palette centred on zero. The three views are base layers (one at a
time, radio buttons) and the legend follows the view shown.
"""

from __future__ import annotations

import html
from dataclasses import replace

import folium
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.errors import DataValidationError
from geo.maps.choropleth import (
    PALETTES,
    ChoroplethSpec,
    _framed_map,
    _outlines,
    analysis_spec,
    classify,
    commune_layer,
    decorate,
    format_fr,
    no_access_mask,
    palette_colours,
    simplify_coverage,
)
from geo.maps.layers import MapScript
from geo.maps.words import count_fr

__all__ = [
    "DIVERGING",
    "SITE_COLOUR",
    "comparison_map",
    "delta_breaks",
    "displayed_change",
    "shared_spec",
    "sites_for_map",
    "sites_layer",
]

#: The diverging palette of change maps: ColorBrewer PuOr, colour-blind safe, decrease in
#: orange, neutral "no change" in the middle, increase in purple.
DIVERGING = PALETTES["PuOr"]
SITE_COLOUR = "#d7191c"
_UNCHANGED = 1e-9


def delta_breaks(delta: npt.ArrayLike, decimals: int = 1) -> list[float]:
    """Symmetric class bounds around 0 for a change map.

    Three classes each side of "inchangé" (``|Δ| ≤ 1e-9``): up to 10 %, 50 % and 100 % of the
    largest absolute change, rounded to ``decimals``.

    >>> delta_breaks([-2.0, 0.0, 1.0])
    [-1.0, -0.2, -1e-09, 1e-09, 0.2, 1.0, 2.0]
    """
    d = np.asarray(delta, dtype="float64")
    finite = d[np.isfinite(d)]
    top = float(np.max(np.abs(finite))) if finite.size else 0.0
    if top <= _UNCHANGED:
        return [_UNCHANGED]
    step = 10.0**-decimals
    small = max(round(top * 0.1, decimals), step)
    mid = max(round(top * 0.5, decimals), small + step)
    return [-mid, -small, -_UNCHANGED, _UNCHANGED, small, mid, max(top, mid + step)]


def _delta_labels(bounds: list[float], decimals: int) -> list[str]:
    """Labels of the change classes (lowest first)."""
    if len(bounds) == 1:
        return ["inchangé"]

    def f(v: float) -> str:
        return format_fr(abs(v), decimals)

    return [
        f"baisse de plus de {f(bounds[0])}",
        f"baisse de {f(bounds[1])} à {f(bounds[0])}",
        f"baisse jusqu'à {f(bounds[1])}",
        "inchangé",
        f"hausse jusqu'à {f(bounds[4])}",
        f"hausse de {f(bounds[4])} à {f(bounds[5])}",
        f"hausse de plus de {f(bounds[5])}",
    ]


def comparison_map(
    result: gpd.GeoDataFrame,
    place: str,
    *,
    before: str = "before",
    after: str = "after",
    delta: str = "delta",
    scenario: str = "Scénario",
    sites: pd.DataFrame | None = None,
    tiles: bool = False,
    tolerance_m: float = 100.0,
    profession: str | None = None,
) -> folium.Map:
    """Before / after / change map of a scenario, optionally with proposed sites.

    The title names the profession and the measure (as :func:`analysis_spec`), the subtitle
    the scenario. The tooltip's before, after and change are rounded as displayed and add up
    (:func:`displayed_change`); the change view is classed on the displayed change.

    Parameters
    ----------
    result : geopandas.GeoDataFrame
        One row per commune with ``code``, ``nom``, ``population`` and the three value columns;
        ``attrs`` as an :func:`geo.analysis.analyse` result (measure, unit, synthetic flag).
    place : str
        Territory name for the title.
    before, after, delta : str
        Column names.
    scenario : str
        Short French description of the scenario, in the subtitle.
    sites : DataFrame, optional
        Proposed sites (see :func:`sites_layer`).
    tiles : bool
        OpenStreetMap background (needs the network).
    tolerance_m : float
        Simplification tolerance.
    profession : str, optional
        Profession code for the words (default: what the result says).
    """
    missing = [c for c in (before, after, delta, "code", "nom") if c not in result.columns]
    if missing:
        raise DataValidationError(f"the scenario result lacks column(s) {missing}")
    base, _ = analysis_spec(result, place, profession=profession)
    shared = shared_spec(result, base, before, after)
    simple = simplify_coverage(result, tolerance_m)
    fmap = _framed_map(simple, base.title, tiles)
    worse_up = not bool(result.attrs.get("higher_is_better", True))
    shown = displayed_change(
        simple,
        replace(base, column=before),
        after,
        base.decimals,
        no_access_as_zero=not worse_up,
    )
    simple = simple.assign(**{_SHOWN[0]: shown[0], _SHOWN[1]: shown[1], _SHOWN[2]: shown[2]})
    tips = {
        "population": "Population 2023",
        "population_before": "Population",
        _SHOWN[0]: "Avant",
        _SHOWN[1]: "Après",
        _SHOWN[2]: "Écart",
        "class_change": "Classe avant → après",
    }
    tips = {k: v for k, v in tips.items() if k in simple.columns}
    legends = []
    d_bounds = delta_breaks(shown[2], base.decimals)
    views = [
        ("Écart", _delta_spec(base, _SHOWN[2], d_bounds, worse_up), True),
        ("Avant", replace(shared, column=before), False),
        ("Après", replace(shared, column=after), False),
    ]
    for view, spec, show in views:
        layer, legend = commune_layer(simple, spec, tips, overlay=False, show=show, layer_name=view)
        layer.add_to(fmap)
        legends.append(legend)
    _outlines(simple, "epci").add_to(fmap)
    if sites is not None and len(sites):
        sites_layer(sites).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    decorate(
        fmap,
        base,
        "".join(legends),
        subtitle=f"{scenario} — écart = après − avant ; choisir la vue (Écart, Avant, Après) "
        "en haut à droite",
    )
    _legend_switch(fmap)
    return fmap


#: Tooltip columns of the values as displayed (rounded), so that Avant + Écart = Après.
_SHOWN = ("_avant_affiche", "_apres_affiche", "_ecart_affiche")


def shared_spec(
    result: pd.DataFrame, base: ChoroplethSpec, before: str, after: str
) -> ChoroplethSpec:
    """Classify before and after together, so that their colours compare.

    The interactive comparison map and the static before / after page should both use it. A
    fixed scheme (APL zonage, minutes) is kept; a data-driven one becomes fixed breaks on
    both columns, with the palette positions of the analysis map's ``k`` classes.
    """
    if base.scheme == "fixed":
        return base
    both = pd.to_numeric(pd.concat([result[before], result[after]]), errors="coerce")
    values = both.to_numpy(dtype="float64")
    _, bounds = classify(values, base.scheme, k=base.k, breaks=base.breaks)
    if len(bounds) < 2:
        bounds = [*bounds, *bounds] if bounds else [0.0, 0.0]
    colours = palette_colours(PALETTES[base.palette], max(base.k, len(bounds)))[: len(bounds)]
    return replace(base, scheme="fixed", breaks=tuple(bounds[:-1]), colours=tuple(colours))


def displayed_change(
    frame: pd.DataFrame,
    before_spec: ChoroplethSpec,
    after: str,
    decimals: int,
    *,
    no_access_as_zero: bool = True,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Before, after and their difference as the tooltip shows them.

    Before and after are rounded to ``decimals`` first and the difference taken on the
    rounded values, so that the numbers a reader sees add up ("Avant 2,1 / Après 1,8 /
    Écart −0,3", never "−0,4"). With ``no_access_as_zero``, a commune out of reach of every
    practitioner on a measure without a value there (2SFCA family) counts as 0 in the
    difference, so that gaining or losing all access shows as a change (not for times, where
    it would mean 0 minutes).

    Parameters
    ----------
    frame : DataFrame
        The communes with ``before_spec.column`` and ``after``.
    before_spec : ChoroplethSpec
        The map's spec on the "before" column (tells the communes without access).
    after : str
        Column of the values after the scenario.
    decimals : int
        Decimals shown.
    no_access_as_zero : bool
        See above.

    Returns
    -------
    (before, after, change)
        Rounded arrays (NaN where a value is missing).

    Examples
    --------
    >>> import pandas as pd
    >>> from geo.maps.choropleth import ChoroplethSpec
    >>> spec = ChoroplethSpec(column="b", title="", label="", unit="")
    >>> frame = pd.DataFrame({"b": [2.14], "a": [1.76]})
    >>> [float(v[0]) for v in displayed_change(frame, spec, "a", 1)]
    [2.1, 1.8, -0.3]
    """
    after_spec = replace(before_spec, column=after)
    shown = []
    for spec in (before_spec, after_spec):
        values = pd.to_numeric(frame[spec.column], errors="coerce").to_numpy(dtype="float64")
        rounded = np.round(values, decimals) + 0.0  # + 0.0: no "-0,0"
        shown.append(rounded)
    gap = []
    for spec, rounded in zip((before_spec, after_spec), shown, strict=True):
        none = no_access_mask(frame, spec) & no_access_as_zero & (not spec.no_access_zero)
        gap.append(np.where(none, 0.0, rounded))
    change = np.round(gap[1] - gap[0], decimals) + 0.0
    return shown[0], shown[1], change


def _delta_spec(
    base: ChoroplethSpec, column: str, bounds: list[float], worse_up: bool
) -> ChoroplethSpec:
    """Change classes: seven fixed colours of the diverging palette, a worsening in orange."""
    palette = PALETTES["PuOr_r" if worse_up else "PuOr"]
    if len(bounds) == 1:  # nothing changed: the same three colours as any change map's middle
        breaks: tuple[float, ...] = (-_UNCHANGED, _UNCHANGED)
        names: list[str] = ["baisse", "inchangé", "hausse"]
        colours = [palette[2], palette[3], palette[4]]
    else:
        breaks = tuple(bounds[:-1])
        names = _delta_labels(bounds, base.decimals)
        colours = list(palette)
    return replace(
        base,
        column=column,
        label=f"Écart : {base.label}",
        scheme="fixed",
        breaks=breaks,
        class_names=tuple(names),
        colours=tuple(colours),
        lower_inclusive=False,
        no_access_label=None,
        no_data_label="non renseigné",
    )


def _legend_switch(fmap: folium.Map) -> None:
    """Show the legend of the base layer on display (Leaflet's ``baselayerchange``)."""
    MapScript(
        "{map}.on('baselayerchange', e => document.querySelectorAll("
        "'.cs-legend[data-layer]').forEach(d => { d.style.display = "
        "d.dataset.layer === e.name ? '' : 'none'; }));"
    ).add_to(fmap)


def sites_layer(sites: pd.DataFrame, name: str = "Sites proposés") -> folium.FeatureGroup:
    """Numbered site markers with their catchment circle.

    Parameters
    ----------
    sites : DataFrame
        ``lon``, ``lat``, ``rank`` (1, 2, …), ``label`` (French tooltip: commune, practitioners,
        gain), and optionally ``catchment_km`` (radius of the circle, straight line).
    name : str
        Layer name.
    """
    missing = [c for c in ("lon", "lat", "rank", "label") if c not in sites.columns]
    if missing:
        raise DataValidationError(f"the sites to map lack column(s) {missing}")
    group = folium.FeatureGroup(name=html.escape(name), show=True)
    radius_km = (
        pd.to_numeric(sites["catchment_km"], errors="coerce").to_numpy(dtype="float64")
        if "catchment_km" in sites.columns
        else np.full(len(sites), np.nan)
    )
    for lon, lat, rank, label, km in zip(
        sites["lon"].to_numpy(dtype="float64"),
        sites["lat"].to_numpy(dtype="float64"),
        sites["rank"].to_numpy(),
        sites["label"].astype(str),
        radius_km,
        strict=True,
    ):
        if np.isfinite(km) and km > 0:
            folium.Circle(
                location=[float(lat), float(lon)],
                radius=float(km) * 1000.0,
                color=SITE_COLOUR,
                weight=1.5,
                dash_array="6",
                fill=True,
                fill_opacity=0.06,
                interactive=False,
            ).add_to(group)
        folium.Marker(
            location=[float(lat), float(lon)],
            icon=folium.DivIcon(
                html=f'<div class="cs-site">{int(rank)}</div>',
                icon_size=(24, 24),
                icon_anchor=(12, 12),
            ),
            tooltip=html.escape(label),
        ).add_to(group)
    return group


def sites_for_map(
    sites: gpd.GeoDataFrame, *, catchment_km: float | None = None, gain_label: str = "gain"
) -> pd.DataFrame:
    """Turn :func:`geo.siting.recommend_sites`' sites into :func:`sites_layer` input.

    Parameters
    ----------
    sites : geopandas.GeoDataFrame
        ``rank``, ``nom``, ``practitioners`` and ``marginal_gain`` per site, point geometry.
    catchment_km : float, optional
        Radius of the circle drawn around each site (straight-line catchment).
    gain_label : str
        French wording of the gain in the tooltip ("habitants sortis de la zone sous-dense").
    """
    missing = [c for c in ("rank", "nom", "marginal_gain") if c not in sites.columns]
    if missing:
        raise DataValidationError(f"the sites lack column(s) {missing}")
    points = sites.geometry.to_crs(4326)
    points = points.where(points.geom_type == "Point", points.representative_point())
    count = (
        pd.Series(
            [count_fr(n, "praticien") for n in sites["practitioners"].astype(int)],
            index=sites.index,
        )
        if "practitioners" in sites.columns
        else pd.Series("", index=sites.index)
    )
    label = (
        "Site n° "
        + sites["rank"].astype(int).astype(str)
        + " : "
        + sites["nom"].astype(str)
        + " — "
        + count
        + f" — {gain_label} : "
        + sites["marginal_gain"].map(lambda v: format_fr(float(v), 0))
    )
    return pd.DataFrame(
        {
            "lon": points.x.to_numpy(),
            "lat": points.y.to_numpy(),
            "rank": sites["rank"].to_numpy(),
            "label": label.to_numpy(),
            "catchment_km": np.full(len(sites), np.nan if catchment_km is None else catchment_km),
        }
    )
