"""A local X API v2 recent search: ``GET /2/tweets/search/recent``, shaped like the real one.

Supports bearer auth, ``since_id``, ``max_results``, ``next_token`` pagination,
``tweet.fields``, ``expansions=author_id`` with ``user.fields``, and the query operators
``OR``, parentheses, ``-is:retweet`` and ``-from:<username or id>``. Posts are added with
:meth:`XSearchEmulator.post`, or ``POST /_emulator/tweets``.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sportello.connectors.emulators.faults import Fault, FaultPlan

FIRST_ID = 1_860_000_000_000_000_000


@dataclass(frozen=True)
class XUser:
    id: str
    username: str
    name: str


class XSearchEmulator:
    def __init__(self, bearer_token: str) -> None:
        self.bearer_token = bearer_token
        self.tweets: list[dict[str, Any]] = []
        self.users: dict[str, XUser] = {}
        self.requests: list[dict[str, str]] = []
        self.faults = FaultPlan()
        self._ids = itertools.count(FIRST_ID, 1_000_003)
        self._lock = threading.Lock()
        self.app = self._build_app()

    def post(
        self,
        user: XUser,
        text: str,
        *,
        lang: str = "en",
        created_at: datetime | None = None,
        retweet_of: str | None = None,
        in_reply_to: str | None = None,
    ) -> str:
        """Publish a post; returns its id."""
        with self._lock:
            tweet_id = str(next(self._ids))
            self.users[user.id] = user
            tweet: dict[str, Any] = {
                "id": tweet_id,
                "text": text,
                "edit_history_tweet_ids": [tweet_id],
                "author_id": user.id,
                "created_at": (created_at or datetime.now(UTC))
                .astimezone(UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "lang": lang,
                "conversation_id": in_reply_to or tweet_id,
            }
            if retweet_of:
                tweet["referenced_tweets"] = [{"type": "retweeted", "id": retweet_of}]
            elif in_reply_to:
                tweet["referenced_tweets"] = [{"type": "replied_to", "id": in_reply_to}]
            self.tweets.append(tweet)
            return tweet_id

    def add_fault(self, status: int, count: int = 1) -> None:
        body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"}
        if status >= 500:
            body = {
                "title": "Service Unavailable",
                "detail": "Service Unavailable",
                "type": "about:blank",
            }
        headers = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "9999999999"}
        self.faults.add("search", Fault(status, count, {**body, "status": status}, headers))

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="X API v2 recent search emulator")

        @app.post("/_emulator/tweets")
        async def add(request: Request) -> dict[str, Any]:
            spec = await request.json()
            user = XUser(**spec["user"])
            return {"id": self.post(user, spec["text"], lang=spec.get("lang", "en"))}

        @app.get("/2/tweets/search/recent")
        async def search(request: Request) -> JSONResponse:
            params = dict(request.query_params)
            self.requests.append(params)
            if request.headers.get("authorization") != f"Bearer {self.bearer_token}":
                return _problem(401, "Unauthorized", "Unauthorized")
            fault = self.faults.take("search")
            if fault is not None:
                return JSONResponse(fault.body, fault.status, headers=fault.headers)
            query = params.get("query", "").strip()
            if not query:
                return _invalid("The `query` query parameter can not be empty")
            max_results = int(params.get("max_results", 10))
            if not 10 <= max_results <= 100:
                return _invalid("The `max_results` query parameter value is not between 10 and 100")
            return JSONResponse(self._page(params, query, max_results))

        return app

    def _page(self, params: dict[str, str], query: str, max_results: int) -> dict[str, Any]:
        matcher = _Query(query)
        since = int(params["since_id"]) if params.get("since_id") else 0
        with self._lock:
            found = [
                t
                for t in sorted(self.tweets, key=lambda t: int(t["id"]), reverse=True)
                if int(t["id"]) > since and matcher.matches(t, self.users[t["author_id"]])
            ]
        offset = int(base64.b64decode(params["next_token"])) if params.get("next_token") else 0
        page = found[offset : offset + max_results]
        if not page:
            return {"meta": {"result_count": 0}}
        fields = set(filter(None, params.get("tweet.fields", "").split(",")))
        data = [
            {k: v for k, v in t.items() if k in {"id", "text", "edit_history_tweet_ids"} | fields}
            for t in page
        ]
        meta: dict[str, Any] = {
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
            "result_count": len(page),
        }
        if offset + max_results < len(found):
            meta["next_token"] = base64.b64encode(str(offset + max_results).encode()).decode()
        body: dict[str, Any] = {"data": data}
        if "author_id" in params.get("expansions", ""):
            user_fields = set(filter(None, params.get("user.fields", "").split(",")))
            seen = dict.fromkeys(t["author_id"] for t in page)
            body["includes"] = {
                "users": [
                    {
                        k: v
                        for k, v in vars(self.users[uid]).items()
                        if k in {"id", "name", "username"} | user_fields
                    }
                    for uid in seen
                ]
            }
        body["meta"] = meta
        return body


class _Query:
    """The subset of X's search syntax the emulator understands."""

    def __init__(self, query: str) -> None:
        tokens = re.findall(r'-?"[^"]+"|\S+', query.replace("(", " ").replace(")", " "))
        self.no_retweets = "-is:retweet" in tokens
        self.not_from = {t[6:].lower() for t in tokens if t.startswith("-from:")}
        terms = [t for t in tokens if not t.startswith("-")]
        self.groups: list[list[str]] = [[]]
        for token in terms:
            if token == "OR":
                self.groups.append([])
            else:
                self.groups[-1].append(token.strip('"').lower())

    def matches(self, tweet: dict[str, Any], user: XUser) -> bool:
        if self.no_retweets and any(
            r["type"] == "retweeted" for r in tweet.get("referenced_tweets", [])
        ):
            return False
        if {user.id, user.username.lower()} & self.not_from:
            return False
        text = tweet["text"].lower()
        return any(group and all(term in text for term in group) for group in self.groups)


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"title": title, "type": "about:blank", "status": status, "detail": detail}, status
    )


def _invalid(message: str) -> JSONResponse:
    return JSONResponse(
        {
            "errors": [{"parameters": {}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
        400,
    )
