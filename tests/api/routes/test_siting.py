from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import make_settings, run

DEMO = {
    "territory": {"departements": ["15"]},
    "dataset": "demo",
    "measure": "apl",
    "profession": "medecin_generaliste",
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path_factory.mktemp("si")))) as client:
        yield client


@pytest.fixture(scope="module")
def baseline(shared: TestClient) -> dict[str, Any]:
    return run(shared, "/analyses", DEMO)  # type: ignore[no-any-return]


def test_recommended_sites(shared: TestClient, baseline: dict[str, Any]) -> None:
    siting = run(shared, f"/analyses/{baseline['id']}/siting", {"k": 2, "n_per_site": 1})
    assert siting["kind"] == "siting" and siting["parent_id"] == baseline["id"]
    summary = siting["summary"]
    assert [s["rank"] for s in summary["sites"]] == [1, 2]
    assert summary["objective"] == "gap_population" and summary["total_gain"] > 0
    assert summary["synthetic"] is True and "simulés" in summary["label"]
    assert all(44 < s["lat"] < 46 and 2 < s["lon"] < 4 for s in summary["sites"])
    html = shared.get(f"/maps/{siting['id']}.html").text
    assert "cs-site" in html and summary["sites"][0]["nom"] in html
    listed = shared.get(f"/analyses/{baseline['id']}/siting").json()
    assert [s["id"] for s in listed] == [siting["id"]]


def test_max_coverage_milp(shared: TestClient, baseline: dict[str, Any]) -> None:
    body = {"k": 1, "objective": "max_coverage", "method": "milp", "coverage_minutes": 15}
    siting = run(shared, f"/analyses/{baseline['id']}/siting", body)
    assert siting["summary"]["optimal"] is True and len(siting["summary"]["sites"]) == 1


def test_bad_siting(shared: TestClient, baseline: dict[str, Any]) -> None:
    url = f"/analyses/{baseline['id']}/siting"
    assert shared.post(url, json={"k": 0}).status_code == 422
    assert shared.post(url, json={"objective": "nope"}).status_code == 422
    milp = shared.post(url, json={"k": 1, "method": "milp"})
    assert milp.status_code == 422 and "max_coverage" in milp.text
    too_many = shared.post(url, json={"k": 3, "candidates": ["15014", "15014"]})
    assert too_many.status_code == 422 and "k=3 is larger than the 1 candidates" in too_many.text
    response = shared.post(url, json={"k": 1, "candidates": ["99999"]})
    assert response.status_code == 422 and "99999" in response.json()["detail"]


def test_siting_checks_what_the_analysis_allows(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = make_settings(tmp_path_factory.mktemp("si2"))
    with TestClient(create_app(settings)) as client:
        small = run(
            client,
            "/analyses",
            {"territory": {"communes": ["63113", "63014"]}, "measure": "2sfca"},
        )
        url = f"/analyses/{small['id']}/siting"
        response = client.post(url, json={"k": 3})
        assert response.status_code == 422
        assert response.json()["detail"] == (
            "k=3 is larger than the number of communes of the territory (2)"
        )
        response = client.post(url, json={"k": 1, "capacity": 2.0})
        assert response.status_code == 422 and "supply 'headcount'" in response.json()["detail"]


def test_siting_options_of_the_engine(shared: TestClient, baseline: dict[str, Any]) -> None:
    body = {
        "k": 2,
        "objective": "shortfall",
        "candidates": ["15014", "15187"],
        "candidate_points": [{"label": "MSP de Dienne", "lon": 2.79, "lat": 45.14}],
        "exclude": ["15187"],
        "practitioners_per_site": {"15014": 3},
    }
    siting = run(shared, f"/analyses/{baseline['id']}/siting", body)
    assert siting["status"] == "done", siting
    names = {s["nom"] for s in siting["summary"]["sites"]}
    assert siting["summary"]["objective"] == "shortfall"
    assert not any("15187" == s["code"] for s in siting["summary"]["sites"]), names
    unknown = shared.post(f"/analyses/{baseline['id']}/siting", json=body | {"exclude": ["99999"]})
    assert unknown.status_code == 422 and "99999" in unknown.text
    too_many = shared.post(f"/analyses/{baseline['id']}/siting", json=body | {"k": 4})
    assert too_many.status_code == 422 and "3 candidates" in too_many.text
