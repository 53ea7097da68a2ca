"""cartosoins engine: reference communes, practitioners, travel costs, accessibility measures.

The package face re-exports the functions most scripts need; each module documents the rest.
"""

from geo.access import (
    apl,
    enhanced_two_step_fca,
    gravity,
    kernel_two_step_fca,
    nearest_cost,
    three_step_fca,
    two_step_fca,
)
from geo.analysis import MEASURES, analyse, validate_practitioners
from geo.costs import TravelCosts, read_od_table, straight_line_costs
from geo.demo import PROFESSIONS, generate_practitioners, is_synthetic
from geo.density import density, practitioners_per_commune
from geo.errors import (
    CartosoinsError,
    DataValidationError,
    InputFormatError,
    ReferenceDataError,
    UnknownCodeError,
)
from geo.reference import list_departements, list_epci, load_communes
from geo.territory import Territory, resolve_territory

__all__ = [
    "MEASURES",
    "PROFESSIONS",
    "CartosoinsError",
    "DataValidationError",
    "InputFormatError",
    "ReferenceDataError",
    "Territory",
    "TravelCosts",
    "UnknownCodeError",
    "analyse",
    "apl",
    "density",
    "enhanced_two_step_fca",
    "generate_practitioners",
    "gravity",
    "is_synthetic",
    "kernel_two_step_fca",
    "list_departements",
    "list_epci",
    "load_communes",
    "nearest_cost",
    "practitioners_per_commune",
    "read_od_table",
    "resolve_territory",
    "straight_line_costs",
    "three_step_fca",
    "two_step_fca",
    "validate_practitioners",
]
