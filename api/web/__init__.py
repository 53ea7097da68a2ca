"""The French web pages of cartosoins: the workspace of partner organisations (issue #13).

``router`` holds the pages (``include_in_schema=False``); :mod:`api.web.security` gives the
session and CSRF dependencies that every page and form of the later routers use too.
"""

from __future__ import annotations

from api.web.pages import router
from api.web.security import LoginFormDep, MemberDep, SessionFormDep, ViewerDep, WebRoute

__all__ = ["LoginFormDep", "MemberDep", "SessionFormDep", "ViewerDep", "WebRoute", "router"]
