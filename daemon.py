"""The daemon's services in one place, and their start and stop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sportello.config.settings import Settings
from sportello.connectors.base import Connector
from sportello.connectors.registry import enabled_connectors
from sportello.inbox import integration_events, leases, settings_store
from sportello.inbox.away import AwayResponder
from sportello.inbox.checkpointer import WalCheckpointer
from sportello.inbox.clock import Clock
from sportello.inbox.db import is_sqlite_file, make_engine, migrate, session_scope, write_lock
from sportello.inbox.erasure import EraseHook
from sportello.inbox.identity import fill_profile, needs_profile
from sportello.inbox.ingest import Ingested, Scorer
from sportello.inbox.intake import Intake
from sportello.inbox.integration_sender import WebhookSender, forget_webhook_deliveries
from sportello.inbox.journal_writer import JournalWriter
from sportello.inbox.live import Broadcaster
from sportello.inbox.named_in_rules import unknown_in_sla_policies, unknown_in_triage_rules
from sportello.inbox.outbox import OutboxSender
from sportello.inbox.pipeline import Hook, JournalWorker
from sportello.inbox.sla import SlaClock, Sweeps
from sportello.inbox.surveys import SurveyAnswers
from sportello.inbox.triage_rules import TriageRules
from sportello.listening.mentions import forget_mentions, store_public_tweets
from sportello.listening.service import Listening
from sportello.sentiment import SentimentService

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 8.0
MEDIA_FETCHES = 4


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        connectors: Mapping[str, Connector] | None = None,
        scorer: Scorer | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.engine = make_engine(
            settings.database.url,
            pool_size=settings.database.pool_size,
            echo=settings.database.echo,
            autocheckpoint=False,  # self.checkpointer's job, beside the writers
        )
        self.connectors = (
            dict(connectors) if connectors is not None else enabled_connectors(settings)
        )
        self.live = Broadcaster()
        for connector in self.connectors.values():
            connector.use_clock(self.clock.now)
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leases = leases.ReplicaLeases(self.engine, holder)
        self.sentiment = SentimentService(default_language=settings.brand.default_language)
        hooks: list[Hook] = [
            SurveyAnswers(settings, self.clock),
            # before the SLA clock: a raised priority picks the policy
            TriageRules(self.clock, settings.brand.default_language),
            SlaClock(),
            AwayResponder(self.clock, settings.brand.default_language),
        ]
        self.write_lock = write_lock(self.engine)
        self.sla_sweeps = Sweeps()
        self.checkpointer = (
            WalCheckpointer(self.engine, self.write_lock) if is_sqlite_file(self.engine) else None
        )
        self.journal = JournalWriter(self.engine, self.write_lock)
        self.intake = Intake()
        self.worker = JournalWorker(
            self.engine,
            self.connectors,
            self.clock,
            scorer=scorer or self.sentiment.score,
            hooks=hooks,
            on_change=self._ingested,
            write_lock=self.write_lock,
            intake=self.intake,
        )
        self.worker.hooks.append(store_public_tweets)
        self.erase_hooks: list[EraseHook] = [forget_mentions, forget_webhook_deliveries]
        self.webhooks = WebhookSender(self.engine, settings.integrations.webhooks, self.clock)
        self.listening = Listening(self.engine, settings, self.clock, self.sentiment)
        self.sender = OutboxSender(
            self.engine, self.connectors, self.clock, on_change=self.live.sent
        )
        # Files fetched from the platforms for agents at once (each may be 20 MiB in memory):
        # a conversation full of pictures waits its turn instead of asking for all of them.
        self.media_fetches = asyncio.Semaphore(MEDIA_FETCHES)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.scheduler: AsyncIOScheduler | None = None

    async def start(self) -> None:
        from sportello.scheduler import build_scheduler

        self._loop = asyncio.get_running_loop()
        self.live.attach(self._loop)
        await asyncio.to_thread(migrate, self.engine)
        integration_events.subscribe(self.engine, self.settings.integrations.webhooks)
        if self.checkpointer is not None:
            self.checkpointer.start()
        await asyncio.to_thread(self.seed_settings)
        # Loaded now, not inside the first delivery's transaction.
        await asyncio.to_thread(self.sentiment.preload)
        self.journal.start()
        for connector in self.connectors.values():
            try:
                await connector.start()
            except Exception as exc:  # the platform may be down; sending retries later
                log.warning("%s connector did not start cleanly: %s", connector.name, exc)
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(self.worker.run(self._stop), name="journal-worker"),
            asyncio.create_task(self.sender.run(self._stop), name="outbox-sender"),
        ]
        self.scheduler = build_scheduler(self)
        self.scheduler.start()
        log.info("sportello started with channels: %s", ", ".join(self.connectors) or "none")

    async def stop(self) -> None:
        """Stop the loops; what is mid-flight finishes, what is queued stays journaled."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            await asyncio.to_thread(self.leases.release_all)
        await self.journal.stop()
        self._stop.set()
        self.live.close()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
            for task in pending:
                task.cancel()
        for connector in self.connectors.values():
            try:
                await connector.aclose()
            except Exception as exc:
                log.debug("closing %s: %s", connector.name, exc)
        await self.listening.aclose()
        if self.checkpointer is not None:
            await asyncio.to_thread(self.checkpointer.stop)
        integration_events.subscribe(self.engine, [])
        self.engine.dispose()

    def seed_settings(self) -> None:
        """Copy business hours, away rules and SLAs from the config if the database has none;
        warn of stored rules naming users or teams that do not exist (the configuration file
        is not checked against them, as its users may be added after the first start)."""
        with session_scope(self.engine) as session:
            stored = settings_store.seed(session, self.settings, self.clock.now())
            unknown = [
                ("triage rule", found)
                for found in unknown_in_triage_rules(session, settings_store.triage_rules(session))
            ] + [
                ("SLA policy", found)
                for found in unknown_in_sla_policies(
                    session, settings_store.sla_policies(session, self.settings)
                )
            ]
        if stored:
            log.info("seeded %s from the configuration", ", ".join(stored))
        for kind, found in unknown:
            log.warning(
                "%s %d, %s: %s (it does nothing)", kind, found.index + 1, found.field, found.message
            )

    def _ingested(self, ingested: Ingested) -> None:
        """After a delivery is committed: the sender wakes for replies automation queued;
        streams learn; the platform hears that button presses are stored (called from the
        worker thread)."""
        if ingested.queued_replies:
            self.wake_sender()
        self.live.ingested(ingested)
        loop = self._loop
        if loop is None:
            return
        for message, _ in ingested.new_messages:
            connector = self.connectors.get(message.channel)
            if connector is None:
                continue
            if message.kind == "button" and message.external_id:
                asyncio.run_coroutine_threadsafe(connector.acknowledge(message.external_id), loop)
            if connector.has_profiles and message.direction == "in" and message.identity_id:
                asyncio.run_coroutine_threadsafe(
                    self._fill_profile(connector, message.identity_id), loop
                )

    async def _fill_profile(self, connector: Connector, identity_id: int) -> None:
        """Ask the platform for the name of a customer whose messages carry none."""

        def missing() -> str | None:
            with session_scope(self.engine) as session:
                return needs_profile(session, identity_id)

        external_id = await asyncio.to_thread(missing)
        if external_id is None:
            return
        person = await connector.profile(external_id)
        if person is None:
            return

        def store() -> bool:
            with session_scope(self.engine) as session:
                return fill_profile(session, identity_id, person)

        if await asyncio.to_thread(store):
            self.live.publish("customer.updated", identity_id=identity_id)

    def wake_worker(self) -> None:
        self._wake(self.worker.wake)

    def wake_sender(self) -> None:
        self._wake(self.sender.wake)

    def _wake(self, event: asyncio.Event) -> None:
        """Set an event of the daemon's loop, from that loop or from a worker thread."""
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)
