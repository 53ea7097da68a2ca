from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def test_map_writes_offline_map_table_and_summary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["map", "--epci", "246300701", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    slug = "density_epci-246300701"
    html = (tmp_path / f"carte_{slug}.html").read_text(encoding="utf-8")
    assert "praticiens simulés" in html
    assert "Clermont Auvergne Métropole" in html
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html)
    assert not re.search(r"<link[^>]+href=[\"']?https?:", html)
    table = pd.read_csv(tmp_path / f"communes_{slug}.csv", dtype={"code": str})
    assert len(table) == 21
    assert {"code", "nom", "population", "practitioners", "value"} <= set(table.columns)
    assert (table["source_praticiens"] == "praticiens simulés — données de démonstration").all()
    summary = json.loads((tmp_path / f"resume_{slug}.json").read_text(encoding="utf-8"))
    assert summary["synthetic"] is True
    assert "simulés" in summary["label"]
    assert summary["practitioners_in_territory"] == int(table["practitioners"].sum())
    assert summary["population"] == int(table["population"].sum())
    # density = practitioners located in the commune per 10,000 inhabitants
    expected = table["practitioners"] * 10_000 / table["population"]
    assert (abs(table["value"] - expected) < 1e-9).all()


def test_map_apl_measure(tmp_path: Path) -> None:
    result = runner.invoke(app, ["map", "-d", "15", "--measure", "apl", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "resume_apl_dep-15.json").read_text(encoding="utf-8"))
    assert summary["measure"] == "apl"
    assert summary["unit_fr"] == "consultations par an et par habitant standardisé"
    assert summary["context"]["border_effect"] is True
    html = (tmp_path / "carte_apl_dep-15.html").read_text(encoding="utf-8")
    assert "Accessibilité potentielle localisée" in html
    png = (tmp_path / "carte_apl_dep-15.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 50_000


def test_map_unknown_territory_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["map", "--departement", "00", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown département code" in result.output
    assert not any(tmp_path.iterdir())
    result = runner.invoke(app, ["map", "-d", "63", "--measure", "foo", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "measure 'foo' is not one of" in result.output


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
    stem = "2sfca_communes-63014-63113"
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
        (tmp_path / "resume_scenario_apl_epci-246300701.json").read_text(encoding="utf-8")
    )
    assert summary["practitioners_added"] == 2 and summary["label"].startswith("praticiens simulés")
    assert (tmp_path / "carte_scenario_apl_epci-246300701.html").is_file()
    result = runner.invoke(app, ["site", "--epci", "246300701", "-k", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    sites = json.loads((tmp_path / "resume_sites_apl_epci-246300701.json").read_text("utf-8"))
    assert [s["rank"] for s in sites["sites"]] == [1, 2]
    assert (tmp_path / "communes_sites_apl_epci-246300701.gpkg").is_file()


def test_scenario_without_change_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scenario", "--epci", "246300701", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no change given" in result.output


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
        (tmp_path / "resume_nearest_communes-06012-06032.json").read_text(encoding="utf-8")
    )
    assert summary["travel"]["method"] == "road"
    assert summary["travel"]["osm_file"] == "monaco.osm.pbf"
