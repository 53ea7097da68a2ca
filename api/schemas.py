"""Request and response bodies of the HTTP service (Base / Create / Public split).

Validation of user input that does not need the engine happens here (types, ranges, patterns);
what needs reference data (unknown codes) or file contents is checked by the engine.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.core import BPE_DATASET, BPE_PROFESSION, DEMO_DATASET, default_dataset
from geo.analysis import GRAVITY_MIN_MINUTES

__all__ = [
    "BPE_DATASET",
    "DEMO_DATASET",
    "AddPractitionersChange",
    "AnalysisCreate",
    "AnalysisParameters",
    "AnalysisPublic",
    "AnalysisUpdate",
    "ChangePopulationChange",
    "CommunePublic",
    "DatasetKind",
    "DatasetPublic",
    "DepartementPublic",
    "EpciPublic",
    "ErrorPublic",
    "FieldErrorPublic",
    "JobPublic",
    "Measure",
    "Profession",
    "RegionPublic",
    "RemovePractitionersChange",
    "RetireChange",
    "ScenarioCreate",
    "SitingCreate",
    "TerritorySelection",
]

Measure = Literal[
    "density", "nearest", "2sfca", "e2sfca", "kernel_2sfca", "3sfca", "gravity", "apl"
]
Profession = Literal[
    "medecin_generaliste",
    "infirmier",
    "masseur_kinesitherapeute",
    "chirurgien_dentiste",
    "sage_femme",
]
DatasetKind = Literal["practitioners", "population", "od", "osm"]
Status = Literal["pending", "running", "done", "failed"]
AnalysisKind = Literal["analysis", "scenario", "siting"]
GapPreset = Literal["apl", "ratio", "travel_time"]

#: A département (2A, 974), EPCI (SIREN) or commune (INSEE) code.
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z]{1,9}$")]
#: A région INSEE code ("84", "94"; "1" is read "01").
RegionCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,2}$")]
#: A profession code (the simulated ones, or those read from a file: bpe_D307, rpps_21…).
ProfessionCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
#: A dataset id: "bpe" (real GPs), "demo" (simulated practitioners) or an upload ("ds_…").
DatasetId = Annotated[str, StringConstraints(pattern=r"^(bpe|demo|ds_[0-9a-f]{26})$")]
#: A practitioner id (from a file or the simulation).
PractitionerId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
#: A column name of an uploaded table.
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=100)]

#: Shared by every request body (and their nested models): unknown fields and NaN/Infinity
#: (accepted by Python's JSON reader) are refused with 422.
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class FieldErrorPublic(BaseModel):
    """One field of a request that does not match the schema."""

    loc: list[str | int] = Field(
        description="Where: 'body', 'query', 'path' or 'header', then the path to the field."
    )
    field: str = Field(description="The field, e.g. 'parameters.catchment_minutes'.")
    message: str = Field(description="What is wrong, in French.")
    type: str = Field(description="Machine-readable kind (pydantic's error type).")


class ErrorPublic(BaseModel):
    """An error: what went wrong, in words that name the input at fault."""

    detail: str = Field(description="What went wrong, naming the input at fault.")
    error: str = Field(
        description="Machine-readable kind of error: validation (request not matching the "
        "schema, see fields), unauthorized, not_found, unknown_code, conflict, too_large, "
        "too_many_requests, input_format, invalid_data, invalid_request, reference_data…"
    )
    fields: list[FieldErrorPublic] | None = Field(
        default=None, description="With error 'validation': every field at fault."
    )
    kind: str | None = Field(
        default=None, description="With error 'unknown_code': what kind of code."
    )
    codes: list[str] | None = Field(
        default=None, description="With error 'unknown_code': the unknown codes."
    )


# --------------------------------------------------------------------------------------------
# territories
# --------------------------------------------------------------------------------------------
class TerritorySelection(BaseModel):
    """Exactly one of: France, régions, départements, EPCI (SIREN codes) or communes (INSEE)."""

    model_config = _STRICT

    france: Literal["metropole", "entiere"] | None = Field(
        default=None,
        description="All of France: « metropole » (mainland and Corse) or « entiere » (with "
        "the five DROM).",
    )
    regions: Annotated[list[RegionCode], Field(min_length=1, max_length=18)] | None = Field(
        default=None, description="Région INSEE codes (« 84 » Auvergne-Rhône-Alpes, « 94 » Corse)."
    )
    departements: Annotated[list[Code], Field(min_length=1, max_length=200)] | None = None
    epci: Annotated[list[Code], Field(min_length=1, max_length=2000)] | None = None
    communes: Annotated[list[Code], Field(min_length=1, max_length=40000)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TerritorySelection:
        given = [k for k in _TERRITORY_KEYS if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "choose a territory with exactly one of: france, regions, departements, epci or "
                f"communes (got {given or 'none'}) — un seul critère de territoire"
            )
        return self

    def canonical(self) -> dict[str, Any]:
        """Sorted, upper-cased, de-duplicated codes (the cache key does not depend on order)."""
        out: dict[str, Any] = {}
        if self.france:
            out["france"] = self.france
        for key in _TERRITORY_KEYS[1:]:
            codes = getattr(self, key)
            if codes:
                norm = {c.upper() for c in codes}
                if key in ("departements", "regions"):
                    norm = {c.zfill(2) if c.isdigit() and len(c) == 1 else c for c in norm}
                out[key] = sorted(norm)
        return out


#: The kinds of territory selection, France first.
_TERRITORY_KEYS = ("france", "regions", "departements", "epci", "communes")


class RegionPublic(BaseModel):
    """A région (INSEE COG 2024 code and name)."""

    code: str
    nom: str
    zone: Literal["metro", "drom"]
    departements: list[str]
    communes: int
    population: int = Field(description="Population municipale 2023.")


class DepartementPublic(BaseModel):
    """A département."""

    code: str
    nom: str
    region: str
    region_nom: str
    communes: int
    population: int = Field(description="Population municipale 2023.")


class EpciPublic(BaseModel):
    """An EPCI à fiscalité propre."""

    code: str = Field(description="SIREN.")
    nom: str
    type: str
    communes: int
    population: int
    departements: list[str]


class CommunePublic(BaseModel):
    """A commune of the reference layer."""

    code: str = Field(description="INSEE code.")
    nom: str
    departement: str
    epci: str | None
    epci_nom: str | None
    population: int
    area_km2: float | None
    lon: float | None = Field(description="Chef-lieu (town hall), WGS 84.")
    lat: float | None


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------
class DatasetPublic(BaseModel):
    """An uploaded table, as stored (never its content)."""

    id: str
    kind: DatasetKind
    filename: str
    format: str
    rows: int
    columns: list[str]
    info: dict[str, Any]
    private: bool
    original_bytes: int
    created_at: str
    synthetic: bool = False
    label: str | None = None
    status: Literal["pending", "running", "ready", "failed"] = Field(
        default="ready",
        description="ready: usable in analyses; pending/running: a big upload being read in "
        "the background (poll this resource); failed: unreadable, see error.",
    )
    progress: float = Field(default=1.0, ge=0, le=1, description="Reading progress (0–1).")
    message: str = Field(default="", description="What the reading is doing, in French.")
    error: str | None = Field(
        default=None, description="Why the reading failed (file, row, column, value), in French."
    )


# --------------------------------------------------------------------------------------------
# analyses
# --------------------------------------------------------------------------------------------
class AnalysisParameters(BaseModel):
    """Parameters of the measure; defaults are the engine's (see the README's Methods)."""

    model_config = _STRICT

    catchment_minutes: Annotated[float, Field(gt=0, le=300)] | None = None
    supply: Literal["headcount", "fte", "consultations"] | None = Field(
        default=None,
        description="Supply unit; default for APL: consultations, else FTE, when every "
        "practitioner has one, else headcount (other measures: headcount).",
    )
    exclude_aged_from: Annotated[int, Field(ge=20, le=120)] | None = None
    threshold_minutes: Annotated[float, Field(gt=0, le=300)] = 30.0
    detour_factor: Annotated[float, Field(ge=1, le=3)] = 1.3
    speed_kmh: Annotated[float, Field(ge=5, le=130)] = 60.0
    sigma_minutes: Annotated[float, Field(gt=0, le=300)] | None = None
    gravity_scale: Annotated[float, Field(gt=0, le=1000)] = 1.0
    gravity_alpha: Annotated[float, Field(ge=-5, lt=0)] = -1.0
    gravity_min_minutes: Annotated[
        float,
        Field(
            ge=0,
            le=60,
            description="Gravity: floor of the travel time (minutes) in the weight "
            "(max(t, floor) / scale)^alpha. Practitioners located at a commune's chef-lieu are "
            "0 min away; 0 restores the raw weight and refuses such pairs.",
        ),
    ] = GRAVITY_MIN_MINUTES


class AnalysisBase(BaseModel):
    """What to compute: a territory, practitioners, a measure and its parameters."""

    model_config = _STRICT

    territory: TerritorySelection
    dataset: DatasetId | None = Field(
        default=None,
        description="Practitioners: 'bpe' for the real general practitioners embedded in "
        "cartosoins (médecins généralistes libéraux, INSEE BPE, effectifs par commune), 'demo' "
        "for the national simulated practitioners (praticiens simulés — données de "
        "démonstration), or an uploaded dataset id. Default: 'bpe' for general practitioners "
        "(profession omitted or medecin_generaliste), 'demo' for the other professions, which "
        "have no real data embedded (the results then say « praticiens simulés »).",
    )
    profession: ProfessionCode | None = Field(
        default=None,
        description="Keep one profession (all of the dataset's when omitted): "
        "medecin_generaliste, infirmier, masseur_kinesitherapeute, chirurgien_dentiste, "
        "sage_femme, or a code of the uploaded file (bpe_D307, rpps_21…). 'bpe' holds "
        "medecin_generaliste only.",
    )
    measure: Measure = "apl"
    parameters: AnalysisParameters = Field(default_factory=AnalysisParameters)
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = Field(
        default=0, description="Seed of the simulated practitioners (demo only)."
    )
    population_dataset: DatasetId | None = Field(
        default=None, description="Population by age band per commune (age-standardised demand)."
    )
    consumption_weights: (
        Annotated[dict[ColumnName, Annotated[float, Field(ge=0, le=1000)]], Field(max_length=50)]
        | None
    ) = Field(default=None, description="Relative care consumption of each age band column.")
    od_dataset: DatasetId | None = Field(
        default=None, description="Origin–destination table of travel minutes between communes."
    )
    road_dataset: DatasetId | None = Field(
        default=None,
        description="OpenStreetMap extract uploaded to /datasets/osm: car travel times by road.",
    )
    travel: Literal["straight_line", "od_table", "road"] | None = Field(
        default=None,
        description="Travel model. Default: 'road' with road_dataset, 'od_table' with "
        "od_dataset, else 'straight_line'. 'road' without road_dataset uses the extract "
        "configured on the server (CARTOSOINS_OSM_PATH).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> AnalysisBase:
        if self.dataset is None:
            self.dataset = default_dataset(self.profession)
        if self.dataset == BPE_DATASET and self.profession is None:
            self.profession = BPE_PROFESSION  # the same request, one cache key
        if (self.population_dataset is None) != (self.consumption_weights is None):
            raise ValueError("population_dataset and consumption_weights go together")
        if self.od_dataset is not None and self.road_dataset is not None:
            raise ValueError("choose od_dataset or road_dataset, not both")
        implied: Literal["straight_line", "od_table", "road"] = (
            "road" if self.road_dataset else "od_table" if self.od_dataset else "straight_line"
        )
        if self.travel is None:
            self.travel = implied
        elif self.travel == "od_table" and self.od_dataset is None:
            raise ValueError("travel 'od_table' needs od_dataset")
        elif self.travel != implied and not (self.travel == "road" and implied == "straight_line"):
            raise ValueError(f"travel {self.travel!r} does not match the datasets given")
        for key in ("population_dataset", "od_dataset", "road_dataset"):
            if getattr(self, key) in (DEMO_DATASET, BPE_DATASET):
                raise ValueError(
                    f"{key} must be an uploaded dataset id, not {getattr(self, key)!r}"
                )
        return self


class AnalysisCreate(AnalysisBase):
    """A new analysis; ``shareable`` makes its map and exports public."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "territory": {"communes": ["63113", "63014"]},
                    "dataset": "bpe",
                    "profession": "medecin_generaliste",
                    "measure": "density",
                },
                {
                    "territory": {"departements": ["15"]},
                    "dataset": "demo",
                    "profession": "infirmier",
                    "measure": "apl",
                },
            ]
        },
    )

    shareable: bool = False


class AnalysisUpdate(BaseModel):
    """Change whether an analysis' map and exports are public."""

    model_config = _STRICT

    shareable: bool


class JobPublic(BaseModel):
    """State of a background computation."""

    id: str
    kind: str
    analysis_id: str
    status: Status
    progress: float = Field(ge=0, le=1)
    message: str = Field(description="What the job is doing, in French.")
    error: str | None
    created_at: str
    updated_at: str


class AnalysisPublic(BaseModel):
    """An analysis (or scenario, siting): request, state and, when done, its summary."""

    id: str
    kind: AnalysisKind
    parent_id: str | None
    title: str
    status: Status
    error: str | None
    shareable: bool
    synthetic: bool
    label: str | None = Field(description="« praticiens simulés » when the data are simulated.")
    practitioners_source: str | None = Field(
        default=None,
        description="Where the practitioners come from: the embedded real data (INSEE BPE), "
        "« praticiens simulés — données de démonstration », or the user's data.",
    )
    cached: bool = Field(False, description="Served from a stored identical request.")
    request: dict[str, Any]
    summary: dict[str, Any] | None
    job: JobPublic | None
    links: dict[str, str]
    created_at: str
    updated_at: str


# --------------------------------------------------------------------------------------------
# scenarios and siting
# --------------------------------------------------------------------------------------------
class AddPractitionersChange(BaseModel):
    """New practitioners at a commune's town hall or at a point (lon/lat)."""

    model_config = _STRICT

    type: Literal["add_practitioners"]
    commune: Code | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    n: Annotated[int, Field(ge=1, le=1000)] = 1
    capacity: Annotated[float, Field(gt=0, le=1e6)] | None = None

    @model_validator(mode="after")
    def _where(self) -> AddPractitionersChange:
        point = self.lon is not None or self.lat is not None
        if (self.commune is None) == (not point) or (point and None in (self.lon, self.lat)):
            raise ValueError("give exactly one of commune or (lon, lat)")
        return self


class RemovePractitionersChange(BaseModel):
    """Practitioners who leave, by id."""

    model_config = _STRICT

    type: Literal["remove_practitioners"]
    ids: Annotated[list[PractitionerId], Field(min_length=1, max_length=10000)]


class RetireChange(BaseModel):
    """Practitioners who retire: aged ``age_at_least`` or more, or by ``horizon_year``."""

    model_config = _STRICT

    type: Literal["retire"]
    age_at_least: Annotated[float, Field(gt=0, le=120)] | None = None
    horizon_year: Annotated[int, Field(ge=1900, le=2200)] | None = None
    retirement_age: Annotated[float, Field(gt=0, le=120)] = 67

    @model_validator(mode="after")
    def _one(self) -> RetireChange:
        if (self.age_at_least is None) == (self.horizon_year is None):
            raise ValueError("give exactly one of age_at_least or horizon_year")
        return self


class ChangePopulationChange(BaseModel):
    """New populations by commune, or a factor (on some communes, default the territory)."""

    model_config = _STRICT

    type: Literal["change_population"]
    populations: (
        Annotated[dict[Code, Annotated[float, Field(ge=0, le=1e8)]], Field(min_length=1)] | None
    ) = None
    factor: Annotated[float, Field(ge=0, le=100)] | None = None
    codes: Annotated[list[Code], Field(min_length=1, max_length=40000)] | None = None

    @model_validator(mode="after")
    def _one(self) -> ChangePopulationChange:
        if (self.populations is None) == (self.factor is None):
            raise ValueError("give exactly one of populations or factor")
        if self.codes is not None and self.factor is None:
            raise ValueError("codes only goes with factor")
        return self


Change = Annotated[
    AddPractitionersChange | RemovePractitionersChange | RetireChange | ChangePopulationChange,
    Field(discriminator="type"),
]


class ScenarioCreate(BaseModel):
    """Changes applied together to an analysis, compared commune by commune."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "changes": [
                        {"type": "retire", "age_at_least": 65},
                        {"type": "add_practitioners", "commune": "63113", "n": 2},
                    ]
                }
            ]
        },
    )

    changes: Annotated[list[Change], Field(min_length=1, max_length=100)]
    gap_preset: GapPreset | None = Field(
        default=None, description="Gap classes of the comparison (default: the measure's)."
    )
    shareable: bool = False


class CandidatePoint(BaseModel):
    """A candidate site at an address (WGS 84)."""

    model_config = _STRICT

    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    lat: Annotated[float, Field(ge=-90, le=90)]


class SitingCreate(BaseModel):
    """Where ``k`` new sites of ``n_per_site`` practitioners would help most."""

    model_config = _STRICT

    k: Annotated[int, Field(ge=1, le=50)] = 3
    n_per_site: Annotated[int, Field(ge=1, le=100)] = 1
    objective: Literal["gap_population", "shortfall", "weighted_gain", "max_coverage"] = Field(
        default="gap_population",
        description="Population lifted out of the gap class; shortfall: Σ population × "
        "max(0, threshold − value) reduced (favours the worst-off); population-weighted gain "
        "(capped at the best class); or maximal coverage within coverage_minutes. Ties: see "
        "the README (tie-break gain, population, travel time, code).",
    )
    method: Literal["greedy", "milp"] = Field(
        default="greedy", description="milp: exact, max_coverage only."
    )
    candidates: Annotated[list[Code], Field(min_length=1, max_length=40000)] | None = Field(
        default=None, description="Candidate communes (default: every commune of the territory)."
    )
    candidate_points: (
        Annotated[list[CandidatePoint], Field(min_length=1, max_length=1000)] | None
    ) = Field(default=None, description="Candidate sites at addresses, besides communes.")
    exclude: Annotated[list[Code], Field(min_length=1, max_length=40000)] | None = Field(
        default=None, description="Communes never to propose (nor points lying in them)."
    )
    practitioners_per_site: (
        Annotated[
            dict[str, Annotated[int, Field(ge=1, le=100)]], Field(min_length=1, max_length=1000)
        ]
        | None
    ) = Field(
        default=None,
        description="A different number of practitioners for some candidates (commune code or "
        "point label → n); the others get n_per_site, which must then be 1.",
    )
    coverage_minutes: Annotated[float, Field(gt=0, le=300)] = 20.0
    only_uncovered: bool = True
    capacity: Annotated[float, Field(gt=0, le=1e6)] | None = Field(
        default=None, description="Supply of each new practitioner (default: the mean)."
    )
    gap_preset: GapPreset | None = None
    shareable: bool = False

    @model_validator(mode="after")
    def _milp_for_coverage(self) -> SitingCreate:
        if self.method == "milp" and self.objective != "max_coverage":
            raise ValueError(
                f"method 'milp' solves objective 'max_coverage' only, not {self.objective!r}"
            )
        listed = len(set(self.candidates or [])) + len(self.candidate_points or [])
        if self.candidates is not None or self.candidate_points is not None:
            if self.k > listed:
                raise ValueError(f"k={self.k} is larger than the {listed} candidates")
        return self
