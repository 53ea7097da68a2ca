"""The real offer of general practitioners embedded in cartosoins (``data/offre/``).

GPs per commune from the INSEE BPE (equipment D201, built by ``scripts/build_gp_offer.py``),
with what the source does not cover, and the CNAM 2024 headcounts per département.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import GEOGRAPHIC_CRS
from geo.demo import PROFESSIONS
from geo.errors import DataValidationError, ReferenceDataError
from geo.io import LOCATION_CHEF_LIEU, PRACTITIONER_COLUMNS
from geo.reference import load_communes

__all__ = [
    "BPE_DATASET",
    "BPE_VINTAGE",
    "CNAM_FILE",
    "GP_FILE",
    "STATUT_ESTIMATED",
    "STATUT_OBSERVED",
    "GPOffer",
    "cnam_headcounts",
    "load_gp_offer",
    "offer_dir",
]

#: Name of the embedded GP dataset (INSEE BPE, equipment D201).
BPE_DATASET: Final[str] = "bpe"
#: Vintage of the BPE file: not stated by the source, inferred from where it was published.
BPE_VINTAGE: Final[str] = "2017 (probable, non indiqué par la source)"
#: File of GPs per commune, in :func:`offer_dir`.
GP_FILE: Final[str] = "medecins_generalistes_bpe.csv"
#: File of CNAM 2024 headcounts per département, in :func:`offer_dir`.
CNAM_FILE: Final[str] = "cnam_2024_medecins_generalistes_departements.csv"
#: ``statut`` of a count read in the source (a commune absent from it counts 0, observed too).
STATUT_OBSERVED: Final[str] = "observé"
#: ``statut`` of a count estimated for a commune the source lacks (Paris).
STATUT_ESTIMATED: Final[str] = "estimé"

_PROFESSION: Final = "medecin_generaliste"
_REASON_ESTIMATED: Final = (
    "{nom} : absent du fichier BPE source ; effectif estimé d'après les effectifs CNAM 2024 "
    "du département, pour l'accessibilité des communes voisines"
)
_REASON_DROM: Final = "DROM : la source BPE D201 ne couvre que la métropole"


def offer_dir() -> Path:
    """Folder of the embedded offer datasets (``data/offre/`` of the repository)."""
    return Path(__file__).resolve().parent.parent / "data" / "offre"


def _read(name: str, dtypes: Mapping[str, str]) -> pd.DataFrame:
    path = offer_dir() / name
    if not path.is_file():
        raise ReferenceDataError(
            f"fichier d'offre embarqué {path} absent ; le reconstruire avec "
            "`python scripts/build_gp_offer.py`"
        )
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in dtypes if c not in table.columns]
    if missing:
        raise ReferenceDataError(f"{path} : colonnes absentes {missing} ; le reconstruire")
    return table.astype(dict(dtypes))


@dataclass(frozen=True, eq=False)
class GPOffer:
    """GPs per commune from an embedded dataset, with the communes it does not cover.

    Attributes
    ----------
    counts : pandas.DataFrame
        Columns ``code`` (COG 2026), ``medecins_generalistes`` (int), ``statut``
        (:data:`STATUT_OBSERVED` or :data:`STATUT_ESTIMATED`): one row per commune of
        métropole, 0 for a commune absent from the source (observed: the BPE lists every
        commune with at least one equipment); communes of :attr:`missing` that are estimated
        (Paris) are included with their estimate, the others (DROM) are not.
    missing : Mapping
        Commune code → French reason why the source has no count for it.
    source_label : str
        Provenance shown beside results.
    vintage : str
        Year of the data, and whether it is known or inferred.
    """

    counts: pd.DataFrame
    missing: Mapping[str, str]
    source_label: str
    vintage: str

    def practitioners(self) -> gpd.GeoDataFrame:
        """One point per GP at the chef-lieu (town hall) of their commune.

        Returns
        -------
        geopandas.GeoDataFrame
            EPSG:4326 points, columns of :data:`geo.io.PRACTITIONER_COLUMNS` plus ``estimated``
            (True for the GPs of an estimated commune); ``id`` is ``BPE-<code>-<n>``, n from 1.
            ``attrs``: ``source`` (:attr:`source_label`), ``missing_communes`` (code → reason),
            ``synthetic`` (False).

        Raises
        ------
        ReferenceDataError
            A commune with GPs has no chef-lieu point in the reference.
        """
        counts = self.counts[self.counts["medecins_generalistes"] > 0]
        communes = load_communes(codes=counts["code"].tolist())
        by_code = communes.set_index("code")
        points = by_code["chef_lieu"].reindex(counts["code"]).to_numpy()
        no_point = shapely.is_missing(points)
        if no_point.any():
            codes = ", ".join(counts["code"].to_numpy()[no_point])
            raise ReferenceDataError(
                f"communes avec des médecins mais sans chef-lieu dans la référence : {codes}"
            )
        n = counts["medecins_generalistes"].to_numpy(dtype="int64")
        row = np.repeat(np.arange(len(counts)), n)
        starts = np.repeat(np.cumsum(n) - n, n)
        rank = np.arange(int(n.sum()), dtype="int64") - starts + 1
        code = counts["code"].to_numpy(dtype=object)[row]
        ids = "BPE-" + pd.Series(code, dtype=str) + "-" + pd.Series(rank).astype(str)
        names = by_code["nom"].reindex(counts["code"]).to_numpy(dtype=object)[row]
        frame = pd.DataFrame(
            {
                "id": ids.to_numpy(dtype=object),
                "profession": _PROFESSION,
                "profession_libelle": PROFESSIONS[_PROFESSION].label,
                "commune": code,
                "commune_nom": names,
                "location": LOCATION_CHEF_LIEU,
                "synthetic": np.zeros(len(row), dtype=bool),
                "source": self.source_label,
                "estimated": (counts["statut"] == STATUT_ESTIMATED).to_numpy()[row],
            }
        )
        gdf = gpd.GeoDataFrame(
            frame, geometry=gpd.GeoSeries(points[row], crs=GEOGRAPHIC_CRS), crs=GEOGRAPHIC_CRS
        )
        for column in ("id", "profession", "profession_libelle", "commune", "commune_nom"):
            gdf[column] = gdf[column].astype("str")
        gdf["location"] = gdf["location"].astype("str")
        columns = [c for c in PRACTITIONER_COLUMNS if c != "geometry"]
        gdf = gdf[[*columns, "estimated", "geometry"]]
        gdf.attrs = {
            "source": self.source_label,
            "missing_communes": dict(self.missing),
            "synthetic": False,
        }
        return gdf


@lru_cache(maxsize=1)
def _gp_offer() -> GPOffer:
    table = _read(GP_FILE, {"code": "str", "medecins_generalistes": "int64", "statut": "str"})
    bad = sorted(set(table["statut"]) - {STATUT_OBSERVED, STATUT_ESTIMATED})
    if bad or table["code"].duplicated().any():
        raise ReferenceDataError(
            f"{offer_dir() / GP_FILE} : statut inconnu {bad} ou codes en double"
        )
    communes = load_communes()[["code", "nom", "zone"]]
    metro = communes[communes["zone"] == "metro"]
    unknown = sorted(set(table["code"]) - set(metro["code"]))
    if unknown:
        raise ReferenceDataError(f"{offer_dir() / GP_FILE} : codes hors métropole : {unknown}")
    counts = pd.DataFrame({"code": metro["code"].astype(str).to_numpy()})
    counts = counts.merge(table[["code", "medecins_generalistes", "statut"]], how="left")
    counts["medecins_generalistes"] = counts["medecins_generalistes"].fillna(0).astype("int64")
    counts["statut"] = counts["statut"].fillna(STATUT_OBSERVED).astype(str)
    counts = counts.sort_values("code", kind="stable").reset_index(drop=True)
    estimated = table[table["statut"] == STATUT_ESTIMATED]
    names = communes.set_index("code")["nom"]
    missing = {
        code: _REASON_ESTIMATED.format(nom=names[code]) for code in estimated["code"].tolist()
    }
    missing.update(dict.fromkeys(communes.loc[communes["zone"] == "drom", "code"], _REASON_DROM))
    return GPOffer(
        counts=counts,
        missing=MappingProxyType(dict(sorted(missing.items()))),
        source_label=(
            f"médecins généralistes libéraux — INSEE BPE, {BPE_VINTAGE}, effectifs par commune"
        ),
        vintage=BPE_VINTAGE,
    )


def load_gp_offer(dataset: str = BPE_DATASET) -> GPOffer:
    """Load the embedded offer of general practitioners (cached).

    Parameters
    ----------
    dataset : str
        Name of the dataset; only :data:`BPE_DATASET` for now.

    Returns
    -------
    GPOffer
        Counts per commune of métropole, communes not covered and provenance. Do not modify
        its frame in place: it is shared (copy it first).

    Raises
    ------
    DataValidationError
        Unknown dataset name.
    ReferenceDataError
        The embedded files are missing or inconsistent with the reference.

    Examples
    --------
    >>> offer = load_gp_offer()
    >>> int(offer.counts.set_index("code").at["01033", "medecins_generalistes"])
    13
    """
    if dataset != BPE_DATASET:
        raise DataValidationError(
            f"jeu de données de médecins généralistes inconnu : {dataset!r} ; "
            f"disponible : {BPE_DATASET!r}"
        )
    return _gp_offer()


@lru_cache(maxsize=1)
def _cnam() -> pd.DataFrame:
    return _read(
        CNAM_FILE,
        {
            "departement": "str",
            "nom": "str",
            "region": "str",
            "medecins_generalistes_2024": "int64",
            "densite_2024": "float64",
            "medecins_generalistes_hors_mep_2024": "int64",
            "densite_hors_mep_2024": "float64",
        },
    )


def cnam_headcounts() -> pd.DataFrame:
    """CNAM 2024 headcounts of libéral general practitioners per département.

    Returns
    -------
    pandas.DataFrame
        Columns ``departement``, ``nom``, ``region``, ``medecins_generalistes_2024`` (Ensemble
        des médecins généralistes), ``densite_2024`` (per 100,000 inhabitants),
        ``medecins_generalistes_hors_mep_2024`` and ``densite_hors_mep_2024`` (without the
        médecins à expertise particulière); 101 départements of métropole and the DROM.
    """
    return _cnam().copy()
