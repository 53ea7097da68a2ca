"""Dependencies of the routes: the services, and who is asking (bearer token).

Without a configured token every request is trusted (one user on 127.0.0.1); with one, write
and private-data endpoints need ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.crud import AnalysisRecord, DatasetRecord
from api.services import Services

__all__ = [
    "Access",
    "AccessDep",
    "ServicesDep",
    "ensure_readable",
    "get_access",
    "get_services",
    "require_token",
]

_bearer = HTTPBearer(auto_error=False, description="API token (setting api_token).")


def get_services(request: Request) -> Services:
    """Return the services opened by the application factory."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


@dataclass(frozen=True)
class Access:
    """Whether the caller may write and read private data."""

    authenticated: bool


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def get_access(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Access:
    """Check the bearer token, when one is configured; a wrong token is always refused."""
    token = services.settings.api_token
    if token is None:
        return Access(authenticated=True)
    if credentials is None:
        return Access(authenticated=False)
    given = credentials.credentials.encode("utf-8", errors="replace")
    if not hmac.compare_digest(given, token.get_secret_value().encode("utf-8")):
        raise _unauthorized("jeton d'API invalide")
    return Access(authenticated=True)


AccessDep = Annotated[Access, Depends(get_access)]


def require_token(access: AccessDep) -> None:
    """Refuse (401) a caller without the API token."""
    if not access.authenticated:
        raise _unauthorized(
            "cette opération demande le jeton d'API (en-tête Authorization: Bearer …)"
        )


def ensure_readable(record: AnalysisRecord | DatasetRecord, access: Access) -> None:
    """Refuse (401) to show a private resource to a caller without the token.

    An analysis is public only when marked shareable; a dataset only when not private.
    """
    public = record.shareable if isinstance(record, AnalysisRecord) else not record.private
    if not public and not access.authenticated:
        raise _unauthorized(
            "ressource privée : envoyez le jeton d'API, ou rendez l'analyse partageable"
        )
