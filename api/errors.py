"""The one place where errors become HTTP responses: engine errors → 4xx, with their message.

The engine's messages name the file, row, column or code at fault; they are passed on as
``detail``, with a machine-readable ``error`` kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.services import Conflict, NotFound
from geo.errors import (
    CartosoinsError,
    DataValidationError,
    InputFormatError,
    ReferenceDataError,
    UnknownCodeError,
)

__all__ = ["STATUS_OF", "install_error_handlers"]

#: HTTP status and error kind of each exception class (the most specific class wins).
STATUS_OF: dict[type[Exception], tuple[int, str]] = {
    UnknownCodeError: (404, "unknown_code"),
    InputFormatError: (422, "input_format"),
    DataValidationError: (422, "invalid_data"),
    ReferenceDataError: (503, "reference_data"),
    CartosoinsError: (422, "invalid_request"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
}


def _handler(
    status_code: int, kind: str
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        content: dict[str, object] = {"detail": str(exc), "error": kind}
        if isinstance(exc, UnknownCodeError):
            content["kind"] = exc.kind
            content["codes"] = exc.codes
        return JSONResponse(content, status_code=status_code)

    return handle


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers of :data:`STATUS_OF` on ``app``."""
    for exc_class, (status_code, kind) in STATUS_OF.items():
        app.add_exception_handler(exc_class, _handler(status_code, kind))
