#!/usr/bin/env python3
"""Write the notebooks of notebooks/ from the cell sources below, executed, with their outputs.

Keeping the sources here makes the notebooks reviewable as code. `.venv/bin/python
scripts/build_notebooks.py` rewrites them and runs each one top to bottom (nbclient, the venv's
ipykernel, in a temporary folder, with every network connection refused) so that they are
committed with their outputs: tables, figures and maps show when a notebook is opened, even
without internet (the maps are offline pages in an iframe, see geo.maps.notebook).
`--no-execute` writes them without outputs; `--check` fails if a committed notebook's cells
differ from the sources here, or if it was not executed.

`02_vos_donnees` starts with the cell a reader edits (their file's path, tagged ``parameters``);
by default it reads the real public samples of ../shared/data (beside the repository) and,
without them, stops with a French message: building it needs those samples.
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

#: Tag of the cell a reader edits (papermill's convention); values are injected after it.
PARAMETERS_TAG = "parameters"

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
        "param",
        """# ▶▶▶ « METTEZ VOTRE FICHIER ICI » ◀◀◀  (puis : Exécuter tout)
#
# Le chemin de votre fichier de praticiens : absolu, ou relatif au dossier du dépôt cartosoins.
# Formats acceptés : BPE de l'INSEE (géolocalisée ou non), extraction Annuaire Santé (RPPS),
# CSV avec latitude/longitude ou code commune, GeoJSON, GeoPackage ; séparateurs ; , | ou
# tabulation ; encodages UTF-8 ou Windows-1252.
# Où télécharger les fichiers officiels : docs/donnees.md (les colonnes : docs/formats.md).
# Par défaut : un extrait réel de la BPE (Loire, Haute-Loire), rangé à côté du dépôt.
FICHIER = "../shared/data/bpe/bpe_42_43partial_sante_presence_sabah42.csv"

# La population par âge des communes (INSEE), même règle pour le chemin.
FICHIER_AGES = "../shared/data/population/part_75_plus_communes_2022_linalek.csv"

DEPARTEMENT = "42"  # le département à cartographier ("63", "2A"…)""",
    ),
    (
        "md",
        """# Vos données : votre fichier, une table d'âges, une carte et un export pour QGIS

Ce carnet part d'un fichier **tel que vous le téléchargez** — par défaut un extrait réel de la
**Base permanente des équipements (BPE)** de l'INSEE — et d'une **table de population par
âge** ; il calcule l'APL avec une population standardisée par l'âge, l'exporte en GeoPackage
pour QGIS et affiche la carte.

Pour vos données : changez les chemins de la **première cellule**, puis exécutez tout. Où
télécharger chaque fichier officiel : [docs/donnees.md](../docs/donnees.md) ; les colonnes
lues : [docs/formats.md](../docs/formats.md).

Si un fichier manque, le carnet le dit et **s'arrête** : il ne le remplace jamais par des
données simulées.""",
    ),
    (
        "code",
        """from pathlib import Path

import geo
from geo import analyse, read_population_table, read_practitioners, resolve_territory
from geo.maps import analysis_map, analysis_static_map, save_offline_html, save_static_map
from geo.maps.choropleth import format_fr  # nombres à la française : 12 345,6
from geo.maps.notebook import notebook_map
from geo.offer import cnam_headcounts

DEPOT = Path(geo.__file__).resolve().parents[1]  # le dossier du dépôt cartosoins
fichier = DEPOT / Path(FICHIER).expanduser()  # un chemin absolu reste tel quel
fichier_ages = DEPOT / Path(FICHIER_AGES).expanduser()
for chemin in (fichier, fichier_ages):
    if not chemin.is_file():
        raise FileNotFoundError(
            f"Fichier introuvable : {chemin.resolve()}\\n"
            "Mettez le chemin de votre fichier dans la première cellule (« mettez votre fichier ici »).\\n"
            "Par défaut, ce carnet lit des échantillons publics réels rangés dans ../shared/data, "
            "à côté du dépôt : ils ne sont pas livrés avec cartosoins. Où télécharger les "
            "fichiers officiels : docs/donnees.md.\\n"
            "Le carnet s'arrête ici : il ne remplace pas vos données par des données simulées."
        )

OUT = Path("sorties")  # les fichiers produits
OUT.mkdir(exist_ok=True)
print("Praticiens :", fichier.name)
print("Âges :", fichier_ages.name)""",
    ),
    (
        "md",
        """## 1. Ce que contient le fichier

Une BPE mêle toutes les professions et tous les équipements de santé (pharmacies, maisons de
retraite…). Additionner le tout donnerait une « APL » sans objet : cartosoins refuse un fichier
mêlé tant qu'on ne choisit pas. On regarde d'abord ce qu'il contient, en le lisant en entier
(`all_professions=True`).""",
    ),
    (
        "code",
        """tout = read_practitioners(fichier, all_professions=True)
print(tout.attrs["format_fr"], "—", format_fr(tout.attrs["rows_read"], 0), "lignes lues")
tout.groupby(["profession", "profession_libelle"]).size().sort_values(ascending=False).to_frame("lignes").head(10)""",
    ),
    (
        "md",
        """## 2. Choisir la profession

`profession=` accepte le code de la première colonne ci-dessus (`"medecin_generaliste"`,
`"infirmier"`…), le nom en français (`"Médecin généraliste"`) ou le code `TYPEQU` de la BPE
(`"D265"`). La BPE ne donne pas toujours de coordonnées : une ligne sans coordonnées est placée
à la mairie de sa commune (colonne `location`), et la carte le dira.

**Cet extrait-ci sous-compte** : il a été dédoublonné avant d'être publié (au plus une ligne par
commune et par type quand le SIRET manque). Ses effectifs sont bien inférieurs à ceux de
l'Assurance maladie, comparés ci-dessous : les valeurs de ce carnet illustrent la méthode. Avec
la BPE complète de l'INSEE, ou votre propre fichier, les effectifs sont ceux du fichier.""",
    ),
    (
        "code",
        """PROFESSION = "medecin_generaliste"
medecins = read_practitioners(fichier, profession=PROFESSION)
print(medecins.attrs["source"])
dans_le_departement = int((medecins["commune"].str[: len(DEPARTEMENT)] == DEPARTEMENT).sum())
cnam = cnam_headcounts().set_index("departement").loc[DEPARTEMENT]
print(f"{cnam['nom']} : {dans_le_departement} dans le fichier ; médecins généralistes libéraux "
      f"selon la CNAM en 2024 : {format_fr(cnam['medecins_generalistes_2024'], 0)}")
medecins["location"].value_counts()""",
    ),
    (
        "md",
        """## 3. La population par âge

La DREES pondère la population par la consommation de soins de chaque âge. Ici, deux classes
(moins de 75 ans, 75 ans et plus) à partir de la part des 75 ans et plus (INSEE, RP 2022) ;
le poids 2,0 des 75 ans et plus est **illustratif** (un paramètre : mettez le vôtre, une valeur
par classe d'âge de votre table).""",
    ),
    (
        "code",
        """ages = read_population_table(fichier_ages)
POIDS = {"moins_75": 1.0, "75_plus": 2.0}
ages.head()""",
    ),
    ("md", "## 4. L'APL standardisée par l'âge"),
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
        """## 5. Export GeoPackage pour QGIS (et les métadonnées à côté), image pour diaporama

Le GeoPackage garde une ligne par commune (polygone, valeur, statut) ; les paramètres et les
sources vont dans un JSON du même nom ; l'image PNG va dans une présentation.""",
    ),
    (
        "code",
        """import json

import geopandas as gpd

gpkg = OUT / f"apl_{territoire.slug}.gpkg"
apl.to_file(gpkg, layer="apl", driver="GPKG")
gpkg.with_suffix(".json").write_text(
    json.dumps(apl.attrs, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
)
save_static_map(analysis_static_map(apl, territoire.name), OUT / f"apl_{territoire.slug}.png")
print(gpd.read_file(gpkg, layer="apl").shape, gpkg.stat().st_size // 1024, "ko")""",
    ),
    (
        "md",
        """## 6. La carte

Interactive et **sans internet** : survolez une commune pour ses chiffres. La ligne des
sources, sous la carte, nomme votre fichier, son format, la profession choisie et dit si des
praticiens ont été placés à la mairie de leur commune. La même carte est enregistrée en HTML
dans `sorties/`.""",
    ),
    (
        "code",
        """carte = analysis_map(apl, territoire.name)
save_offline_html(carte, OUT / f"apl_{territoire.slug}.html")
notebook_map(carte)""",
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
    """A notebook of ``cells``: ``("md", text)``, ``("code", source)`` or ``("param", source)``.

    A ``"param"`` cell is the code cell the reader edits (their file's path): tagged
    ``parameters`` as papermill does, so that a run can set other values in a cell inserted
    after it without any trace in the notebook the reader sees.
    """
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
        if kind == "param":
            cell.metadata["tags"] = [PARAMETERS_TAG]
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


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [
        (c["id"], c["cell_type"], c["source"], tuple(c.get("metadata", {}).get("tags", ())))
        for c in nb.cells
    ]


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
