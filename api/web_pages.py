"""The web pages besides the inbox: reports, brand listening, macros and (admins only) settings.

Each page is a server-rendered shell; its script fetches the JSON API with the session
cookie (and the CSRF token for writes), exactly as the inbox does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sportello.api.deps import DaemonDep, Principal, web_principal
from sportello.api.web import _redirect, _render
from sportello.connectors.base import CHANNELS

if TYPE_CHECKING:
    from sportello.daemon import Daemon

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    daemon: Daemon,
    template: str,
    page: str,
    *,
    admin_only: bool = False,
    **context: Any,
) -> Response:
    principal: Principal | None = web_principal(request, daemon)
    if principal is None:
        return _redirect("/login")
    status = 200
    if admin_only and not principal.is_admin:
        template, status = "forbidden.html", 403
    return _render(
        request,
        daemon,
        template,
        status,
        user=principal,
        page=page,
        channels=[c for c in CHANNELS if c in daemon.connectors] or list(CHANNELS),
        **context,
    )


@router.get("/reports")
def reports_page(request: Request, daemon: DaemonDep) -> Response:
    return _page(request, daemon, "reports.html", "reports")


@router.get("/listening")
def listening_page(request: Request, daemon: DaemonDep) -> Response:
    return _page(request, daemon, "listening.html", "listening")


@router.get("/macros")
def macros_page(request: Request, daemon: DaemonDep) -> Response:
    return _page(request, daemon, "macros.html", "macros")


@router.get("/settings")
def settings_page(request: Request, daemon: DaemonDep) -> Response:
    return _page(
        request, daemon, "settings.html", "settings", admin_only=True, all_channels=CHANNELS
    )
