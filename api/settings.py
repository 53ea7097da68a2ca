"""Settings of the HTTP service and the CLI: paths, limits, access token, embedding policy.

One pydantic-settings object read from ``CARTOSOINS_*`` environment variables (or a ``.env``
file); every other module receives it, none reads the environment itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.db import database_url

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
        SQLite file (created with its folder); default ``./var/cartosoins.sqlite3``. Used when
        ``database_url`` is not set.
    database_url : str or None
        A SQLAlchemy URL, e.g. ``postgresql://cartosoins@db.example.fr/cartosoins`` (the psycopg
        3 driver is used) or ``sqlite:////srv/cartosoins.sqlite3``. With PostgreSQL, several
        ``cartosoins serve`` and ``cartosoins worker`` processes share the database and its
        job queue, and ``data_dir`` (the folder they share) must be set.
    data_dir : Path or None
        Folder of the stored files (uploads, results, rendered maps); default
        ``<database folder>/artefacts`` with SQLite. Every process of a deployment must see the
        same folder (a local disk, or a network file system with atomic renames).
    db_pool_size : int
        PostgreSQL connections each process keeps open (twice as many under a burst).
    job_lease_seconds : float
        Shared queue (PostgreSQL): a worker renews its claim on a job every third of this; a job
        whose worker stopped renewing (the process died) is taken over after this long.
    job_max_attempts : int
        Shared queue: claims of one job in all; a job that killed its worker that many times
        fails, with its one-call retry.
    queue_poll_seconds : float
        Shared queue: longest wait of an idle worker before it looks at the queue again.
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
    session_ttl_hours : float
        Lifetime of a web session (the ``cartosoins_session`` cookie's ``Max-Age`` and the
        session's expiry in the database), 1 hour to 30 days; default 12 hours (a working day).
    """

    model_config = SettingsConfigDict(
        env_prefix="CARTOSOINS_", env_file=".env", extra="ignore", frozen=True
    )

    database_path: Path = DEFAULT_DATABASE_PATH
    database_url: str | None = None
    data_dir: Path | None = None
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    job_lease_seconds: Annotated[float, Field(ge=1, le=3600)] = 30.0
    job_max_attempts: Annotated[int, Field(ge=1, le=10)] = 2
    queue_poll_seconds: Annotated[float, Field(gt=0, le=60)] = 0.5
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
    session_ttl_hours: Annotated[float, Field(ge=1, le=720)] = 12.0

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

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return database_url(value.strip())
        except Exception as exc:
            raise ValueError(
                f"adresse de base de données inutilisable ({exc}) ; attendu par exemple "
                "postgresql://utilisateur@machine/base ou sqlite:////chemin/base.sqlite3"
            ) from exc

    @model_validator(mode="after")
    def _check_shared_folder(self) -> Settings:
        if self.database_is_shared and self.data_dir is None:
            raise ValueError(
                "CARTOSOINS_DATA_DIR (data_dir) est obligatoire avec une base PostgreSQL : le "
                "dossier des fichiers que partagent tous les processus serveurs et workers"
            )
        return self

    @property
    def database_target(self) -> Path | str:
        """Where the database is: ``database_url`` when set, else the SQLite ``database_path``."""
        return self.database_url if self.database_url is not None else self.database_path

    @property
    def database_is_shared(self) -> bool:
        """Whether the database is a server several processes share (PostgreSQL)."""
        return self.database_url is not None and self.database_url.startswith("postgresql")

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
        if self.data_dir is not None:
            return self.data_dir
        if self.database_url is not None and self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///")).parent / "artefacts"
        return self.database_path.parent / "artefacts"

    @property
    def road_cache_dir(self) -> Path:
        """Folder of the road graphs built from OSM extracts (rebuilt when a file changes)."""
        return self.artefacts_dir.parent / "road-cache"

    @property
    def token_required(self) -> bool:
        """Whether write and private-data endpoints ask for the bearer token."""
        return self.api_token is not None
