"""The FastAPI application: webhooks, REST API, health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from sportello import __version__
from sportello.api import conversations, customers, deliveries, messages, webhooks
from sportello.api.alerts import router as alerts_router
from sportello.api.listening import router as listening_router

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

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for module in (webhooks, messages, conversations, customers, deliveries):
        app.include_router(module.router)
    app.include_router(listening_router)
    app.include_router(alerts_router)
    return app
