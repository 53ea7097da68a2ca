from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import run


def test_departements_list_and_one(client: TestClient) -> None:
    deps = client.get("/territories/departements").json()
    assert len(deps) == 101
    puy = next(d for d in deps if d["code"] == "63")
    assert puy["nom"] == "Puy-de-Dôme" and puy["population"] > 600_000
    assert client.get("/territories/departements/2A").json()["nom"] == "Corse-du-Sud"
    assert client.get("/territories/departements/1").json()["code"] == "01"


def test_unknown_departement_is_404_naming_the_code(client: TestClient) -> None:
    response = client.get("/territories/departements/00")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "unknown département code(s): '00'",
        "error": "unknown_code",
        "kind": "département",
        "codes": ["00"],
    }
    assert client.get("/territories/departements/00/epci").status_code == 404


def test_epci_of_a_departement_and_by_siren(client: TestClient) -> None:
    epci = client.get("/territories/departements/63/epci").json()
    assert any(e["code"] == "246300701" for e in epci)
    assert client.get("/territories/epci", params={"departement": "63"}).json() == epci
    one = client.get("/territories/epci/246300701").json()
    assert one["nom"] == "Clermont Auvergne Métropole" and one["communes"] == 21
    assert client.get("/territories/epci/999999999").status_code == 404
    assert client.get("/territories/epci/12").status_code == 422  # not a SIREN


def test_commune_search_ignores_accents_and_ranks_exact_names_first(client: TestClient) -> None:
    found = client.get("/territories/communes", params={"q": "saint etienne", "limit": 5}).json()
    assert found[0]["nom"] == "Saint-Étienne" and found[0]["code"] == "42218"
    clermont = client.get(
        "/territories/communes", params={"q": "clermont-ferrand", "departement": "63"}
    ).json()
    assert [c["code"] for c in clermont] == ["63113"]
    assert clermont[0]["epci"] == "246300701" and 45 < clermont[0]["lat"] < 46
    by_code = client.get("/territories/communes", params={"q": "6311", "limit": 50}).json()
    assert by_code and all(c["code"].startswith("6311") for c in by_code)
    in_epci = client.get("/territories/communes", params={"epci": "246300701", "limit": 500}).json()
    assert len(in_epci) == 21


def test_one_commune(client: TestClient) -> None:
    assert client.get("/territories/communes/63113").json()["nom"] == "Clermont-Ferrand"
    assert client.get("/territories/communes/99999").status_code == 404


def test_regions_list_and_one(client: TestClient) -> None:
    regions = client.get("/territories/regions").json()
    assert len(regions) == 18 and sum(r["zone"] == "drom" for r in regions) == 5
    corse = client.get("/territories/regions/94").json()
    assert corse["nom"] == "Corse" and corse["departements"] == ["2A", "2B"]
    assert corse["communes"] == 360
    assert client.get("/territories/regions/1").json()["nom"] == "Guadeloupe"


def test_unknown_region_is_404_in_french(client: TestClient) -> None:
    response = client.get("/territories/regions/99")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "unknown_code" and body["kind"] == "région"
    assert body["codes"] == ["99"] and body["detail"].startswith("région inconnue : '99'")
    assert client.get("/territories/regions/abc").status_code == 422


def test_analysis_of_a_region_and_bad_france_or_region(client: TestClient) -> None:
    done = run(client, "/analyses", {"territory": {"regions": ["94"]}, "measure": "density"})
    assert done["summary"]["territory"] == "Corse"
    assert done["summary"]["communes"] == 360
    same = client.post("/analyses", json={"territory": {"regions": ["94"]}, "measure": "density"})
    assert same.json()["id"] == done["id"]  # the same cache key
    unknown = client.post("/analyses", json={"territory": {"regions": ["99"]}})
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["detail"].startswith("région inconnue")
    for territory in ({"france": "partout"}, {"france": "metropole", "regions": ["94"]}):
        response = client.post("/analyses", json={"territory": territory})
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "validation"
