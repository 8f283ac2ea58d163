"""When the business is open: weekly hours, public holidays, closures and exceptional openings.

A :class:`BusinessCalendar` is built from :class:`BusinessHoursSettings` (or the same shape as a
plain dict, so a database can store it) and answers in aware UTC datetimes. Open intervals are
half-open: open at their start, closed at their end.

Precedence, strongest first:

1. an exceptional opening (``openings``) is open, whatever else applies;
2. a closure (``closures``) is closed;
3. a public holiday closes every weekly period that *starts* on that local day, including the
   part of a period such as ``21:00-02:00`` that runs into the next day;
4. the weekly hours; a missing or empty day is closed, so a definition with no hours at all is
   always closed except for its openings. No configuration at all is
   :meth:`BusinessCalendar.always_open`.

Everything is wall-clock time in the calendar's time zone, so across a DST switch a period is
as long as the clock says: ``01:00-04:00`` lasts 2 hours on the spring-forward day and 4 on the
fall-back day. Local times that do not exist (the skipped hour) are moved to the end of the gap;
local times that happen twice (the repeated hour) mean their first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sportello.config.settings import BusinessHoursSettings, parse_local_interval, parse_period
from sportello.inbox.clock import ensure_utc
from sportello.inbox.holiday_calendar import HolidayCalendar

Interval = tuple[datetime, datetime]

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON = timedelta(days=366)
_DAY = timedelta(days=1)
_SEARCH_STEP = timedelta(days=7)


class BusinessCalendar:
    """Opening hours of one business, answering in aware UTC datetimes."""

    def __init__(self, definition: BusinessHoursSettings, *, horizon: timedelta = HORIZON) -> None:
        self.definition = definition
        self.tz = ZoneInfo(definition.timezone)
        self.horizon = horizon
        self._weekly = tuple(
            tuple(sorted(parse_period(text) for text in getattr(definition, key)))
            for key in DAY_KEYS
        )
        self._closures = _merge(parse_local_interval(text) for text in definition.closures)
        self._openings = _merge(parse_local_interval(text) for text in definition.openings)
        self._holidays = HolidayCalendar(definition.holidays)
        self._days: dict[date, list[Interval]] = {}

    @classmethod
    def from_settings(cls, settings: BusinessHoursSettings | None) -> BusinessCalendar:
        """The calendar for the ``[business_hours]`` section; no section means always open."""
        return cls.always_open() if settings is None else cls(settings)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BusinessCalendar:
        return cls(BusinessHoursSettings.model_validate(data))

    def to_dict(self) -> dict[str, Any]:
        """The definition in the shape of the TOML section; :meth:`from_dict` reads it back."""
        return self.definition.model_dump()

    @classmethod
    def always_open(cls, timezone: str = "UTC") -> BusinessCalendar:
        whole_days = {key: ["00:00-24:00"] for key in DAY_KEYS}
        return cls(BusinessHoursSettings(timezone=timezone, holidays=None, **whole_days))

    def is_open(self, at: datetime) -> bool:
        at = ensure_utc(at)
        day = at.astimezone(self.tz).date()
        return any(start <= at < end for d in (day - _DAY, day) for start, end in self._day(d))

    def holiday(self, at: datetime, language: str | None = None) -> str | None:
        """The name of the public holiday on the local day of ``at``, if it is one (in
        ``language`` where the holidays package knows the country's names in it)."""
        return self._holidays.name(ensure_utc(at).astimezone(self.tz).date(), language)

    def closure(self, at: datetime) -> Interval | None:
        """The configured closure containing ``at`` (naive local start and end), if any."""
        local = ensure_utc(at).astimezone(self.tz).replace(tzinfo=None)
        return next(((a, b) for a, b in self._closures if a <= local < b), None)

    def open_intervals(self, start: datetime, end: datetime) -> list[Interval]:
        """Merged open intervals within ``[start, end)``, clipped to it."""
        start, end = ensure_utc(start), ensure_utc(end)
        if end <= start:
            return []
        # A period starting the local day before ``start`` can still be running at ``start``.
        day = start.astimezone(self.tz).date() - _DAY
        last = end.astimezone(self.tz).date()
        found: list[Interval] = []
        while day <= last:
            found.extend(self._day(day))
            day += _DAY
        return [(max(a, start), min(b, end)) for a, b in _merge(found) if a < end and b > start]

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Open seconds between two instants; 0 when ``end`` is not after ``start``."""
        return sum((b - a).total_seconds() for a, b in self.open_intervals(start, end))

    def next_open(self, at: datetime) -> datetime | None:
        """The instant it next opens: ``at`` itself if open, None if closed for the horizon."""
        at = ensure_utc(at)
        return next((start for start, _ in self._intervals_from(at)), None)

    def next_close(self, at: datetime) -> datetime | None:
        """The instant it next closes: ``at`` itself if closed, None if open for the horizon."""
        at = ensure_utc(at)
        for start, end in self._intervals_from(at):
            if start > at:
                return at
            return None if end >= at + self.horizon else end
        return at

    def _intervals_from(self, at: datetime) -> Iterator[Interval]:
        """Merged open intervals from ``at`` to the horizon, computed a week at a time."""
        limit = at + self.horizon
        pending: Interval | None = None
        step_start = at
        while step_start < limit:
            step_end = min(step_start + _SEARCH_STEP, limit)
            for start, end in self.open_intervals(step_start, step_end):
                if pending is not None and pending[1] == start:
                    pending = (pending[0], end)
                    continue
                if pending is not None:
                    yield pending
                pending = (start, end)
            step_start = step_end
        if pending is not None:
            yield pending

    def _day(self, day: date) -> list[Interval]:
        """UTC open intervals decided by local ``day``: its weekly periods (which may run into
        the next day) and the openings that fall within it. Cached per day."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        midnight = datetime.combine(day, time())
        periods: list[Interval] = []
        if not self._holidays.is_holiday(day):
            periods = [
                (midnight + timedelta(minutes=a), midnight + timedelta(minutes=b))
                for a, b in self._weekly[day.weekday()]
            ]
        window = (midnight, midnight + _DAY)
        openings = [
            (max(a, window[0]), min(b, window[1]))
            for a, b in self._openings
            if a < window[1] and b > window[0]
        ]
        local = _merge([*_subtract(periods, self._closures), *openings])
        utc = ((self._to_utc(a), self._to_utc(b)) for a, b in local)
        intervals = self._days[day] = _merge(
            interval for interval in utc if interval[0] < interval[1]
        )
        return intervals

    def _to_utc(self, local: datetime) -> datetime:
        """The instant of a naive local time; see the module docstring for DST gaps and folds."""
        instant = local.replace(tzinfo=self.tz).astimezone(UTC)  # fold=0: the first occurrence
        if instant.astimezone(self.tz).replace(tzinfo=None) == local:
            return instant
        return self._gap_end(local)

    def _gap_end(self, local: datetime) -> datetime:
        """The instant a DST gap containing ``local`` ends (tz transitions fall on whole seconds).

        Per PEP 495, ``fold=1`` reads a skipped time with the offset after the switch, giving an
        instant before it, and ``fold=0`` with the offset before, giving one at or after it.
        """
        read_after = local.replace(tzinfo=self.tz, fold=1)
        offset_after = read_after.utcoffset()
        before = int(read_after.timestamp())
        after = int(local.replace(tzinfo=self.tz, fold=0).timestamp())
        while after - before > 1:
            middle = (before + after) // 2
            if datetime.fromtimestamp(middle, self.tz).utcoffset() == offset_after:
                after = middle
            else:
                before = middle
        return datetime.fromtimestamp(after, UTC)


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted union of intervals, joining those that overlap or touch."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(intervals: list[Interval], cuts: list[Interval]) -> list[Interval]:
    """``intervals`` minus the union of ``cuts``."""
    result: list[Interval] = []
    for start, end in intervals:
        for cut_start, cut_end in cuts:
            if cut_end <= start or cut_start >= end:
                continue
            if cut_start > start:
                result.append((start, cut_start))
            start = max(start, cut_end)
            if start >= end:
                break
        if start < end:
            result.append((start, end))
    return result


_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "en": (
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        ("January", "February", "March", "April", "May", "June", "July", "August",
         "September", "October", "November", "December"),
        "{weekday} {day} {month} at {time}",
    ),
    "it": (
        ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
        ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
         "settembre", "ottobre", "novembre", "dicembre"),
        "{weekday} {day} {month} alle {time}",
    ),
}  # fmt: skip


def format_next_open(at: datetime, tz: str | tzinfo, language: str) -> str:
    """``at`` in words for a customer, e.g. ``lunedì 8 dicembre alle 09:00``.

    ``language`` is a code such as ``it``, ``it-IT`` or ``en_GB``; unknown ones get English.
    """
    local = ensure_utc(at).astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz)
    weekdays, months, pattern = _NAMES.get(language[:2].lower(), _NAMES["en"])
    text = pattern.format(
        weekday=weekdays[local.weekday()],
        day=local.day,
        month=months[local.month - 1],
        time=f"{local:%H:%M}",
    )
    return text.replace("alle 01:", "all'01:")  # Italian elides before "una"
