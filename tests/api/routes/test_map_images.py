"""`/maps/{id}.png` draws the page asked for: title, size in cm or px, dpi, PNG / SVG / PDF."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.main import create_app
from tests.api.conftest import SMALL_TERRITORY, make_settings, run

DEMO = {
    "territory": SMALL_TERRITORY,
    "dataset": "demo",
    "measure": "apl",
    "profession": "medecin_generaliste",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path_factory.mktemp("images")))) as c:
        yield c


@pytest.fixture(scope="module")
def analysis(client: TestClient) -> dict[str, Any]:
    return run(client, "/analyses", DEMO)  # type: ignore[no-any-return]


def test_size_in_pixels_and_dpi(client: TestClient, analysis: dict[str, Any]) -> None:
    response = client.get(
        f"/maps/{analysis['id']}.png", params={"width_px": 800, "height_px": 450, "dpi": 100}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (800, 450)
    assert (
        response.headers["etag"]
        and "frame-ancestors" in response.headers["content-security-policy"]
    )
    again = client.get(
        f"/maps/{analysis['id']}.png",
        params={"width_px": 800, "height_px": 450, "dpi": 100},
        headers={"If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304


def test_one_side_keeps_the_proportions(client: TestClient, analysis: dict[str, Any]) -> None:
    response = client.get(f"/maps/{analysis['id']}.png", params={"width_cm": 12.5})
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (984, 709)  # 12,5 × 9 cm at 200 dpi


def test_title_in_svg_and_pdf(client: TestClient, analysis: dict[str, Any]) -> None:
    svg = client.get(
        f"/maps/{analysis['id']}.png",
        params={"format": "svg", "title": "Conseil municipal du 3 mars", "subtitle": ""},
    )
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in svg.content and b"Conseil municipal du 3 mars" in svg.content
    pdf = client.get(f"/maps/{analysis['id']}.png", params={"format": "pdf", "width_cm": 20})
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_default_png_is_still_the_stored_one(client: TestClient, analysis: dict[str, Any]) -> None:
    first = client.get(f"/maps/{analysis['id']}.png")
    custom = client.get(f"/maps/{analysis['id']}.png", params={"title": "Autre titre"})
    assert first.status_code == custom.status_code == 200
    assert Image.open(io.BytesIO(first.content)).size == (1969, 1417)  # 25 × 18 cm, 200 dpi
    assert first.headers["etag"] != custom.headers["etag"]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"width_cm": 3}, ["width_cm", "au moins 5 cm"]),
        ({"width_cm": 20, "width_px": 800}, ["pas les deux"]),
        ({"width_cm": 150, "dpi": 600}, ["pixels", "au plus"]),
        ({"width_px": 0}, ["width_px"]),
        ({"dpi": "beaucoup"}, ["dpi"]),
        ({"format": "gif"}, ["format"]),
    ],
)
def test_bad_options_are_french_422(
    client: TestClient, analysis: dict[str, Any], params: dict[str, Any], words: list[str]
) -> None:
    response = client.get(f"/maps/{analysis['id']}.png", params=params)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert all(w in detail for w in words), detail


def test_scenario_image_with_options(client: TestClient, analysis: dict[str, Any]) -> None:
    body = {"changes": [{"type": "add_practitioners", "commune": "63113", "n": 2}]}
    scenario = run(client, f"/analyses/{analysis['id']}/scenarios", body)
    response = client.get(
        f"/maps/{scenario['id']}.png", params={"width_px": 640, "height_px": 480, "dpi": 96}
    )
    assert response.status_code == 200, response.text
    assert Image.open(io.BytesIO(response.content)).size == (640, 480)


def test_openapi_documents_the_options(client: TestClient, tmp_path: Path) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/maps/{analysis_id}.png"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"title", "subtitle", "width_cm", "height_cm", "width_px", "height_px", "dpi"} <= names
    assert "format" in names and "422" in operation["responses"]
    assert set(operation["responses"]["200"]["content"]) == {
        "image/png",
        "image/svg+xml",
        "application/pdf",
    }
