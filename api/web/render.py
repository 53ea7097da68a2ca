"""Rendering of the French pages: one Jinja2 environment (autoescape on) and the stylesheet.

Every template extends ``base.html``; :func:`render` gives it the logged-in person (or
nobody), the French name of the role and the stylesheet's version.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, tzinfo
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from api.accounts import Principal

__all__ = ["ROLE_LABELS", "render", "stylesheet"]

#: French names of the roles, as the pages show them.
ROLE_LABELS: dict[str, str] = {
    "reader": "lecteur",
    "editor": "éditeur",
    "admin": "administrateur",
}
_PACKAGE = resources.files("api.web")
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(_PACKAGE / "templates")),
    autoescape=True,  # every value is HTML-escaped unless a template says otherwise
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["role"] = lambda role: ROLE_LABELS.get(str(role), str(role))


def _paris() -> tzinfo | None:
    try:
        return ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:  # pragma: no cover - a system without time zone data
        return None


_PARIS = _paris()


def _date_fr(value: str | None) -> str:
    """Write an ISO 8601 instant as a person in France reads it: ``14/03/2025 à 09:05``."""
    if not value:
        return ""
    moment = datetime.fromisoformat(str(value))
    if _PARIS is not None:
        moment = moment.astimezone(_PARIS)
    return moment.strftime("%d/%m/%Y à %H:%M")


_ENV.filters["date_fr"] = _date_fr
_TEMPLATES = Jinja2Templates(env=_ENV)


@cache
def stylesheet() -> tuple[bytes, str]:
    """Return the stylesheet and its version (for ``?v=``: a new file is fetched at once)."""
    css = (_PACKAGE / "static" / "site.css").read_bytes()
    return css, hashlib.sha256(css).hexdigest()[:12]


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render a page for ``principal`` (None: nobody logged in)."""
    values: dict[str, Any] = {
        "principal": principal,
        "css_version": stylesheet()[1],
        "title": "cartosoins",
        "message": None,
    }
    values.update(context or {})
    return _TEMPLATES.TemplateResponse(
        request, template, values, status_code=status_code, headers=headers
    )
