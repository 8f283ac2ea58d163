"""The one source of time. Tests set it; nothing else calls ``datetime.now()``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_utc(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = ensure_utc(at)

    def advance(self, delta: timedelta | float) -> None:
        self._at += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)


def ensure_utc(value: datetime) -> datetime:
    """Aware UTC datetime; naive values (as SQLite returns them) are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# What a given instant may be: the calendars step days and weeks from it, and a period
# a whole day past it, well inside what ``datetime`` holds.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def within_range(value: datetime) -> datetime:
    """``value`` in UTC; ValueError unless it falls from 1900 to 2999."""
    out_of_range = ValueError(f"{value.isoformat()} is out of range: from 1900 to 2999")
    try:
        moment = ensure_utc(value)
    except OverflowError:  # year 1 or 9999, moved to UTC
        raise out_of_range from None
    if not EARLIEST <= moment < LATEST:
        raise out_of_range
    return moment
