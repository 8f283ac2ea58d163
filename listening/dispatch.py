"""Alert notifications: fan each alert event out to its sinks, then send with retries.

An alert's ``fanned_out`` says which of its events ("fired", "resolved") already have
their notification rows; each row keeps its attempts, next attempt and last error, so
deliveries survive restarts and failures are visible through the API.

Two runs may overlap: the evaluation job delivers what it fired at once, beside the
delivery job, and every replica runs both. A fan-out inserts only the rows no other one
made, and a run claims the notifications it sends by moving their next attempt past the
sending (a conditional update), so each is sent once; one whose run died is due again
when that claim runs out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, or_, update
from sqlmodel import Session, col, select

from sportello.config.settings import AlertRuleSettings
from sportello.inbox.clock import Clock
from sportello.inbox.db import session_scope
from sportello.inbox.outbox import backoff_s
from sportello.inbox.upsert import insert_ignore_many
from sportello.listening.alerts import RESOLVED
from sportello.listening.models import Alert, AlertNotification
from sportello.listening.sinks import Sink

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
MAX_ERROR_LEN = 1000
FAN_OUT_PART = 200  # alerts fanned out per transaction
CLAIM = timedelta(minutes=2)  # a claimed notification is not due again before this
CLAIM_PART = 50  # notifications claimed per run


def _events(alert: Alert) -> list[str]:
    wanted = ["fired", "resolved"] if alert.state == RESOLVED else ["fired"]
    done = alert.fanned_out.split(",") if alert.fanned_out else []
    return [event for event in wanted if event not in done]


def fan_out(
    engine: Engine,
    sink_names: Sequence[str],
    rules: Sequence[AlertRuleSettings],
    now: datetime,
    part: int = FAN_OUT_PART,
) -> int:
    """Create the notification rows of every alert event not fanned out yet, ``part`` alerts
    per transaction, oldest first; returns how many rows.

    An SLA check's catch-up can fire thousands of breach alerts at once; fanning them out in
    one transaction held SQLite's one writer, and the webhooks' answers, for 0.2 s and more
    (docs/benchmarks.md, session 26).
    """
    created, after = 0, 0
    while True:
        with session_scope(engine) as session:
            alerts = _waiting(session, part, after)
            created += _add_notifications(session, alerts, sink_names, rules, now)
        if len(alerts) < part:
            return created
        after = alerts[-1].id or 0


def _waiting(session: Session, limit: int, after: int) -> Sequence[Alert]:
    """Alerts with an event left to fan out (after id ``after``), oldest first: only those,
    as a backlog keeps thousands firing, already fanned out."""
    waiting = or_(
        col(Alert.fanned_out) == "",
        and_(col(Alert.state) == RESOLVED, col(Alert.fanned_out) != "fired,resolved"),
    )
    query = select(Alert).where(waiting, col(Alert.id) > after).order_by(col(Alert.id))
    return session.exec(query.limit(limit)).all()


def _add_notifications(
    session: Session,
    alerts: Sequence[Alert],
    sink_names: Sequence[str],
    rules: Sequence[AlertRuleSettings],
    now: datetime,
) -> int:
    by_rule = {rule.name: rule.sinks for rule in rules}
    rows = []
    for alert in alerts:
        events = _events(alert)
        if not events:
            continue
        targets = [s for s in (by_rule.get(alert.rule or "") or sink_names) if s in sink_names]
        rows += [
            {"alert_id": alert.id, "event": event, "sink": sink, "state": "pending",
             "attempts": 0, "next_attempt_at": now}
            for event in events
            for sink in targets
        ]  # fmt: skip
        done = (alert.fanned_out.split(",") if alert.fanned_out else []) + events
        alert.fanned_out = ",".join(e for e in ("fired", "resolved") if e in done)
    return len(insert_ignore_many(session, AlertNotification, rows, ["id"]))


def render(alert: Alert, event: str) -> tuple[str, str]:
    """Subject and text of a notification."""
    prefix = "RESOLVED" if event == "resolved" else "ALERT"
    subject = f"[sportello] {prefix}: {alert.title}"
    lines = [
        subject,
        f"kind: {alert.kind}  key: {alert.key}",
        f"fired at: {alert.fired_at:%Y-%m-%d %H:%M} UTC",
    ]
    if event == "resolved" and alert.resolved_at is not None:
        lines.append(f"resolved at: {alert.resolved_at:%Y-%m-%d %H:%M} UTC")
    for name, value in alert.details.items():
        if name != "at_resolution":
            lines.append(f"{name}: {value}")
    return subject, "\n".join(lines)


class AlertDispatcher:
    def __init__(
        self,
        engine: Engine,
        sinks: Mapping[str, Sink],
        rules: Sequence[AlertRuleSettings],
        clock: Clock,
    ) -> None:
        self.engine = engine
        self.sinks = sinks
        self.rules = rules
        self.clock = clock

    async def run_once(self) -> int:
        """Fan out new events and send every due notification; returns how many were sent."""
        due = await asyncio.to_thread(self._claim)
        results = await asyncio.gather(*(self._send(*item) for item in due))
        await asyncio.to_thread(self._record, list(zip([d[0] for d in due], results, strict=True)))
        return sum(1 for error in results if error is None)

    def _claim(self) -> list[tuple[int, str, str, str]]:
        now = self.clock.now()
        fan_out(self.engine, list(self.sinks), self.rules, now)
        due = and_(
            col(AlertNotification.state) == "pending", col(AlertNotification.next_attempt_at) <= now
        )
        with session_scope(self.engine) as session:
            first = select(AlertNotification.id).where(due).order_by(col(AlertNotification.id))
            claim = (
                update(AlertNotification)
                .where(
                    col(AlertNotification.id).in_(first.limit(CLAIM_PART).scalar_subquery()), due
                )
                .values(next_attempt_at=now + CLAIM)
                .returning(col(AlertNotification.id))
            )
            ids = [row_id for (row_id,) in session.exec(claim)]
            rows = session.exec(
                select(AlertNotification, Alert)
                .join(Alert, col(Alert.id) == AlertNotification.alert_id)
                .where(col(AlertNotification.id).in_(ids))
                .order_by(col(AlertNotification.id))
            ).all()
            claimed = []
            for notification, alert in rows:
                subject, text = render(alert, notification.event)
                assert notification.id is not None
                claimed.append((notification.id, notification.sink, subject, text))
            return claimed

    async def _send(self, _id: int, sink_name: str, subject: str, text: str) -> str | None:
        sink = self.sinks.get(sink_name)
        if sink is None:
            return f"sink {sink_name} is not configured"
        try:
            await sink.send(subject, text)
        except Exception as exc:
            log.warning("alert sink %s failed: %s", sink_name, exc)
            return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LEN]
        return None

    def _record(self, results: list[tuple[int, str | None]]) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            for notification_id, error in results:
                row = session.get(AlertNotification, notification_id)
                if row is None:
                    continue
                row.attempts += 1
                row.last_error = error
                if error is None:
                    row.state, row.sent_at = "sent", now
                elif row.attempts >= MAX_ATTEMPTS:
                    row.state = "failed"
                else:
                    row.next_attempt_at = now + timedelta(seconds=backoff_s(row.attempts))
