"""The X poller's position and request budget, kept in one JSON cursor string.

The core stores one cursor per connector; X needs two positions (mentions by
``since_id``, direct messages by the newest event id seen, since ``/2/dm_events``
has no ``since_id``), the state of a sweep cut short by a rate limit, per-endpoint
pauses, and the request counts of the day and month. All of it lives here, so a
restart resumes exactly where the last committed poll stopped.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass
class Sweep:
    """One endpoint's position.

    ``newest_id`` is the newest item fully taken in; while a sweep pages back through
    newer items, ``sweep_newest`` holds its top and ``next_token`` the next page, so a
    sweep cut short resumes, and ``newest_id`` only moves once the sweep is complete.
    """

    newest_id: str | None = None
    sweep_newest: str | None = None
    next_token: str | None = None
    paused_until: str | None = None

    def paused(self, now: datetime) -> float:
        """Seconds this endpoint must still rest (0 when it may be called)."""
        if self.paused_until is None:
            return 0.0
        return max(0.0, (datetime.fromisoformat(self.paused_until) - now).total_seconds())

    def pause(self, now: datetime, seconds: float) -> None:
        self.paused_until = (now + timedelta(seconds=seconds)).isoformat()

    def finish_page(self, page_newest: str | None, next_token: str | None) -> None:
        if self.sweep_newest is None:
            self.sweep_newest = page_newest
        self.next_token = next_token
        if next_token is None:
            if self.sweep_newest is not None:
                self.newest_id = self.sweep_newest
            self.sweep_newest = None


@dataclass
class Usage:
    """Requests made in the current UTC day and month."""

    day: str = ""
    day_count: int = 0
    month: str = ""
    month_count: int = 0

    def roll(self, now: datetime) -> None:
        day, month = now.strftime("%Y-%m-%d"), now.strftime("%Y-%m")
        if day != self.day:
            self.day, self.day_count = day, 0
        if month != self.month:
            self.month, self.month_count = month, 0

    def count(self, now: datetime, requests: int = 1) -> None:
        self.roll(now)
        self.day_count += requests
        self.month_count += requests


@dataclass
class PollState:
    mentions: Sweep = field(default_factory=Sweep)
    dms: Sweep = field(default_factory=Sweep)
    usage: Usage = field(default_factory=Usage)
    next_poll_at: str | None = None  # the budget's pace, kept across restarts

    @classmethod
    def load(cls, cursor: str | None) -> PollState:
        """The state in ``cursor``; a bare id (an older cursor) is the mentions' since_id."""
        if not cursor:
            return cls()
        if cursor.isdigit():
            return cls(mentions=Sweep(newest_id=cursor))
        data: dict[str, Any] = json.loads(cursor)
        return cls(
            mentions=Sweep(**data.get("mentions", {})),
            dms=Sweep(**data.get("dms", {})),
            usage=Usage(**data.get("usage", {})),
            next_poll_at=data.get("next_poll_at"),
        )

    def not_yet(self, now: datetime) -> float:
        """Seconds before the budget allows the next poll (0 when it is due)."""
        if self.next_poll_at is None:
            return 0.0
        return max(0.0, (datetime.fromisoformat(self.next_poll_at) - now).total_seconds())

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class Budget:
    """``channels.x.requests_per_day`` / ``requests_per_month``, spread over their period."""

    per_day: int | None
    per_month: int | None

    def exhausted_for(self, usage: Usage, now: datetime) -> float:
        """Seconds until a request is allowed again (0 when one is allowed now)."""
        usage.roll(now)
        wait = 0.0
        if self.per_day is not None and usage.day_count >= self.per_day:
            wait = max(wait, _seconds_to_next_day(now))
        if self.per_month is not None and usage.month_count >= self.per_month:
            wait = max(wait, _seconds_to_next_month(now))
        return wait

    def spacing(self, usage: Usage, now: datetime, cost: int) -> float:
        """Seconds to wait between polls of ``cost`` requests so the rest of each period fits.

        The remaining requests are spread evenly over the remaining time: a budget of
        1,500 a month is not spent in the first day.
        """
        usage.roll(now)
        spacing = 0.0
        for limit, used, left_s in (
            (self.per_day, usage.day_count, _seconds_to_next_day(now)),
            (self.per_month, usage.month_count, _seconds_to_next_month(now)),
        ):
            if limit is None:
                continue
            polls_left = math.floor((limit - used) / cost)
            spacing = max(spacing, left_s if polls_left <= 0 else left_s / polls_left)
        return spacing

    def report(self, usage: Usage, now: datetime) -> dict[str, Any]:
        usage.roll(now)
        return {
            "day": usage.day,
            "requests_today": usage.day_count,
            "requests_per_day": self.per_day,
            "month": usage.month,
            "requests_this_month": usage.month_count,
            "requests_per_month": self.per_month,
        }


def _seconds_to_next_day(now: datetime) -> float:
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=1) - now).total_seconds()


def _seconds_to_next_month(now: datetime) -> float:
    utc = now.astimezone(UTC)
    year, month = (utc.year + 1, 1) if utc.month == 12 else (utc.year, utc.month + 1)
    return (datetime(year, month, 1, tzinfo=UTC) - now).total_seconds()
