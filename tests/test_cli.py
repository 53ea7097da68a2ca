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
    slug = "epci-246300701"
    html = (tmp_path / f"carte_densite_{slug}.html").read_text(encoding="utf-8")
    assert "praticiens simulés" in html
    assert "Clermont Auvergne Métropole" in html
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html)
    assert not re.search(r"<link[^>]+href=[\"']?https?:", html)
    table = pd.read_csv(tmp_path / f"densite_{slug}.csv", dtype={"code": str})
    assert len(table) == 21
    assert {"code", "nom", "population", "practitioners", "density"} <= set(table.columns)
    summary = json.loads((tmp_path / f"resume_{slug}.json").read_text(encoding="utf-8"))
    assert summary["synthetic"] is True
    assert "simulés" in summary["label"]
    assert summary["practitioners"] == int(table["practitioners"].sum())
    assert summary["population"] == int(table["population"].sum())


def test_map_unknown_territory_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["map", "--departement", "00", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown département code" in result.output
    assert not any(tmp_path.iterdir())


def test_reference_lists() -> None:
    result = runner.invoke(app, ["reference"])
    assert result.exit_code == 0
    assert "Puy-de-Dôme" in result.output
    result = runner.invoke(app, ["reference", "--departement", "63"])
    assert "Clermont Auvergne" in result.output
