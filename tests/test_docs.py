"""The documentation tells the truth: its examples run, its figures match the measurements.

* every ```python block of ``docs/*.md`` runs as written, from a temporary folder holding a copy
  of ``docs/exemples/`` (the files the examples read, at the path they name);
* ``docs/exemples/`` is what ``scripts/build_doc_examples.py`` derives from ``../shared/data``;
* the README's image caption names the script that draws the image, its per-map size is the
  one BENCHMARKS.md measured, and BENCHMARKS.md's counts of simulated GPs are those of
  ``geo.demo`` for the seed each run used.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from geo.demo import generate_practitioners
from geo.reference import load_communes

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "exemples"
README = ROOT / "README.md"
BENCHMARKS = ROOT / "BENCHMARKS.md"

_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks(markdown: str) -> Iterator[tuple[int, str]]:
    """Yield (line of the opening fence, code) for each ```python block of a Markdown text."""
    for match in _BLOCK.finditer(markdown):
        yield markdown.count("\n", 0, match.start()) + 1, match.group(1)


def _doc_examples() -> list[Any]:
    params = []
    for page in sorted(DOCS.glob("*.md")):
        for line, code in python_blocks(page.read_text(encoding="utf-8")):
            params.append(pytest.param(page.name, line, code, id=f"{page.name}:{line}"))
    return params


def test_block_extraction_sees_every_fence() -> None:
    text = "a\n```python\nx = 1\n```\n\n```\nnot python\n```\n```python\ny = 2\nprint(y)\n```\n"
    assert list(python_blocks(text)) == [(2, "x = 1\n"), (9, "y = 2\nprint(y)\n")]


def test_the_pages_that_need_examples_have_them() -> None:
    pages = {param.values[0] for param in _doc_examples()}
    assert {"formats.md", "donnees.md"} <= pages


@pytest.mark.parametrize(("page", "line", "code"), _doc_examples())
def test_doc_example_runs_as_written(
    page: str, line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run a block from a fresh folder where ``docs/exemples/`` is what a clone holds."""
    shutil.copytree(EXAMPLES, tmp_path / "docs" / "exemples")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"docs/{page}, line {line}", "exec"), {"__name__": "__doc_example__"})


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_doc_examples", ROOT / "scripts" / "build_doc_examples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.shared_data
def test_examples_are_rebuilt_from_the_shared_samples(shared_data: Path) -> None:
    built = _build_script().build(shared_data)
    committed = {p.name for p in EXAMPLES.glob("*.csv")}
    assert set(built) == committed
    for name, text in built.items():
        assert (EXAMPLES / name).read_text(encoding="utf-8") == text, name


def test_examples_name_no_person() -> None:
    """The BPE extract identifies no establishment (empty SIRET); no RPPS file is shipped."""
    bpe = (EXAMPLES / "bpe_sante_extrait.csv").read_text(encoding="utf-8").splitlines()
    siret = bpe[0].split(",").index("SIRET")
    assert all(row.split(",")[siret] == "" for row in bpe[1:])
    assert not list(EXAMPLES.glob("PS_LibreAcces*"))


# --------------------------------------------------------------------------------------------
# README and BENCHMARKS figures
# --------------------------------------------------------------------------------------------
def test_readme_caption_names_the_script_that_draws_the_image() -> None:
    readme = README.read_text(encoding="utf-8")
    image = re.search(r"!\[[^\]]*\]\((docs/img/[^)]+\.png)\)\n\n\*(.*?)\*\n", readme, re.DOTALL)
    assert image is not None, "README: image followed by an italic caption"
    path, caption = image.group(1), image.group(2)
    scripts = re.findall(r"`(?:python )?(scripts/\w+\.py)`", caption)
    assert scripts, f"the caption names no script: {caption!r}"
    source = (ROOT / scripts[0]).read_text(encoding="utf-8")
    assert Path(path).name in source, f"{scripts[0]} does not write {path}"
    assert "produced by `make" not in caption.lower()


def test_readme_map_size_is_the_measured_one() -> None:
    readme = README.read_text(encoding="utf-8")
    claimed = re.search(r"A département map weighs about ([\d.]+) MB", readme)
    assert claimed is not None
    measured = re.search(
        r"`cartosoins map --departement 63 --measure apl`.{0,80}?: HTML ([\d,]+) bytes",
        BENCHMARKS.read_text(encoding="utf-8"),
        re.DOTALL,
    )
    assert measured is not None, "BENCHMARKS.md: the size of the CLI's map of Puy-de-Dôme"
    size_mb = int(measured.group(1).replace(",", "")) / 1e6
    assert float(claimed.group(1)) == pytest.approx(size_mb, abs=0.05)


def test_benchmark_gp_counts_are_those_of_the_demo_generator() -> None:
    """Every count of simulated national GPs in BENCHMARKS.md is the generator's for its seed."""
    text = BENCHMARKS.read_text(encoding="utf-8")
    row = re.search(r"\| France, GPs only \| ([\d,]+) / ([\d,]+) / ([\d,]+) \|", text)
    assert row is not None, "bench_demo row: GPs of seeds 0 / 1 / 2"
    per_seed = [int(n.replace(",", "")) for n in row.groups()]
    france = load_communes()
    expected = [
        len(generate_practitioners(france, seed=seed, professions=["medecin_generaliste"]))
        for seed in range(3)
    ]
    assert per_seed == expected
    # every other run of the national synthetic GPs uses seed 0
    runs = re.findall(r"([\d,]{6}) (?:national simulated|simulated|synthetic) GPs", text)
    assert len(runs) >= 3, "the access, scenario and road benchmarks name their GPs"
    assert {int(n.replace(",", "")) for n in runs} == {expected[0]}
