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
from geo.analysis import (
    GRAVITY_MIN_MINUTES,
    MEASURES,
    AccessProblem,
    analyse,
    prepare,
    validate_practitioners,
)
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
from geo.gaps import classify_gaps, summarise_gaps
from geo.io import profession_code, read_population_table, read_practitioners, select_profession
from geo.location import CostPairs, LocationSolution, max_coverage, p_median, set_covering
from geo.measures import cumulative_opportunities, fca_ratio, polygon_distances, raam
from geo.offer import load_gp_offer
from geo.reference import list_departements, list_epci, load_communes
from geo.scenario import Scenario, ScenarioResult
from geo.siting import SitingResult, max_coverage_milp, recommend_sites
from geo.territory import REGIONS, Territory, UnknownRegionError, list_regions, resolve_territory

__all__ = [
    "GRAVITY_MIN_MINUTES",
    "MEASURES",
    "PROFESSIONS",
    "REGIONS",
    "AccessProblem",
    "CartosoinsError",
    "CostPairs",
    "DataValidationError",
    "InputFormatError",
    "LocationSolution",
    "ReferenceDataError",
    "Scenario",
    "ScenarioResult",
    "SitingResult",
    "Territory",
    "TravelCosts",
    "UnknownCodeError",
    "UnknownRegionError",
    "analyse",
    "apl",
    "classify_gaps",
    "cumulative_opportunities",
    "density",
    "enhanced_two_step_fca",
    "fca_ratio",
    "generate_practitioners",
    "gravity",
    "is_synthetic",
    "kernel_two_step_fca",
    "list_departements",
    "list_epci",
    "list_regions",
    "load_communes",
    "load_gp_offer",
    "max_coverage",
    "max_coverage_milp",
    "nearest_cost",
    "p_median",
    "polygon_distances",
    "practitioners_per_commune",
    "prepare",
    "profession_code",
    "raam",
    "read_od_table",
    "read_population_table",
    "read_practitioners",
    "recommend_sites",
    "resolve_territory",
    "select_profession",
    "set_covering",
    "straight_line_costs",
    "summarise_gaps",
    "three_step_fca",
    "two_step_fca",
    "validate_practitioners",
]
