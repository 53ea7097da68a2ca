"""The notebooks: built from scripts/build_notebooks.py, committed executed, offline, runnable.

They run top to bottom (nbclient, a real kernel) on the repository's data with every network
connection refused, as the build script runs them; their committed outputs load nothing remote
(the maps are offline pages in an iframe, geo.maps.notebook) and each ends on its map. The
"bring your own data" notebook (02) starts with the cell a reader edits, reads the real samples
of ../shared/data by default, and stops with a French message when its file is missing.
"""

from __future__ import annotations

import ast
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
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

from geo.errors import DataValidationError
from geo.maps.notebook import NotebookMap, notebook_map
from tests.conftest import requires_shared_data

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
YOUR_DATA = ROOT / "notebooks" / "02_vos_donnees.ipynb"
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
    assert maps and all("L.map(" in t or "L.map (" in t for t in maps)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_last_cell_shows_the_map_itself(path: Path) -> None:
    last = nbformat.read(path, as_version=4).cells[-1]
    assert last.cell_type == "code" and "notebook_map(" in last.source.splitlines()[-1]
    results = [o for o in last.outputs if o.get("output_type") == "execute_result"]
    assert len(results) == 1
    shown = results[0]["data"]
    assert "<iframe srcdoc=" in shown["text/html"]  # the map, inline
    page = html.unescape(shown["text/html"].split('srcdoc="', 1)[1])
    assert "L.map(" in page and REMOTE_LOAD.search(page) is None
    assert shown["text/plain"].startswith("<carte hors ligne")  # not a file path
    assert "sorties" not in shown["text/plain"] and "Path(" not in shown["text/plain"]


#: What a reader must not meet in a notebook: the test suite's or the build's machinery.
PLUMBING = re.compile(
    r"\b(?:pytest|monkeypatch|tmp_path|papermill|nbclient|conftest|tests?|environ|getenv"
    r"|CARTOSOINS_\w*|sys\.argv|import os)\b"
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_cell_shows_test_plumbing(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        assert PLUMBING.search(cell.source) is None, (cell.id, PLUMBING.search(cell.source))
        for out in cell.get("outputs", []):
            text = out.get("text") or "".join((out.get("data") or {}).get("text/plain", ""))
            assert PLUMBING.search(text) is None, (cell.id, PLUMBING.search(text))


def _parameters(nb: nbformat.NotebookNode) -> dict[str, str]:
    """The names the reader's cell sets, with their literal values."""
    tree = ast.parse(nb.cells[0].source)
    return {
        target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def test_your_data_starts_with_the_cell_to_edit() -> None:
    nb = nbformat.read(YOUR_DATA, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code" and first.metadata.get("tags") == ["parameters"]
    heading = first.source.splitlines()[0]
    assert heading.startswith("#") and "mettez votre fichier ici" in heading.lower()
    assert "docs/donnees.md" in first.source
    for fmt in ("BPE", "RPPS", "GeoJSON", "GeoPackage", "latitude/longitude"):
        assert fmt in first.source  # the comment names the accepted formats
    values = _parameters(nb)
    assert values["FICHIER"].startswith("../shared/data/bpe/")
    assert values["FICHIER_AGES"].startswith("../shared/data/")
    assert "[docs/donnees.md](../docs/donnees.md)" in nb.cells[1].source  # a link that opens
    choose = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    listed = choose.index("all_professions=True")  # first what the file holds…
    chosen = choose.index('PROFESSION = "medecin_generaliste"')  # …then the choice
    assert listed < chosen and "profession=PROFESSION" in choose[chosen:]
    assert "generate_practitioners" not in choose and "simul" not in choose.replace(
        "données simulées", ""
    )  # never a silent switch to simulated data


@requires_shared_data
def test_your_data_points_at_the_real_samples() -> None:
    values = _parameters(nbformat.read(YOUR_DATA, as_version=4))
    for name in ("FICHIER", "FICHIER_AGES"):  # relative to the repository, as the comment says
        assert (ROOT / values[name]).is_file(), values[name]


def _inject(nb: nbformat.NotebookNode, **values: str) -> None:
    """Set parameters as papermill does: a cell after the one tagged ``parameters``."""
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    cell = new_code_cell("\n".join(f"{k} = {v!r}" for k, v in values.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(at + 1, cell)


def test_your_data_stops_without_its_file(tmp_path: Path) -> None:
    """Samples absent (or the reader's file missing): a French message, then nothing more."""
    nb = nbformat.read(YOUR_DATA, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    absent = tmp_path / "absent"
    _inject(nb, FICHIER=str(absent / "bpe.csv"), FICHIER_AGES=str(absent / "ages.csv"))
    with pytest.raises(CellExecutionError, match="FileNotFoundError"):
        _build_script().execute(nb, tmp_path, timeout=60)
    code = [c for c in nb.cells if c.cell_type == "code"]
    ran = [c for c in code if c.execution_count]
    assert len(ran) == 3  # the reader's cell, the injected one, the cell that checks the files
    errors = [o for o in ran[-1].outputs if o.get("output_type") == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "FileNotFoundError"
    message = errors[0]["evalue"]
    assert message.startswith(f"Fichier introuvable : {absent / 'bpe.csv'}")
    assert "première cellule" in message and "docs/donnees.md" in message
    assert "s'arrête ici" in message and "données simulées" in message
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if "text/html" in (o.get("data") or {})]  # no map, no table
    assert not (tmp_path / "sorties").exists()


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
    "02_vos_donnees": {".gpkg", ".json", ".png", ".html"},
    "03_residence_entrepreneurs": {".html"},
}
CASES = [
    # the "bring your own data" notebook reads ../shared/data by default
    pytest.param(path, marks=requires_shared_data if path == YOUR_DATA else (), id=path.stem)
    for path in NOTEBOOKS
]


@pytest.mark.slow  # 6-8 s each (a kernel, real data), 22 s together: `pytest -m slow`
@pytest.mark.parametrize("path", CASES)
def test_notebook_runs_offline(path: Path, tmp_path: Path) -> None:
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
