"""X end to end: tweepy against the local X API emulator, through the daemon's real data path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import tweepy
from conftest import (
    BRAND,
    BRAND_ID,
    EMMA_ID,
    MARCO_ID,
    RunningDaemon,
    make_settings,
    wait_for,
    x_channel,
)
from sqlmodel import Session, SQLModel, func, select

from sportello.config.settings import Settings, load_settings
from sportello.connectors.emulators.server import BackgroundServer
from sportello.connectors.emulators.x import XEmulator
from sportello.connectors.emulators.x_oauth import signed_by
from sportello.connectors.x import XConnector
from sportello.connectors.x_length import weighted_length
from sportello.inbox.clock import Clock
from sportello.inbox.models import Conversation, Delivery, Message
from sportello.inbox.polling import poll_once


def _by_external_id(running: RunningDaemon, external_id: str) -> list[dict[str, Any]]:
    return running.messages(channel="x", external_id=external_id)


def _count(running: RunningDaemon, model: type[SQLModel]) -> int:
    with Session(running.daemon.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_mentions_replies_and_dms_land_once_across_restarts(
    database_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    mention = emulator.tweet(EMMA_ID, f"@{BRAND} my order 4411 never arrived")
    dm = emulator.dm(EMMA_ID, BRAND_ID, "Here is my order number: 4411")
    settings = make_settings(database_url, channels=x_channel(server.url))
    running = start_daemon(settings)

    tweet_msg = wait_for(lambda: _by_external_id(running, mention["id"]))[0]
    dm_msg = wait_for(lambda: _by_external_id(running, dm["id"]))[0]
    assert tweet_msg["direction"] == "in" and tweet_msg["author"] == "customer"
    assert tweet_msg["text"] == f"@{BRAND} my order 4411 never arrived"
    public = running.api.get(f"/api/v1/conversations/{tweet_msg['conversation_id']}").json()
    assert public["public"] is True and public["thread_external_id"] == mention["id"]
    private = running.api.get(f"/api/v1/conversations/{dm_msg['conversation_id']}").json()
    assert private["public"] is False
    assert private["thread_external_id"] == f"{BRAND_ID}-{EMMA_ID}"
    customer = running.api.get(f"/api/v1/customers/{tweet_msg['customer_id']}").json()
    assert customer["identities"][0]["external_id"] == EMMA_ID
    assert customer["identities"][0]["handle"] == "emmac"
    assert tweet_msg["customer_id"] == dm_msg["customer_id"]

    # The brand answers in public; the customer's reply joins the same conversation.
    response = running.api.post(
        f"/api/v1/conversations/{tweet_msg['conversation_id']}/messages",
        json={"text": "Sorry Emma, we are on it."},
    )
    assert response.status_code == 201
    wait_for(lambda: emulator.posted_tweets)
    ours = emulator.posted_tweets[0]
    assert ours["reply"] == {"in_reply_to_tweet_id": mention["id"]}
    follow_up = emulator.tweet(EMMA_ID, f"@{BRAND} thanks, waiting", in_reply_to=ours["id"])
    joined = wait_for(lambda: _by_external_id(running, follow_up["id"]))[0]
    assert joined["conversation_id"] == tweet_msg["conversation_id"]

    # Restart on the same database: nothing seen before comes back, the new mention does.
    running.server.stop()
    later = emulator.tweet(MARCO_ID, f"@{BRAND} great service!")
    running = start_daemon(settings)
    wait_for(lambda: _by_external_id(running, later["id"]))
    for tweet_id in (mention["id"], dm["id"], follow_up["id"], later["id"]):
        assert len(_by_external_id(running, tweet_id)) == 1
    assert _count(running, Message) == 5  # 3 mentions, 1 DM, our reply
    with Session(running.daemon.engine) as session:
        conversations = session.exec(select(Conversation)).all()
    assert len(conversations) == 3


def test_overlapping_polls_store_each_item_once(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    settings = make_settings(sqlite_url, channels=x_channel(server.url))
    running = start_daemon(settings)
    emulator.tweet(MARCO_ID, f"@{BRAND} first")
    wait_for(lambda: running.messages(channel="x"))
    posted = [emulator.tweet(EMMA_ID, f"@{BRAND} question {n}")["id"] for n in range(30)]
    posted += [emulator.dm(EMMA_ID, BRAND_ID, f"dm {n}")["id"] for n in range(10)]

    async def overlap() -> None:
        connectors = [XConnector(settings.channels.x) for _ in range(3)]
        await asyncio.gather(
            *(poll_once(running.daemon.engine, c, Clock()) for c in connectors),
            return_exceptions=True,  # a racing poll may lose its commit; the winner keeps all
        )

    asyncio.run(overlap())
    wait_for(lambda: _count(running, Message) == 41)
    for external_id in posted:
        assert len(_by_external_id(running, external_id)) == 1


def test_own_tweets_and_dms_are_ours_and_edits_keep_the_original_id(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    mention = emulator.tweet(EMMA_ID, f"@{BRAND} hello?")
    running = start_daemon(make_settings(sqlite_url, channels=x_channel(server.url)))
    wait_for(lambda: _by_external_id(running, mention["id"]))

    typed_in_app = emulator.dm(BRAND_ID, EMMA_ID, "Hi Emma, written from the X app")
    own = wait_for(lambda: _by_external_id(running, typed_in_app["id"]))[0]
    assert own["direction"] == "out" and own["author"] == "agent"
    customer = running.api.get(f"/api/v1/customers/{own['customer_id']}").json()
    assert customer["identities"][0]["external_id"] == EMMA_ID

    edited = emulator.edit(mention["id"], f"@{BRAND} hello? anyone there?")

    def edited_text() -> list[dict[str, Any]] | None:
        found = _by_external_id(running, mention["id"])
        return found if found and found[0]["text"].endswith("anyone there?") else None

    wait_for(edited_text)
    assert _by_external_id(running, edited["id"]) == []
    inbound = running.messages(channel="x", direction="in")
    assert [m["external_id"] for m in inbound] == [mention["id"]]


def test_long_reply_becomes_a_numbered_thread(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    first = emulator.tweet(EMMA_ID, f"@{BRAND} where is my parcel?")
    running = start_daemon(make_settings(sqlite_url, channels=x_channel(server.url)))
    wait_for(lambda: _by_external_id(running, first["id"]))
    second = emulator.tweet(EMMA_ID, f"@{BRAND} hello??", in_reply_to=first["id"])
    inbound = wait_for(lambda: _by_external_id(running, second["id"]))[0]

    text = " ".join(f"word{n}" for n in range(90))  # 579 characters
    posts = _reply_as_thread(running, emulator, inbound["conversation_id"], text, parts=3)
    assert posts[0]["reply"]["in_reply_to_tweet_id"] == second["id"]  # the latest tweet
    assert posts[1]["reply"]["in_reply_to_tweet_id"] == posts[0]["id"]
    assert posts[2]["reply"]["in_reply_to_tweet_id"] == posts[1]["id"]
    assert " ".join(p["text"][:-4] for p in posts) == text


def test_a_reply_in_japanese_is_threaded_as_x_counts(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """151 characters that X weighs 2 each: as one post X would refuse it."""
    emulator, server = x_emulator
    mention = emulator.tweet(EMMA_ID, f"@{BRAND} 荷物はどこですか")
    running = start_daemon(make_settings(sqlite_url, channels=x_channel(server.url)))
    inbound = wait_for(lambda: _by_external_id(running, mention["id"]))[0]

    text = "ご注文の荷物は明日の午前中にお届けします。" * 7 + "よろしく"
    assert len(text) == 151 and weighted_length(text) == 302
    parts = f"/api/v1/conversations/{inbound['conversation_id']}/parts"
    assert running.api.post(parts, json={"text": text}).json() == {"parts": 2}
    assert running.api.post(parts, json={"text": text[:140]}).json() == {"parts": 1}
    posts = _reply_as_thread(running, emulator, inbound["conversation_id"], text, parts=2)
    assert "".join(p["text"][:-4] for p in posts) == text


def _reply_as_thread(
    running: RunningDaemon, emulator: XEmulator, conversation_id: int, text: str, parts: int
) -> list[dict[str, Any]]:
    """Reply ``text`` from the inbox; the numbered posts it went out as, once marked sent."""
    running.api.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": text})
    wait_for(lambda: len(emulator.posted_tweets) == parts)
    posts = emulator.posted_tweets
    assert [p["text"][-4:] for p in posts] == [f" {n}/{parts}" for n in range(1, parts + 1)]
    assert all(weighted_length(p["text"]) <= 280 for p in posts)

    def sent() -> list[dict[str, Any]] | None:
        out = running.messages(channel="x", direction="out")
        return out if out and out[0]["delivery_status"] == "sent" else None

    assert wait_for(sent)[0]["external_id"] == posts[0]["id"]
    return posts


def test_dm_reply_and_platform_errors(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    dm = emulator.dm(EMMA_ID, BRAND_ID, "Private question")
    running = start_daemon(make_settings(sqlite_url, channels=x_channel(server.url)))
    inbound = wait_for(lambda: _by_external_id(running, dm["id"]))[0]
    url = f"/api/v1/conversations/{inbound['conversation_id']}/messages"
    parts = f"/api/v1/conversations/{inbound['conversation_id']}/parts"
    assert running.api.post(parts, json={"text": "grazie " * 100}).json() == {"parts": 1}
    assert running.api.post(parts, json={"text": ""}).status_code == 422
    assert (
        running.api.post("/api/v1/conversations/999999/parts", json={"text": "hi"}).status_code
        == 404
    )

    emulator.add_fault("dm_send", 503)
    running.api.post(url, json={"text": "Happy to help in private."})
    wait_for(lambda: emulator.sent_dms, timeout=20)  # retried after the 5xx
    assert emulator.sent_dms[0]["participant_id"] == EMMA_ID
    assert emulator.sent_dms[0]["text"] == "Happy to help in private."

    emulator.add_fault("dm_send", 401)
    running.api.post(url, json={"text": "second"})

    def failed() -> list[dict[str, Any]] | None:
        found = [m for m in running.messages(channel="x", direction="out") if m["text"] == "second"]
        return found if found and found[0]["delivery_status"] == "failed" else None

    assert "credentials" in wait_for(failed)[0]["delivery_error"]


def test_duplicate_post_is_refused_clearly(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    mention = emulator.tweet(EMMA_ID, f"@{BRAND} hi")
    running = start_daemon(make_settings(sqlite_url, channels=x_channel(server.url)))
    inbound = wait_for(lambda: _by_external_id(running, mention["id"]))[0]
    url = f"/api/v1/conversations/{inbound['conversation_id']}/messages"
    running.api.post(url, json={"text": "Thanks!"})
    wait_for(lambda: emulator.posted_tweets)
    running.api.post(url, json={"text": "Thanks!"})

    def failed() -> list[dict[str, Any]] | None:
        found = [m for m in running.messages(channel="x", direction="out")]
        bad = [m for m in found if m["delivery_status"] == "failed"]
        return bad or None

    assert "duplicate" in wait_for(failed)[0]["delivery_error"]
    assert len(emulator.posted_tweets) == 1


def test_rate_limit_slows_the_poller_without_loss(
    database_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    emulator.tweet(MARCO_ID, f"@{BRAND} seed")
    running = start_daemon(make_settings(database_url, channels=x_channel(server.url)))
    wait_for(lambda: running.messages(channel="x"))
    emulator.set_rate_limit("mentions", 2, window_s=1.5)
    posted = [emulator.tweet(EMMA_ID, f"@{BRAND} n{n}")["id"] for n in range(150)]  # 2 pages
    emulator.add_fault("mentions", 429, reset_in_s=1.5)

    wait_for(lambda: _count(running, Message) == 151, timeout=30)
    for external_id in posted[::25]:
        assert len(_by_external_id(running, external_id)) == 1
    mention_calls = [c for c in emulator.calls if c[0] == "mentions"]
    forced = next(i for i, c in enumerate(mention_calls) if c[1] == 429)
    # After the forced 429 the poller waited for the reset, then stayed under the limit.
    assert [c[1] for c in mention_calls[forced + 1 :]].count(429) == 0
    assert mention_calls[forced + 1][2] - mention_calls[forced][2] >= 1.0

    usage = running.api.get("/api/v1/channels/x/usage").json()
    made = len(emulator.calls)  # a poll may be in flight: its requests are counted on commit
    assert made - 2 <= usage["requests_today"] <= made


def test_daily_budget_caps_requests(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    emulator.tweet(EMMA_ID, f"@{BRAND} hello")
    settings = make_settings(sqlite_url, channels=x_channel(server.url, requests_per_day=4))
    running = start_daemon(settings)
    wait_for(lambda: running.messages(channel="x"))
    # 4 requests a day, 2 a poll (mentions and DMs): the next poll is due in hours, not now.
    wait_for(lambda: len(emulator.calls) == 2)
    later = emulator.tweet(EMMA_ID, f"@{BRAND} still there?")
    usage = running.api.get("/api/v1/channels/x/usage").json()
    assert usage["requests_per_day"] == 4 and usage["requests_today"] == 2
    assert usage["requests_this_month"] == 2
    asyncio.run(asyncio.sleep(1.0))  # five poll intervals: each one skipped
    assert len(emulator.calls) == 2

    # A restart keeps the pace: the budget's next poll is still hours away.
    running.server.stop()
    running = start_daemon(settings)
    asyncio.run(asyncio.sleep(1.0))
    assert len(emulator.calls) == 2
    assert running.api.get("/api/v1/channels/x/usage").json()["requests_today"] == 2
    assert _by_external_id(running, later["id"]) == []


def _webhook_settings(url: str, server_url: str) -> Settings:
    return make_settings(url, channels=x_channel(server_url, mode="webhook"))


def test_webhook_crc_signature_and_activity(
    database_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    running = start_daemon(_webhook_settings(database_url, server.url))
    emulator.webhook_url = f"{running.url}/webhooks/x"
    assert asyncio.run(emulator.crc_check())
    assert running.post_webhook("x", b"{}", {}).status_code == 403

    mention = emulator.tweet(EMMA_ID, f"@{BRAND} the app crashes")
    payload = emulator.activity_for_tweet(mention)
    forged = emulator.sign(b"something else")
    assert asyncio.run(emulator.deliver(payload, signature=forged)) == 403
    assert _count(running, Delivery) == 0
    for _ in range(2):
        assert asyncio.run(emulator.deliver(payload)) == 200
    inbound = wait_for(lambda: _by_external_id(running, mention["id"]))[0]
    assert inbound["direction"] == "in"

    # Our own reply (posted from the X app) and the customer's answer to it: one conversation.
    ours = emulator.tweet(BRAND_ID, "@emmac please update the app", in_reply_to=mention["id"])
    asyncio.run(emulator.deliver(emulator.activity_for_tweet(ours)))
    answer = emulator.tweet(EMMA_ID, f"@{BRAND} done, works", in_reply_to=ours["id"])
    asyncio.run(emulator.deliver(emulator.activity_for_tweet(answer)))
    own = wait_for(lambda: _by_external_id(running, ours["id"]))[0]
    assert own["direction"] == "out" and own["author"] == "agent"
    joined = wait_for(lambda: _by_external_id(running, answer["id"]))[0]
    assert own["conversation_id"] == joined["conversation_id"] == inbound["conversation_id"]
    # The journal is worked in order: the mention delivered twice is stored once.
    assert len(_by_external_id(running, mention["id"])) == 1

    dm = emulator.dm(EMMA_ID, BRAND_ID, "private details")
    asyncio.run(emulator.deliver(emulator.activity_for_dm(dm)))
    assert asyncio.run(
        emulator.deliver({"for_user_id": BRAND_ID, "favorite_events": [{"id": "f1"}]})
    )
    dm_msg = wait_for(lambda: _by_external_id(running, dm["id"]))[0]
    assert dm_msg["text"] == "private details" and dm_msg["customer_id"] == inbound["customer_id"]
    assert _count(running, Message) == 4
    quarantined = running.api.get("/api/v1/deliveries", params={"status": "quarantined"}).json()
    assert quarantined["items"] == []


def test_channel_disabled_without_credentials(
    sqlite_url: str, start_daemon: Callable[..., RunningDaemon]
) -> None:
    running = start_daemon(make_settings(sqlite_url))
    assert running.post_webhook("x", b"{}", {}).status_code == 404
    assert running.api.get("/api/v1/channels/x/usage").status_code == 404
    assert XConnector.from_settings(load_settings(None)) is None


def _media(message: dict[str, Any]) -> list[tuple[str, str, str]]:
    # A post's pictures are public https links: the inbox links them. A DM's are not (below):
    # the daemon fetches those.
    for a in message["attachments"]:
        assert ("content_url" in a) == a["url"].startswith("https://ton.twitter.com/")
    return [(a["kind"], a["platform_id"], a["url"]) for a in message["attachments"]]


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_pictures_and_videos_arrive_as_attachments_without_their_link(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
    mode: str,
) -> None:
    emulator, server = x_emulator
    photo = emulator.tweet(EMMA_ID, f"@{BRAND} the box arrived like this", media=["photo"])
    clip = emulator.tweet(MARCO_ID, f"@{BRAND} look", media=["video", "photo"])
    dm = emulator.dm(EMMA_ID, BRAND_ID, "", media="photo")
    complaint = f"@{BRAND} " + "the parcel was left in the rain and all of it is wet. " * 3
    long = emulator.tweet(EMMA_ID, complaint.strip(), media=["photo"])  # over 140: truncated
    assert photo["text"].startswith(f"@{BRAND} the box arrived like this https://t.co/")
    running = start_daemon(make_settings(sqlite_url, channels=x_channel(server.url, mode=mode)))
    if mode == "webhook":
        emulator.webhook_url = f"{running.url}/webhooks/x"
        for payload in (
            emulator.activity_for_tweet(photo),
            emulator.activity_for_tweet(clip),
            emulator.activity_for_dm(dm),
            emulator.activity_for_tweet(long),
        ):
            assert asyncio.run(emulator.deliver(payload)) == 200

    stored = wait_for(lambda: _by_external_id(running, photo["id"]))[0]
    assert stored["text"] == f"@{BRAND} the box arrived like this"
    assert stored["kind"] == "media"
    (key,) = photo["attachments"]["media_keys"]
    assert _media(stored) == [("image", _platform_id(key, mode), emulator.media[key]["url"])]

    both = wait_for(lambda: _by_external_id(running, clip["id"]))[0]
    assert both["text"] == f"@{BRAND} look"
    video, picture = (emulator.media[k] for k in clip["attachments"]["media_keys"])
    expected = [
        ("video", _platform_id(video["media_key"], mode), video["preview_image_url"]),
        ("image", _platform_id(picture["media_key"], mode), picture["url"]),
    ]
    # Account Activity's v1.1 tweet names one medium in entities and all in extended_entities.
    assert _media(both) == expected

    private = wait_for(lambda: _by_external_id(running, dm["id"]))[0]
    assert private["text"] == "" and private["kind"] == "media"
    (key,) = dm["attachments"]["media_keys"]
    assert _media(private) == [("image", _platform_id(key, mode), emulator.media[key]["url"])]
    # A DM's picture opens only to a GET signed as the account: the daemon fetches it.
    assert emulator.media[key]["url"].startswith("https://ton.twitter.com/1.1/ton/data/dm/")
    signed = running.api.get(private["attachments"][0]["content_url"])
    assert signed.status_code == 200 and signed.headers["content-type"] == "image/png"
    path = emulator.media[key]["url"].removeprefix("https://ton.twitter.com")
    assert signed.content == emulator.dm_files[path]
    assert httpx.get(server.url + path).status_code == 401  # unsigned

    # Account Activity cuts it at 140 and carries the whole text and media in extended_tweet.
    whole = wait_for(lambda: _by_external_id(running, long["id"]))[0]
    assert whole["text"] == complaint.strip()
    (key,) = long["attachments"]["media_keys"]
    assert _media(whole) == [("image", _platform_id(key, mode), emulator.media[key]["url"])]


def _platform_id(media_key: str, mode: str) -> str:
    """API v2 names a medium by its key (``3_<id>``), Account Activity by its id."""
    return media_key if mode == "polling" else media_key.split("_", 1)[1]


def test_signed_but_unusable_delivery_is_quarantined(
    sqlite_url: str,
    x_emulator: tuple[XEmulator, BackgroundServer],
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    emulator, server = x_emulator
    running = start_daemon(_webhook_settings(sqlite_url, server.url))
    emulator.webhook_url = f"{running.url}/webhooks/x"
    assert asyncio.run(emulator.deliver({"hello": "world"})) == 200

    def quarantined() -> list[dict[str, Any]] | None:
        page = running.api.get("/api/v1/deliveries", params={"status": "quarantined"}).json()
        return page["items"] or None

    assert "not an X delivery" in wait_for(quarantined)[0]["error"]
    assert running.messages(channel="x") == []


def test_the_emulated_dm_picture_host_checks_the_oauth_signature() -> None:
    """The end-to-end DM picture test proves our signing only if the emulator checks it."""
    url = "https://ton.twitter.com/1.1/ton/data/dm/1/2/abc.png"
    keys = {"consumer_key": "ck", "consumer_secret": "cs", "token": "tk", "token_secret": "ts"}

    def header(**changed: str) -> str:
        chosen = {**keys, **changed}
        auth = tweepy.OAuth1UserHandler(
            chosen["consumer_key"],
            chosen["consumer_secret"],
            chosen["token"],
            chosen["token_secret"],
        ).apply_auth()
        value = requests.Request("GET", url, auth=auth).prepare().headers["Authorization"]
        return value.decode() if isinstance(value, bytes) else value

    assert signed_by(header(), url, **keys)
    assert not signed_by(header(), url.replace("abc", "abd"), **keys)
    assert not signed_by(header(token_secret="other"), url, **keys)
    assert not signed_by(header(consumer_secret="other"), url, **keys)
    assert not signed_by(header(token="other"), url, **keys)
    assert not signed_by("Bearer x-bearer", url, **keys)
    assert not signed_by(header(), url, method="POST", **keys)  # the method is signed too
