"""The web inbox: login, logout, the language switch and the inbox page.

Login and logout are plain HTML forms protected by a CSRF token (a double-submit cookie
before login, the session's own token after); the session cookie is HttpOnly,
SameSite=Lax, and Secure whenever the inbox is reached over HTTPS.
"""

from __future__ import annotations

import hmac
import math
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from sportello import __version__
from sportello.api.deps import SESSION_COOKIE, DaemonDep, web_principal
from sportello.api.i18n import LANG_COOKIE, LANGUAGES, choose_language, translator
from sportello.api.login_throttle import LoginThrottle
from sportello.api.viewers import announce
from sportello.connectors.base import CHANNELS
from sportello.inbox import accounts, viewers
from sportello.inbox.conversations import STATUSES
from sportello.inbox.db import session_scope

if TYPE_CHECKING:
    from sportello.daemon import Daemon

STATIC_DIR = Path(__file__).with_name("static")
LOGIN_CSRF_COOKIE = "sportello_login_csrf"
YEAR_S = 365 * 24 * 3600
# Scripts and styles only from /static: injected markup could not run even if it got in.
CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
CHANNEL_LABELS = {
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "messenger": "Messenger",
    "x": "X",
}
templates.env.filters["channel_label"] = lambda channel: CHANNEL_LABELS.get(channel, channel)
router = APIRouter(include_in_schema=False)


def _secure(request: Request, daemon: Daemon) -> bool:
    public = daemon.settings.server.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def _render(
    request: Request, daemon: Daemon, template: str, status: int = 200, **context: Any
) -> Response:
    language = choose_language(request, daemon.settings.brand.default_language)
    context.update(
        lang=language,
        languages=LANGUAGES,
        t=translator(language),
        brand=daemon.settings.brand.name,
        version=__version__,
    )
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


@router.get("/")
def inbox_page(request: Request, daemon: DaemonDep) -> Response:
    principal = web_principal(request, daemon)
    if principal is None:
        return _redirect("/login")
    return _render(
        request,
        daemon,
        "inbox.html",
        user=principal,
        channels=[c for c in CHANNELS if c in daemon.connectors] or list(CHANNELS),
        statuses=STATUSES,
    )


def _login_form(
    request: Request, daemon: Daemon, status: int = 200, error: str | None = None
) -> Response:
    token = secrets.token_urlsafe(24)
    response = _render(request, daemon, "login.html", status, csrf=token, error=error)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request, daemon),
        path="/login",
    )
    return response


@router.get("/login")
def login_page(request: Request, daemon: DaemonDep) -> Response:
    if web_principal(request, daemon) is not None:
        return _redirect("/")
    return _login_form(request, daemon)


def login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


@router.post("/login")
def login(
    request: Request,
    daemon: DaemonDep,
    throttle: Annotated[LoginThrottle, Depends(login_throttle)],
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf.encode()):
        return _login_form(request, daemon, 403, "login.expired")
    name, now = name.strip(), daemon.clock.now()
    address = request.client.host if request.client is not None else "unknown"
    wait = throttle.wait(name, address, now)
    if wait is not None:  # refused before the password is checked (argon2 costs CPU)
        refused = _login_form(request, daemon, 429, "login.throttled")
        refused.headers["Retry-After"] = str(max(1, math.ceil(wait.total_seconds())))
        return refused
    with session_scope(daemon.engine) as session:
        user = accounts.authenticate(session, name, password)
        if user is None:
            throttle.failed(name, address, now)
            return _login_form(request, daemon, 401, "login.failed")
        throttle.succeeded(name)
        token, _ = accounts.open_session(session, user, now)
    response = _redirect("/")
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(accounts.SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request, daemon),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, daemon: DaemonDep, csrf: Annotated[str, Form()]) -> Response:
    principal = web_principal(request, daemon)
    token = request.cookies.get(SESSION_COOKIE, "")
    if principal is None or not hmac.compare_digest(
        (principal.csrf_token or "").encode(), csrf.encode()
    ):
        return _redirect("/login")
    moved: viewers.Moved | None = None
    with session_scope(daemon.engine) as session:
        accounts.close_session(session, token)
        if principal.user_id is not None:  # no new conversations now, nor anywhere
            accounts.set_available(session, principal.user_id, False)
            moved = viewers.mark_viewing(
                session, principal.user_id, None, False, daemon.clock.now()
            )
    if moved is not None:
        announce(daemon, moved, None)
    response = _redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/language/{code}")
def switch_language(code: str, request: Request, daemon: DaemonDep, next: str = "/") -> Response:
    """Remember the chosen language; ``next`` must be a path on this site."""
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = _redirect(target)
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, code, max_age=YEAR_S, samesite="lax", secure=_secure(request, daemon)
        )
    return response
