from __future__ import annotations

import time

from fastapi.testclient import TestClient


def test_landing_page_lists_departements_with_map_links(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="fr">' in html and "praticiens simulés" in html
    assert "Puy-de-Dôme (63)" in html and "Auvergne-Rhône-Alpes" in html
    assert 'href="/cartes/departement/63?mesure=apl"' in html
    assert html.count('href="/departements/') == 101


def test_departement_page_lists_its_epci(client: TestClient) -> None:
    html = client.get("/departements/63").text
    assert "Clermont Auvergne Métropole" in html
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
    assert client.get(f"/analyses/{analysis_id}").json()["shareable"] is True
    assert "praticiens simulés" in client.get(map_url).text
    assert client.get("/cartes/epci/999999999").status_code == 404
