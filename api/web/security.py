"""Who is logged in on the web pages, and the CSRF check every form goes through.

A session is the ``cartosoins_session`` cookie (HttpOnly, SameSite=Lax); each session has its
CSRF token, which every form of a logged-in page carries in a hidden ``csrf_token`` field
(:data:`SessionFormDep`). The login form, posted before any session exists, uses a
double-submit cookie instead (``cartosoins_csrf``, :data:`LoginFormDep`). A refused form is
answered 403 with a French page; a page that needs a session sends nobody to ``/connexion``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from api.accounts import Principal, new_secret, session_principal
from api.deps import ServicesDep
from api.web.render import render

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "SESSION_COOKIE",
    "FormRejected",
    "LoginFormDep",
    "LoginRequired",
    "MemberDep",
    "PageError",
    "SessionFormDep",
    "ViewerDep",
    "WebRoute",
    "clear_session_cookie",
    "current_principal",
    "login_csrf_token",
    "require_login_form",
    "require_member",
    "require_session_form",
    "set_login_csrf_cookie",
    "set_session_cookie",
]

#: Cookie of a logged-in session (its value is the session secret).
SESSION_COOKIE = "cartosoins_session"
#: Double-submit cookie of the login form (no session yet).
CSRF_COOKIE = "cartosoins_csrf"
#: Hidden field of every form holding its CSRF token.
CSRF_FIELD = "csrf_token"
_LOGIN_CSRF_MAX_AGE_S = 2 * 3600
_FORM_REJECTED = "Formulaire expiré ou invalide : rechargez la page."


class PageError(Exception):
    """An answer a page dependency gives instead of the page (see :class:`WebRoute`)."""

    def response(self, request: Request) -> Response:
        """Return the response sent in place of the page."""
        raise NotImplementedError


class LoginRequired(PageError):
    """Nobody is logged in: 303 to the login page."""

    def response(self, request: Request) -> Response:
        """Redirect to ``/connexion``."""
        return RedirectResponse("/connexion", status_code=303)


class FormRejected(PageError):
    """A form without its valid CSRF token: 403, French page."""

    def response(self, request: Request) -> Response:
        """Return the French 403 page."""
        return render(
            request,
            "erreur.html",
            {"title": "Formulaire refusé", "message": _FORM_REJECTED},
            status_code=403,
        )


class WebRoute(APIRoute):
    """Route class of the pages: a :class:`PageError` raised by a dependency becomes its page.

    ``APIRouter(route_class=WebRoute)``: the later routers of pages (uploads, analyses,
    sharing) use it too, so the 303 and 403 answers stay HTML and French.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler (dependencies included) to turn page errors into pages."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except PageError as exc:
                response = exc.response(request)
            # pages of a person's session are never kept by a browser or a proxy
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return page_handler


def _same(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _secure(request: Request) -> bool:
    # behind a TLS proxy, uvicorn --proxy-headers sets the scheme from X-Forwarded-Proto
    return request.url.scheme == "https"


# --------------------------------------------------------------------------------------------
# sessions
# --------------------------------------------------------------------------------------------
def current_principal(request: Request, services: ServicesDep) -> Principal | None:
    """Return who holds the session cookie (None: nobody, or an ended session)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    return session_principal(services.db.connection(), cookie)


ViewerDep = Annotated[Principal | None, Depends(current_principal)]


def require_member(principal: ViewerDep) -> Principal:
    """Return the logged-in member; send nobody to ``/connexion`` (303)."""
    if principal is None:
        raise LoginRequired()
    return principal


MemberDep = Annotated[Principal, Depends(require_member)]


async def _form_field(request: Request, name: str) -> str | None:
    # Starlette keeps the parsed form: the handler's Form() parameters read it again for free
    value = (await request.form()).get(name)
    return value if isinstance(value, str) else None


async def require_session_form(request: Request, principal: MemberDep) -> Principal:
    """Return the member posting a form with its session's CSRF token (else 403).

    Use it as the dependency of every POST of a logged-in page::

        @router.post("/compte/jetons")
        def create_token(principal: SessionFormDep, ...) -> Response: ...
    """
    if not _same(await _form_field(request, CSRF_FIELD), principal.csrf_token):
        raise FormRejected()
    return principal


SessionFormDep = Annotated[Principal, Depends(require_session_form)]


def set_session_cookie(response: Response, request: Request, cookie: str, max_age_s: int) -> None:
    """Give the browser its session cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=max_age_s,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Make the browser forget its session cookie."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=_secure(request), httponly=True, samesite="lax"
    )


# --------------------------------------------------------------------------------------------
# the login form: a double-submit cookie
# --------------------------------------------------------------------------------------------
def login_csrf_token(request: Request) -> str:
    """Return the login form's CSRF token: the ``cartosoins_csrf`` cookie, else a new one."""
    return request.cookies.get(CSRF_COOKIE) or new_secret()


def set_login_csrf_cookie(response: Response, request: Request, token: str) -> None:
    """Put the login form's token in its cookie (the form carries it in its hidden field)."""
    response.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=_LOGIN_CSRF_MAX_AGE_S,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


async def require_login_form(request: Request) -> str:
    """Check the login form's hidden token against its cookie (else 403); return it."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not _same(await _form_field(request, CSRF_FIELD), cookie):
        raise FormRejected()
    return cookie or ""


LoginFormDep = Annotated[str, Depends(require_login_form)]
