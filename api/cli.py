"""The ``cartosoins`` command line: maps, analyses, scenarios, siting and the HTTP service.

``map`` draws a measure on the simulated practitioners; ``analyse``, ``scenario`` and ``site``
also read the user's files; ``serve`` starts the HTTP service (the web stack is imported there
only); ``reference`` lists the territories.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import pandas as pd
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from api import core
from api.core import PLURAL_LABELS
from geo import demo
from geo.analysis import MEASURES, analyse
from geo.costs import minutes_to_km
from geo.errors import CartosoinsError, DataValidationError
from geo.io import read_practitioners
from geo.maps.choropleth import SYNTHETIC_LABEL, analysis_map, individual_points_of
from geo.maps.offline import save_offline_html
from geo.maps.static import analysis_static_map, save_static_map
from geo.reference import list_departements, list_epci, load_communes
from geo.scenario import Scenario
from geo.siting import recommend_sites
from geo.territory import Territory, resolve_territory

app = typer.Typer(
    name="cartosoins",
    help="Health-care offer and accessibility of French territories.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


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
            points = core.aggregate_points(result, label, territory.communes)
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


# --------------------------------------------------------------------------------------------
# analyse, scenario, site: the user's files or the demo data, with a progress bar
# --------------------------------------------------------------------------------------------
DepartementOpt = Annotated[
    list[str] | None, typer.Option("--departement", "-d", help="Département code(s).")
]
EpciOpt = Annotated[list[str] | None, typer.Option(help="EPCI SIREN code(s).")]
CommuneOpt = Annotated[list[str] | None, typer.Option(help="Commune INSEE code(s).")]
PractitionersOpt = Annotated[
    Path | None,
    typer.Option(
        "--practitioners",
        "-p",
        help="Practitioners file (CSV lat/lon or commune code, BPE, Annuaire Santé/RPPS, "
        "GeoJSON, GeoPackage); default: the simulated practitioners.",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]
FormatOpt = Annotated[
    str, typer.Option("--format", help="Format of the file: auto or one of geo.io.FORMATS.")
]
ProfessionOpt = Annotated[
    str | None,
    typer.Option(help="Keep one profession (default: GPs for the demo, all of a file's)."),
]
MeasureOpt = Annotated[str, typer.Option(help=f"Measure: {', '.join(MEASURES)}.")]
CatchmentOpt = Annotated[
    float | None, typer.Option(help="Catchment in minutes (default: the measure's).")
]
SeedOpt = Annotated[int, typer.Option(help="Seed of the simulated practitioners.")]
OutOpt = Annotated[Path, typer.Option(help="Output folder.")]


def _progress_bar() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _prepare_inputs(
    departement: list[str] | None,
    epci: list[str] | None,
    commune: list[str] | None,
    practitioners: Path | None,
    file_format: str,
    profession: str | None,
    seed: int,
    report: core.Progress,
) -> tuple[Territory, gpd.GeoDataFrame, str | None]:
    """Territory, practitioners (file or demo) and the profession kept."""
    report(0.02, "Chargement du territoire…")
    territory = core.resolve(departement, epci, commune)
    report(0.1, "Lecture des praticiens…")
    if practitioners is None:
        profession = profession or "medecin_generaliste"
        return territory, core.demo_practitioners(seed, profession), profession
    frame = read_practitioners(
        practitioners,
        filename=practitioners.name,
        format=None if file_format == "auto" else file_format,
    )
    return territory, core.select_profession(frame, profession, practitioners.name), profession


@contextmanager
def _reported_warnings() -> Iterator[None]:
    """Show the engine's warnings (recoverable data problems) as French notes, not tracebacks."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        text = str(warning.message)
        console.print(f"[yellow]Attention :[/] {text[:300]}{'…' if len(text) > 300 else ''}")


def _write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(core.jsonable(data), ensure_ascii=False, indent=2), "utf-8")
    return path


def _analysis_options(
    catchment: float | None, exclude_aged_from: int | None, osm: Path | None = None
) -> dict[str, object]:
    options: dict[str, object] = {
        "catchment_minutes": catchment,
        "exclude_aged_from": exclude_aged_from,
    }
    if osm is not None:  # car times over the extract's roads instead of straight lines
        options |= {"travel": "road", "osm_path": osm}
    return options


@app.command("analyse")
def analyse_command(
    departement: DepartementOpt = None,
    epci: EpciOpt = None,
    commune: CommuneOpt = None,
    practitioners: PractitionersOpt = None,
    file_format: FormatOpt = "auto",
    profession: ProfessionOpt = None,
    measure: MeasureOpt = "apl",
    catchment_minutes: CatchmentOpt = None,
    exclude_aged_from: Annotated[
        int | None, typer.Option(help="Leave out practitioners aged this or more.")
    ] = None,
    seed: SeedOpt = 0,
    out: OutOpt = Path("out"),
    png: Annotated[bool, typer.Option(help="Also write the PNG map (25×18 cm).")] = True,
    osm: Annotated[
        Path | None,
        typer.Option(help="OpenStreetMap extract (.osm.pbf, .osm, .osm.gz): road travel times."),
    ] = None,
) -> None:
    """Analyse a territory: map (HTML, PNG), GeoPackage, CSV and summary JSON in a folder."""
    written: list[Path] = []
    try:
        with _progress_bar() as bar, _reported_warnings():
            task = bar.add_task("Démarrage…", total=1.0)

            def report(fraction: float, message: str) -> None:
                bar.update(task, completed=fraction, description=message)

            territory, pracs, kept = _prepare_inputs(
                departement, epci, commune, practitioners, file_format, profession, seed, report
            )
            problem = core.prepare_analysis(
                territory,
                pracs,
                measure,
                _analysis_options(catchment_minutes, exclude_aged_from, osm),
                report,
            )
            result = problem.result()
            synthetic = bool(result.attrs.get("synthetic"))
            label = core.points_label(kept, synthetic)
            out.mkdir(parents=True, exist_ok=True)
            stem = f"{measure}_{territory.slug}"
            report(0.6, "Carte interactive…")
            html_path = out / f"carte_{stem}.html"
            html_path.write_text(core.render_map_html(result, territory.name, label), "utf-8")
            written.append(html_path)
            if png:
                report(0.75, "Carte PNG…")
                png_path = out / f"carte_{stem}.png"
                png_path.write_bytes(core.render_map_png(result, territory.name, label))
                written.append(png_path)
            report(0.9, "GeoPackage, tableau et résumé…")
            gpkg_path = out / f"communes_{stem}.gpkg"
            gpkg_path.write_bytes(core.export_gpkg(result))
            csv_path = out / f"communes_{stem}.csv"
            csv_path.write_bytes(core.export_csv(result))
            summary = core.summary_of(
                result,
                territory.name,
                profession=kept,
                practitioners_file=None if practitioners is None else practitioners.name,
                **({"seed": seed} if practitioners is None else {}),
            )
            written += [gpkg_path, csv_path, _write_json(out / f"resume_{stem}.json", summary)]
            report(1.0, "Terminé")
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    mean = summary["summary"]["population_weighted_mean"]
    flag = f" ({SYNTHETIC_LABEL})" if summary.get("synthetic") else ""
    console.print(
        f"[bold]{territory.name}[/] — {summary['label_fr']}{flag} : moyenne pondérée "
        f"{'—' if mean is None else f'{mean:.2f}'} {summary['unit_fr']}."
    )
    for path in written:
        console.print(f"  écrit : {path}")


def _parse_additions(values: list[str]) -> list[tuple[str, int]]:
    out = []
    for value in values:
        code, _, count = value.partition(":")
        if not code or (count and not count.isdigit()):
            raise DataValidationError(f"--add {value!r}: expected COMMUNE or COMMUNE:N")
        out.append((code.strip(), int(count) if count else 1))
    return out


@app.command("scenario")
def scenario_command(
    departement: DepartementOpt = None,
    epci: EpciOpt = None,
    commune: CommuneOpt = None,
    practitioners: PractitionersOpt = None,
    file_format: FormatOpt = "auto",
    profession: ProfessionOpt = None,
    measure: MeasureOpt = "apl",
    catchment_minutes: CatchmentOpt = None,
    retire_age: Annotated[
        float | None, typer.Option(help="Practitioners aged this or more leave.")
    ] = None,
    horizon_year: Annotated[
        int | None, typer.Option(help="Practitioners reaching 67 by this year leave.")
    ] = None,
    add: Annotated[
        list[str] | None,
        typer.Option(help="New practitioners at a commune's town hall: CODE or CODE:N."),
    ] = None,
    remove: Annotated[list[str] | None, typer.Option(help="Practitioner id that leaves.")] = None,
    population_factor: Annotated[
        float | None, typer.Option(help="Multiply the territory's population.")
    ] = None,
    seed: SeedOpt = 0,
    out: OutOpt = Path("out"),
) -> None:
    """Scenario on a territory: retirements, new or leaving practitioners, population change."""
    try:
        scenario = Scenario()
        if retire_age is not None or horizon_year is not None:
            scenario = scenario.retire(age_at_least=retire_age, horizon_year=horizon_year)
        for code, n in _parse_additions(add or []):
            scenario = scenario.add_practitioners(commune=code, n=n)
        if remove:
            scenario = scenario.remove_practitioners(remove)
        if population_factor is not None:
            scenario = scenario.change_population(factor=population_factor)
        if not scenario.changes:
            raise DataValidationError(
                "no change given: use --retire-age, --horizon-year, --add, --remove or "
                "--population-factor"
            )
        with _progress_bar() as bar:
            task = bar.add_task("Démarrage…", total=1.0)

            def report(fraction: float, message: str) -> None:
                bar.update(task, completed=fraction, description=message)

            territory, pracs, _ = _prepare_inputs(
                departement, epci, commune, practitioners, file_format, profession, seed, report
            )
            problem = core.prepare_analysis(
                territory, pracs, measure, _analysis_options(catchment_minutes, None), report
            )
            report(0.5, "Application du scénario…")
            result = scenario.apply(problem)
            changes = list(result.problem.history)
            out.mkdir(parents=True, exist_ok=True)
            stem = f"scenario_{measure}_{territory.slug}"
            report(0.7, "Carte avant / après…")
            html_path = out / f"carte_{stem}.html"
            html_path.write_text(
                core.render_comparison_html(result.communes, territory.name, "; ".join(changes)),
                "utf-8",
            )
            report(0.9, "GeoPackage et résumé…")
            gpkg_path = out / f"communes_{stem}.gpkg"
            gpkg_path.write_bytes(core.export_gpkg(result.communes))
            summary = {
                "territory": territory.name,
                "changes": changes,
                **dict(result.summary),
                "classes": result.classes.to_dict(orient="records"),
                **{k: v for k, v in result.communes.attrs.items() if k != "summary"},
            }
            json_path = _write_json(out / f"resume_{stem}.json", summary)
            report(1.0, "Terminé")
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    s = result.summary
    console.print(
        f"[bold]{territory.name}[/] — {'; '.join(changes)} : population dans la classe "
        f"« {s['gap_class']} » {s['population_in_gap_before']:,.0f} → "
        f"{s['population_in_gap_after']:,.0f}; {s['communes_improved']} communes améliorées, "
        f"{s['communes_worsened']} dégradées."
    )
    for path in (html_path, gpkg_path, json_path):
        console.print(f"  écrit : {path}")


@app.command("site")
def site_command(
    departement: DepartementOpt = None,
    epci: EpciOpt = None,
    commune: CommuneOpt = None,
    practitioners: PractitionersOpt = None,
    file_format: FormatOpt = "auto",
    profession: ProfessionOpt = None,
    measure: MeasureOpt = "apl",
    catchment_minutes: CatchmentOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", help="Number of sites.")] = 3,
    n_per_site: Annotated[int, typer.Option(help="Practitioners per site.")] = 1,
    objective: Annotated[
        str, typer.Option(help="gap_population, weighted_gain or max_coverage.")
    ] = "gap_population",
    seed: SeedOpt = 0,
    out: OutOpt = Path("out"),
) -> None:
    """Recommend where k new sites of n practitioners help most; map, GeoPackage, summary."""
    try:
        with _progress_bar() as bar:
            task = bar.add_task("Démarrage…", total=1.0)

            def report(fraction: float, message: str) -> None:
                bar.update(task, completed=fraction, description=message)

            territory, pracs, _ = _prepare_inputs(
                departement, epci, commune, practitioners, file_format, profession, seed, report
            )
            problem = core.prepare_analysis(
                territory, pracs, measure, _analysis_options(catchment_minutes, None), report
            )
            report(0.5, "Recherche des meilleurs sites…")
            found = recommend_sites(problem, k, n_per_site, objective)
            opts = problem.options
            radius = minutes_to_km(opts.catchment, opts.detour_factor, opts.speed_kmh)
            sites = core.sites_for_map(
                found.sites,
                radius if opts.travel == "straight_line" else None,
                found.objective_label_fr,
            )
            out.mkdir(parents=True, exist_ok=True)
            stem = f"sites_{measure}_{territory.slug}"
            title = f"{k} site(s) de {n_per_site} praticien(s)"
            report(0.8, "Carte des sites…")
            html_path = out / f"carte_{stem}.html"
            html_path.write_text(
                core.render_comparison_html(found.scenario.communes, territory.name, title, sites),
                "utf-8",
            )
            report(0.9, "GeoPackage et résumé…")
            gpkg_path = out / f"communes_{stem}.gpkg"
            gpkg_path.write_bytes(core.export_gpkg(found.scenario.communes))
            table = pd.DataFrame(found.sites.drop(columns=found.sites.geometry.name))
            table["lon"], table["lat"] = sites["lon"], sites["lat"]
            summary = {
                "territory": territory.name,
                "objective": found.objective,
                "objective_label_fr": found.objective_label_fr,
                "total_gain": found.total_gain,
                "sites": table.to_dict(orient="records"),
                "scenario": dict(found.scenario.summary),
                "synthetic": found.sites.attrs.get("synthetic"),
                "label": found.sites.attrs.get("label"),
            }
            json_path = _write_json(out / f"resume_{stem}.json", summary)
            report(1.0, "Terminé")
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    console.print(
        f"[bold]{territory.name}[/] — {found.objective_label_fr} : {found.total_gain:,.1f}"
    )
    for row in table.itertuples(index=False):
        console.print(f"  {row.rank}. {row.nom} ({row.code}) : gain {row.marginal_gain:,.1f}")
    for path in (html_path, gpkg_path, json_path):
        console.print(f"  écrit : {path}")


@app.command("serve")
def serve_command(
    host: Annotated[str | None, typer.Option(help="Address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="SQLite database (default ./var/cartosoins.sqlite3)."),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder of the stored files (default: beside the db).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="Background threads computing analyses (default 2).")
    ] = None,
) -> None:
    """Start the HTTP service (API, maps, landing page); settings from CARTOSOINS_* too."""
    # the web stack is imported here only: `cartosoins map` and geo/ stay free of it
    import uvicorn
    from pydantic import ValidationError

    from api.main import create_app
    from api.settings import Settings

    overrides: dict[str, object] = {
        key: value
        for key, value in {
            "host": host,
            "port": port,
            "database_path": db,
            "data_dir": data_dir,
            "worker_threads": threads,
        }.items()
        if value is not None
    }
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        console.print(f"[bold red]Erreur de configuration :[/] {exc}")
        raise typer.Exit(code=2) from exc
    if settings.api_token is None and settings.host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            "[bold yellow]Attention :[/] aucun jeton (CARTOSOINS_API_TOKEN) et une adresse "
            f"{settings.host} joignable d'autres machines : les données privées sont exposées."
        )
    console.print(
        f"cartosoins sur http://{settings.host}:{settings.port} — base {settings.database_path}"
    )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
