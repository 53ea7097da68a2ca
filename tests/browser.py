"""Headless Debian Chromium for the map tests, with every network request blocked.

Driven by Playwright's Python package (its own browser download is not used: it cannot happen
here). `.ci/run` installs Debian's chromium; without it the browser tests skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# --- Real browser ----------------------------------------------------------------------------
#
# Headless Debian Chromium driven by Playwright's Python package (its own browser download is
# not used). Every request other than the page itself is aborted and recorded.

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1000, "height": 700}


@dataclass
class PageReport:
    """What happened while a page loaded with the network cut."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


class OfflineBrowser:
    """Open local HTML files in headless Chromium with every other request blocked."""

    def __init__(self, context: Any) -> None:
        self._context = context

    def open(
        self,
        path: Path,
        *,
        timeout_ms: int = 5_000,
        viewport: tuple[int, int] | None = None,
    ) -> tuple[Any, PageReport]:
        """Load ``path`` (at ``viewport`` = (width, height) if given) and wait for its drawing."""
        report = PageReport()
        url = path.resolve().as_uri()

        def route(route: Any) -> None:
            if route.request.url == url:
                route.continue_()
            else:
                report.blocked.append(route.request.url)
                route.abort("blockedbyclient")

        page = self._context.new_page()
        page.set_default_timeout(timeout_ms)
        page.route("**/*", route)
        page.on("request", lambda r: report.requests.append(r.url))
        page.on("requestfailed", lambda r: report.failed.append(f"{r.url} ({r.failure})"))
        page.on(
            "console",
            lambda msg: report.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: report.page_errors.append(str(exc)))
        if viewport is not None:
            page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
        page.goto(url, wait_until="load")
        # Two animation frames: Leaflet's canvas renderer draws on the next frame.
        page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        return page, report


def hover_until(page: Any, point: list[int], selector: str, max_moves: int = 40) -> str:
    """Wiggle the mouse on ``point`` until ``selector`` appears; return its text.

    Leaflet's canvas renderer throttles hover hit-testing, so the first moves after a load are
    not always seen (measured: the tooltip opens on the fourth move, 50 ms apart).
    """
    for move in range(max_moves):
        page.mouse.move(point[0] + 3 * (move % 2), point[1])
        page.wait_for_timeout(50)
        if page.locator(selector).count():
            return str(page.locator(selector).first.text_content())
    raise AssertionError(f"{selector} did not appear after {max_moves} mouse moves on {point}")


def launch_offline_browser(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OfflineBrowser]:
    """Yield an :class:`OfflineBrowser`; skip when Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright Python package is not installed"
    )
    profile = tmp_path_factory.mktemp("chromium-profile")  # fresh --user-data-dir
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=VIEWPORT,
            service_workers="block",
        )
        try:
            yield OfflineBrowser(context)
        finally:
            context.close()


COUNT_LAYERS_JS = """
() => {
    const map = window[document.querySelector(".folium-map").id];
    const counts = {polygons: 0, circleMarkers: 0, markers: 0, clusterGroups: 0,
                    clusteredMarkers: 0, geoJsonWithTooltip: 0};
    map.eachLayer(layer => {
        if (L.MarkerClusterGroup && layer instanceof L.MarkerClusterGroup) {
            counts.clusterGroups += 1;
            counts.clusteredMarkers += layer.getLayers().length;
        } else if (layer instanceof L.CircleMarker) {
            counts.circleMarkers += 1;
        } else if (layer instanceof L.Polygon) {
            counts.polygons += 1;
        } else if (layer instanceof L.Marker
                   && !(L.MarkerCluster && layer instanceof L.MarkerCluster)
                   && !(layer.__parent)) {
            counts.markers += 1;
        }
    });
    map.eachLayer(layer => {
        if (layer instanceof L.GeoJSON && layer.getTooltip()) counts.geoJsonWithTooltip += 1;
    });
    counts.canvases = document.querySelectorAll(".leaflet-overlay-pane canvas").length;
    counts.svgPathsInMap = document.querySelectorAll(".leaflet-pane svg path").length;
    return counts;
}
"""

CENTRE_OF_JS = """
([lat, lon]) => {
    const map = window[document.querySelector(".folium-map").id];
    const p = map.latLngToContainerPoint([lat, lon]);
    const box = map.getContainer().getBoundingClientRect();
    return [Math.round(p.x + box.left), Math.round(p.y + box.top)];
}
"""


# --- Layout of a map page (issue 12: readable in a slide, a laptop, a large screen) ---------

#: The window sizes a map must be readable at: an iframe in a slide, a laptop, a large screen.
VIEWPORTS = ((800, 450), (1024, 768), (1920, 1080))

#: Boxes of the blocks over a map that must never overlap, by name; hidden ones are left out.
OVERLAY_BOXES_JS = """
() => {
    const sel = {title: '.cs-title', legend: '.cs-legend', layers: '.leaflet-control-layers',
                 zoom: '.leaflet-control-zoom', scale: '.leaflet-control-scale',
                 credits: '.cs-credits', attribution: '.leaflet-control-attribution'};
    const out = {};
    for (const [name, s] of Object.entries(sel)) {
        for (const [i, el] of [...document.querySelectorAll(s)].entries()) {
            const r = el.getBoundingClientRect();
            if (r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden') {
                out[i ? name + i : name] = [r.left, r.top, r.right, r.bottom];
            }
        }
    }
    return out;
}
"""

#: Screen points of candidate communes ([code, lat, lon] in) that the pointer can reach: on
#: the map's canvas (not under a title, legend or control), away from practitioner circles.
#: Returns, per edge of the window, the reachable commune nearest it: [code, x, y].
EDGE_COMMUNES_JS = """
(candidates) => {
    const map = window[document.querySelector(".folium-map").id];
    const box = map.getContainer().getBoundingClientRect();
    const circles = [];
    map.eachLayer(l => { if (l instanceof L.CircleMarker && l._radius) circles.push(l); });
    const free = (x, y) => {
        const el = document.elementFromPoint(x, y);
        if (!el || el.tagName !== 'CANVAS') return false;
        return !circles.some(c => {
            const p = map.latLngToContainerPoint(c.getLatLng());
            return Math.hypot(p.x + box.left - x, p.y + box.top - y) < c._radius + 4;
        });
    };
    const pts = candidates.map(([code, lat, lon]) => {
        const p = map.latLngToContainerPoint([lat, lon]);
        return [code, Math.round(p.x + box.left), Math.round(p.y + box.top)];
    }).filter(([, x, y]) => x > 2 && y > 2 && x < innerWidth - 2 && y < innerHeight - 2
                            && free(x, y));
    const best = key => pts.reduce((a, b) => (key(b) < key(a) ? b : a));
    return {west: best(p => p[1]), east: best(p => -p[1]), north: best(p => p[2]),
            south: best(p => -p[2])};
}
"""


def overlaps(boxes: dict[str, list[float]]) -> list[tuple[str, str]]:
    """Pairs of boxes (left, top, right, bottom) that share more than a pixel's width."""
    names = sorted(boxes)
    found = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            (l1, t1, r1, b1), (l2, t2, r2, b2) = boxes[a], boxes[b]
            if min(r1, r2) - max(l1, l2) > 0.5 and min(b1, b2) - max(t1, t2) > 0.5:
                found.append((a, b))
    return found


def tooltip_at(page: Any, point: list[int], text: str, max_moves: int = 40) -> list[float]:
    """Wiggle the pointer on ``point`` until a tooltip holding ``text`` opens; its box."""
    for move in range(max_moves):
        page.mouse.move(point[0] + (move % 2), point[1])
        page.wait_for_timeout(50)
        box = page.evaluate(
            """(text) => { const t = [...document.querySelectorAll('.leaflet-tooltip')]
                   .find(el => el.textContent.includes(text));
                   if (!t) return null; const r = t.getBoundingClientRect();
                   return [r.left, r.top, r.right, r.bottom]; }""",
            text,
        )
        if box is not None:
            return list(box)
    raise AssertionError(f"no tooltip with {text!r} after {max_moves} mouse moves on {point}")
