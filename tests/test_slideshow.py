"""The offline slideshow: one self-contained HTML file, keyboard and full screen, French."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import geopandas as gpd
import pytest
from typer.testing import CliRunner

from api.cli import app
from geo.analysis import analyse
from geo.errors import DataValidationError
from geo.maps.slideshow import (
    Slide,
    departure_ids,
    has_ages,
    key_figures,
    save_slideshow,
    slideshow_html,
    territory_slideshow,
)
from geo.offer import load_gp_offer
from geo.reference import load_communes
from geo.territory import Territory, resolve_territory
from tests.browser import OfflineBrowser

GAP = ["05061", "05023", "05052", "05118", "05140", "05153", "05039"]
RUNNER = CliRunner()
REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""")


@pytest.fixture(scope="module")
def gps() -> gpd.GeoDataFrame:
    return load_gp_offer().practitioners()


@pytest.fixture(scope="module")
def slideshow(tmp_path_factory: pytest.TempPathFactory, gps: gpd.GeoDataFrame) -> Path:
    """The slideshow of a few communes; the comparisons computed on Hautes-Alpes only (fast)."""
    territory = resolve_territory(codes=GAP)
    around = analyse(resolve_territory(departements="05"), gps, "apl")
    page = territory_slideshow(territory, gps, horizon_year=2032, national=around)
    return save_slideshow(page, tmp_path_factory.mktemp("diaporama") / "diaporama.html")


def test_one_self_contained_french_file(slideshow: Path) -> None:
    page = slideshow.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and '<html lang="fr">' in page
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert REMOTE.search(text) is None and "cdn" not in text.lower()
    assert page.count('<section class="diapo') == 5
    assert page.count('src="data:image/png;base64,') == 4
    assert "<table" in page and "France métropolitaine" in page
    # the BPE has no ages: the slide says the scenario is a departure hypothesis, at 2032
    said = html.unescape(page)
    assert "ne donnent pas l'âge des médecins" in said and "d'ici 2032" in said
    assert "BPE-" not in page  # never a practitioner's identifier


def test_keyboard_buttons_and_full_screen(slideshow: Path, offline_browser: OfflineBrowser) -> None:
    page, report = offline_browser.open(slideshow, viewport=(1024, 768))
    try:
        page.evaluate(
            "() => { window.__plein = 0; document.documentElement.requestFullscreen = "
            "() => { window.__plein += 1; return Promise.resolve(); }; }"
        )

        def shown() -> list[str]:
            return page.eval_on_selector_all(  # type: ignore[no-any-return]
                ".diapo", "els => els.filter(e => !e.hidden).map(e => e.id)"
            )

        assert shown() == ["diapo-1"]
        steps = [
            ("ArrowRight", 2), ("Space", 3), ("ArrowLeft", 2), ("End", 5),
            ("ArrowRight", 5), ("Home", 1), ("PageDown", 2), ("ArrowLeft", 1),
        ]  # fmt: skip
        for key, expected in steps:
            page.keyboard.press(key)
            assert shown() == [f"diapo-{expected}"], key
            assert page.text_content("#compteur") == f"{expected} / 5"
        page.click("#suivant")
        assert shown() == ["diapo-2"]
        page.keyboard.press("f")
        page.click("#plein-ecran")
        assert page.evaluate("window.__plein") == 2
        assert report.blocked == [] and report.page_errors == [] and report.console_errors == []
    finally:
        page.close()


@pytest.mark.parametrize("viewport", [(1920, 1080), (1024, 768), (800, 450)])
def test_every_slide_fits_the_screen(
    slideshow: Path, offline_browser: OfflineBrowser, viewport: tuple[int, int]
) -> None:
    page, _ = offline_browser.open(slideshow, viewport=viewport)
    try:
        bar = page.locator(".barre").bounding_box()
        assert bar is not None and math.isclose(bar["y"] + bar["height"], viewport[1], abs_tol=1)
        for n in range(1, 6):
            content = page.locator(f"#diapo-{n} img, #diapo-{n} table").first.bounding_box()
            note = page.locator(f"#diapo-{n} .note").bounding_box()
            assert content is not None and note is not None, n
            for box in (content, note):
                assert box["x"] >= -1 and box["x"] + box["width"] <= viewport[0] + 1, n
                assert box["y"] >= -1 and box["y"] + box["height"] <= bar["y"] + 1, n
            assert content["y"] + content["height"] <= note["y"] + 1, n  # note under content
            page.keyboard.press("ArrowRight")
    finally:
        page.close()


def test_key_figures_compare_with_departement_region_france(gps: gpd.GeoDataFrame) -> None:
    national = analyse(Territory(load_communes(), "France", "france"), gps, "apl")
    whole = key_figures(resolve_territory(departements="05"), national, gps)
    assert list(whole.columns)[1:] == [
        "Département : Hautes-Alpes (05)",
        "Région : Provence-Alpes-Côte d'Azur",
        "France métropolitaine",
    ]
    cnam = whole.loc["Médecins généralistes selon la CNAM (2024)"]
    assert cnam.iloc[0] == cnam.iloc[1] == 180  # data/offre: Hautes-Alpes, 2024
    assert cnam.iloc[3] > cnam.iloc[2] > cnam.iloc[1]
    part = resolve_territory(codes=GAP)
    some = key_figures(part, national, gps)
    assert math.isnan(some.iloc[-1, 0])  # not whole départements: no CNAM figure
    assert some.iloc[0, 0] == part.population
    assert some.iloc[1, 0] == gps["commune"].isin(GAP).sum()
    shares = some.iloc[4:6].to_numpy()
    assert ((shares >= 0) & (shares <= 100)).all()


def test_departures_are_drawn_reproducibly(gps: gpd.GeoDataFrame) -> None:
    first = departure_ids(gps, GAP, 0.25, seed=1)
    inside = int(gps["commune"].isin(GAP).sum())
    assert len(first) == round(0.25 * inside)
    assert first == departure_ids(gps, GAP, 0.25, seed=1) != departure_ids(gps, GAP, 0.25)
    assert not has_ages(gps)
    with pytest.raises(DataValidationError, match="entre 0 et 1"):
        departure_ids(gps, GAP, 1.5)


def test_remote_resources_are_refused() -> None:
    with pytest.raises(DataValidationError, match="hors ligne"):
        slideshow_html([Slide("x", '<img src="https://tile.openstreetmap.org/0/0/0.png">')], "t")
    with pytest.raises(DataValidationError, match="aucune diapositive"):
        slideshow_html([], "t")


def test_cli_refuses_a_bad_share(tmp_path: Path) -> None:
    result = RUNNER.invoke(
        app, ["diaporama", "--commune", "05061", "--part-departs", "2", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "entre 0 et 1" in result.output


@pytest.mark.slow
def test_cli_writes_the_slideshow(tmp_path: Path) -> None:
    args = ["diaporama", *[a for c in GAP for a in ("--commune", c)], "--horizon", "2032"]
    result = RUNNER.invoke(app, [*args, "--sites", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("diaporama_*.html")
    page = path.read_text(encoding="utf-8")
    assert page.count('<section class="diapo') == 5 and "France métropolitaine" in page
    assert "2 sites de 2 médecins" in page
