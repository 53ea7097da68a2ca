"""A small French landing page: the territories and links to their maps (real GPs).

``/cartes/<niveau>/<code>`` computes (once, then from the store) the map of a département or
an EPCI on the real GPs embedded in cartosoins (INSEE BPE), shows the progress while it runs,
then redirects to the map; ``?donnees=demo`` asks for the simulated practitioners instead,
which every page and map then says. These analyses are shareable: they hold no personal data.

The pages are anonymous: they are served only by public reference analyses (shareable, stored
under a key of their own), never by a user's private analysis of the same parameters, which
stays private whatever pages are visited (:meth:`api.services.Services.create_analysis`,
``anonymous=True``).
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import core
from api.deps import ServicesDep
from api.jobs import LimitExceeded
from api.limits import CallerDep
from api.schemas import AnalysisCreate, Measure, Profession, TerritorySelection
from geo.analysis import MEASURES
from geo.maps.choropleth import SYNTHETIC_LABEL
from geo.offer import load_gp_offer
from geo.reference import list_departements, list_epci

router = APIRouter(include_in_schema=False)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1a1a1a;
       padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; } td, th { padding: .25rem .5rem; }
tr:nth-child(even) { background: #f3f3f3; } th { text-align: left; border-bottom: 1px solid #999; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.synth { color: #b00020; font-weight: 600; } .muted { color: #555; }
progress { width: 20rem; height: 1.2rem; }
"""


def _page(
    title: str, body: str, *, refresh_s: int | None = None, status_code: int = 200
) -> Response:
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    html = (
        f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{refresh}'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status_code)


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


Data = Literal["reelles", "demo"]


def _map_links(level: str, code: str, data: Data = "reelles") -> str:
    suffix = "&amp;donnees=demo" if data == "demo" else ""
    return " · ".join(
        f'<a href="/cartes/{level}/{escape(code)}?mesure={m}{suffix}">{label}</a>'
        for m, label in (("apl", "APL"), ("nearest", "temps d'accès"), ("density", "densité"))
    )


def _uncovered(departement: str) -> bool:
    """Whether the embedded real GPs leave out the whole département (the DROM)."""
    return departement.startswith("97")


def _map_cell(level: str, code: str, departement: str) -> str:
    """Links to the maps: real GPs, or, where the source has none, labelled simulated ones."""
    if not _uncovered(departement):
        return _map_links(level, code)
    return (
        '<span class="muted">non couvert par la BPE</span> · '
        f'<span class="synth">{SYNTHETIC_LABEL}</span> : {_map_links(level, code, "demo")}'
    )


def _source_line() -> str:
    offer = load_gp_offer()
    return (
        f"<p>Source des praticiens : <strong>{escape(offer.source_label)}</strong>. Un médecin "
        "est placé à la mairie de sa commune ; Paris et les communes d'outre-mer, que la "
        "source ne couvre pas, sont signalés « non renseigné » sur les cartes.</p>"
    )


@router.get("/", response_class=HTMLResponse)
def landing() -> Response:
    """Départements by région, with their maps."""
    deps = list_departements().sort_values(["region_nom", "code"])
    parts = [
        "<h1>cartosoins — l'accès aux soins des communes françaises</h1>",
        "<p>Cartes de l'accessibilité aux médecins généralistes (APL, temps d'accès au "
        "praticien le plus proche, densité) pour chaque département et chaque EPCI, sur les "
        "médecins généralistes libéraux réels recensés par l'INSEE.</p>",
        _source_line(),
        '<p class="muted">Les départements d\'outre-mer, absents de cette source, ne sont '
        f'cartographiés qu\'avec des <span class="synth">{SYNTHETIC_LABEL}</span>, signalés '
        "comme tels.</p>",
        '<p class="muted">API : <a href="/docs">documentation interactive</a> · '
        '<a href="/redoc">référence</a> · <a href="/openapi.json">OpenAPI</a></p>',
    ]
    for region, group in deps.groupby("region_nom", sort=True):
        parts.append(f"<h2>{escape(str(region))}</h2><table>")
        parts.append("<tr><th>Département</th><th>Population 2023</th><th>Cartes</th></tr>")
        for code, nom, pop in zip(group["code"], group["nom"], group["population"], strict=True):
            parts.append(
                f'<tr><td><a href="/departements/{escape(code)}">{escape(nom)} ({escape(code)})'
                f'</a></td><td class="n">{_thousands(int(pop))}</td>'
                f"<td>{_map_cell('departement', code, code)}</td></tr>"
            )
        parts.append("</table>")
    return _page("cartosoins — accès aux soins", "".join(parts))


@router.get("/departements/{code}", response_class=HTMLResponse)
def departement_page(code: Annotated[str, Path(pattern=r"^[0-9A-Za-z]{1,3}$")]) -> Response:
    """List a département's EPCI, with their maps."""
    table = list_departements()
    row = table[table["code"] == code.upper().zfill(2 if code.isdigit() else 0)]
    if row.empty:
        body = f"<h1>Département inconnu</h1><p>Aucun département de code {escape(code)}.</p>"
        return _page(
            "Département inconnu", body + '<p><a href="/">Accueil</a></p>', status_code=404
        )
    dep = row.iloc[0]
    dep_code = str(dep["code"])
    epci = list_epci(dep_code).sort_values("nom")
    parts = [
        f'<p><a href="/">Accueil</a></p><h1>{escape(str(dep["nom"]))} ({escape(dep_code)})</h1>',
        f"<p>{_thousands(int(dep['population']))} habitants, {int(dep['communes'])} communes. "
        f"Cartes du département : {_map_cell('departement', dep_code, dep_code)}.</p>",
        _source_line(),
        f"<p>{escape(core.headcounts_sentence(core.departement_headcounts([dep_code])))}</p>",
        "<h2>Intercommunalités (EPCI)</h2><table>",
        "<tr><th>EPCI</th><th>Communes</th><th>Population 2023</th><th>Cartes</th></tr>",
    ]
    for siren, nom, n, pop in zip(
        epci["code"], epci["nom"], epci["communes"], epci["population"], strict=True
    ):
        parts.append(
            f'<tr><td>{escape(str(nom))}</td><td class="n">{int(n)}</td>'
            f'<td class="n">{_thousands(int(pop))}</td>'
            f"<td>{_map_cell('epci', str(siren), dep_code)}</td></tr>"
        )
    parts.append("</table>")
    return _page(f"{dep['nom']} — cartosoins", "".join(parts))


@router.get("/cartes/{level}/{code}", response_class=HTMLResponse)
def map_page(
    level: Literal["departement", "epci"],
    code: Annotated[str, Path(pattern=r"^[0-9A-Za-z]{1,9}$")],
    services: ServicesDep,
    caller: CallerDep,
    mesure: Annotated[Measure, Query()] = "apl",
    profession: Annotated[Profession, Query()] = "medecin_generaliste",
    donnees: Annotated[Data, Query()] = "reelles",
) -> Response:
    """Compute (once) the map of a territory, show its progress, then redirect to it.

    Real GPs by default; ``donnees=demo``, or a profession without real data, uses the
    simulated practitioners, and the pages and the map say so.
    """
    territory = (
        TerritorySelection(departements=[code])
        if level == "departement"
        else TerritorySelection(epci=[code])
    )
    request = AnalysisCreate(
        territory=territory,
        measure=mesure,
        profession=profession,
        dataset=core.DEMO_DATASET if donnees == "demo" else None,
        shareable=True,
    )
    # served only by public reference analyses; the job in the caller's lane (public, bounded,
    # for an anonymous visitor when a token is configured: 429 beyond the limits)
    try:
        record, job, _ = services.create_analysis(
            request, anonymous=True, lane=caller.lane, client=caller.client
        )
    except LimitExceeded as exc:  # a person reads this page: French HTML, same status
        body = (
            f"<h1>Trop de demandes</h1><p>{escape(str(exc.detail))}</p>"
            f"<p>La page se rechargera d'elle-même dans {exc.retry_after_s} s.</p>"
            '<p><a href="/">Accueil</a></p>'
        )
        page = _page("Trop de demandes", body, refresh_s=exc.retry_after_s, status_code=429)
        page.headers["Retry-After"] = str(exc.retry_after_s)
        return page
    if record.status == "done":
        return RedirectResponse(f"/maps/{record.id}.html", status_code=303)
    label = MEASURES[mesure].label_fr
    if record.status == "failed":
        body = (
            f"<h1>{escape(record.title)}</h1><p>Le calcul a échoué : {escape(record.error or '')}"
            '</p><p><a href="/">Accueil</a></p>'
        )
        return _page("Échec du calcul", body, status_code=503)
    job = job or services.job_of(record)
    progress = job.progress if job is not None else 0.0
    message = job.message if job is not None else "En attente…"
    source = (
        f'<span class="synth">{SYNTHETIC_LABEL}</span>'
        if record.synthetic
        else escape(core.practitioners_source(str(request.dataset)) or "")
    )
    body = (
        f"<h1>{escape(label)} — {escape(record.title)}</h1>"
        f'<p><progress max="1" value="{progress:.2f}"></progress> {escape(message)}</p>'
        f"<p>Praticiens : {source}.</p>"
        '<p class="muted">Calcul en cours ; la page se recharge toute seule et affichera la '
        "carte.</p>"
    )
    return _page(f"Calcul — {record.title}", body, refresh_s=2)
