"""X (Twitter) through tweepy's API v2 Client: mentions, replies and direct messages.

Inbound comes two ways, one per ``channels.x.mode``:

- ``polling``: ``GET /2/users/:id/mentions`` (``since_id``) and ``GET /2/dm_events``
  (newest first, read back to the newest event already seen). Each tweet or DM event
  is journaled as a v2 single-object document ``{"data": {...}, "includes": {...}}``
  with the users and tweets it references, keyed ``tweet:<id>`` / ``dm:<id>``, so
  overlapping polls and restarts store it once.
- ``webhook``: Account Activity deliveries (``tweet_create_events``,
  ``direct_message_events``), signed with the consumer secret.

A public tweet's conversation is its ``conversation_id``; a DM's is its
``dm_conversation_id``. Tweets and DMs by ``channels.x.user_id`` are ours: direction
``out``, the customer being the person addressed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import tweepy

from sportello.config.settings import Settings, XSettings
from sportello.connectors.base import (
    MALFORMED,
    Connector,
    Event,
    HandshakeReply,
    Ignored,
    InboundMessage,
    Media,
    MediaError,
    MessageEdited,
    OutboundFile,
    OutboundMessage,
    ParseError,
    Person,
    PollResult,
    RawDelivery,
    SendError,
    SendResult,
    Thread,
)
from sportello.connectors.x_api import RateLimit, build_client, has_user_auth, user_auth
from sportello.connectors.x_length import thread_chunks
from sportello.connectors.x_media import fetch_dm_picture, is_dm_picture, v1_media, v2_media
from sportello.connectors.x_poll import Budget, PollState, Sweep
from sportello.connectors.x_upload import refusal, upload

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
MAX_DM = 10_000
PAGE_SIZE = 100
MAX_PAGES_PER_POLL = 5
LOW_REMAINING = 1  # stop calling an endpoint when this few requests are left in its window
ERROR_PAUSE_S = 30.0
AUTH_PAUSE_S = 900.0

MEDIA_FIELDS = ["media_key", "type", "url", "preview_image_url", "alt_text"]
MENTION_PARAMS: dict[str, Any] = {
    "expansions": [
        "author_id",
        "referenced_tweets.id",
        "in_reply_to_user_id",
        "attachments.media_keys",
    ],
    "tweet_fields": [
        "created_at",
        "conversation_id",
        "in_reply_to_user_id",
        "referenced_tweets",
        "lang",
        "edit_history_tweet_ids",
        "author_id",
        "attachments",
        "entities",
    ],
    "user_fields": ["username", "name"],
    "media_fields": MEDIA_FIELDS,
}
DM_PARAMS: dict[str, Any] = {
    "dm_event_fields": [
        "id",
        "text",
        "event_type",
        "created_at",
        "sender_id",
        "dm_conversation_id",
        "participant_ids",
        "attachments",
        "entities",
    ],
    "event_types": "MessageCreate",
    "expansions": ["sender_id", "attachments.media_keys"],
    "user_fields": ["username", "name"],
    "media_fields": MEDIA_FIELDS,
}
# Account Activity events that never carry a customer's message.
IGNORED_ACTIVITY = (
    "favorite_events",
    "follow_events",
    "unfollow_events",
    "block_events",
    "unblock_events",
    "mute_events",
    "unmute_events",
    "user_event",
    "direct_message_indicate_typing_events",
    "direct_message_mark_read_events",
    "tweet_delete_events",
)


class XConnector(Connector):
    name = "x"

    def __init__(self, settings: XSettings, now: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.user_id = settings.user_id
        self.user_auth = has_user_auth(settings)
        self.client = build_client(settings)
        self.budget = Budget(settings.requests_per_day, settings.requests_per_month)
        self.now = now or (lambda: datetime.now(UTC))
        secret = settings.consumer_secret
        self._secret = secret.get_secret_value().encode() if secret is not None else None

    @classmethod
    def from_settings(cls, settings: Settings) -> XConnector | None:
        return cls(settings.channels.x) if settings.channels.x.enabled else None

    # webhook -------------------------------------------------------------------------

    def sign(self, payload: bytes) -> str:
        """``sha256=<base64 HMAC-SHA256>`` of ``payload`` with the consumer secret."""
        assert self._secret is not None
        digest = hmac.new(self._secret, payload, hashlib.sha256).digest()
        return "sha256=" + base64.b64encode(digest).decode()

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        given = headers.get(SIGNATURE_HEADER)
        if self._secret is None or given is None:
            return False
        return hmac.compare_digest(given.encode(), self.sign(body).encode())

    def handshake(self, query: Mapping[str, str]) -> HandshakeReply:
        """The CRC challenge X sends when registering the webhook and every hour after."""
        token = query.get("crc_token")
        if self._secret is None:
            return HandshakeReply(404, {"detail": "channels.x.consumer_secret is not set"})
        if not token:
            return HandshakeReply(400, {"detail": "crc_token is required"})
        return HandshakeReply(200, {"response_token": self.sign(token.encode())})

    def dedup_key(self, body: bytes) -> str | None:
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        item = data.get("data")
        if isinstance(item, dict) and "id" in item:
            return f"{'dm' if 'event_type' in item else 'tweet'}:{item['id']}"
        for key, prefix, id_key in (
            ("tweet_create_events", "tweet", "id_str"),
            ("direct_message_events", "dm", "id"),
        ):
            events = data.get(key)
            if isinstance(events, list) and len(events) == 1 and isinstance(events[0], dict):
                event_id = events[0].get(id_key)
                return f"{prefix}:{event_id}" if event_id else None
        return None

    # parsing -------------------------------------------------------------------------

    def parse(self, delivery: RawDelivery) -> list[Event]:
        try:
            data = json.loads(delivery.body)
        except ValueError as exc:
            raise ParseError(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ParseError("not an X delivery: expected a JSON object")
        try:
            if "for_user_id" in data:
                return list(self._activity_events(data))
            if "data" in data:
                return list(self._v2_events(data))
        except MALFORMED as exc:
            raise ParseError(f"malformed X payload: {exc!r}") from None
        raise ParseError("not an X delivery: neither an API v2 document nor Account Activity")

    def _v2_events(self, doc: dict[str, Any]) -> Iterator[Event]:
        items = doc["data"] if isinstance(doc["data"], list) else [doc["data"]]
        includes = doc.get("includes") or {}
        users = {str(u["id"]): tweepy.User(u) for u in includes.get("users", [])}
        media = {str(m["media_key"]): tweepy.Media(m) for m in includes.get("media", [])}
        for item in items:
            if "event_type" in item:
                yield self._dm_v2(tweepy.DirectMessageEvent(item), users, media)
            else:
                yield from self._tweet_v2(tweepy.Tweet(item), users, media)

    def _tweet_v2(
        self, tweet: tweepy.Tweet, users: dict[str, tweepy.User], media: dict[str, tweepy.Media]
    ) -> Iterator[Event]:
        references = {ref.type: str(ref.id) for ref in tweet.referenced_tweets or []}
        if "retweeted" in references:
            yield _ignored("retweet", "a retweet repeats someone else's post")
            return
        author = str(tweet.author_id)
        sent_at = tweet.created_at or self.now()
        ours = author == self.user_id
        if ours:
            addressed = tweet.in_reply_to_user_id
            if addressed is None or str(addressed) == self.user_id:
                yield _ignored("own_tweet", "the brand's own post, addressed to no customer")
                return
            customer = _v2_person(str(addressed), users)
        else:
            customer = _v2_person(author, users)
        history = [str(i) for i in tweet.edit_history_tweet_ids or []]
        original = history[0] if history else str(tweet.id)
        text, attachments = v2_media(tweet.attachments, tweet.entities, media, tweet.text)
        yield InboundMessage(
            channel="x",
            external_id=original,
            thread=Thread(external_id=str(tweet.conversation_id or original), public=True),
            customer=customer,
            sent_at=sent_at,
            text=text,
            kind="media" if attachments else "text",
            direction="out" if ours else "in",
            attachments=attachments,
            reply_to_external_id=references.get("replied_to"),
        )
        if original != str(tweet.id):
            yield MessageEdited(channel="x", external_id=original, text=text, edited_at=sent_at)

    def _dm_v2(
        self,
        event: tweepy.DirectMessageEvent,
        users: dict[str, tweepy.User],
        media: dict[str, tweepy.Media],
    ) -> Event:
        if event.event_type != "MessageCreate":
            return _ignored(event.event_type, "membership notice of a DM conversation")
        sender = str(event.sender_id)
        conversation = event.dm_conversation_id or ""
        participants = [str(p) for p in event.participant_ids or []] or [
            p for p in conversation.split("-") if p
        ]
        ours = sender == self.user_id
        if ours:
            others = [p for p in participants if p != self.user_id]
            if not others:
                return _ignored("own_dm", "a DM of ours with no other participant")
            customer = _v2_person(others[0], users)
        else:
            customer = _v2_person(sender, users)
        # A one-to-one DM conversation is always between the brand and the customer.
        thread = conversation or _dm_thread(customer.external_id, self.user_id or sender)
        text, attachments = v2_media(
            event.attachments, event.data.get("entities"), media, event.text or ""
        )
        return InboundMessage(
            channel="x",
            external_id=str(event.id),
            thread=Thread(external_id=thread),
            customer=customer,
            sent_at=event.created_at or self.now(),
            text=text,
            kind="media" if attachments else "text",
            direction="out" if ours else "in",
            attachments=attachments,
        )

    def _activity_events(self, data: dict[str, Any]) -> Iterator[Event]:
        found = False
        for tweet in data.get("tweet_create_events", []):
            found = True
            yield from self._tweet_v1(tweet)
        users = data.get("users") or {}
        for event in data.get("direct_message_events", []):
            found = True
            yield self._dm_v1(event, users)
        for kind in IGNORED_ACTIVITY:
            if kind in data:
                found = True
                yield _ignored(kind, "not a customer message")
        if not found:
            kinds = sorted(k for k in data if k != "for_user_id")
            yield _ignored(",".join(kinds) or "empty", "Account Activity event not handled")

    def _tweet_v1(self, tweet: dict[str, Any]) -> Iterator[Event]:
        """A tweet in the v1.1 shape Account Activity delivers."""
        if "retweeted_status" in tweet:
            yield _ignored("retweet", "a retweet repeats someone else's post")
            return
        user = tweet["user"]
        author = str(user["id_str"])
        extended = tweet.get("extended_tweet") or {}
        full_text = extended.get("full_text") or tweet.get("full_text", tweet.get("text", ""))
        described = extended if "full_text" in extended else tweet
        media_entities = (described.get("extended_entities") or {}).get("media") or (
            described.get("entities") or {}
        ).get("media", [])
        text, attachments = v1_media(media_entities, full_text)
        sent_at = parsedate_to_datetime(tweet["created_at"]).astimezone(UTC)
        tweet_id = str(tweet["id_str"])
        history = (tweet.get("edit_history") or {}).get("edit_tweet_ids") or []
        original = str(history[0]) if history else tweet_id
        replied = tweet.get("in_reply_to_status_id_str")
        ours = author == self.user_id
        if ours:
            addressed = tweet.get("in_reply_to_user_id_str")
            if not addressed or addressed == self.user_id:
                yield _ignored("own_tweet", "the brand's own post, addressed to no customer")
                return
            customer = Person(external_id=addressed, handle=tweet.get("in_reply_to_screen_name"))
        else:
            customer = Person(
                external_id=author, display_name=user.get("name"), handle=user.get("screen_name")
            )
        # Account Activity tweets carry no conversation_id: a reply joins the conversation
        # of the tweet it answers (found by the inbox), a new tweet starts its own.
        thread_id = tweet.get("conversation_id_str") or replied or original
        yield InboundMessage(
            channel="x",
            external_id=original,
            thread=Thread(external_id=str(thread_id), public=True),
            customer=customer,
            sent_at=sent_at,
            text=text,
            kind="media" if attachments else "text",
            direction="out" if ours else "in",
            attachments=attachments,
            reply_to_external_id=replied,
        )
        if original != tweet_id:
            yield MessageEdited(channel="x", external_id=original, text=text, edited_at=sent_at)

    def _dm_v1(self, event: dict[str, Any], users: dict[str, Any]) -> Event:
        if event.get("type") != "message_create":
            return _ignored(str(event.get("type")), "not a direct message")
        create = event["message_create"]
        sender = str(create["sender_id"])
        recipient = str(create["target"]["recipient_id"])
        ours = sender == self.user_id
        other = recipient if ours else sender
        profile = users.get(other) or {}
        customer = Person(
            external_id=other, display_name=profile.get("name"), handle=profile.get("screen_name")
        )
        sent_at = datetime.fromtimestamp(int(event["created_timestamp"]) / 1000, UTC)
        data = create.get("message_data") or {}
        attached = data.get("attachment") or {}
        text, attachments = v1_media(
            [attached["media"]] if attached.get("media") else [], data.get("text", "")
        )
        return InboundMessage(
            channel="x",
            external_id=str(event["id"]),
            thread=Thread(external_id=_dm_thread(sender, recipient)),
            customer=customer,
            sent_at=sent_at,
            text=text,
            kind="media" if attachments else "text",
            direction="out" if ours else "in",
            attachments=attachments,
        )

    # outbound ------------------------------------------------------------------------

    def parts(self, message: OutboundMessage) -> list[str]:
        """A public reply is a numbered thread of posts (X's weighted length); a DM is one."""
        return thread_chunks(message.text) if message.public else [message.text]

    async def send(self, message: OutboundMessage) -> SendResult:
        if not self.user_auth:
            raise SendError(
                "X needs channels.x.consumer_key, consumer_secret, access_token and "
                "access_token_secret to post",
                retryable=False,
            )
        if message.file is not None and (why := refusal(message.file)) is not None:
            raise SendError(why, retryable=False)
        if message.public:
            return await asyncio.to_thread(self._send_tweets, message)
        return await asyncio.to_thread(self._send_dm, message)

    def can_send_file(
        self, file: OutboundFile, last_customer_message_at: datetime | None, now: datetime
    ) -> str | None:
        if not self.user_auth:
            return "X needs the OAuth 1.0a user keys of channels.x to send files"
        return refusal(file)

    def _send_tweets(self, message: OutboundMessage) -> SendResult:
        """A reply to the customer's tweet; a longer text becomes a numbered thread. A file
        is uploaded first and goes with the first post."""
        chunks = self.parts(message)
        reply_to = message.reply_to_external_id or message.thread_external_id
        media_ids = [self._upload(message.file, dm=False)] if message.file else None
        ids: list[str] = []
        for chunk in chunks:
            try:
                response = self.client.create_tweet(
                    text=chunk or None,
                    in_reply_to_tweet_id=reply_to,
                    media_ids=None if ids else media_ids,
                    user_auth=True,
                )
            except (tweepy.TweepyException, requests.RequestException) as exc:
                error = _send_error(exc, self.now())
                if not ids:
                    raise error from exc
                raise SendError(
                    f"posted {len(ids)} of {len(chunks)} parts ({', '.join(ids)}), "
                    f"then: {error.reason}",
                    retryable=False,
                ) from exc
            reply_to = str(response.json()["data"]["id"])
            ids.append(reply_to)
        return SendResult(external_ids=tuple(ids), sent_at=self.now())

    def _send_dm(self, message: OutboundMessage) -> SendResult:
        """One DM; a file is uploaded first and goes in it, the text beside it."""
        if len(message.text) > MAX_DM:
            raise SendError(f"a direct message holds at most {MAX_DM} characters", retryable=False)
        media_id = self._upload(message.file, dm=True) if message.file else None
        try:
            response = self.client.create_direct_message(
                participant_id=message.recipient_external_id,
                text=message.text or None,
                media_id=media_id,
                user_auth=True,
            )
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise _send_error(exc, self.now()) from exc
        event_id = str(response.json()["data"]["dm_event_id"])
        return SendResult(external_ids=(event_id,), sent_at=self.now())

    def _upload(self, file: OutboundFile, *, dm: bool) -> str:
        try:
            return upload(self.client, file, dm=dm)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise _send_error(exc, self.now()) from exc

    # polling -------------------------------------------------------------------------

    @property
    def polls(self) -> bool:
        return self.settings.mode == "polling" and self.user_id is not None

    async def poll(self, cursor: str | None) -> PollResult:
        return await asyncio.to_thread(self._poll, cursor)

    def _poll(self, cursor: str | None) -> PollResult:
        state = PollState.load(cursor)
        early = state.not_yet(self.now())
        if early > 0:  # a restart does not reset the pace of the request budget
            return PollResult(bodies=(), cursor=cursor, wait_s=early)
        bodies: list[bytes] = []
        self._sweep(state, state.mentions, self._mentions_page, bodies)
        if self.user_auth:
            self._sweep(state, state.dms, self._dm_page, bodies)
        now = self.now()
        sweeps = [state.mentions, state.dms] if self.user_auth else [state.mentions]
        waits = [
            min(s.paused(now) for s in sweeps),
            self.budget.exhausted_for(state.usage, now),
            self.budget.spacing(state.usage, now, cost=len(sweeps)),
        ]
        wait = max(waits)
        pace = waits[2]
        state.next_poll_at = (
            (now + timedelta(seconds=pace)).isoformat()
            if pace > self.settings.poll_interval_s
            else None
        )
        return PollResult(
            bodies=bodies,
            cursor=state.dump(),
            wait_s=wait if wait > self.settings.poll_interval_s else None,
        )

    def usage(self, cursor: str | None) -> dict[str, Any]:
        """Requests used and allowed this day and month, and when each endpoint may run."""
        state = PollState.load(cursor)
        report = self.budget.report(state.usage, self.now())
        report["mentions_paused_until"] = state.mentions.paused_until
        report["dms_paused_until"] = state.dms.paused_until
        report["mode"] = self.settings.mode
        return report

    def _sweep(
        self,
        state: PollState,
        sweep: Sweep,
        fetch: Callable[[Sweep], requests.Response],
        bodies: list[bytes],
    ) -> None:
        """Page through one endpoint's new items, within its rate limit and the budget."""
        for _ in range(MAX_PAGES_PER_POLL):
            now = self.now()
            if sweep.paused(now) > 0 or self.budget.exhausted_for(state.usage, now) > 0:
                return
            try:
                response = fetch(sweep)
            except tweepy.TooManyRequests as exc:
                state.usage.count(now)
                wait = RateLimit.from_headers(exc.response.headers).seconds_to_reset(now)
                log.warning("X rate limit hit; pausing %.0f s", wait)
                sweep.pause(now, wait)
                return
            except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
                state.usage.count(now)
                log.error("X refused the poll (check credentials and access level): %s", exc)
                sweep.pause(now, AUTH_PAUSE_S)
                return
            except (tweepy.TweepyException, requests.RequestException) as exc:
                state.usage.count(now)
                log.warning("X poll failed: %s", exc)
                sweep.pause(now, ERROR_PAUSE_S)
                return
            state.usage.count(now)
            page = response.json()
            newest, next_token = self._take_page(sweep, page, bodies)
            first_sweep = sweep.newest_id is None and sweep.sweep_newest is None
            # The first poll ever takes one page of history, not the account's whole past.
            sweep.finish_page(newest, None if first_sweep else next_token)
            limit = RateLimit.from_headers(response.headers)
            if limit.remaining is not None and limit.remaining <= LOW_REMAINING:
                sweep.pause(now, limit.seconds_to_reset(now))
                return
            if sweep.next_token is None:
                return

    def _take_page(
        self, sweep: Sweep, page: dict[str, Any], bodies: list[bytes]
    ) -> tuple[str | None, str | None]:
        """Journal the page's new items one by one; the page's newest id and next token."""
        items = page.get("data") or []
        meta = page.get("meta") or {}
        includes = page.get("includes") or {}
        fresh = [i for i in items if sweep.newest_id is None or int(i["id"]) > int(sweep.newest_id)]
        bodies.extend(_single_document(item, includes) for item in fresh)
        newest = meta.get("newest_id") or (items[0]["id"] if items else None)
        reached_known = len(fresh) < len(items)
        return newest, None if reached_known else meta.get("next_token")

    def _mentions_page(self, sweep: Sweep) -> requests.Response:
        params: dict[str, Any] = {**MENTION_PARAMS, "max_results": PAGE_SIZE}
        if sweep.newest_id is not None:
            params["since_id"] = sweep.newest_id
        if sweep.next_token is not None:
            params["pagination_token"] = sweep.next_token
        return self.client.get_users_mentions(  # type: ignore[no-any-return]
            self.user_id, user_auth=self.user_auth, **params
        )

    def _dm_page(self, sweep: Sweep) -> requests.Response:
        params: dict[str, Any] = {**DM_PARAMS, "max_results": PAGE_SIZE}
        if sweep.next_token is not None:
            params["pagination_token"] = sweep.next_token
        return self.client.get_direct_message_events(**params)  # type: ignore[no-any-return]

    # files ---------------------------------------------------------------------------

    @classmethod
    def fetches(cls, attachment: Mapping[str, Any]) -> bool:
        return is_dm_picture(attachment)

    async def media(self, attachment: Mapping[str, Any]) -> Media:
        if not self.user_auth:
            raise MediaError(
                "a DM's picture opens only with the OAuth 1.0a user keys of channels.x"
            )
        url = str(attachment["url"])
        return await asyncio.to_thread(
            fetch_dm_picture, self.client.session, user_auth(self.client), url
        )

    async def aclose(self) -> None:
        self.client.session.close()


def _single_document(item: dict[str, Any], includes: dict[str, Any]) -> bytes:
    """One tweet or DM event with the users, tweets and media it references, as X's v2
    shape."""
    wanted_users = {
        str(item.get(key))
        for key in ("author_id", "sender_id", "in_reply_to_user_id")
        if item.get(key) is not None
    }
    wanted_users.update(str(p) for p in item.get("participant_ids") or [])
    wanted_tweets = {str(ref["id"]) for ref in item.get("referenced_tweets") or []}
    wanted_media = set((item.get("attachments") or {}).get("media_keys") or [])
    kept: dict[str, Any] = {}
    users = [u for u in includes.get("users", []) if str(u["id"]) in wanted_users]
    tweets = [t for t in includes.get("tweets", []) if str(t["id"]) in wanted_tweets]
    media = [m for m in includes.get("media", []) if m.get("media_key") in wanted_media]
    if users:
        kept["users"] = users
    if tweets:
        kept["tweets"] = tweets
    if media:
        kept["media"] = media
    document: dict[str, Any] = {"data": item}
    if kept:
        document["includes"] = kept
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _v2_person(user_id: str, users: dict[str, tweepy.User]) -> Person:
    user = users.get(user_id)
    if user is None:
        return Person(external_id=user_id)
    return Person(external_id=user_id, display_name=user.name, handle=user.username)


def _dm_thread(a: str, b: str) -> str:
    """X's id of a one-to-one DM conversation: both user ids, smaller first."""
    low, high = sorted((a, b), key=int)
    return f"{low}-{high}"


def _ignored(kind: str, reason: str) -> Ignored:
    return Ignored(channel="x", kind=kind, reason=reason)


def _send_error(exc: Exception, now: datetime) -> SendError:
    if isinstance(exc, tweepy.TooManyRequests):
        wait = RateLimit.from_headers(exc.response.headers).seconds_to_reset(now)
        return SendError("X rate limit reached", retryable=True, retry_after=wait)
    if isinstance(exc, tweepy.Unauthorized):
        return SendError(
            "X rejected the credentials (401): check the access token", retryable=False
        )
    if isinstance(exc, tweepy.Forbidden):
        detail = "; ".join(exc.api_messages) or str(exc)
        if "duplicate" in detail.lower():
            return SendError(f"X refused a duplicate post: {detail}", retryable=False)
        return SendError(f"X refused (403): {detail}", retryable=False)
    if isinstance(exc, tweepy.TwitterServerError):
        return SendError(f"X server error: {exc}", retryable=True)
    if isinstance(exc, tweepy.HTTPException):
        detail = "; ".join(exc.api_messages) or str(exc)
        return SendError(f"X refused the request: {detail}", retryable=False)
    return SendError(f"X unreachable: {exc}", retryable=True)
