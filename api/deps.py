"""FastAPI dependencies: the daemon's services, a session per request, who is calling.

A caller proves who they are with one of:
- a bearer token from ``api.tokens`` in the configuration: the name ``api``, role admin;
- a personal API token (``spt_…``) of a user: that user, with the user's role;
- the web inbox's session cookie: that user; requests that change something must also
  carry the session's CSRF token in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, SQLModel

from sportello.inbox import accounts
from sportello.inbox.db import session_scope
from sportello.inbox.users import User

if TYPE_CHECKING:
    from sportello.daemon import Daemon

SESSION_COOKIE = "sportello_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONFIG_TOKEN_NAME = "api"


async def get_daemon(request: Request) -> Daemon:
    """Async only so that FastAPI calls it inline: a sync dependency costs a thread hop."""
    return request.app.state.daemon  # type: ignore[no-any-return]


DaemonDep = Annotated["Daemon", Depends(get_daemon)]


def get_session(daemon: DaemonDep) -> Iterator[Session]:
    with session_scope(daemon.engine) as session:
        yield session


# Committed before the response leaves: a client that got its 2xx sees its own write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Principal:
    """Who is calling, and how they proved it."""

    name: str
    role: Literal["agent", "admin"]
    via: Literal["config", "token", "session"]
    user_id: int | None = None
    csrf_token: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _user_principal(
    user: User, via: Literal["token", "session"], csrf: str | None = None
) -> Principal:
    role: Literal["agent", "admin"] = "admin" if user.role == "admin" else "agent"
    return Principal(user.name, role, via, user.id, csrf)


def web_principal(request: Request, daemon: Daemon) -> Principal | None:
    """The user of the session cookie, if it is a live session."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with session_scope(daemon.engine) as session:
        found = accounts.session_user(session, token, daemon.clock.now())
        if found is None:
            return None
        user, row = found
        return _user_principal(user, "session", row.csrf_token)


def _bearer_principal(daemon: Daemon, token: str, now: datetime) -> Principal | None:
    given = token.encode()
    for configured in daemon.settings.api.tokens:
        if hmac.compare_digest(given, configured.get_secret_value().encode()):
            return Principal(CONFIG_TOKEN_NAME, "admin", "config")
    # Its own short transaction, so a long response (an event stream) holds no connection.
    with session_scope(daemon.engine) as session:
        user = accounts.token_user(session, token, now)
        return _user_principal(user, "token") if user is not None else None


def current_principal(
    request: Request,
    daemon: DaemonDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller; 401 without valid credentials, 403 for a cookie write without CSRF token."""
    if credentials is not None:
        principal = _bearer_principal(daemon, credentials.credentials, daemon.clock.now())
        if principal is not None:
            return principal
    elif (principal := web_principal(request, daemon)) is not None:
        if request.method not in SAFE_METHODS:
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(given.encode(), (principal.csrf_token or "").encode()):
                raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")
        return principal
    raise HTTPException(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_token(principal: CurrentUser) -> str:
    """The caller's name for the audit trail (``assignee``, event ``actor``); 401 if unknown."""
    return principal.name


Caller = Annotated[str, Depends(require_token)]


def require_admin(principal: CurrentUser) -> str:
    """Like :data:`Caller`, but 403 unless the caller has the admin role.

    Use as ``caller: Admin`` or ``dependencies=[Depends(require_admin)]``.
    """
    if not principal.is_admin:
        raise HTTPException(403, "this needs the admin role")
    return principal.name


Admin = Annotated[str, Depends(require_admin)]


ModelT = TypeVar("ModelT", bound=SQLModel)


def get_or_404(session: Session, model: type[ModelT], row_id: int, what: str) -> ModelT:
    """The row ``row_id`` of ``model``, or a 404 that names what was not found."""
    row = session.get(model, row_id)
    if row is None:
        raise HTTPException(404, f"{what} {row_id} not found")
    return row
