"""National files: streamed uploads, background reading, limits, .csv.gz OD tables, OSM info."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import text

from api.main import create_app
from api.settings import MAX_UPLOAD_LIMIT, Settings
from api.uploads import UploadRejected, receive_upload
from tests.api.conftest import LATLON_CSV, make_settings, upload

T = TypeVar("T")

COMMUNE_CSV = b"code_commune;profession\n63113;Infirmier\n63014;Infirmier\n"
OD_CSV = b"origin;dest;minutes\n63113;63113;0\n63113;63014;12\n63014;63113;12\n63014;63014;0\n"


def _stream(data: bytes, chunk: int, consumed: list[int]) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for start in range(0, len(data), chunk):
            consumed.append(start)
            yield data[start : start + chunk]

    return gen()


def _receive(data: bytes, tmp: Path, **kwargs: Any) -> Any:
    consumed: list[int] = []
    options: dict[str, Any] = {
        "content_type": "text/csv",
        "content_length": None,
        "filename": "f.csv",
        "limit": 100_000,
        "tmp_dir": tmp,
    }
    options.update(kwargs)
    chunk = options.pop("chunk", 1000)
    stream = _stream(data, chunk, consumed)
    result = _run_in_own_thread(lambda: receive_upload(stream=stream, **options))
    return result, consumed


def _run_in_own_thread(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run`` in a thread of its own, the coroutine created there.

    The session's Playwright browser (sync API) keeps an event loop running in the main thread
    once a browser test has started it, and ``asyncio.run`` refuses to start inside it.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


@pytest.fixture
def background(tmp_path: Path) -> Iterator[TestClient]:
    """A service that reads every upload in the background (sync_parse_bytes=0)."""
    settings = make_settings(tmp_path, sync_parse_bytes=0)
    with TestClient(create_app(settings)) as client:
        yield client


def _ready(client: TestClient, created: Any) -> Any:
    """Wait for the background reading of an upload (no polling), return its dataset."""
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["status"] in ("pending", "running", "ready")
    assert created.headers["Location"] == f"/datasets/{body['id']}"
    client.app.state.services.wait_dataset(body["id"], timeout=60)  # type: ignore[attr-defined]
    return client.get(f"/datasets/{body['id']}").json()


# ---------------------------------------------------------------------------------------------
# 1. streaming to disk, hashed while written, limit checked mid-stream
# ---------------------------------------------------------------------------------------------
def test_a_file_over_the_memory_threshold_goes_to_a_temporary_file(tmp_path: Path) -> None:
    data = b"code_commune;profession\n" + b"63113;Infirmier\n" * 2000
    received, _ = _receive(data, tmp_path, memory_bytes=4096)
    assert not received.in_memory and received.data is None
    assert received.path.parent == tmp_path and received.path.name.endswith(".tmp")
    assert received.path.read_bytes() == data
    assert received.sha256 == hashlib.sha256(data).hexdigest() and received.size == len(data)
    received.discard()
    assert not list(tmp_path.iterdir())
    small, _ = _receive(b"code_commune\n63113\n", tmp_path, memory_bytes=4096)
    assert small.in_memory and small.data == b"code_commune\n63113\n"
    assert not list(tmp_path.iterdir())


def test_multipart_file_is_streamed_and_fields_kept(tmp_path: Path) -> None:
    data = b"x" * 50_000
    boundary = "limite"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nbonjour\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="../a.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    received, _ = _receive(
        body,
        tmp_path,
        content_type=f"multipart/form-data; boundary={boundary}",
        filename=None,
        memory_bytes=1024,
        chunk=777,
    )
    assert received.path is not None and received.path.read_bytes() == data
    assert received.sha256 == hashlib.sha256(data).hexdigest()
    assert received.filename == "a.csv" and received.fields == {"note": "bonjour"}
    received.discard()


def test_the_limit_is_enforced_while_streaming(tmp_path: Path) -> None:
    data = b"a" * 1_000_000
    with pytest.raises(UploadRejected) as refused:
        _receive(data, tmp_path, limit=100_000, memory_bytes=10_000, chunk=10_000)
    assert refused.value.status_code == 413 and refused.value.error == "too_large"
    # no Content-Length: refused after ~limit bytes, not after the whole body
    consumed: list[int] = []

    async def count() -> None:
        await receive_upload(
            content_type="text/csv",
            content_length=None,
            stream=_stream(data, 10_000, consumed),
            filename="f.csv",
            limit=100_000,
            tmp_dir=tmp_path,
            memory_bytes=10_000,
        )

    with pytest.raises(UploadRejected):
        _run_in_own_thread(count)
    assert len(consumed) == 11  # 11 chunks of 10 kB pass 100 kB: the other 89 are never read
    assert not list(tmp_path.iterdir())  # the partial temporary file is deleted


def test_413_mid_stream_through_the_api(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_upload_bytes=50_000)
    with TestClient(create_app(settings)) as client:

        def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to trust
            yield b"code_commune;profession\n"
            for _ in range(100):
                yield b"63113;Infirmier\n" * 100

        response = client.post(
            "/datasets/practitioners",
            content=chunks(),
            headers={"Content-Type": "text/csv"},
        )
        assert response.status_code == 413, response.text
        body = response.json()
        assert body["error"] == "too_large" and "50\u202f000 octets" in body["detail"]
        assert client.get("/datasets").json() == []
        tmp = settings.artefacts_dir / "tmp"
        assert not list(tmp.glob("*"))


def test_upload_limit_setting_up_to_1_gib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTOSOINS_MAX_UPLOAD_BYTES", str(MAX_UPLOAD_LIMIT))
    assert Settings(_env_file=None).max_upload_bytes == 1024**3  # type: ignore[call-arg]
    monkeypatch.setenv("CARTOSOINS_MAX_UPLOAD_BYTES", str(MAX_UPLOAD_LIMIT + 1))
    with pytest.raises(ValidationError, match="max_upload_bytes"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("CARTOSOINS_MAX_UPLOAD_BYTES", "0")
    with pytest.raises(ValidationError, match="max_upload_bytes"):
        Settings(_env_file=None)  # type: ignore[call-arg]


# ---------------------------------------------------------------------------------------------
# 2. background reading: 202, progress, French errors, nothing half-written
# ---------------------------------------------------------------------------------------------
def test_big_upload_is_read_in_the_background(background: TestClient) -> None:
    created = upload(background, LATLON_CSV, "medecins.csv")
    dataset = _ready(background, created)
    assert dataset["status"] == "ready" and dataset["progress"] == 1.0
    assert dataset["rows"] == 2 and dataset["error"] is None
    assert dataset["info"]["professions"] == {"medecin_generaliste": 2}
    # the same bytes again: the stored dataset (200)
    again = upload(background, LATLON_CSV, "medecins.csv")
    assert again.status_code == 200 and again.json()["id"] == dataset["id"]
    analysis = background.post(
        "/analyses",
        json={
            "territory": {"communes": ["63113", "63014"]},
            "dataset": dataset["id"],
            "measure": "density",
        },
    )
    assert analysis.status_code in (200, 202), analysis.text


def test_small_upload_is_still_answered_201(client: TestClient) -> None:
    response = upload(client, COMMUNE_CSV, "inf.csv")
    assert response.status_code == 201 and response.json()["status"] == "ready"


def test_a_failed_background_reading_leaves_no_dataset_table(background: TestClient) -> None:
    bad = b"id;latitude;longitude\nA;45,77;3,08\nB;45,7;abc\n"
    created = upload(background, bad, "coord.csv")
    dataset = _ready(background, created)
    assert dataset["status"] == "failed" and dataset["rows"] == 0
    assert dataset["columns"] == [] and dataset["message"] == "Échec"
    error = dataset["error"]
    assert error.startswith("Lecture impossible du fichier coord.csv : ")
    assert "column 'longitude'" in error and "row 2" in error and "'abc'" in error
    services = background.app.state.services  # type: ignore[attr-defined]
    stored = [p for p in services.store.root.rglob("*") if p.is_file()]
    assert stored == []  # neither the original nor a partial table is kept
    # an analysis on it is refused at once, naming the failure
    refused = background.post(
        "/analyses",
        json={"territory": {"communes": ["63113"]}, "dataset": dataset["id"]},
    )
    assert refused.status_code == 422 and "échoué" in refused.json()["detail"]
    # the same bytes, once fixed, are read again
    fixed = upload(background, bad.replace(b"abc", b"3,1"), "coord.csv")
    assert _ready(background, fixed)["status"] == "ready"


def test_interrupted_background_reading_resumes_at_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sync_parse_bytes=0)
    with TestClient(create_app(settings)) as client:
        dataset = _ready(client, upload(client, COMMUNE_CSV, "inf.csv"))
        services = client.app.state.services  # type: ignore[attr-defined]
        with services.db.transaction() as conn:  # as a stop in the middle leaves it
            conn.execute(  # (with a shared database: its reader's lease ran out)
                text(
                    "UPDATE datasets SET status = 'running', progress = 0.05, "
                    "parsed_sha256 = '', rows = 0, reader = NULL, lease_until = NULL "
                    "WHERE id = :id"
                ),
                {"id": dataset["id"]},
            )
    with TestClient(create_app(settings)) as client:
        client.app.state.services.wait_dataset(dataset["id"], timeout=60)  # type: ignore[attr-defined]
        again = client.get(f"/datasets/{dataset['id']}").json()
        assert again["status"] == "ready" and again["rows"] == 2


# ---------------------------------------------------------------------------------------------
# 4. .csv.gz OD tables
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sync", [True, False])
def test_gzipped_od_table_is_decompressed(tmp_path: Path, sync: bool) -> None:
    data = gzip.compress(OD_CSV.decode().replace("63014", "63019").encode("cp1252"))
    settings = make_settings(tmp_path, sync_parse_bytes=10_000 if sync else 0)
    with TestClient(create_app(settings)) as client:
        created = upload(client, data, "temps.csv.gz", kind="od")
        if sync:
            assert created.status_code == 201, created.text
            dataset = created.json()
        else:
            dataset = _ready(client, created)
        assert dataset["status"] == "ready", dataset
        assert dataset["rows"] == 4 and dataset["info"]["origins"] == 2
        assert dataset["info"]["max_minutes"] == 12.0


def test_truncated_gzip_od_table_is_422_in_french(client: TestClient) -> None:
    data = gzip.compress(OD_CSV * 50)[:-30]
    response = upload(client, data, "temps.csv.gz", kind="od")
    assert response.status_code == 422, response.text
    assert "temps.csv.gz : fichier gzip illisible ou tronqué" in response.json()["detail"]


# ---------------------------------------------------------------------------------------------
# 5. OSM datasets: real row count, no server path
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sync", [True, False])
def test_osm_dataset_counts_ways_and_shows_no_server_path(
    shared_data: Path, tmp_path: Path, sync: bool
) -> None:
    osm = (shared_data / "osm" / "monaco.osm.pbf").read_bytes()
    settings = make_settings(
        tmp_path, max_upload_bytes=2_000_000, sync_parse_bytes=2_000_000 if sync else 0
    )
    with TestClient(create_app(settings)) as client:
        created = upload(client, osm, "monaco.osm.pbf", kind="osm")
        if sync:
            assert created.status_code == 201, created.text
            dataset = created.json()
        else:
            dataset = _ready(client, created)
        source = dataset["info"]["source"]
        assert dataset["status"] == "ready"
        assert dataset["rows"] > 0 and dataset["rows"] == source["drivable_ways"]
        assert source["file"] == "monaco.osm.pbf" and "path" not in source
        listed = client.get("/datasets").text + client.get(f"/datasets/{dataset['id']}").text
        for text in (created.text, listed):
            assert str(tmp_path) not in text and "/tmp" not in text
            assert str(settings.artefacts_dir) not in text


def test_osm_errors_show_no_server_path(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sync_parse_bytes=0)
    with TestClient(create_app(settings)) as client:
        created = upload(client, b"<osm version='0.6'></osm>", "vide.osm", kind="osm")
        dataset = _ready(client, created)
        assert dataset["status"] == "failed" and "vide.osm" in dataset["error"]
        assert str(tmp_path) not in dataset["error"]


def test_od_table_without_any_time_is_422_not_500(client: TestClient) -> None:
    response = client.post(
        "/datasets/od",
        params={"dest_column": "0", "layout": "wide"},
        content=b"[null, null]",
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "input_format"
