"""The HTTP service: ``create_app(settings)`` builds the FastAPI application over :mod:`geo`.

``uvicorn api.main:app`` (or ``cartosoins serve``) serves the default settings; the database,
files and job threads are opened at startup and closed at shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata, resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.compression import CompressionMiddleware
from api.db import SCHEMA_VERSION
from api.errors import document_errors, install_error_handlers
from api.routes import analyses, datasets, jobs, maps, pages, scenarios, siting, territories
from api.services import open_services
from api.settings import Settings
from api.uploads import too_large
from api.web import router as web_router

__all__ = ["VERSION", "app", "create_app"]

try:
    VERSION = metadata.version("cartosoins")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    VERSION = "0+unknown"

#: Multipart boundaries and headers may add this much to an upload of the maximum size.
_BODY_OVERHEAD_BYTES = 64 * 1024
_DOCS_STATIC = "/docs-static"

_DESCRIPTION = """
Accessibilité aux soins des communes françaises : territoires, jeux de données (praticiens,
populations, distancier), analyses (densité, temps d'accès, 2SFCA, E2SFCA, APL…), cartes
hors ligne, scénarios et recherche d'implantations.

Le jeu de données `demo` est constitué de **praticiens simulés — données de démonstration** ;
tout résultat qui en dépend le signale (`synthetic`, `label`).

Avec un jeton configuré (`CARTOSOINS_API_TOKEN`), les écritures et les données privées
demandent `Authorization: Bearer <jeton>` ; une carte n'est publique que si son analyse est
marquée `shareable`.
"""


class _SecurityAndLimits:
    """Security headers on every response and a cap on every request body (413).

    A response that sets its own ``Content-Security-Policy`` (an embeddable map) keeps it and
    gets no ``X-Frame-Options``; every other one may not be framed.
    """

    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.max_body_bytes = max_upload_bytes + _BODY_OVERHEAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_json(send, 413, too_large(self.max_upload_bytes).detail)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # an HTTPException goes through FastAPI's body reading unchanged (413)
                    raise StarletteHTTPException(
                        413, detail=too_large(self.max_upload_bytes).detail
                    )
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = "frame-ancestors 'none'"
                    headers["X-Frame-Options"] = "DENY"
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)


async def _send_json(send: Send, status_code: int, detail: Any) -> None:
    response = JSONResponse({"detail": detail, "error": "too_large"}, status_code=status_code)
    body = response.body
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [
                *response.raw_headers,
                (b"x-frame-options", b"DENY"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _docs(app: FastAPI) -> None:
    """Swagger UI and ReDoc served from a Python package: the docs work without internet."""
    static = resources.files("fastapi_offline") / "static"
    app.mount(_DOCS_STATIC, StaticFiles(directory=str(static)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="cartosoins — API",
            swagger_js_url=f"{_DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{_DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{_DOCS_STATIC}/favicon.png",
            # the default validator badge would call validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="cartosoins — API",
            redoc_js_url=f"{_DOCS_STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{_DOCS_STATIC}/favicon.png",
            with_google_fonts=False,
        )


def _operation_id(route: APIRoute) -> str:
    return route.name


class HealthPublic(BaseModel):
    """The service is up."""

    status: str = Field(description="Always 'ok'.")
    version: str
    schema_version: int = Field(description="Version of the database schema.")


def _truthful_openapi(app: FastAPI, settings: Settings) -> None:
    """Generate the schema once, with the errors every operation may answer (:mod:`api.errors`).

    Without a configured token every request is trusted (one user on 127.0.0.1): the schema
    then makes the token optional and documents no 401.
    """

    def openapi() -> dict[str, Any]:
        schema = app.openapi_schema
        if schema is None:
            token = settings.api_token is not None
            schema = document_errors(app, FastAPI.openapi(app), token=token)
            app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, *, compute: bool = True) -> FastAPI:
    """Build the application; the database and job threads open when it starts.

    Parameters
    ----------
    settings : Settings, optional
        Default: read from the ``CARTOSOINS_*`` environment.
    compute : bool
        With a shared (PostgreSQL) database: whether this process computes jobs too, or
        leaves them to ``cartosoins worker`` processes (``cartosoins serve --no-jobs``).
    """
    settings = settings if settings is not None else Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = open_services(settings, claim=compute)
        app.state.services = services
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="cartosoins",
        version=VERSION,
        description=_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # operation ids are the handlers' names: stable, readable, used by the OpenAPI links
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.add_middleware(_SecurityAndLimits, max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(CompressionMiddleware, minimum_size=1024)  # gzip; maps: ÷4
    install_error_handlers(app)
    _docs(app)

    @app.get("/health", tags=["service"], summary="Readiness probe")
    def health() -> HealthPublic:
        """Tell that the service is up, with its version and database schema version."""
        return HealthPublic(status="ok", version=VERSION, schema_version=SCHEMA_VERSION)

    for module in (territories, datasets, analyses, maps, scenarios, siting, jobs, pages):
        app.include_router(module.router)
    app.include_router(web_router)  # the French workspace pages (api/web)
    _truthful_openapi(app, settings)
    return app


app = create_app()
