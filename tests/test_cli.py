from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from api.cli import app
from geo.offer import cnam_headcounts, load_gp_offer

runner = CliRunner()
SIMULATED = "praticiens simulés — données de démonstration"


def test_map_writes_offline_map_table_and_summary_on_the_real_gps(tmp_path: Path) -> None:
    bpe = load_gp_offer().source_label
    result = runner.invoke(app, ["map", "--epci", "246300701", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "INSEE BPE" in result.output and "simulés" not in result.output
    assert "CNAM 2024" in result.output
    slug = "density_epci-246300701"
    html = (tmp_path / f"carte_{slug}.html").read_text(encoding="utf-8")
    assert bpe in html and "praticiens simulés" not in html
    assert "Clermont Auvergne Métropole" in html
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html)
    assert not re.search(r"<link[^>]+href=[\"']?https?:", html)
    table = pd.read_csv(tmp_path / f"communes_{slug}.csv", dtype={"code": str})
    assert len(table) == 21
    assert {"code", "nom", "population", "practitioners", "value"} <= set(table.columns)
    assert (table["source_praticiens"] == bpe).all()
    summary = json.loads((tmp_path / f"resume_{slug}.json").read_text(encoding="utf-8"))
    assert summary["synthetic"] is False and summary["label"] is None
    assert summary["dataset"] == "bpe" and "seed" not in summary
    assert summary["source_praticiens"] == summary["sources"]["practitioners"] == bpe
    cnam = cnam_headcounts().set_index("departement").loc["63"]
    [row] = summary["headcounts"]
    assert row["departement"] == "63" and row["embedded_count"] > 0
    assert row["cnam_2024_count"] == int(cnam["medecins_generalistes_2024"])
    assert "CNAM 2024" in summary["headcounts_fr"]
    assert summary["practitioners_in_territory"] == int(table["practitioners"].sum())
    assert summary["population"] == int(table["population"].sum())
    # density = practitioners located in the commune per 10,000 inhabitants
    expected = table["practitioners"] * 10_000 / table["population"]
    assert (abs(table["value"] - expected) < 1e-9).all()


def test_map_demo_is_labelled_and_kept_apart(tmp_path: Path) -> None:
    args = ["map", "--epci", "246300701", "--out", str(tmp_path), "--no-png"]
    result = runner.invoke(app, [*args, "--demo"])
    assert result.exit_code == 0, result.output
    assert "praticiens simulés" in result.output
    slug = "density_epci-246300701_demo"  # never overwrites the real map
    html = (tmp_path / f"carte_{slug}.html").read_text(encoding="utf-8")
    assert "praticiens simulés" in html
    table = pd.read_csv(tmp_path / f"communes_{slug}.csv", dtype={"code": str})
    assert (table["source_praticiens"] == SIMULATED).all()
    summary = json.loads((tmp_path / f"resume_{slug}.json").read_text(encoding="utf-8"))
    assert summary["synthetic"] is True and summary["label"] == SIMULATED
    assert summary["dataset"] == "demo" and summary["seed"] == 0
    assert "headcounts" not in summary
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"carte_{slug}.html",
        f"communes_{slug}.csv",
        f"resume_{slug}.json",
    ]


def test_map_of_a_profession_without_real_data_says_it_is_simulated(tmp_path: Path) -> None:
    args = ["map", "--epci", "246300701", "--profession", "infirmier", "--no-png"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "aucune donnée réelle embarquée pour la profession 'infirmier'" in output
    html = (tmp_path / "carte_density_infirmier_epci-246300701_demo.html").read_text(
        encoding="utf-8"
    )
    assert "praticiens simulés" in html


def test_map_apl_measure(tmp_path: Path) -> None:
    result = runner.invoke(app, ["map", "-d", "15", "--measure", "apl", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "resume_apl_dep-15.json").read_text(encoding="utf-8"))
    assert summary["measure"] == "apl" and summary["synthetic"] is False
    assert summary["parameters"]["activity"] is not None  # headcounts: an activity per GP
    assert summary["unit_fr"] == "consultations par an et par habitant standardisé"
    assert summary["context"]["border_effect"] is True
    html = (tmp_path / "carte_apl_dep-15.html").read_text(encoding="utf-8")
    assert "Accessibilité potentielle localisée" in html
    png = (tmp_path / "carte_apl_dep-15.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 50_000


def test_map_unknown_territory_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["map", "--departement", "00", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "département inconnu : '00'" in result.output
    assert not any(tmp_path.iterdir())
    result = runner.invoke(app, ["map", "-d", "63", "--measure", "foo", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--measure 'foo' : indicateur inconnu" in result.output


def test_reference_lists() -> None:
    result = runner.invoke(app, ["reference"])
    assert result.exit_code == 0
    assert "Puy-de-Dôme" in result.output
    result = runner.invoke(app, ["reference", "--departement", "63"])
    assert "Clermont Auvergne" in result.output


def test_analyse_writes_map_png_geopackage_and_summary_from_a_file(tmp_path: Path) -> None:
    import pyogrio

    source = tmp_path / "médecins.csv"
    source.write_bytes(
        "id;profession;latitude;longitude\n"
        "MG-01;Médecin généraliste;45,7772;3,0870\n"
        "MG-02;medecin_generaliste;45,7800;3,0950\n".encode("cp1252")
    )
    out = tmp_path / "sortie"
    result = runner.invoke(
        app,
        [
            "analyse",
            "--commune",
            "63113",
            "--commune",
            "63014",
            "-p",
            str(source),
            "--measure",
            "2sfca",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    stem = "2sfca_medecin_generaliste_communes-63014-63113"  # the file's profession
    assert (out / f"carte_{stem}.html").read_text(encoding="utf-8").count("<script") > 1
    assert (out / f"carte_{stem}.png").read_bytes().startswith(b"\x89PNG")
    layers = {name for name, _ in pyogrio.list_layers(out / f"communes_{stem}.gpkg")}
    assert layers == {"communes", "metadonnees"}
    summary = json.loads((out / f"resume_{stem}.json").read_text(encoding="utf-8"))
    assert summary["practitioners_in_territory"] == 2 and summary["synthetic"] is False
    assert summary["practitioners_file"] == "médecins.csv"
    assert "100%" in result.output  # the progress bar reached its end


def test_analyse_bad_file_names_row_and_column(tmp_path: Path) -> None:
    source = tmp_path / "faux.csv"
    source.write_text("id;latitude;longitude\nA;45,7;abc\n", encoding="utf-8")
    result = runner.invoke(app, ["analyse", "--commune", "63113", "-p", str(source)])
    assert result.exit_code == 2
    assert "faux.csv: column 'longitude', row 1" in " ".join(result.output.split())


def test_scenario_and_site_on_the_demo(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "scenario",
            "--epci",
            "246300701",
            "--demo",
            "--retire-age",
            "62",
            "--add",
            "63113:2",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(
        (tmp_path / "resume_scenario_apl_epci-246300701_demo.json").read_text(encoding="utf-8")
    )
    assert summary["practitioners_added"] == 2 and summary["label"].startswith("praticiens simulés")
    assert summary["source_praticiens"] == SIMULATED
    assert (tmp_path / "carte_scenario_apl_epci-246300701_demo.html").is_file()
    args = ["site", "--epci", "246300701", "-k", "2", "--demo", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    sites = json.loads((tmp_path / "resume_sites_apl_epci-246300701_demo.json").read_text("utf-8"))
    assert [s["rank"] for s in sites["sites"]] == [1, 2]
    assert sites["synthetic"] is True and sites["source_praticiens"] == SIMULATED
    assert (tmp_path / "communes_sites_apl_epci-246300701_demo.gpkg").is_file()


def test_scenario_and_site_on_the_real_gps(tmp_path: Path) -> None:
    bpe = load_gp_offer().source_label
    territory = ["--commune", "63113", "--commune", "63014", "--commune", "63019"]
    departures = ["--remove", "BPE-63113-1", "--remove", "BPE-63113-2"]
    result = runner.invoke(
        app, ["scenario", *territory, *departures, "--measure", "density", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    stem = "scenario_density_communes-63014-63019-63113"
    summary = json.loads((tmp_path / f"resume_{stem}.json").read_text(encoding="utf-8"))
    assert summary["practitioners_removed"] == 2 and summary["source_praticiens"] == bpe
    assert summary["synthetic"] is False
    result = runner.invoke(
        app, ["site", *territory, "-k", "1", "--measure", "density", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    sites = json.loads(
        (tmp_path / "resume_sites_density_communes-63014-63019-63113.json").read_text("utf-8")
    )
    assert sites["source_praticiens"] == bpe and sites["synthetic"] is False


@pytest.mark.parametrize("option", [["--retire-age", "62"], ["--horizon-year", "2030"]])
def test_retirements_on_the_real_gps_say_what_to_do(tmp_path: Path, option: list[str]) -> None:
    args = ["scenario", "--epci", "246300701", *option, "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert f"{option[0]} demande l'âge des praticiens" in output
    assert "--demo" in output and "RPPS" in output
    assert not any(tmp_path.iterdir())
    result = runner.invoke(
        app, ["analyse", "--epci", "246300701", "--exclude-aged-from", "65", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--exclude-aged-from demande" in " ".join(result.output.split())


def test_demo_and_a_file_exclude_each_other(tmp_path: Path) -> None:
    source = tmp_path / "mg.csv"
    source.write_text("id;latitude;longitude\nA;45.77;3.08\n", encoding="utf-8")
    result = runner.invoke(app, ["analyse", "--commune", "63113", "-p", str(source), "--demo"])
    assert result.exit_code == 2 and "s'excluent" in result.output


def test_scenario_without_change_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scenario", "--epci", "246300701", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "aucun changement" in result.output


def test_serve_help_and_bad_settings() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--db" in result.output
    result = runner.invoke(app, ["serve", "--port", "70000"])
    assert result.exit_code == 2 and "port" in result.output


def test_cli_does_not_import_the_web_stack() -> None:
    import subprocess
    import sys

    code = (
        "import sys, api.cli; print(sorted({'fastapi', 'uvicorn', 'starlette'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_analyse_by_road_with_an_osm_extract(shared_data: Path, tmp_path: Path) -> None:
    cabinets = tmp_path / "cabinets.csv"
    cabinets.write_text(
        "id;latitude;longitude;profession\n"
        "P1;43.7318;7.4213;medecin_generaliste\n"
        "P2;43.7035;7.4050;medecin_generaliste\n",
        encoding="utf-8",
    )
    osm = shared_data / "osm" / "monaco.osm.pbf"
    args = ["analyse", "--commune", "06012", "--commune", "06032", "-p", str(cabinets)]
    result = runner.invoke(
        app, [*args, "--measure", "nearest", "--osm", str(osm), "--out", str(tmp_path), "--no-png"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(
        (tmp_path / "resume_nearest_medecin_generaliste_communes-06012-06032.json").read_text(
            encoding="utf-8"
        )
    )
    assert summary["travel"]["method"] == "road"
    assert summary["travel"]["osm_file"] == "monaco.osm.pbf"


@pytest.mark.shared_data
def test_analyse_on_a_real_osrm_matrix(tmp_path: Path, shared_data: Path) -> None:
    matrix = shared_data / "od" / "isere_osrm_car_seconds_neocarto.csv"
    args = ["analyse", "-d", "38", "--od", str(matrix), "--out", str(tmp_path), "--no-png"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "resume_apl_dep-38.json").read_text(encoding="utf-8"))
    travel = summary["travel"]
    assert travel["method"] == "od_table"
    assert (travel["layout"], travel["unit"]) == ("wide", "seconds")
    stated = runner.invoke(app, [*args, "--od-unit", "minutes", "--out", str(tmp_path / "m")])
    assert stated.exit_code == 0, stated.output
    as_minutes = json.loads((tmp_path / "m" / "resume_apl_dep-38.json").read_text(encoding="utf-8"))
    assert as_minutes["travel"]["unit_from"] == "stated"
    # read as minutes, every time is 60 times longer: far fewer GPs within 20 minutes
    assert (
        as_minutes["summary"]["communes_without_supply"]
        > summary["summary"]["communes_without_supply"]
    )


def test_travel_options_are_checked_before_computing(tmp_path: Path) -> None:
    base = ["analyse", "--commune", "63113", "--out", str(tmp_path), "--no-png"]
    bad_unit = runner.invoke(app, [*base, "--od", str(tmp_path), "--od-unit", "heures"])
    assert bad_unit.exit_code == 2 and "minutes, seconds" in bad_unit.output
    bad_model = runner.invoke(app, [*base, "--travel-model", "osrm"])
    assert bad_model.exit_code == 2 and "fitted, legacy" in bad_model.output
    legacy = runner.invoke(app, [*base, "--travel-model", "legacy"])
    assert legacy.exit_code == 0, legacy.output
    summary = json.loads((tmp_path / "resume_apl_communes-63113.json").read_text("utf-8"))
    assert summary["travel"]["model"] == "legacy"


def test_gravity_on_the_real_gps_at_town_halls(tmp_path: Path) -> None:
    args = ["analyse", "--commune", "63113", "--measure", "gravity", "--no-png"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(next(tmp_path.glob("resume_*.json")).read_text(encoding="utf-8"))
    assert summary["parameters"]["min_minutes"] == 4.0
    result = runner.invoke(app, [*args, "--gravity-min-minutes", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2  # refused before computing: a weight 1/0 would be infinite
    assert "--gravity-min-minutes 0.0 : un nombre de minutes > 0 attendu" in _flat_words(
        result.output
    )


def test_site_takes_the_engine_options(tmp_path: Path) -> None:
    args = ["site", "-d", "15", "-k", "2", "--objective", "shortfall", "--out", str(tmp_path)]
    args += ["--candidates", "15014", "--candidates", "MSP de Dienne:2,79:45,14"]
    args += ["--candidates", "15187", "--exclude", "15187", "--practitioners-per-site", "15014=3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(next(tmp_path.glob("resume_sites_*.json")).read_text(encoding="utf-8"))
    assert summary["objective"] == "shortfall"
    assert {s["code"] for s in summary["sites"]} == {"15014", "MSP de Dienne"}  # not 15187
    base = args[:7]  # site -d 15 -k 2 --objective shortfall
    bad = runner.invoke(app, [*base, "--candidates", "Maison:abc:45", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "LIBELLÉ:LON:LAT" in _flat(bad.output)
    bad = runner.invoke(app, [*base, "--method", "exact", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "--method'exact'inconnue" in _flat(bad.output)


def _flat(output: str) -> str:
    """The CLI's text without the error box's borders and line breaks."""
    return "".join(output.replace("│", "").split())


def test_a_file_with_several_professions_needs_one_and_names_it(tmp_path: Path) -> None:
    """Issue #16: a mixed file is refused with what it holds; each profession chosen (any case)
    writes its own files, never overwriting the other's."""
    source = tmp_path / "cabinets.csv"
    source.write_text(
        "id;profession;latitude;longitude\n"
        "A;medecin_generaliste;45.7772;3.0870\n"
        "B;infirmier;45.7800;3.0950\n"
        "C;infirmier;45.7810;3.0960\n",
        encoding="utf-8",
    )
    base = ["analyse", "--commune", "63113", "-p", str(source), "--measure", "density", "--no-png"]
    base += ["--out", str(tmp_path)]
    refused = runner.invoke(app, base)
    assert refused.exit_code != 0
    said = " ".join(refused.output.split())
    assert "medecin_generaliste" in said and "infirmier" in said and "--profession" in said
    assert not list(tmp_path.glob("carte_*"))  # nothing computed
    for asked, code in (("INFIRMIER", "infirmier"), ("Medecin_Generaliste", "medecin_generaliste")):
        done = runner.invoke(app, [*base, "--profession", asked])
        assert done.exit_code == 0, done.output
        summary = json.loads(
            (tmp_path / f"resume_density_{code}_communes-63113.json").read_text(encoding="utf-8")
        )
        assert summary["practitioners_in_territory"] == (2 if code == "infirmier" else 1)
    assert len(list(tmp_path.glob("carte_density_*_communes-63113.html"))) == 2


# --------------------------------------------------------------------------------------------
# Issue #16, point 2: every option checked before computing; the CLI speaks French
# --------------------------------------------------------------------------------------------
def _flat_words(output: str) -> str:
    """The CLI's text on one line: rich's box borders and line breaks become single spaces."""
    return " ".join(output.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any territory loading, file reading or computation fail loudly: the options must
    be refused before the engine is reached."""

    def called(*args: object, **kwargs: object) -> None:
        raise AssertionError("the engine was called before the options were checked")

    import api.cli
    import api.core
    import geo.analysis

    monkeypatch.setattr(api.core, "resolve", called)
    monkeypatch.setattr(api.core, "prepare_analysis", called)
    monkeypatch.setattr(api.core, "builtin_practitioners", called)
    monkeypatch.setattr(geo.analysis, "prepare", called)
    monkeypatch.setattr(api.cli, "analyse", called)
    monkeypatch.setattr(api.cli, "read_practitioners", called)


def test_measure_in_capitals_is_accepted(tmp_path: Path) -> None:
    args = ["map", "--commune", "63113", "--measure", "APL", "--no-png", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "resume_apl_communes-63113.json").read_text("utf-8"))
    assert summary["measure"] == "apl"


@pytest.mark.parametrize("command", ["map", "analyse", "scenario", "site"])
def test_unknown_measure_is_refused_before_computing_with_the_valid_ones(
    tmp_path: Path, no_engine: None, command: str
) -> None:
    out = tmp_path / "sortie"
    args = [command, "-d", "63", "--measure", "foo"]
    if command == "scenario":
        args += ["--add", "63113"]  # a valid change: only the measure is wrong
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    said = _flat_words(result.output)
    assert "--measure 'foo' : indicateur inconnu" in said
    from geo.analysis import MEASURES

    assert all(code in said for code in MEASURES)
    assert not out.exists()  # nothing written, nothing computed (no_engine)


@pytest.mark.parametrize("command", ["map", "analyse"])
def test_unknown_profession_lists_every_profession_before_computing(
    tmp_path: Path, no_engine: None, command: str
) -> None:
    args = [command, "--commune", "63113", "--profession", "xyz", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    said = _flat_words(result.output)
    assert "--profession 'xyz' : profession inconnue" in said
    for code in ("medecin_generaliste", "infirmier", "sage_femme", "chirurgien_dentiste"):
        assert code in said
    assert not any(tmp_path.iterdir())


def test_profession_in_any_case_on_the_built_in_data(tmp_path: Path) -> None:
    args = ["map", "--epci", "246300701", "--profession", "INFIRMIER", "--no-png"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "carte_density_infirmier_epci-246300701_demo.html").is_file()


@pytest.mark.parametrize("command", ["map", "analyse", "diaporama", "reference"])
def test_departement_20_says_corsica_is_2a_and_2b(
    tmp_path: Path, no_engine: None, command: str
) -> None:
    extra = [] if command == "reference" else ["--out", str(tmp_path)]
    result = runner.invoke(app, [command, "-d", "20", *extra])
    assert result.exit_code == 2, result.output
    said = _flat_words(result.output)
    assert "département inconnu : '20'" in said
    assert "2A (Corse-du-Sud)" in said and "2B (Haute-Corse)" in said
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("territory", "words"),
    [
        (["-d", "00"], "codes possibles : 01 à 19, 2A, 2B, 21 à 95, 971 à 974, 976"),
        (["-d", "Puy-de-Dôme"], "se désigne par son code : 63"),
        (["--epci", "999"], "EPCI inconnu : '999' ; un EPCI se désigne par son numéro SIREN"),
        (["--region", "99"], "région inconnue : '99' ; codes INSEE possibles : 01 (Guadeloupe)"),
        (["--commune", "6311"], "commune inconnue : '6311'"),
        (["--commune", "63113", "-d", "63"], "un seul critère"),
        ([], "aucun territoire"),
    ],
)
def test_unknown_territory_codes_are_refused_up_front(
    tmp_path: Path, no_engine: None, territory: list[str], words: str
) -> None:
    result = runner.invoke(app, ["analyse", *territory, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert words in _flat_words(result.output)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["analyse", "--catchment-minutes", "-5"], "--catchment-minutes -5.0 : un nombre"),
        (["analyse", "--exclude-aged-from", "0"], "--exclude-aged-from 0 : un âge ≥ 1"),
        (["analyse", "--osm", "absent.osm.pbf"], "--osm absent.osm.pbf : fichier introuvable"),
        (["analyse", "--format", "xls"], "--format 'xls' : format inconnu"),
        (["site", "-k", "0"], "-k 0 : un nombre entier de sites ≥ 1 attendu"),
        (["site", "--n-per-site", "0"], "--n-per-site 0 : un nombre entier de praticiens ≥ 1"),
        (["site", "--coverage-minutes", "0"], "--coverage-minutes 0.0 : un nombre de minutes > 0"),
        (["site", "--objective", "best"], "valeurs possibles gap_population, shortfall"),
        (["scenario", "--population-factor", "0", "--demo"], "--population-factor 0.0"),
        (["scenario", "--add", "Clermont"], "--add 'Clermont' : CODE ou CODE:N attendu"),
        (["diaporama", "--horizon", "1900"], "--horizon 1900 : une année ≥ 2"),
    ],
)
def test_numbers_and_choices_out_of_range_are_refused_before_computing(
    tmp_path: Path, no_engine: None, args: list[str], words: str
) -> None:
    out = tmp_path / "sortie"
    result = runner.invoke(app, [*args, "--commune", "63113", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert words in _flat_words(result.output)
    assert not out.exists()


def test_serve_checks_its_port_in_french() -> None:
    result = runner.invoke(app, ["serve", "--port", "70000"])
    assert result.exit_code == 2
    said = _flat_words(result.output)
    assert "--port 70000 : un port ≥ 1 et ≤ 65" in said and "Input should" not in said


#: English sentences typer, click or the former help printed.
ENGLISH = (
    "Usage:",
    "Show this message and exit",
    "[default:",
    "Commands",
    "Output folder",
    "Use the simulated",
    "Département code(s)",
    "EPCI SIREN code(s)",
    "Seed of the",
    "Measure:",
    "Catchment in minutes",
    "Number of sites",
    "Practitioners per site",
    "Practitioners file",
    "Format of the file",
    "Address (default",
    "Start the HTTP service",
    "Map a measure",
    "Analyse a territory",
    "Recommend where",
    "List départements",
    "Health-care offer",
    "<str>",
    "<int>",
    "<float>",
    "<bool>",
    "<list[str]>",
)


@pytest.mark.parametrize(
    "command", [None, "map", "reference", "analyse", "scenario", "site", "diaporama", "serve"]
)
def test_help_is_in_french(command: str | None) -> None:
    result = runner.invoke(app, [*([command] if command else []), "--help"])
    assert result.exit_code == 0, result.output
    said = _flat_words(result.output)
    assert not [words for words in ENGLISH if words in said], said
    assert "Utilisation : cartosoins" in said and "Afficher cette aide et quitter." in said
    if command is None:
        assert "Commandes" in said
    elif command not in ("reference", "serve"):
        assert "[défaut :" in said and "Dossier où écrire les fichiers" in said


@pytest.mark.parametrize(
    ("args", "french", "english"),
    [
        (["map", "--foo"], "Erreur : option inconnue : --foo", "No such option"),
        (
            ["site", "-k", "abc"],
            "Erreur : valeur invalide pour --k / -k : un nombre entier est attendu",
            "Invalid value",
        ),
        (["map", "-d"], "Erreur : l'option -d attend une valeur", "requires an argument"),
        (["map", "--png=3"], "l'option --png ne prend pas de valeur", "does not take"),
        (["mapp"], "Erreur : commande inconnue : 'mapp' ; vouliez-vous dire 'map' ?", "No such"),
        (["map", "de trop"], "Erreur : argument en trop : de trop", "unexpected extra"),
        (
            ["analyse", "-p", "absent.csv"],
            "valeur invalide pour --practitioners / -p : 'absent.csv' n'existe pas",
            "does not exist",
        ),
    ],
)
def test_click_usage_errors_are_in_french(args: list[str], french: str, english: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    said = _flat_words(result.output)
    assert french in said, said
    assert english not in said and "Error" not in said and "Try '" not in said
    if args not in (["map", "-d"], ["map", "--png=3"]):  # click gives these no context
        assert "Utilisation : cartosoins" in said and "pour l'aide" in said


def test_missing_option_and_an_escaping_engine_error_are_french_not_tracebacks() -> None:
    """A required option (the app has none yet) and an engine error a command lets through,
    on the group class of ``cartosoins``."""
    from api.cli import FrenchCommand, FrenchGroup
    from geo.errors import DataValidationError

    other = typer.Typer(cls=FrenchGroup)

    @other.command("a", cls=FrenchCommand)
    def needs(code: Annotated[str, typer.Option("--code")]) -> None:
        raise DataValidationError(f"code {code!r} : message du moteur")

    @other.command("b", cls=FrenchCommand)
    def other_command() -> None:  # a second command: a group, as cartosoins
        """Rien."""

    missing = runner.invoke(other, ["a"])
    assert missing.exit_code == 2
    assert "Erreur : option manquante : --code" in _flat_words(missing.output)
    assert "Missing option" not in missing.output
    failed = runner.invoke(other, ["a", "--code", "x"])
    assert failed.exit_code == 2 and isinstance(failed.exception, SystemExit)
    assert "Erreur : code 'x' : message du moteur" in _flat_words(failed.output)
    assert "Traceback" not in failed.output


def test_an_unknown_commune_found_when_loading_is_said_in_french(tmp_path: Path) -> None:
    result = runner.invoke(app, ["map", "--commune", "99999", "--no-png", "--out", str(tmp_path)])
    assert result.exit_code == 2
    said = _flat_words(result.output)
    assert "Erreur : commune inconnue : '99999'" in said and "pas par son code postal" in said
    assert "unknown" not in said


def test_installed_command_help_is_in_french() -> None:
    import os
    import subprocess
    import sys

    script = Path(sys.executable).with_name("cartosoins")
    if not script.is_file():
        pytest.skip(f"console script {script} absent: pip install -e . installs it")
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    said = _flat_words(done.stdout)
    assert "Utilisation : cartosoins" in said and "Commandes" in said
    assert "Afficher cette aide et quitter." in said
    assert "Show this message" not in said and "Usage:" not in said
