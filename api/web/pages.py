"""The first pages of the web workspace: logging in and out, the member's home, its API tokens.

Every form posts with its CSRF token (:mod:`api.web.security`); logging in and out, choosing
an organisation, creating and revoking a token are written to the audit log.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import RedirectResponse

from api import accounts
from api.deps import ServicesDep
from api.web.render import render, stylesheet
from api.web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    LoginFormDep,
    MemberDep,
    SessionFormDep,
    ViewerDep,
    WebRoute,
    clear_session_cookie,
    login_csrf_token,
    set_login_csrf_cookie,
    set_session_cookie,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=WebRoute)

#: Shown for a wrong e-mail and a wrong password alike: it never says which one was wrong.
WRONG_CREDENTIALS = "Adresse ou mot de passe incorrect."
_NO_ORGANISATION = (
    "Ce compte n'est membre d'aucune organisation : demandez à un administrateur de votre "
    "organisation de vous y ajouter."
)
_UNKNOWN_CLIENT = "inconnu"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _ttl_s(services: ServicesDep) -> int:
    return int(services.settings.session_ttl_hours * 3600)


@router.get("/static/site.css")
def site_css() -> Response:
    """Serve the pages' stylesheet (its URL carries its version: cached for a day)."""
    css, _ = stylesheet()
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=86400"})


# --------------------------------------------------------------------------------------------
# logging in and out
# --------------------------------------------------------------------------------------------
def _login_page(
    request: Request,
    *,
    email: str = "",
    message: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    token = login_csrf_token(request)
    response = render(
        request,
        "connexion.html",
        {"title": "Connexion", "email": email, "message": message, "csrf_token": token},
        status_code=status_code,
        headers=headers,
    )
    set_login_csrf_cookie(response, request, token)
    return response


@router.get("/connexion")
def login_form(request: Request, principal: ViewerDep) -> Response:
    """Show the login form (a logged-in person goes to its home)."""
    if principal is not None:
        return _see_other("/espace")
    return _login_page(request)


@router.post("/connexion")
def login(
    request: Request,
    services: ServicesDep,
    _csrf: LoginFormDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Check the e-mail and password (throttled), open a session, go to the member's home.

    A member of several organisations opens its session in the first one and is asked which
    one it works for (``/organisation``) before its home.
    """
    client = request.client.host if request.client is not None else _UNKNOWN_CLIENT
    with services.db.transaction() as conn:
        user, wait_s = accounts.authenticate(conn, email, password, client)
        if wait_s > 0:
            seconds = math.ceil(wait_s)
            return _login_page(
                request,
                email=email,
                message=f"Trop de tentatives : réessayez dans {seconds} s.",
                status_code=429,
                headers={"Retry-After": str(seconds)},
            )
        if user is None:
            return _login_page(request, email=email, message=WRONG_CREDENTIALS, status_code=400)
        memberships = accounts.memberships_of(conn, user.id)
        if not memberships:
            return _login_page(request, email=email, message=_NO_ORGANISATION, status_code=403)
        organisation, role = memberships[0]
        cookie, _ = accounts.create_session(conn, user.id, organisation.id, ttl_s=_ttl_s(services))
        principal = accounts.Principal(user, organisation, role)
        accounts.audit(conn, principal, "login", "user", user.id, client=client)
    response = _see_other("/organisation" if len(memberships) > 1 else "/espace")
    set_session_cookie(response, request, cookie, _ttl_s(services))
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/deconnexion")
def logout(request: Request, services: ServicesDep, principal: SessionFormDep) -> Response:
    """End the session and forget its cookie."""
    with services.db.transaction() as conn:
        accounts.end_session(conn, request.cookies.get(SESSION_COOKIE, ""))
        accounts.audit(conn, principal, "logout", "user", _user_id(principal))
    response = _see_other("/connexion")
    clear_session_cookie(response, request)
    return response


def _user_id(principal: accounts.Principal) -> str | None:
    return None if principal.user is None else principal.user.id


# --------------------------------------------------------------------------------------------
# the organisation a member works for
# --------------------------------------------------------------------------------------------
@router.get("/organisation")
def organisation_form(request: Request, services: ServicesDep, principal: MemberDep) -> Response:
    """Choose the organisation to work for, among the member's."""
    memberships = accounts.memberships_of(services.db.connection(), _user_id(principal) or "")
    return render(
        request,
        "organisation.html",
        {
            "title": "Choisir l'organisation",
            "memberships": memberships,
            "kinds": accounts.ORGANISATION_KINDS,
        },
        principal=principal,
    )


@router.post("/organisation")
def choose_organisation(
    request: Request,
    services: ServicesDep,
    principal: SessionFormDep,
    organisation: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Work for another of the member's organisations: a new session, the old one ended."""
    user_id = _user_id(principal) or ""
    with services.db.transaction() as conn:
        chosen = {o.id: (o, r) for o, r in accounts.memberships_of(conn, user_id)}
        if organisation not in chosen:
            return render(
                request,
                "erreur.html",
                {
                    "title": "Organisation inconnue",
                    "message": "Vous n'êtes pas membre de cette organisation.",
                },
                principal=principal,
                status_code=400,
            )
        accounts.end_session(conn, request.cookies.get(SESSION_COOKIE, ""))
        cookie, _ = accounts.create_session(conn, user_id, organisation, ttl_s=_ttl_s(services))
        org, role = chosen[organisation]
        accounts.audit(
            conn, accounts.Principal(principal.user, org, role), "choose", "organisation", org.id
        )
    response = _see_other("/espace")
    set_session_cookie(response, request, cookie, _ttl_s(services))
    return response


# --------------------------------------------------------------------------------------------
# the member's home and account
# --------------------------------------------------------------------------------------------
@router.get("/espace")
def home(request: Request, services: ServicesDep, principal: MemberDep) -> Response:
    """Show the logged-in member's home: its organisation, its role, where to go."""
    memberships = accounts.memberships_of(services.db.connection(), _user_id(principal) or "")
    return render(
        request,
        "espace.html",
        {
            "title": "Mon espace",
            "several": len(memberships) > 1,
            "kinds": accounts.ORGANISATION_KINDS,
        },
        principal=principal,
    )


def _account_page(
    request: Request,
    services: ServicesDep,
    principal: accounts.Principal,
    *,
    message: str | None = None,
) -> Response:
    conn = services.db.connection()
    user_id = _user_id(principal) or ""
    names = {o.id: o.name for o, _ in accounts.memberships_of(conn, user_id)}
    tokens = accounts.list_api_tokens(conn, user_id)
    return render(
        request,
        "compte.html",
        {"title": "Mon compte", "tokens": tokens, "names": names, "message": message},
        principal=principal,
    )


@router.get("/compte")
def account(
    request: Request, services: ServicesDep, principal: MemberDep, jeton: str = ""
) -> Response:
    """Show the member's account: its personal API tokens (never their secrets)."""
    message = "Le jeton a été révoqué." if jeton == "revoque" else None
    return _account_page(request, services, principal, message=message)


@router.post("/compte/jetons")
def create_token(
    request: Request,
    services: ServicesDep,
    principal: SessionFormDep,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create a personal API token and show its secret, this once."""
    user_id = _user_id(principal) or ""
    organisation_id = "" if principal.organisation is None else principal.organisation.id
    with services.db.transaction() as conn:
        token_id, token = accounts.create_api_token(conn, user_id, organisation_id, name)
        accounts.audit(conn, principal, "create", "api_token", token_id, name=name.strip())
    return render(
        request,
        "jeton_cree.html",
        {"title": "Jeton créé", "token": token, "name": " ".join(name.split()) or "jeton"},
        principal=principal,
        status_code=201,
    )


@router.post("/compte/jetons/{token_id}/revoquer")
def revoke_token(
    request: Request,
    services: ServicesDep,
    principal: SessionFormDep,
    token_id: Annotated[str, Path(max_length=100)],
) -> Response:
    """Revoke one of the member's tokens."""
    with services.db.transaction() as conn:
        revoked = accounts.revoke_api_token(conn, token_id, _user_id(principal) or "")
        if revoked:
            accounts.audit(conn, principal, "revoke", "api_token", token_id)
    if not revoked:
        return render(
            request,
            "erreur.html",
            {"title": "Jeton introuvable", "message": "Ce jeton n'existe pas ou est déjà révoqué."},
            principal=principal,
            status_code=404,
        )
    return _see_other("/compte?jeton=revoque")
