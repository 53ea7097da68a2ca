"""Self-contained HTML export of folium maps, for rooms without internet.

Every script and stylesheet that folium and branca load from a CDN is inlined from a Python
package's files, or dropped when the map does not use it; a page that would still need the
network raises instead of being written.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any, Literal

import folium
from branca.element import Element, Figure, Link

from geo.errors import DataValidationError, ReferenceDataError
from geo.maps.layers import MapScript, RawScript

__all__ = ["base_map", "save_offline_html", "to_offline_html"]


# --- What each CDN asset becomes -------------------------------------------------------------


@dataclass(frozen=True)
class _PackageFile:
    """A JS or CSS file shipped inside an installed Python package."""

    kind: Literal["js", "css"]
    module: str  # importable package holding the file
    path: str  # path inside that package, "/"-separated
    distribution: str  # name to `pip install`, for error messages


@dataclass(frozen=True)
class _Rule:
    """How to replace the CDN URLs matching ``pattern``.

    ``source is None`` means the asset is always dropped. ``used`` tells from the page's own code
    (without any library) whether the asset is needed; ``None`` means always needed. A dropped
    asset that ``used`` says is needed is an error: the page would break offline.
    """

    label: str
    pattern: re.Pattern[str]
    source: _PackageFile | None
    used: Callable[[str], bool] | None = None
    hint: str = ""


def _mentions(regex: str, *literals: str) -> Callable[[str], bool]:
    """Detector of ``regex`` in the page code.

    ``literals`` are substrings one of which any match contains: a plain ``in`` test on them
    first spares the regex a scan of megabytes of embedded GeoJSON (a national map).
    """
    compiled = re.compile(regex)

    def found(code: str) -> bool:
        if literals and not any(literal in code for literal in literals):
            return False
        return compiled.search(code) is not None

    return found


_LEAFLET_JS = _PackageFile("js", "xstatic.pkg.leaflet", "data/leaflet.js", "XStatic-Leaflet")
_LEAFLET_CSS = _PackageFile("css", "xstatic.pkg.leaflet", "data/leaflet.css", "XStatic-Leaflet")
_LEAFLET_IMAGES = "data/images"
_JQUERY_JS = _PackageFile("js", "xstatic.pkg.jquery", "data/jquery.min.js", "XStatic-jQuery")
_BOOTSTRAP_DIR = "static/js-lib-bootstrap5"
_BOOTSTRAP_JS = _PackageFile(
    "js",
    "js_lib_bootstrap5",
    f"{_BOOTSTRAP_DIR}/js/bootstrap.bundle.min.js",
    "django-js-lib-bootstrap5",
)
_BOOTSTRAP_CSS = _PackageFile(
    "css",
    "js_lib_bootstrap5",
    f"{_BOOTSTRAP_DIR}/css/bootstrap.min.css",
    "django-js-lib-bootstrap5",
)
_CLUSTER = ("xstatic.pkg.leaflet_markercluster", "XStatic-Leaflet-MarkerCluster")
_CLUSTER_JS = _PackageFile("js", _CLUSTER[0], "data/leaflet.markercluster.js", _CLUSTER[1])
_CLUSTER_CSS = _PackageFile("css", _CLUSTER[0], "data/MarkerCluster.css", _CLUSTER[1])
_CLUSTER_DEFAULT_CSS = _PackageFile(
    "css", _CLUSTER[0], "data/MarkerCluster.Default.css", _CLUSTER[1]
)
_D3_JS = _PackageFile("js", "xstatic.pkg.d3", "data/d3.js", "XStatic-D3")

_USES_BOOTSTRAP_JS = _mentions(r"data-bs-|\bbootstrap\.[A-Z]", "data-bs-", "bootstrap.")
_AWESOME_HINT = (
    "folium.Icon (Leaflet.awesome-markers) has no offline package: "
    "use folium.CircleMarker or folium.DivIcon"
)

# Patterns are anchored on the file name and pin the major (and for Leaflet the minor) version
# the packaged file is compatible with; any other URL is unknown and raises.
_RULES: tuple[_Rule, ...] = (
    _Rule("Leaflet JS", re.compile(r"/leaflet@1\.9\.\d+/dist/leaflet\.js$"), _LEAFLET_JS),
    _Rule("Leaflet CSS", re.compile(r"/leaflet@1\.9\.\d+/dist/leaflet\.css$"), _LEAFLET_CSS),
    _Rule(
        "jQuery",
        re.compile(r"/jquery-3\.\d+\.\d+(\.min)?\.js$"),
        _JQUERY_JS,
        used=_mentions(r"\$\(|\$\.|\bjQuery\b", "$(", "$.", "jQuery"),
    ),
    _Rule(
        "Bootstrap 5 JS",
        re.compile(r"/bootstrap@5\.[\d.]+/dist/js/bootstrap\.bundle(\.min)?\.js$"),
        _BOOTSTRAP_JS,
        used=_USES_BOOTSTRAP_JS,
    ),
    # Folium's own elements use no Bootstrap class; keep its CSS only with Bootstrap components.
    _Rule(
        "Bootstrap 5 CSS",
        re.compile(r"/bootstrap@5\.[\d.]+/dist/css/bootstrap(\.min)?\.css$"),
        _BOOTSTRAP_CSS,
        used=_USES_BOOTSTRAP_JS,
    ),
    _Rule(
        "Leaflet.awesome-markers JS",
        re.compile(r"/leaflet\.awesome-markers(\.min)?\.js$", re.IGNORECASE),
        None,
        used=_mentions(r"\bL\.AwesomeMarkers\b", "L.AwesomeMarkers"),
        hint=_AWESOME_HINT,
    ),
    _Rule(
        "Leaflet.awesome-markers CSS",
        re.compile(r"/leaflet\.awesome-markers(\.min)?\.css$", re.IGNORECASE),
        None,
        used=_mentions(r"\bawesome-marker", "awesome-marker"),
        hint=_AWESOME_HINT,
    ),
    _Rule(
        "awesome-markers rotate CSS",
        re.compile(r"/leaflet\.awesome\.rotate(\.min)?\.css$"),
        None,
        used=_mentions(r"\bL\.AwesomeMarkers\b", "L.AwesomeMarkers"),
        hint=_AWESOME_HINT,
    ),
    _Rule(
        "Bootstrap 3 glyphicons CSS",
        re.compile(r"/bootstrap-glyphicons(\.min)?\.css$"),
        None,
        used=_mentions(r"\bglyphicon-", "glyphicon-"),
        hint="glyphicon icons are not available offline: use folium.DivIcon with text or SVG",
    ),
    _Rule(
        "Font Awesome CSS",
        re.compile(r"fontawesome[^/]*/css/(all|fontawesome)(\.min)?\.css$"),
        None,
        used=_mentions(r"\bfa-(solid|regular|brands|[a-z]+-[a-z-]+)\b|\bfa[srb]? fa-[a-z]", "fa-"),
        hint="Font Awesome icons are left out of offline pages (their fonts weigh megabytes): "
        "use folium.DivIcon with text or SVG",
    ),
    _Rule(
        "MarkerCluster JS",
        re.compile(r"/leaflet\.markercluster/1\.\d+\.\d+/leaflet\.markercluster(-src)?\.js$"),
        _CLUSTER_JS,
    ),
    _Rule(
        "MarkerCluster CSS",
        re.compile(r"/leaflet\.markercluster/1\.\d+\.\d+/MarkerCluster\.css$"),
        _CLUSTER_CSS,
    ),
    _Rule(
        "MarkerCluster default CSS",
        re.compile(r"/leaflet\.markercluster/1\.\d+\.\d+/MarkerCluster\.Default\.css$"),
        _CLUSTER_DEFAULT_CSS,
    ),
    _Rule("d3 3.x", re.compile(r"/d3/3\.\d+\.\d+/d3(\.min)?\.js$"), _D3_JS),
)

# A script, stylesheet, image or frame fetched from another host, once the libraries are inlined.
_REMOTE_REFERENCE = re.compile(
    r"""<(?P<tag>script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*\\?["']?"""
    r"""(?P<url>(?:https?:)?//[^"'\s>\\]+)"""
    r"""|@import\s+(?:url\(\s*)?["']?(?P<import>(?:https?:)?//[^"')\s;]+)""",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"""url\(\s*(?P<quote>["']?)(?P<url>[^"')]+)(?P=quote)\s*\)""")
_SOURCE_MAP = re.compile(r"^\s*(?://|/\*)# sourceMappingURL=\S+(?:\s*\*/)?\s*$", re.MULTILINE)
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)
_STYLE_END = re.compile(r"</(style)", re.IGNORECASE)
_COMMENT_OPEN = "<!--"

#: Deepest zoom of :func:`base_map` (OpenStreetMap's standard tiles go to 19).
_MAX_ZOOM_LEVEL = 18

#: Metric scale only (Leaflet adds miles by default) and French zoom buttons, for every control
#: the page creates afterwards.
_CONTROL_DEFAULTS_JS = (
    "L.Control.Scale.mergeOptions({imperial: false});\n"
    "L.Control.Zoom.mergeOptions({zoomInTitle: 'Zoom avant', zoomOutTitle: 'Zoom arrière'});\n"
)
_HTML_TAG = re.compile(r"<html(?=[\s>])(?![^>]*\blang=)", re.IGNORECASE)

_DEFAULT_ICONS = {
    "iconUrl": "marker-icon.png",
    "iconRetinaUrl": "marker-icon-2x.png",
    "shadowUrl": "marker-shadow.png",
}


# --- Public API ------------------------------------------------------------------------------


def base_map(
    bounds: Sequence[float], *, tiles: bool = False, title: str | None = None
) -> folium.Map:
    """Create a canvas-rendered map fitted to ``bounds``, ready for an offline export.

    Parameters
    ----------
    bounds : sequence of 4 floats
        ``(west, south, east, north)`` in degrees (EPSG:4326), as returned by
        ``gdf.to_crs(4326).total_bounds``.
    tiles : bool, default False
        Add the OpenStreetMap background. Tiles come from the internet: leave ``False`` for a
        page shown offline (:func:`to_offline_html` refuses remote tiles by default).
    title : str, optional
        Title of the HTML page.

    Returns
    -------
    folium.Map
        Map with ``prefer_canvas=True``, a metric scale control, French zoom buttons, a
        maximum zoom of 18 (which MarkerCluster needs when there are no tiles), and no
        CDN-only element.

    Examples
    --------
    >>> m = base_map((2.9, 45.3, 3.9, 46.2), title="Puy-de-Dôme")
    >>> m.options["prefer_canvas"], m.options["max_zoom"]
    (True, 18)
    """
    west, south, east, north = _validate_bounds(bounds)
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles="OpenStreetMap" if tiles else None,
        prefer_canvas=True,
        control_scale=True,
    )
    # Without a tile layer the map has no maxZoom, and MarkerCluster then throws "Map has no
    # maxZoom specified" (folium.Map drops its max_zoom argument when tiles=None).
    m.options["max_zoom"] = _MAX_ZOOM_LEVEL
    m.fit_bounds([[south, west], [north, east]])
    figure = m.get_root()
    if isinstance(figure, Figure):  # always, for a new map
        # Before the map's own script: Leaflet's controls read these defaults when created.
        figure.script.add_child(RawScript(_CONTROL_DEFAULTS_JS), name="cartosoins_control_defaults")
        # the territory, for the page layout to frame it again beside the title and sources
        MapScript(
            f"{{map}}.cartosoinsBounds = {json.dumps([[south, west], [north, east]])};\n"
        ).add_to(m)
        if title is not None:
            # branca puts the title in <title> without escaping it.
            figure.title = html.escape(title, quote=False)
    return m


def to_offline_html(m: folium.Map, *, allow_remote_tiles: bool = False) -> str:
    """Render ``m`` as one self-contained HTML page that needs no network.

    Each script and stylesheet folium or branca reference from a CDN is replaced by an inline
    ``<script>``/``<style>`` holding the same library from a Python package, or dropped when the
    page's code does not use it (jQuery without popups, Bootstrap, Font Awesome,
    awesome-markers, glyphicons). Leaflet's images (layer-control toggle, default marker) become
    data URIs.

    Parameters
    ----------
    m : folium.Map
        The map; create it with ``tiles=None`` (see :func:`base_map`) for offline use. Its
        figure is left as it was.
    allow_remote_tiles : bool, default False
        Accept tile layers loaded from the internet (the page then shows them only when
        online). Scripts and stylesheets are always inlined.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    DataValidationError
        If ``m`` is not a folium map, references an asset no package provides (unknown CDN URL,
        awesome-markers icons, Font Awesome…), still holds a remote script, stylesheet, image or
        frame, a non-embedded GeoJson or, unless allowed, a remote tile layer. The message
        names the URL.
    ReferenceDataError
        If a package holding the libraries (XStatic-Leaflet…) is not installed.

    Examples
    --------
    >>> page = to_offline_html(base_map((2.9, 45.3, 3.9, 46.2)))
    >>> "https://cdn" in page
    False
    """
    if not isinstance(m, folium.Map):
        raise DataValidationError(f"m must be a folium.Map, got {type(m).__name__}")
    _check_remote_layers(m, allow_remote_tiles=allow_remote_tiles)
    figure = m.get_root()
    if not isinstance(figure, Figure):
        raise DataValidationError(
            f"m must belong to a branca Figure to be rendered as a page, "
            f"got {type(figure).__name__}"
        )
    header_parts, body, script = _render_sections(figure)
    page_code = "\n".join([*(p for p in header_parts if isinstance(p, str)), body, script])
    _check_no_remote_reference(page_code)
    header = _inline_links(header_parts, page_code)
    # Figure's own page template, fed the rewritten sections.
    view = SimpleNamespace(
        title=figure.title,
        header=_Rendered(header),
        html=_Rendered(body),
        script=_Rendered(script),
    )
    page = str(figure._template.render(this=view, kwargs={}))
    return _HTML_TAG.sub('<html lang="fr"', page, count=1)  # French text: screen readers, hyphens


def save_offline_html(m: folium.Map, path: str | Path, *, allow_remote_tiles: bool = False) -> Path:
    """Write :func:`to_offline_html` of ``m`` to ``path`` (UTF-8) and return the path.

    Parameters
    ----------
    m : folium.Map
        The map.
    path : str or pathlib.Path
        Output file; its folder must exist.
    allow_remote_tiles : bool, default False
        See :func:`to_offline_html`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    page = to_offline_html(m, allow_remote_tiles=allow_remote_tiles)
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


# --- Helpers ---------------------------------------------------------------------------------


class _Rendered:
    """Stand-in for a branca element whose rendering is already known."""

    def __init__(self, text: str) -> None:
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


def _validate_bounds(bounds: Sequence[float]) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in bounds)
    except (TypeError, ValueError):
        raise DataValidationError(
            f"bounds must be 4 numbers (west, south, east, north) in degrees, got {bounds!r}"
        ) from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise DataValidationError(
            f"bounds must be 4 finite numbers (west, south, east, north) in degrees, got {bounds!r}"
        )
    west, south, east, north = values
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise DataValidationError(
            f"bounds must be (west, south, east, north) in EPSG:4326 degrees with west <= east "
            f"and south <= north, got {bounds!r}"
        )
    return west, south, east, north


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in element._children.values():
        yield from _walk(child)


def _check_remote_layers(m: folium.Map, *, allow_remote_tiles: bool) -> None:
    for element in _walk(m):
        if isinstance(element, folium.GeoJson) and not element.embed:
            raise DataValidationError(
                f"GeoJson loads {element.embed_link!r} when the page opens: pass embed=True "
                "for a self-contained page"
            )
        url = element.tiles if isinstance(element, folium.TileLayer) else None
        if not allow_remote_tiles and isinstance(url, str) and _is_remote(url):
            raise DataValidationError(
                f"TileLayer loads {url!r} from the internet: create an offline map with "
                "tiles=None (or pass allow_remote_tiles=True)"
            )


def _is_remote(url: str) -> bool:
    return re.match(r"(?:[a-z][a-z0-9+.-]*:)?//", url, re.IGNORECASE) is not None


def _render_sections(figure: Figure) -> tuple[list[str | Link], str, str]:
    """Render the figure's header (links left as objects), body and script.

    Rendering fills the figure's sections, and folium adds fresh ``layer.addTo(map)`` lines at
    each render; the sections are restored so that exporting twice gives the same page.
    """
    sections = (figure.header, figure.html, figure.script)
    saved = [section._children.copy() for section in sections]
    try:
        for child in figure._children.values():  # what Figure.render does before its template
            child.render()
        header: list[str | Link] = [
            child if isinstance(child, Link) else str(child.render())
            for child in figure.header._children.values()
        ]
        return header, str(figure.html.render()), str(figure.script.render())
    finally:
        for section, children in zip(sections, saved, strict=True):
            section._children = children


def _check_no_remote_reference(page_code: str) -> None:
    match = _REMOTE_REFERENCE.search(page_code)
    if match is not None:
        url = match["url"] or match["import"]
        what = f"<{match['tag'].lower()}>" if match["tag"] else "@import"
        raise DataValidationError(
            f"the map still references {url!r} ({what}): an offline page cannot load it"
        )


def _inline_links(header_parts: list[str | Link], page_code: str) -> str:
    """Header with each link replaced by its library inline (once) or dropped."""
    inlined: set[_PackageFile] = set()
    header: list[str] = []
    for part in header_parts:
        if isinstance(part, str):
            header.append(part)
            continue
        source = _resolve(part, page_code)
        if source is not None and source not in inlined:
            inlined.add(source)
            header.append(_inline(source))
    return "\n".join(header)


def _resolve(link: Link, page_code: str) -> _PackageFile | None:
    """Package file replacing ``link``, or ``None`` when the page does not need it."""
    url = str(link.url)
    if not _is_remote(url):
        raise DataValidationError(
            f"the map links {url!r}, which is not a CDN URL this module knows how to inline"
        )
    for rule in _RULES:
        if rule.pattern.search(url) is None:
            continue
        needed = rule.used is None or rule.used(page_code)
        if rule.source is None and needed:
            raise DataValidationError(
                f"the map needs {rule.label} from {url!r}, which has no offline copy: {rule.hint}"
            )
        return rule.source if needed else None
    raise DataValidationError(
        f"the map links {url!r}, an asset with no offline copy (known: "
        f"{', '.join(rule.label for rule in _RULES)}); remove the element that adds it"
    )


def _inline(source: _PackageFile) -> str:
    text = _read_text(source)
    if source.kind == "css":
        text = _STYLE_END.sub(r"<\\/\1", _inline_css_urls(text, source))
        return f"<style>\n{text}\n</style>"
    # `</script` would close the element early and `<!--` can switch the HTML parser into
    # "script data escaped" mode; both only occur in JS strings or regexes, where `\/` and `\!`
    # read as `/` and `!`.
    text = _SCRIPT_END.sub(r"<\\/\1", text).replace(_COMMENT_OPEN, "<\\!--")
    if source == _LEAFLET_JS:
        text += "\n" + _default_icon_script()
    return f"<script>\n{text}\n</script>"


@cache
def _read_text(source: _PackageFile) -> str:
    text = (
        _package_path(source.module, source.distribution)
        .joinpath(source.path)
        .read_text(encoding="utf-8")
    )
    return _SOURCE_MAP.sub("", text)


def _package_path(module: str, distribution: str) -> Any:
    try:
        return resources.files(module)
    except ModuleNotFoundError:
        raise ReferenceDataError(
            f"offline maps need the Python package {distribution!r} (module {module!r}): "
            f"pip install {distribution}"
        ) from None


@cache
def _data_uri(module: str, distribution: str, path: str) -> str:
    resource = _package_path(module, distribution).joinpath(path)
    if not resource.is_file():
        raise ReferenceDataError(f"{distribution} has no file {path!r}")
    suffix = PurePosixPath(path).suffix.lower().lstrip(".")
    mime = {"png": "image/png", "svg": "image/svg+xml", "gif": "image/gif"}.get(suffix)
    if mime is None:
        raise ReferenceDataError(f"cannot inline {path!r} from {distribution}: unknown type")
    return f"data:{mime};base64,{base64.b64encode(resource.read_bytes()).decode('ascii')}"


def _inline_css_urls(css: str, source: _PackageFile) -> str:
    folder = PurePosixPath(source.path).parent

    def replace(match: re.Match[str]) -> str:
        url = match["url"].strip()
        if url.startswith(("#", "data:")):
            return match[0]
        if _is_remote(url):
            raise DataValidationError(
                f"{source.distribution} {source.path} references {url!r}, which needs the network"
            )
        return f'url("{_data_uri(source.module, source.distribution, str(folder / url))}")'

    return _CSS_URL.sub(replace, css)


@cache
def _default_icon_script() -> str:
    """Point Leaflet's default marker at data URIs: its CSS-based path detection fails inline."""
    module, distribution = _LEAFLET_JS.module, _LEAFLET_JS.distribution
    options = ", ".join(
        f'{key}: "{_data_uri(module, distribution, f"{_LEAFLET_IMAGES}/{name}")}"'
        for key, name in _DEFAULT_ICONS.items()
    )
    return f'L.Icon.Default.imagePath = "";\nL.Icon.Default.mergeOptions({{{options}}});'
