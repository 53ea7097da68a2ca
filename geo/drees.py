"""The official APL's method constants (DREES) and the activity rule applied to GPs' supply.

Every constant here comes from the sheet "Paramètres" of the DREES workbook of the APL for
médecins généralistes (editions 2022 and 2023, Licence Ouverte), cited field by field; the tests
compare them with the staged copy of that sheet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo._fca import APL_BANDS
from geo.errors import DataValidationError

__all__ = [
    "ACTIVITY_CAP",
    "ACTIVITY_FLOOR",
    "ACTIVITY_MINIMUM",
    "ACTIVITY_NEW_PRACTITIONER",
    "AGE_BAND_LABELS_FR",
    "AGE_WEIGHTS",
    "APL_DECAY",
    "DEFAULT_AGE_WEIGHTS_EDITION",
    "DREES_SOURCE",
    "HEADCOUNT_CALIBRATION_TARGET",
    "NATIONAL_APL_PUBLISHED",
    "ActivityCalibration",
    "ActivityReport",
    "capped_activity",
    "load_activity_calibration",
]

#: The primary source of every constant of this module.
DREES_SOURCE = (
    "DREES, classeur « APL aux médecins généralistes », feuille « Paramètres » "
    "(éditions 2022 et 2023) — Licence Ouverte"
)

#: Distance decay on road time (minutes → weight), rubric "décroissance temps trajet".
APL_DECAY: Mapping[float, float] = APL_BANDS

#: Rubric "activité consultations": fewer than 250 consultations and visits in the year → 0.
ACTIVITY_FLOOR = 250.0
#: "Entre 251 et 3 600" → 3,600.
ACTIVITY_MINIMUM = 3600.0
#: "Entre 3 601 et 6 000" → the practitioner's own count; "Plus de 6 000" → 6,000.
ACTIVITY_CAP = 6000.0
#: "Exceptions": a libéral GP without libéral activity the previous year is imputed 5,400.
ACTIVITY_NEW_PRACTITIONER = 5400.0

#: Age bands of the weights, in order (5-year bands, "90+" last), as the sheet names them.
AGE_BAND_LABELS_FR: Mapping[str, str] = MappingProxyType(
    {
        "0-4": "Moins de 5 ans",
        "5-9": "de 5 à 9 ans",
        "10-14": "de 10 à 14 ans",
        "15-19": "de 15 à 19 ans",
        "20-24": "de 20 à 24 ans",
        "25-29": "de 25 à 29 ans",
        "30-34": "de 30 à 34 ans",
        "35-39": "de 35 à 39 ans",
        "40-44": "de 40 à 44 ans",
        "45-49": "de 45 à 49 ans",
        "50-54": "de 50 à 54 ans",
        "55-59": "de 55 à 59 ans",
        "60-64": "de 60 à 64 ans",
        "65-69": "de 65 à 69 ans",
        "70-74": "de 70 à 74 ans",
        "75-79": "de 75 à 79 ans",
        "80-84": "de 80 à 84 ans",
        "85-89": "de 85 à 89 ans",
        "90+": "Plus de 90 ans",
    }
)

_WEIGHTS_2022 = (0.93, 0.59, 0.55, 0.59, 0.73, 0.78, 0.84, 0.88, 0.9, 0.97, 1.06, 1.14, 1.16)
_WEIGHTS_2022_OLD = (1.19, 1.52, 1.53, 1.72, 1.99, 2.39)
_WEIGHTS_2023 = (1.12, 0.58, 0.51, 0.6, 0.75, 0.79, 0.82, 0.85, 0.89, 0.93, 1.03, 1.15, 1.18)
_WEIGHTS_2023_OLD = (1.23, 1.46, 1.57, 1.63, 1.89, 2.26)

#: Rubric "poids âge": mean consumption of GP care of each band relative to the NATIONAL mean
#: consumption, per edition. A commune's standardised population is Σ_b P_b × w_b: it does
#: not depend on the territory analysed.
AGE_WEIGHTS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        edition: MappingProxyType(dict(zip(AGE_BAND_LABELS_FR, young + old, strict=True)))
        for edition, young, old in (
            ("2022", _WEIGHTS_2022, _WEIGHTS_2022_OLD),
            ("2023", _WEIGHTS_2023, _WEIGHTS_2023_OLD),
        )
    }
)
#: Edition used when none is asked for: the latest.
DEFAULT_AGE_WEIGHTS_EDITION = "2023"

#: National population-weighted GP APL published by DREES (consultations per standardised
#: inhabitant per year, all GPs), by year of the indicator, with the publication.
NATIONAL_APL_PUBLISHED: Mapping[int, tuple[float, str]] = MappingProxyType(
    {
        2015: (4.06, "DREES, Études et Résultats n° 1144 (février 2020), révision de 2015"),
        2016: (4.1, "DREES, Études et Résultats, mai 2018 (démographie des médecins, APL 2016)"),
        2018: (3.93, "DREES, Études et Résultats n° 1144 (février 2020)"),
    }
)


#: National APL that a headcount-only file is calibrated on (year, value, how it was obtained).
#: The embedded BPE is probably of 2017, a year for which no national figure was found in a
#: DREES publication: the target is the straight-line interpolation between the published
#: 2016 (4.1) and 2018 (3.93) figures. Stated in every result that uses it.
HEADCOUNT_CALIBRATION_TARGET: tuple[int, float, str] = (
    2017,
    round((NATIONAL_APL_PUBLISHED[2016][0] + NATIONAL_APL_PUBLISHED[2018][0]) / 2.0, 3),
    "interpolation entre les APL nationaux publiés par la DREES pour 2016 (4,1) et 2018 (3,93)",
)


@dataclass(frozen=True)
class ActivityReport:
    """How many practitioners each rule of the activity sheet applied to."""

    below_floor: int
    raised_to_minimum: int
    as_is: int
    capped: int
    new_practitioner: int
    health_centre: int

    def to_dict(self) -> dict[str, int]:
        """JSON-safe counts (French keys are for people: these are for machines)."""
        return {
            "below_floor_zero": self.below_floor,
            "raised_to_3600": self.raised_to_minimum,
            "as_is": self.as_is,
            "capped_to_6000": self.capped,
            "new_practitioner_5400": self.new_practitioner,
            "health_centre_uncapped": self.health_centre,
        }


def capped_activity(
    consultations: npt.ArrayLike,
    *,
    new_practitioner: npt.ArrayLike | None = None,
    health_centre: npt.ArrayLike | None = None,
) -> tuple[npt.NDArray[np.float64], ActivityReport]:
    """Yearly activity counted in the APL from consultations and visits (DREES rule).

    ≤ 250 → 0; 251–3,600 → 3,600; 3,601–6,000 → as is; > 6,000 → 6,000. A practitioner flagged
    ``new_practitioner`` (no libéral activity the previous year) is counted 5,400 whatever the
    count (which is usually missing); one flagged ``health_centre`` is counted as is.

    Parameters
    ----------
    consultations : array (m,)
        Consultations and visits of the year (NaN allowed only for new practitioners).
    new_practitioner, health_centre : array of bool (m,), optional
        Flags of the two exceptions of the sheet.

    Returns
    -------
    tuple
        The activity of each practitioner and the counts per rule.

    Raises
    ------
    DataValidationError
        A negative count, or a missing count for a practitioner who is not new.

    Examples
    --------
    >>> capped_activity([100, 251, 4000, 9000])[0].tolist()
    [0.0, 3600.0, 4000.0, 6000.0]
    """
    raw = np.asarray(consultations, dtype=np.float64)
    new = _flags(new_practitioner, raw.shape, "new_practitioner")
    centre = _flags(health_centre, raw.shape, "health_centre") & ~new
    missing = np.isnan(raw) & ~new
    if missing.any():
        raise DataValidationError(
            f"{int(missing.sum())} praticien(s) sans nombre de consultations (position "
            f"{int(np.flatnonzero(missing)[0])}) : indiquez-le, ou marquez-les comme nouveaux "
            "installés (activité imputée de 5 400)"
        )
    if (raw[~np.isnan(raw)] < 0).any():
        raise DataValidationError("un nombre de consultations est négatif")
    ruled = ~new & ~centre
    floor = ruled & (raw <= ACTIVITY_FLOOR)
    raised = ruled & (raw > ACTIVITY_FLOOR) & (raw <= ACTIVITY_MINIMUM)
    capped = ruled & (raw > ACTIVITY_CAP)
    out = raw.copy()
    out[floor] = 0.0
    out[raised] = ACTIVITY_MINIMUM
    out[capped] = ACTIVITY_CAP
    out[new] = ACTIVITY_NEW_PRACTITIONER
    report = ActivityReport(
        below_floor=int(floor.sum()),
        raised_to_minimum=int(raised.sum()),
        as_is=int((ruled & ~floor & ~raised & ~capped).sum()),
        capped=int(capped.sum()),
        new_practitioner=int(new.sum()),
        health_centre=int(centre.sum()),
    )
    return out, report


def _flags(
    values: npt.ArrayLike | None, shape: tuple[int, ...], name: str
) -> npt.NDArray[np.bool_]:
    if values is None:
        return np.zeros(shape, dtype=bool)
    flags = pd.Series(np.asarray(values).ravel())
    if flags.dtype == object:
        text = flags.astype(str).str.strip().str.lower()
        flags = text.isin(("1", "true", "vrai", "oui", "o", "yes", "y"))
    out = flags.fillna(False).astype(bool).to_numpy()
    if out.shape != shape:
        raise DataValidationError(f"{name} must have one flag per practitioner")
    return out


@dataclass(frozen=True)
class ActivityCalibration:
    """One activity per GP for headcount-only data, calibrated on the national APL.

    Attributes
    ----------
    consultations_per_gp : float
        Yearly consultations and visits counted for each GP of a headcount-only file.
    target_apl, target_year, target_source : float, int, str
        The national figure matched and where DREES publishes it.
    details : dict
        How it was computed (data, travel model, age weights, mean at one consultation per GP).
    """

    consultations_per_gp: float
    target_apl: float
    target_year: int
    target_source: str
    details: Mapping[str, Any]

    def describe_fr(self) -> str:
        """One French sentence for maps and summaries."""
        per_gp = f"{self.consultations_per_gp:,.0f}".replace(",", "\u202f")
        target = f"{self.target_apl:.2f}".replace(".", ",")
        return (
            f"activité estimée : {per_gp} consultations et visites par médecin et par an, "
            f"calibrée pour que l'APL national vaille {target} ({self.target_year}, "
            f"{self.target_source})"
        )


def _calibration_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "offre" / "calibration_apl.json"


@lru_cache(maxsize=1)
def load_activity_calibration() -> ActivityCalibration:
    """Read the committed calibration (``scripts/calibrate_apl.py`` writes it).

    Raises
    ------
    DataValidationError
        If the file is missing or malformed.
    """
    path = _calibration_path()
    try:
        data = json.loads(path.read_text("utf-8"))
        return ActivityCalibration(
            consultations_per_gp=float(data["consultations_per_gp"]),
            target_apl=float(data["target_apl"]),
            target_year=int(data["target_year"]),
            target_source=str(data["target_source"]),
            details=MappingProxyType(dict(data.get("details", {}))),
        )
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise DataValidationError(
            f"calibration de l'activité illisible ({path}) : relancez "
            f"`python scripts/calibrate_apl.py` ({exc})"
        ) from exc
