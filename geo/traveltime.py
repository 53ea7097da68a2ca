"""Straight-line distance to car minutes: the fitted model and exact k-d tree pair searches.

The default model was fitted on real OSRM car times between the chefs-lieux of Isère by
``scripts/fit_travel_model.py`` (report and coefficients in ``data/travel/``); the legacy rule
``1.3 × km at 60 km/h`` stays available as :data:`LEGACY_MODEL`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo.errors import DataValidationError, ReferenceDataError

__all__ = [
    "DEFAULT_FEATURE",
    "FEATURES_FILE",
    "FORMS",
    "LEGACY_MODEL",
    "MODEL_FILE",
    "TravelTimeModel",
    "commune_features",
    "features_at",
    "load_default_model",
    "nearest_minutes",
    "pair_minutes",
    "travel_data_dir",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Model forms, all special cases of ``a + (b0·(1−ū) + b1·ū)·d^p + c·√d`` (see the class).
FORMS = ("legacy", "linear", "sqrt", "power", "power_urban")
#: Committed model and per-commune feature, relative to :func:`travel_data_dir`.
MODEL_FILE = "modele_temps_trajet.json"
FEATURES_FILE = "caracteristiques_communes.csv"
#: Feature read by :func:`commune_features` and :func:`features_at` when neither the call nor
#: the default model names one.
DEFAULT_FEATURE = "caractere_urbain_10km"
_COEFFICIENTS = ("a", "b0", "b1", "c", "p")
# floating-point slack on max_km so that a pair exactly at the limit is never lost to rounding
_KM_REL_SLACK = 1e-9
_KM_ABS_SLACK = 1e-9


def travel_data_dir() -> Path:
    """Folder holding the committed model and features (``data/travel/`` of the repository)."""
    return Path(__file__).resolve().parent.parent / "data" / "travel"


@dataclass(frozen=True, eq=False)
class TravelTimeModel:
    """Car minutes from straight-line kilometres and the urban character of both ends.

    ``minutes = a + (b0·(1 − ū) + b1·ū)·d^p + c·√d`` for ``d > 0`` km, where
    ``ū = (u_o + u_d) / 2`` and ``u = (f − lo) / (hi − lo)`` is the feature ``f`` of each end
    clamped to the fitted range ``[lo, hi]`` (a missing feature, NaN, takes ``neutral``).
    With ``a, b0, b1, c ≥ 0``, ``p > 0`` and ``min(b0, b1) > 0`` or ``c > 0`` the time is ≥ 0 and
    strictly increasing in ``d`` for any feature values. ``d = 0`` (same point, the commune's own
    practitioners) is 0 minutes by convention in :func:`pair_minutes` and :func:`nearest_minutes`.

    Attributes
    ----------
    name : str
        Short id (``"legacy"``, ``"isere_osrm_2021"``).
    label : str
        French label for people and result metadata.
    form : str
        One of :data:`FORMS`.
    coefficients : Mapping[str, float]
        ``a`` (min), ``b0``, ``b1`` (min/km^p), ``c`` (min/√km), ``p``.
    feature : str or None
        Name of the per-commune feature (a column of ``caracteristiques_communes.csv``), None when
        the form ignores it.
    feature_range : tuple of float
        ``(lo, hi)`` range of the feature seen in the fit; features are clamped to it.
    neutral : float
        Feature value used for NaN (unknown commune).
    fitted_on : str
        What the model was fitted on.
    cv : Mapping[str, Any]
        Cross-validated errors (minutes), for the metadata.

    Examples
    --------
    >>> LEGACY_MODEL.minutes(10.0, 0.0, 0.0)
    array(13.)
    """

    name: str
    label: str
    form: str
    coefficients: Mapping[str, float]
    feature: str | None = None
    feature_range: tuple[float, float] = (0.0, 1.0)
    neutral: float = 0.0
    fitted_on: str = ""
    cv: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise DataValidationError(f"forme de modèle inconnue {self.form!r}; attendu {FORMS}")
        missing = [k for k in _COEFFICIENTS if k not in self.coefficients]
        if missing:
            raise DataValidationError(
                f"modèle {self.name!r} : coefficient(s) manquant(s) {missing}"
            )
        a, b0, b1, c, p = (float(self.coefficients[k]) for k in _COEFFICIENTS)
        values = (a, b0, b1, c, p)
        if not all(math.isfinite(v) for v in values) or min(a, b0, b1, c) < 0 or p <= 0:
            raise DataValidationError(
                f"modèle {self.name!r} : coefficients invalides {dict(self.coefficients)} "
                "(a, b0, b1, c ≥ 0 et p > 0 attendus)"
            )
        if min(b0, b1) <= 0 and c <= 0:
            raise DataValidationError(
                f"modèle {self.name!r} : temps non strictement croissant avec la distance "
                f"(b0={b0}, b1={b1}, c={c})"
            )
        lo, hi = (float(v) for v in self.feature_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise DataValidationError(
                f"modèle {self.name!r} : plage de la caractéristique invalide {self.feature_range}"
            )

    def _coef(self) -> tuple[float, float, float, float, float]:
        a, b0, b1, c, p = (float(self.coefficients[k]) for k in _COEFFICIENTS)
        return a, b0, b1, c, p

    def unit(self, feature: npt.ArrayLike) -> FloatArray:
        """Bring the feature to ``[0, 1]`` (NaN → the neutral value, then clamped).

        Computing it once per point, then :meth:`minutes_from_units` per pair, gives the same
        minutes as :meth:`minutes` at a fraction of the cost on millions of pairs.
        """
        lo, hi = self.feature_range
        f = np.asarray(feature, dtype="float64")
        f = np.where(np.isnan(f), self.neutral, f)
        return np.asarray((np.clip(f, lo, hi) - lo) / (hi - lo), dtype="float64")

    def minutes(
        self, km: npt.ArrayLike, feature_origin: npt.ArrayLike, feature_dest: npt.ArrayLike
    ) -> FloatArray:
        """Car minutes for straight-line ``km`` (broadcast with both features).

        Parameters
        ----------
        km : array_like
            Straight-line distance between the two ends, ≥ 0.
        feature_origin, feature_dest : array_like
            Feature of each end (see :func:`commune_features`); ignored by forms without it.

        Returns
        -------
        numpy.ndarray
            Minutes, ≥ 0, strictly increasing in ``km``. At ``km = 0`` this is the intercept
            ``a``; the pair functions set same-point pairs to 0 themselves.
        """
        _, b0, b1, _, _ = self._coef()
        if b0 == b1:  # the feature is ignored: only its shape matters
            zero = np.float64(0.0)
            return self.minutes_from_units(
                km,
                np.broadcast_to(zero, np.shape(feature_origin)),
                np.broadcast_to(zero, np.shape(feature_dest)),
            )
        return self.minutes_from_units(km, self.unit(feature_origin), self.unit(feature_dest))

    def minutes_from_units(
        self,
        km: npt.ArrayLike,
        unit_origin: npt.ArrayLike,
        unit_dest: npt.ArrayLike,
    ) -> FloatArray:
        """:meth:`minutes` from the ends' :meth:`unit` values (same result, no clamping).

        When the model ignores the feature (``b0 == b1``) the ends only give the broadcast
        shape.
        """
        a, b0, b1, c, p = self._coef()
        d = np.asarray(km, dtype="float64")
        dp = d if p == 1.0 else np.power(d, p)
        if b0 == b1:
            slope: FloatArray | float = b0
            shape = np.broadcast_shapes(d.shape, np.shape(unit_origin), np.shape(unit_dest))
        else:
            # b0 + (b1 − b0)·(u_o + u_d)/2, in place (bitwise the same as written out)
            u = np.add(unit_origin, unit_dest, dtype="float64")
            u /= 2.0
            u *= b1 - b0
            u += b0
            slope = u
            shape = np.broadcast_shapes(d.shape, u.shape)
        out = np.asarray(slope * dp, dtype="float64")
        if a:
            out += a
        if c:
            out += c * np.sqrt(d)
        if out.shape != shape:
            out = np.broadcast_to(out, shape).copy()
        return out

    def min_minutes(self, km: npt.ArrayLike) -> FloatArray:
        """Lower envelope: the least :meth:`minutes` over all feature values, at ``km``.

        Since ``ū ∈ [0, 1]`` after clamping, the slope ``b0·(1 − ū) + b1·ū`` is a convex
        combination of ``b0`` and ``b1``, hence ≥ ``min(b0, b1)``; with ``d^p ≥ 0`` this gives
        ``minutes(d, ·, ·) ≥ a + min(b0, b1)·d^p + c·√d``, the value returned.
        """
        a, b0, b1, c, p = self._coef()
        d = np.asarray(km, dtype="float64")
        return np.asarray(a + min(b0, b1) * np.power(d, p) + c * np.sqrt(d), dtype="float64")

    def max_km(self, minutes: float) -> float:
        """Upper bound of the straight-line km reachable within ``minutes``, for ANY features.

        Proof: let ``L(d) = a + m_b·d^p + c·√d`` with ``m_b = min(b0, b1)``, the lower envelope
        of :meth:`min_minutes`: ``minutes(d, f_o, f_d) ≥ L(d)`` for all features. ``L`` is
        continuous and strictly increasing (``m_b > 0`` or ``c > 0``, ``p > 0``). If
        ``minutes < a`` no ``d > 0`` is reachable and 0 is returned (the same point is, at 0
        minutes). Otherwise let ``d*`` solve ``L(d*) = minutes`` (closed form when ``c = 0`` or
        ``p = 1``, bisection else); for ``d > d*``, ``minutes(d, ·, ·) ≥ L(d) > L(d*) =
        minutes``, so every reachable pair has ``d ≤ d*``. A relative and absolute slack of
        1e-9 km covers floating-point rounding.

        Parameters
        ----------
        minutes : float
            Time budget, ≥ 0.

        Returns
        -------
        float
            Kilometres.
        """
        budget = float(minutes)
        if not budget >= 0:
            raise DataValidationError(f"durée maximale invalide : {minutes!r} (≥ 0 attendu)")
        if math.isinf(budget):
            return math.inf
        a, b0, b1, c, p = self._coef()
        b = min(b0, b1)
        rest = budget - a
        if rest < 0:
            return 0.0
        if c == 0:
            d = float((rest / b) ** (1.0 / p))
        elif b == 0:
            d = (rest / c) ** 2
        elif p == 1.0:
            s = 2.0 * rest / (c + math.sqrt(c * c + 4.0 * b * rest))  # root of b s² + c s − rest
            d = s * s
        else:
            d = self._bisect(rest, b, c, p)
        return d * (1.0 + _KM_REL_SLACK) + _KM_ABS_SLACK

    def _max_km_many(self, minutes: FloatArray) -> FloatArray:
        """:meth:`max_km` for an array of budgets (closed forms vectorised)."""
        a, b0, b1, c, p = self._coef()
        b = min(b0, b1)
        rest = np.maximum(np.asarray(minutes, dtype="float64") - a, 0.0)
        if c == 0:
            d = np.power(rest / b, 1.0 / p)
        elif b == 0:
            d = (rest / c) ** 2
        elif p == 1.0:
            d = (2.0 * rest / (c + np.sqrt(c * c + 4.0 * b * rest))) ** 2
        else:
            d = np.array([self._bisect(float(r), b, c, p) if r > 0 else 0.0 for r in rest])
        out = d * (1.0 + _KM_REL_SLACK) + _KM_ABS_SLACK
        return np.asarray(np.where(np.asarray(minutes) < a, 0.0, out), dtype="float64")

    @staticmethod
    def _bisect(rest: float, b: float, c: float, p: float) -> float:
        def g(d: float) -> float:
            return float(b * d**p + c * math.sqrt(d) - rest)

        hi = 1.0
        while g(hi) < 0:
            hi *= 2.0
        lo = 0.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if g(mid) < 0:
                lo = mid
            else:
                hi = mid
        return hi  # g(hi) ≥ 0: hi ≥ the root

    def params(self) -> dict[str, Any]:
        """JSON-safe description for result metadata (form, coefficients, fit, CV errors)."""
        return {
            "name": self.name,
            "label": self.label,
            "form": self.form,
            "formula": _formula(self.form),
            "coefficients": {k: float(self.coefficients[k]) for k in _COEFFICIENTS},
            "feature": self.feature,
            "feature_range": [float(v) for v in self.feature_range],
            "neutral": float(self.neutral),
            "fitted_on": self.fitted_on,
            "cv": json.loads(json.dumps(dict(self.cv))),
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TravelTimeModel:
        """Inverse of :meth:`params` (reads the committed JSON)."""
        try:
            return cls(
                name=str(params["name"]),
                label=str(params["label"]),
                form=str(params["form"]),
                coefficients={k: float(params["coefficients"][k]) for k in _COEFFICIENTS},
                feature=None if params.get("feature") is None else str(params["feature"]),
                feature_range=(
                    float(params["feature_range"][0]),
                    float(params["feature_range"][1]),
                ),
                neutral=float(params.get("neutral", 0.0)),
                fitted_on=str(params.get("fitted_on", "")),
                cv=dict(params.get("cv", {})),
            )
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise DataValidationError(f"description de modèle invalide : {exc!r}") from exc


def _formula(form: str) -> str:
    return {
        "legacy": "t = 1,3 × d (km) à 60 km/h",
        "linear": "t = a + b·d",
        "sqrt": "t = a + b·d + c·√d",
        "power": "t = a + b·d^p",
        "power_urban": "t = a + (b0·(1 − ū) + b1·ū)·d^p, ū = caractéristique moyenne des deux "
        "bouts ramenée à [0, 1]",
    }[form]


#: The former rule, ``km × 1.3 / 60 km/h × 60``: ``1.3 × km`` minutes, features ignored.
LEGACY_MODEL = TravelTimeModel(
    name="legacy",
    label="distance à vol d'oiseau × 1,3 à 60 km/h (ancienne règle, non ajustée)",
    form="legacy",
    coefficients={"a": 0.0, "b0": 1.3, "b1": 1.3, "c": 0.0, "p": 1.0},
    fitted_on="aucune donnée : constantes usuelles (détour 1,3, 60 km/h)",
)


@lru_cache(maxsize=4)
def _load_model(path: Path) -> TravelTimeModel:
    if not path.is_file():
        raise ReferenceDataError(
            f"modèle de temps de trajet {path} absent ; reconstruire avec "
            "`python scripts/fit_travel_model.py`"
        )
    try:
        params = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReferenceDataError(f"{path} illisible : {exc}") from exc
    return TravelTimeModel.from_params(params["model"])


def load_default_model(path: str | Path | None = None) -> TravelTimeModel:
    """Load the committed fitted model (``data/travel/modele_temps_trajet.json``), cached."""
    return _load_model(Path(path) if path is not None else travel_data_dir() / MODEL_FILE)


def __getattr__(name: str) -> Any:  # DEFAULT_MODEL is read lazily, on first use
    if name == "DEFAULT_MODEL":
        return load_default_model()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@lru_cache(maxsize=2)
def _feature_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ReferenceDataError(
            f"caractéristiques des communes {path} absentes ; reconstruire avec "
            "`python scripts/fit_travel_model.py`"
        )
    table = pd.read_csv(path, dtype={"code": str})
    if "code" not in table.columns or len(table.columns) < 2:
        raise ReferenceDataError(f"{path} : colonnes « code » et au moins une caractéristique")
    return table.set_index("code").astype("float64")


def _feature_name(feature: str | None) -> str:
    if feature is not None:
        return feature
    return load_default_model().feature or DEFAULT_FEATURE


def commune_features(codes: Any, feature: str | None = None) -> FloatArray:
    """Per-commune feature of reference communes (``data/travel/caracteristiques_communes.csv``).

    ``log_densite_commune`` is ``log10`` of the commune's own population (2023) per km² of its
    area (floored at 1 inhabitant/km²); ``caractere_urbain_10km`` is ``log10`` of the population
    of the communes whose chef-lieu lies within 10 km of the commune's chef-lieu, per km² of that
    disc (floored at 1), counted over all communes of the same metric zone.
    Unknown codes, and the 4 communes without a location, get the neutral value: the median of
    the feature over all communes.

    Parameters
    ----------
    codes : iterable of str
        INSEE commune codes (COG 2026).
    feature : str, optional
        Column to read; default: the feature of the default model (else
        :data:`DEFAULT_FEATURE`).

    Returns
    -------
    numpy.ndarray
        One float per code.
    """
    table = _feature_table(travel_data_dir() / FEATURES_FILE)
    name = _feature_name(feature)
    if name not in table.columns:
        raise DataValidationError(
            f"caractéristique inconnue {name!r} ; disponibles : {list(table.columns)}"
        )
    values = table[name]
    neutral = float(values.median())
    items = [codes] if isinstance(codes, str) else list(codes)
    index = pd.Index(np.asarray(items, dtype=str))
    pos = values.index.get_indexer(index)
    out = np.full(len(index), neutral)
    found = pos >= 0
    out[found] = values.to_numpy()[pos[found]]
    out[np.isnan(out)] = neutral
    return out


def _unit_sphere(lon_deg: FloatArray, lat_deg: FloatArray) -> FloatArray:
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


@lru_cache(maxsize=2)
def _chef_lieu_tree(feature: str) -> tuple[cKDTree, FloatArray]:
    from geo.reference import load_communes

    communes = load_communes()
    located = communes[communes["chef_lieu"].notna()]
    lonlat = shapely.get_coordinates(
        gpd.GeoSeries(located["chef_lieu"], crs=communes.crs).to_crs("EPSG:4326").to_numpy()
    )
    values = commune_features(located["code"].to_numpy(), feature)
    return cKDTree(_unit_sphere(lonlat[:, 0], lonlat[:, 1])), values


def features_at(points: gpd.GeoSeries, feature: str | None = None) -> FloatArray:
    """Feature at arbitrary points: that of the reference commune whose chef-lieu is nearest.

    Nearest on the sphere (chord distance), so it works for mainland France and the DROM alike;
    missing or empty points get NaN (the model then uses its neutral value).

    Parameters
    ----------
    points : geopandas.GeoSeries
        Points with a CRS.
    feature : str, optional
        Column of the features file; default as in :func:`commune_features`.

    Returns
    -------
    numpy.ndarray
        One float per point.
    """
    if points.crs is None:
        raise DataValidationError("les points n'ont pas de CRS ; en définir un (ex. EPSG:4326)")
    out = np.full(len(points), np.nan)
    if not len(points):
        return out
    geoms = points.to_crs("EPSG:4326").to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.any():
        lonlat = shapely.get_coordinates(shapely.centroid(geoms[ok]))
        tree, values = _chef_lieu_tree(_feature_name(feature))
        _, idx = tree.query(_unit_sphere(lonlat[:, 0], lonlat[:, 1]), k=1)
        out[ok] = values[np.asarray(idx, dtype=np.int64)]
    return out


def _check_xy(
    xy: npt.ArrayLike, feature: npt.ArrayLike, what: str
) -> tuple[FloatArray, FloatArray]:
    arr = np.asarray(xy, dtype="float64").reshape(-1, 2)
    if not np.isfinite(arr).all():
        raise DataValidationError(f"coordonnées {what} manquantes ou non finies")
    f = np.broadcast_to(np.asarray(feature, dtype="float64"), (len(arr),))
    return arr, f


def pair_minutes(
    origin_xy: npt.ArrayLike,
    origin_f: npt.ArrayLike,
    dest_xy: npt.ArrayLike,
    dest_f: npt.ArrayLike,
    max_minutes: float,
    model: TravelTimeModel,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Every origin–destination pair within ``max_minutes`` under ``model``, exactly.

    Candidates come from a k-d tree search of radius :meth:`TravelTimeModel.max_km`, a bound
    valid for any features, so no pair within reach is missed; same-point pairs (0 km) are kept
    at 0 minutes.

    Parameters
    ----------
    origin_xy, dest_xy : array_like, shape (n, 2)
        Coordinates in metres of one metric CRS (EPSG:2154 for mainland France).
    origin_f, dest_f : array_like
        Feature of each point (scalar broadcast).
    max_minutes : float
        Time budget.
    model : TravelTimeModel
        Travel-time model.

    Returns
    -------
    rows, cols : numpy.ndarray of int64
        Origin and destination positions, sorted by row then column.
    minutes, km : numpy.ndarray of float64
        Model time and straight-line distance of each pair.
    """
    o_xy, o_f = _check_xy(origin_xy, origin_f, "des origines")
    d_xy, d_f = _check_xy(dest_xy, dest_f, "des destinations")
    radius_m = model.max_km(max_minutes) * 1000.0
    if not len(o_xy) or not len(d_xy):
        empty_i = np.empty(0, dtype=np.int64)
        return empty_i, empty_i.copy(), np.empty(0), np.empty(0)
    pairs = cKDTree(o_xy).sparse_distance_matrix(cKDTree(d_xy), radius_m, output_type="ndarray")
    rows = pairs["i"].astype(np.int64)
    cols = pairs["j"].astype(np.int64)
    km = pairs["v"] / 1000.0
    minutes = model.minutes(km, o_f[rows], d_f[cols])
    minutes[km == 0] = 0.0
    keep = minutes <= max_minutes
    rows, cols, minutes, km = rows[keep], cols[keep], minutes[keep], km[keep]
    order = np.lexsort((cols, rows))
    return rows[order], cols[order], minutes[order], km[order]


def nearest_minutes(
    origin_xy: npt.ArrayLike,
    origin_f: npt.ArrayLike,
    dest_xy: npt.ArrayLike,
    dest_f: npt.ArrayLike,
    model: TravelTimeModel,
    *,
    k: int = 8,
) -> FloatArray:
    """Exact least model time from each origin to any destination (NaN without destination).

    The ``k`` nearest destinations by distance give a candidate minimum ``t``; any other
    destination is at least as far as the k-th, ``d_k``, so it needs at least
    ``min_minutes(d_k)``. Where ``t`` exceeds that bound, every destination within
    ``max_km(t)`` is examined, which by the bound of :meth:`TravelTimeModel.max_km` contains any
    destination reachable in ``t``.

    Parameters
    ----------
    origin_xy, dest_xy : array_like, shape (n, 2)
        Coordinates in metres of one metric CRS.
    origin_f, dest_f : array_like
        Feature of each point.
    model : TravelTimeModel
        Travel-time model.
    k : int, default 8
        Neighbours examined first (a speed knob; the result does not depend on it).

    Returns
    -------
    numpy.ndarray
        Minutes per origin.
    """
    o_xy, o_f = _check_xy(origin_xy, origin_f, "des origines")
    d_xy, d_f = _check_xy(dest_xy, dest_f, "des destinations")
    n_o, n_d = len(o_xy), len(d_xy)
    if not n_d or not n_o:
        return np.full(n_o, np.nan)
    kk = max(1, min(int(k), n_d))
    tree = cKDTree(d_xy)
    dist, idx = tree.query(o_xy, k=kk)
    dist = np.asarray(dist, dtype="float64").reshape(n_o, kk)
    idx = np.asarray(idx, dtype=np.int64).reshape(n_o, kk)
    km = dist / 1000.0
    t = model.minutes(km, o_f[:, None], d_f[idx])
    t[km == 0] = 0.0
    best: FloatArray = np.asarray(t.min(axis=1), dtype="float64")
    if kk == n_d:
        return best
    d_k = km[:, -1]
    bound = np.where(d_k > 0, model.min_minutes(d_k), 0.0)
    todo = np.flatnonzero(best > bound)
    if todo.size:
        radii = model._max_km_many(best[todo]) * 1000.0
        hits = tree.query_ball_point(o_xy[todo], radii, return_sorted=False)
        lengths = np.fromiter((len(h) for h in hits), dtype=np.int64, count=todo.size)
        cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])
        rows = np.repeat(todo, lengths)
        pair_km = np.hypot(*(o_xy[rows] - d_xy[cols]).T) / 1000.0
        pair_t = model.minutes(pair_km, o_f[rows], d_f[cols])
        pair_t[pair_km == 0] = 0.0
        np.minimum.at(best, rows, pair_t)
    return best
