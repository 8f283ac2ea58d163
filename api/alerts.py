"""``/api/v1/alerts``: fired alerts, newest first, with their delivery state per sink."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from sportello.api.deps import Caller, SessionDep, get_or_404
from sportello.api.inputs import RowId
from sportello.api.pagination import MAX_LIMIT, Before, decode_cursor, encode_cursor
from sportello.api.schemas import Page
from sportello.listening.models import Alert, AlertNotification

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sink: str
    event: Literal["fired", "resolved"]
    state: Literal["pending", "sent", "failed"]
    attempts: int
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    key: str
    rule: str | None = None
    title: str
    details: dict[str, Any] = Field(default_factory=dict)
    state: Literal["firing", "resolved"]
    fired_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None = None
    deliveries: list[NotificationOut] = Field(default_factory=list)


def alerts_out(session: Session, rows: list[Alert]) -> list[AlertOut]:
    ids = [a.id for a in rows]
    by_alert: dict[int, list[AlertNotification]] = defaultdict(list)
    if ids:
        query = select(AlertNotification).where(col(AlertNotification.alert_id).in_(ids))
        for row in session.exec(query.order_by(col(AlertNotification.id))):
            by_alert[row.alert_id].append(row)
    result = []
    for alert in rows:
        out = AlertOut.model_validate(alert)
        out.deliveries = [NotificationOut.model_validate(n) for n in by_alert[alert.id or 0]]
        result.append(out)
    return result


@router.get("")
def list_alerts(
    session: SessionDep,
    _: Caller,
    state: Literal["firing", "resolved"] | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[AlertOut]:
    query = select(Alert)
    if state is not None:
        query = query.where(Alert.state == state)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    position = decode_cursor(cursor, Before)
    if position is not None:
        query = query.where(col(Alert.id) < position.id)
    rows = list(session.exec(query.order_by(col(Alert.id).desc()).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(Before.of(rows[-1].id))
    return Page(items=alerts_out(session, rows), next_cursor=next_cursor)


@router.get("/{alert_id}")
def get_alert(alert_id: RowId, session: SessionDep, _: Caller) -> AlertOut:
    alert = get_or_404(session, Alert, alert_id, "alert")
    return alerts_out(session, [alert])[0]
