"""What a mention source yields: one public post, already out of the platform's format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class FoundMention:
    source: str  # "x" | "feed"
    external_id: str
    text: str
    published_at: datetime
    title: str | None = None
    link: str | None = None
    author_id: str | None = None
    author_handle: str | None = None
    author_name: str | None = None
    thread_external_id: str | None = None
    language: str | None = None  # the platform's own guess, e.g. X's ``lang``
