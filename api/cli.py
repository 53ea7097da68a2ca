"""The ``cartosoins`` command line: maps, analyses, scenarios, siting and the HTTP service.

``map`` draws a measure on the real GPs embedded in cartosoins (INSEE BPE; ``--demo``: the
simulated practitioners); ``analyse``, ``scenario`` and ``site`` also read the user's files;
``serve`` starts the HTTP service (the web stack is imported there only); ``reference`` lists
the territories. Every output names where its practitioners come from.

Everything a person reads is in French: the help, the engine's errors and click's own usage
errors (:class:`FrenchGroup`). Every option is checked before anything is read or computed:
measures and professions in any case, territory codes against the reference tables (with the
valid values, or a hint such as « la Corse est 2A et 2B »), numbers within their range.
"""

from __future__ import annotations

import json
import math
import re
import sys
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from typer import _click as click
from typer._click import exceptions as click_errors
from typer.core import TyperCommand, TyperGroup

from api import core
from api.core import PLURAL_LABELS
from geo import demo
from geo.analysis import GRAVITY_MIN_MINUTES, MEASURES, analyse, line_radius_m
from geo.errors import (
    CartosoinsError,
    DataValidationError,
    UnknownCodeError,
    collect_data_warnings,
)
from geo.io import FORMATS, profession_code, read_practitioners
from geo.maps.choropleth import SYNTHETIC_LABEL, analysis_map, format_fr, individual_points_of
from geo.maps.figures import PageSize, page_size, save_figure, scenario_figure, titled_static_map
from geo.maps.offline import save_offline_html
from geo.maps.slideshow import save_slideshow, territory_slideshow
from geo.maps.words import count_fr, profession_words, sites_fr
from geo.reference import list_departements, list_epci
from geo.scenario import Scenario
from geo.siting import DEFAULT_COVERAGE_MINUTES, OBJECTIVES, recommend_sites
from geo.territory import FRANCE_CHOICES, Territory, UnknownRegionError, list_regions

# --------------------------------------------------------------------------------------------
# French help and usage errors (typer and click speak English on their own)
# --------------------------------------------------------------------------------------------
#: Words of typer's rich help, set while the command line runs (restored afterwards).
_TYPER_HELP_WORDS_FR = {
    "DEFAULT_STRING": "[défaut : {}]",
    "REQUIRED_LONG_STRING": "[obligatoire]",
    "ENVVAR_STRING": "[variable d'environnement : {}]",
    "DEPRECATED_STRING": "(obsolète) ",
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commandes",
}
#: Metavars of the options by their Python type (typer shows ``<str>``, ``<float>``…).
_METAVARS_FR = {"str": "TEXTE", "int": "ENTIER", "float": "NOMBRE", "Path": "CHEMIN"}
_USAGE_FR = "Utilisation : "
_HELP_FR = "Afficher cette aide et quitter."


@contextmanager
def _french_help_words() -> Iterator[None]:
    """Put typer's help words in French while the command line runs, then restore them."""
    from typer import rich_utils

    saved = {k: getattr(rich_utils, k) for k in _TYPER_HELP_WORDS_FR if hasattr(rich_utils, k)}
    for key in saved:
        setattr(rich_utils, key, _TYPER_HELP_WORDS_FR[key])
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(rich_utils, key, value)


def _frenchify_params(command: click.Command) -> None:
    """Give the options French metavars (TEXTE, ENTIER, NOMBRE, CHEMIN; none for switches)."""
    for param in command.params:
        if param.metavar is not None or not isinstance(param, click.Parameter):
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
            continue
        bare = getattr(param, "bare_type", None)
        kind = str(bare()) if callable(bare) else ""
        inner = kind[5:-1] if kind.startswith("list[") else kind
        if inner in _METAVARS_FR:
            param.metavar = _METAVARS_FR[inner] + ("…" if inner != kind else "")


def _french_help_option(option: Any) -> Any:
    """Describe the ``--help`` option in French (no type shown)."""
    if option is not None:
        option.help = _HELP_FR
        option.metavar = ""
    return option


class FrenchCommand(TyperCommand):
    """A typer command whose help is in French (usage line, help option, metavars)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _frenchify_params(self)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the usage line, in French."""
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), _USAGE_FR)

    def get_help_option(self, ctx: click.Context) -> Any:
        """Return the ``--help`` option, described in French."""
        return _french_help_option(super().get_help_option(ctx))


class FrenchGroup(TyperGroup):
    """The ``cartosoins`` group: French help, and click's usage errors printed in French.

    Parsing errors (unknown option, missing value, a number that is not one…) are caught here,
    around the whole command line, and printed as « Erreur : … » with the usage line and the
    way to the help; an engine error escaping a command is printed the same way, never as a
    traceback. Exit codes are click's: 2 for a usage error, 1 for an interruption.
    """

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the usage line, in French."""
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), _USAGE_FR)

    def get_help_option(self, ctx: click.Context) -> Any:
        """Return the ``--help`` option, described in French."""
        return _french_help_option(super().get_help_option(ctx))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; usage and engine errors are printed in French."""
        with _french_help_words():
            try:
                rv = super().main(
                    args,
                    prog_name,
                    complete_var,
                    standalone_mode=False,
                    windows_expand_args=windows_expand_args,
                    **extra,
                )
            except click_errors.ClickException as exc:
                if not standalone_mode:
                    raise
                _show_click_error(exc)
                sys.exit(exc.exit_code)
            except typer.Abort:
                if not standalone_mode:
                    raise
                err_console.print("[red]Interrompu.[/]")
                sys.exit(1)
            except CartosoinsError as exc:  # a command lets an engine error through
                if not standalone_mode:
                    raise
                _print_error(exc)
                sys.exit(2)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


def _show_click_error(exc: click_errors.ClickException) -> None:
    """Print a click error as click does (usage, hint, message), in French."""
    if isinstance(exc, click_errors.NoArgsIsHelpError):
        text = exc.format_message()  # the help itself (empty when rich printed it)
        if text.strip():
            err_console.print(escape(text))
        return
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        err_console.print(escape(ctx.get_usage()), highlight=False)
        err_console.print(
            f"Essayez « {escape(ctx.command_path)} --help » pour l'aide.", highlight=False
        )
    err_console.print(f"[bold red]Erreur :[/] {escape(click_error_fr(exc))}", highlight=False)


#: click's messages inside « Invalid value for X: … » (pydantic's or typer's), in French.
_BAD_VALUE_FR: tuple[tuple[str, str], ...] = (
    (r"Input should be a valid integer.*", "un nombre entier est attendu (ex. 3)"),
    (r"Input should be a valid number.*", "un nombre est attendu (ex. 12.5)"),
    (r"Input should be a valid boolean.*", "oui ou non attendu (true, false, 1, 0)"),
    (r"Input should be .*", "valeur d'un type inattendu"),
    (r"(?:file|directory|path) ('.*') does not exist\.", r"\1 n'existe pas"),
    (r"(?:file|directory|path) ('.*') is a directory\.", r"\1 est un dossier, pas un fichier"),
    (r"(?:file|directory|path) ('.*') is a file\.", r"\1 est un fichier, pas un dossier"),
    (r"(?:file|directory|path) ('.*') is not readable\.", r"\1 ne peut pas être lu"),
    (r"(?:file|directory|path) ('.*') is not writable\.", r"\1 ne peut pas être écrit"),
    (r"Value (.*) is not a valid (\w+)\.", r"\1 n'est pas un \2 valide"),
)


def click_error_fr(exc: click_errors.ClickException) -> str:
    """Return a click (typer) error message in French.

    Parameters
    ----------
    exc : ClickException
        A parsing error of the command line.

    Returns
    -------
    str
        The message, e.g. « option inconnue : --foo (options proches : --out) ».
    """
    if isinstance(exc, click_errors.NoSuchOption):
        text = f"option inconnue : {exc.option_name}"
        if exc.possibilities:
            text += f" (options proches : {', '.join(sorted(exc.possibilities))})"
        return text
    if isinstance(exc, click_errors.MissingParameter):
        hint = exc.param.get_error_hint() if exc.param else exc.param_hint
        return f"option manquante : {_hint_fr(hint)}"
    if isinstance(exc, click_errors.BadParameter):
        hint = exc.param_hint
        if hint is None and exc.param is not None:
            hint = exc.param.get_error_hint()
        inner = str(exc.message)
        for pattern, french in _BAD_VALUE_FR:
            if re.fullmatch(pattern, inner, flags=re.S):
                inner = re.sub(pattern, french, inner, flags=re.S)
                break
        where = f" pour {_hint_fr(hint)}" if hint else ""
        return f"valeur invalide{where} : {inner}"
    if isinstance(exc, click_errors.BadOptionUsage):
        name = exc.option_name
        if "does not take a value" in exc.message:
            return f"l'option {name} ne prend pas de valeur (écrire {name} seul)"
        if "requires" in exc.message:
            return f"l'option {name} attend une valeur (ex. {name} VALEUR)"
        return f"option {name} mal employée ({exc.message})"
    if isinstance(exc, click_errors.FileError):
        return f"impossible d'ouvrir le fichier {exc.ui_filename!r} : {exc.message}"
    message = exc.format_message()
    found = re.fullmatch(r"No such command '(.*)'\.(?: Did you mean (.*)\?)?", message)
    if found:
        text = f"commande inconnue : {found.group(1)!r}"
        if found.group(2):
            text += f" ; vouliez-vous dire {found.group(2)} ?"
        return text + " (commandes : " + ", ".join(app_command_names()) + ")"
    found = re.fullmatch(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", message)
    if found:
        return (
            f"argument en trop : {found.group(1)} (une option s'écrit --nom valeur ; "
            "les textes avec des espaces entre guillemets)"
        )
    if message == "Missing command.":
        return "commande manquante (commandes : " + ", ".join(app_command_names()) + ")"
    return message


def _hint_fr(hint: Sequence[str] | str | None) -> str:
    """Write the option's names as click gives them (« '--k' / '-k' ») plainly: « --k / -k »."""
    if hint is None:
        return ""
    names = [hint] if isinstance(hint, str) else list(hint)
    return " / ".join(n.strip("'") for part in names for n in part.split(" / "))


def app_command_names() -> list[str]:
    """Names of the commands of ``cartosoins``, in the order of the help."""
    return [str(info.name) for info in app.registered_commands if info.name]


app = typer.Typer(
    name="cartosoins",
    cls=FrenchGroup,
    help="Offre de soins et accessibilité des territoires français : cartes, analyses, "
    "scénarios, sites et service HTTP. « cartosoins COMMANDE --help » décrit chaque commande.",
    no_args_is_help=True,
    add_completion=False,
    subcommand_metavar="COMMANDE [ARGS]...",
)
console = Console()
err_console = Console(stderr=True)


def _print_error(exc: Exception) -> None:
    """Print an error as « Erreur : <message français> » (rich markup in it is escaped)."""
    err_console.print(f"[bold red]Erreur :[/] {escape(_error_fr(exc))}", highlight=False)


def _fail(exc: Exception) -> typer.Exit:
    _print_error(exc)
    return typer.Exit(code=2)


# --------------------------------------------------------------------------------------------
# Checking the options before anything is read or computed, with the valid values
# --------------------------------------------------------------------------------------------
def _error_fr(exc: Exception) -> str:
    """Return an error's message in French (the engine names unknown codes in English)."""
    if isinstance(exc, UnknownCodeError) and not isinstance(exc, UnknownRegionError):
        return _unknown_codes_fr(exc.kind, exc.codes)
    return str(exc)


def _plain(text: str) -> str:
    """Lower case, no accents, words separated by one space (to compare names)."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.split(r"[^0-9a-z]+", bare)).strip()


def _code_ranges(codes: Sequence[str]) -> str:
    """Write département codes briefly: « 01 à 19, 2A, 2B, 21 à 95, 971 à 974, 976 »."""

    def key(code: str) -> float:
        return {"2A": 20.1, "2B": 20.2}.get(code, float(code) if code.isdigit() else 1e9)

    runs: list[list[str]] = []
    for code in sorted(codes, key=key):
        last = runs[-1][-1] if runs else ""
        if (
            code.isdigit()
            and last.isdigit()
            and len(code) == len(last)
            and int(code) == int(last) + 1
        ):
            runs[-1].append(code)
        else:
            runs.append([code])
    return ", ".join(f"{run[0]} à {run[-1]}" if len(run) > 2 else ", ".join(run) for run in runs)


def _departement_hint(codes: Sequence[str]) -> str:
    """Say what a person probably meant by unknown département codes, then the valid ones."""
    table = list_departements()
    hints = []
    if "20" in codes:
        hints.append(
            "le département 20 n'existe plus : la Corse est 2A (Corse-du-Sud) et 2B "
            "(Haute-Corse), par exemple -d 2A -d 2B, ou --region 94 pour les deux"
        )
    by_name = {_plain(str(n)): str(c) for c, n in zip(table["code"], table["nom"], strict=True)}
    for code in codes:
        if _plain(code) in by_name:
            hints.append(f"« {code} » se désigne par son code : {by_name[_plain(code)]}")
    hints.append(
        f"codes possibles : {_code_ranges(table['code'].tolist())} "
        "(« cartosoins reference » les liste avec leur nom)"
    )
    return " ; ".join(hints)


def _unknown_codes_fr(kind: str, codes: Sequence[str]) -> str:
    """Say in French which territory codes do not exist, and how to find the right ones."""
    many = len(codes) > 1
    shown = ", ".join(repr(c) for c in codes[:20])
    if len(codes) > 20:
        shown += f" (et {len(codes) - 20} autres)"
    s = "s" if many else ""
    if kind == "département":
        return f"département{s} inconnu{s} : {shown} ; {_departement_hint(codes)}"
    if kind == "EPCI":
        return (
            f"EPCI inconnu{s} : {shown} ; un EPCI se désigne par son numéro SIREN à 9 chiffres "
            "(ex. 246300701, Clermont Auvergne Métropole) ; « cartosoins reference -d 63 » "
            "liste les EPCI d'un département"
        )
    if kind == "commune":
        corsica = (
            " ; en Corse, le code commence par 2A ou 2B (ex. 2A004 Ajaccio)"
            if any(c.startswith("20") for c in codes)
            else ""
        )
        return (
            f"commune{s} inconnue{s} : {shown} ; une commune se désigne par son code INSEE à "
            f"5 caractères (ex. 63113 Clermont-Ferrand), pas par son code postal{corsica}"
        )
    return f"code{s} {kind} inconnu{s} : {shown}"


def _territory_selection(
    departement: list[str] | None,
    epci: list[str] | None,
    commune: list[str] | None,
    region: list[str] | None,
    france: str | None,
) -> dict[str, Any]:
    """Check the territory options against the reference tables, before anything is loaded.

    Returns the keywords of :func:`api.core.resolve`, codes normalised (``2a`` → ``2A``,
    ``1`` → ``01``). Unknown départements, EPCI and régions are refused here, with the valid
    values or a hint; a commune code of the wrong shape too (its existence is checked when
    the territory is loaded, with the same French message).
    """
    given = [bool(departement), bool(epci), bool(commune), bool(region), france is not None]
    if sum(given) == 0:
        raise DataValidationError(
            "aucun territoire : donnez un département (-d 63), un EPCI (--epci 246300701), "
            "des communes (--commune 63113), une région (--region 84) ou --france metropole"
        )
    if sum(given) > 1:
        raise DataValidationError(
            "choisir un territoire par un seul critère : --france, --region, --departement, "
            "--epci ou --commune"
        )
    deps = [c.strip().upper() for c in departement or []]
    deps = [c.zfill(2) if c.isdigit() and len(c) == 1 else c for c in deps]
    known_deps = set(list_departements()["code"])
    unknown = [
        raw.strip() for raw, c in zip(departement or [], deps, strict=True) if c not in known_deps
    ]
    if unknown:
        raise DataValidationError(_unknown_codes_fr("département", unknown))
    sirens = [c.strip() for c in epci or []]
    unknown = [c for c in sirens if c not in set(list_epci()["code"])]
    if unknown:
        raise DataValidationError(_unknown_codes_fr("EPCI", unknown))
    codes = [c.strip().upper() for c in commune or []]
    unknown = [c for c in codes if not re.fullmatch(r"\d{5}|2[AB]\d{3}", c)]
    if unknown:
        raise DataValidationError(_unknown_codes_fr("commune", unknown))
    regions = list_regions()
    known = set(regions["code"]) | {_plain(str(n)) for n in regions["nom"]}
    names = [r.strip() for r in region or []]
    unknown = [r for r in names if (r.zfill(2) if r.isdigit() else _plain(r)) not in known]
    if unknown:
        listed = ", ".join(
            f"{c} ({n})" for c, n in zip(regions["code"], regions["nom"], strict=True)
        )
        raise DataValidationError(
            f"région inconnue : {', '.join(map(repr, unknown))} ; codes INSEE possibles : "
            f"{listed} (ou leur nom, accents et majuscules indifférents)"
        )
    if france is not None and _plain(france) in FRANCE_CHOICES:
        france = _plain(france)  # other spellings are the engine's to judge (in French)
    return {
        "departements": deps or None,
        "epci": sirens or None,
        "communes": codes or None,
        "regions": names or None,
        "france": france,
    }


def _measure_of(value: str) -> str:
    """Return the measure's code, any case (``APL`` → ``apl``); else list the valid ones."""
    code = value.strip().lower()
    if code not in MEASURES:
        listed = ", ".join(f"{c} = {m.label_fr}" for c, m in MEASURES.items())
        raise DataValidationError(
            f"--measure {value!r} : indicateur inconnu ; valeurs possibles {listed} "
            "(majuscules indifférentes)"
        )
    return code


def _builtin_profession(value: str | None) -> str:
    """Return the code of a profession of the built-in data, given in any case or in French.

    Raises
    ------
    DataValidationError
        Listing every profession (the real GPs and the simulated ones).
    """
    if value is None:
        return core.BPE_PROFESSION
    code = profession_code(value) if value.strip() else ""
    if code not in demo.PROFESSIONS:
        listed = ", ".join(f"{c} = {p.label}" for c, p in demo.PROFESSIONS.items())
        raise DataValidationError(
            f"--profession {value!r} : profession inconnue ; valeurs possibles {listed} "
            f"(majuscules et accents indifférents ; données réelles embarquées pour "
            f"{core.BPE_PROFESSION} seulement, praticiens simulés pour les autres ; avec "
            "-p FICHIER, les professions de votre fichier)"
        )
    return code


def _file_format(value: str) -> str:
    """``--format``: auto or one of :data:`geo.io.FORMATS`, any case."""
    code = value.strip().lower()
    if code != "auto" and code not in FORMATS:
        raise DataValidationError(
            f"--format {value!r} : format inconnu ; valeurs possibles auto, {', '.join(FORMATS)}"
        )
    return code


def _check_number(
    option: str,
    value: float | None,
    *,
    low: float,
    high: float = math.inf,
    strict: bool = False,
    what: str = "un nombre",
) -> None:
    """Refuse a number outside ``[low, high]`` (``]low, high]`` if strict), or not finite."""
    if value is None:
        return
    number = float(value)
    if not math.isfinite(number) or number < low or (strict and number == low) or number > high:
        bound = f"> {format_fr(low, 0)}" if strict else f"≥ {format_fr(low, 0)}"
        upper = f" et ≤ {format_fr(high, 0)}" if math.isfinite(high) else ""
        raise DataValidationError(f"{option} {value!r} : {what} {bound}{upper} attendu")


def _check_out(out: Path) -> None:
    """``--out`` is a folder (created if needed), not an existing file."""
    if out.exists() and not out.is_dir():
        raise DataValidationError(f"--out {out} : c'est un fichier ; donnez un dossier")


def _check_file(option: str, path: Path | None) -> None:
    """Check that an input file named by an option exists and is a file."""
    if path is not None and not path.is_file():
        what = "c'est un dossier, pas un fichier" if path.is_dir() else "fichier introuvable"
        raise DataValidationError(f"{option} {path} : {what}")


DemoOpt = Annotated[
    bool,
    typer.Option(
        "--demo",
        help="Calculer sur des praticiens simulés (données de démonstration) au lieu des "
        "médecins généralistes réels embarqués (INSEE BPE) ; les fichiers écrits finissent "
        "par _demo.",
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


# territory, measure and output options shared by the commands
DepartementOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--departement",
        "-d",
        metavar="CODE",
        help="Département : code INSEE (63, 2A, 974) ; répétable (-d 2A -d 2B).",
    ),
]
EpciOpt = Annotated[
    list[str] | None,
    typer.Option(
        metavar="SIREN",
        help="EPCI : numéro SIREN à 9 chiffres (246300701) ; répétable.",
    ),
]
CommuneOpt = Annotated[
    list[str] | None,
    typer.Option(
        metavar="CODE",
        help="Commune : code INSEE à 5 caractères (63113, pas le code postal) ; répétable.",
    ),
]
MeasureOpt = Annotated[
    str,
    typer.Option(
        metavar="INDICATEUR",
        help=f"Indicateur : {', '.join(MEASURES)} (majuscules indifférentes).",
    ),
]
SeedOpt = Annotated[
    int, typer.Option(metavar="ENTIER", help="Graine du tirage des praticiens simulés.")
]
OutOpt = Annotated[
    Path, typer.Option(metavar="DOSSIER", help="Dossier où écrire les fichiers (créé au besoin).")
]


@app.command("map", cls=FrenchCommand)
def map_command(
    departement: DepartementOpt = None,
    epci: EpciOpt = None,
    commune: CommuneOpt = None,
    region: RegionOpt = None,
    france: FranceOpt = None,
    measure: MeasureOpt = "density",
    profession: Annotated[
        str,
        typer.Option(
            help=f"Profession : {', '.join(demo.PROFESSIONS)} (majuscules indifférentes ; "
            "réelle pour les médecins généralistes, simulée pour les autres)."
        ),
    ] = "medecin_generaliste",
    seed: SeedOpt = 0,
    demo_data: DemoOpt = False,
    out: OutOpt = Path("out"),
    tiles: Annotated[
        bool, typer.Option(help="Fond de carte OpenStreetMap (demande Internet).")
    ] = False,
    png: Annotated[
        bool, typer.Option(help="Écrire aussi une image pour les diapositives (25×18 cm, 200 dpi).")
    ] = True,
    individual: Annotated[
        bool,
        typer.Option(help="Ajouter un repère groupé par praticien (sans nom)."),
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
    """Cartographier un indicateur sur un territoire : médecins réels, ou simulés (--demo).

    Les professions autres que les médecins généralistes n'ont pas de données réelles
    embarquées : elles sont simulées, et chaque fichier écrit le dit (« praticiens simulés »).
    """
    try:
        image = _image_choice(
            title, subtitle, (width_cm, height_cm, width_px, height_px), dpi, image_format
        )
        measure = _measure_of(measure)
        profession = _builtin_profession(profession)
        selection = _territory_selection(departement, epci, commune, region, france)
        _check_out(out)
        dataset = _builtin_dataset(profession, demo_data)
        synthetic = dataset == core.DEMO_DATASET
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("Chargement du territoire…", total=4)
            territory = core.resolve(**selection)
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


@app.command("reference", cls=FrenchCommand)
def reference_command(
    departement: Annotated[
        str | None,
        typer.Option(
            "--departement", "-d", metavar="CODE", help="Lister les EPCI de ce département."
        ),
    ] = None,
) -> None:
    """Lister les départements, ou les EPCI d'un département."""
    try:
        if departement is not None:
            departement = _territory_selection([departement], None, None, None, None)[
                "departements"
            ][0]
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
PractitionersOpt = Annotated[
    Path | None,
    typer.Option(
        "--practitioners",
        "-p",
        metavar="FICHIER",
        help="Fichier des praticiens (CSV avec latitude/longitude ou code commune, BPE, "
        "Annuaire Santé/RPPS, GeoJSON, GeoPackage) ; par défaut, les médecins généralistes "
        "réels embarqués (INSEE BPE), ou des praticiens simulés avec --demo ou pour une autre "
        "profession.",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]
FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        metavar="FORMAT",
        help=f"Format du fichier : auto (reconnu) ou {', '.join(FORMATS)}.",
    ),
]
ProfessionOpt = Annotated[
    str | None,
    typer.Option(
        help="Profession à garder : code (medecin_generaliste…), nom français ou code TYPEQU de "
        "la BPE (D265), majuscules indifférentes ; obligatoire si le fichier en contient "
        "plusieurs (par défaut : les médecins généralistes embarqués)."
    ),
]
CatchmentOpt = Annotated[
    float | None,
    typer.Option(
        metavar="MINUTES",
        help="Rayon d'accès en minutes, ≥ 0 (défaut : celui de l'indicateur).",
    ),
]
GravityMinOpt = Annotated[
    float,
    typer.Option(
        metavar="MINUTES",
        help="Indicateur gravity : plancher du temps de trajet dans (t / échelle)^alpha, en "
        "minutes, > 0 (un praticien au chef-lieu est à 0 min ; défaut : le trajet interne "
        "d'une commune médiane).",
    ),
]


@dataclass(frozen=True)
class CheckedInputs:
    """The options of analyse, scenario and site, checked and normalised before any work."""

    selection: dict[str, Any]
    measure: str
    profession: str | None
    file_format: str


def _check_inputs(
    territory: tuple[
        list[str] | None, list[str] | None, list[str] | None, list[str] | None, str | None
    ],
    practitioners: Path | None,
    file_format: str,
    profession: str | None,
    measure: str,
    catchment_minutes: float | None,
    gravity_min_minutes: float,
    out: Path,
) -> CheckedInputs:
    """Check the options shared by analyse, scenario and site (French errors, valid values).

    A profession of the built-in data is normalised here (``INFIRMIER`` → ``infirmier``); one
    of the user's file is matched against the file when it is read.
    """
    checked_measure = _measure_of(measure)
    kept = profession
    if practitioners is None and profession is not None:
        kept = _builtin_profession(profession)
    fmt = _file_format(file_format)
    _check_number("--catchment-minutes", catchment_minutes, low=0.0, what="un nombre de minutes")
    _check_number(
        "--gravity-min-minutes",
        gravity_min_minutes,
        low=0.0,
        strict=True,
        what="un nombre de minutes",
    )
    selection = _territory_selection(*territory)
    _check_out(out)
    return CheckedInputs(selection, checked_measure, kept, fmt)


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
        profession = profession or core.BPE_PROFESSION  # normalised by _check_inputs
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


@app.command("analyse", cls=FrenchCommand)
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
        int | None,
        typer.Option(metavar="ÂGE", help="Écarter les praticiens de cet âge ou plus."),
    ] = None,
    seed: SeedOpt = 0,
    demo_data: DemoOpt = False,
    out: OutOpt = Path("out"),
    png: Annotated[bool, typer.Option(help="Écrire aussi la carte en image (25×18 cm).")] = True,
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
        typer.Option(
            metavar="FICHIER",
            help="Extrait OpenStreetMap (.osm.pbf, .osm, .osm.gz) : temps de trajet par la route.",
        ),
    ] = None,
    od: Annotated[
        Path | None,
        typer.Option(
            metavar="FICHIER",
            help="Table origine–destination des temps de trajet entre codes communes (OSRM, "
            "INSEE Metric) : longue (origine;destination;minutes) ou matrice carrée avec les "
            "codes en en-têtes, en minutes ou en secondes.",
        ),
    ] = None,
    od_layout: Annotated[
        str | None,
        typer.Option(
            metavar="long|wide",
            help="Disposition de --od : long (une ligne par trajet) ou wide (matrice) ; défaut : "
            "reconnue.",
        ),
    ] = None,
    od_unit: Annotated[
        str | None,
        typer.Option(
            metavar="minutes|seconds",
            help="Unité de --od : minutes ou seconds (secondes) ; défaut : reconnue.",
        ),
    ] = None,
    od_columns: Annotated[
        str,
        typer.Option(
            metavar="O,D,T",
            help="Colonnes d'une table --od longue : origine,destination,temps.",
        ),
    ] = "origin,dest,minutes",
    travel_model: Annotated[
        str,
        typer.Option(
            metavar="fitted|legacy",
            help="Temps à vol d'oiseau : « fitted » (modèle ajusté sur les temps OSRM de "
            "l'Isère) ou « legacy » (distance × 1,3 à 60 km/h).",
        ),
    ] = "fitted",
) -> None:
    """Analyser un territoire : carte (HTML, image), GeoPackage, tableau CSV et résumé JSON.

    Sans -p, les médecins généralistes réels embarqués (avec --demo : praticiens simulés).
    """
    written: list[Path] = []
    try:
        image = _image_choice(
            title, subtitle, (width_cm, height_cm, width_px, height_px), dpi, image_format
        )
        checked = _check_inputs(
            (departement, epci, commune, region, france),
            practitioners,
            file_format,
            profession,
            measure,
            catchment_minutes,
            gravity_min_minutes,
            out,
        )
        measure, profession = checked.measure, checked.profession
        _check_number("--exclude-aged-from", exclude_aged_from, low=1, high=120, what="un âge")
        travel = _travel_choice(od, od_layout, od_unit, od_columns, travel_model, osm)
        dataset = _dataset_of(practitioners, profession, demo_data)
        if dataset == core.BPE_DATASET and exclude_aged_from is not None:
            raise _no_ages("--exclude-aged-from")
        with _reporting() as report:
            territory, pracs, kept = _prepare_inputs(
                checked.selection,
                practitioners,
                dataset,
                checked.file_format,
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
    """Check the travel options up front, with the valid values in the message (any case)."""
    if od is not None and osm is not None:
        raise DataValidationError("--od et --osm s'excluent : choisissez une source de temps")
    layout = None if layout is None else layout.strip().lower()
    unit = None if unit is None else unit.strip().lower()
    model = model.strip().lower()
    _check_file("--osm", osm)
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
    _check_file("--od", od)
    return TravelChoice(od, layout, unit, (names[0], names[1], names[2]), model)


def _parse_additions(values: list[str]) -> list[tuple[str, int]]:
    """``--add`` values: CODE or CODE:N (N ≥ 1 new practitioners at the commune's town hall)."""
    out = []
    for value in values:
        code, _, count = value.partition(":")
        code = code.strip().upper()
        if not re.fullmatch(r"\d{5}|2[AB]\d{3}", code) or (
            count and (not count.strip().isdigit() or int(count) < 1)
        ):
            raise DataValidationError(
                f"--add {value!r} : CODE ou CODE:N attendu (code INSEE de la commune, N entier "
                "≥ 1), par exemple --add 63113:2"
            )
        out.append((code, int(count) if count else 1))
    return out


@app.command("scenario", cls=FrenchCommand)
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
        float | None,
        typer.Option(metavar="ÂGE", help="Les praticiens de cet âge ou plus partent."),
    ] = None,
    horizon_year: Annotated[
        int | None,
        typer.Option(
            metavar="ANNÉE", help="Les praticiens qui auront 67 ans à cette année partent."
        ),
    ] = None,
    add: Annotated[
        list[str] | None,
        typer.Option(
            metavar="CODE[:N]",
            help="Nouveaux praticiens à la mairie d'une commune : CODE ou CODE:N ; répétable.",
        ),
    ] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option(metavar="ID", help="Identifiant d'un praticien qui part ; répétable."),
    ] = None,
    population_factor: Annotated[
        float | None,
        typer.Option(metavar="FACTEUR", help="Multiplier la population du territoire (> 0)."),
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
    """Scénario sur un territoire : départs, arrivées de praticiens, population qui change.

    Les départs à la retraite demandent l'âge des praticiens : les médecins réels (INSEE BPE)
    ne l'ont pas ; utilisez --demo ou un fichier avec les âges, ou nommez avec --remove les
    médecins qui partent.
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
        checked = _check_inputs(
            (departement, epci, commune, region, france),
            practitioners,
            file_format,
            profession,
            measure,
            catchment_minutes,
            gravity_min_minutes,
            out,
        )
        measure, profession = checked.measure, checked.profession
        _check_number("--retire-age", retire_age, low=0, strict=True, high=120, what="un âge")
        _check_number("--horizon-year", horizon_year, low=2000, high=2100, what="une année")
        _check_number("--population-factor", population_factor, low=0, strict=True)
        if remove and not all(r.strip() for r in remove):
            raise DataValidationError("--remove : un identifiant de praticien vide")
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
                "aucun changement : donnez --retire-age, --horizon-year, --add, --remove ou "
                "--population-factor"
            )
        with _reporting() as report:  # also shows the engine's warnings as notes
            territory, pracs, kept = _prepare_inputs(
                checked.selection,
                practitioners,
                dataset,
                checked.file_format,
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


@app.command("site", cls=FrenchCommand)
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
    k: Annotated[
        int, typer.Option("--k", "-k", metavar="ENTIER", help="Nombre de sites (≥ 1).")
    ] = 3,
    n_per_site: Annotated[
        int, typer.Option(metavar="ENTIER", help="Praticiens par site (≥ 1).")
    ] = 1,
    objective: Annotated[
        str,
        typer.Option(
            metavar="OBJECTIF",
            help=f"Objectif : {', '.join(OBJECTIVES)} (population dans la classe la plus "
            "faible, manque, gain pondéré, couverture).",
        ),
    ] = "gap_population",
    candidates: Annotated[
        list[str] | None,
        typer.Option(
            "--candidates",
            metavar="CANDIDAT",
            help="Site candidat : un code commune, ou une adresse LIBELLÉ:LON:LAT (WGS 84), "
            "ex. 'Maison de santé:3.08:45.77' ; répétable (défaut : toutes les communes).",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(metavar="CODE", help="Code d'une commune à ne jamais proposer ; répétable."),
    ] = None,
    per_site: Annotated[
        list[str] | None,
        typer.Option(
            "--practitioners-per-site",
            metavar="CANDIDAT=N",
            help="Un autre nombre de praticiens pour un candidat (code ou libellé) ; répétable.",
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            metavar="greedy|milp",
            help="greedy (glouton) ou milp (exact, objectif max_coverage seulement).",
        ),
    ] = "greedy",
    coverage_minutes: Annotated[
        float,
        typer.Option(
            metavar="MINUTES",
            help="Objectif max_coverage : le temps en deçà duquel un habitant est couvert (> 0).",
        ),
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
    """Proposer où k nouveaux sites de n praticiens aident le plus : carte, GeoPackage, résumé."""
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
        checked = _check_inputs(
            (departement, epci, commune, region, france),
            practitioners,
            file_format,
            profession,
            measure,
            catchment_minutes,
            gravity_min_minutes,
            out,
        )
        measure, profession = checked.measure, checked.profession
        _check_number("-k", k, low=1, what="un nombre entier de sites")
        _check_number("--n-per-site", n_per_site, low=1, what="un nombre entier de praticiens")
        _check_number(
            "--coverage-minutes", coverage_minutes, low=0, strict=True, what="un nombre de minutes"
        )
        method = method.strip().lower()
        if method not in ("greedy", "milp"):
            raise DataValidationError(f"--method {method!r} inconnue : greedy ou milp")
        objective = objective.strip().lower()
        if objective not in OBJECTIVES:
            raise DataValidationError(
                f"--objective {objective!r} inconnu ; valeurs possibles {', '.join(OBJECTIVES)}"
            )
        site_candidates = _site_candidates(candidates)
        capacities = _per_site(per_site)
        dataset = _dataset_of(practitioners, profession, demo_data)
        with _reporting() as report:  # also shows the engine's warnings as notes
            territory, pracs, kept = _prepare_inputs(
                checked.selection,
                practitioners,
                dataset,
                checked.file_format,
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


@app.command("diaporama", cls=FrenchCommand)
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
        _check_number("--horizon", horizon, low=2000, high=2100, what="une année")
        selection = _territory_selection(departement, epci, commune, region, france)
        _check_out(out)
        dataset = _dataset_of(None, None, demo_data)
        with _reporting() as report:
            territory, pracs, _ = _prepare_inputs(
                selection,
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


_DB_OPTION = typer.Option(
    "--db",
    metavar="FICHIER",
    help="Base SQLite (défaut ./var/cartosoins.sqlite3) ; une base PostgreSQL se donne par "
    "CARTOSOINS_DATABASE_URL.",
)
_DATA_DIR_OPTION = typer.Option(
    metavar="DOSSIER",
    help="Dossier des fichiers déposés et calculés (défaut : à côté de la base SQLite ; "
    "obligatoire avec PostgreSQL, partagé par tous les processus).",
)


def _service_settings(overrides: dict[str, object]) -> Any:
    """Read the service's settings: CARTOSOINS_* environment, then the command's options.

    A ``--db`` file given on the command line wins over a ``CARTOSOINS_DATABASE_URL``.
    """
    from pydantic import ValidationError

    from api.settings import Settings

    values = {key: value for key, value in overrides.items() if value is not None}
    if "database_path" in values:
        values["database_url"] = None
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(_setting_problem(e) for e in exc.errors())
        _print_error(DataValidationError(f"configuration (CARTOSOINS_*) : {problems}"))
        raise typer.Exit(code=2) from exc


def _setting_problem(error: Any) -> str:
    """Say what is wrong with a setting, never showing a database URL's password."""
    where = ".".join(map(str, error["loc"]))
    message = str(error["msg"]).removeprefix("Value error, ")
    if not where:  # a rule across settings: its message names them
        return message
    value = error.get("input")
    if where == "database_url" and isinstance(value, str):
        from sqlalchemy.engine import make_url

        try:
            value = make_url(value).render_as_string(hide_password=True)
        except Exception:
            value = "…"
    return f"{where} = {value!r} refusé (détail : {message})"


def _open_database(settings: Any) -> Any:
    """Open (and migrate) the service's database, a French error when it cannot be."""
    from sqlalchemy.exc import SQLAlchemyError

    from api.db import Database

    try:
        return Database(settings.database_target, pool_size=settings.db_pool_size)
    except (SQLAlchemyError, OSError, RuntimeError) as exc:
        message = f"base de données {_where(settings)} inutilisable : {exc}"
        _print_error(DataValidationError(message))
        raise typer.Exit(code=2) from exc


def _log_service() -> None:
    """Write the service's own INFO lines (jobs claimed, done, taken over) on stderr.

    Only the ``api`` loggers: the libraries keep their levels, uvicorn its own format. No
    name or identifier of a practitioner is ever in these lines (jobs, datasets, workers).
    """
    import logging

    logger = logging.getLogger("api")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _where(settings: Any) -> str:
    """Return the database's URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    from api.db import database_url

    return make_url(database_url(settings.database_target)).render_as_string(hide_password=True)


@app.command("serve", cls=FrenchCommand)
def serve_command(
    host: Annotated[
        str | None, typer.Option(metavar="ADRESSE", help="Adresse d'écoute (défaut 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(metavar="PORT", help="Port, de 1 à 65535 (défaut 8000).")
    ] = None,
    db: Annotated[Path | None, _DB_OPTION] = None,
    data_dir: Annotated[Path | None, _DATA_DIR_OPTION] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            metavar="ENTIER", help="Fils de calcul des analyses en arrière-plan, ≥ 1 (défaut 2)."
        ),
    ] = None,
    no_jobs: Annotated[
        bool,
        typer.Option(
            "--no-jobs",
            help="Ne pas calculer dans ce processus : les processus « cartosoins worker » "
            "s'en chargent (base PostgreSQL partagée).",
        ),
    ] = False,
) -> None:
    """Démarrer le service HTTP (API, cartes, page d'accueil) ; réglages CARTOSOINS_* aussi."""
    try:
        _check_number("--port", port, low=1, high=65535, what="un port")
        _check_number("--threads", threads, low=1, what="un nombre entier de fils")
        if host is not None and not host.strip():
            raise DataValidationError("--host : adresse vide")
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    # the web stack is imported here only: `cartosoins map` and geo/ stay free of it
    import uvicorn

    from api.main import create_app

    settings = _service_settings(
        {
            "host": host,
            "port": port,
            "database_path": db,
            "data_dir": data_dir,
            "worker_threads": threads,
        }
    )
    if no_jobs and not settings.database_is_shared:
        raise _fail(
            DataValidationError(
                "--no-jobs demande une base PostgreSQL partagée (CARTOSOINS_DATABASE_URL) : "
                "avec SQLite, seul ce processus calcule"
            )
        )
    _open_database(settings).close()  # migrated now, or a clear error before listening
    if settings.api_token is None and settings.host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            "[bold yellow]Attention :[/] aucun jeton (CARTOSOINS_API_TOKEN) et une adresse "
            f"{settings.host} joignable d'autres machines : les données privées sont exposées."
        )
    where = _where(settings)
    console.print(f"cartosoins sur http://{settings.host}:{settings.port} — base {where}")
    _log_service()
    uvicorn.run(
        create_app(settings, compute=not no_jobs),
        host=settings.host,
        port=settings.port,
        log_level="info",
    )


@app.command("worker", cls=FrenchCommand)
def worker_command(
    data_dir: Annotated[Path | None, _DATA_DIR_OPTION] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            metavar="ENTIER", help="Fils de calcul des demandes authentifiées (défaut 2)."
        ),
    ] = None,
    public_threads: Annotated[
        int | None,
        typer.Option(
            metavar="ENTIER", help="Fils de calcul des demandes des pages publiques (défaut 1)."
        ),
    ] = None,
) -> None:
    """Lancer un processus de calcul de la file partagée (base PostgreSQL), sans pages.

    Lancez-en autant que voulu, sur une ou plusieurs machines qui voient la même base
    (CARTOSOINS_DATABASE_URL) et le même dossier de fichiers (CARTOSOINS_DATA_DIR). Arrêt par
    SIGTERM ou Ctrl-C : les calculs en cours ont shutdown_grace_seconds pour finir, puis
    retournent dans la file.
    """
    try:
        _check_number("--threads", threads, low=1, what="un nombre entier de fils")
        _check_number("--public-threads", public_threads, low=1, what="un nombre entier de fils")
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    import signal
    import threading

    from api.services import open_services

    settings = _service_settings(
        {
            "data_dir": data_dir,
            "worker_threads": threads,
            "public_worker_threads": public_threads,
        }
    )
    if not settings.database_is_shared:
        raise _fail(
            DataValidationError(
                "cartosoins worker demande une base PostgreSQL partagée "
                "(CARTOSOINS_DATABASE_URL=postgresql://…) ; avec SQLite, cartosoins serve "
                "calcule lui-même"
            )
        )
    _open_database(settings).close()
    _log_service()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    services = open_services(settings)
    where = _where(settings)
    console.print(
        f"cartosoins worker {services.runner.worker_id} — base {where} — "
        f"{settings.worker_threads} + {settings.public_worker_threads} fil(s) de calcul"
    )
    try:
        stop.wait()
    finally:
        console.print("Arrêt : les calculs en cours finissent ou retournent dans la file…")
        services.close()


@app.command("migrate", cls=FrenchCommand)
def migrate_command(db: Annotated[Path | None, _DB_OPTION] = None) -> None:
    """Créer ou mettre à jour le schéma de la base (SQLite ou PostgreSQL), puis s'arrêter."""
    settings = _service_settings({"database_path": db})
    database = _open_database(settings)
    try:
        revision = database.version()
    finally:
        database.close()
    where = _where(settings)
    console.print(f"base {where} : schéma à jour (révision {revision:04d})")


admin_app = typer.Typer(
    name="admin",
    cls=FrenchGroup,
    help="Organisations partenaires et personnes (comptes, rôles, jetons d'API personnels).",
    no_args_is_help=True,
    subcommand_metavar="COMMANDE [ARGS]...",
)
app.add_typer(admin_app)


def _admin_database(db: Path | None) -> Any:
    settings = _service_settings({"database_path": db})
    return _open_database(settings)


@admin_app.command("add-organisation", cls=FrenchCommand)
def admin_add_organisation(
    name: Annotated[str, typer.Argument(metavar="NOM", help="Nom de l'organisation.")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            metavar="TYPE",
            help="communaute_de_communes, pays, departement, region, ars, assurance_maladie, "
            "urps, cpts ou autre.",
        ),
    ] = "autre",
    db: Annotated[Path | None, _DB_OPTION] = None,
) -> None:
    """Créer une organisation partenaire."""
    from api import accounts

    database = _admin_database(db)
    try:
        with database.transaction() as conn:
            org = accounts.create_organisation(conn, name, kind)
            accounts.audit(
                conn,
                accounts.Principal(bootstrap=True),
                "create",
                "organisation",
                org.id,
                name=org.name,
            )
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    finally:
        database.close()
    console.print(f"Organisation « {org.name} » créée ({org.id}).")


@admin_app.command("add-user", cls=FrenchCommand)
def admin_add_user(
    email: Annotated[str, typer.Argument(metavar="COURRIEL", help="Adresse électronique.")],
    organisation: Annotated[
        str, typer.Option("--organisation", metavar="ORGANISATION", help="Nom ou identifiant.")
    ],
    role: Annotated[
        str, typer.Option("--role", metavar="RÔLE", help="admin, editor ou reader.")
    ] = "reader",
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="NOM", help="Nom affiché (défaut : le courriel)."),
    ] = None,
    db: Annotated[Path | None, _DB_OPTION] = None,
) -> None:
    """Créer un compte (ou donner un rôle à un compte existant) dans une organisation.

    Le mot de passe d'un nouveau compte est lu dans CARTOSOINS_NEW_PASSWORD, sinon demandé
    deux fois sans être affiché ; il n'apparaît jamais sur la ligne de commande.
    """
    import os

    from api import accounts

    database = _admin_database(db)
    try:
        with database.transaction() as conn:
            org = accounts.find_organisation(conn, organisation)
            if org is None:
                raise DataValidationError(f"organisation inconnue : {organisation!r}")
            user = accounts.find_user(conn, email.strip().lower())
        created = user is None
        if user is None:
            password = os.environ.get("CARTOSOINS_NEW_PASSWORD") or _ask_password()
            with database.transaction() as conn:
                user = accounts.create_user(conn, email, name or email, password)
        with database.transaction() as conn:
            accounts.add_member(conn, user.id, org.id, role)  # type: ignore[arg-type]
            accounts.audit(
                conn,
                accounts.Principal(bootstrap=True),
                "add_member",
                "organisation",
                org.id,
                user=user.id,
                role=role,
            )
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    finally:
        database.close()
    what = "créé" if created else "existant"
    console.print(f"Compte {what} {user.email} : {role} de « {org.name} ».")


def _ask_password() -> str:
    """Ask a new password twice, hidden; a French error without a terminal."""
    import sys

    if not sys.stdin.isatty():
        raise DataValidationError(
            "mot de passe du nouveau compte : donnez-le dans CARTOSOINS_NEW_PASSWORD "
            "(pas de terminal pour le demander)"
        )
    first = typer.prompt("Mot de passe", hide_input=True)
    if typer.prompt("Mot de passe (encore)", hide_input=True) != first:
        raise DataValidationError("les deux mots de passe diffèrent")
    return str(first)


@admin_app.command("list", cls=FrenchCommand)
def admin_list(db: Annotated[Path | None, _DB_OPTION] = None) -> None:
    """Lister les organisations et leurs membres (rôles)."""
    from api import accounts

    database = _admin_database(db)
    try:
        conn = database.connection()
        found = accounts.list_organisations(conn)
        if not found:
            console.print("Aucune organisation : « cartosoins admin add-organisation NOM ».")
        for org in found:
            kind = accounts.ORGANISATION_KINDS.get(org.kind, org.kind)
            console.print(f"[bold]{org.name}[/] ({kind}, {org.id})")
            for user, role in accounts.list_members(conn, org.id):
                console.print(f"  {role:<7} {user.email} — {user.name}")
    finally:
        database.close()


@admin_app.command("add-token", cls=FrenchCommand)
def admin_add_token(
    email: Annotated[str, typer.Argument(metavar="COURRIEL", help="Le compte du jeton.")],
    organisation: Annotated[
        str, typer.Option("--organisation", metavar="ORGANISATION", help="Nom ou identifiant.")
    ],
    name: Annotated[
        str, typer.Option("--name", metavar="NOM", help="À quoi sert le jeton.")
    ] = "jeton",
    db: Annotated[Path | None, _DB_OPTION] = None,
) -> None:
    """Créer un jeton d'API personnel (affiché une seule fois, conservé haché)."""
    from api import accounts

    database = _admin_database(db)
    try:
        with database.transaction() as conn:
            org = accounts.find_organisation(conn, organisation)
            user = accounts.find_user(conn, email)
            if org is None or user is None:
                raise DataValidationError(
                    f"organisation {organisation!r} ou compte {email!r} inconnu"
                )
            token_id, token = accounts.create_api_token(conn, user.id, org.id, name)
            accounts.audit(
                conn,
                accounts.Principal(bootstrap=True),
                "create",
                "api_token",
                token_id,
                user=user.id,
            )
    except CartosoinsError as exc:
        raise _fail(exc) from exc
    finally:
        database.close()
    console.print(f"Jeton {token_id} pour {user.email} ({org.name}), à conserver :")
    console.print(token, highlight=False, soft_wrap=True)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
