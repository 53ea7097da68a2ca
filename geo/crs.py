"""Coordinate reference systems used by cartosoins.

Distances are always computed in a metric CRS: Lambert-93 for mainland France and Corsica, the
official local projection for each overseas département.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from geo.errors import DataValidationError

__all__ = [
    "GEOGRAPHIC_CRS",
    "METRIC_CRS_BY_DEPARTEMENT",
    "METROPOLE_CRS",
    "metric_crs_for",
    "metric_crs_of",
]

#: Storage CRS of every reference layer (WGS 84 longitude/latitude).
GEOGRAPHIC_CRS = "EPSG:4326"
#: RGF93 v1 / Lambert-93, mainland France and Corsica.
METROPOLE_CRS = "EPSG:2154"
#: Official projected CRS of each overseas département (décret 2019-165 / IGN).
METRIC_CRS_BY_DEPARTEMENT: dict[str, str] = {
    "971": "EPSG:5490",  # Guadeloupe, RGAF09 / UTM 20N
    "972": "EPSG:5490",  # Martinique, RGAF09 / UTM 20N
    "973": "EPSG:2972",  # Guyane, RGFG95 / UTM 22N
    "974": "EPSG:2975",  # La Réunion, RGR92 / UTM 40S
    "976": "EPSG:4471",  # Mayotte, RGM04 / UTM 38S
}


def metric_crs_for(departements: Iterable[str]) -> str:
    """Return the metric CRS shared by a set of départements.

    Parameters
    ----------
    departements : iterable of str
        Département codes ("63", "2A", "974").

    Returns
    -------
    str
        ``"EPSG:2154"`` for mainland départements, the local CRS for an overseas one.

    Raises
    ------
    DataValidationError
        If the départements span several CRSs (e.g. mainland and La Réunion): distances between
        them are meaningless, analyse them separately.

    Examples
    --------
    >>> metric_crs_for(["63", "03"])
    'EPSG:2154'
    >>> metric_crs_for(["974"])
    'EPSG:2975'
    """
    found = {METRIC_CRS_BY_DEPARTEMENT.get(str(d), METROPOLE_CRS) for d in departements}
    if not found:
        return METROPOLE_CRS
    if len(found) > 1:
        raise DataValidationError(
            "départements span several metric CRSs "
            f"({', '.join(sorted(found))}); analyse mainland and each overseas département "
            "separately"
        )
    return found.pop()


def metric_crs_of(communes: Any) -> str:
    """Metric CRS of a frame of communes.

    From its ``departement`` column when it has one (see :func:`metric_crs_for`), else its
    own CRS when projected, else Lambert-93.
    """
    if "departement" in communes.columns:
        return metric_crs_for(pd.unique(communes["departement"].dropna().astype(str)))
    crs = getattr(communes, "crs", None)
    if crs is not None and crs.is_projected:
        return str(crs.to_string())
    return METROPOLE_CRS
