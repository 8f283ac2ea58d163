"""The emulators' and tests' server stops at once, yet lets a request in flight finish."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from sportello.connectors.emulators.server import BackgroundServer


def test_a_request_in_flight_is_answered_before_the_application_shuts_down() -> None:
    happened: list[str] = []
    entered = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        happened.append("shut down")

    app = FastAPI(lifespan=lifespan)

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        entered.set()
        await asyncio.sleep(0.3)
        happened.append("answered")
        return {"status": "done"}

    server = BackgroundServer(app).start()
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(httpx.get, f"{server.url}/slow", timeout=10)
        assert entered.wait(10)
        server.stop()
        assert answer.result().json() == {"status": "done"}
    assert happened == ["answered", "shut down"]
    server.stop()  # again: nothing left to stop, no error
