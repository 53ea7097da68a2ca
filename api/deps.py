"""Dependencies of the routes: the services, and who is asking (bearer token).

Without a configured token every request is trusted (one user on 127.0.0.1); with one, write
and private-data endpoints need ``Authorization: Bearer <token>``. The settings' token is the
bootstrap administrator (everything); a personal token (``cs_…``, ``cartosoins admin
add-token``) acts for a member of an organisation: it reads what the organisation owns, what
was shared with it and what is public, and writes with the role ``editor`` or ``admin``. The
JSON API never reads the web pages' session cookie (no CSRF on JSON routes).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import crud
from api.accounts import Principal, audit, token_principal
from api.crud import AnalysisRecord, DatasetRecord
from api.services import NotFound, Services

__all__ = [
    "Access",
    "AccessDep",
    "ServicesDep",
    "ensure_owned",
    "ensure_readable",
    "get_access",
    "get_services",
    "owner_of",
    "record_action",
    "require_token",
]

#: Prefix of the personal API tokens (:func:`api.accounts.create_api_token`).
PERSONAL_PREFIX = "cs_"

_bearer = HTTPBearer(auto_error=False, description="API token (setting api_token).")


def get_services(request: Request) -> Services:
    """Return the services opened by the application factory."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


#: Who is asking (see :class:`api.accounts.Principal`): ``authenticated`` callers write and
#: read private data; a member only within its organisation.
Access = Principal


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def get_access(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Access:
    """Check the bearer token: the settings' one, or a member's personal token.

    A wrong token is refused (401) when a token is configured; without one configured the
    service is open (the bootstrap administrator for everyone), except for a personal token,
    which always acts for its member.
    """
    token = services.settings.api_token
    if credentials is not None and credentials.credentials.startswith(PERSONAL_PREFIX):
        member = token_principal(services.db.connection(), credentials.credentials)
        if member is None:
            raise _unauthorized("jeton d'API personnel invalide ou révoqué")
        return member
    if token is None:
        return Principal(bootstrap=True)
    if credentials is None:
        return Principal()
    given = credentials.credentials.encode("utf-8", errors="replace")
    if not hmac.compare_digest(given, token.get_secret_value().encode("utf-8")):
        raise _unauthorized("jeton d'API invalide")
    return Principal(bootstrap=True)


AccessDep = Annotated[Access, Depends(get_access)]


def require_token(access: AccessDep) -> None:
    """Refuse a caller without the API token (401), or a member who only reads (403)."""
    if not access.authenticated:
        raise _unauthorized(
            "cette opération demande le jeton d'API (en-tête Authorization: Bearer …)"
        )
    if not access.can("editor"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="votre rôle (lecteur) permet de consulter, pas de modifier : demandez le "
            "rôle éditeur à un administrateur de votre organisation",
        )


def owner_of(access: Access) -> str | None:
    """Return the organisation owning what the caller creates (None: the bootstrap)."""
    return None if access.organisation is None else access.organisation.id


def ensure_readable(
    record: AnalysisRecord | DatasetRecord, access: Access, services: Services | None = None
) -> None:
    """Refuse to show a private resource: 401 without a token, 404 to another organisation.

    An analysis is public only when marked shareable; a dataset only when not private. The
    bootstrap administrator reads everything; a member reads its organisation's resources and
    those shared with it (``services`` gives the shares), and for the others gets the same
    answer as for a resource that does not exist.
    """
    analysis = isinstance(record, AnalysisRecord)
    public = record.shareable if isinstance(record, AnalysisRecord) else not record.private
    if public or access.bootstrap:
        return
    if not access.authenticated:
        raise _unauthorized(
            "ressource privée : envoyez le jeton d'API, ou rendez l'analyse partageable"
        )
    org = access.organisation
    if org is not None and record.organisation_id == org.id:
        return
    kind = "analysis" if analysis else "dataset"
    if (
        org is not None
        and services is not None
        and crud.is_shared(services.db.connection(), kind, record.id, org.id)
    ):
        return
    what = "analyse" if analysis else "jeu de données"
    raise NotFound(f"{what} {record.id!r} introuvable")


def ensure_owned(
    record: AnalysisRecord | DatasetRecord, access: Access, services: Services
) -> None:
    """Refuse to change a resource of another organisation: 403 when readable, else 404.

    The bootstrap administrator changes everything; a member only its organisation's.
    """
    if access.bootstrap:
        return
    org = access.organisation
    if org is not None and record.organisation_id == org.id:
        return
    ensure_readable(record, access, services)  # 401 / 404 when not even readable
    raise HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail="cette ressource appartient à une autre organisation : seule elle peut la "
        "modifier ou la supprimer",
    )


def record_action(
    services: Services,
    access: Access,
    action: str,
    object_kind: str,
    object_id: str,
    **detail: object,
) -> None:
    """Write an audit entry for a member's action (the bootstrap's too, flagged as such)."""
    with services.db.transaction() as conn:
        audit(conn, access, action, object_kind, object_id, **detail)
