"""X API v2 recent search for brand mentions, through tweepy, and parsing of its pages.

tweepy builds every URL on ``https://api.twitter.com``; a transport adapter on the client's
``requests`` session sends them to ``channels.x.api_base_url`` instead (the real API or a
local emulator), so tweepy's own request, auth and error handling stay in the path.
Pages are returned raw (bytes) so the caller can journal them before parsing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter

from sportello.config.settings import XSettings
from sportello.connectors.base import ParseError
from sportello.connectors.mentions import FoundMention

TWEEPY_HOST = "https://api.twitter.com"
TIMEOUT_S = 20.0
MAX_PAGES = 5
TWEET_FIELDS = ["author_id", "conversation_id", "created_at", "lang", "referenced_tweets"]
USER_FIELDS = ["name", "username"]


class _RebaseAdapter(HTTPAdapter):
    """Sends requests made for ``TWEEPY_HOST`` to ``base_url``."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        url = request.url or ""
        if url.startswith(TWEEPY_HOST):
            request.url = self.base_url + url[len(TWEEPY_HOST) :]
        kwargs["timeout"] = kwargs.get("timeout") or TIMEOUT_S
        return super().send(request, **kwargs)


def build_query(query: str, *, exclude_retweets: bool, own_user_id: str | None) -> str:
    """The search query with X's own operators for what we leave out."""
    parts = [f"({query})" if " OR " in query else query]
    if exclude_retweets:
        parts.append("-is:retweet")
    if own_user_id:
        parts.append(f"-from:{own_user_id}")
    return " ".join(parts)


@dataclass(frozen=True)
class SearchPages:
    bodies: list[bytes]
    newest_id: str | None


class XSearchClient:
    """``GET /2/tweets/search/recent`` with app-only (bearer) auth."""

    def __init__(self, settings: XSettings) -> None:
        if settings.bearer_token is None:
            raise ValueError("X recent search needs channels.x.bearer_token")
        self.client = tweepy.Client(
            bearer_token=settings.bearer_token.get_secret_value(),
            return_type=requests.Response,
            wait_on_rate_limit=False,
        )
        self.client.session.mount(TWEEPY_HOST, _RebaseAdapter(settings.api_base_url))

    def search(self, query: str, since_id: str | None) -> SearchPages:
        """Every page newer than ``since_id`` (up to ``MAX_PAGES``); blocking, run in a thread.

        Raises ``tweepy.TweepyException`` (rate limit, auth, server errors) or
        ``requests.RequestException`` (transport).
        """
        bodies: list[bytes] = []
        newest: str | None = None
        next_token: str | None = None
        for _ in range(MAX_PAGES):
            response: requests.Response = self.client.search_recent_tweets(
                query,
                since_id=since_id,
                max_results=100,
                next_token=next_token,
                expansions=["author_id"],
                tweet_fields=TWEET_FIELDS,
                user_fields=USER_FIELDS,
            )
            bodies.append(response.content)
            meta = _json(response.content).get("meta") or {}
            newest = newest or meta.get("newest_id")
            next_token = meta.get("next_token")
            if not next_token:
                break
        return SearchPages(bodies, newest)


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ParseError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ParseError("not an X API response object")
    return data


def parse_page(
    body: bytes, *, exclude_retweets: bool = True, own_user_ids: Sequence[str] = ()
) -> list[FoundMention]:
    """The posts of one recent-search page, with their authors from ``includes.users``."""
    data = _json(body)
    if "meta" not in data and "data" not in data:
        raise ParseError("not a recent-search page: no data and no meta")
    users = {u.get("id"): u for u in (data.get("includes") or {}).get("users") or []}
    found = []
    for tweet in data.get("data") or []:
        if not isinstance(tweet, dict) or "id" not in tweet or "text" not in tweet:
            raise ParseError("a post without id or text")
        author_id = tweet.get("author_id")
        kinds = {ref.get("type") for ref in tweet.get("referenced_tweets") or []}
        if (exclude_retweets and "retweeted" in kinds) or author_id in own_user_ids:
            continue
        user = users.get(author_id) or {}
        try:
            published = datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00"))
        except (KeyError, AttributeError, ValueError):
            raise ParseError(f"post {tweet['id']} has no valid created_at") from None
        handle = user.get("username")
        found.append(
            FoundMention(
                source="x",
                external_id=str(tweet["id"]),
                text=tweet["text"],
                published_at=published,
                link=f"https://x.com/{handle or 'i/web'}/status/{tweet['id']}",
                author_id=author_id,
                author_handle=handle,
                author_name=user.get("name"),
                thread_external_id=tweet.get("conversation_id") or str(tweet["id"]),
                language=tweet.get("lang"),
            )
        )
    return found
