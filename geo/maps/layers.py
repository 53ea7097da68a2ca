"""Map layers whose data bypass Jinja: fast for tens of thousands of communes.

branca renders each element's script, then compiles the *rendered* text as a Jinja template
(``Element(script(...))``): with a national GeoJSON embedded, that compile alone took 2.5 s.
The elements here write their JavaScript as raw text instead, and build the GeoJSON text with
vectorised shapely and pandas rather than through Python dicts and ``json``.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from branca.element import Element, MacroElement

__all__ = ["CommuneLabels", "GeoJsonLayer", "MapScript", "PageLayout", "RawScript", "features_json"]


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
        ``_t`` property (a list of strings, one per label), the first value (the commune's
        name) as its heading. The table is built in the browser when the tooltip opens, so the
        page carries the values only.
    highlight : mapping, optional
        Path options applied while the pointer is over a feature.
    interactive : bool
        False for outlines: they never catch the pointer.
    border_min_zoom : float, optional
        Below this zoom level the features are drawn without their border (``weight`` 0): on
        a national or regional map, thousands of white commune borders would wash the colours
        out. The borders come back when the reader zooms in.
    """

    def __init__(
        self,
        data: str,
        *,
        style: Mapping[str, Any],
        tooltip_labels: Sequence[str] | None = None,
        highlight: Mapping[str, Any] | None = None,
        interactive: bool = True,
        border_min_zoom: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "GeoJsonLayer"
        self._data = data
        self._style = dict(style)
        self._labels = list(tooltip_labels) if tooltip_labels else []
        self._highlight = dict(highlight or {})
        self._interactive = interactive
        self._border_min_zoom = border_min_zoom

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
                # "auto": on the side of the pointer away from the map's centre; the
                # tooltip script then keeps it inside the map (top and bottom edges too)
                bind = (
                    "if (f.properties && f.properties._t) layer.bindTooltip(() => "
                    f"cartosoinsTip({labels}, f.properties._t), "
                    "{sticky: true, direction: 'auto', opacity: 1, className: 'cs-tooltip'});"
                )
            hover = ""
            if self._highlight:
                hover = (
                    f"layer.on('mouseover', e => e.target.setStyle({json.dumps(self._highlight)}));"
                    f"layer.on('mouseout', e => {name}.resetStyle(e.target));"
                )
            on_each = f", onEachFeature: (f, layer) => {{ {bind} {hover} }}"
        border = ""
        zoom_hook = ""
        if self._border_min_zoom is not None:
            fmap: Any = self._parent
            while fmap is not None and not isinstance(fmap, folium.Map):
                fmap = getattr(fmap, "_parent", None)
            if fmap is None:
                raise RuntimeError("border_min_zoom needs the layer to be on a folium.Map")
            map_name = fmap.get_name()
            zoom = float(self._border_min_zoom)
            # Borders follow a flag, not the zoom itself: the map has no zoom yet while the
            # layer is built (no border then), and 35,000 features are restyled only when the
            # zoom crosses the threshold, never on every zoom or at load.
            border = f", {name}_borders ? {{}} : {{weight: 0}}"
            zoom_hook = (
                f"{map_name}.on('zoomend', () => {{"
                f" const on = {map_name}.getZoom() >= {zoom};"
                f" if (on !== {name}_borders) {{ {name}_borders = on;"
                f" {name}.setStyle({name}.options.style); }} }});\n"
            )
        flag = f"var {name}_borders = false;\n" if self._border_min_zoom is not None else ""
        code = (
            flag + f"var {name}_data = {self._data};\n"
            f"var {name} = L.geoJson({name}_data, {{style: f => Object.assign({{}}, {style}, "
            "f.properties && f.properties._fill ? {fillColor: f.properties._fill} : {}"
            f"{border})"
            f"{on_each}}}).addTo({parent});\n" + zoom_hook
        )
        if self._labels:
            figure.script.add_child(RawScript(_TIP_JS), name="cartosoins_tip")
        figure.script.add_child(RawScript(code), name=name)
        for child in self._children.values():
            child.render(**kwargs)
        return ""


#: Builds a tooltip table from labels and values, escaping the values; and keeps every tooltip
#: of the page inside its map: Leaflet places a sticky tooltip beside the pointer, vertically
#: centred on it, so near an edge it would be cut off.
_TIP_JS = """
function cartosoinsTip(labels, values) {
    const esc = s => String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;",
        ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
    // the first value (the commune's name) heads the table; then one row per label
    return '<table class="cs-tip"><caption>' + esc(values[0]) + '</caption>'
        + labels.slice(1).map((label, i) => '<tr><th scope="row">' + label + '</th><td>'
            + esc(values[i + 1]) + '</td></tr>').join('') + '</table>';
}
(function () {
    const place = L.Tooltip.prototype._setPosition;
    if (!place || L.Tooltip.prototype._cartosoinsInside) return;
    L.Tooltip.prototype._cartosoinsInside = true;
    L.Tooltip.prototype._setPosition = function (pos) {
        place.call(this, pos);
        const el = this._container, map = this._map;
        if (!el || !map) return;
        const box = map.getContainer().getBoundingClientRect();
        const r = el.getBoundingClientRect(), m = 4;
        const shift = (lo, hi, min, max) =>
            hi - lo > max - min - 2 * m ? min + m - lo
            : lo < min + m ? min + m - lo : hi > max - m ? max - m - hi : 0;
        const dx = shift(r.left, r.right, box.left, box.right);
        // Tooltips are drawn under the title, legends, sources and controls: keep it between
        // those above and below it (that share its columns); when that band is too short, below
        // the upper ones.
        let top = box.top, bottom = box.bottom;
        const middle = (box.top + box.bottom) / 2;
        const blocks = map.getContainer().querySelectorAll(
            '.cs-title, .cs-legends, .cs-credits, .leaflet-control');
        for (const block of blocks) {
            const b = block.getBoundingClientRect();
            if (!b.height || b.right <= r.left + dx || b.left >= r.right + dx) continue;
            if ((b.top + b.bottom) / 2 < middle) top = Math.max(top, b.bottom);
            else bottom = Math.min(bottom, b.top);
        }
        if (bottom - top - 2 * m < r.height) bottom = box.bottom;  // over the lower blocks
        const dy = shift(r.top, r.bottom, top, bottom);
        if (dx || dy) L.DomUtil.setPosition(el, L.DomUtil.getPosition(el).add([dx, dy]));
    };
})();
"""


class CommuneLabels(MacroElement):
    """Commune names drawn on the map where they fit, the most populated first.

    At each zoom and move, the browser places the names in priority order and skips any whose
    box would touch one already placed or leave the map: the main towns are named at the
    département's zoom, smaller communes appear as one zooms in. Added to a FeatureGroup, the
    names come and go with it.

    Parameters
    ----------
    lats, lons : array-like of float
        Where each name is centred (EPSG:4326), e.g. a point on the commune's surface.
    names : sequence of str
        Commune names, in the same order.
    priority : array-like of float
        Higher first (the population).
    """

    def __init__(
        self,
        lats: npt.ArrayLike,
        lons: npt.ArrayLike,
        names: Sequence[str],
        priority: npt.ArrayLike,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "CommuneLabels"
        lat = np.asarray(lats, dtype="float64")
        lon = np.asarray(lons, dtype="float64")
        rank = np.asarray(priority, dtype="float64")
        named = np.asarray([str(n) for n in names], dtype=object)
        keep = np.isfinite(lat) & np.isfinite(lon)
        rank = np.where(np.isfinite(rank), rank, -np.inf)
        order = np.argsort(-rank[keep], kind="stable")
        rows = zip(
            np.round(lat[keep][order], 4),
            np.round(lon[keep][order], 4),
            named[keep][order],
            strict=True,
        )
        self._data = json.dumps(
            [[float(a), float(b), n] for a, b, n in rows],
            ensure_ascii=False,
            separators=(",", ":"),
        ).replace("</", "<\\/")

    def render(self, **kwargs: Any) -> str:
        """Write the label layer; its data appear once per page, whatever the layers using it."""
        if self._parent is None:
            raise RuntimeError("CommuneLabels must be added to a map or a FeatureGroup")
        figure: Any = self.get_root()
        digest = hashlib.sha1(self._data.encode("utf-8")).hexdigest()[:12]
        data = f"cartosoins_labels_{digest}"
        figure.script.add_child(RawScript(_LABELS_JS), name="cartosoins_labels")
        figure.script.add_child(RawScript(f"var {data} = {self._data};\n"), name=data)
        figure.script.add_child(
            RawScript(f"cartosoinsLabels({data}).addTo({self._parent.get_name()});\n"),
            name=self.get_name(),
        )
        return ""


#: The label layer: greedy placement, in priority order, of boxes measured with the font.
_LABELS_JS = """
var cartosoinsLabels = (function () {
    const FONT = '600 11px system-ui, sans-serif', PAD = 6, CELL = 64, AREA = 40000;
    let ctx = null;
    const widths = new Map();
    function width(name) {
        if (!widths.has(name)) {
            ctx = ctx || document.createElement('canvas').getContext('2d');
            ctx.font = FONT;
            widths.set(name, Math.ceil(ctx.measureText(name).width) + 4);
        }
        return widths.get(name);
    }
    const Labels = L.Layer.extend({
        initialize: function (data) { this._data = data; this._shown = []; },
        onAdd: function (map) {
            if (!map.getPane('cs-labels')) {
                const pane = map.createPane('cs-labels');
                pane.style.zIndex = 450;
                pane.style.pointerEvents = 'none';
            }
            map.on('zoomend moveend resize', this._place, this);
            this._place();
        },
        onRemove: function (map) {
            map.off('zoomend moveend resize', this._place, this);
            this._clear();
        },
        _clear: function () {
            this._shown.forEach(m => m.remove());
            this._shown = [];
        },
        _place: function () {
            const map = this._map;
            if (!map) return;
            this._clear();
            const size = map.getSize(), grid = new Map();
            // about one name per 200 × 200 px: the main towns, not a wall of text
            const most = Math.max(5, Math.floor(size.x * size.y / AREA));
            const hits = (b) => {
                for (let i = Math.floor(b[0] / CELL); i <= Math.floor(b[2] / CELL); i++)
                    for (let j = Math.floor(b[1] / CELL); j <= Math.floor(b[3] / CELL); j++)
                        for (const o of grid.get(i + ',' + j) || [])
                            if (b[0] < o[2] && o[0] < b[2] && b[1] < o[3] && o[1] < b[3]) {
                                return true;
                            }
                return false;
            };
            for (const [lat, lon, name] of this._data) {
                const p = map.latLngToContainerPoint([lat, lon]);
                if (p.x < 0 || p.y < 0 || p.x > size.x || p.y > size.y) continue;
                const w = width(name), h = 14;
                const b = [p.x - w / 2 - PAD, p.y - h / 2 - PAD,
                           p.x + w / 2 + PAD, p.y + h / 2 + PAD];
                if (b[0] < 0 || b[1] < 0 || b[2] > size.x || b[3] > size.y || hits(b)) continue;
                for (let i = Math.floor(b[0] / CELL); i <= Math.floor(b[2] / CELL); i++)
                    for (let j = Math.floor(b[1] / CELL); j <= Math.floor(b[3] / CELL); j++) {
                        const key = i + ',' + j;
                        if (!grid.has(key)) grid.set(key, []);
                        grid.get(key).push(b);
                    }
                const text = document.createElement('span');
                text.textContent = name;
                this._shown.push(L.marker([lat, lon], {
                    icon: L.divIcon({className: 'cs-label', html: text, iconSize: [w, h],
                                     iconAnchor: [w / 2, h / 2]}),
                    pane: 'cs-labels', interactive: false, keyboard: false,
                }).addTo(map));
                if (this._shown.length >= most) break;
            }
        },
    });
    return data => new Labels(data);
})();
"""


class PageLayout(MacroElement):
    """Arrange the map's title, legends, sources and Leaflet controls so that none overlap.

    The page's ``.cs-title``, ``.cs-legends`` and ``.cs-credits`` blocks and Leaflet's four
    control corners are moved into two rows over the map: zoom, title and layer control on top;
    legends with the scale, and sources with the attribution, at the bottom. Flexbox does the
    rest (see the stylesheet of :mod:`geo.maps.choropleth`). The legends and the layer control
    get a fold button; when the rows would not fit the map's height (an 800×450 frame in a
    slide), the layer control, then the legends, start folded.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "PageLayout"

    def render(self, **kwargs: Any) -> str:
        """Write the layout script, run once the page's scripts have all run."""
        if self._parent is None:
            raise RuntimeError("a PageLayout must be added to a map")
        figure: Any = self.get_root()
        figure.script.add_child(RawScript(_LAYOUT_JS), name="cartosoins_layout")
        figure.script.add_child(
            RawScript(f"cartosoinsLayout({self._parent.get_name()});\n"), name=self.get_name()
        )
        return ""


_LAYOUT_JS = """
function cartosoinsLayout(map) {
    function run() {
        const box = map.getContainer().querySelector('.leaflet-control-container');
        const pick = sel => document.querySelector(sel + ':not(.cs-placed)');
        const title = pick('.cs-title'), legends = pick('.cs-legends');
        const credits = pick('.cs-credits');
        const corner = (v, h) => box.querySelector('.leaflet-' + v + '.leaflet-' + h);
        const row = name => {
            const div = document.createElement('div');
            div.className = 'cs-row ' + name;
            box.appendChild(div);
            return div;
        };
        const top = row('cs-row-top'), bottom = row('cs-row-bottom');
        top.append(corner('top', 'left'));
        if (title) top.append(title);
        top.append(corner('top', 'right'));
        bottom.append(corner('bottom', 'left'), corner('bottom', 'right'));
        if (legends) corner('bottom', 'left').prepend(legends);
        if (credits) corner('bottom', 'right').prepend(credits);
        box.classList.add('cs-layout');
        [title, legends, credits].forEach(el => {
            if (!el) return;
            el.classList.add('cs-placed');
            L.DomEvent.disableClickPropagation(el);
            L.DomEvent.disableScrollPropagation(el);
        });
        // fold buttons: the legends' are in the page, the layer control's is added here
        const folds = [];
        function foldable(target, buttons, what) {
            const item = {target, buttons, what, touched: false};
            item.set = folded => {
                target.classList.toggle('cs-folded', folded);
                buttons.forEach(b => {
                    b.setAttribute('aria-expanded', String(!folded));
                    b.title = (folded ? 'Afficher ' : 'Masquer ') + what;
                });
            };
            buttons.forEach(b => b.addEventListener('click', () => {
                item.touched = true;
                item.set(!target.classList.contains('cs-folded'));
            }));
            folds.push(item);
            return item;
        }
        const control = box.querySelector('.leaflet-control-layers');
        let layers = null;
        if (control) {
            const list = control.querySelector('.leaflet-control-layers-list');
            const button = document.createElement('button');
            button.type = 'button';
            button.className = 'cs-fold';
            button.textContent = 'Couches';
            if (list) {
                list.id = list.id || 'cs-layers-' + Math.random().toString(36).slice(2, 10);
                button.setAttribute('aria-controls', list.id);
            }
            control.prepend(button);
            layers = foldable(control, [button], 'les couches');
        }
        let legend = null;
        if (legends) {
            const buttons = [...legends.querySelectorAll('.cs-fold')];
            const bodies = [...legends.querySelectorAll('.cs-legend-body')];
            bodies.forEach((b, i) => {
                b.id = b.id || 'cs-legend-' + i + '-' + Math.random().toString(36).slice(2, 8);
                if (buttons[i]) buttons[i].setAttribute('aria-controls', b.id);
            });
            legend = foldable(legends, buttons, 'la légende');
        }
        const overflows = () => {
            const gap = 30;
            return top.offsetHeight + bottom.offsetHeight + gap > box.clientHeight
                || top.scrollWidth > top.clientWidth + 1
                || bottom.scrollWidth > bottom.clientWidth + 1;
        };
        const small = window.matchMedia('(max-width: 700px), (max-height: 560px)');
        function fit() {
            if (layers && !layers.touched) layers.set(small.matches);
            if (legend && !legend.touched) legend.set(false);
            if (layers && !layers.touched && overflows()) layers.set(true);
            if (legend && !legend.touched && overflows()) legend.set(true);
        }
        // frame the territory in the band the title and sources leave free (again after a
        // resize, unless the reader has moved the map)
        let framed = null;
        function frame() {
            const bounds = map.cartosoinsBounds;
            if (!bounds) return;
            const view = () => map.getCenter().toString() + map.getZoom();
            if (framed !== null && framed !== view()) return;
            map.invalidateSize({pan: false});
            const frame = box.getBoundingClientRect(), gap = 4;
            const above = top.getBoundingClientRect().bottom - frame.top + gap;
            const below = credits ? frame.bottom - credits.getBoundingClientRect().top + gap : 0;
            // beside the legends too, when that costs the map a quarter of a zoom level at most
            const unfolded = legends && !legends.classList.contains('cs-folded');
            const side = unfolded ? legends.getBoundingClientRect().right - frame.left + gap : 0;
            const zoom = left => map.getBoundsZoom(bounds, false, L.point(left, above + below));
            const left = side && zoom(side) >= zoom(0) - 0.25 ? side : 0;
            map.fitBounds(bounds, {paddingTopLeft: [left, above],
                                   paddingBottomRight: [0, below], animate: false});
            framed = view();
        }
        fit();
        frame();
        window.addEventListener('resize', () => { fit(); frame(); });
    }
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run);
    else run();
}
"""
