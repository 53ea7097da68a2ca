"""The ``cartosoins`` command line: maps and tables of a territory's health-care offer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from geo import demo
from geo.analysis import MEASURES, analyse
from geo.errors import CartosoinsError, DataValidationError
from geo.maps.choropleth import SYNTHETIC_LABEL, analysis_map, individual_points_of
from geo.maps.offline import save_offline_html
from geo.maps.static import analysis_static_map, save_static_map
from geo.reference import list_departements, list_epci, load_communes
from geo.territory import Territory, resolve_territory

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
    measure: Annotated[str, typer.Option(help=f"Measure: {', '.join(MEASURES)}.")] = "density",
    profession: Annotated[
        str, typer.Option(help=f"Profession: {', '.join(demo.PROFESSIONS)}.")
    ] = "medecin_generaliste",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic practitioners.")] = 0,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out"),
    tiles: Annotated[bool, typer.Option(help="OpenStreetMap background (needs internet).")] = False,
    png: Annotated[
        bool, typer.Option(help="Also write a PNG for slides (25×18 cm, 200 dpi).")
    ] = True,
    individual: Annotated[
        bool, typer.Option(help="Add one clustered marker per practitioner (no names).")
    ] = False,
) -> None:
    """Map a measure for a territory on the demo data (simulated practitioners)."""
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("Chargement du territoire…", total=4)
            territory = resolve_territory(departement, epci, commune)
            progress.update(task, advance=1, description="Praticiens simulés…")
            if profession not in demo.PROFESSIONS:
                raise DataValidationError(
                    f"profession {profession!r} is not one of {', '.join(demo.PROFESSIONS)}"
                )
            # the whole country's simulated practitioners: those across the border count too
            practitioners = demo.generate_practitioners(
                load_communes(), seed=seed, professions=[profession]
            )
            progress.update(task, advance=1, description="Calcul de l'indicateur…")
            result = analyse(territory, practitioners, measure)
            progress.update(task, advance=1, description="Carte…")
            label = PLURAL_LABELS.get(profession, demo.PROFESSIONS[profession].label)
            points = _aggregate_points(result, territory.communes, label)
            fmap = analysis_map(
                result,
                territory.name,
                points=points,
                points_label=f"{label} (simulés, par commune)",
                tiles=tiles,
                individual_points=(
                    individual_points_of(_in_territory(practitioners, territory))
                    if individual
                    else None
                ),
            )
            out.mkdir(parents=True, exist_ok=True)
            stem = f"{measure}_{territory.slug}"
            html_path = out / f"carte_{stem}.html"
            save_offline_html(fmap, html_path, allow_remote_tiles=tiles)
            written = [html_path]
            if png:
                png_path = out / f"carte_{stem}.png"
                save_static_map(
                    analysis_static_map(
                        result,
                        territory.name,
                        points=points,
                        points_label=f"{label} (simulés)",
                    ),
                    png_path,
                )
                written.append(png_path)
            csv_path = out / f"communes_{stem}.csv"
            table = pd.DataFrame(result.drop(columns=result.geometry.name))
            table.insert(0, "source_praticiens", SYNTHETIC_LABEL)
            table.to_csv(csv_path, index=False)
            summary = {
                "territory": territory.name,
                "communes": len(result),
                "population": territory.population,
                "profession": profession,
                "practitioners_in_territory": int(result["practitioners"].sum()),
                **{k: v for k, v in result.attrs.items() if k != "timings_s"},
                "seed": seed,
            }
            json_path = out / f"resume_{stem}.json"
            json_path.write_text(
                json.dumps(summary, ensure_ascii=False, indent=2, default=str), "utf-8"
            )
            progress.update(task, advance=1, description="Terminé")
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    mean = result.attrs["summary"]["population_weighted_mean"]
    console.print(
        f"[bold]{territory.name}[/] — {result.attrs['label_fr']} ({SYNTHETIC_LABEL}) : "
        f"moyenne pondérée {mean:.2f} {result.attrs['unit_fr']}; "
        f"{summary['practitioners_in_territory']} {label.lower()} dans le territoire."
    )
    for path in (*written, csv_path, json_path):
        console.print(f"  écrit : {path}")


def _in_territory(practitioners: gpd.GeoDataFrame, territory: Territory) -> gpd.GeoDataFrame:
    return practitioners[practitioners["commune"].isin(territory.communes["code"])]


def _aggregate_points(result: pd.DataFrame, communes: pd.DataFrame, label: str) -> pd.DataFrame:
    """One circle per commune with practitioners, at its chef-lieu (never individual points)."""
    chef_lieu = communes.set_index("code")["chef_lieu"]
    located = result[(result["practitioners"] > 0)]
    located = located[chef_lieu.reindex(located["code"]).notna().to_numpy()]
    points = gpd.GeoSeries(chef_lieu.reindex(located["code"]).to_numpy(), crs=communes.crs)
    points = points.to_crs(4326)
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
