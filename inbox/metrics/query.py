"""What a report is about: the period, the filters and the way time is counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.clock import within_range

DEFAULT_FCR_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class KpiQuery:
    """``[start, end)`` in aware UTC; filters match the conversation's current state."""

    start: datetime
    end: datetime
    now: datetime
    calendar: BusinessCalendar
    business_time: bool = False
    channel: str | None = None
    agent: str | None = None
    tag: str | None = None
    team: str | None = None
    fcr_window: timedelta = DEFAULT_FCR_WINDOW

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("the period must end after it starts")

    @property
    def as_of(self) -> datetime:
        """The instant the end-of-period state (backlog) is judged at: ``end``, or now."""
        return min(self.end, self.now)


def report_head(query: KpiQuery) -> dict[str, Any]:
    """What every report says first: its period, time zone, time and filters."""
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "timezone": str(query.calendar.tz),
        "business_time": query.business_time,
        "filters": {
            "channel": query.channel,
            "agent": query.agent,
            "tag": query.tag,
            "team": query.team,
        },
    }


def parse_bound(text: str, tz: ZoneInfo, *, end: bool) -> datetime:
    """A period bound: ``YYYY-MM-DD`` (a whole local day, inclusive for ``end``) or an
    ISO 8601 instant (local time when it carries no offset)."""
    text = text.strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time(), tz)
            moment += timedelta(days=1 if end else 0)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except OverflowError:  # the day after 9999-12-31
        raise ValueError(f"{text!r} is out of range: from 1900 to 2999") from None
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 date and time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:
        return within_range(moment)
    except ValueError:
        raise ValueError(f"{text!r} is out of range: from 1900 to 2999") from None
