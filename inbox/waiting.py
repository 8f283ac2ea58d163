"""Small asyncio helpers for the background loops."""

from __future__ import annotations

import asyncio


async def wait_any(wake: asyncio.Event, stop: asyncio.Event, timeout: float) -> None:
    """Return when ``wake`` or ``stop`` is set, or after ``timeout`` seconds."""
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
