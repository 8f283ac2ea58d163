"""The mention pollers: fetch, journal raw, then parse into mentions.

Raw pages and feed bodies are journaled in ``deliveries`` (channel ``x_search`` or
``feed``, source ``poll``) in state ``received`` together with the new cursor (X
``since_id``, feed ``ETag``/``Last-Modified``) in one transaction. :meth:`process_received`
then parses them; a body that cannot be parsed is ``quarantined`` (listed by
``/api/v1/deliveries?status=quarantined``). The journal worker only claims ``pending``
deliveries, so it never sees these.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from sportello.config.settings import Settings
from sportello.connectors import feeds
from sportello.connectors.base import ParseError
from sportello.connectors.mentions import FoundMention
from sportello.connectors.tls import tls_context
from sportello.connectors.x_search import XSearchClient, build_query, parse_page
from sportello.inbox import journal
from sportello.inbox.clock import Clock
from sportello.inbox.db import session_scope
from sportello.inbox.models import Delivery
from sportello.inbox.polling import read_cursor, write_cursor
from sportello.listening.mentions import store_mention
from sportello.sentiment import SentimentService

log = logging.getLogger(__name__)

X_SEARCH, FEED = "x_search", "feed"
RECEIVED = "received"
MAX_ATTEMPTS = 5
TOPIC, QUERY, FEED_NAME = "x-listening-topic", "x-listening-query", "x-listening-feed"


class MentionCollector:
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
        self.listening = settings.listening
        self.clock = clock
        self.sentiment = sentiment
        self.http = http or httpx.AsyncClient(timeout=20, verify=tls_context())
        x = settings.channels.x
        self.x_client = XSearchClient(x) if x.bearer_token is not None else None

    async def aclose(self) -> None:
        await self.http.aclose()

    def x_queries(self) -> list[tuple[str, str]]:
        """(topic, query) pairs: the brand's queries and each competitor's."""
        return [("brand", q) for q in self.listening.queries] + list(
            self.listening.competitor_queries.items()
        )

    # X recent search ---------------------------------------------------------------

    async def poll_x(self) -> int:
        """Search every query once; returns how many raw pages were journaled."""
        if self.x_client is None:
            return 0
        added = 0
        for topic, query in self.x_queries():
            try:
                added += await self._poll_query(topic, query)
            except Exception as exc:  # one failing query does not stop the others
                log.warning("X search for %r failed: %s", query, exc)
        return added

    async def _poll_query(self, topic: str, query: str) -> int:
        assert self.x_client is not None
        cursor_name = f"{X_SEARCH}:{query}"
        since_id = await asyncio.to_thread(self._cursor, cursor_name)
        full_query = build_query(
            query,
            exclude_retweets=self.listening.exclude_retweets,
            own_user_id=self._own_id(),
        )
        pages = await asyncio.to_thread(self.x_client.search, full_query, since_id)
        headers = {"content-type": "application/json", TOPIC: topic, QUERY: query}
        return await asyncio.to_thread(
            self._journal,
            X_SEARCH,
            [(b, headers) for b in pages.bodies],
            cursor_name,
            pages.newest_id,
        )

    def _own_id(self) -> str | None:
        return self.settings.channels.x.user_id if self.listening.exclude_own else None

    # feeds -----------------------------------------------------------------------------

    async def poll_feeds(self) -> int:
        added = 0
        for feed in self.listening.feeds:
            try:
                added += await self._poll_feed(feed.name, feed.url, feed.topic)
            except Exception as exc:
                log.warning("feed %s (%s) failed: %s", feed.name, feed.url, exc)
        return added

    async def _poll_feed(self, name: str, url: str, topic: str) -> int:
        cursor_name = f"{FEED}:{name}"
        stored = await asyncio.to_thread(self._cursor, cursor_name)
        validators: dict[str, Any] = json.loads(stored) if stored else {}
        if validators.get("url") != url:
            validators = {}
        fetched = await feeds.fetch(
            self.http, url, validators.get("etag"), validators.get("last_modified")
        )
        if fetched.body is None:
            return 0
        cursor = json.dumps(
            {"url": url, "etag": fetched.etag, "last_modified": fetched.last_modified}
        )
        headers = {
            "content-type": fetched.content_type or "application/xml",
            TOPIC: topic,
            FEED_NAME: name,
        }
        return await asyncio.to_thread(
            self._journal, FEED, [(fetched.body, headers)], cursor_name, cursor
        )

    # journal and parse ------------------------------------------------------------------

    def _cursor(self, name: str) -> str | None:
        with session_scope(self.engine) as session:
            return read_cursor(session, name)

    def _journal(
        self,
        channel: str,
        bodies: list[tuple[bytes, dict[str, str]]],
        cursor_name: str,
        cursor: str | None,
    ) -> int:
        """Journal raw bodies and move the cursor in one transaction."""
        now = self.clock.now()
        added = 0
        with session_scope(self.engine) as session:
            for body, headers in bodies:
                key = journal.dedup_key(body, None)
                known = session.exec(
                    select(Delivery.id).where(
                        Delivery.channel == channel, Delivery.dedup_key == key
                    )
                ).first()
                if known is not None:
                    continue
                session.add(
                    Delivery(
                        channel=channel,
                        source="poll",
                        dedup_key=key,
                        headers=headers,
                        body=body,
                        received_at=now,
                        state=RECEIVED,
                    )
                )
                added += 1
            if cursor is not None:
                write_cursor(session, cursor_name, cursor, self.clock)
        return added

    def process_received(self, batch: int = 50) -> int:
        """Parse journaled bodies into mentions; returns how many new mentions were stored."""
        stored = 0
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(Delivery)
                .where(col(Delivery.channel).in_((X_SEARCH, FEED)), Delivery.state == RECEIVED)
                .order_by(col(Delivery.id))
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            for delivery in rows:
                stored += self._process(session, delivery)
        return stored

    def _process(self, session: Session, delivery: Delivery) -> int:
        delivery.attempts += 1
        delivery.processed_at = self.clock.now()
        try:
            found = self._parse(delivery)
        except ParseError as exc:
            delivery.state, delivery.error = journal.QUARANTINED, str(exc)[:2000]
            return 0
        except Exception as exc:
            log.exception("parsing %s delivery %s crashed", delivery.channel, delivery.id)
            delivery.state, delivery.error = journal.QUARANTINED, f"parser error: {exc!r}"[:2000]
            return 0
        headers = delivery.headers or {}
        topic = headers.get(TOPIC, "brand")
        query = headers.get(QUERY) or headers.get(FEED_NAME)
        stored = 0
        savepoint = session.begin_nested()
        try:
            for item in found:
                mention = store_mention(
                    session,
                    item,
                    topic=topic,
                    query=query,
                    now=self.clock.now(),
                    sentiment=self.sentiment,
                    delivery_id=delivery.id,
                )
                stored += mention is not None
            savepoint.commit()
        except Exception as exc:
            savepoint.rollback()
            log.exception("storing mentions of delivery %s failed", delivery.id)
            delivery.error = f"store error: {exc!r}"[:2000]  # stays received: retried next run
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.state = journal.QUARANTINED
            return 0
        delivery.events = len(found)
        delivery.state, delivery.error = journal.PROCESSED, None
        return stored

    def _parse(self, delivery: Delivery) -> list[FoundMention]:
        if delivery.channel == X_SEARCH:
            own = self.settings.channels.x.user_id
            return parse_page(
                delivery.body,
                exclude_retweets=self.listening.exclude_retweets,
                own_user_ids=(own,) if own and self.listening.exclude_own else (),
            )
        return feeds.parse(delivery.body, delivery.received_at)
