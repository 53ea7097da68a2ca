"""Exports users open: the CSV of French Excel, Lambert-93 for QGIS, compressed pages."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api import compression
from api.main import create_app
from tests.api.conftest import AUTH, SMALL_TERRITORY, TOKEN, make_settings, run

BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(tmp_path_factory.mktemp("exports"), api_token=TOKEN)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def analysis(secured: TestClient) -> dict[str, Any]:
    """A private analysis of three communes of Clermont (simulated practitioners)."""
    body = {"territory": SMALL_TERRITORY, "dataset": "demo", "measure": "apl"}
    return run(secured, "/analyses", body, AUTH)  # type: ignore[no-any-return]


def test_the_excel_csv_has_a_bom_semicolons_and_decimal_commas(
    secured: TestClient, analysis: dict[str, Any]
) -> None:
    url = f"/analyses/{analysis['id']}/communes.csv"
    standard = secured.get(url, headers=AUTH)
    excel = secured.get(url, params={"format": "excel"}, headers=AUTH)
    assert excel.status_code == 200 and excel.headers["content-type"] == "text/csv; charset=utf-8"
    assert excel.content.startswith(BOM) and not standard.content.startswith(BOM)
    assert excel.headers["content-disposition"] == (
        f'attachment; filename="communes_{analysis["id"]}_excel.csv"'
    )
    header = excel.content[len(BOM) :].split(b"\r\n")[0].decode("utf-8")
    assert header.startswith("source_praticiens;code;nom;")
    raw = pd.read_csv(io.BytesIO(excel.content), sep=";", encoding="utf-8-sig", dtype=str)
    assert raw["value"].str.fullmatch(r"\d+,\d+").all()  # a decimal comma: « 449,91… »
    table = pd.read_csv(
        io.BytesIO(excel.content), sep=";", decimal=",", encoding="utf-8-sig", dtype={"code": str}
    )
    reference = pd.read_csv(io.BytesIO(standard.content), dtype={"code": str})
    assert list(table.columns) == list(reference.columns)
    assert table["code"].tolist() == reference["code"].tolist()
    assert table["value"].dtype == float
    assert table["value"].round(9).tolist() == reference["value"].round(9).tolist()
    assert table["nom"].tolist() == reference["nom"].tolist()  # accents intact: Aubière


def test_the_excel_csv_is_private_like_the_analysis_and_revalidates(
    secured: TestClient, analysis: dict[str, Any]
) -> None:
    url = f"/analyses/{analysis['id']}/communes.csv?format=excel"
    assert secured.get(url).status_code == 401
    first = secured.get(url, headers=AUTH)
    again = secured.get(url, headers=AUTH | {"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    standard = secured.get(url.replace("?format=excel", ""), headers=AUTH)
    assert standard.headers["etag"] != first.headers["etag"]
    assert secured.get(url.replace("excel", "tableur"), headers=AUTH).status_code == 422


def test_geopackage_in_lambert_93(
    secured: TestClient, analysis: dict[str, Any], tmp_path: Path
) -> None:
    url = f"/analyses/{analysis['id']}/communes.gpkg"
    lambert = secured.get(url, params={"crs": 2154}, headers=AUTH)
    assert lambert.status_code == 200
    assert lambert.headers["content-disposition"] == (
        f'attachment; filename="communes_{analysis["id"]}_epsg2154.gpkg"'
    )
    path = tmp_path / "l93.gpkg"
    path.write_bytes(lambert.content)
    communes = gpd.read_file(path, layer="communes")
    assert communes.crs.to_epsg() == 2154
    x_min, y_min, x_max, y_max = communes.total_bounds  # Clermont-Ferrand in metres
    assert 690_000 < x_min < x_max < 720_000 and 6_510_000 < y_min < y_max < 6_530_000
    default = tmp_path / "default.gpkg"
    default.write_bytes(secured.get(url, headers=AUTH).content)
    assert gpd.read_file(default, layer="communes").crs.to_epsg() == 4326
    assert len(gpd.read_file(path, layer="metadonnees")) > 0


def test_geojson_stays_wgs84_by_default_and_offers_lambert_93(
    secured: TestClient, analysis: dict[str, Any]
) -> None:
    url = f"/analyses/{analysis['id']}/communes.geojson"
    default = json.loads(secured.get(url, headers=AUTH).content)
    assert "crs" not in default  # RFC 7946: WGS 84, no crs member
    response = secured.get(url, params={"crs": "2154"}, headers=AUTH)
    assert response.headers["content-type"] == "application/geo+json"
    lambert = json.loads(response.content)
    assert lambert["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::2154"
    frame = gpd.GeoDataFrame.from_features(lambert["features"], crs=2154)
    assert 690_000 < frame.total_bounds[0] < 720_000
    assert lambert["metadata"] == default["metadata"]
    refused = secured.get(url, params={"crs": 3857}, headers=AUTH)
    assert refused.status_code == 422 and "4326 ou 2154" in refused.json()["detail"]


def test_overseas_communes_are_refused_in_lambert_93_with_a_clear_message(
    secured: TestClient,
) -> None:
    body = {"territory": {"communes": ["97411"]}, "dataset": "demo", "measure": "density"}
    reunion = run(secured, "/analyses", body, AUTH)
    for export in ("communes.gpkg", "communes.geojson"):
        url = f"/analyses/{reunion['id']}/{export}"
        refused = secured.get(url, params={"crs": 2154}, headers=AUTH)
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_data"
        detail = refused.json()["detail"]
        assert "Lambert-93 ne couvre que la France métropolitaine" in detail
        assert "974" in detail and "EPSG:2975" in detail and "crs=4326" in detail
        assert secured.get(url, params={"crs": 4326}, headers=AUTH).status_code == 200


def test_html_and_json_are_compressed_for_clients_that_accept_gzip(
    secured: TestClient, analysis: dict[str, Any]
) -> None:
    url = f"/maps/{analysis['id']}.html"
    plain = secured.get(url, headers=AUTH | {"Accept-Encoding": "identity"})
    packed = secured.get(url, headers=AUTH | {"Accept-Encoding": "gzip"}, follow_redirects=False)
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert packed.content == plain.content  # httpx decodes it
    assert packed.num_bytes_downloaded < plain.num_bytes_downloaded / 2
    # the security headers survive the compression
    assert packed.headers["content-security-policy"].startswith("frame-ancestors")
    summary = secured.get(f"/analyses/{analysis['id']}", headers=AUTH | {"Accept-Encoding": "gzip"})
    assert summary.headers["content-encoding"] == "gzip" and summary.json()["id"]
    spec = secured.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert spec.headers["content-encoding"] == "gzip" and spec.json()["openapi"]


def test_a_stored_file_is_compressed_once_for_every_client(
    secured: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"territory": SMALL_TERRITORY, "dataset": "demo", "measure": "nearest"}
    fresh = run(secured, "/analyses", body, AUTH)  # its files never sent compressed yet
    calls: list[int] = []
    real = compression._compress

    def counting(data: bytes, level: int) -> bytes:
        calls.append(len(data))
        return real(data, level)

    monkeypatch.setattr(compression, "_compress", counting)
    url = f"/analyses/{fresh['id']}/communes.gpkg"
    bodies = [secured.get(url, headers=AUTH | {"Accept-Encoding": "gzip"}) for _ in range(3)]
    assert all(r.headers["content-encoding"] == "gzip" for r in bodies)
    assert bodies[0].content == bodies[1].content == bodies[2].content
    assert len({r.headers["content-length"] for r in bodies}) == 1
    assert len(calls) == 1 and calls[0] == len(bodies[0].content)
    plain = secured.get(url, headers=AUTH | {"Accept-Encoding": "identity"})
    assert plain.content == bodies[0].content and "content-encoding" not in plain.headers
