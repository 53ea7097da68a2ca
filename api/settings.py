"""Settings of the HTTP service and the CLI: paths, limits, access token, embedding policy.

One pydantic-settings object read from ``CARTOSOINS_*`` environment variables (or a ``.env``
file); every other module receives it, none reads the environment itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_DATABASE_PATH", "Settings"]

#: Default database file, relative to the working directory.
DEFAULT_DATABASE_PATH = Path("var") / "cartosoins.sqlite3"

# one CSP source expression: a keyword ('self', 'none'), a scheme, or a host with optional
# scheme, wildcard and port; no ';' or ',' that would end the directive or the header
_CSP_SOURCE = re.compile(
    r"^(?:'self'|'none'|[a-z][a-z0-9+.-]*:|(?:[a-z][a-z0-9+.-]*://)?(?:\*\.)?"
    r"[a-z0-9.-]+(?::(?:\d{1,5}|\*))?(?:/[\w./-]*)?)$",
    re.IGNORECASE,
)


class Settings(BaseSettings):
    """Configuration of cartosoins' service (environment variables ``CARTOSOINS_<NAME>``).

    Attributes
    ----------
    database_path : Path
        SQLite file (created with its folder); default ``./var/cartosoins.sqlite3``.
    data_dir : Path or None
        Folder of the stored files (uploads, results, rendered maps); default
        ``<database folder>/artefacts``.
    max_upload_bytes : int
        Largest accepted upload; a bigger request gets HTTP 413.
    api_token : SecretStr or None
        Bearer token required by write and private-data endpoints; None leaves the service
        open (meant for a single user on 127.0.0.1).
    frame_ancestors : str
        ``Content-Security-Policy: frame-ancestors`` of the embeddable maps (space-separated
        sources, e.g. ``'self' https://www.example.fr``).
    host, port : str, int
        Where ``cartosoins serve`` listens.
    osm_path : Path or None
        An OpenStreetMap extract (.osm.pbf, .osm, .osm.gz) the server offers for car travel
        times (``"travel": "road"`` in an analysis without an uploaded ``road_dataset``).
    worker_threads : int
        Background threads computing analyses, scenarios and sitings.
    """

    model_config = SettingsConfigDict(
        env_prefix="CARTOSOINS_", env_file=".env", extra="ignore", frozen=True
    )

    database_path: Path = DEFAULT_DATABASE_PATH
    data_dir: Path | None = None
    max_upload_bytes: Annotated[int, Field(gt=0)] = 50 * 1024 * 1024
    api_token: SecretStr | None = None
    frame_ancestors: str = "'self'"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    worker_threads: Annotated[int, Field(ge=1, le=64)] = 2
    osm_path: Path | None = None

    @field_validator("frame_ancestors")
    @classmethod
    def _check_frame_ancestors(cls, value: str) -> str:
        sources = value.split()
        if not sources:
            raise ValueError("frame_ancestors is empty; use 'none' to forbid every embedding")
        bad = [s for s in sources if not _CSP_SOURCE.match(s)]
        if bad:
            raise ValueError(
                f"frame_ancestors has invalid source(s) {bad}; expected CSP sources such as "
                "'self', 'none' or https://example.fr separated by spaces"
            )
        return " ".join(sources)

    @field_validator("api_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("api_token must have at least 16 characters")
        return value

    @property
    def artefacts_dir(self) -> Path:
        """Folder of the stored files."""
        return (
            self.data_dir if self.data_dir is not None else self.database_path.parent / "artefacts"
        )

    @property
    def road_cache_dir(self) -> Path:
        """Folder of the road graphs built from OSM extracts (rebuilt when a file changes)."""
        return self.artefacts_dir.parent / "road-cache"

    @property
    def token_required(self) -> bool:
        """Whether write and private-data endpoints ask for the bearer token."""
        return self.api_token is not None
