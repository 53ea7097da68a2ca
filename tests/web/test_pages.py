"""The workspace pages over HTTP: login, throttling, logout, CSRF, organisations, API tokens."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from api import accounts
from api.tables import audit_log
from tests.web.conftest import (
    EMAIL,
    PASSWORD,
    Workspace,
    csrf_of,
    log_in,
    open_workspace,
)

FORM_REJECTED = "Formulaire expiré ou invalide : rechargez la page."
WRONG = "Adresse ou mot de passe incorrect."


def _actions(web: Workspace) -> list[str]:
    rows = web.services.db.connection().execute(select(audit_log.c.action, audit_log.c.at))
    return [action for action, _ in sorted(rows, key=lambda r: r[1])]


def _set_cookie(response_headers: list[str], name: str) -> str:
    found = [h for h in response_headers if h.startswith(f"{name}=")]
    assert len(found) == 1, response_headers
    return found[0]


def test_login_sets_an_httponly_samesite_session_cookie_and_opens_the_home(
    web: Workspace,
) -> None:
    response = log_in(web.client)
    assert response.status_code == 303 and response.headers["location"] == "/espace"
    cookie = _set_cookie(response.headers.get_list("set-cookie"), "cartosoins_session")
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes
    assert "max-age=43200" in attributes  # session_ttl_hours = 12
    assert "secure" not in attributes  # plain HTTP here
    home = web.client.get("/espace")
    assert home.status_code == 200
    assert home.headers["cache-control"] == "no-store"
    for text in ("Claire Martin", "Pays du Haut-Allier", "éditeur", "Se déconnecter"):
        assert text in home.text
    assert '<html lang="fr">' in home.text and 'href="#contenu"' in home.text
    assert _actions(web) == ["login"]


def test_the_session_cookie_is_secure_over_https(tmp_path: Path) -> None:
    for web in open_workspace(tmp_path, base_url="https://testserver"):
        response = log_in(web.client)
        cookie = _set_cookie(response.headers.get_list("set-cookie"), "cartosoins_session")
        assert "secure" in [a.strip().lower() for a in cookie.split(";")]


def test_a_wrong_password_and_an_unknown_address_get_the_same_french_message(
    web: Workspace,
) -> None:
    answers = [
        log_in(web.client, password="pas le bon mot de passe"),
        log_in(web.client, email="personne@example.fr"),
    ]
    for answer in answers:
        assert answer.status_code == 400
        assert WRONG in answer.text and 'role="alert"' in answer.text
        assert "cartosoins_session" not in answer.headers.get("set-cookie", "")
        lowered = answer.text.lower()
        assert "inconnu" not in lowered and "mot de passe est" not in lowered
    # the two pages differ only by the address typed and the form's token
    pages = [re.sub(r'value="[^"]*"', 'value=""', a.text) for a in answers]
    assert pages[0] == pages[1]


def test_after_five_wrong_passwords_even_the_right_one_waits(web: Workspace) -> None:
    for _ in range(accounts.FREE_FAILURES):
        assert log_in(web.client, password="une mauvaise phrase de passe").status_code == 400
    throttled = log_in(web.client)
    assert throttled.status_code == 429
    wait_s = int(throttled.headers["retry-after"])
    assert 1 <= wait_s <= accounts.FIRST_DELAY_S
    assert f"Trop de tentatives : réessayez dans {wait_s} s." in throttled.text
    assert "cartosoins_session" not in throttled.headers.get("set-cookie", "")
    assert web.client.get("/espace", follow_redirects=False).status_code == 303


def test_logout_ends_the_session_and_its_cookie(web: Workspace) -> None:
    log_in(web.client)
    old_cookie = web.client.cookies["cartosoins_session"]
    home = web.client.get("/espace")
    response = web.client.post(
        "/deconnexion", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/connexion"
    cleared = _set_cookie(response.headers.get_list("set-cookie"), "cartosoins_session")
    assert "max-age=0" in cleared.lower()
    web.client.cookies.clear()
    web.client.cookies.set("cartosoins_session", old_cookie)
    replayed = web.client.get("/espace", follow_redirects=False)
    assert replayed.status_code == 303 and replayed.headers["location"] == "/connexion"
    assert _actions(web) == ["login", "logout"]


@pytest.mark.parametrize("token", [None, "pas-le-bon-jeton"], ids=["sans", "faux"])
@pytest.mark.parametrize("url", ["/connexion", "/deconnexion", "/compte/jetons", "/organisation"])
def test_a_form_without_its_csrf_token_is_refused_in_french(
    web: Workspace, url: str, token: str | None
) -> None:
    if url != "/connexion":
        log_in(web.client)
    else:
        web.client.get("/connexion")  # the double-submit cookie is set
    data = {"email": EMAIL, "password": PASSWORD, "name": "script", "organisation": "x"}
    if token is not None:
        data["csrf_token"] = token
    refused = web.client.post(url, data=data, follow_redirects=False)
    assert refused.status_code == 403
    assert FORM_REJECTED in refused.text and "text/html" in refused.headers["content-type"]
    assert "cartosoins_session" not in refused.headers.get("set-cookie", "")
    if url != "/connexion":  # nothing happened: still logged in, no token made
        assert web.client.get("/espace").status_code == 200
        assert _actions(web) == ["login"]


def test_the_login_form_needs_its_cookie_not_only_its_field(web: Workspace) -> None:
    token = csrf_of(web.client.get("/connexion").text)
    web.client.cookies.clear()  # a cross-site page cannot send the SameSite=Strict cookie
    refused = web.client.post(
        "/connexion",
        data={"csrf_token": token, "email": EMAIL, "password": PASSWORD},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and FORM_REJECTED in refused.text


@pytest.mark.parametrize("url", ["/espace", "/compte", "/organisation"])
def test_pages_send_nobody_to_the_login_page(web: Workspace, url: str) -> None:
    response = web.client.get(url, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/connexion"
    posted = web.client.post("/compte/jetons", data={"name": "x"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/connexion"


def test_a_personal_token_is_shown_once_listed_without_secret_and_revoked(
    web: Workspace,
) -> None:
    log_in(web.client)
    account = web.client.get("/compte")
    assert "Vous n'avez encore aucun jeton." in account.text
    created = web.client.post(
        "/compte/jetons", data={"csrf_token": csrf_of(account.text), "name": "script QGIS"}
    )
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    secrets = re.findall(r"cs_[A-Za-z0-9_-]{43}", created.text)
    assert len(set(secrets)) == 1 and "il ne sera plus jamais affiché" in created.text
    secret = secrets[0]
    holder = accounts.token_principal(web.services.db.connection(), secret)
    assert holder is not None and holder.user == web.user and holder.role == "editor"

    listed = web.client.get("/compte")
    assert "script QGIS" in listed.text and "actif" in listed.text
    assert secret not in listed.text and "cs_" not in listed.text
    (token_id,) = re.findall(r"/compte/jetons/(tok_[0-9a-f]+)/revoquer", listed.text)
    revoked = web.client.post(
        f"/compte/jetons/{token_id}/revoquer",
        data={"csrf_token": csrf_of(listed.text)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303 and revoked.headers["location"] == "/compte?jeton=revoque"
    after = web.client.get("/compte?jeton=revoque")
    assert "Le jeton a été révoqué." in after.text and "révoqué le" in after.text
    assert "/revoquer" not in after.text
    assert accounts.token_principal(web.services.db.connection(), secret) is None
    again = web.client.post(
        f"/compte/jetons/{token_id}/revoquer", data={"csrf_token": csrf_of(after.text)}
    )
    assert again.status_code == 404 and "déjà révoqué" in again.text
    assert _actions(web) == ["login", "create", "revoke"]


def test_a_member_of_two_organisations_chooses_one(web: Workspace) -> None:
    with web.services.db.transaction() as conn:
        ars = accounts.create_organisation(conn, "ARS Auvergne-Rhône-Alpes", "ars")
        stranger = accounts.create_organisation(conn, "CPTS du Livradois", "cpts")
        accounts.add_member(conn, web.user.id, ars.id, "reader")
    response = log_in(web.client)
    assert response.status_code == 303 and response.headers["location"] == "/organisation"
    first_cookie = web.client.cookies["cartosoins_session"]
    choice = web.client.get("/organisation")
    assert "ARS Auvergne-Rhône-Alpes" in choice.text and "Pays du Haut-Allier" in choice.text
    assert "CPTS du Livradois" not in choice.text
    token = csrf_of(choice.text)
    refused = web.client.post(
        "/organisation", data={"csrf_token": token, "organisation": stranger.id}
    )
    assert refused.status_code == 400 and "pas membre" in refused.text
    chosen = web.client.post(
        "/organisation",
        data={"csrf_token": token, "organisation": ars.id},
        follow_redirects=False,
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/espace"
    assert web.client.cookies["cartosoins_session"] != first_cookie
    home = web.client.get("/espace")
    assert "ARS Auvergne-Rhône-Alpes" in home.text and "lecteur" in home.text
    assert "Changer d'organisation" in home.text
    web.client.cookies.clear()
    web.client.cookies.set("cartosoins_session", first_cookie)
    stale = web.client.get("/espace", follow_redirects=False)
    assert stale.status_code == 303
    assert _actions(web) == ["login", "choose"]


def test_names_are_escaped_and_the_stylesheet_is_served_locally(web: Workspace) -> None:
    with web.services.db.transaction() as conn:
        accounts.create_user(conn, "x@example.fr", "<script>alert(1)</script>", PASSWORD)
        user = accounts.find_user(conn, "x@example.fr")
        assert user is not None
        accounts.add_member(conn, user.id, web.organisation.id, "admin")
    log_in(web.client, email="x@example.fr")
    home = web.client.get("/espace")
    assert "<script>" not in home.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in home.text
    assert "administrateur" in home.text
    (href,) = re.findall(r'<link rel="stylesheet" href="([^"]+)"', home.text)
    assert href.startswith("/static/site.css?v=")
    css = web.client.get(href)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "focus-visible" in css.text and "http" not in css.text


def test_a_logged_in_person_skips_the_login_form(web: Workspace) -> None:
    log_in(web.client)
    response = web.client.get("/connexion", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/espace"


def test_the_pages_run_on_the_database_of_the_db_option(
    web: Workspace, request: pytest.FixtureRequest
) -> None:
    # guards the hooks re-exported by tests/web/conftest.py: without them --db=postgresql
    # would quietly test SQLite again
    shared = request.config.getoption("--db") == "postgresql"
    assert web.services.settings.database_is_shared is shared
