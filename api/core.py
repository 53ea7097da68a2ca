"""What the CLI and the HTTP service do with the engine: one function per task, no web code.

Analyses, scenarios and exports (maps, GeoJSON, CSV, GeoPackage, summaries) are computed here
from :mod:`geo` objects; the routes and the commands only parse their input, call one of these
functions and store or write what comes back.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from geo import demo
from geo.analysis import AccessProblem, prepare
from geo.crs import METRIC_CRS_BY_DEPARTEMENT
from geo.errors import DataValidationError
from geo.io import select_profession as io_select_profession
from geo.maps import compare
from geo.maps.choropleth import SYNTHETIC_LABEL, analysis_map
from geo.maps.offline import to_offline_html
from geo.maps.static import analysis_static_map, static_map_bytes
from geo.offer import BPE_DATASET, STATUT_ESTIMATED, cnam_headcounts, load_gp_offer
from geo.reference import load_communes
from geo.territory import Territory, resolve_territory

__all__ = [
    "BPE_DATASET",
    "BPE_PROFESSION",
    "DEMO_DATASET",
    "EXPORT_CRS",
    "PLURAL_LABELS",
    "Progress",
    "aggregate_points",
    "builtin_practitioners",
    "check_builtin_profession",
    "commune_table",
    "default_dataset",
    "default_supply",
    "demo_practitioners",
    "departement_headcounts",
    "export_csv",
    "export_geojson",
    "export_gpkg",
    "frame_from_parquet",
    "frame_to_parquet",
    "gp_offer_practitioners",
    "headcounts_sentence",
    "jsonable",
    "no_progress",
    "points_label",
    "practitioners_source",
    "prepare_analysis",
    "render_comparison_html",
    "render_map_html",
    "render_map_png",
    "resolve",
    "search_communes",
    "select_profession",
    "sites_for_map",
    "source_label_of",
    "summary_of",
]

#: Dataset id of the national simulated practitioners (``geo.demo``).
DEMO_DATASET = "demo"
#: The one profession of the embedded real dataset :data:`BPE_DATASET`.
BPE_PROFESSION = "medecin_generaliste"

#: Reports the progress of a long task: fraction done (0–1) and a French message.
Progress = Callable[[float, str], None]

#: Plural French labels of the professions, for titles and legends.
PLURAL_LABELS: Mapping[str, str] = {
    "medecin_generaliste": "Médecins généralistes",
    "infirmier": "Infirmiers",
    "masseur_kinesitherapeute": "Masseurs-kinésithérapeutes",
    "chirurgien_dentiste": "Chirurgiens-dentistes",
    "sage_femme": "Sages-femmes",
}


def no_progress(fraction: float, message: str) -> None:
    """Progress callback that ignores the reports."""


def _search_key(text: pd.Series) -> pd.Series:
    """Lower-case, drop accents, hyphens and apostrophes as spaces (« Saint-Étienne »)."""
    key = text.astype(str).str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
    return key.str.lower().str.replace(r"[-'’ ]+", " ", regex=True).str.strip()


@lru_cache(maxsize=1)
def commune_table() -> pd.DataFrame:
    """Every reference commune without its polygon: code, nom, ids, population, chef-lieu."""
    communes = load_communes()
    points = gpd.GeoSeries(communes["chef_lieu"], crs=communes.crs).to_crs(4326)
    table = pd.DataFrame(
        communes[["code", "nom", "departement", "epci", "epci_nom", "population", "area_km2"]]
    )
    table["lon"] = points.x.round(6).to_numpy()
    table["lat"] = points.y.round(6).to_numpy()
    table["_key"] = _search_key(table["nom"])
    return table.reset_index(drop=True)


def search_communes(
    q: str | None = None,
    departement: str | None = None,
    epci: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> pd.DataFrame:
    """Communes whose name contains ``q`` (accents and case ignored) or whose code starts with it.

    Exact names first, then names starting with ``q``, then by population.
    """
    table = commune_table()
    mask = pd.Series(True, index=table.index)
    if departement:
        mask &= table["departement"] == departement.strip().upper()
    if epci:
        mask &= table["epci"] == epci.strip()
    rank = pd.Series(2, index=table.index)
    if q and q.strip():
        text = q.strip()
        if text[:2].isdigit() or text.upper().startswith(("2A", "2B")):
            mask &= table["code"].str.startswith(text.upper())
        else:
            key = str(_search_key(pd.Series([text])).iat[0])
            mask &= table["_key"].str.contains(key, regex=False)
            rank = rank.where(~table["_key"].str.startswith(key), 1)
            rank = rank.where(table["_key"] != key, 0)
    found = table[mask].assign(_rank=rank[mask])
    found = found.sort_values(["_rank", "population", "code"], ascending=[True, False, True])
    return found.drop(columns=["_key", "_rank"]).iloc[offset : offset + limit]


def resolve(
    departements: Sequence[str] | None = None,
    epci: Sequence[str] | None = None,
    communes: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    france: str | None = None,
) -> Territory:
    """Resolve exactly one kind of selection to a territory (raises ``UnknownCodeError``).

    ``regions`` are INSEE codes or names; ``france`` is ``metropole`` or ``entiere``.
    """
    return resolve_territory(
        list(departements) if departements else None,
        list(epci) if epci else None,
        list(communes) if communes else None,
        regions=list(regions) if regions else None,
        france=france or None,
    )


@lru_cache(maxsize=4)
def _demo(seed: int, profession: str | None) -> gpd.GeoDataFrame:
    professions = None if profession is None else [profession]
    return demo.generate_practitioners(load_communes(), seed=seed, professions=professions)


def demo_practitioners(seed: int = 0, profession: str | None = None) -> gpd.GeoDataFrame:
    """Return the national simulated practitioners (all professions when ``profession`` is None).

    The whole country is drawn, whatever the territory: practitioners across its border take
    part in the computation. Deterministic for a seed; cached, so treat it as read-only.
    """
    if profession is not None and profession not in demo.PROFESSIONS:
        raise DataValidationError(
            f"profession {profession!r} is not one of {', '.join(demo.PROFESSIONS)}"
        )
    return _demo(int(seed), profession)


@lru_cache(maxsize=1)
def _gp_offer_practitioners() -> gpd.GeoDataFrame:
    return load_gp_offer().practitioners()


def gp_offer_practitioners() -> gpd.GeoDataFrame:
    """Return the embedded real GPs (INSEE BPE), one point per GP at its commune's chef-lieu.

    ``attrs`` name the source and the communes it does not cover (the engine reports them as
    « non renseigné »). Cached, so treat it as read-only.
    """
    return _gp_offer_practitioners()


def default_dataset(profession: str | None) -> str:
    """Practitioners used when none are named: the real GPs, else the simulated set.

    The embedded real dataset holds GPs only; any other profession falls back to the simulated
    practitioners, which every output labels « praticiens simulés ».
    """
    return BPE_DATASET if profession in (None, BPE_PROFESSION) else DEMO_DATASET


def check_builtin_profession(dataset: str, profession: str | None) -> None:
    """Refuse a profession a built-in dataset does not hold (French message naming both).

    Raises
    ------
    DataValidationError
        ``bpe`` with a profession other than GPs, or ``demo`` with an unknown profession.
    """
    if dataset == BPE_DATASET and profession not in (None, BPE_PROFESSION):
        raise DataValidationError(
            f"le jeu de données {BPE_DATASET!r} ne contient que les médecins généralistes "
            f"libéraux (profession {BPE_PROFESSION!r}, {load_gp_offer().source_label}), pas "
            f"la profession {profession!r} ; pour une autre profession, utilisez le jeu "
            f"{DEMO_DATASET!r} ({SYNTHETIC_LABEL}) ou déposez vos propres données"
        )
    if dataset == DEMO_DATASET and profession is not None and profession not in demo.PROFESSIONS:
        raise DataValidationError(
            f"profession {profession!r} is not one of {', '.join(demo.PROFESSIONS)}"
        )


def builtin_practitioners(
    dataset: str, profession: str | None = None, seed: int = 0
) -> gpd.GeoDataFrame:
    """Practitioners of a built-in dataset: :data:`BPE_DATASET` (real GPs) or the demo.

    Raises
    ------
    DataValidationError
        Unknown dataset, or a profession the dataset does not hold.
    """
    check_builtin_profession(dataset, profession)
    if dataset == BPE_DATASET:
        return gp_offer_practitioners()
    if dataset == DEMO_DATASET:
        return demo_practitioners(seed, profession)
    raise DataValidationError(
        f"jeu de données intégré inconnu {dataset!r} : {BPE_DATASET!r} ou {DEMO_DATASET!r}"
    )


def practitioners_source(dataset: str) -> str | None:
    """Source label of a built-in dataset (None for an uploaded one)."""
    if dataset == BPE_DATASET:
        return load_gp_offer().source_label
    if dataset == DEMO_DATASET:
        return SYNTHETIC_LABEL
    return None


def source_label_of(attrs: Mapping[Any, Any]) -> str | None:
    """Where the practitioners of a result come from, as its metadata say it."""
    if attrs.get("synthetic"):
        return SYNTHETIC_LABEL
    sources = attrs.get("sources") or {}
    value = sources.get("practitioners") if isinstance(sources, Mapping) else None
    return None if value is None else str(value)


def select_profession(
    practitioners: gpd.GeoDataFrame, profession: str | None, source: str
) -> gpd.GeoDataFrame:
    """Keep one profession of a practitioners layer (all of them when ``profession`` is None).

    The engine's :func:`geo.io.select_profession`: codes, French names and BPE ``TYPEQU`` in any
    case; an unknown one is refused with every profession of ``source`` listed.
    """
    if profession is None:
        return practitioners
    if "profession" not in practitioners.columns:
        raise DataValidationError(
            f"{source} n'a pas de colonne 'profession' : impossible d'y garder {profession!r}"
        )
    return io_select_profession(practitioners, profession)


def default_supply(practitioners: pd.DataFrame, measure: str) -> str:
    """Supply of an analysis left unspecified: the richest unit every practitioner has.

    APL counts consultations, else FTE, else practitioners; a column with gaps (the simulated
    nurses have no consultation count) is not used. Other measures count practitioners.
    """
    if measure == "apl":
        for kind, column in (("consultations", "consultations_per_year"), ("fte", "fte")):
            if column in practitioners.columns:
                values = pd.to_numeric(practitioners[column], errors="coerce")
                if len(values) and bool(values.notna().all()) and bool((values >= 0).all()):
                    return kind
    return "headcount"


def prepare_analysis(
    territory: Territory,
    practitioners: gpd.GeoDataFrame,
    measure: str,
    options: Mapping[str, Any],
    progress: Progress = no_progress,
) -> AccessProblem:
    """Validate the inputs and compute the measure (:func:`geo.analysis.prepare`).

    ``options`` are :func:`~geo.analysis.prepare`'s keywords; without ``supply``, see
    :func:`default_supply`.
    """
    progress(0.3, "Calcul de l'indicateur…")
    kwargs = dict(options)
    if kwargs.get("supply") is None:
        supply = default_supply(practitioners, measure)
        # a headcount-only layer: the engine picks the APL's rule (activity per GP) itself;
        # naming "headcount" would ask it to keep practitioners per inhabitant instead
        has_units = {"consultations_per_year", "fte"} & set(map(str, practitioners.columns))
        kwargs["supply"] = None if supply == "headcount" and not has_units else supply
    return prepare(territory, practitioners, measure, **kwargs)


# --------------------------------------------------------------------------------------------
# summaries and serialisation
# --------------------------------------------------------------------------------------------
def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars turned into Python ones and NaN/inf into None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _short_vintage(vintage: str) -> str:
    """« 2017 (probable, non indiqué…) » → « 2017 probable »."""
    year = vintage.split(" ", 1)[0]
    return f"{year} probable" if "probable" in vintage else year


def departement_headcounts(codes: Sequence[str]) -> list[dict[str, Any]]:
    """GPs of the embedded dataset beside the CNAM 2024 headcount, for each département.

    Parameters
    ----------
    codes : sequence of str
        Département codes (``"63"``, ``"2A"``, ``"974"``).

    Returns
    -------
    list of dict
        ``departement``, ``nom``, ``embedded_count`` (GPs of the whole département in the
        embedded INSEE BPE; None where it does not cover the département, the DROM),
        ``embedded_estimated`` (how many of them are estimated, not read in the source: Paris),
        ``cnam_2024_count`` and ``cnam_2024_density`` (per 100,000 inhabitants; None when the
        CNAM table lacks the département), sorted by code.
    """
    offer = load_gp_offer()
    counts = offer.counts
    departements = commune_table().set_index("code")["departement"]
    dep_of = departements.reindex(counts["code"]).to_numpy()
    embedded = counts["medecins_generalistes"].groupby(dep_of).sum()
    estimated = (
        (counts["medecins_generalistes"].where(counts["statut"] == STATUT_ESTIMATED, 0))
        .groupby(dep_of)
        .sum()
    )
    cnam: dict[Any, dict[Any, Any]] = (
        cnam_headcounts().set_index("departement").to_dict(orient="index")
    )
    out: list[dict[str, Any]] = []
    for code in sorted(set(map(str, codes))):
        row = cnam.get(code)
        out.append(
            {
                "departement": code,
                "nom": None if row is None else str(row["nom"]),
                "embedded_count": int(embedded[code]) if code in embedded.index else None,
                "embedded_estimated": int(estimated[code]) if code in estimated.index else 0,
                "cnam_2024_count": None if row is None else int(row["medecins_generalistes_2024"]),
                "cnam_2024_density": None if row is None else float(row["densite_2024"]),
            }
        )
    return out


def headcounts_sentence(rows: Sequence[Mapping[str, Any]]) -> str:
    """French sentence comparing the embedded GP count with the CNAM 2024 one, per département."""
    vintage = _short_vintage(load_gp_offer().vintage)

    def number(n: int) -> str:
        return f"{n:,}".replace(",", "\u202f")

    if len(rows) > MAX_HEADCOUNT_LINES:  # a région, France: totals, the detail is in the summary
        return _headcount_totals(rows, vintage, number)
    parts = []
    for row in rows:
        name = f"{row['nom'] or row['departement']} ({row['departement']})"
        embedded = (
            "non couvert"
            if row["embedded_count"] is None
            else f"{number(int(row['embedded_count']))} médecins"
        )
        if row.get("embedded_estimated"):
            embedded += f" (dont {number(int(row['embedded_estimated']))} estimés)"
        cnam = (
            "non disponible"
            if row["cnam_2024_count"] is None
            else f"{number(int(row['cnam_2024_count']))}"
        )
        parts.append(f"{name} — INSEE BPE ({vintage}) : {embedded} ; CNAM 2024 : {cnam}")
    return (
        "Médecins généralistes libéraux du département : " + " · ".join(parts) + "."
        if len(parts) == 1
        else "Médecins généralistes libéraux par département : " + " · ".join(parts) + "."
    )


#: Beyond this many départements the CNAM comparison is given as totals (France: 96 lines).
MAX_HEADCOUNT_LINES = 4


def _headcount_totals(
    rows: Sequence[Mapping[str, Any]], vintage: str, number: Callable[[int], str]
) -> str:
    """Sum the comparison of :func:`headcounts_sentence` over many départements."""
    covered = [r for r in rows if r["embedded_count"] is not None]
    with_cnam = [r for r in covered if r["cnam_2024_count"] is not None]
    embedded = sum(int(r["embedded_count"]) for r in with_cnam)
    cnam = sum(int(r["cnam_2024_count"]) for r in with_cnam)
    missing = len(rows) - len(covered)
    sentence = (
        f"Médecins généralistes libéraux des {len(rows)} départements : INSEE BPE ({vintage}) : "
        f"{number(embedded)} médecins ; CNAM 2024 : {number(cnam)}"
        + (
            f" (sur les {len(with_cnam)} départements comparables)"
            if len(with_cnam) < len(rows)
            else ""
        )
    )
    if missing:
        plural = "s" if missing > 1 else ""
        sentence += f" ; {missing} département{plural} non couvert{plural} par la BPE embarquée"
    return sentence + " ; le détail par département est dans le résumé JSON (headcounts)."


def _from_embedded_offer(attrs: Mapping[Any, Any]) -> bool:
    return not attrs.get("synthetic") and source_label_of(attrs) == load_gp_offer().source_label


def summary_of(result: gpd.GeoDataFrame, territory_name: str, **extra: Any) -> dict[str, Any]:
    """Summary of an analysis result: territory, counts, metadata (JSON-safe).

    On the embedded real GPs, ``headcounts`` lists each département the territory touches with
    the embedded count beside the CNAM 2024 headcount (:func:`departement_headcounts`) and
    ``headcounts_fr`` says it in a sentence: the gap between the two vintages shows.
    """
    attrs = {k: v for k, v in result.attrs.items() if k != "timings_s"}
    if _from_embedded_offer(attrs) and "departement" in result.columns:
        rows = departement_headcounts(result["departement"].dropna().astype(str).unique())
        attrs["headcounts"] = rows
        attrs["headcounts_fr"] = headcounts_sentence(rows)
    summary = {
        "territory": territory_name,
        "communes": len(result),
        "population": int(pd.to_numeric(result["population"]).sum()),
        "practitioners_in_territory": (
            int(pd.to_numeric(result["practitioners"]).sum())
            if "practitioners" in result.columns
            else None
        ),
        **attrs,
        **extra,
    }
    out: dict[str, Any] = jsonable(summary)
    return out


def frame_to_parquet(frame: gpd.GeoDataFrame) -> bytes:
    """GeoParquet bytes of a frame (its ``attrs`` travel in the file's metadata)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def frame_from_parquet(data: bytes, attrs: Mapping[str, Any] | None = None) -> gpd.GeoDataFrame:
    """Read GeoParquet bytes; ``attrs`` (when given) replace the file's metadata."""
    frame = gpd.read_parquet(io.BytesIO(data))
    if attrs is not None:
        frame.attrs = dict(attrs)
    return frame


def _table(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    source = source_label_of(frame.attrs)
    if source is not None:
        table.insert(0, "source_praticiens", source)
    return table


def export_csv(frame: gpd.GeoDataFrame, *, excel: bool = False) -> bytes:
    """Write the per-commune table as CSV, with the practitioners' source.

    The ``source_praticiens`` column names it: the embedded real data, « praticiens simulés »
    or the user's data.

    Parameters
    ----------
    frame : GeoDataFrame
        Per-commune result (its geometry is left out).
    excel : bool
        False: UTF-8, ``,`` separator, decimal point (for programs). True: the dialect French
        Excel opens with a double click: UTF-8 with a byte-order mark, ``;`` separator,
        decimal comma, CRLF line ends. (Excel still reads commune codes such as ``01001`` as
        numbers: import them as text to keep the leading zero.)
    """
    table = _table(frame)
    if not excel:
        return table.to_csv(index=False).encode("utf-8")
    text = table.to_csv(index=False, sep=";", decimal=",", lineterminator="\r\n")
    return text.encode("utf-8-sig")


#: CRSs offered by the GeoJSON and GeoPackage exports: WGS 84 and Lambert-93 (EPSG codes).
EXPORT_CRS: tuple[int, ...] = (4326, 2154)


def _in_export_crs(frame: gpd.GeoDataFrame, crs: int) -> gpd.GeoDataFrame:
    """Reproject for an export; Lambert-93 is refused for overseas communes (meaningless)."""
    if crs not in EXPORT_CRS:
        raise DataValidationError(
            f"crs={crs!r} : systèmes proposés {', '.join(map(str, EXPORT_CRS))} "
            "(4326 : WGS 84 ; 2154 : Lambert-93)"
        )
    if crs == 2154:
        column = "departement" if "departement" in frame.columns else "code"
        prefixes = frame[column].dropna().astype(str).str[:3]
        overseas = sorted(set(prefixes[prefixes.isin(list(METRIC_CRS_BY_DEPARTEMENT))]))
        if overseas:
            local = ", ".join(f"{d} : {METRIC_CRS_BY_DEPARTEMENT[d]}" for d in overseas)
            raise DataValidationError(
                f"crs=2154 : Lambert-93 ne couvre que la France métropolitaine et la Corse ; "
                f"ce résultat a des communes d'outre-mer (département(s) {', '.join(overseas)}). "
                f"Demandez crs=4326 (WGS 84) et reprojetez-les dans leur système officiel "
                f"({local})."
            )
    return frame.to_crs(crs) if frame.crs is not None else frame


def export_geojson(frame: gpd.GeoDataFrame, *, crs: int = 4326) -> bytes:
    """Per-commune GeoJSON with the metadata as a ``metadata`` member.

    Parameters
    ----------
    frame : GeoDataFrame
        Per-commune result.
    crs : {4326, 2154}
        4326 (default): WGS 84 longitude/latitude, as RFC 7946 requires. 2154: Lambert-93 for
        QGIS users, outside RFC 7946, named by a ``crs`` member
        (``urn:ogc:def:crs:EPSG::2154``) that QGIS and GDAL read; refused for overseas
        communes.
    """
    projected = _in_export_crs(frame, crs)
    table = _table(projected)
    layer = gpd.GeoDataFrame(table, geometry=projected.geometry.to_numpy(), crs=projected.crs)
    collection = layer.to_geo_dict(na="null", drop_id=True)
    if crs != 4326:
        collection["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{crs}"}}
    collection["metadata"] = jsonable({k: v for k, v in frame.attrs.items() if k != "timings_s"})
    return json.dumps(
        jsonable(collection), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def export_gpkg(
    frame: gpd.GeoDataFrame, layer: str = "communes", *, crs: int | None = None
) -> bytes:
    """GeoPackage with the per-commune layer and a ``metadonnees`` table (key, JSON value).

    Parameters
    ----------
    frame : GeoDataFrame
        Per-commune result.
    layer : str
        Name of the per-commune layer.
    crs : {None, 4326, 2154}
        None: the frame's own CRS (WGS 84 for the service's stored results); 4326: WGS 84;
        2154: Lambert-93 (refused for overseas communes).
    """
    if crs is not None:
        frame = _in_export_crs(frame, crs)
    meta = jsonable({k: v for k, v in frame.attrs.items() if k != "timings_s"})
    metadata = pd.DataFrame(
        {
            "cle": list(meta),
            "valeur": [json.dumps(v, ensure_ascii=False) for v in meta.values()],
        }
    )
    layer_frame = gpd.GeoDataFrame(_table(frame), geometry=frame.geometry.to_numpy(), crs=frame.crs)
    # GDAL writes a GeoPackage to a path; the temporary folder and name are ours
    with tempfile.TemporaryDirectory(prefix="cartosoins-") as folder:
        path = Path(folder) / "export.gpkg"
        pyogrio.write_dataframe(layer_frame, path, layer=layer, driver="GPKG")
        pyogrio.write_dataframe(metadata, path, layer="metadonnees", driver="GPKG", append=True)
        return path.read_bytes()


# --------------------------------------------------------------------------------------------
# maps
# --------------------------------------------------------------------------------------------
def points_label(profession: str | None, synthetic: bool) -> str:
    """Legend of the per-commune practitioner circles."""
    label = PLURAL_LABELS.get(profession or "", "Praticiens")
    return f"{label} ({'simulés, ' if synthetic else ''}par commune)"


def aggregate_points(
    result: pd.DataFrame, label: str, communes: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One circle per commune with practitioners, at its chef-lieu (never individual points).

    ``communes`` gives the chef-lieu points (default: the reference layer); the circles of
    simulated practitioners say so.
    """
    located = result[pd.to_numeric(result["practitioners"]) > 0]
    if located.empty:
        return pd.DataFrame({"lon": [], "lat": [], "count": [], "label": []})
    if communes is None:
        communes = load_communes(codes=located["code"].astype(str).tolist())
    chef_lieu = gpd.GeoSeries(communes.set_index("code")["chef_lieu"])
    points = chef_lieu.reindex(located["code"].astype(str))
    keep = points.notna().to_numpy()
    located = located[keep]
    pts = gpd.GeoSeries(points[keep].to_numpy(), crs=chef_lieu.crs).to_crs(4326)
    counts = pd.to_numeric(located["practitioners"]).round().astype(int)
    word = label.split(" (")[0].lower()
    flag = " (simulés)" if result.attrs.get("synthetic") else ""
    return pd.DataFrame(
        {
            "lon": pts.x.to_numpy(),
            "lat": pts.y.to_numpy(),
            "count": counts.to_numpy(),
            "label": [
                f"{nom} : {n} {word}{flag}" for nom, n in zip(located["nom"], counts, strict=True)
            ],
        }
    )


def render_map_html(result: gpd.GeoDataFrame, place: str, label: str) -> str:
    """Self-contained interactive map of an analysis (no network needed to open it)."""
    fmap = analysis_map(result, place, points=aggregate_points(result, label), points_label=label)
    return to_offline_html(fmap)


def render_map_png(result: gpd.GeoDataFrame, place: str, label: str) -> bytes:
    """Draw the static map of an analysis for slides (25 × 18 cm, 200 dpi), as PNG bytes."""
    fig = analysis_static_map(
        result, place, points=aggregate_points(result, label), points_label=label
    )
    return static_map_bytes(fig, "png")


def sites_for_map(
    sites: gpd.GeoDataFrame, radius_km: float | None, gain_label: str
) -> pd.DataFrame:
    """Recommended sites as the map draws them: numbered markers with their catchment circle."""
    return compare.sites_for_map(sites, catchment_km=radius_km, gain_label=gain_label)


def render_comparison_html(
    frame: gpd.GeoDataFrame,
    place: str,
    scenario: str,
    sites: pd.DataFrame | None = None,
) -> str:
    """Before / after / change map of a scenario or a siting (offline HTML)."""
    return to_offline_html(compare.comparison_map(frame, place, scenario=scenario, sites=sites))
