from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import SMALL_TERRITORY, make_settings, run

DEMO = {
    "territory": SMALL_TERRITORY,
    "dataset": "demo",
    "measure": "apl",
    "profession": "medecin_generaliste",
}


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(
        tmp_path_factory.mktemp("maps"), frame_ancestors="'self' https://www.example-epci.fr"
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def analysis(embedded: TestClient) -> dict[str, Any]:
    return run(embedded, "/analyses", DEMO)  # type: ignore[no-any-return]


def test_html_map_is_offline_flagged_and_embeddable(
    embedded: TestClient, analysis: dict[str, Any]
) -> None:
    response = embedded.get(f"/maps/{analysis['id']}.html")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == (
        "frame-ancestors 'self' https://www.example-epci.fr"
    )
    assert "x-frame-options" not in response.headers
    html = response.text
    assert "praticiens simulés" in html and "Accessibilité potentielle localisée" in html
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?:", html)


def test_png_map(embedded: TestClient, analysis: dict[str, Any]) -> None:
    response = embedded.get(f"/maps/{analysis['id']}.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG") and len(response.content) > 30_000


def test_maps_are_stored_and_revalidated(embedded: TestClient, analysis: dict[str, Any]) -> None:
    first = embedded.get(f"/maps/{analysis['id']}.png")
    second = embedded.get(f"/maps/{analysis['id']}.png")
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = embedded.get(
        f"/maps/{analysis['id']}.png", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


def test_other_pages_may_not_be_framed(embedded: TestClient) -> None:
    response = embedded.get("/health")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_unknown_or_unfinished(embedded: TestClient) -> None:
    assert embedded.get("/maps/an_" + "0" * 26 + ".html").status_code == 404
    assert embedded.get("/maps/whatever.html").status_code == 422
    pending = embedded.post("/analyses", json=DEMO | {"measure": "gravity"}).json()
    status = embedded.get(f"/maps/{pending['id']}.html").status_code
    assert status in (200, 409)  # 409 while it runs, then the map


def test_frame_ancestors_setting_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid source"):
        make_settings(tmp_path, frame_ancestors="'self'; script-src *")
