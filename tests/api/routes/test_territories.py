from __future__ import annotations

from fastapi.testclient import TestClient


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
