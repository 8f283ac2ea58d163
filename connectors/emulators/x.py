"""A local X API v2: mentions, DM events, posting tweets and DMs, with X's rate limits.

API routes (as X documents them): ``GET /2/users/:id/mentions``, ``GET /2/dm_events``,
``POST /2/tweets``, ``POST /2/dm_conversations/with/:participant_id/messages``.
Responses carry ``data``, ``includes.users``/``includes.tweets`` and ``meta``, and
``x-rate-limit-limit/-remaining/-reset`` headers; a spent window answers 429. A picture in
a DM lives on ``ton.twitter.com`` (served here under its path, for a signed GET only).

Customers' side: :meth:`XEmulator.tweet`, :meth:`XEmulator.dm` and :meth:`XEmulator.edit`
add posts; with ``webhook_url`` set they are also delivered as Account Activity events,
signed with the consumer secret exactly as X signs them. Control routes live under
``/_emulator/``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import mimetypes
import re
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sportello.connectors.emulators.faults import Fault, FaultPlan
from sportello.connectors.emulators.images import png
from sportello.connectors.emulators.x_oauth import signed_by
from sportello.connectors.emulators.x_problems import invalid, problem, too_long
from sportello.connectors.emulators.x_ton import DM_MEDIA_PATH, TON
from sportello.connectors.emulators.x_uploads import (
    MEDIA_KEY_PREFIX,
    MEDIA_TYPE,
    MediaUploads,
    Upload,
)
from sportello.connectors.x_length import MAX_TWEET, weighted_length

FIRST_ID = 1_860_000_000_000_000_000
DEFAULT_LIMITS = {
    "mentions": 450,
    "dm_events": 300,
    "tweets": 100,
    "dm_send": 200,
    "media_upload": 500,
}
# tweepy signs for this host; X answers on api.x.com too.
SIGNED_HOSTS = ("https://api.twitter.com", "https://api.x.com")
MENTION = re.compile(r"@(\w{1,15})")
MAX_POST_MEDIA = 4
LEGACY_LENGTH = 140  # Account Activity's v1.1 text; a longer post is "truncated"


@dataclass
class Window:
    """One endpoint's rate-limit window."""

    limit: int
    seconds: float
    used: int = 0
    reset_at: float = 0.0

    def take(self, now: float) -> tuple[bool, dict[str, str]]:
        if now >= self.reset_at:
            self.used, self.reset_at = 0, now + self.seconds
        allowed = self.used < self.limit
        if allowed:
            self.used += 1
        headers = {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(max(0, self.limit - self.used)),
            "x-rate-limit-reset": str(int(self.reset_at + 0.999)),
        }
        return allowed, headers


class XEmulator:
    def __init__(
        self,
        *,
        user_id: str,
        username: str,
        name: str = "Brand",
        bearer_token: str | None = None,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        access_token: str | None = None,
        access_token_secret: str | None = None,
        webhook_url: str | None = None,
        window_s: float = 900.0,
    ) -> None:
        self.user_id = user_id
        self.bearer_token = bearer_token
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.access_token_secret = access_token_secret
        self.webhook_url = webhook_url
        self.users: dict[str, dict[str, str]] = {}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.dm_events: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.dm_files: dict[str, bytes] = {}  # ton.twitter.com path -> a DM's picture
        self.posted_tweets: list[dict[str, Any]] = []
        self.sent_dms: list[dict[str, Any]] = []
        self.calls: list[tuple[str, int, float]] = []  # endpoint, status, time
        self.faults = FaultPlan()
        self.uploads = MediaUploads(self.next_id)
        self.windows = {name: Window(n, window_s) for name, n in DEFAULT_LIMITS.items()}
        self._ids = itertools.count(FIRST_ID, 4096)
        self._lock = threading.RLock()
        self.add_user(user_id, username, name)
        self.app = self._build_app()

    # configuration ------------------------------------------------------------------

    def add_user(self, user_id: str, username: str, name: str) -> dict[str, str]:
        user = {"id": user_id, "username": username, "name": name}
        self.users[user_id] = user
        return user

    def set_rate_limit(self, endpoint: str, limit: int, window_s: float) -> None:
        with self._lock:
            self.windows[endpoint] = Window(limit, window_s)

    def next_id(self) -> str:
        with self._lock:
            return str(next(self._ids))

    # customers' side ----------------------------------------------------------------

    def tweet(
        self,
        author_id: str,
        text: str,
        *,
        in_reply_to: str | None = None,
        quote_of: str | None = None,
        media: Sequence[str] = (),
        uploaded: Sequence[Upload] = (),
    ) -> dict[str, Any]:
        """A post by ``author_id`` (a reply when ``in_reply_to`` is given); returns it.

        ``media`` are the types (``photo``, ``video``, ``animated_gif``) of its pictures and
        videos, ``uploaded`` the account's own uploads it carries: X links them at the end
        of the text through one t.co link.
        """
        with self._lock:
            tweet_id = self.next_id()
            tweet: dict[str, Any] = {
                "id": tweet_id,
                "text": text,
                "author_id": author_id,
                "conversation_id": tweet_id,
                "created_at": _iso(datetime.now(UTC)),
                "lang": "en",
                "edit_history_tweet_ids": [tweet_id],
            }
            if media or uploaded:
                page = f"{self.users[author_id]['username']}/status/{tweet_id}"
                self._attach(tweet, [*media, *uploaded], page)
            references = []
            if in_reply_to is not None:
                parent = self.tweets[in_reply_to]
                tweet["conversation_id"] = parent["conversation_id"]
                tweet["in_reply_to_user_id"] = parent["author_id"]
                references.append({"type": "replied_to", "id": in_reply_to})
            if quote_of is not None:
                references.append({"type": "quoted", "id": quote_of})
            if references:
                tweet["referenced_tweets"] = references
            self.tweets[tweet_id] = tweet
        return tweet

    def edit(self, tweet_id: str, text: str) -> dict[str, Any]:
        """An edit: a new post id whose history starts with the original id."""
        with self._lock:
            original = self.tweets[tweet_id]
            new_id = self.next_id()
            edited = {
                **original,
                "id": new_id,
                "text": text,
                "created_at": _iso(datetime.now(UTC)),
                "edit_history_tweet_ids": [*original["edit_history_tweet_ids"], new_id],
            }
            self.tweets[new_id] = edited
        return edited

    def dm(
        self, sender_id: str, recipient_id: str, text: str, *, media: str | Upload | None = None
    ) -> dict[str, Any]:
        """A direct message; ``media`` is the one picture or video it may carry: its type, or
        the account's own upload."""
        with self._lock:
            event_id = self.next_id()
            low, high = sorted((sender_id, recipient_id), key=int)
            event: dict[str, Any] = {
                "id": event_id,
                "event_type": "MessageCreate",
                "text": text,
                "sender_id": sender_id,
                "dm_conversation_id": f"{low}-{high}",
                "participant_ids": [sender_id, recipient_id],
                "created_at": _iso(datetime.now(UTC)),
            }
            if media:
                self._attach(event, [media], f"messages/media/{event_id}", dm=True)
            self.dm_events[event_id] = event
        return event

    def _attach(
        self,
        item: dict[str, Any],
        media: Sequence[str | Upload],
        page: str,
        *,
        dm: bool = False,
    ) -> None:
        """Media objects for ``item`` (each a type, or an upload), and the t.co link to them
        appended to its text. A DM's picture is kept on ``ton.twitter.com``, a post's on
        ``pbs.twimg.com``."""
        keys = []
        types = []
        for medium_of in media:
            if isinstance(medium_of, Upload):
                kind, media_id = MEDIA_TYPE[medium_of.kind], medium_of.media_id
            else:
                kind, media_id = medium_of, self.next_id()
            key = f"{MEDIA_KEY_PREFIX[kind]}_{media_id}"
            medium: dict[str, Any] = {"media_key": key, "type": kind, "width": 1200, "height": 900}
            if kind == "photo" and dm:
                picture, suffix = png(120, 90, (60, 140, 200)), "png"
                if isinstance(medium_of, Upload) and medium_of.content is not None:
                    picture, suffix = medium_of.content, medium_of.media_type.split("/")[1]
                path = f"{DM_MEDIA_PATH}{item['id']}/{media_id}/{secrets.token_urlsafe(6)}.{suffix}"
                self.dm_files[path] = picture
                medium["url"] = TON + path
            elif kind == "photo":
                medium["url"] = f"https://pbs.twimg.com/media/{media_id}.jpg"
            else:
                medium["preview_image_url"] = (
                    f"https://pbs.twimg.com/ext_tw_video_thumb/{media_id}.jpg"
                )
            self.media[key] = medium
            keys.append(key)
            types.append(kind)
        link = f"https://t.co/{item['id'][-10:]}"
        shown = "photo" if types[0] == "photo" else "video"
        start = len(item["text"]) + 1 if item["text"] else 0
        item["text"] = f"{item['text']} {link}" if item["text"] else link
        item["attachments"] = {"media_keys": keys}
        item["entities"] = {
            "urls": [
                {
                    "start": start,
                    "end": start + len(link),
                    "url": link,
                    "expanded_url": f"https://x.com/{page}/{shown}/1",
                    "display_url": f"pic.x.com/{item['id'][-10:]}",
                    "media_key": keys[0],
                }
            ]
        }

    # Account Activity ---------------------------------------------------------------

    def sign(self, payload: bytes) -> str:
        assert self.consumer_secret is not None
        digest = hmac.new(self.consumer_secret.encode(), payload, hashlib.sha256).digest()
        return "sha256=" + base64.b64encode(digest).decode()

    def activity_for_tweet(self, tweet: dict[str, Any]) -> dict[str, Any]:
        return {"for_user_id": self.user_id, "tweet_create_events": [self._v1_tweet(tweet)]}

    def activity_for_dm(self, event: dict[str, Any]) -> dict[str, Any]:
        recipient = next(p for p in event["participant_ids"] if p != event["sender_id"])
        created = datetime.strptime(event["created_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
        return {
            "for_user_id": self.user_id,
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": event["id"],
                    "created_timestamp": str(int(created.timestamp() * 1000)),
                    "message_create": {
                        "target": {"recipient_id": recipient},
                        "sender_id": event["sender_id"],
                        "message_data": self._v1_message_data(event),
                    },
                }
            ],
            "users": {
                uid: self._v1_user(uid)
                for uid in (event["sender_id"], recipient)
                if uid in self.users
            },
        }

    async def deliver(self, payload: dict[str, Any], *, signature: str | None = None) -> int:
        """POST an Account Activity payload to the webhook, signed; returns the HTTP status."""
        assert self.webhook_url is not None
        body = json.dumps(payload).encode()
        headers = {
            "content-type": "application/json",
            "x-twitter-webhooks-signature": signature or self.sign(body),
        }
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(self.webhook_url, content=body, headers=headers)
        return response.status_code

    async def crc_check(self) -> bool:
        """Challenge the webhook as X does; whether it answered with the right token."""
        assert self.webhook_url is not None
        token = base64.urlsafe_b64encode(hashlib.sha256(str(time.time()).encode()).digest())
        crc = token.decode().rstrip("=")
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(self.webhook_url, params={"crc_token": crc})
        if response.status_code != 200:
            return False
        return bool(response.json().get("response_token") == self.sign(crc.encode()))

    def _v1_message_data(self, event: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {"text": event["text"], "entities": {"urls": []}}
        media = self._v1_media(event)
        if media:
            data["attachment"] = {"type": "media", "media": media[0]}
        return data

    def _v1_media(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """The v1.1 media entities of a v2 tweet or DM event."""
        links = [u for u in (item.get("entities") or {}).get("urls", []) if "media_key" in u]
        found = []
        for key in (item.get("attachments") or {}).get("media_keys", []):
            medium = self.media[key]
            media_id = key.split("_", 1)[1]
            picture = medium.get("url") or medium["preview_image_url"]
            link = links[0]
            found.append(
                {
                    "id": int(media_id),
                    "id_str": media_id,
                    "indices": [link["start"], link["end"]],
                    "media_url": picture.replace("https://", "http://", 1),
                    "media_url_https": picture,
                    "url": link["url"],
                    "display_url": link["display_url"],
                    "expanded_url": link["expanded_url"],
                    "type": medium["type"],
                    "sizes": {
                        "large": {"w": medium["width"], "h": medium["height"], "resize": "fit"}
                    },
                }
            )
        return found

    def _v1_user(self, user_id: str) -> dict[str, Any]:
        user = self.users.get(user_id, {"id": user_id, "username": "", "name": ""})
        return {
            "id": int(user_id),
            "id_str": user_id,
            "name": user["name"],
            "screen_name": user["username"],
            "protected": False,
        }

    def _v1_tweet(self, tweet: dict[str, Any]) -> dict[str, Any]:
        created = datetime.strptime(tweet["created_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
        replied = next(
            (r["id"] for r in tweet.get("referenced_tweets", []) if r["type"] == "replied_to"),
            None,
        )
        addressed = tweet.get("in_reply_to_user_id")
        history = tweet["edit_history_tweet_ids"]
        entities: dict[str, Any] = {"user_mentions": self._mentioned(tweet["text"])}
        media = self._v1_media(tweet)
        if media:
            entities["media"] = media[:1]
        described: dict[str, Any] = {"entities": entities}
        if media:
            described["extended_entities"] = {"media": media}
        v1 = {
            "created_at": created.strftime("%a %b %d %H:%M:%S +0000 %Y"),
            "id": int(tweet["id"]),
            "id_str": tweet["id"],
            "text": tweet["text"],
            "truncated": False,
            "user": self._v1_user(tweet["author_id"]),
            "in_reply_to_status_id": int(replied) if replied else None,
            "in_reply_to_status_id_str": replied,
            "in_reply_to_user_id": int(addressed) if addressed else None,
            "in_reply_to_user_id_str": addressed,
            "in_reply_to_screen_name": self.users.get(addressed or "", {}).get("username"),
            "edit_history": {"initial_tweet_id": history[0], "edit_tweet_ids": history},
            "lang": tweet.get("lang"),
        }
        if len(tweet["text"]) <= LEGACY_LENGTH:
            return {**v1, **described}
        # A longer post comes as v1.1's compatibility form: the text cut with a link to the
        # post, and the whole of it, with its entities and media, under extended_tweet.
        link = f"https://t.co/{tweet['id'][-10:]}s"
        cut = tweet["text"][: LEGACY_LENGTH - len(link) - 2].rstrip()
        status = f"https://x.com/i/web/status/{tweet['id']}"
        return {
            **v1,
            "text": f"{cut}… {link}",
            "truncated": True,
            "entities": {
                "user_mentions": self._mentioned(cut),
                "urls": [{"url": link, "expanded_url": status, "display_url": status[8:]}],
            },
            "extended_tweet": {
                "full_text": tweet["text"],
                "display_text_range": [0, len(tweet["text"])],
                **described,
            },
        }

    def _mentioned(self, text: str) -> list[dict[str, Any]]:
        by_name = {u["username"].lower(): u for u in self.users.values()}
        found = [by_name[m.lower()] for m in MENTION.findall(text) if m.lower() in by_name]
        return [{"id_str": u["id"], "screen_name": u["username"], "name": u["name"]} for u in found]

    # the API ------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="X API v2 emulator")

        @app.post("/_emulator/tweets")
        async def add_tweet(request: Request) -> dict[str, Any]:
            spec = await request.json()
            tweet = self.tweet(
                spec["author_id"],
                spec["text"],
                in_reply_to=spec.get("in_reply_to"),
                media=spec.get("media", ()),
            )
            if self.webhook_url:
                await self.deliver(self.activity_for_tweet(tweet))
            return tweet

        @app.post("/_emulator/dms")
        async def add_dm(request: Request) -> dict[str, Any]:
            spec = await request.json()
            event = self.dm(
                spec["sender_id"],
                spec.get("recipient_id", self.user_id),
                spec["text"],
                media=spec.get("media"),
            )
            if self.webhook_url:
                await self.deliver(self.activity_for_dm(event))
            return event

        @app.get("/_emulator/posted")
        async def posted() -> dict[str, Any]:
            return {"tweets": self.posted_tweets, "dms": self.sent_dms}

        @app.post("/_emulator/faults")
        async def add_fault(request: Request) -> dict[str, bool]:
            spec = await request.json()
            self.add_fault(spec["endpoint"], spec["status"], spec.get("count", 1))
            return {"ok": True}

        @app.get(DM_MEDIA_PATH + "{rest:path}")
        async def dm_picture(rest: str, request: Request) -> Response:
            path = DM_MEDIA_PATH + rest
            if not self._signed(request.headers.get("authorization", ""), TON + path):
                return JSONResponse(problem(401), status_code=401)
            content = self.dm_files.get(path)
            if content is None:
                return JSONResponse(problem(404), status_code=404)
            return Response(content, media_type=mimetypes.guess_type(path)[0] or "image/png")

        @app.get("/2/users/{user_id}/mentions")
        async def mentions(user_id: str, request: Request) -> JSONResponse:
            return self._answer("mentions", request, lambda: self._mentions(user_id, request))

        @app.get("/2/dm_events")
        async def dm_events(request: Request) -> JSONResponse:
            return self._answer("dm_events", request, lambda: self._dm_events(request), user=True)

        @app.post("/2/tweets")
        async def create_tweet(request: Request) -> JSONResponse:
            body = await request.json()
            return self._answer("tweets", request, lambda: self._create_tweet(body), user=True)

        @app.post("/2/dm_conversations/with/{participant_id}/messages")
        async def send_dm(participant_id: str, request: Request) -> JSONResponse:
            body = await request.json()
            return self._answer(
                "dm_send", request, lambda: self._send_dm(participant_id, body), user=True
            )

        @app.post("/2/media/upload")
        async def upload_media(request: Request) -> JSONResponse:
            body = await _json(request)
            return self._answer(
                "media_upload", request, lambda: self.uploads.one_shot(body), user=True
            )

        @app.post("/2/media/upload/initialize")
        async def initialize_upload(request: Request) -> JSONResponse:
            body = await _json(request)
            return self._answer(
                "media_upload", request, lambda: self.uploads.initialize(body), user=True
            )

        @app.post("/2/media/upload/{media_id}/append")
        async def append_upload(media_id: str, request: Request) -> JSONResponse:
            body = await _json(request)
            return self._answer(
                "media_upload", request, lambda: self.uploads.append(media_id, body), user=True
            )

        @app.post("/2/media/upload/{media_id}/finalize")
        async def finalize_upload(media_id: str, request: Request) -> JSONResponse:
            return self._answer(
                "media_upload", request, lambda: self.uploads.finalize(media_id), user=True
            )

        @app.get("/2/media/upload")
        async def upload_status(request: Request, media_id: str, command: str) -> JSONResponse:
            if command != "STATUS":
                return JSONResponse(invalid("command", "command must be STATUS"), 400)
            return self._answer(
                "media_upload", request, lambda: self.uploads.status(media_id), user=True
            )

        return app

    def add_fault(
        self, endpoint: str, status: int, count: int = 1, reset_in_s: float = 2.0
    ) -> None:
        """The next ``count`` calls of ``endpoint`` answer ``status`` (429 carries a reset)."""
        headers: dict[str, str] = {}
        if status == 429:
            headers = {
                "x-rate-limit-limit": "1",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(time.time() + reset_in_s + 0.999)),
            }
        self.faults.add(
            endpoint, Fault(status=status, count=count, body=problem(status), headers=headers)
        )

    def _answer(
        self, endpoint: str, request: Request, handler: Any, *, user: bool = False
    ) -> JSONResponse:
        auth = self._authenticate(request, user)
        if auth is not None:
            self.calls.append((endpoint, auth.status_code, time.time()))
            return auth
        fault = self.faults.take(endpoint)
        if fault is not None:
            self.calls.append((endpoint, fault.status, time.time()))
            return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
        with self._lock:
            allowed, headers = self.windows[endpoint].take(time.time())
            if not allowed:
                self.calls.append((endpoint, 429, time.time()))
                return JSONResponse(problem(429), status_code=429, headers=headers)
            status, body = handler()
            self.calls.append((endpoint, status, time.time()))
        return JSONResponse(body, status_code=status, headers=headers)

    def _signed(self, header: str, url: str, method: str = "GET") -> bool:
        ck, cs = self.consumer_key, self.consumer_secret
        token, secret = self.access_token, self.access_token_secret
        if ck is None or cs is None or token is None or secret is None:
            return False
        return signed_by(
            header,
            url,
            method=method,
            consumer_key=ck,
            consumer_secret=cs,
            token=token,
            token_secret=secret,
        )

    def _authenticate(self, request: Request, user: bool) -> JSONResponse | None:
        """None when the request may go on: a bearer token where app auth will do, else an
        OAuth 1.0a signature checked as X checks it (over the URL the client signed)."""
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            if self.bearer_token is None or header[7:] != self.bearer_token:
                return JSONResponse(problem(401), status_code=401)
            if user:
                body = problem(403)
                body["detail"] = (
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                    "endpoint.  Supported authentication types are [OAuth 1.0a User Context, "
                    "OAuth 2.0 User Context]."
                )
                return JSONResponse(body, status_code=403)
            return None
        query = f"?{request.url.query}" if request.url.query else ""
        if any(
            self._signed(header, host + request.url.path + query, request.method)
            for host in SIGNED_HOSTS
        ):
            return None
        return JSONResponse(problem(401), status_code=401)

    def _mentions(self, user_id: str, request: Request) -> tuple[int, dict[str, Any]]:
        query = request.query_params
        username = self.users.get(user_id, {}).get("username", "").lower()
        since = int(query.get("since_id", 0))
        found = [
            t
            for t in self.tweets.values()
            if int(t["id"]) > since
            and t["author_id"] != user_id
            and (
                username in (m.lower() for m in MENTION.findall(t["text"]))
                or t.get("in_reply_to_user_id") == user_id
            )
        ]
        found.sort(key=lambda t: int(t["id"]), reverse=True)
        page, meta = _page(found, query, default=10)
        if page:
            meta = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"], **meta}
        fields = set(_list(query.get("tweet.fields")))
        data = [_fields(t, fields) for t in page]
        return 200, self._document(data, query, meta)

    def _dm_events(self, request: Request) -> tuple[int, dict[str, Any]]:
        query = request.query_params
        types = set(_list(query.get("event_types"))) or {"MessageCreate"}
        found = [
            e
            for e in self.dm_events.values()
            if self.user_id in e["participant_ids"] and e["event_type"] in types
        ]
        found.sort(key=lambda e: int(e["id"]), reverse=True)
        page, meta = _page(found, query, default=100)
        fields = set(_list(query.get("dm_event.fields"))) | {"id", "event_type", "text"}
        data = [{k: v for k, v in e.items() if k in fields} for e in page]
        return 200, self._document(data, query, meta)

    def _document(
        self, data: list[dict[str, Any]], query: Any, meta: dict[str, Any]
    ) -> dict[str, Any]:
        if not data:
            return {"meta": meta}
        expansions = set(_list(query.get("expansions")))
        user_ids: list[str] = []
        tweet_ids: list[str] = []
        for item in data:
            for key in ("author_id", "sender_id", "in_reply_to_user_id"):
                if key in expansions and item.get(key) and item[key] not in user_ids:
                    user_ids.append(item[key])
            if "referenced_tweets.id" in expansions:
                tweet_ids.extend(r["id"] for r in item.get("referenced_tweets", []))
        includes: dict[str, Any] = {}
        if "attachments.media_keys" in expansions:
            media_fields = set(_list(query.get("media.fields"))) | {"media_key", "type"}
            media = [
                {k: v for k, v in self.media[key].items() if k in media_fields}
                for item in data
                for key in (item.get("attachments") or {}).get("media_keys", [])
            ]
            if media:
                includes["media"] = media
        users = [self.users[u] for u in user_ids if u in self.users]
        if users:
            includes["users"] = users
        fields = set(_list(query.get("tweet.fields")))
        tweets = [
            _fields(self.tweets[t], fields) for t in dict.fromkeys(tweet_ids) if t in self.tweets
        ]
        if tweets:
            includes["tweets"] = tweets
        document: dict[str, Any] = {"data": data}
        if includes:
            document["includes"] = includes
        document["meta"] = meta
        return document

    def _create_tweet(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        text = body.get("text") or ""
        media_ids = (body.get("media") or {}).get("media_ids") or []
        if not text and not media_ids:
            return 400, invalid("text", "Tweet text must not be empty")
        if weighted_length(text) > MAX_TWEET:
            return 400, too_long()
        if len(media_ids) > MAX_POST_MEDIA:
            return 400, invalid("media.media_ids", "a post carries at most 4 media")
        uploads = [self.uploads.usable(media_id, dm=False) for media_id in media_ids]
        if refused := next((u for u in uploads if isinstance(u, str)), None):
            return 400, invalid("media.media_ids", refused)
        if text and any(
            t["author_id"] == self.user_id and t["text"] == text for t in self.tweets.values()
        ):
            body_403 = problem(403)
            body_403["detail"] = "You are not allowed to create a Tweet with duplicate content."
            return 403, body_403
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and reply_to not in self.tweets:
            return 400, invalid("reply.in_reply_to_tweet_id", "The Tweet replied to is unknown")
        carried = [u for u in uploads if isinstance(u, Upload)]
        tweet = self.tweet(self.user_id, text, in_reply_to=reply_to, uploaded=carried)
        self.posted_tweets.append({**body, "id": tweet["id"]})
        return 201, {
            "data": {
                "id": tweet["id"],
                "text": tweet["text"],
                "edit_history_tweet_ids": [tweet["id"]],
            }
        }

    def _send_dm(self, participant_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        text = body.get("text") or ""
        attachments = body.get("attachments") or []
        if not text and not attachments:
            return 400, invalid("text", "text or attachments is required")
        if participant_id not in self.users:
            return 400, invalid("participant_id", "The participant is unknown")
        if len(attachments) > 1:
            return 400, invalid("attachments", "a direct message carries one attachment")
        upload: Upload | None = None
        if attachments:
            found = self.uploads.usable(str(attachments[0].get("media_id")), dm=True)
            if isinstance(found, str):
                return 400, invalid("attachments.media_id", found)
            upload = found
        event = self.dm(self.user_id, participant_id, text, media=upload)
        self.sent_dms.append({**body, "participant_id": participant_id, "id": event["id"]})
        return 201, {
            "data": {"dm_conversation_id": event["dm_conversation_id"], "dm_event_id": event["id"]}
        }


def _page(
    items: list[dict[str, Any]], query: Any, *, default: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    size = max(1, min(100, int(query.get("max_results", default))))
    token = query.get("pagination_token")
    offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    page = items[offset : offset + size]
    meta: dict[str, Any] = {"result_count": len(page)}
    if offset + size < len(items):
        meta["next_token"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
    return page, meta


def _list(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def _fields(tweet: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    keep = fields | {"id", "text", "edit_history_tweet_ids"}
    return {k: v for k, v in tweet.items() if k in keep}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


async def _json(request: Request) -> dict[str, Any]:
    """The request's JSON object; an empty one when it is not JSON (the handler says what
    is missing)."""
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
