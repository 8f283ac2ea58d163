"""The listening services of one daemon, and their scheduler jobs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import Engine

from sportello.config.settings import Settings, parse_duration
from sportello.inbox.clock import Clock
from sportello.inbox.db import session_scope
from sportello.listening.collect import MentionCollector
from sportello.listening.dispatch import AlertDispatcher
from sportello.listening.rules import evaluate_all
from sportello.listening.sinks import build_sinks
from sportello.sentiment import SentimentService

if TYPE_CHECKING:
    from sportello.listening.models import Alert

log = logging.getLogger(__name__)


class Listening:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        clock: Clock,
        sentiment: SentimentService,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.collector = MentionCollector(engine, settings, clock, sentiment, http)
        self.dispatcher = AlertDispatcher(
            engine, build_sinks(settings), settings.alerts.rules, clock
        )

    async def poll_x(self) -> int:
        """Search X, journal, parse; returns the new mentions."""
        await self.collector.poll_x()
        return await asyncio.to_thread(self.collector.process_received)

    async def poll_feeds(self) -> int:
        await self.collector.poll_feeds()
        return await asyncio.to_thread(self.collector.process_received)

    def evaluate(self) -> list[Alert]:
        """Evaluate every alert rule now; returns the alerts fired or resolved."""
        with session_scope(self.engine) as session:
            return evaluate_all(session, self.settings.alerts.rules, self.clock.now())

    async def evaluate_and_deliver(self) -> None:
        if await asyncio.to_thread(self.evaluate):
            await self.dispatcher.run_once()

    async def aclose(self) -> None:
        await self.collector.aclose()

    def periodic(self) -> list[tuple[str, float, Callable[[], Awaitable[object]]]]:
        """The listening jobs (name, interval in seconds, work) for the daemon's scheduler."""
        listening, alerts = self.settings.listening, self.settings.alerts
        jobs: list[tuple[str, float, Callable[[], Awaitable[object]]]] = []
        if self.collector.x_client is not None and self.collector.x_queries():
            jobs.append(("listening:x", parse_duration(listening.x_poll_interval), self.poll_x))
        if listening.feeds:
            interval = parse_duration(listening.feed_poll_interval)
            jobs.append(("listening:feeds", interval, self.poll_feeds))
        if alerts.rules:
            interval = parse_duration(alerts.evaluate_interval)
            jobs.append(("alerts:evaluate", interval, self.evaluate_and_deliver))
        interval = parse_duration(alerts.deliver_interval)
        jobs.append(("alerts:deliver", interval, self.dispatcher.run_once))
        return jobs
