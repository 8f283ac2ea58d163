"""Run an ASGI app with uvicorn on a free loopback port in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


TICK_S = 0.1  # uvicorn's own tick: the date header is refreshed every ten
SETTLE_S = 0.005  # how often a stopping server looks whether its connections have closed


class PromptServer(uvicorn.Server):
    """uvicorn's server, stopping as soon as it is asked and its connections allow.

    uvicorn notices ``should_exit`` at its next 0.1 s tick and then always gives open
    connections 0.1 s to close: some 0.15 s a stop, which the tests pay for every daemon
    and emulator they start. Here :meth:`wake` ends the tick at once, and the shutdown
    waits only while connections or their tasks are still open (unbounded, as uvicorn's
    default ``timeout_graceful_shutdown``).
    """

    _wake: asyncio.Event
    _loop: asyncio.AbstractEventLoop

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def wake(self) -> None:
        """Have the main loop of a started server look at ``should_exit`` now (any thread)."""
        with suppress(RuntimeError):  # stopped already, its loop closed
            self._loop.call_soon_threadsafe(self._wake.set)

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_S)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        state = self.server_state
        while (state.connections or state.tasks) and not self.force_exit:
            await asyncio.sleep(SETTLE_S)
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


class BackgroundServer:
    """A uvicorn server in a thread; ``url`` is where it listens."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = PromptServer(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._server.wake()
        self._thread.join(timeout=10)


@contextmanager
def serving(app: Any, port: int | None = None) -> Iterator[BackgroundServer]:
    server = BackgroundServer(app, port).start()
    try:
        yield server
    finally:
        server.stop()
