"""Bounds on anonymous computation: the dependency that tells a caller's lane, and the 429.

With a token configured, a computation started without it (the public pages ``/cartes/…``)
runs in the *public* lane of the :class:`~api.jobs.JobRunner`: its own threads (a token
holder's job never waits behind it), at most ``public_queue_max`` queued or running, at most
``public_rate_limit`` started per client (remote address) per ``public_rate_window_seconds``.
Beyond, :class:`~api.jobs.LimitExceeded`: HTTP 429 with ``Retry-After`` and the body
``{"detail": …, "error": "rate_limited"}`` (or ``"queue_full"``; the ``error`` attribute is
read by the HTTP error handler of :mod:`api.errors`). Without a configured token everyone is a
token holder: one lane, no limits (a single user on 127.0.0.1).

A route that may start a computation takes ``caller: CallerDep`` and hands ``caller.lane`` and
``caller.client`` to :meth:`api.jobs.JobRunner.submit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.deps import AccessDep
from api.jobs import Lane, LimitExceeded, SlidingWindowLimiter

__all__ = [
    "UNKNOWN_CLIENT",
    "Caller",
    "CallerDep",
    "Lane",
    "LimitExceeded",
    "SlidingWindowLimiter",
    "get_caller",
]

#: Client key when the remote address is unknown (all such callers share one budget).
UNKNOWN_CLIENT = "inconnu"


@dataclass(frozen=True)
class Caller:
    """Who starts a computation: its lane and its client key (remote address)."""

    lane: Lane
    client: str


def get_caller(request: Request, access: AccessDep) -> Caller:
    """Lane and client of the caller: ``public`` only without the token when one is configured.

    Without a configured token every caller counts as a token holder (``private``); a wrong
    token is refused (401) by :func:`api.deps.get_access`. The client is the remote address
    as the server sees it (behind a reverse proxy, run uvicorn with ``--proxy-headers``).
    """
    client = request.client.host if request.client is not None else UNKNOWN_CLIENT
    return Caller(lane="private" if access.authenticated else "public", client=client)


CallerDep = Annotated[Caller, Depends(get_caller)]
