"""How long a span lasted: on the wall clock, or in business time.

Instants are POSIX timestamps (float seconds), cheap to read from the database in bulk
and to compare. Business time counts only the calendar's open seconds and leaves out the
conversation's paused intervals (pending on the customer, snoozed). :class:`OpenTime` answers in
O(log n) per span from prefix sums over the calendar's open intervals, so a report with a
million spans asks the calendar for its intervals only once.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime

from sportello.inbox.business_hours import BusinessCalendar

Pause = tuple[float, float | None]


class OpenTime:
    """Open seconds of ``calendar`` between any two instants within ``[start, end]``."""

    def __init__(self, calendar: BusinessCalendar, start: datetime, end: datetime) -> None:
        self.start, self.end = start.timestamp(), end.timestamp()
        self._intervals = [
            (a.timestamp(), b.timestamp()) for a, b in calendar.open_intervals(start, end)
        ]
        self._starts = [a for a, _ in self._intervals]
        self._before: list[float] = []
        total = 0.0
        for a, b in self._intervals:
            self._before.append(total)
            total += b - a

    def _upto(self, at: float) -> float:
        """Open seconds in ``[self.start, at)``."""
        index = bisect_right(self._starts, at) - 1
        if index < 0:
            return 0.0
        a, b = self._intervals[index]
        return self._before[index] + min(at, b) - a

    def between(self, a: float, b: float) -> float:
        a, b = max(a, self.start), min(b, self.end)
        return 0.0 if b <= a else self._upto(b) - self._upto(a)


class Stopwatch:
    """Measures spans in wall-clock seconds, or in business seconds when given open time."""

    def __init__(self, open_time: OpenTime | None = None) -> None:
        self.open_time = open_time

    @property
    def business(self) -> bool:
        return self.open_time is not None

    def seconds(self, start: float, end: float, pauses: Sequence[Pause] = ()) -> float:
        if end <= start:
            return 0.0
        if self.open_time is None:
            return end - start
        total = self.open_time.between(start, end)
        for pause_start, pause_end in pauses:
            low = max(start, pause_start)
            high = end if pause_end is None else min(end, pause_end)
            if high > low:
                total -= self.open_time.between(low, high)
        return max(total, 0.0)
