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

__all__ = ["DEFAULT_DATABASE_PATH", "MAX_UPLOAD_LIMIT", "Settings"]

#: Default database file, relative to the working directory.
DEFAULT_DATABASE_PATH = Path("var") / "cartosoins.sqlite3"
#: Highest ``max_upload_bytes`` accepted (1 GiB): the national RPPS and BPE files fit.
MAX_UPLOAD_LIMIT = 1024**3

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
        Largest accepted upload, 1 byte to 1 GiB (:data:`MAX_UPLOAD_LIMIT`); a bigger request
        gets HTTP 413. Uploads are streamed to a temporary file of the data folder, never held
        in memory whole.
    sync_parse_bytes : int
        Uploads up to this size are read in the request (HTTP 201, or 422 naming the row and
        column at fault); bigger ones are read by a background job (HTTP 202: poll
        ``GET /datasets/{id}`` until its ``status`` is ``ready`` or ``failed``). 0 sends every
        upload to the background.
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
        Background threads computing analyses, scenarios and sitings (token holders' lane).
    public_worker_threads : int
        Threads of the anonymous lane (computations started by the public pages when a token is
        configured): they never take a token holder's thread.
    public_queue_max : int
        Anonymous computations queued or running at once; one more gets HTTP 429
        (``queue_full``).
    public_rate_limit, public_rate_window_seconds : int, float
        Anonymous computations one client (remote address) may start per window; one more gets
        HTTP 429 (``rate_limited``) with ``Retry-After``.
    shutdown_grace_seconds : float
        At shutdown (SIGTERM), how long running jobs may take to finish; the rest are marked
        failed (« interrompu par l'arrêt du serveur », with a one-call resubmission) and queued
        ones are resumed at the next start.
    """

    model_config = SettingsConfigDict(
        env_prefix="CARTOSOINS_", env_file=".env", extra="ignore", frozen=True
    )

    database_path: Path = DEFAULT_DATABASE_PATH
    data_dir: Path | None = None
    max_upload_bytes: Annotated[int, Field(gt=0, le=MAX_UPLOAD_LIMIT)] = 50 * 1024 * 1024
    sync_parse_bytes: Annotated[int, Field(ge=0, le=MAX_UPLOAD_LIMIT)] = 4 * 1024 * 1024
    api_token: SecretStr | None = None
    frame_ancestors: str = "'self'"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    worker_threads: Annotated[int, Field(ge=1, le=64)] = 2
    public_worker_threads: Annotated[int, Field(ge=1, le=64)] = 1
    public_queue_max: Annotated[int, Field(ge=1, le=10_000)] = 8
    public_rate_limit: Annotated[int, Field(ge=1, le=100_000)] = 6
    public_rate_window_seconds: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    shutdown_grace_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
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
