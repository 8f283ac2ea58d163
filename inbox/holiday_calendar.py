"""Public holidays by country and optional subdivision, looked up per local date.

The ``holidays`` package computes a whole year at a time and is slow to ask again, so each
year's dates are fetched once and kept as a frozen set.
"""

from __future__ import annotations

from datetime import date

import holidays


class HolidayCalendar:
    """Public holidays for a code such as ``"IT"``, ``"IT-BZ"`` or ``"DE-BY"``; None means none."""

    def __init__(self, code: str | None) -> None:
        self.code = code
        country, _, subdivision = (code or "").partition("-")
        self._country = country or None
        self._subdivision = subdivision or None
        self._years: dict[int, frozenset[date]] = {}
        if self._country is not None:  # a bad code fails here rather than on the first lookup
            holidays.country_holidays(self._country, subdiv=self._subdivision)

    def is_holiday(self, day: date) -> bool:
        return self._country is not None and day in self._dates(day.year)

    def _dates(self, year: int) -> frozenset[date]:
        dates = self._years.get(year)
        if dates is None:
            found = holidays.country_holidays(self._country, subdiv=self._subdivision, years=year)
            dates = self._years[year] = frozenset(found)
        return dates
