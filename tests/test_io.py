from __future__ import annotations

from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from geo.agestructure import AGE_BANDS
from geo.analysis import analyse, validate_practitioners
from geo.errors import DataValidationError, InputFormatError
from geo.io import (
    BPE_PROFESSIONS,
    FORMATS,
    LOCATION_CHEF_LIEU,
    LOCATION_FILE,
    PRACTITIONER_COLUMNS,
    profession_code,
    read_population_table,
    read_practitioners,
    select_profession,
)
from geo.reference import load_communes
from geo.territory import resolve_territory

DATA = Path(__file__).resolve().parent / "data" / "io"
RPPS_FILE = DATA / "PS_LibreAcces_Personne_activite_202501150805.txt"
# every personal detail written in the RPPS fixture: none may reach the output
RPPS_PERSONAL = (
    "BRUNEVAL",
    "JULIEN",
    "CHAZELLET",
    "AURELIE",
    "DUMONTIER",
    "PASCAL",
    "FAUCHERAND",
    "NADEGE",
    "GIRAUDIERE",
    "THEO",
    "LAMBRECHIN",
    "ELODIE",
    "MOUTERDE",
    "ANTOINE",
    "PERRONCEL",
    "MAEVA",
    "ROCHEBLAVE",
    "HUGO",
    "VIALARDET",
    "SIMON",
    "ARCHAMBEAUD",
    "LINA",
    "Docteur",
    "Monsieur",
    "Madame",
    "0477000011",
    "j.bruneval@exemple-sante.fr",
    "RESISTANCE",
    "CABINET DU DR",
)


def _check_practitioners(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Contract shared by every reader's output."""
    assert isinstance(gdf, gpd.GeoDataFrame)
    assert gdf.crs is not None and gdf.crs.to_epsg() == 4326
    assert list(gdf.columns[:6]) == list(PRACTITIONER_COLUMNS[:6])
    assert list(gdf.columns[-3:]) == ["synthetic", "source", "geometry"]
    assert gdf["id"].is_unique
    assert not gdf["synthetic"].any()
    assert set(gdf["location"]) <= {LOCATION_FILE, LOCATION_CHEF_LIEU}
    attrs = gdf.attrs
    assert attrs["rows_read"] == attrs["rows_kept"] + sum(attrs["rows_dropped"].values())
    assert attrs["rows_kept"] == len(gdf)
    assert sum(attrs["located"].values()) == len(gdf)
    validate_practitioners(gdf)
    return gdf


def _point(gdf: gpd.GeoDataFrame, ident: str) -> tuple[float, float]:
    geom = gdf.set_index("id").geometry[ident]
    return float(geom.x), float(geom.y)


@cache
def _town_hall(code: str) -> tuple[float, float]:
    point = load_communes(codes=code)["chef_lieu"].iloc[0]
    return float(point.x), float(point.y)


# --------------------------------------------------------------------------------------------
# generic CSV
# --------------------------------------------------------------------------------------------
def test_latlon_utf8_bom_semicolon_decimal_comma() -> None:
    gdf = _check_practitioners(
        read_practitioners(DATA / "praticiens_latlon_utf8_bom.csv", all_professions=True)
    )
    assert gdf.attrs["format"] == "csv_latlon"
    assert gdf.attrs["encoding"] == "utf-8-sig"
    assert gdf.attrs["separator"] == ";"
    assert gdf["id"].tolist() == ["MG-001", "MG-002", "INF-001", "MK-001", "SF-001"]
    assert gdf["profession"].tolist() == [
        "medecin_generaliste",
        "medecin_generaliste",
        "infirmier",
        "masseur_kinesitherapeute",
        "sage_femme",
    ]
    assert gdf["profession_libelle"].iloc[0] == "Médecin généraliste"
    assert _point(gdf, "MG-001") == pytest.approx((4.38596, 45.43812))
    assert gdf["fte"].tolist()[:3] == [0.8, 1.0, 0.9]
    assert np.isnan(gdf["fte"].iloc[3])
    assert gdf["consultations_per_year"].iloc[0] == 4210.0  # "4 210"
    assert gdf["age"].dtype == "Int64" and gdf["age"].tolist() == [52, 38, 45, 61, 33]
    # a row without coordinates but with its commune is placed at the town hall
    row = gdf.set_index("id").loc["SF-001"]
    assert row["location"] == LOCATION_CHEF_LIEU
    assert _point(gdf, "SF-001") == pytest.approx(_town_hall("42218"))
    assert (gdf["location"] == LOCATION_FILE).sum() == 4
    assert gdf["commune_nom"].iloc[0] == "Saint-Étienne"
    assert gdf["source"].iloc[0] == "csv_latlon (praticiens_latlon_utf8_bom.csv)"


def test_latlon_cp1252_comma_with_corsica_and_reunion() -> None:
    gdf = _check_practitioners(
        read_practitioners(DATA / "praticiens_latlon_cp1252.csv", all_professions=True)
    )
    assert gdf.attrs["encoding"] == "cp1252"
    assert gdf.attrs["separator"] == ","
    assert gdf["profession_libelle"].tolist() == [
        "Chirurgien-dentiste",
        "Médecin généraliste",
        "Orthophoniste (libérale)",  # a profession outside the five keeps the file's label
    ]
    assert gdf["profession"].iloc[2] == "orthophoniste"
    assert gdf["birth_year"].tolist() == [1979, 1968, 1990]
    assert gdf["commune"].isna().all()  # no commune column: unknown, not guessed
    assert _point(gdf, "MG-974-01") == pytest.approx((55.44901, -20.87855))


def test_same_content_in_utf8_and_cp1252_reads_the_same() -> None:
    text = "id;profession;lat;lon\nA;Médecin généraliste;45,43;4,38\nB;Sage-femme;45,44;4,39\n"
    utf8 = read_practitioners(text.encode("utf-8"), filename="a.csv", all_professions=True)
    cp1252 = read_practitioners(text.encode("cp1252"), filename="a.csv", all_professions=True)
    bom = read_practitioners(
        b"\xef\xbb\xbf" + text.encode("utf-8"), filename="a.csv", all_professions=True
    )
    comma = read_practitioners(
        text.replace(",", ".").replace(";", ",").encode("utf-8"),
        filename="a.csv",
        all_professions=True,
    )
    for other in (cp1252, bom, comma):
        pd.testing.assert_frame_equal(pd.DataFrame(utf8), pd.DataFrame(other))


def test_commune_cp1252_leading_zero_corsica_and_arrondissement() -> None:
    gdf = _check_practitioners(
        read_practitioners(DATA / "praticiens_commune_cp1252.csv", all_professions=True)
    )
    assert gdf.attrs["format"] == "csv_commune"
    assert gdf.attrs["encoding"] == "cp1252"
    # "1053" lost its zero in a spreadsheet; 75112 is an arrondissement of Paris
    assert gdf["commune"].tolist() == ["01053", "2A004", "75056", "97411", "42218"]
    assert gdf["commune_nom"].tolist()[:3] == ["Bourg-en-Bresse", "Ajaccio", "Paris"]
    assert (gdf["location"] == LOCATION_CHEF_LIEU).all()
    for ident, code in zip(gdf["id"], gdf["commune"], strict=True):
        assert _point(gdf, ident) == pytest.approx(_town_hall(code))
    assert gdf["consultations_per_year"].iloc[0] == 4500.0


def test_commune_tab_separated() -> None:
    gdf = _check_practitioners(
        read_practitioners(DATA / "praticiens_commune.tsv", all_professions=True)
    )
    assert gdf.attrs["separator"] == "\t"
    assert gdf["id"].tolist() == ["ROW-1", "ROW-2", "ROW-3"]
    assert gdf["fte"].tolist() == [1.0, 0.5, 0.9]


def test_forced_format_csv_commune_ignores_coordinates() -> None:
    gdf = read_practitioners(
        DATA / "praticiens_latlon_utf8_bom.csv", format="csv_commune", professions=["MG"]
    )
    assert (gdf["location"] == LOCATION_CHEF_LIEU).all()
    assert gdf["commune"].tolist() == ["42218", "42095"]
    assert gdf.attrs["rows_dropped"] == {"autre profession (filtre professions)": 3}


# --------------------------------------------------------------------------------------------
# BPE
# --------------------------------------------------------------------------------------------
def test_bpe_lambert_by_departement_cp1252_legacy_codes() -> None:
    gdf = _check_practitioners(
        read_practitioners(DATA / "bpe18_ensemble_xy_cp1252.csv", all_professions=True)
    )
    assert gdf.attrs["format"] == "bpe"
    assert gdf.attrs["encoding"] == "cp1252"
    assert gdf.attrs["rows_dropped"] == {"TYPEQU hors domaine santé et action sociale (D)": 1}
    assert gdf.attrs["qualite_xy"]["Non géolocalisé"] == 1
    assert "ROW-5" not in set(gdf["id"])  # A101, a police station
    by_id = gdf.set_index("id")
    assert by_id.loc["ROW-1", "profession"] == "medecin_generaliste"  # D201, legacy
    assert by_id.loc["ROW-6", "profession"] == "bpe_D301"
    # each DROM row was read in its own CRS and lands on the point the fixture projected
    expected = {
        "ROW-1": (4.38612, 45.43875),
        "ROW-7": (55.44901, -20.87955),  # La Réunion, EPSG:2975
        "ROW-8": (-61.53288, 16.24155),  # Guadeloupe, EPSG:5490
        "ROW-9": (-52.33455, 4.93844),  # Guyane, EPSG:2972
        "ROW-10": (45.23301, -12.78102),  # Mayotte, EPSG:4471
    }
    for ident, lonlat in expected.items():
        assert _point(gdf, ident) == pytest.approx(lonlat, abs=1e-5)
        assert by_id.loc[ident, "location"] == LOCATION_FILE
    assert by_id.loc["ROW-11", "location"] == LOCATION_CHEF_LIEU  # "Non géolocalisé"


def test_bpe_recent_lonlat_labels_and_no_establishment_names() -> None:
    gdf = _check_practitioners(read_practitioners(DATA / "bpe24_lonlat.csv", all_professions=True))
    by_id = gdf.set_index("id")
    assert by_id.loc["ROW-4", "profession"] == "bpe_D307"
    assert by_id.loc["ROW-4", "profession_libelle"] == "Pharmacie"
    assert by_id.loc["ROW-2", "profession_libelle"] == "Maison de santé pluridisciplinaire"
    assert by_id.loc["ROW-5", "commune"] == "69123"  # Lyon 1er arrondissement
    assert by_id.loc["ROW-8", "location"] == LOCATION_CHEF_LIEU
    assert "ROW-7" not in by_id.index  # F101, a gymnasium
    assert not gdf.astype(str).apply(lambda c: c.str.contains("CABINET")).any().any()
    gps = read_practitioners(DATA / "bpe24_lonlat.csv", professions=["medecin_generaliste"])
    assert gps["id"].tolist() == ["ROW-1", "ROW-8"]


def test_bpe_epsg_column_wins_over_departement() -> None:
    x, y = pyproj.Transformer.from_crs(4326, 2975, always_xy=True).transform(55.449, -20.879)
    lines = [
        "DEPCOM;TYPEQU;LAMBERT_X;LAMBERT_Y;EPSG",
        f"97411;D281;{x:.1f};{y:.1f};EPSG:2975",
        f"97411;D281;{x:.1f};{y:.1f};",
    ]
    gdf = _check_practitioners(read_practitioners("\n".join(lines).encode(), filename="b.csv"))
    assert _point(gdf, "ROW-1") == pytest.approx(_point(gdf, "ROW-2"))
    wrong = "\n".join([lines[0], f"97411;D281;{x:.1f};{y:.1f};2154"]).encode()
    with pytest.raises(InputFormatError, match=r"b\.csv: column 'LAMBERT_X', row 1: .*EPSG:2154"):
        read_practitioners(wrong, filename="b.csv")


def test_bpe_drom_coordinates_in_the_wrong_crs() -> None:
    with pytest.raises(
        InputFormatError,
        match=r"bpe_974_lambert93\.csv: column 'LAMBERT_X', row 2: .*DEPCOM 97411 read in "
        r"EPSG:2975 .* do not fall in La Réunion",
    ):
        read_practitioners(DATA / "bpe_974_lambert93.csv")


def test_bpe_professions_table() -> None:
    assert BPE_PROFESSIONS["D265"] == "medecin_generaliste"
    assert set(BPE_PROFESSIONS.values()) == {
        "medecin_generaliste",
        "infirmier",
        "masseur_kinesitherapeute",
        "chirurgien_dentiste",
        "sage_femme",
    }


# --------------------------------------------------------------------------------------------
# RPPS
# --------------------------------------------------------------------------------------------
def test_rpps_professions_dedup_and_ids() -> None:
    gdf = _check_practitioners(read_practitioners(RPPS_FILE, all_professions=True))
    assert gdf.attrs["format"] == "rpps"
    assert gdf.attrs["separator"] == "|"
    assert gdf.attrs["rows_dropped"] == {
        "sans code commune de la structure (étranger ou adresse incomplète)": 1,
        "commune hors métropole et DROM (collectivité d'outre-mer, étranger)": 1,
        "activité en double (même praticien, même commune)": 1,
    }
    by_id = gdf.set_index("id")
    # one GP, three activity rows: two in Saint-Étienne merged, one in Firminy
    assert by_id.loc["10000000011-42218", "activities"] == 2
    assert by_id.loc["10000000011-42218", "mode_exercice"] == "L+S"
    assert by_id.loc["10000000011-42095", "activities"] == 1
    assert by_id.loc["10000000028", "profession"] == "medecin_generaliste"  # SM53
    assert by_id.loc["10000000036", "profession"] == "rpps_10_SM04"
    assert by_id.loc["10000000036", "profession_libelle"].startswith("Médecin — Cardiologie")
    assert by_id.loc["429876543", "profession"] == "infirmier"
    assert by_id.loc["019876543", "commune"] == "01053"  # ADELI number keeps its zero
    assert by_id.loc["10000000044", "commune"] == "75056"  # 75115 → Paris
    assert by_id.loc["10000000051", "profession"] == "chirurgien_dentiste"
    assert by_id.loc["10000000069", "profession"] == "sage_femme"
    assert by_id.loc["10000000077", "profession"] == "rpps_21"
    assert (gdf["location"] == LOCATION_CHEF_LIEU).all()
    assert _point(gdf, "10000000069") == pytest.approx(_town_hall("97411"))


def test_rpps_output_holds_no_personal_data() -> None:
    gdf = read_practitioners(RPPS_FILE, all_professions=True)
    text = gdf.drop(columns="geometry").astype(str).to_csv() + repr(gdf.attrs)
    for value in RPPS_PERSONAL:
        assert value not in text
    assert not {"nom", "prenom", "nom_d_exercice"} & {c.lower() for c in gdf.columns}


def test_rpps_recognised_by_columns_and_filtered() -> None:
    data = RPPS_FILE.read_bytes()
    gdf = read_practitioners(data, filename="extraction.txt", professions=["infirmier"])
    assert gdf.attrs["format"] == "rpps"
    assert gdf["id"].tolist() == ["429876543", "019876543"]
    assert gdf.attrs["rows_dropped"]["autre profession (filtre professions)"] == 8


def test_rpps_missing_required_column() -> None:
    header, *rows = RPPS_FILE.read_text(encoding="utf-8").splitlines()
    broken = "\n".join([header.replace("Code commune (coord. structure)", "Commune"), *rows])
    with pytest.raises(
        InputFormatError,
        match=r"PS_LibreAcces_Personne_activite_x\.txt: missing required column.*'rpps'.*"
        r"code_commune_coord_structure",
    ):
        read_practitioners(broken.encode(), filename="PS_LibreAcces_Personne_activite_x.txt")


# --------------------------------------------------------------------------------------------
# GeoJSON / GeoPackage
# --------------------------------------------------------------------------------------------
def test_geojson_wgs84_with_a_feature_without_geometry() -> None:
    gdf = _check_practitioners(
        read_practitioners(DATA / "praticiens_wgs84.geojson", all_professions=True)
    )
    assert gdf.attrs["format"] == "geojson"
    assert gdf.attrs["encoding"] is None
    assert gdf["fte"].tolist()[:2] == [0.9, 1.0]
    assert gdf["age"].tolist() == [47, 33, 58]
    assert gdf.set_index("id").loc["MK-A", "location"] == LOCATION_CHEF_LIEU
    assert _point(gdf, "MK-A") == pytest.approx(_town_hall("42095"))


def test_geojson_in_lambert93_is_reprojected() -> None:
    gdf = _check_practitioners(
        read_practitioners(DATA / "praticiens_lambert93.geojson", all_professions=True)
    )
    assert gdf["id"].tolist() == ["P1", "P2"]
    assert _point(gdf, "P2") == pytest.approx((3.88511, 45.04333), abs=1e-6)


def test_gpkg_from_path_and_bytes(tmp_path: Path) -> None:
    # GeoPackages are binary (about 100 kB even for one point): written here, not committed
    layer = gpd.read_file(DATA / "praticiens_wgs84.geojson").to_crs(2154)
    path = tmp_path / "praticiens.gpkg"
    pyogrio.write_dataframe(layer, path, layer="praticiens")
    from_path = _check_practitioners(read_practitioners(path, all_professions=True))
    from_bytes = read_practitioners(path.read_bytes(), filename="upload.gpkg", all_professions=True)
    assert from_path.attrs["format"] == from_bytes.attrs["format"] == "gpkg"
    np.testing.assert_allclose(
        shapely.get_coordinates(from_path.geometry.to_numpy()),
        shapely.get_coordinates(from_bytes.geometry.to_numpy()),
    )
    assert _point(from_path, "MG-A") == pytest.approx((4.38702, 45.43901), abs=1e-6)


def test_layer_errors(tmp_path: Path) -> None:
    polygon = (
        b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
        b'"geometry": {"type": "Polygon", "coordinates": [[[4, 45], [4.1, 45], [4, 45.1], '
        b"[4, 45]]]}}]}"
    )
    with pytest.raises(InputFormatError, match=r"z\.geojson: column 'geometry', row 1: .*Polygon"):
        read_practitioners(polygon, filename="z.geojson")
    with pytest.raises(InputFormatError, match=r"t\.geojson: cannot be read as geojson"):
        read_practitioners(b'{"type": "FeatureCollection", "features": [', filename="t.geojson")
    with pytest.raises(InputFormatError, match=r"g\.gpkg: cannot be read as gpkg"):
        read_practitioners(b"SQLite format 3\x00" + b"garbage" * 20, filename="g.gpkg")
    with pytest.raises(InputFormatError, match="'csv_latlon' was asked but the content is geojson"):
        read_practitioners(DATA / "praticiens_wgs84.geojson", format="csv_latlon")


# --------------------------------------------------------------------------------------------
# real samples
# --------------------------------------------------------------------------------------------
@pytest.mark.shared_data
def test_real_bpe_sample_and_apl(shared_data: Path) -> None:
    path = shared_data / "bpe" / "bpe_42_43partial_sante_presence_sabah42.csv"
    everything = _check_practitioners(read_practitioners(path, all_professions=True))
    raw = pd.read_csv(path, dtype=str)
    assert len(everything) == len(raw)  # every row is in domain D
    counts = everything["profession"].value_counts()
    assert counts["medecin_generaliste"] == (raw["TYPEQU"] == "D265").sum()
    assert counts["infirmier"] == (raw["TYPEQU"] == "D281").sum()
    assert counts["sage_femme"] == (raw["TYPEQU"] == "D278").sum()
    pharmacy = everything[everything["profession"] == "bpe_D307"]
    assert set(pharmacy["profession_libelle"]) == {"PHARMACIE"}  # the file's own label
    assert (everything["location"] == LOCATION_CHEF_LIEU).all()

    gps = read_practitioners(path, professions=["medecin_generaliste"])
    territory = resolve_territory(departements="42")
    result = analyse(territory, gps, "apl", supply="headcount")
    assert len(result) == len(load_communes(departements="42"))
    reached = result["status"] == "ok"
    assert reached.sum() >= 300 and (result.loc[reached, "value"] > 0).all()
    # e.g. a village with no GP within 20 min: 0, as DREES publishes it
    assert (result.loc[~reached, "value"] == 0).all()
    assert (result.loc[~reached, "status"] == "aucun médecin à moins de 20 min").all()
    assert (
        result["practitioners"].sum()
        == ((raw["TYPEQU"] == "D265") & raw["DEPCOM"].str.startswith("42")).sum()
    )

    # with the population table read from the shared sample: age-standardised demand
    ages = read_population_table(
        shared_data / "population" / "part_75_plus_communes_2022_linalek.csv"
    )
    standardised = analyse(
        territory,
        gps,
        "apl",
        supply="headcount",
        age_table=ages,
        consumption_weights={"moins_75": 1.0, "75_plus": 2.0},
    )
    both = result["value"].notna() & standardised["value"].notna()
    assert both.sum() >= 300
    assert not np.allclose(result.loc[both, "value"], standardised.loc[both, "value"])


@pytest.mark.shared_data
def test_real_osm_health_pois(shared_data: Path) -> None:
    gdf = _check_practitioners(
        read_practitioners(shared_data / "osm" / "osm_health_pois.csv", all_professions=True)
    )
    assert len(gdf) == 40
    assert gdf["id"].iloc[0] == "node/954714337"
    assert gdf["profession"].value_counts()["pharmacy"] >= 20
    assert (gdf["profession"] == "chirurgien_dentiste").sum() == 2  # healthcare=dentist
    assert (gdf["location"] == LOCATION_FILE).all()


@pytest.mark.shared_data
def test_real_share_of_75_plus(shared_data: Path) -> None:
    path = shared_data / "population" / "part_75_plus_communes_2022_linalek.csv"
    table = read_population_table(path)
    assert len(table) == 34_848
    assert list(table.columns) == ["moins_75", "75_plus"]
    assert table.index.is_unique and (table.index.str.len() == 5).all()
    assert table.loc["01001", "75_plus"] == pytest.approx(8.8)
    assert table.index.str.startswith("2A").any() and table.index.str.startswith("01").any()
    np.testing.assert_allclose(table.sum(axis=1), 100.0)


# --------------------------------------------------------------------------------------------
# population tables
# --------------------------------------------------------------------------------------------
def test_population_wide_counts() -> None:
    table = read_population_table(DATA / "population_tranches_age.csv")
    assert table.attrs["layout"] == "wide" and table.attrs["values"] == "counts"
    assert list(table.columns) == ["0-19", "20-64", "65-74", "75+"]
    assert table.index.tolist() == ["42218", "01053", "2A004"]
    assert table.loc["42218", "75+"] == 18230.0
    assert (table.dtypes == "float64").all()


def test_population_insee_long_table() -> None:
    table = read_population_table(DATA / "BTT_TD_POP1A_extrait.csv")
    assert table.attrs["layout"] == "insee_long"
    assert table.attrs["encoding"] == "cp1252"
    assert table.attrs["rows_dropped"] == {"NIVGEO autre que COM (arrondissements…)": 1}
    assert list(table.columns) == ["00", "03", "06", "11", "18", "25", "40", "55", "65", "80"]
    assert table.index.tolist() == ["42218", "43157", "2A004"]
    # both sexes summed: 1700 × 2.1 × (0.96 + 1.04)
    assert table.loc["42218", "80"] == pytest.approx(7140.0)


def test_population_share_of_75_plus() -> None:
    table = read_population_table(DATA / "part_75_plus_extrait.csv")
    assert table.attrs["values"] == "shares_pct"
    assert table.loc["2A004"].tolist() == pytest.approx([89.3, 10.7])


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"code;a;b\n42218;1;x\n", r"p\.csv: column 'b', row 1: value 'x' is not a number"),
        (b"code;a;b\n42218;1;2\n43157;-3;2\n", r"p\.csv: column 'a', row 2: value -3 is outside"),
        (
            b"code;a\n42218;1\n42218;2\n",
            r"p\.csv: column 'code': duplicate commune code '42218' "
            r"in rows 1, 2",
        ),
        (b"code;a\n42218;\n", r"p\.csv: column 'a', row 1: missing value"),
        (
            b"code,part_75_plus_pct_2022\n42218,101\n",
            r"column 'part_75_plus_pct_2022', row 1: "
            r"value 101 is outside the accepted range \[0, 100\]",
        ),
        (b"commune_id;a\nX;1\n", r"p\.csv: no commune code column .*'commune_id'"),
        (b"code;nom\n42218;Saint-Etienne\n", r"p\.csv: no age band column"),
        (b"", r"p\.csv: the file is empty"),
    ],
)
def test_population_errors(content: bytes, pattern: str) -> None:
    with pytest.raises(InputFormatError, match=pattern):
        read_population_table(content, filename="p.csv")


# --------------------------------------------------------------------------------------------
# error contracts of read_practitioners
# --------------------------------------------------------------------------------------------
ERRORS = [
    pytest.param(b"", r"f\.csv: the file is empty", id="empty"),
    pytest.param(b"  \r\n\n", r"f\.csv: the file is empty", id="blank"),
    pytest.param(b"id;lat;lon\n", r"f\.csv: the file has a header but no data rows", id="header"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"f\.csv: not a text file", id="png"),
    pytest.param(b"PK\x03\x04\x14\x00rest", r"f\.csv: this is a ZIP archive", id="zip"),
    pytest.param(
        b"name;phone\nA;1\n",
        r"f\.csv: unknown format; columns found: 'name', 'phone'\. Accepted formats: rpps .* bpe "
        r".* csv_latlon .* csv_commune .* geojson, gpkg",
        id="unknown-format",
    ),
    pytest.param(
        b"id;lat;lon\nA;45,4;4,38\nB;45.4x;4.38\n",
        r"f\.csv: column 'lat', row 2: value '45\.4x' is not a number",
        id="not-a-number",
    ),
    pytest.param(
        b"id;y;x\nA;6483192;808468\n",
        r"f\.csv: column 'x', row 1: value 808468 is out of range \[-180, 180\].*projected",
        id="projected-metres",
    ),
    pytest.param(
        b"id;lat;lon\nA;45.43;4.38\nB;4.38;45.43\n",
        r"f\.csv: column 'lon/lat', row 2: point \(lon 45\.43000, lat 4\.38000\) lies outside "
        r"France.*swapped",
        id="outside-france",
    ),
    pytest.param(
        b"id;lat;lon;code_commune\nA;45.43;4.38;97411\n",
        r"f\.csv: column 'lon/lat', row 1: .*lies in métropole but its commune 97411 is in La "
        r"Réunion",
        id="wrong-territory",
    ),
    pytest.param(
        b"code_commune;profession\n42218;infirmier\n99999;infirmier\n42999;mg\n99999;mg\n",
        r"f\.csv: column 'code_commune': unknown commune code\(s\) '42999' \(row 3\), '99999' "
        r"\(rows 2, 4\)",
        id="unknown-commune",
    ),
    pytest.param(
        b"code_commune;profession\n97701;infirmier\n",
        r"unknown commune code\(s\) '97701' \(row 1\).*collectivités d'outre-mer",
        id="com-commune",
    ),
    pytest.param(
        b"code_commune\nSaint-Etienne\n",
        r"f\.csv: column 'code_commune', row 1: 'SAINT-ETIENNE' is not an INSEE commune code",
        id="bad-commune-code",
    ),
    pytest.param(
        b"id;lat;lon\nA;45.43;4.38\nB;45.44;4.39\nA;45.45;4.40\n",
        r"f\.csv: column 'id': duplicate identifier 'A' in rows 1, 3",
        id="duplicate-id",
    ),
    pytest.param(
        # digit-only identifiers (RPPS numbers) take a faster path: same message
        b"id;lat;lon\n101;45.43;4.38\n102;45.44;4.39\n101;45.45;4.40\n",
        r"f\.csv: column 'id': duplicate identifier '101' in rows 1, 3",
        id="duplicate-numeric-id",
    ),
    pytest.param(
        b"id;lat;lon\nA;45.43;4.38\n;45.44;4.39\n",
        r"f\.csv: column 'id', row 2: empty identifier",
        id="empty-id",
    ),
    pytest.param(
        b"id;lat;lon\nA;45.43;\n",
        r"f\.csv: column 'lon/lat', row 1: one coordinate is given without the other",
        id="half-coordinates",
    ),
    pytest.param(
        b"id;lat;lon\nA;;\n",
        r"f\.csv: column 'lon/lat', row 1: no coordinates and no commune code",
        id="no-location",
    ),
    pytest.param(
        b"id;lat;lon;etp\nA;45.43;4.38;7\n",
        r"f\.csv: column 'etp', row 1: value 7 is outside the accepted range \[0, 3\]",
        id="fte-range",
    ),
    pytest.param(
        b"id;lat;lon;age\nA;45.43;4.38;52.5\n",
        r"f\.csv: column 'age', row 1: value 52\.5 is not a whole number",
        id="age-integer",
    ),
    pytest.param(
        b"id;lat;lon\nA;45.43;4.38\nB;45.44;4.39;extra\n",
        r"f\.csv: line 3 \(data row 2\) has 4 fields where the header has 3 \(separator ';'\)",
        id="field-count",
    ),
    pytest.param(
        b"DEPCOM;TYPEQU\n42218;\n",
        r"f\.csv: column 'TYPEQU', row 1: empty equipment type",
        id="bpe-empty-typequ",
    ),
    pytest.param(
        b"DEPCOM;TYPEQU;LAMBERT_X;LAMBERT_Y\n42218;D265;808468,7;abc\n",
        r"f\.csv: column 'LAMBERT_Y', row 1: value 'abc' is not a number",
        id="bpe-number",
    ),
]


@pytest.mark.parametrize(("content", "pattern"), ERRORS)
def test_error_contracts(content: bytes, pattern: str) -> None:
    with pytest.raises(InputFormatError, match=pattern) as info:
        read_practitioners(content, filename="f.csv", all_professions=True)
    assert isinstance(info.value, DataValidationError)  # the API maps it to a 4xx


def test_errors_name_the_file_row_and_column_of_a_real_fixture() -> None:
    text = (DATA / "praticiens_latlon_utf8_bom.csv").read_text(encoding="utf-8-sig")
    broken = text.replace("45,47702", "45,47.702")
    with pytest.raises(InputFormatError) as info:
        read_practitioners(broken.encode(), filename="praticiens_latlon_utf8_bom.csv")
    message = str(info.value)
    assert message.startswith("praticiens_latlon_utf8_bom.csv: ")
    assert "column 'Latitude'" in message and "row 3" in message and "'45,47.702'" in message


def test_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"unknown format 'csv'; choose one of: rpps, bpe"):
        read_practitioners(b"a\n1\n", format="csv")
    with pytest.raises(InputFormatError, match=r"missing\.csv: file not found"):
        read_practitioners(tmp_path / "missing.csv", filename="missing.csv")
    with pytest.raises(InputFormatError, match=r"^id;lat;lon…: .*give bytes"):
        read_practitioners("id;lat;lon\n" + "A;45.4;4.3\n" * 40)  # content passed as a str
    with pytest.raises(InputFormatError, match="source must be a file path or bytes"):
        read_practitioners(42)  # type: ignore[arg-type]
    with pytest.raises(
        InputFormatError, match=r"missing required column\(s\) for format 'csv_latlon': latitude"
    ):
        read_practitioners(DATA / "praticiens_commune.tsv", format="csv_latlon")
    with pytest.raises(
        InputFormatError, match="format 'geojson' was asked but the content is text"
    ):
        read_practitioners(DATA / "praticiens_commune.tsv", format="geojson")
    assert FORMATS == ("rpps", "bpe", "csv_latlon", "csv_commune", "geojson", "gpkg")


def test_commune_without_town_hall_is_dropped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # since the reference repair (issue 16) every commune has a town hall: one is taken away
    real = load_communes

    def without_town_hall(**kwargs: object) -> gpd.GeoDataFrame:
        communes = real(**kwargs).copy()  # type: ignore[arg-type]
        communes.loc[communes["code"] == "15031", "chef_lieu"] = None
        return communes

    monkeypatch.setattr("geo.io.load_communes", without_town_hall)
    content = b"code_commune;profession\n15031;infirmier\n42218;infirmier\n"
    with pytest.warns(UserWarning, match=r"f\.csv: 1 row\(s\) dropped \(row 1\).*15031"):
        gdf = read_practitioners(content, filename="f.csv")
    assert gdf["id"].tolist() == ["ROW-2"]
    assert gdf.attrs["rows_dropped"] == {"commune sans point de localisation dans la référence": 1}


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(1, 256)) * 4,  # binary without NUL: decodes as Latin-1, no known column
        b'{"type": "Feature"',
        b"SQLite format 3\x00",
        b'"unterminated;quote\n1;2\n',
        b"id;lat;lon\n" + b"\xff\xfe\x00" * 10,
    ],
)
def test_garbage_raises_input_format_errors_naming_the_file(content: bytes) -> None:
    with pytest.raises(InputFormatError, match=r"^g\.dat: "):
        read_practitioners(content, filename="g.dat")


def test_utf16_text_from_a_spreadsheet_is_read() -> None:
    content = "id\tlat\tlon\nA\t45,43\t4,38\n".encode("utf-16")
    gdf = read_practitioners(content, filename="export.txt")
    assert gdf.attrs["encoding"] == "utf-16" and gdf.attrs["separator"] == "\t"
    assert _point(gdf, "A") == pytest.approx((4.38, 45.43))


def test_commune_column_of_names_beside_coordinates_is_a_name() -> None:
    content = "id;lat;lon;commune\nA;45.43;4.38;Saint-Étienne\n".encode()
    gdf = read_practitioners(content, filename="f.csv")
    assert gdf["commune"].isna().all() and gdf.attrs["format"] == "csv_latlon"
    with pytest.raises(InputFormatError, match=r"column 'commune', row 1: 'SAINT-ÉTIENNE'"):
        read_practitioners(content, filename="f.csv", format="csv_commune")


def test_professions_filter_understands_french_names() -> None:
    gdf = read_practitioners(DATA / "praticiens_commune_cp1252.csv", professions=["Infirmière"])
    assert gdf["profession"].tolist() == ["infirmier"]
    none = read_practitioners(DATA / "praticiens_commune_cp1252.csv", professions=["bpe_D307"])
    assert none.empty and none.crs is not None
    assert none.attrs["rows_dropped"] == {"autre profession (filtre professions)": 5}


@pytest.mark.parametrize(
    "name",
    [
        "praticiens_latlon_utf8_bom.csv",
        "bpe18_ensemble_xy_cp1252.csv",
        "PS_LibreAcces_Personne_activite_202501150805.txt",
        "praticiens_wgs84.geojson",
    ],
)
def test_deterministic_and_path_equals_bytes(name: str) -> None:
    path = DATA / name
    first = read_practitioners(path, all_professions=True)
    again = read_practitioners(path, all_professions=True)
    from_bytes = read_practitioners(path.read_bytes(), filename=name, all_professions=True)
    pd.testing.assert_frame_equal(pd.DataFrame(first), pd.DataFrame(again))
    pd.testing.assert_frame_equal(pd.DataFrame(first), pd.DataFrame(from_bytes))
    assert first.attrs == again.attrs


# --------------------------------------------------------------------------------------------
# former commune codes (files made before a merger) → today's commune
# --------------------------------------------------------------------------------------------
def test_bpe_with_former_codes_read_as_todays_commune() -> None:
    # an older BPE: 01091 Châtillon-en-Michaille merged into 01033 Valserhône (2019), 93059
    # Pierrefitte-sur-Seine into 93066 Saint-Denis (2025); one row located by its coordinates
    x, y = pyproj.Transformer.from_crs(4326, 2154, always_xy=True).transform(5.7787, 46.1424)
    content = (
        "AN;DEPCOM;DCIRIS;TYPEQU;LAMBERT_X;LAMBERT_Y\n"
        "2017;01091;01091;D201;;\n"
        f"2017;01091;01091;D201;{x:.1f};{y:.1f}\n"
        "2017;01033;01033;D201;;\n"
        "2017;93059;93059;D232;;\n"
        "2017;42218;422180101;D201;;\n"
    ).encode()
    gdf = _check_practitioners(
        read_practitioners(content, filename="bpe2017.csv", all_professions=True)
    )
    assert gdf["commune"].tolist() == ["01033", "01033", "01033", "93066", "42218"]
    assert gdf["commune_nom"].tolist()[:2] == ["Valserhône", "Valserhône"]
    assert gdf.attrs["recoded"] == {"rows": 3, "codes": {"01091": "01033", "93059": "93066"}}
    assert gdf["location"].tolist()[:2] == [LOCATION_CHEF_LIEU, LOCATION_FILE]
    assert _point(gdf, "ROW-1") == pytest.approx(_town_hall("01033"))


def test_rpps_with_former_code_merges_activities_in_todays_commune() -> None:
    content = (
        b"Identifiant PP|Code profession|Code savoir-faire|Code mode exercice|"
        b"Code commune (coord. structure)|\n"
        b"10000000011|10|SM54|L|01091|\n"
        b"10000000011|10|SM54|S|01033|\n"
        b"10000000028|60||L|01091|\n"
        b"10000000036|60||L|42218|\n"
    )
    gdf = _check_practitioners(
        read_practitioners(content, filename="extraction.txt", all_professions=True)
    )
    assert gdf.attrs["format"] == "rpps"
    by_id = gdf.set_index("id")
    # the two activities of one GP, in the former and the current code, are one point today
    assert by_id.loc["10000000011", "commune"] == "01033"
    assert by_id.loc["10000000011", "activities"] == 2
    assert by_id.loc["10000000011", "mode_exercice"] == "L+S"
    assert by_id.loc["10000000028", "commune"] == "01033"
    # rows of the result located through a former code (a merged point: its first activity)
    assert gdf.attrs["recoded"] == {"rows": 2, "codes": {"01091": "01033"}}


def test_csv_with_former_code_and_attrs_when_nothing_recoded() -> None:
    content = b"code_commune;profession\n01091;Infirmier\n42218;Infirmier\n"
    gdf = _check_practitioners(read_practitioners(content, filename="inf.csv"))
    assert gdf["commune"].tolist() == ["01033", "42218"]
    assert gdf["commune_nom"].iloc[0] == "Valserhône"
    assert gdf.attrs["recoded"] == {"rows": 1, "codes": {"01091": "01033"}}
    # the commune column of a coordinate format is re-coded too
    latlon = b"id;latitude;longitude;code_commune\nA;46.1424;5.7787;01091\n"
    located = read_practitioners(latlon, filename="pts.csv")
    assert located.attrs["format"] == "csv_latlon"
    assert located["commune"].tolist() == ["01033"]
    assert located["location"].tolist() == [LOCATION_FILE]
    plain = read_practitioners(b"code_commune;profession\n42218;Infirmier\n", filename="p.csv")
    assert plain.attrs["recoded"] == {"rows": 0, "codes": {}}


def test_recoded_rows_counted_after_the_professions_filter() -> None:
    content = b"code_commune;profession\n01091;Infirmier\n01091;Sage-femme\n"
    gdf = read_practitioners(content, filename="f.csv", professions=["infirmier"])
    assert gdf.attrs["recoded"] == {"rows": 1, "codes": {"01091": "01033"}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"code_commune;profession\n01091;Infirmier\n01999;Infirmier\n", r"'01999' \(row 2\)"),
        (
            b"AN;DEPCOM;TYPEQU\n2017;01999;D201\n",
            r"column 'DEPCOM': unknown commune code\(s\) '01999' \(row 1\)",
        ),
        # a former code now shared by two communes is not guessed
        (
            b"code_commune;profession\n55273;Infirmier\n",
            r"'55273' is a former code now shared by several communes \(55245, 55386\)",
        ),
    ],
)
def test_codes_unknown_to_the_history_still_fail(content: bytes, message: str) -> None:
    with pytest.raises(InputFormatError, match=message):
        read_practitioners(content, filename="f.csv")


# --------------------------------------------------------------------------------------------
# national files: read in chunks, the needed columns only, from a path without loading it
# --------------------------------------------------------------------------------------------
def _same_frames(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
    assert a.attrs == b.attrs


def test_rpps_read_in_small_chunks_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = read_practitioners(RPPS_FILE, all_professions=True)
    monkeypatch.setattr("geo.io._CHUNK_ROWS", 2)
    monkeypatch.setattr("geo.io._SCAN_BYTES", 100)  # the encoding check in many blocks
    _same_frames(read_practitioners(RPPS_FILE, all_professions=True), whole)
    _same_frames(
        read_practitioners(RPPS_FILE.read_bytes(), filename=RPPS_FILE.name, all_professions=True),
        read_practitioners(RPPS_FILE.read_bytes(), filename=RPPS_FILE.name, all_professions=True),
    )
    assert whole.attrs["rows_read"] == len(RPPS_FILE.read_text("utf-8").splitlines()) - 1


def test_rpps_from_a_stored_path_uses_the_given_name(tmp_path: Path) -> None:
    stored = tmp_path / ("ab" * 32)  # an upload stored under its hash, without extension
    stored.write_bytes(RPPS_FILE.read_bytes())
    frame = read_practitioners(stored, filename=RPPS_FILE.name, all_professions=True)
    assert frame.attrs["file"] == RPPS_FILE.name and frame.attrs["format"] == "rpps"
    assert str(tmp_path) not in str(frame.attrs) and set(frame["source"]) == {
        f"rpps ({RPPS_FILE.name})"
    }


def test_chunked_read_keeps_cp1252_and_latin1_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("geo.io._SCAN_BYTES", 7)
    data = "DEPCOM;TYPEQU;LIBELLE_TYPEQU\n63113;D265;Médecin généraliste\n".encode("cp1252")
    bpe = read_practitioners(data, filename="bpe.csv")
    assert bpe.attrs["encoding"] == "cp1252" and bpe.loc[0, "commune"] == "63113"
    tail = (b"\x81" * 3).decode("latin-1").encode("latin-1")  # undefined in CP1252
    latin = read_practitioners(data + b"63014;D265;" + tail + b"\n", filename="bpe.csv")
    assert latin.attrs["encoding"] == "latin-1" and len(latin) == 2


def test_numeric_identifiers_keep_their_leading_zeros() -> None:
    frame = read_practitioners(b"id;lat;lon\n0101;45.43;4.38\n101;45.44;4.39\n", filename="f.csv")
    assert frame["id"].tolist() == ["0101", "101"]


# --------------------------------------------------------------------------------------------
# issue 16: a file of several professions, counts per commune, FINESS, INSEE age tables
# --------------------------------------------------------------------------------------------
BPE_MIXED = (
    b"DEPCOM;TYPEQU\n42218;D201\n42218;D201\n42095;D201\n42218;D232\n42218;D301\n42095;D301\n"
)


def test_several_professions_without_a_choice_are_refused_with_the_list() -> None:
    with pytest.raises(DataValidationError) as info:
        read_practitioners(BPE_MIXED, filename="bpe_sante.csv")
    message = str(info.value)
    assert message.startswith("bpe_sante.csv : colonne 'TYPEQU' : le fichier contient 3 ")
    assert "D201 Médecin omnipraticien : 3 lignes → medecin_generaliste" in message
    assert "D301 Pharmacie : 2 lignes → D301" in message
    assert "D232 Infirmier : 1 ligne → infirmier" in message
    assert "--profession medecin_generaliste" in message and "profession=" in message
    # the file's content is a choice problem, not a format error
    assert not isinstance(info.value, InputFormatError)


@pytest.mark.parametrize(
    "asked", ["D201", "d201", "Medecin_Generaliste", "MG", "médecin généraliste"]
)
def test_profession_case_variants_and_bpe_codes(asked: str) -> None:
    gps = _check_practitioners(read_practitioners(BPE_MIXED, filename="b.csv", profession=asked))
    assert gps["profession"].tolist() == ["medecin_generaliste"] * 3
    assert gps.attrs["profession"] == "medecin_generaliste"
    assert gps.attrs["profession_asked"] == asked
    assert gps.attrs["equipment_codes"] == {"D201": 3}
    assert gps.attrs["professions_in_file"] == {
        "medecin_generaliste": 3,
        "bpe_D301": 2,
        "infirmier": 1,
    }


def test_other_bpe_codes_and_the_professions_filter_ignore_case() -> None:
    pharmacies = read_practitioners(BPE_MIXED, filename="b.csv", profession="d301")
    assert pharmacies["profession"].tolist() == ["bpe_D301"] * 2
    both = read_practitioners(BPE_MIXED, filename="b.csv", professions=["BPE_d301", "D232"])
    assert sorted(set(both["profession"])) == ["bpe_D301", "infirmier"]
    assert both.attrs["profession"] is None  # two kept: no single profession to name


def test_unknown_profession_lists_every_value_of_the_file() -> None:
    codes = [f"D{n}" for n in range(401, 413)]  # 12 kinds: more than the 10 listed before
    content = ("DEPCOM;TYPEQU\n" + "".join(f"42218;{c}\n" for c in ["D265", *codes])).encode()
    with pytest.raises(DataValidationError) as info:
        read_practitioners(content, filename="b.csv", profession="medecin")
    message = str(info.value)
    assert message.startswith("b.csv : colonne 'TYPEQU' : profession 'medecin' inconnue")
    assert "D265 Médecin généraliste : 1 ligne → medecin_generaliste" in message
    assert all(f"{c} " in message for c in codes)
    assert "medecin_generaliste, infirmier, masseur_kinesitherapeute" in message
    with pytest.raises(DataValidationError, match=r"'sage_femme' absente du fichier"):
        read_practitioners(content, filename="b.csv", profession="sage_femme")
    with pytest.raises(DataValidationError, match="pas les deux"):
        read_practitioners(content, filename="b.csv", profession="D265", professions=["D265"])


def test_attrs_name_the_file_format_profession_and_town_halls() -> None:
    gps = read_practitioners(BPE_MIXED, filename="bpe_sante.csv", profession="D201")
    assert gps.attrs["file"] == "bpe_sante.csv" and gps.attrs["format"] == "bpe"
    assert gps.attrs["format_fr"] == "BPE de l'INSEE"
    assert gps.attrs["placed_at_town_hall"] == "all"
    assert gps.attrs["source"] == (
        "fichier bpe_sante.csv (BPE de l'INSEE), profession : médecin généraliste "
        "(TYPEQU D201) ; points placés au chef-lieu de leur commune"
    )
    located = read_practitioners(
        b"id;lat;lon;code_commune\nA;45.43;4.38;42218\nB;;;42095\n", filename="pts.csv"
    )
    assert located.attrs["placed_at_town_hall"] == "some"
    assert located.attrs["profession"] == "non_precisee"
    assert located.attrs["source"].endswith(
        "1 points sur 2 placés au chef-lieu de leur commune (sans coordonnées)"
    )
    file_points = read_practitioners(b"id;lat;lon\nA;45.43;4.38\n", filename="p.csv")
    assert file_points.attrs["placed_at_town_hall"] == "none"
    assert "chef-lieu" not in file_points.attrs["source"]
    # the analysis carries it to the sources line of its maps and summary
    result = analyse(resolve_territory(codes=["42218", "42095"]), gps, "density")
    assert result.attrs["sources"]["practitioners"] == gps.attrs["source"]


def test_a_column_of_counts_is_expanded_into_practitioners() -> None:
    content = b"CODGEO,NB_D201,POPULATION\n42218,3,170000\n42095,0,17000\n01053,1,41000\n"
    gps = read_practitioners(content, filename="mg_par_commune.csv")
    assert len(gps) == 4  # 3 + 0 + 1, not one per row
    assert gps["id"].tolist() == ["ROW-1-1", "ROW-1-2", "ROW-1-3", "ROW-3-1"]
    assert gps["commune"].tolist() == ["42218", "42218", "42218", "01053"]
    assert set(gps["profession"]) == {"medecin_generaliste"}  # NB_D201 names the profession
    assert gps.attrs["count_column"] == {"column": "NB_D201", "rows": 2, "practitioners": 4}
    assert gps.attrs["rows_dropped"] == {"effectif nul (colonne d'effectifs)": 1}
    assert "colonne NB_D201" in gps.attrs["source"]
    # with identifiers and a profession column: "<id>-<k>"
    named = read_practitioners(
        b"id;code_commune;profession;effectif\nC1;42218;infirmier;2\n", filename="c.csv"
    )
    assert named["id"].tolist() == ["C1-1", "C1-2"]
    # consultations are not a count of practitioners
    one = read_practitioners(b"code_commune;nb_consultations\n42218;4500\n", filename="c.csv")
    assert len(one) == 1 and one["consultations_per_year"].tolist() == [4500.0]


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (
            b"CODGEO;NB_D201\n42218;2\n42095;1,5\n",
            r"c\.csv : colonne 'NB_D201', ligne 2 : valeur '1,5' : un effectif",
        ),
        (b"CODGEO;NB_D201\n42218;-2\n", r"c\.csv : colonne 'NB_D201', ligne 1 : valeur '-2'"),
        (
            b"CODGEO;NB_D201;NB_D265\n42218;2;1\n",
            r"c\.csv : colonnes 'NB_D201', 'NB_D265' : plusieurs colonnes d'effectifs",
        ),
    ],
)
def test_count_column_errors(content: bytes, pattern: str) -> None:
    with pytest.raises(DataValidationError, match=pattern):
        read_practitioners(content, filename="c.csv")


def test_a_finess_table_uses_its_5_character_commune_column() -> None:
    content = (
        b"categorie,latitude,longitude,code commune,code_insee\n"
        b"Pharmacie d'Officine,43.0080,1.1217,289,09289\n"
        b"Pharmacie d'Officine,,,160,09160\n"
    )
    sites = _check_practitioners(read_practitioners(content, filename="finess.csv"))
    assert sites["commune"].tolist() == ["09289", "09160"]
    assert sites["location"].tolist() == [LOCATION_FILE, LOCATION_CHEF_LIEU]
    # a single commune column of 3-digit numbers is still refused, named
    with pytest.raises(InputFormatError, match=r"column 'code commune', row 1: '289'"):
        read_practitioners(b"code commune;profession\n289;infirmier\n", filename="f.csv")


@pytest.mark.shared_data
def test_real_bpe_sample_refused_then_read_by_profession(shared_data: Path) -> None:
    path = shared_data / "bpe" / "bpe_42_43partial_sante_presence_sabah42.csv"
    with pytest.raises(DataValidationError) as info:
        read_practitioners(path, filename="bpe_sante.csv")
    message = str(info.value)
    raw = pd.read_csv(path, dtype=str)
    gps_rows = int((raw["TYPEQU"] == "D265").sum())
    assert f"D265 Médecin généraliste : {gps_rows} lignes → medecin_generaliste" in message
    assert f"D307 Pharmacie : {int((raw['TYPEQU'] == 'D307').sum())} lignes → D307" in message
    assert message.count("\n  - ") == raw["TYPEQU"].nunique()
    for asked in ("medecin_generaliste", "D265", "d265", "Medecin_Generaliste"):
        gps = read_practitioners(path, filename="bpe_sante.csv", profession=asked)
        assert len(gps) == gps_rows and gps.attrs["placed_at_town_hall"] == "all"


@pytest.mark.shared_data
def test_real_counts_per_commune_are_expanded(shared_data: Path) -> None:
    path = shared_data / "bpe" / "bpe_d201_omnipraticiens_communes_cpprouting.csv"
    raw = pd.read_csv(path, dtype={"CODGEO": str})
    gps = read_practitioners(path)
    assert len(gps) == int(raw["NB_D201"].sum()) == 58_034  # not 9,529 (one per row)
    assert gps.attrs["count_column"] == {
        "column": "NB_D201",
        "rows": len(raw),
        "practitioners": 58_034,
    }
    assert set(gps["profession"]) == {"medecin_generaliste"}
    assert (gps["commune"] == "01004").sum() == int(
        raw.loc[raw["CODGEO"] == "01004", "NB_D201"].iloc[0]
    )


@pytest.mark.shared_data
def test_real_finess_table_reads_code_insee(shared_data: Path) -> None:
    path = shared_data / "finess" / "finess_occitanie_geolocalise_jjchabut.csv"
    with pytest.raises(DataValidationError, match=r"colonne 'categorie' : le fichier contient"):
        read_practitioners(path)
    pharmacies = read_practitioners(path, profession="Pharmacie d'Officine")
    raw = pd.read_csv(path, dtype=str)
    assert len(pharmacies) == int((raw["categorie"] == "Pharmacie d'Officine").sum())
    assert pharmacies["commune"].str.fullmatch(r"\d{5}|2[AB]\d{3}").all()
    assert set(pharmacies["commune"].str[:2]) <= set(raw["departement"])


def test_age_table_with_sexes_and_other_columns() -> None:
    content = (
        "Code;Libellé;Taux de natalité;Part des 75 ans ou +;Hommes_0_4;Femmes_0_4;"
        "Hommes_5_plus;Femmes_5_plus;latitude\n"
        "42218;Saint-Étienne;12,1;10,2;100;90;800;850;45,4\n"
        "97101;Les Abymes;NA;NA;NA;NA;NA;NA;16,2\n"
        "01053;Bourg-en-Bresse;11,0;9,8;30;31;300;320;46,2\n"
    ).encode()
    table = read_population_table(content, filename="ages.csv")
    assert list(table.columns) == ["0-4", "5+"]
    assert list(table.loc["42218"]) == [190.0, 1650.0]
    assert table.index.tolist() == ["42218", "01053"]
    assert table.attrs["columns_ignored"] == [
        "Code",
        "Libellé",
        "Taux de natalité",
        "Part des 75 ans ou +",
        "latitude",
    ]
    assert table.attrs["sexes_summed"] is True
    assert table.attrs["rows_dropped"] == {
        "aucune valeur par âge (toutes les colonnes de tranches vides)": 1
    }
    overlapping = content.replace(b"Hommes_5_plus;Femmes_5_plus", b"Hommes_4_plus;Femmes_4_plus")
    with pytest.raises(
        InputFormatError, match=r"ages\.csv : colonnes 'Hommes_0_4' et .*chevauchent"
    ):
        read_population_table(overlapping, filename="ages.csv")


@pytest.mark.shared_data
def test_real_insee_census_age_table(shared_data: Path) -> None:
    path = shared_data / "population" / "insee_rp2021_communes_3300plus_ages_gozan.csv"
    with pytest.warns(UserWarning, match=r"colonne 'Hommes_70_47' lue comme la tranche 70-74"):
        table = read_population_table(path)
    assert tuple(table.columns) == AGE_BANDS  # DREES's bands: usable with its weights
    raw = pd.read_csv(path, sep=";", dtype={"Code": str})
    sexes = [c for c in raw.columns if c.startswith(("Homme", "Femme"))]
    assert len(sexes) == 40 and table.attrs["columns_used"] == sexes
    assert len(table.attrs["columns_ignored"]) == len(raw.columns) - 40
    full = raw.dropna(subset=sexes, how="all")
    assert len(table) == len(full) == 3_273  # the 88 communes without ages are dropped
    np.testing.assert_allclose(table.sum(axis=1).to_numpy(), full[sexes].sum(axis=1).to_numpy())
    assert table.loc["01004", "70-74"] == 250 + 404  # Hommes_70_47 + Femmes_70_74
    assert table.attrs["bands_merged"] == {"90+": ["90-94", "95+"]}


def test_select_profession_of_a_file_read_whole() -> None:
    everything = read_practitioners(BPE_MIXED, filename="bpe_sante.csv", all_professions=True)
    assert everything.attrs["profession"] is None
    assert everything.attrs["source"].startswith(
        "fichier bpe_sante.csv (BPE de l'INSEE), profession : toutes professions confondues "
        "(3 professions)"
    )
    pharmacies = _check_practitioners(select_profession(everything, "D301"))
    assert pharmacies["profession"].tolist() == ["bpe_D301"] * 2
    assert pharmacies.attrs["profession"] == "bpe_D301"
    assert pharmacies.attrs["source"] == (
        "fichier bpe_sante.csv (BPE de l'INSEE), profession : pharmacie ; points placés au "
        "chef-lieu de leur commune"
    )
    assert everything.attrs["profession"] is None  # the whole frame is left as it was
    with pytest.raises(DataValidationError) as info:
        select_profession(everything, "kine")
    assert str(info.value).startswith(
        "bpe_sante.csv : colonne 'profession' : profession 'kine' absente du fichier"
    )
    assert "Pharmacie : 2 lignes → bpe_D301" in str(info.value)


@pytest.mark.parametrize(
    ("asked", "code"),
    [
        ("Medecin_Generaliste", "medecin_generaliste"),
        ("médecin généraliste", "medecin_generaliste"),
        ("D265", "medecin_generaliste"),
        ("d201", "medecin_generaliste"),
        ("INFIRMIER", "infirmier"),
        ("d307", "bpe_D307"),
        ("Pharmacie d'Officine", "pharmacie_d_officine"),
    ],
)
def test_profession_code_for_options_checked_before_reading(asked: str, code: str) -> None:
    assert profession_code(asked) == code
