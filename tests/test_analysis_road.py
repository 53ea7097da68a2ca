"""``travel="road"``: analyses and scenarios on a real OpenStreetMap extract (Monaco area)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.spatial import cKDTree

from geo.analysis import MISSING_STATUS, ROAD_UNCOVERED_REASON, analyse, prepare
from geo.demo import generate_practitioners
from geo.errors import DataValidationError
from geo.io import read_practitioners
from geo.reference import load_communes
from geo.road import RoadNetworkWarning
from geo.road.synthetic import write_grid_extract
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
    points = read_practitioners(shared_data / "osm" / "osm_health_pois.csv", all_professions=True)
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


# --------------------------------------------------------------------------- synthetic extracts
# A road grid written as a real .osm.pbf (geo.road.synthetic): no shared data needed.

CANTAL_AROUND = ["15", "63", "43", "12", "46", "19", "48"]


@pytest.fixture(scope="module")
def cantal() -> dict[str, Any]:
    around = load_communes(departements=CANTAL_AROUND)
    gps = generate_practitioners(around, professions=["medecin_generaliste"])
    return {
        "territory": around[around["departement"] == "15"],
        "around": around,
        "gps": gps,
    }


@pytest.fixture(scope="module")
def region_pbf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 km grid over Cantal ± ~80 km (22k nodes), motorways at 104 km/h."""
    path = tmp_path_factory.mktemp("grid") / "cantal_region.osm.pbf"
    return write_grid_extract(path, (0.9, 43.7, 4.6, 46.4), spacing_km=2.0).path


def _road_apl(cantal: dict[str, Any], osm: Path, cache: Path, **kwargs: Any) -> gpd.GeoDataFrame:
    return analyse(
        cantal["territory"],
        cantal["gps"],
        "apl",
        travel="road",
        osm_path=osm,
        surroundings=cantal["around"],
        road_cache_dir=cache,
        **kwargs,
    )


def test_surroundings_sized_from_graph_top_speed_and_catchment(
    cantal: dict[str, Any], region_pbf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = _road_apl(cantal, region_pbf, tmp_path)
    top = res.attrs["travel"]["max_speed_kmh"]
    assert top == 104.0  # maxspeed=130 × 0.8: the graph's own top speed, not 130 km/h
    catchment_km, pair_km = 20.0 / 60.0 * top, 30.0 / 60.0 * top  # APL: 20 min, threshold 30
    assert res.attrs["travel"]["coverage"]["surroundings_km"] == {
        "demand": round(2 * catchment_km, 1),
        "supply": round(pair_km, 1),
    }
    # independent count: communes within 2 catchments, GPs within the longest pair (or inside)
    terr = shapely.get_coordinates(cantal["territory"]["chef_lieu"].to_crs(2154))
    tree = cKDTree(terr)
    around = cantal["around"]
    d_around, _ = tree.query(shapely.get_coordinates(around["chef_lieu"].to_crs(2154)))
    gps = cantal["gps"]
    d_gps, _ = tree.query(shapely.get_coordinates(gps.geometry.to_crs(2154)))
    inside = gps["commune"].isin(cantal["territory"]["code"]).to_numpy()
    ctx = res.attrs["context"]
    assert ctx["demand_communes"] == int((d_around <= 2 * catchment_km * 1000).sum())
    assert ctx["supply_points"] == int(((d_gps <= pair_km * 1000) | inside).sum())
    assert res.attrs["travel"]["coverage"]["complete"] is True

    # the former, much wider surroundings (130 km/h × 30 min, ×2 / ×3) give the same values
    import geo.analysis as analysis

    monkeypatch.setattr(analysis, "_road_context_km", lambda opts: 30.0 / 60.0 * 130.0)
    monkeypatch.setattr(analysis, "_road_trim", lambda ctx, opts: ctx)
    wide = _road_apl(cantal, region_pbf, tmp_path)
    assert wide.attrs["context"]["supply_points"] > 1.4 * ctx["supply_points"]
    assert wide.attrs["context"]["demand_communes"] > ctx["demand_communes"]
    np.testing.assert_allclose(wide["value"], res["value"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(wide["nearest_minutes"], res["nearest_minutes"], rtol=1e-12)


def test_communes_outside_the_extract_are_reported_not_zero(
    cantal: dict[str, Any], tmp_path: Path
) -> None:
    # the extract stops at 2.6° E: Cantal's eastern communes lie beyond it
    half = write_grid_extract(tmp_path / "west.osm.pbf", (0.9, 43.7, 2.6, 46.4), spacing_km=2.0)
    lon = cantal["territory"]["chef_lieu"].x.to_numpy()
    with pytest.warns(RoadNetworkWarning) as caught:
        res = _road_apl(cantal, half.path, tmp_path / "cache")
    messages = " ".join(str(w.message) for w in caught)
    assert "commune(s) du territoire hors de l'extrait routier west.osm.pbf" in messages
    assert "ne couvre pas tous les environs" in messages
    out = res[res["status"] == MISSING_STATUS]
    out_lon = lon[(res["status"] == MISSING_STATUS).to_numpy()]
    # the last grid column lies ≤ 2 km west of 2.6° E; points 2 km beyond it are uncovered
    assert len(out) > 50 and out_lon.min() > 2.55 and (lon[lon > 2.65].size <= len(out))
    assert out["status_reason"].str.startswith(ROAD_UNCOVERED_REASON).all()
    assert out["value"].isna().all()  # no value, not an APL of 0
    covered = res[~res["status"].isin([MISSING_STATUS, "non localisée"])]
    assert covered["value"].notna().all() and (covered["value"] > 0).any()
    summary = res.attrs["summary"]
    assert summary["communes_missing"] == len(out)
    assert sum(v for k, v in summary["missing_reasons"].items() if "hors de l'extrait" in k) == len(
        out
    )
    coverage = res.attrs["travel"]["coverage"]
    assert coverage["territory_communes_uncovered"] == len(out)
    assert set(coverage["uncovered_communes"]) <= set(out["code"])
    assert len(coverage["uncovered_communes"]) == min(20, len(out))
    assert coverage["complete"] is False
    # counts of every unreachable point, names of a sample only
    travel = res.attrs["travel"]
    assert travel["unreachable_count"]["demand"] >= len(out)
    assert len(travel["unreachable"]) <= 20
    # the map shows it in each commune's tooltip
    from geo.maps.choropleth import analysis_map

    html = analysis_map(res, "Cantal (15)").get_root().render()
    assert "Précision" in html and "hors de l&#x27;extrait routier" in html.replace(
        "&#39;", "&#x27;"
    ).replace("'", "&#x27;")


def test_an_extract_missing_the_territory_is_an_error(
    cantal: dict[str, Any], tmp_path: Path
) -> None:
    brittany = write_grid_extract(tmp_path / "bzh.osm", (-3.0, 47.5, -2.5, 47.9), spacing_km=2.0)
    with pytest.raises(
        DataValidationError, match=r"bzh\.osm ne couvre aucune commune du territoire"
    ):
        _road_apl(cantal, brittany.path, tmp_path / "cache")
