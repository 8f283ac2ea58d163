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
        self._years: dict[tuple[int, str | None], dict[date, str]] = {}
        self._languages: tuple[str, ...] = ()
        if self._country is not None:  # a bad code fails here rather than on the first lookup
            probe = holidays.country_holidays(self._country, subdiv=self._subdivision)
            self._languages = tuple(probe.supported_languages)

    def is_holiday(self, day: date) -> bool:
        return day in self._dates(day.year, None)

    def name(self, day: date, language: str | None = None) -> str | None:
        """The holiday's name, or None on a working day: in ``language`` (``it``, ``it-IT``)
        where the ``holidays`` package has the country's names in it, else in English."""
        return self._dates(day.year, self._supported(language)).get(day)

    def _supported(self, language: str | None) -> str | None:
        """The package's code for ``language`` among the country's, if it has one."""
        if not language:
            return None
        wanted = language.replace("-", "_").lower()
        codes = {code.lower(): code for code in self._languages}
        if wanted in codes:
            return codes[wanted]
        prefix = wanted.split("_")[0]
        return next(
            (code for code in self._languages if code.lower().split("_")[0] == prefix), None
        )

    def _dates(self, year: int, language: str | None) -> dict[date, str]:
        if self._country is None:
            return {}
        dates = self._years.get((year, language))
        if dates is None:
            found = holidays.country_holidays(
                self._country, subdiv=self._subdivision, years=year, language=language
            )
            dates = self._years[(year, language)] = dict(found.items())
        return dates
