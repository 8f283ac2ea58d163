"""The listening services of one daemon, and their scheduler jobs."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
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

    def add_jobs(self, scheduler: AsyncIOScheduler) -> None:
        listening, alerts = self.settings.listening, self.settings.alerts
        jobs = []
        if self.collector.x_client is not None and self.collector.x_queries():
            jobs.append((self.poll_x, listening.x_poll_interval, "listening:x"))
        if listening.feeds:
            jobs.append((self.poll_feeds, listening.feed_poll_interval, "listening:feeds"))
        if alerts.rules:
            jobs.append((self.evaluate_and_deliver, alerts.evaluate_interval, "alerts:evaluate"))
        jobs.append((self.dispatcher.run_once, alerts.deliver_interval, "alerts:deliver"))
        for job, interval, name in jobs:
            scheduler.add_job(
                _logged(job, name),
                "interval",
                seconds=parse_duration(interval),
                id=name,
            )


def _logged(job, name: str):  # type: ignore[no-untyped-def]
    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("%s job failed", name)

    return run
