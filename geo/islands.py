"""Land masses of the communes: which communes a road can link without crossing the sea.

Islands without a road bridge reach only their own island's communes; the engine drops the
origin–destination pairs that :func:`same_land_mass` rejects. The island table
``data/reference/iles.csv`` is built by ``scripts/build_islands.py`` through
:func:`build_island_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo.crs import METRIC_CRS_BY_DEPARTEMENT, METROPOLE_CRS
from geo.errors import DataValidationError
from geo.reference import load_communes, read_built_csv, reference_dir

__all__ = [
    "CONTINENT_PREFIX",
    "ISLANDS_FILE",
    "ISLAND_BRIDGES",
    "ISLAND_COLUMNS",
    "ISLAND_NAMES",
    "LAND_TOLERANCE_M",
    "IslandBridge",
    "build_island_table",
    "land_components",
    "land_mass_of",
    "load_islands",
    "same_land_mass",
]

#: File of the island table, in the reference folder.
ISLANDS_FILE: Final[str] = "iles.csv"
#: Columns of the island table, in order.
ISLAND_COLUMNS: Final = ("code", "nom", "departement", "ile_id", "ile", "population")
#: Land mass of the communes on the main land of a zone: ``continent:metro`` for mainland
#: France, ``continent:<département>`` for each DROM (``continent:971`` is Basse-Terre and
#: Grande-Terre, ``continent:976`` Mayotte's Grande-Terre).
CONTINENT_PREFIX: Final[str] = "continent:"
#: Two commune polygons closer than this (metres, in the zone's metric CRS) share land. The
#: reference polygons are topologically simplified, so neighbours touch exactly (the components
#: are the same at 0 m); the margin only absorbs slivers of a future geometry. It must stay
#: below the narrowest sea channel between two communes: 79 m (Rivière Salée, Guadeloupe,
#: bridged below), then 447 m (Fromentine–Noirmoutier).
LAND_TOLERANCE_M: Final[float] = 50.0


@dataclass(frozen=True)
class IslandBridge:
    """A road bridge that joins an island to another land mass.

    The whole land component of ``island_commune`` is merged with that of
    ``mainland_commune``.

    Attributes
    ----------
    island : str
        Name of the island.
    island_commune, mainland_commune : str
        INSEE codes of the communes at each end of the bridge.
    bridge : str
        Name of the bridge.
    opened_year : int
        Year the (current) bridge opened to road traffic.
    note : str
        Anything else worth knowing (older crossings, tidal roads).
    """

    island: str
    island_commune: str
    mainland_commune: str
    bridge: str
    opened_year: int
    note: str = ""


#: Road bridges: these islands count as part of the land they are bridged to.
ISLAND_BRIDGES: Final[tuple[IslandBridge, ...]] = (
    IslandBridge(
        "Île de Ré", "17297", "17300", "pont de l'île de Ré (Rivedoux-Plage – La Rochelle)", 1988
    ),
    IslandBridge(
        "Île d'Oléron",
        "17093",
        "17058",
        "viaduc d'Oléron (Le Château-d'Oléron – Bourcefranc-le-Chapus)",
        1966,
    ),
    IslandBridge(
        "Île de Noirmoutier",
        "85011",
        "85012",
        "pont de Noirmoutier (Barbâtre – La Barre-de-Monts, Fromentine)",
        1971,
        "aussi le passage du Gois, chaussée submersible vers Beauvoir-sur-Mer",
    ),
    IslandBridge(
        "Grande-Terre (Guadeloupe)",
        "97101",
        "97103",
        "pont de la Gabarre sur la Rivière Salée (Les Abymes – Baie-Mahault)",
        1973,
        "ouvrage actuel de 1973, franchissement routier depuis 1906 ; "
        "second pont, le pont de l'Alliance, en 1997",
    ),
)

#: Name of every island left after the bridges, keyed by one of its communes (its main town):
#: ``(ile_id, ile)``. ``ile_id`` is a stable slug; a new island in the data must be named here.
ISLAND_NAMES: Final[dict[str, tuple[str, str]]] = {
    "17004": ("ile-d-aix", "Île-d'Aix"),
    "22016": ("ile-de-brehat", "Île-de-Bréhat"),
    "29082": ("ile-de-batz", "Île de Batz"),
    "29083": ("ile-de-sein", "Île de Sein"),
    "29084": ("molene", "Île-Molène"),
    "29155": ("ouessant", "Ouessant"),
    "2A004": ("corse", "Corse"),
    "56069": ("groix", "Groix"),
    "56085": ("hoedic", "Hœdic"),
    "56086": ("houat", "Houat"),
    "56087": ("ile-aux-moines", "Île-aux-Moines"),
    "56088": ("ile-d-arz", "Île-d'Arz"),
    "56152": ("belle-ile", "Belle-Île"),
    "85113": ("yeu", "Île d'Yeu"),
    "97110": ("la-desirade", "La Désirade"),
    "97112": ("marie-galante", "Marie-Galante"),
    "97130": ("les-saintes-terre-de-bas", "Les Saintes — Terre-de-Bas"),
    "97131": ("les-saintes-terre-de-haut", "Les Saintes — Terre-de-Haut"),
    "97608": ("petite-terre", "Petite-Terre (Mayotte)"),
}


# --------------------------------------------------------------------------------------------
# building the table (scripts/build_islands.py)
# --------------------------------------------------------------------------------------------
def _zone_keys(departements: pd.Series) -> npt.NDArray[np.str_]:
    """``metro`` for mainland départements and Corsica, the département code for a DROM."""
    deps = departements.astype(str).to_numpy()
    return np.where(np.isin(deps, list(METRIC_CRS_BY_DEPARTEMENT)), deps, "metro").astype(str)


def land_components(
    communes: gpd.GeoDataFrame,
    *,
    tolerance_m: float = LAND_TOLERANCE_M,
    bridges: Sequence[IslandBridge] = ISLAND_BRIDGES,
) -> pd.DataFrame:
    """Group communes into land masses: polygons within ``tolerance_m`` plus bridges.

    Each zone (mainland France with Corsica, each DROM) is handled in its own metric CRS.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Columns ``code`` and ``departement`` and polygons with a CRS. Communes without a
        polygon are left out of the result (they are then on the main land of their zone).
    tolerance_m : float, default :data:`LAND_TOLERANCE_M`
        Largest gap, in metres, between two polygons that still share land.
    bridges : sequence of IslandBridge, default :data:`ISLAND_BRIDGES`
        Bridges joining the land of their two end communes; a bridge with neither end in the
        frame is ignored.

    Returns
    -------
    pandas.DataFrame
        One row per commune with a polygon, in input order: ``code``, ``zone`` (``metro`` or
        the DROM's code), ``component`` (int, numbered within the zone), ``main`` (True for the
        component holding most communes of the zone).

    Raises
    ------
    DataValidationError
        If the frame has no CRS or lacks a column, the tolerance is negative, or a bridge has
        only one end in the frame or joins two zones.
    """
    _check_frame(communes, tolerance_m)
    located = communes[communes.geometry.notna() & ~communes.geometry.is_empty]
    codes = located["code"].astype(str).to_numpy()
    zones = _zone_keys(located["departement"])
    component = np.full(len(located), -1, dtype=np.int64)
    position = pd.Index(codes)
    for zone in np.unique(zones):
        rows = np.flatnonzero(zones == zone)
        crs = METRIC_CRS_BY_DEPARTEMENT.get(str(zone), METROPOLE_CRS)
        geoms = np.asarray(located.geometry.iloc[rows].to_crs(crs).to_numpy())
        left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=tolerance_m)
        links = _bridge_links(bridges, position, zones, rows, str(zone))
        left = np.concatenate([left, links[0]])
        right = np.concatenate([right, links[1]])
        graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(len(rows), len(rows)))
        component[rows] = connected_components(graph, directed=False)[1]
    out = pd.DataFrame({"code": codes, "zone": zones, "component": component})
    sizes = out.groupby(["zone", "component"]).size()
    largest = sizes.groupby(level="zone").idxmax().tolist()
    out["main"] = pd.MultiIndex.from_frame(out[["zone", "component"]]).isin(largest)
    return out


def _check_frame(communes: Any, tolerance_m: float) -> None:
    if getattr(communes, "crs", None) is None:
        raise DataValidationError("communes : un GeoDataFrame avec un CRS est attendu")
    missing = [c for c in ("code", "departement") if c not in communes.columns]
    if missing:
        raise DataValidationError(f"communes : colonne(s) manquante(s) {missing}")
    if not np.isfinite(tolerance_m) or tolerance_m < 0:
        raise DataValidationError(
            f"tolerance_m : une distance en mètres ≥ 0 est attendue, reçu {tolerance_m!r}"
        )


def _bridge_links(
    bridges: Sequence[IslandBridge],
    position: pd.Index,
    zones: npt.NDArray[np.str_],
    rows: npt.NDArray[np.intp],
    zone: str,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Edges (local row numbers) of the bridges whose ends lie in ``zone``."""
    local = np.full(len(position), -1, dtype=np.intp)
    local[rows] = np.arange(len(rows))
    left, right = [], []
    for bridge in bridges:
        ends = position.get_indexer(pd.Index([bridge.island_commune, bridge.mainland_commune]))
        if (ends < 0).all():
            continue  # neither end in the frame: the bridge does not concern it
        if (ends < 0).any():
            raise DataValidationError(
                f"ISLAND_BRIDGES : {bridge.bridge!r} a une seule extrémité parmi les communes "
                f"localisées : {bridge.island_commune!r}, {bridge.mainland_commune!r}"
            )
        if zones[ends[0]] != zones[ends[1]]:
            raise DataValidationError(f"ISLAND_BRIDGES : {bridge.bridge!r} relie deux zones")
        if zones[ends[0]] == zone:
            left.append(local[ends[0]])
            right.append(local[ends[1]])
    return np.asarray(left, dtype=np.intp), np.asarray(right, dtype=np.intp)


def build_island_table(
    communes: gpd.GeoDataFrame | None = None,
    *,
    tolerance_m: float = LAND_TOLERANCE_M,
    bridges: Sequence[IslandBridge] = ISLAND_BRIDGES,
    names: dict[str, tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """List the communes off the main land of their zone, named by island.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame, optional
        Communes with ``code``, ``nom``, ``departement``, ``population`` and polygons; by
        default every reference commune (:func:`geo.reference.load_communes`).
    tolerance_m, bridges
        See :func:`land_components`.
    names : dict, optional
        ``{commune code: (ile_id, ile)}`` naming each island by one of its communes; by default
        :data:`ISLAND_NAMES`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ISLAND_COLUMNS`, sorted by code (what ``data/reference/iles.csv`` holds).

    Raises
    ------
    DataValidationError
        If an island holds no named commune or several, or a name is not used (the tolerance
        or the bridges changed the islands: review them).
    """
    if communes is None:
        communes = load_communes()
    names = ISLAND_NAMES if names is None else names
    comps = land_components(communes, tolerance_m=tolerance_m, bridges=bridges)
    off = comps[~comps["main"]].copy()
    off["key"] = off["zone"] + ":" + off["component"].astype(str)
    named = off[off["code"].isin(list(names))]
    counts = named["key"].value_counts().reindex(pd.unique(off["key"]), fill_value=0)
    info = communes.set_index(communes["code"].astype(str))
    bad = counts[counts != 1]
    if len(bad):
        listed = "; ".join(
            ", ".join(f"{c} {info.at[c, 'nom']}" for c in off.loc[off["key"] == k, "code"])
            for k in bad.index
        )
        raise DataValidationError(
            "ISLAND_NAMES : chaque île doit avoir une et une seule commune nommée ; "
            f"pas ici : {listed}"
        )
    unused = sorted(set(names) - set(named["code"]))
    if unused:
        raise DataValidationError(
            f"ISLAND_NAMES : commune(s) {unused} plus sur une île ; "
            "vérifier la tolérance et les ponts"
        )
    label = pd.Series(named["code"].to_numpy(), index=named["key"].to_numpy())
    named_code = label.reindex(off["key"]).to_numpy()
    table = pd.DataFrame(
        {
            "code": off["code"].to_numpy(),
            "nom": info.loc[off["code"], "nom"].to_numpy(),
            "departement": info.loc[off["code"], "departement"].astype(str).to_numpy(),
            "ile_id": [names[c][0] for c in named_code],
            "ile": [names[c][1] for c in named_code],
            "population": info.loc[off["code"], "population"].astype("int64").to_numpy(),
        }
    )
    return table.sort_values("code", ignore_index=True)[list(ISLAND_COLUMNS)]


# --------------------------------------------------------------------------------------------
# engine-side lookup
# --------------------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def _islands(path: str) -> pd.DataFrame:
    table = read_built_csv(
        path, columns=ISLAND_COLUMNS, key="code", what="fichier des îles", script="build_islands.py"
    )
    table["population"] = table["population"].astype("int64")
    return table[list(ISLAND_COLUMNS)]


def load_islands() -> pd.DataFrame:
    """Load the communes that are not on the main land of their zone.

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``nom``, ``departement``, ``ile_id`` (stable slug, e.g.
        ``belle-ile``), ``ile`` (French name, e.g. ``Belle-Île``), ``population`` (population
        municipale 2023). Every commune not listed is on the main land of its zone.

    Examples
    --------
    >>> islands = load_islands()
    >>> sorted(islands.loc[islands["ile_id"] == "belle-ile", "nom"])
    ['Bangor', 'Le Palais', 'Locmaria', 'Sauzon']
    """
    return _islands(str(reference_dir() / ISLANDS_FILE)).copy()


@lru_cache(maxsize=2)
def _land_mass_index(path: str) -> tuple[pd.Index, npt.NDArray[np.object_]]:
    """Every reference commune code and its land mass."""
    communes = pd.DataFrame(load_communes().drop(columns=["geometry", "chef_lieu"]))
    mass = CONTINENT_PREFIX + pd.Series(_zone_keys(communes["departement"]), dtype=object)
    islands = _islands(path)
    on_island = communes["code"].isin(islands["code"]).to_numpy()
    mass[on_island] = (
        islands.set_index("code").loc[communes["code"][on_island], "ile_id"].to_numpy()
    )
    # Python strings (object dtype): looking codes up in an Arrow-string index converted its
    # 35,000 entries on every call
    codes = np.asarray(communes["code"].astype(str), dtype=object)
    return pd.Index(codes, dtype=object), mass.to_numpy(dtype=object)


def _as_codes(codes: Any, name: str) -> npt.NDArray[np.object_]:
    array = np.asarray(codes, dtype=object)
    if array.ndim != 1:
        raise DataValidationError(f"{name} : une suite (1-D) de codes commune est attendue")
    return array


def land_mass_of(codes: Any) -> npt.NDArray[np.object_]:
    """Land mass of each commune.

    Parameters
    ----------
    codes : array-like of str
        INSEE commune codes (COG 2026).

    Returns
    -------
    numpy.ndarray of str (object dtype)
        The island's ``ile_id`` (see :func:`load_islands`) for a commune off the main land,
        ``continent:metro`` or ``continent:<DROM code>`` (:data:`CONTINENT_PREFIX`) for one on
        the main land of its zone, ``""`` for an unknown code (no constraint).

    Examples
    --------
    >>> land_mass_of(["63113", "56088", "2B033", "97120", "XXXXX"]).tolist()
    ['continent:metro', 'ile-d-arz', 'corse', 'continent:971', '']
    """
    array = _as_codes(codes, "codes")
    index, mass = _land_mass_index(str(reference_dir() / ISLANDS_FILE))
    found = index.get_indexer(pd.Index(array, dtype=object))
    out = np.full(len(array), "", dtype=object)
    out[found >= 0] = mass[found[found >= 0]]
    return out


def same_land_mass(origin_codes: Any, dest_codes: Any) -> npt.NDArray[np.bool_]:
    """Whether each origin–destination pair of communes can be linked by road.

    Islands without a bridge reach only their own island: no ferry crossing time is modelled,
    a pair across the sea is simply out of reach. A pair with an unknown code is kept.

    Parameters
    ----------
    origin_codes, dest_codes : array-like of str
        INSEE codes of the same length, pair by pair.

    Returns
    -------
    numpy.ndarray of bool
        True when both communes lie on the same land mass or either code is unknown.

    Raises
    ------
    DataValidationError
        If the two sequences differ in length or are not 1-D.

    Examples
    --------
    >>> same_land_mass(["56088", "75056"], ["56260", "69123"]).tolist()
    [False, True]
    """
    origin = _as_codes(origin_codes, "origin_codes")
    dest = _as_codes(dest_codes, "dest_codes")
    if len(origin) != len(dest):
        raise DataValidationError(
            f"origin_codes et dest_codes n'ont pas la même longueur : {len(origin)} et {len(dest)}"
        )
    # factorize first: the engine passes millions of pairs over a few thousand communes
    o_ids, o_uniques = pd.factorize(origin, use_na_sentinel=False)
    d_ids, d_uniques = pd.factorize(dest, use_na_sentinel=False)
    o_mass = land_mass_of(np.asarray(o_uniques, dtype=object))[o_ids]
    d_mass = land_mass_of(np.asarray(d_uniques, dtype=object))[d_ids]
    return np.asarray((o_mass == d_mass) | (o_mass == "") | (d_mass == ""), dtype=bool)
