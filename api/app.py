"""The FastAPI application: webhooks, REST API, live events, the web inbox, health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles

from sportello import __version__
from sportello.api import (
    accounts,
    activity,
    alerts,
    attachments,
    automation,
    conversations,
    customer_ops,
    customers,
    deliveries,
    desk,
    events,
    integrations,
    listening,
    macros,
    messages,
    note_mentions,
    reports,
    teams,
    viewers,
    web,
    web_pages,
    webhooks,
    x_usage,
)
from sportello.api.login_throttle import LoginThrottle
from sportello.api.request_limits import bounded, validation_error
from sportello.api.webhook_intake import Receive, Scope, Send, WebhookIntake, delivery_channel

if TYPE_CHECKING:
    from sportello.daemon import Daemon


class SportelloApp(FastAPI):
    """FastAPI, with webhook deliveries (``POST /webhooks/{channel}``) answered before its
    middleware and router ever see them: the hot path, see :mod:`sportello.api.webhook_intake`."""

    def __init__(self, intake: WebhookIntake, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.intake = intake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        channel = delivery_channel(scope)
        if channel is not None:
            await self.intake(channel, scope, receive, send)
        elif scope["type"] == "http":
            await bounded(super().__call__, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(daemon: Daemon) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await daemon.start()
        try:
            yield
        finally:
            await daemon.stop()

    app = SportelloApp(
        WebhookIntake(daemon), title="sportello", version=__version__, lifespan=lifespan
    )
    app.state.daemon = daemon
    app.state.login_throttle = LoginThrottle()
    app.add_exception_handler(RequestValidationError, validation_error)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # customer_ops before customers: /customers/suggestions must not be read as an id
    for module in (
        webhooks,
        messages,
        attachments,
        conversations,
        activity,
        desk,
        macros,
        customer_ops,
        customers,
        deliveries,
        x_usage,
        automation,
        listening,
        alerts,
        reports,
        integrations,
    ):
        app.include_router(module.router)
    for module in (accounts, teams, viewers, note_mentions, events, web, web_pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    return app
