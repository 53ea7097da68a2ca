"""Travel costs between demand points (communes) and supply points (practitioners, sites).

One sparse representation, :class:`TravelCosts`, holds only the pairs within the maximum cost
(zero-cost pairs included: a practitioner in the commune itself) whatever the backend: straight
lines in a metric CRS, or a user-supplied origin–destination table (INSEE Metric, OSRM export…).
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo.errors import DataValidationError, InputFormatError

__all__ = [
    "DETOUR_FACTOR",
    "OD_SECONDS_MEDIAN_THRESHOLD",
    "SPEED_KMH",
    "TravelCosts",
    "km_to_minutes",
    "minutes_to_km",
    "read_od_table",
    "straight_line_costs",
]

#: Ratio of road distance to straight-line distance. 1.3 is the usual mean for France's road
#: network between communes (e.g. INSEE/SOeS comparisons of Metric and crow-fly distances give
#: 1.2–1.4 depending on terrain); a parameter, not a fact.
DETOUR_FACTOR = 1.3
#: Mean door-to-door road speed used to turn road kilometres into minutes (mixed rural roads).
SPEED_KMH = 60.0

#: An origin–destination table whose unit is neither stated nor named is read as seconds when
#: the median of its positive times exceeds this: 720 minutes (12 hours) is no typical trip
#: between French communes, while 720 seconds (12 minutes) is below the typical pair of any
#: table spanning more than a few neighbouring communes.
OD_SECONDS_MEDIAN_THRESHOLD = 720.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: An INSEE commune code (COG): 5 digits, or 2A/2B and 3 digits in Corsica.
_COMMUNE_CODE = re.compile(r"\d{5}|2[AB]\d{3}")
_SECONDS_NAME = re.compile(
    r"(?:^|[^a-z])(?:s|sec|secs|seconde|secondes|second|seconds)(?:$|[^a-z])"
)
_MINUTES_NAME = re.compile(r"(?:^|[^a-z])(?:mn|min|mins|minute|minutes)(?:$|[^a-z])")
#: Cells of a wide matrix that mean "no route" besides empty ones (R writes NA).
_NO_ROUTE = ("", "NA")


def km_to_minutes(
    km: FloatArray | float, detour_factor: float = DETOUR_FACTOR, speed_kmh: float = SPEED_KMH
) -> Any:
    """Turn straight-line kilometres into travel minutes: ``km × detour / speed × 60``."""
    return np.asarray(km, dtype="float64") * detour_factor / speed_kmh * 60.0


def minutes_to_km(
    minutes: float, detour_factor: float = DETOUR_FACTOR, speed_kmh: float = SPEED_KMH
) -> float:
    """Straight-line kilometres reachable in ``minutes`` (inverse of :func:`km_to_minutes`)."""
    return float(minutes) / 60.0 * speed_kmh / detour_factor


@dataclass(frozen=True)
class TravelCosts:
    """Sparse origin–destination travel costs.

    Attributes
    ----------
    origins, destinations : pandas.Index
        Ids of demand and supply points; positions in these indexes are what ``rows`` and
        ``cols`` hold.
    rows, cols : numpy.ndarray of int64
        Pair positions.
    minutes : numpy.ndarray of float64
        Travel time of each pair, ≥ 0 (zeros are real pairs).
    km : numpy.ndarray of float64 or None
        Straight-line distance of each pair when known.
    max_minutes : float
        No pair beyond this cost is stored.
    method : str
        ``"straight_line"``, ``"od_table"`` or ``"road"``.
    params : dict
        Parameters of the backend, for the analysis metadata.
    """

    origins: pd.Index
    destinations: pd.Index
    rows: IntArray
    cols: IntArray
    minutes: FloatArray
    km: FloatArray | None
    max_minutes: float
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_pairs(self) -> int:
        """Number of stored pairs."""
        return int(self.rows.size)

    def to_frame(self) -> pd.DataFrame:
        """Long table ``origin, dest, cost`` (minutes), as PySAL ``access`` takes it."""
        return pd.DataFrame(
            {
                "origin": self.origins.to_numpy()[self.rows],
                "dest": self.destinations.to_numpy()[self.cols],
                "cost": self.minutes,
            }
        )

    def within(self, max_minutes: float) -> TravelCosts:
        """Keep the pairs with cost ≤ ``max_minutes``."""
        if max_minutes >= self.max_minutes:
            return self
        keep = self.minutes <= max_minutes
        return TravelCosts(
            self.origins,
            self.destinations,
            self.rows[keep],
            self.cols[keep],
            self.minutes[keep],
            None if self.km is None else self.km[keep],
            float(max_minutes),
            self.method,
            dict(self.params),
        )

    def restricted(
        self, origins: pd.Index | None = None, destinations: pd.Index | None = None
    ) -> TravelCosts:
        """Keep the pairs between the given ids, re-indexed on them (``None``: keep all).

        Ids of ``origins``/``destinations`` absent from the table simply have no pair; pairs
        of ids outside them are dropped (an OD table usually covers more than a territory).
        """
        new_o = self.origins if origins is None else _unique_index(origins, "origin")
        new_d = (
            self.destinations
            if destinations is None
            else _unique_index(destinations, "destination")
        )
        o_pos = new_o.get_indexer(self.origins)[self.rows]
        d_pos = new_d.get_indexer(self.destinations)[self.cols]
        keep = np.flatnonzero((o_pos >= 0) & (d_pos >= 0))
        keep = keep[np.lexsort((d_pos[keep], o_pos[keep]))]  # pairs sorted by row, then col
        return TravelCosts(
            new_o,
            new_d,
            o_pos[keep].astype(np.int64),
            d_pos[keep].astype(np.int64),
            self.minutes[keep],
            None if self.km is None else self.km[keep],
            self.max_minutes,
            self.method,
            dict(self.params),
        )

    def nearest_minutes(self) -> FloatArray:
        """Minimum cost per origin; NaN where no destination is within reach."""
        out = np.full(len(self.origins), np.inf)
        np.minimum.at(out, self.rows, self.minutes)
        out[np.isinf(out)] = np.nan
        return out


def _metric_xy(points: gpd.GeoSeries, crs: str, what: str) -> FloatArray:
    if points.crs is None:
        raise DataValidationError(
            f"points ({what}) sans système de coordonnées ; en définir un (ex. EPSG:4326)"
        )
    if len(points) and not points.geom_type.dropna().eq("Point").all():
        kinds = sorted(set(points.geom_type.dropna()) - {"Point"})
        raise DataValidationError(
            f"les géométries ({what}) doivent être des points, reçu {', '.join(kinds)}"
        )
    projected = points.to_crs(crs)
    xy = shapely.get_coordinates(projected.to_numpy(), include_z=False)
    if len(xy) != len(points) or not np.isfinite(xy).all():
        missing = points.index[points.isna() | points.is_empty]
        where = list(missing[:5]) if len(missing) else "unknown rows"
        raise DataValidationError(f"points ({what}) sans coordonnées ou vides : {where}")
    return xy


def _unique_index(index: pd.Index, what: str) -> pd.Index:
    if not index.is_unique:
        dup = index[index.duplicated()].unique()[:5].tolist()
        raise DataValidationError(f"identifiants en double ({what}) : {dup}")
    return index


def straight_line_costs(
    demand: gpd.GeoSeries,
    supply: gpd.GeoSeries,
    *,
    crs: str = "EPSG:2154",
    max_km: float | None = None,
    max_minutes: float | None = None,
    detour_factor: float = DETOUR_FACTOR,
    speed_kmh: float = SPEED_KMH,
) -> TravelCosts:
    """Straight-line distances and times between all pairs within the maximum cost.

    Parameters
    ----------
    demand, supply : geopandas.GeoSeries
        Points with a CRS, indexed by unique ids.
    crs : str
        Metric CRS in which distances are measured (EPSG:2154 for mainland France).
    max_km, max_minutes : float
        Maximum distance or time (give one; with both, the stricter applies).
    detour_factor, speed_kmh : float
        ``minutes = km × detour_factor / speed_kmh × 60``.

    Returns
    -------
    TravelCosts
        Pairs within reach, zero distances kept.
    """
    if max_km is None and max_minutes is None:
        raise DataValidationError(
            "donner max_km ou max_minutes : seules les paires à portée sont gardées"
        )
    if detour_factor < 1 or speed_kmh <= 0:
        raise DataValidationError(
            f"detour_factor doit être ≥ 1 et speed_kmh > 0, reçus {detour_factor} et {speed_kmh}"
        )
    limit_km = np.inf if max_km is None else float(max_km)
    if max_minutes is not None:
        limit_km = min(limit_km, minutes_to_km(max_minutes, detour_factor, speed_kmh))
    if not limit_km >= 0:
        raise DataValidationError(
            f"le coût maximal doit être ≥ 0, reçus max_km={max_km!r} max_minutes={max_minutes!r}"
        )
    origins = _unique_index(pd.Index(demand.index), "demand")
    destinations = _unique_index(pd.Index(supply.index), "supply")
    d_xy = _metric_xy(demand, crs, "demand")
    s_xy = _metric_xy(supply, crs, "supply")
    if len(d_xy) and len(s_xy):
        pairs = cKDTree(d_xy).sparse_distance_matrix(
            cKDTree(s_xy), limit_km * 1000.0, output_type="ndarray"
        )
        rows = pairs["i"].astype(np.int64)
        cols = pairs["j"].astype(np.int64)
        km = pairs["v"] / 1000.0
    else:
        rows = cols = np.empty(0, dtype=np.int64)
        km = np.empty(0)
    # round to 1e-9 min so that a pair exactly on a band edge (10 km at 60 km/h) does not fall
    # on either side depending on floating-point noise of the projection
    minutes = np.round(km_to_minutes(km, detour_factor, speed_kmh), 9)
    return TravelCosts(
        origins=origins,
        destinations=destinations,
        rows=rows,
        cols=cols,
        minutes=minutes,
        km=km,
        max_minutes=float(km_to_minutes(limit_km, detour_factor, speed_kmh)),
        method="straight_line",
        params={
            "crs": crs,
            "max_km": limit_km,
            "detour_factor": detour_factor,
            "speed_kmh": speed_kmh,
        },
    )


def _read_table(
    source: str | Path | bytes | pd.DataFrame, filename: str | None
) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source, filename or "la table origine–destination"
    if isinstance(source, bytes):  # an upload: the name only labels messages and the format
        name = filename or "la table origine–destination"
        try:
            if name.lower().endswith(".parquet") or source[:4] == _PARQUET_MAGIC:
                return pd.read_parquet(io.BytesIO(source)), name
            return _read_french_csv(_gunzip(source, name)), name
        except (OSError, ValueError, EOFError) as exc:
            raise InputFormatError(f"{name} : fichier illisible ({exc})") from exc
    path = Path(source)
    # a stored upload has no extension: its client name (``filename``) tells the format
    name = filename or str(path)
    if not path.is_file():
        raise InputFormatError(f"{name} : fichier introuvable")
    suffix = "".join(Path(name).suffixes[-2:]).lower()
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
        if suffix.endswith(".parquet") or magic == _PARQUET_MAGIC:
            return pd.read_parquet(path), name
        if suffix.endswith((".csv", ".csv.gz", ".txt", ".gz")) or filename is not None:
            return _read_french_csv(_gunzip(path.read_bytes(), name)), name
    except (OSError, ValueError, EOFError) as exc:
        raise InputFormatError(f"{name} : fichier illisible ({exc})") from exc
    raise InputFormatError(
        f"{name} : format {suffix!r} non pris en charge (.csv, .csv.gz ou .parquet)"
    )


#: First bytes of a Parquet file, and of a gzip stream.
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"


def _gunzip(raw: bytes, name: str) -> bytes:
    """Decompress a gzip file (recognised by its first bytes, whatever its name)."""
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise InputFormatError(f"{name} : fichier gzip illisible ou tronqué ({exc})") from exc


def _read_french_csv(raw: bytes) -> pd.DataFrame:
    """Read a CSV as official French files come: ';' or ',' separated, UTF-8 or CP1252."""
    head = raw[:65536]
    try:
        head.decode("utf-8")
        encoding = "utf-8-sig"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the 64 KiB window is still UTF-8
        encoding = "utf-8-sig" if exc.start >= len(head) - 3 else "cp1252"
    first = head.decode(encoding, errors="replace").splitlines()[0] if head else ""
    sep = ";" if first.count(";") > first.count(",") else ","
    if first.count("\t") > first.count(sep):
        sep = "\t"
    return pd.read_csv(
        io.BytesIO(raw), sep=sep, encoding=encoding, dtype=str, keep_default_na=False
    )


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        raise DataValidationError(
            f"{what} {value!r} inconnu : valeurs possibles {', '.join(map(repr, allowed))}"
        )


def _detect_layout(
    table: pd.DataFrame, layout: str | None, long_cols: tuple[str, str, str]
) -> tuple[str, str]:
    """Layout of the table and whether it was ``"stated"`` or ``"detected"``."""
    if layout is not None:
        return layout, "stated"
    columns = [str(c).strip() for c in table.columns]
    if all(c in columns for c in long_cols):
        return "long", "detected"
    # pandas renames a repeated header "38001" to "38001.1": still a matrix (reported later)
    unmangled = [re.sub(r"\.\d+$", "", c) for c in columns[1:]]
    if len(columns) >= 2 and all(_COMMUNE_CODE.fullmatch(c) for c in unmangled):
        return "wide", "detected"
    return "long", "detected"


def _rows_of(mask: npt.NDArray[np.bool_]) -> str:
    idx = np.flatnonzero(mask)[:5] + 1
    return ", ".join(map(str, idx)) + (" …" if mask.sum() > 5 else "")


def _long_pairs(
    table: pd.DataFrame, name: str, origin_col: str, dest_col: str, minutes_col: str
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], FloatArray, str]:
    """Origins, destinations and raw times of a long table (one row per pair)."""
    missing = [c for c in (origin_col, dest_col, minutes_col) if c not in table.columns]
    if missing:
        raise InputFormatError(
            f"{name} : colonne(s) manquante(s) {missing} ; "
            f"colonnes trouvées {list(map(str, table.columns))}"
        )
    o = table[origin_col].astype(str).str.strip().to_numpy()
    d = table[dest_col].astype(str).str.strip().to_numpy()
    raw = table[minutes_col]
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        raw = raw.astype(str).str.strip().str.replace(",", ".", regex=False)
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        example = table[minutes_col].iloc[int(np.flatnonzero(bad)[0])]
        raise InputFormatError(
            f"{name} : colonne {minutes_col!r}, durée manquante ou non numérique "
            f"(ex. {example!r}) ligne(s) {_rows_of(bad)}"
        )
    neg = values < 0
    if neg.any():
        raise InputFormatError(
            f"{name} : colonne {minutes_col!r}, durée négative "
            f"(ex. {values[neg][0]}) ligne(s) {_rows_of(neg)}"
        )
    pair_keys = pd.MultiIndex.from_arrays([o, d])
    dup = pair_keys.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputFormatError(
            f"{name} : paire en double ({o[i]!r}, {d[i]!r}) ligne(s) {_rows_of(dup)}"
        )
    return o, d, values, minutes_col


def _wide_pairs(
    table: pd.DataFrame, name: str
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], FloatArray, str, IntArray]:
    """Pairs of a wide matrix: first column the origins, other headers the destinations.

    Also returns the 0-based data row of each pair, for messages.
    """
    if table.shape[1] < 2:
        raise InputFormatError(
            f"{name} : une matrice large doit avoir une colonne d'origines puis une colonne "
            f"par destination ; colonnes trouvées {list(map(str, table.columns))}"
        )
    first = str(table.columns[0])
    dests = np.array([str(c).strip() for c in table.columns[1:]], dtype=object)
    # pandas renames a repeated header "38001" to "38001.1"
    seen = set(dests)
    for c in dests:
        m = re.fullmatch(r"(.+)\.\d+", c)
        if m and m.group(1) in seen:
            raise InputFormatError(f"{name} : la destination {m.group(1)!r} a deux colonnes")
    origins = table.iloc[:, 0].astype(str).str.strip().to_numpy()
    dup = pd.Index(origins).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputFormatError(
            f"{name} : l'origine {origins[i]!r} (colonne {first!r}) apparaît deux fois, "
            f"ligne(s) {_rows_of(pd.Index(origins) == origins[i])}"
        )
    cells = table.iloc[:, 1:]
    absent = cells.isna().to_numpy()
    text = cells.astype(str).to_numpy(dtype=str)
    text = np.char.strip(text)
    present = ~absent & ~np.isin(text, _NO_ROUTE)
    r, c = np.nonzero(present)
    raw = text[r, c].astype(object)  # plain str in messages
    values = pd.to_numeric(
        pd.Series(raw, dtype=object).str.replace(",", ".", regex=False), errors="coerce"
    ).to_numpy(dtype="float64")
    for bad, what in ((~np.isfinite(values), "non numérique"), (values < 0, "négative")):
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            more = int(bad.sum()) - 1
            raise InputFormatError(
                f"{name} : durée {what} {raw[k]!r} ligne {r[k] + 1} (origine "
                f"{origins[r[k]]!r}), colonne {dests[c[k]]!r}"
                + (f" ; {more} autre(s) cellule(s) dans ce cas" if more else "")
            )
    return origins[r], dests[c], values, first, r.astype(np.int64)


def _detect_unit(
    values: FloatArray, unit: str | None, time_col: str
) -> tuple[str, str, float | None]:
    """Decide the unit of the raw times; also say how, and the median when by magnitudes."""
    if unit is not None:
        return unit, "stated", None
    label = time_col.strip().lower()
    if _SECONDS_NAME.search(label):
        return "seconds", "column name", None
    if _MINUTES_NAME.search(label):
        return "minutes", "column name", None
    positive = values[values > 0]
    median = float(np.median(positive)) if positive.size else 0.0
    return ("seconds" if median > OD_SECONDS_MEDIAN_THRESHOLD else "minutes"), "magnitudes", median


def read_od_table(
    source: str | Path | bytes | pd.DataFrame,
    *,
    filename: str | None = None,
    origin_col: str = "origin",
    dest_col: str = "dest",
    minutes_col: str = "minutes",
    origins: pd.Index | None = None,
    destinations: pd.Index | None = None,
    max_minutes: float | None = None,
    layout: Literal["long", "wide"] | None = None,
    unit: Literal["minutes", "seconds"] | None = None,
) -> TravelCosts:
    """Validate an origin–destination table of travel times and turn it into ``TravelCosts``.

    Two layouts are read, in minutes or seconds (times are always returned in minutes):

    * **long**: one row per pair, columns ``origin_col``, ``dest_col``, ``minutes_col`` (INSEE
      Metric, a tidy OSRM export);
    * **wide**: a matrix, first column the origin codes, one column per destination whose
      header is the destination code, a time in each cell (OSRM ``table``, R ``osrm``); an
      empty cell (or ``NA``) means "no route": no pair.

    Parameters
    ----------
    source : path, bytes or DataFrame
        CSV (``;``, ``,`` or tab; UTF-8 or CP1252; ``.csv``, ``.csv.gz``, ``.txt``) or Parquet;
        bytes are an uploaded file's content. CSV codes are read as text (leading zeros kept).
    filename : str, optional
        Name of the file in messages (for bytes and DataFrames, and for a path stored without
        its extension, such as an upload); a ``.parquet`` name, or Parquet content, reads as
        Parquet; gzip-compressed content (``.csv.gz``) is decompressed whatever the name.
    origin_col, dest_col, minutes_col : str
        Column names of the long layout (e.g. INSEE Metric's commune codes and time); in the
        wide layout only ``minutes_col`` is unused and the first column holds the origins.
    origins, destinations : pandas.Index, optional
        Known ids; a table id not in them is an error naming the rows. Default: the ids found.
    max_minutes : float, optional
        Keep pairs within this time in minutes (default: all).
    layout : {"long", "wide"}, optional
        Stated layout. Detected when omitted: ``long`` when the three long columns exist;
        otherwise ``wide`` when every header after the first is an INSEE commune code (5 digits,
        or 2A/2B and 3 digits); otherwise ``long`` (and the missing columns are reported).
    unit : {"minutes", "seconds"}, optional
        Stated unit of the times. Detected when omitted, from the name of the time column
        (``minutes_col`` in long, the first header in wide): a word ``s``, ``sec``,
        ``secondes``, ``seconds``… (``duree_s``, ``temps (s)``) means seconds, ``min``,
        ``minutes``, ``mn``… minutes; with no such word, from the magnitudes: seconds when the
        median of the positive times exceeds :data:`OD_SECONDS_MEDIAN_THRESHOLD` (720),
        minutes otherwise. A table of seconds with a median under 12 minutes (only very close
        pairs) would be read as minutes: state ``unit`` for such tables.

    Returns
    -------
    TravelCosts
        ``method="od_table"``; ``params`` holds ``source``, ``layout`` and ``layout_from``
        (``"stated"``/``"detected"``), ``unit`` and ``unit_from`` (``"stated"``,
        ``"column name"`` or ``"magnitudes"``, then also ``raw_median``).

    Raises
    ------
    InputFormatError
        Missing columns, unknown codes, negative, missing or non-numeric times, duplicate pairs;
        the message names the file, the column (the destination's in a wide matrix), the value
        and the first offending rows (1-based data rows).
    DataValidationError
        ``layout`` or ``unit`` is not one of the values above.
    """
    _choice(layout, ("long", "wide"), "layout")
    _choice(unit, ("minutes", "seconds"), "unit")
    table, name = _read_table(source, filename)
    used_layout, layout_from = _detect_layout(table, layout, (origin_col, dest_col, minutes_col))
    if used_layout == "wide":
        o, d, values, time_col, row_of = _wide_pairs(table, name)
    else:
        o, d, values, time_col = _long_pairs(table, name, origin_col, dest_col, minutes_col)
        row_of = np.arange(len(o), dtype=np.int64)
    used_unit, unit_from, median = _detect_unit(values, unit, time_col)
    minutes = values / 60.0 if used_unit == "seconds" else values
    origins = _unique_index(pd.Index(pd.unique(o)) if origins is None else origins, "origin")
    destinations = _unique_index(
        pd.Index(pd.unique(d)) if destinations is None else destinations, "destination"
    )
    rows = origins.get_indexer(pd.Index(o))
    cols = destinations.get_indexer(pd.Index(d))
    if used_layout == "wide":
        first = str(table.columns[0])
        for pos, vals, where in ((rows, o, "origine"), (cols, d, "destination")):
            unknown = pos < 0
            if unknown.any():
                k = int(np.flatnonzero(unknown)[0])
                codes = sorted(set(vals[unknown]))[:10]
                place = (
                    f"ligne {row_of[k] + 1}, colonne {first!r}"
                    if where == "origine"
                    else f"colonne {d[k]!r}"
                )
                raise InputFormatError(
                    f"{name} : code(s) {where} inconnu(s) {codes} ({place}, valeur {vals[k]!r})"
                )
    else:
        for col, pos, vals in ((origin_col, rows, o), (dest_col, cols, d)):
            unknown = pos < 0
            if unknown.any():
                codes = sorted(set(vals[unknown]))[:10]
                raise InputFormatError(
                    f"{name} : colonne {col!r}, code(s) commune inconnu(s) {codes} "
                    f"ligne(s) {_rows_of(unknown)}"
                )
    keep = np.ones(len(minutes), dtype=bool) if max_minutes is None else minutes <= max_minutes
    order = np.lexsort((cols[keep], rows[keep]))
    params: dict[str, Any] = {
        "source": name if not isinstance(source, pd.DataFrame) else "DataFrame",
        "layout": used_layout,
        "layout_from": layout_from,
        "unit": used_unit,
        "unit_from": unit_from,
    }
    if median is not None:
        params["raw_median"] = median
    return TravelCosts(
        origins=origins,
        destinations=destinations,
        rows=rows[keep][order].astype(np.int64),
        cols=cols[keep][order].astype(np.int64),
        minutes=minutes[keep][order],
        km=None,
        max_minutes=float(np.max(minutes, initial=0.0) if max_minutes is None else max_minutes),
        method="od_table",
        params=params,
    )
