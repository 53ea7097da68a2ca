"""History of the commune codes (COG): re-code files made before a merger to today's communes.

Reads ``data/reference/cog_historique.csv`` (built by ``scripts/build_cog_history.py`` from the
INSEE COG 2026 as packaged in npm ``@etalab/decoupage-administratif@6.0.0``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import pandas as pd

from geo.reference import read_built_csv, reference_dir

__all__ = [
    "COG_HISTORY_FILE",
    "NATURE_AMBIGUOUS",
    "ambiguous_codes",
    "current_code_of",
    "load_history",
    "recode_communes",
]

#: File of the history table, in the reference folder.
COG_HISTORY_FILE: Final[str] = "cog_historique.csv"
#: ``nature`` of a historical code that points to several current communes (never re-coded).
NATURE_AMBIGUOUS: Final[str] = "ambigu"
_COLUMNS: Final = ("ancien_code", "nom_ancien", "code", "nom", "nature")


@lru_cache(maxsize=2)
def _history(path: str) -> pd.DataFrame:
    return read_built_csv(
        path,
        columns=_COLUMNS,
        key="ancien_code",
        what="fichier d'historique du COG",
        script="build_cog_history.py",
    )


def load_history() -> pd.DataFrame:
    """Return the table of historical commune codes.

    Returns
    -------
    pandas.DataFrame
        Columns ``ancien_code`` (a code that is no longer a current commune), ``nom_ancien``
        (its name when the COG still lists it as a commune déléguée, associée or arrondissement
        municipal; empty otherwise), ``code`` (the current commune, COG 2026; for an ambiguous
        code every candidate, separated by ``|``), ``nom`` (current name), ``nature``
        (``ancien code``, ``commune déléguée``, ``commune associée``, ``arrondissement
        municipal`` or ``ambigu``).
    """
    return _history(str(reference_dir() / COG_HISTORY_FILE)).copy()


@lru_cache(maxsize=2)
def _mapping(path: str) -> tuple[Mapping[str, str], Mapping[str, tuple[str, ...]]]:
    table = _history(path)
    ambiguous = (table["nature"] == NATURE_AMBIGUOUS).to_numpy()
    unique = table[~ambiguous]
    split = table[ambiguous]
    return (
        MappingProxyType(dict(zip(unique["ancien_code"], unique["code"], strict=True))),
        MappingProxyType(
            {
                old: tuple(new.split("|"))
                for old, new in zip(split["ancien_code"], split["code"], strict=True)
            }
        ),
    )


@lru_cache(maxsize=2)
def _lookup(path: str) -> pd.Series:
    """Historical code → current code (unambiguous codes only), as a Series for ``map``."""
    mapping = _mapping(path)[0]
    return pd.Series(
        list(mapping.values()), index=pd.Index(list(mapping.keys()), dtype=object), dtype=object
    )


def _maps() -> tuple[Mapping[str, str], Mapping[str, tuple[str, ...]]]:
    return _mapping(str(reference_dir() / COG_HISTORY_FILE))


def current_code_of(code: str) -> str | None:
    """Today's commune of a historical commune code.

    Parameters
    ----------
    code : str
        An INSEE commune code (5 characters).

    Returns
    -------
    str or None
        The current code (COG 2026) that absorbed ``code``; None when ``code`` is not a
        historical code (a current commune, an unknown code) or when it is ambiguous.

    Examples
    --------
    >>> current_code_of("01091")  # Châtillon-en-Michaille, now part of Valserhône
    '01033'
    >>> current_code_of("01033") is None  # a current commune is never re-coded
    True
    """
    return _maps()[0].get(str(code))


def ambiguous_codes() -> Mapping[str, tuple[str, ...]]:
    """Historical codes that point to several current communes (never re-coded).

    Returns
    -------
    Mapping
        Historical code → the current codes it could stand for.
    """
    return _maps()[1]


def recode_communes(codes: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """Replace historical commune codes by today's commune (COG 2026).

    Parameters
    ----------
    codes : pandas.Series
        Commune codes (strings; missing values are kept). Current codes, unknown codes and
        ambiguous historical codes are returned unchanged.

    Returns
    -------
    codes : pandas.Series
        Same index, object dtype, historical codes replaced.
    report : pandas.DataFrame
        One row per historical code found: ``ancien_code``, ``code`` (current), ``rows`` (number
        of values re-coded), sorted by ``ancien_code``.

    Examples
    --------
    >>> new, report = recode_communes(pd.Series(["01091", "01033", "01091"]))
    >>> new.tolist(), report.to_dict("records")
    (['01033', '01033', '01033'], [{'ancien_code': '01091', 'code': '01033', 'rows': 2}])
    """
    lookup = _lookup(str(reference_dir() / COG_HISTORY_FILE))
    text = codes.astype(object).where(codes.notna(), None)
    new = text.map(lookup)
    recoded = new.notna().to_numpy()
    out = text.where(~recoded, new)
    counts = text[recoded].astype(str).value_counts(sort=False)
    report = pd.DataFrame(
        {
            "ancien_code": counts.index.astype(str).to_numpy(dtype=object),
            "code": lookup.reindex(counts.index).to_numpy(dtype=object),
            "rows": counts.to_numpy(dtype="int64"),
        }
    )
    report = report.sort_values("ancien_code", kind="stable").reset_index(drop=True)
    return out.astype(object), report
