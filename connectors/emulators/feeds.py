"""A local feed server: a Google Alerts Atom feed and an RSS 2.0 news search.

Both honour conditional GET: an ``ETag`` and a ``Last-Modified`` that change only when an
entry is added, answering ``304 Not Modified`` to a matching ``If-None-Match`` or to an
``If-Modified-Since`` not older than the last change.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from urllib.parse import quote

from fastapi import FastAPI, Request, Response

ALERTS_PATH = "/alerts/feeds/06848252512512345678/1234567890123456789"
RSS_PATH = "/news/rss"


@dataclass(frozen=True)
class FeedItem:
    id: str
    title: str
    url: str
    summary: str
    published: datetime
    source: str = "Il Quotidiano"


class FeedEmulator:
    def __init__(self, brand: str = "Sportello") -> None:
        self.brand = brand
        self.alerts: list[FeedItem] = []
        self.news: list[FeedItem] = []
        self.log: list[tuple[str, int]] = []  # (path, status) of every request
        self.changed_at = {
            ALERTS_PATH: datetime(2026, 1, 1, tzinfo=UTC),
            RSS_PATH: datetime(2026, 1, 1, tzinfo=UTC),
        }
        self.broken = False  # serve a body that is not a feed
        self._ids = itertools.count(17_000_000_000_000_000_000)
        self._lock = threading.Lock()
        self.app = self._build_app()

    def add_alert(self, title: str, url: str, summary: str, published: datetime) -> FeedItem:
        item = FeedItem(
            f"tag:google.com,2013:googlealerts/feed:{next(self._ids)}",
            title,
            url,
            summary,
            published,
        )
        with self._lock:
            self.alerts.insert(0, item)
            self.changed_at[ALERTS_PATH] = _now_second()
        return item

    def add_news(self, title: str, url: str, summary: str, published: datetime) -> FeedItem:
        item = FeedItem(f"CBMi{next(self._ids)}", title, url, summary, published)
        with self._lock:
            self.news.insert(0, item)
            self.changed_at[RSS_PATH] = _now_second()
        return item

    def statuses(self, path: str) -> list[int]:
        return [status for p, status in self.log if p == path]

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="feed emulator")

        @app.get(ALERTS_PATH)
        def alerts(request: Request) -> Response:
            return self._serve(
                request, ALERTS_PATH, self._atom(), "application/atom+xml; charset=utf-8"
            )

        @app.get(RSS_PATH)
        def news(request: Request) -> Response:
            return self._serve(request, RSS_PATH, self._rss(), "application/rss+xml; charset=UTF-8")

        return app

    def _serve(self, request: Request, path: str, body: str, content_type: str) -> Response:
        if self.broken:
            body = "<html><body>Service temporarily unavailable</body></html>"
        data = body.encode()
        etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
        changed = self.changed_at[path]
        headers = {"ETag": etag, "Last-Modified": format_datetime(changed, usegmt=True)}
        if _not_modified(request, etag, changed):
            self.log.append((path, 304))
            return Response(status_code=304, headers=headers)
        self.log.append((path, 200))
        return Response(data, media_type=content_type, headers=headers)

    def _atom(self) -> str:
        with self._lock:
            items = list(self.alerts)
        updated = _iso(items[0].published if items else self.changed_at[ALERTS_PATH])
        entries = "".join(
            f"<entry><id>{i.id}</id>"
            f'<title type="html">{escape(_bold(i.title, self.brand))}</title>'
            f'<link href="{_google_redirect(i.url)}"/>'
            f"""<published>{_iso(i.published)}</published><updated>{_iso(i.published)}</updated>"""
            f"""<content type="html">{escape(_bold(i.summary, self.brand))}</content>"""
            """<author><name></name></author></entry>"""
            for i in items
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">'
            "<id>tag:google.com,2005:reader/user/06848252512512345678/state/com.google/alerts/1234567890123456789</id>"
            f"<title>Google Alert - {escape(self.brand)}</title>"
            f'<link href="https://www.google.com{ALERTS_PATH}" rel="self"></link>'
            f"<updated>{updated}</updated>{entries}</feed>"
        )

    def _rss(self) -> str:
        with self._lock:
            items = list(self.news)
        body = "".join(
            f"<item><title>{escape(i.title)} - {escape(i.source)}</title>"
            f"<link>{escape(i.url)}</link>"
            f'<guid isPermaLink="false">{i.id}</guid>'
            f"<pubDate>{format_datetime(i.published, usegmt=True)}</pubDate>"
            f"<description>{escape(i.summary)}</description>"
            f'<source url="https://www.example-news.it">{escape(i.source)}</source></item>'
            for i in items
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            f'<generator>NFE/5.0</generator><title>"{escape(self.brand)}" - Google News</title>'
            "<link>https://news.google.com/search?q=sportello&amp;hl=it&amp;gl=IT</link>"
            "<language>it</language><description>Google News</description>"
            f"{body}</channel></rss>"
        )


def _not_modified(request: Request, etag: str, changed: datetime) -> bool:
    given = request.headers.get("if-none-match")
    if given is not None:
        return etag in [tag.strip() for tag in given.split(",")] or given.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return changed <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _google_redirect(url: str) -> str:
    """Google Alerts links go through a google.com redirect carrying the target in ``url``."""
    target = quote(url, safe="")
    return f"https://www.google.com/url?rct=j&amp;sa=t&amp;url={target}&amp;ct=ga&amp;usg=AOvVaw0"


def _bold(text: str, word: str) -> str:
    return text.replace(word, f"<b>{word}</b>")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_second() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
