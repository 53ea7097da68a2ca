from __future__ import annotations

import time

from fastapi.testclient import TestClient

from geo.offer import load_gp_offer

SIMULATED = "praticiens simulés"


def test_landing_page_lists_departements_with_map_links(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="fr">' in html
    assert load_gp_offer().source_label in html  # the maps are on the real GPs, and say so
    assert "Puy-de-Dôme (63)" in html and "Auvergne-Rhône-Alpes" in html
    assert 'href="/cartes/departement/63?mesure=apl"' in html
    assert html.count('href="/departements/') == 101
    # the DROM, absent from the source, only get simulated maps, labelled and asked for
    assert 'href="/cartes/departement/971?mesure=apl&amp;donnees=demo"' in html
    assert 'href="/cartes/departement/971?mesure=apl"' not in html
    assert html.count("donnees=demo") == 3 * 5 and SIMULATED in html


def test_departement_page_lists_its_epci(client: TestClient) -> None:
    html = client.get("/departements/63").text
    assert "Clermont Auvergne Métropole" in html
    assert load_gp_offer().source_label in html and SIMULATED not in html
    assert "Puy-de-Dôme (63) — INSEE BPE (2017 probable)" in html and "CNAM 2024" in html
    assert 'href="/cartes/epci/246300701?mesure=apl"' in html
    assert client.get("/departements/00").status_code == 404


def test_map_link_computes_then_redirects_to_the_shareable_map(client: TestClient) -> None:
    url = "/cartes/epci/246301097?mesure=nearest"  # a small EPCI
    deadline = time.monotonic() + 60
    response = client.get(url, follow_redirects=False)
    while response.status_code == 200 and time.monotonic() < deadline:
        assert '<meta http-equiv="refresh"' in response.text and "<progress" in response.text
        time.sleep(0.2)
        response = client.get(url, follow_redirects=False)
    assert response.status_code == 303
    map_url = response.headers["location"]
    assert map_url.startswith("/maps/") and map_url.endswith(".html")
    analysis_id = map_url.removeprefix("/maps/").removesuffix(".html")
    analysis = client.get(f"/analyses/{analysis_id}").json()
    assert analysis["shareable"] is True and analysis["request"]["dataset"] == "bpe"
    html = client.get(map_url).text
    assert load_gp_offer().source_label in html and SIMULATED not in html
    assert client.get("/cartes/epci/999999999").status_code == 404


def test_simulated_map_only_when_asked_and_labelled(client: TestClient) -> None:
    url = "/cartes/epci/246301097?mesure=nearest&donnees=demo"
    deadline = time.monotonic() + 60
    response = client.get(url, follow_redirects=False)
    while response.status_code == 200 and time.monotonic() < deadline:
        assert SIMULATED in response.text  # the progress page says it too
        time.sleep(0.2)
        response = client.get(url, follow_redirects=False)
    assert response.status_code == 303
    map_url = response.headers["location"]
    analysis_id = map_url.removeprefix("/maps/").removesuffix(".html")
    assert client.get(f"/analyses/{analysis_id}").json()["request"]["dataset"] == "demo"
    assert SIMULATED in client.get(map_url).text
    assert client.get("/cartes/epci/246301097?donnees=autre").status_code == 422
