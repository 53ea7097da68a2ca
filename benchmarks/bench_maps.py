"""Maps at every scale: a département, a région and France, with the practitioners' circles.

Run: .venv/bin/python benchmarks/bench_maps.py [--repeat 5] [--browser-repeat 3] [--no-browser]
     [--no-static]

For each territory (real GPs, INSEE BPE; APL measure), the analysis is computed once, then:

- interactive build: ``analysis_map`` with the aggregated circles + ``to_offline_html``, wall
  and CPU time, median and best over ``--repeat`` runs; size of the HTML page;
- Chromium draw: Debian's headless Chromium (Playwright, every request but the page blocked)
  opens the page; the time is ``performance.now()`` once the load event has fired and two
  animation frames have passed (Leaflet's canvas renderer paints on the next frame), i.e. from
  navigation start to the communes and circles drawn; the page then counts the communes and
  circles Leaflet holds (they must equal the built ones). The CPU seconds of Chromium's
  processes during the load are printed too (psutil): on a shared machine they move less
  than the wall time;
- static: ``analysis_static_map`` + PNG bytes (25 × 18 cm, 200 dpi), once.

Targets (issue #12): département ≤ 1 MB and built in < 1 s; France < 30 MB and drawn in < 5 s.
The load average of the machine is printed before each territory: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api import core
from geo.analysis import analyse
from geo.maps.choropleth import analysis_map
from geo.maps.offline import to_offline_html
from geo.maps.static import analysis_static_map, static_map_bytes
from geo.territory import Territory, resolve_territory

CHROMIUM = Path("/usr/bin/chromium")
LABEL = "Médecins généralistes (par commune)"

#: Territory → (max build seconds, max MB, max draw seconds); None: no target.
TARGETS: dict[str, tuple[float | None, float | None, float | None]] = {
    "département": (1.0, 1.0, None),
    "région": (None, None, None),
    "France": (None, 30.0, 5.0),
}

_DRAWN_JS = """
() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => {
    const map = window[document.querySelector('.folium-map').id];
    let communes = 0, circles = 0;
    map.eachLayer(l => {
        if (l instanceof L.GeoJSON && l.getLayers().some(p => p.getTooltip && p.getTooltip()))
            communes = Math.max(communes, l.getLayers().length);
        if (l instanceof L.Circle) circles += 1;
    });
    resolve({ms: performance.now(), communes, circles, zoom: map.getZoom()});
})))
"""


@dataclass
class Timing:
    """Wall and CPU seconds of repeated runs."""

    wall: list[float]
    cpu: list[float]

    def text(self) -> str:
        return (
            f"{statistics.median(self.wall):.2f} / {min(self.wall):.2f} s wall, "
            f"{statistics.median(self.cpu):.2f} / {min(self.cpu):.2f} s CPU"
        )


def _timed(run: Callable[[], Any], repeat: int) -> tuple[Timing, Any]:
    wall, cpu, out = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = run()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return Timing(wall, cpu), out


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} / {five:.1f} (1 / 5 min) on {os.cpu_count()} CPU"


def _chromium_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each Chromium process this script started."""
    try:
        import psutil
    except ImportError:  # the CPU column is then empty
        return {}
    seconds = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name():
                times = child.cpu_times()
                seconds[child.pid] = times.user + times.system
        except psutil.Error:
            continue
    return seconds


def _draw(path: Path, repeat: int) -> list[dict[str, Any]]:
    """Open the page ``repeat`` times in a fresh Chromium page; what each load measured."""
    from playwright.sync_api import sync_playwright

    url = path.resolve().as_uri()
    runs = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
            viewport={"width": 1280, "height": 800},
        )
        for _ in range(repeat):
            page = context.new_page()
            page.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
            page.set_default_timeout(120_000)
            before = _chromium_cpu()
            page.goto(url, wait_until="load")
            drawn = page.evaluate(_DRAWN_JS)
            after = _chromium_cpu()
            drawn["cpu"] = sum(t - before.get(pid, 0.0) for pid, t in after.items())
            runs.append(drawn)
            page.close()
        context.close()
    return runs


def _case(
    name: str,
    territory: Territory,
    practitioners: Any,
    args: argparse.Namespace,
    folder: Path,
) -> tuple[list[str], bool]:
    print(f"\n{name}: {territory.name} — {len(territory.communes)} communes — {_load()}")
    result = analyse(territory, practitioners, "apl")
    points = core.aggregate_points(result, LABEL, territory.communes)
    timing, page = _timed(
        lambda: to_offline_html(
            analysis_map(result, territory.name, points=points, points_label=LABEL)
        ),
        args.repeat,
    )
    size_mb = len(page.encode("utf-8")) / 1e6
    path = folder / f"{territory.slug}.html"
    path.write_text(page, encoding="utf-8")
    max_s, max_mb, max_draw = TARGETS[name]
    ok = (max_s is None or statistics.median(timing.wall) < max_s) and (
        max_mb is None or size_mb <= max_mb
    )
    print(f"  interactive build (median / best of {args.repeat}): {timing.text()}")
    print(f"  HTML {size_mb:.2f} MB, {len(points)} circles")
    draw_text = "—"
    if not args.no_browser and CHROMIUM.exists():
        runs = _draw(path, args.browser_repeat)
        seconds = [r["ms"] / 1000 for r in runs]
        drawn = runs[-1]
        located = int(result.geometry.notna().sum())
        complete = drawn["communes"] == located and drawn["circles"] == len(points)
        ok &= complete and (max_draw is None or statistics.median(seconds) < max_draw)
        cpu = statistics.median(r["cpu"] for r in runs)
        draw_text = f"{statistics.median(seconds):.2f} / {min(seconds):.2f} (CPU {cpu:.1f})"
        print(
            f"  Chromium draw (median / best of {len(runs)}): {draw_text} s; "
            f"{drawn['communes']} communes and {drawn['circles']} circles drawn, "
            f"zoom {drawn['zoom']}{'' if complete else '  INCOMPLETE'}"
        )
    static_text = "—"
    if not args.no_static:
        static, png = _timed(
            lambda: static_map_bytes(
                analysis_static_map(result, territory.name, points=points, points_label=LABEL),
                "png",
            ),
            1,
        )
        static_text = f"{static.wall[0]:.1f} s, {len(png) / 1e6:.1f} MB"
        print(f"  static PNG 25×18 cm 200 dpi: {static.text()}, {len(png) / 1e6:.2f} MB")
    targets = ", ".join(
        t
        for t in (
            None if max_s is None else f"build < {max_s:g} s",
            None if max_mb is None else f"≤ {max_mb:g} MB",
            None if max_draw is None else f"drawn < {max_draw:g} s",
        )
        if t
    )
    row = [
        f"{name} ({territory.name})",
        f"{len(territory.communes):,}".replace(",", " "),
        f"{len(points):,}".replace(",", " "),
        f"{statistics.median(timing.wall):.2f} / {min(timing.wall):.2f}",
        f"{statistics.median(timing.cpu):.2f} / {min(timing.cpu):.2f}",
        f"{size_mb:.2f}",
        draw_text,
        static_text,
        (targets + (" OK" if ok else " MISSED")) if targets else ("OK" if ok else "MISSED"),
    ]
    return row, ok


def main() -> int:
    """Measure the three scales, print a Markdown table; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="interactive builds per map")
    parser.add_argument("--browser-repeat", type=int, default=3, help="Chromium loads per map")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-static", action="store_true")
    parser.add_argument("--departement", default="63")
    parser.add_argument("--region", default="84")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU, Python "
        f"{platform.python_version()}; {_load()}"
    )
    practitioners = core.builtin_practitioners(core.BPE_DATASET, core.BPE_PROFESSION, 0)
    cases = {
        "département": resolve_territory(departements=args.departement),
        "région": resolve_territory(regions=args.region),
        "France": resolve_territory(france="entiere"),
    }
    rows, failed = [], False
    with tempfile.TemporaryDirectory() as tmp:
        for name, territory in cases.items():
            row, ok = _case(name, territory, practitioners, args, Path(tmp))
            rows.append(row)
            failed |= not ok
    header = [
        "map (APL, real GPs)",
        "communes",
        "circles",
        "build wall s (median / best)",
        "build CPU s",
        "HTML MB",
        "Chromium draw s (median / best; CPU)",
        "static PNG",
        "targets",
    ]
    print(f"\n{_load()}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
