"""Two organisations on one service: each sees its own, what is shared with it, and the public.

Members act through personal API tokens (``cs_…``); the settings' token stays the bootstrap
administrator, who sees everything. Runs on SQLite, and on PostgreSQL with ``--db=postgresql``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from api import accounts, crud
from api.main import create_app
from api.tables import audit_log, shares
from tests.api.conftest import AUTH, LATLON_CSV, SMALL_TERRITORY, TOKEN, make_settings, run

PASSWORD = "une phrase de passe assez longue"


class Org:
    """A member's headers and ids."""

    def __init__(self, org_id: str, token: str) -> None:
        self.id = org_id
        self.auth = {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    with TestClient(create_app(make_settings(tmp_path, api_token=TOKEN))) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        people: dict[str, Any] = {}
        with services.db.transaction() as conn:
            for key, org_name, kind, role in (
                ("a", "Pays du Haut-Allier", "pays", "editor"),
                ("b", "ARS Auvergne-Rhône-Alpes", "ars", "editor"),
                ("lecteur", None, None, "reader"),
            ):
                org = (
                    accounts.create_organisation(conn, org_name, kind)
                    if org_name
                    else people["a"]["org"]
                )
                user = accounts.create_user(conn, f"{key}@example.fr", key, PASSWORD)
                accounts.add_member(conn, user.id, org.id, role)
                token_id, token = accounts.create_api_token(conn, user.id, org.id, "tests")
                people[key] = {
                    "org": org,
                    "user": user,
                    "token_id": token_id,
                    "member": Org(org.id, token),
                }
        yield client, people


def test_each_organisation_sees_only_its_own_and_the_bootstrap_sees_all(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    client, people = world
    a, b = people["a"]["member"], people["b"]["member"]
    created = client.post(
        "/datasets/practitioners", files={"file": ("gp.csv", LATLON_CSV)}, headers=a.auth
    )
    assert created.status_code == 201, created.text
    dataset = created.json()["id"]
    analysis = run(client, "/analyses", {"territory": SMALL_TERRITORY, "dataset": dataset}, a.auth)
    assert analysis["status"] == "done"
    job = analysis["job"]["id"]
    # the owner reads everything of its own
    for url in (f"/datasets/{dataset}", f"/analyses/{analysis['id']}", f"/jobs/{job}"):
        assert client.get(url, headers=a.auth).status_code == 200, url
    assert client.get(f"/maps/{analysis['id']}.html", headers=a.auth).status_code == 200
    # the other organisation: as if nothing existed
    for url in (
        f"/datasets/{dataset}",
        f"/analyses/{analysis['id']}",
        f"/analyses/{analysis['id']}/summary",
        f"/analyses/{analysis['id']}/communes.csv",
        f"/maps/{analysis['id']}.html",
        f"/jobs/{job}",
    ):
        refused = client.get(url, headers=b.auth)
        assert refused.status_code == 404, (url, refused.status_code)
        assert refused.json()["error"] == "not_found"
    assert dataset not in {d["id"] for d in client.get("/datasets", headers=b.auth).json()}
    assert analysis["id"] not in {x["id"] for x in client.get("/analyses", headers=b.auth).json()}
    assert dataset in {d["id"] for d in client.get("/datasets", headers=a.auth).json()}
    # nor can it use, change or delete them
    use = client.post(
        "/analyses", json={"territory": SMALL_TERRITORY, "dataset": dataset}, headers=b.auth
    )
    assert use.status_code == 404
    assert client.delete(f"/datasets/{dataset}", headers=b.auth).status_code == 404
    share = client.patch(f"/analyses/{analysis['id']}", json={"shareable": True}, headers=b.auth)
    assert share.status_code == 404
    # the bootstrap administrator sees all
    assert client.get(f"/analyses/{analysis['id']}", headers=AUTH).status_code == 200
    assert dataset in {d["id"] for d in client.get("/datasets", headers=AUTH).json()}


def test_the_same_file_or_request_of_two_organisations_makes_two_records(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    client, people = world
    a, b = people["a"]["member"], people["b"]["member"]
    ids = [
        client.post(
            "/datasets/practitioners", files={"file": ("gp.csv", LATLON_CSV)}, headers=h
        ).json()["id"]
        for h in (a.auth, b.auth)
    ]
    assert ids[0] != ids[1]
    demo = {"territory": SMALL_TERRITORY, "dataset": "demo", "measure": "density"}
    first, second = (run(client, "/analyses", demo, h) for h in (a.auth, b.auth))
    assert first["id"] != second["id"]
    again = client.post("/analyses", json=demo, headers=a.auth)
    assert again.status_code == 200 and again.json()["id"] == first["id"]  # its own cache


def test_a_reader_reads_but_does_not_write(world: tuple[TestClient, dict[str, Any]]) -> None:
    client, people = world
    a, reader = people["a"]["member"], people["lecteur"]["member"]
    analysis = run(
        client,
        "/analyses",
        {"territory": SMALL_TERRITORY, "dataset": "demo", "measure": "density"},
        a.auth,
    )
    assert client.get(f"/analyses/{analysis['id']}", headers=reader.auth).status_code == 200
    refused = client.post(
        "/analyses",
        json={"territory": SMALL_TERRITORY, "dataset": "demo", "measure": "apl"},
        headers=reader.auth,
    )
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert "lecteur" in refused.json()["detail"]


def test_a_shared_resource_is_read_not_changed_by_the_other(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    client, people = world
    a, b = people["a"]["member"], people["b"]["member"]
    dataset = client.post(
        "/datasets/practitioners", files={"file": ("gp.csv", LATLON_CSV)}, headers=a.auth
    ).json()["id"]
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.db.transaction() as conn:
        conn.execute(
            insert(shares).values(
                object_kind="dataset",
                object_id=dataset,
                organisation_id=b.id,
                created_at=crud.now(),
            )
        )
    assert client.get(f"/datasets/{dataset}", headers=b.auth).status_code == 200
    assert dataset in {d["id"] for d in client.get("/datasets", headers=b.auth).json()}
    used = run(client, "/analyses", {"territory": SMALL_TERRITORY, "dataset": dataset}, b.auth)
    assert used["status"] == "done"
    refused = client.delete(f"/datasets/{dataset}", headers=b.auth)
    assert refused.status_code == 403 and "autre organisation" in refused.json()["detail"]


def test_a_revoked_personal_token_is_refused(world: tuple[TestClient, dict[str, Any]]) -> None:
    client, people = world
    a = people["a"]
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.db.transaction() as conn:
        assert accounts.revoke_api_token(conn, a["token_id"], a["user"].id)
    refused = client.get("/datasets", headers=a["member"].auth)
    assert refused.status_code == 401 and "révoqué" in refused.json()["detail"]
    wrong = client.get("/datasets", headers={"Authorization": "Bearer cs_inconnu"})
    assert wrong.status_code == 401


def test_the_audit_log_records_members_actions(world: tuple[TestClient, dict[str, Any]]) -> None:
    client, people = world
    a = people["a"]["member"]
    created = client.post(
        "/datasets/practitioners", files={"file": ("gp.csv", LATLON_CSV)}, headers=a.auth
    ).json()["id"]
    analysis = run(
        client,
        "/analyses",
        {"territory": SMALL_TERRITORY, "dataset": "demo", "measure": "density"},
        a.auth,
    )
    client.patch(f"/analyses/{analysis['id']}", json={"shareable": True}, headers=a.auth)
    assert client.delete(f"/datasets/{created}", headers=a.auth).status_code == 204
    services = client.app.state.services  # type: ignore[attr-defined]
    rows = (
        services.db.connection()
        .execute(
            select(audit_log.c.action, audit_log.c.object_kind, audit_log.c.user_id)
            .where(audit_log.c.organisation_id == a.id)
            .order_by(audit_log.c.at)
        )
        .all()
    )
    user = people["a"]["user"].id
    assert [tuple(r) for r in rows] == [
        ("create", "dataset", user),
        ("create", "analysis", user),
        ("publish", "analysis", user),
        ("delete", "dataset", user),
    ]
