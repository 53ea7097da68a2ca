"""Images for slides: page sizes in cm or px, chosen titles, before / after side by side, CLI."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from matplotlib.collections import PathCollection
from PIL import Image
from typer.testing import CliRunner

from api.cli import app
from geo.analysis import AccessProblem, prepare
from geo.errors import DataValidationError
from geo.maps.compare import sites_for_map
from geo.maps.figures import page_size, save_figure, scenario_figure, titled_static_map
from geo.maps.static import static_map_bytes
from geo.offer import load_gp_offer
from geo.scenario import Scenario
from geo.territory import resolve_territory


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


#: A few communes around Gap (Hautes-Alpes): small enough for fast tests, real GPs.
GAP = ["05061", "05023", "05052", "05118", "05140", "05153", "05039"]


@pytest.fixture(scope="module")
def problem() -> AccessProblem:
    territory = resolve_territory(codes=GAP)
    return prepare(territory, load_gp_offer().practitioners(), "apl")


# --- page sizes ---------------------------------------------------------------------------


def test_page_in_pixels_gives_those_pixels() -> None:
    page = page_size(width_px=1920, height_px=1080, dpi=150)
    assert page.pixels == (1920, 1080)
    assert page.width_cm == pytest.approx(1920 / 150 * 2.54)


def test_one_side_keeps_the_default_proportions() -> None:
    assert page_size(width_cm=50).height_cm == pytest.approx(36)
    assert page_size(height_px=900, dpi=100, default=(16, 9)).pixels == (1600, 900)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"width_cm": 20, "height_px": 400}, "pas les deux"),
        ({"width_cm": 3}, "au moins 5 cm"),
        ({"width_px": 200, "dpi": 200}, "au moins 5 cm"),
        ({"width_cm": 300, "dpi": 600}, "au plus 16"),
        ({"width_cm": -1}, "nombre positif"),
        ({"dpi": float("nan")}, "nombre positif"),
    ],
)
def test_bad_sizes_are_refused_in_french(kwargs: dict[str, float], words: str) -> None:
    with pytest.raises(DataValidationError, match=words):
        page_size(**kwargs)  # type: ignore[arg-type]


def test_messages_name_the_option_given() -> None:
    with pytest.raises(DataValidationError, match="--largeur-cm"):
        page_size(width_cm=2, labels={"width_cm": "--largeur-cm"})


# --- figures ------------------------------------------------------------------------------


def test_titled_map_uses_the_title_size_and_format(problem: AccessProblem) -> None:
    fig = titled_static_map(
        problem.result(),
        "Gap",
        title="Réunion publique du 3 mars",
        subtitle="",
        page=page_size(width_px=800, height_px=450, dpi=100),
    )
    png = Image.open(io.BytesIO(static_map_bytes(fig, "png")))
    assert png.size == (800, 450)
    svg = static_map_bytes(fig, "svg").decode()
    assert "Réunion publique du 3 mars" in svg  # the page's title (metadata)
    texts = [t.get_text() for t in fig.texts]
    assert any("Réunion publique" in t for t in texts)
    assert not any("Zone de recherche" in t for t in texts)  # subtitle "" removes it


def _panel_colours(fig: object) -> list[np.ndarray]:
    axes = [ax for ax in fig.axes if ax.get_title()]  # type: ignore[attr-defined]
    assert len(axes) == 2
    return [ax.collections[0].get_facecolors() for ax in axes]


def test_before_after_share_classes_and_one_legend(problem: AccessProblem, tmp_path: Path) -> None:
    gps = load_gp_offer().practitioners()
    ids = gps.loc[gps["commune"].isin(GAP), "id"].tolist()  # every GP of the 7 communes
    outcome = Scenario().remove_practitioners(ids).apply(problem)
    communes = outcome.communes
    fig = scenario_figure(communes, "Gap", scenario=f"départ de {len(ids)} médecins")
    before, after = _panel_colours(fig)
    assert before.shape == after.shape == (len(communes), 4)
    # one classification: a value gives the same colour on both panels
    values = np.concatenate([communes["before"], communes["after"]])
    colours = np.concatenate([before, after])
    for value in np.unique(values):
        assert len(np.unique(colours[values == value], axis=0)) == 1
    assert not np.allclose(before, after)  # and the departures show
    assert len(fig.legends) == 1
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["Avant", "Après"]
    texts = " ".join(t.get_text() for t in fig.texts)
    assert f"départ de {len(ids)} médecins" in texts and "Sources" in texts
    path = save_figure(fig, tmp_path / "avant_apres.png")
    assert _size(path) == (2000, 1125)  # a 16:9 slide at 150 dpi


def test_sites_are_numbered_on_the_after_panel(problem: AccessProblem) -> None:
    from geo.siting import recommend_sites

    found = recommend_sites(problem, 1, 2, "gap_population")
    sites = sites_for_map(found.sites).assign(nom=found.sites["nom"].to_numpy())
    fig = scenario_figure(found.scenario.communes, "Gap", scenario="1 site", sites=sites)
    after = next(ax for ax in fig.axes if ax.get_title() == "Après")
    assert {t.get_text() for t in after.texts} == {"1"}
    assert any(isinstance(c, PathCollection) for c in after.collections)
    assert any("Sites proposés : 1." in t.get_text() for t in fig.texts)


def test_scenario_figure_needs_its_columns(problem: AccessProblem) -> None:
    frame = gpd.GeoDataFrame(problem.result())
    with pytest.raises(DataValidationError, match="colonne"):
        scenario_figure(frame, "Gap", scenario="rien")


# --- command line -------------------------------------------------------------------------

RUNNER = CliRunner()
TERRITORY = [arg for code in GAP for arg in ("--commune", code)]


def test_cli_analyse_image_options(tmp_path: Path) -> None:
    result = RUNNER.invoke(
        app,
        [
            "analyse",
            *TERRITORY,
            "--out",
            str(tmp_path),
            "--titre",
            "Gap et alentours",
            "--largeur-px",
            "960",
            "--hauteur-px",
            "540",
            "--dpi",
            "96",
            "--format-image",
            "svg",
        ],
    )
    assert result.exit_code == 0, result.output
    svg = next(tmp_path.glob("carte_apl_*.svg")).read_text()
    assert "Gap et alentours" in svg
    assert re.search(
        r'width="720(\.0*\d{0,3})?pt" height="405(\.0*\d{0,3})?pt"', svg
    )  # 960 × 540 px at 96 dpi


def test_cli_scenario_and_site_write_an_image(tmp_path: Path) -> None:
    scenario = RUNNER.invoke(
        app, ["scenario", *TERRITORY, "--remove", "BPE-05061-1", "--out", str(tmp_path)]
    )
    assert scenario.exit_code == 0, scenario.output
    assert _size(next(tmp_path.glob("carte_scenario_apl_*.png"))) == (2000, 1125)
    site = RUNNER.invoke(
        app, ["site", *TERRITORY, "-k", "1", "--out", str(tmp_path), "--largeur-cm", "20"]
    )
    assert site.exit_code == 0, site.output
    assert _size(next(tmp_path.glob("carte_sites_apl_*.png")))[0] == 1181  # 20 cm, 150 dpi


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--format-image", "gif"], "valeurs possibles png, svg, pdf"),
        (["--largeur-cm", "20", "--largeur-px", "800"], "pas les deux"),
        (["--hauteur-cm", "2"], "--hauteur-cm"),
    ],
)
def test_cli_refuses_bad_image_options_before_computing(
    tmp_path: Path, args: list[str], words: str
) -> None:
    result = RUNNER.invoke(app, ["map", *TERRITORY, "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert words in " ".join(result.output.split())
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_before_after_figure_title_uses_the_interactive_map_words(problem: AccessProblem) -> None:
    """The side-by-side image and the interactive map title the same way (issue #12, words)."""
    from geo.maps.choropleth import analysis_spec

    gps = load_gp_offer().practitioners()
    ids = gps.loc[gps["commune"].isin(GAP), "id"].tolist()[:1]
    communes = Scenario().remove_practitioners(ids).apply(problem).communes
    fig = scenario_figure(communes, "Gap", scenario="départ de 1 médecin")
    expected = analysis_spec(communes, "Gap")[0].title + " : avant / après"
    assert fig.get_label() == expected
    assert expected.startswith("Accès aux médecins généralistes (APL)")


def test_before_after_figure_classes_a_ratio_like_the_interactive_map() -> None:
    """A data-driven measure (2SFCA): the side-by-side image uses the comparison map's shared
    classes and colours (it had its own classification: an extra empty class, other colours)."""
    from geo.maps.choropleth import analysis_spec, class_scheme
    from geo.maps.compare import shared_spec

    gps = load_gp_offer().practitioners()
    prob = prepare(resolve_territory(codes=GAP), gps, "2sfca")
    ids = gps.loc[gps["commune"].isin(GAP), "id"].tolist()[:3]
    communes = Scenario().remove_practitioners(ids).apply(prob).communes
    fig = scenario_figure(communes, "Gap", scenario="départ de 3 médecins")
    spec = shared_spec(communes, analysis_spec(communes, "Gap")[0], "before", "after")
    _, _, entries = class_scheme(communes.assign(_v=communes["before"]), replace(spec, column="_v"))
    texts = {t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))}
    ranges = re.compile(r"(> )?[\d\u202f,]+( – [\d\u202f,]+)?")
    expected = {label for _, label in entries if ranges.fullmatch(label)}
    assert len(expected) >= 2
    assert {t for t in texts if ranges.fullmatch(t)} == expected
