from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import make_settings, run

TERRITORY = {"epci": ["246300701"]}
DEMO = {
    "territory": TERRITORY,
    "dataset": "demo",
    "measure": "apl",
    "profession": "medecin_generaliste",
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path_factory.mktemp("sc")))) as client:
        yield client


@pytest.fixture(scope="module")
def baseline(shared: TestClient) -> dict[str, Any]:
    return run(shared, "/analyses", DEMO)  # type: ignore[no-any-return]


def test_retirements_and_new_practitioners(shared: TestClient, baseline: dict[str, Any]) -> None:
    body = {
        "changes": [
            {"type": "retire", "age_at_least": 62},
            {"type": "add_practitioners", "commune": "63113", "n": 3},
        ]
    }
    scenario = run(shared, f"/analyses/{baseline['id']}/scenarios", body)
    assert scenario["kind"] == "scenario" and scenario["parent_id"] == baseline["id"]
    assert scenario["synthetic"] is True and "simulés" in scenario["label"]
    assert scenario["summary"]["source_praticiens"] == scenario["label"]
    summary = scenario["summary"]
    assert summary["practitioners_added"] == 3 and summary["practitioners_removed"] > 0
    assert len(summary["changes"]) == 2 and "Clermont-Ferrand" in summary["changes"][1]
    assert summary["communes_worsened"] > 0
    html = shared.get(f"/maps/{scenario['id']}.html").text
    assert "Écart" in html and "praticiens simulés" in html
    assert shared.get(f"/maps/{scenario['id']}.png").content.startswith(b"\x89PNG")
    csv = shared.get(f"/analyses/{scenario['id']}/communes.csv").text
    assert csv.splitlines()[0].startswith("source_praticiens,code,nom")
    assert "before" in csv.splitlines()[0] and "delta" in csv.splitlines()[0]
    listed = shared.get(f"/analyses/{baseline['id']}/scenarios").json()
    assert [s["id"] for s in listed] == [scenario["id"]]
    again = shared.post(f"/analyses/{baseline['id']}/scenarios", json=body)
    assert again.status_code == 200 and again.json()["cached"] is True


def test_population_change(shared: TestClient, baseline: dict[str, Any]) -> None:
    body = {"changes": [{"type": "change_population", "factor": 1.2}], "gap_preset": "ratio"}
    scenario = run(shared, f"/analyses/{baseline['id']}/scenarios", body)
    assert scenario["summary"]["population_change"] > 0
    assert scenario["summary"]["gaps"]["preset"] == "ratio"


@pytest.mark.parametrize(
    ("changes", "status", "detail"),
    [
        ([], 422, None),
        ([{"type": "retire"}], 422, "exactly one of age_at_least or horizon_year"),
        ([{"type": "add_practitioners", "commune": "63113", "lon": 3.0, "lat": 45.0}], 422, None),
        ([{"type": "explode"}], 422, None),
    ],
)
def test_bad_scenarios(
    shared: TestClient, baseline: dict[str, Any], changes: Any, status: int, detail: str | None
) -> None:
    response = shared.post(f"/analyses/{baseline['id']}/scenarios", json={"changes": changes})
    assert response.status_code == status
    if detail:
        assert detail in response.text


def test_unknown_commune_is_refused_at_submission(
    shared: TestClient, baseline: dict[str, Any]
) -> None:
    response = shared.post(
        f"/analyses/{baseline['id']}/scenarios",
        json={"changes": [{"type": "add_practitioners", "commune": "99999"}]},
    )
    assert response.status_code == 422 and "99999" in response.json()["detail"]


def test_scenario_needs_a_finished_analysis(shared: TestClient, baseline: dict[str, Any]) -> None:
    body = {"changes": [{"type": "retire", "age_at_least": 60}]}
    assert shared.post(f"/analyses/an_{'0' * 26}/scenarios", json=body).status_code == 404
    pending = shared.post("/analyses", json=DEMO | {"measure": "e2sfca"}).json()
    status = shared.post(f"/analyses/{pending['id']}/scenarios", json=body).status_code
    assert status in (202, 409)
