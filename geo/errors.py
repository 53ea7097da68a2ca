"""Exception hierarchy of the cartosoins engine.

Every error raised for bad user input derives from :class:`CartosoinsError`; the leaves also
subclass ``ValueError`` or ``KeyError`` so generic callers can catch them the usual way. The API
maps this hierarchy to HTTP 4xx responses in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CartosoinsError",
    "DataValidationError",
    "InputFormatError",
    "ReferenceDataError",
    "UnknownCodeError",
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
