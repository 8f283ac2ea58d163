"""The listening API on a running daemon: mentions, trend, share of voice, corrections,
promotion, alerts; and public tweets from the inbox becoming mentions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from conftest import TELEGRAM_SECRET, RunningDaemon, telegram_channel, wait_for
from listening_helpers import ANNA, TOM, X_BEARER, listening_settings
from sqlmodel import Session

from sportello.connectors.base import InboundMessage, MessageEdited, Person, Thread
from sportello.connectors.emulators import telegram_payloads as tg
from sportello.connectors.emulators.feeds import FeedEmulator
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.telegram import TelegramEmulator
from sportello.connectors.emulators.x_search import XSearchEmulator
from sportello.inbox.db import make_engine, migrate, session_scope
from sportello.inbox.ingest import ingest
from sportello.inbox.models import Conversation
from sportello.listening.mentions import find_mention, store_public_tweets
from sportello.listening.relabel import relabel_mention
from sportello.sentiment import SentimentService


def test_mentions_api_end_to_end(
    sqlite_url: str,
    telegram_emulator: tuple[TelegramEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    x = XSearchEmulator(X_BEARER)
    feeds = FeedEmulator()
    x_server, feed_server = BackgroundServer(x.app).start(), BackgroundServer(feeds.app).start()
    _, telegram_server = telegram_emulator
    try:
        now = datetime.now(UTC)
        angry = x.post(
            ANNA, "@sportello_it worst service ever, I am furious and want my money back", lang="en"
        )
        x.post(TOM, "acmeshop is great", lang="en")
        feeds.add_news("Sportello apre a Torino", "https://news.example.it/t", "Nuova sede", now)
        settings = listening_settings(
            sqlite_url,
            x_url=x_server.url,
            feed_url=feed_server.url,
            channels=telegram_channel(telegram_server.url),
            alerts={
                "rules": [
                    {"name": "neg", "kind": "negative_share", "min_volume": 1, "threshold": 0.3}
                ],
                "evaluate_interval": "1s",
            },
        )
        running = start_daemon(settings)
        api = running.api

        def mentions(**params: str) -> list[dict[str, Any]]:
            return api.get("/api/v1/mentions", params=params).json()["items"]

        wait_for(lambda: len(mentions()) == 3, timeout=20)
        (tweet,) = mentions(source="x", topic="brand")
        assert tweet["external_id"] == angry and tweet["author_handle"] == "anna_b"
        assert tweet["sentiment"]["label"] == "negative" and tweet["language"] == "en"
        assert [m["source"] for m in mentions(language="it")] == ["feed"]
        assert [m["external_id"] for m in mentions(label="negative")] == [angry]
        assert [m["topic"] for m in mentions(q="ACMESHOP")] == ["Acme"]
        page = api.get("/api/v1/mentions", params={"limit": 2}).json()
        rest = api.get("/api/v1/mentions", params={"cursor": page["next_cursor"]}).json()
        assert len(page["items"]) == 2 and len(rest["items"]) == 1 and not rest["next_cursor"]

        # the alert rule sees the negative tweet; the alert is listed
        alert = wait_for(lambda: api.get("/api/v1/alerts").json()["items"], timeout=20)[0]
        assert alert["kind"] == "negative_share" and alert["state"] == "firing"

        trend = api.get("/api/v1/mentions/trend", params={"bucket": "hour"}).json()
        assert sum(b["count"] for b in trend["items"]) == 2  # brand topic only
        assert sum(b["negative"] for b in trend["items"]) == 1
        sov = api.get("/api/v1/mentions/share-of-voice", params={"bucket": "day"}).json()
        assert sov["totals"] == {"brand": 2, "Acme": 1}
        assert sov["share"]["brand"] == round(2 / 3, 4)

        # a human correction is kept and shown
        corrected = api.patch(
            f"/api/v1/mentions/{tweet['id']}/sentiment", json={"label": "neutral"}
        ).json()
        assert corrected["sentiment"] == {
            "compound": 0.0,
            "label": "neutral",
            "language": "en",
            "corrected": True,
        }
        bad = api.patch(
            f"/api/v1/mentions/{tweet['id']}/sentiment",
            json={"label": "positive", "compound": -0.4},
        )
        assert bad.status_code == 422

        # promote: the X mention becomes a public conversation on x; a feed item cannot
        promoted = api.post(f"/api/v1/mentions/{tweet['id']}/promote")
        assert promoted.status_code == 200
        conversation = promoted.json()
        assert conversation["channel"] == "x" and conversation["public"] is True
        assert conversation["status"] == "open"
        (message,) = running.messages(conversation_id=conversation["id"])
        assert message["external_id"] == angry and message["sentiment"]["corrected"] is True
        customer = api.get(f"/api/v1/customers/{message['customer_id']}").json()
        assert customer["identities"][0]["external_id"] == ANNA.id
        again = api.post(f"/api/v1/mentions/{tweet['id']}/promote").json()
        assert again["id"] == conversation["id"]
        (news,) = mentions(source="feed")
        refused = api.post(f"/api/v1/mentions/{news['id']}/promote")
        assert refused.status_code == 409 and "no author" in refused.json()["detail"]

        # a customer's message: relabelled, the conversation's figures follow
        update = tg.update(
            700001,
            message=tg.message(
                1, tg.user(5551001, "Giulia", "Rossi"), int(time.time()), text="Grazie, tutto ok!"
            ),
        )
        running.post_webhook(
            "telegram",
            json.dumps(update).encode(),
            {
                "content-type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
            },
        )
        inbound = wait_for(lambda: running.messages(channel="telegram"))[0]
        fixed = api.patch(
            f"/api/v1/messages/{inbound['id']}/sentiment",
            json={"label": "negative", "compound": -0.8},
        ).json()
        assert fixed["sentiment"]["compound"] == -0.8 and fixed["sentiment"]["corrected"]
        conv = api.get(f"/api/v1/conversations/{inbound['conversation_id']}").json()
        assert conv["latest_sentiment"] == -0.8 and conv["worst_sentiment"] == -0.8
    finally:
        x_server.stop()
        feed_server.stop()


def test_public_tweets_in_the_inbox_are_mentions_and_corrections_survive_edits(
    sqlite_url: str,
) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    sentiment = SentimentService("it")
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    text = "@sportello_it still no answer after three days, this is ridiculous"
    event = InboundMessage(
        channel="x",
        external_id="1861000000000000001",
        thread=Thread("1861000000000000001", public=True),
        customer=Person(ANNA.id, display_name=ANNA.name, handle=ANNA.username),
        sent_at=at,
        text=text,
    )
    private = InboundMessage(
        channel="x",
        external_id="dm-1",
        thread=Thread("dm:" + ANNA.id),
        customer=Person(ANNA.id),
        sent_at=at,
        text="a DM",
    )
    with session_scope(engine) as session:
        ingested = ingest(session, [event, private], now=at, scorer=sentiment.score)
        store_public_tweets(session, ingested)
    with session_scope(engine) as session:
        mention = find_mention(session, "x", "1861000000000000001")
        assert mention is not None and find_mention(session, "x", "dm-1") is None
        assert mention.query == "inbox" and mention.author_handle == "anna_b"
        assert mention.conversation_id is not None and mention.message_id is not None
        assert mention.sentiment_label == "negative" and mention.language == "en"
        relabel_mention(session, mention, "positive", 0.4)
    with session_scope(engine) as session:  # an edit rescored the text: the correction stays
        edit = MessageEdited("x", "1861000000000000001", "thank you, all good now!", at)
        (edited,) = ingest(session, [edit], now=at, scorer=sentiment.score).edited
        assert edited.sentiment_compound == 0.4 and edited.sentiment_corrected
    with Session(engine) as session:
        conversation = session.get(Conversation, mention.conversation_id)
        assert conversation is not None and conversation.worst_sentiment == 0.4
    engine.dispose()
