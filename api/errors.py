"""The one place where errors become HTTP responses, all with the body of :class:`ErrorPublic`.

Engine errors become 4xx with their message (it names the file, row, column or code at fault);
request validation errors (body, query, path) become 422 with a French sentence naming the
fields and a machine-readable list of them (``fields``); HTTP errors raised by the routes, the
dependencies or the router (401, 404, 405, 413, 429…) keep their status and headers and get the
same body. ``detail`` is always a sentence and ``error`` a machine-readable kind.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.deps import get_access, require_token
from api.schemas import ErrorPublic
from api.services import Conflict, NotFound
from api.uploads import UploadRejected
from geo.errors import (
    CartosoinsError,
    DataValidationError,
    InputFormatError,
    ReferenceDataError,
    UnknownCodeError,
)

__all__ = [
    "KIND_OF_STATUS",
    "RATE_LIMITED",
    "STATUS_OF",
    "VALIDATION_ERROR",
    "document_errors",
    "error_response",
    "field_errors",
    "install_error_handlers",
    "validation_sentence",
]

#: HTTP status and error kind of each exception class (the most specific class wins).
STATUS_OF: dict[type[Exception], tuple[int, str]] = {
    UnknownCodeError: (404, "unknown_code"),
    InputFormatError: (422, "input_format"),
    DataValidationError: (422, "invalid_data"),
    ReferenceDataError: (503, "reference_data"),
    CartosoinsError: (422, "invalid_request"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
}

#: Error kind of a request that does not match the schema (body, query, path parameters).
VALIDATION_ERROR = "validation"

#: Error kind of each HTTP status raised as an ``HTTPException`` (routes, dependencies, router).
KIND_OF_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}

#: Messages of the framework (Starlette, FastAPI), in French.
_FRENCH_DETAIL: dict[str, str] = {
    "Not Found": "Ressource introuvable : aucune route ne correspond à cette adresse.",
    "There was an error parsing the body": "Corps de la requête illisible : JSON invalide ou "
    "texte mal encodé (UTF-8 attendu).",
}

#: At most this many fields are named in the sentence (all are listed in ``fields``).
_MAX_NAMED_FIELDS = 5
#: At most this many fields are listed in ``fields``.
_MAX_LISTED_FIELDS = 100

_WHERE = {"query": "paramètre d'URL", "path": "paramètre de chemin", "header": "en-tête"}


# --------------------------------------------------------------------------------------------
# validation errors: French messages
# --------------------------------------------------------------------------------------------
def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" + ("s" if isinstance(n, int) and n > 1 else "")


def _message(error: Mapping[str, Any]) -> str:
    """French description of one pydantic error (its ``type`` and ``ctx``)."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    fixed = {
        "missing": "obligatoire, absent",
        "extra_forbidden": "champ inconnu (non prévu par le schéma)",
        "finite_number": "doit être un nombre fini (NaN, Infinity et -Infinity sont refusés)",
        "float_type": "doit être un nombre",
        "float_parsing": "doit être un nombre",
        "int_type": "doit être un entier",
        "int_parsing": "doit être un entier",
        "int_from_float": "doit être un entier (sans partie décimale)",
        "int_parsing_size": "entier trop grand",
        "string_type": "doit être une chaîne de caractères",
        "string_unicode": "doit être un texte Unicode valide",
        "bool_type": "doit être un booléen (true ou false)",
        "bool_parsing": "doit être un booléen (true ou false)",
        "list_type": "doit être une liste",
        "dict_type": "doit être un objet JSON",
        "model_type": "doit être un objet JSON",
        "model_attributes_type": "doit être un objet JSON",
        "none_required": "doit être null",
        "json_type": "doit être un document JSON",
    }
    if kind in fixed:
        return fixed[kind]
    bounds = {
        "greater_than": ("gt", "doit être strictement supérieur à"),
        "greater_than_equal": ("ge", "doit être supérieur ou égal à"),
        "less_than": ("lt", "doit être strictement inférieur à"),
        "less_than_equal": ("le", "doit être inférieur ou égal à"),
        "multiple_of": ("multiple_of", "doit être un multiple de"),
    }
    if kind in bounds and bounds[kind][0] in ctx:
        key, words = bounds[kind]
        return f"{words} {_number(ctx[key])}"
    if kind == "string_pattern_mismatch":
        return f"ne respecte pas le format attendu ({ctx.get('pattern', '?')})"
    if kind == "string_too_short":
        return f"doit compter au moins {_plural(ctx.get('min_length'), 'caractère')}"
    if kind == "string_too_long":
        return f"doit compter au plus {_plural(ctx.get('max_length'), 'caractère')}"
    if kind == "too_short":
        return f"doit compter au moins {_plural(ctx.get('min_length'), 'élément')}"
    if kind == "too_long":
        return f"doit compter au plus {_plural(ctx.get('max_length'), 'élément')}"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "?")).replace(" or ", " ou ")
        return f"doit valoir {expected}"
    if kind == "union_tag_invalid":
        return (
            f"valeur {ctx.get('tag')!r} inconnue pour {ctx.get('discriminator', 'le type')} "
            f"(valeurs possibles : {str(ctx.get('expected_tags', '?')).replace(' or ', ' ou ')})"
        )
    if kind == "union_tag_not_found":
        return f"le champ discriminant {ctx.get('discriminator', '?')} est absent"
    if kind == "json_invalid":
        return f"JSON invalide ({ctx.get('error', 'erreur de syntaxe')})"
    message = str(error.get("msg", kind))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _field(loc: Sequence[Any]) -> str:
    """Name of the field at ``loc``: ``parameters.catchment_minutes``, ``changes[0].factor``."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _label(loc: Sequence[Any], kind: str, field: str) -> str:
    """Say where the error is: « parameters.factor », paramètre d'URL « limit », etc."""
    if not loc:
        return "requête"
    where, rest = str(loc[0]), list(loc[1:])
    if where == "body":
        if not rest:
            return "corps de la requête"
        if kind == "json_invalid" and len(rest) == 1 and isinstance(rest[0], int):
            return f"corps de la requête (caractère {rest[0]})"
        return f"« {field} »"
    if where in _WHERE:
        return f"{_WHERE[where]} « {field} »" if rest else _WHERE[where]
    return f"« {field} »"


def _without_tags(path: Sequence[Any], body: Any) -> list[Any]:
    """``path`` in ``body`` without the tags pydantic inserts for tagged unions.

    ``changes.0.change_population.factor`` names ``changes[0].factor``: the tag is the value
    of the discriminator of the object, not one of its keys.
    """
    out: list[Any] = []
    node = body
    for item in path:
        if (
            isinstance(node, Mapping)
            and isinstance(item, str)
            and item not in node
            and item in [v for v in node.values() if isinstance(v, str)]
        ):
            continue
        out.append(item)
        if isinstance(node, Mapping):
            node = node.get(item)
        elif isinstance(node, list) and isinstance(item, int) and -len(node) <= item < len(node):
            node = node[item]
        else:
            node = None
    return out


def field_errors(errors: Sequence[Any], body: Any = None) -> list[dict[str, Any]]:
    """Machine-readable list of the fields at fault: ``loc``, ``field``, ``message``, ``type``.

    The input values are never echoed (they may be huge, or not even valid JSON: ``NaN``);
    ``body``, the request body, only helps name the fields.
    """
    out: list[dict[str, Any]] = []
    for error in errors[:_MAX_LISTED_FIELDS]:
        if not isinstance(error, Mapping):
            out.append({"loc": [], "field": "", "message": str(error), "type": "unknown"})
            continue
        loc = [item if isinstance(item, int) else str(item) for item in error.get("loc", ())]
        kind = str(error.get("type", "unknown"))
        in_body = bool(loc) and loc[0] == "body"
        if kind == "missing" and loc == ["body"]:
            message = "le corps de la requête (JSON) est absent"
        else:
            message = _message(error)
        if in_body:
            name = _field(_without_tags(loc[1:], body))
        else:
            name = _field(loc[1:] if loc and loc[0] in _WHERE else loc)
        out.append(
            {
                "loc": loc,
                "field": name,
                "message": message,
                "type": kind,
            }
        )
    return out


def validation_sentence(fields: Sequence[Mapping[str, Any]], total: int | None = None) -> str:
    """One French sentence naming the fields at fault and what is wrong with each."""
    total = len(fields) if total is None else total
    named = [
        f"{_label(f['loc'], str(f['type']), str(f['field']))} : {f['message']}"
        for f in fields[:_MAX_NAMED_FIELDS]
    ]
    if not named:
        return "Requête invalide."
    more = total - len(named)
    tail = f" ; et {_plural(more, 'autre erreur')}" if more > 0 else ""
    head = "Requête invalide" if total == 1 else f"Requête invalide ({total} erreurs)"
    return f"{head} : {' ; '.join(named)}{tail}."


def _validation_response(errors: Sequence[Any], body: Any = None) -> JSONResponse:
    fields = field_errors(errors, body)
    content = {
        "detail": validation_sentence(fields, len(errors)),
        "error": VALIDATION_ERROR,
        "fields": fields,
    }
    return JSONResponse(content, status_code=422)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _validation_response(list(exc.errors()), exc.body)


async def _pydantic_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    return _validation_response(exc.errors(include_url=False, include_input=False))


# --------------------------------------------------------------------------------------------
# HTTP errors
# --------------------------------------------------------------------------------------------
def _routes(app: Any) -> Iterator[Any]:
    """Every route of ``app``, those of the included routers too.

    Recent FastAPI versions include routers lazily; ``iter_route_contexts`` expands them.
    """
    expand = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = app.router.routes
    return iter(expand(routes)) if expand is not None else iter(routes)


def _allowed_methods(request: Request) -> list[str]:
    """List the methods of the path template this URL reaches (Starlette names one route's).

    The first route whose path matches picks the template (``/datasets/bpe`` before
    ``/datasets/{dataset_id}``); every route of that template adds its methods.
    """
    template: str | None = None
    methods: set[str] = set()
    for route in _routes(request.app):
        route_methods = getattr(route, "methods", None)
        if not route_methods:
            continue
        match, _ = route.matches(request.scope)
        if match == Match.NONE:
            continue
        path = str(getattr(route, "path_format", None) or getattr(route, "path", ""))
        template = path if template is None else template
        if path == template:
            methods |= set(route_methods)
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status_code = exc.status_code
    # a subclass may carry its own kind (the 429 of anonymous limits: rate_limited, queue_full)
    own_kind = getattr(exc, "error", None)
    kind = own_kind if isinstance(own_kind, str) else KIND_OF_STATUS.get(status_code, "http_error")
    headers = dict(exc.headers or {})
    content: dict[str, Any]
    if isinstance(exc.detail, Mapping):
        content = {str(k): v for k, v in exc.detail.items()}
        content.setdefault("error", kind)
        content["detail"] = str(content.get("detail", HTTPStatus(status_code).phrase))
    else:
        content = {"detail": _FRENCH_DETAIL.get(str(exc.detail), str(exc.detail)), "error": kind}
    if status_code == 405:
        allowed = _allowed_methods(request) or sorted(
            m.strip() for m in headers.get("Allow", "").split(",") if m.strip()
        )
        headers["Allow"] = ", ".join(allowed)
        content["detail"] = (
            f"Méthode {request.method} non permise à cette adresse (méthodes possibles : "
            f"{', '.join(allowed) or 'aucune'})."
        )
    return JSONResponse(content, status_code=status_code, headers=headers or None)


async def _upload_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UploadRejected)
    content = {"detail": str(exc.detail), "error": exc.error}
    return JSONResponse(content, status_code=exc.status_code)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises the exception after this answer: the server logs it with its trace
    content = {"detail": "Erreur interne du service ; elle a été consignée.", "error": "internal"}
    return JSONResponse(content, status_code=500)


def _handler(
    status_code: int, kind: str
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        content: dict[str, object] = {"detail": str(exc), "error": kind}
        if isinstance(exc, UnknownCodeError):
            content["kind"] = exc.kind
            content["codes"] = exc.codes
        return JSONResponse(content, status_code=status_code)

    return handle


def install_error_handlers(app: FastAPI) -> None:
    """Register on ``app`` the handlers of :data:`STATUS_OF`, validation and HTTP errors."""
    for exc_class, (status_code, kind) in STATUS_OF.items():
        app.add_exception_handler(exc_class, _handler(status_code, kind))
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ValidationError, _pydantic_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(UploadRejected, _upload_rejected)
    app.add_exception_handler(Exception, _server_error)


# --------------------------------------------------------------------------------------------
# documentation: the statuses every route may answer, with the ErrorPublic body
# --------------------------------------------------------------------------------------------
_ERROR_REF = "#/components/schemas/ErrorPublic"


def error_response(description: str, **headers: str) -> dict[str, Any]:
    """OpenAPI response with the :class:`ErrorPublic` body, for a route's ``responses=``.

    Parameters
    ----------
    description : str
        When the status is answered.
    **headers : str
        Response headers (name: description), e.g. ``Retry_After="Seconds to wait."``
        (underscores become hyphens).
    """
    response: dict[str, Any] = {"model": ErrorPublic, "description": description}
    if headers:
        response["headers"] = {
            name.replace("_", "-"): {"description": text, "schema": {"type": "integer"}}
            for name, text in headers.items()
        }
    return response


#: The 429 of computations refused for an anonymous caller (queue full, rate limit).
RATE_LIMITED: dict[str, Any] = error_response(
    "Anonymous computation refused now (error 'rate_limited' or 'queue_full'): retry after "
    "Retry-After seconds, or send the token.",
    Retry_After="Seconds to wait before retrying.",
)


def _optional_auth(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of the operations that read the token without requiring it."""
    out: set[tuple[str, str]] = set()
    for route in _routes(app):
        dependant = getattr(route, "dependant", None)
        if not isinstance(dependant, Dependant) or not getattr(route, "include_in_schema", False):
            continue
        if _depends_on(dependant, get_access) and not _depends_on(dependant, require_token):
            path = getattr(route, "path_format", None) or getattr(route, "path", "")
            out |= {(str(path), str(method).lower()) for method in route.methods or ()}
    return out


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def document_errors(app: FastAPI, schema: dict[str, Any], *, token: bool) -> dict[str, Any]:
    """Document in the OpenAPI ``schema`` of ``app`` the errors every operation may answer.

    422 (``validation``, the :class:`ErrorPublic` body, replacing FastAPI's
    ``HTTPValidationError``) on operations with parameters or a body; 400 (unreadable body) and
    413 (too large) on operations with a body; 401 on operations that read the token when one
    is configured (``token``), whose token is optional (``security: [{}, bearer]``) when the
    operation also serves anonymous callers (public analyses, datasets). Without a configured
    token every request is trusted: the token is optional everywhere and no 401 is documented.
    An operation's own ``responses=`` (404, 409, 429…) is kept. ``schema`` is changed in place
    and returned.
    """
    optional = _optional_auth(app)
    error_body = {"application/json": {"schema": {"$ref": _ERROR_REF}}}
    generic = {
        "422": "The request does not match the schema: `error` is 'validation' and `fields` "
        "lists every field at fault (a French sentence in `detail`).",
        "400": "Unreadable body (not UTF-8, malformed).",
        "413": "Body larger than the limit (setting max_upload_bytes).",
        "401": "Missing (where needed) or wrong API token (`Authorization: Bearer …`).",
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            has_body = "requestBody" in operation
            wanted = []
            if has_body or operation.get("parameters"):
                wanted.append("422")
            if has_body:
                wanted += ["400", "413"]
            security = operation.get("security")
            if security and token:
                wanted.append("401")
            if security and (not token or (path, method) in optional) and {} not in security:
                operation["security"] = [{}, *security]
            if not token:
                responses.pop("401", None)
            for code in wanted:
                content = responses.get(code, {}).get("content", {})
                ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
                if code not in responses or ref.endswith("/HTTPValidationError"):
                    described = responses.get(code, {}).get("description")
                    if code == "422" or not described:
                        described = generic[code]
                    responses[code] = {"description": described, "content": error_body}
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused not in json.dumps(schema.get("paths", {})):
            schemas.pop(unused, None)
    if "ErrorPublic" not in schemas:
        definition = ErrorPublic.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(definition.pop("$defs", {}))
        schemas["ErrorPublic"] = definition
    return schema
