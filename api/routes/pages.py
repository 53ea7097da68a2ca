"""A small French landing page: the territories and links to their maps (simulated data).

``/cartes/<niveau>/<code>`` computes (once, then from the store) the map of a département or
an EPCI on the simulated practitioners, shows the progress while it runs, then redirects to
the map. These demo analyses are shareable: they hold no personal data.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import ServicesDep
from api.schemas import AnalysisCreate, Measure, Profession, TerritorySelection
from geo.analysis import MEASURES
from geo.maps.choropleth import SYNTHETIC_LABEL
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


def _map_links(level: str, code: str) -> str:
    return " · ".join(
        f'<a href="/cartes/{level}/{escape(code)}?mesure={m}">{label}</a>'
        for m, label in (("apl", "APL"), ("nearest", "temps d'accès"), ("density", "densité"))
    )


@router.get("/", response_class=HTMLResponse)
def landing() -> Response:
    """Départements by région, with their maps."""
    deps = list_departements().sort_values(["region_nom", "code"])
    parts = [
        "<h1>cartosoins — l'accès aux soins des communes françaises</h1>",
        "<p>Cartes de l'accessibilité aux médecins généralistes (APL, temps d'accès au "
        "praticien le plus proche, densité) pour chaque département et chaque EPCI. "
        f'Les cartes de cette page utilisent des <span class="synth">{SYNTHETIC_LABEL}</span>'
        " : elles illustrent la méthode, pas la situation réelle d'un territoire.</p>",
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
                f"<td>{_map_links('departement', code)}</td></tr>"
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
    epci = list_epci(str(dep["code"])).sort_values("nom")
    parts = [
        f'<p><a href="/">Accueil</a></p><h1>{escape(str(dep["nom"]))} ({escape(str(dep["code"]))})'
        "</h1>",
        f"<p>{_thousands(int(dep['population']))} habitants, {int(dep['communes'])} communes. "
        f"Cartes du département : {_map_links('departement', str(dep['code']))}.</p>",
        f'<p class="synth">{SYNTHETIC_LABEL}</p>',
        "<h2>Intercommunalités (EPCI)</h2><table>",
        "<tr><th>EPCI</th><th>Communes</th><th>Population 2023</th><th>Cartes</th></tr>",
    ]
    for siren, nom, n, pop in zip(
        epci["code"], epci["nom"], epci["communes"], epci["population"], strict=True
    ):
        parts.append(
            f'<tr><td>{escape(str(nom))}</td><td class="n">{int(n)}</td>'
            f'<td class="n">{_thousands(int(pop))}</td>'
            f"<td>{_map_links('epci', str(siren))}</td></tr>"
        )
    parts.append("</table>")
    return _page(f"{dep['nom']} — cartosoins", "".join(parts))


@router.get("/cartes/{level}/{code}", response_class=HTMLResponse)
def map_page(
    level: Literal["departement", "epci"],
    code: Annotated[str, Path(pattern=r"^[0-9A-Za-z]{1,9}$")],
    services: ServicesDep,
    mesure: Annotated[Measure, Query()] = "apl",
    profession: Annotated[Profession, Query()] = "medecin_generaliste",
) -> Response:
    """Compute (once) the demo map of a territory, show its progress, then redirect to it."""
    territory = (
        TerritorySelection(departements=[code])
        if level == "departement"
        else TerritorySelection(epci=[code])
    )
    request = AnalysisCreate(
        territory=territory, measure=mesure, profession=profession, shareable=True
    )
    record, job, _ = services.create_analysis(request)
    if record.status == "done":
        return RedirectResponse(f"/maps/{record.id}.html", status_code=303)
    label = MEASURES[mesure].label_fr
    if record.status == "failed":
        body = (
            f"<h1>{escape(record.title)}</h1><p>Le calcul a échoué : {escape(record.error or '')}"
            '</p><p><a href="/">Accueil</a></p>'
        )
        return _page("Échec du calcul", body, status_code=500)
    job = job or services.job_of(record)
    progress = job.progress if job is not None else 0.0
    message = job.message if job is not None else "En attente…"
    body = (
        f"<h1>{escape(label)} — {escape(record.title)}</h1>"
        f'<p><progress max="1" value="{progress:.2f}"></progress> {escape(message)}</p>'
        f'<p class="muted">Calcul en cours sur des {SYNTHETIC_LABEL} ; la page se recharge '
        "toute seule et affichera la carte.</p>"
    )
    return _page(f"Calcul — {record.title}", body, refresh_s=2)
