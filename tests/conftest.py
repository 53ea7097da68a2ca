"""Shared fixtures: the ../shared/data samples and a 3×3 grid of square communes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from tests.browser import OfflineBrowser, launch_offline_browser

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

requires_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"real data samples not found at {SHARED_DATA} (present in CI; absent on a fresh clone)",
)


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
