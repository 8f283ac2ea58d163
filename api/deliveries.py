"""``/api/v1/deliveries``: raw inbound deliveries, e.g. the quarantined ones."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlmodel import col, select

from sportello.api.deps import Admin, Caller, DaemonDep, SessionDep
from sportello.api.pagination import MAX_LIMIT, Before, decode_cursor, encode_cursor
from sportello.api.schemas import DeliveryOut, Page
from sportello.inbox import journal
from sportello.inbox.models import Delivery

router = APIRouter(prefix="/api/v1/deliveries", tags=["deliveries"])


@router.get("")
def list_deliveries(
    session: SessionDep,
    _: Caller,
    status: str | None = None,
    channel: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[DeliveryOut]:
    query = select(Delivery)
    if status is not None:
        query = query.where(Delivery.state == status)
    if channel is not None:
        query = query.where(Delivery.channel == channel)
    position = decode_cursor(cursor, Before)
    if position is not None:
        query = query.where(col(Delivery.id) < position.id)
    rows = list(session.exec(query.order_by(col(Delivery.id).desc()).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(Before.of(rows[-1].id))
    items = [
        DeliveryOut.model_validate(
            {**d.model_dump(exclude={"body"}), "body": d.body.decode("utf-8", "replace")}
        )
        for d in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


class RequeueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["failed", "quarantined"] = "failed"
    channel: str | None = None


@router.post("/requeue")
def requeue(body: RequeueIn, session: SessionDep, daemon: DaemonDep, _: Admin) -> dict[str, int]:
    """Parse failed or quarantined deliveries again (after a fix); admins only."""
    count = journal.requeue(session, body.state, body.channel)
    session.commit()
    daemon.wake_worker()
    return {"requeued": count}
