#!/usr/bin/env python3
"""Write the notebooks of notebooks/ from the cell sources below (outputs stripped).

Keeping the sources here makes the notebooks reviewable as code and always clean in git;
`python scripts/build_notebooks.py` rewrites them, `--check` fails if a committed notebook differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]

QUICK_START = [
    (
        "md",
        """# Démarrage rapide : l'accès aux médecins généralistes d'un département

Ce carnet calcule, pour chaque commune du **Puy-de-Dôme**, l'accessibilité potentielle
localisée (APL) aux médecins généralistes, puis produit une carte interactive utilisable hors
ligne et une image pour une présentation.

Les praticiens sont **simulés** (données de démonstration, `geo.demo`) : la méthode est réelle,
les chiffres ne décrivent pas le territoire. Pour vos propres données, voir le carnet
`02_vos_donnees.ipynb`.""",
    ),
    (
        "code",
        """from pathlib import Path

from geo import analyse, generate_practitioners, load_communes, resolve_territory
from geo.maps import analysis_map, analysis_static_map, save_offline_html, save_static_map

OUT = Path("sorties")
OUT.mkdir(exist_ok=True)
DEPARTEMENT = "63"  # changez le code pour votre département ("2A", "974"…)""",
    ),
    (
        "md",
        """## Le territoire et les praticiens

Les communes viennent du référentiel embarqué (COG 2026, population municipale 2023). Les
médecins sont simulés pour **toute la France**, car ceux des départements voisins comptent
aussi pour les communes proches de la limite (effet de bord).""",
    ),
    (
        "code",
        """territoire = resolve_territory(departements=DEPARTEMENT)
medecins = generate_practitioners(load_communes(), seed=0, professions=["medecin_generaliste"])
print(territoire.name, len(territoire.communes), "communes,", territoire.population, "habitants")
print(len(medecins), "médecins généralistes simulés en France")""",
    ),
    (
        "md",
        """## L'APL par commune

Bandes de temps 0–10 min (poids 1), 10–15 min (0,66), 15–20 min (0,33) ; offre en
consultations par an ; unité DREES : consultations accessibles par an et par habitant.""",
    ),
    (
        "code",
        """apl = analyse(territoire, medecins, "apl")
apl[["code", "nom", "population", "value", "nearest_minutes", "status"]].sort_values("value").head(10)""",
    ),
    (
        "code",
        """resume = apl.attrs["summary"]
print(f"APL moyenne pondérée : {resume['population_weighted_mean']:.2f} consultations/hab./an")
sous_denses = apl[apl["value"] < 2.5]
print(f"{len(sous_denses)} communes sous 2,5 ({int(sous_denses['population'].sum())} habitants)")
apl.attrs["parameters"]""",
    ),
    ("md", "## La carte interactive (hors ligne) et l'image pour diaporama"),
    (
        "code",
        """carte = analysis_map(apl, territoire.name)
chemin_html = save_offline_html(carte, OUT / f"apl_{territoire.slug}.html")
chemin_png = save_static_map(analysis_static_map(apl, territoire.name), OUT / f"apl_{territoire.slug}.png")
print(chemin_html, chemin_html.stat().st_size // 1024, "ko")
print(chemin_png)
carte""",
    ),
]

NOTEBOOKS = {"01_demarrage_rapide.ipynb": QUICK_START}


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, source) in enumerate(cells):
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        cell["id"] = f"cell-{i:02d}"
        nb.cells.append(cell)
    return nb


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for name, cells in NOTEBOOKS.items():
        path = ROOT / "notebooks" / name
        text = nbformat.writes(build(cells)) + "\n"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print("wrote", path)
    if stale:
        print("notebooks out of date:", ", ".join(stale), "- run scripts/build_notebooks.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
