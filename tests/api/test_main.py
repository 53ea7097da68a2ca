"""The application as a whole: offline docs, OpenAPI, health, request size limit."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.settings import Settings


def test_docs_work_offline(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), page
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert assets
        for asset in assets:
            response = client.get(asset)
            assert response.status_code == 200 and len(response.content) > 1000, asset
    assert '"validatorUrl": null' in client.get("/docs").text


def test_openapi_lists_every_resource(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/territories/departements",
        "/territories/communes",
        "/datasets/practitioners",
        "/datasets/population",
        "/datasets/od",
        "/analyses",
        "/analyses/{analysis_id}/summary",
        "/analyses/{analysis_id}/communes.geojson",
        "/analyses/{analysis_id}/communes.gpkg",
        "/maps/{analysis_id}.html",
        "/maps/{analysis_id}.png",
        "/analyses/{analysis_id}/scenarios",
        "/analyses/{analysis_id}/siting",
        "/jobs/{job_id}",
        "/health",
    } <= paths
    assert "/" not in paths  # the HTML pages stay out of the API schema
    upload = schema["paths"]["/datasets/practitioners"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_health(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"


def test_any_request_body_is_capped(client: TestClient, settings: Settings) -> None:
    body = b'{"territory": {"communes": [' + b'"63113",' * settings.max_upload_bytes + b"]}}"
    response = client.post("/analyses", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"

    def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: streamed
        yield b'{"territory": {"communes": ['
        for _ in range(settings.max_upload_bytes // 8000 + 20):
            yield b'"63113",' * 1000
        yield b"]}}"

    streamed = client.post(
        "/analyses", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
