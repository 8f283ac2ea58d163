"""The customer-care KPIs of a period, computed at query time; see ``docs/kpis.md``.

A handful of queries, none per conversation: SQL aggregates for volumes, retention and
surveys; two ordered streams (messages, status events) of the conversations the period
touches, walked once per conversation in Python for every time figure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Float, and_, cast, distinct, func, or_
from sqlalchemy import case as sql_case
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sportello.inbox.metrics.query import KpiQuery
from sportello.inbox.metrics.stats import percent, summarize
from sportello.inbox.metrics.timeline import Item, Timeline, event_item, message_item, walk
from sportello.inbox.metrics.timing import OpenTime, Stopwatch
from sportello.inbox.models import (
    Conversation,
    ConversationEvent,
    ConversationTag,
    Customer,
    Message,
)
from sportello.inbox.survey_tables import Survey, SurveyResponse

BUCKET_S = 900  # every time zone's offset is a multiple of 15 minutes
STATUS_EVENTS = ("opened", "reopened", "open", "pending", "snoozed", "resolved")
REPLY_TIME_BUCKETS: tuple[tuple[str, float, float | None], ...] = (
    ("< 1m", 0, 60),
    ("1-5m", 60, 300),
    ("5-15m", 300, 900),
    ("15-60m", 900, 3600),
    ("1-4h", 3600, 14400),
    ("4-24h", 14400, 86400),
    ("> 24h", 86400, None),
)
PEAK_HOURS = 3
_STREAM_BATCH = 5000


def compute_kpis(session: Session, query: KpiQuery) -> dict[str, Any]:
    """Every figure of ``docs/kpis.md`` for ``query``, as the JSON of the reports API.

    The time figures walk history in Python while the database aggregates the rest: on an
    engine whose connections share one database, the aggregates run on a second
    connection at the same time, so the report reads what is committed.
    """
    tz = query.calendar.tz
    engine = session.get_bind()
    if isinstance(engine, Engine) and _shared_database(engine):
        with ThreadPoolExecutor(max_workers=1) as pool:
            aside = pool.submit(_aggregates_in_own_session, engine, query)
            timing = _timing(session, query)
            volumes, retention, surveys = aside.result()
    else:
        timing = _timing(session, query)
        volumes, retention, surveys = _aggregates(session, query)
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
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "timezone": str(tz),
        "business_time": query.business_time,
        "filters": {"channel": query.channel, "agent": query.agent, "tag": query.tag},
        "conversations": volumes["conversations"],
        "new_conversations": volumes["new_conversations"],
        "messages_in": volumes["messages_in"],
        "messages_out": volumes["messages_out"],
        "messages_out_agent": volumes["messages_out_agent"],
        "messages_out_bot": volumes["messages_out_bot"],
        **timing,
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


def _aggregates_in_own_session(
    engine: Engine, query: KpiQuery
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    with Session(engine) as session:
        return _aggregates(session, query)


def _shared_database(engine: Engine) -> bool:
    """Whether a second connection sees the same data (not so for in-memory SQLite)."""
    return engine.url.get_backend_name() != "sqlite" or engine.url.database not in (
        None,
        "",
        ":memory:",
    )


# filters ---------------------------------------------------------------------------------


def _conversation_filters(query: KpiQuery, *, channel: bool = True) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if channel and query.channel is not None:
        filters.append(col(Conversation.channel) == query.channel)
    if query.agent is not None:
        filters.append(col(Conversation.assignee) == query.agent)
    if query.tag is not None:
        tagged = select(ConversationTag.conversation_id).where(ConversationTag.tag == query.tag)
        filters.append(col(Conversation.id).in_(tagged))
    return filters


def _message_filters(query: KpiQuery) -> list[ColumnElement[bool]]:
    """Filters on ``messages``; the agent and tag ones through its conversation."""
    filters: list[ColumnElement[bool]] = []
    if query.channel is not None:
        filters.append(col(Message.channel) == query.channel)
    if query.agent is not None or query.tag is not None:
        conversations = select(Conversation.id).where(*_conversation_filters(query, channel=False))
        filters.append(col(Message.conversation_id).in_(conversations))
    return filters


# volumes ---------------------------------------------------------------------------------


def _epoch(session: Session, column: Any) -> Any:
    """A timestamp column as POSIX seconds (float), in SQL."""
    if session.get_bind().dialect.name == "sqlite":
        # whole seconds, plus the stored microseconds ("YYYY-MM-DD HH:MM:SS.ffffff")
        seconds = cast(func.strftime("%s", column), Float)
        return seconds + func.coalesce(cast(func.substr(column, 20), Float), 0.0)
    return cast(func.extract("epoch", column), Float)


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
    in_period = [
        col(Message.sent_at) >= query.start,
        col(Message.sent_at) < query.end,
        *_message_filters(query),
    ]
    bucket = _bucket(session, Message.sent_at).label("bucket")
    rows = session.exec(
        select(
            bucket,
            Message.direction,
            Message.author,
            func.count(),
            func.sum(Message.sentiment_compound),
            func.count(Message.sentiment_compound),
        )
        .where(*in_period)
        .group_by(bucket, Message.direction, Message.author)
    ).all()
    opened_bucket = _bucket(session, Conversation.opened_at).label("bucket")
    opened = session.exec(
        select(opened_bucket, func.count())
        .where(
            col(Conversation.opened_at) >= query.start,
            col(Conversation.opened_at) < query.end,
            *_conversation_filters(query),
        )
        .group_by(opened_bucket)
    ).all()
    active = session.exec(
        select(func.count(distinct(Message.conversation_id))).where(*in_period)
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


# times -----------------------------------------------------------------------------------


def _relevant_conversations(query: KpiQuery) -> Any:
    """Conversations the period can say anything about: opened before its end, and active
    in it or not resolved before it."""
    return select(Conversation.id).where(
        col(Conversation.opened_at) < query.end,
        or_(
            col(Conversation.last_message_at) >= query.start,
            col(Conversation.resolved_at).is_(None),
            col(Conversation.resolved_at) >= query.start,
            col(Conversation.status) != "resolved",
        ),
        *_conversation_filters(query),
    )


def _timelines(session: Session, query: KpiQuery, horizon: datetime) -> Iterator[Timeline]:
    """Every relevant conversation walked: its status events read into memory first (a
    few per conversation), then its messages streamed in conversation order."""
    relevant = _relevant_conversations(query)
    connection = session.connection()
    events: dict[int, list[Item]] = defaultdict(list)
    for conversation_id, at, kind in connection.execute(
        select(
            ConversationEvent.conversation_id,
            _epoch(session, ConversationEvent.at),
            ConversationEvent.kind,
        )
        .where(
            col(ConversationEvent.conversation_id).in_(relevant),
            col(ConversationEvent.at) < horizon,
            col(ConversationEvent.kind).in_(STATUS_EVENTS),
        )
        .order_by(
            col(ConversationEvent.conversation_id),
            col(ConversationEvent.at),
            col(ConversationEvent.id),
        )
    ):
        events[conversation_id].append(event_item(at, kind))
    messages = connection.execute(
        select(Message.conversation_id, _epoch(session, Message.sent_at), Message.direction)
        .outerjoin(SurveyResponse, col(SurveyResponse.message_id) == col(Message.id))
        .where(
            col(Message.conversation_id).in_(relevant),
            col(Message.sent_at) < horizon,
            col(Message.author) != "bot",
            col(SurveyResponse.message_id).is_(None),
            or_(col(Message.delivery_status).is_(None), col(Message.delivery_status) != "failed"),
        )
        .order_by(col(Message.conversation_id), col(Message.sent_at), col(Message.id))
        .execution_options(yield_per=_STREAM_BATCH)
    )
    for conversation_id, rows in groupby(messages, key=itemgetter(0)):
        items = [message_item(at, direction == "in") for _, at, direction in rows]
        yield walk(conversation_id, items, events.pop(conversation_id, ()))
    for conversation_id, only_events in events.items():
        yield walk(conversation_id, [], only_events)


def _stopwatch(session: Session, query: KpiQuery, horizon: datetime) -> Stopwatch:
    if not query.business_time:
        return Stopwatch()
    earliest = session.exec(
        select(func.min(Conversation.opened_at)).where(
            col(Conversation.id).in_(_relevant_conversations(query))
        )
    ).one()
    start = min(earliest, query.start) if earliest is not None else query.start
    return Stopwatch(OpenTime(query.calendar, start, max(horizon, query.now)))


def _timing(session: Session, query: KpiQuery) -> dict[str, Any]:
    horizon = query.end + query.fcr_window
    watch = _stopwatch(session, query, horizon)
    start, end, as_of = query.start.timestamp(), query.end.timestamp(), query.as_of.timestamp()
    fcr_window = query.fcr_window.total_seconds()

    def within(at: float | None) -> bool:
        return at is not None and start <= at < end

    first_response: list[float] = []
    reply: list[float] = []
    handling: list[float] = []
    resolution: list[float] = []
    backlog_age: list[float] = []
    backlog_status: dict[str, int] = defaultdict(int)
    open_at_start = started = resolved = fcr_base = fcr = waiting = 0
    for timeline in _timelines(session, query, horizon):
        pauses = timeline.pauses
        for wait in timeline.waits:
            if within(wait.end):
                assert wait.end is not None
                reply.append(watch.seconds(wait.start, wait.end, pauses))
            elif (
                wait.start < end
                and (wait.end is None or wait.end >= end)
                and (wait.cut is None or wait.cut >= end)
            ):
                waiting += 1
        for case in timeline.cases:
            first = case.first_wait
            if first is not None and within(first.end):
                assert first.end is not None
                first_response.append(watch.seconds(first.start, first.end, pauses))
            if case.start >= end:
                continue
            if case.start >= start:
                started += 1
            elif case.end is None or case.end >= start:
                open_at_start += 1
            if within(case.end):
                assert case.end is not None
                resolved += 1
                resolution.append(watch.seconds(case.start, case.end, pauses))
                if case.first_reply_at is not None and case.first_reply_at <= case.end:
                    handling.append(watch.seconds(case.first_reply_at, case.end, pauses))
                if case.human_replies > 0:
                    fcr_base += 1
                    reopened = (
                        case.reopened_at is not None and case.reopened_at - case.end <= fcr_window
                    )
                    fcr += case.human_replies == 1 and not reopened
            elif case.end is None or case.end >= end:
                backlog_age.append(watch.seconds(case.start, as_of, pauses))
                backlog_status[_status_at(timeline, as_of)] += 1
    ages = summarize(backlog_age)
    return {
        "backlog": len(backlog_age),
        "backlog_age": {**ages.as_json(), "max_s": max(backlog_age, default=None)},
        "backlog_by_status": dict(sorted(backlog_status.items())),
        "waiting_for_reply": waiting,
        "first_response_time": summarize(first_response).as_json(),
        "reply_time": summarize(reply).as_json(),
        "handling_time": summarize(handling).as_json(),
        "resolution_time": summarize(resolution).as_json(),
        "reply_time_distribution": [
            {
                "label": label,
                "min_s": low,
                "max_s": high,
                "count": sum(1 for v in reply if v >= low and (high is None or v < high)),
            }
            for label, low, high in REPLY_TIME_BUCKETS
        ],
        "cases": {
            "open_at_start": open_at_start,
            "started": started,
            "resolved": resolved,
            "backlog": len(backlog_age),
        },
        "resolution_rate": percent(resolved, open_at_start + started),
        "first_contact_resolution_rate": percent(fcr, fcr_base),
    }


def _status_at(timeline: Timeline, at: float) -> str:
    for pause_start, pause_end in timeline.pauses:
        if pause_start <= at and (pause_end is None or at < pause_end):
            return "paused"
    return "open"


# customers -------------------------------------------------------------------------------


def _retention(session: Session, query: KpiQuery) -> dict[str, Any]:
    length = query.end - query.start

    def active(start: datetime, end: datetime) -> Any:
        return select(Message.customer_id).where(
            Message.direction == "in",
            col(Message.sent_at) >= start,
            col(Message.sent_at) < end,
            *_message_filters(query),
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
    filters: list[ColumnElement[bool]] = [
        col(Survey.asked_at) >= query.start,
        col(Survey.asked_at) < query.end,
    ]
    if query.channel is not None:
        filters.append(col(Survey.channel) == query.channel)
    if query.agent is not None:
        filters.append(col(Survey.assignee) == query.agent)
    if query.tag is not None:
        tagged = select(ConversationTag.conversation_id).where(ConversationTag.tag == query.tag)
        filters.append(col(Survey.conversation_id).in_(tagged))
    rows = session.exec(select(Survey.kind, Survey.score, Survey.answered_at).where(*filters)).all()
    asked: dict[str, int] = defaultdict(int)
    scores: dict[str, list[int]] = defaultdict(list)
    csat_by_day: dict[date, tuple[float, int]] = {}
    tz = query.calendar.tz
    for kind, score, answered_at in rows:
        asked[kind] += 1
        if score is None:
            continue
        scores[kind].append(score)
        if kind == "csat" and answered_at is not None:
            day = answered_at.astimezone(tz).date()
            total, count = csat_by_day.get(day, (0.0, 0))
            csat_by_day[day] = (total + score, count + 1)

    def base(kind: str) -> dict[str, Any]:
        n = len(scores[kind])
        return {"responses": n, "asked": asked[kind], "response_rate": percent(n, asked[kind])}

    csat, nps, ces = scores["csat"], scores["nps"], scores["ces"]
    promoters = sum(1 for s in nps if s >= 9)
    detractors = sum(1 for s in nps if s <= 6)
    figures = {
        "csat": {
            "avg": sum(csat) / len(csat) if csat else None,
            "satisfied_pct": percent(sum(1 for s in csat if s >= 4), len(csat)),
            **base("csat"),
        },
        "nps": {
            "score": percent(promoters - detractors, len(nps)),
            "promoters": promoters,
            "passives": len(nps) - promoters - detractors,
            "detractors": detractors,
            **base("nps"),
        },
        "ces": {"avg": sum(ces) / len(ces) if ces else None, **base("ces")},
    }
    return {"figures": figures, "csat_by_day": csat_by_day}
