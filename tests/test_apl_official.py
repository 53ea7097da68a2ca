"""The official APL: DREES's parameters, activity rule, national standardisation, zeros,
missing communes, islands and the calibrated activity of headcount-only GPs."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo._fca import APL_BANDS, BandWeights
from geo.agestructure import load_age_structure
from geo.analysis import MISSING_STATUS, analyse, prepare
from geo.drees import (
    ACTIVITY_CAP,
    ACTIVITY_FLOOR,
    ACTIVITY_MINIMUM,
    ACTIVITY_NEW_PRACTITIONER,
    AGE_BAND_LABELS_FR,
    AGE_WEIGHTS,
    HEADCOUNT_CALIBRATION_TARGET,
    capped_activity,
    load_activity_calibration,
)
from geo.errors import DataValidationError
from geo.offer import load_gp_offer
from geo.reference import load_communes
from geo.scenario import add_practitioners
from tests.conftest import requires_shared_data

KM_IS_MINUTE = {"detour_factor": 1.0, "speed_kmh": 60.0}
CENTRE = (715_000.0, 6_585_000.0)


def _prac(xy: list[tuple[float, float]], **cols: list[object]) -> gpd.GeoDataFrame:
    coords = np.asarray(xy, dtype=float).reshape(-1, 2)
    ids = [f"P{i}" for i in range(len(coords))]
    return gpd.GeoDataFrame({"id": ids, **cols}, geometry=shapely.points(coords), crs=2154)


# --------------------------------------------------------------------------------------------
# parameters equal the staged DREES sheet
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def drees_sheet(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "drees" / "drees_apl_generalistes_parametres_2022_2023.csv")


@requires_shared_data
def test_decay_equals_the_drees_sheet(drees_sheet: pd.DataFrame) -> None:
    decay = drees_sheet[drees_sheet["rubrique"] == "decroissance_temps_trajet"]
    sheet = pd.to_numeric(decay["valeur_2022_ou_unique"]).tolist()
    assert sheet == [1.0, 2 / 3, 1 / 3, 0.0]
    assert list(APL_BANDS.values()) == sheet[:3]
    assert list(APL_BANDS) == [10.0, 15.0, 20.0]
    # the sheet's wording: "Moins de 10", "Entre 10 et 15", "Entre 15 et 20", "Plus de 20"
    labels = decay["libelle"].str.replace(r"\s+", " ", regex=True).tolist()
    assert labels == [
        "Moins de 10 minutes",
        "Entre 10 et 15 minutes",
        "Entre 15 et 20 minutes",
        "Plus de 20 minutes",
    ]
    weights = BandWeights(APL_BANDS)(np.array([9.999, 10.0, 14.999, 15.0, 20.0, 20.001]))
    assert weights.tolist() == [1.0, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0.0]


@requires_shared_data
def test_activity_rule_equals_the_drees_sheet(drees_sheet: pd.DataFrame) -> None:
    rows = drees_sheet[drees_sheet["rubrique"] == "activite_consultations"]
    values = dict(zip(rows["libelle"], rows["valeur_2022_ou_unique"], strict=True))
    assert float(values["Moins de 250"]) == 0.0 and ACTIVITY_FLOOR == 250
    assert float(values["Entre 251 et 3 600"]) == ACTIVITY_MINIMUM == 3600
    assert float(values["Plus de 6 000"]) == ACTIVITY_CAP == 6000
    assert "Nombre de consultations" in values["Entre 3 601 et 6 000"]
    exception = drees_sheet.loc[drees_sheet["rubrique"] == "activite_exception", "libelle"].iat[0]
    assert "5 400" in exception and ACTIVITY_NEW_PRACTITIONER == 5400
    assert "centres de santé" in exception


@requires_shared_data
@pytest.mark.parametrize(
    ("edition", "column"), [("2022", "valeur_2022_ou_unique"), ("2023", "valeur_2023")]
)
def test_age_weights_equal_the_drees_sheet(
    drees_sheet: pd.DataFrame, edition: str, column: str
) -> None:
    rows = drees_sheet[drees_sheet["rubrique"] == "poids_age"]
    sheet = dict(zip(rows["libelle"], pd.to_numeric(rows[column]), strict=True))
    ours = {AGE_BAND_LABELS_FR[band]: w for band, w in AGE_WEIGHTS[edition].items()}
    assert ours == sheet


def test_activity_floors_and_caps() -> None:
    counted, report = capped_activity(
        [0, 250, 251, 3600, 3601, 6000, 6001, np.nan, 100],
        new_practitioner=[False] * 7 + [True, False],
        health_centre=[False] * 8 + [True],
    )
    assert counted.tolist() == [0, 0, 3600, 3600, 3601, 6000, 6000, 5400, 100]
    assert report.to_dict() == {
        "below_floor_zero": 2,
        "raised_to_3600": 2,
        "as_is": 2,
        "capped_to_6000": 1,
        "new_practitioner_5400": 1,
        "health_centre_uncapped": 1,
    }
    with pytest.raises(DataValidationError, match="sans nombre de consultations"):
        capped_activity([np.nan])


def test_apl_applies_the_activity_rule(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([CENTRE, CENTRE], consultations_per_year=[9000.0, 100.0])
    res = analyse(grid3x3, prac, "apl", surroundings=None, **KM_IS_MINUTE)
    capped = analyse(
        grid3x3,
        _prac([CENTRE], consultations_per_year=[6000.0]),
        "apl",
        surroundings=None,
        **KM_IS_MINUTE,
    )
    # 9,000 counts 6,000 and 100 counts 0: the same as one practitioner with 6,000
    np.testing.assert_allclose(res["value"], capped["value"], rtol=1e-12)
    activity = res.attrs["parameters"]["activity"]
    assert activity["rule"] == "drees_floors_and_caps"
    assert activity["counts"]["capped_to_6000"] == 1
    assert res.attrs["unit_fr"] == "consultations par an et par habitant"
    raw = analyse(grid3x3, prac, "apl", surroundings=None, activity_caps=False, **KM_IS_MINUTE)
    assert raw["value"].sum() > res["value"].sum()


# --------------------------------------------------------------------------------------------
# national standardisation
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gp_offer() -> gpd.GeoDataFrame:
    return load_gp_offer().practitioners()


def test_standardised_population_does_not_depend_on_the_territory(
    gp_offer: gpd.GeoDataFrame,
) -> None:
    communes = load_communes()
    alone = analyse(load_communes(departements="63"), gp_offer, "apl")
    inside = analyse(communes[communes["zone"] == "metro"], gp_offer, "apl")
    a = alone.set_index("code")["demand"]
    b = inside.set_index("code").loc[a.index, "demand"]
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12, atol=0)
    # and it is P × Σ share × DREES weight, from the embedded structure of every commune
    shares = load_age_structure().loc[a.index, list(AGE_WEIGHTS["2023"])]
    ratio = shares.to_numpy() @ np.array(list(AGE_WEIGHTS["2023"].values()))
    pop = alone.set_index("code")["population"].to_numpy(dtype=float)
    np.testing.assert_allclose(a.to_numpy(), pop * ratio, rtol=1e-12)
    # the commune's value is the same alone and inside France (border effect handled)
    np.testing.assert_allclose(
        alone.set_index("code")["value"].to_numpy(),
        inside.set_index("code").loc[a.index, "value"].to_numpy(),
        rtol=1e-9,
    )


def test_default_apl_on_the_embedded_data(gp_offer: gpd.GeoDataFrame) -> None:
    res = analyse(load_communes(departements="63"), gp_offer, "apl")
    assert res.attrs["synthetic"] is False
    assert "INSEE BPE" in res.attrs["sources"]["practitioners"]
    params = res.attrs["parameters"]
    assert params["age_standardised"] is True and "DREES 2023" in params["age_source"]
    assert params["activity"]["rule"] == "calibrated_per_gp"
    assert res.attrs["unit_fr"] == "consultations par an et par habitant standardisé"
    assert res.attrs["travel"]["model"] == "isere_osrm_2021"
    assert res.attrs["summary"]["mean_weights"] == "population standardisée"
    # the mean is DREES's: weighted by standardised population, zeros included
    v, d = res["value"].to_numpy(), res["demand"].to_numpy()
    ok = np.isfinite(v)
    assert res.attrs["summary"]["population_weighted_mean"] == pytest.approx(
        (v[ok] * d[ok]).sum() / d[ok].sum(), rel=1e-12
    )


def test_calibrated_national_mean_equals_the_target(gp_offer: gpd.GeoDataFrame) -> None:
    communes = load_communes()
    res = analyse(communes[communes["zone"] == "metro"], gp_offer, "apl")
    _, target, _ = HEADCOUNT_CALIBRATION_TARGET
    calibration = load_activity_calibration()
    assert calibration.target_apl == target
    # the activity is rounded to 0.1 consultation: the mean matches to that precision
    assert res.attrs["summary"]["population_weighted_mean"] == pytest.approx(target, rel=1e-4)
    assert 3000 < calibration.consultations_per_gp < 6000  # a plausible yearly activity


# --------------------------------------------------------------------------------------------
# zeros, missing communes
# --------------------------------------------------------------------------------------------
def test_no_gp_within_reach_is_zero_and_counts_in_the_mean(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([(705_000.0, 6_595_000.0)], profession=["medecin_generaliste"])  # in G1
    res = analyse(grid3x3, prac, "apl", surroundings=None, **KM_IS_MINUTE)
    by_code = res.set_index("code")
    far = by_code.loc["G9"]  # 28.3 min away
    assert far["value"] == 0
    assert far["status"] == "aucun médecin à moins de 20 min"
    pop, v = res["population"].to_numpy(float), res["value"].to_numpy()
    assert res.attrs["summary"]["population_weighted_mean"] == pytest.approx(
        (pop * v).sum() / pop.sum(), rel=1e-12
    )
    assert res.attrs["summary"]["communes_without_supply"] == int((v == 0).sum())


def test_missing_communes_are_missing_not_zero(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([CENTRE, CENTRE])
    reason = "G5 : absent de la source"
    res = analyse(
        grid3x3,
        prac,
        "apl",
        surroundings=None,
        supply="headcount",
        missing_communes={"G5": reason},
        **KM_IS_MINUTE,
    )
    g5 = res.set_index("code").loc["G5"]
    assert g5["status"] == MISSING_STATUS and g5["status_reason"] == reason
    assert np.isnan(g5["value"]) and np.isnan(g5["practitioners"])
    # its practitioners still serve the neighbours
    assert (res.set_index("code").drop(index="G5")["value"] > 0).all()
    summary = res.attrs["summary"]
    assert summary["communes_missing"] == 1 and summary["missing_reasons"] == {reason: 1}
    others = res[res["code"] != "G5"]
    assert summary["population_weighted_mean"] == pytest.approx(
        np.average(others["value"], weights=others["population"]), rel=1e-12
    )


def test_the_embedded_data_leave_paris_and_the_drom_missing(gp_offer: gpd.GeoDataFrame) -> None:
    communes = load_communes(codes=["75056", "92012", "97411"])
    res = analyse(communes, gp_offer, "apl").set_index("code")
    assert res.loc["75056", "status"] == MISSING_STATUS
    assert "Paris" in res.loc["75056", "status_reason"]
    assert res.loc["97411", "status"] == MISSING_STATUS
    assert "DROM" in res.loc["97411", "status_reason"]
    # Boulogne-Billancourt is covered, and Paris's estimated GPs count for it
    assert res.loc["92012", "status"] == "ok" and res.loc["92012", "value"] > 0


# --------------------------------------------------------------------------------------------
# islands and the travel model
# --------------------------------------------------------------------------------------------
def test_islands_without_a_bridge_reach_only_their_own_gps(gp_offer: gpd.GeoDataFrame) -> None:
    codes = ["56088", "56069", "17297", "56260"]  # Île-d'Arz, Groix, Rivedoux-Plage, Vannes
    res = analyse(load_communes(codes=codes), gp_offer, "apl").set_index("code")
    # Île-d'Arz has no GP and lies 1.5 km from the mainland: no road, no GP within reach
    assert res.loc["56088", "practitioners_in_reach"] == 0
    assert res.loc["56088", "status"] == "aucun médecin à moins de 20 min"
    # Groix counts its own GPs only
    groix = gp_offer[gp_offer["commune"] == "56069"]
    assert res.loc["56069", "practitioners_in_reach"] == len(groix) > 0
    # Île de Ré has a bridge: Rivedoux-Plage reaches the mainland's GPs too
    ile_de_re = gp_offer["commune"].isin(load_communes(epci="241700459")["code"])
    assert res.loc["17297", "practitioners_in_reach"] > ile_de_re.sum()
    assert "mer" in res.attrs["travel"]["islands"]


def test_islands_hold_in_scenarios(gp_offer: gpd.GeoDataFrame) -> None:
    base = prepare(load_communes(codes=["56088", "56260"]), gp_offer, "apl")
    after = add_practitioners(base, commune="56260", n=3)  # Vannes, on the mainland
    table = after.communes.set_index("code")
    assert table.loc["56088", "after"] == 0  # the island still reaches no GP
    assert np.isnan(after.problem.result().set_index("code").loc["56088", "nearest_minutes"])
    full = after.problem.recompute().result().set_index("code")
    np.testing.assert_allclose(table["after"], full.loc[table.index, "value"], rtol=1e-12)


def test_legacy_travel_model_stays_available(grid3x3: gpd.GeoDataFrame) -> None:
    prac = _prac([CENTRE])
    legacy = analyse(grid3x3, prac, "nearest", surroundings=None, travel_model="legacy")
    # G1's chef-lieu is 14.14 km from the centre: 1.3 × 14.14 min at 60 km/h
    assert legacy.set_index("code").at["G1", "nearest_minutes"] == pytest.approx(
        1.3 * np.hypot(10, 10), rel=1e-9
    )
    fitted = analyse(grid3x3, prac, "nearest", surroundings=None)
    assert fitted.attrs["travel"]["model"] == "isere_osrm_2021"
    assert legacy.attrs["travel"]["model"] == "legacy"
    with pytest.raises(DataValidationError, match="travel_model"):
        analyse(grid3x3, prac, "nearest", surroundings=None, travel_model="osrm")
    with pytest.raises(DataValidationError, match="legacy"):
        analyse(grid3x3, prac, "nearest", surroundings=None, travel_model="fitted", speed_kmh=50)


# --------------------------------------------------------------------------------------------
# OD tables: the real Isère matrix (wide, seconds)
# --------------------------------------------------------------------------------------------
@requires_shared_data
def test_apl_of_isere_on_the_real_osrm_matrix(
    shared_data: Path, gp_offer: gpd.GeoDataFrame
) -> None:
    isere = load_communes(departements="38")
    in_isere = gp_offer[gp_offer["commune"].str.startswith("38")]
    matrix = shared_data / "od" / "isere_osrm_car_seconds_neocarto.csv"
    res = analyse(
        isere, in_isere, "apl", travel="od_table", od_table=str(matrix), surroundings=isere
    )
    assert res.attrs["travel"]["layout"] == "wide" and res.attrs["travel"]["unit"] == "seconds"
    assert len(res) == 512 and res["value"].notna().all()
    grenoble = res.set_index("code").loc["38185"]
    assert grenoble["practitioners"] == (in_isere["commune"] == "38185").sum()
    # the fitted straight-line model agrees with the real road times far better than 1.3 × d
    fitted = analyse(isere, in_isere, "apl", surroundings=isere)
    legacy = analyse(isere, in_isere, "apl", surroundings=isere, travel_model="legacy")
    r_fit = np.corrcoef(res["value"], fitted["value"])[0, 1]
    r_legacy = np.corrcoef(res["value"], legacy["value"])[0, 1]
    assert r_fit > r_legacy and r_fit > 0.7


def test_maps_name_the_source_the_activity_and_the_standardisation(
    gp_offer: gpd.GeoDataFrame,
) -> None:
    from geo.maps.choropleth import analysis_spec, format_fr

    res = analyse(load_communes(departements="23"), gp_offer, "apl")
    spec, _ = analysis_spec(res, "Creuse (23)")
    line = " · ".join(spec.sources)
    assert load_gp_offer().source_label in line
    per_gp = format_fr(load_activity_calibration().consultations_per_gp, 0)
    assert f"activité estimée : {per_gp} consultations par médecin et par an" in line
    assert "poids DREES 2023" in line
    assert spec.synthetic is False
