from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from api.uploads import clean_filename
from tests.api.conftest import AUTH, LATLON_CSV, make_settings, upload

COMMUNE_CSV = "code_commune,profession\n63113,Médecin généraliste\n63014,infirmière\n".encode()
BPE_CSV = (
    b"AN;DEPCOM;DCIRIS;TYPEQU;LAMBERT_X;LAMBERT_Y;QUALITE_XY;EPSG\n"
    b"2023;63113;631130101;D265;706000.0;6518000.0;Bonne;2154\n"
    b"2023;63113;631130101;D281;706100.0;6518100.0;Bonne;2154\n"
)
RPPS_TXT = (
    "Type d'identifiant PP|Identifiant PP|Nom d'exercice|Prénom d'exercice|Code profession|"
    "Libellé profession|Code savoir-faire|Libellé savoir-faire|Code mode exercice|"
    "Code commune (coord. structure)|\n"
    "8|10001234567|DUPONT|Jeanne|10|Médecin|SM54|Médecine générale|L|63113|\n"
    "8|10007654321|MARTIN|Paul|60|Infirmier|||L|63014|\n"
).encode()
RPPS_NAME = "PS_LibreAcces_Personne_activite_202401.txt"


def test_upload_french_csv_in_cp1252_with_semicolons(client: TestClient, tmp_path: Path) -> None:
    response = upload(client, LATLON_CSV, "médecins.csv")
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/datasets/{body['id']}"
    assert body["kind"] == "practitioners" and body["format"] == "csv_latlon"
    assert body["filename"] == "médecins.csv" and body["rows"] == 2 and body["private"] is True
    assert body["info"]["professions"] == {"medecin_generaliste": 2}
    assert body["info"]["read"]["encoding"].lower() in ("cp1252", "windows-1252", "latin-1")
    assert body["synthetic"] is False and body["label"] is None
    # the same file again is the same dataset
    again = upload(client, LATLON_CSV, "médecins.csv")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert client.get(f"/datasets/{body['id']}").json() == body


@pytest.mark.parametrize(
    ("data", "filename", "fmt", "rows"),
    [
        (COMMUNE_CSV, "par_commune.csv", "csv_commune", 2),
        (BPE_CSV, "bpe21.csv", "bpe", 2),
        (RPPS_TXT, RPPS_NAME, "rpps", 2),
    ],
)
def test_upload_official_formats(
    client: TestClient, data: bytes, filename: str, fmt: str, rows: int
) -> None:
    response = upload(client, data, filename)
    assert response.status_code == 201, response.text
    assert response.json()["format"] == fmt and response.json()["rows"] == rows
    assert set(response.json()["info"]["professions"]) == {"medecin_generaliste", "infirmier"}


def test_rpps_upload_never_stores_names(client: TestClient) -> None:
    body = upload(client, RPPS_TXT, RPPS_NAME).json()
    assert not {"nom_d_exercice", "prenom_d_exercice", "Nom d'exercice"} & set(body["columns"])


def test_upload_raw_body_and_profession_filter(client: TestClient) -> None:
    response = client.post(
        "/datasets/practitioners",
        content=COMMUNE_CSV,
        params={"filename": "brut.csv", "profession": "infirmier"},
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["rows"] == 1 and response.json()["filename"] == "brut.csv"


def test_upload_geojson_and_geopackage(client: TestClient, tmp_path: Path) -> None:
    layer = gpd.GeoDataFrame(
        {"id": ["A", "B"], "profession": ["infirmier", "infirmier"]},
        geometry=[shapely.Point(706000, 6518000), shapely.Point(707000, 6519000)],
        crs=2154,
    )
    geojson = layer.to_crs(4326).to_json().encode()
    response = upload(client, geojson, "points.geojson")
    assert response.status_code == 201, response.text
    assert response.json()["format"] == "geojson" and response.json()["rows"] == 2
    path = tmp_path / "points.gpkg"
    pyogrio.write_dataframe(layer, path, driver="GPKG")
    response = upload(client, path.read_bytes(), "points.gpkg")
    assert response.status_code == 201, response.text
    assert response.json()["format"] == "gpkg"


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"id;latitude;longitude\nA;45,77;3,08\nB;45,7;abc\n", "coord.csv", "row 2"),
        (b"id;latitude;longitude\nA;10;10\n", "hors.csv", "outside France"),
        (b"foo;bar\n1;2\n", "colonnes.csv", "columns found: 'foo', 'bar'"),
        (b"\x00\x01\x02\x03binary", "binaire.csv", "binaire.csv"),
    ],
)
def test_malformed_files_are_422_naming_file_row_and_column(
    client: TestClient, data: bytes, filename: str, expected: str
) -> None:
    response = upload(client, data, filename)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(filename) and expected in detail
    assert response.json()["error"] == "input_format"


def test_bad_number_names_its_column(client: TestClient) -> None:
    response = upload(client, b"id;latitude;longitude\nA;45,7;abc\n", "f.csv")
    assert (
        response.json()["detail"] == "f.csv: column 'longitude', row 1: value 'abc' is not a number"
    )


def test_upload_over_the_limit_is_413(client: TestClient, settings: Settings) -> None:
    big = b"id;latitude;longitude\n" + b"A;45,7;3,1\n" * (settings.max_upload_bytes // 10)
    assert len(big) > settings.max_upload_bytes
    response = upload(client, big, "gros.csv")
    assert response.status_code == 413
    assert "200\u202f000 octets" in response.json()["detail"]
    raw = client.post("/datasets/practitioners", content=big, headers={"Content-Type": "text/csv"})
    assert raw.status_code == 413
    assert client.get("/datasets").json() == []


def test_file_names_never_reach_the_filesystem(client: TestClient, settings: Settings) -> None:
    response = upload(client, COMMUNE_CSV, "../../../../tmp/évil<>name.csv")
    assert response.status_code == 201
    assert response.json()["filename"] == "évil_name.csv"
    stored = [p.name for p in settings.artefacts_dir.rglob("*") if p.is_file()]
    assert stored and all(len(name) == 64 for name in stored)  # content hashes only
    assert not list(settings.database_path.parent.parent.rglob("*évil*"))


@pytest.mark.parametrize(
    ("given", "clean"),
    [
        ("..\\..\\Windows\\rpps.txt", "rpps.txt"),
        ("a\x00b\nc.csv", "abc.csv"),
        ("   ", "fichier"),
        (None, "fichier"),
        ("x" * 300 + ".csv", "x" * 120),
    ],
)
def test_clean_filename(given: str | None, clean: str) -> None:
    assert clean_filename(given) == clean


@pytest.mark.parametrize(
    ("files", "detail"),
    [
        ({"autre": ("a.csv", COMMUNE_CSV, "text/csv")}, "field named 'file'"),
        ({"file": ("vide.csv", b"", "text/csv")}, "empty"),
    ],
)
def test_bad_forms_are_422(client: TestClient, files: dict[str, object], detail: str) -> None:
    response = client.post("/datasets/practitioners", files=files)  # type: ignore[arg-type]
    assert response.status_code == 422 and detail in response.json()["detail"]


def test_population_and_od_tables(client: TestClient) -> None:
    pop = upload(client, b"code;moins_75;75_plus\n63113;130000;17000\n", "pop.csv", "population")
    assert pop.status_code == 201, pop.text
    assert pop.json()["columns"] == ["moins_75", "75_plus"] and pop.json()["rows"] == 1
    od = upload(
        client,
        "CODGEO;CODGEO_DEST;DUREE\n63113;63014;8,5\n63014;63113;8,5\n".encode("cp1252"),
        "metric.csv",
        "od",
        origin_column="CODGEO",
        dest_column="CODGEO_DEST",
        minutes_column="DUREE",
    )
    assert od.status_code == 201, od.text
    assert od.json()["info"] == {
        "origins": 2,
        "destinations": 2,
        "max_minutes": 8.5,
        "layout": "long",
        "layout_from": "detected",
        "unit": "minutes",
        "unit_from": "magnitudes",
    }
    stated = upload(
        client,
        b"origin;dest;minutes\n63113;63014;600\n",
        "secondes.csv",
        "od",
        unit="seconds",
    )
    assert stated.status_code == 201, stated.text
    assert stated.json()["info"]["max_minutes"] == 10.0
    assert stated.json()["info"]["unit_from"] == "stated"
    wrong = upload(client, b"origin;dest;minutes\n63113;63014;6\n", "x.csv", "od", unit="heures")
    assert wrong.status_code == 422
    bad = upload(client, b"CODGEO;DUREE\n63113;8\n", "metric.csv", "od", origin_column="CODGEO")
    assert bad.status_code == 422 and bad.json()["detail"].startswith(
        "metric.csv : colonne(s) manquante(s)"
    )
    negative = upload(client, b"origin;dest;minutes\n63113;63014;-3\n", "neg.csv", "od")
    assert negative.status_code == 422
    assert "neg.csv" in negative.json()["detail"] and "ligne(s) 1" in negative.json()["detail"]


def test_demo_dataset_is_flagged_as_simulated(client: TestClient) -> None:
    demo = client.get("/datasets/demo").json()
    assert demo["synthetic"] is True
    assert demo["label"] == "praticiens simulés — données de démonstration"


def test_private_datasets_need_the_token(secured: TestClient) -> None:
    assert upload(secured, COMMUNE_CSV, "a.csv").status_code == 401
    wrong = upload(secured, COMMUNE_CSV, "a.csv", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    created = upload(secured, COMMUNE_CSV, "a.csv", headers=AUTH)
    assert created.status_code == 201
    dataset_id = created.json()["id"]
    assert secured.get(f"/datasets/{dataset_id}").status_code == 401
    assert secured.get(f"/datasets/{dataset_id}", headers=AUTH).status_code == 200
    assert secured.get("/datasets").json() == []
    assert [d["id"] for d in secured.get("/datasets", headers=AUTH).json()] == [dataset_id]
    public = upload(secured, BPE_CSV, "bpe.csv", headers=AUTH, private=False).json()
    assert [d["id"] for d in secured.get("/datasets").json()] == [public["id"]]
    assert secured.get(f"/datasets/{public['id']}").status_code == 200


def test_delete_removes_the_files(client: TestClient, settings: Settings) -> None:
    dataset_id = upload(client, COMMUNE_CSV, "a.csv").json()["id"]
    files_before = [p for p in settings.artefacts_dir.rglob("*") if p.is_file()]
    assert len(files_before) == 2  # the upload and its parsed table
    assert client.delete(f"/datasets/{dataset_id}").status_code == 204
    assert client.get(f"/datasets/{dataset_id}").status_code == 404
    assert client.delete(f"/datasets/{dataset_id}").status_code == 404
    assert not [p for p in settings.artefacts_dir.rglob("*") if p.is_file()]


def test_unknown_format_parameter_is_422(client: TestClient) -> None:
    response = upload(client, COMMUNE_CSV, "a.csv", format="xls")
    assert response.status_code == 422
    assert "unknown format 'xls'" in json.dumps(response.json())


def test_dataset_ids_are_validated(client: TestClient) -> None:
    assert client.get("/datasets/ds_" + "0" * 26).status_code == 404
    assert client.get("/datasets/..%2F..%2Fetc").status_code in (404, 422)
    assert io.BytesIO  # keep the import for readers building their own uploads


@pytest.mark.shared_data
def test_real_osrm_matrix_wide_in_seconds(tmp_path: Path, shared_data: Path) -> None:
    """The Isère matrix as OSRM exports it: 512 × 512, seconds, codes as headers."""
    data = (shared_data / "od" / "isere_osrm_car_seconds_neocarto.csv").read_bytes()
    settings = make_settings(tmp_path, max_upload_bytes=5_000_000)
    with TestClient(create_app(settings)) as client:
        od = upload(client, data, "TimeDistCarIsere.csv", "od")
        assert od.status_code == 201, od.text
    info = od.json()["info"]
    assert info["layout"] == "wide" and info["unit"] == "seconds"
    assert info["origins"] == info["destinations"] == 512
    assert od.json()["rows"] == 512 * 512
    assert info["max_minutes"] < 400  # seconds turned into minutes
