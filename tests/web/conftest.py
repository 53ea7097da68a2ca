"""Fixtures of the web pages' tests: the service tests' database plumbing, and a member.

The hooks and the session fixture below come from ``tests/api/conftest.py``: with them,
:func:`tests.api.conftest.make_settings` gives every app of these tests a new PostgreSQL
database under ``pytest tests/web --db=postgresql`` (dropped after the test), as for tests/api.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api import accounts
from api.main import create_app
from api.services import Services
from tests.api.conftest import (  # noqa: F401 - hooks and fixture re-exported for tests/web
    TOKEN,
    _database_backend,
    make_settings,
    pytest_fixture_setup,
    pytest_runtest_call,
)

PASSWORD = "une phrase de passe assez longue"
EMAIL = "claire.martin@example.fr"
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class Workspace:
    """A running app with one organisation and one editor, Claire Martin."""

    client: TestClient
    services: Services
    user: accounts.User
    organisation: accounts.Organisation


def open_workspace(root: Path, base_url: str = "http://testserver") -> Iterator[Workspace]:
    """Start the app (bootstrap token set) and create its organisation and member."""
    app = create_app(make_settings(root, api_token=TOKEN))
    with TestClient(app, base_url=base_url) as client:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        with services.db.transaction() as conn:
            org = accounts.create_organisation(conn, "Pays du Haut-Allier", "pays")
            user = accounts.create_user(conn, EMAIL, "Claire Martin", PASSWORD)
            accounts.add_member(conn, user.id, org.id, "editor")
        yield Workspace(client, services, user, org)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Workspace]:
    yield from open_workspace(tmp_path)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    assert found is not None, html
    return found.group(1)


def log_in(client: TestClient, email: str = EMAIL, password: str = PASSWORD) -> Response:
    """Fill and post the login form as a browser does (its cookie and hidden token)."""
    form = client.get("/connexion")
    assert form.status_code == 200, form.text
    return client.post(
        "/connexion",
        data={"csrf_token": csrf_of(form.text), "email": email, "password": password},
        follow_redirects=False,
    )
