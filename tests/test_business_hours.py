"""The business-hours engine, against values worked out by hand.

Europe/Rome is UTC+1 (CET) in winter and UTC+2 (CEST) from 2026-03-29 to 2026-10-25.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from sportello.config.settings import BusinessHoursSettings, parse_local_interval, parse_period
from sportello.inbox.business_hours import BusinessCalendar, format_next_open

ROME = ZoneInfo("Europe/Rome")
HOUR = 3600.0
WEEKDAY = ["09:00-13:00", "14:00-18:00"]


def rome(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ROME)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def calendar(**overrides: Any) -> BusinessCalendar:
    """Italian office: split shifts Monday to Friday, Saturday morning, Sunday closed."""
    data: dict[str, Any] = {
        "timezone": "Europe/Rome",
        "holidays": "IT",
        **{day: WEEKDAY for day in ("mon", "tue", "wed", "thu", "fri")},
        "sat": ["09:00-12:00"],
    }
    return BusinessCalendar.from_dict({**data, **overrides})


def every_day(hours: list[str], **overrides: Any) -> BusinessCalendar:
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return BusinessCalendar.from_dict(
        {"timezone": "Europe/Rome", "holidays": "IT", **dict.fromkeys(days, hours), **overrides}
    )


# Weekly hours


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (rome(2026, 12, 2, 8, 59), False),
        (rome(2026, 12, 2, 9, 0), True),  # opens at the start
        (rome(2026, 12, 2, 12, 59), True),
        (rome(2026, 12, 2, 13, 0), False),  # closed at the end: lunch break
        (rome(2026, 12, 2, 14, 0), True),
        (rome(2026, 12, 2, 18, 0), False),
        (rome(2026, 12, 5, 11, 0), True),  # Saturday morning
        (rome(2026, 12, 5, 12, 0), False),
        (rome(2026, 12, 6, 10, 0), False),  # Sunday: a missing day is closed
    ],
)
def test_split_shifts_and_weekend(at: datetime, expected: bool) -> None:
    assert calendar().is_open(at) is expected


def test_answers_for_any_aware_input_and_naive_as_utc() -> None:
    cal = calendar()
    assert cal.is_open(utc(2026, 12, 2, 8, 0))  # 09:00 in Rome
    assert not cal.is_open(utc(2026, 12, 2, 7, 59))
    assert cal.is_open(datetime(2026, 12, 2, 8, 0))


def test_business_seconds_over_a_split_day() -> None:
    assert calendar().business_seconds(rome(2026, 12, 2, 8), rome(2026, 12, 2, 20)) == 8 * HOUR
    assert calendar().business_seconds(rome(2026, 12, 2, 12), rome(2026, 12, 2, 15)) == 2 * HOUR
    assert calendar().business_seconds(rome(2026, 12, 2, 15), rome(2026, 12, 2, 12)) == 0.0


def test_open_intervals_are_utc_and_clipped() -> None:
    assert calendar().open_intervals(rome(2026, 12, 2, 10), rome(2026, 12, 3, 10)) == [
        (utc(2026, 12, 2, 9), utc(2026, 12, 2, 12)),
        (utc(2026, 12, 2, 13), utc(2026, 12, 2, 17)),
        (utc(2026, 12, 3, 8), utc(2026, 12, 3, 9)),
    ]


# Crossing midnight


def test_period_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    cal = calendar(fri=["21:00-02:00"], holidays=None)
    assert not cal.is_open(rome(2026, 12, 4, 20, 59))
    assert cal.is_open(rome(2026, 12, 4, 23, 0))
    assert cal.is_open(rome(2026, 12, 5, 1, 59))
    assert not cal.is_open(rome(2026, 12, 5, 2, 0))
    assert not cal.is_open(rome(2026, 12, 5, 3, 0))  # Saturday is 09:00-12:00
    assert cal.next_close(rome(2026, 12, 4, 22)) == utc(2026, 12, 5, 1)
    assert cal.business_seconds(rome(2026, 12, 4), rome(2026, 12, 6)) == (5 + 3) * HOUR
    # Asked from inside the part after midnight, the shift started the day before.
    assert cal.business_seconds(rome(2026, 12, 5, 1), rome(2026, 12, 5, 3)) == 1 * HOUR
    assert cal.next_close(rome(2026, 12, 5, 1)) == utc(2026, 12, 5, 1)


def test_until_24_joins_the_next_day_into_one_interval() -> None:
    cal = calendar(sat=["18:00-24:00"], sun=["00:00-06:00"])
    assert cal.open_intervals(rome(2026, 12, 5), rome(2026, 12, 7)) == [
        (utc(2026, 12, 5, 17), utc(2026, 12, 6, 5))
    ]
    assert cal.next_close(rome(2026, 12, 5, 20)) == utc(2026, 12, 6, 5)


def test_holiday_closes_the_periods_starting_on_it_only() -> None:
    # Christmas 2026 is a Friday: Thursday's night shift runs into it, Friday's does not open.
    cal = calendar(thu=["21:00-02:00"], fri=["21:00-02:00"])
    assert cal.is_open(rome(2026, 12, 25, 1, 0))
    assert not cal.is_open(rome(2026, 12, 25, 2, 0))
    assert not cal.is_open(rome(2026, 12, 25, 22, 0))
    assert not cal.is_open(rome(2026, 12, 26, 1, 0))


# Public holidays


@pytest.mark.parametrize(
    "day",
    [
        (2026, 12, 25),  # Christmas, Friday
        (2026, 12, 26),  # Santo Stefano, Saturday
        (2026, 11, 1),  # Ognissanti, Sunday
        (2026, 8, 15),  # Ferragosto, Saturday
        (2026, 4, 6),  # Pasquetta, Monday
        (2026, 6, 2),  # Festa della Repubblica, Tuesday
        (2026, 12, 8),  # Immacolata, Tuesday
    ],
)
def test_italian_holidays_close_the_whole_day(day: tuple[int, int, int]) -> None:
    cal = every_day(["09:00-18:00"])
    assert not cal.is_open(rome(*day, 10))
    assert cal.business_seconds(rome(*day), rome(*day, 23, 59)) == 0.0
    assert every_day(["09:00-18:00"], holidays=None).is_open(rome(*day, 10))


def test_ordinary_days_around_holidays_stay_open() -> None:
    cal = every_day(["09:00-18:00"])
    assert cal.is_open(rome(2026, 12, 24, 10))
    assert cal.is_open(rome(2026, 12, 27, 10))
    assert cal.is_open(rome(2026, 4, 7, 10))


def test_regional_holiday_by_subdivision() -> None:
    # Whit Monday 2026-05-25 is a holiday in South Tyrol only; Corpus Christi in Bavaria only.
    assert not every_day(["09:00-18:00"], holidays="IT-BZ").is_open(rome(2026, 5, 25, 10))
    assert every_day(["09:00-18:00"], holidays="IT").is_open(rome(2026, 5, 25, 10))
    assert not every_day(["09:00-18:00"], holidays="DE-BY").is_open(rome(2026, 6, 4, 10))
    assert every_day(["09:00-18:00"], holidays="DE").is_open(rome(2026, 6, 4, 10))


# Closures and openings


def test_closure_wins_over_weekly_hours() -> None:
    cal = calendar(closures=["2026-12-02T14:00/2026-12-02T18:00"])
    assert cal.is_open(rome(2026, 12, 2, 10))
    assert not cal.is_open(rome(2026, 12, 2, 15))
    assert cal.business_seconds(rome(2026, 12, 2), rome(2026, 12, 3)) == 4 * HOUR


def test_opening_wins_over_a_holiday() -> None:
    cal = calendar(openings=["2026-12-08T10:00/2026-12-08T12:00"])
    assert not cal.is_open(rome(2026, 12, 8, 9, 30))
    assert cal.is_open(rome(2026, 12, 8, 10, 30))
    assert not cal.is_open(rome(2026, 12, 8, 14, 30))
    assert cal.next_open(rome(2026, 12, 8, 9)) == utc(2026, 12, 8, 9)


def test_opening_adds_to_a_closed_day_across_midnight() -> None:
    cal = calendar(openings=["2026-12-05T20:00/2026-12-06T02:00"])  # Saturday night
    assert cal.open_intervals(rome(2026, 12, 5, 12), rome(2026, 12, 7)) == [
        (utc(2026, 12, 5, 19), utc(2026, 12, 6, 1))
    ]


def test_opening_wins_over_a_closure_and_whole_day_closures_are_inclusive() -> None:
    cal = calendar(
        closures=["2026-08-10/2026-08-21"], openings=["2026-08-14T09:00/2026-08-14T12:00"]
    )
    assert not cal.is_open(rome(2026, 8, 13, 10))
    assert cal.is_open(rome(2026, 8, 14, 10))
    assert not cal.is_open(rome(2026, 8, 14, 15))
    assert not cal.is_open(rome(2026, 8, 21, 17))
    assert cal.is_open(rome(2026, 8, 22, 10))


# Daylight saving time (both switches fall on a Sunday in 2026)


def test_spring_forward_shortens_a_period_across_the_gap() -> None:
    cal = calendar(sun=["01:00-04:00"], holidays=None)
    assert cal.open_intervals(rome(2026, 3, 29), rome(2026, 3, 30)) == [
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 2))
    ]
    assert cal.business_seconds(rome(2026, 3, 29), rome(2026, 3, 30)) == 2 * HOUR


def test_fall_back_lengthens_a_period_across_the_repeated_hour() -> None:
    cal = calendar(sun=["01:00-04:00"], holidays=None)
    assert cal.open_intervals(rome(2026, 10, 25), rome(2026, 10, 26)) == [
        (utc(2026, 10, 24, 23), utc(2026, 10, 25, 3))
    ]
    assert cal.business_seconds(rome(2026, 10, 25), rome(2026, 10, 26)) == 4 * HOUR


def test_period_02_03_never_happens_in_spring_and_lasts_two_hours_in_autumn() -> None:
    cal = calendar(sun=["02:00-03:00"], holidays=None)
    assert cal.business_seconds(rome(2026, 3, 29), rome(2026, 3, 30)) == 0.0
    assert not cal.is_open(utc(2026, 3, 29, 1))
    assert cal.open_intervals(rome(2026, 10, 25), rome(2026, 10, 26)) == [
        (utc(2026, 10, 25, 0), utc(2026, 10, 25, 2))
    ]
    assert cal.is_open(utc(2026, 10, 25, 1, 30))  # the second 02:30


def test_boundary_in_the_gap_moves_to_its_end_and_in_the_fold_means_first() -> None:
    cal = calendar(sun=["02:30-05:00"], holidays=None)
    # Spring: 02:30 does not exist, opens at 03:00 CEST (01:00 UTC); closes 05:00 CEST.
    assert cal.next_open(utc(2026, 3, 29, 0)) == utc(2026, 3, 29, 1)
    assert cal.business_seconds(rome(2026, 3, 29), rome(2026, 3, 30)) == 2 * HOUR
    # Autumn: opens at the first 02:30 (CEST, 00:30 UTC); closes 05:00 CET (04:00 UTC).
    assert cal.next_open(utc(2026, 10, 24, 22)) == utc(2026, 10, 25, 0, 30)
    assert cal.business_seconds(rome(2026, 10, 25), rome(2026, 10, 26)) == 3.5 * HOUR


def test_always_open_local_day_has_23_and_25_hours() -> None:
    cal = BusinessCalendar.always_open("Europe/Rome")
    assert cal.business_seconds(rome(2026, 3, 29), rome(2026, 3, 30)) == 23 * HOUR
    assert cal.business_seconds(rome(2026, 10, 25), rome(2026, 10, 26)) == 25 * HOUR


def test_office_hours_on_switch_days_are_unchanged() -> None:
    cal = every_day(["09:00-18:00"], holidays=None)
    assert cal.open_intervals(rome(2026, 3, 29), rome(2026, 3, 30)) == [
        (utc(2026, 3, 29, 7), utc(2026, 3, 29, 16))
    ]


# Spans across weekends and holidays


def test_business_seconds_across_a_weekend_and_a_holiday() -> None:
    # Fri 4 Dec 17-18 (1h), Sat 09-12 (3h), Sun closed, Mon 8h, Tue 8 Dec Immacolata, Wed 09-10.
    cal = calendar()
    assert cal.business_seconds(rome(2026, 12, 4, 17), rome(2026, 12, 9, 10)) == 13 * HOUR


def test_business_seconds_across_christmas() -> None:
    # Thu 24 Dec 17-18, Fri 25 and Sat 26 holidays, Sun closed, Mon 28 09-10.
    cal = calendar()
    assert cal.business_seconds(rome(2026, 12, 24, 17), rome(2026, 12, 28, 10)) == 2 * HOUR


def test_business_seconds_over_thirty_days() -> None:
    # November 2026: 21 weekdays but 1 Nov is a Sunday, so 21 * 8h; 4 Saturdays * 3h.
    cal = calendar()
    assert cal.business_seconds(rome(2026, 11, 1), rome(2026, 12, 1)) == (21 * 8 + 4 * 3) * HOUR


# next_open / next_close


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (rome(2026, 12, 4, 20), utc(2026, 12, 5, 8)),  # Friday night -> Saturday 09:00
        (rome(2026, 12, 5, 12, 30), utc(2026, 12, 7, 8)),  # Saturday noon -> Monday
        (rome(2026, 12, 7, 19), utc(2026, 12, 9, 8)),  # Monday night, Tuesday is a holiday
        (rome(2026, 12, 25, 10), utc(2026, 12, 28, 8)),  # Christmas -> Monday 28
        (rome(2026, 12, 2, 13, 30), utc(2026, 12, 2, 13)),  # lunch break
        (rome(2026, 12, 2, 10), utc(2026, 12, 2, 9)),  # open now: itself
    ],
)
def test_next_open(at: datetime, expected: datetime) -> None:
    assert calendar().next_open(at) == expected


def test_next_open_from_inside_a_closure() -> None:
    cal = calendar(closures=["2026-08-10/2026-08-21"])
    assert cal.next_open(rome(2026, 8, 12, 10)) == utc(2026, 8, 22, 7)  # Saturday, CEST


def test_next_close() -> None:
    cal = calendar()
    assert cal.next_close(rome(2026, 12, 2, 10)) == utc(2026, 12, 2, 12)
    assert cal.next_close(rome(2026, 12, 2, 13, 30)) == utc(2026, 12, 2, 12, 30)  # closed: itself


def test_never_opening_and_never_closing() -> None:
    closed = BusinessCalendar.from_dict({"timezone": "Europe/Rome", "holidays": None})
    assert closed.next_open(utc(2026, 1, 1)) is None
    assert closed.business_seconds(utc(2026, 1, 1), utc(2026, 2, 1)) == 0.0
    always = BusinessCalendar.from_settings(None)
    assert always.next_open(utc(2026, 1, 1)) == utc(2026, 1, 1)
    assert always.next_close(utc(2026, 1, 1)) is None
    assert always.is_open(utc(2026, 12, 25, 12))


# Definition round trip and validation


def test_dict_round_trip_matches_the_toml_shape() -> None:
    data = {
        "timezone": "Europe/Rome",
        "holidays": "IT-BZ",
        "mon": WEEKDAY,
        "fri": ["21:00-02:00"],
        "closures": ["2026-08-10/2026-08-21"],
        "openings": ["2026-12-24T13:00/2026-12-27T00:00"],
    }
    dumped = BusinessCalendar.from_dict(data).to_dict()
    assert dumped == {**{d: [] for d in ("tue", "wed", "thu", "sat", "sun")}, **data}
    assert BusinessCalendar.from_dict(dumped).to_dict() == dumped
    settings = BusinessHoursSettings.model_validate(data)
    assert BusinessCalendar.from_settings(settings).to_dict() == dumped


@pytest.mark.parametrize(
    "bad",
    [
        {"mon": ["09:00-09:00"]},
        {"mon": ["10:00-24:30"]},
        {"mon": ["9-18"]},
        {"closures": ["2026-08-21/2026-08-10"]},
        {"closures": ["2026-08-10T09:00/2026-08-10"]},
        {"openings": ["2026-12-24T13:00+01:00/2026-12-24T18:00+01:00"]},
        {"holidays": "IT-XX"},
        {"holidays": "ZZ"},
        {"timezone": "Europe/Atlantis"},
    ],
)
def test_bad_definitions_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BusinessCalendar.from_dict(bad)


def test_parsers() -> None:
    assert parse_period("21:00-02:00") == (21 * 60, 26 * 60)
    assert parse_period("00:00-24:00") == (0, 24 * 60)
    assert parse_local_interval("2026-08-14") == (
        datetime(2026, 8, 14),
        datetime(2026, 8, 15),
    )


# Rendering


@pytest.mark.parametrize(
    ("at", "language", "expected"),
    [
        (utc(2025, 12, 8, 8), "it", "lunedì 8 dicembre alle 09:00"),
        (utc(2025, 12, 8, 8), "it-IT", "lunedì 8 dicembre alle 09:00"),
        (utc(2025, 12, 8, 8), "en", "Monday 8 December at 09:00"),
        (utc(2025, 12, 8, 8), "fr", "Monday 8 December at 09:00"),
        (utc(2026, 8, 14, 7), "it", "venerdì 14 agosto alle 09:00"),  # CEST
        (utc(2026, 3, 1, 0, 30), "it", "domenica 1 marzo all'01:30"),
    ],
)
def test_format_next_open(at: datetime, language: str, expected: str) -> None:
    assert format_next_open(at, "Europe/Rome", language) == expected
