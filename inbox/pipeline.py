"""The journal worker: raw deliveries in order, through parse and ingest, to automation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from sportello.connectors.base import (
    Connector,
    Event,
    InboundMessage,
    MessageEdited,
    ParseError,
    RawDelivery,
)
from sportello.inbox import journal, settings_store
from sportello.inbox.clock import Clock
from sportello.inbox.db import session_scope
from sportello.inbox.ingest import Ingested, Scorer, ingest
from sportello.inbox.intake import Intake
from sportello.inbox.lookups import Lookups
from sportello.inbox.models import Delivery
from sportello.inbox.outbox import take_queued
from sportello.inbox.waiting import wait_any
from sportello.inbox.write_lock import WriteLock

log = logging.getLogger(__name__)

MAX_ERROR_LEN = 2000
MAX_INGEST_ATTEMPTS = 5
GATHER_S = 0.01  # a batch's fixed cost is some 5 ms: worth 10 ms more before a message shows
YIELD_S = 0.005  # the longest the worker steps aside for webhooks between two deliveries


class Hook(Protocol):
    """Automation run after a delivery is ingested, in the same transaction."""

    def __call__(self, session: Session, ingested: Ingested) -> None: ...


@dataclass(frozen=True)
class Parsed:
    """A delivery's parse: its events, or the state and reason it ends in."""

    state: str
    error: str | None
    events: list[Event] | None = None


class JournalWorker:
    def __init__(
        self,
        engine: Engine,
        connectors: Mapping[str, Connector],
        clock: Clock,
        *,
        scorer: Scorer | None = None,
        hooks: Sequence[Hook] = (),
        on_change: Callable[[Ingested], None] | None = None,
        batch: int = 50,
        gather_s: float = GATHER_S,
        write_lock: WriteLock | None = None,
        intake: Intake | None = None,
        yield_s: float = YIELD_S,
        idle_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.connectors = connectors
        self.clock = clock
        self.scorer = scorer
        self.hooks = list(hooks)
        self.on_change = on_change
        self.batch = batch
        self.gather_s = gather_s
        self.write_lock = write_lock if write_lock is not None else WriteLock(enabled=False)
        self.intake = intake if intake is not None else Intake()
        self.yield_s = yield_s
        self.idle_s = idle_s  # between rounds that found nothing, unless woken
        self.wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.wake.clear()  # before the round: a wake during it starts the next one
            try:
                done = await asyncio.to_thread(self.process_pending)
            except Exception:
                log.exception("journal round failed")
                done = 0
            if done == 0:
                await wait_any(self.wake, stop, timeout=self.idle_s)
            elif done < self.batch:
                # The backlog is drained: let the next deliveries gather for a moment, so
                # that a steady trickle is stored in batches, not one transaction each.
                await asyncio.sleep(self.gather_s)

    def process_pending(self) -> int:
        """Process one batch of pending deliveries; returns how many were handled.

        Parsing, sentiment scoring (pure CPU work) and the batch's lookups happen before the
        first write, so the database's write lock is held only while the results are stored.
        """
        with session_scope(self.engine) as session:
            claimed = journal.claim_pending(session, self.batch)
            parsed = [(delivery, self._parse(delivery)) for delivery in claimed]
            events = [e for _, p in parsed if p.events for e in p.events]
            scorer = self._prescored(events)
            lookups = Lookups.read(session, events)
            settings_store.read_all(session)
            with self.write_lock:
                stored = self._store_all(session, parsed, scorer, lookups)
        self._changed(stored)
        return len(parsed)

    def _store_all(
        self,
        session: Session,
        parsed: list[tuple[Delivery, Parsed]],
        scorer: Scorer | None,
        lookups: Lookups,
    ) -> list[Ingested | None]:
        """Store a batch in as few transactions as the webhooks allow; returns what the
        last transaction stored (the earlier ones are announced as they commit).

        The common case is one transaction and no savepoints. Webhooks go first: while one
        is in flight the worker waits between two deliveries (see ``inbox/intake.py``), and
        on SQLite it commits what it has stored and lets go of the write lock meanwhile.
        If a delivery fails, the uncommitted rest is redone, each in its own savepoint.
        """
        committed = 0
        stored: list[Ingested | None] = []
        try:
            for delivery, result in parsed:
                stored.append(self._store(session, delivery, result, scorer, lookups))
                if self.write_lock.enabled and (self.write_lock.wanted() or self.intake.busy()):
                    session.commit()
                    committed += len(stored)
                    self._changed(stored)
                    stored = []
                    with self.write_lock.released():
                        self.intake.wait_idle(self.yield_s)
                elif self.intake.busy():
                    # PostgreSQL: no lock to hand over, and committing would release the
                    # rows of the batch's other deliveries to another replica.
                    self.intake.wait_idle(self.yield_s)
            session.commit()
        except Exception:
            session.rollback()
            stored = [self._store(session, d, p, scorer) for d, p in parsed[committed:]]
            session.commit()
        return stored

    def _changed(self, stored: list[Ingested | None]) -> None:
        if self.on_change is None:
            return
        for ingested in stored:
            if ingested is not None:
                self.on_change(ingested)

    def _parse(self, delivery: Delivery) -> Parsed:
        if self.intake.busy():  # parsing is CPU work too: webhooks first
            self.intake.wait_idle(self.yield_s)
        connector = self.connectors.get(delivery.channel)
        if connector is None:
            return Parsed(journal.FAILED, f"channel {delivery.channel} is not configured")
        raw = RawDelivery(
            channel=delivery.channel,  # type: ignore[arg-type]
            body=delivery.body,
            headers=delivery.headers,
            source=delivery.source,  # type: ignore[arg-type]
            received_at=delivery.received_at,
        )
        try:
            events = connector.parse(raw)
        except ParseError as exc:
            return Parsed(journal.QUARANTINED, str(exc))
        except Exception as exc:
            log.exception("parsing delivery %s crashed", delivery.id)
            return Parsed(journal.QUARANTINED, f"parser error: {exc!r}")
        if not events:
            return Parsed(journal.QUARANTINED, "nothing usable in the delivery")
        return Parsed(journal.PROCESSED, None, events)

    def _prescored(self, events: list[Event]) -> Scorer | None:
        """The scores of every text in the batch, computed before the write lock is taken."""
        if self.scorer is None:
            return None
        scorer = self.scorer
        texts = {
            event.text
            for event in events
            if isinstance(event, InboundMessage | MessageEdited) and event.text.strip()
        }
        scores = {text: scorer(text) for text in texts}
        return lambda text: scores[text] if text in scores else scorer(text)

    def _store(
        self,
        session: Session,
        delivery: Delivery,
        parsed: Parsed,
        scorer: Scorer | None,
        lookups: Lookups | None = None,
    ) -> Ingested | None:
        """Ingest one parsed delivery. With the batch's ``lookups`` a failure propagates to
        the caller; without, the delivery is isolated in a savepoint (reading its own
        lookups), so its failure does not undo its neighbours' work."""
        delivery.attempts += 1
        delivery.processed_at = self.clock.now()
        if parsed.events is None:
            self._set(delivery, parsed.state, parsed.error)
            return None
        if lookups is not None:
            return self._ingest(session, delivery, parsed.events, scorer, lookups)
        savepoint = session.begin_nested()
        try:
            ingested = self._ingest(session, delivery, parsed.events, scorer)
            savepoint.commit()
        except Exception as exc:
            savepoint.rollback()
            # A conflict with another replica ingesting the same customer at the same
            # moment succeeds on a later try; a real bug ends as failed, visibly.
            final = delivery.attempts >= MAX_INGEST_ATTEMPTS
            log.log(
                logging.ERROR if final else logging.WARNING,
                "ingesting delivery %s failed (attempt %s): %r",
                delivery.id,
                delivery.attempts,
                exc,
            )
            state = journal.FAILED if final else journal.PENDING
            self._set(delivery, state, f"ingest error: {exc!r}")
            return None
        return ingested

    def _ingest(
        self,
        session: Session,
        delivery: Delivery,
        events: list[Event],
        scorer: Scorer | None,
        lookups: Lookups | None = None,
    ) -> Ingested:
        take_queued(session)  # from here on, what this delivery queues
        ingested = ingest(session, events, now=self.clock.now(), scorer=scorer, lookups=lookups)
        for hook in self.hooks:
            hook(session, ingested)
        ingested.queued_replies = take_queued(session)
        delivery.events = len(events)
        self._set(delivery, journal.PROCESSED, None)
        return ingested

    @staticmethod
    def _set(delivery: Delivery, state: str, error: str | None) -> None:
        delivery.state = state
        delivery.error = error[:MAX_ERROR_LEN] if error else None
