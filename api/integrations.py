"""``/api/v1/integrations``: what the integration webhooks were sent, and a retry (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, func, select

from sportello.api.deps import Admin, DaemonDep, SessionDep, get_or_404
from sportello.api.inputs import RowId
from sportello.inbox.integration_tables import WebhookDelivery

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])


class WebhookDeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    webhook: str
    event: str
    conversation_id: int | None
    payload: dict[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    attempts: int
    state: Literal["pending", "delivered", "failed"]
    last_error: str | None
    delivered_at: datetime | None


class WebhookOut(BaseModel):
    name: str
    url: str
    events: list[str]
    signed: bool = Field(description="a secret signs its bodies (never shown)")
    deliveries: dict[str, int] = Field(description="how many are pending, delivered, failed")


@router.get("/webhooks")
def list_webhooks(session: SessionDep, daemon: DaemonDep, _: Admin) -> list[WebhookOut]:
    """The configured webhooks (``[[integrations.webhooks]]``) with their deliveries' count
    per state."""
    counted = session.exec(
        select(WebhookDelivery.webhook, WebhookDelivery.state, func.count()).group_by(
            col(WebhookDelivery.webhook), col(WebhookDelivery.state)
        )
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for name, state, count in counted:
        counts.setdefault(name, {})[state] = int(count)
    return [
        WebhookOut(
            name=webhook.name,
            url=webhook.url,
            events=webhook.events,
            signed=webhook.secret is not None,
            deliveries={
                state: counts.get(webhook.name, {}).get(state, 0)
                for state in ("pending", "delivered", "failed")
            },
        )
        for webhook in daemon.settings.integrations.webhooks
    ]


@router.post("/webhooks/{name}/ping", status_code=202)
def ping_webhook(
    name: str, session: SessionDep, daemon: DaemonDep, caller: Admin
) -> WebhookDeliveryOut:
    """Queue a ``ping`` event for webhook ``name`` (whatever its ``events``), sent as the
    others are: to check that the receiver takes them."""
    if name not in {webhook.name for webhook in daemon.settings.integrations.webhooks}:
        raise HTTPException(404, f"no webhook {name!r} is configured")
    now = daemon.clock.now()
    row = WebhookDelivery(
        webhook=name,
        event="ping",
        payload={"webhook": name, "by": caller, "at": now.isoformat()},
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    session.commit()
    return WebhookDeliveryOut.model_validate(row)


@router.get("/deliveries")
def list_deliveries(
    session: SessionDep,
    _: Admin,
    state: Literal["pending", "delivered", "failed"] | None = None,
    webhook: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[WebhookDeliveryOut]:
    """The newest deliveries first; ``state=failed`` shows what a webhook refused."""
    query = select(WebhookDelivery).order_by(col(WebhookDelivery.id).desc()).limit(limit)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    if webhook is not None:
        query = query.where(WebhookDelivery.webhook == webhook)
    return [WebhookDeliveryOut.model_validate(row) for row in session.exec(query)]


@router.post("/deliveries/{delivery_id}/retry")
def retry_delivery(
    delivery_id: RowId, session: SessionDep, daemon: DaemonDep, _: Admin
) -> WebhookDeliveryOut:
    """A failed delivery pending again, due now (its tries start over); 409 unless failed."""
    row = get_or_404(session, WebhookDelivery, delivery_id, "delivery")
    if row.state != "failed":
        raise HTTPException(409, f"delivery {delivery_id} is {row.state}, not failed")
    row.state, row.attempts, row.next_attempt_at = "pending", 0, daemon.clock.now()
    session.commit()
    return WebhookDeliveryOut.model_validate(row)
