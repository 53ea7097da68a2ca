"""Exception hierarchy of the cartosoins engine.

Every error raised for bad user input derives from :class:`CartosoinsError`; the leaves also
subclass ``ValueError`` or ``KeyError`` so generic callers can catch them the usual way. The API
maps this hierarchy to HTTP 4xx responses in one place.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "CartosoinsError",
    "DataValidationError",
    "InputFormatError",
    "ReferenceDataError",
    "UnknownCodeError",
    "collect_data_warnings",
    "warn_data",
]


class CartosoinsError(Exception):
    """Base class of every error the engine raises on purpose."""


class DataValidationError(CartosoinsError, ValueError):
    """Input data are inconsistent: missing column, bad value, missing CRS, duplicates."""


class InputFormatError(DataValidationError):
    """A file could not be read in the expected format (names the file, row and column)."""


class ReferenceDataError(CartosoinsError, RuntimeError):
    """The embedded reference data are missing or corrupt."""


class UnknownCodeError(CartosoinsError, KeyError):
    """One or more territory codes (commune, département, EPCI) do not exist."""

    def __init__(self, kind: str, codes: Iterable[str]) -> None:
        self.kind = kind
        self.codes = sorted({str(c) for c in codes})
        shown = ", ".join(repr(c) for c in self.codes[:20])
        more = f" (and {len(self.codes) - 20} more)" if len(self.codes) > 20 else ""
        super().__init__(f"unknown {kind} code(s): {shown}{more}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


#: Where :func:`warn_data` sends its messages in the current thread or task (None: warnings).
_COLLECTOR: ContextVar[list[str] | None] = ContextVar("cartosoins_data_warnings", default=None)


def warn_data(message: str, category: type[Warning] = UserWarning, stacklevel: int = 2) -> None:
    """Report a recoverable data problem.

    A plain ``warnings.warn`` (``stacklevel`` counted from the caller of this function), unless
    the current thread or task runs inside :func:`collect_data_warnings`: then the message is
    collected there. Unlike ``warnings.catch_warnings``, which swaps the process-wide filters,
    this is safe when several threads analyse at once (the service's jobs).
    """
    sink = _COLLECTOR.get()
    if sink is not None:
        sink.append(message)
        return
    warnings.warn(message, category, stacklevel=stacklevel + 1)


@contextmanager
def collect_data_warnings() -> Iterator[list[str]]:
    """Collect the messages of :func:`warn_data` raised in this thread or task.

    Examples
    --------
    >>> with collect_data_warnings() as caught:
    ...     warn_data("3 points sans route")
    >>> caught
    ['3 points sans route']
    """
    caught: list[str] = []
    token = _COLLECTOR.set(caught)
    try:
        yield caught
    finally:
        _COLLECTOR.reset(token)
