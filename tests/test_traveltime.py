"""Tests of geo.traveltime: the model contract, exact pair searches, the committed fit."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.costs import km_to_minutes
from geo.errors import DataValidationError
from geo.traveltime import (
    LEGACY_MODEL,
    MODEL_FILE,
    TravelTimeModel,
    commune_features,
    features_at,
    load_default_model,
    nearest_minutes,
    pair_minutes,
    travel_data_dir,
)

ROOT = Path(__file__).resolve().parents[1]


def _urban(b0: float = 4.0, b1: float = 2.0, c: float = 0.0, p: float = 0.8) -> TravelTimeModel:
    return TravelTimeModel(
        name="test",
        label="modèle de test",
        form="power_urban",
        coefficients={"a": 0.5, "b0": b0, "b1": b1, "c": c, "p": p},
        feature="f",
        feature_range=(0.0, 4.0),
        neutral=1.5,
    )


MODELS = {
    "legacy": LEGACY_MODEL,
    "urban": _urban(),
    "urban_sqrt": _urban(c=1.2, p=1.1),
    "sqrt_p1": _urban(b0=1.0, b1=1.0, c=2.0, p=1.0),
    "committed": load_default_model(),
}


def _brute(
    o_xy: np.ndarray, o_f: np.ndarray, d_xy: np.ndarray, d_f: np.ndarray, model: TravelTimeModel
) -> tuple[np.ndarray, np.ndarray]:
    km = np.hypot(o_xy[:, None, 0] - d_xy[None, :, 0], o_xy[:, None, 1] - d_xy[None, :, 1])
    km /= 1000.0
    t = model.minutes(km, o_f[:, None], d_f[None, :])
    t[km == 0] = 0.0
    return t, km


def _random_points(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, ...]:
    o_xy = rng.uniform(0, 40_000, (n, 2))
    d_xy = rng.uniform(0, 40_000, (m, 2))
    d_xy[:5] = o_xy[:5]  # same-point pairs: 0 minutes
    o_xy[5:8] = np.round(o_xy[5:8], -3)  # points on a grid: exact-distance ties
    d_xy[5:8] = o_xy[5:8] + np.array([3000.0, 4000.0])  # exactly 5 km away
    return o_xy, rng.uniform(-1, 5, n), d_xy, rng.uniform(-1, 5, m)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("max_minutes", [0.3, 12.0, 20.0])
def test_pair_minutes_matches_brute_force(name: str, max_minutes: float) -> None:
    model = MODELS[name]
    rng = np.random.default_rng(7)
    o_xy, o_f, d_xy, d_f = _random_points(rng, 300, 400)
    rows, cols, minutes, km = pair_minutes(o_xy, o_f, d_xy, d_f, max_minutes, model)
    t, dist = _brute(o_xy, o_f, d_xy, d_f, model)
    exp_r, exp_c = np.nonzero(t <= max_minutes)
    np.testing.assert_array_equal(rows, exp_r)
    np.testing.assert_array_equal(cols, exp_c)
    np.testing.assert_allclose(minutes, t[exp_r, exp_c], rtol=1e-12)
    np.testing.assert_allclose(km, dist[exp_r, exp_c], rtol=1e-12)
    assert (minutes[km == 0] == 0).all() and (km == 0).sum() == 5


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("k", [1, 3, 8])
def test_nearest_minutes_matches_brute_force(name: str, k: int) -> None:
    model = MODELS[name]
    rng = np.random.default_rng(11)
    o_xy, o_f, d_xy, d_f = _random_points(rng, 400, 60)
    d_f[6:] = np.where(rng.random(54) < 0.5, -1.0, 5.0)  # fast and slow ends: the bound matters
    got = nearest_minutes(o_xy, o_f, d_xy, d_f, model, k=k)
    t, _ = _brute(o_xy, o_f, d_xy, d_f, model)
    np.testing.assert_allclose(got, t.min(axis=1), rtol=1e-12)
    assert (got[:5] == 0).all()


def test_nearest_minutes_without_destination() -> None:
    got = nearest_minutes(np.zeros((3, 2)), 0.0, np.empty((0, 2)), 0.0, LEGACY_MODEL)
    assert got.shape == (3,) and np.isnan(got).all()
    rows, cols, minutes, km = pair_minutes(
        np.zeros((3, 2)), 0.0, np.empty((0, 2)), 0.0, 20, LEGACY_MODEL
    )
    assert rows.size == cols.size == minutes.size == km.size == 0


@pytest.mark.parametrize("name", sorted(MODELS))
def test_minutes_increasing_and_max_km_bound(name: str) -> None:
    model = MODELS[name]
    rng = np.random.default_rng(3)
    km = np.sort(rng.uniform(1e-6, 80, 2000))
    f = rng.uniform(-3, 8, (50, 1))
    g = rng.uniform(-3, 8, (50, 1))
    t = model.minutes(km[None, :], f, g)
    assert (np.diff(t, axis=1) > 0).all() and (t >= 0).all()
    for budget in (0.0, 0.4, 5.0, 10.0, 20.0, 60.0):
        limit = model.max_km(budget)
        beyond = limit * (1 + 1e-7) + 1e-7 + np.abs(rng.normal(0, 3, 500))
        worst = model.minutes(beyond[None, :], f, g)
        assert (worst > budget).all(), (budget, limit)
        assert model.min_minutes(limit) >= budget - 1e-9 or limit == 0.0
        np.testing.assert_allclose(model._max_km_many(np.array([budget])), [limit], rtol=1e-9)


def test_legacy_is_1_3_km() -> None:
    km = np.array([0.0, 0.5, 7.6923, 10.0, 123.456])
    np.testing.assert_array_equal(LEGACY_MODEL.minutes(km, 1.0, 2.0), km * 1.3)
    np.testing.assert_allclose(LEGACY_MODEL.minutes(km, 0, 0), km_to_minutes(km), rtol=1e-15)
    assert LEGACY_MODEL.max_km(20) == pytest.approx(20 / 1.3, rel=1e-8)
    assert LEGACY_MODEL.max_km(20) >= 20 / 1.3


def test_features_are_clamped_and_nan_is_neutral() -> None:
    model = _urban()
    assert model.minutes(10.0, 99.0, 99.0) == model.minutes(10.0, 4.0, 4.0)
    assert model.minutes(10.0, -9.0, -9.0) == model.minutes(10.0, 0.0, 0.0)
    assert model.minutes(10.0, np.nan, 1.5) == model.minutes(10.0, 1.5, 1.5)
    # slope 4 at ū = 0, 2 at ū = 1, 3 halfway
    assert float(model.minutes(1.0, 0.0, 4.0)) == pytest.approx(0.5 + 3.0)


def test_invalid_models_are_rejected() -> None:
    with pytest.raises(DataValidationError, match="coefficients invalides"):
        _urban(b0=-1.0)
    with pytest.raises(DataValidationError, match="strictement croissant"):
        _urban(b0=0.0, b1=2.0)
    with pytest.raises(DataValidationError, match="forme de modèle inconnue"):
        TravelTimeModel("x", "x", "cubic", {"a": 0, "b0": 1, "b1": 1, "c": 0, "p": 1})
    with pytest.raises(DataValidationError, match="durée maximale"):
        LEGACY_MODEL.max_km(-1)


def test_committed_model_loads_and_round_trips() -> None:
    model = load_default_model()
    assert model.label == "modèle ajusté sur les temps OSRM de l'Isère"
    params = model.params()
    assert json.loads(json.dumps(params)) == params
    again = TravelTimeModel.from_params(params)
    km = np.linspace(0.1, 50, 20)
    np.testing.assert_array_equal(again.minutes(km, 1.0, 2.0), model.minutes(km, 1.0, 2.0))
    assert params["cv"]["chosen"]["median_abs_le30"] < params["cv"]["legacy"]["median_abs_le30"]
    from geo import traveltime

    assert traveltime.DEFAULT_MODEL is model


def test_commune_features_and_features_at() -> None:
    model = load_default_model()
    codes = ["38185", "75056", "38001", "99999"]  # Grenoble, Paris, a village, unknown
    f = commune_features(codes)
    assert f[1] > f[0] > f[2]  # Paris denser than Grenoble, denser than a village
    assert f[3] == pytest.approx(model.neutral)  # unknown code
    points = gpd.GeoSeries(
        [shapely.Point(5.7245, 45.1885), shapely.Point(2.3522, 48.8566), None], crs="EPSG:4326"
    )
    at = features_at(points.to_crs("EPSG:2154"))
    np.testing.assert_allclose(at[:2], f[:2])
    assert np.isnan(at[2])
    with pytest.raises(DataValidationError, match="caractéristique inconnue"):
        commune_features(["38185"], feature="altitude")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "fit_travel_model", ROOT / "scripts" / "fit_travel_model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.shared_data
def test_cv_figures_reproduced_and_beat_legacy(shared_data: Path) -> None:
    script = _script()
    committed = json.loads((travel_data_dir() / MODEL_FILE).read_text(encoding="utf-8"))
    chosen = committed["selection"]["chosen"]
    communes = script.load_communes()
    features = script.commune_feature_table(communes)
    pairs = script.build_pairs(shared_data, communes, features)
    assert pairs.report == committed["data"]
    for key in ("legacy", chosen):
        cand = next(c for c in script.CANDIDATES if c.key == key)
        cv, _ = script.cross_validate(cand, pairs)
        reported = committed["candidates"][key]["cv"]
        for metric in (
            "median_abs_le30",
            "p90_abs_le30",
            "mean_abs_le30",
            "bias_le30",
            "median_abs_le60",
            "p90_abs_le60",
        ):
            assert cv[metric] == pytest.approx(reported[metric], abs=0.05), (key, metric)
        for share in ("band_change_le30", "band_change_either_lt20"):
            assert cv[share] == pytest.approx(reported[share], abs=0.005), (key, share)
    ours, legacy = committed["candidates"][chosen]["cv"], committed["candidates"]["legacy"]["cv"]
    for metric in ("median_abs_le30", "p90_abs_le30", "mean_abs_le30", "band_change_le30"):
        assert ours[metric] < legacy[metric], metric
