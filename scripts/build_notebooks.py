#!/usr/bin/env python3
"""Write the notebooks of notebooks/ from the cell sources below, executed, with their outputs.

Keeping the sources here makes the notebooks reviewable as code. `.venv/bin/python
scripts/build_notebooks.py` rewrites them and runs each one top to bottom (nbclient, the venv's
ipykernel, in a temporary folder, with every network connection refused) so that they are
committed with their outputs: tables, figures and maps show when a notebook is opened, even
without internet (the maps are offline pages in an iframe, see geo.maps.notebook).
`--no-execute` writes them without outputs; `--check` fails if a committed notebook's cells
differ from the sources here, or if it was not executed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]

#: Loaded by the kernel's Python (PYTHONPATH) while a notebook runs: any connection or name
#: lookup beyond this machine fails, so a notebook that needs the network fails to build.
OFFLINE_SITECUSTOMIZE = """
import socket

_LOCAL = ("127.0.0.1", "::1", "localhost", "0.0.0.0")
_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo


def _local(host):
    return host is None or str(host) in _LOCAL or str(host).startswith("127.")


def connect(self, address):
    if isinstance(address, tuple) and not _local(address[0]):
        raise OSError(f"réseau coupé pendant l'exécution du carnet : {address!r}")
    return _connect(self, address)


def getaddrinfo(host, *args, **kwargs):
    if not _local(host):
        raise OSError(f"réseau coupé pendant l'exécution du carnet : {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
"""

QUICK_START = [
    (
        "md",
        """# Démarrage rapide : l'accès aux médecins généralistes d'un département

Ce carnet calcule, pour chaque commune du **Puy-de-Dôme**, l'accessibilité potentielle
localisée (APL) aux médecins généralistes, puis produit une carte interactive utilisable hors
ligne et une image pour une présentation.

Les médecins sont les **médecins généralistes libéraux réels** embarqués dans cartosoins :
effectifs par commune de la Base permanente des équipements (INSEE BPE, équipement D201,
millésime 2017 probable — la source ne le dit pas). Chaque médecin est placé à la mairie de sa
commune. Pour vos propres données (RPPS, BPE récente…), voir le carnet `02_vos_donnees.ipynb`.""",
    ),
    (
        "code",
        """from pathlib import Path

from geo import analyse, resolve_territory
from geo.maps import analysis_map, analysis_static_map, save_offline_html, save_static_map
from geo.maps.choropleth import format_fr  # nombres à la française : 12 345,6
from geo.maps.notebook import notebook_map
from geo.offer import cnam_headcounts, load_gp_offer

OUT = Path("sorties")
OUT.mkdir(exist_ok=True)
DEPARTEMENT = "63"  # changez le code pour votre département ("2A", "19"…)""",
    ),
    (
        "md",
        """## Le territoire et les médecins

Les communes viennent du référentiel embarqué (COG 2026, population municipale 2023). Les
médecins de **toute la France** sont chargés, car ceux des départements voisins comptent aussi
pour les communes proches de la limite (effet de bord). Les communes que la source ne couvre
pas (l'outre-mer ; Paris, dont l'effectif est estimé) sont listées avec la raison.""",
    ),
    (
        "code",
        """territoire = resolve_territory(departements=DEPARTEMENT)
offre = load_gp_offer()
medecins = offre.practitioners()
print("Source :", offre.source_label)
print(territoire.name, len(territoire.communes), "communes,", format_fr(territoire.population, 0), "habitants")
print(format_fr(len(medecins), 0), "médecins généralistes en France ;", len(offre.missing), "communes non couvertes")""",
    ),
    (
        "md",
        """### Combien de médecins aujourd'hui ?

La BPE embarquée date probablement de 2017. Les effectifs 2024 de l'Assurance maladie (CNAM)
par département montrent l'écart entre les deux millésimes : lisez les résultats en gardant
cet écart en tête.""",
    ),
    (
        "code",
        """cnam = cnam_headcounts().set_index("departement").loc[DEPARTEMENT]
dans_la_bpe = int((medecins["commune"].str[: len(DEPARTEMENT)] == DEPARTEMENT).sum())
print(f"{cnam['nom']} — INSEE BPE (2017 probable) : {dans_la_bpe} médecins ; "
      f"CNAM 2024 : {cnam['medecins_generalistes_2024']} ({format_fr(cnam['densite_2024'], 1)} pour 100 000 hab.)")""",
    ),
    (
        "md",
        """## L'APL par commune

Bandes de temps 0–10 min (poids 1), 10–15 min (0,66), 15–20 min (0,33) ; la BPE ne donne que
des effectifs, chaque médecin compte pour une activité calibrée (voir `parameters`) ; unité
DREES : consultations accessibles par an et par habitant standardisé.""",
    ),
    (
        "code",
        """apl = analyse(territoire, medecins, "apl")
print("Praticiens :", apl.attrs["sources"]["practitioners"])
print("Activité :", apl.attrs["parameters"]["activity"]["description_fr"])
apl[["code", "nom", "population", "value", "nearest_minutes", "status"]].sort_values("value").head(10)""",
    ),
    (
        "code",
        """resume = apl.attrs["summary"]
print(f"APL moyenne pondérée : {format_fr(resume['population_weighted_mean'], 2)} consultations/hab./an")
sous_denses = apl[apl["value"] < 2.5]
print(f"{len(sous_denses)} communes sous 2,5 ({format_fr(sous_denses['population'].sum(), 0)} habitants)")
apl["status"].value_counts()""",
    ),
    (
        "md",
        """## La carte interactive (hors ligne) et l'image pour diaporama

La ligne des sources, sous la carte, nomme la BPE et son millésime. `notebook_map` affiche la
carte dans le carnet **sans internet** (Leaflet et les styles sont inclus dans la page, montrée
dans un cadre) ; le fichier HTML enregistré s'ouvre de même dans un navigateur hors ligne.""",
    ),
    (
        "code",
        """carte = analysis_map(apl, territoire.name)
chemin_html = save_offline_html(carte, OUT / f"apl_{territoire.slug}.html")
chemin_png = save_static_map(analysis_static_map(apl, territoire.name), OUT / f"apl_{territoire.slug}.png")
print(chemin_html, chemin_html.stat().st_size // 1024, "ko")
print(chemin_png)
notebook_map(carte)""",
    ),
]


YOUR_DATA = [
    (
        "md",
        """# Vos données : un fichier officiel, une table d'âges, un export pour QGIS

Ce carnet part d'un fichier tel que vous le téléchargez — ici la **Base permanente des
équipements (BPE)** de l'INSEE — et d'une **table de population par âge**, calcule l'APL avec
une population standardisée par l'âge et exporte le résultat en GeoPackage pour QGIS.

Formats acceptés par `geo.io.read_practitioners` : BPE (géolocalisée ou non), extraction
Annuaire Santé (RPPS), CSV avec latitude/longitude ou code commune, GeoJSON, GeoPackage ;
séparateurs `;` `,` `|`, encodages UTF-8 et Windows-1252 (voir `docs/formats.md`).""",
    ),
    (
        "code",
        """import os
from pathlib import Path

import geo
from geo import analyse, load_communes, read_population_table, read_practitioners, resolve_territory
from geo.maps import analysis_static_map, save_static_map
from geo.maps.choropleth import format_fr

OUT = Path("sorties")
OUT.mkdir(exist_ok=True)
# échantillons de données publiques réelles, à côté du dépôt quand ils sont présents
SHARED = Path(
    os.environ.get(
        "CARTOSOINS_SHARED_DATA", Path(geo.__file__).resolve().parents[1].parent / "shared" / "data"
    )
)
print("échantillons réels :", SHARED.is_dir())""",
    ),
    (
        "md",
        """## 1. Les praticiens : un extrait de la BPE

Avec l'échantillon réel (Loire, Haute-Loire), on l'utilise tel quel. Sans lui, on écrit un petit
fichier **au format BPE** à partir des praticiens simulés — il est marqué comme tel.
La BPE ne géolocalise pas toujours : une ligne sans coordonnées est placée à la mairie de sa
commune (colonne `location`).""",
    ),
    (
        "code",
        """if SHARED.is_dir():
    fichier_bpe = SHARED / "bpe" / "bpe_42_43partial_sante_presence_sabah42.csv"
    DEPARTEMENT = "42"
else:
    from geo.demo import generate_practitioners

    DEPARTEMENT = "42"
    simules = generate_practitioners(load_communes(departements=DEPARTEMENT), seed=0)
    codes = {"medecin_generaliste": "D265", "infirmier": "D281"}
    simules = simules[simules["profession"].isin(list(codes))].to_crs(2154)
    fichier_bpe = OUT / "bpe_simulee_42.csv"  # praticiens simulés, au format BPE géolocalisée
    simules.assign(
        DEPCOM=simules["commune"],
        TYPEQU=simules["profession"].map(codes),
        LAMBERT_X=simules.geometry.x.round(1),
        LAMBERT_Y=simules.geometry.y.round(1),
    )[["DEPCOM", "TYPEQU", "LAMBERT_X", "LAMBERT_Y"]].to_csv(fichier_bpe, sep=";", index=False)

praticiens = read_practitioners(fichier_bpe, all_professions=True)
print(praticiens.attrs["format"], praticiens.attrs["rows_read"], "lignes lues")
praticiens["profession_libelle"].value_counts().head(8)""",
    ),
    (
        "code",
        """medecins = praticiens[praticiens["profession"] == "medecin_generaliste"]
print(len(medecins), "médecins généralistes ;", medecins["location"].value_counts().to_dict())""",
    ),
    (
        "md",
        """## 2. La population par âge

La DREES pondère la population par la consommation de soins de chaque âge. Ici, deux classes
(moins de 75 ans, 75 ans et plus) à partir de la part des 75 ans et plus (INSEE, RP 2022) ;
le poids 2,0 des 75 ans et plus est **illustratif** (un paramètre : mettez le vôtre).""",
    ),
    (
        "code",
        """if SHARED.is_dir():
    ages = read_population_table(SHARED / "population" / "part_75_plus_communes_2022_linalek.csv")
else:  # table d'exemple : 12 % de 75 ans et plus partout
    import pandas as pd

    codes_communes = load_communes()["code"]
    ages = pd.DataFrame({"moins_75": 88.0, "75_plus": 12.0}, index=codes_communes)
POIDS = {"moins_75": 1.0, "75_plus": 2.0}
ages.head()""",
    ),
    ("md", "## 3. L'APL standardisée par l'âge"),
    (
        "code",
        """territoire = resolve_territory(departements=DEPARTEMENT)
apl = analyse(
    territoire, medecins, "apl", supply="headcount", age_table=ages, consumption_weights=POIDS
)
print(apl.attrs["unit_fr"])
print("moyenne pondérée :", format_fr(apl.attrs["summary"]["population_weighted_mean"], 1))
apl[["code", "nom", "population", "demand", "value", "status"]].sort_values("value").head()""",
    ),
    (
        "md",
        """## 4. Export GeoPackage pour QGIS (et les métadonnées à côté)

Le GeoPackage garde une ligne par commune (polygone, valeur, statut) ; les paramètres et les
sources vont dans un JSON du même nom.""",
    ),
    (
        "code",
        """import json

gpkg = OUT / f"apl_{territoire.slug}.gpkg"
apl.to_file(gpkg, layer="apl", driver="GPKG")
gpkg.with_suffix(".json").write_text(
    json.dumps(apl.attrs, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
)
import geopandas as gpd

print(gpd.read_file(gpkg, layer="apl").shape, gpkg.stat().st_size // 1024, "ko")""",
    ),
    (
        "code",
        """png = save_static_map(analysis_static_map(apl, territoire.name), OUT / f"apl_{territoire.slug}.png")
png""",
    ),
]

RESIDENCE = [
    (
        "md",
        """# Préparer une résidence d'entrepreneurs : départs de médecins et meilleurs sites

Question d'un pays rural : *si des médecins partent, où installer une résidence pour jeunes
médecins pour que le moins possible d'habitants restent en zone sous-dense ?* On part des
**médecins généralistes libéraux réels** du Cantal (INSEE BPE, 2017 probable), on simule le
départ de deux médecins de Riom-ès-Montagnes, on cherche les **3 meilleures communes** pour
2 médecins chacune, et on cartographie avant / après.

La BPE donne des effectifs par commune, **sans l'âge des médecins** : ce carnet ne simule donc
pas de départs en retraite. Pour cela, il faut un fichier avec les âges (extraction RPPS /
Annuaire Santé, voir `02_vos_donnees.ipynb`) et `Scenario().retire(horizon_year=2030)`.""",
    ),
    (
        "code",
        """from pathlib import Path

from geo import prepare, recommend_sites, resolve_territory
from geo.gaps import summarise_gaps
from geo.maps import save_offline_html
from geo.maps.choropleth import format_fr
from geo.maps.compare import comparison_map, sites_for_map
from geo.maps.notebook import notebook_map
from geo.offer import load_gp_offer
from geo.scenario import Scenario

OUT = Path("sorties")
OUT.mkdir(exist_ok=True)
territoire = resolve_territory(departements="15")  # le Cantal
medecins = load_gp_offer().practitioners()
aujourd_hui = prepare(territoire, medecins, "apl")
print("Praticiens :", aujourd_hui.result().attrs["sources"]["practitioners"])
moyenne = aujourd_hui.result().attrs["summary"]["population_weighted_mean"]
print(territoire.name, "— APL moyenne pondérée :", format_fr(moyenne, 2))""",
    ),
    ("md", "## Aujourd'hui : qui est en zone sous-dense ?"),
    (
        "code",
        """resume = summarise_gaps(aujourd_hui.result(), by="epci", worst=5)
resume.classes[["gap_class", "communes", "population"]].groupby("gap_class", sort=False).sum()""",
    ),
    (
        "code",
        'resume.worst[["group_name", "rank", "nom", "population", "value", "gap_class"]].head(10)',
    ),
    (
        "md",
        """## Un départ : deux médecins quittent Riom-ès-Montagnes

Un scénario sur les données réelles : on retire deux des médecins de la commune (identifiants
`BPE-<commune>-<n>`), sans rien supposer de leur âge.""",
    ),
    (
        "code",
        """RIOM = "15162"
partants = medecins.loc[medecins["commune"] == RIOM, "id"].head(2).tolist()
print(len(medecins[medecins["commune"] == RIOM]), "médecins à Riom-ès-Montagnes ;", len(partants), "partent")
apres_depart = Scenario().remove_practitioners(partants).apply(aujourd_hui)
apres_depart.summary""",
    ),
    ("code", "apres_depart.classes"),
    (
        "md",
        """## Les 3 meilleurs sites pour une résidence de 2 médecins

Objectif : le nombre d'habitants qui sortent de la zone sous-dense (APL < 2,5). Méthode
gloutonne avec mises à jour incrémentales ; chaque site a son gain marginal.""",
    ),
    (
        "code",
        """sites = recommend_sites(apres_depart, k=3, n_per_site=2, objective="gap_population")
sites.sites[["rank", "code", "nom", "population", "value_before", "marginal_gain", "cumulative_gain"]]""",
    ),
    ("code", "sites.scenario.summary"),
    ("md", "## Les cartes : l'effet du départ, puis celui de la résidence"),
    (
        "code",
        """carte_depart = comparison_map(
    apres_depart.communes, territoire.name, scenario="départ de 2 médecins à Riom-ès-Montagnes"
)
save_offline_html(carte_depart, OUT / "cantal_depart_riom.html")
carte_sites = comparison_map(
    sites.scenario.communes,
    territoire.name,
    scenario="résidence de 2 médecins sur 3 sites, après le départ",
    sites=sites_for_map(sites.sites, catchment_km=15.4, gain_label="habitants sortis de la zone sous-dense"),
)
save_offline_html(carte_sites, OUT / "cantal_residence.html")
notebook_map(carte_sites)""",
    ),
]

NOTEBOOKS = {
    "01_demarrage_rapide.ipynb": QUICK_START,
    "02_vos_donnees.ipynb": YOUR_DATA,
    "03_residence_entrepreneurs.ipynb": RESIDENCE,
}


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


def execute(nb: nbformat.NotebookNode, workdir: Path, *, timeout: int = 300) -> None:
    """Run ``nb`` in place, in ``workdir``, its kernel cut from the network."""
    from nbclient import NotebookClient

    guard = workdir / "_hors_ligne"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(OFFLINE_SITECUSTOMIZE, encoding="utf-8")
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(guard), previous) if p)
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            record_timing=False,
            resources={"metadata": {"path": str(workdir)}},
        ).execute()
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, str]]:
    return [(c["id"], c["cell_type"], c["source"]) for c in nb.cells]


def _executed(nb: nbformat.NotebookNode) -> bool:
    code = [c for c in nb.cells if c["cell_type"] == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return all(c.get("execution_count") for c in code) and not errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    parser.add_argument("--no-execute", action="store_true", help="write without outputs")
    parser.add_argument("names", nargs="*", help="notebooks to build (default: all)")
    args = parser.parse_args()
    stale = []
    for name, cells in NOTEBOOKS.items():
        if args.names and name not in args.names and Path(name).stem not in args.names:
            continue
        path = ROOT / "notebooks" / name
        nb = build(cells)
        if args.check:
            committed = nbformat.read(path, as_version=4) if path.exists() else None
            if committed is None or _cells(committed) != _cells(nb) or not _executed(committed):
                stale.append(name)
            continue
        if not args.no_execute:
            with tempfile.TemporaryDirectory(prefix="carnet-") as work:
                execute(nb, Path(work))
            if not _executed(nb):
                print("error while running", name, file=sys.stderr)
                return 1
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        print("wrote", path, path.stat().st_size // 1024, "kB")
    if stale:
        print(
            "notebooks out of date or not executed:",
            ", ".join(stale),
            "- run .venv/bin/python scripts/build_notebooks.py",
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
