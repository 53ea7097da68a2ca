from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import AUTH, LATLON_CSV, SMALL_TERRITORY, make_settings, run, upload

SIMULATED = "praticiens simulés — données de démonstration"
DEMO_APL = {
    "territory": SMALL_TERRITORY,
    "dataset": "demo",
    "measure": "apl",
    "profession": "medecin_generaliste",
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One service for the module: analyses computed once are reused by the tests."""
    settings = make_settings(tmp_path_factory.mktemp("analyses"))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def demo_apl(shared: TestClient) -> dict[str, Any]:
    return run(shared, "/analyses", DEMO_APL)  # type: ignore[no-any-return]


def test_demo_analysis_runs_in_the_background_and_is_flagged(shared: TestClient) -> None:
    response = shared.post("/analyses", json=DEMO_APL | {"measure": "nearest"})
    assert response.status_code == 202
    created = response.json()
    assert created["status"] in ("pending", "running", "done") and created["cached"] is False
    assert created["job"]["id"] and created["links"]["job"] == f"/jobs/{created['job']['id']}"
    assert response.headers["location"] == f"/analyses/{created['id']}"
    done = run(shared, "/analyses", DEMO_APL | {"measure": "nearest"})
    assert done["id"] == created["id"] and done["status"] == "done"
    assert done["synthetic"] is True and done["label"] == SIMULATED
    assert done["practitioners_source"] == SIMULATED and done["request"]["dataset"] == "demo"
    assert done["title"] == "3 communes"
    assert done["summary"]["measure"] == "nearest" and done["summary"]["communes"] == 3


def test_identical_request_is_served_from_the_store(
    shared: TestClient, demo_apl: dict[str, Any]
) -> None:
    # same territory in another order and case: same cache key
    same = DEMO_APL | {"territory": {"communes": ["63019", "63014", "63113", "63113"]}}
    response = shared.post("/analyses", json=same)
    assert response.status_code == 200
    assert response.json()["id"] == demo_apl["id"] and response.json()["cached"] is True
    other = shared.post("/analyses", json=DEMO_APL | {"seed": 1})
    assert other.status_code == 202 and other.json()["id"] != demo_apl["id"]


def test_summary(shared: TestClient, demo_apl: dict[str, Any]) -> None:
    summary = shared.get(f"/analyses/{demo_apl['id']}/summary").json()
    assert summary["territory"] == "3 communes" and summary["measure"] == "apl"
    assert summary["synthetic"] is True and summary["label"] == SIMULATED
    assert summary["sources"]["practitioners"] == SIMULATED
    assert summary["source_praticiens"] == SIMULATED and "headcounts" not in summary
    assert summary["unit_fr"] == "consultations par an et par habitant standardisé"
    assert summary["summary"]["population"] == summary["population"] > 150_000
    assert summary["parameters"]["catchment_minutes"] == 20.0


def test_exports_geojson_csv_gpkg(
    shared: TestClient, demo_apl: dict[str, Any], tmp_path: Path
) -> None:
    analysis_id = demo_apl["id"]
    geojson = shared.get(f"/analyses/{analysis_id}/communes.geojson")
    assert geojson.headers["content-type"] == "application/geo+json"
    collection = json.loads(geojson.content)
    assert {f["properties"]["code"] for f in collection["features"]} == {"63113", "63014", "63019"}
    assert collection["metadata"]["synthetic"] is True
    assert all(f["properties"]["source_praticiens"] == SIMULATED for f in collection["features"])
    table = pd.read_csv(io.BytesIO(shared.get(f"/analyses/{analysis_id}/communes.csv").content))
    assert len(table) == 3 and (table["source_praticiens"] == SIMULATED).all()
    gpkg = shared.get(f"/analyses/{analysis_id}/communes.gpkg")
    assert (
        gpkg.headers["content-disposition"] == f'attachment; filename="communes_{analysis_id}.gpkg"'
    )
    path = tmp_path / "export.gpkg"
    path.write_bytes(gpkg.content)
    assert {name for name, _ in pyogrio.list_layers(path)} == {"communes", "metadonnees"}
    communes = gpd.read_file(path, layer="communes")
    assert len(communes) == 3 and communes.crs.to_epsg() == 4326
    assert pd.Series(table["value"]).round(9).tolist() == communes["value"].round(9).tolist()


def test_a_mixed_upload_needs_a_profession(shared: TestClient) -> None:
    """Issue #16 in the API: an uploaded file holding nurses and GPs is not summed into one
    measure; the analysis names a profession or is refused (422, French, the list)."""
    mixed = (
        b"id;profession;latitude;longitude\n"
        b"A;medecin_generaliste;45.7772;3.0870\n"
        b"B;infirmier;45.7800;3.0950\n"
    )
    dataset = upload(shared, mixed, "cabinets.csv").json()
    body = {"territory": {"communes": ["63113"]}, "dataset": dataset["id"], "measure": "density"}
    refused = shared.post("/analyses", json=body)
    assert refused.status_code == 422, refused.text
    detail = json.dumps(refused.json(), ensure_ascii=False)
    assert "2 professions" in detail and "infirmier (1)" in detail
    assert "medecin_generaliste (1)" in detail
    done = run(shared, "/analyses", body | {"profession": "infirmier"})
    assert done["summary"]["practitioners_in_territory"] == 1


def test_analysis_of_an_uploaded_dataset(shared: TestClient) -> None:
    dataset = upload(shared, LATLON_CSV, "deux_mg.csv").json()
    done = run(
        shared,
        "/analyses",
        {"territory": {"communes": ["63113"]}, "dataset": dataset["id"], "measure": "density"},
    )
    assert done["synthetic"] is False and done["label"] is None
    assert done["summary"]["practitioners_in_territory"] == 2
    table = pd.read_csv(io.BytesIO(shared.get(f"/analyses/{done['id']}/communes.csv").content))
    # the source names the user's file, its format and the profession kept
    assert (
        table["source_praticiens"]
        == "fichier deux_mg.csv (tableau CSV avec coordonnées), profession : médecin généraliste"
    ).all()
    assert "headcounts" not in done["summary"]  # the CNAM comparison is for the embedded data
    assert table["practitioners"].tolist() == [2]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"territory": {"departements": ["00"]}}, 404, "unknown département code(s): '00'"),
        ({"territory": {"epci": ["999999999"]}}, 404, "unknown EPCI code(s): '999999999'"),
        ({"territory": {"communes": ["63113"]}, "dataset": "ds_" + "0" * 26}, 404, "not found"),
        ({"territory": {"communes": ["63113"]}, "measure": "foo"}, 422, None),
        ({"territory": {"communes": ["63113"], "epci": ["246300701"]}}, 422, None),
        ({"territory": {"communes": ["63113"]}, "profession": "plombier"}, 422, "plombier"),
        ({"territory": {"communes": ["63113"]}, "parameters": {"speed_kmh": 0}}, 422, None),
    ],
)
def test_bad_requests(shared: TestClient, body: dict[str, Any], status: int, detail: str) -> None:
    response = shared.post("/analyses", json=body)
    assert response.status_code == status, response.text
    if detail is not None:
        assert detail in json.dumps(response.json(), ensure_ascii=False)


def test_dataset_of_the_wrong_kind_is_422(shared: TestClient) -> None:
    pop = upload(shared, b"code;a;b\n63113;1;2\n", "pop.csv", "population").json()
    response = shared.post(
        "/analyses", json={"territory": {"communes": ["63113"]}, "dataset": pop["id"]}
    )
    assert response.status_code == 422
    assert "is a population dataset, expected practitioners" in response.json()["detail"]


def test_failed_analysis_reports_the_engine_message(shared: TestClient) -> None:
    dataset = upload(shared, LATLON_CSV, "deux_mg.csv").json()
    response = shared.post(
        "/analyses",
        json={
            "territory": {"communes": ["63113"]},
            "dataset": dataset["id"],
            "parameters": {"exclude_aged_from": 60, "supply": "fte"},
        },
    )
    job_id = response.json()["job"]["id"]
    from tests.api.conftest import wait_job

    job = wait_job(shared, job_id)
    assert job["status"] == "failed" and "fte" in job["error"]
    failed = shared.get(f"/analyses/{response.json()['id']}").json()
    assert failed["status"] == "failed" and failed["error"] == job["error"]
    assert shared.get(f"/analyses/{failed['id']}/summary").status_code == 409


def test_list_and_unknown(shared: TestClient, demo_apl: dict[str, Any]) -> None:
    listed = shared.get("/analyses").json()
    assert demo_apl["id"] in [a["id"] for a in listed]
    assert all(a["kind"] == "analysis" for a in listed)
    assert shared.get("/analyses/an_" + "0" * 26).status_code == 404
    assert shared.get("/analyses/not-an-id").status_code == 422


def test_private_analyses_need_the_token_until_shared(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_token="jeton-de-test-0123456789abcdef")
    with TestClient(create_app(settings)) as client:
        assert client.post("/analyses", json=DEMO_APL).status_code == 401
        done = run(client, "/analyses", DEMO_APL, headers=AUTH)
        url = f"/analyses/{done['id']}"
        for path in (url, f"{url}/summary", f"{url}/communes.csv", f"/maps/{done['id']}.html"):
            assert client.get(path).status_code == 401, path
            assert client.get(path, headers=AUTH).status_code == 200, path
        assert client.get("/analyses").json() == []
        assert client.patch(url, json={"shareable": True}).status_code == 401
        shared = client.patch(url, json={"shareable": True}, headers=AUTH).json()
        assert shared["shareable"] is True
        assert client.get(f"/maps/{done['id']}.html").status_code == 200
        assert client.get(f"{url}/summary").status_code == 200
        assert [a["id"] for a in client.get("/analyses").json()] == [done["id"]]
        client.patch(url, json={"shareable": False}, headers=AUTH)
        assert client.get(f"/maps/{done['id']}.html").status_code == 401


def test_huge_offsets_are_422_not_500(shared: TestClient) -> None:
    # found by schemathesis: SQLite integers stop at 2**63 - 1
    for url in ("/analyses", "/datasets", f"/analyses/an_{'0' * 26}/scenarios"):
        assert shared.get(url, params={"offset": 2**64}).status_code == 422, url


def test_age_standardised_demand_and_od_travel_times(tmp_path: Path) -> None:
    from geo.reference import load_communes

    codes = load_communes()["code"]
    # a national age table (the surroundings of the territory need one too): 10 % aged 75+
    table = "code;moins_75;75_plus\n" + "".join(f"{c};90;10\n" for c in codes)
    settings = make_settings(tmp_path, max_upload_bytes=5_000_000)
    with TestClient(create_app(settings)) as client:
        pop = upload(client, table.encode(), "ages.csv", "population").json()
        assert pop["rows"] == len(codes)
        body = DEMO_APL | {
            "population_dataset": pop["id"],
            "consumption_weights": {"moins_75": 1.0, "75_plus": 2.5},
        }
        done = run(client, "/analyses", body)
        assert done["summary"]["parameters"]["age_standardised"] is True
        missing = client.post("/analyses", json=DEMO_APL | {"population_dataset": pop["id"]})
        assert missing.status_code == 422  # weights go with the table

        od = upload(
            client,
            b"origin;dest;minutes\n63113;63113;3\n63014;63113;9\n63014;63014;2\n63113;63014;9\n",
            "temps.csv",
            "od",
        ).json()
        dataset = upload(client, LATLON_CSV, "deux_mg.csv").json()
        done = run(
            client,
            "/analyses",
            {
                "territory": {"communes": ["63113", "63014"]},
                "dataset": dataset["id"],
                "od_dataset": od["id"],
                "measure": "nearest",
            },
        )
        assert done["summary"]["travel"]["method"] != "straight_line"
        table = pd.read_csv(io.BytesIO(client.get(f"/analyses/{done['id']}/communes.csv").content))
        minutes = dict(zip(table["code"].astype(str), table["nearest_minutes"], strict=True))
        assert minutes == {"63113": 3.0, "63014": 9.0}


def test_gravity_on_the_real_gps_located_at_town_halls(shared: TestClient) -> None:
    # the embedded BPE places every GP at its commune's chef-lieu: 0 min from that commune
    body = {"territory": SMALL_TERRITORY, "measure": "gravity"}
    done = run(shared, "/analyses", body)
    assert done["status"] == "done", done
    assert done["request"]["parameters"]["gravity_min_minutes"] == 4.0
    refused = shared.post("/analyses", json=body | {"parameters": {"gravity_min_minutes": -1}})
    assert refused.status_code == 422 and "gravity_min_minutes" in refused.text
