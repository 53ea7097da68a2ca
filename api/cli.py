"""The ``cartosoins`` command line: maps and tables of a territory's health-care offer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from geo import demo
from geo.density import density, practitioners_per_commune
from geo.errors import CartosoinsError
from geo.maps.choropleth import SYNTHETIC_LABEL, ChoroplethSpec, choropleth_map
from geo.maps.offline import save_offline_html
from geo.reference import REFERENCE_SOURCES, list_departements, list_epci
from geo.territory import resolve_territory

app = typer.Typer(
    name="cartosoins",
    help="Health-care offer and accessibility of French territories.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

#: Plural French labels of the professions, for titles.
PLURAL_LABELS = {
    "medecin_generaliste": "Médecins généralistes",
    "infirmier": "Infirmiers",
    "masseur_kinesitherapeute": "Masseurs-kinésithérapeutes",
    "chirurgien_dentiste": "Chirurgiens-dentistes",
    "sage_femme": "Sages-femmes",
}

#: Density classes (GPs per 10,000 inhabitants) around the national 8.5.
DENSITY_BREAKS = (0.0, 4.0, 7.0, 10.0, 15.0)


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[bold red]Erreur :[/] {exc}")
    return typer.Exit(code=2)


@app.command("map")
def map_command(
    departement: Annotated[
        list[str] | None, typer.Option("--departement", "-d", help="Département code(s).")
    ] = None,
    epci: Annotated[list[str] | None, typer.Option(help="EPCI SIREN code(s).")] = None,
    commune: Annotated[list[str] | None, typer.Option(help="Commune INSEE code(s).")] = None,
    profession: Annotated[
        str, typer.Option(help=f"Profession: {', '.join(demo.PROFESSIONS)}.")
    ] = "medecin_generaliste",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic practitioners.")] = 0,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out"),
    tiles: Annotated[bool, typer.Option(help="OpenStreetMap background (needs internet).")] = False,
) -> None:
    """Map the practitioner density of a territory (demo data: simulated practitioners)."""
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("Chargement du territoire…", total=4)
            territory = resolve_territory(departement, epci, commune)
            progress.update(task, advance=1, description="Praticiens simulés…")
            practitioners = demo.generate_practitioners(
                territory.communes, seed=seed, professions=[profession]
            )
            progress.update(task, advance=1, description="Densité par commune…")
            counts = practitioners_per_commune(practitioners, territory.communes)
            table = density(territory.communes, counts)
            communes = territory.communes.join(table[["practitioners", "density"]], on="code")
            progress.update(task, advance=1, description="Carte…")
            label = PLURAL_LABELS.get(profession, demo.PROFESSIONS[profession].label)
            fmap = choropleth_map(
                communes,
                ChoroplethSpec(
                    column="density",
                    title=f"{label} pour 10 000 habitants — {territory.name}",
                    label=f"{label} pour 10 000 hab.",
                    unit="praticiens pour 10 000 habitants (population 2023)",
                    scheme="fixed",
                    breaks=DENSITY_BREAKS,
                    sources=[
                        "IGN ADMIN EXPRESS-COG",
                        "INSEE COG 2026, population municipale 2023",
                        "Licence Ouverte",
                    ],
                    synthetic=True,
                    no_data_label="sans objet (commune sans population)",
                ),
                tooltip_fields={
                    "population": "Population 2023",
                    "practitioners": f"{label} (simulés)",
                    "density": "Densité pour 10 000 hab.",
                },
                points=_aggregate_points(communes, label),
                points_label=f"{label} (simulés, par commune)",
            )
            out.mkdir(parents=True, exist_ok=True)
            html_path = out / f"carte_densite_{territory.slug}.html"
            save_offline_html(fmap, html_path)
            csv_path = out / f"densite_{territory.slug}.csv"
            communes.drop(columns=["geometry", "chef_lieu"]).to_csv(csv_path, index=False)
            summary = {
                "territory": territory.name,
                "communes": len(communes),
                "population": territory.population,
                "profession": profession,
                "practitioners": int(counts.sum()),
                "density_per_10000": round(float(counts.sum()) * 1e4 / territory.population, 2),
                "communes_without_practitioner": int((communes["practitioners"] == 0).sum()),
                "synthetic": True,
                "label": SYNTHETIC_LABEL,
                "seed": seed,
                "sources": REFERENCE_SOURCES,
            }
            json_path = out / f"resume_{territory.slug}.json"
            json_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2), "utf-8")
            progress.update(task, advance=1, description="Terminé")
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    console.print(
        f"[bold]{territory.name}[/] : {summary['practitioners']} {label.lower()} "
        f"({SYNTHETIC_LABEL}), {summary['density_per_10000']} pour 10 000 habitants."
    )
    for path in (html_path, csv_path, json_path):
        console.print(f"  écrit : {path}")


def _aggregate_points(communes: pd.DataFrame, label: str) -> pd.DataFrame:
    located = communes[(communes["practitioners"] > 0) & communes["chef_lieu"].notna()]
    points = located["chef_lieu"]
    counts = located["practitioners"].astype(int)
    return pd.DataFrame(
        {
            "lon": points.x.to_numpy(),
            "lat": points.y.to_numpy(),
            "count": counts.to_numpy(),
            "label": [
                f"{nom} : {n} {label.lower()} (simulés)"
                for nom, n in zip(located["nom"], counts, strict=True)
            ],
        }
    )


@app.command("reference")
def reference_command(
    departement: Annotated[
        str | None, typer.Option("--departement", "-d", help="List this département's EPCI.")
    ] = None,
) -> None:
    """List départements, or the EPCI of a département."""
    try:
        if departement is None:
            frame = list_departements()[["code", "nom", "region_nom", "communes", "population"]]
            title = "Départements (population municipale 2023)"
        else:
            frame = list_epci(departement)[["code", "nom", "type", "communes", "population"]]
            title = f"EPCI du département {departement}"
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(str(col), justify="right" if frame[col].dtype.kind in "iu" else "left")
    for row in frame.astype(str).itertuples(index=False):
        table.add_row(*row)
    console.print(table)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
