"""Refuse early: what would fail a job later is refused at submission (422, French message
naming the field and the value), and no job is started."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.core import no_progress
from api.main import create_app
from api.services import Services
from tests.api.conftest import LATLON_CSV, SMALL_TERRITORY, make_settings, upload


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path_factory.mktemp("early")))) as client:
        yield client


def _done(client: TestClient, body: dict[str, Any], url: str = "/analyses") -> dict[str, Any]:
    response = client.post(url, json=body)
    assert response.status_code in (200, 202), response.text
    created: dict[str, Any] = response.json()
    if created["job"] is not None:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        services.runner.wait(created["job"]["id"], timeout=60)
    done: dict[str, Any] = client.get(f"/analyses/{created['id']}").json()
    assert done["status"] == "done", done
    return done


@pytest.fixture(scope="module")
def baseline(shared: TestClient) -> dict[str, Any]:
    """Density of the real GPs (BPE) on three communes of Clermont Auvergne Métropole."""
    return _done(shared, {"territory": SMALL_TERRITORY, "dataset": "bpe", "measure": "density"})


def _refused(response: Any, *words: str) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    for word in words:
        assert word in detail, detail


def test_profession_absent_from_the_uploaded_dataset(shared: TestClient) -> None:
    dataset = upload(shared, LATLON_CSV, "généralistes.csv").json()["id"]
    body = {"territory": SMALL_TERRITORY, "dataset": dataset, "profession": "infirmier"}
    _refused(shared.post("/analyses", json=body), "profession", "'infirmier'", "absente")
    assert all(a["request"].get("dataset") != dataset for a in shared.get("/analyses").json())
    ok = {**body, "profession": "medecin_generaliste", "measure": "density"}
    assert shared.post("/analyses", json=ok).status_code == 202  # the one it holds


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            {"type": "add_practitioners", "commune": "99999"},
            ["changes[0].commune", "'99999'", "inconnu"],
        ),
        (
            {"type": "add_practitioners", "lon": -30.0, "lat": 40.0},
            ["changes[0].lon/lat", "hors de France", "-30"],
        ),
        (
            {"type": "change_population", "populations": {"63113": 1000, "00000": 5}},
            ["changes[0].populations", "'00000'"],
        ),
        (
            {"type": "change_population", "factor": 1.1, "codes": ["63113", "1234"]},
            ["changes[0].codes", "'1234'"],
        ),
        (
            {"type": "remove_practitioners", "ids": ["BPE-63113-1", "10101234567"]},
            ["changes[0].ids", "'10101234567'", "inconnu"],
        ),
    ],
)
def test_scenario_changes_refused_at_submission(
    shared: TestClient, baseline: dict[str, Any], change: dict[str, Any], words: list[str]
) -> None:
    url = f"/analyses/{baseline['id']}/scenarios"
    before = len(shared.get(url).json())
    _refused(shared.post(url, json={"changes": [change]}), *words)
    assert len(shared.get(url).json()) == before  # no scenario stored, no job started


def test_valid_changes_are_accepted(shared: TestClient, baseline: dict[str, Any]) -> None:
    body = {
        "changes": [
            {"type": "remove_practitioners", "ids": ["BPE-63113-1"]},
            {"type": "add_practitioners", "lon": 3.09, "lat": 45.78},
            {"type": "add_practitioners", "commune": "63014"},
            # added by this very scenario: its id is not in the dataset, the engine knows it
            {"type": "remove_practitioners", "ids": ["NOUVEAU-2-63014-01"]},
        ]
    }
    scenario = _done(shared, body, f"/analyses/{baseline['id']}/scenarios")
    assert scenario["summary"]["changes"][0] == (
        "départ de 1 médecin généraliste à Clermont-Ferrand (63113)"
    )


def test_unknown_candidate_commune_refused_at_submission(
    shared: TestClient, baseline: dict[str, Any]
) -> None:
    url = f"/analyses/{baseline['id']}/siting"
    before = len(shared.get(url).json())
    body = {"k": 1, "candidates": ["63113", "99999"]}
    _refused(shared.post(url, json=body), "candidates", "'99999'")
    assert len(shared.get(url).json()) == before


def test_unknown_territory_is_refused_at_submission(shared: TestClient) -> None:
    # documented as 404 (unknown_code, with the codes) since the first version of the API
    response = shared.post("/analyses", json={"territory": {"communes": ["63113", "99999"]}})
    assert response.status_code == 404 and "99999" in response.json()["detail"]


def test_commune_outside_the_analysis_context_refused_when_it_is_known(
    shared: TestClient, baseline: dict[str, Any]
) -> None:
    services: Services = shared.app.state.services  # type: ignore[attr-defined]
    services._baseline(services.analysis(baseline["id"]), no_progress)  # prepared, in memory
    ajaccio = "2A004"  # a real commune, far from Clermont-Ferrand
    url = f"/analyses/{baseline['id']}"
    before = [len(shared.get(f"{url}/{kind}").json()) for kind in ("scenarios", "siting")]
    scenario = {"changes": [{"type": "add_practitioners", "commune": ajaccio}]}
    _refused(shared.post(f"{url}/scenarios", json=scenario), "changes[0].commune", "'2A004'")
    siting = {"k": 1, "candidates": ["63113", ajaccio]}
    _refused(shared.post(f"{url}/siting", json=siting), "candidates", "'2A004'", "hors du")
    assert [len(shared.get(f"{url}/{kind}").json()) for kind in ("scenarios", "siting")] == before


def test_practitioner_removed_twice_refused_at_submission(
    shared: TestClient, baseline: dict[str, Any]
) -> None:
    url = f"/analyses/{baseline['id']}/scenarios"
    twice = {"type": "remove_practitioners", "ids": ["BPE-63113-2"]}
    _refused(shared.post(url, json={"changes": [twice, twice]}), "changes[1].ids", "déjà retiré")
