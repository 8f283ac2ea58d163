"""RSS 2.0 and Atom feeds (Google Alerts, news searches): conditional GET and parsing.

:func:`fetch` sends the stored ``ETag``/``Last-Modified`` back, so an unchanged feed costs
a ``304`` and no body. :func:`parse` turns a feed body into :class:`FoundMention` s, one
per entry, identified by the entry's ``id`` (``guid``) or, failing that, its link.
"""

from __future__ import annotations

import html
import re
from calendar import timegm
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import feedparser
import httpx

from sportello.connectors.base import ParseError
from sportello.connectors.mentions import FoundMention

USER_AGENT = "sportello-listening/1.0 (+https://github.com/sportello)"
_INLINE_TAG = re.compile(r"</?(?:b|i|em|strong|a|span|font|u)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class FeedFetch:
    status: int
    body: bytes | None  # None when the feed did not change (304)
    etag: str | None
    last_modified: str | None
    content_type: str | None = None


async def fetch(
    client: httpx.AsyncClient, url: str, etag: str | None, last_modified: str | None
) -> FeedFetch:
    """GET the feed with validators; raises ``httpx.HTTPError`` on transport or 4xx/5xx errors."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/atom+xml, application/rss+xml"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    response = await client.get(url, headers=headers, follow_redirects=True)
    if response.status_code == 304:
        return FeedFetch(304, None, etag, last_modified)
    response.raise_for_status()
    return FeedFetch(
        response.status_code,
        response.content,
        response.headers.get("etag") or etag,
        response.headers.get("last-modified") or last_modified,
        response.headers.get("content-type"),
    )


def plain(text: str | None) -> str:
    """Feed HTML (Google Alerts bolds the match) as plain text."""
    text = _TAG.sub(" ", _INLINE_TAG.sub("", text or ""))
    return _SPACE.sub(" ", html.unescape(text)).strip()


def parse(body: bytes, fetched_at: datetime) -> list[FoundMention]:
    """Entries of an RSS or Atom body; ``ParseError`` when it is not a feed at all."""
    parsed = feedparser.parse(body)
    if parsed.get("bozo") and not parsed.entries:
        raise ParseError(f"not an RSS or Atom feed: {parsed.get('bozo_exception')!r}")
    if not parsed.get("version") and not parsed.entries:
        raise ParseError("not an RSS or Atom feed: no feed element")
    found = []
    for entry in parsed.entries:
        link = _link(entry)
        key = entry.get("id") or link
        if not key:
            continue  # an entry with neither id nor link cannot be deduplicated
        title = plain(entry.get("title"))
        summary = plain(entry.get("summary"))
        text = f"{title}. {summary}" if title and summary and summary != title else title or summary
        author = entry.get("author") or None
        found.append(
            FoundMention(
                source="feed",
                external_id=str(key),
                text=text,
                title=title or None,
                link=link,
                author_name=author,
                published_at=_when(entry) or fetched_at,
            )
        )
    return found


def _link(entry: Any) -> str | None:
    """The entry's link; Google Alerts wraps it in ``google.com/url?url=<target>``."""
    link = entry.get("link")
    if not link:
        return None
    parts = urlparse(link)
    if parts.netloc.endswith("google.com") and parts.path == "/url":
        target = parse_qs(parts.query).get("url")
        if target:
            return target[0]
    return str(link)


def _when(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(timegm(value), UTC)
    return None
