"""Mentions from X recent search and RSS/Atom feeds: journaled, parsed, stored once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from listening_helpers import ANNA, OWN, TOM, X_BEARER, listening_settings
from sqlmodel import Session, col, select
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sportello.config.settings import Settings
from sportello.connectors.emulators.feeds import ALERTS_PATH, RSS_PATH, FeedEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.x_search import XSearchEmulator
from sportello.inbox.clock import FrozenClock
from sportello.inbox.db import make_engine, migrate
from sportello.inbox.models import Delivery
from sportello.listening.collect import MentionCollector
from sportello.listening.models import Mention
from sportello.sentiment import SentimentService

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def x_search() -> Iterator[tuple[XSearchEmulator, BackgroundServer]]:
    emulator = XSearchEmulator(X_BEARER)
    server = BackgroundServer(emulator.app).start()
    yield emulator, server
    server.stop()


@pytest.fixture
def feed_server() -> Iterator[tuple[FeedEmulator, BackgroundServer]]:
    emulator = FeedEmulator()
    server = BackgroundServer(emulator.app).start()
    yield emulator, server
    server.stop()


def _collect(settings: Settings, rounds: int = 1) -> int:
    """One daemon lifetime: a fresh engine and collector, ``rounds`` polls of every source."""
    engine = make_engine(settings.database.url)
    migrate(engine)
    collector = MentionCollector(engine, settings, FrozenClock(NOW), SentimentService("it"))

    async def run() -> int:
        stored = 0
        for _ in range(rounds):
            await collector.poll_x()
            await collector.poll_feeds()
            stored += collector.process_received()
        await collector.aclose()
        return stored

    try:
        return asyncio.run(run())
    finally:
        engine.dispose()


def _mentions(url: str) -> list[Mention]:
    engine = make_engine(url)
    with Session(engine) as session:
        rows = list(session.exec(select(Mention).order_by(col(Mention.id))))
    engine.dispose()
    return rows


def test_x_search_mentions_are_stored_once_across_restarts(
    database_url: str, x_search: tuple[XSearchEmulator, BackgroundServer]
) -> None:
    emulator, server = x_search
    settings = listening_settings(database_url, x_url=server.url)
    angry = "@sportello_it worst support ever, my order is lost and nobody answers. Terrible!"
    first = emulator.post(ANNA, angry, created_at=NOW - timedelta(minutes=5))
    emulator.post(TOM, "RT @anna_b: " + angry, retweet_of=first)  # a retweet: left out
    emulator.post(OWN, "sportello: new opening hours from Monday")  # our own post: left out
    emulator.post(TOM, "acmeshop delivered in one day, impressive", created_at=NOW)
    emulator.post(TOM, "nothing to do with anybody")

    assert _collect(settings, rounds=2) == 2
    assert _collect(settings) == 0  # a restart: since_id comes from the database

    searches = [r for r in emulator.requests if "sportello" in r["query"]]
    assert searches[0]["query"] == "(sportello OR @sportello_it) -is:retweet -from:" + OWN.id
    assert "since_id" not in searches[0]
    assert searches[1]["since_id"] == searches[2]["since_id"] == first
    assert searches[0]["expansions"] == "author_id"

    brand, competitor = _mentions(database_url)
    assert (brand.source, brand.external_id, brand.topic) == ("x", first, "brand")
    assert (brand.author_id, brand.author_handle, brand.author_name) == (
        ANNA.id,
        "anna_b",
        "Anna Bruni",
    )
    assert brand.link == f"https://x.com/anna_b/status/{first}"
    assert brand.published_at == NOW - timedelta(minutes=5)
    assert brand.language == "en" and brand.sentiment_label == "negative"
    # English scores are exactly vaderSentiment's
    assert (
        brand.sentiment_compound == SentimentIntensityAnalyzer().polarity_scores(angry)["compound"]
    )
    assert competitor.topic == "Acme" and competitor.query == "acmeshop"

    engine = make_engine(database_url)
    with Session(engine) as session:
        raw = list(session.exec(select(Delivery).where(Delivery.channel == "x_search")))
    engine.dispose()
    assert raw and all(d.state == "processed" and d.source == "poll" for d in raw)
    assert b'"includes"' in raw[0].body  # the page exactly as X sent it


def test_search_pages_are_followed_and_rate_limits_leave_the_cursor(
    sqlite_url: str, x_search: tuple[XSearchEmulator, BackgroundServer]
) -> None:
    emulator, server = x_search
    settings = listening_settings(sqlite_url, x_url=server.url)
    for n in range(130):
        emulator.post(ANNA, f"sportello order {n} arrived")
    assert _collect(settings) == 130
    emulator.add_fault(429)
    emulator.post(TOM, "sportello is down again")
    assert _collect(settings) == 0  # refused: nothing stored, the cursor did not move
    assert _collect(settings) == 1


def test_feeds_use_conditional_get_and_store_each_entry_once(
    database_url: str, feed_server: tuple[FeedEmulator, BackgroundServer]
) -> None:
    emulator, server = feed_server
    settings = listening_settings(database_url, feed_url=server.url)
    emulator.add_alert(
        "Sportello, disservizi per i clienti",
        "https://www.example.it/economia/sportello-disservizi?id=7",
        "Molti clienti di Sportello lamentano ritardi: servizio pessimo, una vergogna",
        NOW - timedelta(hours=2),
    )
    emulator.add_news(
        "Sportello apre a Torino",
        "https://www.example-news.it/torino/sportello",
        "Sportello apre una nuova sede a Torino",
        NOW - timedelta(hours=1),
    )
    assert _collect(settings) == 2
    assert _collect(settings) == 0  # restart: the ETags are in the database
    assert emulator.statuses(ALERTS_PATH) == [200, 304]
    assert emulator.statuses(RSS_PATH) == [200, 304]

    emulator.add_news(
        "Sportello premiato",
        "https://www.example-news.it/premio",
        "Servizio clienti premiato",
        NOW,
    )
    assert _collect(settings) == 1  # the whole feed again, only the new entry stored
    alert, news, award = _mentions(database_url)
    assert alert.source == "feed" and alert.query == "google-alerts"
    assert alert.external_id.startswith("tag:google.com,2013:googlealerts/feed:")
    assert alert.link == "https://www.example.it/economia/sportello-disservizi?id=7"  # unwrapped
    assert alert.title == "Sportello, disservizi per i clienti"  # <b> removed
    assert alert.language == "it" and alert.sentiment_label == "negative"
    assert alert.published_at == NOW - timedelta(hours=2)
    assert news.query == "news" and news.link == "https://www.example-news.it/torino/sportello"
    assert award.title == "Sportello premiato - Il Quotidiano"


def test_a_body_that_is_not_a_feed_is_quarantined(
    sqlite_url: str, feed_server: tuple[FeedEmulator, BackgroundServer]
) -> None:
    emulator, server = feed_server
    emulator.broken = True
    settings = listening_settings(sqlite_url, feed_url=server.url)
    assert _collect(settings) == 0
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        raw = list(session.exec(select(Delivery).where(Delivery.channel == "feed")))
    engine.dispose()
    assert len(raw) == 1  # both feeds served the same page: journaled once
    assert raw[0].error is not None
    assert raw[0].state == "quarantined" and "not an RSS or Atom feed" in raw[0].error
