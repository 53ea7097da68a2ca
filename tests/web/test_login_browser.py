"""A person in Chromium on the real ``cartosoins serve``: log in, create a token, log out.

The organisation and the account are made with the CLI, as an administrator would; the pages
are driven by their roles and labels. Screenshots of each page at 1366×768 and 390×844 go to
the test's folder (and to ``$CARTOSOINS_WEB_SHOTS`` when set) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_server_e2e import ROOT, _free_port, serve
from tests.browser import CHROMIUM, CHROMIUM_FLAGS
from tests.web.conftest import EMAIL, PASSWORD

pytestmark = pytest.mark.sqlite_only(
    reason="the real server on its SQLite file; the pages' queries run on PostgreSQL in "
    "test_pages.py"
)
VIEWPORTS = {"1366": (1366, 768), "390": (390, 844)}


def _cli(db: Path, *args: str) -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT), "CARTOSOINS_NEW_PASSWORD": PASSWORD}
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "admin", *args, "--db", str(db)],
        cwd=db.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: {width}"


def _shoot(page: Any, shots: Path, name: str) -> None:
    _no_sideways_scroll(page)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def _copy_shots(shots: Path) -> None:
    copy_to = os.environ.get("CARTOSOINS_WEB_SHOTS")
    if copy_to:
        Path(copy_to).mkdir(parents=True, exist_ok=True)
        for shot in shots.glob("*.png"):
            shutil.copy2(shot, Path(copy_to) / shot.name)


def _visit(browser: Any, base: str, size: str, shots: Path) -> list[str]:
    """One person's visit at one window size; returns the requests that left the server."""
    outside: list[str] = []
    width, height = VIEWPORTS[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR")

    def route(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{base}/espace")
        assert page.url == f"{base}/connexion"  # nobody logged in
        _shoot(page, shots, f"connexion-{size}")
        page.keyboard.press("Tab")  # the first stop is the skip link
        focused = page.evaluate("() => document.activeElement.textContent.trim()")
        assert focused == "Aller au contenu"

        page.get_by_label("Adresse électronique").fill(EMAIL)
        page.get_by_label("Mot de passe").fill("pas la bonne phrase de passe")
        page.get_by_role("button", name="Se connecter").click()
        page.get_by_role("alert").wait_for()
        assert "Adresse ou mot de passe incorrect." in page.get_by_role("alert").inner_text()
        _shoot(page, shots, f"connexion-erreur-{size}")

        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(f"{base}/espace")
        page.get_by_role("heading", name="Mon espace").wait_for()
        banner = page.get_by_role("banner").inner_text()
        assert "Claire Martin" in banner and "Pays du Haut-Allier" in banner
        assert "éditeur" in banner
        _shoot(page, shots, f"espace-{size}")

        page.get_by_role("link", name="Mon compte", exact=True).click()
        page.wait_for_url(f"{base}/compte")
        page.get_by_label("Nom du jeton").fill(f"script QGIS {size}")
        page.get_by_role("button", name="Créer un jeton").click()
        page.get_by_role("heading", name="Jeton créé").wait_for()
        secret = page.locator("#secret").inner_text().strip()
        assert secret.startswith("cs_") and len(secret) == 46
        _shoot(page, shots, f"jeton-{size}")

        page.goto(f"{base}/compte")
        page.get_by_role("rowheader", name=f"script QGIS {size}").wait_for()
        page.get_by_role("button", name=f"Révoquer le jeton « script QGIS {size} »").wait_for()
        assert secret not in page.content()
        _shoot(page, shots, f"compte-{size}")

        page.get_by_role("button", name="Se déconnecter").click()
        page.wait_for_url(f"{base}/connexion")
        page.goto(f"{base}/compte")
        assert page.url == f"{base}/connexion"
    finally:
        context.close()
    return outside


def test_log_in_create_a_token_and_log_out_in_chromium(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    db = tmp_path / "donnees" / "cartosoins.sqlite3"
    db.parent.mkdir()
    _cli(db, "add-organisation", "Pays du Haut-Allier", "--kind", "pays")
    _cli(db, "add-user", EMAIL, "--organisation", "Pays du Haut-Allier", "--role", "editor",
         "--name", "Claire Martin")  # fmt: skip
    shots = tmp_path / "captures"
    shots.mkdir()
    port = _free_port()
    outside: list[str] = []
    failures: list[BaseException] = []

    def drive(base: str) -> None:
        # its own thread: the session's Playwright (tests/conftest.py offline_browser) may hold
        # an event loop in the main thread, where the sync API refuses to start
        try:
            with sync_api.sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
                )
                try:
                    for size in VIEWPORTS:
                        outside.extend(_visit(browser, base, size, shots))
                finally:
                    browser.close()
        except BaseException as exc:  # re-raised in the test's thread below
            failures.append(exc)

    with serve(db, port, tmp_path / "server.log") as client:
        driver = threading.Thread(target=drive, args=(str(client.base_url).rstrip("/"),))
        driver.start()
        driver.join()
        _copy_shots(shots)
    if failures:
        raise failures[0]
    assert outside == [], f"requests outside the server: {outside}"
    assert len(list(shots.glob("*.png"))) == 5 * len(VIEWPORTS)
