"""The time figures of a report (waits, cases, backlog), whole or split by a column of the
conversations (assignee, channel).

What they are made of is gathered alike from the stored timelines (``timeline_tables``),
for the conversations whose timeline is current, and from a fresh walk of the others'
history; ``connection`` reads one snapshot, so each conversation is counted from exactly
one of the two.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard

from sqlalchemy import ARRAY, ColumnElement, Integer, any_, bindparam, func, or_
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

# A report split by a column of the conversations (their assignee, None for the unassigned;
# their channel) has a group per value; a whole report has the one group None.
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
    """``(conversation, start, end, ...)`` tuples: of the whole report, or of one group."""

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
    split_by: bool
    spans: _Spans = field(default_factory=_Spans)
    # Waits unanswered at the end, per conversation when split; a whole report counts the
    # stored ones in SQL, under None.
    waiting: Counter[int | None] = field(default_factory=Counter)
    paused: set[int] = field(default_factory=set)  # paused at ``as_of``
    pauses: dict[int, list[Pause]] = field(default_factory=dict)

    def conversations(self) -> set[int]:
        spans = self.spans
        found = {row[0] for rows in (spans.replies, spans.first_responses) for row in rows}
        found.update(row[0] for row in spans.resolved)
        found.update(cid for cid, _ in spans.backlog)
        found.update(cid for cid in self.waiting if cid is not None)
        return found

    def split(self, group_of: dict[int, Group]) -> dict[Group, _Spans]:
        """The spans of each conversation's group."""
        groups: defaultdict[Group, _Spans] = defaultdict(_Spans)
        spans = self.spans
        for reply in spans.replies:
            groups[group_of[reply[0]]].replies.append(reply)
        for first in spans.first_responses:
            groups[group_of[first[0]]].first_responses.append(first)
        for resolved in spans.resolved:
            groups[group_of[resolved[0]]].resolved.append(resolved)
        for backlog in spans.backlog:
            groups[group_of[backlog[0]]].backlog.append(backlog)
        for waiting_in, count in self.waiting.items():
            assert waiting_in is not None, "a split report counts per conversation"
            groups[group_of[waiting_in]].waiting += count
        return dict(groups)


def _walked_spans(gathered: _Gathered, timelines: Iterable[Timeline], query: KpiQuery) -> None:
    start, end, as_of = query.start.timestamp(), query.end.timestamp(), query.as_of.timestamp()
    spans = gathered.spans

    def within(at: float | None) -> TypeGuard[float]:
        return at is not None and start <= at < end

    for timeline in timelines:
        cid = timeline.conversation_id
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
                gathered.waiting[cid] += 1
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
    spans = gathered.spans

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
    unanswered = [
        or_(col(wait.settled_at).is_(None), col(wait.settled_at) >= end),
        col(wait.start_at) < end,
    ]
    if gathered.split_by:
        per_conversation = (
            current(wait, wait.conversation_id, func.count())
            .where(*unanswered)
            .group_by(wait.conversation_id)
        )
        gathered.waiting.update(dict(connection.execute(per_conversation).all()))
    else:
        gathered.waiting[None] += connection.execute(
            current(wait, func.count()).where(*unanswered)
        ).scalar_one()
    spans.first_responses += connection.execute(
        current(case, case.conversation_id, case.first_wait_at, case.first_answer_at).where(
            col(case.first_answer_at) >= start, col(case.first_answer_at) < end
        )
    ).all()
    # Cases resolved in the period, then cases still open at its end: each an index range
    # (an OR of the two would make SQLite visit the table for every row).
    spans.resolved += connection.execute(
        current(
            case,
            case.conversation_id,
            case.start_at,
            case.end_at,
            case.first_reply_at,
            case.human_replies,
            case.reopened_at,
        ).where(col(case.end_at) >= start, col(case.end_at) < end)
    ).all()
    for still_open in (col(case.end_at).is_(None), col(case.end_at) >= end):
        spans.backlog += connection.execute(
            current(case, case.conversation_id, case.start_at).where(
                still_open, col(case.start_at) < end
            )
        ).all()
    pause = TimelinePause
    gathered.paused.update(
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
            gathered.pauses.setdefault(cid, []).append((paused_from, paused_to))


def _gather(connection: Connection, query: KpiQuery, horizon: datetime, split: bool) -> _Gathered:
    """Stored timelines where current; the conversations whose history changed since their
    timeline was stored (or that never had one) walked afresh."""
    gathered = _Gathered(split)
    _stored_spans(gathered, connection, query)
    # the stale ones first (a partial index), then which of them matter: a planner asked
    # both at once starts from the period's conversations
    stale = list(
        connection.execute(select(ConversationTimeline.conversation_id).where(STALE)).scalars()
    )
    for chunk in chunked(stale, _WALK_CHUNK):
        relevant = select(Conversation.id).where(col(Conversation.id).in_(chunk), *relevance(query))
        ids = list(connection.execute(relevant).scalars())
        if ids:
            _walked_spans(gathered, walk_histories(connection, ids, horizon), query)
    return gathered


def _groups(connection: Connection, cids: set[int], by: Any) -> dict[int, Group]:
    """The column ``by`` of each of ``cids``, in one query whatever their number: the ids as
    one parameter (an array; JSON on SQLite). A join to the conversations in each query of
    the spans cost PostgreSQL three times the whole report, at 1M messages."""
    ids = sorted(cids)
    pairs = select(Conversation.id, by)
    value: list[int] | str
    if connection.dialect.name == "postgresql":
        value = ids
        pairs = pairs.where(col(Conversation.id) == any_(bindparam("ids", type_=ARRAY(Integer))))
    else:
        value = json.dumps(ids)
        wanted = func.json_each(bindparam("ids")).table_valued("value")
        pairs = pairs.where(col(Conversation.id).in_(select(wanted.c.value)))
    return {cid: agent for cid, agent in connection.execute(pairs, {"ids": value})}


def _stopwatch(connection: Connection, query: KpiQuery, horizon: datetime) -> Stopwatch:
    if not query.business_time:
        return Stopwatch()
    earliest = connection.execute(
        select(func.min(Conversation.opened_at)).where(*relevance(query))
    ).scalar_one()
    start = min(earliest, query.start) if earliest is not None else query.start
    return Stopwatch(OpenTime(query.calendar, start, max(horizon, query.now)))


def time_figures(
    connection: Connection, query: KpiQuery, *, by: Any = None
) -> dict[Group, dict[str, Any]]:
    """The time figures of ``docs/kpis.md``: for the group None, or per value of the
    conversations' column ``by`` (``Conversation.assignee``, ``Conversation.channel``);
    only for the groups that have something in the period (see :func:`no_time_figures`)."""
    horizon = query.end + query.fcr_window
    watch = _stopwatch(connection, query, horizon)
    gathered = _gather(connection, query, horizon, by is not None)
    if by is not None:
        groups = gathered.split(_groups(connection, gathered.conversations(), by))
    else:
        gathered.spans.waiting = gathered.waiting.total()
        groups = {None: gathered.spans}
    return {group: _figures(spans, gathered, watch, query) for group, spans in groups.items()}


def no_time_figures(query: KpiQuery) -> dict[str, Any]:
    """The time figures of a group with nothing in the period."""
    return _figures(_Spans(), _Gathered(split_by=False), Stopwatch(), query)


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
