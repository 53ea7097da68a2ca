"""Organisations and people on both engines: passwords, sessions, tokens, throttling, audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from api import accounts
from api.db import Database
from api.tables import audit_log, users
from geo.errors import DataValidationError

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
PASSWORD = "une phrase de passe assez longue"


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(tmp_path / "comptes.sqlite3")
        yield database
        database.close()
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create_database("accounts")
    database = Database(url)
    try:
        yield database
    finally:
        database.close()
        server.drop_database(url)


@pytest.fixture
def member(db: Database) -> tuple[accounts.User, accounts.Organisation]:
    with db.transaction() as conn:
        org = accounts.create_organisation(conn, "Pays du Haut-Allier", "pays")
        user = accounts.create_user(conn, " Claire.Martin@Example.FR ", "Claire Martin", PASSWORD)
        accounts.add_member(conn, user.id, org.id, "editor")
    return user, org


def test_passwords_are_argon2id_hashes_never_the_password(
    db: Database, member: tuple[accounts.User, accounts.Organisation]
) -> None:
    user, _ = member
    assert user.email == "claire.martin@example.fr"
    stored = db.connection().execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    with pytest.raises(DataValidationError, match="trop court"):
        accounts.hash_password("court")


def test_names_and_emails_are_unique_in_french(
    db: Database, member: tuple[accounts.User, accounts.Organisation]
) -> None:
    with pytest.raises(accounts.AccountConflict, match="existe déjà"), db.transaction() as conn:
        accounts.create_user(conn, "CLAIRE.martin@example.fr", "Autre", PASSWORD)
    with pytest.raises(accounts.AccountConflict, match="s'appelle déjà"), db.transaction() as c:
        accounts.create_organisation(c, "pays du haut-allier", "pays")
    with pytest.raises(DataValidationError, match="type d'organisation inconnu"):
        with db.transaction() as conn:
            accounts.create_organisation(conn, "ARS", "agence")
    with pytest.raises(DataValidationError, match="adresse électronique invalide"):
        with db.transaction() as conn:
            accounts.create_user(conn, "pas-une-adresse", "X", PASSWORD)


def test_login_opens_a_session_with_its_role_and_csrf_token(
    db: Database, member: tuple[accounts.User, accounts.Organisation]
) -> None:
    user, org = member
    with db.transaction() as conn:
        found, wait = accounts.authenticate(conn, "claire.martin@example.fr", PASSWORD, "1.2.3.4")
        assert found == user and wait == 0
        cookie, csrf = accounts.create_session(conn, user.id, org.id, ttl_s=3600)
    principal = accounts.session_principal(db.connection(), cookie)
    assert principal is not None and principal.user == user and principal.organisation == org
    assert principal.role == "editor" and principal.csrf_token == csrf
    assert principal.can("reader") and principal.can("editor") and not principal.can("admin")
    stored = db.connection().execute(text("SELECT token_hash FROM sessions")).scalar_one()
    assert stored == accounts.digest(cookie) and cookie not in stored
    with db.transaction() as conn:
        accounts.end_session(conn, cookie)
    assert accounts.session_principal(db.connection(), cookie) is None
    with db.transaction() as conn:  # a person outside the organisation gets no session there
        other = accounts.create_organisation(conn, "ARS Auvergne-Rhône-Alpes", "ars")
        with pytest.raises(DataValidationError, match="pas membre"):
            accounts.create_session(conn, user.id, other.id, ttl_s=60)


def test_five_wrong_passwords_slow_the_next_attempts_down(
    db: Database, member: tuple[accounts.User, accounts.Organisation]
) -> None:
    email, t = "claire.martin@example.fr", 1_000_000.0
    for i in range(accounts.FREE_FAILURES):
        with db.transaction() as conn:
            assert accounts.authenticate(conn, email, f"mauvais {i}", "ip-a", now_s=t + i) == (
                None,
                0.0,
            )
    last = t + accounts.FREE_FAILURES - 1
    with db.transaction() as conn:  # even the right password waits now
        found, wait = accounts.authenticate(conn, email, PASSWORD, "ip-b", now_s=last + 1)
    assert found is None and wait == pytest.approx(accounts.FIRST_DELAY_S - 1)
    with db.transaction() as conn:  # another address is slowed down too: the e-mail counts
        assert accounts.login_delay(conn, [f"email:{email}"], last + 2) > 0
    with db.transaction() as conn:  # after the wait, the right password works
        found, wait = accounts.authenticate(
            conn, email, PASSWORD, "ip-b", now_s=last + accounts.FIRST_DELAY_S
        )
    assert found is not None and wait == 0
    with db.transaction() as conn:  # and it clears the e-mail's count
        assert accounts.login_delay(conn, [f"email:{email}"], last + 6) == 0


def test_a_wrong_email_costs_the_same_and_says_nothing(db: Database) -> None:
    with db.transaction() as conn:
        assert accounts.authenticate(conn, "inconnu@example.fr", PASSWORD, "ip") == (None, 0.0)


def test_personal_tokens_act_for_their_member_and_are_revocable(
    db: Database, member: tuple[accounts.User, accounts.Organisation]
) -> None:
    user, org = member
    with db.transaction() as conn:
        token_id, token = accounts.create_api_token(conn, user.id, org.id, "script QGIS")
    principal = accounts.token_principal(db.connection(), token)
    assert principal is not None and principal.user == user and principal.role == "editor"
    listed = accounts.list_api_tokens(db.connection(), user.id)
    assert [t["name"] for t in listed] == ["script QGIS"] and token not in json.dumps(listed)
    with db.transaction() as conn:
        assert accounts.revoke_api_token(conn, token_id, user.id)
        assert not accounts.revoke_api_token(conn, token_id, user.id)  # once
    assert accounts.token_principal(db.connection(), token) is None


def test_the_audit_log_says_who_did_what(
    db: Database, member: tuple[accounts.User, accounts.Organisation]
) -> None:
    user, org = member
    principal = accounts.Principal(user, org, "editor")
    with db.transaction() as conn:
        accounts.audit(conn, principal, "share", "analysis", "an_1", organisation="ARS")
    row = db.connection().execute(select(audit_log)).mappings().one()
    assert (row["user_id"], row["organisation_id"], row["action"]) == (user.id, org.id, "share")
    assert json.loads(row["detail_json"]) == {"bootstrap": False, "organisation": "ARS"}
