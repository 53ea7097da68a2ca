"""Territories: a set of communes with a short French display name, resolved from codes.

A territory is what users pick: France (métropole, or with the five DROM), one or more
régions, départements or EPCI, or a list of communes. Its name stays short whatever the
selection ("Auvergne-Rhône-Alpes", "Cantal et Puy-de-Dôme", "4 départements", "France
métropolitaine"), and so does its slug, used in output file names ("region-84",
"dep-15-63", "communes-12-3f9a1c2e").
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import pandas as pd

from geo.errors import DataValidationError, UnknownCodeError
from geo.reference import list_departements, list_epci, load_communes

__all__ = [
    "FRANCE_CHOICES",
    "REGIONS",
    "FranceChoice",
    "Territory",
    "UnknownRegionError",
    "list_regions",
    "resolve_territory",
]

#: The 18 régions (13 of métropole with Corse, 5 DROM): INSEE code → name.
#:
#: Source: INSEE, Code officiel géographique (COG) 2024, table « régions »
#: (https://www.insee.fr/fr/information/7766585), Licence Ouverte 2.0; codes and names are
#: unchanged in the COG 2026 carried by ``data/reference/departements.csv`` (a test checks
#: they agree).
REGIONS: dict[str, str] = {
    "01": "Guadeloupe",
    "02": "Martinique",
    "03": "Guyane",
    "04": "La Réunion",
    "06": "Mayotte",
    "11": "Île-de-France",
    "24": "Centre-Val de Loire",
    "27": "Bourgogne-Franche-Comté",
    "28": "Normandie",
    "32": "Hauts-de-France",
    "44": "Grand Est",
    "52": "Pays de la Loire",
    "53": "Bretagne",
    "75": "Nouvelle-Aquitaine",
    "76": "Occitanie",
    "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur",
    "94": "Corse",
}

#: Régions of the DROM (outside métropole).
_DROM_REGIONS = frozenset({"01", "02", "03", "04", "06"})

FranceChoice = Literal["metropole", "entiere"]
#: Accepted ``france`` values → display name and slug.
FRANCE_CHOICES: dict[str, tuple[str, str]] = {
    "metropole": ("France métropolitaine", "france-metro"),
    "entiere": ("France entière", "france-entiere"),
}
#: Other spellings people type for the two France choices (compared without accents).
_FRANCE_ALIASES = {
    "metropole": "metropole",
    "metro": "metropole",
    "france metropolitaine": "metropole",
    "metropolitaine": "metropole",
    "entiere": "entiere",
    "france entiere": "entiere",
    "france": "entiere",
    "drom": "entiere",
    "avec drom": "entiere",
    "tout": "entiere",
}

#: A selection of more codes than this is named by its count in slugs ("communes-12-<hash>").
_SLUG_MAX_CODES = 4


class UnknownRegionError(UnknownCodeError):
    """A région code or name that does not exist (a 404 ``unknown_code`` in the API)."""

    def __init__(self, codes: Iterable[str]) -> None:
        super().__init__("région", codes)
        shown = ", ".join(repr(c) for c in self.codes[:20])
        valid = ", ".join(f"{code} ({name})" for code, name in REGIONS.items())
        self.args = (f"région inconnue : {shown} ; codes INSEE possibles : {valid}",)


@dataclass(frozen=True)
class Territory:
    """Communes of a territory and how to call it.

    Attributes
    ----------
    communes : geopandas.GeoDataFrame
        Reference communes (EPSG:4326) of the territory.
    name : str
        Short French display name ("Puy-de-Dôme (63)", "Auvergne-Rhône-Alpes",
        "France métropolitaine").
    slug : str
        Short file-name friendly identifier ("dep-63", "region-84", "france-metro"); at most
        about 40 characters whatever the selection.
    """

    communes: gpd.GeoDataFrame
    name: str
    slug: str

    @property
    def population(self) -> int:
        """Population municipale 2023 of the territory."""
        return int(self.communes["population"].sum())


def list_regions() -> pd.DataFrame:
    """Régions of métropole and the DROM (COG 2024 codes and names).

    Returns
    -------
    pandas.DataFrame
        Columns code, nom, zone (``metro`` or ``drom``), departements (list of codes),
        communes, population (population municipale 2023); one row per région, by code.
    """
    deps = list_departements()
    grouped = deps.groupby("region", sort=True)
    table = pd.DataFrame(
        {
            "code": list(REGIONS),
            "nom": list(REGIONS.values()),
            "zone": ["drom" if c in _DROM_REGIONS else "metro" for c in REGIONS],
        }
    )
    members = grouped["code"].agg(list)
    table["departements"] = table["code"].map(members)
    table["communes"] = table["code"].map(grouped["communes"].sum()).astype("int64")
    table["population"] = table["code"].map(grouped["population"].sum()).astype("int64")
    return table


def _as_list(codes: Iterable[str] | str | None) -> list[str]:
    if codes is None:
        return []
    return [codes] if isinstance(codes, str) else [str(c) for c in codes]


def _plain(text: str) -> str:
    """Lower case without accents, hyphens, apostrophes or repeated spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    for sep in ("-", "'", "’", "_"):
        ascii_text = ascii_text.replace(sep, " ")
    return " ".join(ascii_text.split())


def _region_codes(values: Sequence[str]) -> list[str]:
    """INSEE codes of régions given by code ("84", "1") or name ("auvergne rhone alpes")."""
    by_name = {_plain(name): code for code, name in REGIONS.items()}
    found, unknown = [], []
    for value in values:
        text = str(value).strip()
        code = text.zfill(2) if text.isdigit() and len(text) == 1 else text
        if code in REGIONS:
            found.append(code)
        elif _plain(text) in by_name:
            found.append(by_name[_plain(text)])
        else:
            unknown.append(text)
    if unknown:
        raise UnknownRegionError(unknown)
    return sorted(set(found))


def _france_choice(value: str) -> str:
    key = _FRANCE_ALIASES.get(_plain(str(value)))
    if key is None:
        raise DataValidationError(
            f"France {value!r} : choisir « metropole » (métropole et Corse) ou « entiere » "
            "(avec les cinq DROM)"
        )
    return key


def _short_hash(codes: Iterable[str]) -> str:
    return hashlib.sha1(",".join(sorted(codes)).encode()).hexdigest()[:8]


def _slug(prefix: str, codes: Sequence[str]) -> str:
    """``prefix-code-code`` for a few codes, ``prefix-<count>-<hash>`` for more."""
    if len(codes) <= _SLUG_MAX_CODES:
        return f"{prefix}-" + "-".join(codes)
    return f"{prefix}-{len(codes)}-{_short_hash(codes)}"


def _and(names: Sequence[str]) -> str:
    """French enumeration of two or three names: "A et B", "A, B et C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " et " + names[-1]


def _whole(departements: set[str]) -> tuple[str, str] | None:
    """Name and slug of France or a région whose départements are exactly ``departements``."""
    table = list_departements()
    metro = set(table.loc[table["zone"] == "metro", "code"])
    if departements == set(table["code"]):
        return FRANCE_CHOICES["entiere"]
    if departements == metro:
        return FRANCE_CHOICES["metropole"]
    by_region: dict[str, set[str]] = {
        str(r): set(deps) for r, deps in table.groupby("region")["code"].agg(set).items()
    }
    regions = sorted(r for r, deps in by_region.items() if deps <= departements)
    if regions and set().union(*(by_region[r] for r in regions)) == departements:
        if len(regions) == 1:
            return REGIONS[regions[0]], f"region-{regions[0]}"
        if len(regions) <= 2:
            return _and([REGIONS[r] for r in regions]), _slug("regions", regions)
        return f"{len(regions)} régions", _slug("regions", regions)
    return None


def _departements_name(keys: Sequence[str]) -> tuple[str, str]:
    table = list_departements().set_index("code")
    whole = _whole(set(keys))
    if whole is not None:
        return whole
    if len(keys) == 1:
        return f"{table.at[keys[0], 'nom']!s} ({keys[0]})", f"dep-{keys[0]}"
    if len(keys) <= 3:
        return _and([str(table.at[k, "nom"]) for k in keys]), _slug("dep", keys)
    regions = sorted(set(table.loc[list(keys), "region"]))
    within = f" ({REGIONS[regions[0]]})" if len(regions) == 1 else ""
    return f"{len(keys)} départements{within}", _slug("dep", keys)


def resolve_territory(
    departements: Iterable[str] | str | None = None,
    epci: Iterable[str] | str | None = None,
    codes: Iterable[str] | str | None = None,
    *,
    regions: Iterable[str] | str | None = None,
    france: str | None = None,
) -> Territory:
    """Load the communes of a territory and name it briefly in French.

    Exactly one kind of selection is expected.

    Parameters
    ----------
    departements : str or iterable of str, optional
        Département codes ("63", "2A", "974").
    epci : str or iterable of str, optional
        EPCI SIREN codes.
    codes : str or iterable of str, optional
        INSEE commune codes.
    regions : str or iterable of str, optional
        Région INSEE codes ("84") or names ("Auvergne-Rhône-Alpes"; case, accents and
        hyphens ignored); see :data:`REGIONS`.
    france : {"metropole", "entiere"}, optional
        All of France: métropole with Corse, or with the five DROM ("France entière").

    Returns
    -------
    Territory
        The communes, a short name and a short slug.

    Raises
    ------
    UnknownCodeError
        For codes that do not exist (:class:`UnknownRegionError` for régions).
    DataValidationError
        When no or several kinds of selection are given, or ``france`` is not one of the two
        choices.

    Examples
    --------
    >>> t = resolve_territory(regions="94")
    >>> t.name, t.slug, len(t.communes)
    ('Corse', 'region-94', 360)
    """
    deps, epcis, communes = _as_list(departements), _as_list(epci), _as_list(codes)
    region_list = _as_list(regions)
    given = [bool(deps), bool(epcis), bool(communes), bool(region_list), france is not None]
    if sum(given) != 1:
        raise DataValidationError(
            "choisir un territoire par un seul critère : France, régions, départements, EPCI "
            "ou communes"
        )
    if france is not None:
        choice = _france_choice(france)
        table = list_departements()
        keep = table if choice == "entiere" else table[table["zone"] == "metro"]
        name, slug = FRANCE_CHOICES[choice]
        return Territory(load_communes(departements=keep["code"].tolist()), name, slug)
    if region_list:
        keys = _region_codes(region_list)
        table = list_departements()
        members = table.loc[table["region"].isin(keys), "code"].tolist()
        name, slug = _whole(set(members)) or (f"{len(keys)} régions", _slug("regions", keys))
        return Territory(load_communes(departements=members), name, slug)
    if deps:
        gdf = load_communes(departements=deps)
        name, slug = _departements_name(sorted(set(gdf["departement"])))
        return Territory(gdf, name, slug)
    if epcis:
        gdf = load_communes(epci=epcis)
        table = list_epci().set_index("code")
        keys = sorted(set(gdf["epci"].dropna()))
        if len(keys) <= 2:
            name = _and([str(table.at[e, "nom"]) for e in keys])
        else:
            name = f"{len(keys)} EPCI"
        return Territory(gdf, name, _slug("epci", keys))
    gdf = load_communes(codes=communes)
    if len(gdf) == 1:
        name = f"{gdf['nom'].iat[0]} ({gdf['code'].iat[0]})"
    else:
        name = f"{len(gdf)} communes"
    keys = sorted(gdf["code"])
    slug = "communes-" + "-".join(keys) if len(keys) <= 5 else _slug("communes", keys)
    return Territory(gdf, name, slug)
