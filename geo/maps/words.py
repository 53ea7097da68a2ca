"""The words maps, summaries and the command line say: professions, measures, counts.

One table of professions (singular, plural, gender) and one of measures (plain French name), so
that a title, a legend and a console line never word the same thing two ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np

__all__ = [
    "MEASURE_WORDS",
    "PROFESSION_WORDS",
    "MeasureWords",
    "ProfessionWords",
    "count_fr",
    "measure_title",
    "no_access_label",
    "profession_of",
    "profession_words",
    "sites_fr",
]


@dataclass(frozen=True)
class ProfessionWords:
    """How French names a profession.

    Attributes
    ----------
    singular, plural : str
        "médecin généraliste", "médecins généralistes".
    feminine : bool
        Grammatical gender ("la sage-femme la plus proche", "aucune sage-femme").
    short : str
        Shorter singular for the legend entry of communes without access ("aucun médecin à
        moins de 20 min", the wording of the DREES); the singular by default.
    """

    singular: str
    plural: str
    feminine: bool = False
    short: str = ""

    @property
    def short_singular(self) -> str:
        """The short singular (the singular when none is set)."""
        return self.short or self.singular


#: Professions by the codes of :data:`geo.demo.PROFESSIONS`; ``None``: an unnamed or mixed set.
PROFESSION_WORDS: Final[Mapping[str | None, ProfessionWords]] = MappingProxyType(
    {
        "medecin_generaliste": ProfessionWords(
            "médecin généraliste", "médecins généralistes", short="médecin"
        ),
        "infirmier": ProfessionWords("infirmier", "infirmiers"),
        "masseur_kinesitherapeute": ProfessionWords(
            "masseur-kinésithérapeute", "masseurs-kinésithérapeutes"
        ),
        "chirurgien_dentiste": ProfessionWords("chirurgien-dentiste", "chirurgiens-dentistes"),
        "sage_femme": ProfessionWords("sage-femme", "sages-femmes", feminine=True),
        None: ProfessionWords("praticien", "praticiens"),
    }
)


@dataclass(frozen=True)
class MeasureWords:
    """How a measure is named in a title.

    Attributes
    ----------
    kind : str
        ``access`` ("Accès aux … (2SFCA)"), ``nearest`` ("Temps d'accès au … le plus proche"),
        ``density`` ("Densité de …") or ``potential`` ("Potentiel d'accès aux … (…)").
    short : str
        The acronym or method in brackets ("APL", "E2SFCA"); empty for none.
    """

    kind: str
    short: str = ""


#: The measures of :data:`geo.analysis.MEASURES`, in plain French.
MEASURE_WORDS: Final[Mapping[str, MeasureWords]] = MappingProxyType(
    {
        "density": MeasureWords("density"),
        "nearest": MeasureWords("nearest"),
        "2sfca": MeasureWords("access", "2SFCA"),
        "e2sfca": MeasureWords("access", "E2SFCA"),
        "kernel_2sfca": MeasureWords("access", "2SFCA à noyau gaussien"),
        "3sfca": MeasureWords("access", "3SFCA"),
        "gravity": MeasureWords("potential", "modèle gravitaire"),
        "apl": MeasureWords("access", "APL"),
    }
)

_VOWELS = tuple("aeiouyhàâéèêëîïôûüAEIOUYHÉÈ")


def profession_words(profession: str | None) -> ProfessionWords:
    """Words of a profession code; an unknown or missing code is "praticien"."""
    return PROFESSION_WORDS.get(profession, PROFESSION_WORDS[None])


def count_fr(n: float, singular: str, plural: str | None = None) -> str:
    """Write a count and its noun, agreed, in French format.

    French takes the singular below 2 ("0 praticien", "1,5 praticien"); thousands are
    separated by a narrow no-break space.

    >>> count_fr(1, "médecin généraliste", "médecins généralistes")
    '1 médecin généraliste'
    >>> count_fr(12322, "praticien")
    '12\u202f322 praticiens'
    """
    from geo.maps.choropleth import format_fr  # the one number formatter

    value = float(n)
    decimals = 0 if value == round(value) else 1
    noun = singular if abs(value) < 2 else (plural or _plural_of(singular))
    return f"{format_fr(value, decimals)} {noun}"


def _plural_of(singular: str) -> str:
    """Regular French plural of each word of a compound noun ("site" → "sites")."""
    words = singular.split(" ")
    return " ".join(w if w.endswith(("s", "x", "z")) else f"{w}s" for w in words)


def sites_fr(k: int, per_site: int, profession: str | None = None) -> str:
    """Word a siting: "3 sites de 1 praticien", "1 site de 2 médecins généralistes"."""
    who = profession_words(profession)
    return f"{count_fr(k, 'site')} de {count_fr(per_site, who.singular, who.plural)}"


def _to_the(words: ProfessionWords, plural: bool) -> str:
    """Say "to the …": "aux infirmiers", "au médecin généraliste", "à l'infirmier"."""
    if plural:
        return f"aux {words.plural}"
    if words.singular.startswith(_VOWELS):
        return f"à l'{words.singular}"
    return f"à la {words.singular}" if words.feminine else f"au {words.singular}"


def measure_title(measure: str, profession: str | None = None) -> str:
    """Plain-French title of a measure for a profession.

    >>> measure_title("apl", "medecin_generaliste")
    'Accès aux médecins généralistes (APL)'
    >>> measure_title("nearest", "sage_femme")
    "Temps d'accès à la sage-femme la plus proche"
    >>> measure_title("density", "infirmier")
    "Densité d'infirmiers"
    """
    who = profession_words(profession)
    words = MEASURE_WORDS.get(measure, MeasureWords("access"))
    bracket = f" ({words.short})" if words.short else ""
    if words.kind == "nearest":
        nearest = "la plus proche" if who.feminine else "le plus proche"
        return f"Temps d'accès {_to_the(who, False)} {nearest}"
    if words.kind == "density":
        of = "d'" if who.plural.startswith(_VOWELS) else "de "
        return f"Densité {of}{who.plural}"
    if words.kind == "potential":
        return f"Potentiel d'accès {_to_the(who, True)}{bracket}"
    return f"Accès {_to_the(who, True)}{bracket}"


def no_access_label(profession: str | None, catchment_minutes: float) -> str:
    """Legend entry of the communes with no practitioner within the catchment.

    >>> no_access_label("medecin_generaliste", 20)
    'aucun médecin à moins de 20 min'
    >>> no_access_label("sage_femme", 30.0)
    'aucune sage-femme à moins de 30 min'
    """
    from geo.maps.choropleth import format_fr

    who = profession_words(profession)
    minutes = float(catchment_minutes)
    decimals = 0 if minutes == round(minutes) else 1
    none = "aucune" if who.feminine else "aucun"
    return f"{none} {who.short_singular} à moins de {format_fr(minutes, decimals)} min"


def profession_of(attrs: Mapping[str, Any], status: Any = None) -> str | None:
    """Find the profession code of an analysis result in what it says about itself.

    In order: ``attrs["profession"]`` (set by the caller or the engine), the source of the
    practitioners ("médecins généralistes …", the embedded INSEE BPE GPs), an APL activity
    counted per GP (``parameters.activity.rule``), the status of the
    communes without a GP in reach ("aucun médecin à moins de …", which the engine writes only
    when every practitioner is a GP). ``None`` when nothing says it (words: "praticien").
    """
    code = attrs.get("profession")
    if isinstance(code, str) and code in PROFESSION_WORDS:
        return code
    source = str((attrs.get("sources") or {}).get("practitioners") or "").lower()
    if source.startswith("médecins généralistes"):
        return "medecin_generaliste"
    activity = (attrs.get("parameters") or {}).get("activity") or {}
    if activity.get("rule") in ("calibrated_per_gp", "given_per_gp"):  # an activity per GP
        return "medecin_generaliste"
    if status is not None:
        text = np.asarray(status, dtype=object).astype(str)
        if np.char.startswith(text, "aucun médecin ").any():
            return "medecin_generaliste"
    return None
