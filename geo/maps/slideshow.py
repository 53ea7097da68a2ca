"""An offline slideshow of a territory: one self-contained HTML file for a meeting room.

Five slides: the APL map, the time to the nearest GP, a departure (or retirement) scenario at a
horizon, the best sites for a résidence, and key figures beside the département, the région and
France. Images are PNG data URIs, the styles and the script are inline: the file opens without
network, moves with the arrow keys or the space bar, and goes full screen with F or a button.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.analysis import AccessProblem, analyse, prepare
from geo.errors import DataValidationError, collect_data_warnings
from geo.maps.choropleth import SYNTHETIC_LABEL, format_fr
from geo.maps.compare import sites_for_map
from geo.maps.figures import PageSize, scenario_figure, titled_static_map
from geo.maps.static import static_map_bytes
from geo.offer import cnam_headcounts
from geo.reference import list_departements, load_communes
from geo.scenario import Scenario
from geo.siting import recommend_sites
from geo.territory import Territory

__all__ = [
    "APL_UNDER_SERVED",
    "NO_GP_MINUTES",
    "Slide",
    "departure_ids",
    "has_ages",
    "image_slide",
    "key_figures",
    "key_figures_slide",
    "save_slideshow",
    "slideshow_html",
    "territory_slideshow",
]

#: APL under which a commune is "zone sous-dense" (zonage médecins).
APL_UNDER_SERVED: Final = 2.5
#: Travel time beyond which a commune has "no GP within reach".
NO_GP_MINUTES: Final = 20.0
#: Slides are 1600 × 900 pixel images (16:9) at 120 dpi: 33,9 × 19,1 cm.
SLIDE_PAGE: Final = PageSize(1600 / 120 * 2.54, 900 / 120 * 2.54, 120.0)

_REMOTE = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)|(?:@import)""",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Slide:
    """One slide: a heading (for the counter and screen readers), HTML body, a note."""

    title: str
    body: str
    note: str = ""
    kind: str = "image"
    extra: dict[str, Any] = field(default_factory=dict)


def image_slide(title: str, png: bytes, alt: str, note: str = "") -> Slide:
    """Build a slide showing a PNG image (inlined as a data URI).

    Parameters
    ----------
    title : str
        Name of the slide (the image carries its own title).
    png : bytes
        The image.
    alt : str
        Text alternative.
    note : str
        Line under the image (caveats, hypotheses).

    Returns
    -------
    Slide
        The slide.
    """
    if not png.startswith(b"\x89PNG"):
        raise DataValidationError(f"diapositive « {title} » : l'image n'est pas un PNG")
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    body = f'<img src="{uri}" alt="{html.escape(alt)}">'
    return Slide(title, body, note)


def _page_html(title: str, slides: Sequence[Slide]) -> str:
    sections = []
    for i, slide in enumerate(slides, start=1):
        note = f'<p class="note">{html.escape(slide.note)}</p>' if slide.note else ""
        sections.append(
            f'<section class="diapo diapo-{html.escape(slide.kind)}" id="diapo-{i}" '
            f'aria-roledescription="diapositive" aria-label="{i} sur {len(slides)} : '
            f'{html.escape(slide.title)}"{"" if i == 1 else " hidden"}>'
            f'<div class="contenu">{slide.body}</div>{note}</section>'
        )
    return _TEMPLATE.format(
        title=html.escape(title),
        css=_CSS,
        sections="\n".join(sections),
        count=len(slides),
        script=_SCRIPT,
    )


def slideshow_html(slides: Sequence[Slide], title: str) -> str:
    """Assemble slides into one self-contained HTML page.

    Parameters
    ----------
    slides : sequence of Slide
        In order.
    title : str
        Page title.

    Returns
    -------
    str
        The page: no remote script, style, image or font.

    Raises
    ------
    DataValidationError
        If there is no slide or something would load from the network.
    """
    if not slides:
        raise DataValidationError("diaporama : aucune diapositive")
    page = _page_html(title, slides)
    found = _REMOTE.search(page)
    if found:
        raise DataValidationError(
            f"diaporama : une ressource distante ({found.group(0)!r}) empêcherait "
            "l'ouverture hors ligne"
        )
    return page


def save_slideshow(page: str, path: str | Path) -> Path:
    """Write a page of :func:`slideshow_html` (UTF-8) and return its path."""
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


# --- Key figures -----------------------------------------------------------------------------


def _scopes(territory: Territory) -> list[tuple[str, pd.Series]]:
    """Column name and commune codes of the territory, its département(s), région(s), France."""
    deps = list_departements().set_index("code")
    codes = territory.communes["code"].astype(str)
    dep_codes = sorted(set(territory.communes["departement"].astype(str)))
    regions = sorted(set(deps.loc[dep_codes, "region"].astype(str)))
    reference = load_communes()
    ref_dep = reference["departement"].astype(str)
    zone = ref_dep.map(deps["zone"])
    reg_of = ref_dep.map(deps["region"].astype(str))

    def named(kind: str, names: list[str]) -> str:
        return f"{kind} : {', '.join(names)}" if len(names) < 3 else f"{kind} ({len(names)})"

    dep_names = [f"{deps.at[d, 'nom']!s} ({d})" for d in dep_codes]
    reg_names = sorted({str(deps.loc[deps["region"] == r, "region_nom"].iat[0]) for r in regions})
    return [
        (territory.name, codes),
        (named("Département", dep_names), reference.loc[ref_dep.isin(dep_codes), "code"]),
        (named("Région", reg_names), reference.loc[reg_of.isin(regions), "code"]),
        ("France métropolitaine", reference.loc[zone == "metro", "code"]),
    ]


def _cnam_total(dep_codes: Sequence[str], whole: bool) -> float:
    if not whole:
        return math.nan
    table = cnam_headcounts().set_index("departement")["medecins_generalistes_2024"]
    present = [d for d in dep_codes if d in table.index]
    return float(table.loc[present].sum()) if len(present) == len(dep_codes) else math.nan


def key_figures(
    territory: Territory, national: gpd.GeoDataFrame, practitioners: pd.DataFrame
) -> pd.DataFrame:
    """Key figures of a territory beside its département, its région and France métropolitaine.

    Every column is computed the same way from one national APL result, so the columns compare.

    Parameters
    ----------
    territory : Territory
        The territory.
    national : geopandas.GeoDataFrame
        APL of every commune of France (:func:`geo.analysis.analyse` on all communes): ``code``,
        ``population``, ``value``, ``nearest_minutes``, ``status``.
    practitioners : DataFrame
        The practitioners (one row each, ``commune`` code).

    Returns
    -------
    pandas.DataFrame
        One row per figure (index in French), one column per scope, numbers (NaN: not known).
    """
    missing = [c for c in ("code", "population", "value", "nearest_minutes") if c not in national]
    if missing:
        raise DataValidationError(f"résultat national : colonne(s) absente(s) {missing}")
    table = national.set_index(national["code"].astype(str))
    per_commune = practitioners["commune"].astype(str).value_counts()
    deps = list_departements().set_index("code")
    columns: dict[str, list[float]] = {}
    for name, codes in _scopes(territory):
        rows = table.reindex(pd.Index(codes.astype(str)))
        pop = pd.to_numeric(rows["population"], errors="coerce").fillna(0.0).to_numpy()
        value = pd.to_numeric(rows["value"], errors="coerce").to_numpy(dtype="float64")
        minutes = pd.to_numeric(rows["nearest_minutes"], errors="coerce").to_numpy(dtype="float64")
        known = np.isfinite(value)
        covered = float(pop[known].sum())
        gps = float(per_commune.reindex(codes.astype(str)).fillna(0).sum())
        communes_of = rows["departement"].astype(str) if "departement" in rows else None
        dep_codes = sorted(set(communes_of.dropna())) if communes_of is not None else []
        whole = bool(dep_codes) and int(deps.loc[dep_codes, "communes"].sum()) == len(codes)
        columns[name] = [
            float(pop.sum()),
            gps,
            gps / float(pop.sum()) * 10_000 if pop.sum() > 0 else math.nan,
            float(np.average(value[known], weights=pop[known])) if covered > 0 else math.nan,
            float(pop[known & (value < APL_UNDER_SERVED)].sum()) / covered * 100
            if covered > 0
            else math.nan,
            float(pop[known & ~(minutes <= NO_GP_MINUTES)].sum()) / covered * 100
            if covered > 0
            else math.nan,
            _cnam_total(dep_codes, whole),
        ]
    return pd.DataFrame(columns, index=pd.Index(_FIGURES, name="indicateur"))


_FIGURES: Final = (
    "Population (2023)",
    "Médecins généralistes (INSEE BPE)",
    "Médecins généralistes pour 10\u202f000 habitants",
    "APL moyenne (pondérée par la population)",
    f"Part de la population en zone sous-dense (APL < {format_fr(APL_UNDER_SERVED, 1)})",
    f"Part de la population sans médecin à moins de {format_fr(NO_GP_MINUTES, 0)} min",
    "Médecins généralistes selon la CNAM (2024)",
)
_DECIMALS: Final = (0, 0, 1, 2, 1, 1, 0)
_PERCENT: Final = (False, False, False, False, True, True, False)


def key_figures_slide(figures: pd.DataFrame, title: str, note: str = "") -> Slide:
    """Build the slide of :func:`key_figures`: a table, numbers in French format.

    Parameters
    ----------
    figures : pandas.DataFrame
        Output of :func:`key_figures`.
    title : str
        Heading of the slide.
    note : str
        Line under the table (sources, caveats).

    Returns
    -------
    Slide
        The slide.
    """
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in figures.columns)
    rows = []
    for i, label in enumerate(figures.index):
        values = figures.iloc[i]
        decimals = _DECIMALS[i] if i < len(_DECIMALS) else 1
        percent = _PERCENT[i] if i < len(_PERCENT) else False
        cells = "".join(
            "<td>"
            + (
                "—"
                if not np.isfinite(v)
                else format_fr(float(v), decimals) + ("\u202f%" if percent else "")
            )
            + "</td>"
            for v in values.to_numpy(dtype="float64")
        )
        rows.append(f'<tr><th scope="row">{html.escape(str(label))}</th>{cells}</tr>')
    body = (
        f"<h2>{html.escape(title)}</h2>"
        f'<table class="chiffres"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return Slide(title, body, note, kind="chiffres")


# --- Scenario without ages -------------------------------------------------------------------


def has_ages(practitioners: pd.DataFrame) -> bool:
    """Whether the practitioners carry an age or a birth year (retirements can be simulated)."""
    for column in ("age", "birth_year"):
        if (
            column in practitioners.columns
            and pd.to_numeric(practitioners[column], errors="coerce").notna().any()
        ):
            return True
    return False


def departure_ids(
    practitioners: pd.DataFrame, communes: Sequence[str], share: float, seed: int = 0
) -> list[str]:
    """Draw the practitioners of a departure scenario: ``share`` of those of the territory.

    The fallback of a retirement scenario when the data have no ages (INSEE BPE): a stated
    hypothesis, drawn at random with ``seed`` so that the same call gives the same departures.

    Parameters
    ----------
    practitioners : DataFrame
        ``id`` and ``commune`` columns.
    communes : sequence of str
        Commune codes of the territory.
    share : float
        Share of the territory's practitioners who leave, in (0, 1].
    seed : int
        Seed of the draw.

    Returns
    -------
    list of str
        Identifiers of the leaving practitioners (never shown on a map).
    """
    if not (isinstance(share, int | float) and 0 < share <= 1):
        raise DataValidationError(
            f"part des départs : un nombre entre 0 et 1 attendu, reçu {share!r}"
        )
    inside = practitioners.loc[
        practitioners["commune"].astype(str).isin([str(c) for c in communes]), "id"
    ].astype(str)
    ids = np.sort(inside.to_numpy(dtype=str))
    n = round(share * ids.size)
    if n == 0:
        return []
    chosen = np.random.default_rng(seed).choice(ids.size, size=n, replace=False)
    return [str(v) for v in ids[np.sort(chosen)]]


def _plural(n: int, one: str, many: str) -> str:
    return f"{format_fr(n, 0)} {one if n == 1 else many}"


# --- The territory's slideshow ---------------------------------------------------------------


def territory_slideshow(
    territory: Territory,
    practitioners: gpd.GeoDataFrame,
    *,
    problem: AccessProblem | None = None,
    horizon_year: int = 2030,
    departure_share: float = 0.25,
    sites: int = 3,
    practitioners_per_site: int = 2,
    seed: int = 0,
    national: gpd.GeoDataFrame | None = None,
    page: PageSize = SLIDE_PAGE,
) -> str:
    """Build the five-slide offline presentation of a territory's access to GPs.

    1. APL per commune; 2. time to the nearest GP; 3. before / after of the retirements by
    ``horizon_year`` when the practitioners have ages, else of a stated departure hypothesis
    (``departure_share`` of the territory's GPs, drawn with ``seed``; the slide says so);
    4. the ``sites`` best communes for a résidence of ``practitioners_per_site`` GPs (objective:
    population lifted out of the "zone sous-dense"), as ``cartosoins site``; 5. key figures
    beside the département, the région and France métropolitaine.

    Parameters
    ----------
    territory : Territory
        The territory.
    practitioners : geopandas.GeoDataFrame
        All practitioners (those beyond the border count): the embedded GPs, the simulated ones
        or a file.
    problem : AccessProblem, optional
        The prepared APL problem of the territory (default: :func:`geo.analysis.prepare`).
    horizon_year : int
        Horizon of the scenario.
    departure_share : float
        Share of the territory's GPs who leave when ages are unknown.
    sites, practitioners_per_site : int
        The résidence: number of sites and GPs each.
    seed : int
        Seed of the departure draw.
    national : geopandas.GeoDataFrame, optional
        APL of every commune of France métropolitaine and of the territory's région(s)
        (computed when not given).
    page : PageSize
        Size of the images.

    Returns
    -------
    str
        The self-contained HTML page.
    """
    if not isinstance(horizon_year, int) or not 2000 <= horizon_year <= 2100:
        raise DataValidationError(f"horizon : une année entre 2000 et 2100, reçu {horizon_year!r}")
    if not isinstance(sites, int) or sites < 1:
        raise DataValidationError(f"nombre de sites : un entier ≥ 1 attendu, reçu {sites!r}")
    if problem is None:
        problem = prepare(territory, practitioners, "apl")
    name = territory.name
    slides: list[Slide] = []
    apl = problem.result()
    synthetic = bool(apl.attrs.get("synthetic"))
    flag = f" — {SYNTHETIC_LABEL}" if synthetic else ""

    def png(fig: Any) -> bytes:
        return static_map_bytes(fig, "png")

    slides.append(
        image_slide(
            "Accès aux médecins généralistes (APL)",
            png(titled_static_map(apl, name, page=page)),
            f"Carte de l'accessibilité potentielle localisée aux médecins généralistes, {name}",
            "APL : consultations accessibles par an et par habitant ; sous 2,5 : zone "
            f"sous-dense.{flag}",
        )
    )
    nearest = analyse(territory, practitioners, "nearest")
    slides.append(
        image_slide(
            "Temps jusqu'au médecin le plus proche",
            png(
                titled_static_map(
                    nearest,
                    name,
                    title=f"Temps d'accès au médecin généraliste le plus proche — {name}",
                    page=page,
                )
            ),
            f"Carte du temps de trajet jusqu'au médecin généraliste le plus proche, {name}",
            "Temps en voiture estimés depuis la mairie de chaque commune (modèle en ligne "
            f"droite ajusté sur des temps routiers).{flag}",
        )
    )
    pracs = practitioners
    if has_ages(pracs):
        scenario = Scenario().retire(horizon_year=horizon_year)
        hypothesis = f"Départs à la retraite d'ici {horizon_year} (âge de 67 ans)"
        note = "Âges des praticiens lus dans les données."
    else:
        ids = departure_ids(pracs, territory.communes["code"], departure_share, seed)
        if not ids:
            raise DataValidationError(
                f"{name} : aucun médecin dans le territoire, pas de scénario de départs"
            )
        inside = int(pracs["commune"].astype(str).isin(territory.communes["code"]).sum())
        scenario = Scenario().remove_practitioners(ids)
        hypothesis = (
            f"Hypothèse : {_plural(len(ids), 'médecin part', 'médecins partent')} d'ici "
            f"{horizon_year} ({format_fr(departure_share * 100, 0)}\u202f% des {inside})"
        )
        note = (
            "Les données (INSEE BPE) ne donnent pas l'âge des médecins : ce n'est pas une "
            f"projection des retraites mais un scénario de départs d'ici {horizon_year} — "
            f"{format_fr(departure_share * 100, 0)}\u202f% des médecins du territoire, tirés au "
            f"sort (graine {seed}). Avec un fichier d'âges (RPPS), les départs à la retraite "
            "sont calculés."
        )
    with collect_data_warnings():  # nothing to print from here: the slide states the hypothesis
        outcome = scenario.apply(problem)
    after = outcome.summary
    note += (
        f" Population en zone sous-dense : {format_fr(after['population_in_gap_before'], 0)} → "
        f"{format_fr(after['population_in_gap_after'], 0)} habitants.{flag}"
    )
    slides.append(
        image_slide(
            f"Scénario à l'horizon {horizon_year}",
            png(
                scenario_figure(
                    outcome.communes,
                    name,
                    scenario=hypothesis,
                    after_label=f"Après ({horizon_year})",
                    title=f"Accès aux médecins généralistes (APL) — {name} : {horizon_year}",
                    page=page,
                )
            ),
            f"Deux cartes de l'APL, avant et après le scénario à l'horizon {horizon_year}",
            note,
        )
    )
    with collect_data_warnings() as caught:
        found = recommend_sites(problem, sites, practitioners_per_site, "gap_population")
    ties = " Des sites ont le même gain : départagés par la population." if caught else ""
    drawn = sites_for_map(found.sites, gain_label=found.objective_label_fr)
    drawn["nom"] = found.sites["nom"].astype(str).to_numpy()
    residence = (
        f"{_plural(sites, 'site', 'sites')} de "
        f"{_plural(practitioners_per_site, 'médecin', 'médecins')}"
    )
    gains = " ; ".join(
        f"{int(r)}. {nom} : +{format_fr(float(g), 0)}"
        for r, nom, g in zip(
            found.sites["rank"], found.sites["nom"], found.sites["marginal_gain"], strict=True
        )
    )
    slides.append(
        image_slide(
            "Où installer une résidence de médecins",
            png(
                scenario_figure(
                    found.scenario.communes,
                    name,
                    scenario=f"Résidence : {residence}, aux meilleurs sites",
                    after_label="Avec la résidence",
                    sites=drawn,
                    title=f"Où installer une résidence de médecins — {name}",
                    page=page,
                )
            ),
            f"Carte de l'APL avant et après une résidence de {residence}, sites numérotés",
            f"Objectif : {found.objective_label_fr} (gain de chaque site : {gains}).{ties}{flag}",
        )
    )
    if national is None:  # France métropolitaine, and the région(s) of an overseas territory
        deps = list_departements()
        regions = deps.loc[deps["code"].isin(territory.communes["departement"]), "region"]
        wanted = deps.loc[(deps["zone"] == "metro") | deps["region"].isin(regions), "code"]
        everyone = Territory(load_communes(departements=list(wanted)), "France", "france")
        national = analyse(everyone, practitioners, "apl")
    figures = key_figures(territory, national, practitioners)
    slides.append(
        key_figures_slide(
            figures,
            f"Chiffres clés — {name}",
            "Population municipale 2023 (INSEE) ; médecins : "
            + str((apl.attrs.get("sources") or {}).get("practitioners", "données fournies"))
            + " ; APL calculée une fois pour toute la France (mêmes paramètres partout) ; "
            "CNAM : effectifs 2024 par département (— si le territoire n'est pas fait de "
            f"départements entiers).{flag}",
        )
    )
    return slideshow_html(slides, f"Accès aux médecins généralistes — {name}")


# --- Page ------------------------------------------------------------------------------------

_TEMPLATE: Final = """<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main id="diapos" aria-label="{title}">
{sections}
</main>
<nav class="barre" aria-label="Navigation du diaporama">
<button type="button" id="precedent" aria-label="Diapositive précédente">&#8592;</button>
<span id="compteur" aria-live="polite">1 / {count}</span>
<button type="button" id="suivant" aria-label="Diapositive suivante">&#8594;</button>
<button type="button" id="plein-ecran" aria-label="Plein écran">Plein écran (F)</button>
<span class="aide">← → ou espace pour changer de diapositive</span>
</nav>
<script>{script}</script>
</body>
</html>
"""

_CSS: Final = """
*{box-sizing:border-box}
html,body{margin:0;height:100%;background:#fff;color:#1a1a1a;
 font-family:"DejaVu Sans",system-ui,sans-serif;overflow:hidden}
main{position:absolute;inset:0 0 2.6rem 0}
.diapo{position:absolute;inset:0;display:flex;flex-direction:column;align-items:center;
 justify-content:center;padding:.5rem 1rem}
.diapo[hidden]{display:none}
.contenu{flex:1 1 auto;min-height:0;width:100%;display:flex;flex-direction:column;
 align-items:center;justify-content:center}
.contenu img{max-width:100%;max-height:100%;object-fit:contain;display:block}
.note{flex:0 0 auto;margin:.3rem 0 0;max-width:75rem;font-size:clamp(11px,1.5vh,17px);
 line-height:1.35;color:#4d4d4d;text-align:center}
.diapo-chiffres h2{font-size:clamp(18px,4vh,44px);margin:0 0 2vh;text-align:center}
table.chiffres{border-collapse:collapse;font-size:clamp(11px,2.2vh,26px);max-width:100%}
table.chiffres th,table.chiffres td{padding:.45em .8em;border-bottom:1px solid #ccc}
table.chiffres td{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.chiffres thead th{text-align:right;vertical-align:bottom;font-size:.85em;max-width:14em}
table.chiffres tbody th{text-align:left;font-weight:normal;max-width:22em}
table.chiffres td:nth-child(2),table.chiffres thead th:nth-child(2){background:#fff3e0;
 font-weight:bold}
.barre{position:fixed;left:0;right:0;bottom:0;height:2.6rem;display:flex;align-items:center;
 gap:.6rem;padding:0 .8rem;background:#f2f2f2;border-top:1px solid #ccc;font-size:14px}
.barre button{font:inherit;padding:.2rem .7rem;border:1px solid #888;border-radius:4px;
 background:#fff;cursor:pointer}
.barre button:focus-visible{outline:3px solid #1f78b4}
.aide{margin-left:auto;color:#4d4d4d}
:fullscreen main{inset:0 0 2.6rem 0}
@media print{.barre{display:none}main{position:static}.diapo,.diapo[hidden]{display:flex;
 position:static;page-break-after:always;height:100vh}}
@media (max-width:700px){.aide{display:none}}
"""

_SCRIPT: Final = """
(function () {
  const slides = Array.from(document.querySelectorAll('.diapo'));
  const counter = document.getElementById('compteur');
  let current = 0;
  function show(n) {
    current = Math.max(0, Math.min(slides.length - 1, n));
    slides.forEach((s, k) => { s.hidden = k !== current; });
    counter.textContent = (current + 1) + ' / ' + slides.length;
    if (history.replaceState) { history.replaceState(null, '', '#' + (current + 1)); }
  }
  function fullScreen() {
    if (document.fullscreenElement) { document.exitFullscreen(); }
    else if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(() => {});
    }
  }
  document.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) { return; }
    const onButton = e.target && e.target.tagName === 'BUTTON';
    if ((e.key === ' ' || e.key === 'Enter') && onButton) { return; }
    if (['ArrowRight', 'ArrowDown', 'PageDown', ' ', 'Enter'].includes(e.key)) {
      show(current + 1); e.preventDefault();
    } else if (['ArrowLeft', 'ArrowUp', 'PageUp', 'Backspace'].includes(e.key)) {
      show(current - 1); e.preventDefault();
    } else if (e.key === 'Home') { show(0); e.preventDefault(); }
    else if (e.key === 'End') { show(slides.length - 1); e.preventDefault(); }
    else if (e.key === 'f' || e.key === 'F') { fullScreen(); e.preventDefault(); }
  });
  document.getElementById('precedent').addEventListener('click', () => show(current - 1));
  document.getElementById('suivant').addEventListener('click', () => show(current + 1));
  document.getElementById('plein-ecran').addEventListener('click', fullScreen);
  const start = parseInt((location.hash || '#1').slice(1), 10);
  show(Number.isFinite(start) ? start - 1 : 0);
})();
"""
