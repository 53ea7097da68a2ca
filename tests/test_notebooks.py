"""The notebooks: built from scripts/build_notebooks.py, committed executed, offline, runnable.

They run top to bottom (nbclient, a real kernel) on the repository's data with every network
connection refused, as the build script runs them; their committed outputs load nothing remote
(the maps are offline pages in an iframe, geo.maps.notebook).
"""

from __future__ import annotations

import html
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import folium
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from geo.errors import DataValidationError
from geo.maps.notebook import NotebookMap, notebook_map

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: A resource the browser would load from the network (a link to a web page is not one).
REMOTE_LOAD = re.compile(
    r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*\b(?:src|href)\s*=\s*["']?"""
    r"""(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""",
    re.IGNORECASE,
)


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", ROOT / "scripts" / "build_notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_are_built_from_their_sources_and_executed() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_notebooks.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs_load_nothing_remote(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code)  # committed executed
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    texts = [
        html.unescape(v if isinstance(v, str) else "".join(v))
        for o in outputs
        for k, v in (o.get("data") or {}).items()
        if k.startswith("text/")
    ]
    assert texts
    for text in texts:
        assert REMOTE_LOAD.search(text) is None, REMOTE_LOAD.search(text)
        assert "cdn.jsdelivr" not in text and "unpkg.com" not in text
    for text in texts:  # never a practitioner's identifier
        assert not re.search(r"BPE-\d[\dAB]\d{3}-\d", text)
    maps = [t for t in texts if "<iframe srcdoc=" in t]
    if path.stem in ("01_demarrage_rapide", "03_residence_entrepreneurs"):
        assert maps and all("L.map(" in t or "L.map (" in t for t in maps)


def test_notebook_map_is_an_offline_iframe() -> None:
    m = folium.Map(location=[45.77, 3.08], zoom_start=9, tiles=None)
    folium.CircleMarker([45.77, 3.08], radius=5, tooltip="Clermont-Ferrand").add_to(m)
    shown = notebook_map(m, height=400)
    assert isinstance(shown, NotebookMap)
    frame = shown._repr_html_()
    assert frame.startswith("<div") and "<iframe srcdoc=" in frame and "height:400px" in frame
    assert "faites confiance au carnet" in frame  # what an untrusted notebook shows instead
    assert 'sandbox="allow-scripts"' in frame
    page = html.unescape(frame.split('srcdoc="', 1)[1].split('" style=', 1)[0])
    assert page == shown.page and "Clermont-Ferrand" in page
    assert REMOTE_LOAD.search(page) is None
    assert "leaflet" in page.lower() and "L.map(" in page  # Leaflet inlined, not a CDN link
    # folium's own display (what notebooks showed before) loads Leaflet from a CDN
    assert REMOTE_LOAD.search(html.unescape(m._repr_html_())) is not None
    assert "carte hors ligne" in repr(shown)


def test_notebook_map_refuses_what_needs_the_network() -> None:
    with pytest.raises(DataValidationError):
        notebook_map(folium.Map(location=[45.77, 3.08], tiles="OpenStreetMap"))
    with pytest.raises(DataValidationError, match="pixels"):
        notebook_map("<p>carte</p>", height=0)


def test_execution_has_no_network(tmp_path: Path) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell(
                "import urllib.request\n"
                "try:\n"
                "    urllib.request.urlopen('http://example.org', timeout=2)\n"
                "    print('réseau : ouvert')\n"
                "except OSError as exc:\n"
                "    print('réseau : coupé', type(exc).__name__)"
            )
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    _build_script().execute(nb, tmp_path, timeout=60)
    assert nb.cells[0].outputs[0]["text"].startswith("réseau : coupé")


#: What each notebook must leave in its sorties/ folder.
EXPECTED_OUTPUTS = {
    "01_demarrage_rapide": {".html", ".png"},
    "02_vos_donnees": {".gpkg", ".json", ".png"},
    "03_residence_entrepreneurs": {".html"},
}
CASES = [(path, "") for path in NOTEBOOKS] + [
    # the "bring your own data" notebook also runs where ../shared/data is absent
    (ROOT / "notebooks" / "02_vos_donnees.ipynb", "sans-echantillons")
]


@pytest.mark.slow  # 13-21 s each, about 70 s together: `pytest -m slow`
@pytest.mark.parametrize(
    ("path", "variant"), CASES, ids=[f"{p.stem}{'-' + v if v else ''}" for p, v in CASES]
)
def test_notebook_runs_offline(
    path: Path, variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if variant:
        monkeypatch.setenv("CARTOSOINS_SHARED_DATA", str(tmp_path / "absent"))
    work = tmp_path / path.stem
    work.mkdir()
    shutil.copy(path, work / path.name)
    nb = nbformat.read(work / path.name, as_version=4)
    for cell in nb.cells:  # run from scratch, not from the committed outputs
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    _build_script().execute(nb, work, timeout=120)
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert errors == []
    written = {p.suffix for p in (work / "sorties").iterdir()}
    assert EXPECTED_OUTPUTS[path.stem] <= written
