"""Public holidays by country and optional subdivision, looked up per local date.

The ``holidays`` package computes a whole year at a time and is slow to ask again, so each
year's dates (and names) are fetched once and kept.
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
        self._years: dict[int, dict[date, str]] = {}
        if self._country is not None:  # a bad code fails here rather than on the first lookup
            holidays.country_holidays(self._country, subdiv=self._subdivision)

    def is_holiday(self, day: date) -> bool:
        return day in self._dates(day.year)

    def name(self, day: date) -> str | None:
        """The holiday's name in the country's own language, or None on a working day."""
        return self._dates(day.year).get(day)

    def _dates(self, year: int) -> dict[date, str]:
        if self._country is None:
            return {}
        dates = self._years.get(year)
        if dates is None:
            found = holidays.country_holidays(self._country, subdiv=self._subdivision, years=year)
            dates = self._years[year] = dict(found.items())
        return dates
