"""The FastAPI application: webhooks, REST API, live events, the web inbox, health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from sportello import __version__
from sportello.api import (
    accounts,
    alerts,
    automation,
    conversations,
    customer_ops,
    customers,
    deliveries,
    desk,
    events,
    listening,
    messages,
    reports,
    web,
    web_pages,
    webhooks,
    x_usage,
)
from sportello.api.webhook_intake import WebhookIntake

if TYPE_CHECKING:
    from sportello.daemon import Daemon


def create_app(daemon: Daemon) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await daemon.start()
        try:
            yield
        finally:
            await daemon.stop()

    app = FastAPI(title="sportello", version=__version__, lifespan=lifespan)
    app.state.daemon = daemon
    app.add_middleware(WebhookIntake, daemon=daemon)  # POST /webhooks/{channel}

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # customer_ops before customers: /customers/suggestions must not be read as an id
    for module in (
        webhooks,
        messages,
        conversations,
        desk,
        customer_ops,
        customers,
        deliveries,
        x_usage,
        automation,
        listening,
        alerts,
        reports,
    ):
        app.include_router(module.router)
    for module in (accounts, events, web, web_pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    return app
