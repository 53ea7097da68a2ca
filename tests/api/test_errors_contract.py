"""Every error of the service has the documented body (``ErrorPublic``), and no input gives a 500.

NaN and Infinity, which Python's JSON reader accepts, are refused with 422 naming the field;
validation errors (body, query, path) say in French which fields are at fault and list them;
401, 404, 405, 413 and unreadable bodies carry an ``error`` kind too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import BaseModel

from api.errors import install_error_handlers
from api.schemas import ErrorPublic
from tests.api.conftest import AUTH, SMALL_TERRITORY

#: Ids of the right shape; validation happens before the analysis is looked up.
ANALYSIS_ID = "an_" + "0" * 26
JSON = {"Content-Type": "application/json"}


def error_body(response: Response, status_code: int, kind: str) -> dict[str, Any]:
    """Check the status and that the body is an ErrorPublic of this kind; return it."""
    assert response.status_code == status_code, response.text
    body: dict[str, Any] = response.json()
    ErrorPublic.model_validate(body)
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["error"] == kind, body
    return body


def validation_fields(response: Response) -> dict[str, dict[str, Any]]:
    """The ``fields`` of a 422 validation body, by field name."""
    body = error_body(response, 422, "validation")
    assert body["detail"].startswith("Requête invalide")
    return {field["field"]: field for field in body["fields"]}


# --------------------------------------------------------------------------------------------
# NaN and Infinity: 422 naming the field (was 500)
# --------------------------------------------------------------------------------------------
NON_FINITE = ["NaN", "Infinity", "-Infinity"]


@pytest.mark.parametrize("number", NON_FINITE)
def test_analysis_parameter_not_finite(client: TestClient, number: str) -> None:
    raw = (
        '{"measure": "apl", "dataset": "demo", "territory": {"communes": ["63113"]}, '
        f'"parameters": {{"catchment_minutes": {number}}}}}'
    )
    response = client.post("/analyses", content=raw, headers=JSON)
    fields = validation_fields(response)
    assert set(fields) == {"parameters.catchment_minutes"}
    assert fields["parameters.catchment_minutes"]["type"] == "finite_number"
    assert fields["parameters.catchment_minutes"]["loc"] == [
        "body",
        "parameters",
        "catchment_minutes",
    ]
    assert "« parameters.catchment_minutes »" in response.json()["detail"]
    assert "nombre fini" in response.json()["detail"]


def test_analysis_weights_not_finite(client: TestClient) -> None:
    raw = (
        '{"territory": {"communes": ["63113"]}, "population_dataset": "ds_'
        + "0" * 26
        + '", "consumption_weights": {"pop_0_14": NaN}}'
    )
    fields = validation_fields(client.post("/analyses", content=raw, headers=JSON))
    assert fields["consumption_weights.pop_0_14"]["type"] == "finite_number"


@pytest.mark.parametrize("number", NON_FINITE)
def test_scenario_factor_not_finite(client: TestClient, number: str) -> None:
    raw = f'{{"changes": [{{"type": "change_population", "factor": {number}}}]}}'
    response = client.post(f"/analyses/{ANALYSIS_ID}/scenarios", content=raw, headers=JSON)
    fields = validation_fields(response)
    # the union tag (change_population) is in loc, not in the field's name
    assert set(fields) == {"changes[0].factor"}
    assert fields["changes[0].factor"]["loc"] == [
        "body",
        "changes",
        0,
        "change_population",
        "factor",
    ]
    assert "« changes[0].factor »" in response.json()["detail"]


def test_scenario_point_not_finite(client: TestClient) -> None:
    raw = '{"changes": [{"type": "add_practitioners", "lon": Infinity, "lat": 45.7}]}'
    response = client.post(f"/analyses/{ANALYSIS_ID}/scenarios", content=raw, headers=JSON)
    assert "changes[0].lon" in validation_fields(response)


@pytest.mark.parametrize("number", NON_FINITE)
def test_siting_coverage_not_finite(client: TestClient, number: str) -> None:
    raw = f'{{"objective": "max_coverage", "coverage_minutes": {number}}}'
    response = client.post(f"/analyses/{ANALYSIS_ID}/siting", content=raw, headers=JSON)
    fields = validation_fields(response)
    assert set(fields) == {"coverage_minutes"}
    assert fields["coverage_minutes"]["type"] == "finite_number"


def test_overflowing_number_is_not_finite(client: TestClient) -> None:
    """1e999 reads as infinity: refused like Infinity."""
    raw = '{"coverage_minutes": 1e999}'
    response = client.post(f"/analyses/{ANALYSIS_ID}/siting", content=raw, headers=JSON)
    assert validation_fields(response)["coverage_minutes"]["type"] == "finite_number"


# --------------------------------------------------------------------------------------------
# every validation error: the documented body, French, naming the fields
# --------------------------------------------------------------------------------------------
def test_missing_body(client: TestClient) -> None:
    response = client.post("/analyses", headers=JSON)
    body = error_body(response, 422, "validation")
    assert body["fields"] == [
        {
            "loc": ["body"],
            "field": "",
            "message": "le corps de la requête (JSON) est absent",
            "type": "missing",
        }
    ]
    assert "corps de la requête" in body["detail"]


def test_wrong_type_and_missing_field(client: TestClient) -> None:
    response = client.post(
        "/analyses", json={"measure": 42, "parameters": {"speed_kmh": "vite"}}, headers=JSON
    )
    fields = validation_fields(response)
    assert fields["territory"]["type"] == "missing"
    assert fields["measure"]["type"] == "literal_error"
    assert fields["parameters.speed_kmh"]["type"] == "float_parsing"
    assert fields["parameters.speed_kmh"]["message"] == "doit être un nombre"
    detail = response.json()["detail"]
    assert detail.startswith("Requête invalide (3 erreurs)")
    assert "« territory » : obligatoire, absent" in detail
    assert "« parameters.speed_kmh » : doit être un nombre" in detail


def test_unknown_field(client: TestClient) -> None:
    body = {"territory": SMALL_TERRITORY, "colour": "red"}
    fields = validation_fields(client.post("/analyses", json=body))
    assert fields["colour"]["type"] == "extra_forbidden"


def test_model_rule_names_the_body(client: TestClient) -> None:
    """A rule across fields (a model validator) names the object and keeps its message."""
    body = {"territory": {"communes": ["63113"], "departements": ["63"]}}
    fields = validation_fields(client.post("/analyses", json=body))
    assert "exactly one of" in fields["territory"]["message"]


def test_input_is_not_echoed(client: TestClient) -> None:
    """The input value is never sent back (it may be huge, or not JSON at all)."""
    secret = "x" * 500
    response = client.post("/analyses", json={"territory": {"communes": [secret]}})
    assert secret not in response.text
    assert "territory.communes[0]" in validation_fields(response)


def test_bad_query_parameter(client: TestClient) -> None:
    response = client.get("/analyses", params={"limit": 0})
    fields = validation_fields(response)
    assert fields["limit"]["loc"] == ["query", "limit"]
    assert fields["limit"]["message"] == "doit être supérieur ou égal à 1"
    assert "paramètre d'URL « limit »" in response.json()["detail"]


def test_bad_query_type(client: TestClient) -> None:
    fields = validation_fields(client.get("/territories/communes", params={"limit": "dix"}))
    assert fields["limit"]["type"] == "int_parsing"


def test_bad_path_parameter(client: TestClient) -> None:
    response = client.get("/analyses/pas-un-identifiant")
    fields = validation_fields(response)
    assert fields["analysis_id"]["loc"] == ["path", "analysis_id"]
    assert fields["analysis_id"]["type"] == "string_pattern_mismatch"
    assert "paramètre de chemin « analysis_id »" in response.json()["detail"]


def test_invalid_json(client: TestClient) -> None:
    response = client.post("/analyses", content=b'{"territory": ', headers=JSON)
    body = error_body(response, 422, "validation")
    assert body["fields"][0]["type"] == "json_invalid"


def test_unreadable_body_is_400(client: TestClient) -> None:
    response = client.post("/analyses", content=b'{"a": "\xff\xfe"}', headers=JSON)
    body = error_body(response, 400, "bad_request")
    assert "illisible" in body["detail"]


class _Point(BaseModel):
    x: float


def test_validation_error_raised_in_a_route() -> None:
    """A pydantic ValidationError raised by a route's code is a 422 too, not a 500."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/point")
    def point() -> dict[str, float]:
        return {"x": _Point.model_validate({"x": "loin"}).x}

    with TestClient(app) as test_client:
        response = test_client.get("/point")
    fields = validation_fields(response)
    assert fields["x"]["type"] == "float_parsing"
    assert "loin" not in response.text


def test_unexpected_error_is_documented_500() -> None:
    """A bug still answers the error body (and is raised again for the server's log)."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/bug")
    def bug() -> None:
        raise RuntimeError("bogue")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/bug")
    body = error_body(response, 500, "internal")
    assert "bogue" not in body["detail"]


# --------------------------------------------------------------------------------------------
# HTTP errors: 401, 404, 405, 413 carry `error`
# --------------------------------------------------------------------------------------------
def test_401_without_token(secured: TestClient) -> None:
    response = secured.post("/analyses", json={"territory": SMALL_TERRITORY})
    error_body(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_401_wrong_token(secured: TestClient) -> None:
    response = secured.get("/analyses", headers={"Authorization": "Bearer faux"})
    error_body(response, 401, "unauthorized")


def test_token_goes_through(secured: TestClient) -> None:
    assert secured.get("/analyses", headers=AUTH).status_code == 200


def test_404_unknown_route(client: TestClient) -> None:
    error_body(client.get("/nulle-part"), 404, "not_found")


def test_404_unknown_analysis(client: TestClient) -> None:
    error_body(client.get(f"/analyses/{ANALYSIS_ID}"), 404, "not_found")


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    """Starlette's Allow named the first route's method only (POST for /analyses)."""
    response = client.put("/analyses")
    body = error_body(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"
    assert "GET, POST" in body["detail"]
    # a static path is not mixed with the parameter route it shadows
    assert client.put("/datasets/bpe").headers["allow"] == "GET"
    assert client.put(f"/datasets/ds_{'0' * 26}").headers["allow"] == "DELETE, GET"


def test_413_declared_length(client: TestClient) -> None:
    """Content-Length over the limit: refused by the middleware before the body is read."""
    limit = client.app.state.settings.max_upload_bytes  # type: ignore[attr-defined]
    response = client.post("/analyses", content=b" " * (limit + 70_000), headers=JSON)
    error_body(response, 413, "too_large")


def test_413_streamed_body(client: TestClient) -> None:
    """No Content-Length (chunked): refused while reading, with the same body."""
    limit = client.app.state.settings.max_upload_bytes  # type: ignore[attr-defined]

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // 10_000 + 10):
            yield b" " * 10_000

    response = client.post("/analyses", content=chunks(), headers=JSON)
    error_body(response, 413, "too_large")


# --------------------------------------------------------------------------------------------
# the OpenAPI document says all this
# --------------------------------------------------------------------------------------------
def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _ref(response: dict[str, Any]) -> str:
    return str(response.get("content", {}).get("application/json", {}).get("schema", {}))


def test_openapi_documents_error_bodies(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "fields" in schema["components"]["schemas"]["ErrorPublic"]["properties"]
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        if operation.get("parameters") or "requestBody" in operation:
            assert "422" in responses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413"} <= set(responses), (method, path)
        for code, response in responses.items():
            if int(code) >= 400:
                assert _ref(response).endswith("/ErrorPublic'}"), (method, path, code)
    # without a configured token, every request is trusted: the token is optional
    assert all(op.get("security", [{}])[0] == {} for _, _, op in _operations(schema))
    assert all("401" not in op["responses"] for _, _, op in _operations(schema))


def test_openapi_with_token(secured: TestClient) -> None:
    schema = secured.get("/openapi.json").json()
    operations = {(method, path): op for path, method, op in _operations(schema)}
    create = operations["post", "/analyses"]
    assert create["security"] == [{"HTTPBearer": []}]
    assert "401" in create["responses"]
    # public reads take the token when given: optional
    assert operations["get", "/analyses/{analysis_id}"]["security"][0] == {}
    for path in (
        "/analyses",
        "/analyses/{analysis_id}/scenarios",
        "/analyses/{analysis_id}/siting",
    ):
        limited = operations["post", path]["responses"]["429"]
        assert "Retry-After" in limited["headers"], path
    assert operations["get", "/health"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/HealthPublic"}
