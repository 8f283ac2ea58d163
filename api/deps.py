"""FastAPI dependencies: the daemon's services, a session per request, bearer-token auth."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from sportello.inbox.db import session_scope

if TYPE_CHECKING:
    from sportello.daemon import Daemon


def get_daemon(request: Request) -> Daemon:
    return request.app.state.daemon  # type: ignore[no-any-return]


DaemonDep = Annotated["Daemon", Depends(get_daemon)]


def get_session(daemon: DaemonDep) -> Iterator[Session]:
    with session_scope(daemon.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False)


def require_token(
    daemon: DaemonDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The caller's identity for the audit trail; 401 unless the token is one of ``api.tokens``."""
    if credentials is not None:
        given = credentials.credentials.encode()
        for token in daemon.settings.api.tokens:
            if hmac.compare_digest(given, token.get_secret_value().encode()):
                return "api"
    raise HTTPException(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})


Caller = Annotated[str, Depends(require_token)]
