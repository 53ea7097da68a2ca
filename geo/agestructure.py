"""Age structure (19 five-year bands of the DREES APL) of every commune of the reference layer.

The embedded file ``data/population/structure_age_communes.csv`` is built by
``scripts/build_age_structure.py`` (census 2021 where known, an estimate elsewhere: see its
README); this module is the only place that reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import DataValidationError, ReferenceDataError

__all__ = ["AGE_BANDS", "load_age_structure", "standardised_ratio"]

#: Labels of the 19 age bands of the DREES APL weights, youngest first.
AGE_BANDS: tuple[str, ...] = (*(f"{a}-{a + 4}" for a in range(0, 90, 5)), "90+")

_FILE = (
    Path(__file__).resolve().parent.parent / "data" / "population" / "structure_age_communes.csv"
)


@lru_cache(maxsize=1)
def _cached() -> pd.DataFrame:
    if not _FILE.is_file():
        raise ReferenceDataError(
            f"age structure file {_FILE} is missing; rebuild it with "
            "`python scripts/build_age_structure.py`"
        )
    dtypes: dict[str, str] = {"code": "str", "source": "str"}
    dtypes.update(dict.fromkeys(AGE_BANDS, "float64"))
    try:
        table = pd.read_csv(_FILE, dtype=dtypes, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise ReferenceDataError(f"cannot read {_FILE}: {exc}") from exc
    missing = [c for c in ("code", "source", *AGE_BANDS) if c not in table.columns]
    if missing:
        raise ReferenceDataError(f"{_FILE}: missing column(s) {missing}")
    return table.set_index("code")[[*AGE_BANDS, "source"]]


def load_age_structure() -> pd.DataFrame:
    """Share of each age band of every commune (métropole + DROM, COG 2026).

    Returns
    -------
    pandas.DataFrame
        Indexed by INSEE commune code, columns :data:`AGE_BANDS` (shares summing to 1 per row)
        and ``source`` (``"recensement 2021"``, ``"estimation"`` or
        ``"estimation (profil du département)"``). A copy: changing it does not change later
        calls.

    Examples
    --------
    >>> ages = load_age_structure()
    >>> len(ages), ages.loc["63113", "source"]
    (34875, 'recensement 2021')
    """
    return _cached().copy()


def standardised_ratio(shares: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Standardised population ratio ``r_i = Σ_b share_ib × w_b`` of each row.

    Parameters
    ----------
    shares : pandas.DataFrame
        One row per commune, one column per band of ``weights`` (other columns are ignored);
        rows should sum to 1.
    weights : mapping of band label to float
        Relative care consumption of each band (e.g. the DREES APL weights, 1 = national mean).

    Returns
    -------
    pandas.Series
        ``r_i``, same index as ``shares``, named ``ratio_standardise``.

    Raises
    ------
    DataValidationError
        A band of ``weights`` has no column, or a share or weight is missing or negative.

    Examples
    --------
    >>> table = pd.DataFrame({"jeunes": [1.0, 0.5], "vieux": [0.0, 0.5]}, index=["A", "B"])
    >>> standardised_ratio(table, {"jeunes": 0.5, "vieux": 2.0}).tolist()
    [0.5, 1.25]
    """
    bands = list(weights)
    if not bands:
        raise DataValidationError("weights est vide : il faut un poids par tranche d'âge")
    missing = [b for b in bands if b not in shares.columns]
    if missing:
        raise DataValidationError(
            f"tranche(s) d'âge {missing} absente(s) des colonnes {list(map(str, shares.columns))}"
        )
    w = np.array([float(weights[b]) for b in bands])
    if not (np.isfinite(w) & (w >= 0)).all():
        raise DataValidationError(f"poids manquant ou négatif : {dict(weights)}")
    values = shares[bands].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataValidationError(
            f"part manquante, non numérique ou négative pour {shares.index[row]!r}, "
            f"tranche {bands[col]!r} : {shares[bands[col]].iloc[row]!r}"
        )
    return pd.Series(values @ w, index=shares.index, name="ratio_standardise")
