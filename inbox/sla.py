"""Service levels: deadlines for a first response and a resolution, warnings and breaches.

A policy (``[[sla]]``) applies to a conversation by channel and priority; the first match wins.
Deadlines count calendar time (holidays and nights included) unless the policy says
``business_time = true``. Only ``open`` and ``pending`` conversations run against the clock;
the first-response deadline runs from the conversation's opening until the first human
answer, the resolution deadline from the opening (or from the customer's return after a
resolution) until it is resolved.

Each conversation carries its next deadline in ``sla_due_at`` (the inbox puts the overdue
ones first) and in ``sla_check_at`` the next instant a check has to look at it. :func:`check`
fires a ``warning`` record ``warn_before`` the deadline and a ``breach`` record at it; the
unique key (conversation, kind, level, due_at) makes a repeated check harmless.
:func:`check_windows` flags conversations whose platform 24-hour window is about to close
while the customer still waits for us.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import bindparam, delete, func, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from sportello.config.settings import SlaSettings, WindowReminderSettings, parse_duration
from sportello.inbox import outbox, settings_store
from sportello.inbox.automation_tables import SlaBreach
from sportello.inbox.batches import chunked
from sportello.inbox.business_hours import BusinessCalendar
from sportello.inbox.ingest import Ingested
from sportello.inbox.models import CLOCK_CHANGED, CLOCK_FIELDS, Conversation, ConversationTag
from sportello.inbox.new_row import new_row
from sportello.inbox.replies import pick_template, recipient, render
from sportello.inbox.triage_key import triage_key
from sportello.inbox.upsert import insert_ignore_many

ACTIVE = ("open", "pending")
WINDOW = timedelta(hours=24)
WINDOW_TAG = "window-closing"
FIRST_RESPONSE, RESOLUTION, WINDOW_CLOSING = "first_response", "resolution", "window_closing"
WARNING, BREACH = "warning", "breach"
SWEEP_EVERY = timedelta(hours=1)  # see Sweeps


@dataclass(frozen=True)
class Deadline:
    kind: str
    due_at: datetime
    warn_at: datetime | None
    policy: str


class Clocked(Protocol):
    """What a conversation's deadlines depend on: a :class:`Conversation` is one."""

    @property
    def channel(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def team(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def waiting_since(self) -> datetime | None: ...


class _Row(NamedTuple):
    """The columns of a conversation that a check reads (a row, not an ORM object: loading
    every active conversation was most of a check once nothing had to fire): what its
    deadlines and its inbox order are computed from, and what is stored of them."""

    id: int
    channel: str
    priority: int
    team: str | None
    status: str
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    waiting_since: datetime | None
    latest_sentiment: float | None
    last_message_at: datetime | None
    sla_due_at: datetime | None
    sla_check_at: datetime | None


# What a row's stored deadline and inbox order were computed from: a check writes them only
# where these are still as it read them.
_INPUTS = tuple(sorted(CLOCK_FIELDS | {"latest_sentiment", "last_message_at"}))


def policy_for(policies: Sequence[SlaSettings], conversation: Clocked) -> SlaSettings | None:
    for policy in policies:
        if policy.channels and conversation.channel not in policy.channels:
            continue
        if policy.priorities and conversation.priority not in policy.priorities:
            continue
        if policy.teams and conversation.team not in policy.teams:
            continue
        return policy
    return None


def add_business_time(
    calendar: BusinessCalendar, start: datetime, seconds: float
) -> datetime | None:
    """The instant when ``seconds`` of open time have passed since ``start``."""
    at, remaining = start, seconds
    while True:
        opens = calendar.next_open(at)
        if opens is None:
            return None
        closes = calendar.next_close(opens)
        if closes is None:
            return opens + timedelta(seconds=remaining)
        span = (closes - opens).total_seconds()
        if span >= remaining:
            return opens + timedelta(seconds=remaining)
        remaining -= span
        at = closes


def _due(
    policy: SlaSettings, calendar: BusinessCalendar, start: datetime, target: str
) -> datetime | None:
    seconds = parse_duration(target)
    if policy.business_time:
        return add_business_time(calendar, start, seconds)
    return start + timedelta(seconds=seconds)


def deadlines(
    conversation: Clocked, policy: SlaSettings | None, calendar: BusinessCalendar
) -> list[Deadline]:
    """The deadlines now running for ``conversation`` under ``policy``."""
    if policy is None or conversation.status not in ACTIVE:
        return []
    running: list[tuple[str, datetime, str]] = []
    if policy.first_response and conversation.first_response_at is None:
        running.append((FIRST_RESPONSE, conversation.opened_at, policy.first_response))
    if policy.resolution:
        start = conversation.opened_at
        if conversation.resolved_at is not None:  # reopened: the clock restarts on the return
            start = conversation.waiting_since or conversation.resolved_at
        running.append((RESOLUTION, start, policy.resolution))
    found = []
    warn = timedelta(seconds=parse_duration(policy.warn_before)) if policy.warn_before else None
    for kind, start, target in running:
        due = _due(policy, calendar, start, target)
        if due is not None:
            found.append(Deadline(kind, due, due - warn if warn else None, policy.name))
    return found


def refresh(
    conversation: Conversation, policies: Sequence[SlaSettings], calendar: BusinessCalendar
) -> None:
    """Recompute ``conversation.sla_due_at`` (the earliest running deadline)."""
    due = _next(deadlines(conversation, policy_for(policies, conversation), calendar))
    if conversation.sla_due_at != due:  # an equal value would still make the row dirty
        conversation.sla_due_at = due


def _next(running: Sequence[Deadline]) -> datetime | None:
    return min((d.due_at for d in running), default=None)


@dataclass(frozen=True)
class CheckPlan:
    """What a check found to write: the conversations whose next deadline or next look is to
    be stored again (with the columns they were computed from) and the warnings and
    breaches that fell due."""

    moved: Sequence[dict[str, Any]]
    due: Sequence[dict[str, Any]]

    def parts(self, size: int) -> Iterator[CheckPlan]:
        """The plan by conversations, at most ``size`` in each part.

        The daemon writes each part in a transaction of its own: a catch-up over a backlog
        of 15,000 overdue conversations held SQLite's one writer, and the webhooks' answers,
        for 7 s in one transaction (docs/benchmarks.md, session 26).
        """
        due_by: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for record in self.due:
            due_by[record["conversation_id"]].append(record)
        moved = {row["row_id"]: row for row in self.moved}
        for ids in chunked(sorted(moved.keys() | due_by.keys()), size):
            yield CheckPlan(
                [moved[id_] for id_ in ids if id_ in moved],
                [record for id_ in ids for record in due_by.get(id_, ())],
            )


def check(
    session: Session,
    now: datetime,
    policies: Sequence[SlaSettings],
    calendar: BusinessCalendar,
    *,
    everything: bool = True,
) -> list[SlaBreach]:
    """Refresh the deadlines and record the warnings and breaches due by ``now``.

    Returns the records fired by this call (none for a repeated call at the same instant).
    """
    plan = plan_check(session, now, policies, calendar, everything=everything)
    return apply_check(session, plan)


def plan_check(
    session: Session,
    now: datetime,
    policies: Sequence[SlaSettings],
    calendar: BusinessCalendar,
    *,
    everything: bool = True,
) -> CheckPlan:
    """Read what :func:`check` has to write (it writes nothing).

    Each conversation keeps in ``sla_check_at`` the next instant when one of its warnings or
    deadlines falls due, and every change of what they depend on sets it to
    :data:`CLOCK_CHANGED` (``inbox/models.py``): a check reads only the conversations whose
    instant has come. Reading every active conversation at every check took 0.3-0.5 s a
    minute at 1M messages (docs/benchmarks.md, session 35). ``everything`` reads them all,
    as a check must when the policies or the business hours changed.
    """
    rows = _rows(session, now, everything=everything, policies=bool(policies))
    active = sorted(row.id for row in rows if row.status in ACTIVE)
    recorded = _recorded(session, (FIRST_RESPONSE, RESOLUTION), None if everything else active)
    moved: list[dict[str, Any]] = []
    due: list[dict[str, Any]] = []
    for row in rows:
        running = deadlines(row, policy_for(policies, row), calendar)
        stored = (_next(running), _next_look(running, now))
        if stored != (row.sla_due_at, row.sla_check_at):
            moved.append(_moved(row, *stored))
        for deadline in running:
            if now >= deadline.due_at:
                level = BREACH
            elif deadline.warn_at is not None and now >= deadline.warn_at:
                level = WARNING
            else:
                continue
            if (row.id, deadline.kind, level, deadline.due_at) not in recorded:
                due.append(
                    _record(row, deadline.kind, level, deadline.due_at, now, deadline.policy)
                )
    return CheckPlan(moved, due)


class Sweeps:
    """When the daemon's check reads every conversation on the clock (``everything``).

    Its first check (deadlines may have passed, and policies changed, while it was stopped),
    one whose policies or business hours changed since the last sweep (every deadline may
    move), and then one every :data:`SWEEP_EVERY`: a write that ever changed a deadline's
    inputs around the ORM's flush, which marks them, is caught within that time.
    """

    def __init__(self, every: timedelta = SWEEP_EVERY) -> None:
        self.every = every
        self._last: tuple[datetime, object] | None = None

    def due(
        self, now: datetime, policies: Sequence[SlaSettings], calendar: BusinessCalendar
    ) -> bool:
        if self._last is None:
            return True
        at, settings = self._last
        return settings != _settings(policies, calendar) or not at <= now < at + self.every

    def done(
        self, now: datetime, policies: Sequence[SlaSettings], calendar: BusinessCalendar
    ) -> None:
        self._last = (now, _settings(policies, calendar))


def _settings(policies: Sequence[SlaSettings], calendar: BusinessCalendar) -> object:
    return (list(policies), calendar.definition)


def _rows(session: Session, now: datetime, *, everything: bool, policies: bool) -> list[_Row]:
    """The conversations a check looks at: those whose ``sla_check_at`` has come, and with
    ``everything`` those with a stored deadline and (under ``policies``) the active ones."""
    columns = select(*(getattr(Conversation, name) for name in _Row._fields))
    queries = [columns.where(col(Conversation.sla_check_at) <= now)]
    if everything:
        queries.append(columns.where(col(Conversation.sla_due_at).is_not(None)))
        if policies:
            queries.append(columns.where(col(Conversation.status).in_(ACTIVE)))
    found: dict[int, _Row] = {}
    for query in queries:
        for row in session.exec(query):
            found.setdefault(row[0], _Row(*row))
    return list(found.values())


def _next_look(running: Sequence[Deadline], now: datetime) -> datetime | None:
    """The next instant after ``now`` when one of ``running`` warns or falls due."""
    instants = (at for d in running for at in (d.warn_at, d.due_at) if at is not None)
    return min((at for at in instants if at > now), default=None)


def _moved(row: _Row, due_at: datetime | None, check_at: datetime | None) -> dict[str, Any]:
    order = triage_key(
        waiting_since=row.waiting_since,
        priority=row.priority,
        sla_due_at=due_at,
        latest_sentiment=row.latest_sentiment,
        last_message_at=row.last_message_at,
    )
    read = {f"read_{name}": getattr(row, name) for name in _INPUTS}
    return {"row_id": row.id, "due": due_at, "look": check_at, "order": order, **read}


def apply_check(session: Session, plan: CheckPlan) -> list[SlaBreach]:
    """Write ``plan``: returns the records it fired.

    A conversation changed since the plan read it keeps what its change stored
    (:data:`CLOCK_CHANGED` when its deadlines may have moved, so that the next check looks),
    not what the plan computed from the row as it was.
    """
    connection = session.connection()
    for row in plan.moved:
        if not connection.execute(_STORE_IF_UNCHANGED, row).rowcount:
            connection.execute(_LOOK_AGAIN, {"row_id": row["row_id"]})
    moved = {row["row_id"] for row in plan.moved}
    for loaded in list(session.identity_map.values()):  # written around them: read again
        if isinstance(loaded, Conversation) and loaded.id in moved:
            session.expire(loaded, ["sla_due_at", "sla_check_at", "triage_key"])
    fired = _fire(session, plan.due)
    session.flush()
    return fired


_TABLE = Conversation.__table__  # type: ignore[attr-defined]
_STORE_IF_UNCHANGED = (
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("row_id"),
        *(_TABLE.c[name].is_not_distinct_from(bindparam(f"read_{name}")) for name in _INPUTS),
    )
    .values(
        sla_due_at=bindparam("due"), sla_check_at=bindparam("look"), triage_key=bindparam("order")
    )
)
_LOOK_AGAIN = (
    update(_TABLE).where(_TABLE.c.id == bindparam("row_id")).values(sla_check_at=CLOCK_CHANGED)
)


def _recorded(
    session: Session, kinds: Sequence[str], conversation_ids: Sequence[int] | None = None
) -> set[tuple[int, str, str, datetime]]:
    """The records of ``kinds`` already fired for active conversations (those of
    ``conversation_ids`` only, if given), as their :data:`_KEY`.

    A check fires only the others: asking the database again for each overdue deadline, at
    every check, cost a backlog of 15,000 overdue conversations 18,000 inserts and 6.5 s a
    minute (docs/benchmarks.md, session 25); warning again about each window still closing
    took SQLite's writer every minute for nothing (session 26).
    """
    fired_before = (
        select(SlaBreach.conversation_id, SlaBreach.kind, SlaBreach.level, SlaBreach.due_at)
        .join(Conversation, col(Conversation.id) == col(SlaBreach.conversation_id))
        .where(col(Conversation.status).in_(ACTIVE), col(SlaBreach.kind).in_(kinds))
    )
    if conversation_ids is None:
        return {tuple(row) for row in session.exec(fired_before)}  # type: ignore[misc]
    found: set[tuple[int, str, str, datetime]] = set()
    for chunk in chunked(conversation_ids):
        some = fired_before.where(col(SlaBreach.conversation_id).in_(chunk))
        found.update(tuple(row) for row in session.exec(some))  # type: ignore[misc]
    return found


def _record(
    conversation: Conversation | _Row,
    kind: str,
    level: str,
    due_at: datetime,
    now: datetime,
    policy: str | None,
) -> dict[str, Any]:
    assert conversation.id is not None
    return {
        "conversation_id": conversation.id,
        "channel": conversation.channel,
        "kind": kind,
        "level": level,
        "policy": policy,
        "due_at": due_at,
        "fired_at": now,
    }


def _fire(session: Session, records: Sequence[dict[str, Any]]) -> list[SlaBreach]:
    """Store ``records`` but those stored before (the unique key decides, so that two checks
    at once fire each once); returns the ones this call stored."""
    stored = insert_ignore_many(session, SlaBreach, records, _KEY)
    return [new_row(SlaBreach, **r) for r in records if _key(r) in stored]


_KEY = ("conversation_id", "kind", "level", "due_at")  # the unique key of a fired record


def _key(record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record[name] for name in _KEY)


def check_windows(
    session: Session, now: datetime, settings: WindowReminderSettings, default_language: str
) -> list[SlaBreach]:
    """Flag waiting conversations whose 24-hour window closes within ``settings.before``.

    Each window gets one ``window_closing`` warning record (due at the window's end) and the
    tag ``window-closing``; with ``action = "remind"`` and a text, the customer also gets a
    reminder through the outbox while the window still allows it. The tag goes away once
    the customer writes again or an agent answers.
    """
    if not settings.enabled:
        return []
    before = timedelta(seconds=parse_duration(settings.before))
    tagged = set(
        session.exec(
            select(ConversationTag.conversation_id).where(ConversationTag.tag == WINDOW_TAG)
        )
    )
    candidates = list(
        session.exec(
            select(Conversation).where(
                col(Conversation.channel).in_(settings.channels),
                col(Conversation.status).in_(ACTIVE),
                col(Conversation.last_customer_message_at).is_not(None),
                col(Conversation.last_customer_message_at) > now - WINDOW,
                # Implied (a customer's message is a message), and what an index can find:
                # without it SQLite read every conversation of the channels, 65 ms at 1M.
                col(Conversation.last_message_at) > now - WINDOW,
            )
        )
    )
    closing: dict[int, Conversation] = {}
    due: list[dict[str, Any]] = []
    for conversation in candidates:
        assert conversation.id is not None and conversation.last_customer_message_at is not None
        window_end = conversation.last_customer_message_at + WINDOW
        if conversation.waiting_since is None or now < window_end - before:
            continue
        closing[conversation.id] = conversation
        due.append(_record(conversation, WINDOW_CLOSING, WARNING, window_end, now, None))
    warned = _recorded(session, (WINDOW_CLOSING,)) if due else set()
    fired = _fire(session, [r for r in due if _key(r) not in warned])
    for record in fired:
        if record.conversation_id not in tagged:
            session.add(ConversationTag(conversation_id=record.conversation_id, tag=WINDOW_TAG))
        if settings.action == "remind":
            _remind(session, closing[record.conversation_id], settings, now, default_language)
    for conversation_id in tagged - closing.keys():
        current = session.get(Conversation, conversation_id)
        if current is not None and _window_renewed_or_answered(current, now, before):
            session.exec(
                delete(ConversationTag).where(
                    col(ConversationTag.conversation_id) == conversation_id,
                    col(ConversationTag.tag) == WINDOW_TAG,
                )
            )  # type: ignore[call-overload]
    session.flush()
    return fired


def _window_renewed_or_answered(
    conversation: Conversation, now: datetime, before: timedelta
) -> bool:
    last = conversation.last_customer_message_at
    return conversation.waiting_since is None or (last is not None and now < last + WINDOW - before)


def _remind(
    session: Session,
    conversation: Conversation,
    settings: WindowReminderSettings,
    now: datetime,
    default_language: str,
) -> None:
    reader = recipient(session, conversation.customer_id)
    chosen = pick_template(settings.text, reader.languages, default_language)
    if chosen is None:
        return
    outbox.queue(
        session,
        conversation,
        render(chosen[1], name=reader.name, next_open=""),
        now=now,
        author="bot",
        purpose="follow_up",
    )


class SlaClock:
    """Pipeline hook: set the deadlines of conversations that just received messages."""

    def __call__(self, session: Session, ingested: Ingested) -> None:
        conversations = {c.id: c for _, c in ingested.new_messages}
        if not conversations:
            return
        policies = settings_store.sla_policies(session)
        if not policies:
            return
        calendar = settings_store.calendar(session)
        for conversation in conversations.values():
            refresh(conversation, policies, calendar)


def breaches_query(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Iterable[str] = (),
    level: str | None = None,
    conversation_id: int | None = None,
) -> SelectOfScalar[SlaBreach]:
    """Fired records matching every filter given (``fired_at`` in ``[since, until)``)."""
    query = select(SlaBreach)
    if since is not None:
        query = query.where(SlaBreach.fired_at >= since)
    if until is not None:
        query = query.where(SlaBreach.fired_at < until)
    kinds = list(kinds)
    if kinds:
        query = query.where(col(SlaBreach.kind).in_(kinds))
    if level is not None:
        query = query.where(SlaBreach.level == level)
    if conversation_id is not None:
        query = query.where(SlaBreach.conversation_id == conversation_id)
    return query


def fired_after(session: Session, after_id: int | None, limit: int = 100) -> list[SlaBreach]:
    """Records fired after the one with id ``after_id``, oldest first: an alert engine keeps
    the last id it forwarded and calls this to get what is new."""
    query = select(SlaBreach)
    if after_id is not None:
        query = query.where(col(SlaBreach.id) > after_id)
    return list(session.exec(query.order_by(col(SlaBreach.id)).limit(limit)))


def breach_counts(
    session: Session, start: datetime, end: datetime, channel: str | None = None
) -> dict[str, int]:
    """For the KPIs: records fired in ``[start, end)``.

    ``first_response`` and ``resolution`` count breaches, ``total`` their sum, ``warnings`` the
    warnings before them, ``window_closing`` the 24-hour windows that nearly closed on a
    waiting customer.
    """
    query = (
        select(SlaBreach.kind, SlaBreach.level, func.count())
        .where(SlaBreach.fired_at >= start, SlaBreach.fired_at < end)
        .group_by(SlaBreach.kind, SlaBreach.level)
    )
    if channel is not None:
        query = query.where(SlaBreach.channel == channel)
    counts = dict.fromkeys((FIRST_RESPONSE, RESOLUTION, "total", "warnings", WINDOW_CLOSING), 0)
    for kind, level, count in session.exec(query):
        if kind == WINDOW_CLOSING:
            counts[WINDOW_CLOSING] += count
        elif level == BREACH:
            counts[kind] = counts.get(kind, 0) + count
            counts["total"] += count
        else:
            counts["warnings"] += count
    return counts


def forget_conversations(session: Session, conversation_ids: Sequence[int]) -> None:
    """Drop the SLA records of conversations being erased."""
    if conversation_ids:
        session.exec(delete(SlaBreach).where(col(SlaBreach.conversation_id).in_(conversation_ids)))  # type: ignore[call-overload]
