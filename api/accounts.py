"""Organisations and people: accounts, roles, sessions, personal API tokens, login throttling.

Partners of a territory (a pays, a communauté de communes, the ARS, a URPS…) each have an
organisation; people have an account (e-mail and password) and a role in one or more of them:
``reader`` (sees what the organisation owns or was shared), ``editor`` (also uploads, runs,
shares and publishes) or ``admin`` (also manages members and deletes).

No secret is stored: passwords as argon2id hashes (``argon2-cffi``, its default parameters,
RFC 9106), session cookies and personal API tokens as SHA-256 digests of 256-bit random values
(:func:`new_secret`), so a copy of the database lets nobody log in. Wrong passwords are counted
in the database (every server process sees them): after :data:`FREE_FAILURES` failures in
:data:`FAILURE_WINDOW_S` for one e-mail or one client address, each further attempt waits
longer (5 s, 10 s, 20 s … up to :data:`MAX_DELAY_S`), answered 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping

from api.crud import new_id, now
from api.db import Executor, lock
from api.tables import (
    api_tokens,
    audit_log,
    login_failures,
    memberships,
    organisations,
    sessions,
    users,
)
from geo.errors import DataValidationError

__all__ = [
    "FAILURE_WINDOW_S",
    "FIRST_DELAY_S",
    "FREE_FAILURES",
    "MAX_DELAY_S",
    "ORGANISATION_KINDS",
    "ROLES",
    "AccountConflict",
    "Organisation",
    "Principal",
    "Role",
    "User",
    "add_member",
    "audit",
    "authenticate",
    "create_api_token",
    "create_organisation",
    "create_session",
    "create_user",
    "digest",
    "end_session",
    "find_organisation",
    "find_user",
    "hash_password",
    "list_api_tokens",
    "list_members",
    "list_organisations",
    "login_delay",
    "memberships_of",
    "new_secret",
    "normalise_email",
    "revoke_api_token",
    "session_principal",
    "token_principal",
]

Role = Literal["reader", "editor", "admin"]
#: Roles, from the least to the most rights.
ROLES: tuple[Role, ...] = ("reader", "editor", "admin")
#: Kinds of partner organisations and their French names.
ORGANISATION_KINDS: dict[str, str] = {
    "communaute_de_communes": "communauté de communes ou d'agglomération",
    "pays": "pays ou PETR",
    "departement": "conseil départemental",
    "region": "région",
    "ars": "agence régionale de santé",
    "assurance_maladie": "Assurance Maladie (CPAM)",
    "urps": "URPS",
    "cpts": "CPTS",
    "autre": "autre partenaire",
}
#: Wrong passwords allowed per e-mail or client address in the window before slowing down.
FREE_FAILURES = 5
#: Window of the count of wrong passwords (seconds).
FAILURE_WINDOW_S = 15 * 60
#: Wait imposed after the first failure beyond the free ones (seconds); it doubles after each.
FIRST_DELAY_S = 5.0
#: Longest wait imposed between two attempts (seconds).
MAX_DELAY_S = 15 * 60
#: Shortest password accepted (characters): a passphrase rather than a word (ANSSI, CNIL).
MIN_PASSWORD = 12
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")
_HASHER = PasswordHasher()
# verified when the e-mail is unknown, so that a wrong e-mail costs the time of a wrong password
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class AccountConflict(DataValidationError):
    """A name or an e-mail already taken, a membership that exists (HTTP 409)."""


@dataclass(frozen=True)
class Organisation:
    """A partner organisation."""

    id: str
    name: str
    kind: str
    created_at: str

    @classmethod
    def from_row(cls, row: RowMapping) -> Organisation:
        """Build from an ``organisations`` row."""
        return cls(row["id"], row["name"], row["kind"], row["created_at"])


@dataclass(frozen=True)
class User:
    """A person's account (never its password hash)."""

    id: str
    email: str
    name: str
    active: bool
    created_at: str

    @classmethod
    def from_row(cls, row: RowMapping) -> User:
        """Build from a ``users`` row."""
        return cls(row["id"], row["email"], row["name"], bool(row["active"]), row["created_at"])


@dataclass(frozen=True)
class Principal:
    """Who is asking: a member acting for one organisation, the bootstrap administrator, nobody.

    ``bootstrap`` is the settings' single API token (or an open service without one): it
    sees and does everything, as before organisations existed.
    """

    user: User | None = None
    organisation: Organisation | None = None
    role: Role | None = None
    bootstrap: bool = False
    csrf_token: str | None = None

    @property
    def authenticated(self) -> bool:
        """Whether the caller is someone (a person or the bootstrap administrator)."""
        return self.bootstrap or self.user is not None

    def can(self, role: Role) -> bool:
        """Whether the caller has at least ``role`` in its organisation."""
        if self.bootstrap:
            return True
        if self.role is None:
            return False
        return ROLES.index(self.role) >= ROLES.index(role)


# --------------------------------------------------------------------------------------------
# secrets
# --------------------------------------------------------------------------------------------
def new_secret() -> str:
    """Return a new random secret: 256 bits, URL-safe (a cookie, a token, a link)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """Return the SHA-256 hex digest of a secret (what the database keeps)."""
    return hashlib.sha256(secret.encode("utf-8", errors="replace")).hexdigest()


def hash_password(password: str) -> str:
    """Hash a password with argon2id; refuse (French) one too short or too long."""
    if len(password) < MIN_PASSWORD:
        raise DataValidationError(
            f"mot de passe trop court : {MIN_PASSWORD} caractères au moins (une phrase de "
            "passe plutôt qu'un mot)"
        )
    if len(password) > 1024:
        raise DataValidationError("mot de passe trop long : 1 024 caractères au plus")
    return _HASHER.hash(password)


def normalise_email(email: str) -> str:
    """Return an e-mail address trimmed and lower-cased; refuse (French) a malformed one."""
    value = email.strip().lower()
    if not _EMAIL.match(value):
        raise DataValidationError(f"adresse électronique invalide : {email!r}")
    return value


# --------------------------------------------------------------------------------------------
# organisations, people, memberships
# --------------------------------------------------------------------------------------------
def create_organisation(conn: Connection, name: str, kind: str) -> Organisation:
    """Create an organisation; its name is unique (a conflict otherwise)."""
    name = " ".join(name.split())
    if not 2 <= len(name) <= 200:
        raise DataValidationError("nom d'organisation : de 2 à 200 caractères")
    if kind not in ORGANISATION_KINDS:
        known = ", ".join(ORGANISATION_KINDS)
        raise DataValidationError(f"type d'organisation inconnu : {kind!r} (attendu : {known})")
    lock(conn, f"organisation-name:{name.casefold()}")
    if find_organisation(conn, name) is not None:
        raise AccountConflict(f"une organisation s'appelle déjà « {name} »")
    record = Organisation(new_id("org"), name, kind, now())
    conn.execute(
        insert(organisations).values(
            id=record.id, name=record.name, kind=record.kind, created_at=record.created_at
        )
    )
    return record


def find_organisation(conn: Executor, id_or_name: str) -> Organisation | None:
    """Return the organisation of this id, or of this name (case-insensitive), if any."""
    row = (
        conn.execute(
            select(organisations).where(
                (organisations.c.id == id_or_name)
                | (func.lower(organisations.c.name) == id_or_name.strip().lower())
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else Organisation.from_row(row)


def list_organisations(conn: Executor) -> list[Organisation]:
    """Every organisation, by name."""
    rows = conn.execute(select(organisations).order_by(organisations.c.name)).mappings()
    return [Organisation.from_row(r) for r in rows]


def create_user(conn: Connection, email: str, name: str, password: str) -> User:
    """Create an account; the e-mail is unique (a conflict otherwise)."""
    address = normalise_email(email)
    name = " ".join(name.split())
    if not 1 <= len(name) <= 200:
        raise DataValidationError("nom de la personne : de 1 à 200 caractères")
    password_hash = hash_password(password)
    lock(conn, f"user-email:{address}")
    if find_user(conn, address) is not None:
        raise AccountConflict(f"un compte existe déjà pour {address}")
    record = User(new_id("usr"), address, name, True, now())
    conn.execute(
        insert(users).values(
            id=record.id,
            email=record.email,
            name=record.name,
            password_hash=password_hash,
            active=1,
            created_at=record.created_at,
        )
    )
    return record


def find_user(conn: Executor, id_or_email: str) -> User | None:
    """Return the account of this id or e-mail, if any."""
    row = (
        conn.execute(
            select(users).where(
                (users.c.id == id_or_email) | (users.c.email == id_or_email.strip().lower())
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else User.from_row(row)


def add_member(conn: Connection, user_id: str, organisation_id: str, role: Role) -> None:
    """Give a person a role in an organisation (replacing the former role)."""
    if role not in ROLES:
        raise DataValidationError(f"rôle inconnu : {role!r} (attendu : {', '.join(ROLES)})")
    conn.execute(
        delete(memberships).where(
            memberships.c.user_id == user_id, memberships.c.organisation_id == organisation_id
        )
    )
    conn.execute(
        insert(memberships).values(
            user_id=user_id, organisation_id=organisation_id, role=role, created_at=now()
        )
    )


def memberships_of(conn: Executor, user_id: str) -> list[tuple[Organisation, Role]]:
    """Return the organisations of a person and its role in each, by organisation name."""
    rows = conn.execute(
        select(organisations, memberships.c.role)
        .join(memberships, memberships.c.organisation_id == organisations.c.id)
        .where(memberships.c.user_id == user_id)
        .order_by(organisations.c.name)
    ).mappings()
    return [(Organisation.from_row(r), r["role"]) for r in rows]


def list_members(conn: Executor, organisation_id: str) -> list[tuple[User, Role]]:
    """Return the people of an organisation and their roles, by name."""
    rows = conn.execute(
        select(users, memberships.c.role)
        .join(memberships, memberships.c.user_id == users.c.id)
        .where(memberships.c.organisation_id == organisation_id)
        .order_by(users.c.name, users.c.email)
    ).mappings()
    return [(User.from_row(r), r["role"]) for r in rows]


def _role_in(conn: Executor, user_id: str, organisation_id: str) -> Role | None:
    row = conn.execute(
        select(memberships.c.role).where(
            memberships.c.user_id == user_id, memberships.c.organisation_id == organisation_id
        )
    ).first()
    return None if row is None else row[0]


# --------------------------------------------------------------------------------------------
# logging in: throttled password checks, sessions
# --------------------------------------------------------------------------------------------
def login_delay(conn: Executor, keys: list[str], now_s: float) -> float:
    """Seconds still to wait before the next attempt for these keys (0: go ahead).

    With n ≥ :data:`FREE_FAILURES` wrong passwords in the window, the next attempt waits
    ``FIRST_DELAY_S * 2 ** (n - FREE_FAILURES)`` seconds after the last failure (5 s, 10 s,
    20 s …, at most :data:`MAX_DELAY_S`).
    """
    wait = 0.0
    since = now_s - FAILURE_WINDOW_S
    for key in keys:
        row = conn.execute(
            select(func.count(), func.max(login_failures.c.at)).where(
                login_failures.c.key == key, login_failures.c.at > since
            )
        ).one()
        values: tuple[Any, ...] = tuple(row)
        count, last = int(values[0]), values[1]
        if count >= FREE_FAILURES and last is not None:
            delay = min(MAX_DELAY_S, FIRST_DELAY_S * 2.0 ** (count - FREE_FAILURES))
            wait = max(wait, float(last) + delay - now_s)
    return max(0.0, wait)


def authenticate(
    conn: Connection, email: str, password: str, client: str, *, now_s: float | None = None
) -> tuple[User | None, float]:
    """Check an e-mail and password, throttled per e-mail and per client address.

    Returns
    -------
    (User or None, float)
        The account when the password is right (and the account active), and the seconds
        the caller must wait before trying again (> 0: refused without checking).
    """
    now_s = time.time() if now_s is None else now_s
    address = email.strip().lower()
    keys = [f"email:{address}", f"client:{client}"]
    lock(conn, *keys)
    wait = login_delay(conn, keys, now_s)
    if wait > 0:
        return None, wait
    row = (
        conn.execute(select(users.c.id, users.c.password_hash).where(users.c.email == address))
        .mappings()
        .first()
    )
    stored = _DUMMY_HASH if row is None else row["password_hash"]
    try:
        ok = _HASHER.verify(stored, password) and row is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        conn.execute(insert(login_failures), [{"key": k, "at": now_s} for k in keys])
        conn.execute(delete(login_failures).where(login_failures.c.at < now_s - FAILURE_WINDOW_S))
        return None, 0.0
    assert row is not None
    if _HASHER.check_needs_rehash(stored):
        conn.execute(
            update(users)
            .where(users.c.id == row["id"])
            .values(password_hash=_HASHER.hash(password))
        )
    conn.execute(delete(login_failures).where(login_failures.c.key == keys[0]))
    user = find_user(conn, row["id"])
    return (user if user is not None and user.active else None), 0.0


def create_session(
    conn: Connection, user_id: str, organisation_id: str, *, ttl_s: float
) -> tuple[str, str]:
    """Open a session for a member of an organisation; return (cookie value, CSRF token)."""
    if _role_in(conn, user_id, organisation_id) is None:
        raise DataValidationError("cette personne n'est pas membre de cette organisation")
    token, csrf = new_secret(), new_secret()
    conn.execute(
        insert(sessions).values(
            token_hash=digest(token),
            user_id=user_id,
            organisation_id=organisation_id,
            csrf_token=csrf,
            created_at=now(),
            expires_at=time.time() + ttl_s,
        )
    )
    return token, csrf


def session_principal(conn: Executor, token: str) -> Principal | None:
    """Return who holds this session cookie (None: unknown, expired, or no longer a member)."""
    row = (
        conn.execute(select(sessions).where(sessions.c.token_hash == digest(token)))
        .mappings()
        .first()
    )
    if row is None or float(row["expires_at"]) < time.time():
        return None
    principal = _principal(conn, row["user_id"], row["organisation_id"])
    if principal is None:
        return None
    return Principal(
        principal.user, principal.organisation, principal.role, csrf_token=row["csrf_token"]
    )


def end_session(conn: Connection, token: str) -> None:
    """Log out: forget the session."""
    conn.execute(delete(sessions).where(sessions.c.token_hash == digest(token)))


def _principal(conn: Executor, user_id: str, organisation_id: str) -> Principal | None:
    user = find_user(conn, user_id)
    organisation = find_organisation(conn, organisation_id)
    role = _role_in(conn, user_id, organisation_id)
    if user is None or not user.active or organisation is None or role is None:
        return None
    return Principal(user, organisation, role)


# --------------------------------------------------------------------------------------------
# personal API tokens
# --------------------------------------------------------------------------------------------
def create_api_token(
    conn: Connection, user_id: str, organisation_id: str, name: str
) -> tuple[str, str]:
    """Create a personal API token acting for a member; return (id, token shown once)."""
    if _role_in(conn, user_id, organisation_id) is None:
        raise DataValidationError("cette personne n'est pas membre de cette organisation")
    name = " ".join(name.split()) or "jeton"
    token_id, token = new_id("tok"), "cs_" + new_secret()
    conn.execute(
        insert(api_tokens).values(
            id=token_id,
            token_hash=digest(token),
            user_id=user_id,
            organisation_id=organisation_id,
            name=name[:200],
            created_at=now(),
        )
    )
    return token_id, token


def token_principal(conn: Executor, token: str) -> Principal | None:
    """Return who holds this personal API token (None: unknown or revoked)."""
    row = (
        conn.execute(
            select(api_tokens).where(
                api_tokens.c.token_hash == digest(token), api_tokens.c.revoked_at.is_(None)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return _principal(conn, row["user_id"], row["organisation_id"])


def list_api_tokens(conn: Executor, user_id: str) -> list[dict[str, Any]]:
    """Return a person's tokens (never the secret): id, name, organisation, dates."""
    rows = conn.execute(
        select(
            api_tokens.c.id,
            api_tokens.c.name,
            api_tokens.c.organisation_id,
            api_tokens.c.created_at,
            api_tokens.c.last_used_at,
            api_tokens.c.revoked_at,
        )
        .where(api_tokens.c.user_id == user_id)
        .order_by(api_tokens.c.created_at)
    ).mappings()
    return [dict(r) for r in rows]


def revoke_api_token(conn: Connection, token_id: str, user_id: str) -> bool:
    """Revoke one of a person's tokens; return whether it was live."""
    result = conn.execute(
        update(api_tokens)
        .where(
            api_tokens.c.id == token_id,
            api_tokens.c.user_id == user_id,
            api_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now())
    )
    return int(getattr(result, "rowcount", 0)) > 0


# --------------------------------------------------------------------------------------------
# audit log
# --------------------------------------------------------------------------------------------
def audit(
    conn: Connection,
    principal: Principal,
    action: str,
    object_kind: str,
    object_id: str | None,
    **detail: Any,
) -> None:
    """Record who did what (created, shared, published, deleted…) to which object.

    ``detail`` holds names and counts, never a practitioner's name or identifier.
    """
    conn.execute(
        insert(audit_log).values(
            id=new_id("aud"),
            at=now(),
            user_id=None if principal.user is None else principal.user.id,
            organisation_id=None if principal.organisation is None else principal.organisation.id,
            action=action,
            object_kind=object_kind,
            object_id=object_id,
            detail_json=json.dumps(
                {"bootstrap": principal.bootstrap, **detail}, ensure_ascii=False, sort_keys=True
            ),
        )
    )
