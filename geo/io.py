"""Read users' files of practitioners and of population by age, in the official formats, unchanged.

The one module of the engine that parses uploaded files: it detects the format, the encoding and
the separator, and validates every value with messages naming the file, the row and the column.

Formats of practitioners
------------------------
====================  ==========================================  ===============================
format                detected by                                 located at
====================  ==========================================  ===============================
``rpps``              columns "Identifiant PP" and "Code          town hall (chef-lieu) of the
                      profession" (file ``PS_LibreAcces_          structure's commune
                      Personne_activite_*.txt``)
``bpe``               columns DEPCOM and TYPEQU                   LONGITUDE/LATITUDE, else
                                                                  LAMBERT_X/LAMBERT_Y, else the
                                                                  town hall of DEPCOM
``csv_latlon``        a latitude and a longitude column           the file's coordinates (a row
                                                                  without them: its commune's
                                                                  town hall)
``csv_commune``       a commune code column, no coordinates       town hall of the commune
``geojson``           content ``{ ... }`` or ``.geojson/.json``   the file's points (any CRS)
``gpkg``              SQLite header or ``.gpkg``                  the file's points (any CRS)
====================  ==========================================  ===============================

Headers of each format (first lines of a file)::

    csv_latlon   id;profession;latitude;longitude;etp;age
                 MG-01;medecin_generaliste;45,4396;4,3875;0,8;52
    csv_commune  code_commune,profession,consultations
                 42218,Médecin généraliste,4900
    bpe          AN;DEPCOM;DCIRIS;TYPEQU;LAMBERT_X;LAMBERT_Y;QUALITE_XY;EPSG
                 2023;42218;422180101;D265;808468.7;6483192.1;Bonne;2154
    rpps         Type d'identifiant PP|Identifiant PP|...|Nom d'exercice|Prénom d'exercice|
                 Code profession|Libellé profession|...|Code savoir-faire|Libellé savoir-faire|
                 Code mode exercice|...|Code commune (coord. structure)|...|
    geojson      {"type": "FeatureCollection", "features": [{"type": "Feature",
                 "properties": {"id": "MG-01", "profession": "infirmier"}, "geometry": ...}]}

Codes of the official files
---------------------------
BPE ``TYPEQU`` (INSEE, *Base permanente des équipements*, domain D "Santé et action sociale").
The current nomenclature was checked against a real recent BPE extract of Loire and Haute-Loire
(github sabah42/territorial-bank-opportunities-analysis @ 3004205b, ``data/raw/bpe.csv``,
Licence Ouverte), whose ``Libelle_TYPEQU`` column gives the labels of :data:`BPE_HEALTH_LABELS`.
The legacy codes (BPE editions up to 2020, from the INSEE documentation of those editions, not
checked against a file) do not collide with the current ones: the current extract has no code
between D116 and D246.

=========  ============================  ==========================================
TYPEQU     profession                    label in the BPE
=========  ============================  ==========================================
D265       ``medecin_generaliste``       Médecin généraliste
D281       ``infirmier``                 Infirmier
D279       ``masseur_kinesitherapeute``  Masseur kinésithérapeute
D277       ``chirurgien_dentiste``       Chirurgien dentiste
D278       ``sage_femme``                Sage-femme
D201       ``medecin_generaliste``       Médecin omnipraticien (legacy)
D232       ``infirmier``                 Infirmier (legacy)
D233       ``masseur_kinesitherapeute``  Masseur kinésithérapeute (legacy)
D221       ``chirurgien_dentiste``       Chirurgien dentiste (legacy)
D231       ``sage_femme``                Sage-femme (legacy)
other D*   ``bpe_<TYPEQU>``              ``Libelle_TYPEQU`` of the file, else
                                         :data:`BPE_HEALTH_LABELS`, e.g.
                                         ``bpe_D307`` Pharmacie
not D*     dropped (not health)
=========  ============================  ==========================================

BPE coordinates are Lambert-93 (EPSG:2154) in métropole and the local UTM projection overseas
(971/972 EPSG:5490, 973 EPSG:2972, 974 EPSG:2975, 976 EPSG:4471), as the INSEE documents them;
an ``EPSG`` column, when present, wins. A point that does not fall in its DEPCOM's territory
(métropole or that DROM) is an error: the coordinates were read in the wrong CRS.

RPPS (*Annuaire Santé* of the ANS, annuaire.sante.fr, open extraction
"PS_LibreAcces_Personne_activite"): ``Code profession`` from the nomenclature
TRE_G15-ProfessionSante, ``Code savoir-faire`` from TRE_R38-SpecialiteOrdinale. Column names as
in the published file (52 columns, 56 in recent extractions with the "rôle" and "genre
activité" columns; ``|`` separated, UTF-8, no quoting, a trailing ``|`` on every line); only
the columns named in :data:`RPPS_COLUMNS_READ` matter, in any order.

================  ====================  ============================================
Code profession   savoir-faire          profession
================  ====================  ============================================
10 (Médecin)      SM54 Médecine         ``medecin_generaliste``
                  générale, SM53
                  Spécialiste en MG,
                  SM26 Qualifié en MG
10                any other             ``rpps_10_<code>``, e.g. ``rpps_10_SM04``
40                                      ``chirurgien_dentiste``
50                                      ``sage_femme``
60                                      ``infirmier``
70                                      ``masseur_kinesitherapeute``
other                                   ``rpps_<code>``, e.g. ``rpps_21`` Pharmacien
================  ====================  ============================================

Personal data and duplicates in the RPPS file: only the columns listed in
:data:`RPPS_COLUMNS_READ` are parsed; names, first names, civilités, addresses, telephones and
e-mails are never read into a frame. ``Identifiant PP`` (the RPPS or ADELI number) is public in
this open file and becomes ``id``. The file has one row per activity: rows of the same
practitioner in the same commune (several structures, or several savoir-faire) become one point
whose ``activities`` column counts them; a practitioner active in several communes keeps one point
per commune, with id ``<Identifiant PP>-<commune>``. Rows without a commune code (structures
abroad, incomplete addresses) and communes of the collectivités d'outre-mer are dropped and
counted in ``attrs["rows_dropped"]``. Every mode d'exercice is kept (``mode_exercice``: ``L``
libéral, ``S`` salarié, ``B`` bénévole, joined with ``+``): filter it for a liberal-only offer.

Arrondissements municipaux of Paris, Lyon and Marseille (75101-75120, 69381-69389, 13201-13216),
used by the BPE and the RPPS, are counted in their commune (75056, 69123, 13055).

Files made before a merger of communes (older BPE editions, RPPS extractions, users' tables) carry
former codes, e.g. ``01091`` Châtillon-en-Michaille, now part of ``01033`` Valserhône: every
format that locates by commune code reads them as today's commune through :mod:`geo.cog` (the
COG history), and ``attrs["recoded"]`` tells how many rows were re-coded and from which codes. A
former code shared by several current communes is not guessed: it stays an unknown code.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, NoReturn

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import pyproj
import shapely

from geo.agestructure import AGE_BANDS
from geo.analysis import FRANCE_BOXES
from geo.cog import ambiguous_codes, recode_communes
from geo.crs import GEOGRAPHIC_CRS, METRIC_CRS_BY_DEPARTEMENT, METROPOLE_CRS
from geo.demo import PROFESSIONS
from geo.errors import (
    CartosoinsError,
    DataValidationError,
    InputFormatError,
    UnknownCodeError,
    warn_data,
)
from geo.reference import load_communes

__all__ = [
    "BPE_HEALTH_LABELS",
    "BPE_PROFESSIONS",
    "FORMATS",
    "FORMAT_LABELS_FR",
    "LOCATION_CHEF_LIEU",
    "LOCATION_FILE",
    "OPTIONAL_COLUMNS",
    "PRACTITIONER_COLUMNS",
    "RPPS_COLUMNS_READ",
    "RPPS_GENERAL_PRACTICE_CODES",
    "RPPS_PROFESSIONS",
    "profession_code",
    "read_population_table",
    "read_practitioners",
    "select_profession",
]

#: Formats :func:`read_practitioners` reads, in the order they are recognised.
FORMATS: Final[tuple[str, ...]] = ("rpps", "bpe", "csv_latlon", "csv_commune", "geojson", "gpkg")

#: ``location`` of a practitioner placed at the coordinates given in the file.
LOCATION_FILE: Final[str] = "coordonnées du fichier"
#: ``location`` of a practitioner placed at the town hall of their commune.
LOCATION_CHEF_LIEU: Final[str] = "chef-lieu de la commune"

#: Columns of every :func:`read_practitioners` result, in order (optional ones aside).
PRACTITIONER_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "profession",
    "profession_libelle",
    "commune",
    "commune_nom",
    "location",
    "synthetic",
    "source",
    "geometry",
)
#: Columns present when the file carries them (``activities``/``mode_exercice``: RPPS only).
OPTIONAL_COLUMNS: Final[tuple[str, ...]] = (
    "activities",
    "mode_exercice",
    "age",
    "birth_year",
    "fte",
    "consultations_per_year",
)

#: BPE TYPEQU → profession code of the engine (see the module docstring for the sources).
BPE_PROFESSIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "D265": "medecin_generaliste",
        "D281": "infirmier",
        "D279": "masseur_kinesitherapeute",
        "D277": "chirurgien_dentiste",
        "D278": "sage_femme",
        # nomenclature of the BPE editions up to 2020
        "D201": "medecin_generaliste",
        "D232": "infirmier",
        "D233": "masseur_kinesitherapeute",
        "D221": "chirurgien_dentiste",
        "D231": "sage_femme",
    }
)

#: French labels of the BPE domain D, from the ``Libelle_TYPEQU`` column of a recent INSEE BPE
#: extract (Loire, Haute-Loire), in sentence case; used when a file has no label column.
BPE_HEALTH_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "D101": "Établissement de soins de courte durée",
        "D102": "Établissement de soins de suite et de réadaptation",
        "D103": "Établissement de soins de longue durée",
        "D104": "Établissement psychiatrique",
        "D106": "Urgences",
        "D107": "Maternité",
        "D108": "Centre de santé",
        "D109": "Structure psychiatrique en ambulatoire",
        "D110": "Centre de médecine préventive",
        "D111": "Dialyse",
        "D112": "Hospitalisation à domicile",
        "D113": "Maison de santé pluridisciplinaire",
        "D114": "Service de prise en charge des addictions",
        "D115": "Services de santé maternelle et infantile",
        "D247": "Ergothérapeute",
        "D248": "Psychomotricien",
        "D249": "Diététicien",
        "D250": "Psychologue",
        "D251": "Allergologue",
        "D252": "Anesthésiste-réanimateur",
        "D253": "Spécialiste en chirurgie générale",
        "D254": "Spécialiste en chirurgie orthopédique, plastique et traumatologique",
        "D255": "Endocrinologue",
        "D258": "Spécialiste en médecine physique et de réadaptation",
        "D259": "Neurologue",
        "D260": "Spécialiste en oncologie, anatomie et cytologie pathologiques",
        "D261": "Rhumatologue",
        "D262": "Urologue, néphrologue",
        "D265": "Médecin généraliste",
        "D266": "Spécialiste en cardiologie",
        "D267": "Spécialiste en dermatologie vénéréologie",
        "D268": "Spécialiste en gastro-entérologie hépatologie",
        "D269": "Spécialiste en psychiatrie",
        "D270": "Spécialiste en ophtalmologie",
        "D271": "Spécialiste en oto-rhino-laryngologie",
        "D272": "Spécialiste en pédiatrie",
        "D273": "Spécialiste en pneumologie",
        "D274": "Spécialiste en radiodiagnostic et imagerie médicale",
        "D275": "Spécialiste en stomatologie",
        "D276": "Spécialiste en gynécologie médicale et/ou obstétrique",
        "D277": "Chirurgien dentiste",
        "D278": "Sage-femme",
        "D279": "Masseur kinésithérapeute",
        "D280": "Pédicure-podologue",
        "D281": "Infirmier",
        "D302": "Laboratoire d'analyses et de biologie médicale",
        "D303": "Ambulance",
        "D304": "Transfusion sanguine",
        "D305": "Établissement thermal",
        "D307": "Pharmacie",
        "D401": "Personnes âgées : hébergement",
        "D402": "Personnes âgées : soins à domicile",
        "D403": "Personnes âgées : services d'aide",
        "D502": "Établissement d'accueil du jeune enfant",
        "D503": "Lieux d'accueil enfant-parent",
        "D504": "Relais petite enfance",
        "D505": "Accueil de loisir sans hébergement",
        "D506": "Centres sociaux",
        "D507": "Médiation familiale",
        "D601": "Enfants handicapés : hébergement",
        "D602": "Enfants handicapés : services à domicile ou ambulatoires",
        "D603": "Adultes handicapés : accueil/hébergement",
        "D604": "Adultes handicapés : services d'aide",
        "D605": "Travail protégé",
        "D606": "Adultes handicapés : services de soins à domicile",
        "D607": "Service d'aide aux déficients visuels ou auditifs",
        "D701": "Protection de l'enfance : hébergement",
        "D702": "Protection de l'enfance : action éducative",
        "D703": "Centre d'hébergement et de réinsertion sociale",
        "D704": "Centre provisoire d'hébergement",
        "D705": "Centre d'accueil de demandeurs d'asile",
        "D710": "Autres hébergements pour adultes et familles en difficulté",
        "D711": "Service d'aide aux femmes en situation de vulnérabilité",
        # legacy nomenclature (BPE editions up to 2020)
        "D201": "Médecin omnipraticien",
        "D221": "Chirurgien dentiste",
        "D231": "Sage-femme",
        "D232": "Infirmier",
        "D233": "Masseur kinésithérapeute",
        "D301": "Pharmacie",
    }
)

#: RPPS ``Code profession`` (TRE_G15) → profession code; médecins (10) depend on savoir-faire.
RPPS_PROFESSIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "40": "chirurgien_dentiste",
        "50": "sage_femme",
        "60": "infirmier",
        "70": "masseur_kinesitherapeute",
    }
)
#: RPPS ``Code savoir-faire`` (TRE_R38) of general practice: SM54 "Médecine générale", SM53
#: "Spécialiste en Médecine Générale", SM26 "Qualifié en Médecine Générale".
RPPS_GENERAL_PRACTICE_CODES: Final[frozenset[str]] = frozenset({"SM54", "SM53", "SM26"})
#: The only RPPS columns parsed (normalised names); every other column, names included, is
#: skipped at read time.
RPPS_COLUMNS_READ: Final[tuple[str, ...]] = (
    "identifiant_pp",
    "code_profession",
    "libelle_profession",
    "code_savoir_faire",
    "libelle_savoir_faire",
    "code_mode_exercice",
    "code_commune_coord_structure",
)

_RPPS_REQUIRED: Final = ("identifiant_pp", "code_profession", "code_commune_coord_structure")
_BPE_REQUIRED: Final = ("depcom", "typequ")
#: The BPE columns read (normalised names); the others (dozens in the national file) are skipped.
_BPE_COLUMNS_READ: Final = (
    "depcom",
    "typequ",
    "libelle_typequ",
    "qualite_xy",
    "longitude",
    "latitude",
    "lambert_x",
    "lambert_y",
    "epsg",
)

# Accepted column names (normalised: lower case, no accents, "_" between words), by role.
_LAT_NAMES: Final = ("lat", "latitude", "y", "lat_wgs84", "latitude_wgs84", "coord_y")
_LON_NAMES: Final = (
    "lon",
    "lng",
    "long",
    "longitude",
    "x",
    "lon_wgs84",
    "longitude_wgs84",
    "coord_x",
)
_COMMUNE_NAMES: Final = (
    "code_commune",
    "codgeo",
    "depcom",
    "insee",
    "code_insee",
    "commune",
    "code_commune_insee",
    "codecommune",
    "com",
)
_ID_NAMES: Final = ("id", "identifiant", "identifier", "uid")
_PROFESSION_NAMES: Final = (
    "profession",
    "profession_code",
    "code_profession",
    "specialite",
    "specialty",
    "categorie",
    "type",
    "healthcare",  # OpenStreetMap tags, the more specific first
    "amenity",
)
_PROFESSION_LABEL_NAMES: Final = ("profession_libelle", "libelle_profession", "libelle")
_NUMERIC_NAMES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "fte": ("fte", "etp", "equivalent_temps_plein"),
        "consultations_per_year": (
            "consultations_per_year",
            "consultations",
            "nb_consultations",
            "nombre_consultations",
            "consultations_an",
        ),
        "age": ("age",),
        "birth_year": ("birth_year", "annee_naissance", "annee_de_naissance"),
    }
)
_POPULATION_NAME_COLUMNS: Final = (
    "nom",
    "name",
    "libgeo",
    "libelle",
    "lib",
    "libcom",
    "nom_commune",
    "commune_nom",
    "libelle_commune",
    "nivgeo",
)

_PROFESSION_SYNONYMS: Final[Mapping[str, str]] = MappingProxyType(
    {
        **dict.fromkeys(
            (
                "medecin_generaliste",
                "medecins_generalistes",
                "generaliste",
                "medecin_omnipraticien",
                "omnipraticien",
                "medecine_generale",
                "mg",
                "general_practitioner",
                "gp",
            ),
            "medecin_generaliste",
        ),
        **dict.fromkeys(
            ("infirmier", "infirmiere", "infirmiers", "infirmier_e", "ide", "nurse"), "infirmier"
        ),
        **dict.fromkeys(
            (
                "masseur_kinesitherapeute",
                "masseurs_kinesitherapeutes",
                "kinesitherapeute",
                "kine",
                "mk",
                "physiotherapist",
            ),
            "masseur_kinesitherapeute",
        ),
        **dict.fromkeys(
            ("chirurgien_dentiste", "chirurgiens_dentistes", "dentiste", "dentist"),
            "chirurgien_dentiste",
        ),
        **dict.fromkeys(("sage_femme", "sages_femmes", "midwife"), "sage_femme"),
    }
)
_UNKNOWN_PROFESSION: Final = ("non_precisee", "Profession non précisée")

# Plausible ranges of the optional numeric columns (inclusive).
_RANGES: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        "fte": (0.0, 3.0),
        "consultations_per_year": (0.0, 100_000.0),
        "age": (15.0, 110.0),
        "birth_year": (1900.0, float(date.today().year)),
    }
)
_INTEGER_COLUMNS: Final = frozenset({"age", "birth_year"})

_DROM_ZONES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "971": "Guadeloupe",
        "972": "Martinique",
        "973": "Guyane",
        "974": "La Réunion",
        "976": "Mayotte",
    }
)
_METROPOLE_ZONE: Final = "métropole"
# Collectivités d'outre-mer and foreign countries (INSEE 99xxx): not in the reference layer.
_OUTSIDE_PREFIXES: Final = ("975", "977", "978", "98", "99")
_COMMUNE_CODE_PATTERN: Final = r"\d{5}|2[AB]\d{3}"
_SEPARATORS: Final = ("|", ";", "\t", ",")
_SEPARATOR_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {";": "';'", ",": "','", "|": "'|'", "\t": "tab"}
)

_DROP_NOT_HEALTH: Final = "TYPEQU hors domaine santé et action sociale (D)"
_DROP_NO_COMMUNE: Final = "sans code commune de la structure (étranger ou adresse incomplète)"
_DROP_OUTSIDE: Final = "commune hors métropole et DROM (collectivité d'outre-mer, étranger)"
_DROP_DUPLICATE_ACTIVITY: Final = "activité en double (même praticien, même commune)"
_DROP_PROFESSION: Final = "autre profession (filtre professions)"
_DROP_NO_POINT: Final = "commune sans point de localisation dans la référence"
_DROP_ZERO_COUNT: Final = "effectif nul (colonne d'effectifs)"
#: Key of ``_Records.extra`` holding the file's own code of each row (BPE: TYPEQU; never output).
_FILE_CODE: Final = "_file_code"

#: Formats in French, for messages and ``attrs["source"]``.
FORMAT_LABELS_FR: Final[Mapping[str, str]] = MappingProxyType(
    {
        "rpps": "extraction Annuaire Santé (RPPS)",
        "bpe": "BPE de l'INSEE",
        "csv_latlon": "tableau CSV avec coordonnées",
        "csv_commune": "tableau CSV par code commune",
        "geojson": "couche GeoJSON",
        "gpkg": "couche GeoPackage",
    }
)
#: What a row of each format is, in French (messages listing a file's professions).
_ROW_WORDS: Final[Mapping[str, str]] = MappingProxyType(
    {"rpps": "praticiens", "geojson": "points", "gpkg": "points"}
)
#: Columns of counts per row (normalised names): ``NB_D201``, ``nb_medecins``, ``effectif``…
_COUNT_COLUMN_PATTERN: Final = re.compile(
    r"(nb|nbre|nombre|effectifs?|count|compte|n)(_[a-z0-9_]+)?"
)
#: Words of a count column that does not count practitioners (inhabitants, consultations…).
_NOT_PRACTITIONER_COUNTS: Final = re.compile(
    r"(^|_)(habitants?|pop|population|consultations?|actes?|lits?|places?|passages?|"
    r"visites?|noeud|node|id)(_|$)"
)
#: Key of ``_Records.extra`` holding the former code of a re-coded commune (never output).
_RECODED_FROM: Final = "_recoded_from"

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------------------------
# raw input
# --------------------------------------------------------------------------------------------
#: Rows of a CSV chunk: an RPPS or BPE file is read this many rows at a time.
_CHUNK_ROWS: Final = 250_000
#: Bytes of a block when a file is scanned (encoding check) without being loaded whole.
_SCAN_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True)
class _Input:
    """A file to read: its bytes (an upload) or a path, loaded only when needed."""

    raw: bytes | None
    name: str  # shown in messages
    path: Path | None

    @property
    def basename(self) -> str:
        return Path(self.name).name or self.name

    @cached_property
    def data(self) -> bytes:
        """The whole content (a path is read on first use)."""
        if self.raw is not None:
            return self.raw
        assert self.path is not None
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise InputFormatError(f"{self.name}: cannot be read ({exc.strerror or exc})") from exc

    def head(self, size: int = 65536) -> bytes:
        """Return the first ``size`` bytes, without loading a file whole."""
        if self.raw is not None:
            return self.raw[:size]
        assert self.path is not None
        try:
            with self.path.open("rb") as handle:
                return handle.read(size)
        except OSError as exc:
            raise InputFormatError(f"{self.name}: cannot be read ({exc.strerror or exc})") from exc

    def blocks(self) -> Iterable[bytes | memoryview]:
        """Yield the content in blocks of :data:`_SCAN_BYTES` (a file is streamed, not loaded)."""
        if self.raw is not None:
            view = memoryview(self.raw)
            for start in range(0, len(view), _SCAN_BYTES):
                yield view[start : start + _SCAN_BYTES]
            return
        assert self.path is not None
        with self.path.open("rb") as handle:
            while block := handle.read(_SCAN_BYTES):
                yield block

    def binary(self) -> io.BufferedIOBase | Path:
        """Return what pandas reads the bytes from: the path, or the bytes in a buffer."""
        return self.path if self.raw is None and self.path is not None else io.BytesIO(self.data)


@dataclass(frozen=True)
class _Text:
    text: str
    encoding: str
    separator: str
    header: tuple[str, ...]


def _read_input(source: str | os.PathLike[str] | bytes, filename: str | None) -> _Input:
    if isinstance(source, bytes | bytearray | memoryview):
        return _Input(bytes(source), filename or "uploaded file", None)
    if not isinstance(source, str | os.PathLike):
        raise InputFormatError(f"source must be a file path or bytes, got {type(source).__name__}")
    path = Path(source)
    name = filename or str(source)
    hint = ""
    if len(name) > 200 or "\n" in name:  # a file's content passed as a str
        name = name[:60].splitlines()[0] + "…"
        hint = "; to pass a file's content, give bytes"
    try:
        if not path.is_file():
            raise InputFormatError(f"{name}: file not found{hint}")
        with path.open("rb"):  # readable: checked now, read in blocks or whole when needed
            pass
        return _Input(None, name, path)
    except OSError as exc:
        raise InputFormatError(f"{name}: cannot be read ({exc.strerror or exc}){hint}") from exc


def _content_kind(inp: _Input) -> str:
    """``"gpkg"``, ``"geojson"`` or ``"text"``; raises for empty, archive or binary content."""
    head = inp.head(4096)
    if not head.strip():
        raise InputFormatError(f"{inp.name}: the file is empty")
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"PK\x03\x04"):
        raise InputFormatError(
            f"{inp.name}: this is a ZIP archive (or an Excel workbook); extract the CSV file, "
            "or save the sheet as CSV, and send that"
        )
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{") and b'"type"' in head:
        return "geojson"
    suffix = inp.basename.lower().rsplit(".", 1)[-1] if "." in inp.basename else ""
    if suffix in {"geojson", "json"} and stripped.startswith(b"{"):
        return "geojson"
    return "text"


def _decode(inp: _Input) -> tuple[str, str]:
    data = inp.data
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise InputFormatError(f"{inp.name}: invalid UTF-16 text ({exc.reason})") from exc
    if b"\x00" in data[:65536]:
        raise InputFormatError(
            f"{inp.name}: not a text file (binary content); expected CSV text, GeoJSON or "
            "GeoPackage"
        )
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8"
    for candidate in (encoding, "cp1252", "latin-1"):
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any byte string")  # pragma: no cover


def _decodes(inp: _Input, encoding: str) -> bool:
    """Whether the whole content decodes with ``encoding`` (checked block by block)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        for block in inp.blocks():
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _sniff_text(inp: _Input) -> _Text | None:
    """Find the encoding, separator and header of a text file without decoding it whole.

    The same rules as :func:`_decode` and :func:`_open_text` (UTF-8, else CP1252, else
    Latin-1), the encoding checked block by block; ``text`` stays empty. None for UTF-16
    (read whole by :func:`_open_text`).
    """
    head = inp.head()
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    if b"\x00" in head:
        raise InputFormatError(
            f"{inp.name}: not a text file (binary content); expected CSV text, GeoJSON or "
            "GeoPackage"
        )
    first = "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"
    encoding = next((e for e in (first, "cp1252") if _decodes(inp, e)), "latin-1")
    cut = len(head)
    text = head.decode(encoding, errors="ignore")  # a character cut at the end is dropped
    lines = text.lstrip("\ufeff").splitlines()
    if cut == 65536 and lines:
        lines = lines[:-1]  # the last line of the window may be cut
    header_line = next((line for line in lines if line.strip()), "")
    if not header_line:
        if cut == 65536:  # no line end in the first 64 KiB: read it whole
            return None
        raise InputFormatError(f"{inp.name}: the file is empty")
    separator = _sniff_separator(header_line)
    header = next(csv.reader([header_line], delimiter=separator))
    return _Text("", encoding, separator, tuple(h.strip() for h in header))


def _read_csv_chunked(
    inp: _Input,
    text: _Text,
    *,
    keep: Iterable[str],
    quoting: Literal[0, 3] = csv.QUOTE_MINIMAL,
) -> pd.DataFrame:
    """Like :func:`_read_csv` for the columns ``keep`` only, read from the bytes in chunks.

    Memory stays near the size of the kept columns: the file is never decoded whole, the other
    columns are skipped by the parser, and repeated values of a chunk share one string.
    """
    if not text.encoding:
        return _read_csv(inp, text, keep=keep, quoting=quoting)
    wanted = set(keep)
    parts: list[pd.DataFrame] = []
    try:
        reader = pd.read_csv(
            inp.binary(),
            sep=text.separator,
            encoding=text.encoding,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            index_col=False,
            quoting=quoting,
            usecols=lambda c: str(c).strip() in wanted,
            chunksize=_CHUNK_ROWS,
        )
        with reader:
            for chunk in reader:
                chunk.columns = pd.Index([str(c).strip() for c in chunk.columns])
                for column in chunk.columns:
                    # str.strip returns the same object when there is nothing to strip
                    chunk[column] = chunk[column].astype(str).str.strip()
                parts.append(chunk)
    except (ValueError, csv.Error) as exc:
        raise InputFormatError(_parser_message(inp.name, text, exc)) from exc
    if not parts or not sum(len(p) for p in parts):
        raise InputFormatError(f"{inp.name}: the file has a header but no data rows")
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    parts.clear()
    return table.reset_index(drop=True)


def _sniff_separator(line: str) -> str:
    unquoted = re.sub(r'"[^"]*"', "", line)
    counts = {sep: unquoted.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _open_text(inp: _Input) -> _Text:
    text, encoding = _decode(inp)
    lines = text.lstrip("\ufeff").splitlines()
    header_line = next((line for line in lines if line.strip()), "")
    if not header_line:
        raise InputFormatError(f"{inp.name}: the file is empty")
    separator = _sniff_separator(header_line)
    header = next(csv.reader([header_line], delimiter=separator))
    return _Text(text.lstrip("\ufeff"), encoding, separator, tuple(h.strip() for h in header))


def _read_csv(
    inp: _Input,
    text: _Text,
    *,
    keep: Iterable[str] | None = None,
    quoting: Literal[0, 3] = csv.QUOTE_MINIMAL,
) -> pd.DataFrame:
    """All cells as stripped strings ('' when empty); ``keep``: raw column names to parse."""
    wanted = None if keep is None else set(keep)
    try:
        table = pd.read_csv(
            io.StringIO(text.text),
            sep=text.separator,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            index_col=False,
            quoting=quoting,
            usecols=None if wanted is None else (lambda c: str(c).strip() in wanted),
        )
    except (ValueError, csv.Error) as exc:
        raise InputFormatError(_parser_message(inp.name, text, exc)) from exc
    table.columns = pd.Index([str(c).strip() for c in table.columns])
    for column in table.columns:
        table[column] = table[column].fillna("").astype(str).str.strip()
    unnamed = [
        c for c in table.columns if c.startswith("Unnamed: ") and not table[c].astype(bool).any()
    ]
    table = table.drop(columns=unnamed)
    if table.empty:
        raise InputFormatError(f"{inp.name}: the file has a header but no data rows")
    return table.reset_index(drop=True)


def _parser_message(name: str, text: _Text, exc: Exception) -> str:
    sep = _SEPARATOR_NAMES[text.separator]
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if found:
        expected, line, saw = found.groups()
        return (
            f"{name}: line {line} (data row {int(line) - 1}) has {saw} fields where the header "
            f"has {expected} (separator {sep}); check the quoting of values containing {sep}"
        )
    return f"{name}: cannot be parsed as a table with separator {sep} ({exc})"


# --------------------------------------------------------------------------------------------
# names, numbers, messages
# --------------------------------------------------------------------------------------------
def _normalise_name(name: str) -> str:
    """``"Code commune (coord. structure)"`` → ``"code_commune_coord_structure"``."""
    ascii_name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")


def _columns_by_key(columns: Iterable[str]) -> dict[str, str]:
    """Normalised name → first original column with that name."""
    found: dict[str, str] = {}
    for column in columns:
        found.setdefault(_normalise_name(column), column)
    return found


def _find(keys: Mapping[str, str], candidates: Iterable[str]) -> str | None:
    return next((keys[c] for c in candidates if c in keys), None)


def _rows_text(rows: npt.ArrayLike, limit: int = 5) -> str:
    values = np.asarray(rows).ravel()
    shown = ", ".join(str(int(r)) for r in values[:limit])
    more = f" and {values.size - limit} more" if values.size > limit else ""
    return f"row{'s' if values.size > 1 else ''} {shown}{more}"


def _fail(
    name: str, message: str, *, column: str | None = None, rows: npt.ArrayLike | None = None
) -> NoReturn:
    where = []
    if column is not None:
        where.append(f"column {column!r}")
    if rows is not None:
        where.append(_rows_text(rows))
    prefix = f"{name}: " + (", ".join(where) + ": " if where else "")
    raise InputFormatError(prefix + message)


def _missing_columns(name: str, fmt: str, missing: Iterable[str], found: Iterable[str]) -> NoReturn:
    raise InputFormatError(
        f"{name}: missing required column(s) for format {fmt!r}: {', '.join(missing)}; "
        f"columns found: {', '.join(repr(c) for c in found)}"
    )


def _parse_numbers(
    values: pd.Series, rows: npt.NDArray[np.int64], name: str, column: str
) -> FloatArray:
    """Numbers with a decimal point or comma and optional thousands spaces; '' → NaN."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
        shown = values.astype(str)
        empty = values.isna().to_numpy()
    else:
        text = values.astype("string").fillna("").str.strip()
        cleaned = text.str.replace(r"[\s\u00a0\u202f]", "", regex=True).str.replace(
            ",", ".", regex=False
        )
        numbers = pd.to_numeric(cleaned.mask(cleaned == ""), errors="coerce").to_numpy(
            dtype="float64"
        )
        shown = text
        empty = (text == "").to_numpy()
    bad = ~empty & ~np.isfinite(numbers)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        _fail(
            name,
            f"value {shown.iloc[first]!r} is not a number",
            column=column,
            rows=rows[bad],
        )
    return numbers


def _check_range(
    numbers: FloatArray,
    rows: npt.NDArray[np.int64],
    name: str,
    column: str,
    bounds: tuple[float, float],
    *,
    integer: bool = False,
) -> None:
    low, high = bounds
    present = np.isfinite(numbers)
    bad = present & ((numbers < low) | (numbers > high))
    if bad.any():
        first = numbers[bad][0]
        _fail(
            name,
            f"value {first:g} is outside the accepted range [{low:g}, {high:g}]",
            column=column,
            rows=rows[bad],
        )
    if integer:
        fractional = present & (numbers != np.round(numbers))
        if fractional.any():
            _fail(
                name,
                f"value {numbers[fractional][0]:g} is not a whole number",
                column=column,
                rows=rows[fractional],
            )


def _slug(values: pd.Series) -> pd.Series:
    uniques = pd.unique(values.astype(str))
    return values.astype(str).map({u: _normalise_name(u) for u in uniques})


# --------------------------------------------------------------------------------------------
# commune codes and the reference
# --------------------------------------------------------------------------------------------
def _normalise_commune_codes(
    values: pd.Series, rows: npt.NDArray[np.int64], name: str, column: str
) -> pd.Series:
    """Upper-case, restore a leading zero lost by a spreadsheet; '' → NA; bad codes → error.

    Computed once per distinct code (a national file repeats ~35,000 codes over millions of
    rows), then spread back to the rows.
    """
    index, distinct = pd.factorize(values, use_na_sentinel=True)
    text = pd.Series(distinct, dtype=object).astype("string").str.strip().str.upper()
    text = text.mask(text.str.fullmatch(r"\d{4}"), text.str.zfill(5))
    bad_value = ((text != "") & ~text.str.fullmatch(_COMMUNE_CODE_PATTERN)).to_numpy(dtype=bool)
    bad = np.zeros(len(index), dtype=bool)
    bad[index >= 0] = bad_value[index[index >= 0]]
    if bad.any():
        first = text.iloc[index[np.flatnonzero(bad)[0]]]
        _fail(
            name,
            f"{first!r} is not an INSEE commune code (5 characters, e.g. '42218' or '2A004')",
            column=column,
            rows=rows[bad],
        )
    return _spread(_as_object(text.mask(text == "")), index, values.index)


def _spread(distinct: pd.Series, index: npt.NDArray[np.intp], row_index: pd.Index) -> pd.Series:
    """Rows' values from the values of the distinct inputs (``index`` -1: missing → None)."""
    done = distinct.to_numpy(dtype=object)
    out = np.empty(len(index), dtype=object)  # None
    present = index >= 0
    out[present] = done[index[present]]
    return pd.Series(out, index=row_index, dtype=object)


def _as_object(values: pd.Series) -> pd.Series:
    """Object Series whose missing values are None (one missing marker in every frame)."""
    out = values.astype(object)
    return out.where(values.notna(), None)


def _str_column(values: pd.Series | npt.NDArray[Any]) -> pd.Series:
    """Return a text column of the result in pandas' Arrow-backed ``str`` dtype (missing: NaN).

    A column already in that dtype is kept as is. Otherwise each distinct value is encoded
    once (professions, communes and rules repeat over millions of rows), then the Arrow
    buffers are filled block by block, allocated at their exact size: no Python string per
    row, and no buffer grown by doubling.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if series.dtype == "str":
        return series.reset_index(drop=True)
    index, distinct = pd.factorize(series, use_na_sentinel=True)
    encoded = [str(v).encode("utf-8") for v in distinct]
    lengths = np.array([len(b) for b in encoded] + [0], dtype=np.int64)  # last: missing
    width = int(lengths.max()) if len(lengths) else 0
    table = np.zeros((len(lengths), max(width, 1)), dtype=np.uint8)  # one padded row a value
    for i, value in enumerate(encoded):
        table[i, : len(value)] = np.frombuffer(value, dtype=np.uint8)
    index = np.where(index < 0, len(encoded), index)
    row_lengths = lengths[index]
    offsets = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(row_lengths, out=offsets[1:])
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    columns = np.arange(table.shape[1])
    for start in range(0, len(index), _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, len(index))
        block = index[start:stop]
        used = columns < row_lengths[start:stop, None]
        data[offsets[start] : offsets[stop]] = table[block][used]
    missing = index == len(encoded)
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing.any() else None
    array = pa.LargeStringArray.from_buffers(
        len(index), pa.py_buffer(offsets), pa.py_buffer(data), validity, int(missing.sum())
    )
    return pd.Series(array, dtype="str")


def _id_codes(ids: pd.Series) -> npt.NDArray[np.intp]:
    """Integer code of each identifier (equal identifiers, equal codes; none missing).

    Identifiers written as digits without a leading zero (RPPS numbers) are compared as
    integers: sorting 2 million integers costs far less memory than hashing their strings.
    """
    if ids.dtype == "str" and len(ids) and not ids.isna().any():
        values = ids.array.__arrow_array__()  # the Arrow array behind pandas' str dtype
        if pc.all(pc.match_substring_regex(values, r"^[1-9]\d{0,17}$")).as_py():
            numbers = pc.cast(values, pa.int64()).to_numpy()
            _, codes = np.unique(numbers, return_inverse=True)
            return codes.astype(np.intp).ravel()
    codes, _ = pd.factorize(ids)
    return codes.astype(np.intp)


def _parent_commune(codes: pd.Series) -> pd.Series:
    """Arrondissements municipaux → their commune (Paris, Lyon, Marseille)."""
    index, distinct = pd.factorize(codes, use_na_sentinel=True)
    text = pd.Series(distinct, dtype=object).astype("string")
    parent = text.copy()
    parent = parent.mask(text.str.fullmatch(r"751(0[1-9]|1\d|20)").fillna(False), "75056")
    parent = parent.mask(text.str.fullmatch(r"6938[1-9]").fillna(False), "69123")
    parent = parent.mask(text.str.fullmatch(r"132(0[1-9]|1[0-6])").fillna(False), "13055")
    return _spread(_as_object(parent), index, codes.index)


def _recode_historical(records: _Records) -> _Records:
    """Historical codes of merged communes → today's commune; the former code is kept aside.

    Called by every reader that locates by commune code, before rows are merged or checked
    against the reference: a file made before a merger (e.g. 01091, now part of 01033) is read
    as today's commune. The former codes end up in ``attrs["recoded"]`` (see :func:`_finish`).
    """
    current, report = recode_communes(records.commune)
    if len(report):
        changed = (records.commune.notna() & current.ne(records.commune)).to_numpy(dtype=bool)
        records.extra[_RECODED_FROM] = records.commune.where(changed, None).reset_index(drop=True)
        records.commune = current.reset_index(drop=True)
    return records


def _recoded_attrs(records: _Records) -> dict[str, Any]:
    """``attrs["recoded"]`` of the rows kept: how many were re-coded, former code → current."""
    former = records.extra.pop(_RECODED_FROM, None)
    if former is None:
        return {"rows": 0, "codes": {}}
    changed = former.notna().to_numpy(dtype=bool)
    pairs = pd.DataFrame(
        {"old": former[changed].astype(str), "new": records.commune[changed].astype(str)}
    ).drop_duplicates()
    return {
        "rows": int(changed.sum()),
        "codes": dict(sorted(zip(pairs["old"], pairs["new"], strict=True))),
    }


def _departement_of(codes: pd.Series) -> pd.Series:
    text = codes.astype("string")
    return text.str[:3].where(text.str.startswith("97").fillna(False), text.str[:2])


def _outside_reference(codes: pd.Series) -> BoolArray:
    text = codes.astype("string").fillna("")
    mask: BoolArray = text.str.startswith(_OUTSIDE_PREFIXES).to_numpy(dtype=bool)
    return mask


@lru_cache(maxsize=16)
def _transformer(crs: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(crs, GEOGRAPHIC_CRS, always_xy=True)


def _reference_points(
    codes: pd.Series, rows: npt.NDArray[np.int64], name: str, column: str
) -> pd.DataFrame:
    """Name and town-hall lon/lat of each (non-NA) commune code; unknown codes → error."""
    unique = sorted({str(c) for c in codes.dropna()})
    if not unique:
        return pd.DataFrame(
            {
                "nom": pd.Series(dtype=object),
                "lon": pd.Series(dtype="float64"),
                "lat": pd.Series(dtype="float64"),
            }
        )
    try:
        communes = load_communes(codes=unique)
    except UnknownCodeError as exc:
        unknown = set(exc.codes)
        parts = []
        for code in exc.codes[:10]:
            code_rows = rows[codes.astype("string").eq(code).fillna(False).to_numpy()]
            parts.append(f"{code!r} ({_rows_text(code_rows, limit=3)})")
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        hint = (
            "; communes of the collectivités d'outre-mer are not covered"
            if any(c.startswith(_OUTSIDE_PREFIXES) for c in unknown)
            else ""
        )
        split = ambiguous_codes()
        hint += "".join(
            f"; {c!r} is a former code now shared by several communes "
            f"({', '.join(split[c])}): give the current code"
            for c in exc.codes[:10]
            if c in split
        )
        raise InputFormatError(
            f"{name}: column {column!r}: unknown commune code(s) {', '.join(parts)}{more} "
            f"(codes of the COG 2026 or former codes of merged communes){hint}"
        ) from exc
    points = communes["chef_lieu"].to_numpy()
    table = pd.DataFrame(
        {
            "nom": communes["nom"].astype(object).to_numpy(),
            "lon": shapely.get_x(points),
            "lat": shapely.get_y(points),
        },
        index=pd.Index(communes["code"].astype(object).to_numpy()),
    )
    return table


# --------------------------------------------------------------------------------------------
# records shared by every format, then the GeoDataFrame
# --------------------------------------------------------------------------------------------
@dataclass
class _Records:
    """What a format reader hands over: one row per practitioner, file row numbers kept."""

    rows: npt.NDArray[np.int64]
    ids: pd.Series | None  # None: the file has no identifiers
    id_column: str | None
    profession: pd.Series
    profession_libelle: pd.Series
    commune: pd.Series  # normalised INSEE code or NA
    commune_column: str | None
    lon: FloatArray
    lat: FloatArray
    coordinate_columns: str | None  # for messages
    numeric: dict[str, FloatArray] = field(default_factory=dict)
    extra: dict[str, pd.Series] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    #: the column the professions were read from (messages), None when the file has none
    profession_column: str | None = None

    def take(self, mask: BoolArray | npt.NDArray[np.intp]) -> _Records:
        """Rows by a boolean mask, or by positions (repeated positions repeat the row)."""
        return _Records(
            rows=self.rows[mask],
            ids=None if self.ids is None else self.ids.iloc[mask].reset_index(drop=True),
            id_column=self.id_column,
            profession=self.profession.iloc[mask].reset_index(drop=True),
            profession_libelle=self.profession_libelle.iloc[mask].reset_index(drop=True),
            commune=self.commune.iloc[mask].reset_index(drop=True),
            commune_column=self.commune_column,
            lon=self.lon[mask],
            lat=self.lat[mask],
            coordinate_columns=self.coordinate_columns,
            numeric={k: v[mask] for k, v in self.numeric.items()},
            extra={k: v.iloc[mask].reset_index(drop=True) for k, v in self.extra.items()},
            dropped=dict(self.dropped),
            attrs=self.attrs,
            profession_column=self.profession_column,
        )

    def release(self) -> None:
        """Free the per-row arrays once the result is built (counts and ``attrs`` stay)."""
        # new empty arrays, not slices: a slice would keep the whole buffer alive
        self.rows = np.zeros(0, dtype=np.int64)
        self.lon, self.lat = np.zeros(0), np.zeros(0)
        self.ids = None
        self.profession = pd.Series(dtype=object)
        self.profession_libelle = pd.Series(dtype=object)
        self.commune = pd.Series(dtype=object)
        self.numeric, self.extra = {}, {}

    def drop(self, mask: BoolArray, reason: str) -> _Records:
        count = int(mask.sum())
        if not count:
            return self
        kept = self.take(~mask)
        kept.dropped[reason] = kept.dropped.get(reason, 0) + count
        return kept


def _check_ids(records: _Records, name: str) -> pd.Series:
    if records.ids is None:
        return pd.Series([f"ROW-{r}" for r in records.rows], dtype="str")
    ids = records.ids.astype("str").fillna("").str.strip()
    empty = (ids == "").to_numpy(dtype=bool)
    if empty.any():
        _fail(name, "empty identifier", column=records.id_column, rows=records.rows[empty])
    codes = _id_codes(ids)
    duplicated = np.bincount(codes)[codes] > 1
    if duplicated.any():
        first = ids[duplicated].iloc[0]
        both = records.rows[(ids == first).to_numpy()]
        _fail(
            name,
            f"duplicate identifier {first!r} in rows {', '.join(map(str, both[:5]))}"
            + (
                f" ({int(duplicated.sum())} rows share an identifier)"
                if duplicated.sum() > 2
                else ""
            ),
            column=records.id_column,
        )
    return ids


def _profession_key(value: str) -> str:
    """Turn a profession as a person writes it into the engine's code, lower-cased.

    ``"Médecin généraliste"``, ``"MG"``, ``"Medecin_Generaliste"``, ``"D265"`` and ``"d201"``
    all give ``"medecin_generaliste"``; ``"D307"`` gives ``"bpe_d307"``; ``"RPPS_10_sm04"``
    gives ``"rpps_10_sm04"``.
    """
    text = str(value).strip()
    if re.fullmatch(r"[Dd]\d{3}", text):
        code = text.upper()
        return BPE_PROFESSIONS.get(code, f"bpe_{code}").lower()
    slug = _normalise_name(text)
    return _PROFESSION_SYNONYMS.get(slug, slug).lower()


def profession_code(value: str) -> str:
    """Return the engine's code of a profession as a person writes it (any case, French names).

    ``"Medecin_Generaliste"``, ``"MG"``, ``"médecin généraliste"``, ``"D265"`` and ``"d201"``
    give ``"medecin_generaliste"``; ``"D307"`` gives ``"bpe_D307"``; anything else its
    normalised name (lower case, no accents), e.g. ``"Pharmacie d'Officine"`` →
    ``"pharmacie_d_officine"``. Checks an option before any file is read (the codes of
    :data:`geo.demo.PROFESSIONS` for the built-in data); a file's own codes are matched by
    :func:`read_practitioners` and :func:`select_profession`, whatever their case.

    Examples
    --------
    >>> profession_code("Medecin_Generaliste"), profession_code("d307")
    ('medecin_generaliste', 'bpe_D307')
    """
    key = _profession_key(value)
    return re.sub(r"^bpe_d", "bpe_D", key) if re.fullmatch(r"bpe_d\d{3}", key) else key


def _profession_arguments(
    profession: str | None, professions: Sequence[str] | str | None
) -> tuple[str | None, list[str] | None]:
    """Check the two ways of choosing professions (before the file is read)."""
    if profession is not None and professions is not None:
        raise DataValidationError(
            "donnez profession= (une profession) ou professions= (plusieurs), pas les deux"
        )
    if profession is not None and (not isinstance(profession, str) or not profession.strip()):
        raise DataValidationError(
            f"profession= attend un texte non vide (ex. 'medecin_generaliste'), reçu {profession!r}"
        )
    if professions is None:
        return profession, None
    listed = [professions] if isinstance(professions, str) else list(professions)
    bad = [p for p in listed if not isinstance(p, str)]
    if bad:
        raise DataValidationError(f"professions= attend des textes, reçu {bad[0]!r}")
    return profession, listed


@dataclass(frozen=True)
class _Kind:
    """One profession or equipment type of a file: what a message lists and a person picks."""

    profession: str
    file_code: str  # the file's own code (BPE TYPEQU), '' when the profession is the code
    label: str
    rows: int

    def line(self, unit: str) -> str:
        head = f"{self.file_code} {self.label}" if self.file_code else self.label
        rows = f"{self.rows:,}".replace(",", "\u202f")
        bpe_only = self.profession.startswith("bpe_") and self.file_code
        choice = self.file_code if bpe_only else self.profession
        return f"{head} : {rows} {unit if self.rows > 1 else unit[:-1]} → {choice}"


def _kinds(records: _Records) -> list[_Kind]:
    """List the professions (and BPE equipment types) of the records, most frequent first."""
    codes = records.extra.get(_FILE_CODE)
    frame = pd.DataFrame(
        {
            "profession": records.profession.astype(object).to_numpy(),
            "code": "" if codes is None else codes.astype(object).to_numpy(),
            "label": records.profession_libelle.astype(object).to_numpy(),
        }
    )
    groups = frame.groupby(["profession", "code"], sort=False, dropna=False).agg(
        label=("label", "first"), rows=("label", "size")
    )
    kinds = [
        _Kind(
            str(profession),
            str(code),
            BPE_HEALTH_LABELS.get(str(code), str(label)) if code else str(label),
            int(rows),
        )
        for (profession, code), label, rows in zip(
            groups.index, groups["label"], groups["rows"], strict=True
        )
    ]
    return sorted(kinds, key=lambda k: (-k.rows, k.file_code or k.profession))


def _kinds_text(kinds: Sequence[_Kind], fmt: str) -> str:
    unit = _ROW_WORDS.get(fmt, "lignes")
    return "".join(f"\n  - {k.line(unit)}" for k in kinds)


def _vocabulary_text() -> str:
    return (
        "professions reconnues dans tout fichier : "
        + ", ".join(PROFESSIONS)
        + " (noms français compris : « Infirmière », « Médecin généraliste »…) ; un code "
        "TYPEQU de la BPE (D265, D307…) ; les codes ci-dessus (majuscules indifférentes)"
    )


def _choose_professions(
    records: _Records,
    name: str,
    fmt: str,
    profession: str | None,
    professions: list[str] | None,
    all_professions: bool,
) -> tuple[_Records, dict[str, Any]]:
    """Keep the professions asked for; refuse a file of several kinds when none is chosen.

    Returns the records kept and the ``attrs`` telling what the file held and what was kept.
    """
    held = {str(p): int(n) for p, n in records.profession.value_counts(sort=True).items()}
    distinct = list(held)
    lower = {p: p.lower() for p in distinct}
    by_key = {low: p for p, low in lower.items()}
    column = records.profession_column or "profession"
    if profession is not None:
        match = by_key.get(_profession_key(profession))
        if match is None:
            key = _profession_key(profession)
            known = key in PROFESSIONS or re.fullmatch(r"(bpe_d\d{3}|rpps_\w+)", key)
            why = (
                "absente du fichier"
                if known
                else "inconnue (ni une profession reconnue, ni un code de ce fichier)"
            )
            raise DataValidationError(
                f"{name} : colonne {column!r} : profession {profession!r} {why}. Valeurs "
                f"possibles pour ce fichier :{_kinds_text(_kinds(records), fmt)}\n"
                f"({_vocabulary_text()})"
            )
        keep = (records.profession == match).to_numpy(dtype=bool)
    elif professions is not None:
        keys = {_profession_key(p) for p in professions}
        keep = records.profession.map(lower).isin(keys).to_numpy(dtype=bool)
    else:
        if len(distinct) > 1 and not all_professions:
            kinds = _kinds(records)
            example = (
                "medecin_generaliste"
                if "medecin_generaliste" in distinct
                else (kinds[0].file_code or kinds[0].profession)
                if kinds[0].profession.startswith("bpe_")
                else kinds[0].profession
            )
            what = (
                "professions ou types d'équipement différents"
                if fmt == "bpe"
                else "professions ou catégories différentes"
            )
            raise DataValidationError(
                f"{name} : colonne {column!r} : le fichier contient {len(kinds)} {what} ; "
                "les compter ensemble donnerait un chiffre faux (une pharmacie n'est pas un "
                "médecin). Choisissez ce que vous analysez : "
                f"--profession {example} en ligne de commande, profession={example!r} en "
                "Python (majuscules indifférentes ; all_professions=True pour tout garder "
                f"sciemment). Contenu du fichier :{_kinds_text(kinds, fmt)}"
            )
        keep = np.ones(len(records.rows), dtype=bool)
    everything = bool(keep.all())
    records = records.drop(~keep, _DROP_PROFESSION)
    kept = distinct if everything else [str(p) for p in pd.unique(records.profession)]
    chosen = kept[0] if len(kept) == 1 else None
    label = str(records.profession_libelle.iloc[0]) if chosen is not None else None
    codes = records.extra.get(_FILE_CODE)
    attrs: dict[str, Any] = {
        "professions_in_file": held,
        "profession": chosen,
        "profession_libelle": label,
        "profession_asked": profession if profession is not None else professions,
    }
    if codes is not None:
        attrs["equipment_codes"] = {str(k): int(v) for k, v in codes.value_counts().items()}
    return records, attrs


def _zone_of_points(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.object_]:
    zones = np.full(lon.shape, "", dtype=object)
    for zone, (minx, miny, maxx, maxy) in FRANCE_BOXES.items():
        inside = (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy) & (zones == "")
        zones[inside] = zone
    return zones


def _zone_of_communes(codes: pd.Series) -> npt.NDArray[np.object_]:
    deps = _departement_of(codes).astype(object)
    zones: npt.NDArray[np.object_] = (
        deps.map(_DROM_ZONES).fillna(_METROPOLE_ZONE).where(codes.notna(), "").to_numpy()
    )
    return zones


def _check_coordinates(records: _Records, name: str) -> None:
    """File coordinates must lie in France and in the territory of the row's commune."""
    has = np.isfinite(records.lon) & np.isfinite(records.lat)
    columns = records.coordinate_columns
    zones = _zone_of_points(records.lon, records.lat)
    outside = has & (zones == "")
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        _fail(
            name,
            f"point (lon {records.lon[i]:.5f}, lat {records.lat[i]:.5f}) lies outside France "
            "(métropole and DROM); check the CRS and the order of the coordinates "
            "(latitude/longitude swapped?)",
            column=columns,
            rows=records.rows[outside],
        )
    expected = _zone_of_communes(records.commune)
    mismatch = has & (expected != "") & (zones != expected)
    if mismatch.any():
        i = int(np.flatnonzero(mismatch)[0])
        _fail(
            name,
            f"point (lon {records.lon[i]:.5f}, lat {records.lat[i]:.5f}) lies in {zones[i]} "
            f"but its commune {records.commune.iloc[i]} is in {expected[i]}",
            column=columns,
            rows=records.rows[mismatch],
        )


@dataclass(frozen=True)
class _Choice:
    """The professions a caller asked for (see :func:`read_practitioners`)."""

    profession: str | None = None
    professions: list[str] | None = None
    all_professions: bool = False


def _finish(
    records: _Records,
    *,
    fmt: str,
    inp: _Input,
    choice: _Choice,
    encoding: str | None,
    separator: str | None,
    rows_read: int,
) -> gpd.GeoDataFrame:
    name = inp.name
    records.ids = _check_ids(records, name)
    records, profession_attrs = _choose_professions(
        records, name, fmt, choice.profession, choice.professions, choice.all_professions
    )

    has_lon, has_lat = np.isfinite(records.lon), np.isfinite(records.lat)
    half = has_lon != has_lat
    if half.any():
        _fail(
            name,
            "one coordinate is given without the other",
            column=records.coordinate_columns,
            rows=records.rows[half],
        )
    located = has_lon & has_lat
    no_place = ~located & records.commune.isna().to_numpy()
    if no_place.any():
        _fail(
            name,
            "no coordinates and no commune code: the practitioner cannot be located",
            column=records.coordinate_columns or records.commune_column,
            rows=records.rows[no_place],
        )
    _check_coordinates(records, name)

    commune_column = records.commune_column or "commune"
    ref = _reference_points(records.commune, records.rows, name, commune_column)
    aligned = ref.reindex(pd.Index(records.commune.astype(object)))
    town_lon = aligned["lon"].to_numpy(dtype="float64")
    town_lat = aligned["lat"].to_numpy(dtype="float64")
    pointless = ~located & ~np.isfinite(town_lon)
    if pointless.any():
        codes = sorted(set(records.commune[pointless]))
        warn_data(
            f"{name}: {int(pointless.sum())} row(s) dropped ({_rows_text(records.rows[pointless])})"
            f": commune(s) {', '.join(codes)} have no town-hall point in the reference",
            UserWarning,
            stacklevel=4,  # the caller of read_practitioners
        )
        records = records.drop(pointless, _DROP_NO_POINT)
        located, aligned = located[~pointless], aligned[~pointless]
        town_lon, town_lat = town_lon[~pointless], town_lat[~pointless]
    lon = np.where(located, records.lon, town_lon)
    lat = np.where(located, records.lat, town_lat)
    del town_lon, town_lat
    n_rows = len(lon)
    # one string per rule, taken by row (not one Python string per row)
    location = np.array([LOCATION_CHEF_LIEU, LOCATION_FILE], dtype=object)[located.astype(np.intp)]

    recoded = _recoded_attrs(records)
    assert records.ids is not None
    # text columns in pandas' Arrow-backed str dtype, built one at a time from their distinct
    # values; the records' copies go as soon as a column is built
    frame: dict[str, Any] = {"id": _str_column(records.ids)}
    records.ids = None
    frame["profession"] = _str_column(records.profession)
    frame["profession_libelle"] = _str_column(records.profession_libelle)
    frame["commune"] = _str_column(records.commune)
    frame["commune_nom"] = _str_column(aligned["nom"].to_numpy(dtype=object))
    del aligned
    frame["location"] = _str_column(location)
    del location
    for column in OPTIONAL_COLUMNS:
        if column in records.extra:
            extra = records.extra.pop(column)
            frame[column] = (
                _str_column(extra)
                if extra.dtype == object or extra.dtype == "str"
                else extra.reset_index(drop=True)
            )
        elif column in records.numeric:
            values = records.numeric[column]
            frame[column] = (
                pd.Series(values).round().astype("Int64").array
                if column in _INTEGER_COLUMNS
                else values
            )
    frame["synthetic"] = np.zeros(n_rows, dtype=bool)
    frame["source"] = _str_column(np.full(n_rows, f"{fmt} ({inp.basename})", dtype=object))
    records.release()  # consumed: the caller holds it, its rows must not stay alive
    table = pd.DataFrame(frame, copy=False)
    del frame
    # the points last, once, from the coordinate arrays; the memory Arrow still holds from the
    # reading goes back to the system first (GEOS and Python allocate the points elsewhere)
    pa.default_memory_pool().release_unused()
    gdf = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs=GEOGRAPHIC_CRS)
    del table, lon, lat
    gdf.attrs = {
        "format": fmt,
        "file": inp.basename,
        "rows_read": rows_read,
        "rows_kept": len(gdf),
        "rows_dropped": dict(records.dropped),
        "located": {
            LOCATION_FILE: int(located.sum()),
            LOCATION_CHEF_LIEU: int((~located).sum()),
        },
        "encoding": encoding,
        "separator": separator,
        "synthetic": False,
        "recoded": recoded,
        **profession_attrs,
        **records.attrs,
    }
    gdf.attrs["format_fr"] = FORMAT_LABELS_FR[fmt]
    gdf.attrs["placed_at_town_hall"] = _town_hall_word(int((~located).sum()), len(gdf))
    gdf.attrs["source"] = _source_sentence(gdf.attrs)
    return gdf


def _town_hall_word(at_town_hall: int, total: int) -> str:
    """``"all"``, ``"some"`` or ``"none"``: how many points stand at their town hall."""
    if total and at_town_hall == total:
        return "all"
    return "some" if at_town_hall else "none"


def _source_sentence(attrs: Mapping[str, Any]) -> str:
    """Where the practitioners come from, in French: file, format, profession, location rule.

    What :func:`geo.analysis.analyse` carries into ``attrs["sources"]["practitioners"]`` of its
    result, i.e. the sources line of the maps and the summary.
    """
    label = attrs.get("profession_libelle")
    if attrs.get("profession") is None:
        held = attrs.get("professions_in_file") or {}
        kept = len(held) if attrs.get("profession_asked") is None else None
        what = f"{kept} professions" if kept else "plusieurs professions"
        profession = f"toutes professions confondues ({what})"
    else:
        codes = sorted(attrs.get("equipment_codes") or {})
        code = f" (TYPEQU {', '.join(codes)})" if codes else ""
        profession = f"{str(label).lower() if label else attrs['profession']}{code}"
    placed = {
        "all": " ; points placés au chef-lieu de leur commune",
        "some": (
            f" ; {attrs['located'][LOCATION_CHEF_LIEU]:,} points sur {attrs['rows_kept']:,} "
            "placés au chef-lieu de leur commune (sans coordonnées)"
        ).replace(",", "\u202f"),
        "none": "",
    }[str(attrs["placed_at_town_hall"])]
    counts = attrs.get("count_column")
    counted = f", effectifs par ligne (colonne {counts['column']})" if counts else ""
    return (
        f"fichier {attrs['file']} ({attrs['format_fr']}{counted}), profession : "
        f"{profession}{placed}"
    )


# --------------------------------------------------------------------------------------------
# generic tables (CSV and layers)
# --------------------------------------------------------------------------------------------
def _professions_from(table: pd.DataFrame, keys: Mapping[str, str]) -> tuple[pd.Series, pd.Series]:
    """Profession code and label from the first non-empty profession column of each row."""
    columns = [keys[c] for c in _PROFESSION_NAMES if c in keys]
    raw = pd.Series("", index=table.index, dtype=object)
    for column in columns:
        value = table[column].astype("string").fillna("").str.strip().astype(object)
        raw = raw.where(raw != "", value)
    slug = _slug(raw)
    code = slug.map(_PROFESSION_SYNONYMS).fillna(slug).astype(object)
    code = code.where(raw != "", _UNKNOWN_PROFESSION[0])
    label_column = _find(keys, _PROFESSION_LABEL_NAMES)
    file_label = (
        table[label_column].astype("string").fillna("").str.strip().astype(object)
        if label_column
        else pd.Series("", index=table.index, dtype=object)
    )
    core = code.map({k: p.label for k, p in PROFESSIONS.items()})
    label = core.where(core.notna(), file_label.where(file_label != "", raw))
    label = label.where(raw != "", _UNKNOWN_PROFESSION[1])
    return code.reset_index(drop=True), label.astype(object).reset_index(drop=True)


def _generic_records(table: pd.DataFrame, name: str, *, require: str | None = None) -> _Records:
    """Build the records of a CSV table or of a layer's attributes (``require``: forced format)."""
    keys = _columns_by_key(table.columns)
    rows = np.arange(1, len(table) + 1, dtype=np.int64)
    lat_col, lon_col = _find(keys, _LAT_NAMES), _find(keys, _LON_NAMES)
    commune_col = _commune_column(table, keys)
    if require == "csv_latlon" and (lat_col is None or lon_col is None):
        _missing_columns(
            name,
            require,
            [
                f"{what} (one of {', '.join(names)})"
                for what, names, col in (
                    ("latitude", _LAT_NAMES, lat_col),
                    ("longitude", _LON_NAMES, lon_col),
                )
                if col is None
            ],
            table.columns,
        )
    if require == "csv_commune" and commune_col is None:
        _missing_columns(
            name, require, [f"commune code (one of {', '.join(_COMMUNE_NAMES)})"], table.columns
        )
    if require == "csv_commune":
        lat_col = lon_col = None
    elif (
        commune_col is not None
        and lat_col is not None
        and lon_col is not None
        and _normalise_name(commune_col) in {"commune", "com"}
        and not _looks_like_codes(table[commune_col])
    ):
        commune_col = None  # a "commune" column of names beside coordinates: not a code
    coordinate_columns = None
    lon = lat = np.full(len(table), np.nan)
    if lat_col is not None and lon_col is not None:
        coordinate_columns = f"{lon_col}/{lat_col}"
        lon = _parse_numbers(table[lon_col], rows, name, lon_col)
        lat = _parse_numbers(table[lat_col], rows, name, lat_col)
        for values, column, limit in ((lon, lon_col, 180.0), (lat, lat_col, 90.0)):
            bad = np.abs(values) > limit
            if bad.any():
                _fail(
                    name,
                    f"value {values[bad][0]:g} is out of range [-{limit:g}, {limit:g}]: this "
                    "format expects WGS 84 longitude/latitude in degrees (projected metres? "
                    "send a GeoJSON or GeoPackage with its CRS)",
                    column=column,
                    rows=rows[bad],
                )
    commune = (
        _parent_commune(_normalise_commune_codes(table[commune_col], rows, name, commune_col))
        if commune_col is not None
        else pd.Series([None] * len(table), dtype=object)
    )
    id_col = _find(keys, _ID_NAMES)
    ids: pd.Series | None = None
    if id_col is not None:
        ids = _identifier_text(table[id_col])
    elif "osm_id" in keys:  # OpenStreetMap extracts: "node/123", "way/456"
        id_col = keys["osm_id"]
        ids = _identifier_text(table[id_col])
        if "osm_type" in keys:
            kind = table[keys["osm_type"]].astype("string").fillna("").str.strip()
            ids = (kind + "/" + ids.astype("string")).where(kind != "", ids).astype(object)
    profession, label = _professions_from(table, keys)
    profession_columns = [keys[c] for c in _PROFESSION_NAMES if c in keys]
    numeric: dict[str, FloatArray] = {}
    for target, names in _NUMERIC_NAMES.items():
        number_col = _find(keys, names)
        if number_col is None:
            continue
        values = _parse_numbers(table[number_col], rows, name, number_col)
        _check_range(
            values, rows, name, number_col, _RANGES[target], integer=target in _INTEGER_COLUMNS
        )
        numeric[target] = values
    extra: dict[str, pd.Series] = {}
    count_col = _count_column(
        table,
        keys,
        name,
        exclude={keys[k] for n in _NUMERIC_NAMES.values() for k in n if k in keys},
    )
    if count_col is not None and not profession_columns:
        # NB_D201: the count of a BPE equipment type names the profession
        code = re.fullmatch(r"[a-z]+_(d\d{3})", _normalise_name(count_col))
        if code is not None:
            typequ = code.group(1).upper()
            mapped = BPE_PROFESSIONS.get(typequ, f"bpe_{typequ}")
            core_label = PROFESSIONS[mapped].label if mapped in PROFESSIONS else None
            profession = pd.Series(mapped, index=profession.index, dtype=object)
            label = pd.Series(
                core_label or BPE_HEALTH_LABELS.get(typequ, f"Équipement BPE {typequ}"),
                index=label.index,
                dtype=object,
            )
            profession_columns = [count_col]
            extra[_FILE_CODE] = pd.Series(typequ, index=profession.index, dtype=object)
    records = _Records(
        rows=rows,
        ids=ids,
        id_column=id_col,
        profession=profession,
        profession_libelle=label,
        commune=commune.reset_index(drop=True),
        commune_column=commune_col,
        lon=lon,
        lat=lat,
        coordinate_columns=coordinate_columns,
        numeric=numeric,
        extra=extra,
        profession_column="/".join(profession_columns) or None,
    )
    if count_col is not None:
        records = _expand_counts(records, table[count_col], name, count_col)
    return _recode_historical(records)


def _commune_column(table: pd.DataFrame, keys: Mapping[str, str]) -> str | None:
    """Find the commune code column: the first named like one holding 5-character codes.

    A FINESS table has both ``code commune`` (the commune's 3-digit number inside its
    département) and ``code_insee``: the column whose values are INSEE codes wins. When no
    candidate holds codes, the first one is kept (its values are then refused, named).
    """
    candidates = [keys[c] for c in _COMMUNE_NAMES if c in keys]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    for column in candidates:
        text = table[column].astype("string").fillna("").str.strip().str.upper()
        present = text[text != ""]
        if (
            len(present)
            and present.str.fullmatch(rf"{_COMMUNE_CODE_PATTERN}|\d{{4}}").mean() >= 0.9
        ):
            return column
    return candidates[0]


def _count_column(
    table: pd.DataFrame, keys: Mapping[str, str], name: str, *, exclude: set[str]
) -> str | None:
    """Find the column counting practitioners per row (``NB_D201``, ``effectif``…), if any.

    A column is a count when its name says so and every value is a number; several such
    columns are refused (one count per file: split it, or choose the column).
    """
    found = []
    for key, column in keys.items():
        if column in exclude or not _COUNT_COLUMN_PATTERN.fullmatch(key):
            continue
        if _NOT_PRACTITIONER_COUNTS.search(key):
            continue
        text = table[column].astype("string").fillna("").str.strip()
        cleaned = text.str.replace(r"[\s\u00a0\u202f]", "", regex=True).str.replace(",", ".")
        numbers = pd.to_numeric(cleaned.mask(cleaned == ""), errors="coerce")
        if (cleaned != "").any() and numbers.notna().sum() == (cleaned != "").sum():
            found.append(column)
    if len(found) > 1:
        raise DataValidationError(
            f"{name} : colonnes {', '.join(repr(c) for c in found)} : plusieurs colonnes "
            "d'effectifs (un nombre de praticiens par ligne) ; un fichier doit n'en avoir "
            "qu'une : gardez la colonne de la profession voulue, une analyse par profession"
        )
    return found[0] if found else None


def _expand_counts(records: _Records, values: pd.Series, name: str, column: str) -> _Records:
    """Repeat each row by its count: a table of counts per commune becomes practitioners.

    ``CODGEO,NB_D201`` with ``42218,97`` gives 97 practitioners at the town hall of 42218, ids
    ``ROW-<row>-<k>`` (or ``<id>-<k>``); rows counting 0 are dropped (counted in
    ``rows_dropped``); ``attrs["count_column"]`` tells the column, rows and total.
    """
    rows = records.rows
    counts = _parse_numbers(values, rows, name, column)
    bad = ~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts))
    if bad.any():
        first = values.iloc[int(np.flatnonzero(bad)[0])]
        raise InputFormatError(
            f"{name} : colonne {column!r}, {_rows_fr(rows[bad])} : valeur {first!r} : un "
            "effectif de praticiens doit être un nombre entier positif ou nul (colonne lue "
            "comme le nombre de praticiens de la ligne)"
        )
    whole = counts.astype(np.int64)
    base = (
        records.ids.astype(str).to_numpy(dtype=object)
        if records.ids is not None
        else np.array([f"ROW-{r}" for r in rows], dtype=object)
    )
    records = records.drop(whole == 0, _DROP_ZERO_COUNT)
    base, whole = base[whole > 0], whole[whole > 0]
    positions = np.repeat(np.arange(len(whole)), whole)
    starts = np.repeat(np.cumsum(whole) - whole, whole)
    rank = np.arange(len(positions)) - starts + 1
    expanded = records.take(positions.astype(np.intp))
    expanded.ids = pd.Series(base[positions], dtype=object) + "-" + pd.Series(rank).astype(str)
    expanded.attrs = dict(records.attrs) | {
        "count_column": {
            "column": column,
            "rows": len(whole),
            "practitioners": int(whole.sum()),
        }
    }
    return expanded


def _rows_fr(rows: npt.ArrayLike, limit: int = 5) -> str:
    values = np.asarray(rows).ravel()
    shown = ", ".join(str(int(r)) for r in values[:limit])
    more = f" et {values.size - limit} autres" if values.size > limit else ""
    return f"ligne{'s' if values.size > 1 else ''} {shown}{more}"


def _looks_like_codes(values: pd.Series) -> bool:
    text = values.astype("string").fillna("").str.strip().str.upper()
    return bool(text.str.fullmatch(rf"{_COMMUNE_CODE_PATTERN}|\d{{4}}").any())


def _identifier_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.dropna()
        if (whole == np.round(whole)).all():
            values = values.astype("Int64")
    return values.astype("string").fillna("").str.strip().astype(object).reset_index(drop=True)


def _detect_csv_format(inp: _Input, header: Sequence[str]) -> str:
    keys = _columns_by_key(header)
    if all(k in keys for k in ("identifiant_pp", "code_profession")):
        return "rpps"
    if all(k in keys for k in _BPE_REQUIRED):
        return "bpe"
    if _find(keys, _LAT_NAMES) and _find(keys, _LON_NAMES):
        return "csv_latlon"
    if _find(keys, _COMMUNE_NAMES):
        return "csv_commune"
    if inp.basename.startswith("PS_LibreAcces_Personne_activite"):
        _missing_columns(inp.name, "rpps", _RPPS_REQUIRED, header)
    raise InputFormatError(
        f"{inp.name}: unknown format; columns found: {', '.join(repr(c) for c in header)}. "
        "Accepted formats: rpps (columns 'Identifiant PP', 'Code profession', 'Code commune "
        "(coord. structure)'), bpe (DEPCOM, TYPEQU, optional LAMBERT_X/LAMBERT_Y or "
        f"LONGITUDE/LATITUDE), csv_latlon (a latitude column: {', '.join(_LAT_NAMES)}; a "
        f"longitude column: {', '.join(_LON_NAMES)}), csv_commune (a commune code column: "
        f"{', '.join(_COMMUNE_NAMES)}), geojson, gpkg"
    )


# --------------------------------------------------------------------------------------------
# BPE
# --------------------------------------------------------------------------------------------
def _bpe_records(table: pd.DataFrame, name: str) -> _Records:
    keys = _columns_by_key(table.columns)
    missing = [c.upper() for c in _BPE_REQUIRED if c not in keys]
    if missing:
        _missing_columns(name, "bpe", missing, table.columns)
    rows = np.arange(1, len(table) + 1, dtype=np.int64)
    depcom_col, typequ_col = keys["depcom"], keys["typequ"]
    typequ = table[typequ_col].astype("string").fillna("").str.strip().str.upper()
    empty = (typequ == "").to_numpy()
    if empty.any():
        _fail(name, "empty equipment type", column=typequ_col, rows=rows[empty])
    health = typequ.str.startswith("D").to_numpy(dtype=bool)
    table, typequ, rows = table[health].reset_index(drop=True), typequ[health], rows[health]
    typequ = typequ.reset_index(drop=True).astype(object)
    dropped = {_DROP_NOT_HEALTH: int((~health).sum())} if (~health).any() else {}

    commune = _normalise_commune_codes(table[depcom_col], rows, name, depcom_col)
    no_code = commune.isna().to_numpy()
    if no_code.any():
        _fail(name, "empty commune code", column=depcom_col, rows=rows[no_code])
    lon, lat, coordinate_columns = _bpe_coordinates(table, keys, commune, rows, name)

    mapped = typequ.map(BPE_PROFESSIONS)
    profession = mapped.where(mapped.notna(), "bpe_" + typequ).astype(object)
    label_col = keys.get("libelle_typequ")
    file_label = (
        table[label_col].astype("string").fillna("").str.strip().astype(object)
        if label_col
        else pd.Series("", index=table.index, dtype=object)
    )
    fallback = typequ.map(BPE_HEALTH_LABELS).fillna("Équipement BPE " + typequ)
    core = mapped.map({k: p.label for k, p in PROFESSIONS.items()})
    label = core.where(core.notna(), file_label.where(file_label != "", fallback))
    attrs: dict[str, Any] = {}
    if "qualite_xy" in keys:
        quality = table[keys["qualite_xy"]].astype("string").fillna("").replace("", "(vide)")
        attrs["qualite_xy"] = {str(k): int(v) for k, v in quality.value_counts().items()}
    records = _Records(
        rows=rows,
        ids=None,
        id_column=None,
        profession=profession.reset_index(drop=True),
        profession_libelle=label.astype(object).reset_index(drop=True),
        commune=_parent_commune(commune).reset_index(drop=True),
        commune_column=depcom_col,
        lon=lon,
        lat=lat,
        coordinate_columns=coordinate_columns,
        extra={_FILE_CODE: typequ.reset_index(drop=True)},
        dropped=dropped,
        attrs=attrs,
        profession_column=typequ_col,
    )
    records = _recode_historical(records)
    return records.drop(_outside_reference(records.commune), _DROP_OUTSIDE)


def _bpe_coordinates(
    table: pd.DataFrame,
    keys: Mapping[str, str],
    commune: pd.Series,
    rows: npt.NDArray[np.int64],
    name: str,
) -> tuple[FloatArray, FloatArray, str | None]:
    lon = np.full(len(table), np.nan)
    lat = np.full(len(table), np.nan)
    columns: list[str] = []
    if "longitude" in keys and "latitude" in keys:
        lon_col, lat_col = keys["longitude"], keys["latitude"]
        lon = _parse_numbers(table[lon_col], rows, name, lon_col)
        lat = _parse_numbers(table[lat_col], rows, name, lat_col)
        columns.append(f"{lon_col}/{lat_col}")
    if "lambert_x" not in keys or "lambert_y" not in keys:
        return lon, lat, "/".join(columns) or None
    x_col, y_col = keys["lambert_x"], keys["lambert_y"]
    x = _parse_numbers(table[x_col], rows, name, x_col)
    y = _parse_numbers(table[y_col], rows, name, y_col)
    columns.append(f"{x_col}/{y_col}")
    use = np.isfinite(x) & np.isfinite(y) & ~(np.isfinite(lon) & np.isfinite(lat))
    if not use.any():
        return lon, lat, "/".join(columns)
    deps = _departement_of(commune).astype(object)
    crs = deps.map(METRIC_CRS_BY_DEPARTEMENT).fillna(METROPOLE_CRS).astype(object)
    origin = "the BPE's CRS for its département"
    if "epsg" in keys:
        epsg_col = keys["epsg"]
        given = table[epsg_col].astype("string").fillna("").str.strip().str.upper()
        given = given.str.replace(r"^EPSG:", "", regex=True)
        bad = (given != "") & ~given.str.fullmatch(r"\d{4,5}")
        if bad.any():
            _fail(
                name,
                f"{given[bad].iloc[0]!r} is not an EPSG code",
                column=epsg_col,
                rows=rows[bad.to_numpy()],
            )
        crs = ("EPSG:" + given).where(given != "", crs).astype(object)
        origin = f"the CRS of column {epsg_col!r}"
    for code in sorted(set(crs[use])):
        group = use & (crs == code).to_numpy()
        try:
            transformer = _transformer(code)
        except pyproj.exceptions.CRSError:
            _fail(name, f"unknown CRS {code}", column=keys.get("epsg"), rows=rows[group])
        lon[group], lat[group] = transformer.transform(x[group], y[group])
    zones = _zone_of_points(lon, lat)
    expected = _zone_of_communes(commune)
    wrong = use & (zones != expected)
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        _fail(
            name,
            f"LAMBERT_X/LAMBERT_Y ({x[i]:.1f}, {y[i]:.1f}) of DEPCOM {commune.iloc[i]} read in "
            f"{crs.iloc[i]} ({origin}) do not fall in {expected[i]}: the coordinates are in "
            "another CRS (BPE: EPSG:2154 in métropole, 5490 in 971/972, 2972 in 973, 2975 in "
            "974, 4471 in 976)",
            column=x_col,
            rows=rows[wrong],
        )
    return lon, lat, "/".join(columns)


# --------------------------------------------------------------------------------------------
# RPPS
# --------------------------------------------------------------------------------------------
def _rpps_records(table: pd.DataFrame, name: str) -> _Records:
    keys = _columns_by_key(table.columns)
    rows = np.arange(1, len(table) + 1, dtype=np.int64)

    def text(key: str) -> pd.Series:
        if key not in keys:
            return pd.Series("", index=table.index, dtype=object)
        # the cells are stripped strings already (_read_csv), kept in pandas' compact string
        # columns: one Python string per row would cost ~65 bytes a row on a national file
        return table[keys[key]].fillna("")

    ident, code = text("identifiant_pp"), text("code_profession")
    for values, key in ((ident, "identifiant_pp"), (code, "code_profession")):
        empty = (values == "").to_numpy()
        if empty.any():
            _fail(name, "empty value", column=keys[key], rows=rows[empty])
    commune_col = keys["code_commune_coord_structure"]
    commune = _parent_commune(_normalise_commune_codes(table[commune_col], rows, name, commune_col))
    # profession and label depend on four codes and labels only: computed once per distinct
    # combination (a few hundred in the national file), then spread back to the rows
    parts = pd.DataFrame(
        {
            "code": code,
            "sf": text("code_savoir_faire"),
            "sf_label": text("libelle_savoir_faire"),
            "prof_label": text("libelle_profession"),
        }
    )
    group = parts.groupby(list(parts.columns), sort=False).ngroup().to_numpy()
    _, first_row = np.unique(group, return_index=True)
    combos = parts.iloc[first_row].reset_index(drop=True)
    del parts
    c_code, sf_label, prof_label = combos["code"], combos["sf_label"], combos["prof_label"]
    savoir_faire = combos["sf"].str.upper()
    mapped = c_code.map(RPPS_PROFESSIONS)
    general = (c_code == "10") & savoir_faire.isin(RPPS_GENERAL_PRACTICE_CODES)
    doctor = ("rpps_10_" + savoir_faire).where(savoir_faire != "", "rpps_10")
    combo_profession = (
        mapped.mask(general, "medecin_generaliste")
        .fillna(doctor.where(c_code == "10", "rpps_" + c_code))
        .astype(object)
    )
    core = combo_profession.map({k: p.label for k, p in PROFESSIONS.items()})
    doctor_label = ("Médecin — " + sf_label).where(sf_label != "", "Médecin")
    other_label = prof_label.where(prof_label != "", "Profession RPPS " + c_code)
    combo_label = core.fillna(doctor_label.where(c_code == "10", other_label)).astype(object)
    profession = pd.Series(combo_profession.to_numpy(dtype=object)[group], dtype=object)
    label = pd.Series(combo_label.to_numpy(dtype=object)[group], dtype=object)
    mode_index, modes = pd.factorize(text("code_mode_exercice"))
    mode = _spread(pd.Series(modes, dtype=object).str.upper(), mode_index, table.index)

    records = _Records(
        rows=rows,
        ids=ident,
        id_column=keys["identifiant_pp"],
        profession=profession,
        profession_libelle=label,
        commune=commune.reset_index(drop=True),
        commune_column=commune_col,
        lon=np.full(len(table), np.nan),
        lat=np.full(len(table), np.nan),
        coordinate_columns=None,
        extra={"mode_exercice": mode.reset_index(drop=True)},
        profession_column=keys["code_profession"],
        attrs={
            "rpps_modes": {
                str(k or "(vide)"): int(v) for k, v in mode.value_counts(sort=False).items()
            }
        },
    )
    records = records.drop(records.commune.isna().to_numpy(), _DROP_NO_COMMUNE)
    records = _recode_historical(records)
    records = records.drop(_outside_reference(records.commune), _DROP_OUTSIDE)
    return _rpps_one_point_per_commune(records)


def _rpps_one_point_per_commune(records: _Records) -> _Records:
    """Merge the activities of a practitioner in one commune; unique ids across communes."""
    assert records.ids is not None
    not_core = ~records.profession.isin(list(PROFESSIONS)).to_numpy(dtype=bool)
    # (practitioner, commune) groups from integer codes: no Python string per row
    ident_code = _id_codes(records.ids)
    commune_code, commune_values = pd.factorize(records.commune)
    pair = ident_code.astype(np.int64) * (len(commune_values) + 1) + commune_code
    _, group = np.unique(pair, return_inverse=True)
    group = group.astype(np.int64).ravel()
    del pair
    n_groups = int(group.max()) + 1 if len(group) else 0
    activities = np.bincount(group, minlength=n_groups)
    # modes d'exercice of each group, joined in alphabetical order ("L+S"): a few codes, so a
    # loop over the codes, not over the groups
    # (a bit per code, then one string per distinct combination: no new string per row)
    mode_index, mode_values = pd.factorize(records.extra["mode_exercice"].fillna(""))
    codes = sorted(str(m) for m in mode_values if str(m))
    position = {str(m): i for i, m in enumerate(mode_values)}
    if len(codes) <= 62:
        bits = np.zeros(n_groups, dtype=np.int64)
        for bit, code in enumerate(codes):
            present = np.bincount(group[mode_index == position[code]], minlength=n_groups) > 0
            bits |= present.astype(np.int64) << bit
        distinct = np.unique(bits)
        names = np.array(
            ["+".join(c for i, c in enumerate(codes) if int(b) >> i & 1) for b in distinct],
            dtype=object,
        )
        joined = names[np.searchsorted(distinct, bits)]
    else:  # pragma: no cover - the RPPS has a handful of modes
        mode = records.extra["mode_exercice"].astype(str).to_numpy()
        joined = np.full(n_groups, "", dtype=object)
        for code in codes:
            present = np.bincount(group[mode == code], minlength=n_groups) > 0
            joined = np.where(present, np.where(joined == "", code, joined + "+" + code), joined)
    # one row per (practitioner, commune): a core profession wins (a GP who also holds another
    # savoir-faire stays a GP), then the first row of the file
    order = np.lexsort((records.rows, not_core))
    del not_core
    _, first_in_order = np.unique(group[order], return_index=True)
    keep = np.zeros(len(records.rows), dtype=bool)
    keep[order[first_in_order]] = True
    del order, first_in_order
    kept = records.drop(~keep, _DROP_DUPLICATE_ACTIVITY)
    kept_group = group[keep]
    del group
    kept.extra["mode_exercice"] = pd.Series(joined[kept_group], dtype=object)
    kept.extra["activities"] = pd.Series(activities[kept_group], dtype="int64")
    kept_ident = ident_code[keep]  # one kept row per (practitioner, commune)
    several = np.bincount(kept_ident)[kept_ident] > 1
    assert kept.ids is not None
    ids = kept.ids.astype("str")
    if several.any():  # "<id>-<commune>" for those only, in pandas' compact (Arrow) strings
        where = np.flatnonzero(several)
        suffixed = ids.iloc[where].reset_index(drop=True) + "-" + _str_column(kept.commune[where])
        ids = ids.mask(several, pd.Series(suffixed.array, index=where))
    kept.ids = ids
    kept.attrs["rpps_activities"] = len(records.rows)
    return kept


# --------------------------------------------------------------------------------------------
# GeoJSON / GeoPackage
# --------------------------------------------------------------------------------------------
#: ``application_id`` of a GeoPackage (bytes 68–71 of its SQLite header): 1.2+, 1.1, 1.0.
_GPKG_APPLICATION_IDS: Final[frozenset[bytes]] = frozenset({b"GPKG", b"GP11", b"GP10"})


def _read_layer(inp: _Input, fmt: str) -> gpd.GeoDataFrame:
    if inp.path is not None and inp.path.suffix.lower() in {".geojson", ".json", ".gpkg"}:
        return _read_layer_file(inp, inp.path, fmt)
    # an upload is written to a temporary file named with its format's extension: read from
    # memory, GDAL warns about the missing extension, and silencing that would swap the
    # process-wide warning filters under the service's other threads
    if fmt == "gpkg" and inp.head(72)[68:72] not in _GPKG_APPLICATION_IDS:
        raise InputFormatError(
            f"{inp.name}: cannot be read as gpkg (not a GeoPackage: its SQLite header lacks "
            "the GeoPackage application id)"
        )
    with tempfile.TemporaryDirectory(prefix="cartosoins-layer-") as folder:
        path = Path(folder) / f"couche.{fmt}"
        if inp.path is not None:  # a stored upload without extension: linked, not copied
            path.symlink_to(inp.path.resolve())
        else:
            path.write_bytes(inp.data)
        return _read_layer_file(inp, path, fmt)


def _read_layer_file(inp: _Input, path: Path, fmt: str) -> gpd.GeoDataFrame:
    try:
        layers = pyogrio.list_layers(path)
        layer = None
        if len(layers) > 1:
            points = [str(n) for n, kind in layers if "point" in str(kind).lower()]
            if len(points) != 1:
                names = ", ".join(f"{n} ({k})" for n, k in layers)
                raise InputFormatError(
                    f"{inp.name}: {len(layers)} layers ({names}); expected one point layer"
                )
            layer = points[0]
        layer_frame: gpd.GeoDataFrame = pyogrio.read_dataframe(path, layer=layer)
    except InputFormatError:
        raise
    except (RuntimeError, ValueError, OSError) as exc:  # pyogrio's errors are RuntimeErrors
        raise InputFormatError(f"{inp.name}: cannot be read as {fmt} ({exc})") from exc
    if layer_frame.empty:
        raise InputFormatError(f"{inp.name}: the layer has no features")
    if layer_frame.crs is None:
        raise InputFormatError(
            f"{inp.name}: the layer has no CRS; save it with its coordinate reference system"
        )
    return layer_frame


def _layer_records(layer: gpd.GeoDataFrame, name: str) -> _Records:
    geometry = layer.geometry
    attributes = pd.DataFrame(layer.drop(columns=geometry.name)).reset_index(drop=True)
    rows = np.arange(1, len(layer) + 1, dtype=np.int64)
    geoms = geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)  # -1 for missing
    single_multipoint = (kinds == shapely.GeometryType.MULTIPOINT) & (
        shapely.get_num_geometries(geoms) == 1
    )
    geoms = np.where(single_multipoint, shapely.get_geometry(geoms, 0), geoms)
    kinds = shapely.get_type_id(geoms)
    empty = shapely.is_empty(geoms) | (kinds < 0)
    bad = ~empty & (kinds != shapely.GeometryType.POINT)
    if bad.any():
        kind = shapely.get_type_id(geoms[bad][0])
        _fail(
            name,
            f"geometry {shapely.GeometryType(kind).name.title()} is not a point",
            column="geometry",
            rows=rows[bad],
        )
    points = gpd.GeoSeries(np.where(empty, None, geoms), crs=layer.crs).to_crs(GEOGRAPHIC_CRS)
    present = ~empty
    lon = np.full(len(layer), np.nan)
    lat = np.full(len(layer), np.nan)
    lon[present] = shapely.get_x(points.to_numpy()[present])
    lat[present] = shapely.get_y(points.to_numpy()[present])
    records = _generic_records(attributes.drop(columns=_coordinate_like(attributes)), name)
    records.lon, records.lat = lon, lat
    records.coordinate_columns = "geometry"
    return records


def _coordinate_like(attributes: pd.DataFrame) -> list[str]:
    """Attribute columns named like coordinates: the geometry is the location of a layer."""
    keys = _columns_by_key(attributes.columns)
    return [keys[k] for k in (*_LAT_NAMES, *_LON_NAMES) if k in keys]


# --------------------------------------------------------------------------------------------
# public readers
# --------------------------------------------------------------------------------------------
def read_practitioners(
    source: str | os.PathLike[str] | bytes,
    *,
    filename: str | None = None,
    format: str | None = None,
    profession: str | None = None,
    professions: Sequence[str] | None = None,
    all_professions: bool = False,
) -> gpd.GeoDataFrame:
    r"""Read a file of practitioners or health facilities in one of :data:`FORMATS`.

    Parameters
    ----------
    source : path or bytes
        The file, or its content (an upload).
    filename : str, optional
        Name shown in messages and used to recognise the format (``.geojson``, ``.gpkg``,
        ``PS_LibreAcces_Personne_activite_*.txt``); default: the path, or "uploaded file".
    format : str, optional
        One of :data:`FORMATS`; default: recognised from the content (see the module docstring).
    profession : str, optional
        Keep this profession: a code of the engine (``medecin_generaliste``, ``infirmier``,
        ``masseur_kinesitherapeute``, ``chirurgien_dentiste``, ``sage_femme``), a French name
        ("Infirmière", "Médecin généraliste"), a BPE ``TYPEQU`` (``D265``, ``d201``: the
        GPs; ``D307``: ``bpe_D307``, the pharmacies) or a code the file holds (``rpps_21``,
        ``orthophoniste``…); case does not matter. A value the file does not hold is refused,
        with the list of what it holds.
    professions : sequence of str, optional
        Keep these professions (same values as ``profession``; none found: an empty result).
        Not with ``profession``.
    all_professions : bool, default False
        Keep every profession of a file that holds several. Without it, and without
        ``profession``/``professions``, such a file is refused: a measure that adds
        pharmacies, nursing homes and GPs is a wrong number. The API's uploads use it (the
        profession is chosen per analysis).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 points, columns :data:`PRACTITIONER_COLUMNS` plus those of
        :data:`OPTIONAL_COLUMNS` that the file carries (``age`` and ``birth_year`` as Int64,
        ``fte`` and ``consultations_per_year`` as float; empty cells are missing values).
        ``id`` is the file's identifier, or ``ROW-<n>`` for the n-th data row. ``attrs``: format,
        file, rows_read, rows_kept, rows_dropped (reason → count; rows_read = rows_kept + the
        dropped ones), located (count per location rule), encoding, separator, recoded
        (``{"rows": n, "codes": {former: current}}``: rows whose commune code was a former code
        of a merged commune, read as today's commune), and format-specific counts
        (``qualite_xy``, ``rpps_modes``, ``rpps_activities``). What was chosen, for the maps
        and summaries: ``profession`` (the code kept, None when several are kept),
        ``profession_libelle``, ``profession_asked`` (as given), ``professions_in_file``
        (code → rows before the choice), ``equipment_codes`` (BPE: TYPEQU → rows kept),
        ``format_fr`` (the format in French), ``placed_at_town_hall`` (``"all"``,
        ``"some"`` or ``"none"``: points placed at their commune's chef-lieu for want of
        coordinates) and ``source``, one French sentence naming all of it, which
        :func:`geo.analysis.analyse` carries to ``attrs["sources"]["practitioners"]`` of its
        result (the sources line of the maps). A table with a column of counts per row
        (``NB_D201``, ``nb_medecins``, ``effectif``, ``nombre``…: a name of counts and numbers
        only) holds that many practitioners per row: each row is repeated, ids
        ``ROW-<row>-<k>`` (or ``<id>-<k>``), rows counting 0 dropped, and ``count_column``
        (``{"column", "rows", "practitioners"}``) says so; then rows_read + practitioners -
        rows = rows_kept + the dropped ones. ``NB_<TYPEQU>`` without a profession column names
        the profession (``NB_D201``: GPs).

    Raises
    ------
    InputFormatError
        Empty or binary file, unknown format (the message lists the formats and the columns
        found), missing column, unparsable or out-of-range number, duplicate or empty id,
        coordinates outside France or read in the wrong CRS, unknown commune code, a count
        that is not a whole number ≥ 0. Messages name the file, the data row(s) (1-based,
        header excluded; for layers, the feature) and the column.
    DataValidationError
        Several professions in the file and none chosen, or a ``profession`` the file does
        not hold (in French, listing each profession or BPE equipment type with its label
        and row count, and how to choose); several count columns.

    Warns
    -----
    UserWarning
        Rows located at a commune without a town-hall point in the reference are dropped.

    Examples
    --------
    >>> gps = read_practitioners(
    ...     b"code_commune;profession\n42218;Infirmier\n", filename="inf.csv"
    ... )
    >>> gps.loc[0, ["id", "profession", "commune_nom", "location"]].tolist()
    ['ROW-1', 'infirmier', 'Saint-Étienne', 'chef-lieu de la commune']
    """
    inp = _read_input(source, filename)
    if format is not None and format not in FORMATS:
        raise InputFormatError(f"unknown format {format!r}; choose one of: {', '.join(FORMATS)}")
    one, several = _profession_arguments(profession, professions)
    choice = _Choice(one, several, bool(all_professions))
    try:
        return _read_practitioners(inp, format, choice)
    except CartosoinsError:
        raise
    except (ValueError, KeyError, TypeError, OSError, RuntimeError) as exc:
        # a safety net: whatever a third-party parser raises reaches the user as a format error
        raise InputFormatError(f"{inp.name}: cannot be read ({type(exc).__name__}: {exc})") from exc


def _read_practitioners(inp: _Input, fmt: str | None, choice: _Choice) -> gpd.GeoDataFrame:
    kind = _content_kind(inp)
    if kind in {"geojson", "gpkg"}:
        if fmt is not None and fmt != kind:
            raise InputFormatError(
                f"{inp.name}: format {fmt!r} was asked but the content is {kind}"
            )
        layer = _read_layer(inp, kind)
        records = _layer_records(layer, inp.name)
        return _finish(
            records,
            fmt=kind,
            inp=inp,
            choice=choice,
            encoding=None,
            separator=None,
            rows_read=len(layer),
        )
    if fmt in {"geojson", "gpkg"}:
        raise InputFormatError(f"{inp.name}: format {fmt!r} was asked but the content is text")
    # the national RPPS and BPE files are read in chunks, their needed columns only; other
    # (small) tables are decoded whole
    text = _sniff_text(inp) or _open_text(inp)
    fmt = fmt or _detect_csv_format(inp, text.header)
    if fmt == "rpps":
        keys = _columns_by_key(text.header)
        missing = [c for c in _RPPS_REQUIRED if c not in keys]
        if missing:
            _missing_columns(inp.name, fmt, missing, text.header)
        # only the needed columns are parsed: names and contact details never enter a frame
        table = _read_csv_chunked(
            inp,
            text,
            keep=[keys[k] for k in RPPS_COLUMNS_READ if k in keys],
            quoting=csv.QUOTE_NONE,
        )
        records = _rpps_records(table, inp.name)
    elif fmt == "bpe":
        keys = _columns_by_key(text.header)
        missing = [c.upper() for c in _BPE_REQUIRED if c not in keys]
        if missing:
            _missing_columns(inp.name, fmt, missing, text.header)
        table = _read_csv_chunked(inp, text, keep=[keys[k] for k in _BPE_COLUMNS_READ if k in keys])
        records = _bpe_records(table, inp.name)
    else:
        if not text.text:
            text = _open_text(inp)
        table = _read_csv(inp, text)
        records = _generic_records(table, inp.name, require=fmt)
    rows_read = len(table)
    del table  # the records hold what is needed: the raw cells go before the points are made
    return _finish(
        records,
        fmt=fmt,
        inp=inp,
        choice=choice,
        encoding=text.encoding,
        separator=text.separator,
        rows_read=rows_read,
    )


def select_profession(practitioners: gpd.GeoDataFrame, profession: str) -> gpd.GeoDataFrame:
    """Keep one profession of a :func:`read_practitioners` result read with all professions.

    For a file read whole (``all_professions=True``, e.g. an upload whose profession is chosen
    per analysis): the same values as ``read_practitioners(profession=...)`` are accepted
    (codes, French names, BPE ``TYPEQU``, any case), and ``attrs`` (``profession``,
    ``rows_kept``, ``located``, ``placed_at_town_hall``, ``source``…) describe the rows kept.

    Parameters
    ----------
    practitioners : geopandas.GeoDataFrame
        A result of :func:`read_practitioners` (any frame with a ``profession`` column).
    profession : str
        The profession to keep.

    Returns
    -------
    geopandas.GeoDataFrame
        The rows of that profession, with updated ``attrs``.

    Raises
    ------
    DataValidationError
        The frame has no ``profession`` column, or no row of that profession (the message, in
        French, lists every profession of the frame with its label and count).
    """
    attrs = dict(practitioners.attrs)
    name = str(attrs.get("file") or "praticiens")
    _profession_arguments(profession, None)
    if "profession" not in practitioners.columns:
        raise DataValidationError(
            f"{name} : pas de colonne 'profession' : impossible de garder {profession!r}"
        )
    codes = practitioners["profession"].astype(str)
    labels = (
        practitioners["profession_libelle"].astype(str)
        if "profession_libelle" in practitioners.columns
        else codes
    )
    records = _Records(
        rows=np.arange(1, len(practitioners) + 1, dtype=np.int64),
        ids=None,
        id_column=None,
        profession=codes.astype(object).reset_index(drop=True),
        profession_libelle=labels.astype(object).reset_index(drop=True),
        commune=pd.Series([None] * len(practitioners), dtype=object),
        commune_column=None,
        lon=np.zeros(len(practitioners)),
        lat=np.zeros(len(practitioners)),
        coordinate_columns=None,
        profession_column="profession",
    )
    kept, chosen = _choose_professions(
        records, name, str(attrs.get("format", "")), profession, None, False
    )
    mask = np.zeros(len(practitioners), dtype=bool)
    mask[kept.rows - 1] = True
    out = practitioners[mask]
    dropped = dict(attrs.get("rows_dropped") or {})
    if (~mask).any():
        dropped[_DROP_PROFESSION] = dropped.get(_DROP_PROFESSION, 0) + int((~mask).sum())
    attrs.update(
        {k: v for k, v in chosen.items() if k != "professions_in_file"},
        rows_kept=len(out),
        rows_dropped=dropped,
    )
    attrs.pop("equipment_codes", None)  # the file's TYPEQU are not in the frame
    if "location" in out.columns:
        at_town_hall = int((out["location"].astype(str) == LOCATION_CHEF_LIEU).sum())
        attrs["located"] = {
            LOCATION_FILE: len(out) - at_town_hall,
            LOCATION_CHEF_LIEU: at_town_hall,
        }
        attrs["placed_at_town_hall"] = _town_hall_word(at_town_hall, len(out))
    if {"file", "format_fr", "placed_at_town_hall", "located", "rows_kept"} <= set(attrs):
        attrs["source"] = _source_sentence(attrs)
    out.attrs = attrs
    return out


def read_population_table(
    source: str | os.PathLike[str] | bytes, *, filename: str | None = None
) -> pd.DataFrame:
    r"""Read a table of population by age band per commune.

    Three layouts are recognised from the columns:

    * ``wide``: a commune code column and one numeric column per age band (counts or shares),
      name columns ignored::

          code;0-19;20-64;65-74;75+
          42218;38512;98254;17930;18115

    * ``insee_long``: INSEE "population par sexe et âge" detail tables (``BTT_TD_POP1A``,
      ``POP1B``…), one row per commune, sex and age, summed over sexes; one band column per age
      value of the file, named as in the file (AGEPYR10: ``00``, ``03``, … ``80``); rows whose
      NIVGEO is not ``COM`` (arrondissements) are dropped::

          NIVGEO;CODGEO;LIBGEO;SEXE;AGEPYR10;NB
          COM;42218;Saint-Étienne;1;00;2958.41

    * ``part_75_plus``: the share (%) of inhabitants aged 75 or more (e.g. INSEE RP 2022
      indicator), turned into two bands ``moins_75`` and ``75_plus`` (shares in %)::

          code,nom,part_75_plus_pct_2022
          01001,L'Abergement-Clémenciat,8.8

    Parameters
    ----------
    source : path or bytes
        The CSV file (``;``, ``,``, ``|`` or tab; UTF-8 with or without BOM, or CP1252).
    filename : str, optional
        Name shown in messages.

    Returns
    -------
    pandas.DataFrame
        Index ``code`` (INSEE commune code, 5 characters, leading zeros and Corsica's 2A/2B
        kept; codes are not checked against the reference, analyses do that), one float column
        per band. ``attrs``: file, layout, values (``counts``, ``shares_pct`` or ``shares``),
        bands, rows_read, rows_kept, rows_dropped, encoding, separator.

    Raises
    ------
    InputFormatError
        Empty file, no commune code column, no band column, a missing, non-numeric or negative
        value, a share above 100 %, an invalid or duplicate commune code; the message names the
        file, the row(s) and the column.

    Examples
    --------
    >>> table = read_population_table(b"code;moins_75;75_plus\n01001;700;66\n")
    >>> table.loc["01001"].to_dict(), table.attrs["values"]
    ({'moins_75': 700.0, '75_plus': 66.0}, 'counts')
    """
    inp = _read_input(source, filename)
    try:
        return _read_population(inp)
    except CartosoinsError:
        raise
    except (ValueError, KeyError, TypeError, OSError, RuntimeError) as exc:
        raise InputFormatError(f"{inp.name}: cannot be read ({type(exc).__name__}: {exc})") from exc


_SHARE_75_PATTERN: Final = re.compile(r"part_75_plus(_pct)?(_\d{4})?|part_75_ans_et_plus(_\d{4})?")
_COUNT_NAMES: Final = ("nb", "effectif", "population", "pop", "count")
_AGE_NAMES: Final = (
    "age",
    "aged100",
    "agepyr10",
    "ageq65",
    "ageq80",
    "aged65",
    "age4",
    "tranche_age",
    "tranche_d_age",
    "classe_age",
    "classe_d_age",
)


def _read_population(inp: _Input) -> pd.DataFrame:
    if _content_kind(inp) != "text":
        raise InputFormatError(f"{inp.name}: expected a CSV table of population by age band")
    text = _open_text(inp)
    table = _read_csv(inp, text)
    keys = _columns_by_key(table.columns)
    rows = np.arange(1, len(table) + 1, dtype=np.int64)
    code_col = _find(keys, ("code", *_COMMUNE_NAMES))
    if code_col is None:
        raise InputFormatError(
            f"{inp.name}: no commune code column (one of code, {', '.join(_COMMUNE_NAMES)}); "
            f"columns found: {', '.join(repr(c) for c in table.columns)}"
        )
    dropped: dict[str, int] = {}
    age_attrs: dict[str, Any] = {}
    if "nivgeo" in keys:
        level = table[keys["nivgeo"]].str.upper()
        other = (level != "COM").to_numpy()
        if other.any():
            dropped["NIVGEO autre que COM (arrondissements…)"] = int(other.sum())
            table, rows = table[~other].reset_index(drop=True), rows[~other]
    codes = _normalise_commune_codes(table[code_col], rows, inp.name, code_col)
    missing_code = codes.isna().to_numpy()
    if missing_code.any():
        _fail(inp.name, "empty commune code", column=code_col, rows=rows[missing_code])

    share_keys = [k for k in keys if _SHARE_75_PATTERN.fullmatch(k)]
    age_key = _find({k: k for k in keys}, _AGE_NAMES)
    count_col = _find(keys, _COUNT_NAMES)
    if share_keys:
        layout = "part_75_plus"
        column = keys[share_keys[0]]
        share = _required_numbers(table[column], rows, inp.name, column)
        _check_range(share, rows, inp.name, column, (0.0, 100.0))
        bands = pd.DataFrame({"moins_75": 100.0 - share, "75_plus": share})
        _check_unique_codes(codes, rows, inp.name, code_col)
        bands.index = pd.Index(codes.to_numpy(dtype=object), name="code")
        values = "shares_pct"
    elif age_key is not None and count_col is not None:
        layout = "insee_long"
        age_col = keys[age_key]
        count = _required_numbers(table[count_col], rows, inp.name, count_col)
        _check_range(count, rows, inp.name, count_col, (0.0, np.inf))
        sex_col = keys.get("sexe")
        long = pd.DataFrame(
            {
                "code": codes.to_numpy(dtype=object),
                "age": table[age_col].to_numpy(dtype=object),
                "sex": table[sex_col].to_numpy(dtype=object) if sex_col else "",
                "count": count,
            }
        )
        empty_age = (long["age"] == "").to_numpy()
        if empty_age.any():
            _fail(inp.name, "empty age", column=age_col, rows=rows[empty_age])
        dup = long.duplicated(["code", "age", "sex"], keep=False).to_numpy()
        if dup.any():
            first = long[dup].iloc[0]
            both = rows[
                ((long["code"] == first["code"]) & (long["age"] == first["age"])).to_numpy()
                & ((long["sex"] == first["sex"]).to_numpy())
            ]
            _fail(
                inp.name,
                f"commune {first['code']} has several rows for age {first['age']!r}"
                + (f" and sex {first['sex']!r}" if sex_col else "")
                + f" (rows {', '.join(map(str, both[:5]))})",
                column=age_col,
            )
        order = pd.unique(long["age"])
        bands = long.pivot_table(
            index="code", columns="age", values="count", aggfunc="sum", fill_value=0.0, sort=False
        ).reindex(columns=order, fill_value=0.0)
        bands.columns = pd.Index([str(c) for c in bands.columns])
        bands.index = pd.Index(bands.index.astype(object), name="code")
        bands.columns.name = None
        values = "counts"
    elif (
        by_age := _age_band_columns(
            [
                c
                for c in table.columns
                if c != code_col and _normalise_name(c) not in _POPULATION_NAME_COLUMNS
            ]
        )
    ) is not None:
        layout = "wide"
        bands, age_attrs, no_values = _bands_from_age_columns(table, rows, inp.name, by_age)
        if no_values.any():
            dropped[_DROP_NO_AGE_VALUES] = int(no_values.sum())
            codes, rows = codes[~no_values].reset_index(drop=True), rows[~no_values]
            bands = bands[~no_values].reset_index(drop=True)
        _check_unique_codes(codes, rows, inp.name, code_col)
        bands.index = pd.Index(codes.to_numpy(dtype=object), name="code")
        values = _values_kind(bands)
    else:
        layout = "wide"
        ignored = {code_col} | {keys[k] for k in _POPULATION_NAME_COLUMNS if k in keys}
        band_cols = [c for c in table.columns if c not in ignored]
        if not band_cols:
            raise InputFormatError(
                f"{inp.name}: no age band column besides the commune code and names; columns "
                f"found: {', '.join(repr(c) for c in table.columns)}"
            )
        data = {}
        for column in band_cols:
            numbers = _required_numbers(table[column], rows, inp.name, column)
            _check_range(numbers, rows, inp.name, column, (0.0, np.inf))
            data[column] = numbers
        _check_unique_codes(codes, rows, inp.name, code_col)
        bands = pd.DataFrame(data, index=pd.Index(codes.to_numpy(dtype=object), name="code"))
        values = _values_kind(bands)
    bands = bands.astype("float64")
    bands.attrs = {
        "file": inp.basename,
        "layout": layout,
        "values": values,
        "bands": [str(c) for c in bands.columns],
        "rows_read": len(rows) + sum(dropped.values()),
        "rows_kept": len(bands),
        "rows_dropped": dropped,
        "encoding": text.encoding,
        "separator": text.separator,
    }
    bands.attrs.update(age_attrs)
    return bands


#: Cells meaning "no value" in tables written by R or spreadsheets (compared upper-case).
_NA_MARKS: Final = frozenset({"NA", "N/A", "NAN", "NULL", "-", "ND", "#N/A"})


def _without_na_marks(values: pd.Series) -> pd.Series:
    """Return the cells with R's ``NA`` and similar marks of a missing value emptied."""
    text = values.astype("string").fillna("").str.strip()
    return text.mask(text.str.upper().isin(_NA_MARKS), "")


_DROP_NO_AGE_VALUES: Final = "aucune valeur par âge (toutes les colonnes de tranches vides)"
#: An age band in a column name (normalised, "+" written "_plus"): ``Hommes_0_4``,
#: ``Femmes_95_plus``, ``age_20_24``, ``0-19``, ``75+``, ``moins_de_20_ans``.
_AGE_BAND_PATTERN: Final = re.compile(
    r"(?:(?P<sex>hommes?|femmes?|h|f|ensemble)_)?(?:age_|ages_|tranche_)?"
    r"(?:(?P<low>\d{1,3})_(?:a_)?(?P<high>\d{1,3})"
    r"|(?P<start>\d{1,3})_(?:ans_)?(?:et_|ou_)?plus"
    r"|moins_(?:de_)?(?P<under>\d{1,3}))(?:_ans?)?"
)


@dataclass(frozen=True)
class _AgeColumn:
    column: str
    sex: str  # "hommes", "femmes" or "" (both sexes)
    low: int
    high: int | None  # None: open-ended ("95+")

    @property
    def band(self) -> str:
        return f"{self.low}+" if self.high is None else f"{self.low}-{self.high}"


def _age_band_columns(columns: Sequence[str]) -> list[_AgeColumn] | None:
    """Find the columns named like age bands, in a table that also has other columns.

    Sex-split columns (``Hommes_0_4``, ``Femmes_0_4``…) win over columns of both sexes. None
    when fewer than two columns are age bands, or when every column is one (then the table is
    read as plain band columns, named as in the file).
    """
    found: list[_AgeColumn] = []
    for column in columns:
        raw = str(column).strip().lower()
        raw = raw[:-1] + " plus" if raw.endswith("+") else raw
        match = _AGE_BAND_PATTERN.fullmatch(_normalise_name(raw))
        if match is None:
            continue
        sex = match["sex"] or ""
        sex = "hommes" if sex.startswith("h") else "femmes" if sex.startswith("f") else ""
        if match["low"] is not None:
            low, high = int(match["low"]), int(match["high"])
            found.append(_AgeColumn(str(column), sex, low, high))
        elif match["start"] is not None:
            found.append(_AgeColumn(str(column), sex, int(match["start"]), None))
        else:
            found.append(_AgeColumn(str(column), sex, 0, int(match["under"]) - 1))
    split = [c for c in found if c.sex]
    use = split or found
    if len(use) < 2 or len(found) == len(columns):
        return None
    return use


def _bands_from_age_columns(
    table: pd.DataFrame,
    rows: npt.NDArray[np.int64],
    name: str,
    columns: list[_AgeColumn],
) -> tuple[pd.DataFrame, dict[str, Any], BoolArray]:
    """Sum the age-band columns of a table by band (both sexes); the other columns are ignored.

    Returns the bands (one float column each, 5-year bands from 90 folded into ``90+`` when
    the table has the DREES bands up to 89), what ``attrs`` say of the reading, and the rows
    without any value (dropped by the caller).
    """
    renamed: dict[str, str] = {}
    sexes = sorted({c.sex for c in columns})
    fixed: list[_AgeColumn] = []
    for col in columns:
        if col.high is not None and col.high < col.low:
            # e.g. "Hommes_70_47" beside "Femmes_70_74": the other sex's band of that start
            twins = [
                c for c in columns if c.sex != col.sex and c.low == col.low and c.high != col.high
            ]
            if col.sex and len(twins) == 1 and (twins[0].high is None or twins[0].high >= col.low):
                col = _AgeColumn(col.column, col.sex, col.low, twins[0].high)
                renamed[col.column] = col.band
            else:
                raise InputFormatError(
                    f"{name} : colonne {col.column!r} : tranche d'âge {col.low}-{col.high} "
                    "impossible (fin avant le début) ; renommez la colonne (ex. Hommes_70_74)"
                )
        fixed.append(col)
    if renamed:
        warn_data(
            f"{name} : "
            + " ; ".join(
                f"colonne {column!r} lue comme la tranche {band} (la même tranche que l'autre "
                "sexe : fin de tranche erronée dans le nom)"
                for column, band in renamed.items()
            ),
            UserWarning,
            stacklevel=5,  # the caller of read_population_table
        )
    by_band: dict[tuple[int, int | None], list[_AgeColumn]] = {}
    for col in fixed:
        by_band.setdefault((col.low, col.high), []).append(col)
    for cols in by_band.values():
        have = sorted(c.sex for c in cols)
        if have != sexes:
            band = cols[0].band
            raise InputFormatError(
                f"{name} : colonne(s) {', '.join(repr(c.column) for c in cols)} : la tranche "
                f"{band} n'a pas une colonne par sexe ({', '.join(have) or 'aucune'} au lieu "
                f"de {', '.join(sexes)})"
            )
    order = sorted(by_band, key=lambda b: (b[0], np.inf if b[1] is None else b[1]))
    for first, second in itertools.pairwise(order):
        if first[1] is None or first[1] >= second[0]:
            a, b = by_band[first][0], by_band[second][0]
            raise InputFormatError(
                f"{name} : colonnes {a.column!r} et {b.column!r} : les tranches d'âge {a.band} "
                f"et {b.band} se chevauchent ; gardez des tranches disjointes"
            )
    used = [c.column for c in fixed]
    numbers = {c: _parse_numbers(_without_na_marks(table[c]), rows, name, c) for c in used}
    present = np.column_stack([np.isfinite(v) for v in numbers.values()])
    no_values: BoolArray = np.logical_not(present.any(axis=1))
    data: dict[str, FloatArray] = {}
    for key in order:
        total = np.zeros(len(table))
        for col in by_band[key]:
            values = numbers[col.column]
            missing = ~np.isfinite(values) & ~no_values
            if missing.any():
                _fail(name, "missing value", column=col.column, rows=rows[missing])
            _check_range(values, rows, name, col.column, (0.0, np.inf))
            total += np.nan_to_num(values)
        data[by_band[key][0].band] = total
    bands = pd.DataFrame(data)
    merged: dict[str, list[str]] = {}
    below = [b for b in bands.columns if not b.endswith("+") and int(b.split("-")[0]) < 90]
    above = [b for b in bands.columns if b not in below]
    if (
        tuple(below) == AGE_BANDS[:-1]
        and len(above) > 1
        and above[0].startswith("90")
        and above[-1].endswith("+")
    ):
        bands["90+"] = bands[above].sum(axis=1)
        bands = bands.drop(columns=above)
        merged = {"90+": above}
    ignored = [str(c) for c in table.columns if c not in set(used)]
    attrs: dict[str, Any] = {
        "columns_used": used,
        "columns_ignored": ignored,
        "sexes_summed": sexes != [""],
        "bands_renamed": renamed,
        "bands_merged": merged,
    }
    return bands, attrs, no_values


def _values_kind(bands: pd.DataFrame) -> str:
    """``"shares_pct"`` (rows sum to 100), ``"shares"`` (to 1) or ``"counts"``."""
    totals = bands.sum(axis=1).to_numpy()
    if len(totals) and np.allclose(totals, 100.0, atol=0.5):
        return "shares_pct"
    if len(totals) and np.allclose(totals, 1.0, atol=0.005):
        return "shares"
    return "counts"


def _required_numbers(
    values: pd.Series, rows: npt.NDArray[np.int64], name: str, column: str
) -> FloatArray:
    numbers = _parse_numbers(values, rows, name, column)
    missing = ~np.isfinite(numbers)
    if missing.any():
        _fail(name, "missing value", column=column, rows=rows[missing])
    return numbers


def _check_unique_codes(
    codes: pd.Series, rows: npt.NDArray[np.int64], name: str, column: str
) -> None:
    duplicated = codes.duplicated(keep=False).to_numpy()
    if duplicated.any():
        first = codes[duplicated].iloc[0]
        both = rows[(codes == first).to_numpy()]
        _fail(
            name,
            f"duplicate commune code {first!r} in rows {', '.join(map(str, both[:5]))}",
            column=column,
        )
