"""Sends the integration webhooks' deliveries: POST, signed, in order, retried with backoff.

The body is ``{"id", "event", "created_at", "data"}``; headers ``X-Sportello-Event``,
``X-Sportello-Delivery`` (the id: a receiver that saw it already can ignore a repeat) and,
with a secret, ``X-Sportello-Signature: sha256=<hex HMAC-SHA256 of the body>``. A 2xx
delivers; a 408, 429, 5xx or a network error tries again later (doubling from 1 s, up to
:data:`MAX_ATTEMPTS`); any other answer is a refusal and fails at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import timedelta

import httpx
from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from sportello.config.settings import WebhookSettings
from sportello.connectors.tls import tls_context
from sportello.inbox.batches import chunked
from sportello.inbox.clock import Clock
from sportello.inbox.db import session_scope
from sportello.inbox.erasure import Scope
from sportello.inbox.integration_tables import WebhookDelivery
from sportello.inbox.outbox import backoff_s

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12  # about an hour of doubling
TIMEOUT_S = 10.0
BATCH = 50
RETRIED = frozenset({408, 429})


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, engine: Engine, webhooks: Sequence[WebhookSettings], clock: Clock) -> None:
        self.engine = engine
        self.webhooks = {webhook.name: webhook for webhook in webhooks}
        self.clock = clock

    async def run_once(self) -> int:
        """Send the due deliveries, each webhook's in order; returns how many were delivered."""
        by_webhook: dict[str, list[WebhookDelivery]] = {}
        for delivery in await asyncio.to_thread(self._due):
            by_webhook.setdefault(delivery.webhook, []).append(delivery)
        if not by_webhook:  # the usual run: no client, no TLS set-up
            return 0
        async with httpx.AsyncClient(timeout=TIMEOUT_S, verify=tls_context()) as client:
            sent = await asyncio.gather(*(self._in_order(client, d) for d in by_webhook.values()))
        results = [result for results in sent for result in results]
        await asyncio.to_thread(self._record, results)
        return sum(1 for _, (_, error) in results if error is None)

    def _due(self) -> list[WebhookDelivery]:
        """Each webhook's oldest pending deliveries up to its first one not due yet (one that
        waits to be tried again holds the later ones back: each webhook gets its events in
        the order they happened); read per webhook, so one that is down, its backlog
        growing, never keeps the others waiting."""
        now = self.clock.now()
        due = []
        with session_scope(self.engine) as session:
            session.exec(  # type: ignore[call-overload]
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.state) == "pending",
                    col(WebhookDelivery.webhook).not_in(self.webhooks),
                )
                .values(state="failed", last_error="the webhook is no longer configured")
            )
            for name in self.webhooks:
                rows = session.exec(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.state == "pending", WebhookDelivery.webhook == name)
                    .order_by(col(WebhookDelivery.id))
                    .limit(BATCH)
                ).all()
                for row in rows:
                    if row.next_attempt_at > now:
                        break
                    session.expunge(row)
                    due.append(row)
        return due

    async def _in_order(
        self, client: httpx.AsyncClient, deliveries: list[WebhookDelivery]
    ) -> list[tuple[WebhookDelivery, tuple[bool, str | None]]]:
        """One webhook's deliveries one after the other, up to the first to try again."""
        results = []
        for delivery in deliveries:
            outcome = await self._send(client, delivery)
            results.append((delivery, outcome))
            retry, _ = outcome
            if retry:
                break
        return results

    async def _send(
        self, client: httpx.AsyncClient, delivery: WebhookDelivery
    ) -> tuple[bool, str | None]:
        """(whether to try again, the error); (False, None) when delivered."""
        webhook = self.webhooks[delivery.webhook]
        body = json.dumps(
            {
                "id": delivery.id,
                "event": delivery.event,
                "created_at": delivery.created_at.isoformat(),
                "data": delivery.payload,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "content-type": "application/json",
            "X-Sportello-Event": delivery.event,
            "X-Sportello-Delivery": str(delivery.id),
        }
        if webhook.secret is not None:
            headers["X-Sportello-Signature"] = signature(webhook.secret.get_secret_value(), body)
        try:
            response = await client.post(webhook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return True, f"{type(exc).__name__}: {exc}"[:500]
        if response.is_success:
            return False, None
        error = f"HTTP {response.status_code}: {response.text[:300]}"
        return response.status_code in RETRIED or response.status_code >= 500, error

    def _record(self, results: list[tuple[WebhookDelivery, tuple[bool, str | None]]]) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            for sent, (retry, error) in results:
                row = session.get(WebhookDelivery, sent.id)
                if row is None or row.state != "pending":  # erased, or retried by hand
                    continue
                row.attempts += 1
                row.last_error = error
                if error is None:
                    row.state, row.delivered_at = "delivered", now
                elif not retry or row.attempts >= MAX_ATTEMPTS:
                    row.state = "failed"
                    log.warning("webhook %s gave up on delivery %s: %s", row.webhook, row.id, error)
                else:
                    row.next_attempt_at = now + timedelta(seconds=backoff_s(row.attempts))


def forget_webhook_deliveries(session: Session, scope: Scope) -> None:
    """Erasure: the deliveries of the erased conversations, sent or not (their text)."""
    for chunk in chunked(scope.conversation_ids):
        session.exec(  # type: ignore[call-overload]
            delete(WebhookDelivery).where(col(WebhookDelivery.conversation_id).in_(chunk))
        )
