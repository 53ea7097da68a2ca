"""Territories: régions, départements, EPCI and communes of the reference layer (COG 2026)."""

from __future__ import annotations

import math
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query

from api import core
from api.schemas import CommunePublic, DepartementPublic, EpciPublic, ErrorPublic, RegionPublic
from geo.errors import UnknownCodeError
from geo.reference import list_departements, list_epci
from geo.territory import UnknownRegionError, list_regions

router = APIRouter(prefix="/territories", tags=["territories"])

DepCode = Annotated[str, Path(pattern=r"^[0-9A-Za-z]{1,3}$", description="Département code.")]
RegionCode = Annotated[str, Path(pattern=r"^[0-9]{1,2}$", description="Région INSEE code.")]
Siren = Annotated[str, Path(pattern=r"^[0-9]{9}$", description="EPCI SIREN code.")]
InseeCode = Annotated[str, Path(pattern=r"^[0-9A-Za-z]{5}$", description="Commune INSEE code.")]
_404: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "Unknown code."}
}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _departement(row: dict[str, Any]) -> DepartementPublic:
    return DepartementPublic(
        code=row["code"],
        nom=row["nom"],
        region=row["region"],
        region_nom=row["region_nom"],
        communes=int(row["communes"]),
        population=int(row["population"]),
    )


def _epci(row: dict[str, Any]) -> EpciPublic:
    return EpciPublic(
        code=row["code"],
        nom=row["nom"],
        type=row["type"],
        communes=int(row["communes"]),
        population=int(row["population"]),
        departements=str(row["departements"]).split(","),
    )


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value if not pd.isna(value) else None


def _commune(row: dict[str, Any]) -> CommunePublic:
    return CommunePublic(
        code=row["code"],
        nom=row["nom"],
        departement=row["departement"],
        epci=_clean(row["epci"]),
        epci_nom=_clean(row["epci_nom"]),
        population=int(row["population"]),
        area_km2=_clean(row["area_km2"]),
        lon=_clean(row["lon"]),
        lat=_clean(row["lat"]),
    )


def _normalise_dep(code: str) -> str:
    code = code.strip().upper()
    return code.zfill(2) if code.isdigit() and len(code) == 1 else code


def _one(table: pd.DataFrame, code: str, unknown: Exception) -> dict[str, Any]:
    """Return the row of ``table`` with this code as a record; raise ``unknown`` (a 404)."""
    found = table[table["code"] == code]
    if found.empty:
        raise unknown
    return _records(found)[0]


def _region(row: dict[str, Any]) -> RegionPublic:
    return RegionPublic(
        code=row["code"],
        nom=row["nom"],
        zone=row["zone"],
        departements=list(row["departements"]),
        communes=int(row["communes"]),
        population=int(row["population"]),
    )


@router.get("/regions", summary="List the régions")
def read_regions() -> list[RegionPublic]:
    """List the 18 régions (13 of métropole, 5 DROM), their départements and population."""
    return [_region(r) for r in _records(list_regions())]


@router.get("/regions/{code}", summary="One région", responses=_404)
def read_region(code: RegionCode) -> RegionPublic:
    """Return a région by INSEE code (``84``, ``94``, ``1`` for ``01``)."""
    return _region(_one(list_regions(), code.zfill(2), UnknownRegionError([code])))


@router.get("/departements", summary="List the départements")
def read_departements() -> list[DepartementPublic]:
    """Départements of métropole and the DROM, with their population municipale 2023."""
    return [_departement(r) for r in _records(list_departements())]


@router.get("/departements/{code}", summary="One département", responses=_404)
def read_departement(code: DepCode) -> DepartementPublic:
    """Return a département by code (``63``, ``2A``, ``974``)."""
    found = _one(list_departements(), _normalise_dep(code), UnknownCodeError("département", [code]))
    return _departement(found)


@router.get("/departements/{code}/epci", summary="EPCI of a département", responses=_404)
def read_departement_epci(code: DepCode) -> list[EpciPublic]:
    """EPCI with at least one member commune in the département."""
    return [_epci(r) for r in _records(list_epci(_normalise_dep(code)))]


@router.get("/epci", summary="List the EPCI", responses=_404)
def read_epci_list(
    departement: Annotated[
        str | None, Query(pattern=r"^[0-9A-Za-z]{1,3}$", description="Only this département's.")
    ] = None,
) -> list[EpciPublic]:
    """EPCI à fiscalité propre (2026), optionally those of one département."""
    table = list_epci(None if departement is None else _normalise_dep(departement))
    return [_epci(r) for r in _records(table)]


@router.get("/epci/{code}", summary="One EPCI", responses=_404)
def read_epci(code: Siren) -> EpciPublic:
    """Return an EPCI by SIREN code."""
    found = _one(list_epci(), code, UnknownCodeError("EPCI", [code]))
    return _epci(found)


@router.get("/communes", summary="Search the communes")
def read_communes(
    q: Annotated[
        str | None,
        Query(max_length=100, description="Part of the name (accents ignored) or code prefix."),
    ] = None,
    departement: Annotated[str | None, Query(pattern=r"^[0-9A-Za-z]{1,3}$")] = None,
    epci: Annotated[str | None, Query(pattern=r"^[0-9]{9}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[CommunePublic]:
    """Communes by name or code, within a département or an EPCI; best matches first."""
    dep = None if departement is None else _normalise_dep(departement)
    found = core.search_communes(q, dep, epci, limit, offset)
    return [_commune(r) for r in _records(found)]


@router.get("/communes/{code}", summary="One commune", responses=_404)
def read_commune(code: InseeCode) -> CommunePublic:
    """Return a commune by INSEE code."""
    table = core.commune_table()
    found = table[table["code"] == code.upper()]
    if found.empty:
        raise UnknownCodeError("commune", [code])
    return _commune(_records(found)[0])
