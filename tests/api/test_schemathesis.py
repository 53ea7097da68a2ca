"""Property-based test of the whole API from its OpenAPI schema: the contract is the truth.

Schemathesis generates valid and invalid requests for every operation of ``/openapi.json``
and calls the application in process (ASGI), three ways: a service without a token, and a
service with a token called with it and without it (anonymous callers get 401s, which must
conform too). Every response is checked: no 5xx, a documented status, a body and headers
matching the documented schema, a documented content type, invalid data refused, the token
enforced where the schema asks for it.

Two default checks are left out, for reasons of the API rather than defects:

- ``positive_data_acceptance``: a request valid for the schema may still be refused with 404 or
  422 by the engine (an unknown commune code, a file whose content is not a table); the
  schema cannot say which codes exist or what a file holds.
- ``unsupported_method``: ``DELETE /datasets/bpe`` reaches ``DELETE /datasets/{dataset_id}``,
  whose id pattern refuses ``bpe`` with 422 (a documented status), not 405.

Computations stay small: the territory of a generated analysis is replaced by three communes
(``SMALL_TERRITORY``), and no test waits for a job. ``scripts/schemathesis_long.py`` runs the
same checks with many more examples.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from pydantic import ValidationError
from schemathesis import checks as st_checks
from schemathesis.config import SchemathesisConfig

from api.main import create_app
from api.schemas import TerritorySelection
from api.settings import Settings
from tests.api.conftest import AUTH, SMALL_TERRITORY, TOKEN, make_settings

#: Examples per operation and per way of calling: the three tests take about a minute.
MAX_EXAMPLES = 12

#: The checks: every default one but positive_data_acceptance and unsupported_method.
CHECKS: list[Callable[..., Any]] = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.response_schema_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.negative_data_rejection,
    st_checks.missing_required_header,
    st_checks.allow_header_conformance,
    st_checks.use_after_free,
    st_checks.ensure_resource_availability,
    st_checks.ignored_auth,
]
#: Names of the checks, for the figures of the long run.
CHECK_NAMES = [check.__name__ for check in CHECKS]


def build_app(root: Path, *, token: str | None) -> FastAPI:
    """A service on a temporary folder whose jobs never hold up its shutdown."""
    overrides: dict[str, Any] = {"max_upload_bytes": 50_000}
    if token is not None:
        overrides["api_token"] = token
    if "shutdown_grace_seconds" in Settings.model_fields:
        overrides["shutdown_grace_seconds"] = 0
    return create_app(make_settings(root, **overrides))


def small_territories(schema: Any) -> None:
    """Compute generated analyses on three communes: a département would take seconds.

    Only a valid territory is replaced (by another valid one): an invalid one is what a
    negative case tests, and must still be refused.
    """

    @schema.hook
    def map_body(context: Any, body: Any) -> Any:
        operation = getattr(context, "operation", None)
        if (
            operation is None
            or operation.method.upper() != "POST"
            or operation.path != "/analyses"
            or not isinstance(body, dict)
            or not isinstance(body.get("territory"), dict)
            or not {"departements", "epci"} & set(body["territory"])
        ):
            return body
        try:
            TerritorySelection.model_validate(body["territory"])
        except ValidationError:
            return body
        return {**body, "territory": dict(SMALL_TERRITORY)}


_ROOT = Path(tempfile.mkdtemp(prefix="cartosoins-schemathesis-"))
OPEN_APP = build_app(_ROOT / "open", token=None)
SECURED_APP = build_app(_ROOT / "secured", token=TOKEN)
#: Settings of the checks; given here, a stray ``schemathesis.toml`` changes nothing.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            # a body over max_upload_bytes is refused with 413 before it is read
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
            },
            "positive_data_acceptance": {"enabled": False},
            "unsupported_method": {"enabled": False},
        }
    }
)
open_schema = schemathesis.openapi.from_asgi("/openapi.json", OPEN_APP, config=CONFIG)
secured_schema = schemathesis.openapi.from_asgi("/openapi.json", SECURED_APP, config=CONFIG)
small_territories(open_schema)
small_territories(secured_schema)

_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@pytest.fixture(scope="module", autouse=True)
def _running_apps() -> Iterator[None]:
    """Start the applications' lifespans (database, job threads) around the module."""
    with TestClient(OPEN_APP), TestClient(SECURED_APP):
        yield
    shutil.rmtree(_ROOT, ignore_errors=True)


@open_schema.parametrize()
@_SETTINGS
def test_contract_without_token(case: schemathesis.Case) -> None:
    """No token configured: every request is trusted and the schema asks for no token."""
    case.call_and_validate(checks=CHECKS)


@secured_schema.parametrize()
@_SETTINGS
def test_contract_with_token(case: schemathesis.Case) -> None:
    """Token configured and sent: requests go through as on an open service."""
    case.call_and_validate(headers=AUTH, checks=CHECKS)


@secured_schema.parametrize()
@_SETTINGS
def test_contract_anonymous(case: schemathesis.Case) -> None:
    """Token configured, not sent: writes and private data get a 401 that conforms."""
    case.call_and_validate(checks=CHECKS)
