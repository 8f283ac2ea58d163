"""The time figures of a report (waits, cases, backlog), whole or split by assignee.

What they are made of is gathered alike from the stored timelines (``timeline_tables``),
for the conversations whose timeline is current, and from a fresh walk of the others'
history; ``connection`` reads one snapshot, so each conversation is counted from exactly
one of the two.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard

from sqlalchemy import ColumnElement, Result, func, or_
from sqlalchemy.engine import Connection
from sqlmodel import col, select

from sportello.inbox.batches import chunked
from sportello.inbox.metrics.filters import conversation_filters
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
from sportello.inbox.models import Conversation

REPLY_TIME_BUCKETS: tuple[tuple[str, float, float | None], ...] = (
    ("< 1m", 0, 60),
    ("1-5m", 60, 300),
    ("5-15m", 300, 900),
    ("15-60m", 900, 3600),
    ("1-4h", 3600, 14400),
    ("4-24h", 14400, 86400),
    ("> 24h", 86400, None),
)
_WALK_CHUNK = 1000  # conversations walked afresh per pair of queries

# A report split by agent groups conversations by their assignee (None: unassigned); a
# whole report has the one group None.
Group = str | None


def relevance(query: KpiQuery) -> list[ColumnElement[bool]]:
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
        *conversation_filters(query),
    ]


@dataclass
class _Spans:
    """One group's ``(conversation, start, end, ...)`` tuples."""

    replies: list[tuple[int, float, float]] = field(default_factory=list)
    first_responses: list[tuple[int, float, float]] = field(default_factory=list)
    # (conversation, start, end, first human reply, human replies, reopened at)
    resolved: list[tuple[int, float, float, float | None, int, float | None]] = field(
        default_factory=list
    )
    backlog: list[tuple[int, float]] = field(default_factory=list)  # (conversation, opened)
    waiting: int = 0


@dataclass
class _Gathered:
    by_agent: bool
    groups: defaultdict[Group, _Spans] = field(default_factory=lambda: defaultdict(_Spans))
    paused: set[int] = field(default_factory=set)  # paused at ``as_of``
    pauses: dict[int, list[Pause]] = field(default_factory=dict)

    @property
    def keys(self) -> list[Any]:
        """The column a query selects first to say each row's group, if split."""
        return [Conversation.assignee] if self.by_agent else []

    def add(self, spans: str, result: Result[Any]) -> None:
        """Each row to its group's list ``spans``, without its group column if split."""
        rows = result.all()
        if not self.by_agent:
            getattr(self.groups[None], spans).extend(rows)
            return
        for row in rows:
            getattr(self.groups[row[0]], spans).append(tuple(row[1:]))


def _walked_spans(
    gathered: _Gathered,
    timelines: Iterable[Timeline],
    query: KpiQuery,
    group_of: dict[int, Group],
) -> None:
    start, end, as_of = query.start.timestamp(), query.end.timestamp(), query.as_of.timestamp()

    def within(at: float | None) -> TypeGuard[float]:
        return at is not None and start <= at < end

    for timeline in timelines:
        cid = timeline.conversation_id
        spans = gathered.groups[group_of[cid]]
        if timeline.pauses:
            gathered.pauses[cid] = timeline.pauses
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
            if within(case.end):
                spans.resolved.append(
                    (cid, case.start, case.end, case.first_reply_at, case.human_replies,
                     case.reopened_at)
                )  # fmt: skip
            elif case.end is None or case.end >= end:
                spans.backlog.append((cid, case.start))
                if _paused_at(timeline.pauses, as_of):
                    gathered.paused.add(cid)


def _paused_at(pauses: Iterable[Pause], at: float) -> bool:
    return any(a <= at and (b is None or at < b) for a, b in pauses)


def _stored_spans(gathered: _Gathered, connection: Connection, query: KpiQuery) -> None:
    """The spans of every conversation whose stored timeline is current, read by index."""
    start, end, as_of = query.start.timestamp(), query.end.timestamp(), query.as_of.timestamp()
    filters = conversation_filters(query)
    keys = gathered.keys

    stale = select(ConversationTimeline.conversation_id).where(STALE)

    def current(table: Any, *columns: Any, grouped: bool = True) -> Any:
        statement = (
            select(*(keys if grouped else []), *columns)
            .select_from(table)
            .where(col(table.conversation_id).not_in(stale))  # a few rows: one small set
        )
        if filters or (grouped and keys):
            statement = statement.join(
                Conversation, col(Conversation.id) == table.conversation_id
            ).where(*filters)
        return statement

    wait, case = TimelineWait, TimelineCase
    replies = current(wait, wait.conversation_id, wait.start_at, wait.end_at).where(
        col(wait.end_at) >= start, col(wait.end_at) < end
    )
    gathered.add("replies", connection.execute(replies))
    waiting = (
        current(wait, func.count())
        .where(
            or_(col(wait.settled_at).is_(None), col(wait.settled_at) >= end),
            col(wait.start_at) < end,
        )
        .group_by(*keys)
    )
    for row in connection.execute(waiting):
        gathered.groups[row[0] if gathered.by_agent else None].waiting += row[-1]
    first = current(case, case.conversation_id, case.first_wait_at, case.first_answer_at).where(
        col(case.first_answer_at) >= start, col(case.first_answer_at) < end
    )
    gathered.add("first_responses", connection.execute(first))
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
    gathered.add("resolved", connection.execute(resolved))
    for still_open in (col(case.end_at).is_(None), col(case.end_at) >= end):
        backlog = current(case, case.conversation_id, case.start_at).where(
            still_open, col(case.start_at) < end
        )
        gathered.add("backlog", connection.execute(backlog))
    pause = TimelinePause
    gathered.paused.update(
        connection.execute(
            current(pause, pause.conversation_id, grouped=False).where(
                col(pause.start_at) <= as_of,
                or_(col(pause.end_at).is_(None), col(pause.end_at) > as_of),
            )
        ).scalars()
    )
    if query.business_time:
        for cid, paused_from, paused_to in connection.execute(
            current(
                pause, pause.conversation_id, pause.start_at, pause.end_at, grouped=False
            ).order_by(pause.conversation_id, pause.ordinal)
        ):
            gathered.pauses.setdefault(cid, []).append((paused_from, paused_to))


def _gather(
    connection: Connection, query: KpiQuery, horizon: datetime, by_agent: bool
) -> _Gathered:
    """Stored timelines where current; the conversations whose history changed since their
    timeline was stored (or that never had one) walked afresh."""
    gathered = _Gathered(by_agent)
    _stored_spans(gathered, connection, query)
    # the stale ones first (a partial index), then which of them matter: a planner asked
    # both at once starts from the period's conversations
    stale = list(
        connection.execute(select(ConversationTimeline.conversation_id).where(STALE)).scalars()
    )
    for chunk in chunked(stale, _WALK_CHUNK):
        relevant = select(Conversation.id, *gathered.keys).where(
            col(Conversation.id).in_(chunk), *relevance(query)
        )
        group_of = {row[0]: row[1] if by_agent else None for row in connection.execute(relevant)}
        if group_of:
            timelines = walk_histories(connection, list(group_of), horizon)
            _walked_spans(gathered, timelines, query, group_of)
    return gathered


def _stopwatch(connection: Connection, query: KpiQuery, horizon: datetime) -> Stopwatch:
    if not query.business_time:
        return Stopwatch()
    earliest = connection.execute(
        select(func.min(Conversation.opened_at)).where(*relevance(query))
    ).scalar_one()
    start = min(earliest, query.start) if earliest is not None else query.start
    return Stopwatch(OpenTime(query.calendar, start, max(horizon, query.now)))


def time_figures(
    connection: Connection, query: KpiQuery, *, by_agent: bool = False
) -> dict[Group, dict[str, Any]]:
    """The time figures of ``docs/kpis.md``: for the group None, or per assignee; only for
    the groups that have something in the period (see :func:`no_time_figures`)."""
    horizon = query.end + query.fcr_window
    watch = _stopwatch(connection, query, horizon)
    gathered = _gather(connection, query, horizon, by_agent)
    return {
        group: _figures(spans, gathered, watch, query) for group, spans in gathered.groups.items()
    }


def no_time_figures(query: KpiQuery) -> dict[str, Any]:
    """The time figures of a group with nothing in the period."""
    return _figures(_Spans(), _Gathered(by_agent=False), Stopwatch(), query)


def _figures(
    spans: _Spans, gathered: _Gathered, watch: Stopwatch, query: KpiQuery
) -> dict[str, Any]:
    start, as_of = query.start.timestamp(), query.as_of.timestamp()
    fcr_window = query.fcr_window.total_seconds()
    pauses = gathered.pauses

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
        backlog_status["paused" if cid in gathered.paused else "open"] += 1
    # Every case the period can judge ends in it (resolved) or after it (backlog).
    opened_at = [row[1] for row in spans.resolved] + [opened for _, opened in spans.backlog]
    started = sum(1 for at in opened_at if at >= start)
    open_at_start = len(opened_at) - started
    resolved = len(spans.resolved)
    ages = summarize(backlog_age)
    return {
        "backlog": len(backlog_age),
        "backlog_age": {**ages.as_json(), "max_s": max(backlog_age, default=None)},
        "backlog_by_status": dict(sorted(backlog_status.items())),
        "waiting_for_reply": spans.waiting,
        "first_response_time": summarize(first_response).as_json(),
        "reply_time": summarize(reply).as_json(),
        "handling_time": summarize(handling).as_json(),
        "resolution_time": summarize(resolution).as_json(),
        "reply_time_distribution": _distribution(reply),
        "cases": {
            "open_at_start": open_at_start,
            "started": started,
            "resolved": resolved,
            "backlog": len(backlog_age),
        },
        "resolution_rate": percent(resolved, open_at_start + started),
        "first_contact_resolution_rate": percent(fcr, fcr_base),
    }


def _distribution(reply: Sequence[float]) -> list[dict[str, Any]]:
    return [
        {
            "label": label,
            "min_s": low,
            "max_s": high,
            "count": sum(1 for v in reply if v >= low and (high is None or v < high)),
        }
        for label, low, high in REPLY_TIME_BUCKETS
    ]
