"""The server collects its start-up garbage as soon as it has started, then freezes the heap."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from sportello.cli import GC_THRESHOLDS, GracefulServer
from sportello.connectors.emulators.server import free_port


class Node:
    def __init__(self) -> None:
        self.me = self


def test_start_up_garbage_is_collected_once_the_server_has_started() -> None:
    left_behind: list[weakref.ref[Node]] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What migrations and lexicon loading leave: objects only the collector can free.
        left_behind.extend(weakref.ref(Node()) for _ in range(100))
        yield

    config = uvicorn.Config(FastAPI(lifespan=lifespan), port=free_port(), log_level="warning")
    server = GracefulServer(config, on_exit=lambda: None)
    thresholds = gc.get_threshold()
    gc.set_threshold(10**9)  # no pass of its own may clear the cycles before start-up ends

    async def started_then_stop() -> tuple[int, tuple[int, ...], int]:
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        alive = sum(ref() is not None for ref in left_behind)
        seen = (gc.get_threshold(), gc.get_freeze_count())
        server.should_exit = True
        await serving
        return alive, *seen

    try:
        alive, threshold, frozen = asyncio.run(started_then_stop())
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    assert len(left_behind) == 100
    assert alive == 0
    assert threshold == GC_THRESHOLDS
    assert frozen > 0
