"""Datasets: uploaded practitioners, population (age) tables and origin–destination tables.

Uploads are multipart forms (field ``file``) or raw bodies, streamed to a temporary file of the
data folder within the size limit (413 as soon as it is passed) and stored private by default:
practitioner files are personal data. A small file (``sync_parse_bytes``, 4 MiB by default) is
parsed in the request: 201, or 422 naming the file, row and column. A bigger one (the national
BPE, the RPPS extraction) is answered 202 at once with a ``pending`` dataset, read by a
background thread: poll ``GET /datasets/{id}`` until ``status`` is ``ready`` (usable) or
``failed`` (``error`` names the file, row, column and value).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api import core
from api.deps import (
    Access,
    AccessDep,
    ServicesDep,
    ensure_owned,
    ensure_readable,
    owner_of,
    record_action,
    require_token,
)
from api.routes.common import DATASET_LINKS, DatasetIdPath, dataset_public
from api.schemas import BPE_DATASET, DEMO_DATASET, DatasetPublic, ErrorPublic, Profession
from api.uploads import UploadRejected, receive_upload
from geo import demo
from geo.maps.choropleth import SYNTHETIC_LABEL
from geo.offer import load_gp_offer

router = APIRouter(prefix="/datasets", tags=["datasets"])

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file: a multipart form with a `file` field, or the raw bytes.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": "code_commune;profession\n63113;Médecin généraliste\n",
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "Stored and read (a small file).", "links": DATASET_LINKS},
    202: {
        "model": DatasetPublic,
        "description": "Stored; a big file is read in the background: poll GET /datasets/{id} "
        "until its status is ready or failed (then error says why).",
        "links": DATASET_LINKS,
    },
    200: {
        "model": DatasetPublic,
        "description": "The same file was already uploaded.",
        "links": DATASET_LINKS,
    },
    400: {"model": ErrorPublic, "description": "Invalid Content-Length."},
    413: {
        "model": ErrorPublic,
        "description": "Larger than the upload limit (error 'too_large'), refused while streaming.",
    },
    422: {
        "model": ErrorPublic,
        "description": "Malformed form, or unreadable small file (names file, row, column).",
    },
}
Filename = Annotated[
    str | None,
    Query(max_length=255, description="File name (format hint and label; never a path)."),
]
Private = Annotated[bool, Query(description="Only token holders see the dataset.")]


async def _upload(
    request: Request,
    response: Response,
    services: ServicesDep,
    kind: str,
    filename: str | None,
    options: dict[str, Any],
    private: bool,
    access: Access,
) -> DatasetPublic | Response:
    try:
        upload = await receive_upload(
            content_type=request.headers.get("content-type"),
            content_length=request.headers.get("content-length"),
            stream=request.stream(),
            filename=filename,
            limit=services.settings.max_upload_bytes,
            tmp_dir=services.store.tmp_dir,
        )
    except UploadRejected as exc:
        return JSONResponse({"detail": exc.detail, "error": exc.error}, exc.status_code)
    record, created = await run_in_threadpool(
        services.create_dataset, kind, upload, upload.filename, options, private, owner_of(access)
    )
    if created:
        record_action(services, access, "create", "dataset", record.id, kind=kind)
    if not created:
        response.status_code = status.HTTP_200_OK
    elif record.status == "ready":
        response.status_code = status.HTTP_201_CREATED
    else:
        response.status_code = status.HTTP_202_ACCEPTED
    if created:
        response.headers["Location"] = f"/datasets/{record.id}"
    return dataset_public(record)


@router.post(
    "/practitioners",
    summary="Upload practitioners",
    response_model=DatasetPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_token)],
    openapi_extra=_UPLOAD_BODY,
    responses=_UPLOAD_RESPONSES,
)
async def upload_practitioners(
    request: Request,
    response: Response,
    services: ServicesDep,
    access: AccessDep,
    filename: Filename = None,
    format: Annotated[
        str,
        Query(
            pattern=r"^[a-z_]{1,30}$",
            description="auto (from the name and columns), csv_latlon, csv_commune, bpe, rpps, "
            "geojson or gpkg.",
        ),
    ] = "auto",
    profession: Annotated[
        Profession | None, Query(description="Keep this profession only.")
    ] = None,
    private: Private = True,
) -> DatasetPublic | Response:
    """Upload practitioners: CSV, INSEE BPE, Annuaire Santé (RPPS), GeoJSON or GeoPackage.

    CSV with latitude/longitude or a commune code, in UTF-8 or Latin-1/CP1252, separated by
    `;` or `,`.
    """
    options = {"format": format, "professions": None if profession is None else [profession]}
    return await _upload(
        request, response, services, "practitioners", filename, options, private, access
    )


@router.post(
    "/population",
    summary="Upload a population table",
    response_model=DatasetPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_token)],
    openapi_extra=_UPLOAD_BODY,
    responses=_UPLOAD_RESPONSES,
)
async def upload_population(
    request: Request,
    response: Response,
    services: ServicesDep,
    access: AccessDep,
    filename: Filename = None,
    private: Private = True,
) -> DatasetPublic | Response:
    """Upload population by commune and age band (INSEE tables), for age-standardised demand."""
    return await _upload(request, response, services, "population", filename, {}, private, access)


@router.post(
    "/od",
    summary="Upload an origin–destination table",
    response_model=DatasetPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_token)],
    openapi_extra=_UPLOAD_BODY,
    responses=_UPLOAD_RESPONSES,
)
async def upload_od(
    request: Request,
    response: Response,
    services: ServicesDep,
    access: AccessDep,
    filename: Filename = None,
    origin_column: Annotated[str, Query(min_length=1, max_length=100)] = "origin",
    dest_column: Annotated[str, Query(min_length=1, max_length=100)] = "dest",
    minutes_column: Annotated[str, Query(min_length=1, max_length=100)] = "minutes",
    layout: Annotated[
        Literal["long", "wide"] | None,
        Query(description="long (one row per pair) or wide (square matrix); default: detected"),
    ] = None,
    unit: Annotated[
        Literal["minutes", "seconds"] | None,
        Query(description="unit of the times; default: detected (column name, magnitudes)"),
    ] = None,
    private: Private = True,
) -> DatasetPublic | Response:
    """Travel times between commune codes (INSEE Metric, OSRM export…).

    One row per pair, or a wide square matrix with the destination codes as headers (an OSRM
    ``table`` export); in minutes or seconds. The dataset info says what was read or detected.
    """
    options = {
        "origin_column": origin_column,
        "dest_column": dest_column,
        "minutes_column": minutes_column,
        "layout": layout,
        "unit": unit,
    }
    return await _upload(request, response, services, "od", filename, options, private, access)


@router.post(
    "/osm",
    summary="Upload an OpenStreetMap extract (road travel times)",
    response_model=DatasetPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_token)],
    openapi_extra=_UPLOAD_BODY,
    responses=_UPLOAD_RESPONSES,
)
async def upload_osm(
    request: Request,
    response: Response,
    services: ServicesDep,
    access: AccessDep,
    filename: Filename = None,
    private: Private = True,
) -> DatasetPublic | Response:
    """Store an extract (.osm.pbf, .osm, .osm.gz) whose drivable roads give car times.

    Its road graph is built once at upload (422 when no drivable road is found; for a file
    over `sync_parse_bytes`, 202 and a `failed` dataset); analyses use it with
    ``"road_dataset": <id>``. `rows` is the number of drivable ways read.
    """
    return await _upload(request, response, services, "osm", filename, {}, private, access)


@router.get("", summary="List the datasets")
def list_datasets(
    services: ServicesDep,
    access: AccessDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DatasetPublic]:
    """List stored datasets, newest first (without the token: the public ones only)."""
    records = services.list_datasets(
        public_only=not access.authenticated,
        limit=limit,
        offset=offset,
        organisation_id=None if access.bootstrap else owner_of(access),
    )
    return [dataset_public(r) for r in records]


@router.get("/bpe", summary="The real general practitioners embedded in cartosoins")
def read_bpe() -> dict[str, Any]:
    """Describe the `bpe` dataset, the default practitioners of analyses of GPs.

    GPs (médecins généralistes libéraux) per commune from the INSEE BPE, one point per GP at
    the chef-lieu of their commune; the communes the source does not cover come out of
    analyses as « non renseigné ».
    """
    offer = load_gp_offer()
    counts = offer.counts["medecins_generalistes"]
    return {
        "id": BPE_DATASET,
        "kind": "practitioners",
        "synthetic": False,
        "label": None,
        "source": offer.source_label,
        "vintage": offer.vintage,
        "professions": {core.BPE_PROFESSION: demo.PROFESSIONS[core.BPE_PROFESSION].label},
        "practitioners": int(counts.sum()),
        "communes_with_practitioners": int((counts > 0).sum()),
        "missing_communes": dict(offer.missing),
        "description": "Médecins généralistes libéraux par commune (INSEE, Base permanente des "
        "équipements, équipement D201), placés à la mairie de leur commune. Les autres "
        "professions n'ont pas de données réelles embarquées : utilisez 'demo' (praticiens "
        "simulés) ou vos propres fichiers. Les effectifs CNAM 2024 par département sont "
        "donnés à côté dans le résumé des analyses.",
    }


@router.get("/demo", summary="The simulated practitioners")
def read_demo() -> dict[str, Any]:
    """Describe the `demo` dataset: deterministic simulated practitioners of all of France."""
    return {
        "id": DEMO_DATASET,
        "kind": "practitioners",
        "synthetic": True,
        "label": SYNTHETIC_LABEL,
        "professions": {code: p.label for code, p in demo.PROFESSIONS.items()},
        "description": "Praticiens simulés à partir des populations communales (modèle décrit "
        "dans geo.demo) ; déterministes pour une graine (paramètre seed des analyses).",
    }


@router.get(
    "/{dataset_id}",
    summary="One dataset",
    responses={404: {"model": ErrorPublic}, 401: {"model": ErrorPublic}},
)
def read_dataset(
    dataset_id: DatasetIdPath, services: ServicesDep, access: AccessDep
) -> DatasetPublic:
    """Return a dataset's metadata (rows, columns, professions); never its content."""
    record = services.dataset(dataset_id)
    ensure_readable(record, access, services)
    return dataset_public(record)


@router.delete(
    "/{dataset_id}",
    summary="Delete a dataset",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(require_token)],
    responses={404: {"model": ErrorPublic}},
)
def delete_dataset(dataset_id: DatasetIdPath, services: ServicesDep, access: AccessDep) -> Response:
    """Delete the file and its parsed table (analyses keep their per-commune results)."""
    ensure_owned(services.dataset(dataset_id), access, services)
    services.delete_dataset(dataset_id)
    record_action(services, access, "delete", "dataset", dataset_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
