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
