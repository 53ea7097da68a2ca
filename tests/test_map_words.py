"""Words of the maps and of the command line: titles, plurals, French numbers."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from geo.maps.choropleth import analysis_spec
from geo.maps.words import (
    count_fr,
    measure_title,
    no_access_label,
    profession_of,
    sites_fr,
)

runner = CliRunner()
NNBSP = "\u202f"


def _flat(output: str) -> str:
    """Console output on one line (rich wraps at 80 columns; U+202F is kept)."""
    return re.sub(r"[ \n]+", " ", output)


@pytest.mark.parametrize(
    ("measure", "profession", "title"),
    [
        ("apl", "medecin_generaliste", "Accès aux médecins généralistes (APL)"),
        ("e2sfca", "infirmier", "Accès aux infirmiers (E2SFCA)"),
        ("2sfca", None, "Accès aux praticiens (2SFCA)"),
        ("nearest", "medecin_generaliste", "Temps d'accès au médecin généraliste le plus proche"),
        ("nearest", "infirmier", "Temps d'accès à l'infirmier le plus proche"),
        ("nearest", "sage_femme", "Temps d'accès à la sage-femme la plus proche"),
        ("density", "infirmier", "Densité d'infirmiers"),
        ("density", "chirurgien_dentiste", "Densité de chirurgiens-dentistes"),
        ("gravity", "masseur_kinesitherapeute", "Potentiel d'accès aux masseurs-kinésithérapeutes"),
    ],
)
def test_titles_name_the_profession_and_the_measure(
    measure: str, profession: str | None, title: str
) -> None:
    assert measure_title(measure, profession).startswith(title)


def test_plurals_agree_and_numbers_are_french() -> None:
    assert count_fr(1, "médecin généraliste", "médecins généralistes") == "1 médecin généraliste"
    assert count_fr(2, "médecin généraliste", "médecins généralistes") == "2 médecins généralistes"
    assert count_fr(0, "praticien") == "0 praticien"
    assert count_fr(12322, "praticien") == f"12{NNBSP}322 praticiens"
    assert sites_fr(3, 1) == "3 sites de 1 praticien"
    assert sites_fr(1, 2, "medecin_generaliste") == "1 site de 2 médecins généralistes"
    assert no_access_label("medecin_generaliste", 20.0) == "aucun médecin à moins de 20 min"
    assert no_access_label("infirmier", 30) == "aucun infirmier à moins de 30 min"
    assert no_access_label("sage_femme", 30) == "aucune sage-femme à moins de 30 min"


def _result(grid3x3: gpd.GeoDataFrame, measure: str, **attrs: object) -> gpd.GeoDataFrame:
    result = grid3x3.assign(value=np.linspace(1.0, 9.0, 9), status="ok")
    result.attrs = {
        "measure": measure,
        "label_fr": "Accessibilité E2SFCA",
        "unit_fr": "praticiens pour 10 000 habitants",
        "parameters": {"catchment_minutes": 30.0, "supply": "headcount"},
        **attrs,
    }
    return result


def test_map_spec_is_worded_for_the_profession(grid3x3: gpd.GeoDataFrame) -> None:
    result = _result(grid3x3, "e2sfca")
    spec, subtitle = analysis_spec(result, "Hautes-Alpes (05)", profession="infirmier")
    assert spec.title == "Accès aux infirmiers (E2SFCA) — Hautes-Alpes (05)"
    assert spec.unit == "infirmiers pour 10 000 habitants"
    assert spec.no_access_label == "aucun infirmier à moins de 30 min"
    assert subtitle == "Zone de recherche : 30 minutes"
    # without a profession given: what the result says of itself (here the caller's attrs)
    spec, _ = analysis_spec(_result(grid3x3, "e2sfca", profession="sage_femme"), "X")
    assert spec.title.startswith("Accès aux sages-femmes (E2SFCA)")
    assert spec.no_access_label == "aucune sage-femme à moins de 30 min"


def test_profession_is_read_from_the_result() -> None:
    gps = {"practitioners": "médecins généralistes libéraux — INSEE BPE, 2017"}
    assert profession_of({"sources": gps}) == "medecin_generaliste"
    assert profession_of({}, np.array(["ok", "aucun médecin à moins de 20 min"])) == (
        "medecin_generaliste"
    )
    assert profession_of({"profession": "infirmier"}) == "infirmier"
    assert profession_of({"sources": {"practitioners": "praticiens simulés"}}) is None


def test_cli_prints_french_numbers_and_agreed_plurals(tmp_path: Path) -> None:
    # 63004 has one real GP (INSEE BPE), Clermont-Ferrand (63113) hundreds
    plural = r"(?:[2-9]|[1-9][\d\u202f]+) médecins généralistes"
    cases = (("63004", "1 médecin généraliste"), ("63113", plural))
    for code, words in cases:
        args = ["map", "--commune", code, "--no-png", "--out", str(tmp_path)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        out = _flat(result.output)
        assert re.search(rf"; {words} dans le territoire", out), out
        assert re.search(r"moyenne pondérée (\d+,\d\d|—) ", out), out
    result = runner.invoke(app, ["reference"])
    assert result.exit_code == 0
    # populations with French thousands: never "52359" or "52,359"
    assert re.search(r"\d{1,3}\u202f\d{3}\u202f\d{3}", result.output), result.output
    assert not re.search(r"\d,\d{3}\b", result.output)


def test_cli_scenario_line_is_french(tmp_path: Path) -> None:
    territory = ["--commune", "63113", "--commune", "63014", "--commune", "63019"]
    departures = ["--remove", "BPE-63113-1", "--remove", "BPE-63113-2"]
    result = runner.invoke(app, ["scenario", *territory, *departures, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    line = re.search(r"» ([\d\u202f]+) → ([\d\u202f]+) ; (\d+) (communes? \w+)", out)
    assert line, out
    assert "," not in line.group(1) and "," not in line.group(2)
    n = int(line.group(3))
    assert line.group(4) == ("commune améliorée" if n < 2 else "communes améliorées")
    assert re.search(r"(0|1) dégradée\.|\d+ dégradées\.", out), out


def test_cli_site_title_and_gains_are_french(tmp_path: Path) -> None:
    territory = ["--commune", "63113", "--commune", "63014", "--commune", "63019"]
    args = ["site", *territory, "-k", "1", "--measure", "density", "--out", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    gains = re.findall(r"gain ([^\s]+)", out)
    assert gains and all("." not in g for g in gains), out
    page = next(tmp_path.glob("carte_sites_*.html")).read_text(encoding="utf-8")
    assert "1 site de 1 praticien" in page and "site(s)" not in page


def test_analysis_results_carry_their_single_profession(grid3x3: gpd.GeoDataFrame) -> None:
    """The engine records the one profession of the practitioners, so every map of the result
    (API, notebooks, CLI alike) says « infirmiers », not « praticiens »."""
    from geo.analysis import analyse
    from geo.maps.choropleth import analysis_spec

    nurses = gpd.GeoDataFrame(
        {"id": ["N1", "N2"], "profession": ["infirmier", "infirmier"]},
        geometry=grid3x3["chef_lieu"].iloc[[0, 4]].to_numpy(),
        crs=grid3x3.crs,
    )
    result = analyse(grid3x3, nurses, "e2sfca")
    assert result.attrs["profession"] == "infirmier"
    assert analysis_spec(result, "Grille")[0].title.startswith("Accès aux infirmiers")
    mixed = nurses.assign(profession=["infirmier", "medecin_generaliste"])
    assert "profession" not in analyse(grid3x3, mixed, "density").attrs
