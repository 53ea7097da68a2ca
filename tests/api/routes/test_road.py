"""Road travel times through the service: upload an OSM extract, analyse with it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import make_settings, run, upload

POIS = (
    "id;latitude;longitude;profession\n"
    "P1;43.7318;7.4213;medecin_generaliste\n"  # Beausoleil side of the border
    "P2;43.7035;7.4050;medecin_generaliste\n"  # near Cap-d'Ail
)


def test_upload_osm_and_analyse_by_road(shared_data: Path, tmp_path: Path) -> None:
    osm = (shared_data / "osm" / "monaco.osm.pbf").read_bytes()
    settings = make_settings(tmp_path, max_upload_bytes=2_000_000)  # the extract is 0.5 MB
    with TestClient(create_app(settings)) as client:
        extract = upload(client, osm, "monaco.osm.pbf", kind="osm")
        assert extract.status_code == 201, extract.text
        meta = extract.json()
        assert meta["kind"] == "osm" and meta["format"] == "pbf"
        practitioners = upload(client, POIS.encode(), "cabinets.csv").json()
        body = {
            "territory": {"communes": ["06012", "06032", "06150"]},
            "dataset": practitioners["id"],
            "measure": "nearest",
            "road_dataset": meta["id"],
        }
        analysis = run(client, "/analyses", body)
        assert analysis["status"] == "done", analysis
        summary = client.get(f"/analyses/{analysis['id']}/summary").json()
        assert summary["travel"]["method"] == "road"
        assert client.get(f"/maps/{analysis['id']}.html").status_code == 200
        # an identical request is served from the store
        again = client.post("/analyses", json=body)
        assert again.status_code == 200 and again.json()["id"] == analysis["id"]


def test_road_errors(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        bad = upload(client, b"not an osm file at all", "extract.osm.pbf", kind="osm")
        assert bad.status_code == 422
        assert "extract.osm.pbf" in bad.json()["detail"]
        practitioners = upload(client, POIS.encode(), "cabinets.csv").json()
        body = {
            "territory": {"communes": ["06012"]},
            "dataset": practitioners["id"],
            "travel": "road",
        }
        missing = client.post("/analyses", json=body)
        assert missing.status_code == 422
        assert "CARTOSOINS_OSM_PATH" in missing.json()["detail"]
        both = dict(body, od_dataset="x" * 12, road_dataset="y" * 12)
        assert client.post("/analyses", json=both).status_code == 422


def test_configured_osm_path(shared_data: Path, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, osm_path=shared_data / "osm" / "monaco.osm.pbf")
    with TestClient(create_app(settings)) as client:
        practitioners = upload(client, POIS.encode(), "cabinets.csv").json()
        body = {
            "territory": {"communes": ["06012", "06032"]},
            "dataset": practitioners["id"],
            "measure": "2sfca",
            "travel": "road",
        }
        analysis = run(client, "/analyses", body)
        assert analysis["status"] == "done", analysis
        summary = client.get(f"/analyses/{analysis['id']}/summary").json()
        assert summary["travel"]["method"] == "road"
