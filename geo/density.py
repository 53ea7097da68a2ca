"""Practitioner density: practitioners per 10,000 inhabitants, per commune and per aggregate.

Density counts practitioners located in a commune (no catchment): the simplest and most quoted
indicator, and the one users compare with DREES's published figures.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import DataValidationError

__all__ = ["DENSITY_PER_INHABITANTS", "assign_communes", "density", "practitioners_per_commune"]

#: Densities are expressed per this many inhabitants.
DENSITY_PER_INHABITANTS = 10_000


def assign_communes(practitioners: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> pd.Series:
    """Find the INSEE code of the commune containing each practitioner.

    A practitioner whose ``commune`` column is filled keeps it (official files carry the code);
    others are located by point-in-polygon. Practitioners outside every commune get ``<NA>``.

    Parameters
    ----------
    practitioners : geopandas.GeoDataFrame
        Points with a CRS, optionally a ``commune`` column.
    communes : geopandas.GeoDataFrame
        Polygons with ``code``.

    Returns
    -------
    pandas.Series
        Commune code per practitioner, indexed like ``practitioners``.
    """
    if practitioners.crs is None or communes.crs is None:
        raise DataValidationError("practitioners and communes must both have a CRS")
    codes = pd.Series(pd.NA, index=practitioners.index, dtype="string")
    if "commune" in practitioners.columns:
        codes[:] = practitioners["commune"].astype("string")
    todo = codes.isna()
    if todo.any():
        polys = communes[["code", communes.geometry.name]].dropna(subset=[communes.geometry.name])
        pts = practitioners.loc[todo, [practitioners.geometry.name]].to_crs(communes.crs)
        joined = gpd.sjoin(pts, polys, how="left", predicate="within")
        joined = joined[~joined.index.duplicated(keep="first")]  # a point on a shared border
        codes.loc[joined.index] = joined["code"].astype("string")
    return codes


def practitioners_per_commune(
    practitioners: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    weight: str | None = None,
) -> pd.Series:
    """Count practitioners (or sum their ``weight``, e.g. FTE) per commune code.

    Returns a float Series indexed by every code of ``communes`` (0 where none).
    """
    codes = assign_communes(practitioners, communes)
    if weight is None:
        values = pd.Series(1.0, index=practitioners.index)
    else:
        if weight not in practitioners.columns:
            raise DataValidationError(
                f"weight column {weight!r} not in practitioners (columns: "
                f"{', '.join(map(str, practitioners.columns))})"
            )
        values = pd.to_numeric(practitioners[weight], errors="coerce")
        bad = values.isna() | (values < 0)
        if bad.any():
            first = practitioners.index[bad.to_numpy()][0]
            raise DataValidationError(
                f"column {weight!r}: value {practitioners.at[first, weight]!r} at row {first!r} "
                "is not a non-negative number"
            )
    totals = values.groupby(codes.to_numpy()).sum()
    return totals.reindex(communes["code"].to_numpy(), fill_value=0.0).astype("float64")


def density(
    communes: gpd.GeoDataFrame | pd.DataFrame,
    counts: pd.Series,
    *,
    by: str | pd.Series | None = None,
    per: int = DENSITY_PER_INHABITANTS,
) -> pd.DataFrame:
    """Practitioners per ``per`` inhabitants, per commune or aggregated.

    Parameters
    ----------
    communes : DataFrame
        With ``code`` and ``population``.
    counts : pandas.Series
        Practitioners per commune code (from :func:`practitioners_per_commune`).
    by : str or Series, optional
        Aggregate by this column of ``communes`` (``"epci"``, ``"departement"``) or by a Series
        aligned with ``communes`` (a user grouping). Default: one row per commune.
    per : int
        Inhabitants unit (10,000 by default).

    Returns
    -------
    pandas.DataFrame
        Index the commune code (or group), columns ``population``, ``practitioners`` and
        ``density``. A zero population gives NaN density (undefined), never a warning.

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"code": ["A", "B"], "population": [5000, 0], "epci": ["E", "E"]})
    >>> density(c, pd.Series({"A": 4.0, "B": 1.0}), by="epci")["density"].round(2).tolist()
    [10.0]
    """
    for col in ("code", "population"):
        if col not in communes.columns:
            raise DataValidationError(f"communes lack the column {col!r}")
    pop = pd.to_numeric(communes["population"], errors="coerce")
    if pop.isna().any() or (pop < 0).any():
        bad = communes.loc[pop.isna() | (pop < 0), "code"].iloc[0]
        raise DataValidationError(f"population of commune {bad!r} is not a non-negative number")
    frame = pd.DataFrame(
        {
            "population": pop.to_numpy(dtype="float64"),
            "practitioners": counts.reindex(communes["code"].to_numpy())
            .fillna(0.0)
            .to_numpy(dtype="float64"),
        },
        index=pd.Index(communes["code"].to_numpy(), name="code"),
    )
    if by is not None:
        keys = communes[by] if isinstance(by, str) else by
        if len(keys) != len(communes):
            raise DataValidationError("the grouping must have one value per commune")
        frame = frame.groupby(np.asarray(keys), dropna=False).sum()
        frame.index.name = by if isinstance(by, str) else (keys.name or "group")
    population = frame["population"].to_numpy()
    practitioners = frame["practitioners"].to_numpy()
    value = np.full(len(frame), np.nan)
    np.divide(practitioners * per, population, out=value, where=population > 0)
    frame["density"] = value
    return frame
