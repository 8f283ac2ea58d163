"""The customer-care KPIs of a period, computed at query time; see ``docs/kpis.md``.

A handful of queries, none per conversation: SQL aggregates for volumes, retention and
surveys; for the time figures, the rows of the stored timelines (``timeline_tables``) the
period needs, and a fresh walk of the conversations whose timeline is not current.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeGuard

from sqlalchemy import BigInteger, ColumnElement, and_, cast, distinct, func, or_
from sqlalchemy import case as sql_case
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from sportello.inbox.batches import chunked
from sportello.inbox.db import read_snapshot
from sportello.inbox.metrics.history import walk_histories
from sportello.inbox.metrics.query import KpiQuery
from sportello.inbox.metrics.stats import percent, summarize
from sportello.inbox.metrics.timeline import Timeline
from sportello.inbox.metrics.timeline_tables import (
    STALE,
    ConversationTimeline,
    TimelineCase,
    TimelinePause,
    TimelineWait,
)
from sportello.inbox.metrics.timing import OpenTime, Pause, Stopwatch
from sportello.inbox.models import (
    Conversation,
    ConversationTag,
    Customer,
    Message,
)
from sportello.inbox.survey_tables import Survey

BUCKET_S = 900  # every time zone's offset is a multiple of 15 minutes
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
_WALK_CHUNK = 1000  # conversations walked afresh per pair of queries


def compute_kpis(session: Session, query: KpiQuery) -> dict[str, Any]:
    """Every figure of ``docs/kpis.md`` for ``query``, as the JSON of the reports API.

    The time figures are read in one snapshot while the database aggregates the rest: on
    an engine whose connections share one database, the aggregates run on a second
    connection at the same time, so the report reads what is committed.
    """
    tz = query.calendar.tz
    engine = session.get_bind()
    if isinstance(engine, Engine) and _shared_database(engine):
        with ThreadPoolExecutor(max_workers=1) as pool:
            aside = pool.submit(_aggregates_in_own_session, engine, query)
            with read_snapshot(engine) as connection:
                timing = _timing(connection, query)
            volumes, retention, surveys = aside.result()
    else:
        timing = _timing(session.connection(), query)
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
        select(opened_bucket, func.count())
        .where(
            col(Conversation.opened_at) >= query.start,
            col(Conversation.opened_at) < query.end,
            *_conversation_filters(query),
        )
        .group_by(opened_bucket)
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


# times -----------------------------------------------------------------------------------


def _relevance(query: KpiQuery) -> list[ColumnElement[bool]]:
    """What makes a conversation one the period can say anything about: opened before its
    end, and active in it or not resolved before it."""
    return [
        col(Conversation.opened_at) < query.end,
        or_(
            col(Conversation.last_message_at) >= query.start,
            col(Conversation.resolved_at).is_(None),
            col(Conversation.resolved_at) >= query.start,
            col(Conversation.status) != "resolved",
        ),
        *_conversation_filters(query),
    ]


@dataclass
class _Spans:
    """What the time figures are made of, gathered alike from stored timelines and from
    conversations walked afresh: ``(conversation, start, end, ...)`` tuples."""

    replies: list[tuple[int, float, float]] = field(default_factory=list)
    first_responses: list[tuple[int, float, float]] = field(default_factory=list)
    # (conversation, start, end, first human reply, human replies, reopened at)
    resolved: list[tuple[int, float, float, float | None, int, float | None]] = field(
        default_factory=list
    )
    backlog: list[tuple[int, float]] = field(default_factory=list)
    paused: set[int] = field(default_factory=set)  # paused at ``as_of``
    pauses: dict[int, list[Pause]] = field(default_factory=dict)
    waiting: int = 0
    open_at_start: int = 0
    started: int = 0


def _walked_spans(spans: _Spans, timelines: Iterable[Timeline], query: KpiQuery) -> None:
    start, end, as_of = query.start.timestamp(), query.end.timestamp(), query.as_of.timestamp()

    def within(at: float | None) -> TypeGuard[float]:
        return at is not None and start <= at < end

    for timeline in timelines:
        cid = timeline.conversation_id
        if timeline.pauses:
            spans.pauses[cid] = timeline.pauses
        for wait in timeline.waits:
            if within(wait.end):
                spans.replies.append((cid, wait.start, wait.end))
            elif (
                wait.start < end
                and (wait.end is None or wait.end >= end)
                and (wait.cut is None or wait.cut >= end)
            ):
                spans.waiting += 1
        for case in timeline.cases:
            first = case.first_wait
            if first is not None and within(first.end):
                spans.first_responses.append((cid, first.start, first.end))
            if case.start >= end:
                continue
            if case.start >= start:
                spans.started += 1
            elif case.end is None or case.end >= start:
                spans.open_at_start += 1
            if within(case.end):
                spans.resolved.append(
                    (cid, case.start, case.end, case.first_reply_at, case.human_replies,
                     case.reopened_at)
                )  # fmt: skip
            elif case.end is None or case.end >= end:
                spans.backlog.append((cid, case.start))
                if _paused_at(timeline.pauses, as_of):
                    spans.paused.add(cid)


def _paused_at(pauses: Iterable[Pause], at: float) -> bool:
    return any(a <= at and (b is None or at < b) for a, b in pauses)


def _stored_spans(spans: _Spans, connection: Connection, query: KpiQuery) -> None:
    """The spans of every conversation whose stored timeline is current, read by index."""
    start, end, as_of = query.start.timestamp(), query.end.timestamp(), query.as_of.timestamp()
    filters = _conversation_filters(query)

    stale = select(ConversationTimeline.conversation_id).where(STALE)

    def current(table: Any, *columns: Any) -> Any:
        statement = (
            select(*columns)
            .select_from(table)
            .where(col(table.conversation_id).not_in(stale))  # a few rows: one small set
        )
        if filters:
            statement = statement.join(
                Conversation, col(Conversation.id) == table.conversation_id
            ).where(*filters)
        return statement

    wait, case = TimelineWait, TimelineCase
    spans.replies += connection.execute(
        current(wait, wait.conversation_id, wait.start_at, wait.end_at).where(
            col(wait.end_at) >= start, col(wait.end_at) < end
        )
    ).all()
    spans.waiting += connection.execute(
        current(wait, func.count()).where(
            or_(col(wait.settled_at).is_(None), col(wait.settled_at) >= end),
            col(wait.start_at) < end,
        )
    ).scalar_one()
    spans.first_responses += connection.execute(
        current(case, case.conversation_id, case.first_wait_at, case.first_answer_at).where(
            col(case.first_answer_at) >= start, col(case.first_answer_at) < end
        )
    ).all()
    # Cases resolved in the period, then cases still open at its end: each an index range
    # (an OR of the two would make SQLite visit the table for every row).
    resolved = current(
        case,
        case.conversation_id,
        case.start_at,
        case.end_at,
        case.first_reply_at,
        case.human_replies,
        case.reopened_at,
    ).where(col(case.end_at) >= start, col(case.end_at) < end)
    resolved_rows = connection.execute(resolved).all()
    spans.resolved += resolved_rows
    opened_at = [row[1] for row in resolved_rows]
    for still_open in (col(case.end_at).is_(None), col(case.end_at) >= end):
        backlog = connection.execute(
            current(case, case.conversation_id, case.start_at).where(
                still_open, col(case.start_at) < end
            )
        ).all()
        spans.backlog += backlog
        opened_at += [row[1] for row in backlog]
    started = sum(1 for at in opened_at if at >= start)
    spans.started += started
    spans.open_at_start += len(opened_at) - started
    pause = TimelinePause
    spans.paused.update(
        connection.execute(
            current(pause, pause.conversation_id).where(
                col(pause.start_at) <= as_of,
                or_(col(pause.end_at).is_(None), col(pause.end_at) > as_of),
            )
        ).scalars()
    )
    if query.business_time:
        for cid, paused_from, paused_to in connection.execute(
            current(pause, pause.conversation_id, pause.start_at, pause.end_at).order_by(
                pause.conversation_id, pause.ordinal
            )
        ):
            spans.pauses.setdefault(cid, []).append((paused_from, paused_to))


def _spans(connection: Connection, query: KpiQuery, horizon: datetime) -> _Spans:
    """Stored timelines where current; the conversations whose history changed since their
    timeline was stored (or that never had one) walked afresh. ``connection`` reads one
    snapshot, so each conversation is counted from exactly one of the two."""
    spans = _Spans()
    _stored_spans(spans, connection, query)
    # the stale ones first (a partial index), then which of them matter: a planner asked
    # both at once starts from the period's conversations
    stale = list(
        connection.execute(select(ConversationTimeline.conversation_id).where(STALE)).scalars()
    )
    for chunk in chunked(stale, _WALK_CHUNK):
        relevant = select(Conversation.id).where(
            col(Conversation.id).in_(chunk), *_relevance(query)
        )
        ids = list(connection.execute(relevant).scalars())
        if ids:
            _walked_spans(spans, walk_histories(connection, ids, horizon), query)
    return spans


def _stopwatch(connection: Connection, query: KpiQuery, horizon: datetime) -> Stopwatch:
    if not query.business_time:
        return Stopwatch()
    earliest = connection.execute(
        select(func.min(Conversation.opened_at)).where(*_relevance(query))
    ).scalar_one()
    start = min(earliest, query.start) if earliest is not None else query.start
    return Stopwatch(OpenTime(query.calendar, start, max(horizon, query.now)))


def _timing(connection: Connection, query: KpiQuery) -> dict[str, Any]:
    horizon = query.end + query.fcr_window
    watch = _stopwatch(connection, query, horizon)
    spans = _spans(connection, query, horizon)
    as_of, fcr_window = query.as_of.timestamp(), query.fcr_window.total_seconds()
    pauses = spans.pauses

    def seconds(cid: int, a: float, b: float) -> float:
        return watch.seconds(a, b, pauses.get(cid, ()))

    reply = [seconds(cid, a, b) for cid, a, b in spans.replies]
    first_response = [seconds(cid, a, b) for cid, a, b in spans.first_responses]
    resolution: list[float] = []
    handling: list[float] = []
    fcr_base = fcr = 0
    for cid, opened, closed, first_reply, human_replies, reopened_at in spans.resolved:
        resolution.append(seconds(cid, opened, closed))
        if first_reply is not None and first_reply <= closed:
            handling.append(seconds(cid, first_reply, closed))
        if human_replies > 0:
            fcr_base += 1
            reopened = reopened_at is not None and reopened_at - closed <= fcr_window
            fcr += human_replies == 1 and not reopened
    backlog_age = [seconds(cid, opened, as_of) for cid, opened in spans.backlog]
    backlog_status: dict[str, int] = defaultdict(int)
    for cid, _ in spans.backlog:
        backlog_status["paused" if cid in spans.paused else "open"] += 1
    ages = summarize(backlog_age)
    resolved, open_at_start, started = len(spans.resolved), spans.open_at_start, spans.started
    return {
        "backlog": len(backlog_age),
        "backlog_age": {**ages.as_json(), "max_s": max(backlog_age, default=None)},
        "backlog_by_status": dict(sorted(backlog_status.items())),
        "waiting_for_reply": spans.waiting,
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
