"""The web pages beside the inbox: reports, brand listening and (admins) settings.

Each is a template and a little JavaScript (``static/pages.js``) over the JSON API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sportello.api.deps import DaemonDep, web_principal
from sportello.api.web import _redirect, _render
from sportello.connectors.base import CHANNELS

router = APIRouter(include_in_schema=False)


def _page(request: Request, daemon: DaemonDep, template: str, *, admin: bool = False) -> Response:
    principal = web_principal(request, daemon)
    if principal is None:
        return _redirect("/login")
    if admin and not principal.is_admin:
        return _render(request, daemon, "forbidden.html", 403, user=principal)
    channels = [c for c in CHANNELS if c in daemon.connectors] or list(CHANNELS)
    return _render(request, daemon, template, user=principal, channels=channels)


@router.get("/reports")
def reports_page(request: Request, daemon: DaemonDep) -> Response:
    return _page(request, daemon, "reports.html")


@router.get("/listening")
def listening_page(request: Request, daemon: DaemonDep) -> Response:
    return _page(request, daemon, "listening.html")


@router.get("/settings")
def settings_page(request: Request, daemon: DaemonDep) -> Response:
    return _page(request, daemon, "settings.html", admin=True)
