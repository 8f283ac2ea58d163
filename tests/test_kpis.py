"""Every KPI checked against a hand-computed inbox, in calendar and business time.

The inbox (Rome, office hours Mon-Fri 09:00-18:00, Italian holidays; 8 Dec 2026 is the
Immacolata, a Tuesday) over the period 1-11 Dec 2026:

A telegram  Fri 4 Dec 17:30 customer; 17:31 bot away message; Mon 7 Dec 09:30 agent;
            10:00 resolved.
B whatsapp  Mon 7 Dec 17:00 customer; Wed 9 Dec 10:00 agent (across the holiday);
            10:05 customer; 10:20 agent; 10:21 pending; Thu 10 Dec 11:00 customer (back to
            open); 11:30 agent; 11:40 resolved.
C telegram  Thu 10 Dec 09:00 customer; 09:10 reply typed in the phone app (an echo);
            09:15 resolved; Fri 11 Dec 09:00 customer again (reopened, unanswered).
E x         Wed 25 Nov 10:00 customer; 10:30 resolved without reply; Wed 2 Dec 10:00 the
            same customer again (reopened, unanswered).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, TypedDict, Unpack

import pytest
from kpi_fixtures import Inbox, hand_computed_inbox, office_hours, rome
from sqlalchemy import Engine

from sportello.inbox.db import make_engine, migrate, session_scope
from sportello.inbox.metrics import KpiQuery, compute_kpis, parse_bound, timeline_store


@pytest.fixture(params=["walked", "stored"])
def engine(database_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The inbox, reported from fresh walks of its history, and from stored timelines."""
    engine = make_engine(database_url)
    migrate(engine)
    with session_scope(engine) as session:
        hand_computed_inbox(Inbox(session))
    if request.param == "stored":
        assert timeline_store.refresh_all(engine) == 4
    yield engine
    engine.dispose()


class Filters(TypedDict, total=False):
    channel: str
    agent: str
    tag: str
    team: str


def _report(engine: Engine, *, business_time: bool, **filters: Unpack[Filters]) -> dict[str, Any]:
    calendar = office_hours()
    query = KpiQuery(
        start=parse_bound("2026-12-01", calendar.tz, end=False),
        end=parse_bound("2026-12-11", calendar.tz, end=True),
        now=rome(12, 20, 12),
        calendar=calendar,
        business_time=business_time,
        **filters,
    )
    with session_scope(engine) as session:
        return compute_kpis(session, query)


def _times(
    summary: dict[str, Any],
) -> tuple[float | None, float | None, float | None, int]:
    return summary["avg_s"], summary["median_s"], summary["p90_s"], summary["count"]


def test_volumes_backlog_and_rates(engine: Engine) -> None:
    report = _report(engine, business_time=False)
    assert report["from"] == "2026-11-30T23:00:00+00:00"
    assert report["to"] == "2026-12-11T23:00:00+00:00"
    assert report["conversations"] == 4  # A, B, C, E wrote or were written to in the period
    assert report["new_conversations"] == 3
    assert report["messages_in"] == 7
    assert report["messages_out"] == 6
    assert (report["messages_out_agent"], report["messages_out_bot"]) == (5, 1)
    assert report["cases"] == {"open_at_start": 0, "started": 5, "resolved": 3, "backlog": 2}
    assert report["backlog"] == 2
    assert report["waiting_for_reply"] == 2
    assert report["resolution_rate"] == pytest.approx(60.0)
    # A: one reply, never reopened. B: three replies. C: one reply but reopened next day.
    assert report["first_contact_resolution_rate"] == pytest.approx(100 / 3)
    # E2 since Wed 2 Dec 10:00, C2 since Fri 11 Dec 09:00, both to Sat 12 Dec 00:00.
    assert report["backlog_age"]["max_s"] == 828_000
    assert report["backlog_age"]["avg_s"] == (828_000 + 54_000) / 2
    assert report["retention"] == {
        "customers_at_start": 1,
        "customers_at_end": 4,
        "new_customers": 3,
        "rate": 100.0,
    }
    assert report["peak_hours"] == [
        {"weekday": 2, "hour": 10, "messages_in": 2},
        {"weekday": 0, "hour": 17, "messages_in": 1},
        {"weekday": 3, "hour": 9, "messages_in": 1},
    ]
    heat = {(wd, h): n for wd, h, n in report["volume_by_hour"]}
    assert len(heat) == 168 and sum(heat.values()) == 7 and heat[(4, 17)] == 1
    days = {d["date"]: d for d in report["volume_by_day"]}
    assert len(days) == 11
    assert days["2026-12-09"]["messages_in"] == 1 and days["2026-12-09"]["messages_out"] == 2
    assert days["2026-12-04"]["conversations"] == 1 and days["2026-12-04"]["messages_out"] == 1


def test_times_in_calendar_time(engine: Engine) -> None:
    report = _report(engine, business_time=False)
    # replies: C 600, B 900, B 1800, B 147600 (Mon 17:00 to Wed 10:00), A 230400 (Fri to Mon)
    assert _times(report["reply_time"]) == (381_300 / 5, 1_800, 230_400, 5)
    assert _times(report["first_response_time"]) == (378_600 / 3, 147_600, 230_400, 3)
    # A Fri 17:30 -> Mon 10:00; B Mon 17:00 -> Thu 11:40; C 15 minutes
    assert _times(report["resolution_time"]) == (473_100 / 3, 232_200, 240_000, 3)
    # first human reply to resolution: C 300, A 1800, B Wed 10:00 -> Thu 11:40
    assert _times(report["handling_time"]) == (94_500 / 3, 1_800, 92_400, 3)
    buckets = {b["label"]: b["count"] for b in report["reply_time_distribution"]}
    assert buckets == {
        "< 1m": 0, "1-5m": 0, "5-15m": 1, "15-60m": 2, "1-4h": 0, "4-24h": 0, "> 24h": 2,
    }  # fmt: skip


def test_times_in_business_time_skip_weekend_holiday_and_pending(engine: Engine) -> None:
    report = _report(engine, business_time=True)
    # A across the weekend: Fri 17:30-18:00 + Mon 09:00-09:30. B across the holiday:
    # Mon 17:00-18:00 + Wed 09:00-10:00.
    assert _times(report["reply_time"]) == (14_100 / 5, 1_800, 7_200, 5)
    assert _times(report["first_response_time"]) == (11_400 / 3, 3_600, 7_200, 3)
    # B: open Mon 1h + Wed 9h + Thu 2h40 = 45600, less pending Wed 10:21 -> Thu 11:00
    # (7h39m + 2h = 34740) = 10860. A: 30m + 1h = 5400.
    assert _times(report["resolution_time"]) == (17_160 / 3, 5_400, 10_860, 3)
    assert _times(report["handling_time"]) == (5_760 / 3, 1_800, 3_660, 3)
    # E2: Wed 2 Dec 10:00-18:00 + Thu, Fri, Mon, Wed, Thu, Fri (Tue 8 is a holiday)
    assert report["backlog_age"]["max_s"] == 28_800 + 6 * 32_400
    assert report["backlog_age"]["median_s"] == (223_200 + 32_400) / 2
    # volumes and rates do not depend on the way time is counted
    assert report["messages_in"] == 7 and report["resolution_rate"] == pytest.approx(60.0)


def test_business_time_follows_the_calendar_at_query_time(engine: Engine) -> None:
    """History is not frozen: open on Saturdays and A's weekend wait grows by 9 hours."""
    calendar = office_hours()
    definition = calendar.definition.model_copy(update={"sat": ["09:00-18:00"]})
    from sportello.inbox.business_hours import BusinessCalendar

    query = KpiQuery(
        start=rome(12, 4, 0),
        end=rome(12, 8, 0),
        now=rome(12, 20, 12),
        calendar=BusinessCalendar(definition),
        business_time=True,
    )
    with session_scope(engine) as session:
        report = compute_kpis(session, query)
    assert _times(report["first_response_time"]) == (3_600 + 32_400, 36_000, 36_000, 1)


def test_filters_by_channel_agent_tag_and_team(engine: Engine) -> None:
    from sqlmodel import select

    from sportello.inbox.models import Conversation, ConversationTag

    with session_scope(engine) as session:
        b = session.exec(select(Conversation).where(Conversation.channel == "whatsapp")).one()
        b.assignee, b.team = "anna", "billing"
        assert b.id is not None
        session.add(ConversationTag(conversation_id=b.id, tag="rimborsi"))
    whatsapp = _report(engine, business_time=False, channel="whatsapp")
    assert whatsapp["messages_in"] == 3 and whatsapp["messages_out"] == 3
    assert _times(whatsapp["reply_time"]) == (150_300 / 3, 1_800, 147_600, 3)
    assert whatsapp["first_contact_resolution_rate"] == 0.0
    for filters in ({"agent": "anna"}, {"tag": "rimborsi"}, {"team": "billing"}):
        report = _report(engine, business_time=False, **filters)
        assert report["messages_in"] == 3 and report["cases"]["resolved"] == 1
        assert report["retention"]["customers_at_end"] == 1
    for nobody in (
        _report(engine, business_time=False, agent="nobody"),
        _report(engine, business_time=False, team="nobody"),
    ):
        assert nobody["messages_in"] == 0 and nobody["reply_time"]["avg_s"] is None
        assert nobody["resolution_rate"] is None


def test_period_bounds() -> None:
    tz = office_hours().tz
    assert parse_bound("2026-12-01", tz, end=False) == rome(12, 1, 0)
    assert parse_bound("2026-12-01", tz, end=True) == rome(12, 2, 0)
    assert parse_bound("2026-12-01T10:00", tz, end=False) == rome(12, 1, 10)
    assert parse_bound("2026-12-01T10:00:00Z", tz, end=False) == rome(12, 1, 11)
    with pytest.raises(ValueError, match="not a date"):
        parse_bound("yesterday", tz, end=False)
    with pytest.raises(ValueError, match="end after"):
        KpiQuery(
            start=rome(12, 2, 0),
            end=rome(12, 1, 0),
            now=rome(12, 2, 0),
            calendar=office_hours(),
            fcr_window=timedelta(days=1),
        )
