"""Privacy: anonymous pages never open a private analysis, uploads never leak by dedup, and
outputs name practitioners by profession and commune only (never an RPPS number)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from fastapi.testclient import TestClient

from api.services import Services
from tests.api.conftest import AUTH, LATLON_CSV, SMALL_TERRITORY, upload

#: The request ``/cartes/epci/246301097?mesure=density`` builds (a small EPCI, real GPs).
PAGE_URL = "/cartes/epci/246301097?mesure=density"
PAGE_REQUEST = {"territory": {"epci": ["246301097"]}, "measure": "density"}

#: Two practitioners in the official RPPS layout; their ids are RPPS numbers.
RPPS_NUMBERS = ("10101234567", "10107654321")
RPPS_TXT = (
    "Type d'identifiant PP|Identifiant PP|Nom d'exercice|Prénom d'exercice|Code profession|"
    "Libellé profession|Code savoir-faire|Libellé savoir-faire|Code mode exercice|"
    "Code commune (coord. structure)|\n"
    f"8|{RPPS_NUMBERS[0]}|DUPONT|Jeanne|10|Médecin|SM54|Médecine générale|L|63113|\n"
    f"8|{RPPS_NUMBERS[1]}|MARTIN|Paul|60|Infirmier|||L|63014|\n"
).encode()
RPPS_NAME = "PS_LibreAcces_Personne_activite_202401.txt"


def _services(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def _compute(client: TestClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a computation with the token and wait for its job (no polling)."""
    response = client.post(url, json=body, headers=AUTH)
    assert response.status_code in (200, 202), response.text
    created = response.json()
    if created["job"] is not None:
        _services(client).runner.wait(created["job"]["id"], timeout=60)
    done: dict[str, Any] = client.get(f"/analyses/{created['id']}", headers=AUTH).json()
    assert done["status"] == "done", done
    return done


def _page_analysis(client: TestClient) -> str:
    """Visit the public page anonymously, wait for its job, return the analysis it shows."""
    first = client.get(PAGE_URL, follow_redirects=False)
    assert first.status_code in (200, 303), first.text
    public = client.get("/analyses").json()  # anonymous: the shareable ones
    (listed,) = [a for a in public if a["request"]["territory"] == PAGE_REQUEST["territory"]]
    page = client.get(f"/analyses/{listed['id']}").json()  # readable without the token
    if page["job"] is not None:
        _services(client).runner.wait(page["job"]["id"], timeout=60)
    redirect = client.get(PAGE_URL, follow_redirects=False)
    assert redirect.status_code == 303
    assert redirect.headers["location"] == f"/maps/{page['id']}.html"
    return str(page["id"])


def test_anonymous_page_never_makes_a_private_analysis_shareable(secured: TestClient) -> None:
    private = _compute(secured, "/analyses", PAGE_REQUEST)
    assert private["shareable"] is False
    page_id = _page_analysis(secured)
    # the page got its own public reference analysis; the private one keeps its flag
    assert page_id != private["id"]
    assert secured.get(f"/analyses/{private['id']}").status_code == 401
    assert secured.get(f"/maps/{private['id']}.html").status_code == 401
    assert secured.get(f"/analyses/{private['id']}", headers=AUTH).json()["shareable"] is False
    assert secured.get(f"/analyses/{page_id}").json()["shareable"] is True
    assert secured.get(f"/maps/{page_id}.html").status_code == 200
    # the user's identical request still finds the user's private analysis, not the page's
    again = secured.post("/analyses", json=PAGE_REQUEST, headers=AUTH).json()
    assert again["id"] == private["id"] and again["shareable"] is False
    # visiting again changes nothing
    assert _page_analysis(secured) == page_id
    assert secured.get(f"/analyses/{private['id']}").status_code == 401


def test_page_reuses_an_analysis_its_owner_shared(secured: TestClient) -> None:
    shared = _compute(secured, "/analyses", {**PAGE_REQUEST, "shareable": True})
    assert _page_analysis(secured) == shared["id"]
    # unshared by its owner: the page no longer shows it, and computes its own
    patched = secured.patch(f"/analyses/{shared['id']}", json={"shareable": False}, headers=AUTH)
    assert patched.status_code == 200
    assert secured.get(f"/analyses/{shared['id']}").status_code == 401
    first = secured.get(PAGE_URL, follow_redirects=False)
    assert first.status_code == 200  # computing its own reference analysis
    assert secured.get(f"/analyses/{shared['id']}", headers=AUTH).json()["shareable"] is False


def test_page_jobs_run_in_the_public_lane(
    secured: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = _services(secured).runner
    lanes: list[str] = []
    submit = runner.submit

    def spy(job_id: str, analysis_id: str, work: Any, **options: Any) -> Any:
        lanes.append(options.get("lane", "private"))
        return submit(job_id, analysis_id, work, **options)

    monkeypatch.setattr(runner, "submit", spy)
    _compute(secured, "/analyses", {"territory": SMALL_TERRITORY, "measure": "density"})
    _page_analysis(secured)
    assert lanes == ["private", "public"]


# --------------------------------------------------------------------------------------------
# uploads: deduplication respects privacy
# --------------------------------------------------------------------------------------------
def test_private_reupload_of_public_bytes_gets_its_own_private_dataset(
    secured: TestClient,
) -> None:
    public = upload(secured, LATLON_CSV, "a.csv", headers=AUTH, private=False)
    assert public.status_code == 201 and public.json()["private"] is False
    private = upload(secured, LATLON_CSV, "a.csv", headers=AUTH, private=True)
    assert private.status_code == 201, private.text  # created, not the public one
    assert private.json()["id"] != public.json()["id"] and private.json()["private"] is True
    assert secured.get(f"/datasets/{private.json()['id']}").status_code == 401
    # each privacy keeps its own deduplication
    again_private = upload(secured, LATLON_CSV, "a.csv", headers=AUTH, private=True)
    assert again_private.status_code == 200 and again_private.json()["id"] == private.json()["id"]
    again_public = upload(secured, LATLON_CSV, "a.csv", headers=AUTH, private=False)
    assert again_public.status_code == 200 and again_public.json()["id"] == public.json()["id"]
    # deleting one keeps the other's file
    assert secured.delete(f"/datasets/{public.json()['id']}", headers=AUTH).status_code == 204
    analysis = _compute(
        secured,
        "/analyses",
        {"territory": SMALL_TERRITORY, "dataset": private.json()["id"], "measure": "density"},
    )
    assert analysis["summary"]["communes"] == 3


def test_public_upload_never_returns_a_private_dataset(secured: TestClient) -> None:
    private = upload(secured, LATLON_CSV, "a.csv", headers=AUTH)  # private by default
    assert private.status_code == 201 and private.json()["private"] is True
    public = upload(secured, LATLON_CSV, "a.csv", headers=AUTH, private=False)
    assert public.status_code == 201 and public.json()["id"] != private.json()["id"]
    listed = {d["id"] for d in secured.get("/datasets").json()}  # anonymous list
    assert public.json()["id"] in listed and private.json()["id"] not in listed


# --------------------------------------------------------------------------------------------
# personal data: no RPPS number in any output of a scenario that removes by id
# --------------------------------------------------------------------------------------------
def test_removal_by_rpps_id_leaves_no_rpps_number_in_outputs(
    secured: TestClient, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    dataset = upload(secured, RPPS_TXT, RPPS_NAME, headers=AUTH)
    assert dataset.status_code == 201, dataset.text
    assert dataset.json()["format"] == "rpps"
    analysis = _compute(
        secured,
        "/analyses",
        {
            "territory": SMALL_TERRITORY,
            "dataset": dataset.json()["id"],
            "measure": "density",
            "profession": "medecin_generaliste",  # the extraction holds a GP and a nurse
        },
    )
    body = {
        "changes": [{"type": "remove_practitioners", "ids": [RPPS_NUMBERS[0]]}],
        "shareable": True,
    }
    scenario = _compute(secured, f"/analyses/{analysis['id']}/scenarios", body)
    assert scenario["summary"]["changes"] == [
        "départ de 1 médecin généraliste à Clermont-Ferrand (63113)"
    ]
    outputs: dict[str, bytes] = {}
    for record in (analysis, scenario):
        rid = record["id"]
        shown = dict(secured.get(f"/analyses/{rid}", headers=AUTH).json())
        outputs[f"{rid} record"] = json.dumps(shown, ensure_ascii=False).encode()
        if record["shareable"]:  # the scenario: anyone reads it
            anonymous = secured.get(f"/analyses/{rid}")
            assert anonymous.status_code == 200, anonymous.text
            outputs[f"{rid} anonymous record"] = anonymous.content
        for path in ("summary", "communes.geojson", "communes.csv", "communes.gpkg"):
            response = secured.get(f"/analyses/{rid}/{path}", headers=AUTH)
            assert response.status_code == 200, (path, response.text)
            outputs[f"{rid} {path}"] = response.content
        outputs[f"{rid} map"] = secured.get(f"/maps/{rid}.html", headers=AUTH).content
        path = tmp_path / f"{rid}.gpkg"
        path.write_bytes(outputs[f"{rid} communes.gpkg"])
        gpkg = pyogrio.read_dataframe(path, layer="metadonnees")
        outputs[f"{rid} metadonnees"] = gpkg.to_json(force_ascii=False).encode()
    # the request says how many practitioners leave, not who
    assert scenario["request"]["changes"][0]["ids_count"] == 1
    geojson = outputs[f"{scenario['id']} communes.geojson"].decode()
    assert "départ de 1 médecin généraliste à Clermont-Ferrand (63113)" in geojson
    for name, data in outputs.items():
        for number in RPPS_NUMBERS:
            assert number.encode() not in data, name
    for record in caplog.records:
        assert not any(n in record.getMessage() for n in RPPS_NUMBERS), record.getMessage()
