"""The events the integration webhooks get, queued in the transaction that makes them.

Every new message (``message.created``) and every conversation event
(``conversation.opened``, ``.resolved``, ``.reopened``, ``.pending``, ``.snoozed``,
``.assigned``, ...) a flush writes adds a :class:`WebhookDelivery` row per webhook that
wants it, in the same transaction: an event is queued exactly when its change commits, and
a crash loses neither. Only for an engine whose daemon has webhooks (:func:`subscribe`):
without them a flush pays one dictionary lookup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession

from sportello.config.settings import WebhookSettings
from sportello.inbox.clock import ensure_utc
from sportello.inbox.integration_tables import WebhookDelivery
from sportello.inbox.live import message_keys
from sportello.inbox.models import ConversationEvent, Message

# engine -> its daemon's webhooks; an engine no longer used drops out by itself
_SUBSCRIBED: WeakKeyDictionary[Engine, list[WebhookSettings]] = WeakKeyDictionary()


def subscribe(engine: Engine, webhooks: list[WebhookSettings]) -> None:
    """Queue events for ``webhooks`` on every flush through ``engine`` (none: stop)."""
    if webhooks:
        _SUBSCRIBED[engine] = list(webhooks)
    else:
        _SUBSCRIBED.pop(engine, None)


def wants(webhook: WebhookSettings, name: str) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in webhook.events)


@event.listens_for(OrmSession, "after_flush")
def _queue(session: OrmSession, _context: Any) -> None:
    bind = session.bind  # None for an unbound session; a Connection for a snapshot
    webhooks = _SUBSCRIBED.get(bind) if isinstance(bind, Engine) else None
    if not webhooks:
        return
    found = [event for row in session.new if (event := _event(row)) is not None]
    events = sorted(found, key=lambda event: event[:2])  # never the payloads compared
    if not events:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "webhook": webhook.name,
            "event": name,
            "conversation_id": conversation_id,
            "payload": payload,
            "created_at": now,
            # due at once, on the daemon's clock too (the event's own time, when earlier)
            "next_attempt_at": min(now, at),
            "attempts": 0,
            "state": "pending",
        }
        for at, _, name, conversation_id, payload in events
        for webhook in webhooks
        if wants(webhook, name)
    ]
    if rows:
        session.connection().execute(insert(WebhookDelivery), rows)


def _event(row: object) -> tuple[datetime, bool, str, int, dict[str, Any]] | None:
    """The event a new row means: (time, after an opening, name, conversation, payload),
    which sorts a flush's events as they happened, a conversation's opening before its
    first message."""
    if isinstance(row, Message):
        payload = message_payload(row)
        return ensure_utc(row.sent_at), True, "message.created", row.conversation_id, payload
    if isinstance(row, ConversationEvent):
        payload = {
            "conversation_id": row.conversation_id,
            "kind": row.kind,
            "at": _iso(row.at),
            "actor": row.actor,
            "data": row.data,
        }
        name = f"conversation.{row.kind}"
        return ensure_utc(row.at), row.kind != "opened", name, row.conversation_id, payload
    return None


def message_payload(message: Message) -> dict[str, Any]:
    return {
        **message_keys(message),
        "author": message.author,
        "sent_by": message.sent_by,
        "kind": message.kind,
        "external_id": message.external_id,
        "text": message.text,
        "attachments": [
            {k: v for k, v in a.items() if k in ("kind", "name", "mime_type", "url")}
            for a in message.attachments
        ],
        "at": _iso(message.sent_at),
        "sentiment": message.sentiment_label,
    }


def _iso(at: datetime) -> str:
    return ensure_utc(at).isoformat()
