"""The real GPs embedded in cartosoins (dataset ``bpe``) are the default practitioners."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from geo.offer import cnam_headcounts, load_gp_offer
from tests.api.conftest import SMALL_TERRITORY, make_settings, run

SIMULATED = "praticiens simulés — données de démonstration"
#: Three communes of Clermont Auvergne Métropole (Puy-de-Dôme), default practitioners.
REAL = {"territory": SMALL_TERRITORY, "measure": "density"}


@pytest.fixture(scope="module")
def bpe_label() -> str:
    return load_gp_offer().source_label


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(tmp_path_factory.mktemp("reelles"))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def real(shared: TestClient) -> dict[str, Any]:
    return run(shared, "/analyses", REAL)  # type: ignore[no-any-return]


def test_default_analysis_uses_the_real_gps_and_names_them(
    real: dict[str, Any], bpe_label: str
) -> None:
    assert "INSEE BPE" in bpe_label
    assert real["request"]["dataset"] == "bpe"
    assert real["request"]["profession"] == "medecin_generaliste"
    assert "seed" not in real["request"]  # the seed only concerns the simulated practitioners
    assert real["synthetic"] is False and real["label"] is None
    assert real["practitioners_source"] == bpe_label
    summary = real["summary"]
    assert summary["sources"]["practitioners"] == bpe_label
    assert summary["source_praticiens"] == bpe_label and summary["synthetic"] is False
    assert summary["practitioners_in_territory"] > 0


def test_same_request_with_bpe_named_is_the_same_analysis(
    shared: TestClient, real: dict[str, Any]
) -> None:
    for body in (
        REAL | {"dataset": "bpe"},
        REAL | {"profession": "medecin_generaliste"},
        REAL | {"dataset": "bpe", "profession": "medecin_generaliste"},
    ):
        response = shared.post("/analyses", json=body)
        assert response.status_code == 200 and response.json()["id"] == real["id"], body


def test_departement_summary_gives_the_cnam_2024_headcount(
    shared: TestClient, real: dict[str, Any]
) -> None:
    summary = shared.get(f"/analyses/{real['id']}/summary").json()
    cnam = cnam_headcounts().set_index("departement").loc["63"]
    counts = load_gp_offer().counts
    embedded = int(counts.loc[counts["code"].str.startswith("63"), "medecins_generalistes"].sum())
    assert summary["headcounts"] == [
        {
            "departement": "63",
            "nom": "Puy-de-Dôme",
            "embedded_count": embedded,
            "embedded_estimated": 0,
            "cnam_2024_count": int(cnam["medecins_generalistes_2024"]),
            "cnam_2024_density": float(cnam["densite_2024"]),
        }
    ]
    sentence = summary["headcounts_fr"]
    assert sentence.startswith("Médecins généralistes libéraux du département : Puy-de-Dôme (63)")
    assert f"{embedded} médecins" in sentence.replace("\u202f", "")
    assert f"CNAM 2024 : {int(cnam['medecins_generalistes_2024'])}" in sentence.replace(
        "\u202f", ""
    )
    assert "INSEE BPE (2017 probable)" in sentence


def test_every_departement_touched_is_compared(shared: TestClient) -> None:
    # Paris is estimated (absent from the source), the Hauts-de-Seine observed
    done = run(
        shared,
        "/analyses",
        {"territory": {"communes": ["75056", "92012"]}, **{"measure": "density"}},
    )
    rows = {row["departement"]: row for row in done["summary"]["headcounts"]}
    assert set(rows) == {"75", "92"}
    assert rows["75"]["embedded_estimated"] == rows["75"]["embedded_count"] > 0
    assert rows["92"]["embedded_estimated"] == 0
    assert "Paris (75)" in done["summary"]["headcounts_fr"]
    assert "estimés" in done["summary"]["headcounts_fr"]


def test_exports_name_the_real_source(
    shared: TestClient, real: dict[str, Any], bpe_label: str, tmp_path: Path
) -> None:
    table = pd.read_csv(io.BytesIO(shared.get(f"/analyses/{real['id']}/communes.csv").content))
    assert table.columns[0] == "source_praticiens"
    assert (table["source_praticiens"] == bpe_label).all()
    collection = json.loads(shared.get(f"/analyses/{real['id']}/communes.geojson").content)
    assert collection["metadata"]["sources"]["practitioners"] == bpe_label
    path = tmp_path / "export.gpkg"
    path.write_bytes(shared.get(f"/analyses/{real['id']}/communes.gpkg").content)
    metadata = pyogrio.read_dataframe(path, layer="metadonnees", read_geometry=False)
    sources = json.loads(metadata.set_index("cle").at["sources", "valeur"])
    assert sources["practitioners"] == bpe_label
    html = shared.get(f"/maps/{real['id']}.html").text
    assert bpe_label in html and SIMULATED not in html


def test_demo_on_request_is_labelled_and_distinct(shared: TestClient, real: dict[str, Any]) -> None:
    demo = run(shared, "/analyses", REAL | {"dataset": "demo"})
    assert demo["id"] != real["id"] and demo["request"]["dataset"] == "demo"
    assert demo["synthetic"] is True and demo["label"] == SIMULATED
    assert demo["practitioners_source"] == SIMULATED
    assert demo["summary"]["sources"]["practitioners"] == SIMULATED
    assert "headcounts" not in demo["summary"]
    table = pd.read_csv(io.BytesIO(shared.get(f"/analyses/{demo['id']}/communes.csv").content))
    assert (table["source_praticiens"] == SIMULATED).all()
    assert SIMULATED in shared.get(f"/maps/{demo['id']}.html").text


def test_a_profession_without_real_data_uses_the_labelled_demo(shared: TestClient) -> None:
    nurses = run(shared, "/analyses", REAL | {"profession": "infirmier"})
    assert nurses["request"]["dataset"] == "demo"
    assert nurses["synthetic"] is True and nurses["label"] == SIMULATED
    assert nurses["summary"]["sources"]["practitioners"] == SIMULATED


def test_bpe_with_another_profession_is_422_in_french(shared: TestClient) -> None:
    response = shared.post("/analyses", json=REAL | {"dataset": "bpe", "profession": "infirmier"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "ne contient que les médecins généralistes" in detail
    assert "'medecin_generaliste'" in detail and "'infirmier'" in detail
    assert "'demo'" in detail


def test_ages_on_the_real_gps_are_refused_with_what_to_do(
    shared: TestClient, real: dict[str, Any]
) -> None:
    response = shared.post("/analyses", json=REAL | {"parameters": {"exclude_aged_from": 65}})
    assert response.status_code == 422
    assert "exclude_aged_from demande l'âge des praticiens" in response.json()["detail"]
    retire = shared.post(
        f"/analyses/{real['id']}/scenarios",
        json={"changes": [{"type": "retire", "horizon_year": 2030}]},
    )
    assert retire.status_code == 422
    assert "« retire » demande l'âge" in retire.json()["detail"]
    assert "remove_practitioners" in retire.json()["detail"]


def test_named_departures_on_the_real_gps(shared: TestClient, real: dict[str, Any]) -> None:
    body = {"changes": [{"type": "remove_practitioners", "ids": ["BPE-63113-1", "BPE-63113-2"]}]}
    scenario = run(shared, f"/analyses/{real['id']}/scenarios", body)
    assert scenario["synthetic"] is False
    assert scenario["summary"]["practitioners_removed"] == 2
    assert scenario["summary"]["source_praticiens"] == real["practitioners_source"]
    assert scenario["practitioners_source"] == real["practitioners_source"]


def test_communes_outside_the_source_are_not_informed(shared: TestClient) -> None:
    done = run(shared, "/analyses", {"territory": {"communes": ["97101"]}, "measure": "density"})
    table = pd.read_csv(io.BytesIO(shared.get(f"/analyses/{done['id']}/communes.csv").content))
    assert table["status"].tolist() == ["non renseigné"]
    assert table["value"].isna().all() and "DROM" in table["status_reason"].iat[0]
    rows = done["summary"]["headcounts"]
    assert rows[0]["departement"] == "971" and rows[0]["embedded_count"] is None
    assert "non couvert" in done["summary"]["headcounts_fr"]


def test_bpe_dataset_is_described(shared: TestClient, bpe_label: str) -> None:
    described = shared.get("/datasets/bpe").json()
    assert described["id"] == "bpe" and described["synthetic"] is False
    assert described["source"] == bpe_label
    assert described["professions"] == {"medecin_generaliste": "Médecin généraliste"}
    assert described["practitioners"] == int(load_gp_offer().counts["medecins_generalistes"].sum())
    assert "75056" in described["missing_communes"]
