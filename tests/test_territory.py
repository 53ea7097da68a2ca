from __future__ import annotations

import pytest

from geo.errors import DataValidationError, UnknownCodeError
from geo.territory import resolve_territory


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
    with pytest.raises(DataValidationError, match="exactly one"):
        resolve_territory()
    with pytest.raises(DataValidationError, match="exactly one"):
        resolve_territory(departements="63", codes="63113")


def test_unknown() -> None:
    with pytest.raises(UnknownCodeError, match="'64999'"):
        resolve_territory(codes=["63113", "64999"])
