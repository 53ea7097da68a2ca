"""The ``cartosoins`` command line: maps, analyses, scenarios, siting and the HTTP service.

``map`` draws a measure on the real GPs embedded in cartosoins (INSEE BPE; ``--demo``: the
simulated practitioners); ``analyse``, ``scenario`` and ``site`` also read the user's files;
``serve`` starts the HTTP service (the web stack is imported there only); ``reference`` lists
the territories. Every output names where its practitioners come from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

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
from geo.analysis import GRAVITY_MIN_MINUTES, MEASURES, analyse, line_radius_m
from geo.errors import CartosoinsError, DataValidationError, collect_data_warnings
from geo.io import profession_code, read_practitioners
from geo.maps.choropleth import SYNTHETIC_LABEL, analysis_map, format_fr, individual_points_of
from geo.maps.figures import PageSize, page_size, save_figure, scenario_figure, titled_static_map
from geo.maps.offline import save_offline_html
from geo.maps.slideshow import save_slideshow, territory_slideshow
from geo.maps.words import count_fr, profession_words, sites_fr
from geo.reference import list_departements, list_epci
from geo.scenario import Scenario
from geo.siting import DEFAULT_COVERAGE_MINUTES, recommend_sites
from geo.territory import Territory

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


DemoOpt = Annotated[
    bool,
    typer.Option(
        "--demo",
        help="Use the simulated practitioners (praticiens simulés, geo.demo) instead of the "
        "real GPs embedded in cartosoins (INSEE BPE); outputs get a _demo suffix.",
    ),
]

# image options of map, analyse, scenario and site (the static PNG / SVG / PDF for slides)
TitleOpt = Annotated[
    str | None,
    typer.Option(
        "--titre", "--title", help="Titre de l'image (défaut : l'indicateur et le territoire)."
    ),
]
SubtitleOpt = Annotated[
    str | None,
    typer.Option("--sous-titre", "--subtitle", help="Sous-titre de l'image ('' : aucun)."),
]
WidthCmOpt = Annotated[
    float | None, typer.Option("--largeur-cm", help="Largeur de l'image, en centimètres.")
]
HeightCmOpt = Annotated[
    float | None,
    typer.Option("--hauteur-cm", help="Hauteur de l'image, en cm (seule : proportions gardées)."),
]
WidthPxOpt = Annotated[
    float | None,
    typer.Option("--largeur-px", help="Largeur en pixels, au lieu des centimètres (voir --dpi)."),
]
HeightPxOpt = Annotated[
    float | None, typer.Option("--hauteur-px", help="Hauteur de l'image, en pixels.")
]
DpiOpt = Annotated[
    float | None,
    typer.Option("--dpi", help="Résolution en points par pouce (défaut 200 ; 150 avant/après)."),
]
ImageFormatOpt = Annotated[
    str, typer.Option("--format-image", help="Format de l'image : png, svg ou pdf.")
]


@dataclass(frozen=True)
class ImageChoice:
    """The static image asked for on the command line: page, format, title, subtitle."""

    page: PageSize
    fmt: str
    title: str | None
    subtitle: str | None


def _image_choice(
    title: str | None,
    subtitle: str | None,
    sizes: tuple[float | None, float | None, float | None, float | None],
    dpi: float | None,
    fmt: str,
    *,
    slide: bool = False,
) -> ImageChoice:
    """Check the image options (before any computation), in French."""
    kind = fmt.strip().lower().lstrip(".")
    if kind not in ("png", "svg", "pdf"):
        raise DataValidationError(f"--format-image {fmt!r} : valeurs possibles png, svg, pdf")
    width_cm, height_cm, width_px, height_px = sizes
    page = page_size(
        width_cm=width_cm,
        height_cm=height_cm,
        width_px=width_px,
        height_px=height_px,
        dpi=dpi,
        default=(33.867, 19.05) if slide else (25.0, 18.0),
        default_dpi=150.0 if slide else 200.0,
        labels={
            "width_cm": "--largeur-cm",
            "height_cm": "--hauteur-cm",
            "width_px": "--largeur-px",
            "height_px": "--hauteur-px",
            "dpi": "--dpi",
        },
    )
    return ImageChoice(page, kind, title, subtitle)


def _builtin_dataset(profession: str | None, use_demo: bool) -> str:
    """Choose the built-in practitioners: the real GPs, or the simulated set (said aloud)."""
    if use_demo:
        return core.DEMO_DATASET
    dataset = core.default_dataset(profession)
    if dataset == core.DEMO_DATASET:
        console.print(
            f"[yellow]Note :[/] aucune donnée réelle embarquée pour la profession "
            f"{profession!r} (seuls les médecins généralistes le sont) : calcul sur des "
            f"{SYNTHETIC_LABEL}."
        )
    return dataset


def _no_ages(option: str) -> DataValidationError:
    """Build the error of an option needing ages on the real GPs (which have none)."""
    return DataValidationError(
        f"{option} demande l'âge des praticiens, que les médecins généralistes réels embarqués "
        "(INSEE BPE : des effectifs par commune) ne donnent pas. Ajoutez --demo (praticiens "
        "simulés) ou donnez un fichier avec les âges (-p, par exemple une extraction RPPS / "
        "Annuaire Santé) ; pour des départs sur les données réelles, nommez-les avec "
        "--remove BPE-<commune>-<n>."
    )


def _stem(stem: str, dataset: str | None) -> str:
    """Output file stem; the simulated runs get ``_demo`` so they never overwrite real ones."""
    return f"{stem}_demo" if dataset == core.DEMO_DATASET else stem


def _profession_part(profession: str | None, from_file: bool) -> str:
    """Give the profession part of the output names (empty for the built-in GPs).

    Two professions, or a file and the built-in GPs, never overwrite each other's files.
    """
    if not from_file and (profession is None or profession == core.BPE_PROFESSION):
        return ""
    return f"{profession or 'toutes_professions'}_"


def _source_of(attrs: Mapping[Any, Any]) -> str:
    return core.source_label_of(attrs) or "données fournies"


# territory options shared by map, analyse, scenario and site (with --departement, --epci and
# --commune): a région by code or name, or France
RegionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--region",
        "-r",
        help="Région : code INSEE (84) ou nom (« Auvergne-Rhône-Alpes ») ; répétable.",
    ),
]
FranceOpt = Annotated[
    str | None,
    typer.Option(
        "--france",
        metavar="[metropole|entiere]",
        help="Toute la France : « metropole » (avec la Corse) ou « entiere » (et les DROM).",
    ),
]


def _selection(
    departement: list[str] | None,
    epci: list[str] | None,
    commune: list[str] | None,
    region: list[str] | None,
    france: str | None,
) -> dict[str, Any]:
    """Keywords of :func:`api.core.resolve` from the territory options (exactly one kind)."""
    return {
        "departements": departement,
        "epci": epci,
        "communes": commune,
        "regions": region,
        "france": france,
    }


@app.command("map")
def map_command(
    departement: Annotated[
        list[str] | None, typer.Option("--departement", "-d", help="Département code(s).")
    ] = None,
    epci: Annotated[list[str] | None, typer.Option(help="EPCI SIREN code(s).")] = None,
    commune: Annotated[list[str] | None, typer.Option(help="Commune INSEE code(s).")] = None,
    region: RegionOpt = None,
    france: FranceOpt = None,
    measure: Annotated[str, typer.Option(help=f"Measure: {', '.join(MEASURES)}.")] = "density",
    profession: Annotated[
        str, typer.Option(help=f"Profession: {', '.join(demo.PROFESSIONS)}.")
    ] = "medecin_generaliste",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic practitioners.")] = 0,
    demo_data: DemoOpt = False,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out"),
    tiles: Annotated[bool, typer.Option(help="OpenStreetMap background (needs internet).")] = False,
    png: Annotated[
        bool, typer.Option(help="Also write a PNG for slides (25×18 cm, 200 dpi).")
    ] = True,
    individual: Annotated[
        bool, typer.Option(help="Add one clustered marker per practitioner (no names).")
    ] = False,
    title: TitleOpt = None,
    subtitle: SubtitleOpt = None,
    width_cm: WidthCmOpt = None,
    height_cm: HeightCmOpt = None,
    width_px: WidthPxOpt = None,
    height_px: HeightPxOpt = None,
    dpi: DpiOpt = None,
    image_format: ImageFormatOpt = "png",
) -> None:
    """Map a measure for a territory: real GPs by default, ``--demo`` for simulated ones.

    Professions other than GPs have no real data embedded: they use the simulated
    practitioners, and every output says « praticiens simulés ».
    """
    try:
        image = _image_choice(
            title, subtitle, (width_cm, height_cm, width_px, height_px), dpi, image_format
        )
        if profession not in demo.PROFESSIONS:
            raise DataValidationError(
                f"profession {profession!r} is not one of {', '.join(demo.PROFESSIONS)}"
            )
        dataset = _builtin_dataset(profession, demo_data)
        synthetic = dataset == core.DEMO_DATASET
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("Chargement du territoire…", total=4)
            territory = core.resolve(**_selection(departement, epci, commune, region, france))
            progress.update(
                task,
                advance=1,
                description="Praticiens simulés…" if synthetic else "Médecins (INSEE BPE)…",
            )
            # the whole country's practitioners: those across the border count too
            practitioners = core.builtin_practitioners(dataset, profession, seed)
            progress.update(task, advance=1, description="Calcul de l'indicateur…")
            result = analyse(territory, practitioners, measure)
            result.attrs["profession"] = profession  # the maps' words (geo.maps.words)
            progress.update(task, advance=1, description="Carte…")
            label = PLURAL_LABELS.get(profession, demo.PROFESSIONS[profession].label)
            points = core.aggregate_points(result, label, territory.communes)
            fmap = analysis_map(
                result,
                territory.name,
                points=points,
                points_label=core.points_label(profession, synthetic),
                tiles=tiles,
                individual_points=(
                    individual_points_of(_in_territory(practitioners, territory))
                    if individual
                    else None
                ),
            )
            out.mkdir(parents=True, exist_ok=True)
            stem = _stem(
                f"{measure}_{_profession_part(profession, False)}{territory.slug}", dataset
            )
            html_path = out / f"carte_{stem}.html"
            save_offline_html(fmap, html_path, allow_remote_tiles=tiles)
            written = [html_path]
            if png:
                png_path = out / f"carte_{stem}.{image.fmt}"
                save_figure(
                    titled_static_map(
                        result,
                        territory.name,
                        title=image.title,
                        subtitle=image.subtitle,
                        page=image.page,
                        points=points,
                        points_label=core.points_label(profession, synthetic),
                    ),
                    png_path,
                )
                written.append(png_path)
            csv_path = out / f"communes_{stem}.csv"
            csv_path.write_bytes(core.export_csv(result))
            summary = core.summary_of(
                result,
                territory.name,
                profession=profession,
                dataset=dataset,
                source_praticiens=_source_of(result.attrs),
                **({"seed": seed} if synthetic else {}),
            )
            json_path = _write_json(out / f"resume_{stem}.json", summary)
            progress.update(task, advance=1, description="Terminé")
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    mean = summary["summary"]["population_weighted_mean"]
    who = profession_words(profession)
    console.print(
        f"[bold]{territory.name}[/] — {result.attrs['label_fr']} ({summary['source_praticiens']})"
        f" : moyenne pondérée {'—' if mean is None else format_fr(mean, 2)} "
        f"{result.attrs['unit_fr']} ; "
        f"{count_fr(summary['practitioners_in_territory'], who.singular, who.plural)} "
        "dans le territoire."
    )
    if summary.get("headcounts_fr"):
        console.print(f"  {summary['headcounts_fr']}")
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
    shown = frame.astype(str)
    for col in frame.columns:
        if frame[col].dtype.kind in "iu":  # French thousands: 52 359, not 52359 or 52,359
            shown[col] = [format_fr(float(v), 0) for v in frame[col]]
    for row in shown.itertuples(index=False):
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
        "GeoJSON, GeoPackage); default: the real GPs embedded in cartosoins (INSEE BPE), or "
        "the simulated practitioners with --demo or for another profession.",
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
    typer.Option(
        help="Profession à garder : code (medecin_generaliste…), nom français ou code TYPEQU de "
        "la BPE (D265), majuscules indifférentes ; obligatoire si le fichier en contient "
        "plusieurs (par défaut : les médecins généralistes embarqués)."
    ),
]
MeasureOpt = Annotated[str, typer.Option(help=f"Measure: {', '.join(MEASURES)}.")]
CatchmentOpt = Annotated[
    float | None, typer.Option(help="Catchment in minutes (default: the measure's).")
]
GravityMinOpt = Annotated[
    float,
    typer.Option(
        help="Gravity measure: floor of the travel time in (t / scale)^alpha, in minutes "
        "(a practitioner at a chef-lieu is 0 min away; default: a median commune's inner trip)."
    ),
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


def _dataset_of(practitioners: Path | None, profession: str | None, use_demo: bool) -> str | None:
    """Return the built-in dataset a command uses (None: the user's file)."""
    if practitioners is None:
        return _builtin_dataset(profession or core.BPE_PROFESSION, use_demo)
    if use_demo:
        raise DataValidationError(
            "--demo et --practitioners s'excluent : --demo remplace les praticiens par des "
            "praticiens simulés, --practitioners lit les vôtres"
        )
    return None


def _prepare_inputs(
    selection: dict[str, Any],
    practitioners: Path | None,
    dataset: str | None,
    file_format: str,
    profession: str | None,
    seed: int,
    report: core.Progress,
) -> tuple[Territory, gpd.GeoDataFrame, str | None]:
    """Territory, practitioners (file, real GPs or demo) and the profession kept."""
    report(0.02, "Chargement du territoire…")
    territory = core.resolve(**selection)
    report(0.1, "Lecture des praticiens…")
    if practitioners is None:
        profession = profession_code(profession) if profession else core.BPE_PROFESSION
        dataset = dataset or core.default_dataset(profession)
        return territory, core.builtin_practitioners(dataset, profession, seed), profession
    frame = read_practitioners(
        practitioners,
        filename=practitioners.name,
        format=None if file_format == "auto" else file_format,
        profession=profession,  # a file holding several is refused, with what it holds
    )
    return territory, frame, frame.attrs.get("profession") or profession


@contextmanager
def _reporting() -> Iterator[core.Progress]:
    """Show a progress bar and the engine's warnings as notes; yield the progress reporter."""
    with _progress_bar() as bar, _reported_warnings():
        task = bar.add_task("Démarrage…", total=1.0)

        def report(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=message)

        yield report


@contextmanager
def _reported_warnings() -> Iterator[None]:
    """Show the engine's warnings (recoverable data problems) as French notes, not tracebacks."""
    with collect_data_warnings() as caught:
        yield
    for text in caught:
        console.print(f"[yellow]Attention :[/] {text[:300]}{'…' if len(text) > 300 else ''}")


def _write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(core.jsonable(data), ensure_ascii=False, indent=2), "utf-8")
    return path


def _analysis_options(
    catchment: float | None,
    exclude_aged_from: int | None,
    osm: Path | None = None,
    travel: TravelChoice | None = None,
    *,
    gravity_min_minutes: float = GRAVITY_MIN_MINUTES,
) -> dict[str, object]:
    options: dict[str, object] = {
        "catchment_minutes": catchment,
        "exclude_aged_from": exclude_aged_from,
        "gravity_min_minutes": gravity_min_minutes,
    }
    if osm is not None:  # car times over the extract's roads instead of straight lines
        options |= {"travel": "road", "osm_path": osm}
    if travel is not None:
        options |= travel.options()
    return options


@dataclass(frozen=True)
class TravelChoice:
    """Travel times of an analysis besides road extracts: an OD table or a straight-line model."""

    od: Path | None = None
    od_layout: str | None = None
    od_unit: str | None = None
    od_columns: tuple[str, str, str] = ("origin", "dest", "minutes")
    model: str = "fitted"

    def options(self) -> dict[str, object]:
        """Keywords of :func:`geo.analysis.prepare`."""
        if self.od is None:
            return {"travel_model": self.model}
        return {
            "travel": "od_table",
            "od_table": self.od,
            "od_layout": self.od_layout,
            "od_unit": self.od_unit,
            "od_columns": self.od_columns,
        }


@app.command("analyse")
def analyse_command(
    departement: DepartementOpt = None,
    epci: EpciOpt = None,
    commune: CommuneOpt = None,
    region: RegionOpt = None,
    france: FranceOpt = None,
    practitioners: PractitionersOpt = None,
    file_format: FormatOpt = "auto",
    profession: ProfessionOpt = None,
    measure: MeasureOpt = "apl",
    catchment_minutes: CatchmentOpt = None,
    gravity_min_minutes: GravityMinOpt = GRAVITY_MIN_MINUTES,
    exclude_aged_from: Annotated[
        int | None, typer.Option(help="Leave out practitioners aged this or more.")
    ] = None,
    seed: SeedOpt = 0,
    demo_data: DemoOpt = False,
    out: OutOpt = Path("out"),
    png: Annotated[bool, typer.Option(help="Also write the PNG map (25×18 cm).")] = True,
    title: TitleOpt = None,
    subtitle: SubtitleOpt = None,
    width_cm: WidthCmOpt = None,
    height_cm: HeightCmOpt = None,
    width_px: WidthPxOpt = None,
    height_px: HeightPxOpt = None,
    dpi: DpiOpt = None,
    image_format: ImageFormatOpt = "png",
    osm: Annotated[
        Path | None,
        typer.Option(help="OpenStreetMap extract (.osm.pbf, .osm, .osm.gz): road travel times."),
    ] = None,
    od: Annotated[
        Path | None,
        typer.Option(
            help="Origin–destination table of travel times between commune codes (OSRM, "
            "INSEE Metric): long (origin;dest;minutes) or a wide square matrix with codes as "
            "headers, in minutes or seconds."
        ),
    ] = None,
    od_layout: Annotated[
        str | None, typer.Option(help="Layout of --od: long or wide (default: detected).")
    ] = None,
    od_unit: Annotated[
        str | None, typer.Option(help="Unit of --od: minutes or seconds (default: detected).")
    ] = None,
    od_columns: Annotated[
        str,
        typer.Option(help="Columns of a long --od table: origin,destination,time."),
    ] = "origin,dest,minutes",
    travel_model: Annotated[
        str,
        typer.Option(
            help="Straight-line travel times: 'fitted' (model fitted on OSRM times of Isère) "
            "or 'legacy' (distance × 1.3 at 60 km/h)."
        ),
    ] = "fitted",
) -> None:
    """Analyse a territory: map (HTML, PNG), GeoPackage, CSV and summary JSON in a folder.

    Without ``-p``, the real GPs embedded in cartosoins (``--demo``: simulated practitioners).
    """
    written: list[Path] = []
    try:
        image = _image_choice(
            title, subtitle, (width_cm, height_cm, width_px, height_px), dpi, image_format
        )
        dataset = _dataset_of(practitioners, profession, demo_data)
        if dataset == core.BPE_DATASET and exclude_aged_from is not None:
            raise _no_ages("--exclude-aged-from")
        travel = _travel_choice(od, od_layout, od_unit, od_columns, travel_model, osm)
        with _reporting() as report:
            territory, pracs, kept = _prepare_inputs(
                _selection(departement, epci, commune, region, france),
                practitioners,
                dataset,
                file_format,
                profession,
                seed,
                report,
            )
            problem = core.prepare_analysis(
                territory,
                pracs,
                measure,
                _analysis_options(
                    catchment_minutes,
                    exclude_aged_from,
                    osm,
                    travel,
                    gravity_min_minutes=gravity_min_minutes,
                ),
                report,
            )
            result = problem.result()
            if kept:
                result.attrs["profession"] = kept  # the maps' words (geo.maps.words)
            synthetic = bool(result.attrs.get("synthetic"))
            label = core.points_label(kept, synthetic)
            out.mkdir(parents=True, exist_ok=True)
            part = _profession_part(kept, practitioners is not None)
            stem = _stem(f"{measure}_{part}{territory.slug}", dataset)
            report(0.6, "Carte interactive…")
            html_path = out / f"carte_{stem}.html"
            html_path.write_text(core.render_map_html(result, territory.name, label), "utf-8")
            written.append(html_path)
            if png:
                report(0.75, "Carte PNG…")
                png_path = save_figure(
                    titled_static_map(
                        result,
                        territory.name,
                        title=image.title,
                        subtitle=image.subtitle,
                        page=image.page,
                        points=core.aggregate_points(result, label),
                        points_label=label,
                    ),
                    out / f"carte_{stem}.{image.fmt}",
                )
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
                dataset=dataset,
                practitioners_file=None if practitioners is None else practitioners.name,
                source_praticiens=_source_of(result.attrs),
                **({"seed": seed} if dataset == core.DEMO_DATASET else {}),
            )
            written += [gpkg_path, csv_path, _write_json(out / f"resume_{stem}.json", summary)]
            report(1.0, "Terminé")
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    mean = summary["summary"]["population_weighted_mean"]
    console.print(
        f"[bold]{territory.name}[/] — {summary['label_fr']} ({summary['source_praticiens']}) : "
        f"moyenne pondérée {'—' if mean is None else format_fr(mean, 2)} {summary['unit_fr']}."
    )
    if summary.get("headcounts_fr"):
        console.print(f"  {summary['headcounts_fr']}")
    for path in written:
        console.print(f"  écrit : {path}")


def _travel_choice(
    od: Path | None,
    layout: str | None,
    unit: str | None,
    columns: str,
    model: str,
    osm: Path | None,
) -> TravelChoice:
    """Check the travel options up front, with the valid values in the message."""
    if od is not None and osm is not None:
        raise DataValidationError("--od et --osm s'excluent : choisissez une source de temps")
    if layout not in (None, "long", "wide"):
        raise DataValidationError(f"--od-layout {layout!r} : valeurs possibles long, wide")
    if unit not in (None, "minutes", "seconds"):
        raise DataValidationError(f"--od-unit {unit!r} : valeurs possibles minutes, seconds")
    if model not in ("fitted", "legacy"):
        raise DataValidationError(f"--travel-model {model!r} : valeurs possibles fitted, legacy")
    names = tuple(c.strip() for c in columns.split(","))
    if len(names) != 3 or not all(names):
        raise DataValidationError(
            f"--od-columns {columns!r} : trois noms séparés par des virgules "
            "(origine, destination, temps)"
        )
    if od is not None and not od.is_file():
        raise DataValidationError(f"--od {od} : fichier introuvable")
    return TravelChoice(od, layout, unit, (names[0], names[1], names[2]), model)


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
    region: RegionOpt = None,
    france: FranceOpt = None,
    practitioners: PractitionersOpt = None,
    file_format: FormatOpt = "auto",
    profession: ProfessionOpt = None,
    measure: MeasureOpt = "apl",
    catchment_minutes: CatchmentOpt = None,
    gravity_min_minutes: GravityMinOpt = GRAVITY_MIN_MINUTES,
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
    demo_data: DemoOpt = False,
    out: OutOpt = Path("out"),
    png: Annotated[
        bool, typer.Option(help="Écrire aussi l'image avant / après (PNG 16:9 par défaut).")
    ] = True,
    title: TitleOpt = None,
    subtitle: SubtitleOpt = None,
    width_cm: WidthCmOpt = None,
    height_cm: HeightCmOpt = None,
    width_px: WidthPxOpt = None,
    height_px: HeightPxOpt = None,
    dpi: DpiOpt = None,
    image_format: ImageFormatOpt = "png",
) -> None:
    """Scenario on a territory: retirements, new or leaving practitioners, population change.

    Retirements need the practitioners' ages: the real GPs (INSEE BPE) have none, so use
    ``--demo`` or a file with ages, or name the GPs who leave with ``--remove``.
    """
    images: list[Path] = []
    try:
        image = _image_choice(
            title,
            subtitle,
            (width_cm, height_cm, width_px, height_px),
            dpi,
            image_format,
            slide=True,
        )
        dataset = _dataset_of(practitioners, profession, demo_data)
        if dataset == core.BPE_DATASET:
            if retire_age is not None:
                raise _no_ages("--retire-age")
            if horizon_year is not None:
                raise _no_ages("--horizon-year")
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
        with _reporting() as report:  # also shows the engine's warnings as notes
            territory, pracs, kept = _prepare_inputs(
                _selection(departement, epci, commune, region, france),
                practitioners,
                dataset,
                file_format,
                profession,
                seed,
                report,
            )
            problem = core.prepare_analysis(
                territory,
                pracs,
                measure,
                _analysis_options(catchment_minutes, None, gravity_min_minutes=gravity_min_minutes),
                report,
            )
            report(0.5, "Application du scénario…")
            result = scenario.apply(problem)
            if profession:
                result.communes.attrs["profession"] = profession  # the maps' words
            changes = list(result.problem.history)
            out.mkdir(parents=True, exist_ok=True)
            part = _profession_part(kept, practitioners is not None)
            stem = _stem(f"scenario_{measure}_{part}{territory.slug}", dataset)
            report(0.7, "Carte avant / après…")
            html_path = out / f"carte_{stem}.html"
            html_path.write_text(
                core.render_comparison_html(result.communes, territory.name, "; ".join(changes)),
                "utf-8",
            )
            if png:
                report(0.8, "Image avant / après…")
                figure = scenario_figure(
                    result.communes,
                    territory.name,
                    scenario="; ".join(changes),
                    title=image.title,
                    subtitle=image.subtitle,
                    page=image.page,
                )
                images.append(save_figure(figure, out / f"carte_{stem}.{image.fmt}"))
            report(0.9, "GeoPackage et résumé…")
            gpkg_path = out / f"communes_{stem}.gpkg"
            gpkg_path.write_bytes(core.export_gpkg(result.communes))
            summary = {
                "territory": territory.name,
                "source_praticiens": _source_of(result.communes.attrs),
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
        f"[bold]{territory.name}[/] ({summary['source_praticiens']}) — {'; '.join(changes)} : "
        "population dans la classe "
        f"« {s['gap_class']} » {format_fr(s['population_in_gap_before'], 0)} → "
        f"{format_fr(s['population_in_gap_after'], 0)} ; "
        f"{count_fr(s['communes_improved'], 'commune améliorée', 'communes améliorées')}, "
        f"{count_fr(s['communes_worsened'], 'dégradée')}."
    )
    for path in (html_path, *images, gpkg_path, json_path):
        console.print(f"  écrit : {path}")


@app.command("site")
def site_command(
    departement: DepartementOpt = None,
    epci: EpciOpt = None,
    commune: CommuneOpt = None,
    region: RegionOpt = None,
    france: FranceOpt = None,
    practitioners: PractitionersOpt = None,
    file_format: FormatOpt = "auto",
    profession: ProfessionOpt = None,
    measure: MeasureOpt = "apl",
    catchment_minutes: CatchmentOpt = None,
    gravity_min_minutes: GravityMinOpt = GRAVITY_MIN_MINUTES,
    k: Annotated[int, typer.Option("--k", "-k", help="Number of sites.")] = 3,
    n_per_site: Annotated[int, typer.Option(help="Practitioners per site.")] = 1,
    objective: Annotated[
        str, typer.Option(help="gap_population, shortfall, weighted_gain or max_coverage.")
    ] = "gap_population",
    candidates: Annotated[
        list[str] | None,
        typer.Option(
            "--candidates",
            help="Candidate site: a commune code, or an address as LABEL:LON:LAT (WGS 84), "
            "e.g. 'Maison de santé:3.08:45.77'; repeat it (default: every commune).",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Commune code never to propose; repeat it.")
    ] = None,
    per_site: Annotated[
        list[str] | None,
        typer.Option(
            "--practitioners-per-site",
            help="A different number for one candidate, CANDIDATE=N (code or label); repeat it.",
        ),
    ] = None,
    method: Annotated[
        str, typer.Option(help="greedy or milp (exact, max_coverage only).")
    ] = "greedy",
    coverage_minutes: Annotated[
        float, typer.Option(help="max_coverage: the time within which people count as covered.")
    ] = DEFAULT_COVERAGE_MINUTES,
    seed: SeedOpt = 0,
    demo_data: DemoOpt = False,
    out: OutOpt = Path("out"),
    png: Annotated[
        bool, typer.Option(help="Écrire aussi l'image des sites (PNG 16:9 par défaut).")
    ] = True,
    image_title: TitleOpt = None,
    subtitle: SubtitleOpt = None,
    width_cm: WidthCmOpt = None,
    height_cm: HeightCmOpt = None,
    width_px: WidthPxOpt = None,
    height_px: HeightPxOpt = None,
    dpi: DpiOpt = None,
    image_format: ImageFormatOpt = "png",
) -> None:
    """Recommend where k new sites of n practitioners help most; map, GeoPackage, summary."""
    images: list[Path] = []
    try:
        image = _image_choice(
            image_title,
            subtitle,
            (width_cm, height_cm, width_px, height_px),
            dpi,
            image_format,
            slide=True,
        )
        if method not in ("greedy", "milp"):
            raise DataValidationError(f"--method {method!r} inconnue : greedy ou milp")
        site_candidates = _site_candidates(candidates)
        capacities = _per_site(per_site)
        dataset = _dataset_of(practitioners, profession, demo_data)
        with _reporting() as report:  # also shows the engine's warnings as notes
            territory, pracs, kept = _prepare_inputs(
                _selection(departement, epci, commune, region, france),
                practitioners,
                dataset,
                file_format,
                profession,
                seed,
                report,
            )
            problem = core.prepare_analysis(
                territory,
                pracs,
                measure,
                _analysis_options(catchment_minutes, None, gravity_min_minutes=gravity_min_minutes),
                report,
            )
            report(0.5, "Recherche des meilleurs sites…")
            found = recommend_sites(
                problem,
                k,
                n_per_site,
                objective,
                candidates=site_candidates,
                exclude=exclude,
                practitioners_per_site=capacities,
                method=method,  # type: ignore[arg-type]  # checked above
                coverage_minutes=coverage_minutes,
                progress=lambda f, text: report(0.5 + 0.3 * f, text),
            )
            opts = problem.options
            radius = line_radius_m(opts.catchment, opts) / 1000.0  # the farthest reach
            sites = core.sites_for_map(
                found.sites,
                radius if opts.travel == "straight_line" else None,
                found.objective_label_fr,
            )
            out.mkdir(parents=True, exist_ok=True)
            part = _profession_part(kept, practitioners is not None)
            stem = _stem(f"sites_{measure}_{part}{territory.slug}", dataset)
            title = sites_fr(k, n_per_site, profession)  # "3 sites de 1 praticien"
            if profession:
                found.scenario.communes.attrs["profession"] = profession  # the maps' words
            report(0.8, "Carte des sites…")
            html_path = out / f"carte_{stem}.html"
            html_path.write_text(
                core.render_comparison_html(found.scenario.communes, territory.name, title, sites),
                "utf-8",
            )
            if png:
                report(0.85, "Image des sites…")
                figure = scenario_figure(
                    found.scenario.communes,
                    territory.name,
                    scenario=title,
                    after_label="Avec les sites proposés",
                    sites=sites.assign(nom=found.sites["nom"].astype(str).to_numpy()),
                    title=image.title,
                    subtitle=image.subtitle,
                    page=image.page,
                )
                images.append(save_figure(figure, out / f"carte_{stem}.{image.fmt}"))
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
                "source_praticiens": _source_of(found.scenario.communes.attrs),
                "sources": found.scenario.communes.attrs.get("sources"),
            }
            json_path = _write_json(out / f"resume_{stem}.json", summary)
            report(1.0, "Terminé")
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    console.print(
        f"[bold]{territory.name}[/] ({summary['source_praticiens']}) — "
        f"{found.objective_label_fr} : {_gain_fr(found.total_gain)}"
    )
    for row in table.itertuples(index=False):
        console.print(f"  {row.rank}. {row.nom} ({row.code}) : gain {_gain_fr(row.marginal_gain)}")
    for path in (html_path, *images, gpkg_path, json_path):
        console.print(f"  écrit : {path}")


def _gain_fr(value: Any) -> str:
    """Write a siting gain in French format: whole numbers from 100 on (inhabitants)."""
    number = float(value)
    return format_fr(number, 0 if abs(number) >= 100 else 1)


def _site_candidates(values: list[str] | None) -> list[str | tuple[str, float, float]] | None:
    """``--candidates`` values: commune codes, or LABEL:LON:LAT addresses."""
    if not values:
        return None
    out: list[str | tuple[str, float, float]] = []
    for value in values:
        label, sep, rest = value.rpartition(":")
        if not sep:
            out.append(value.strip())
            continue
        name, _, lon = label.rpartition(":")
        try:
            out.append((name.strip(), float(lon.replace(",", ".")), float(rest.replace(",", "."))))
        except ValueError:
            raise DataValidationError(
                f"--candidates {value!r} : un code commune, ou LIBELLÉ:LON:LAT avec des "
                "coordonnées en degrés (ex. 'Maison de santé:3.08:45.77')"
            ) from None
        if not name.strip():
            raise DataValidationError(f"--candidates {value!r} : le libellé est vide")
    return out


def _per_site(values: list[str] | None) -> dict[str, int] | None:
    """``--practitioners-per-site`` values: CANDIDATE=N."""
    if not values:
        return None
    out: dict[str, int] = {}
    for value in values:
        name, _, count = value.rpartition("=")
        if not name.strip() or not count.strip().isdigit() or int(count) < 1:
            raise DataValidationError(
                f"--practitioners-per-site {value!r} : CANDIDAT=N attendu, N entier ≥ 1"
            )
        out[name.strip()] = int(count)
    return out


@app.command("diaporama")
def slideshow_command(
    departement: DepartementOpt = None,
    epci: EpciOpt = None,
    commune: CommuneOpt = None,
    region: RegionOpt = None,
    france: FranceOpt = None,
    horizon: Annotated[
        int, typer.Option("--horizon", help="Année du scénario de départs (diapositive 3).")
    ] = 2030,
    departure_share: Annotated[
        float,
        typer.Option(
            "--part-departs",
            help="Sans âge des médecins (INSEE BPE) : part des médecins du territoire qui "
            "partent d'ici l'horizon, tirés au sort (hypothèse affichée sur la diapositive).",
        ),
    ] = 0.25,
    sites: Annotated[
        int, typer.Option("--sites", help="Nombre de sites de la résidence (diapositive 4).")
    ] = 3,
    per_site: Annotated[
        int, typer.Option("--medecins-par-site", help="Médecins par site de la résidence.")
    ] = 2,
    seed: Annotated[
        int, typer.Option(help="Graine du tirage des départs et des praticiens simulés.")
    ] = 0,
    demo_data: DemoOpt = False,
    out: OutOpt = Path("out"),
) -> None:
    """Écrire un diaporama hors ligne (un seul fichier HTML) sur l'accès aux médecins.

    1 l'APL ; 2 le temps jusqu'au médecin le plus proche ; 3 un scénario de départs à l'horizon ;

    4 les meilleurs sites d'une résidence de médecins ; 5 les chiffres clés comparés.

    Flèches ou espace pour avancer, F pour le plein écran.
    """
    try:
        if not 0 < departure_share <= 1:
            raise DataValidationError(
                f"--part-departs {departure_share!r} : un nombre entre 0 et 1 (0.25 = 25 %)"
            )
        if sites < 1 or per_site < 1:
            raise DataValidationError("--sites et --medecins-par-site : des entiers ≥ 1")
        dataset = _dataset_of(None, None, demo_data)
        with _reporting() as report:
            territory, pracs, _ = _prepare_inputs(
                _selection(departement, epci, commune, region, france),
                None,
                dataset,
                "auto",
                None,
                seed,
                report,
            )
            problem = core.prepare_analysis(
                territory, pracs, "apl", _analysis_options(None, None), report
            )
            report(0.4, "Cartes, scénario, sites et chiffres clés…")
            page = territory_slideshow(
                territory,
                pracs,
                problem=problem,
                horizon_year=horizon,
                departure_share=departure_share,
                sites=sites,
                practitioners_per_site=per_site,
                seed=seed,
            )
            out.mkdir(parents=True, exist_ok=True)
            path = save_slideshow(page, out / f"diaporama_{_stem(territory.slug, dataset)}.html")
            report(1.0, "Terminé")
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    console.print(f"[bold]{territory.name}[/] — diaporama de 5 diapositives, hors ligne.")
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
