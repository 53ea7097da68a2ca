"""The notebooks run top to bottom (nbclient, a real kernel) on the repository's data."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_are_built_from_their_sources() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_notebooks.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


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


@pytest.mark.parametrize(
    ("path", "variant"), CASES, ids=[f"{p.stem}{'-' + v if v else ''}" for p, v in CASES]
)
def test_notebook_runs(
    path: Path, variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if variant:
        monkeypatch.setenv("CARTOSOINS_SHARED_DATA", str(tmp_path / "absent"))
    work = tmp_path / path.stem
    work.mkdir()
    shutil.copy(path, work / path.name)
    nb = nbformat.read(work / path.name, as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(work)}},
    )
    client.execute()
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
