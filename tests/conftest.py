"""Shared fixtures: the ../shared/data samples, a 3×3 grid of square communes, PostgreSQL.

``--db=postgresql`` (or ``CARTOSOINS_TEST_DB=postgresql``) runs the service's tests (tests/api)
on PostgreSQL: a throwaway cluster started for the session (scripts/pg_cluster.sh), or the
server of ``CARTOSOINS_TEST_POSTGRES_URL`` (a superuser's URL), one new database per test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from tests.browser import OfflineBrowser, launch_offline_browser
from tests.pg import PostgresServer, server_binaries, throwaway_server

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

requires_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"real data samples not found at {SHARED_DATA} (present in CI; absent on a fresh clone)",
)


DB_CHOICES = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=DB_CHOICES,
        default=os.environ.get("CARTOSOINS_TEST_DB") or "sqlite",
        help=(
            "database of the service's tests: sqlite (default) or postgresql (a throwaway "
            "cluster, or the server of CARTOSOINS_TEST_POSTGRES_URL); default from "
            "CARTOSOINS_TEST_DB. With postgresql, run tests/api only: "
            "pytest tests/api --db=postgresql"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--db") not in DB_CHOICES:
        raise pytest.UsageError(
            f"--db / CARTOSOINS_TEST_DB must be one of {', '.join(DB_CHOICES)}, "
            f"not {config.getoption('--db')!r}"
        )
    config.addinivalue_line(
        "markers",
        "postgresql: needs a PostgreSQL server (the postgres_server fixture) whatever --db is",
    )
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason=None): tests SQLite itself (or the embedded runner's behaviour); "
        "skipped under --db=postgresql",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--db") != "postgresql":
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            why = marker.kwargs.get("reason") or (marker.args[0] if marker.args else None)
            reason = f"sqlite_only: {why or 'tests SQLite itself'} (not run with --db=postgresql)"
            item.add_marker(pytest.mark.skip(reason=reason))


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session: ``CARTOSOINS_TEST_POSTGRES_URL``, else a throwaway one.

    Without the server binaries the tests are skipped, except with ``--db=postgresql`` or in CI
    (``CI`` set), where they fail: CI never skips PostgreSQL silently.
    """
    url = os.environ.get("CARTOSOINS_TEST_POSTGRES_URL")
    if url:
        server = PostgresServer(url)
        try:
            server.connect().close()
        except Exception as exc:
            pytest.fail(
                f"CARTOSOINS_TEST_POSTGRES_URL={url!r}: cannot connect ({exc})", pytrace=False
            )
        try:
            yield server
        finally:
            server.close()
        return
    if server_binaries() is None:
        reason = (
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install them (Debian: "
            "apt-get install postgresql) or set CARTOSOINS_TEST_POSTGRES_URL to a superuser's URL"
        )
        if request.config.getoption("--db") == "postgresql" or _in_ci():
            pytest.fail(f"{reason} (required with --db=postgresql and in CI)", pytrace=False)
        pytest.skip(reason)
    with throwaway_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _postgresql_marker(request: pytest.FixtureRequest) -> None:
    """Tests marked ``postgresql`` get the server started (or skipped/failed) before they run."""
    if request.node.get_closest_marker("postgresql") is not None:
        request.getfixturevalue("postgres_server")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real public samples; skips the test when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data samples not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def grid3x3() -> gpd.GeoDataFrame:
    """Nine 10 km × 10 km square communes in EPSG:2154, codes G1..G9 row by row from the top.

    Chef-lieu at each square's centre; populations 1000, 2000, ..., 9000.
    """
    x0, y0, side = 700_000.0, 6_600_000.0, 10_000.0
    polys, points, codes = [], [], []
    for r in range(3):
        for c in range(3):
            minx, maxy = x0 + c * side, y0 - r * side
            polys.append(shapely.box(minx, maxy - side, minx + side, maxy))
            points.append(shapely.Point(minx + side / 2, maxy - side / 2))
            codes.append(f"G{r * 3 + c + 1}")
    gdf = gpd.GeoDataFrame(
        {
            "code": codes,
            "nom": [f"Commune {c}" for c in codes],
            "departement": "99",
            "epci": ["E1"] * 6 + ["E2"] * 3,
            "population": [1000 * (i + 1) for i in range(9)],
            "chef_lieu": gpd.GeoSeries(points, crs=2154),
        },
        geometry=polys,
        crs=2154,
    )
    return gdf


@pytest.fixture(scope="session")
def offline_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineBrowser]:
    """Headless Chromium, launched once, that blocks every request but the page's own."""
    yield from launch_offline_browser(tmp_path_factory)


def reference_without_geometry(folder: Path, codes: list[str]) -> Path:
    """A copy of data/reference in ``folder`` where ``codes`` have no polygon nor chef-lieu.

    The committed layer locates every commune; tests of the "commune non localisée" paths (a
    user's reference, a future COG) point ``CARTOSOINS_REFERENCE_DIR`` at this copy.
    """
    import shutil

    source = ROOT / "data" / "reference"
    folder.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and path.name != "communes.parquet":
            shutil.copy(path, folder / path.name)
    communes = gpd.read_parquet(source / "communes.parquet")
    emptied = communes["code"].isin(codes)
    communes.loc[emptied, "geometry"] = None
    communes["chef_lieu"] = communes["chef_lieu"].where(~emptied, None)
    communes.to_parquet(folder / "communes.parquet")
    return folder
