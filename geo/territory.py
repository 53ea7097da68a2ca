"""Territories: a set of communes with a French display name, resolved from codes.

A territory is what users pick: a département, one or more EPCI, or a list of communes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd

from geo.errors import DataValidationError
from geo.reference import list_departements, list_epci, load_communes

__all__ = ["Territory", "resolve_territory"]


@dataclass(frozen=True)
class Territory:
    """Communes of a territory and how to call it.

    Attributes
    ----------
    communes : geopandas.GeoDataFrame
        Reference communes (EPSG:4326) of the territory.
    name : str
        French display name ("Puy-de-Dôme (63)").
    slug : str
        File-name friendly identifier ("dep-63").
    """

    communes: gpd.GeoDataFrame
    name: str
    slug: str

    @property
    def population(self) -> int:
        """Population municipale 2023 of the territory."""
        return int(self.communes["population"].sum())


def _as_list(codes: Iterable[str] | str | None) -> list[str]:
    if codes is None:
        return []
    return [codes] if isinstance(codes, str) else [str(c) for c in codes]


def resolve_territory(
    departements: Iterable[str] | str | None = None,
    epci: Iterable[str] | str | None = None,
    codes: Iterable[str] | str | None = None,
) -> Territory:
    """Load the communes of a territory and name it in French.

    Exactly one kind of selection is expected (départements, EPCI or commune codes).

    Raises
    ------
    UnknownCodeError
        For codes that do not exist.
    DataValidationError
        When no or several kinds of selection are given.
    """
    deps, epcis, communes = _as_list(departements), _as_list(epci), _as_list(codes)
    given = [bool(deps), bool(epcis), bool(communes)]
    if sum(given) != 1:
        raise DataValidationError(
            "choose a territory with exactly one of: départements, EPCI or commune codes"
        )
    if deps:
        gdf = load_communes(departements=deps)
        table = list_departements().set_index("code")
        keys = sorted(set(gdf["departement"]))
        name = ", ".join(f"{table.at[d, 'nom']!s} ({d})" for d in keys)
        return Territory(gdf, name, "dep-" + "-".join(keys))
    if epcis:
        gdf = load_communes(epci=epcis)
        table = list_epci().set_index("code")
        keys = sorted(set(gdf["epci"].dropna()))
        name = ", ".join(str(table.at[e, "nom"]) for e in keys)
        return Territory(gdf, name, "epci-" + "-".join(keys))
    gdf = load_communes(codes=communes)
    if len(gdf) == 1:
        name = f"{gdf['nom'].iat[0]} ({gdf['code'].iat[0]})"
    else:
        name = f"{len(gdf)} communes"
    slug = "communes-" + ("-".join(sorted(gdf["code"])) if len(gdf) <= 5 else str(len(gdf)))
    return Territory(gdf, name, slug)
