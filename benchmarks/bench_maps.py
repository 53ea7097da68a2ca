"""Build time and size of maps: a département and all of France, interactive and static.

Run: .venv/bin/python benchmarks/bench_maps.py [--repeat 3] [--no-browser]

Targets (issue "Interactive and print maps"): a département map ≤ 3 MB built in < 1 s; a
national commune map built in < 20 s that stays usable in a browser. "Usable" is measured:
headless Chromium (Debian's, network blocked) loads the offline page and draws every commune;
the time to the load event plus two frames is printed.

Build time = ``analysis_map`` + ``to_offline_html`` (the analysis itself is not included).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from geo.analysis import analyse
from geo.demo import generate_practitioners
from geo.maps.choropleth import analysis_map
from geo.maps.offline import to_offline_html
from geo.maps.static import analysis_static_map, static_map_bytes
from geo.reference import load_communes
from geo.territory import resolve_territory

TARGETS = {"Puy-de-Dôme (63)": (1.0, 3.0), "France": (20.0, None)}


def _browser_load(path: Path) -> tuple[float, int] | None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        return None
    from playwright.sync_api import sync_playwright

    url = path.resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(chromium),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
            viewport={"width": 1280, "height": 800},
        )
        page = context.new_page()
        page.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
        page.set_default_timeout(120_000)
        t0 = time.perf_counter()
        page.goto(url, wait_until="load")
        page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        seconds = time.perf_counter() - t0
        features = page.evaluate(
            """() => { const map = window[document.querySelector('.folium-map').id]; let n = 0;
            map.eachLayer(l => { if (l instanceof L.GeoJSON && l.getLayers().some(
                p => p.getTooltip && p.getTooltip())) n = l.getLayers().length; }); return n; }"""
        )
        context.close()
    return seconds, int(features)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    france = load_communes()
    gps = generate_practitioners(france, seed=0, professions=["medecin_generaliste"])
    failed = False
    cases = {
        "Puy-de-Dôme (63)": (resolve_territory(departements="63").communes, "apl", "reference"),
        "France": (france, "apl", None),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (communes, measure, around) in cases.items():
            result = analyse(communes, gps, measure, surroundings=around)
            times, page = [], ""
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                page = to_offline_html(analysis_map(result, name))
                times.append(time.perf_counter() - t0)
            size_mb = len(page.encode("utf-8")) / 1e6
            max_s, max_mb = TARGETS[name]
            ok = max(times) < max_s and (max_mb is None or size_mb <= max_mb)
            failed |= not ok
            path = Path(tmp) / f"{name[:6]}.html"
            path.write_text(page, encoding="utf-8")
            located = int(result.geometry.notna().sum())
            line = (
                f"{name:18s} communes={located:6d}  interactive build median "
                f"{statistics.median(times):.2f} s, worst {max(times):.2f} s (target < {max_s} s)"
                f"  size {size_mb:.2f} MB" + (f" (target ≤ {max_mb} MB)" if max_mb else "")
            )
            if not args.no_browser:
                loaded = _browser_load(path)
                if loaded is not None:
                    seconds, features = loaded
                    ok_draw = features == located
                    failed |= not ok_draw
                    line += f"  | Chromium load+draw {seconds:.1f} s, {features} communes drawn"
            print(line + ("  OK" if ok else "  MISSED"))
            if name != "France":
                t0 = time.perf_counter()
                fig = analysis_static_map(result, name, width_cm=25, height_cm=18, dpi=200)
                t_fig = time.perf_counter() - t0
                sizes = {}
                for fmt in ("png", "svg", "pdf"):
                    t0 = time.perf_counter()
                    sizes[fmt] = (len(static_map_bytes(fig, fmt)), time.perf_counter() - t0)
                print(
                    f"{'':18s} static 25×18 cm 200 dpi: figure {t_fig:.2f} s; "
                    + ", ".join(
                        f"{fmt.upper()} {n / 1e3:.0f} kB in {s:.2f} s"
                        for fmt, (n, s) in sizes.items()
                    )
                )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
