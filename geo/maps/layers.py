"""Map layers whose data bypass Jinja: fast for tens of thousands of communes.

branca renders each element's script, then compiles the *rendered* text as a Jinja template
(``Element(script(...))``): with a national GeoJSON embedded, that compile alone took 2.5 s.
The elements here write their JavaScript as raw text instead, and build the GeoJSON text with
vectorised shapely and pandas rather than through Python dicts and ``json``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from branca.element import Element, MacroElement

__all__ = ["GeoJsonLayer", "MapScript", "RawScript", "features_json"]


class RawScript(Element):
    """JavaScript (or HTML) emitted as is, never compiled as a template."""

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "RawScript"
        self._code = code

    def render(self, **kwargs: Any) -> str:
        """Return the code unchanged."""
        return self._code


def features_json(geoms: npt.NDArray[np.object_], props: pd.DataFrame) -> str:
    """GeoJSON FeatureCollection text of ``geoms`` with one properties record per row.

    Null geometries are skipped (with their row).
    """
    present = ~shapely.is_missing(geoms)
    geometry_text = shapely.to_geojson(geoms[present])
    records = props[present].to_json(orient="records", force_ascii=False)
    # to_json gives "[{...},{...}]": split it back into records without parsing the JSON
    prop_texts = _split_records(records, int(present.sum()))
    body = ",".join(
        f'{{"type":"Feature","geometry":{g},"properties":{p}}}'
        for g, p in zip(geometry_text, prop_texts, strict=True)
    )
    return f'{{"type":"FeatureCollection","features":[{body}]}}'


def _split_records(records: str, n: int) -> list[str]:
    """Split pandas' ``[{...},{...}]`` into its ``n`` objects (no nesting in our records)."""
    if n == 0:
        return []
    inner = records[2:-2]  # drop "[{" and "}]"
    parts = inner.split("},{")
    if len(parts) != n:  # a "},{" inside a string value: fall back to parsing
        return [json.dumps(r, ensure_ascii=False) for r in json.loads(records)]
    return ["{" + p + "}" for p in parts]


class MapScript(MacroElement):
    """JavaScript run once its parent (the map) exists; ``{map}`` in the code names it."""

    def __init__(self, code: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "MapScript"
        self._code = code

    def render(self, **kwargs: Any) -> str:
        """Write the code, after the parent's own script, into the figure's script section."""
        if self._parent is None:
            raise RuntimeError("a MapScript must be added to a map")
        figure: Any = self.get_root()
        code = self._code.replace("{map}", self._parent.get_name())
        figure.script.add_child(RawScript(code), name=self.get_name())
        return ""


class GeoJsonLayer(MacroElement):
    """A Leaflet GeoJSON layer added to its parent (a FeatureGroup or the map).

    Parameters
    ----------
    data : str
        GeoJSON text (see :func:`features_json`).
    style : mapping
        Leaflet path options shared by every feature; a feature's ``_fill`` property, when
        present, sets its ``fillColor``.
    tooltip_labels : sequence of str, optional
        Bind a sticky tooltip to each feature: a table of these labels and the feature's
        ``_t`` property (a list of strings, one per label). The table is built in the browser
        when the tooltip opens, so the page carries the values only.
    highlight : mapping, optional
        Path options applied while the pointer is over a feature.
    interactive : bool
        False for outlines: they never catch the pointer.
    """

    def __init__(
        self,
        data: str,
        *,
        style: Mapping[str, Any],
        tooltip_labels: Sequence[str] | None = None,
        highlight: Mapping[str, Any] | None = None,
        interactive: bool = True,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "GeoJsonLayer"
        self._data = data
        self._style = dict(style)
        self._labels = list(tooltip_labels) if tooltip_labels else []
        self._highlight = dict(highlight or {})
        self._interactive = interactive

    def render(self, **kwargs: Any) -> str:
        """Write the layer's JavaScript into the figure's script section."""
        figure: Any = self.get_root()
        name = self.get_name()
        if self._parent is None:
            raise RuntimeError("a GeoJsonLayer must be added to a map or a FeatureGroup")
        parent = self._parent.get_name()
        style = json.dumps(self._style | {"interactive": self._interactive})
        on_each = ""
        if self._labels or self._highlight:
            bind = ""
            if self._labels:
                labels = json.dumps(
                    [html.escape(label) for label in self._labels], ensure_ascii=False
                )
                bind = (
                    "if (f.properties && f.properties._t) layer.bindTooltip(() => "
                    f"cartosoinsTip({labels}, f.properties._t), {{sticky: true}});"
                )
            hover = ""
            if self._highlight:
                hover = (
                    f"layer.on('mouseover', e => e.target.setStyle({json.dumps(self._highlight)}));"
                    f"layer.on('mouseout', e => {name}.resetStyle(e.target));"
                )
            on_each = f", onEachFeature: (f, layer) => {{ {bind} {hover} }}"
        code = (
            f"var {name}_data = {self._data};\n"
            f"var {name} = L.geoJson({name}_data, {{style: f => Object.assign({style}, "
            "f.properties && f.properties._fill ? {fillColor: f.properties._fill} : {})"
            f"{on_each}}}).addTo({parent});\n"
        )
        if self._labels:
            figure.script.add_child(RawScript(_TIP_JS), name="cartosoins_tip")
        figure.script.add_child(RawScript(code), name=name)
        for child in self._children.values():
            child.render(**kwargs)
        return ""


#: Builds a tooltip table from labels and values, escaping the values.
_TIP_JS = """
function cartosoinsTip(labels, values) {
    const esc = s => String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;",
        ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
    return '<table class="cs-tip">' + labels.map((label, i) =>
        '<tr><th>' + label + '</th><td>' + esc(values[i]) + '</td></tr>').join('') + '</table>';
}
"""
