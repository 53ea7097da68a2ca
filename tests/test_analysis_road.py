"""``travel="road"``: analyses and scenarios on a real OpenStreetMap extract (Monaco area)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.analysis import analyse, prepare
from geo.errors import DataValidationError
from geo.io import read_practitioners
from geo.reference import load_communes
from geo.road import RoadNetworkWarning
from geo.scenario import add_practitioners

FRENCH_NEIGHBOURS = [
    "06012",
    "06032",
    "06104",
    "06150",
]  # Beausoleil, Cap-d'Ail, Roquebrune, La Turbie


@pytest.fixture(scope="module")
def osm(shared_data: Path) -> Path:
    return shared_data / "osm" / "monaco.osm.pbf"


@pytest.fixture(scope="module")
def pois(shared_data: Path) -> gpd.GeoDataFrame:
    points = read_practitioners(shared_data / "osm" / "osm_health_pois.csv")
    return points[points["source"].str.contains("osm_health_pois")]


def test_nearest_by_road(osm: Path, pois: gpd.GeoDataFrame, tmp_path: Path) -> None:
    communes = load_communes(codes=FRENCH_NEIGHBOURS)
    with pytest.warns(RoadNetworkWarning, match="06104"):
        res = analyse(
            communes,
            pois,
            "nearest",
            travel="road",
            osm_path=osm,
            surroundings=None,
            supply="headcount",
            road_cache_dir=tmp_path,
        )
    values = res.set_index("code")["value"]
    # Roquebrune-Cap-Martin's town hall lies beyond the extract's roads: reported, not dropped
    assert list(res["code"]) == FRENCH_NEIGHBOURS
    assert np.isnan(values["06104"])
    unreachable = {u["id"] for u in res.attrs["travel"]["unreachable"]}
    assert "06104" in unreachable
    assert res.attrs["travel"]["method"] == "road"
    # a road time is never shorter than the straight line at the network's top speed
    straight = analyse(
        communes,
        pois,
        "nearest",
        surroundings=None,
        supply="headcount",
        detour_factor=1.0,
        speed_kmh=res.attrs["travel"]["max_speed_kmh"],
    ).set_index("code")["value"]
    reachable = values.dropna()
    assert len(reachable) == 3
    assert (reachable >= straight[reachable.index] - 1e-9).all()


def test_road_scenario_is_incremental_and_exact(
    osm: Path, pois: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    communes = load_communes(codes=["06012", "06032", "06150"])
    kwargs = dict(
        travel="road", osm_path=osm, surroundings=None, supply="headcount", road_cache_dir=tmp_path
    )
    baseline = prepare(communes, pois, "2sfca", **kwargs)  # every point within reach snaps
    site = communes.set_index("code").loc["06150", "chef_lieu"]  # La Turbie's town hall
    scenario = add_practitioners(baseline, commune="06150", n=2)  # every point reachable
    after = scenario.communes.set_index("code")["after"]
    extra = gpd.GeoDataFrame(
        {"id": ["N1", "N2"], "synthetic": False}, geometry=[site, site], crs=4326
    )
    full = analyse(communes, pd.concat([pois, extra], ignore_index=True), "2sfca", **kwargs)
    np.testing.assert_allclose(
        after.to_numpy(), full.set_index("code")["value"][after.index].to_numpy(), rtol=1e-9
    )
    assert (scenario.communes["delta"].dropna() >= -1e-12).all()
    # the nearest time comes from the road pairs too, never from straight lines
    near = scenario.problem.result().set_index("code")["nearest_minutes"]
    np.testing.assert_allclose(
        near[after.index].to_numpy(),
        full.set_index("code")["nearest_minutes"][after.index].to_numpy(),
        rtol=1e-9,
    )


def test_road_needs_a_file() -> None:
    communes = load_communes(codes=["06012"])
    with pytest.raises(DataValidationError, match="needs osm_path"):
        analyse(communes, gpd.GeoDataFrame(geometry=[], crs=4326), "2sfca", travel="road")


def test_unreachable_practitioners_are_named_by_commune_not_identifier(
    osm: Path, pois: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # a practitioner with an RPPS-like id far out at sea from Monaco: no road reaches it
    far = gpd.GeoDataFrame(
        {"id": ["10101234567"], "profession": ["medecin_generaliste"], "commune": ["06104"]},
        geometry=[shapely.Point(7.50, 43.65)],
        crs=4326,
    )
    practitioners = pd.concat([pois, far], ignore_index=True)
    communes = load_communes(codes=FRENCH_NEIGHBOURS)
    with pytest.warns(RoadNetworkWarning) as caught:
        res = analyse(
            communes,
            practitioners,
            "nearest",
            travel="road",
            osm_path=osm,
            surroundings=None,
            supply="headcount",
            road_cache_dir=tmp_path,
        )
    reported = [u for u in res.attrs["travel"]["unreachable"] if u["side"] == "supply"]
    assert "medecin_generaliste (06104)" in {u["id"] for u in reported}
    text = repr(res.attrs) + " ".join(str(w.message) for w in caught)
    assert "10101234567" not in text
