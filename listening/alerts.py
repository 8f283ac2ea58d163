"""Alerts: one per episode of a condition, fired once and resolved once.

:func:`raise_alert` (:func:`raise_alerts` for many) and :func:`resolve_alert` are the whole
lifecycle; any code may call them (the rule evaluator, SLA checks). Notifications to the
sinks are made later by :mod:`sportello.listening.dispatch`, from the alert rows alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from sportello.inbox.automation_tables import SlaBreach
from sportello.inbox.batches import chunked
from sportello.inbox.models import Conversation
from sportello.inbox.new_row import new_row
from sportello.listening.models import Alert

FIRING, RESOLVED = "firing", "resolved"


@dataclass(frozen=True)
class Condition:
    """What an alert is about: ``key`` tells its episodes apart within a kind."""

    key: str
    title: str
    details: dict[str, Any]


def raise_alert(
    session: Session,
    kind: str,
    key: str,
    title: str,
    details: dict[str, Any],
    now: datetime,
    *,
    cooldown: timedelta = timedelta(0),
    rule: str | None = None,
) -> Alert | None:
    """Fire an alert of ``kind`` for ``key`` (e.g. ``"sla_breach"``, a conversation id).

    Returns the new alert, or ``None`` when this episode already fired (the alert is
    still firing: its details and ``last_seen_at`` are refreshed) or when the previous
    episode fired less than ``cooldown`` ago (a flapping condition notifies once).
    """
    fired = raise_alerts(
        session, kind, [Condition(key, title, details)], now, cooldown=cooldown, rule=rule
    )
    return fired[0] if fired else None


def raise_alerts(
    session: Session,
    kind: str,
    conditions: Sequence[Condition],
    now: datetime,
    *,
    cooldown: timedelta = timedelta(0),
    rule: str | None = None,
) -> list[Alert]:
    """:func:`raise_alert` for many keys at once: one read of their latest episodes and one
    flush, whatever their number (a daemon back from an outage finds every deadline that
    passed meanwhile breached). Returns the alerts fired."""
    latest = _latest(session, kind, [condition.key for condition in conditions])
    fired: dict[str, Alert] = {}
    for condition in conditions:
        if condition.key in fired:  # the same key twice: one episode
            continue
        previous = latest.get(condition.key)
        if previous is not None and previous.state == FIRING:
            previous.last_seen_at = now
            previous.details = condition.details
            continue
        if previous is not None and now - previous.fired_at < cooldown:
            continue
        fired[condition.key] = new_row(
            Alert,
            kind=kind,
            key=condition.key,
            rule=rule,
            title=condition.title,
            details=condition.details,
            state=FIRING,
            fired_at=now,
            last_seen_at=now,
        )
    session.add_all(fired.values())
    session.flush()
    return list(fired.values())


def resolve_alert(
    session: Session, kind: str, key: str, now: datetime, details: dict[str, Any] | None = None
) -> Alert | None:
    """Close the firing episode of ``kind``/``key``, if any; returns it."""
    latest = _latest(session, kind, [key]).get(key)
    if latest is None or latest.state != FIRING:
        return None
    _close(latest, now, details)
    return latest


def _latest(session: Session, kind: str, keys: Sequence[str]) -> dict[str, Alert]:
    """The latest episode of each of ``keys`` that has one: the newest row of the key, since
    an episode is only ever added after the one before (the earlier ones stay unread)."""
    latest: dict[str, Alert] = {}
    for chunk in chunked(sorted(set(keys))):
        newest = (
            select(func.max(Alert.id))
            .where(Alert.kind == kind, col(Alert.key).in_(chunk))
            .group_by(col(Alert.key))
        )
        for alert in session.exec(select(Alert).where(col(Alert.id).in_(newest))):
            latest[alert.key] = alert
    return latest


def _close(alert: Alert, now: datetime, details: dict[str, Any] | None) -> None:
    alert.state = RESOLVED
    alert.resolved_at = now
    if details is not None:
        alert.details = {**alert.details, "at_resolution": details}


def alert_sla_breaches(session: Session, breaches: Iterable[SlaBreach], now: datetime) -> int:
    """Each SLA breach (warnings stay in the inbox) becomes an alert, delivered to every
    sink like the brand alerts; returns how many fired."""
    conditions = [
        Condition(
            f"{breach.conversation_id}:{breach.kind}:{breach.due_at.isoformat()}",
            f"SLA breach: {breach.kind.replace('_', ' ')} on {breach.channel} conversation"
            f" #{breach.conversation_id}",
            {
                "conversation_id": breach.conversation_id,
                "channel": breach.channel,
                "kind": breach.kind,
                "policy": breach.policy,
                "due_at": breach.due_at.isoformat(),
            },
        )
        for breach in breaches
        if breach.level == "breach"
    ]
    return len(raise_alerts(session, "sla_breach", conditions, now))


def resolve_answered_sla_alerts(session: Session, now: datetime) -> int:
    """Resolve the SLA breach alerts whose conversation got what was late: a first human
    answer for a first-response breach, a resolution for a resolution breach (or the
    conversation is gone, erased). Returns how many resolved; the sinks hear of each.

    Runs with every SLA check, so the database picks the alerts to close: a backlog keeps
    thousands of breach alerts firing, and reading them all to look at their conversations
    took a third of a second a minute at 1M messages (docs/benchmarks.md, sessions 25-26).
    """
    conversation_id = Alert.details["conversation_id"].as_integer()
    late = func.coalesce(Alert.details["kind"].as_string(), "")
    cleared = (
        select(Alert.id, Conversation.status)
        .outerjoin(Conversation, col(Conversation.id) == conversation_id)
        .where(
            Alert.kind == "sla_breach",
            Alert.state == FIRING,
            or_(
                col(Conversation.id).is_(None),
                and_(late == "first_response", col(Conversation.first_response_at).is_not(None)),
                and_(late != "first_response", col(Conversation.status) == "resolved"),
            ),
        )
    )
    outcome: dict[int, str] = {}  # alert id: what became of its conversation
    for alert_id, status in session.exec(cleared):
        assert alert_id is not None
        outcome[alert_id] = status or "gone"
    for chunk in chunked(sorted(outcome)):
        for alert in session.exec(select(Alert).where(col(Alert.id).in_(chunk))):
            _close(alert, now, {"conversation": outcome[alert.id]})  # type: ignore[index]
    return len(outcome)
