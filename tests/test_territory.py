from __future__ import annotations

import pytest

from geo.errors import DataValidationError, UnknownCodeError
from geo.reference import list_departements
from geo.territory import REGIONS, UnknownRegionError, list_regions, resolve_territory


def test_departement() -> None:
    t = resolve_territory(departements="63")
    assert t.name == "Puy-de-Dôme (63)"
    assert t.slug == "dep-63"
    assert t.population == 664_453


def test_epci_and_communes() -> None:
    t = resolve_territory(epci=["246300701"])
    assert t.name == "Clermont Auvergne Métropole"
    assert len(t.communes) == 21
    one = resolve_territory(codes="63113")
    assert one.name == "Clermont-Ferrand (63113)"


def test_exactly_one_selection() -> None:
    with pytest.raises(DataValidationError, match="un seul critère"):
        resolve_territory()
    with pytest.raises(DataValidationError, match="un seul critère"):
        resolve_territory(departements="63", codes="63113")
    with pytest.raises(DataValidationError, match="un seul critère"):
        resolve_territory(regions="94", france="metropole")


def test_unknown() -> None:
    with pytest.raises(UnknownCodeError, match="'64999'"):
        resolve_territory(codes=["63113", "64999"])


def test_region_by_code_or_name() -> None:
    corse = resolve_territory(regions="94")
    assert (corse.name, corse.slug) == ("Corse", "region-94")
    assert set(corse.communes["departement"]) == {"2A", "2B"}
    assert len(corse.communes) == 360
    by_name = resolve_territory(regions=["auvergne rhone alpes"])  # accents, hyphens ignored
    assert (by_name.name, by_name.slug) == ("Auvergne-Rhône-Alpes", "region-84")
    assert len(by_name.communes) == 4025
    assert resolve_territory(regions="1").slug == "region-01"  # Guadeloupe, as people type it
    two = resolve_territory(regions=["53", "Normandie"])
    assert (two.name, two.slug) == ("Normandie et Bretagne", "regions-28-53")


def test_france_metropole_and_entiere() -> None:
    metro = resolve_territory(france="metropole")
    assert (metro.name, metro.slug) == ("France métropolitaine", "france-metro")
    assert set(metro.communes["zone"]) == {"metro"} and "2A" in set(metro.communes["departement"])
    whole = resolve_territory(france="entière")
    assert (whole.name, whole.slug) == ("France entière", "france-entiere")
    assert len(whole.communes) == 34_875 and len(metro.communes) == 34_746
    assert {"971", "972", "973", "974", "976"} <= set(whole.communes["departement"])
    with pytest.raises(DataValidationError, match=r"metropole.*entiere"):
        resolve_territory(france="partout")


def test_departements_are_named_briefly() -> None:
    assert resolve_territory(departements=["63", "15"]).name == "Cantal et Puy-de-Dôme"
    four = resolve_territory(departements=["63", "15", "43", "03"])
    assert four.name == "4 départements (Auvergne-Rhône-Alpes)"
    # the départements of a région, or of France, are named as such
    corse = resolve_territory(departements=["2B", "2A"])
    assert (corse.name, corse.slug) == ("Corse", "region-94")
    deps = list_departements()
    ara = deps.loc[deps["region"] == "84", "code"].tolist()
    assert resolve_territory(departements=ara).name == "Auvergne-Rhône-Alpes"
    metro = deps.loc[deps["zone"] == "metro", "code"].tolist()
    assert resolve_territory(departements=metro).slug == "france-metro"


def test_slugs_stay_short_for_any_selection() -> None:
    deps = list_departements()["code"].tolist()
    communes = resolve_territory(departements="63").communes["code"].tolist()
    selections = [
        resolve_territory(departements=deps[:13]),
        resolve_territory(departements=deps[1:14]),
        resolve_territory(codes=communes[:300]),
        resolve_territory(codes=communes[1:301]),
        resolve_territory(regions=list(REGIONS)[:7]),
        resolve_territory(epci=["246300701", "200070761", "200069177", "200071389", "200071215"]),
    ]
    for t in selections:
        assert len(t.slug) <= 40, t.slug
        assert len(t.name) <= 60, t.name
    assert selections[2].slug.startswith("communes-300-") and selections[2].name == "300 communes"
    assert selections[0].name == "13 départements"
    assert len({t.slug for t in selections}) == len(selections)  # different lists, other files


def test_unknown_region_is_a_french_unknown_code() -> None:
    with pytest.raises(UnknownRegionError, match=r"région inconnue : '99'.*84 \(Auvergne") as err:
        resolve_territory(regions=["94", "99"])
    assert isinstance(err.value, UnknownCodeError)
    assert err.value.kind == "région" and err.value.codes == ["99"]


def test_regions_agree_with_the_reference_departements() -> None:
    deps = list_departements()
    assert dict(zip(deps["region"], deps["region_nom"], strict=True)) == REGIONS
    table = list_regions()
    assert len(table) == 18 and table["population"].sum() == deps["population"].sum()
    assert (table["zone"] == "drom").sum() == 5
    assert table.set_index("code").at["94", "departements"] == ["2A", "2B"]
