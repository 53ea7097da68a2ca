"""The embedded offer of general practitioners (data/offre/, INSEE BPE D201 and CNAM 2024)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from geo.errors import DataValidationError
from geo.io import LOCATION_CHEF_LIEU, PRACTITIONER_COLUMNS
from geo.offer import (
    STATUT_ESTIMATED,
    STATUT_OBSERVED,
    cnam_headcounts,
    load_gp_offer,
    offer_dir,
)
from geo.reference import load_communes

ROOT = Path(__file__).resolve().parents[1]
REPORT = offer_dir() / "BUILD_REPORT.md"


def _report_number(label: str) -> int:
    match = re.search(rf"^\| {re.escape(label)}[^|]*\| (\d+) \|$", REPORT.read_text(), re.M)
    assert match is not None, label
    return int(match.group(1))


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_build_gp_offer", ROOT / "scripts" / "build_gp_offer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_totals_equal_the_build_report() -> None:
    counts = load_gp_offer().counts
    observed = counts[counts["statut"] == STATUT_OBSERVED]["medecins_generalistes"].sum()
    estimated = counts[counts["statut"] == STATUT_ESTIMATED]["medecins_generalistes"].sum()
    assert observed == _report_number("source, de-duplicated")
    assert observed == _report_number("after re-coding")
    assert estimated == _report_number("Paris, estimated")
    assert observed == 58_031  # 58,034 in the source, one duplicated line of 3 GPs


def test_counts_cover_metropole_with_recoded_communes() -> None:
    offer = load_gp_offer()
    counts = offer.counts.set_index("code")
    communes = load_communes()
    metro = set(communes.loc[communes["zone"] == "metro", "code"])
    assert set(counts.index) == metro
    assert (counts["medecins_generalistes"] >= 0).all()
    # 01033 Valserhône: its own 11 GPs plus the 2 of 01091 Châtillon-en-Michaille (merged 2019)
    assert counts.at["01033", "medecins_generalistes"] == 13
    assert "01091" not in counts.index
    assert counts.at["13055", "medecins_generalistes"] == 1217  # Marseille, as in the source
    assert counts.at["01001", "medecins_generalistes"] == 0  # absent from the BPE: no GP
    assert counts.at["01001", "statut"] == STATUT_OBSERVED


def test_paris_missing_and_estimated_lyon_observed() -> None:
    offer = load_gp_offer()
    counts = offer.counts.set_index("code")
    assert offer.missing["75056"].startswith("Paris : absent du fichier BPE source")
    assert counts.at["75056", "statut"] == STATUT_ESTIMATED
    # k × CNAM 2024 (2,191 GPs in Paris), k = 58,031 / 51,636
    assert counts.at["75056", "medecins_generalistes"] == round(58_031 / 51_636 * 2_191)
    # Lyon is in the source (contrary to what was first noted): observed, not missing
    assert "69123" not in offer.missing
    assert (counts.at["69123", "medecins_generalistes"], counts.at["69123", "statut"]) == (
        656,
        STATUT_OBSERVED,
    )
    assert (counts["statut"] == STATUT_ESTIMATED).sum() == 1


def test_drom_not_covered() -> None:
    offer = load_gp_offer()
    communes = load_communes()
    drom = set(communes.loc[communes["zone"] == "drom", "code"])
    assert len(drom) == 129
    assert drom <= set(offer.missing)
    assert {offer.missing[c] for c in drom} == {
        "DROM : la source BPE D201 ne couvre que la métropole"
    }
    assert not drom & set(offer.counts["code"])
    assert set(offer.missing) == drom | {"75056"}
    points = offer.practitioners()
    assert not points["commune"].isin(drom).any()


def test_practitioners_one_point_per_gp_at_the_chef_lieu() -> None:
    offer = load_gp_offer()
    points = offer.practitioners()
    assert points.crs is not None and points.crs.to_epsg() == 4326
    assert list(points.columns) == [*PRACTITIONER_COLUMNS[:-1], "estimated", "geometry"]
    assert len(points) == offer.counts["medecins_generalistes"].sum()
    assert points["id"].is_unique
    assert (points["profession"] == "medecin_generaliste").all()
    assert (points["location"] == LOCATION_CHEF_LIEU).all()
    assert not points["synthetic"].any()
    assert (
        points["estimated"].sum()
        == offer.counts.set_index("code").at["75056", "medecins_generalistes"]
    )
    assert set(points.loc[points["estimated"], "commune"]) == {"75056"}
    valserhone = points[points["commune"] == "01033"]
    assert valserhone["id"].tolist() == [f"BPE-01033-{n}" for n in range(1, 14)]
    chef_lieu = load_communes(codes=["01033"])["chef_lieu"].iloc[0]
    assert valserhone.geometry.iloc[0].equals(chef_lieu)
    assert points.attrs["source"] == offer.source_label
    assert "2017" in offer.source_label and "probable" in offer.vintage
    assert points.attrs["missing_communes"] == dict(offer.missing)


def test_cnam_headcounts() -> None:
    cnam = cnam_headcounts()
    assert len(cnam) == 101 and cnam["departement"].is_unique
    assert cnam["medecins_generalistes_2024"].sum() == 55_546  # the source's FRANCE row
    row = cnam.set_index("departement").loc["75"]
    assert (row["medecins_generalistes_2024"], row["densite_2024"]) == (2191, 107.0)
    assert (cnam["medecins_generalistes_hors_mep_2024"] <= cnam["medecins_generalistes_2024"]).all()


def test_unknown_dataset() -> None:
    with pytest.raises(
        DataValidationError, match="jeu de données de médecins généralistes inconnu : 'rpps'"
    ):
        load_gp_offer("rpps")


@pytest.mark.shared_data
def test_committed_dataset_reproduced_by_the_build(shared_data: Path) -> None:
    script = _script()
    result = script.build(shared_data)
    for name, text in script.render(result).items():
        assert (offer_dir() / name).read_text(encoding="utf-8") == text, name
    assert len(result.recoded) == 48 and result.unmapped.empty
