"""The customer-care KPIs of a period, computed at query time; see ``docs/kpis.md``.

A handful of queries, none per conversation: SQL aggregates for volumes, retention and
surveys; for the time figures (``times``), the rows of the stored timelines the period
needs, and a fresh walk of the conversations whose timeline is not current.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, and_, cast, distinct, func
from sqlalchemy import case as sql_case
from sqlmodel import Session, col, select

from sportello.inbox.metrics.alongside import read_alongside
from sportello.inbox.metrics.filters import (
    message_filters,
    messages_in_period,
    opened_in_period,
    survey_filters,
)
from sportello.inbox.metrics.query import KpiQuery, report_head
from sportello.inbox.metrics.stats import percent
from sportello.inbox.metrics.survey_scores import survey_figures
from sportello.inbox.metrics.times import no_time_figures, time_figures
from sportello.inbox.models import Conversation, Customer, Message
from sportello.inbox.survey_tables import Survey

BUCKET_S = 900  # every time zone's offset is a multiple of 15 minutes
PEAK_HOURS = 3


def compute_kpis(session: Session, query: KpiQuery) -> dict[str, Any]:
    """Every figure of ``docs/kpis.md`` for ``query``, as the JSON of the reports API.

    The time figures are read in one snapshot while the database aggregates the rest: on
    an engine whose connections share one database, the aggregates run on a second
    connection at the same time, so the report reads what is committed.
    """
    timing, (volumes, retention, surveys) = read_alongside(
        session,
        lambda connection: time_figures(connection, query).get(None),
        lambda aside: _aggregates(aside, query),
    )
    days = _days(query)
    by_day = {day: {"date": day.isoformat(), **_zero_day()} for day in days}
    for key, values in volumes["by_day"].items():
        if key in by_day:
            by_day[key].update(values)
    for key, (total, count) in surveys["csat_by_day"].items():
        if key in by_day:
            by_day[key]["csat_avg"] = total / count
            by_day[key]["csat_responses"] = count
    for row in by_day.values():
        total, count = row.pop("_sentiment")
        row["sentiment_avg"] = total / count if count else None
    heat = volumes["by_hour_of_week"]
    peaks = sorted(
        ((wd, h, v["messages_in"]) for (wd, h), v in heat.items() if v["messages_in"]),
        key=lambda item: (-item[2], item[0], item[1]),
    )[:PEAK_HOURS]
    return {
        **report_head(query),
        "conversations": volumes["conversations"],
        "new_conversations": volumes["new_conversations"],
        "messages_in": volumes["messages_in"],
        "messages_out": volumes["messages_out"],
        "messages_out_agent": volumes["messages_out_agent"],
        "messages_out_bot": volumes["messages_out_bot"],
        **(timing or no_time_figures(query)),
        "retention": retention,
        **surveys["figures"],
        "volume_by_hour": [
            [wd, h, heat.get((wd, h), {}).get("messages_in", 0)]
            for wd in range(7)
            for h in range(24)
        ],
        "volume_by_hour_of_week": [
            {"weekday": wd, "hour": h, **values} for (wd, h), values in sorted(heat.items())
        ],
        "peak_hours": [{"weekday": wd, "hour": h, "messages_in": n} for wd, h, n in peaks],
        "volume_by_day": list(by_day.values()),
    }


def _aggregates(
    session: Session, query: KpiQuery
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return _volumes(session, query), _retention(session, query), _surveys(session, query)


# volumes ---------------------------------------------------------------------------------


def _bucket(session: Session, column: Any) -> Any:
    """The 15-minute UTC slot of a timestamp column, as an integer, in SQL."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), BigInteger) // BUCKET_S
    return cast(func.floor(func.extract("epoch", column) / BUCKET_S), BigInteger)


def _zero_day() -> dict[str, Any]:
    return {
        "conversations": 0,
        "messages_in": 0,
        "messages_out": 0,
        "csat_avg": None,
        "csat_responses": 0,
        "_sentiment": (0.0, 0),
    }


def _volumes(session: Session, query: KpiQuery) -> dict[str, Any]:
    tz = query.calendar.tz
    in_period = messages_in_period(query)
    bucket = _bucket(session, Message.sent_at).label("bucket")
    rows = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types four columns at most
            bucket,
            Message.direction,
            Message.author,
            func.count(),
            func.sum(col(Message.sentiment_compound)),
            func.count(col(Message.sentiment_compound)),
        )
        .where(*in_period)
        .group_by(bucket, Message.direction, Message.author)
    ).all()
    opened_bucket = _bucket(session, Conversation.opened_at).label("bucket")
    opened = session.exec(
        select(opened_bucket, func.count()).where(*opened_in_period(query)).group_by(opened_bucket)
    ).all()
    active = session.exec(
        select(func.count(distinct(col(Message.conversation_id)))).where(*in_period)
    ).one()

    totals = {"in": 0, "agent": 0, "bot": 0}
    by_day: dict[date, dict[str, Any]] = defaultdict(_zero_day)
    by_hour: dict[tuple[int, int], dict[str, int]] = defaultdict(
        lambda: {"conversations": 0, "messages_in": 0, "messages_out": 0}
    )
    for slot, direction, author, count, sentiment_sum, sentiment_count in rows:
        local = datetime.fromtimestamp(int(slot) * BUCKET_S, UTC).astimezone(tz)
        key = "messages_in" if direction == "in" else "messages_out"
        totals["in" if direction == "in" else ("bot" if author == "bot" else "agent")] += count
        day = by_day[local.date()]
        day[key] += count
        if direction == "in" and sentiment_count:
            total, n = day["_sentiment"]
            day["_sentiment"] = (total + float(sentiment_sum), n + sentiment_count)
        by_hour[(local.weekday(), local.hour)][key] += count
    new_conversations = 0
    for slot, count in opened:
        local = datetime.fromtimestamp(int(slot) * BUCKET_S, UTC).astimezone(tz)
        by_day[local.date()]["conversations"] += count
        by_hour[(local.weekday(), local.hour)]["conversations"] += count
        new_conversations += count
    return {
        "conversations": int(active),
        "new_conversations": new_conversations,
        "messages_in": totals["in"],
        "messages_out": totals["agent"] + totals["bot"],
        "messages_out_agent": totals["agent"],
        "messages_out_bot": totals["bot"],
        "by_day": by_day,
        "by_hour_of_week": dict(by_hour),
    }


def _days(query: KpiQuery) -> list[date]:
    tz = query.calendar.tz
    first = query.start.astimezone(tz).date()
    last = (query.end - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# customers -------------------------------------------------------------------------------


def _retention(session: Session, query: KpiQuery) -> dict[str, Any]:
    length = query.end - query.start

    def active(start: datetime, end: datetime) -> Any:
        return select(Message.customer_id).where(
            Message.direction == "in",
            col(Message.sent_at) >= start,
            col(Message.sent_at) < end,
            *message_filters(query),
        )

    previous = active(query.start - length, query.start).subquery()
    current = active(query.start, query.end).subquery()
    at_start = session.exec(select(func.count(distinct(previous.c.customer_id)))).one()
    created_in_period = and_(
        col(Customer.created_at) >= query.start, col(Customer.created_at) < query.end
    )
    at_end, new = session.exec(  # one pass over the period's messages for both counts
        select(
            func.count(distinct(current.c.customer_id)),
            func.count(distinct(sql_case((created_in_period, current.c.customer_id)))),
        ).outerjoin(Customer, col(Customer.id) == current.c.customer_id)
    ).one()
    return {
        "customers_at_start": int(at_start),
        "customers_at_end": int(at_end),
        "new_customers": int(new),
        "rate": percent(int(at_end) - int(new), int(at_start)),
    }


# surveys ---------------------------------------------------------------------------------


def _surveys(session: Session, query: KpiQuery) -> dict[str, Any]:
    rows = session.exec(
        select(Survey.kind, Survey.score, Survey.answered_at).where(*survey_filters(query))
    ).all()
    csat_by_day: dict[date, tuple[float, int]] = {}
    tz = query.calendar.tz
    for kind, score, answered_at in rows:
        if kind == "csat" and score is not None and answered_at is not None:
            day = answered_at.astimezone(tz).date()
            total, count = csat_by_day.get(day, (0.0, 0))
            csat_by_day[day] = (total + score, count + 1)
    figures = survey_figures((kind, score) for kind, score, _ in rows)
    return {"figures": figures, "csat_by_day": csat_by_day}
