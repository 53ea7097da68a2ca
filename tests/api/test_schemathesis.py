"""Property-based test of the whole API from its OpenAPI schema: no input gives a 5xx.

Schemathesis generates valid and invalid requests for every operation of ``/openapi.json``
and calls the application in process (ASGI); the only check is ``not_a_server_error``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.main import create_app
from tests.api.conftest import make_settings

#: Examples per operation: enough to reach every validator, the whole run under 2 minutes.
MAX_EXAMPLES = 25

_ROOT = Path(tempfile.mkdtemp(prefix="cartosoins-schemathesis-"))
APP = create_app(make_settings(_ROOT, max_upload_bytes=50_000))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _running_app() -> Iterator[None]:
    """Start the application's lifespan (database, job threads) around the module."""
    with TestClient(APP):
        yield
    shutil.rmtree(_ROOT, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
